"""The default output's portable forms (issue 27 item 2: what TPU-MLIR, rknn-toolkit2, caffe2onnx and x2paddle read,
converters/forms.py), exact in pycaffe; the other targets keep their forms; and the consumer targets (tpu-mlir,
rknn, onnx, paddle) refuse what their toolchain cannot compute, with what to do instead. The toolchains themselves
run these forms in tests/verification/test_npu_runtimes.py."""

from __future__ import annotations

import pytest
from mxnet.gluon import nn

from gluon2caffe import ConversionError, convert
from gluon2caffe.api import detector_converter
from gluon2caffe.converters.context import CONSUMER_LIMITS, TARGETS
from gluon2caffe.verification import TOLERANCE
from gluon2caffe.detectors import detector_for
from gluon2caffe.zoo.loader import load_zoo_model
from helpers import check_block, lam, seq


class _Forms(nn.HybridBlock):
    """An affine map, a difference, the exact ReLU6, a kept BatchNorm, a 1x3 kernel, a (3, 1) pooling window and an
    SE gate (a broadcast product through an all-ones Deconvolution): each construct that had another form."""

    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Conv2D(4, 3, padding=1), nn.Conv2D(4, 1)
        self.bn, self.wide = nn.BatchNorm(epsilon=1e-3), nn.Conv2D(4, (1, 3), padding=(0, 1))
        self.pool, self.fc = nn.MaxPool2D((3, 1), 1, (1, 0)), nn.Conv2D(4, 1)

    def hybrid_forward(self, F, x):
        y = self.a(x) * 2 + 1
        d = F.clip(y - self.b(x), 0, 6)
        z = self.pool(self.wide(self.bn(F.relu(d))))
        return F.broadcast_mul(z, F.sigmoid(self.fc(F.contrib.AdaptiveAvgPooling2D(z, 1))))


def _layers(result):
    return list(result.text_net.layer)


@pytest.mark.op("clip", "BatchNorm", "_mul_scalar", "_plus_scalar", "elemwise_sub")
def test_default_output_has_the_portable_forms_and_is_exact():
    checked = check_block(_Forms(), (2, 3, 9, 7), scale=3.0, merge_bn=False)
    layers = _layers(checked.result)
    types = [layer.type for layer in layers]
    assert "Power" not in types, types  # every Power here is affine: a Scale
    assert not [layer.name for layer in layers if layer.type == "Eltwise" and layer.eltwise_param.coeff]
    for layer in layers:
        if layer.type in ("Convolution", "Deconvolution"):
            p = layer.convolution_param
            assert p.stride or p.HasField("stride_h"), layer
        if layer.type == "Pooling" and not layer.pooling_param.global_pooling:
            assert layer.pooling_param.HasField("stride") or layer.pooling_param.HasField("stride_h"), layer
    assert any(layer.convolution_param.HasField("kernel_h") for layer in layers)  # the 1x3 kernel's own form
    (bn,) = [i for i, layer in enumerate(layers) if layer.type == "BatchNorm"]
    scale = layers[bn + 1]
    assert scale.type == "Scale" and list(scale.bottom) == list(scale.top) == list(layers[bn].top), scale


@pytest.mark.op("FullyConnected")
@pytest.mark.parametrize("runtime", ["caffe", "opencv", "mnn", "ncnn", "openvino"])
def test_dense_without_bias_gets_a_zero_bias(runtime):
    """x2paddle asserts `bias_term` on every InnerProduct: `any` writes a Dense without a bias (SE gates) with a zero
    bias, exact in every runtime; the runtimes' own targets keep it without one."""
    block = seq(nn.Conv2D(4, 3), nn.GlobalAvgPool2D(), nn.Dense(5, use_bias=False))
    checked = check_block(block, (2, 3, 6, 5), runtime=runtime)
    (dense,) = [layer for layer in _layers(checked.result) if layer.type == "InnerProduct"]
    assert dense.inner_product_param.bias_term, dense
    (blob,) = [layer for layer in checked.result.binary_weights.layer if layer.name == dense.name]
    assert len(blob.blobs) == 2 and not any(blob.blobs[1].data), blob.blobs[1]
    caffe = check_block(block, (2, 3, 6, 5), target="caffe", init=False)
    (kept,) = [layer for layer in _layers(caffe.result) if layer.type == "InnerProduct"]
    assert not kept.inner_product_param.bias_term


@pytest.mark.parametrize("target", [t for t in TARGETS if TARGETS[t].affine == "power"])
def test_other_targets_keep_power_and_coeff(target):
    """The runtimes' own targets keep the Power and coeff forms (their files byte-identical: identical_conversions)."""
    block = seq(nn.Conv2D(4, 3), lam(lambda F, x: x * 2 + 1))
    check = check_block(block, (1, 3, 6, 5), target=target)
    assert "Power" in check.layer_types and "Scale" not in check.layer_types


