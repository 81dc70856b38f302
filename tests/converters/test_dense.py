"""FullyConnected -> InnerProduct and Flatten -> Flatten, in the real Caffe."""

import pytest
from mxnet.gluon import nn

from gluon2caffe.converters.context import TARGETS
from helpers import check_block, lam, seq


@pytest.mark.op("FullyConnected")
@pytest.mark.parametrize("use_bias", [True, False])
@pytest.mark.parametrize("target", ["caffe", "any"])
def test_fully_connected_flatten(use_bias, target):
    """InnerProduct on axis 1; no bias -> bias_term false, except under `any`, which writes a zero bias (x2paddle
    asserts bias_term: converters/forms.py)."""
    checked = check_block(seq(nn.Dense(10, use_bias=use_bias)), (2, 3, 5, 7), target=target)
    ip = checked.result.text_net.layer[-1].inner_product_param
    assert ip.axis == 1 and ip.bias_term == (use_bias or target == "any")


@pytest.mark.op("FullyConnected")
@pytest.mark.parametrize("use_bias", [True, False])
@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (2, 7, 5)], ids=str)
@pytest.mark.parametrize(
    "runtime, target",
    [("caffe", "any"), ("opencv", "any"), ("mnn", "any"), ("ncnn", "any"), ("openvino", "any")]
    + [(runtime, runtime) for runtime in ("caffe", "opencv", "mnn", "ncnn", "openvino")],
)
def test_fully_connected_last_axis(use_bias, shape, runtime, target):
    """flatten=False applies the layer to the last axis only: InnerProduct with that axis, or (targets any, ncnn,
    openvino and opencv: ncnn's InnerProduct ignores the axis and flattens everything, silently; OpenVINO's Model
    Optimizer stops at it; OpenCV folds the BatchNorm after it into its weights per output) a 1x1 Convolution over
    it. The BatchNorm (kept: merge_bn off) reads the channels, not the layer's outputs."""
    net = seq(nn.Dense(6, flatten=False, use_bias=use_bias), nn.BatchNorm())
    checked = check_block(net, shape, runtime=runtime, target=target, merge_bn=False)
    assert checked.mxnet_outputs[0].shape == (*shape[:-1], 6)
    if TARGETS[target].dense_axis == "inner_product":
        assert [
            layer.inner_product_param.axis for layer in checked.result.text_net.layer if layer.type == "InnerProduct"
        ] == [len(shape) - 1]
    else:
        assert "InnerProduct" not in checked.layer_types and checked.layer_types.count("Convolution") == 1


@pytest.mark.op("FullyConnected")
@pytest.mark.parametrize("flatten", [True, False])
def test_fully_connected_on_a_vector(flatten):
    """Found by the property suite: on a 1-D input (N,), flatten=True is N samples of one feature ((N, 1) ->
    (N, units)); the InnerProduct on axis 1 of a 1-D blob aborted Caffe. flatten=False takes the whole vector as one
    sample's features ((N,) -> (units,))."""
    checked = check_block(seq(nn.Dense(3, flatten=flatten)), (4,))
    assert checked.mxnet_outputs[0].shape == ((4, 3) if flatten else (3,))


@pytest.mark.op("Flatten", "FullyConnected")
def test_flatten_then_dense():
    net = seq(nn.Conv2D(4, 3), nn.Flatten(), nn.Dense(5))
    checked = check_block(net, (2, 3, 6, 5))
    assert "Flatten" in checked.layer_types


@pytest.mark.op("Flatten")
def test_flatten_op():
    checked = check_block(seq(nn.Conv2D(3, 1), lam(lambda F, x: F.flatten(x))), (2, 3, 4, 3))
    assert checked.layer_types[-1] == "Flatten"
