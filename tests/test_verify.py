"""gluon2caffe.verify as a library: per-output and per-layer errors, and where a broken conversion goes wrong."""

import builtins

import numpy as np
import pytest
from gluoncv.model_zoo import get_model

import gluon2caffe
from gluon2caffe import convert, save_model
from gluon2caffe.caffe import caffe_pb2 as pb
from gluon2caffe.tools.randomize import randomize
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
