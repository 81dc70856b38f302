"""Deconvolution -> Deconvolution (+ identity pad, + crop for MXNet's adj / target_shape), in the real Caffe."""

import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import runtime_or_skip
from mxnet.gluon import nn

from gluon2caffe.ir.attrs import Attrs
from gluon2caffe.ir.graph import Node
from gluon2caffe.converters.deconv import mxnet_pad_adj
from gluon2caffe import ConversionError, convert
from gluon2caffe.verification import TOLERANCE, compare, run_converted
from helpers import Lambda, check_block, make_input, seq, symbol_block

CASES = {
    # name: (Conv2DTranspose kwargs, input shape)
    "k4_s2_p1": (dict(channels=6, kernel_size=4, strides=2, padding=1, use_bias=False), (2, 4, 7, 6)),
    "k3_s1_p1": (dict(channels=5, kernel_size=3, padding=1), (1, 4, 9, 8)),
    "k3_s2_nopad": (dict(channels=5, kernel_size=3, strides=2), (1, 4, 5, 7)),
    "adj1_pad1": (dict(channels=5, kernel_size=3, strides=2, padding=1, output_padding=1), (1, 4, 7, 6)),
    "adj_hw_pad0": (dict(channels=5, kernel_size=3, strides=(2, 3), output_padding=(1, 2)), (1, 4, 5, 6)),
    "adj2_pad1_bias": (dict(channels=3, kernel_size=4, strides=3, padding=1, output_padding=2), (1, 4, 5, 5)),
    "adj_mixed_no_bias": (
        dict(channels=3, kernel_size=3, strides=2, padding=(0, 2), output_padding=(1, 1), use_bias=False),
        (1, 4, 6, 5),
    ),
    "dilation2": (dict(channels=5, kernel_size=3, strides=2, padding=2, dilation=2), (1, 4, 6, 7)),
    "dilation_adj": (
        dict(channels=4, kernel_size=3, strides=2, padding=1, dilation=(1, 2), output_padding=1),
        (1, 4, 5, 6),
    ),
    "groups2": (dict(channels=6, kernel_size=4, strides=2, padding=1, groups=2), (1, 4, 7, 7)),
    "depthwise_adj": (dict(channels=4, kernel_size=3, strides=2, padding=1, groups=4, output_padding=1), (2, 4, 5, 6)),
}


