"""YOLOv3 detectors: convert_yolo_model in the real Caffe against GluonCV.

A YOLOv3 of each backbone (GLUON2CAFFE_ZOO_TESTS=all: all 9, which `make zoo` sweeps for docs/model_zoo.md),
on live random weights (prediction convolutions calibrated so
scores spread) and a real-looking synthetic scene: the decoded boxes and class scores before NMS equal GluonCV's
YOLOOutputV3 outputs within the tolerance, and the detections equal GluonCV's as sets (verification_ssd).
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import Lambda, assert_detector_ok, check_block, convert_and_check_detector, seq, zoo_sample
from mxnet.gluon import nn

from gluon2caffe import convert_model, convert_yolo_model
from gluon2caffe.api import read_detector_head
from gluon2caffe.zoo.loader import load_zoo_model
from gluon2caffe.verification import TOLERANCE, synthetic_scene
from gluon2caffe.detectors.yolo.check import _yolo_float64_errors, yolo_loc, yolo_reference
from gluon2caffe.zoo.catalog import YOLO_MODELS


_check = convert_and_check_detector


SAMPLE = zoo_sample(YOLO_MODELS, {"yolo3_darknet53_voc", "yolo3_mobilenet1.0_coco"})


@pytest.mark.parametrize("entry", SAMPLE, ids=[e.name for e in SAMPLE])
def test_zoo_yolo(entry, tmp_path):
    name, shape = entry.name, entry.input_shape
    net = load_zoo_model(name, shape)
    result, check = _check(net, shape, tmp_path)
    assert_detector_ok(check)
    types = [layer.type for layer in result.text_net.layer if layer.type != "Silence"]
    assert types[-1] == "DetectionOutput" and types.count("DetectionOutput") == 1
    d = result.text_net.layer[-1].detection_output_param
    assert d.num_classes == len(net.classes) + 1 and d.nms_param.top_k == net.nms_topk


@pytest.mark.parametrize("shape", [(1, 3, 320, 320), (2, 3, 320, 448), (1, 3, 608, 608)])
def test_other_input_sizes(shape, tmp_path):
    net = load_zoo_model("yolo3_mobilenet0.25_voc", shape)
    _, check = _check(net, shape, tmp_path)
    assert_detector_ok(check)


@pytest.mark.parametrize("nms", [True, False])
def test_same_files_in_opencv(nms, tmp_path):
    shape = (1, 3, 416, 416)
    net = load_zoo_model("yolo3_mobilenet1.0_voc", shape)
    result, check = _check(net, shape, tmp_path, runtime="opencv", nms=nms)
    assert_detector_ok(check)
    assert (check.detections is None) == (not nms)
    if not nms:
        outputs = {layer.top[0] for layer in result.text_net.layer[-2:]}
        assert outputs == {"yolo_boxes", "yolo_scores"}


def test_merge_bn_off_rgb_and_settings_from_the_network(tmp_path):
    shape = (1, 3, 416, 416)
    net = load_zoo_model("yolo3_mobilenet0.25_coco", shape)
    net.set_nms(nms_thresh=0.3, nms_topk=200, post_nms=30)
    result, check = _check(net, shape, tmp_path, merge_bn=False, to_bgr=False)
    assert_detector_ok(check)
    d = result.text_net.layer[-1].detection_output_param
    assert (d.nms_param.nms_threshold, d.nms_param.top_k, d.keep_top_k) == (pytest.approx(0.3), 200, 30)
    assert "BatchNorm" in [layer.type for layer in result.text_net.layer]


def test_convert_model_routes_yolo():
    shape = (1, 3, 320, 320)
    net = load_zoo_model("yolo3_mobilenet0.25_voc", shape)
    text_net, weights = convert_model(net, shape)
    assert [layer.type for layer in text_net.layer if layer.type != "Silence"][-1] == "DetectionOutput"
    assert text_net == convert_yolo_model(net, shape)[0]  # deterministic layer names
    assert len(weights.layer) == len(text_net.layer)


def test_float64_arbiter_decodes_like_gluoncv():
    """The float64 reference of not-exact rows: prediction maps in float64, decoded in numpy."""
    shape = (1, 3, 320, 320)
    net = load_zoo_model("yolo3_mobilenet0.25_voc", shape)
    head = read_detector_head(net, shape)
    x = synthetic_scene(shape, seed=1)
    ref = yolo_reference(net, head, x)
    boxes = ("boxes", ref["pre_boxes"], "pre_boxes")
    caffe_err, mxnet_err = _yolo_float64_errors(net, head, x, ref, boxes, ref["pre_scores"])
    assert caffe_err == mxnet_err and 0 < mxnet_err < TOLERANCE  # GluonCV's float32 decoding is ~float64's
    ref["pre_loc"] = yolo_loc(ref["predictions"], head).astype(np.float32)  # DetectionOutput's input
    caffe_err, mxnet_err = _yolo_float64_errors(
        net, head, x, ref, ("loc", ref["pre_loc"], "pre_loc"), ref["pre_scores"]
    )
    assert caffe_err == mxnet_err and 0 < mxnet_err < TOLERANCE


# -- the ops YOLOv3's upsampling adds -----------------------------------------------------------------------------


@pytest.mark.op("repeat")
@pytest.mark.parametrize("axis,repeats", [(-1, 2), (-2, 2), (3, 3), (2, 1)])
def test_repeat_along_h_or_w(axis, repeats):
    block = seq(nn.Conv2D(3, 3, padding=1), Lambda(lambda F, x: F.repeat(x, repeats=repeats, axis=axis)))
    checked = check_block(block, (2, 3, 7, 5))
    assert "Deconvolution" in checked.layer_types or repeats == 1


@pytest.mark.op("repeat", "slice_like")
def test_yolo_upsample_and_slice_like():
    def up_and_crop(F, x):
        up = F.repeat(F.repeat(x, repeats=2, axis=-1), repeats=2, axis=-2)  # gluoncv's _upsample
        same = F.slice_like(up, up, axes=(2, 3))  # shapes agree: no layer
        return F.concat(F.slice_like(same, x, axes=(2, 3)), x, dim=1)  # a real crop: Crop

    block = seq(nn.Conv2D(4, 3, padding=1), Lambda(up_and_crop))
    checked = check_block(block, (1, 3, 9, 6))
    assert checked.layer_types.count("Crop") == 1


def test_yolo_reference_order_matches_the_decoding():
    shape = (1, 3, 320, 320)
    net = load_zoo_model("yolo3_mobilenet0.25_voc", shape)
    ref = yolo_reference(net, read_detector_head(net, shape), synthetic_scene(shape))
    n = sum((320 // s) ** 2 * 3 for s in (32, 16, 8))
    assert ref["pre_boxes"].shape == (1, n, 4) and ref["pre_scores"].shape == (1, n, 20)
    assert np.all(ref["pre_boxes"][..., 2] > ref["pre_boxes"][..., 0])