def _refusal(net, shape, target, **options) -> str:
    with pytest.raises(ConversionError) as caught:
        if options:
            detector_converter(detector_for(net))(net, shape, target=target, **options)
        else:
            convert(net, shape, target=target)
    message = str(caught.value)
    assert "\n" not in message, message
    return message


def _initialized(block, shape):
    import mxnet as mx

    block.initialize(mx.init.Uniform(1.0))
    block(mx.nd.zeros(shape))
    return block


@pytest.mark.parametrize("target", ["onnx", "paddle"])
def test_exact_clip_refused_where_eltwise_max_fails_and_relu6_layer_converts(target):
    shape = (1, 3, 6, 6)
    block = _initialized(seq(nn.Conv2D(4, 3), lam(lambda F, x: F.clip(x, 0, 6))), shape)
    message = _refusal(block, shape, target)
    assert "Eltwise MAX layer" in message and f"target '{target}'" in message and "--relu6 layer" in message
    assert "ReLU6" in {layer.type for layer in convert(block, shape, target=target, relu6="layer").text_net.layer}


def test_product_refused_for_onnx():
    shape = (1, 3, 6, 6)
    block = _initialized(seq(nn.Conv2D(4, 3), lam(lambda F, x: x * F.sigmoid(x))), shape)
    assert CONSUMER_LIMITS["Eltwise PROD"] in _refusal(block, shape, "onnx")
    convert(block, shape, target="paddle")  # x2paddle computes it


def test_power_refused_for_tpu_mlir():
    """A Power of another exponent than 1 has no other form; an affine one is a Scale and converts."""
    shape = (1, 3, 6, 6)
    block = _initialized(seq(nn.Conv2D(4, 3), lam(lambda F, x: F.reciprocal(F.relu(x) + 1))), shape)
    message = _refusal(block, shape, "tpu-mlir")
    assert "Power layer" in message and CONSUMER_LIMITS["Power"] in message
    convert(_initialized(seq(nn.Conv2D(4, 3), lam(lambda F, x: x * 3 - 1)), shape), shape, target="tpu-mlir")


SSD, YOLO = "ssd_300_mobilenet0.25_voc", "yolo3_mobilenet0.25_voc"


@pytest.fixture(scope="module")
def ssd():
    return load_zoo_model(SSD, (1, 3, 128, 128))


def test_ssd_refusals_say_what_to_use_instead(ssd):
    shape = (1, 3, 128, 128)
    assert "--no-nms" in _refusal(ssd, shape, "rknn", anchors="constant")  # DetectionOutput
    assert "--anchors constant" in _refusal(ssd, shape, "rknn", nms=False)  # PriorBox
    assert "--anchors constant" in _refusal(ssd, shape, "onnx", nms=False)
    assert "--anchors constant" in _refusal(ssd, shape, "paddle", nms=False)
    assert "--no-nms" in _refusal(ssd, shape, "paddle", anchors="constant")  # multiclass_nms3 fails on Paddle 3
    for target in ("rknn", "onnx", "paddle"):
        detector_converter(detector_for(ssd))(ssd, shape, target=target, anchors="constant", nms=False)


def test_yolo_without_nms_refused_for_tpu_mlir():
    shape = (1, 3, 128, 128)
    net = load_zoo_model(YOLO, shape)
    message = _refusal(net, shape, "tpu-mlir", nms=False)
    assert "Exp layer" in message and "leave out --no-nms" in message, message
    detector_converter(detector_for(net))(net, shape, target="tpu-mlir")


def test_convert_summary_names_the_bm1684x_detection_output(tmp_path):
    """TPU-MLIR's top MLIR computes the SSD's DetectionOutput right and its BM1684X bmodel does not: not a refusal,
    a note in the convert summary for --target tpu-mlir, with what to do."""
    import subprocess
    import sys

    command = [sys.executable, "-m", "gluon2caffe", "convert", SSD, "-o", str(tmp_path / "ssd")]
    command += ["--input-shape", "1,3,128,128", "--target", "tpu-mlir"]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "tpu-mlir: a BM1684X bmodel's SSD DetectionOutput decodes some boxes wrong" in proc.stdout, proc.stdout
    assert "(--no-nms)" in proc.stdout


