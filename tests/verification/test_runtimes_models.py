"""Where users deploy: converted files run in every runtime (pycaffe, OpenCV, MNN, ncnn, OpenVINO) within the
tolerance of MXNet, each set to full float32 precision (verification/runtimes.py).

Each model is converted once (random live weights, as in the zoo sweep) with the default target, which must load
everywhere; then each runtime runs the same files. The classifier set covers the patterns runtimes differ on: the
pooling crop (resnet18_v1, densenet121, inceptionv3), ReLU6 both ways (mobilenetv2), the SE product and hard-swish
(mobilenetv3_small); the detectors their DetectionOutput (detections equal GluonCV's as sets).
"""

from __future__ import annotations

from dataclasses import dataclass

import mxnet as mx
import numpy as np
import pytest
from mxnet.gluon import nn

from gluon2caffe import convert, save_model
from gluon2caffe.converters.context import TARGETS
from gluon2caffe.zoo.loader import load_zoo_model
from gluon2caffe.zoo.randomize import randomize
from gluon2caffe.verification import compare, forward, input_dependence, mxnet_forward
from helpers import BGR, SplitAttention, assert_detector_ok, convert_and_check_detector, lam, make_input, seq

from conftest import runtime_or_skip

RUNTIMES = ["caffe", "opencv", "mnn", "ncnn", "openvino"]

# (model, input size, input scale, relu6): clip(0, 6) nets get inputs 3x wider so activations really pass 6.
CLASSIFIERS = [
    ("resnet18_v1", 224, 1.0, "exact"),
    ("mobilenetv2_1.0", 224, 3.0, "exact"),
    ("mobilenetv2_1.0", 224, 3.0, "layer"),
    ("mobilenetv3_small", 224, 3.0, "exact"),
    ("densenet121", 224, 1.0, "exact"),
    ("inceptionv3", 299, 1.0, "exact"),
    # ncnn holds 4-D blobs: pixel shuffles (DUC) as one-hot Deconvolutions (a 6-D Permute gave relative 1.1), ResNeSt's
    # (N, radix, C, H, W) split attention with its trailing axes merged (0/6 resnest models were exact in ncnn).
    ("mobile_pose_mobilenetv3_small", (256, 192), 3.0, "exact"),
    ("resnest14", 224, 1.0, "exact"),
]
DETECTORS = [("ssd_300_mobilenet0.25_voc", 300), ("yolo3_mobilenet0.25_voc", 416)]


@dataclass
class Converted:
    prototxt: str
    caffemodel: str
    outputs: list[str]
    x: np.ndarray  # RGB; the runtimes get x[:, BGR]
    reference: list[np.ndarray]
    layer_types: list[str]


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    """(model, relu6) -> its files and MXNet's outputs, converted on first use (the net is not kept)."""
    cache: dict[tuple[str, str], Converted] = {}

    def get(name: str, size: int | tuple[int, int], scale: float, relu6: str) -> Converted:
        if (name, relu6) not in cache:
            shape = (1, 3, *size) if isinstance(size, tuple) else (1, 3, size, size)
            net = load_zoo_model(name, shape)
            result = convert(net, shape, to_bgr=True, relu6=relu6)
            prefix = tmp_path_factory.mktemp("runtimes") / f"{name}_{relu6}"
            prototxt, caffemodel = save_model(result.text_net, result.binary_weights, prefix)
            x, x2 = make_input(shape, 5, scale), make_input(shape, 6, scale)
            reference, other = mxnet_forward(net, x), mxnet_forward(net, x2)
            for ref, ref2 in zip(reference, other):  # the comparison must be able to fail
                dependence = input_dependence({"y": ref}, {"y": ref2}, {"y": compare(ref, ref)}, "seed 6")
                assert dependence.ok, dependence.reason(remedy=False)
            types = [layer.type for layer in result.text_net.layer]
            cache[name, relu6] = Converted(prototxt, caffemodel, result.graph.outputs, x, reference, types)
        return cache[name, relu6]

    return get


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("name, size, scale, relu6", CLASSIFIERS, ids=lambda v: str(v))
def test_classifier_in_runtime(converted, runtime, name, size, scale, relu6):
    runtime_or_skip(runtime)
    c = converted(name, size, scale, relu6)
    got = forward(runtime, c.prototxt, c.caffemodel, {"data": c.x[:, BGR].copy()}, c.outputs)
    for output, ref in zip(c.outputs, c.reference):
        comparison = compare(got[output].reshape(ref.shape), ref)
        print(f"\n{runtime} {name} relu6={relu6}: {comparison}")
        assert comparison.ok, f"{runtime} {name} {output}: {comparison}"


