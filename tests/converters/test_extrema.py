"""max, min, argmax, argmin and topk along any axes, in the real Caffe (and the deployment runtimes)."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mxnet.gluon import nn

from gluon2caffe import ConversionError, convert
from gluon2caffe.verification import mxnet_forward, run_converted
from helpers import check_block, lam, seq

RUNTIMES = ["opencv", "mnn", "ncnn", "openvino"]


@st.composite
def reductions(draw):
    shape = tuple(draw(st.lists(st.integers(1, 5), min_size=1, max_size=5)))
    axes = draw(st.one_of(st.none(), st.lists(st.integers(-len(shape), len(shape) - 1), min_size=1, unique=True)))
    if axes is not None and len({a % len(shape) for a in axes}) != len(axes):
        axes = sorted({a % len(shape) for a in axes})
    return shape, axes, draw(st.booleans()), draw(st.booleans()), draw(st.sampled_from(["max", "min"]))


@pytest.mark.op("max", "min")
@settings(max_examples=40, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck), print_blob=True)
@given(case=reductions())
def test_max_min_any_axes(case):
    """Any rank 1-5, any set of axes (negative, with the batch, unit axes), keepdims, exclude: MAX pooling on views,
    min as -max(-x): bit for bit."""
    shape, axes, keepdims, exclude, op = case
    kwargs = dict(keepdims=keepdims, exclude=exclude)
    if axes is not None:
        kwargs["axis"] = tuple(axes)
    checked = check_block(lam(lambda F, x: getattr(F, op)(x, **kwargs)), shape, require_alive=False)
    np.testing.assert_array_equal(checked.caffe_outputs[checked.result.graph.outputs[0]], checked.mxnet_outputs[0])


@pytest.mark.op("max")
def test_channel_attention_max():
    """CBAM's channel attention: the max over H and W (keepdims) of a feature map, then a shared MLP."""
    block = seq(nn.Conv2D(8, 3, padding=1), lam(lambda F, x: F.max(x, axis=(2, 3), keepdims=True)), nn.Dense(4))
    check_block(block, (2, 3, 9, 7))


def argmax_cases():
    shapes = [(2, 5, 3, 7), (3, 11), (7,), (2, 3, 4, 3, 5)]
    for shape in shapes:
        for axis in [None, *range(-len(shape), len(shape))]:
            yield shape, axis


@pytest.mark.op("argmax", "argmin")
@pytest.mark.parametrize("shape, axis", list(argmax_cases()), ids=str)
@pytest.mark.parametrize("keepdims", [False, True])
def test_argmax_argmin(shape, axis, keepdims):
    """Every axis (negative too) and none, every rank, keepdims: the indices as floats, exactly."""
    kwargs = dict(keepdims=keepdims) if axis is None else dict(axis=axis, keepdims=keepdims)
    block = lam(lambda F, x: F.concat(F.argmax(x, **kwargs), F.argmin(x, **kwargs), dim=0))
    checked = check_block(block, shape, require_alive=False)
    np.testing.assert_array_equal(checked.caffe_outputs[checked.result.graph.outputs[0]], checked.mxnet_outputs[0])


@pytest.mark.op("argmax", "argmin", "relu")
@pytest.mark.parametrize("axis", [1, 2, 0, -1])
def test_ties_take_the_first_index_as_mxnet(axis):
    """After a ReLU most values along an axis tie at 0: MXNet takes the first of equal values (Caffe's ArgMax the
    last, which is why it is not used)."""
    block = lam(lambda F, x: F.concat(F.argmax(F.relu(x - 1.0), axis=axis), F.argmin(F.relu(1.0 - x), axis=axis)))
    checked = check_block(block, (3, 6, 4, 5), require_alive=False)
    reference = checked.mxnet_outputs[0]
    np.testing.assert_array_equal(checked.caffe_outputs[checked.result.graph.outputs[0]], reference)
    assert (reference == 0).mean() > 0.05 and len(np.unique(reference)) > 2, "the ties must decide some indices"


