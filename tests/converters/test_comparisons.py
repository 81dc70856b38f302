"""Comparisons with a scalar and logical_not -> Caffe's Threshold (+ negation, 1 - y), maximum / minimum with a scalar
-> Eltwise MAX with a constant blob: bit for bit equal to MXNet, ties included (inputs on a grid that holds the
scalar). Threshold loads in Caffe, MNN and ncnn; targets any, opencv and openvino refuse a comparison, naming it."""

import numpy as np
import pytest
from mxnet.gluon import nn

from conftest import runtime_or_skip
from gluon2caffe import ConversionError, convert
from gluon2caffe.verification import mxnet_forward, run_converted
from helpers import Lambda, check_block, lam, make_input, seq

THRESHOLD_RUNTIMES = [("caffe", "caffe"), ("mnn", "mnn"), ("ncnn", "ncnn"), ("caffe", "ncnn"), ("mnn", "caffe")]


SCALARS = (0.0, 0.5, -1.5, 0.3, 3.0)


def on_grid(shape, seed) -> np.ndarray:
    """Both signs, in halves, and each scalar the tests compare with at a few random places (ties)."""
    x = np.round(make_input(shape, seed, 2.0) * 2) / 2
    places = np.random.RandomState(seed).choice(x.size, 3 * len(SCALARS), replace=False)
    x.flat[places] = np.repeat(np.float32(SCALARS), 3)
    return x


def check_exact(block, shape, target="caffe", runtime="caffe") -> list[np.ndarray]:
    """Convert, run on grid inputs, and require MXNet's numbers bit for bit; the output must take both values of a
    comparison somewhere, and change with the input."""
    runtime_or_skip(runtime)
    result = convert(block, shape, target=target, to_bgr=False)
    outputs = []
    for seed in (1, 2):
        x = on_grid(shape, seed)
        got = run_converted(result.text_net, result.binary_weights, {"data": x}, runtime=runtime)
        reference = mxnet_forward(block, x)
        for name, ref in zip(result.graph.outputs, reference):
            np.testing.assert_array_equal(got[name].reshape(ref.shape), ref, err_msg=name)
        outputs.append(reference)
    for first, second in zip(*outputs):
        assert not np.array_equal(first, second), "the output does not depend on the input"
    return outputs[0]


COMPARISONS = {
    "_greater_scalar": lambda F, x, s: x > s,
    "_lesser_scalar": lambda F, x, s: x < s,
    "_greater_equal_scalar": lambda F, x, s: x >= s,
    "_lesser_equal_scalar": lambda F, x, s: x <= s,
    "_equal_scalar": lambda F, x, s: x == s,
    "_not_equal_scalar": lambda F, x, s: x != s,
}


@pytest.mark.parametrize("scalar", SCALARS)
@pytest.mark.parametrize(
    "op",
    [
        pytest.param("_greater_scalar", marks=pytest.mark.op("_greater_scalar")),
        pytest.param("_lesser_scalar", marks=pytest.mark.op("_lesser_scalar")),
        pytest.param("_greater_equal_scalar", marks=pytest.mark.op("_greater_equal_scalar")),
        pytest.param("_lesser_equal_scalar", marks=pytest.mark.op("_lesser_equal_scalar")),
        pytest.param("_equal_scalar", marks=pytest.mark.op("_equal_scalar")),
        pytest.param("_not_equal_scalar", marks=pytest.mark.op("_not_equal_scalar")),
    ],
)
def test_comparison_with_a_scalar(op, scalar):
    fn = COMPARISONS[op]
    checked = check_exact(lam(lambda F, x: fn(F, x, scalar)), (2, 3, 5, 7))
    assert set(np.unique(checked[0])) == {0.0, 1.0}


@pytest.mark.op("_greater_scalar", "_lesser_equal_scalar", "_equal_scalar")
@pytest.mark.parametrize("shape", [(3, 7), (2, 3, 5), (1, 2, 3, 4, 5)])
def test_comparisons_on_other_ranks(shape):
    check_exact(lam(lambda F, x: (x > 0.5, x <= -1, x == 0)), shape)


@pytest.mark.op("_greater_scalar")
def test_a_mask_times_the_input():
    """The usual use: a mask (x > 0) multiplying activations."""
    check_block(seq(nn.Conv2D(4, 3, padding=1), lam(lambda F, x: x * (x > 0.25))), (2, 3, 5, 6), target="caffe")