@pytest.mark.parametrize("name, size, scale, relu6", CLASSIFIERS, ids=lambda v: str(v))
def test_default_target_writes_only_what_every_runtime_loads(converted, name, size, scale, relu6):
    """No Silence (OpenVINO, caffe2onnx, x2paddle reject it), no two-bottom Scale/Bias (MNN, x2paddle), no Tile
    (MNN), and every Reshape copies the batch (dim 0) so the net can be reshaped to another batch."""
    c = converted(name, size, scale, relu6)
    assert not {"Silence", "Tile"} & set(c.layer_types), c.layer_types
    from gluon2caffe.caffe.io import read_prototxt

    for layer in read_prototxt(c.prototxt).layer:
        if layer.type in ("Scale", "Bias"):
            assert len(layer.bottom) == 1, layer.name
        if layer.type == "Reshape":
            assert layer.reshape_param.shape.dim[0] == 0, layer.name
        if layer.type in ("Pooling", "Convolution"):
            for field in ("pad_h", "kernel_h", "stride_h"):  # the one-value fields where H and W agree
                p = layer.pooling_param if layer.type == "Pooling" else layer.convolution_param
                if p.HasField(field):
                    assert getattr(p, field) != getattr(p, field.replace("_h", "_w")), (layer.name, field)


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("name, size", DETECTORS)
def test_detector_in_runtime(runtime, name, size, tmp_path):
    """Pre-NMS tensors within the tolerance and the runtime's DetectionOutput rows equal to GluonCV's detections."""
    runtime_or_skip(runtime)
    shape = (1, 3, size, size)
    net = load_zoo_model(name, shape)
    _, check = convert_and_check_detector(net, shape, tmp_path, runtime=runtime)
    print(f"\n{runtime} {name}: {check.status}; {check.detections}")
    assert check.detections is not None
    assert_detector_ok(check)


# -- targets: each profile loads in its runtime; the default in all of them --------------------------------------


class SqueezeExcite(nn.HybridBlock):
    def __init__(self, channels: int):
        super().__init__()
        self.fc = nn.Conv2D(channels, 1)

    def hybrid_forward(self, F, x):
        return F.broadcast_mul(x, F.sigmoid(self.fc(F.contrib.AdaptiveAvgPooling2D(x, 1))))


class PatternsBlock(nn.HybridBlock):
    """Every construct whose Caffe form depends on the target, or that a runtime computes wrong in some form:

    a pooling crop (Caffe's extra window at 13 -> 6), an average with padding, excluding it (per-position factors),
    an SE product, an asymmetric pad, a slice at both ends, a bilinear resize (separable 1x1 Convolutions); a
    depthwise 3x3 with pad 1 and dilation 2 (OpenCV 4.11's fast kernel misplaces it), unequal dilations (MNN and
    OpenVINO read them swapped, ncnn keeps one), a pixel shuffle (a 6-D Permute: ncnn), ResNeSt's split attention
    (5-D blobs and an (N, radix, C) gate: ncnn), a dense layer over the last axis followed by a BatchNorm (ncnn
    flattens, OpenVINO stops, OpenCV folds the BatchNorm per output), and a 3x3 convolution of a global pooling's
    (N, C, 1, 1) output (ncnn holds that as 1-D: error -100) and its bilinear upsampling (PSPNet: ncnn crashed).
    Three outputs: the map and the two pooled heads."""

    def __init__(self):
        super().__init__()
        from mxnet.gluon.contrib.nn import PixelShuffle2D

        with self.name_scope():
            self.body = seq(
                nn.Conv2D(6, 3, padding=1),
                nn.MaxPool2D(3, 2, 1),
                nn.AvgPool2D(3, 1, 1),
                nn.AvgPool2D(3, 1, 1, count_include_pad=False),
                SqueezeExcite(6),
                lam(lambda F, x: F.pad(x, mode="constant", pad_width=(0, 0, 0, 0, 0, 1, 2, 0))),
                lam(lambda F, x: F.slice(x, begin=(None, 1, 1, 0), end=(None, 5, None, -1))),
                lam(lambda F, x: F.contrib.BilinearResize2D(x, height=9, width=8)),
                nn.Conv2D(4, 3, padding=1, dilation=2, groups=4),
                nn.Conv2D(8, 3, padding=(1, 2), dilation=(1, 2)),
                PixelShuffle2D(2),
                SplitAttention(),
                nn.Dense(6, flatten=False),
                nn.BatchNorm(),
            )
            self.head = nn.Conv2D(4, 3, padding=1)
            self.pyramid = seq(  # PSPNet's pyramid pooling branch: ncnn crashed on it (malloc(): invalid size)
                nn.Conv2D(4, 1),
                nn.Activation("relu"),
                lam(lambda F, x: F.contrib.BilinearResize2D(x, height=3, width=2)),
                nn.Conv2D(4, 3, padding=1),
            )

    def hybrid_forward(self, F, x):
        y = self.body(x)
        pooled = F.contrib.AdaptiveAvgPooling2D(y, 1)
        return y, self.head(pooled), self.pyramid(pooled)


