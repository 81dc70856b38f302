"""Exported detectors: the files `net.export()` writes for a GluonCV SSD or YOLOv3 convert through the same head walk
as the live network (detectors/graph_match.py), give byte-identical Caffe files, and check exactly against the
exported files run in MXNet: tensors before NMS within the tolerance, detections equal as sets."""

from __future__ import annotations

import filecmp
import json
import os
import subprocess
import sys

import mxnet as mx
import pytest
from conftest import runtime_or_skip
from helpers import assert_detector_ok, custom_mobilenetv2_ssd

from gluon2caffe import convert, load_exported, save_model
from gluon2caffe.detectors import detector_for
from gluon2caffe.detectors.graph_match import HeadMismatch
from gluon2caffe.zoo.loader import load_zoo_model
from gluon2caffe.verification import synthetic_scene
from gluon2caffe.verification.detectors import DetectorRun

# One per backbone family and dataset: SSD vgg16 / mobilenet / resnet, YOLOv3 darknet / mobilenet; voc, coco, custom.
MODELS = [
    ("ssd_300_vgg16_atrous_voc", 300),
    ("ssd_512_mobilenet1.0_coco", 512),
    ("ssd_512_resnet50_v1_custom", 512),
    ("yolo3_darknet53_voc", 320),
    ("yolo3_mobilenet1.0_coco", 320),
    ("yolo3_mobilenet0.25_custom", 320),
]


def export(net, shape, folder) -> str:
    """net.export() as a user does after training; the prefix is the net's name, so the Caffe net's name is too."""
    net.hybridize()
    net(mx.nd.zeros(shape))
    prefix = os.path.join(str(folder), net.name)
    net.export(prefix)
    return prefix


def convert_both_ways(net, shape, tmp_path):
    """(exported model, result from the files, their paths) after checking the live conversion writes the same
    bytes."""
    live = convert(net, shape)
    live_files = save_model(live.text_net, live.binary_weights, tmp_path / "live")
    model = load_exported(export(net, shape, tmp_path))
    assert detector_for(model) is detector_for(net)
    result = convert(model, shape)
    files = save_model(result.text_net, result.binary_weights, tmp_path / "exported")
    assert filecmp.cmp(live_files[0], files[0], shallow=False), "prototxt differs from the live conversion"
    assert filecmp.cmp(live_files[1], files[1], shallow=False), "caffemodel differs from the live conversion"
    return model, result, files


def check_exported(model, result, files, shape):
    runtime_or_skip("caffe")
    family = result.detector
    scene, other = synthetic_scene(shape, seed=1), synthetic_scene(shape, seed=2)
    run = DetectorRun(model, result.head, tuple(files), scene, x2=other)
    check = family.check(run)
    assert_detector_ok(check)
    return check


@pytest.mark.parametrize("name,size", MODELS, ids=[m[0] for m in MODELS])
def test_exported_zoo_detector(name, size, tmp_path):
    shape = (1, 3, size, size)
    net = load_zoo_model(name, shape)
    model, result, files = convert_both_ways(net, shape, tmp_path)
    head = result.head
    assert head.num_classes == len(net.classes)
    assert (head.nms_thresh, head.nms_topk, head.post_nms) == (net.nms_thresh, net.nms_topk, net.post_nms)
    check_exported(model, result, files, shape)


def test_exported_ssd_instance_with_own_classes(tmp_path):
    """A `gluoncv.model_zoo.SSD(...)` built by hand, exported; class names given to the exported model."""
    shape = (1, 3, 512, 512)
    net = custom_mobilenetv2_ssd(num_classes=5)
    from gluon2caffe.zoo.randomize import randomize

    randomize(net, shape, seed=0, images=True, stats_batch=8)
    model, result, files = convert_both_ways(net, shape, tmp_path)
    assert result.head.classes == [f"class{i}" for i in range(5)]  # an exported graph has only the count
    model.classes = [f"c{i}" for i in range(5)]
    assert convert(model, shape).head.classes == model.classes
    check_exported(model, result, files, shape)


