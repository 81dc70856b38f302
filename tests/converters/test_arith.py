"""Division by a tensor -> Power(-1) x product (within 2 ulp of MXNet's a / b: measured here), by a constant -> a
product with its reciprocal; maximum / minimum of tensors -> Eltwise MAX (minimum by negation), exact."""

import mxnet as mx
import numpy as np
import pytest
from mxnet.gluon import HybridBlock, nn

from conftest import runtime_or_skip
from gluon2caffe import convert, load_exported
from gluon2caffe.verification import TOLERANCE, MXNetReference, compare, mxnet_forward, run_converted
from helpers import Lambda, check_block, lam, make_input, seq

RUNTIMES = ["opencv", "mnn", "ncnn", "openvino"]


class TwoBranches(HybridBlock):
    """Two conv branches of the input combined by `fn(F, a, b)`; b pooled to `pool_b` (a broadcast operand) and, as
    a denominator, kept away from 0 with both signs: (b^2 + 0.5) x (+1 or -1 per channel)."""

    def __init__(self, fn, pool_b=None, denominator=False):
        super().__init__()
        self.fn, self.pool_b, self.denominator = fn, pool_b, denominator
        with self.name_scope():
            self.a = nn.Conv2D(4, 3, padding=1)
            self.b = nn.Conv2D(4, 1)
            self.signs = self.params.get_constant("signs", mx.nd.array([1, -1, 1, -1]).reshape((1, 4, 1, 1)))

    def hybrid_forward(self, F, x, signs):
        b = self.b(x)
        if self.pool_b is not None:
            b = F.contrib.AdaptiveAvgPooling2D(b, output_size=self.pool_b)
        if self.denominator:
            b = F.broadcast_mul(b * b + 0.5, signs)
        return self.fn(F, self.a(x), b)


@pytest.mark.parametrize(
    "fn, pool_b",
    [
        pytest.param(lambda F, a, b: F.elemwise_div(a, b), None, marks=pytest.mark.op("elemwise_div"), id="elemwise"),
        pytest.param(lambda F, a, b: a / b, None, marks=pytest.mark.op("elemwise_div"), id="operator"),
        pytest.param(lambda F, a, b: F.broadcast_div(a, b), 1, marks=pytest.mark.op("broadcast_div"), id="se_gate"),
        pytest.param(lambda F, a, b: F.broadcast_div(b, a), 1, marks=pytest.mark.op("broadcast_div"), id="numerator"),
        pytest.param(lambda F, a, b: F.broadcast_div(a, b), (5, 1), marks=pytest.mark.op("broadcast_div"), id="rows"),
    ],
)
def test_division_by_a_tensor(fn, pool_b):
    checked = check_block(TwoBranches(fn, pool_b, denominator=True), (2, 3, 5, 6))
    assert "Power" in checked.layer_types


@pytest.mark.op("broadcast_div")
@pytest.mark.parametrize("shape", [(1, 4, 1, 1), (4, 1, 1), (1,), (1, 4, 5, 6)])
@pytest.mark.parametrize("numerator", [False, True])
def test_division_with_a_constant(shape, numerator):
    """x / c is x * (1/c) (a Scale, or Power for one value); c / x is c * x^-1."""
    c = np.random.RandomState(2).uniform(0.5, 2.0, shape).astype(np.float32) * np.where(
        np.random.RandomState(3).rand(*shape) > 0.5, 1, -1
    ).astype(np.float32)
    if numerator:
        fn = Lambda(lambda F, x, c: F.broadcast_div(c, x * x + 0.5), c=c)
    else:
        fn = Lambda(lambda F, x, c: F.broadcast_div(x, c), c=c)
    check_block(seq(nn.Conv2D(4, 3, padding=1), fn), (2, 3, 5, 6))


@pytest.mark.op("elemwise_div")
def test_division_error_is_within_two_ulp():
    """The proof behind converting a / b as a * b^-1: over 200,000 quotients of both signs, numerators and
    denominators spread over 1e-6 .. 1e6 (normal float32 range), Caffe's result is within 2.5e-7 relative of
    MXNet's (2 ulp: one rounding of b^-1, one of the product), 400x inside the tolerance."""
    runtime_or_skip("caffe")
    block = lam(
        lambda F, x: F.elemwise_div(F.slice_axis(x, axis=1, begin=0, end=1), F.slice_axis(x, axis=1, begin=1, end=2))
    )
    shape = (1, 2, 400, 500)
    rng = np.random.RandomState(0)
    x = (10.0 ** rng.uniform(-6, 6, shape) * np.where(rng.rand(*shape) > 0.5, 1, -1)).astype(np.float32)
    result = convert(block, shape, to_bgr=False)
    got = run_converted(result.text_net, result.binary_weights, {"data": x})[result.graph.outputs[0]]
    ref = mxnet_forward(block, x)[0]
    relative = np.abs(got.astype(np.float64) - ref) / np.abs(ref.astype(np.float64))
    ulps = np.abs(got.view(np.int32).astype(np.int64) - ref.view(np.int32).astype(np.int64))
    print(f"\nrelative error: max {relative.max():.3g}, mean {relative.mean():.3g}; ulp: {np.bincount(ulps.ravel())}")
    assert relative.max() <= 2.5e-7 and ulps.max() <= 2
    assert relative.max() * 100 <= TOLERANCE and compare(got, ref).ok


