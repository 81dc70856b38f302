"""Custom classes on the command line (--classes / --classes-file): *_custom SSD and YOLOv3 zoo detectors built
with the user's classes, trained weights with as many, the usage errors (exit 2) and the labels file."""

import re
import subprocess
import sys

import mxnet as mx
import numpy as np
import pytest

from gluon2caffe import cli
from gluon2caffe.caffe import caffe_pb2 as pb
from gluon2caffe.zoo import loader as models

SSD = "ssd_300_mobilenet0.25_custom"  # the smallest custom SSD
YOLO = "yolo3_mobilenet1.0_custom"


def run(*args):
    return subprocess.run(
        [sys.executable, "-m", "gluon2caffe", *map(str, args)], capture_output=True, text=True, timeout=600
    )


def num_classes(prototxt):
    return [int(n) for n in re.findall(r"num_classes: (\d+)", prototxt.read_text())]


def trained_params(path, classes):
    """A *_custom SSD built by GluonCV itself with `classes`, given live weights other than the CLI's random ones
    (seed 7, not 0) and saved as a user's training would."""
    from gluoncv.model_zoo import get_model

    from gluon2caffe.zoo.randomize import randomize

    net = get_model(SSD, pretrained=False, pretrained_base=False, classes=classes)
    net.initialize()
    randomize(net, (1, 3, 300, 300), seed=7, images=True, stats_batch=8)
    net.save_parameters(str(path))
    return net


def test_convert_custom_ssd_with_classes_writes_them(tmp_path):
    proc = run("convert", SSD, "--classes", "person,car,dog", "-o", tmp_path / "s")
    assert proc.returncode == 0, proc.stderr
    assert "SSD: 3 classes" in proc.stdout and "classes: person, car, dog" in proc.stdout
    assert num_classes(tmp_path / "s.prototxt") == [4]  # DetectionOutput counts the background
    assert (tmp_path / "s.labels.txt").read_text() == "background\nperson\ncar\ndog\n"


def test_convert_custom_ssd_with_a_classes_file(tmp_path):
    (tmp_path / "names.txt").write_text("  cat\n\nbird \n\t\nfish\nboat\n\n")
    proc = run("convert", SSD, "--classes-file", tmp_path / "names.txt", "-o", tmp_path / "s")
    assert proc.returncode == 0, proc.stderr
    assert num_classes(tmp_path / "s.prototxt") == [5]
    assert (tmp_path / "s.labels.txt").read_text().split("\n")[1:5] == ["cat", "bird", "fish", "boat"]


def test_trained_params_with_their_classes_convert_and_verify(tmp_path):
    net = trained_params(tmp_path / "trained.params", ["a", "b"])
    proc = run("convert", SSD, "--classes", "a,b", "--params", tmp_path / "trained.params", "-o", tmp_path / "s")
    assert proc.returncode == 0, proc.stderr
    assert num_classes(tmp_path / "s.prototxt") == [3] and "classes: a, b" in proc.stdout
    # the class predictors are the trained ones (no BatchNorm follows them: the Caffe blobs are the very values)
    caffemodel = pb.NetParameter()
    caffemodel.ParseFromString((tmp_path / "s.caffemodel").read_bytes())
    blobs = [
        np.array(b.data, np.float32).reshape(tuple(b.shape.dim)) for layer in caffemodel.layer for b in layer.blobs
    ]
    for predictor in net.class_predictors:
        weight = predictor.predictor.weight.data().asnumpy()
        assert weight.shape[0] % 3 == 0  # anchors x (2 classes + background)
        assert any(b.shape == weight.shape and np.array_equal(b, weight) for b in blobs)
    proc = run("verify", tmp_path / "s", "--against", SSD, "--classes", "a,b", "--params", tmp_path / "trained.params")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "detections:" in proc.stdout


