"""`gluon2caffe convert ... --preprocess imagenet` then `gluon2caffe run PREFIX IMAGE`: the converted files on a
generated image (a synthetic scene written as a PNG) give the MXNet model's answer on the same pixels: the same
top-5 for a classifier (scores far enough apart that rounding cannot reorder them), the same detections for an SSD,
the same class map for a segmentation, the same keypoints for a pose model, each in pycaffe, OpenCV, ncnn and MNN;
and the model card PREFIX.json of every task family says how to feed the net and what its outputs mean."""

import json
import shutil
import subprocess
import sys

import cv2
import mxnet as mx
import numpy as np
import pytest

from conftest import runtime_or_skip
from helpers import scene_png
from gluon2caffe.ir.preprocess import IMAGENET
from gluon2caffe.predict import image_pixels, predict
from gluon2caffe.verification import TOLERANCE
from gluon2caffe.zoo.loader import load_zoo_model

CLASSIFIER, SSD, SEGMENTATION, POSE = (
    "resnet18_v1",
    "ssd_300_mobilenet0.25_voc",
    "fcn_resnet50_voc",
    "simple_pose_resnet18_v1b",
)


def cli(*args, timeout=900):
    return subprocess.run(
        [sys.executable, "-m", "gluon2caffe", *map(str, args)], capture_output=True, text=True, timeout=timeout
    )


def convert(tmp, model, *options):
    proc = cli("convert", model, "-o", f"{tmp}/", *options)
    assert proc.returncode == 0, proc.stderr
    return f"{tmp}/{model}", proc.stdout


def mxnet_answer(net, pixels):
    """The MXNet model on the same pixels, normalized GluonCV's way."""
    out = net(mx.nd.array(IMAGENET.normalize(pixels)))
    return [o.asnumpy() for o in out] if isinstance(out, (list, tuple)) else [out.asnumpy()]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("run")
    yield folder
    shutil.rmtree(folder, ignore_errors=True)  # ~0.4 GB: a whole run must fit a small disk


@pytest.fixture(scope="module")
def classifier(workdir):
    prefix, stdout = convert(workdir / "pre", CLASSIFIER, "--preprocess", "imagenet")
    image = scene_png(workdir / "scene.png", 300, 400, seed=5)  # resized to 224x224 by run
    net = load_zoo_model(CLASSIFIER, (1, 3, 224, 224))
    scores = mxnet_answer(net, image_pixels(image, (1, 3, 224, 224)))[0][0]
    return prefix, stdout, image, scores


def _conclusive_top5(scores):
    """MXNet's top 5 in order, after checking that no two of its top 6 scores are within rounding of each other."""
    order = np.argsort(-scores)[:6]
    gaps = -np.diff(scores[order])
    assert gaps.min() > 10 * TOLERANCE * np.abs(scores).max(), f"top scores too close to order: {scores[order]}"
    return [int(i) for i in order[:5]]


@pytest.mark.parametrize("runtime", ["caffe", "opencv", "ncnn", "mnn"])
def test_classifier_top5_in_every_runtime(classifier, runtime):
    runtime_or_skip(runtime)
    prefix, _, image, scores = classifier
    expected = _conclusive_top5(scores)
    (p,) = predict(prefix, [image], runtime)
    assert [index for index, _, _ in p.top] == expected
    np.testing.assert_allclose([s for _, s, _ in p.top], scores[expected], atol=TOLERANCE * np.abs(scores).max())


def test_classifier_cli_prints_the_top5(classifier):
    prefix, stdout, image, scores = classifier
    assert "raw pixels 0-255, BGR: the net normalizes them itself" in stdout
    assert "blobFromImage(img, scalefactor=1.0, size=(224, 224), swapRB=False)" in stdout
    proc = cli("run", prefix, image, "--runtime", "caffe")
    assert proc.returncode == 0, proc.stderr
    printed = [
        int(line.split()[2]) for line in proc.stdout.splitlines() if line.strip()[:2] in ("1.", "2.", "3.", "4.", "5.")
    ]
    assert printed == _conclusive_top5(scores)


