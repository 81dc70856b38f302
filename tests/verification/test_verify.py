"""gluon2caffe.verify as a library: per-output and per-layer errors, and where a broken conversion goes wrong."""

import builtins
import subprocess
import sys

import mxnet as mx
import numpy as np
import pytest
from gluoncv.model_zoo import get_model
from mxnet.gluon import HybridBlock, nn

import gluon2caffe
from gluon2caffe import convert, save_model
from gluon2caffe.caffe import caffe_pb2 as pb
from gluon2caffe.zoo.randomize import randomize
from gluon2caffe.verification import RuntimeUnavailableError, default_runtime, plot_layers, plot_size

SHAPE = (1, 3, 64, 64)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    net = get_model("resnet18_v1", pretrained=False)
    net.initialize()
    randomize(net, SHAPE, seed=4)
    result = convert(net, SHAPE)
    files = save_model(result.text_net, result.binary_weights, tmp_path_factory.mktemp("v") / "r18")
    return net, result, files


def test_verify_outputs_and_layers(model, tmp_path):
    net, result, files = model
    r = gluon2caffe.verify(*files, net, layers=True)
    assert r.ok and r.runtime == "caffe" and r.first_divergence is None
    assert list(r.outputs) == result.graph.outputs
    # Every conv/relu/pool/add blob has an MXNet counterpart (folded convs carry their BatchNorm's name).
    assert len(r.layers) >= 40 and all(b.comparison.ok for b in r.layers)
    assert any(b.blob.endswith("_batchnorm0_fwd") for b in r.layers)
    png = plot_layers(r, str(tmp_path / "p.png"))
    assert open(png, "rb").read(4) == b"\x89PNG"
    from PIL import Image

    assert Image.open(png).size == tuple(int(v) for v in plot_size(len(r.layers))) == (800, 600)
    assert plot_size(197) == (1600, 600)  # a deep net's curve stays readable: width capped, names thinned out


def test_first_divergence_finds_a_broken_layer(model, tmp_path):
    net, result, files = model
    broken = pb.NetParameter.FromString(result.binary_weights.SerializeToString())
    target = [layer for layer in broken.layer if layer.type == "Convolution"][5]
    weights = np.array(target.blobs[0].data)
    target.blobs[0].data[:] = (weights * 1.01).tolist()
    bad = save_model(result.text_net, broken, tmp_path / "bad")
    r = gluon2caffe.verify(*bad, net, layers=True)
    assert not r.ok
    assert r.first_divergence.layer == target.name
    before = r.layers.index(r.first_divergence)
    assert all(b.comparison.ok for b in r.layers[:before])
    assert "<- first error above tolerance" in r.layer_table()


def test_opencv_runtime_and_image_input(model, tmp_path):
    from PIL import Image

    net, result, files = model
    image = tmp_path / "x.png"
    Image.fromarray(np.random.RandomState(1).randint(0, 255, (80, 70, 3), np.uint8)).save(image)
    r = gluon2caffe.verify(*files, net, runtime="opencv", input=str(image))
    assert r.ok and r.runtime == "opencv" and "x.png" in r.input_description


def test_softmax_output_is_matched(tmp_path):
    net = get_model("squeezenet1.1", pretrained=False)
    net.initialize()
    randomize(net, (1, 3, 227, 227), seed=1)
    result = convert(net, (1, 3, 227, 227), softmax=True)
    files = save_model(result.text_net, result.binary_weights, tmp_path / "sq")
    r = gluon2caffe.verify(*files, net)
    assert r.ok and list(r.outputs)[0].endswith("_softmax")


def test_no_runtime_is_a_clear_error(monkeypatch):
    real_import = builtins.__import__

    def no_runtimes(name, *args, **kwargs):
        if name in ("caffe", "cv2"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_runtimes)
    with pytest.raises(RuntimeUnavailableError, match="pycaffe.*OpenCV"):
        default_runtime()


def test_a_non_finite_mxnet_output_is_not_called_a_conversion_error():
    from gluon2caffe.verification import NOT_FINITE, VerificationResult, compare
    from gluon2caffe.verification.detectors import DetectorCheck

    c = compare(np.ones(3), np.array([1.0, np.nan, np.inf]))
    assert not c.ok and "MXNet's own output is not finite (2 NaN/inf values)" in str(c)
    assert VerificationResult("caffe", {"y": c}).status == NOT_FINITE
    assert DetectorCheck("caffe", {"loc": c}, None, 1.0).status == NOT_FINITE
    assert compare(np.array([1.0, np.nan]), np.ones(2)).max_abs == np.inf  # Caffe's NaN stays a mismatch