def test_params_with_another_class_count_is_a_one_line_error(tmp_path):
    trained_params(tmp_path / "trained.params", ["a", "b"])
    proc = run("convert", SSD, "--classes", "a,b,c", "--params", tmp_path / "trained.params", "-o", tmp_path / "o/s")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "has shape" in errors[0] and "the network needs" in errors[0], proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["convert", SSD, "--classes", ""], "--classes gives no class names"),
        (["convert", SSD, "--classes", " , ,"], "--classes gives no class names"),
        (["convert", SSD, "--classes", "a,b,a"], "more than once: a"),
        (["convert", SSD, "--classes-file", "{tmp}/empty.txt"], "gives no class names"),
        (["convert", SSD, "--classes-file", "{tmp}/twice.txt"], "more than once: dog"),
        (["convert", SSD, "--classes-file", "{tmp}/missing.txt"], "--classes-file"),
        (["convert", SSD, "--classes-file", "{tmp}"], "is a folder, not a file"),
        (["convert", "resnet18_v1", "--classes", "a,b"], "SSD / YOLOv3 detectors only; resnet18_v1"),
        (["verify", "{tmp}/x", "--against", "resnet18_v1", "--classes", "a"], "detectors only"),
        (["verify", "{tmp}/x", "--against", SSD, "--classes", "a,a"], "more than once"),
    ],
)
def test_usage_errors_exit_2_before_any_model_is_built(args, message, tmp_path, monkeypatch, capsys):
    (tmp_path / "empty.txt").write_text("\n  \n")
    (tmp_path / "twice.txt").write_text("dog\ncat\n dog\n")

    def no_model(*_, **__):
        raise AssertionError("a model was built")

    monkeypatch.setattr(models, "load_zoo_model", no_model)
    monkeypatch.setattr(models, "load_exported", no_model)
    args = [a.format(tmp=tmp_path) for a in args]
    code = cli.main(args + (["-o", str(tmp_path / "out")] if args[0] == "convert" else []))
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and err.startswith("error: ") and message in err, err
    assert not (tmp_path / "out.prototxt").exists()


def test_classes_and_classes_file_are_exclusive(tmp_path, capsys):
    (tmp_path / "names.txt").write_text("a\n")
    code = cli.main(["convert", SSD, "-o", str(tmp_path / "s"), "--classes", "a", "--classes-file", str(tmp_path)])
    assert code == 2 and "not allowed with argument" in capsys.readouterr().err


def test_a_dataset_detector_takes_names_only_for_its_own_class_count(tmp_path):
    proc = run("convert", "ssd_300_mobilenet0.25_voc", "--classes", "a,b", "-o", tmp_path / "v")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "ssd_300_mobilenet0.25_voc has 20 classes, --classes gives 2" in proc.stderr
    assert "ssd_300_mobilenet0.25_custom" in proc.stderr and not (tmp_path / "v.prototxt").exists()
    names = [f"n{i}" for i in range(20)]
    for name in ("ssd_300_mobilenet0.25_voc", "yolo3_mobilenet0.25_voc"):  # a plain attribute; a property
        net = models.load_zoo_model(name, (1, 3, 256, 256), classes=names)
        assert list(net.classes) == names


def test_an_exported_model_carries_the_classes(tmp_path):
    net = mx.gluon.nn.HybridSequential()
    net.add(mx.gluon.nn.Dense(3))
    net.initialize()
    net.hybridize()
    net(mx.nd.zeros((1, 4)))
    net.export(str(tmp_path / "tiny"))
    model, _ = models.load_model(str(tmp_path / "tiny"), (1, 4), classes=["a", "b", "c"])
    assert model.classes == ["a", "b", "c"]
    assert models.load_model(str(tmp_path / "tiny"), (1, 4))[0].classes is None


def test_custom_yolo_with_classes_converts_and_verifies(tmp_path):
    proc = run("convert", YOLO, "--classes", "a,b", "--input-shape", "1,3,320,320", "-o", tmp_path / "y", "--verify")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "YOLOv3: 2 classes" in proc.stdout and "classes: a, b" in proc.stdout
    assert "status: exact" in proc.stdout
    assert num_classes(tmp_path / "y.prototxt") == [3]
    assert (tmp_path / "y.labels.txt").read_text() == "background\na\nb\n"