@pytest.mark.parametrize(
    "target, runtime",
    [("any", r) for r in RUNTIMES] + [(t, t if t != "any" else "caffe") for t in TARGETS if t in ("any", *RUNTIMES)],
)
def test_target_patterns_in_runtime(target, runtime, tmp_path):
    runtime_or_skip(runtime)
    shape = (1, 3, 13, 11)
    block = PatternsBlock()
    block.initialize(mx.init.Normal(0.5))
    randomize(block, shape, seed=0)
    result = convert(block, shape, to_bgr=False, target=target)
    layers = result.text_net.layer
    types = {layer.type for layer in layers}
    patterns = TARGETS[target]
    assert ("Silence" in types) == (patterns.crop == "slice"), types
    two_bottom = [layer for layer in layers if layer.type in ("Scale", "Bias") and len(layer.bottom) == 2]
    assert bool(two_bottom) == (patterns.broadcast != "eltwise"), types
    assert ("Deconvolution" in types) == (patterns.broadcast != "scale" or patterns.high_rank == "fold"), types
    folded = all(len(layer.reshape_param.shape.dim) <= 4 for layer in layers)
    assert folded == (patterns.high_rank == "fold"), [list(layer.reshape_param.shape.dim) for layer in layers]
    dilations = [list(layer.convolution_param.dilation) for layer in layers if layer.convolution_param.dilation]
    assert all(len(set(d)) == 1 for d in dilations) == (patterns.unequal_dilation == "kernel"), dilations
    depthwise = [layer for layer in layers if layer.convolution_param.group == 4]
    (dilated,) = [layer for layer in depthwise if 2 in layer.convolution_param.dilation]
    assert (not dilated.convolution_param.pad) == (patterns.depthwise_pad == "separate"), dilated
    over_last_axis = [layer for layer in layers if layer.type == "InnerProduct" and layer.inner_product_param.axis != 1]
    assert bool(over_last_axis) == (patterns.dense_axis == "inner_product"), types
    writer = {top: layer for layer in layers for top in layer.top}
    pooled = writer[writer[result.graph.outputs[1]].bottom[0]]  # what the head's convolution reads
    assert (pooled.type == "Reshape") == (patterns.pooled_map == "reshape"), pooled.type
    prototxt, caffemodel = save_model(result.text_net, result.binary_weights, tmp_path / "m")
    x = make_input(shape, 3)
    got = forward(runtime, prototxt, caffemodel, {"data": x}, result.graph.outputs)
    references = mxnet_forward(block, x)
    others = mxnet_forward(block, make_input(shape, 4))
    for name, reference, other in zip(result.graph.outputs, references, others):
        comparison = compare(got[name].reshape(reference.shape), reference)
        assert comparison.ok, f"{name}: {comparison}"
        dependence = input_dependence({name: reference}, {name: other}, {name: comparison}, "seed 4")
        assert dependence.ok, dependence.reason(remedy=False)


# -- batch: converted at batch 1, run at batch 4 -----------------------------------------------------------------


@pytest.mark.parametrize("target", ["any", "caffe"])
@pytest.mark.parametrize("runtime", ["caffe", "opencv"])
def test_converted_at_batch_1_runs_at_batch_4(converted, runtime, target, tmp_path):
    """Every Reshape copies the batch (dim 0), so the files run at any batch; mobilenetv3_small has the SE
    reshape that used to pin it."""
    runtime_or_skip(runtime)
    shape = (1, 3, 224, 224)
    net = load_zoo_model("mobilenetv3_small", shape)
    result = convert(net, shape, to_bgr=True, target=target)
    prototxt, caffemodel = save_model(result.text_net, result.binary_weights, tmp_path / "m")
    x = make_input((4, 3, 224, 224), 7, 3.0)
    (reference,) = mxnet_forward(net, x)
    got = forward(runtime, prototxt, caffemodel, {"data": x[:, BGR].copy()}, result.graph.outputs)
    value = got[result.graph.outputs[0]]
    assert value.shape[0] == 4, value.shape
    comparison = compare(value.reshape(reference.shape), reference)
    assert comparison.ok, comparison
    images = {"y": reference[0]}, {"y": reference[1]}, {"y": compare(reference[0], reference[0])}
    assert input_dependence(*images, "image 1").ok  # the four images give four answers


def test_runtime_registry_lists_the_deployment_runtimes():
    from gluon2caffe.verification.runtimes import RUNTIMES as REGISTRY

    assert set(RUNTIMES) <= set(REGISTRY)


# -- to_bgr's permutation: the one-hot 1x1 Convolution swap_bgr inserts before what cannot absorb the swap --------


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_bgr_permutation_in_runtime(runtime, tmp_path):
    """relu(x) as the output needs RGB: the permutation's 0/1 products and zero sums are exact, so error 0."""
    runtime_or_skip(runtime)
    shape = (2, 3, 5, 6)
    block = seq(nn.Activation("relu"))
    block.initialize()
    result = convert(block, shape, to_bgr=True)
    assert result.report.bgr_permuted and "data_bgr_to_rgb" in [layer.name for layer in result.text_net.layer]
    prototxt, caffemodel = save_model(result.text_net, result.binary_weights, tmp_path / "m")
    x = make_input(shape, 3)
    got = forward(runtime, prototxt, caffemodel, {"data": x[:, BGR].copy()}, result.graph.outputs)
    (reference,) = mxnet_forward(block, x)
    np.testing.assert_array_equal(got[result.graph.outputs[0]].reshape(reference.shape), reference)
