"""save_model: creates folders, writes both files atomically, never leaves half-written files."""

import os

import pytest
from google.protobuf import text_format
from mxnet.gluon import nn

from gluon2caffe import convert_model, save_model
from gluon2caffe.proto import caffe_pb2 as pb
from helpers import seq


@pytest.fixture(scope="module")
def nets():
    net = seq(nn.Conv2D(4, 3), nn.BatchNorm(), nn.Dense(3))
    net.initialize()
    return convert_model(net, (1, 3, 8, 8))


def test_creates_folders_and_both_files(tmp_path, nets):
    prototxt, caffemodel = save_model(*nets, prefix=tmp_path / "a" / "b" / "model")
    assert prototxt.endswith("model.prototxt") and caffemodel.endswith("model.caffemodel")
    text = text_format.Parse(open(prototxt).read(), pb.NetParameter())
    assert text == nets[0]
    assert pb.NetParameter.FromString(open(caffemodel, "rb").read()) == nets[1]
    assert sorted(os.listdir(tmp_path / "a" / "b")) == ["model.caffemodel", "model.prototxt"]


def test_text_net_has_no_weights_binary_has_them(nets):
    text_net, binary = nets
    assert all(len(layer.blobs) == 0 for layer in text_net.layer)
    assert sum(len(layer.blobs) for layer in binary.layer) > 0
    assert [layer.name for layer in text_net.layer] == [layer.name for layer in binary.layer]


def test_failure_leaves_previous_pair_and_no_temp_files(tmp_path, nets, monkeypatch):
    prefix = tmp_path / "model"
    save_model(*nets, prefix=prefix)
    before = {p: open(tmp_path / p, "rb").read() for p in os.listdir(tmp_path)}

    real_fsync = os.fsync
    calls = []

    def failing_fsync(fd):
        calls.append(fd)
        if len(calls) == 2:  # the caffemodel, after the prototxt was written
            raise OSError("disk full")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", failing_fsync)
    other = pb.NetParameter(name="other")
    with pytest.raises(OSError, match="disk full"):
        save_model(other, other, prefix=prefix)
    monkeypatch.undo()
    assert {p: open(tmp_path / p, "rb").read() for p in os.listdir(tmp_path)} == before
