"""softmax, softmin (Softmax, axis always written, temperature), log_softmax and softmax=True, in the real Caffe."""

import numpy as np
import pytest
from mxnet.gluon import nn

from gluon2caffe import ConversionError, convert
from helpers import check_block, lam, seq


@pytest.mark.op("softmax")
@pytest.mark.parametrize("axis, expected", [(-1, 3), (1, 1), (2, 2), (-3, 1)])
def test_softmax_axis(axis, expected):
    checked = check_block(seq(nn.Conv2D(4, 3), lam(lambda F, x: F.softmax(x, axis=axis))), (2, 3, 6, 5), scale=3.0)
    assert checked.result.text_net.layer[-1].softmax_param.axis == expected


def test_softmax_default_axis_is_last():
    checked = check_block(seq(nn.Dense(7, flatten=False), lam(lambda F, x: F.softmax(x))), (1, 3, 4, 5), scale=3.0)
    assert checked.result.text_net.layer[-1].softmax_param.axis == 3


def test_softmax_option_appends_class_softmax():
    checked = check_block(seq(nn.Conv2D(4, 3), nn.Flatten(), nn.Dense(10)), (2, 3, 6, 6), softmax=True, scale=3.0)
    last = checked.result.text_net.layer[-1]
    assert last.type == "Softmax" and last.softmax_param.axis == 1
    assert checked.result.graph.outputs == [last.top[0]]


@pytest.mark.op("softmax")
@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
def test_softmax_dtype(dtype):
    """Found by the property suite: dtype='float16' rounds MXNet's output to half precision (2.4e-4 off
    what Caffe's float32 computes) and converted as if exact; it is refused, float32 and float64 are exact."""
    net = lam(lambda F, x: F.softmax(x, axis=1, dtype=dtype, name="sm"))
    if dtype == "float16":
        with pytest.raises(ConversionError, match=r"node '\w*sm' op softmax attribute 'dtype': is 'float16'"):
            convert(net, (2, 5), to_bgr=False)
    else:
        check_block(net, (2, 5), init=False, scale=3.0)


RUNTIME_TARGETS = [(r, t) for r in ("caffe", "opencv", "mnn") for t in ("any", r)]


@pytest.mark.op("softmax")
@pytest.mark.parametrize("runtime, target", RUNTIME_TARGETS)
@pytest.mark.parametrize("shape", [(3,), (3, 4, 2)], ids=str)
def test_softmax_along_the_batch_in_runtimes(shape, runtime, target):
    """Found by the property suite: MNN computes a Softmax along axis 0 over another axis (relative 0.26,
    silently); it is written along axis 1 of the tensor as one sample (1, N, rest), exact in every runtime."""
    checked = check_block(lam(lambda F, x: F.softmax(x, axis=0)), shape, init=False, scale=3.0, runtime=runtime,
                          target=target)  # fmt: skip
    assert [layer.softmax_param.axis for layer in checked.result.text_net.layer if layer.type == "Softmax"] == [1]


def test_softmax_along_the_batch_is_refused_for_ncnn():
    """ncnn runs one sample at a time: its target refuses what mixes the samples, naming the node."""
    net = lam(lambda F, x: F.softmax(x, axis=0, name="sm"))
    with pytest.raises(ConversionError, match=r"node '\w*sm' op softmax: .*moves the batch axis.*one sample at a time"):
        convert(net, (3, 4), to_bgr=False, target="ncnn")


@pytest.mark.parametrize(
    "op",
    [
        pytest.param("softmax", marks=pytest.mark.op("softmax")),
        pytest.param("softmin", marks=pytest.mark.op("softmin")),
    ],
)
@pytest.mark.parametrize("axis, temperature", [(-1, 1.0), (1, 0.7), (0, 2.5), (2, -1.5)])
def test_softmax_softmin_temperature(op, axis, temperature):
    """softmin is softmax(-x); a temperature t divides x first (a Power scale 1/t, within an ulp)."""
    block = lam(lambda F, x: getattr(F, op)(x, axis=axis, temperature=temperature))
    checked = check_block(block, (2, 3, 5, 7), scale=3.0)
    assert checked.comparisons[0].relative <= 1e-6


@pytest.mark.op("log_softmax")
@pytest.mark.parametrize(
    "shape, axis, temperature",
    [((2, 3, 5, 7), -1, None), ((2, 3, 5, 7), 1, None), ((2, 3, 5, 7), 2, 0.3), ((3, 11), 1, 2.0)]
    + [((2, 4, 3, 5), 0, None), ((2, 3, 4, 3, 5), 2, None), ((7,), 0, None)],
)
def test_log_softmax(shape, axis, temperature):
    """x - max - log(sum(exp(x - max))) along any axis (the batch too), any rank."""
    kwargs = {} if temperature is None else dict(temperature=temperature)
    block = lam(lambda F, x: F.log_softmax(x, axis=axis, **kwargs))
    checked = check_block(block, shape, scale=3.0, target="caffe")  # any refuses Log (MNN drops it)
    assert checked.comparisons[0].relative <= 1e-6


@pytest.mark.op("log_softmax")
def test_log_softmax_of_far_apart_scores_does_not_underflow():
    """Scores 100s apart: softmax underflows to 0 for all but the largest, log(softmax) would be -inf; MXNet's and
    ours stay finite (x - max - log(sum))."""
    block = seq(nn.Dense(10), lam(lambda F, x: F.log_softmax(x * 100.0)))
    checked = check_block(block, (3, 6), scale=3.0, target="caffe")
    reference = checked.mxnet_outputs[0]
    assert np.isfinite(reference).all() and reference.min() < -200
    assert np.isfinite(checked.caffe_outputs[checked.result.graph.outputs[0]]).all()


@pytest.mark.parametrize("op", ["softmax", "softmin", "log_softmax"])
def test_float16_softmax_is_refused(op):
    block = lam(lambda F, x: getattr(F, op)(x, dtype="float16"))
    block.initialize()
    with pytest.raises(ConversionError, match=f"op {op} attribute 'dtype': is 'float16'"):
        convert(block, (2, 3, 5))


@pytest.mark.op("log_softmax", "softmin")
@pytest.mark.parametrize("runtime", ["opencv", "ncnn"])
def test_log_softmax_in_runtimes(runtime):
    """MNN's Caffe converter drops Log layers, OpenVINO's Model Optimizer refuses Exp layers: log_softmax (which
    needs both) runs in pycaffe, OpenCV and ncnn."""
    block = lam(lambda F, x: F.log_softmax(x, axis=1) + F.softmin(x, axis=-1))
    check_block(block, (1, 4, 5, 7), runtime=runtime, target=runtime)