@pytest.mark.op("argmax")
def test_argmax_tells_apart_values_one_ulp_apart():
    """The equality test scales the gap to the maximum by 2^150 in bounded steps: a gap of one ulp (or a subnormal
    one) is a different value, as in MXNet."""
    x = np.float32(1.5)
    values = np.array([x, np.nextafter(x, np.float32(2)), x, np.float32(1e-45), np.float32(0)], np.float32)
    block = lam(lambda F, data: F.argmax(data, axis=1))
    block.initialize()
    result = convert(block, (2, 5))
    feed = np.stack([values, values[::-1]])
    caffe = run_converted(result.text_net, result.binary_weights, {"data": feed})[result.graph.outputs[0]]
    np.testing.assert_array_equal(caffe, mxnet_forward(block, feed)[0])
    np.testing.assert_array_equal(caffe, [1.0, 3.0])
    tiny = np.array([[0, 1e-45, 0, 0, 1e-45]], np.float32)  # a subnormal above 0: the first 1e-45 wins
    caffe = run_converted(result.text_net, result.binary_weights, {"data": np.concatenate([tiny, -tiny])})
    np.testing.assert_array_equal(caffe[result.graph.outputs[0]], [1.0, 0.0])


@pytest.mark.op("topk")
@pytest.mark.parametrize(
    "shape, kwargs",
    [
        ((2, 5, 3, 7), dict(k=3)),
        ((2, 5, 3, 7), dict(k=2, axis=1, ret_typ="value")),
        ((2, 5, 3, 7), dict(k=1, axis=2)),
        ((2, 5, 3, 7), dict(k=1, axis=-3, ret_typ="value", is_ascend=True)),
        ((3, 5, 3, 7), dict(k=2, axis=0, is_ascend=True)),
        ((3, 11), dict(k=0, axis=1, ret_typ="value")),
        ((3, 11), dict(k=5, axis=None)),
        ((2, 3, 4, 3, 5), dict(k=2, axis=3, ret_typ="value", is_ascend=True)),
    ],
)
def test_topk(shape, kwargs):
    """k of 1, several or all (k <= 0), any axis or none, ascending or not, values or indices."""
    target = "any" if kwargs["k"] == 1 else "caffe"  # Caffe's ArgMax (k > 1) runs in pycaffe alone
    checked = check_block(lam(lambda F, x: F.topk(x, **kwargs)), shape, require_alive=False, target=target)
    np.testing.assert_array_equal(checked.caffe_outputs[checked.result.graph.outputs[0]], checked.mxnet_outputs[0])


@pytest.mark.op("topk")
@pytest.mark.parametrize("target", ["any", "opencv", "ncnn", "mnn", "openvino"])
def test_topk_of_more_than_one_is_refused_outside_pycaffe(target):
    """topk with k > 1 is Caffe's ArgMax, which OpenCV, ncnn, MNN (runSession error 3) and OpenVINO cannot run: every
    target but caffe refuses it in one line naming the node."""
    block = lam(lambda F, x: F.topk(x, k=2, axis=1, ret_typ="value", name="top"))
    block.initialize()
    with pytest.raises(ConversionError, match=r"node '\w*top\w*' op topk: needs a Caffe ArgMax layer") as info:
        convert(block, (1, 5, 3), target=target)
    assert "\n" not in str(info.value) and "--target caffe," in str(info.value)


@pytest.mark.op("topk")
@pytest.mark.parametrize("k", [1, 3])
def test_topk_both_values_and_indices(k):
    block = lam(lambda F, x: F.concat(*F.topk(x, k=k, axis=1, ret_typ="both"), dim=1))
    checked = check_block(block, (2, 6, 5), target="any" if k == 1 else "caffe")
    np.testing.assert_array_equal(checked.caffe_outputs[checked.result.graph.outputs[0]], checked.mxnet_outputs[0])


def test_topk_mask_is_refused():
    block = lam(lambda F, x: F.topk(x, k=2, ret_typ="mask"))
    block.initialize()
    with pytest.raises(ConversionError, match="op topk attribute 'ret_typ': is 'mask'"):
        convert(block, (1, 3, 5))


@pytest.mark.op("max", "min", "argmax", "argmin", "topk")
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_extrema_in_runtimes(runtime):
    """max/min (MAX pooling), argmax/argmin and topk k=1 (pooling, Deconvolution, Eltwise, Power, ReLU, Scale) load
    and compute exactly in every runtime, ties included (topk with k > 1 is Caffe's ArgMax: pycaffe only)."""
    block = lam(
        lambda F, x: F.concat(
            F.max(x, axis=1),
            F.min(x, axis=1),
            F.argmax(x, axis=1),
            F.argmin(F.relu(x), axis=1),
            F.topk(x, k=1, axis=1).reshape((0, 5, 7)),
            dim=1,
        )
    )
    check_block(block, (1, 4, 5, 7), runtime=runtime, scale=3.0)
