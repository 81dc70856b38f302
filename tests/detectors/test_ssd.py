"""SSD detectors: convert_ssd_model in the real caffe-ssd runtime against GluonCV.

An SSD of every zoo family and kind (300/512, lite; GLUON2CAFFE_ZOO_TESTS=all: all 23, which `make zoo` sweeps
for docs/model_zoo.md), and a custom gluoncv.model_zoo.SSD on mobilenetv2_1.0 (ReLU6 backbone, explicit
features, sizes, ratios and steps), on live random weights and a real-looking synthetic scene:
  (1) before NMS: box predictions, class probabilities, priors and Caffe's own decoding of every anchor equal
      GluonCV's decoder inputs/outputs within the tolerance;
  (2) the detections equal GluonCV's as sets (verification_ssd.match_detections: same label, score within 1e-4,
      box within 1e-4 of the image size; ties at the cut-off counted).
"""

from __future__ import annotations

import logging

import mxnet as mx
import numpy as np
import pytest
from helpers import assert_detector_ok, convert_and_check_detector, custom_mobilenetv2_ssd, zoo_sample

from gluon2caffe import convert_model, convert_ssd_model, save_model
from gluon2caffe.api import convert_ssd
from gluon2caffe.api import read_detector_head
from gluon2caffe.detectors.ssd.layers import (
    DETECTIONS,
    PriorBoxParams,
    fit_priorbox,
    priorbox_output,
)
from gluon2caffe.zoo.loader import load_zoo_model
from gluon2caffe.zoo.randomize import randomize
from gluon2caffe.verification import synthetic_scene
from gluon2caffe.detectors.ssd.check import check_ssd, gluoncv_reference
from gluon2caffe.verification.detectors import DetectorRun, match_detections
from gluon2caffe.zoo.catalog import SSD_MODELS


_check = convert_and_check_detector


SAMPLE = zoo_sample(
    SSD_MODELS,
    {
        "ssd_300_mobilenet0.25_voc",
        "ssd_300_mobilenet1.0_lite_coco",
        "ssd_512_resnet18_v1_voc",
        "ssd_300_vgg16_atrous_voc",
    },
)


@pytest.mark.parametrize("entry", SAMPLE, ids=[e.name for e in SAMPLE])
def test_zoo_ssd(entry, tmp_path):
    name, family, shape = entry.name, entry.family, entry.input_shape
    net = load_zoo_model(name, shape)
    result, check = _check(net, shape, tmp_path)
    assert_detector_ok(check)
    types = [layer.type for layer in result.text_net.layer if layer.type != "Silence"]
    assert types[-1] == "DetectionOutput" and types.count("DetectionOutput") == 1
    assert ("PriorBox" in types) == (result.detection.mode == "priorbox")
    if family == "ssd_vgg16":
        assert "Normalize" in types


def test_custom_mobilenetv2_ssd(tmp_path):
    shape = (1, 3, 512, 512)
    net = custom_mobilenetv2_ssd()
    randomize(net, shape, seed=0, images=True)
    result, check = _check(net, shape, tmp_path)
    assert_detector_ok(check)
    assert result.head.num_classes == 4 and result.text_net.layer[-1].detection_output_param.num_classes == 5


@pytest.mark.parametrize(
    "name,size",
    [("ssd_300_vgg16_atrous_voc", 300), ("ssd_512_mobilenet1.0_voc", 512), ("ssd_300_mobilenet1.0_lite_coco", 300)],
)
def test_same_files_in_opencv(name, size, tmp_path):
    shape = (1, 3, size, size)
    net = load_zoo_model(name, shape)
    _, check = _check(net, shape, tmp_path, runtime="opencv")
    assert_detector_ok(check)


def test_merge_bn_off_and_rgb(tmp_path):
    shape = (1, 3, 300, 300)
    net = load_zoo_model("ssd_300_resnet34_v1b_voc", shape)
    result, check = _check(net, shape, tmp_path, merge_bn=False, to_bgr=False)
    assert_detector_ok(check)
    assert "BatchNorm" in [layer.type for layer in result.text_net.layer]


def test_batch_of_two_and_non_square_input(tmp_path):
    shape = (2, 3, 320, 384)
    net = load_zoo_model("ssd_300_mobilenet0.25_voc", shape)
    result = convert_ssd(net, shape)
    prototxt, caffemodel = save_model(result.text_net, result.binary_weights, tmp_path / "ssd")
    x = synthetic_scene(shape, seed=4)
    check = check_ssd(DetectorRun(net, result.head, (prototxt, caffemodel), x, x2=synthetic_scene(shape, seed=5)))
    assert_detector_ok(check)


