"""The command line as people first use it: every failure is one `error:` line with the documented exit code and
no file left behind; zoo names get their own input size; -o folders and extensions; file modes; progress."""

import os
import resource
import signal
import subprocess
import sys
import time
from contextlib import ExitStack, contextmanager

import pytest

from gluon2caffe import cli
from gluon2caffe.caffe.caffemodel import CaffeModel

SMALL = "cifar_resnet20_v1"
SSD = "ssd_300_mobilenet0.25_voc"


def run(*args, umask=None, timeout=600):
    return subprocess.run(
        [sys.executable, "-m", "gluon2caffe", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=None if umask is None else (lambda: os.umask(umask)),
    )


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    """cifar_resnet20_v1 converted at its own size (no --input-shape: 1,3,32,32) and verified, under umask 022."""
    folder = tmp_path_factory.mktemp("first")
    proc = run("convert", SMALL, "-o", f"{folder}/", "--verify", umask=0o022)
    assert proc.returncode == 0, proc.stderr
    return folder, proc


# (arguments, exit code, a piece of the message); {tmp} is an empty folder that must stay empty but for `file`.
BAD_CASES = [
    (["convert", "resnet50_v7", "-o", "{tmp}/x"], 2, "did you mean: resnet50_v2, resnet50_v1"),
    (["convert", SMALL, "-o", "{tmp}/file/x"], 2, "is a file, not a folder"),
    (["convert", SSD, "--softmax", "-o", "{tmp}/x"], 2, "--softmax does not apply to an SSD"),
    (["convert", "yolo3_mobilenet0.25_voc", "--softmax", "-o", "{tmp}/x"], 2, "--softmax does not apply"),
    (["convert", SMALL, "--no-nms", "-o", "{tmp}/x"], 2, "--no-nms applies to SSD / YOLOv3 detectors only"),
    (["convert", SMALL, "--anchors", "constant", "-o", "{tmp}/x"], 2, "--anchors applies to SSD / YOLOv3"),
    (["convert", "yolo3_mobilenet0.25_voc", "--anchors", "priorbox", "-o", "{tmp}/x"], 2, "drop --anchors"),
    (["convert", "ssd_300_mobilenet1.0_lite_coco", "--anchors", "priorbox", "-o", "{tmp}/x"], 2, "cannot express"),
    (["verify", "{converted}", "--against", SMALL, "--plot", "{tmp}/errs.xyz"], 2, ".xyz is not an image format"),
    (["verify", "{converted}", "--against", SMALL, "--all"], 2, "--all goes with --local"),
    (["verify", "{converted}", "--against", SMALL, "--runtime", "opencv", "--layers"], 2, "need the caffe runtime"),
    (["verify", "{converted}", "--against", SSD, "--layers"], 2, "for a detector use --local"),
    (["verify", "{converted}", "--against", "resnet50_v7"], 2, "did you mean"),
]


@pytest.mark.parametrize("args, code, message", BAD_CASES, ids=lambda v: " ".join(v) if isinstance(v, list) else "")
def test_each_bad_case_is_one_error_line(args, code, message, tmp_path, converted):
    (tmp_path / "file").write_text("")
    prefix = converted[0] / SMALL
    proc = run(*[a.format(tmp=tmp_path, converted=prefix) for a in args])
    assert proc.returncode == code, proc.stdout + proc.stderr
    assert len(error_lines(proc.stderr)) == 1 and message in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["file"]
    if code == 2 and args[0] == "convert":
        assert "building" not in proc.stderr  # refused before any model is built


@contextmanager
def mounted_tmpfs(path, options):
    """A tmpfs at path (root with CAP_SYS_ADMIN only; skips otherwise), unmounted on the way out."""
    path.mkdir()
    mount = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True, text=True)
    if mount.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mount.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", str(path)], check=True)


