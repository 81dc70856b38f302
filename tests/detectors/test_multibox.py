"""MXNet's older SSD (symbol API: MultiBoxPrior, MultiBoxDetection), the MultiBox detector family, against MXNet.

The networks are the MXNet example's (example/ssd/symbol, built anew in multibox_nets.py) with live random weights:
VGG16-reduced at 300 and the ResNet layout on an 18-layer body at 256. Each check (detectors/multibox/check.py)
compares the box predictions and class probabilities with MultiBoxDetection's inputs, the anchors with
MultiBoxPrior's, the decoded boxes with MXNet's decoding, and the detections with MultiBoxDetection's rows as sets,
in pycaffe (with the layer-local check) and in the runtimes the GluonCV SSDs run in (OpenCV, MNN, ncnn).
"""

from __future__ import annotations

import filecmp
import json
import os
import subprocess
import sys

import mxnet as mx
import numpy as np
import pytest
from conftest import runtime_or_skip
from helpers import assert_detector_ok, convert_and_check_detector, symbol_block
from multibox_nets import SETTINGS, deploy_symbol, live_weights, save_exported, train_symbol

from gluon2caffe import convert, load_exported, save_model
from gluon2caffe.detectors import MULTIBOX_DETECTOR, detector_for
from gluon2caffe.detectors.graph_match import HeadMismatch
from gluon2caffe.detectors.multibox.read import multibox_prior
from gluon2caffe.errors import ConversionError
from gluon2caffe.verification import synthetic_scene
from gluon2caffe.verification.caffe_net import net_outputs
from gluon2caffe.verification.detectors import DetectorRun

# (network, class-predictor gain): the gain spreads the scores of the random net (no saturation, no ties)
GAIN = {"vgg16_reduced": 0.3, "resnet18": 0.1}
_NETS: dict = {}


def build(network: str, **detection) -> tuple[mx.gluon.SymbolBlock, tuple[int, ...]]:
    """The example's deploy symbol with live random weights (the weights drawn once per network)."""
    size = SETTINGS[network]["size"]
    shape = (1, 3, size, size)
    symbol = deploy_symbol(network, **detection)
    if network not in _NETS:
        _NETS[network] = live_weights(symbol, shape, cls_gain=GAIN[network])
    params = {k: v for k, v in _NETS[network].items() if k in symbol.list_arguments() + symbol.list_auxiliary_states()}
    return symbol_block(symbol, params), shape


def mxnet_detections(net, shape) -> int:
    out = net(mx.nd.array(synthetic_scene(shape, seed=1))).asnumpy()
    return int((out[0, :, 0] >= 0).sum())


def same_net(a: tuple[str, str], b: tuple[str, str]) -> bool:
    """Two saved conversions hold the same layers and weights (the net's name aside: a live block's name, an
    exported model's prefix)."""
    from gluon2caffe.caffe import caffe_pb2 as pb

    nets = []
    for _, caffemodel in (a, b):
        with open(caffemodel, "rb") as f:
            net = pb.NetParameter.FromString(f.read())
        net.ClearField("name")
        nets.append(net)
    with open(a[0]) as fa, open(b[0]) as fb:
        texts = fa.read().splitlines()[1:], fb.read().splitlines()[1:]
    return nets[0] == nets[1] and texts[0] == texts[1]


@pytest.mark.parametrize("network", ["vgg16_reduced", "resnet18"])
def test_example_deploy_symbol_in_caffe(network, tmp_path):
    """The example's deploy symbol as deploy.py writes it (nms 0.45, nms_topk 400, MXNet's threshold 0.01 and clip):
    boxes decoded and clipped in layers, one class per anchor; pre-NMS tensors and detections equal MXNet's."""
    net, shape = build(network)
    assert detector_for(net) is MULTIBOX_DETECTOR
    result, check = convert_and_check_detector(net, shape, tmp_path)
    print(f"\n{network}: {check.status}; {check.pre_nms}; {check.detections}")
    assert result.detection.mode == "decoded" and result.detection.masked
    assert result.head.nms_topk == 400 and result.head.clip and result.head.threshold == pytest.approx(0.01)
    assert check.detections.gluoncv >= 100
    assert_detector_ok(check)


def test_same_detections_without_top_k(tmp_path):
    """nms_topk=-1: Caffe's per-class top-k is no longer a superset, so the rows are MXNet's exactly, as many."""
    net, shape = build("resnet18", nms_topk=-1)
    _, check = convert_and_check_detector(net, shape, tmp_path)
    print(f"\n{check.status}; {check.detections}")
    assert_detector_ok(check)
    assert check.detections.matched == check.detections.caffe == mxnet_detections(net, shape) > 100


