"""The NPU toolchains and format bridges read the converted files (issue 27): TPU-MLIR (`tpu-mlir`: its top MLIR
interpreter; `tpu-mlir-bm1684x`: an F32 bmodel in the chip simulator), rknn-toolkit2 (`rknn`: RK3588 simulator,
float16), caffe2onnx + ONNX Runtime (`onnx`) and x2paddle + Paddle (`paddle`), each in its own venv (`make tpu-mlir
rknn onnx paddle`), each through the runtime registry like pycaffe.

What each computes right today on the default output (`--target any`) is checked here: the float32 runtimes within
the project's tolerance, rknn within the float16 rule (verification/precision.py) and never called exact. Each
construct the converter writes runs alone in each runtime (small nets: seconds); the zoo nets in a sample that keeps
the time small (the measured table of every cell is in docs/runtimes.md). The default output avoids what a
toolchain refuses or computes wrong where another exact form exists (issue 27 item 2: no affine Power, no Eltwise
coeff, explicit strides, BatchNorm + Scale in place); what is left is the toolchain's own defect (TODAY): a strict
xfail naming what it does, refused for its --target with what to do instead.
"""

from __future__ import annotations

import signal

import numpy as np
import pytest
from mxnet.gluon import nn

from gluon2caffe import convert, save_model
from gluon2caffe.zoo.loader import load_zoo_model
from gluon2caffe.verification import TOLERANCE, forward, mxnet_forward, verify
from gluon2caffe.verification.precision import FP16_TOLERANCE, WITHIN_FP16, compare_in
from gluon2caffe.verification.runtimes import RuntimeFailedError
from helpers import BGR, assert_detector_ok, convert_and_check_detector, lam, make_input, seq

from conftest import runtime_or_skip

NPU_RUNTIMES = ["tpu-mlir", "tpu-mlir-bm1684x", "rknn", "onnx", "paddle"]


# -- each construct alone -----------------------------------------------------------------------------------------


class _TwoBranches(nn.HybridBlock):
    """Two 1x1 convolutions combined by `op`, then a convolution (what follows matters to caffe2onnx's shapes)."""

    def __init__(self, op):
        super().__init__()
        self.a, self.b, self.c, self.op = nn.Conv2D(4, 1), nn.Conv2D(4, 1), nn.Conv2D(3, 1), op

    def hybrid_forward(self, F, x):
        return self.c(self.op(F, self.a(x), self.b(x)))


class _SqueezeExcite(nn.HybridBlock):
    def __init__(self):
        super().__init__()
        self.conv, self.fc = nn.Conv2D(4, 3, padding=1), nn.Conv2D(4, 1)

    def hybrid_forward(self, F, x):
        x = self.conv(x)
        return F.broadcast_mul(x, F.sigmoid(self.fc(F.contrib.AdaptiveAvgPooling2D(x, 1))))


def _hard_swish(F, x):
    return x * F.clip(x + 3, 0, 6) / 6


class _OutputAlsoRead(nn.HybridBlock):
    """Two outputs, the first also read by the layer that computes the second."""

    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Conv2D(4, 3, padding=1), nn.Conv2D(3, 1)

    def hybrid_forward(self, F, x):
        y = self.a(x)
        return y, self.b(y)


def _conv() -> nn.Conv2D:
    return nn.Conv2D(4, 3, padding=1)


