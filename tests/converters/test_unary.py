"""Element-wise math (abs, exp, logarithms, powers, negation, hard_sigmoid, softsign) in the real Caffe.

Ops defined for positive inputs only (log*, sqrt, rsqrt, reciprocal) get abs(x) + 0.1 from the block itself. Beyond
the tolerance, each op's float32 result is measured against MXNet's in units in the last place over a million inputs
spanning 1e-6 .. 1e6 of both signs: bit for bit where the same libm function runs (expf, logf, fabsf, x*x, -x,
min/max), within 2 ulp where Caffe's powf or a product stands in for MXNet's sqrtf, 1/x, log2f, log10f.
"""

import numpy as np
import pytest
from mxnet.gluon import nn

from gluon2caffe import convert
from gluon2caffe.errors import ConversionError
from gluon2caffe.verification import mxnet_forward, run_converted
from helpers import check_block, lam, seq


LOGS = ("log", "log2", "log10")


def target_for(op: str) -> str:
    """Target any refuses a Log layer (MNN drops it without a word): the logarithms convert for pycaffe, OpenCV and
    ncnn."""
    return "caffe" if op in LOGS else "any"


def positive(fn):
    """fn applied to abs(x) + 0.1: the op's domain, reached from both-sign inputs by the block itself."""
    return lambda F, x: fn(F, F.abs(x) + 0.1)


UNARY = {
    "abs": lambda F, x: F.abs(x),
    "exp": lambda F, x: F.exp(x),
    "log": positive(lambda F, x: F.log(x)),
    "log2": positive(lambda F, x: F.log2(x)),
    "log10": positive(lambda F, x: F.log10(x)),
    "sqrt": positive(lambda F, x: F.sqrt(x)),
    "rsqrt": positive(lambda F, x: F.rsqrt(x)),
    "square": lambda F, x: F.square(x),
    "reciprocal": positive(lambda F, x: F.reciprocal(x)),
    "negative": lambda F, x: F.negative(x),
    "hard_sigmoid": lambda F, x: F.hard_sigmoid(x),
    "softsign": lambda F, x: F.softsign(x),
}


@pytest.mark.parametrize(
    "op",
    [
        pytest.param("abs", marks=pytest.mark.op("abs")),
        pytest.param("exp", marks=pytest.mark.op("exp")),
        pytest.param("log", marks=pytest.mark.op("log")),
        pytest.param("log2", marks=pytest.mark.op("log2")),
        pytest.param("log10", marks=pytest.mark.op("log10")),
        pytest.param("sqrt", marks=pytest.mark.op("sqrt")),
        pytest.param("rsqrt", marks=pytest.mark.op("rsqrt")),
        pytest.param("square", marks=pytest.mark.op("square")),
        pytest.param("reciprocal", marks=pytest.mark.op("reciprocal")),
        pytest.param("negative", marks=pytest.mark.op("negative")),
        pytest.param("hard_sigmoid", marks=pytest.mark.op("hard_sigmoid")),
        pytest.param("softsign", marks=pytest.mark.op("softsign")),
    ],
)
@pytest.mark.parametrize("shape", [(2, 3, 5, 7), (3, 11), (2, 3, 4, 3, 5)], ids=lambda s: f"{len(s)}d")
def test_unary(op, shape):
    checked = check_block(lam(UNARY[op]), shape, scale=3.0, target=target_for(op))
    assert checked.comparisons[0].relative <= 3e-7


@pytest.mark.op("Activation", "softsign")
def test_softsign_after_a_convolution_and_as_activation():
    block = seq(nn.Conv2D(4, 3, padding=1), nn.Activation("softsign"), nn.Conv2D(3, 1), lam(lambda F, x: F.softsign(x)))
    checked = check_block(block, (2, 3, 7, 6), scale=4.0)
    assert checked.layer_types.count("Eltwise") == 4 and "AbsVal" not in checked.layer_types


