"""Activations, in the real Caffe; inputs of both signs."""

import pytest
from mxnet.gluon import nn

from helpers import check_block, lam, seq


@pytest.mark.op("Activation")
@pytest.mark.parametrize(
    "act, caffe_type",
    [("relu", "ReLU"), ("sigmoid", "Sigmoid"), ("tanh", "TanH"), ("softrelu", "BNLL")],
)
def test_activation(act, caffe_type):
    checked = check_block(seq(nn.Conv2D(4, 3), nn.Activation(act)), (2, 3, 7, 6), scale=3.0)
    assert checked.layer_types[-1] == caffe_type


@pytest.mark.parametrize(
    "op, caffe_type",
    [
        pytest.param("relu", "ReLU", marks=pytest.mark.op("relu")),
        pytest.param("sigmoid", "Sigmoid", marks=pytest.mark.op("sigmoid")),
        pytest.param("tanh", "TanH", marks=pytest.mark.op("tanh")),
    ],
)
def test_bare_activation_ops(op, caffe_type):
    checked = check_block(seq(nn.Conv2D(4, 3), lam(lambda F, x: getattr(F, op)(x))), (1, 3, 6, 7), scale=3.0)
    assert checked.layer_types[-1] == caffe_type


def test_unknown_activation_type_in_a_file_is_a_clear_error():
    """MXNet 1.9 has five act_types, all converted; a file may still name another."""
    from gluon2caffe import ConversionError
    from gluon2caffe.converters.emit import EmitOptions, emit_layers
    from gluon2caffe.ir.attrs import Attrs
    from gluon2caffe.ir.graph import Graph, Node

    node = Node("act", "Activation", Attrs("act", "Activation", {"act_type": "mish"}), ["data"], ["act"])
    graph = Graph([node], {"data": (1, 3)}, ["act"], {}, {"data": (1, 3), "act": (1, 3)})
    with pytest.raises(ConversionError, match="node 'act' op Activation attribute 'act_type': is 'mish'"):
        emit_layers(graph, EmitOptions())


@pytest.mark.op("LeakyReLU")
@pytest.mark.parametrize(
    "kwargs, caffe_type",
    [
        (dict(act_type="leaky", slope=0.1), "ReLU"),
        (dict(act_type="leaky"), "ReLU"),
        (dict(act_type="elu", slope=0.7), "ELU"),
    ],
)
def test_leaky_relu(kwargs, caffe_type):
    checked = check_block(seq(nn.Conv2D(4, 3), lam(lambda F, x: F.LeakyReLU(x, **kwargs))), (2, 3, 6, 7), scale=3.0)
    assert checked.layer_types[-1] == caffe_type


@pytest.mark.op("LeakyReLU")
@pytest.mark.parametrize("shared", [False, True])
@pytest.mark.parametrize("runtime", ["caffe", "opencv", "mnn", "ncnn"])
def test_prelu(shared, runtime):
    """A shared slope is written per channel (C copies): OpenCV cannot load Caffe's 0-d shared slope blob."""
    net = seq(
        nn.Conv2D(5, 3),
        nn.PReLU(alpha_initializer=__import__("mxnet").init.Constant(0.2), in_channels=1 if shared else 5),
    )
    checked = check_block(net, (2, 3, 6, 7), scale=3.0, runtime=runtime)
    assert checked.layer_types[-1] == "PReLU"
    layer = checked.result.text_net.layer[-1]
    assert not layer.prelu_param.channel_shared
    assert list(checked.result.binary_weights.layer[-1].blobs[0].shape.dim) == [5]


@pytest.mark.op("LeakyReLU")
@pytest.mark.parametrize("shared", [False, True])
def test_prelu_on_5d(shared):
    """Found by the property suite: Caffe's PReLU reads its blob through the 4-D accessors and aborted the
    process on a 5-D one ("Cannot use legacy accessors on Blobs with > 4 axes"); it runs on the (N, C, rest) view."""
    net = seq(nn.Conv3D(3, 1), nn.PReLU(in_channels=1 if shared else 3))
    checked = check_block(net, (2, 2, 3, 4, 5), scale=3.0)
    assert checked.layer_types[-3:] == ["Reshape", "PReLU", "Reshape"]


def test_gelu_is_refused():
    from gluon2caffe import ConversionError

    with pytest.raises(ConversionError, match="gelu"):
        check_block(seq(nn.Conv2D(4, 3), lam(lambda F, x: F.LeakyReLU(x, act_type="gelu"))), (1, 3, 6, 7))
