"""The model card from the API: model_card(result, prefix) and save_model(..., card=) writing PREFIX.json with the
Caffe files, atomically; its input entry says how to feed the net (channel order, range, normalization, the
OpenCV call) with and without preprocess=, and reads back as the same normalization."""

import json
import os

import mxnet as mx
import numpy as np
import pytest
from mxnet.gluon import nn

from gluon2caffe import InvalidCallError, Preprocess, convert, load_card, model_card, save_model
from gluon2caffe.card import card_preprocess, expects_lines
from gluon2caffe.ir.preprocess import IMAGENET
from helpers import seq


def _result(**options):
    net = seq(nn.Conv2D(4, 3, padding=1), nn.Activation("relu"), nn.GlobalAvgPool2D(), nn.Dense(7))
    net.initialize(mx.init.Normal(0.5))
    return convert(net, (1, 3, 16, 12), **options)


def test_card_written_with_the_files(tmp_path):
    result = _result(preprocess="imagenet")
    prefix = tmp_path / "sub" / "net"
    save_model(result.text_net, result.binary_weights, prefix, card=model_card(result, prefix, task="classification"))
    assert sorted(os.listdir(tmp_path / "sub")) == ["net.caffemodel", "net.json", "net.prototxt"]
    card = load_card(prefix)
    assert card == json.loads((tmp_path / "sub" / "net.json").read_text())
    (feed,) = card["inputs"]
    assert feed["shape"] == [1, 3, 16, 12] and feed["channel_order"] == "BGR" and feed["in_net"]
    assert "blobFromImage(img, scalefactor=1.0, size=(12, 16), swapRB=False)" in feed["opencv"]
    assert card_preprocess(feed) == IMAGENET  # back in RGB order
    (out,) = card["outputs"]
    assert out["shape"] == [1, 7] and out["meaning"].startswith("class scores")
    assert card["options"]["to_bgr"] is True and card["options"]["input_shape"] == [1, 3, 16, 12]


def test_card_without_preprocess_says_how_to_normalize():
    result = _result(to_bgr=False, softmax=True)
    card = model_card(result, "x")
    (feed,) = card["inputs"]
    assert not feed["in_net"] and feed["channel_order"] == "RGB"
    assert feed["normalization"]["mean"] == [0.485, 0.456, 0.406]
    assert "scalefactor=1/255" in feed["opencv"] and "swapRB=True" in feed["opencv"]
    assert "/ np.array([0.229, 0.224, 0.225]" in feed["opencv"]
    assert "--preprocess imagenet puts it in the net" in expects_lines(feed)[0]
    assert card["outputs"][0]["meaning"].startswith("class probabilities (softmax)")


def test_custom_preprocess_round_trips():
    custom = Preprocess(mean=(1.0, 2.0, 3.0), std=(4.0, 5.0, 6.0), scale=7.0)
    (feed,) = model_card(_result(preprocess=custom), "x")["inputs"]
    assert feed["normalization"]["mean"] == [3.0, 2.0, 1.0] and card_preprocess(feed) == custom


def test_a_failed_save_leaves_nothing(tmp_path):
    result = _result()
    card = model_card(result, tmp_path / "net")
    card["bad"] = object()  # json cannot write it
    with pytest.raises(TypeError):
        save_model(result.text_net, result.binary_weights, tmp_path / "net", card=card)
    assert os.listdir(tmp_path) == []


def test_load_card_errors(tmp_path):
    with pytest.raises(InvalidCallError, match="cannot read the model card"):
        load_card(tmp_path / "missing")
    (tmp_path / "other.json").write_text(json.dumps({"a": 1}))
    with pytest.raises(InvalidCallError, match="not a gluon2caffe model card"):
        load_card(tmp_path / "other")


def test_preprocess_numbers_in_rgb_order_stay_float32_exact():
    w, b = IMAGENET.scale_blobs(bgr=True)
    assert w.dtype == np.float32 and np.allclose(w, 1 / (255 * np.array([0.225, 0.224, 0.229])))
    assert np.allclose(b, -np.array([0.406, 0.456, 0.485]) / np.array([0.225, 0.224, 0.229]))