@pytest.mark.op("logical_not")
@pytest.mark.parametrize(
    "fn, threshold_layers",
    [
        (lambda F, x: F.logical_not(x), 2),  # any input: [x == 0]
        (lambda F, x: F.logical_not(x > 0.5), 1),  # a comparison's 0/1: 1 - x
        (lambda F, x: F.logical_not(F.logical_not(x)), 2),
    ],
)
def test_logical_not(fn, threshold_layers):
    block = lam(fn)
    check_exact(block, (2, 3, 5, 7))
    types = [layer.type for layer in convert(block, (2, 3, 5, 7), target="caffe").text_net.layer]
    assert types.count("Threshold") == threshold_layers


@pytest.mark.op("_greater_scalar", "_equal_scalar", "logical_not")
@pytest.mark.parametrize("target", ["any", "opencv", "openvino"])
def test_targets_without_threshold_refuse_a_comparison(target):
    with pytest.raises(ConversionError, match=r"op _greater_scalar: needs Caffe's Threshold layer .* target 'caffe'"):
        convert(lam(lambda F, x: x > 0), (1, 3, 4, 4), target=target)
    with pytest.raises(ConversionError, match=r"op logical_not: needs Caffe's Threshold layer"):
        convert(lam(lambda F, x: F.logical_not(x)), (1, 3, 4, 4), target=target)
    convert(lam(lambda F, x: x == 1), (1, 3, 4, 4), target="caffe")


@pytest.mark.op("_greater_scalar", "_lesser_scalar", "_greater_equal_scalar", "_equal_scalar", "logical_not")
@pytest.mark.parametrize("runtime, target", THRESHOLD_RUNTIMES)
def test_comparisons_in_runtime(runtime, target):
    def fn(F, x):
        return x > 0.5, x < -1, x >= 0, x == 0.5, F.logical_not(x)

    check_exact(lam(fn), (1, 3, 5, 7), target=target, runtime=runtime)


@pytest.mark.parametrize(
    "op, scalar",
    [pytest.param("_maximum_scalar", s, marks=pytest.mark.op("_maximum_scalar")) for s in (0.0, 0.5, -1e6, 2.5)]
    + [pytest.param("_minimum_scalar", s, marks=pytest.mark.op("_minimum_scalar")) for s in (0.0, -0.5, 1e6, -2.5)],
)
def test_maximum_minimum_with_a_scalar(op, scalar):
    """Exact even where relu(x - s) + s is not: s = -1e6 would lose every x near 0."""
    fn = (lambda F, x: F.maximum(x, scalar)) if op == "_maximum_scalar" else (lambda F, x: F.minimum(x, scalar))
    check_exact(lam(fn), (2, 3, 5, 7), target="any")


@pytest.mark.op("_maximum_scalar", "_minimum_scalar")
@pytest.mark.parametrize("runtime", ["opencv", "mnn", "ncnn", "openvino"])
def test_maximum_minimum_with_a_scalar_in_runtime(runtime):
    fn = lambda F, x: (F.maximum(x, 0.5), F.maximum(x, -1e6), F.minimum(x, 1))  # noqa: E731
    check_exact(lam(fn), (1, 3, 5, 7), "any", runtime)


@pytest.mark.op("where")
@pytest.mark.parametrize(
    "fn, thresholds",
    [
        (lambda F, x: F.where(x > 0.5, x, -x), 1),  # a comparison's 0/1 is the mask itself
        (lambda F, x: F.where(F.slice_axis(x, axis=1, begin=0, end=3) * 2 - 1, x * 3, x), 2),  # any condition
        (lambda F, x: F.where(x <= 0, F.zeros_like(x), x), 1),
        (lambda F, x: F.where(F.reshape(F.slice_axis(F.flatten(x), axis=1, begin=0, end=1), (-1,)), x, -x), 2),
    ],
)
def test_where(fn, thresholds):
    """x where the condition is not 0, else y: exact (1 x value + 0 x the other), ties and zeros in the condition."""
    block = lam(fn)
    check_exact(block, (3, 3, 5, 7))
    types = [layer.type for layer in convert(block, (3, 3, 5, 7), target="caffe").text_net.layer]
    assert types.count("Threshold") == thresholds


@pytest.mark.op("where")
def test_where_with_a_constant_branch():
    c = np.random.RandomState(0).normal(size=(1, 3, 1, 1)).astype(np.float32)
    block = Lambda(lambda F, x, c: F.where(x > 0, x, F.broadcast_like(c, x)), c=c)
    block.initialize()
    check_exact(block, (2, 3, 5, 7))


@pytest.mark.op("where")
@pytest.mark.parametrize("runtime, target", THRESHOLD_RUNTIMES)
def test_where_in_runtime(runtime, target):
    check_exact(lam(lambda F, x: F.where(x * 2 - 1, x, -x)), (1, 3, 5, 7), target=target, runtime=runtime)
