"""The command line through subprocesses: every option, error paths, exit codes (0 ok, 1 failure, 2 usage)."""

import json
import os
import subprocess
import sys

import mxnet as mx
import numpy as np
import pytest
from PIL import Image

from conftest import runtime_or_skip
from gluon2caffe.converters import support_table

SMALL = "cifar_resnet20_v1"
SMALL_SHAPE = "2,3,32,32"


def run(*args, timeout=600):
    return subprocess.run(
        [sys.executable, "-m", "gluon2caffe", *map(str, args)], capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    """cifar_resnet20_v1 converted with default options (BGR, BatchNorm folded)."""
    prefix = tmp_path_factory.mktemp("cli") / "small"
    proc = run("convert", SMALL, "-o", prefix, "--input-shape", SMALL_SHAPE)
    assert proc.returncode == 0, proc.stderr
    return prefix


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """The same zoo model exported (-symbol.json + .params), with the seeded random weights the CLI uses."""
    from gluon2caffe.zoo.loader import load_zoo_model

    folder = tmp_path_factory.mktemp("exported")
    net = load_zoo_model(SMALL, (2, 3, 32, 32))
    net.hybridize()
    net(mx.nd.zeros((2, 3, 32, 32)))
    net.export(str(folder / "small"), epoch=3)
    net.save_parameters(str(folder / "trained.params"))
    return folder


def test_help_is_complete():
    main = run("--help")
    assert main.returncode == 0 and all(
        c in main.stdout for c in ("convert", "verify", "models", "zoo", "demo", "ops", "exit codes", "130", "--quiet")
    )
    convert = run("convert", "--help").stdout
    for option in (
        "--output",
        "--input-shape",
        "--input-name",
        "--no-bgr",
        "--no-merge-bn",
        "--softmax",
        "--relu6",
        "--params",
        "--epoch",
        "--classes",
        "--classes-file",
        "--verify",
    ):
        assert option in convert, option
    verify = run("verify", "--help").stdout
    for option in (
        "--against",
        "--params",
        "--epoch",
        "--runtime",
        "--input",
        "--seed",
        "--no-bgr",
        "--layers",
        "--local",
        "--all",
        "--plot",
    ):
        assert option in verify, option


def test_ops_prints_the_registry_table():
    proc = run("ops")
    assert proc.returncode == 0 and proc.stdout == support_table()


def test_console_script_is_installed():
    script = os.path.join(os.path.dirname(sys.executable), "gluon2caffe")
    proc = subprocess.run([script, "ops"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and "Convolution" in proc.stdout


def test_convert_summary_and_files(converted):
    assert converted.with_suffix(".prototxt").exists() and converted.with_suffix(".caffemodel").exists()


def test_convert_prints_summary(tmp_path):
    proc = run("convert", SMALL, "-o", tmp_path / "a" / "b", "--input-shape", SMALL_SHAPE, "--verify")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "MXNet nodes ->" in out and "Caffe layers" in out and "M parameters" in out
    assert "BatchNorm folded: 21" in out and "converted in" in out and "(ok)" in out
    assert str(tmp_path / "a" / "b.prototxt") in out


def test_convert_options(tmp_path):
    prefix = tmp_path / "opts"
    proc = run(
        "convert",
        SMALL,
        "-o",
        prefix,
        "--input-shape",
        "1,3,33,31",
        "--input-name",
        "img",
        "--no-bgr",
        "--no-merge-bn",
        "--softmax",
        "-v",
        "--verify",
    )
    assert proc.returncode == 0, proc.stderr
    text = prefix.with_suffix(".prototxt").read_text()
    assert 'top: "img"' in text and "dim: 33" in text and 'type: "BatchNorm"' in text and 'type: "Softmax"' in text
    assert "BGR swap: off" in proc.stdout and "softmax appended: yes" in proc.stdout
    assert "fold_batchnorm" not in proc.stderr and "INFO" in proc.stderr  # -v logs the passes


@pytest.mark.parametrize("mode, layer", [("exact", "Eltwise"), ("layer", "ReLU6"), ("relu", None)])
def test_convert_relu6_modes(tmp_path, mode, layer):
    proc = run("convert", "mobilenetv2_0.25", "-o", tmp_path / "m", "--input-shape", "1,3,64,64", "--relu6", mode)
    assert proc.returncode == 0, proc.stderr
    text = (tmp_path / "m.prototxt").read_text()
    if layer:
        assert f'type: "{layer}"' in text
    else:
        assert 'type: "ReLU6"' not in text and proc.stderr.count("NOT exact") == 1  # one warning, not one a node
        assert "node(s), " in proc.stderr


def test_convert_exported_by_prefix_and_epoch(tmp_path, exported):
    proc = run(
        "convert", exported / "small", "--epoch", 3, "-o", tmp_path / "e", "--input-shape", SMALL_SHAPE, "--verify"
    )
    assert proc.returncode == 0, proc.stderr
    assert "exported" in proc.stdout and "(ok)" in proc.stdout


def test_convert_exported_by_two_paths(tmp_path, exported, converted):
    proc = run(
        "convert",
        exported / "small-symbol.json",
        "--params",
        exported / "small-0003.params",
        "-o",
        tmp_path / "e",
        "--input-shape",
        SMALL_SHAPE,
    )
    assert proc.returncode == 0, proc.stderr
    # Same weights, same graph: the exported conversion equals the zoo one, but for the net's name.
    from gluon2caffe.caffe import caffe_pb2 as pb

    ours, zoo = (
        pb.NetParameter.FromString(p.read_bytes())
        for p in (tmp_path / "e.caffemodel", converted.with_suffix(".caffemodel"))
    )
    assert ours.name == "small" and zoo.name != "small"
    ours.name = zoo.name
    assert ours == zoo


def test_convert_zoo_model_with_trained_params(tmp_path, exported):
    proc = run(
        "convert",
        SMALL,
        "--params",
        exported / "trained.params",
        "-o",
        tmp_path / "t",
        "--input-shape",
        SMALL_SHAPE,
        "--verify",
    )
    assert proc.returncode == 0, proc.stderr
    assert "weights from" in proc.stdout


def test_verify_outputs(converted):
    proc = run("verify", converted, "--against", SMALL)
    assert proc.returncode == 0, proc.stderr
    assert "output" in proc.stdout and "(ok)" in proc.stdout and "runtime: caffe" in proc.stdout


def test_verify_layers_and_plot(converted, tmp_path):
    plot = tmp_path / "err.png"
    proc = run("verify", converted, "--against", SMALL, "--layers", "--plot", plot, "--seed", 5)
    assert proc.returncode == 0, proc.stderr
    assert "every compared blob" in proc.stdout and "seed 5" in proc.stdout
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_verify_opencv_runtime_and_image(converted, tmp_path):
    image = tmp_path / "cat.jpg"
    Image.fromarray(np.random.RandomState(0).randint(0, 255, (50, 40, 3), np.uint8)).save(image)
    proc = run("verify", converted, "--against", SMALL, "--runtime", "opencv", "--input", image)
    assert proc.returncode == 0, proc.stderr
    assert "runtime: opencv" in proc.stdout and "cat.jpg" in proc.stdout


def test_verify_against_exported(converted, exported):
    proc = run("verify", converted, "--against", exported / "small", "--epoch", 3)
    assert proc.returncode == 0, proc.stderr
    proc = run("verify", converted, "--against", SMALL, "--params", exported / "trained.params")
    assert proc.returncode == 0, proc.stderr


def test_verify_mismatch_exits_1_and_names_the_first_bad_layer(converted):
    """Feeding RGB to a net converted for BGR is wrong from the first convolution on."""
    proc = run("verify", converted, "--against", SMALL, "--no-bgr", "--layers")
    assert proc.returncode == 1
    assert "MISMATCH" in proc.stdout and "first blob above the tolerance" in proc.stdout


def test_verify_local_prints_the_segments_and_plots(converted, tmp_path):
    plot = tmp_path / "local.png"
    proc = run("verify", converted, "--against", SMALL, "--local", "--all", "--plot", plot)
    assert proc.returncode == 0, proc.stderr
    assert "layer-local check" in proc.stdout and "every segment" in proc.stdout and "status: exact" in proc.stdout
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_verify_local_mismatch_exits_1_and_names_the_layer(converted):
    """RGB fed to a BGR net: only the first convolution is wrong on MXNet's inputs; the local check names it."""
    proc = run("verify", converted, "--against", SMALL, "--no-bgr", "--local")
    assert proc.returncode == 1
    assert "first segment beyond the tolerance" in proc.stdout and "status: mismatch" in proc.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["convert"],
        ["convert", SMALL],  # no -o
        ["convert", SMALL, "-o", "x", "--input-shape", "1,3,0"],
        ["convert", SMALL, "-o", "x", "--input-shape", "1,2,3,4,5,6"],
        ["convert", SMALL, "-o", "x", "--input-shape", ":1,3"],
        ["convert", SMALL, "-o", "x", "--input-shape", "a:1,x"],
        ["convert", SMALL, "-o", "x", "--relu6", "approx"],
        ["verify", "x"],  # no --against
        ["verify", "x", "--against", SMALL, "--runtime", "tensorrt"],
        ["nonsense"],
        [],
    ],
)
def test_usage_errors_exit_2(args):
    proc = run(*args)
    assert proc.returncode == 2 and "usage:" in proc.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["convert", "{tmp}/missing/model-symbol.json", "-o", "{tmp}/x"], "no such exported model"),
        (["verify", "{tmp}/nothing", "--against", SMALL], "does not exist"),
        (["verify", "{converted}", "--against", SMALL, "--input", "{tmp}/no.jpg"], "--input"),
    ],
)
def test_missing_files_are_usage_errors(args, message, tmp_path, converted):
    """Issue 28: a missing file named on the command line is exit 2, found before any model is built."""
    proc = run(*[a.format(tmp=tmp_path, converted=converted) for a in args])
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert "loading" not in proc.stderr and "building" not in proc.stderr, proc.stderr