_S = (1, 3, 8, 8)
_LAYER = {"relu6": "layer"}
# name: (block, input shape, input scale, conversion options, the Caffe layer it must write). The weights are drawn
# from U(-1, 1) (input_scale 3 for the clips), so a clip's both bounds are crossed: CLIPPED checks it on MXNet's side.
CONSTRUCTS = {
    "power": (lambda: seq(_conv(), lam(lambda F, x: x * 2 + 1), nn.Conv2D(3, 1)), (1, 3, 8, 8), 1.0, {}, "Scale"),
    "eltwise_coeff": (lambda: _TwoBranches(lambda F, a, b: a - b), (1, 3, 8, 8), 1.0, {}, "Eltwise"),
    "relu6_exact": (lambda: seq(_conv(), lam(lambda F, x: F.clip(x, 0, 6))), (1, 3, 8, 8), 3.0, {}, "Eltwise"),
    "relu6_layer": (
        lambda: seq(_conv(), lam(lambda F, x: F.clip(x, 0, 6))),
        (1, 3, 8, 8),
        3.0,
        {"relu6": "layer"},
        "ReLU6",
    ),
    "hard_swish": (lambda: seq(_conv(), lam(_hard_swish)), (1, 3, 8, 8), 3.0, {"relu6": "layer"}, "Scale"),
    "eltwise_prod": (lambda: _TwoBranches(lambda F, a, b: a * b), (1, 3, 8, 8), 1.0, {}, "Eltwise"),
    "kernel_1x3": (
        lambda: seq(nn.Conv2D(4, (1, 3), padding=(0, 1)), nn.Conv2D(3, 1)),
        (1, 3, 8, 8),
        1.0,
        {},
        "Convolution",
    ),
    "batchnorm_kept": (
        lambda: seq(_conv(), nn.Activation("relu"), nn.BatchNorm(), nn.Conv2D(3, 1)),
        (1, 3, 8, 8),
        1.0,
        {},
        "BatchNorm",
    ),
    "se_broadcast": (_SqueezeExcite, (1, 3, 8, 8), 1.0, {}, "Deconvolution"),
    "pool_crop": (lambda: seq(_conv(), nn.MaxPool2D(3, 2, 1), nn.Conv2D(3, 1)), (1, 3, 9, 9), 1.0, {}, "Pooling"),
    "avgpool_pad": (lambda: seq(_conv(), nn.AvgPool2D(3, 1, 1), nn.Conv2D(3, 1)), (1, 3, 8, 8), 1.0, {}, "Pooling"),
    # a bilinear resize as the net's output (segmentation heads): its last layer (a Permute) is named apart from the
    # output blob, and x2paddle names the variable after the layer (fastscnn_citys failed)
    "resize_output": (
        lambda: seq(_conv(), lam(lambda F, x: F.contrib.BilinearResize2D(x, height=13, width=11))),
        (1, 3, 8, 8),
        1.0,
        {},
        "Permute",
    ),
    # ELU (monodepth2's decoder): no toolchain computes it (TODAY); `--target` refuses it
    "elu": (lambda: seq(_conv(), nn.ELU(), nn.Conv2D(3, 1)), (1, 3, 8, 8), 1.0, {}, "ELU"),
    # an output that another layer also reads (ICNet's head): written to an inner blob and copied by an identity
    # Reshape (output_copy), which TPU-MLIR removes and then returns the inner blob (icnet_resnet50_citys failed)
    "output_also_read": (lambda: _OutputAlsoRead(), (1, 3, 8, 8), 1.0, {}, "Reshape"),
    # a Dense without a bias (SE gates): x2paddle asserted bias_term (se_resnet18_v1 failed); `any` writes a zero bias
    "dense_no_bias": (
        lambda: seq(_conv(), nn.GlobalAvgPool2D(), nn.Dense(5, use_bias=False)),
        (1, 3, 8, 8),
        1.0,
        {},
        "InnerProduct",
    ),
}