def test_read_only_output_folder_is_a_usage_error(tmp_path):
    """A read-only folder: a read-only tmpfs when running as root (root ignores permission bits), else mode 0555."""
    with ExitStack() as stack:
        if os.geteuid() == 0:
            folder = stack.enter_context(mounted_tmpfs(tmp_path / "ro", "ro,size=1m"))
        else:
            folder = tmp_path / "ro"
            folder.mkdir(mode=0o555)
        proc = run("convert", SMALL, "-o", folder / "sub" / "x")
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert error_lines(proc.stderr) == [
            f"error: -o: cannot write in {folder} (read-only or no permission); choose another output path"
        ]
        assert "Traceback" not in proc.stderr and "building" not in proc.stderr
        assert list(folder.iterdir()) == []


def _file_size_limit():
    resource.setrlimit(resource.RLIMIT_FSIZE, (256 * 1024, 256 * 1024))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write beyond the limit then fails with EFBIG


@pytest.mark.parametrize("how", ["tmpfs", "RLIMIT_FSIZE"])
def test_full_disk_is_one_error_line_and_leaves_no_file(how, tmp_path):
    """A disk that fills up during the write: a 256 KB tmpfs (ENOSPC; root only) or a 256 KB file-size limit
    (EFBIG, any user); cifar_resnet20_v1's caffemodel is 1.1 MB."""
    with ExitStack() as stack:
        if how == "tmpfs":
            folder, limit = stack.enter_context(mounted_tmpfs(tmp_path / "full", "size=256k")), None
        else:
            folder, limit = tmp_path / "full", _file_size_limit
            folder.mkdir()
        proc = subprocess.run(
            [sys.executable, "-m", "gluon2caffe", "convert", SMALL, "-o", str(folder / "x")],
            capture_output=True,
            text=True,
            timeout=600,
            preexec_fn=limit,
        )
        assert proc.returncode == 1, proc.stdout + proc.stderr
        message = "No space left on device" if how == "tmpfs" else "File too large"
        assert error_lines(proc.stderr) == [
            f"error: {folder / 'x.caffemodel'}: {message} (check the path, its permissions and free space)"
        ], proc.stderr
        assert "Traceback" not in proc.stderr
        assert list(folder.iterdir()) == []


# Run the CLI with the caffemodel write stalled midway (partial bytes in the hidden temporary file), so a signal
# from outside arrives during the write.
STALLED_WRITE = """
import sys, time
from gluon2caffe import cli
from gluon2caffe.caffe.caffemodel import CaffeModel
def stalled(self, f):
    f.write(b"partial"); f.flush(); time.sleep(120)
CaffeModel.write_to = stalled
sys.exit(cli.main(sys.argv[1:]))
"""


def _interruptible() -> None:
    """In the child before exec: Ctrl-C's default action back. A job started with `&` by a non-interactive shell (a
    CI runner's `cmd &`) inherits SIGINT ignored, and Python then installs no KeyboardInterrupt handler: the signal
    tests would see a user's Ctrl-C ignored."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _wait_for(predicate, proc, seconds=300):
    deadline = time.monotonic() + seconds
    while not predicate():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


@pytest.mark.parametrize(
    "signum, code, word", [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")]
)
def test_a_signal_during_the_write_leaves_no_temporary_file(signum, code, word, tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-c", STALLED_WRITE, "convert", SMALL, "-o", str(tmp_path / "x"), "-q"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_interruptible,
    )
    _wait_for(lambda: any(p.name.startswith(".x.caffemodel.") for p in tmp_path.iterdir()), proc)
    proc.send_signal(signum)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == code, stderr
    assert error_lines(stderr) == [f"error: {word}; no partial file was left"] and "Traceback" not in stderr
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_while_building_exits_130(tmp_path):
    """Ctrl-C in a plain run (during the random weights): exit 130, one line, nothing written."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "gluon2caffe", "convert", SMALL, "-o", str(tmp_path / "x")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_interruptible,
    )
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if line.startswith("random live weights"):
            break
    proc.send_signal(signal.SIGINT)
    _, rest = proc.communicate(timeout=120)
    stderr = "".join(seen) + rest
    assert proc.returncode == 130, stderr
    assert error_lines(stderr) == ["error: interrupted; no partial file was left"] and "Traceback" not in stderr
    assert list(tmp_path.iterdir()) == []