@pytest.mark.op("hard_sigmoid")
@pytest.mark.parametrize("alpha, beta", [(0.2, 0.5), (1.0 / 6, 0.5), (-0.7, 0.1), (3.0, -1.5), (0.0, 0.25)])
def test_hard_sigmoid_parameters_are_bit_exact(alpha, beta):
    """alpha * x + beta rounded as MXNet does (one Power), then clipped to [0, 1] with no rounding at all; alpha 0 is
    a constant (a Power with scale 0 writes beta)."""
    block = lam(lambda F, x: F.hard_sigmoid(x, alpha=alpha, beta=beta))
    checked = check_block(block, (2, 3, 5, 7), scale=4.0, require_alive=alpha != 0)
    out = checked.caffe_outputs[checked.result.graph.outputs[0]]
    np.testing.assert_array_equal(out, checked.mxnet_outputs[0])
    if alpha != 0:
        ref = checked.mxnet_outputs[0]
        assert (ref == 0).any() and (ref == 1).any() and ((ref > 0) & (ref < 1)).any()


def ulps(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The distance of two float32 arrays in units in the last place (0: bit for bit)."""

    def ordered(x):
        bits = np.asarray(x, np.float32).view(np.int32).astype(np.int64)
        return np.where(bits < 0, -(bits & 0x7FFFFFFF), bits)

    return np.abs(ordered(a) - ordered(b))


# op -> (the block, the largest distance in ulp Caffe's float32 may have from MXNet's).
PRECISION = {
    "abs": (lambda F, x: F.abs(x), 0),
    "exp": (lambda F, x: F.exp(F.clip(x, -80.0, 80.0)), 0),
    "log": (lambda F, x: F.log(F.abs(x)), 0),
    "log2": (lambda F, x: F.log2(F.abs(x)), 2),
    "log10": (lambda F, x: F.log10(F.abs(x)), 2),
    "sqrt": (lambda F, x: F.sqrt(F.abs(x)), 1),
    "rsqrt": (lambda F, x: F.rsqrt(F.abs(x)), 1),
    "square": (lambda F, x: F.square(x), 0),
    "reciprocal": (lambda F, x: F.reciprocal(x), 1),
    "negative": (lambda F, x: F.negative(x), 0),
    "hard_sigmoid": (lambda F, x: F.hard_sigmoid(x, alpha=0.3, beta=0.45), 0),
    "softsign": (lambda F, x: F.softsign(x), 1),
    "clip": (lambda F, x: F.clip(x, -0.1, 0.2), 0),
}


@pytest.mark.parametrize(
    "op",
    [
        pytest.param("abs", marks=pytest.mark.op("abs")),
        pytest.param("exp", marks=pytest.mark.op("exp", "clip")),
        pytest.param("log", marks=pytest.mark.op("log", "abs")),
        pytest.param("log2", marks=pytest.mark.op("log2")),
        pytest.param("log10", marks=pytest.mark.op("log10")),
        pytest.param("sqrt", marks=pytest.mark.op("sqrt")),
        pytest.param("rsqrt", marks=pytest.mark.op("rsqrt")),
        pytest.param("square", marks=pytest.mark.op("square")),
        pytest.param("reciprocal", marks=pytest.mark.op("reciprocal")),
        pytest.param("negative", marks=pytest.mark.op("negative")),
        pytest.param("hard_sigmoid", marks=pytest.mark.op("hard_sigmoid")),
        pytest.param("softsign", marks=pytest.mark.op("softsign")),
        pytest.param("clip", marks=pytest.mark.op("clip")),
    ],
)
def test_ulps_from_mxnet_over_a_million_inputs(op):
    fn, allowed = PRECISION[op]
    rs = np.random.RandomState(0)
    shape = (1, 16, 256, 256)
    magnitude = np.exp(rs.uniform(np.log(1e-6), np.log(1e6), shape))
    x = (magnitude * rs.choice([-1.0, 1.0], shape)).astype(np.float32)
    block = lam(fn)
    block.initialize()
    result = convert(block, shape, target=target_for(op))
    caffe = run_converted(result.text_net, result.binary_weights, {"data": x})[result.graph.outputs[0]]
    reference = mxnet_forward(block, x)[0]
    assert np.isfinite(reference).all() and np.isfinite(caffe).all()
    distance = ulps(caffe, reference)
    assert distance.max() <= allowed, f"{op}: {distance.max()} ulp ({np.mean(distance > 0):.2%} of the values differ)"


# The runtimes each layer type loads in: MNN's Caffe converter drops Log layers (the net then outputs the Log's
# input), OpenVINO's Model Optimizer refuses Exp and Log layers ("Found custom layer"). Measured; see docs/exactness.md.
# Targets any, mnn and openvino refuse Log (test_log_is_refused_where_a_runtime_drops_or_refuses_it).
WITHOUT_EXP_LOG = ["abs", "sqrt", "rsqrt", "square", "reciprocal", "negative", "hard_sigmoid", "softsign"]


@pytest.mark.op("abs", "sqrt", "rsqrt", "square", "reciprocal", "negative", "hard_sigmoid", "softsign", "clip")
@pytest.mark.parametrize("runtime", ["opencv", "mnn", "ncnn", "openvino"])
def test_unary_in_runtimes(runtime):
    """Power, Eltwise MAX/PROD and ReLU: every runtime (abs is max(x, -x): OpenVINO refuses AbsVal)."""
    for op in WITHOUT_EXP_LOG:
        check_block(lam(UNARY[op]), (1, 3, 5, 7), runtime=runtime, scale=3.0)
    check_block(lam(lambda F, x: F.clip(x, -0.1, 0.2)), (1, 3, 5, 7), runtime=runtime, scale=3.0)


@pytest.mark.op("exp", "log", "log2", "log10")
@pytest.mark.parametrize("runtime", ["opencv", "ncnn"])
def test_exp_and_log_in_runtimes(runtime):
    for op in ("exp", "log", "log2", "log10"):
        check_block(lam(UNARY[op]), (1, 3, 5, 7), runtime=runtime, scale=3.0, target=runtime)


@pytest.mark.parametrize(
    "op",
    [
        pytest.param("log", marks=pytest.mark.op("log")),
        pytest.param("log2", marks=pytest.mark.op("log2")),
        pytest.param("log10", marks=pytest.mark.op("log10")),
    ],
)
@pytest.mark.parametrize("target", ["any", "mnn", "openvino"])
def test_log_is_refused_where_a_runtime_drops_or_refuses_it(op, target):
    """MNN's converter drops a Log layer without an error (log2(y) came out as y / ln 2), OpenVINO's Model Optimizer
    refuses it: targets mnn, openvino and any (whose files MNN must compute right) refuse the node in one line."""
    block = lam(UNARY[op])
    block.initialize()
    with pytest.raises(ConversionError, match=rf"node '\w*{op}\w*' op {op}: needs a Caffe Log layer") as info:
        convert(block, (1, 3, 5, 7), target=target)
    assert "\n" not in str(info.value) and "--target caffe / opencv / ncnn" in str(info.value)


@pytest.mark.op("exp")
def test_exp_in_mnn():
    check_block(lam(UNARY["exp"]), (1, 3, 5, 7), runtime="mnn", scale=3.0)


@pytest.mark.op("exp")
def test_exp_is_refused_for_openvino():
    """OpenVINO's Model Optimizer cannot load an Exp layer ("Found custom layer"): target openvino refuses exp in one
    line naming the node (the other targets write it: every other runtime computes it)."""
    block = lam(lambda F, x: F.exp(x, name="e"))
    block.initialize()
    with pytest.raises(ConversionError, match=r"node '\w*e\w*' op exp: needs a Caffe Exp layer") as info:
        convert(block, (1, 3, 5, 7), target="openvino")
    assert "\n" not in str(info.value)