# Sizes PriorBox reproduces exactly at 256 (integer pixels, the second size the geometric mean of min and max).
PRIORBOX_SIZES = [[0.0625, 0.125], [0.125, 0.25], [0.25, 0.5], [0.375, 0.75], [0.5, 1.0], [0.75, 1.5]]


@pytest.mark.parametrize("runtime", ["caffe", "opencv", "mnn", "ncnn", "openvino"])
def test_priorbox_anchors_without_clip(runtime, tmp_path):
    """MultiBoxDetection clip=False and a threshold of 0.5: DetectionOutput decodes over PriorBox layers (exact:
    integer sizes, steps 1 / map size), no class mask needed (two classes cannot both reach 0.5). Also in OpenVINO,
    whose Model Optimizer has no Exp layer for the clip=True decoding (as for YOLOv3)."""
    net, shape = build("resnet18", sizes=PRIORBOX_SIZES, clip=False, threshold=0.5, nms_topk=-1)
    result, check = convert_and_check_detector(net, shape, tmp_path, runtime=runtime)
    print(f"\n{runtime}: {check.status}; {check.pre_nms}; {check.detections}")
    assert result.detection.mode == "priorbox" and not result.detection.masked
    assert [layer.type for layer in result.text_net.layer].count("PriorBox") == 6
    assert_detector_ok(check)
    assert check.detections.matched == mxnet_detections(net, shape) > 10


def test_anchors_as_constant_where_priorbox_differs(tmp_path):
    """The example's sizes (0.141 * 256 = 36.1 px) truncate in caffe-ssd's PriorBox: the anchors go as a constant."""
    net, shape = build("resnet18", clip=False, threshold=0.5, nms_topk=-1)
    result, check = convert_and_check_detector(net, shape, tmp_path)
    assert result.detection.mode == "constant" and "PriorBox" not in [x.type for x in result.text_net.layer]
    assert_detector_ok(check)


@pytest.mark.parametrize("runtime", ["opencv", "mnn", "ncnn"])
def test_example_deploy_symbol_in_runtime(runtime, tmp_path):
    """The deploy symbol's defaults (clip, threshold 0.01: the decoding in layers, the best-class mask) in the
    runtimes the GluonCV SSDs run in."""
    runtime_or_skip(runtime)
    net, shape = build("resnet18", nms_topk=-1)
    _, check = convert_and_check_detector(net, shape, tmp_path, runtime=runtime)
    print(f"\n{runtime}: {check.status}; {check.pre_nms}; {check.detections}")
    assert_detector_ok(check)
    assert check.detections.matched == mxnet_detections(net, shape) > 100


def test_without_nms_threshold(tmp_path):
    """nms_threshold 0: MXNet skips NMS (and its top-k): every anchor whose best score passes the threshold."""
    net, shape = build("resnet18", nms_thresh=0.0, threshold=0.5)
    result, check = convert_and_check_detector(net, shape, tmp_path)
    assert result.text_net.layer[-1].detection_output_param.nms_param.nms_threshold == 1.0
    assert_detector_ok(check)
    assert check.detections.matched == check.detections.caffe == mxnet_detections(net, shape) > 10


def test_channel_softmax_activation(tmp_path):
    """Older deploy symbols' class softmax, SoftmaxActivation(mode='channel'): the same head, exact."""
    net, shape = build("resnet18", channel_softmax=True, nms_topk=-1)
    result, check = convert_and_check_detector(net, shape, tmp_path)
    assert_detector_ok(check)
    assert check.detections.matched == mxnet_detections(net, shape) > 100


def test_no_nms_outputs_the_boxes_and_scores(tmp_path):
    """nms=False (`--no-nms`): the decoded, clipped corners and the class scores (one class per anchor), no
    DetectionOutput; both equal MXNet's."""
    net, shape = build("resnet18")
    result, check = convert_and_check_detector(net, shape, tmp_path, nms=False)
    assert [x.type for x in result.text_net.layer].count("DetectionOutput") == 0
    assert set(net_outputs(result.text_net)) == {"mbox_boxes", "mbox_conf_best"} and check.detections is None
    assert check.pre_nms["decoded (px)"].max_abs < 1e-2
    assert_detector_ok(check)


