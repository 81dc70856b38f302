"""Pad (constant) in the real Caffe: folded into a convolution when symmetric, built from BVLC layers otherwise."""

import pytest
from mxnet.gluon import nn

from gluon2caffe import ConversionError
from helpers import check_block, lam, seq


def pad(width, value=0.0):
    return lam(lambda F, x: F.pad(x, mode="constant", pad_width=(0, 0, 0, 0) + width, constant_value=value))


@pytest.mark.op("Pad")
@pytest.mark.parametrize("width", [(1, 1, 1, 1), (2, 2, 0, 0)])
def test_symmetric_pad_folds_into_conv(width):
    checked = check_block(seq(nn.Conv2D(4, 1), pad(width), nn.Conv2D(5, 3)), (2, 3, 6, 7))
    assert checked.result.report.pads_folded == 1 and checked.layer_types.count("Convolution") == 2


@pytest.mark.op("Pad")
@pytest.mark.parametrize("width", [(1, 0, 1, 0), (0, 1, 0, 1), (0, 2, 1, 1), (1, 1, 1, 1)])
@pytest.mark.parametrize("then", ["maxpool", "avgpool", "relu"])
def test_pad_nasnet_style(width, then):
    """NASNet pads top/left by one, pools, then slices the first row/column off."""
    follow = {
        "maxpool": nn.MaxPool2D(3, 2, 1),
        "avgpool": nn.AvgPool2D(3, 2, 1, count_include_pad=False),
        "relu": nn.Activation("relu"),
    }[then]
    net = seq(nn.Conv2D(4, 1), pad(width), follow, lam(lambda F, x: F.slice(x, (0, 0, 1, 1), (None, None, None, None))))
    check_block(net, (2, 3, 9, 8))


@pytest.mark.op("Pad")
def test_pad_with_a_constant():
    checked = check_block(seq(nn.Conv2D(4, 1), pad((1, 2, 0, 1), value=1.5)), (1, 3, 5, 6))
    assert "Bias" in checked.layer_types


def test_edge_pad_is_refused():
    with pytest.raises(ConversionError, match="mode"):
        check_block(
            seq(nn.Conv2D(4, 1), lam(lambda F, x: F.pad(x, mode="edge", pad_width=(0, 0, 0, 0, 1, 1, 1, 1)))),
            (1, 3, 5, 5),
        )