def test_classifier_without_preprocess(workdir, classifier):
    """Files that take the normalized image: run normalizes as the card says (outside the net); the summary says
    how, in OpenCV's words, with the std to divide by."""
    prefix, stdout = convert(workdir / "plain", CLASSIFIER)
    assert "mean=(103.53, 116.28, 123.675), swapRB=False) / np.array([0.225, 0.224, 0.229]" in stdout
    _, _, image, scores = classifier
    (p,) = predict(prefix, [image], "caffe")
    assert [index for index, _, _ in p.top] == _conclusive_top5(scores)
    card = json.loads(open(f"{prefix}.json").read())
    assert card["inputs"][0]["in_net"] is False and card["options"]["preprocess"] is None


def test_classifier_card(classifier):
    prefix = classifier[0]
    card = json.loads(open(f"{prefix}.json").read())
    assert card["format"] == "gluon2caffe model card" and card["task"] == "classification"
    assert card["files"] == {"prototxt": f"{CLASSIFIER}.prototxt", "caffemodel": f"{CLASSIFIER}.caffemodel"}
    (feed,) = card["inputs"]
    assert feed["name"] == "data" and feed["shape"] == [1, 3, 224, 224] and feed["channel_order"] == "BGR"
    assert feed["in_net"] is True and feed["normalization"]["scale"] == 255
    assert feed["normalization"]["mean"] == [0.406, 0.456, 0.485]  # BGR order
    (out,) = card["outputs"]
    assert out["shape"] == [1, 1000] and out["meaning"].startswith("class scores (logits)")
    assert card["converter"]["name"] == "gluon2caffe" and card["converter"]["version"]
    assert card["target"] == "any" and card["verified_in"] == {}
    assert card["options"]["preprocess"] == {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225], "scale": 255}


@pytest.fixture(scope="module")
def ssd(workdir):
    prefix, stdout = convert(workdir / "ssd", SSD, "--preprocess", "imagenet", "--verify")
    # The detector check fed Caffe the raw pixels and GluonCV the normalized scene.
    assert "raw pixels, BGR fed to Caffe" in stdout and "status: exact" in stdout, stdout
    image = scene_png(workdir / "street.png", 300, 300, seed=5)
    return prefix, image


@pytest.mark.parametrize("runtime", ["caffe", "opencv", "ncnn", "mnn"])
def test_ssd_detections_equal_gluoncv(ssd, runtime, tmp_path):
    runtime_or_skip(runtime)
    prefix, image = ssd
    net = load_zoo_model(SSD, (1, 3, 300, 300))
    ids, scores, boxes = (a[0] for a in mxnet_answer(net, image_pixels(image, (1, 3, 300, 300))))
    keep = ids[:, 0] >= 0
    expected = sorted(zip(ids[keep, 0], scores[keep, 0], boxes[keep]), key=lambda d: -d[1])
    (p,) = predict(prefix, [image], runtime)
    assert len(p.detections) == len(expected) > 10
    labels = open(f"{prefix}.labels.txt").read().split()
    for (cls, score, x0, y0, x1, y1, name), (e_cls, e_score, e_box) in zip(p.detections, expected):
        assert cls == int(e_cls) and name == labels[cls + 1] and abs(score - e_score) < 1e-4
        np.testing.assert_allclose([x0, y0, x1, y1], e_box, atol=1e-3 * 300)
    # Scores spread (a random head kept alive): the comparison orders distinct detections.
    assert expected[0][1] - expected[-1][1] > 0.05
    proc = cli("run", prefix, image, "--runtime", runtime, "-o", tmp_path)
    assert proc.returncode == 0, proc.stderr
    drawn = cv2.imread(str(tmp_path / "street.detection.png"))
    assert drawn is not None and drawn.shape == (300, 300, 3)
    assert f"{len(expected)} detection(s)" in proc.stdout


def test_ssd_cards(workdir, ssd):
    card = json.loads(open(f"{ssd[0]}.json").read())
    assert card["verified_in"] == {"caffe": "passed"}
    assert card["task"] == "ssd" and [o["name"] for o in card["outputs"]] == ["detection_out"]
    assert "[image, label, score, xmin, ymin, xmax, ymax]" in card["outputs"][0]["meaning"]
    assert card["labels"]["indexes"] == "detection_out label column"
    assert open(f"{ssd[0]}.labels.txt").readline() == "background\n"
    assert card["options"]["nms"] is True and card["options"]["anchors"] == "exact"
    prefix, _ = convert(workdir / "ssd_raw", SSD, "--no-nms")
    raw = json.loads(open(f"{prefix}.json").read())
    assert [o["name"] for o in raw["outputs"]] == ["mbox_loc", "mbox_conf_flatten", "mbox_priorbox"]
    assert "column 0 = background" in raw["outputs"][1]["meaning"]
    assert raw["labels"]["indexes"] == "mbox_conf_flatten classes"
    assert open(f"{prefix}.labels.txt").readline() == "background\n"  # the softmax's column 0
    loc, conf, priors = (o["shape"] for o in raw["outputs"])
    assert loc == [1, 2268 * 4] and conf == [1, 2268 * 21] and priors == [1, 2, 2268 * 4]