def test_verbose_adds_the_traceback(tmp_path):
    proc = run("convert", "alexnet", "--input-shape", "1,3,32,32", "-o", tmp_path / "x", "-v")
    assert proc.returncode == 2 and "Traceback" in proc.stderr and len(error_lines(proc.stderr)) == 1


# (arguments, the whole of stderr under -q): input shapes the model cannot take, found after it was built.
SHAPE_CASES = [
    (
        ["resnet18_v1", "--input-shape", "3,224,224"],
        "error: input 'data' has shape (3, 224, 224) but node 'resnetv10_conv0_fwd' (Convolution), which reads it, "
        "takes a 4-D input: did you forget the batch axis? e.g. --input-shape 1,3,224,224",
    ),
    (
        ["alexnet", "--input-shape", "1,3,32,32"],
        "error: --input-shape 1,3,32,32 does not fit the model: node 'alexnet0_pool2_fwd' (Pooling): kernel size (3) "
        "exceeds input (1 padded to 1)",
    ),
    (  # trained weights take another way in (the parameter shapes by symbolic inference): the same line
        ["cifar_resnet20_v1", "--input-shape", "3,32,32", "--params", "{params}"],
        "error: input 'data' has shape (3, 32, 32) but node 'cifarresnetv10_conv0_fwd' (Convolution), which reads "
        "it, takes a 4-D input: did you forget the batch axis? e.g. --input-shape 1,3,32,32",
    ),
]


@pytest.mark.parametrize("args, stderr", SHAPE_CASES, ids=lambda v: " ".join(v) if isinstance(v, list) else "")
def test_an_input_shape_the_model_cannot_take_is_one_line_and_nothing_else(args, stderr, tmp_path):
    """Exit 2, stderr exactly the one line, stdout empty (MXNet's infer_shape prints its arguments there when it
    fails), no file."""
    params = tmp_path / "trained.params"
    if "{params}" in args:
        from gluoncv.model_zoo import get_model

        net = get_model(SMALL, pretrained=False)
        net.initialize()
        net(__import__("mxnet").nd.zeros((1, 3, 32, 32)))
        net.save_parameters(str(params))
    out = tmp_path / "out"
    proc = run("convert", *[a.format(params=params) for a in args], "-o", out / "x", "-q")
    assert (proc.returncode, proc.stdout, proc.stderr) == (2, "", stderr + "\n")
    assert not out.exists()


def exported_conv_bn(folder, moving_var):
    import mxnet as mx
    import numpy as np

    x = mx.sym.Convolution(mx.sym.var("data"), kernel=(3, 3), num_filter=4, name="conv")
    x = mx.sym.BatchNorm(x, name="bn", fix_gamma=False)
    rng = np.random.RandomState(0)
    args = {"conv_weight": rng.normal(size=(4, 3, 3, 3)), "conv_bias": rng.normal(size=4)}
    args.update(bn_gamma=rng.uniform(0.5, 1.5, 4), bn_beta=rng.normal(size=4))
    aux = {"bn_moving_mean": rng.normal(size=4), "bn_moving_var": np.array(moving_var)}
    to_nd = lambda d: {k: mx.nd.array(v) for k, v in d.items()}  # noqa: E731
    mx.model.save_checkpoint(str(folder / "m"), 0, x, to_nd(args), to_nd(aux))
    return folder / "m"