def test_an_unreadable_image_exits_1(tmp_path, converted):
    """A file that exists but is no image is found when it is read: a failure (exit 1) naming it."""
    (tmp_path / "bad.jpg").write_bytes(b"not an image")
    proc = run("verify", converted, "--against", SMALL, "--input", tmp_path / "bad.jpg")
    assert proc.returncode == 1 and "cannot read image" in proc.stderr, proc.stdout + proc.stderr


def test_failed_conversion_writes_nothing(tmp_path):
    proc = run("convert", SMALL, "-o", tmp_path / "x", "--input-shape", SMALL_SHAPE, "--input-shape", "2,5")
    assert proc.returncode == 1 and "cannot take 2 input(s)" in proc.stderr  # a one-input net given two
    assert list(tmp_path.iterdir()) == []


@pytest.fixture(scope="module")
def two_inputs(tmp_path_factory):
    """An exported model with two data inputs, `image` (N, 3, H, W) and `features` (N, 4)."""
    folder = tmp_path_factory.mktemp("two")
    image, features = mx.sym.var("image"), mx.sym.var("features")
    conv = mx.sym.Convolution(image, kernel=(3, 3), pad=(1, 1), num_filter=4, name="conv")
    pooled = mx.sym.Flatten(mx.sym.Pooling(conv, global_pool=True, kernel=(1, 1), pool_type="avg", name="pool"))
    fc = mx.sym.FullyConnected(features, num_hidden=4, name="fc")
    out = mx.sym.FullyConnected(mx.sym.tanh(pooled + fc, name="mix"), num_hidden=3, name="out")
    rng = np.random.RandomState(0)
    params = {
        "conv_weight": rng.normal(0, 0.5, (4, 3, 3, 3)),
        "conv_bias": rng.normal(0, 0.1, 4),
        "fc_weight": rng.normal(0, 0.5, (4, 4)),
        "fc_bias": rng.normal(0, 0.1, 4),
        "out_weight": rng.normal(0, 0.5, (3, 4)),
        "out_bias": rng.normal(0, 0.1, 3),
    }
    out.save(str(folder / "two-symbol.json"))
    mx.nd.save(str(folder / "two-0000.params"), {f"arg:{k}": mx.nd.array(v) for k, v in params.items()})
    return folder / "two"