def test_yolo_no_nms_labels_have_no_background(workdir):
    """yolo_scores has one column per class: its labels file starts with the first class."""
    prefix, _ = convert(workdir / "yolo", "yolo3_mobilenet0.25_voc", "--no-nms", "--input-shape", "1,3,320,320")
    card = json.loads(open(f"{prefix}.json").read())
    assert [o["name"] for o in card["outputs"]] == ["yolo_boxes", "yolo_scores"]
    assert card["labels"]["indexes"] == "yolo_scores classes" and "background" not in card["labels"]["numbering"]
    assert open(f"{prefix}.labels.txt").readline() == "aeroplane\n"
    assert card["outputs"][1]["shape"][1] == card["outputs"][0]["shape"][1] // 4 * 20


def _with_mxnet_answer(workdir, model, folder, image_name, shape, seed, *options):
    """(prefix, a generated image at the input's size, MXNet's first output on it for image 0) of `model` converted
    with --preprocess imagenet into workdir/folder."""
    prefix, _ = convert(workdir / folder, model, "--preprocess", "imagenet", *options)
    image = scene_png(workdir / image_name, shape[2], shape[3], seed=seed)
    net = load_zoo_model(model, shape)
    return prefix, image, mxnet_answer(net, image_pixels(image, shape))[0][0]


@pytest.fixture(scope="module")
def segmentation(workdir):
    """(prefix, image, MXNet's class scores) of the segmentation net converted with --preprocess imagenet."""
    return _with_mxnet_answer(workdir, SEGMENTATION, "seg", "room.png", (1, 3, 96, 96), 9, "--input-shape", "1,3,96,96")


@pytest.mark.parametrize("runtime", ["caffe", "opencv", "ncnn", "mnn"])
def test_segmentation_class_map_equals_mxnet(segmentation, runtime, tmp_path):
    runtime_or_skip(runtime)
    prefix, image, scores = segmentation
    (p,) = predict(prefix, [image], runtime)
    expected = scores.argmax(axis=0)
    top2 = np.sort(scores, axis=0)[-2:]
    decided = top2[1] - top2[0] > 10 * TOLERANCE * np.abs(scores).max()  # pixels rounding cannot flip
    assert decided.mean() > 0.95 and len(np.unique(expected)) > 3
    assert np.array_equal(p.class_map[decided], expected[decided])
    proc = cli("run", prefix, image, "--runtime", runtime, "-o", tmp_path)
    assert proc.returncode == 0 and (tmp_path / "room.segmentation.png").exists(), proc.stderr


def test_segmentation_card(segmentation):
    prefix = segmentation[0]
    card = json.loads(open(f"{prefix}.json").read())
    assert card["task"] == "segmentation" and card["outputs"][0]["shape"] == [1, 21, 96, 96]
    assert "argmax over axis 1" in card["outputs"][0]["meaning"] and "auxiliary" in card["outputs"][1]["meaning"]
    assert card["labels"]["indexes"] == f"{card['outputs'][0]['name']} axis 1"
    assert open(f"{prefix}.labels.txt").readline() == "background\n"  # VOC's own class 0


@pytest.fixture(scope="module")
def pose(workdir):
    """(prefix, image, MXNet's heatmaps) of the pose net converted with --preprocess imagenet."""
    return _with_mxnet_answer(workdir, POSE, "pose", "person.png", (1, 3, 256, 192), 7)