# -- the rule (issue 24): no floor, constant tensors and outputs that ignore the input prove nothing --------------


def test_compare_scales_with_the_tensor_and_calls_constant_tensors_not_conclusive():
    from gluon2caffe.verification import EXACT, MISMATCH, NOT_CONCLUSIVE, compare

    tiny = np.array([1e-6, -3e-6, 2e-6])
    assert compare(tiny * 1.00001, tiny).status == EXACT
    off = compare(tiny * 1.05, tiny)  # the old floor of 1 passed this (max abs 1.5e-7)
    assert off.status == MISMATCH and off.relative == pytest.approx(0.05) and off.scale == pytest.approx(3e-6)
    # The magnitude of the computation raises the scale (cancellation), never lowers it.
    assert compare(tiny * 1.05, tiny, magnitude=1e-2).status == EXACT
    assert compare(tiny * 1.05, tiny, magnitude=1e-9).status == MISMATCH
    for constant in (np.zeros(4), np.full(4, 0.25), np.array([1.0, 1.0 + 1e-5])):  # a constant would pass
        c = compare(constant, constant)
        assert c.constant and not c.ok and c.within and c.status == NOT_CONCLUSIVE and "not conclusive" in str(c)
        assert compare(constant + 0.1, constant).status == MISMATCH  # a difference is still a mismatch
    assert compare(np.array([0.5]), np.array([0.5])).status == EXACT  # one value: compared as a value
    assert compare(np.zeros(1), np.zeros(1)).status == NOT_CONCLUSIVE
    with pytest.raises(gluon2caffe.errors.InvalidCallError, match="cannot compare shape"):
        compare(np.zeros(3), np.zeros(4))


class _IgnoresInput(HybridBlock):
    """A net whose output does not depend on its input: a ReLU that is never positive (x - 1000), then a Dense whose
    bias is all that reaches the output. `bias=0`: the output is all zero (constant)."""

    def __init__(self, bias: float = 0.5, **kwargs):
        super().__init__(**kwargs)
        with self.name_scope():
            self.a = nn.Dense(8, in_units=6)
            self.b = nn.Dense(3, in_units=8, bias_initializer=None)
        self.bias = bias

    def hybrid_forward(self, F, x):
        return self.b(F.relu(self.a(x) - 1000.0))


def _ignores_input(bias: float):
    net = _IgnoresInput(bias, prefix="dead_")
    net.initialize()  # initialize()'s default weights, as a user's untrained export
    net.b.bias.set_data(mx.nd.array([bias, -2 * bias, 3 * bias]))
    return net


@pytest.mark.parametrize("bias", [0.5, 0.0], ids=["ignores-input", "all-zero"])
def test_an_output_that_does_not_depend_on_the_input_is_not_conclusive(tmp_path, bias):
    from gluon2caffe.verification import CONCLUSIVE_REMEDY, NOT_CONCLUSIVE

    net = _ignores_input(bias)
    result = convert(net, (2, 6))
    files = save_model(result.text_net, result.binary_weights, tmp_path / "dead")
    for layers in (False, "local"):
        r = gluon2caffe.verify(*files, net, layers=layers)
        (c,) = r.outputs.values()
        assert c.within and r.status == NOT_CONCLUSIVE and not r.ok, (r.status, c)
        assert CONCLUSIVE_REMEDY in r.reason and r.verdict.startswith("not conclusive: ")
        what = "is constant" if bias == 0 else "does not depend on the input (a second input, random normal (seed 1)"
        assert what in r.reason, r.reason
    assert "constant" in r.local.distribution()


def _export(net, prefix, shape):
    net.hybridize()
    net(mx.nd.zeros(shape))
    net.export(str(prefix))
    return prefix


def _cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "gluon2caffe", *map(str, args)], capture_output=True, text=True, timeout=600
    )


def test_cli_says_not_conclusive_and_what_to_do(tmp_path):
    """`convert --verify` and `verify` on a net that ignores its input: exit 1, the status names the remedy."""
    exported = _export(_ignores_input(0.5), tmp_path / "dead", (2, 6))
    proc = _cli("convert", exported, "--input-shape", "2,6", "-o", tmp_path / "out", "--verify", "-q")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    status = next(line for line in proc.stdout.splitlines() if "status:" in line)
    assert status.startswith("  status: not conclusive: the MXNet output") and "does not depend on the input" in status
    assert "--params FILE" in status and "--input IMAGE" in status
    proc = _cli("verify", tmp_path / "out", "--against", exported, "-q")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "status: not conclusive: " in proc.stdout and "--params FILE" in proc.stdout
    assert "input dependence:" not in proc.stdout or "does not depend" in proc.stdout