def test_impossible_weights_are_one_line_exit_1_and_no_file(tmp_path):
    """A BatchNorm whose moving_var + eps is not positive (an untrained net's statistics) wrote NaN into the folded
    blobs, exit 0, a numpy RuntimeWarning the only sign."""
    prefix = exported_conv_bn(tmp_path, [1.0, -0.5, 0.5, -0.25])
    out = tmp_path / "out"
    proc = run("convert", prefix, "--input-shape", "1,3,8,8", "-o", out / "x", "-q")
    assert (proc.returncode, proc.stdout) == (1, ""), proc.stderr
    assert proc.stderr == (
        "error: 1 node(s) have weights no runtime can compute with; nothing was converted: node 'bn' (BatchNorm): "
        "moving_var + eps (0.001) <= 0 at 2 of 4 channels [1, 3]. moving_var is the variance training measures "
        "(>= 0): an untrained net's statistics (after initialize(), GluonCV's SSD feature expander has MXNet's "
        "default U(-0.07, 0.07) there) are not a model; convert trained weights\n"
    )
    assert not out.exists()
    assert run("convert", exported_conv_bn(tmp_path, [1.0, 0.5, 0.5, 0.25]), "-o", out / "x", "-q").returncode == 0


def test_an_exported_model_without_its_batch_axis_is_one_line(tmp_path):
    prefix = exported_conv_bn(tmp_path, [1.0, 0.5, 0.5, 0.25])
    proc = run("convert", prefix, "--input-shape", "3,8,8", "-o", tmp_path / "out" / "x", "-q")
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr == (
        "error: input 'data' has shape (3, 8, 8) but node 'conv' (Convolution), which reads it, takes a 4-D input: "
        "did you forget the batch axis? e.g. --input-shape 1,3,8,8\n"
    )


@pytest.mark.parametrize(
    "exception, code, message",
    [
        (ConnectionError("Max retries exceeded with url: resnet50_v1b-0ecdba34.zip"), 1, "give trained weights"),
        (OSError(28, "No space left on device", "out/x.caffemodel"), 1, "out/x.caffemodel: No space left on device"),
        (KeyboardInterrupt(), 130, "interrupted"),
        (RuntimeError("something\nelse"), 1, "RuntimeError: something (run with -v"),
    ],
)
def test_any_exception_is_one_line(exception, code, message, monkeypatch, capsys, tmp_path):
    def fail(args):
        raise exception

    monkeypatch.setattr(cli.convert, "run", fail)
    assert cli.main(["convert", SMALL, "-o", str(tmp_path / "x")]) == code
    err = capsys.readouterr().err
    assert len(error_lines(err)) == 1 and message in err and "Traceback" not in err, err


def test_library_errors_name_the_flags(monkeypatch, capsys, tmp_path):
    """An error names the API arguments of its remedy as data (errors.Option); the CLI writes their flags. Text
    that merely looks like an argument is left as it is."""
    from gluon2caffe.errors import Option

    def fail(args):
        rgb, exact = Option("to_bgr", False), Option("anchors", "exact")
        raise cli.common.Gluon2CaffeError(f"pass {rgb}, or {exact} (not merge_bn=False)").naming(rgb, exact)

    monkeypatch.setattr(cli.convert, "run", fail)
    assert cli.main(["convert", SMALL, "-o", str(tmp_path / "x")]) == 1
    assert "pass --no-bgr, or --anchors exact (not merge_bn=False)" in capsys.readouterr().err


def test_library_warnings_name_the_flags():
    """A warning carries the API arguments it names on its log record (extra={"options": ...}); the CLI's log
    formatter writes their flags, and leaves text that merely looks like an argument."""
    import logging

    from gluon2caffe.errors import Option

    exact = Option("anchors", "exact")
    formatter = cli._FlagsFormatter("%(levelname)s %(name)s: %(message)s")
    named = logging.LogRecord("gluon2caffe.detectors", logging.WARNING, __file__, 1, "use %s", (exact,), None)
    named.options = (exact,)
    plain = logging.LogRecord("gluon2caffe.detectors", logging.WARNING, __file__, 1, "plain anchors='exact'", (), None)
    assert formatter.format(named) == "WARNING gluon2caffe.detectors: use --anchors exact"
    assert formatter.format(plain) == "WARNING gluon2caffe.detectors: plain anchors='exact'"