@pytest.mark.parametrize("runtime", ["caffe", "opencv", "ncnn", "mnn"])
def test_pose_keypoints_equal_mxnet(pose, runtime, tmp_path):
    runtime_or_skip(runtime)
    prefix, image, heatmaps = pose
    (p,) = predict(prefix, [image], runtime)
    flat = heatmaps.reshape(len(heatmaps), -1)
    top2 = np.sort(flat, axis=1)[:, -2:]
    assert (top2[:, 1] - top2[:, 0] > 10 * TOLERANCE * np.abs(flat).max()).all()  # every maximum is clear
    ys, xs = np.unravel_index(flat.argmax(axis=1), heatmaps.shape[1:])
    np.testing.assert_array_equal(p.keypoints[:, 0], (xs + 0.5) * 192 / heatmaps.shape[2])
    np.testing.assert_array_equal(p.keypoints[:, 1], (ys + 0.5) * 256 / heatmaps.shape[1])
    proc = cli("run", prefix, image, "--runtime", runtime, "-o", tmp_path)
    assert proc.returncode == 0 and (tmp_path / "person.pose.png").exists(), proc.stderr


def test_pose_card(pose):
    card = json.loads(open(f"{pose[0]}.json").read())
    assert card["task"] == "pose" and card["outputs"][0]["meaning"].startswith("keypoint heatmaps")


@pytest.mark.parametrize(
    "model, shape, task, layout, normalization, meanings",
    [
        ("cifar_resnet20_v1", "1,3,32,32", "classification", "NCHW", "cifar", ["class scores (logits), one per class"]),
        ("resnet18_v1b_kinetics400", "1,3,64,64", "action-2d", "NCHW", "imagenet", ["class scores (logits), one per"]),
        ("c3d_kinetics400", "1,3,16,112,112", "action-3d", "NCDHW", "imagenet", ["class scores (logits), one per"]),
        (
            "monodepth2_resnet18_kitti_mono_640x192",
            "1,3,64,192",
            "depth",
            "NCHW",
            "unit",
            ["disparity map"] * 4,
        ),
        (
            "monodepth2_resnet18_posenet_kitti_mono_640x192",
            "1,6,64,192",
            "camera-pose",
            "NCHW",
            None,
            ["axis-angle rotation", "translation"],
        ),
    ],
    ids=["cifar", "action-2d", "action-3d", "depth", "camera-pose"],
)
def test_card_of_every_task_family(workdir, model, shape, task, layout, normalization, meanings):
    """The card of the task families `run` prints raw: what the input takes (the normalization the model was trained
    with: CIFAR's, ImageNet's, monodepth2's pixel / 255), its layout, and what each output means."""
    from gluon2caffe.ir.preprocess import PRESETS

    prefix, stdout = convert(workdir / "cards", model, "--input-shape", shape)
    card = json.loads(open(f"{prefix}.json").read())
    assert card["task"] == task
    (feed,) = card["inputs"]
    assert feed["layout"] == layout and feed["shape"] == [int(v) for v in shape.split(",")]
    if normalization is None:  # two frames stacked: no 3-channel image, nothing swapped
        assert feed["channel_order"] is None and "two RGB frames" in feed["range"] and "pixel / 255" in feed["range"]
    else:
        preset = PRESETS[normalization]
        assert feed["preset"] == normalization and feed["normalization"]["std"] == list(preset.std)[::-1]
        assert "as the model was trained" in feed["range"] and f"--preprocess {normalization}" in stdout
        blob = feed["opencv"]
        assert ("for frame in frames" in blob) == (layout == "NCDHW"), blob
        assert ("np.array(" in blob) == (normalization != "unit"), blob  # a std of 1 divides nothing
    assert len(card["outputs"]) == len(meanings)
    for output, meaning in zip(card["outputs"], meanings):
        assert output["meaning"].startswith(meaning), output
    if task == "depth":  # the last scale is the input's size: the answer
        assert "the answer" in card["outputs"][-1]["meaning"] and "1/8 of the input" in card["outputs"][0]["meaning"]
    if normalization and layout == "NCHW":  # run reads the card (a clip's test below)
        proc = cli("run", prefix, scene_png(workdir / "cards.png", 64, 64, seed=3), "-o", workdir / "drawn")
        assert proc.returncode == 0, proc.stderr
        assert (task == "depth") == (workdir / "drawn" / "cards.depth.png").exists(), proc.stdout