def test_batch_and_non_square_input(tmp_path):
    """Batch 2 at 224x288 (non-square maps: MultiBoxPrior's width is size * H / W, so the anchors are a constant):
    the decoded boxes go to DetectionOutput as (center, log size), which needs a Log layer; the default target
    refuses it by name (MNN has none), target caffe writes it, exact (image 0's detections)."""
    net, _ = build("resnet18")
    shape = (2, 3, 224, 288)
    with pytest.raises(ConversionError, match="op Log: needs a Caffe Log layer"):
        convert(net, shape)
    result, check = convert_and_check_detector(net, shape, tmp_path, target="caffe")
    print(f"\n{check.status}; {check.pre_nms}; {check.detections}")
    assert result.head.image_size == (224, 288) and result.detection.mode == "decoded"
    assert_detector_ok(check)


def test_openvino_target_refuses_the_clip_decoding():
    """clip=True decodes with an Exp layer, which OpenVINO's Model Optimizer lacks: its target says so by name."""
    net, shape = build("resnet18")
    with pytest.raises(ConversionError, match="op Exp: needs a Caffe Exp layer .*target 'openvino'"):
        convert(net, shape, target="openvino")


def test_multibox_prior_matches_mxnet():
    """multibox_prior (read.py) is MXNet's MultiBoxPrior bit for bit: non-square map, several sizes, ratios whose
    first is not 1, steps and offsets given and not."""
    from gluon2caffe.detectors.multibox.read import PriorSettings

    for sizes, ratios, steps, offsets, clip in (
        ((0.2, 0.35, 0.5), (2.0, 1.0, 0.5, 3.0), (-1.0, -1.0), (0.5, 0.5), False),
        ((0.3,), (1.0,), (0.07, 0.11), (0.25, 0.75), True),
    ):
        x = mx.nd.zeros((1, 8, 5, 7))
        ref = mx.nd.contrib.MultiBoxPrior(x, sizes=sizes, ratios=ratios, steps=steps, offsets=offsets, clip=clip)
        got = multibox_prior(PriorSettings(sizes, ratios, steps, offsets, clip), 5, 7).reshape(-1, 4)
        got = np.clip(got, 0, 1) if clip else got
        np.testing.assert_array_equal(got, ref.asnumpy()[0])


