"""save_model: creates folders, writes both files atomically, never leaves half-written files."""

import os

import pytest
from google.protobuf import text_format
from mxnet.gluon import nn

from gluon2caffe import convert_model, save_model
from gluon2caffe.caffe import caffe_pb2 as pb
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
    assert nets[1] == pb.NetParameter.FromString(open(caffemodel, "rb").read())
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
        save_model(other, other, prefix=prefix, sync=True)  # sync=True: each file is fsynced before the renames
    monkeypatch.undo()
    assert {p: open(tmp_path / p, "rb").read() for p in os.listdir(tmp_path)} == before


def _plain_protobuf(result_layers, name):
    """The same net built through protobuf's own API (repeated float fields filled from the arrays)."""
    net = pb.NetParameter(name=name)
    for layer in result_layers:
        proto = net.layer.add()
        proto.CopyFrom(layer.proto)
        for array in layer.blobs:
            blob = proto.blobs.add()
            blob.shape.dim.extend(array.shape)
            blob.data.extend(array.astype("float32").ravel().tolist())
    return net.SerializeToString()


@pytest.mark.parametrize("merge_bn", [True, False])
def test_streamed_caffemodel_is_byte_identical_to_protobuf(tmp_path, merge_bn):
    from gluon2caffe.api import convert

    # BatchNorm blobs, a 0-d shared PReLU slope, convolutions with and without bias, a Dense.
    net = seq(nn.Conv2D(4, 3), nn.BatchNorm(), nn.PReLU(), nn.Conv2D(2, 1, use_bias=False), nn.Dense(3))
    net.initialize()
    result = convert(net, (1, 3, 8, 8), to_bgr=False, merge_bn=merge_bn)
    weights = result.binary_weights
    plain = _plain_protobuf(weights._layers, result.text_net.name)
    assert weights.SerializeToString() == plain and weights.ByteSize() == len(plain)
    _, caffemodel = save_model(result.text_net, weights, tmp_path / "m")
    assert open(caffemodel, "rb").read() == plain
    assert weights == pb.NetParameter.FromString(plain) and weights.num_parameters == result.num_parameters


def test_zoo_model_stream_round_trips_through_protobuf():
    from gluoncv.model_zoo import get_model

    net = get_model("squeezenet1.1", pretrained=False)
    net.initialize()
    text_net, weights = convert_model(net, (1, 3, 227, 227))
    data = weights.SerializeToString()
    assert pb.NetParameter.FromString(data).SerializeToString() == data  # canonical field order and encoding
    assert [layer.name for layer in weights.layer] == [layer.name for layer in text_net.layer]


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_files_get_their_mode_from_the_umask(tmp_path, nets, umask, mode):
    old = os.umask(umask)
    try:
        paths = save_model(*nets, prefix=tmp_path / "m")
    finally:
        os.umask(old)
    assert [os.stat(p).st_mode & 0o777 for p in paths] == [mode, mode]