def test_exported_detector_at_another_input_size(tmp_path):
    """Exported at 320, converted at 416x352: the anchors and grid offsets are sliced for the size the user gives."""
    net = load_zoo_model("yolo3_mobilenet0.25_voc", (1, 3, 320, 320))
    model = load_exported(export(net, (1, 3, 320, 320), tmp_path))
    shape = (1, 3, 352, 416)
    result = convert(model, shape)
    files = save_model(result.text_net, result.binary_weights, tmp_path / "other")
    assert [(o.height, o.width) for o in result.head.outputs] == [(11, 13), (22, 26), (44, 52)]
    check_exported(model, result, files, shape)


# -- heads that are not GluonCV's --------------------------------------------------------------------------------


def _tamper(prefix: str, out: str, edit) -> str:
    doc = json.load(open(f"{prefix}-symbol.json"))
    edit(doc["nodes"])
    with open(f"{out}-symbol.json", "w") as f:
        json.dump(doc, f)
    os.link(f"{prefix}-0000.params", f"{out}-0000.params")
    return out


def _node(nodes, op):
    return next(n for n in nodes if n["op"] == op)


@pytest.fixture(scope="module")
def exported_ssd(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ssd")
    shape = (1, 3, 300, 300)
    return export(load_zoo_model("ssd_300_mobilenet0.25_voc", shape), shape, tmp), shape


@pytest.mark.parametrize(
    "edit,node,expected",
    [
        (lambda nodes: _node(nodes, "_contrib_box_decode")["attrs"].update(format="corner"), "box_decode", "format"),
        (lambda nodes: _node(nodes, "_greater_scalar").update(op="_lesser_scalar"), "_lesser_scalar", "threshold"),
        (lambda nodes: _node(nodes, "softmax").update(op="sigmoid"), "sigmoid", "softmax over classes"),
        (lambda nodes: _node(nodes, "_contrib_box_nms")["attrs"].update(id_index="-1"), "box_nms", "id_index=0"),
    ],
    ids=["corner-decoder", "lesser-threshold", "sigmoid-classes", "nms-without-ids"],
)
def test_modified_ssd_head_is_refused_by_name(exported_ssd, edit, node, expected, tmp_path):
    prefix, shape = exported_ssd
    model = load_exported(_tamper(prefix, str(tmp_path / "tampered"), edit))
    with pytest.raises(HeadMismatch, match=f"(?s){node}.*{expected}") as info:
        convert(model, shape)
    assert "not a GluonCV SSD head" in str(info.value)


def test_modified_yolo_head_is_refused_by_name(tmp_path):
    shape = (1, 3, 320, 320)
    prefix = export(load_zoo_model("yolo3_mobilenet0.25_voc", shape), shape, tmp_path)

    def edit(nodes):
        next(n for n in nodes if n["op"] == "exp")["op"] = "sigmoid"

    model = load_exported(_tamper(prefix, str(tmp_path / "tampered"), edit))
    with pytest.raises(HeadMismatch, match="exp0' \\(sigmoid\\) is not .*exp of the size logits"):
        convert(model, shape)


def test_cli_converts_and_verifies_an_exported_detector_and_writes_nothing_for_a_modified_one(exported_ssd, tmp_path):
    prefix, shape = exported_ssd
    runtime_or_skip("caffe")
    cli = [sys.executable, "-m", "gluon2caffe"]
    env = dict(os.environ, GLOG_minloglevel="2")
    out = tmp_path / "out" / "ssd"
    run = subprocess.run(
        cli + ["convert", prefix, "-o", str(out), "--input-shape", "1,3,300,300", "--verify"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "SSD: 20 classes" in run.stdout and "100/100 GluonCV detections found" in run.stdout, run.stdout
    verify = subprocess.run(cli + ["verify", str(out), "--against", prefix], capture_output=True, text=True, env=env)
    assert verify.returncode == 0 and "status: exact" in verify.stdout, verify.stdout + verify.stderr

    tampered = _tamper(prefix, str(tmp_path / "bad"), lambda nodes: _node(nodes, "softmax").update(op="sigmoid"))
    bad = subprocess.run(
        cli + ["convert", tampered, "-o", str(tmp_path / "bad_out" / "x"), "--input-shape", "1,3,300,300"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert bad.returncode == 1 and "not a GluonCV SSD head" in bad.stderr and "Traceback" not in bad.stderr
    assert not (tmp_path / "bad_out").exists() or not os.listdir(tmp_path / "bad_out")