def test_exported_files_and_cli(tmp_path):
    """PREFIX-symbol.json + PREFIX-0000.params as the example saves them: the same Caffe files as the live
    network, exact against the files run in MXNet; `gluon2caffe convert PREFIX --verify` and `gluon2caffe verify
    OUT --against PREFIX` say so."""
    runtime_or_skip("caffe")
    net, shape = build("resnet18")
    symbol = deploy_symbol("resnet18")
    prefix = save_exported(symbol, _NETS["resnet18"], str(tmp_path / "ssd"))
    live = convert(net, shape)
    live_files = save_model(live.text_net, live.binary_weights, tmp_path / "live")
    model = load_exported(prefix)
    assert detector_for(model) is MULTIBOX_DETECTOR
    result = convert(model, shape)
    files = save_model(result.text_net, result.binary_weights, tmp_path / "exported")
    assert same_net(live_files, files), "the exported files convert to another net than the live network"
    run = DetectorRun(
        model, result.head, tuple(files), synthetic_scene(shape, seed=1), x2=synthetic_scene(shape, seed=2)
    )
    assert_detector_ok(MULTIBOX_DETECTOR.check(run))

    cli = [sys.executable, "-m", "gluon2caffe"]
    env = dict(os.environ, GLOG_minloglevel="2")
    out = tmp_path / "cli" / "ssd"
    done = subprocess.run(
        cli + ["convert", prefix, "-o", str(out), "--input-shape", "1,3,256,256", "--verify"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "MultiBox SSD: 4 classes" in done.stdout and "GluonCV detections found" in done.stdout, done.stdout
    card = json.loads(open(f"{out}.json").read())
    assert card["task"] == MULTIBOX_DETECTOR.kind and card["verified_in"] == {"caffe": "passed"}
    assert [o["name"] for o in card["outputs"]] == ["detection_out"]
    assert card["labels"]["indexes"] == "detection_out label column"  # no class names in the files: class0...
    assert open(f"{out}.labels.txt").read().split() == ["background", "class0", "class1", "class2", "class3"]
    assert "[image, label, score, xmin, ymin, xmax, ymax]" in card["outputs"][0]["meaning"]
    assert card["inputs"][0]["shape"] == [1, 3, 256, 256] and card["inputs"][0]["channel_order"] == "BGR"
    verify = subprocess.run(cli + ["verify", str(out), "--against", prefix], capture_output=True, text=True, env=env)
    assert verify.returncode == 0 and "status: exact" in verify.stdout, verify.stdout + verify.stderr


def test_exported_files_convert_identically_without_mxnet(tmp_path):
    """Python 3.12 without MXNet (our own shape inference, conftest.no_mxnet_python) writes the same bytes as this
    MXNet environment for the exported deploy symbol."""
    from conftest import ROOT, no_mxnet_python

    build("resnet18")
    prefix = save_exported(deploy_symbol("resnet18"), _NETS["resnet18"], str(tmp_path / "ssd"))
    here = convert(load_exported(prefix), (1, 3, 256, 256))
    files = save_model(here.text_net, here.binary_weights, tmp_path / "here")
    out = tmp_path / "py312" / "ssd"
    env = {**os.environ, "PYTHONPATH": ROOT}
    done = subprocess.run(
        [
            no_mxnet_python("3.12"),
            "-m",
            "gluon2caffe",
            "convert",
            prefix,
            "-o",
            str(out),
            "--input-shape",
            "1,3,256,256",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "MultiBox SSD: 4 classes" in done.stdout, done.stdout
    for mine, theirs in zip(files, (f"{out}.prototxt", f"{out}.caffemodel")):
        assert filecmp.cmp(mine, theirs, shallow=False), f"{theirs} differs from the conversion with MXNet"


def test_training_symbol_is_refused_by_name(tmp_path):
    """The training symbol (MultiBoxTarget, SoftmaxOutput, the losses, the detection behind MakeLoss, a label input):
    one line naming MultiBoxTarget and saying to convert the deploy symbol, live or exported, nothing written."""
    build("resnet18")
    train = train_symbol("resnet18")
    names = set(train.list_arguments() + train.list_auxiliary_states())
    prefix = save_exported(train, {k: v for k, v in _NETS["resnet18"].items() if k in names}, str(tmp_path / "train"))
    match = "node 'multibox_target' op _contrib_MultiBoxTarget: a training symbol .* convert the deploy symbol"
    with pytest.raises(ConversionError, match=match):
        convert(load_exported(prefix), (1, 3, 256, 256))
    cli = [sys.executable, "-m", "gluon2caffe", "convert", prefix, "-o", str(tmp_path / "out" / "x")]
    done = subprocess.run(cli + ["--input-shape", "1,3,256,256"], capture_output=True, text=True)
    assert done.returncode == 1 and "MultiBoxTarget" in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert not (tmp_path / "out").exists() or not os.listdir(tmp_path / "out")


def test_force_suppress_is_refused_by_name():
    net, shape = build("resnet18", force_suppress=True)
    with pytest.raises(
        ConversionError, match="node 'detection' op _contrib_MultiBoxDetection attribute 'force_suppress'"
    ):
        convert(net, shape)


def test_modified_head_is_refused_by_name():
    """A sigmoid in place of the class softmax: refused naming the node, nothing converted as if it were MXNet's."""
    with mx.name.NameManager():
        x = mx.sym.var("data")
        feat = mx.sym.Convolution(x, kernel=(3, 3), pad=(1, 1), num_filter=8, name="feat")
        cls = mx.sym.Convolution(feat, kernel=(3, 3), pad=(1, 1), num_filter=3 * 3, name="cls")
        loc = mx.sym.Convolution(feat, kernel=(3, 3), pad=(1, 1), num_filter=3 * 4, name="loc")
        cls = mx.sym.transpose(
            mx.sym.Reshape(mx.sym.transpose(cls, axes=(0, 2, 3, 1)), shape=(0, -1, 3)), axes=(0, 2, 1)
        )
        loc = mx.sym.Flatten(mx.sym.transpose(loc, axes=(0, 2, 3, 1)))
        anchors = mx.sym.Reshape(
            mx.sym.Flatten(mx.sym.contrib.MultiBoxPrior(feat, sizes=(0.2, 0.3), ratios=(1, 2))), shape=(0, -1, 4)
        )
        prob = mx.sym.sigmoid(cls, name="not_softmax")
        det = mx.sym.contrib.MultiBoxDetection(prob, loc, anchors, name="detection")
    block = mx.gluon.SymbolBlock(det, mx.sym.var("data"))
    block.initialize()
    match = "not an MXNet MultiBox SSD head: node 'not_softmax' \\(sigmoid\\) is not the class probabilities"
    with pytest.raises(HeadMismatch, match=match):
        convert(block, (1, 3, 16, 16))