def test_clip_top5_equals_mxnet(workdir, tmp_path):
    """A 3-D action net takes a clip: `run PREFIX FRAME...` feeds each run of D images as one clip's frames and gives
    MXNet's top-5 on the same frames (pycaffe and OpenCV run 5-D blobs); another count of frames is a usage error."""
    model, shape = "c3d_kinetics400", (1, 3, 16, 112, 112)
    prefix, _ = convert(workdir / "clip", model, "--preprocess", "imagenet", "--input-shape", "1,3,16,112,112")
    frames = [scene_png(tmp_path / f"frame{i:02d}.png", 120, 160, seed=20 + i) for i in range(16)]
    pixels = np.stack([image_pixels(f, (1, 3, 112, 112)) for f in frames], axis=2)
    scores = mxnet_answer(load_zoo_model(model, shape), pixels)[0][0]
    expected = _conclusive_top5(scores)
    for runtime in ("caffe", "opencv"):
        (p,) = predict(prefix, frames, runtime)
        assert [index for index, _, _ in p.top] == expected, runtime
    proc = cli("run", prefix, *frames)
    assert proc.returncode == 0 and "(16 frames)" in proc.stdout, proc.stderr
    short = cli("run", prefix, *frames[:5])
    assert short.returncode == 2 and "clips of 16 frames" in short.stderr and "got 5 images" in short.stderr
    assert len(short.stderr.strip().splitlines()) == 1, short.stderr


def test_depth_map_equals_mxnet(workdir):
    """A depth model's answer (the disparity at the input's size) equals MXNet's, and `run` draws it."""
    model, shape = "monodepth2_resnet18_kitti_mono_640x192", (1, 3, 64, 192)
    prefix, _ = convert(workdir / "depth", model, "--preprocess", "unit", "--input-shape", "1,3,64,192")
    image = scene_png(workdir / "road.png", 96, 320, seed=11)
    net = load_zoo_model(model, shape)
    out = net(mx.nd.array(image_pixels(image, shape) / 255.0))  # monodepth2 reads pixel / 255
    expected = [o.asnumpy() for o in (out.values() if isinstance(out, dict) else out)]
    full = next(o for o in expected if o.shape[-2:] == shape[-2:])[0, 0]
    (p,) = predict(prefix, [image], "caffe")
    assert full.std() > 1e-3  # the map varies over the image (a live random net)
    np.testing.assert_allclose(p.disparity, full, rtol=0, atol=TOLERANCE * np.abs(full).max() * 10)


def test_centernet_card(workdir):
    prefix, _ = convert(workdir / "centernet", "center_net_resnet18_v1b_voc", "--input-shape", "1,3,256,256")
    card = json.loads(open(f"{prefix}.json").read())
    assert [o["name"] for o in card["outputs"]] == ["centernet_heatmap", "centernet_wh", "centernet_offset"]
    meanings = [o["meaning"] for o in card["outputs"]]
    assert meanings[0].startswith("heatmap") and meanings[1].startswith("box sizes")
    assert meanings[2].startswith("center offsets")
    assert card["labels"]["indexes"] == "centernet_heatmap classes"
    assert open(f"{prefix}.labels.txt").readline() == "aeroplane\n"  # channel 0 is class 0, line 0


def test_verify_reads_the_card(classifier):
    """verify PREFIX feeds files converted with --preprocess raw pixels, as their card says."""
    proc = cli("verify", classifier[0], "--against", CLASSIFIER, "--runtime", "caffe")
    assert proc.returncode == 0 and "raw pixels, BGR fed to Caffe" in proc.stdout, proc.stdout + proc.stderr
    assert "status: exact" in proc.stdout


def test_verify_reference_reads_the_card(workdir, classifier):
    """verify PREFIX --reference (no MXNet): the saved normalized input goes in as raw pixels, as the card says."""
    proc = cli("reference", CLASSIFIER, "-o", workdir / "ref.npz")
    assert proc.returncode == 0, proc.stderr
    proc = cli("verify", classifier[0], "--reference", workdir / "ref.npz", "--runtime", "caffe")
    assert proc.returncode == 0 and "status: exact" in proc.stdout, proc.stdout + proc.stderr


def test_help_names_run():
    assert "run" in cli("--help").stdout
    text = cli("run", "--help").stdout
    assert all(option in text for option in ("--runtime", "--top", "--output-dir", "PREFIX.json"))


def test_run_usage_errors(workdir, classifier):
    proc = cli("run", workdir / "nothing", "x.png")
    assert proc.returncode == 2 and "no such file" in proc.stderr
    proc = cli("run", classifier[0], classifier[2], "--top", "0")
    assert proc.returncode == 2