@pytest.mark.op("Deconvolution")
@pytest.mark.parametrize("target", ["any", "caffe"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_deconvolution(case, target):
    kwargs, shape = CASES[case]
    checked = check_block(seq(nn.Conv2DTranspose(in_channels=shape[1], **kwargs)), shape, target=target)
    assert checked.layer_types[:2] == ["Input", "Deconvolution"]
    if not kwargs.get("output_padding"):
        assert checked.layer_types == ["Input", "Deconvolution"]


TARGET_CASES = {
    # name: (target_shape, kernel, stride, dilate, input shape, bias, pad: the one target_shape implies, given)
    "even_total": ((14, 12), (4, 4), (2, 2), (1, 1), (1, 4, 7, 6), True, (1, 1)),  # total 2 -> pad 1, adj 0
    "odd_total": ((15, 13), (4, 4), (2, 2), (1, 1), (1, 4, 7, 6), True, (1, 1)),  # total 1 -> pad 1, adj 1
    "mixed": ((16, 11), (3, 3), (2, 2), (1, 1), (2, 4, 8, 6), True, (1, 1)),  # H: total 1 (pad 1, adj 1), W: 2 (pad 1)
    "odd_total_no_bias": ((15, 13), (4, 4), (2, 2), (1, 1), (1, 4, 7, 6), False, (1, 1)),  # MXNet's default no_bias
    "full_size": ((16, 14), (4, 4), (2, 2), (1, 1), (1, 4, 7, 6), True, None),  # total 0 -> pad 0, none given
}

# MXNet 1.9.1's oneDNN Deconvolution fails on any target_shape that implies a pad ("could not create a descriptor for
# a dilated deconvolution"); its reference kernel (oneDNN off, which only the process environment can switch) runs it.
# No dilated case here: that reference kernel computes dilated deconvolutions wrongly (measured against the
# definition in numpy: off by 6.3 where oneDNN and Caffe agree with it to 1e-6), so MXNet 1.9.1 has no correct
# reference for a dilated Deconvolution with target_shape; dilation with adj is tested above through oneDNN.
_REFERENCE = """
import sys, numpy as np, mxnet as mx
a = np.load(sys.argv[1])
target, kernel, stride, dilate = (tuple(int(v) for v in a[k]) for k in ("target", "kernel", "stride", "dilate"))
args = [mx.nd.array(a["x"]), mx.nd.array(a["weight"])] + ([mx.nd.array(a["bias"])] if "bias" in a else [])
extra = {"no_bias": False} if "bias" in a else {}  # without: MXNet's default no_bias=True
extra.update({"pad": tuple(int(v) for v in a["pad"])} if "pad" in a else {})
out = mx.nd.Deconvolution(*args, kernel=kernel, stride=stride, dilate=dilate, num_filter=a["weight"].shape[1],
                          target_shape=target, **extra)
np.save(sys.argv[2], out.asnumpy())
"""


def _mxnet_reference(tmp_path, arrays):
    np.savez(tmp_path / "in.npz", **arrays)
    env = {**os.environ, "MXNET_MKLDNN_ENABLED": "0", "MXNET_STORAGE_FALLBACK_LOG_VERBOSE": "0"}
    cmd = [sys.executable, "-c", _REFERENCE, str(tmp_path / "in.npz"), str(tmp_path / "out.npy")]
    subprocess.run(cmd, env=env, check=True, capture_output=True)
    return np.load(tmp_path / "out.npy")


@pytest.mark.op("Deconvolution")
@pytest.mark.parametrize("case", sorted(TARGET_CASES))
def test_deconvolution_target_shape(case, tmp_path):
    """F.Deconvolution with target_shape (Gluon's Conv2DTranspose has none) and the pad it implies given (or none
    where it implies 0), against MXNet's reference kernel."""
    runtime_or_skip("caffe")
    target, kernel, stride, dilate, shape, use_bias, pad = TARGET_CASES[case]
    rng = np.random.RandomState(3)
    arrays = {
        "weight": rng.normal(0, 0.3, (shape[1], 5) + kernel).astype(np.float32),
        "target": np.array(target),
        "kernel": np.array(kernel),
        "stride": np.array(stride),
        "dilate": np.array(dilate),
    }
    if use_bias:
        arrays["bias"] = rng.normal(0, 0.3, (5,)).astype(np.float32)
    if pad is not None:
        arrays["pad"] = np.array(pad)
    kwargs = dict(kernel=kernel, stride=stride, dilate=dilate, num_filter=5, target_shape=target)
    kwargs.update({"no_bias": False} if use_bias else {})
    kwargs.update({"pad": pad} if pad is not None else {})

    def fn(F, x, weight, bias=None):
        return F.Deconvolution(x, weight, *([] if bias is None else [bias]), **kwargs)

    block = Lambda(fn, weight=arrays["weight"], **({"bias": arrays["bias"]} if use_bias else {}))
    block.initialize()
    result = convert(block, shape)
    outputs = []
    for seed in (1, 2):
        x = make_input(shape, seed)
        reference = _mxnet_reference(tmp_path, {**arrays, "x": x})
        assert reference.shape[2:] == target
        caffe_out = run_converted(result.text_net, result.binary_weights, {"data": x})[result.graph.outputs[0]]
        comparison = compare(caffe_out, reference)
        assert comparison.ok, comparison
        outputs.append(reference)
    assert np.max(np.abs(outputs[0] - outputs[1])) > 100 * TOLERANCE


@pytest.mark.op("Deconvolution")
def test_target_shape_with_another_pad_is_refused():
    """Found by the property suite: kernel (1, 4), stride 2, pad (0, 1), target_shape (3, 1) on a (2, 1)
    input implies pad (0, 2); MXNet's reference kernel reads its output from there (as the converter did), its CPU
    oneDNN kernel, the pip build's default, from the given pad 1: they differ (relative 2.2), so it is refused."""
    import mxnet as mx

    y = mx.sym.Deconvolution(
        mx.sym.var("data"), kernel=(1, 4), stride=(2, 2), pad=(0, 1), target_shape=(3, 1), num_filter=1, name="up"
    )
    net = symbol_block(y, {"up_weight": np.ones((2, 1, 1, 4), np.float32)})
    with pytest.raises(ConversionError, match=r"node '\w*up' op Deconvolution attribute 'target_shape': is \(3, 1\)"):
        convert(net, (1, 2, 2, 1), to_bgr=False)


@pytest.mark.op("Deconvolution")
@pytest.mark.parametrize("case", sorted(name for name, case in TARGET_CASES.items() if case[-1] is not None))
def test_target_shape_implying_a_pad_without_one_is_refused(case):
    """A target_shape that implies a pad, none given: MXNet's default CPU (oneDNN) kernel refuses most of these and
    computes some from pad 0, its reference kernel reads from the implied pad (found by the property suite:
    kernel (1, 2), stride (1, 2), target_shape (1, 1) on a (1, 1) input, relative 0.54 apart): no single answer is
    MXNet's, so it is refused, saying which pad to give."""
    import mxnet as mx

    target, kernel, stride, dilate, shape, _, pad = TARGET_CASES[case]
    y = mx.sym.Deconvolution(
        mx.sym.var("data"), kernel=kernel, stride=stride, dilate=dilate, target_shape=target, num_filter=2, name="up"
    )
    net = symbol_block(y, {"up_weight": np.ones((shape[1], 2, *kernel), np.float32)})
    match = rf"node '\w*up' op Deconvolution attribute 'target_shape': .*implies pad \({pad[0]}, {pad[1]}\).*give pad="
    with pytest.raises(ConversionError, match=match):
        convert(net, shape, to_bgr=False)
    try:  # the trace's forward in MXNet's oneDNN kernel fails on it, asynchronously: drain it here, not later
        mx.nd.waitall()
    except mx.base.MXNetError as exc:
        assert "could not create a descriptor" in str(exc), exc


def test_target_shape_recomputes_pad_and_adj():
    """MXNet's rule (deconvolution-inl.h, InferPad): total = s(in - 1) + dk - target, adj = total % 2, pad =
    ceil(total / 2); the given adj is ignored (a given pad must be that one: test_target_shape_with_another_pad_is_
    refused)."""
    attrs = Attrs(
        "d",
        "Deconvolution",
        {
            "kernel": "(4, 3)",
            "stride": "(2, 2)",
            "pad": "(1, 1)",
            "adj": "(0, 0)",
            "target_shape": "(15, 12)",
            "num_filter": "2",
        },
    )
    # H: 2 * 6 + 4 - 15 = 1 -> pad 1, adj 1; W: 2 * 5 + 3 - 12 = 1 -> pad 1, adj 1
    assert mxnet_pad_adj(Node("d", "Deconvolution", attrs, [], []), (7, 6)) == ((1, 1), (1, 1))


@pytest.mark.op("Deconvolution")
@pytest.mark.parametrize("width", [9, 10])
@pytest.mark.parametrize(
    "kwargs",
    [
        dict(channels=5, kernel_size=4, strides=2, padding=1),
        dict(channels=4, kernel_size=3, strides=2, padding=1, output_padding=1, groups=2, use_bias=False),
        dict(channels=6, kernel_size=3, strides=3, dilation=2, output_padding=2),
    ],
)
def test_deconvolution_1d(kwargs, width):
    checked = check_block(seq(nn.Conv1DTranspose(in_channels=4, **kwargs)), (2, 4, width))
    assert checked.layer_types[:3] == ["Input", "Reshape", "Deconvolution"]
    assert checked.layer_types[-1] == "Reshape"


@pytest.mark.op("Deconvolution", "BatchNorm", "Activation")
@pytest.mark.parametrize("merge_bn", [True, False])
@pytest.mark.parametrize("groups", [1, 2])
def test_deconvolution_batchnorm(merge_bn, groups):
    """simple_pose's upsampling stage (deconv k4 s2 p1 without bias, BatchNorm, ReLU), grouped too: the fold scales
    the weight along its output-channel axis 1, per group."""
    net = seq(
        nn.Conv2DTranspose(8, 4, strides=2, padding=1, use_bias=False, groups=groups, in_channels=4),
        nn.BatchNorm(epsilon=1e-3),
        nn.Activation("relu"),
        nn.Conv2DTranspose(6, 3, strides=2, padding=1, output_padding=1, groups=groups, in_channels=8),
        nn.BatchNorm(),
    )
    checked = check_block(net, (2, 4, 7, 6), merge_bn=merge_bn)
    assert ("BatchNorm" in checked.layer_types) != merge_bn


@pytest.mark.op("Deconvolution")
@pytest.mark.parametrize(
    "kwargs",
    [
        dict(channels=5, kernel_size=(3, 4, 4), strides=(1, 2, 2), padding=(1, 1, 1)),
        dict(channels=4, kernel_size=3, strides=2, padding=1, output_padding=1, groups=2),
        dict(channels=4, kernel_size=(2, 3, 3), strides=(2, 2, 3), output_padding=(1, 1, 2), use_bias=False),
    ],
)
def test_deconvolution_3d(kwargs):
    """Caffe's N-D Deconvolution; adj by the same pad change, N-D identity Convolution and crop (a Slice on 5-D)."""
    checked = check_block(seq(nn.Conv3DTranspose(in_channels=4, **kwargs)), (1, 4, 3, 5, 4))
    assert checked.layer_types[:2] == ["Input", "Deconvolution"]


@pytest.mark.op("Deconvolution")
@pytest.mark.parametrize("target", ["any", "opencv"])
@pytest.mark.parametrize(
    "kwargs",
    [
        dict(channels=4, kernel_size=3, dilation=2),
        dict(channels=4, kernel_size=(3, 2), strides=2, dilation=(2, 3), padding=1),
        dict(channels=2, kernel_size=1, padding=(0, 1)),  # a pad not below the kernel
        dict(channels=3, kernel_size=2, strides=2, padding=(2, 3), output_padding=1),
    ],
)
def test_opencv_plain_deconvolution(kwargs, target):
    """Found by the property suite: OpenCV 4.11 sizes a dilated Deconvolution as if undilated and computes
    another output (relative 0.77) where a pad is not below the kernel; targets any and opencv write it undilated
    with the kernel zero-spread and zero-extended (exact)."""
    checked = check_block(seq(nn.Conv2DTranspose(in_channels=3, **kwargs)), (2, 3, 5, 6), runtime="opencv",
                          target=target)  # fmt: skip
    for layer in checked.result.text_net.layer:
        if layer.type == "Deconvolution":
            p = layer.convolution_param
            kernel = [p.kernel_h, p.kernel_w] if p.kernel_h else list(p.kernel_size) * (2 // len(p.kernel_size))
            pad = [p.pad_h, p.pad_w] if p.pad_h or p.pad_w else (list(p.pad) * (2 // len(p.pad)) if p.pad else [0, 0])
            assert set(p.dilation) <= {1} and all(q < k for q, k in zip(pad, kernel)), p
