"""What the command line checks before it builds anything (issue 28): a missing or unreadable file an option names,
a --classes count a dataset detector cannot take, an exported detector without --input-shape: exit 2 with one line
naming the option, and no model built (no 'building'/'loading' step on stderr). Also --version, the input shape in
every summary, and the warning when an exported model is converted at the default size."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STEPS = ("building the model", "loading the weights", "loading the exported model", "random live weights")


def gluon2caffe(*args, cwd=None):
    env = dict(os.environ, GLOG_minloglevel="2")
    command = [sys.executable, "-m", "gluon2caffe", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd, env=env, timeout=600)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A small exported plain net (PREFIX-symbol.json + PREFIX-0000.params)."""
    import mxnet as mx
    from mxnet.gluon import nn

    folder = tmp_path_factory.mktemp("exported")
    net = nn.HybridSequential()
    net.add(nn.Conv2D(4, 3, in_channels=3), nn.Activation("relu"))
    net.initialize()
    net.hybridize()
    net(mx.nd.zeros((1, 3, 16, 16)))
    net.export(str(folder / "small"))
    return folder / "small"


def assert_usage(proc, *phrases):
    assert proc.returncode == 2, proc.stdout + proc.stderr
    error = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(error) == 1 and not error[0].startswith("error: error:"), proc.stderr
    for phrase in phrases:
        assert phrase in error[0], proc.stderr
    assert not any(step in proc.stderr for step in STEPS), f"a model was built first: {proc.stderr}"


def test_missing_params_file(tmp_path):
    assert_usage(
        gluon2caffe("convert", "resnet18_v1", "-o", tmp_path / "o", "--params", tmp_path / "no.params"),
        "--params",
        "no.params: no such file",
    )
    assert not list(tmp_path.iterdir())


def test_missing_exported_model(tmp_path):
    assert_usage(
        gluon2caffe("convert", tmp_path / "nothere", "-o", tmp_path / "o"),
        "no such exported model",
        "nothere-symbol.json",
    )


def test_missing_epoch_of_an_exported_model(exported, tmp_path):
    assert_usage(
        gluon2caffe("convert", exported, "--epoch", 3, "-o", tmp_path / "o"), "small-0003.params", "no such file"
    )


def test_params_that_is_a_folder(exported, tmp_path):
    assert_usage(gluon2caffe("convert", exported, "--params", tmp_path, "-o", tmp_path / "o"), "is a folder")


def test_missing_classes_file(tmp_path):
    assert_usage(
        gluon2caffe("convert", "ssd_300_mobilenet0.25_voc", "--classes-file", tmp_path / "c.txt", "-o", tmp_path / "o"),
        "--classes-file",
        "no such file",
    )


def test_verify_missing_files(tmp_path):
    assert_usage(gluon2caffe("verify", tmp_path / "nope", "--against", "resnet18_v1"), "nope.prototxt does not exist")
    assert_usage(
        gluon2caffe("verify", tmp_path / "nope", "--reference", tmp_path / "r.npz"), "--reference", "no such file"
    )


def test_verify_missing_input_image(exported, tmp_path):
    proc = gluon2caffe("convert", exported, "--input-shape", "1,3,16,16", "-o", tmp_path / "c")
    assert proc.returncode == 0, proc.stderr
    assert_usage(
        gluon2caffe("verify", tmp_path / "c", "--against", exported, "--input", tmp_path / "photo.png"),
        "--input",
        "photo.png: no such file",
    )


@pytest.mark.parametrize("model, count", [("ssd_300_mobilenet0.25_voc", 20), ("yolo3_darknet53_coco", 80)])
def test_classes_count_found_from_the_name(model, count, tmp_path):
    proc = gluon2caffe("convert", model, "--classes", "a,b", "-o", tmp_path / "o")
    assert_usage(proc, f"has {count} classes, --classes gives 2", "_custom")


def test_version():
    proc = gluon2caffe("--version")
    version = re.search(r'^version = "(.*)"$', (ROOT / "pyproject.toml").read_text(), re.M).group(1)
    assert proc.returncode == 0 and proc.stdout.strip() == f"gluon2caffe {version}", proc.stdout + proc.stderr


def test_exported_model_without_input_shape_warns_and_says_its_shape(exported, tmp_path):
    proc = gluon2caffe("convert", exported, "-o", tmp_path / "o")
    assert proc.returncode == 0, proc.stderr
    assert "no --input-shape" in proc.stderr and "default 1,3,224,224" in proc.stderr, proc.stderr
    assert "  input data (1, 3, 224, 224): " in proc.stdout, proc.stdout
    proc = gluon2caffe("convert", exported, "--input-shape", "1,3,20,20", "-o", tmp_path / "p")
    assert proc.returncode == 0 and "no --input-shape" not in proc.stderr, proc.stderr
    assert "  input data (1, 3, 20, 20): " in proc.stdout, proc.stdout


def test_exported_detector_without_input_shape_is_refused(tmp_path):
    from gluon2caffe.zoo.loader import load_zoo_model

    net = load_zoo_model("ssd_300_mobilenet0.25_voc", (1, 3, 300, 300))
    net.hybridize()
    import mxnet as mx

    net(mx.nd.zeros((1, 3, 300, 300)))
    net.export(str(tmp_path / "ssd"))
    proc = gluon2caffe("convert", tmp_path / "ssd", "-o", tmp_path / "o")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "exported SSD" in proc.stderr and "--input-shape" in proc.stderr, proc.stderr
    assert not (tmp_path / "o.prototxt").exists()


def test_a_runtime_that_cannot_run_the_files_says_so_in_one_line(tmp_path):
    """OpenCV's own exception class is named `error`: it read `error: error: OpenCV(...)` with OpenCV's raw log lines
    before it. Now one line, OpenCV's words, exit 1 (a comparison's Threshold layer, which OpenCV has not)."""
    import mxnet as mx
    from mxnet.gluon import nn

    class Greater(nn.HybridBlock):
        def hybrid_forward(self, F, x):
            return F.relu(x) > 0.5

    net = Greater()
    net.hybridize()
    net(mx.nd.zeros((1, 3, 8, 8)))
    net.export(str(tmp_path / "greater"))
    proc = gluon2caffe(
        "convert", tmp_path / "greater", "--input-shape", "1,3,8,8", "--target", "caffe", "-o", tmp_path / "g"
    )
    assert proc.returncode == 0, proc.stderr
    proc = gluon2caffe("verify", tmp_path / "g", "--against", tmp_path / "greater", "--runtime", "opencv")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1 and errors[0].startswith("error: OpenCV 4.") and "Threshold" in errors[0], proc.stderr