def test_layer_local_check_reads_a_batchnorm_finished_in_place(tmp_path):
    """A kept BatchNorm and its Scale in place on its top are one segment, compared after the Scale (comparing after
    the BatchNorm alone, before its Scale, reported 'off by 0.4' on a right conversion)."""
    import mxnet as mx

    from gluon2caffe import save_model
    from gluon2caffe.verification import MXNetReference
    from gluon2caffe.verification.local import check_local
    from gluon2caffe.zoo.randomize import randomize
    from helpers import make_input

    shape = (1, 3, 9, 8)
    net = seq(nn.Conv2D(4, 3, in_channels=3), nn.BatchNorm(in_channels=4), nn.Activation("tanh"))
    net.initialize(mx.init.Normal(0.5))
    randomize(net, shape, seed=0)
    result = convert(net, shape, to_bgr=False, merge_bn=False)
    layers = _layers(result)
    (scale,) = [layer for layer in layers if layer.type == "Scale"]
    assert list(scale.bottom) == list(scale.top)  # in place
    files = save_model(result.text_net, result.binary_weights, tmp_path / "bn")
    local = check_local(*files, MXNetReference(net, shape, "data"), make_input(shape, 1), to_bgr=False)
    assert local.ok, local.table(None)
    (segment,) = [s for s in local.segments if "BatchNorm" in s.types]
    assert segment.types == ["BatchNorm", "Scale"] and segment.comparison.relative < TOLERANCE, local.table(None)


def test_openvino_refuses_centernets_threshold():
    """Found by the zoo sweep (OpenVINO sample): CenterNet's peak mask writes a Threshold layer itself, which Model
    Optimizer 2023.3 cannot load (exit 1): `--target openvino` refuses it naming the node, so the runtime table says
    refused, not error."""
    import pytest as _pytest

    from gluon2caffe import ConversionError, convert
    from gluon2caffe.zoo.loader import load_zoo_model

    net = load_zoo_model("center_net_mobilenetv3_small_duc_voc", (1, 3, 128, 128))
    with _pytest.raises(ConversionError, match=r"op Threshold.*target 'openvino'"):
        convert(net, (1, 3, 128, 128), target="openvino")
    assert "Threshold" in [layer.type for layer in convert(net, (1, 3, 128, 128), target="ncnn").text_net.layer]


@pytest.mark.parametrize("target", ["tpu-mlir", "rknn", "onnx", "paddle"])
def test_toolchains_refuse_threshold_and_elu(target):
    """Found by the whole-zoo sweeps: TPU-MLIR ("Threshold/ELU Op not support now"), rknn-toolkit2 ("OP in Layer ...
    Current not support"), x2paddle (no shape_threshold / shape_elu) and caffe2onnx ("Failed type not support: ELU")
    have no CenterNet peak test (Threshold) or ELU: `--target` refuses them naming the node and why, so the runtime
    table says refused, not error. (caffe2onnx refuses CenterNet at its Eltwise PROD first; the ResNet one has no
    exact ReLU6, which x2paddle's target refuses first.)"""
    net = load_zoo_model("center_net_resnet18_v1b_voc", (1, 3, 128, 128))
    message = _refusal(net, (1, 3, 128, 128), target)
    if target != "onnx":
        assert "Threshold" in message and CONSUMER_LIMITS["Threshold"] in message
    shape = (1, 3, 6, 6)
    message = _refusal(_initialized(seq(nn.Conv2D(4, 3), nn.ELU()), shape), shape, target)
    assert "ELU" in message and CONSUMER_LIMITS["ELU"] in message


def test_rknn_refuses_a_dilation_its_toolchain_cannot_build():
    """RK3588 holds a dilation up to 15; rknn-toolkit2 expands a larger one into a dense ((k-1)*d+1)^2 kernel, and
    DeepLab's ASPP (2048 -> 256 channels at dilation 24, 36) ran it out of memory in the zoo sweep (killed at 16 GB).
    `--target rknn` refuses such a layer, naming its expanded size; a dilation the chip holds, or one whose expanded
    kernel stays small (dilation 16 on 2048 channels: 1.1 GB, built in 4 GB), converts, and so does every target
    without the limit."""
    shape = (1, 3, 30, 30)

    def net(dilation, channels):
        block = seq(nn.Conv2D(channels, 1), nn.Conv2D(256, 3, padding=dilation, dilation=dilation))
        return _initialized(block, shape)

    message = _refusal(net(24, 2048), shape, "rknn")
    assert "dilated 24" in message and "dense 49x49 kernel, 2.5 GB" in message, message
    assert "holds a dilation up to 15" in message and "op Convolution" in message, message
    for dilation, channels in ((15, 2048), (16, 2048), (24, 64)):
        convert(net(dilation, channels), shape, target="rknn")
    for target in TARGETS:
        if TARGETS[target].max_dilation == 0:
            convert(net(24, 2048), shape, target=target)