class _TwoSizes(HybridBlock):
    """conv (channels) -> relu -> dense (classes): two models with the same tensor names and other shapes."""

    def __init__(self, channels: int, classes: int, **kwargs):
        super().__init__(**kwargs)
        with self.name_scope():
            self.conv = nn.Conv2D(channels, 3, in_channels=3)
            self.fc = nn.Dense(classes, in_units=channels * 6 * 6)

    def hybrid_forward(self, F, x):
        return self.fc(F.relu(self.conv(x)))


def _two_sizes(channels: int, classes: int):
    net = _TwoSizes(channels, classes, prefix="similar_")
    net.initialize()
    randomize(net, (1, 3, 8, 8), seed=2)
    return net


@pytest.mark.parametrize("classes", [4, 5], ids=["same-output", "other-output"])
def test_files_of_another_model_are_a_mismatch_naming_the_blobs(tmp_path, classes):
    """Issue 24: verify against a similar model (same tensor names, other shapes) raised `cannot reshape array`
    from the layer-local check. Every layers mode names the blobs whose shapes differ, status mismatch."""
    from gluon2caffe.verification import MISMATCH

    result = convert(_two_sizes(8, 4), (1, 3, 8, 8))
    files = save_model(result.text_net, result.binary_weights, tmp_path / "a")
    other = _two_sizes(16, classes)
    for layers in (False, "accumulated", "local"):
        r = gluon2caffe.verify(*files, other, layers=layers)
        assert r.status == MISMATCH and r.shape_differences, (layers, r.outputs)
        assert "similar_conv0_fwd: Caffe (1,8,6,6), MXNet (1,16,6,6)" in r.reason, (layers, r.reason)
        assert "the files were not converted from this model" in r.reason
        if classes == 5:
            assert "similar_dense0_fwd: Caffe (1,4), MXNet (1,5)" in r.reason


def test_cli_verify_against_another_model_exits_1_naming_the_blobs(tmp_path):
    result = convert(_two_sizes(8, 4), (1, 3, 8, 8))
    save_model(result.text_net, result.binary_weights, tmp_path / "a")
    exported = _export(_two_sizes(16, 4), tmp_path / "other", (1, 3, 8, 8))
    for flags in ((), ("--local",), ("--layers",)):
        proc = _cli("verify", tmp_path / "a", "--against", exported, "-q", *flags)
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert "Traceback" not in proc.stderr and "error:" not in proc.stderr, proc.stderr
        status = next(line for line in proc.stdout.splitlines() if "status:" in line)
        assert status.startswith("  status: mismatch: 1 named blob") or status.startswith("  status: mismatch: 2"), (
            status
        )
        assert "similar_conv0_fwd: Caffe (1,8,6,6), MXNet (1,16,6,6)" in status, status


def test_a_detector_check_that_proves_nothing_is_not_conclusive():
    """The detector checks use the same rule: pre-NMS outputs a second scene does not move are not conclusive (and a
    difference stays a mismatch); the zoo row says so instead of `exact`."""
    from gluon2caffe.zoo.sweep import _detector_verdict
    from gluon2caffe.verification import compare, input_dependence
    from gluon2caffe.verification.detectors import DetectorCheck

    conf = np.array([[0.1, 0.7, 0.2], [0.3, 0.3, 0.4]])
    same = compare(conf, conf)
    dead = input_dependence({"conf": conf}, {"conf": conf}, {"conf": same}, "synthetic scene (seed 2)")
    check = DetectorCheck("caffe", {"conf": same}, None, dead.smallest, dependence=dead)
    assert check.status == "not conclusive" and "synthetic scene (seed 2)" in check.reason
    assert _detector_verdict(check) == ("not conclusive", check.reason)
    check.pre_nms["conf"] = compare(conf + 0.01, conf)
    assert check.status == "mismatch"
    alive = input_dependence({"conf": conf}, {"conf": conf[::-1]}, {"conf": same}, "synthetic scene (seed 2)")
    assert DetectorCheck("caffe", {"conf": same}, None, alive.smallest, dependence=alive).status == "exact"