def test_anchor_modes(tmp_path, caplog):
    shape = (1, 3, 512, 512)
    net = load_zoo_model("ssd_512_mobilenet1.0_voc", shape)
    # Fractional sizes (51.2, ...): PriorBox is exact in OpenCV (float sizes) but not in caffe-ssd (int sizes).
    with caplog.at_level(logging.WARNING):
        result, check = _check(net, shape, tmp_path, anchors="priorbox")
    report = result.detection
    assert report.mode == "priorbox" and not report.exact
    assert 0.1 < report.priorbox_deviation_caffe_ssd < 1 and report.priorbox_deviation_float < 1e-3
    assert "NOT exact" in caplog.text and f"{report.priorbox_deviation_caffe_ssd:.3g} px" in caplog.text
    assert check.pre_nms["priors (px)"].max_abs == pytest.approx(report.priorbox_deviation_caffe_ssd, rel=1e-3)
    # Integer sizes (the 300 models): PriorBox is exact, and the constant gives the same anchors.
    shape = (1, 3, 300, 300)
    net = load_zoo_model("ssd_300_vgg16_atrous_voc", shape)
    assert convert_ssd(net, shape).detection.mode == "priorbox"
    result, check = _check(net, shape, tmp_path, anchors="constant")
    assert result.detection.mode == "constant" and "PriorBox" not in [lay.type for lay in result.text_net.layer]
    assert_detector_ok(check)


def test_priorbox_semantics_measured_in_both_runtimes(tmp_path):
    """priorbox_output's two semantics are what caffe-ssd (integer sizes) and OpenCV (float sizes) compute."""
    import caffe
    import cv2

    from gluon2caffe.caffe import caffe_pb2 as pb
    from google.protobuf import text_format

    p = PriorBoxParams(51.2, 102.4, [2.0, 0.5, 3.0], 16.0, 16.0, 0.5)
    net = pb.NetParameter(name="priors")
    for name, shape in (("data", (1, 3, 96, 80)), ("feat", (1, 2, 6, 5))):
        layer = net.layer.add(name=name, type="Input", top=[name])
        layer.input_param.shape.add().dim.extend(shape)
    layer = net.layer.add(name="pb", type="PriorBox", bottom=["feat", "data"], top=["pb"])
    from gluon2caffe.detectors.priorbox import priorbox_param as _priorbox_param

    _priorbox_param(layer.prior_box_param, p, (0.1, 0.1, 0.2, 0.2))
    path = tmp_path / "pb.prototxt"
    path.write_text(text_format.MessageToString(net))
    c = caffe.Net(str(path), caffe.TEST).forward()["pb"][0, 0].reshape(-1, 4)
    o = cv2.dnn.readNetFromCaffe(str(path))
    o.setInput(np.zeros((1, 3, 96, 80), np.float32), "data")
    o.setInput(np.zeros((1, 2, 6, 5), np.float32), "feat")
    o = o.forward("pb")[0, 0].reshape(-1, 4)
    np.testing.assert_allclose(c, priorbox_output(p, 6, 5, (96, 80), integer_sizes=True), atol=1e-6)
    np.testing.assert_allclose(o, priorbox_output(p, 6, 5, (96, 80), integer_sizes=False), atol=1e-6)
    assert np.abs(c - o).max() > 1e-3  # they really differ


def test_fit_priorbox_recovers_gluoncv_parameters():
    shape = (1, 3, 300, 300)
    net = load_zoo_model("ssd_300_vgg16_atrous_voc", shape)
    head = read_detector_head(net, shape)
    p = fit_priorbox(head.anchors[0])
    assert (p.min_size, p.max_size, p.step_w, p.offset) == (30, 60, 8, 0.5) and p.aspect_ratios == [2, 0.5]


def test_no_nms_outputs_the_pre_nms_blobs(tmp_path):
    shape = (1, 3, 300, 300)
    net = load_zoo_model("ssd_300_mobilenet0.25_voc", shape)
    result, check = _check(net, shape, tmp_path, runtime="opencv", nms=False)
    outputs = [layer.top[0] for layer in result.text_net.layer if layer.type != "Silence"][-3:]
    assert "DetectionOutput" not in [layer.type for layer in result.text_net.layer]
    assert check.detections is None and set(outputs) >= {"mbox_priorbox"}
    assert_detector_ok(check)


def test_no_detection_gives_one_row_of_minus_one(tmp_path):
    shape = (1, 3, 300, 300)
    net = load_zoo_model("ssd_300_mobilenet0.25_voc", shape)
    net.cls_decoder._thresh = 0.999  # nothing passes
    result, check = _check(net, shape, tmp_path)
    assert check.detections.gluoncv == 0 and check.detections.caffe == 0 and check.detections.ok
    assert result.text_net.layer[-1].detection_output_param.confidence_threshold == pytest.approx(0.999)


def test_nms_settings_come_from_the_network(tmp_path):
    shape = (1, 3, 300, 300)
    net = load_zoo_model("ssd_300_mobilenet0.25_voc", shape)
    net.set_nms(nms_thresh=0.3, nms_topk=50, post_nms=20)
    result, check = _check(net, shape, tmp_path)
    d = result.text_net.layer[-1].detection_output_param
    assert (d.nms_param.nms_threshold, d.nms_param.top_k, d.keep_top_k) == (pytest.approx(0.3), 50, 20)
    assert_detector_ok(check)


