"""preprocess=: the net takes raw pixels and normalizes them itself, in one per-channel Scale with bias after the
Input (ir/preprocess.py), in the Caffe input's channel order; never folded into a padded first convolution. Caffe
fed the pixels equals MXNet fed their normalization, in pycaffe and in every deployment runtime."""

import mxnet as mx
import numpy as np
import pytest
from mxnet.gluon import nn

from gluon2caffe import InvalidCallError, convert
from gluon2caffe.ir.preprocess import IMAGENET, Preprocess
from gluon2caffe.verification import compare, mxnet_forward, run_converted
from gluon2caffe.verification.inputs import bgr_feed
from gluon2caffe.zoo.randomize import randomize
from helpers import check_block, seq

CUSTOM = Preprocess(mean=(120.0, -3.5, 60.25), std=(50.0, 7.0, 0.5), scale=1.0)  # very different per channel


def _net():
    # A padded first convolution: a normalization folded into it would be wrong at the borders.
    return seq(nn.Conv2D(6, 3, padding=1), nn.BatchNorm(epsilon=1e-3), nn.Activation("relu"), nn.Conv2D(4, 3))


@pytest.mark.parametrize("to_bgr", [True, False])
@pytest.mark.parametrize("preprocess", ["imagenet", "cifar", "unit", CUSTOM])
def test_both_sign_inputs_in_caffe(to_bgr, preprocess):
    checked = check_block(_net(), (2, 3, 9, 8), to_bgr=to_bgr, preprocess=preprocess)
    assert checked.result.report.preprocessed == ["data"]


@pytest.mark.parametrize("runtime", ["opencv", "mnn", "ncnn"])
def test_both_sign_inputs_in_runtimes(runtime):
    check_block(_net(), (1, 3, 9, 8), to_bgr=True, preprocess="imagenet", runtime=runtime)


@pytest.mark.parametrize("runtime", ["caffe", "opencv", "mnn", "ncnn"])
def test_pixels_0_to_255(runtime):
    """Real pixels (integers 0..255): Caffe fed them in BGR equals MXNet fed GluonCV's own (x/255 - mean)/std."""
    from conftest import runtime_or_skip

    runtime_or_skip(runtime)
    net = _net()
    net.initialize(mx.init.Normal(0.5))
    randomize(net, (1, 3, 11, 10), seed=3)
    result = convert(net, (1, 3, 11, 10), preprocess="imagenet")
    rng = np.random.RandomState(4)
    pixels = [rng.randint(0, 256, (1, 3, 11, 10)).astype(np.float32) for _ in range(2)]
    outputs = []
    for raw in pixels:
        expected = mxnet_forward(net, IMAGENET.normalize(raw))[0]
        got = run_converted(result.text_net, result.binary_weights, {"data": raw[:, ::-1].copy()}, runtime=runtime)
        c = compare(got[result.graph.outputs[0]], expected)
        assert c.ok, c
        outputs.append(expected)
    # The two images give different outputs, by far more than the tolerance: the comparison is not vacuous.
    assert np.abs(outputs[0] - outputs[1]).max() > 100 * 1e-4 * np.abs(outputs[0]).max()


def test_one_scale_layer_in_bgr_order_not_folded():
    net = _net()
    net.initialize(mx.init.Normal(0.5))
    randomize(net, (1, 3, 9, 8))
    plain = convert(net, (1, 3, 9, 8), to_bgr=False)
    for to_bgr, order in ((True, [2, 1, 0]), (False, [0, 1, 2])):
        result = convert(net, (1, 3, 9, 8), to_bgr=to_bgr, preprocess=CUSTOM)
        layers = result.binary_weights.layer
        assert [layer.type for layer in layers[:3]] == ["Input", "Scale", "Convolution"]
        scale = result.text_net.layer[1]
        assert list(scale.bottom) == ["data"] and scale.scale_param.bias_term and scale.scale_param.axis == 1
        assert list(result.text_net.layer[2].bottom) == list(scale.top)
        weight, bias = (np.array(b.data, np.float32) for b in layers[1].blobs)
        std, mean = np.array(CUSTOM.std)[order], np.array(CUSTOM.mean)[order]
        np.testing.assert_array_equal(weight, (1 / std).astype(np.float32))
        np.testing.assert_array_equal(bias, (-mean / std).astype(np.float32))
    # The first convolution is the one written without preprocessing (nothing folded into it).
    with_pre = convert(net, (1, 3, 9, 8), to_bgr=False, preprocess=CUSTOM).binary_weights.layer[2]
    first = plain.binary_weights.layer[1]
    assert with_pre.convolution_param == first.convolution_param and list(first.bottom) == ["data"]
    assert [b.SerializeToString() for b in with_pre.blobs] == [b.SerializeToString() for b in first.blobs]


def test_verify_feeds_pixels_to_caffe(tmp_path):
    from gluon2caffe import save_model, verify

    net = _net()
    net.initialize(mx.init.Normal(0.5))
    randomize(net, (1, 3, 9, 8))
    result = convert(net, (1, 3, 9, 8), preprocess="imagenet")
    prototxt, caffemodel = save_model(result.text_net, result.binary_weights, tmp_path / "m")
    assert verify(prototxt, caffemodel, net, preprocess=IMAGENET, layers="local").ok
    # Without being told, verify feeds the normalized image as pixels: the files are then far off.
    assert not verify(prototxt, caffemodel, net).outputs_ok


def test_feed_is_the_inverse():
    x = np.random.RandomState(0).normal(0, 2, (2, 3, 4, 5)).astype(np.float32)
    raw = bgr_feed({"data": x}, True, IMAGENET)["data"][:, ::-1]
    np.testing.assert_allclose(IMAGENET.normalize(raw), x, atol=2e-6)


@pytest.mark.parametrize(
    "preprocess",
    ["caffe", Preprocess(std=(1, 0, 1)), Preprocess(mean=(1, 2)), Preprocess(scale=-1), (0.5, 0.5, 0.5)],
)
def test_bad_preprocess_is_refused(preprocess):
    with pytest.raises(InvalidCallError, match="preprocess"):
        convert(seq(nn.Conv2D(2, 1)), (1, 3, 4, 4), preprocess=preprocess)


def test_non_image_input_left_alone(caplog):
    net = seq(nn.Dense(3))
    net.initialize()
    result = convert(net, (2, 5), preprocess="imagenet", to_bgr=False)
    assert result.report.preprocessed == [] and "no 3-channel axis 1" in caplog.text