EXTREMA = {
    "_maximum": lambda F, a, b: F.maximum(a, b),
    "_minimum": lambda F, a, b: F.minimum(a, b),
    "broadcast_maximum": lambda F, a, b: F.broadcast_maximum(a, b),
    "broadcast_minimum": lambda F, a, b: F.broadcast_minimum(b, a),
}


@pytest.mark.parametrize(
    "op, pool_b",
    [
        pytest.param("_maximum", None, marks=pytest.mark.op("_maximum")),
        pytest.param("_minimum", None, marks=pytest.mark.op("_minimum")),
        pytest.param("broadcast_maximum", None, marks=pytest.mark.op("broadcast_maximum")),
        pytest.param("broadcast_maximum", 1, marks=pytest.mark.op("broadcast_maximum")),
        pytest.param("broadcast_maximum", (1, 6), marks=pytest.mark.op("broadcast_maximum")),
        pytest.param("broadcast_minimum", None, marks=pytest.mark.op("broadcast_minimum")),
        pytest.param("broadcast_minimum", 1, marks=pytest.mark.op("broadcast_minimum")),
        pytest.param("broadcast_minimum", (1, 6), marks=pytest.mark.op("broadcast_minimum")),
    ],
)
def test_maximum_minimum_of_tensors(op, pool_b):
    """Equal shapes, and a broadcast operand (an SE-style gate, a row) expanded first."""
    fn = EXTREMA[op]
    block = TwoBranches(lambda F, a, b: fn(F, a, b), pool_b)
    checked = check_block(block, (2, 3, 5, 6))
    assert "Eltwise" in checked.layer_types


@pytest.mark.parametrize(
    "op",
    [
        pytest.param("broadcast_maximum", marks=pytest.mark.op("broadcast_maximum")),
        pytest.param("broadcast_minimum", marks=pytest.mark.op("broadcast_minimum")),
    ],
)
@pytest.mark.parametrize("shape", [(1, 4, 1, 1), (1,), (1, 4, 5, 6)])
def test_maximum_minimum_with_a_constant_tensor(op, shape):
    c = np.random.RandomState(4).normal(size=shape).astype(np.float32)
    fn = Lambda(lambda F, x, c: getattr(F, op)(x, c), c=c)
    check_block(seq(nn.Conv2D(4, 3, padding=1), fn), (2, 3, 5, 6))


@pytest.mark.op("elemwise_div", "broadcast_div", "broadcast_maximum", "_minimum")
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_division_and_extrema_in_runtime(runtime):
    def fn(F, a, b):
        return (
            a / b,
            F.broadcast_div(a, F.mean(b, axis=(2, 3), keepdims=True)),
            F.broadcast_maximum(a, -b),
            F.minimum(a, b),
        )

    check_block(TwoBranches(fn, denominator=True), (1, 3, 5, 6), runtime=runtime)


@pytest.mark.op("_div")
def test_div_alias_in_a_symbol_file(tmp_path):
    """A hand-written symbol file may name elemwise_div by its alias `_div`."""
    data = mx.sym.var("data")
    left = mx.sym.slice_axis(data, axis=1, begin=0, end=2)
    right = mx.sym.slice_axis(data, axis=1, begin=2, end=4)
    symbol = mx.sym.elemwise_div(left, right * right + 0.5, name="quotient")
    text = symbol.tojson().replace('"op": "elemwise_div"', '"op": "_div"')
    assert '"op": "_div"' in text
    (tmp_path / "m-symbol.json").write_text(text)
    mx.nd.save(str(tmp_path / "m-0000.params"), {})
    model = load_exported(tmp_path / "m")
    shape = (2, 4, 5, 3)
    result = convert(model, shape, to_bgr=False)
    x = make_input(shape, 3)
    got = run_converted(result.text_net, result.binary_weights, {"data": x})["quotient"]
    comparison = compare(got, MXNetReference(model, shape, "data").run(x, ["quotient"])["quotient"])
    assert comparison.ok and comparison.relative < 1e-6, comparison


@pytest.mark.op("broadcast_div", "broadcast_maximum", "broadcast_minimum")
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_constants_of_every_layout_in_runtime(runtime):
    """A constant per channel is a Scale blob; one spanning H and W (or every axis) a constant blob (an InnerProduct's
    bias) expanded and multiplied: MNN and ncnn apply a Scale blob per channel only and OpenVINO refuses another."""
    rng = np.random.RandomState(5)
    consts = {
        name: (rng.uniform(0.5, 2.0, shape) * np.where(rng.rand(*shape) > 0.5, 1, -1)).astype(np.float32)
        for name, shape in (("c", (1, 4, 1, 1)), ("hw", (1, 1, 5, 6)), ("all", (1, 4, 5, 6)), ("one", (1,)))
    }

    def fn(F, x, c, hw, all, one):
        return (
            F.broadcast_div(x, hw),
            F.broadcast_div(all, x * x + 0.5),
            F.broadcast_div(one, x * x + 0.5),
            F.broadcast_div(x, c),
            F.broadcast_maximum(x, all),
            F.broadcast_minimum(hw, x),
        )

    check_block(seq(nn.Conv2D(4, 3, padding=1), Lambda(fn, **consts)), (1, 3, 5, 6), runtime=runtime)