def test_convert_exported_two_inputs_by_name(tmp_path, two_inputs):
    args = ["--input-shape", "features:2,4", "--input-shape", "image:2,3,9,7"]  # names, in any order
    proc = run("convert", two_inputs, "-o", tmp_path / "t", *args, "--verify")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "(ok)" in proc.stdout and "status: exact" in proc.stdout
    assert "inputs left as they are, no 3-channel axis 1: features" in proc.stdout
    text = (tmp_path / "t.prototxt").read_text()
    assert text.index('top: "image"') < text.index('top: "features"')  # the model's input order
    proc = run("verify", tmp_path / "t", "--against", two_inputs)
    assert proc.returncode == 0 and "(ok)" in proc.stdout and "features: random" in proc.stdout, proc.stderr


def test_convert_exported_two_inputs_missing_a_shape(tmp_path, two_inputs):
    proc = run("convert", two_inputs, "-o", tmp_path / "t", "--input-shape", "image:2,3,9,7")
    assert proc.returncode == 1 and "no shape for ['features']" in proc.stderr, proc.stderr


def test_convert_any_rank(tmp_path, two_inputs):
    """A feature-vector model: --input-shape of rank 2; to_bgr (the default) leaves it as it is."""
    folder = tmp_path / "mlp"
    folder.mkdir()
    fc = mx.sym.FullyConnected(mx.sym.var("data"), num_hidden=3, name="fc")
    fc.save(str(folder / "mlp-symbol.json"))
    rng = np.random.RandomState(1)
    mx.nd.save(
        str(folder / "mlp-0000.params"),
        {"arg:fc_weight": mx.nd.array(rng.normal(0, 1, (3, 16))), "arg:fc_bias": mx.nd.array(rng.normal(0, 1, 3))},
    )
    proc = run("convert", folder / "mlp", "-o", tmp_path / "m", "--input-shape", "1,16", "--verify")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "status: exact" in proc.stdout and "no 3-channel axis 1: data" in proc.stdout