# What a toolchain cannot compute in the default output, whatever form the converter picks: its own defect, refused
# for its --target with the reason and what to do instead (context.CONSUMER_LIMITS;
# converters/test_consumer_targets.py).
# (runtime, construct): (the exception the check raises, what the toolchain does). Each is a strict xfail: it fails
# the day the toolchain computes it, and the mark must go.
TODAY = {
    # caffe2onnx gives its Max node both input shapes as output shapes, then indexes a second output name; x2paddle
    # calls paddle.max(x, y=...). Every Eltwise MAX (the exact clip's min/max with a constant) fails; --relu6 layer
    # writes a ReLU6 they both compute exactly (relu6_layer).
    ("onnx", "relu6_exact"): (RuntimeFailedError, "caffe2onnx: IndexError in AddOutputsTVIAndValueInfo on Eltwise MAX"),
    ("paddle", "relu6_exact"): (RuntimeFailedError, "x2paddle writes Eltwise MAX as paddle.max(x, y=...): TypeError"),
    # caffe2onnx gives an Eltwise PROD the first input's shape unwrapped: the next layer's shape code crashes.
    ("onnx", "eltwise_prod"): (RuntimeFailedError, "caffe2onnx: Eltwise PROD, then a crash in getConvOutShape"),
    ("onnx", "hard_swish"): (RuntimeFailedError, "caffe2onnx's shapes after an Eltwise PROD: crash"),
    ("onnx", "se_broadcast"): (RuntimeFailedError, "caffe2onnx's shapes after an Eltwise PROD: crash"),
    # No ELU anywhere (found by the zoo sweeps on monodepth2): TPU-MLIR "ELU Op not support now", rknn-toolkit2 drops
    # it ("Current not support"), caffe2onnx "Failed type not support: ELU", x2paddle has no shape_elu.
    ("tpu-mlir", "elu"): (RuntimeFailedError, "TPU-MLIR: ELU Op not support now"),
    ("tpu-mlir-bm1684x", "elu"): (RuntimeFailedError, "TPU-MLIR: ELU Op not support now"),
    ("rknn", "elu"): (RuntimeFailedError, "rknn-toolkit2 drops ELU"),
    ("onnx", "elu"): (RuntimeFailedError, "caffe2onnx: Failed type not support: ELU"),
    ("paddle", "elu"): (RuntimeFailedError, "x2paddle: no shape_elu"),
}


# The clip constructs: MXNet's output reaches the clip's bounds (relu6: 0 and 6; hard-swish: x past 3, where the clip
# saturates), so the comparison sees both sides of the Eltwise / ReLU6 and cannot pass on an inactive clip.
CLIPPED = {
    "relu6_exact": lambda y: y.min() == 0 and y.max() == 6,
    "relu6_layer": lambda y: y.min() == 0 and y.max() == 6,
    "hard_swish": lambda y: y.max() > 3 and y.min() < 0,
}


def _rule(runtime: str) -> float:
    """The bound the runtime is judged by, relative to the output's size."""
    return FP16_TOLERANCE if runtime == "rknn" else TOLERANCE


def _initialized(block, shape):
    """The block with random weights from U(-1, 1) and random BatchNorm statistics (never the identity ones)."""
    import mxnet as mx

    block.initialize(mx.init.Uniform(1.0))
    block(mx.nd.zeros(shape))
    rng = np.random.RandomState(7)
    for name, p in block.collect_params().items():
        if name.endswith(("running_var", "gamma")):
            p.set_data(mx.nd.array(rng.uniform(0.5, 1.5, p.shape).astype(np.float32)))
        elif name.endswith(("running_mean", "beta")):
            p.set_data(mx.nd.array(rng.normal(0, 0.3, p.shape).astype(np.float32)))
    return block


def _cases():
    for runtime in NPU_RUNTIMES:
        for name in CONSTRUCTS:
            known = TODAY.get((runtime, name))
            marks = [pytest.mark.xfail(raises=known[0], strict=True, reason=known[1])] if known else []
            yield pytest.param(runtime, name, marks=marks, id=f"{runtime}-{name}")


@pytest.mark.parametrize("runtime, construct", list(_cases()))
def test_construct_in_npu_runtime(runtime, construct, tmp_path):
    runtime_or_skip(runtime)
    factory, shape, scale, options, layer_type = CONSTRUCTS[construct]
    block = _initialized(factory(), shape)
    result = convert(block, shape, to_bgr=False, **options)
    assert layer_type in {layer.type for layer in result.text_net.layer}
    prototxt, caffemodel = save_model(result.text_net, result.binary_weights, tmp_path / "m")
    x, x2 = make_input(shape, 3, scale), make_input(shape, 4, scale)
    reference = mxnet_forward(block, x)[0]  # the first output (the only one but for output_also_read)
    assert CLIPPED.get(construct, lambda y: True)(reference), (reference.min(), reference.max())
    out = result.graph.outputs[0]
    got = forward(runtime, prototxt, caffemodel, {"data": x}, [out])[out]
    comparison = compare_in(runtime, got.reshape(reference.shape), reference)
    print(f"\n{runtime} {construct}: {comparison}")
    assert comparison.ok, comparison
    # The comparison could fail: another input moves the output by ten times what the rule allows.
    moved = np.abs(mxnet_forward(block, x2)[0] - reference).max() / np.abs(reference).max()
    assert moved > 10 * _rule(runtime), moved