def test_convert_model_routes_ssd_and_api_signature():
    shape = (1, 3, 300, 300)
    net = load_zoo_model("ssd_300_mobilenet0.25_voc", shape)
    text_net, weights = convert_model(net, shape)
    assert text_net.layer[-1].type == "DetectionOutput" and text_net.layer[-1].top == [DETECTIONS]
    text_net2, _ = convert_ssd_model(net, shape, to_bgr=True, merge_bn=True)
    assert text_net == text_net2
    assert len(weights.layer) == len(text_net.layer)


def _ref(ids, scores, boxes, conf):
    return {
        "ids": np.array(ids, np.float32)[None, :, None],
        "scores": np.array(scores, np.float32)[None, :, None],
        "boxes": np.array(boxes, np.float32)[None],
        "conf": conf[None],
    }


class _Head:
    image_size = (100, 100)
    nms_thresh, nms_topk, post_nms, score_thresh = 0.45, 2, 3, 0.01


def test_matching_counts_ties_and_flags_real_differences():
    conf = np.array([[0.1, 0.5, 0.4], [0.2, 0.4, 0.4]], np.float32)  # candidates: 0.5, 0.4 (top-2: cut-off 0.4)
    box = [10, 10, 50, 50]
    ref = _ref([0, 1], [0.5, 0.4], [box, [20, 20, 60, 60]], conf)
    same = np.array([[0, 1, 0.5, 0.1, 0.1, 0.5, 0.5], [0, 2, 0.4, 0.2, 0.2, 0.6, 0.6]], np.float32)
    assert match_detections(ref, same, _Head()).ok
    # The second row tied with another candidate of the same score: swapped, counted.
    swapped = same.copy()
    swapped[1, 1], swapped[1, 3:] = 1, [0.3, 0.3, 0.7, 0.7]
    m = match_detections(ref, swapped, _Head())
    assert m.ok and m.tie_swaps == 1
    # A wrong score is not a tie.
    wrong = same.copy()
    wrong[0, 2] = 0.45
    assert not match_detections(ref, wrong, _Head()).ok
    # Extra rows below GluonCV's last candidate are allowed (Caffe's per-class top_k), above it they are not.
    low = np.vstack([same, [[0, 2, 0.3, 0, 0, 0.1, 0.1]]]).astype(np.float32)
    assert match_detections(ref, low, _Head()).ok
    high = np.vstack([same, [[0, 2, 0.45, 0, 0, 0.1, 0.1]]]).astype(np.float32)
    assert not match_detections(ref, high, _Head()).ok


def test_float64_reference_without_mkldnn():
    """The float64 reference of not-exact rows (how much the net amplifies rounding): the prediction graph in float64
    in a child process."""
    from gluon2caffe.verification.detectors import float64_tensors

    shape = (1, 3, 300, 300)
    net = load_zoo_model("ssd_300_mobilenet0.25_voc", shape)
    head = read_detector_head(net, shape)
    x = synthetic_scene(shape, seed=1)
    ref = gluoncv_reference(net, head, x)
    loc, conf = float64_tensors(net, x, [head.tensors["loc"], head.tensors["conf"]])
    assert loc.dtype == np.float64 and conf.shape == ref["conf"].shape
    assert 0 < np.abs(loc.reshape(ref["loc"].shape) - ref["loc"]).max() < 1e-3
    # the check's (Caffe, MXNet float32) errors (verification.detectors.float64_errors): Caffe given MXNet's tensors
    from gluon2caffe.detectors.ssd.check import _float64_errors
    from gluon2caffe.detectors.ssd.layers import CONF, LOC

    caffe, mxnet = _float64_errors(net, head, x, ref, {LOC: ref["loc"], CONF: ref["conf"]})
    assert caffe == mxnet and 0 < mxnet < 1e-4


def test_priorbox_mode_refused_where_priorbox_cannot_express_the_anchors():
    from gluon2caffe.errors import InvalidCallError

    shape = (1, 3, 300, 300)
    net = load_zoo_model("ssd_300_mobilenet1.0_lite_coco", shape)
    with pytest.raises(InvalidCallError, match="cannot express"):
        convert_ssd(net, shape, anchors="priorbox")
    assert convert_ssd(net, shape).detection.mode == "constant"


def test_gluoncv_reference_reads_the_decoders_tensors():
    shape = (1, 3, 300, 300)
    net = load_zoo_model("ssd_300_mobilenet0.25_voc", shape)
    x = synthetic_scene(shape)
    ref = gluoncv_reference(net, read_detector_head(net, shape), x)
    assert ref["conf"].shape == (1, ref["anchors"].shape[1], 21)
    ids, scores, boxes = (o.asnumpy() for o in net(mx.nd.array(x)))
    np.testing.assert_array_equal(ref["ids"], ids)
    np.testing.assert_allclose(ref["scores"], scores, rtol=1e-5, atol=1e-6)