def test_demo_runs(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "gluon2caffe", "demo", "--output", str(tmp_path / "r18")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    assert "OK (exact)" in proc.stdout and str(tmp_path / "r18.caffemodel") in proc.stdout
    assert "layer by layer, on MXNet's own inputs" in proc.stdout


def test_zoo_command(tmp_path):
    output = tmp_path / "docs" / "zoo.md"
    proc = run(
        "zoo",
        "--family",
        "cifar_resnet",
        "--models",
        "cifar_resnet20_v1,cifar_resnet20_v2",
        "--jobs",
        2,
        "--output",
        output,
    )
    assert proc.returncode == 0, proc.stderr
    assert "2/2 exact in this run" in proc.stdout and "2/2" in proc.stderr  # the progress bar
    table = output.read_text()
    assert "| cifar_resnet20_v1 | cifar_resnet | 32x32 | exact |" in table and "| alexnet |" in table  # not run yet
    # A second run updates only its rows (kept in the JSON beside the table).
    proc = run("zoo", "--models", "cifar_resnet56_v1", "--output", output)
    assert proc.returncode == 0, proc.stderr
    table = output.read_text()
    assert "| cifar_resnet20_v1 | cifar_resnet | 32x32 | exact |" in table
    assert "| cifar_resnet56_v1 | cifar_resnet | 32x32 | exact |" in table


def test_zoo_command_in_other_runtimes(tmp_path):
    """--runtime (repeatable): the same files also run in OpenCV; the runtime table is written, not the zoo's."""
    runtime_or_skip("opencv")
    output = tmp_path / "runtimes.md"
    proc = run("zoo", "--models", "cifar_resnet20_v1", "--runtime", "caffe", "--runtime", "opencv", "--output", output)
    assert proc.returncode == 0, proc.stderr
    assert "1/1 exact in this run" in proc.stdout and "caffe 1/1 exact; opencv 1/1 exact" in proc.stdout
    table = output.read_text()
    assert "Last updated by `gluon2caffe zoo --models cifar_resnet20_v1 --runtime opencv`" in table
    assert "| family | models | caffe | opencv |" in table and "| cifar_resnet | 1/" in table
    rows = json.loads(output.with_suffix(".json").read_text())
    assert rows[0]["runtimes"]["opencv"]["status"] == "exact", rows
    assert not (tmp_path / "model_zoo.md").exists()


def test_zoo_with_a_missing_runtime_stops_before_the_sweep(tmp_path):
    env = dict(os.environ, GLUON2CAFFE_CAFFE2NCNN=str(tmp_path / "no-caffe2ncnn"))
    command = [sys.executable, "-m", "gluon2caffe", "zoo", "--models", "cifar_resnet20_v1", "--runtime", "ncnn"]
    proc = subprocess.run(command + ["--output", str(tmp_path / "r.md")], capture_output=True, text=True, env=env)
    assert proc.returncode == 1 and "runtimes not available" in proc.stderr and "ncnn" in proc.stderr, proc.stderr
    assert not (tmp_path / "r.md").exists()


def test_zoo_unknown_family_exits_1():
    proc = run("zoo", "--family", "nope")
    assert proc.returncode == 1 and "unknown families" in proc.stderr


def test_zoo_writes_only_where_told(tmp_path):
    """Without -o the sweep does not start (and writes no docs/ under the current directory): a usage error."""
    command = [sys.executable, "-m", "gluon2caffe", "zoo", "--models", "cifar_resnet20_v1"]
    proc = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert proc.returncode == 2 and "-o/--output FILE.md is required" in proc.stderr, proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_zoo_saves_each_row_as_it_finishes(tmp_path, monkeypatch):
    """A sweep stopped after hours (Ctrl-C, a kill, a crash) keeps every model it checked: rows are saved one by one,
    in the runtime table and in the coverage table."""
    from gluon2caffe.cli import main
    from gluon2caffe.zoo import sweep

    def stopped_after_one(entries, jobs, progress, extra_runtimes):
        row = sweep.ZooResult("cifar_resnet20_v1", "cifar", 32, "exact", 1e-6, 1e-7, layers=60)
        row.runtimes["mnn"] = sweep.RuntimeResult("exact", 2e-7, 1e-6)
        progress(row)
        raise KeyboardInterrupt

    monkeypatch.setattr(sweep, "run_zoo", stopped_after_one)
    monkeypatch.setattr("gluon2caffe.cli.zoo._require", lambda runtimes: None)
    argv = ["zoo", "--models", "cifar_resnet20_v1,cifar_resnet56_v1", "--runtime", "mnn"]
    code = main(argv + ["-o", str(tmp_path / "rt.md"), "--zoo-output", str(tmp_path / "zoo.md")])
    assert code != 0
    runtime_rows = json.loads((tmp_path / "rt.json").read_text())
    assert [r["model"] for r in runtime_rows] == ["cifar_resnet20_v1"]
    assert runtime_rows[0]["runtimes"]["mnn"]["status"] == "exact"
    assert [r["model"] for r in json.loads((tmp_path / "zoo.json").read_text())] == ["cifar_resnet20_v1"]
    assert "cifar_resnet20_v1" in (tmp_path / "rt.md").read_text()
    assert not list(tmp_path.glob("*.tmp"))


SSD = "ssd_300_mobilenet0.25_voc"


def test_convert_ssd_detects_the_detector_and_says_how_anchors_were_written(tmp_path):
    proc = run("convert", SSD, "-o", tmp_path / "ssd", "--verify")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "SSD: 20 classes (Caffe label = GluonCV class id + 1)" in out and "keep_top_k 100" in out
    assert "anchors: PriorBox layers (exact in caffe-ssd and OpenCV)" in out
    assert "before NMS, loc:" in out and "(ok)" in out and "100/100 GluonCV detections found" in out
    assert "input_param { shape { dim: 1 dim: 3 dim: 300 dim: 300 } }" in " ".join(
        (tmp_path / "ssd.prototxt").read_text().split()
    )
    # verify the written files again, in OpenCV
    proc = run("verify", tmp_path / "ssd", "--against", SSD, "--runtime", "opencv", "--input", "scene")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "runtime: opencv" in proc.stdout and "detections:" in proc.stdout


def test_convert_ssd_anchor_options(tmp_path):
    proc = run("convert", "ssd_512_mobilenet1.0_voc", "-o", tmp_path / "p", "--anchors", "priorbox", "--no-nms")
    assert proc.returncode == 0, proc.stderr
    assert "NOT exact: up to 0.424 px off in caffe-ssd" in proc.stdout and "no DetectionOutput" in proc.stdout
    assert "WARNING" in proc.stderr and "NOT exact" in proc.stderr
    text = (tmp_path / "p.prototxt").read_text()
    assert "PriorBox" in text and "DetectionOutput" not in text


def test_convert_yolo_and_verify(tmp_path):
    proc = run("convert", "yolo3_mobilenet0.25_voc", "-o", tmp_path / "y", "--verify")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "YOLOv3: 20 classes (Caffe label = GluonCV class id + 1)" in proc.stdout
    assert "before NMS, loc:" in proc.stdout and "100/100 GluonCV detections found" in proc.stdout
    assert "dim: 416" in (tmp_path / "y.prototxt").read_text()
    proc = run("convert", "yolo3_mobilenet0.25_voc", "-o", tmp_path / "n", "--no-nms", "--input-shape", "1,3,320,320")
    assert proc.returncode == 0 and "no DetectionOutput" in proc.stdout, proc.stderr
    proc = run("verify", tmp_path / "n", "--against", "yolo3_mobilenet0.25_voc", "--runtime", "opencv")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "before NMS, scores:" in proc.stdout and "detections:" not in proc.stdout


@pytest.mark.parametrize(
    "name,shape,runtime",
    [
        (SSD, "1,3,128,128", "opencv"),
        ("yolo3_mobilenet0.25_voc", "1,3,128,128", "opencv"),
        # target any writes CenterNet's peak mask with Threshold, which OpenCV does not have (docs/runtimes.md)
        ("center_net_mobilenetv3_small_duc_voc", "1,3,64,64", "caffe"),
    ],
    ids=["ssd", "yolo", "centernet"],
)
def test_detector_with_another_input_name_verifies(name, shape, runtime, tmp_path):
    """convert <detector> --input-name img --verify: every family's check feeds the Caffe input by its name (issue 25:
    the checks fed "data" whatever the conversion named it); verify reads the name from the files."""
    proc = run("convert", name, "-o", tmp_path / "d", "--input-name", "img", "--input-shape", shape, "--verify")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "status: exact" in proc.stdout
    text = " ".join((tmp_path / "d.prototxt").read_text().split())
    assert 'name: "img" type: "Input" top: "img"' in text and '"data"' not in text
    proc = run("verify", tmp_path / "d", "--against", name, "--runtime", runtime)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "status: exact" in proc.stdout