# -- zoo nets: a sample that covers the patterns and keeps the time small -----------------------------------------

# (runtime, model, input size, input scale, relu6). docs/runtimes.md has every cell, with the ones that need item 2.
CLASSIFIERS = [
    ("tpu-mlir", "resnet18_v1", 224, 1.0, "exact"),
    ("tpu-mlir", "mobilenetv2_1.0", 224, 3.0, "exact"),
    ("tpu-mlir", "densenet121", 224, 1.0, "exact"),
    ("tpu-mlir", "mobilenetv3_small", 224, 3.0, "exact"),
    ("tpu-mlir-bm1684x", "resnet18_v1", 224, 1.0, "exact"),
    ("tpu-mlir-bm1684x", "mobilenetv2_1.0", 224, 3.0, "exact"),
    ("rknn", "resnet18_v1", 224, 1.0, "exact"),
    ("rknn", "mobilenetv2_1.0", 224, 3.0, "exact"),
    ("rknn", "mobilenetv3_small", 224, 3.0, "exact"),
    ("onnx", "squeezenet1.1", 224, 1.0, "exact"),
    ("onnx", "resnet18_v1", 224, 1.0, "exact"),
    ("onnx", "densenet121", 224, 1.0, "exact"),
    ("paddle", "mobilenetv3_small", 224, 3.0, "layer"),
    ("paddle", "resnet18_v1", 224, 1.0, "exact"),
]


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    """(model, size, relu6) -> (prototxt, caffemodel, the net), converted on first use (random live weights)."""
    cache: dict = {}

    def get(name: str, size: int, relu6: str):
        if (name, size, relu6) not in cache:
            shape = (1, 3, size, size)
            net = load_zoo_model(name, shape)
            result = convert(net, shape, to_bgr=True, relu6=relu6)
            prefix = tmp_path_factory.mktemp("npu") / f"{name}_{relu6}"
            cache[name, size, relu6] = (*save_model(result.text_net, result.binary_weights, prefix), net)
        return cache[name, size, relu6]

    return get


@pytest.mark.parametrize("runtime, name, size, scale, relu6", CLASSIFIERS, ids=lambda v: str(v))
def test_zoo_classifier_in_npu_runtime(converted, runtime, name, size, scale, relu6):
    runtime_or_skip(runtime)
    prototxt, caffemodel, net = converted(name, size, relu6)
    x = make_input((1, 3, size, size), 5, scale)
    result = verify(prototxt, caffemodel, net, runtime=runtime, input=x)
    print(f"\n{runtime} {name} relu6={relu6}: " + "; ".join(str(c) for c in result.outputs.values()))
    expected = WITHIN_FP16 if runtime == "rknn" else "exact"
    assert result.status == expected, result.outputs
    (other,) = mxnet_forward(net, make_input((1, 3, size, size), 6, scale))
    (reference,) = mxnet_forward(net, x)
    assert np.abs(other - reference).max() > 10 * _rule(runtime) * np.abs(reference).max()


# (runtime, model, size, conversion options): the SSD's and YOLOv3's DetectionOutput in TPU-MLIR's interpreter
# (YOLOv3's affine maps as Scales: it has no Power layer); the SSD without NMS (constant anchors) where the consumer
# has no DetectionOutput / PriorBox.
DETECTORS = [
    ("tpu-mlir", "ssd_300_mobilenet0.25_voc", 300, {}),
    ("tpu-mlir", "yolo3_mobilenet0.25_voc", 320, {}),
    ("onnx", "ssd_300_mobilenet0.25_voc", 300, {"anchors": "constant", "nms": False}),
    ("paddle", "ssd_300_mobilenet0.25_voc", 300, {"anchors": "constant", "nms": False}),
]