def test_sigterm_during_the_write_leaves_no_file(monkeypatch, capsys, tmp_path):
    """SIGTERM is handled like Ctrl-C: the temporary files of the atomic write are removed, exit 143."""
    write_to = CaffeModel.write_to

    def terminated_midway(self, f):
        f.write(b"partial")
        os.kill(os.getpid(), signal.SIGTERM)
        return write_to(self, f)

    monkeypatch.setattr(CaffeModel, "write_to", terminated_midway)
    assert cli.main(["convert", SMALL, "-o", str(tmp_path / "x"), "-q"]) == 143
    assert error_lines(capsys.readouterr().err) == ["error: terminated; no partial file was left"]
    assert list(tmp_path.iterdir()) == []
    assert signal.getsignal(signal.SIGTERM) is not cli._terminate  # restored


def test_zoo_name_gets_its_own_size_folder_output_and_umask_mode(converted):
    folder, proc = converted
    prototxt = folder / f"{SMALL}.prototxt"
    assert sorted(p.name for p in folder.iterdir()) == [f"{SMALL}.caffemodel", f"{SMALL}.json", f"{SMALL}.prototxt"]
    assert "dim: 1 dim: 3 dim: 32 dim: 32" in " ".join(prototxt.read_text().split())
    for path in folder.iterdir():
        assert path.stat().st_mode & 0o777 == 0o644, path
    # progress on stderr, time per step in the summary
    assert "building the model ..." in proc.stderr and "random live weights ..." in proc.stderr
    assert "build " in proc.stdout and "random weights " in proc.stdout and "write " in proc.stdout
    # MXNet's bind-time notice (the tests run with MXNET_SUBGRAPH_BACKEND=NONE, as verification binds) is dropped
    assert os.environ.get("MXNET_SUBGRAPH_BACKEND") == "NONE" and "status: exact" in proc.stdout
    assert "MXNET_SUBGRAPH_BACKEND" not in proc.stderr and "Cannot decide type" not in proc.stderr


def test_inceptionv3_converts_at_299_and_the_extension_is_not_doubled(tmp_path):
    proc = run("convert", "inceptionv3", "-o", tmp_path / "i3.prototxt", "-q")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # -q: no progress; and no MXNet noise
    assert sorted(p.name for p in tmp_path.iterdir()) == ["i3.caffemodel", "i3.json", "i3.prototxt"]
    assert "dim: 1 dim: 3 dim: 299 dim: 299" in " ".join((tmp_path / "i3.prototxt").read_text().split())


def test_models_lists_names_family_and_input(capsys):
    assert cli.main(["models", "cifar_resnet20"]) == 0
    out = capsys.readouterr().out
    assert "cifar_resnet20_v1" in out and "cifar_resnet" in out and "1,3,32,32" in out
    assert cli.main(["models", "fcn_resnet50_voc"]) == 0
    out = capsys.readouterr().out
    assert "fcn (segmentation)" in out and "1,3,480,480" in out  # its crop size
    assert cli.main(["models", "slowfast_4x16_resnet50_kinetics400"]) == 0
    out = capsys.readouterr().out
    assert "slowfast (action-3d)" in out and "1,3,36,224,224" in out  # 32 fast + 4 slow frames
    assert cli.main(["models", "faster_rcnn_resnet50_v1b_voc"]) == 0
    assert "(outside Caffe)" in capsys.readouterr().out
    assert cli.main(["models", "no-such-thing"]) == 1


