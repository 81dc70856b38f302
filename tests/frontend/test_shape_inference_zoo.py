"""Whole models: the exported files of a sample of zoo networks that covers every supported op family convert to
byte-identical Caffe files with our own shape inference and with MXNet's (GLUON2CAFFE_SHAPE_INFERENCE=own|mxnet).

The regular run takes a fast sample (about a minute on an idle 2-core machine); GLUON2CAFFE_SHAPES_ZOO=all runs the
whole one (a dozen classifiers, the VGG SSD and the MobileNet YOLOv3: about 10 minutes on a busy machine, all
byte-identical when this was written).

Every tensor's shape is compared too, over the whole exported graph (detector heads included), so a difference is
named by its tensor before it shows in the files. The op-by-op cross-check is tests/frontend/test_shape_inference.py.
"""

from __future__ import annotations

import os

import mxnet as mx
import pytest

from gluon2caffe import convert, load_exported
from gluon2caffe.frontend.exported import infer_exported_shapes, infer_shapes_isolated
from gluon2caffe.frontend.mxnet_graph import unique_source_names
from gluon2caffe.frontend.exported import parse_symbol_json
from gluon2caffe.zoo.loader import load_zoo_model

# (zoo name, input side): every classifier family the converters cover, and the exported SSD and YOLOv3.
WHOLE = [
    ("resnet50_v1", 224),
    ("mobilenetv2_1.0", 224),
    ("mobilenetv3_large", 224),
    ("densenet121", 224),
    ("inceptionv3", 299),
    ("squeezenet1.1", 224),
    ("nasnet_4_1056", 224),
    ("hrnet_w18_small_v1_c", 224),
    ("resnest50", 224),
    ("vgg16", 224),
    ("alexnet", 224),
    ("darknet53", 224),
    ("ssd_300_vgg16_atrous_voc", 300),
    ("yolo3_mobilenet1.0_coco", 416),
]
# Every op family of WHOLE in a few small nets: squeeze/expand (Concat, Dropout), hard-swish (scalars, clip,
# broadcast_mul), UpSampling and broadcast_add, Pad/slice/adaptive pooling (MXNet-free separable weights), ResNeSt's
# sum/softmax/SwapAxis/Reshape codes, and the two detector heads (small backbones).
FAST = [
    ("squeezenet1.1", 224),
    ("mobilenetv3_large", 224),
    ("hrnet_w18_small_v1_c", 224),
    ("nasnet_4_1056", 224),
    ("resnest50", 224),
    ("ssd_300_mobilenet0.25_voc", 300),
    ("yolo3_mobilenet0.25_voc", 320),
]
SAMPLE = WHOLE if os.environ.get("GLUON2CAFFE_SHAPES_ZOO") == "all" else FAST


def export(name: str, shape: tuple[int, ...], folder) -> str:
    net = load_zoo_model(name, shape)
    net.hybridize()
    net(mx.nd.zeros(shape))
    prefix = str(folder / name)
    net.export(prefix)
    return prefix


def files(monkeypatch, backend: str, prefix: str, shape: tuple[int, ...]) -> tuple[bytes, bytes]:
    monkeypatch.setenv("GLUON2CAFFE_SHAPE_INFERENCE", backend)
    result = convert(load_exported(prefix), shape)
    return result.text_net.SerializeToString(), result.binary_weights.SerializeToString()


@pytest.mark.parametrize("name, side", SAMPLE, ids=[name for name, _ in SAMPLE])
def test_zoo_files_identical_with_own_shape_inference(name, side, tmp_path, monkeypatch) -> None:
    shape = (1, 3, side, side)
    prefix = export(name, shape, tmp_path)
    model = load_exported(prefix)
    inputs = {model.inputs[0]: shape}
    names = unique_source_names(parse_symbol_json(model.symbol_json)["nodes"])
    monkeypatch.setenv("GLUON2CAFFE_SHAPE_INFERENCE", "own")
    own = infer_exported_shapes(model, inputs, names)
    reference = infer_shapes_isolated(model, inputs, names)
    differ = {t: (reference.get(t), own.get(t)) for t in set(own) | set(reference) if own.get(t) != reference.get(t)}
    assert not differ, f"{len(differ)} tensor(s) differ (MXNet, ours): {sorted(differ.items())[:5]}"
    assert len(own) == len(reference) > 30
    assert files(monkeypatch, "own", prefix, shape) == files(monkeypatch, "mxnet", prefix, shape)