@pytest.mark.parametrize("runtime, name, size, options", DETECTORS, ids=lambda v: str(v))
def test_detector_in_npu_runtime(runtime, name, size, options, tmp_path):
    shape = (1, 3, size, size)
    net = load_zoo_model(name, shape)
    _, check = convert_and_check_detector(net, shape, tmp_path, runtime=runtime, **options)
    print(f"\n{runtime} {name} {options}: {check.status}; {check.pre_nms}; {check.detections}")
    assert_detector_ok(check)


# -- what the runtimes say ----------------------------------------------------------------------------------------


def test_rknn_is_never_exact(tmp_path):
    """rknn computes in float16: its pass is `within fp16`, its error is far above float32's and within the rule."""
    runtime_or_skip("rknn")
    shape = (1, 3, 8, 8)
    block = _initialized(seq(_conv(), nn.Activation("relu"), nn.Conv2D(3, 1)), shape)
    result = convert(block, shape, to_bgr=False)
    prototxt, caffemodel = save_model(result.text_net, result.binary_weights, tmp_path / "m")
    v = verify(prototxt, caffemodel, block, runtime="rknn", to_bgr=False)
    (c,) = v.outputs.values()
    assert v.status == WITHIN_FP16 and "float16 rule" in str(c), (v.status, c)
    assert TOLERANCE * 1e-2 < c.relative <= FP16_TOLERANCE, c


def test_a_rejected_file_is_the_toolchains_own_one_line_message(tmp_path):
    """A Power layer (which TPU-MLIR's Caffe frontend does not implement; the default target writes one only where no
    other form exists, here a reciprocal) is refused with the frontend's words and where it raised, on one line:
    never a traceback, never a result."""
    runtime_or_skip("tpu-mlir")
    shape = (1, 3, 8, 8)
    block = seq(_conv(), lam(lambda F, x: F.reciprocal(F.relu(x) + 1)), nn.Conv2D(3, 1))
    result = convert(_initialized(block, shape), shape, to_bgr=False)
    assert "Power" in {layer.type for layer in result.text_net.layer}
    prototxt, caffemodel = save_model(result.text_net, result.binary_weights, tmp_path / "m")
    with pytest.raises(RuntimeFailedError) as caught:
        forward("tpu-mlir", prototxt, caffemodel, {"data": make_input(shape, 3)}, result.graph.outputs)
    message = str(caught.value)
    assert "\n" not in message and "model_transform" in message, message
    assert "RuntimeError: not implemented (in convert_power_op" in message, message


def test_rknn_refuses_a_net_whose_layers_it_drops(tmp_path):
    """rknn-toolkit2 leaves out a layer it cannot convert (DetectionOutput) with an error line and builds the rest;
    the check refuses with that line instead of comparing other tensors."""
    runtime_or_skip("rknn")
    shape = (1, 3, 300, 300)
    net = load_zoo_model("ssd_300_mobilenet0.25_voc", shape)
    from gluon2caffe.api import detector_converter
    from gluon2caffe.detectors import detector_for

    result = detector_converter(detector_for(net))(net, shape)
    prototxt, caffemodel = save_model(result.text_net, result.binary_weights, tmp_path / "m")
    with pytest.raises(RuntimeFailedError, match="OP in Layer detection_out Current not support"):
        forward("rknn", prototxt, caffemodel, {"data": make_input(shape, 3)[:, BGR].copy()}, result.graph.outputs)


@pytest.mark.parametrize("signum, words", [(signal.SIGKILL, "out-of-memory killer"), (signal.SIGFPE, "SIGFPE")])
def test_a_killed_toolchain_says_how_it_died(signum, words, tmp_path):
    """A toolchain child that dies of a signal is a one-line error naming it; SIGKILL, which no toolchain sends
    itself, names the kernel's out-of-memory killer (rknn-toolkit2 on DeepLab at 480x480 grows past 16 GB)."""
    from gluon2caffe.verification.runtime_onnx import VENV

    runtime_or_skip("onnx")
    command = [VENV.python(), "-c", f"import os; print('building'); os.kill(os.getpid(), {int(signum)})"]
    with pytest.raises(RuntimeFailedError) as caught:
        VENV.run(command, "the toolchain", str(tmp_path))
    message = str(caught.value)
    assert "\n" not in message and message.startswith(f"the toolchain crashed ({signum.name}"), message
    assert words in message and "its last words: building" in message, message