def test_pretrained_base_is_off_for_every_family_that_takes_it(monkeypatch):
    """A segmentation model builds without trying to download its base network."""
    from gluoncv.model_zoo import model_zoo

    from gluon2caffe.zoo import loader as models

    calls = []
    getter = model_zoo._models["fcn_resnet50_voc"]
    monkeypatch.setitem(model_zoo._models, "fcn_resnet50_voc", lambda **kw: calls.append(kw) or getter(**kw))
    import gluon2caffe.zoo.randomize as randomize

    monkeypatch.setattr(randomize, "randomize", lambda *a, **k: None)
    models.load_zoo_model("fcn_resnet50_voc", (1, 3, 64, 64))
    assert calls[0]["pretrained_base"] is False


def test_a_segmentation_model_converts_offline(tmp_path):
    """fcn_resnet50_voc used to start downloading its base network: now nothing is downloaded (the network is cut
    off here: proxies on a closed port, an empty MXNET_HOME) and it converts."""
    env = dict(os.environ, MXNET_HOME=str(tmp_path / "mxnet"), HTTP_PROXY="http://127.0.0.1:9")
    env.update(HTTPS_PROXY=env["HTTP_PROXY"], http_proxy=env["HTTP_PROXY"], https_proxy=env["HTTP_PROXY"])
    proc = subprocess.run(
        [sys.executable, "-m", "gluon2caffe", "convert", "fcn_resnet50_voc", "--input-shape", "1,3,32,32"]
        + ["-o", f"{tmp_path}/out/"],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "error:" not in proc.stderr and "ownload" not in proc.stdout + proc.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "fcn_resnet50_voc.caffemodel",
        "fcn_resnet50_voc.json",
        "fcn_resnet50_voc.labels.txt",
        "fcn_resnet50_voc.prototxt",
    ]


def test_relu6_relu_is_reported_as_the_approximation_by_convert_and_verify(tmp_path):
    """convert --verify and the standalone verify give the same verdict: the files record the approximation (a
    clip(0, 6) written as one ReLU), so verify needs no flag to know it."""
    proc = run(
        "convert", "mobilenetv2_0.25", "--input-shape", "1,3,64,64", "--relu6", "relu", "--verify", "-o", tmp_path / "m"
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "status: approximate (--relu6 relu): output off by" in proc.stdout
    assert "every other segment is exact" in proc.stdout
    assert proc.stderr.count("WARNING") == 1 and "(--relu6 relu)" in proc.stderr  # once, naming the flag
    status = next(line for line in proc.stdout.splitlines() if "status:" in line)
    proc = run("verify", tmp_path / "m", "--against", "mobilenetv2_0.25", "-q")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert status in proc.stdout.splitlines()


def test_anchors_priorbox_is_reported_as_the_approximation_within_its_tolerance():
    from gluon2caffe.verification import Comparison
    from gluon2caffe.verification.detectors import DetectorCheck, MovedBoxesMatch, priorbox_verdict

    exact, off = Comparison(1e-6, 1.0), Comparison(0.424, 512.0)
    check = DetectorCheck("caffe", {"loc": exact, "conf": exact, "priors (px)": off, "decoded (px)": off}, None, 1.0)
    check.moved = MovedBoxesMatch(100, 100, 99, min_iou=0.99, max_shift_px=0.44)
    assert check.status == "mismatch"
    verdict = priorbox_verdict(check)
    assert verdict.startswith("approximate (--anchors priorbox): priors off by 0.42 px, decoded boxes by 0.42 px")
    assert "99/100 detections found" in verdict and "tolerance: priors 0.5 px" in verdict
    check.moved.matched = 90  # too many detections lost: beyond the tolerance
    assert priorbox_verdict(check) is None
    check.moved.matched = 99
    check.pre_nms["priors (px)"] = Comparison(2.0, 512.0)  # anchors further off than an int cast can move them
    assert priorbox_verdict(check) is None
    check.pre_nms["priors (px)"] = off
    check.pre_nms["loc"] = Comparison(1.0, 1.0)  # a real error elsewhere stays a mismatch
    assert priorbox_verdict(check) is None


def test_anchors_priorbox_verdict_of_convert_and_verify_agree(tmp_path):
    """A 512 SSD's fractional anchor sizes, which caffe-ssd's PriorBox casts to int: approximate in both commands."""
    name = "ssd_512_mobilenet1.0_voc"
    args = ("--input-shape", "1,3,256,256", "-o", tmp_path / "ssd", "-q")
    proc = run("convert", name, "--anchors", "priorbox", "--verify", *args)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    status = next(line for line in proc.stdout.splitlines() if "status:" in line)
    assert status.startswith("  status: approximate (--anchors priorbox): priors off by"), proc.stdout
    assert "detections, boxes moved by PriorBox:" in proc.stdout
    proc = run("verify", tmp_path / "ssd", "--against", name, "-q")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert status in proc.stdout.splitlines()


def test_plot_without_extension_writes_the_png_it_names(tmp_path, converted):
    proc = run("verify", converted[0] / SMALL, "--against", SMALL, "--plot", tmp_path / "errs")
    assert proc.returncode == 0, proc.stderr
    assert f"plot: {tmp_path / 'errs.png'} (800x600 px, " in proc.stdout and (tmp_path / "errs.png").exists()


def test_demo_takes_the_model_size_and_input_shape(tmp_path):
    proc = run("demo", "--model", SMALL, "--output", f"{tmp_path}/", "-q")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "input (1, 3, 32, 32)" in proc.stdout and (tmp_path / f"{SMALL}.prototxt").exists()


def test_trained_params_load_without_a_forward_pass(tmp_path, monkeypatch):
    """The shapes come from symbolic inference: no forward pass only to finish the deferred initialization."""
    import mxnet as mx
    import numpy as np
    from gluoncv.model_zoo import get_model

    from gluon2caffe.zoo.loader import set_parameters

    trained = get_model(SMALL, pretrained=False)
    trained.initialize(mx.init.Normal(0.5))
    x = mx.nd.array(np.random.RandomState(0).normal(0, 1, (1, 3, 32, 32)))
    expected = trained(x).asnumpy()
    trained.save_parameters(str(tmp_path / "trained.params"))
    net = get_model(SMALL, pretrained=False)
    net.initialize()
    forward = type(net).forward

    def symbolic_only(self, x, *args):
        assert isinstance(x, mx.sym.Symbol), "a forward pass on an array"
        return forward(self, x, *args)

    with monkeypatch.context() as m:
        m.setattr(type(net), "forward", symbolic_only)
        set_parameters(net, str(tmp_path / "trained.params"), (1, 3, 32, 32))
    np.testing.assert_array_equal(net(x).asnumpy(), expected)


@pytest.mark.parametrize("signum, group, code", [(signal.SIGTERM, False, 143), (signal.SIGINT, True, 130)])
def test_an_interrupted_zoo_sweep_leaves_no_temporary_folder(signum, group, code, tmp_path):
    """A sweep stopped while a worker holds converted files (`kill`, or Ctrl-C at a terminal: SIGINT to the whole
    process group) ends its workers, which remove their folders (and their runtime children's) before they exit."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = dict(os.environ, TMPDIR=str(scratch), GLOG_minloglevel="2")
    command = [sys.executable, "-m", "gluon2caffe", "zoo", "--models", "resnet18_v1", "--runtime", "opencv"]
    proc = subprocess.Popen(
        command + ["-o", str(tmp_path / "rt.md")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=_interruptible,
        start_new_session=group,
    )

    # the worker's folder of converted files (the sweep's own journal folder is there from the start)
    def worker_holds_files():
        names = [p.name for p in scratch.iterdir()]
        return any(n.startswith("gluon2caffe-zoo-") and not n.startswith("gluon2caffe-zoo-journal-") for n in names)

    _wait_for(worker_holds_files, proc)
    os.killpg(proc.pid, signum) if group else proc.send_signal(signum)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == code, stderr  # stopped mid-model (not finished before the signal)
    assert list(scratch.iterdir()) == [], stderr
    assert "Traceback" not in stderr, stderr
