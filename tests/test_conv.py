"""Convolution -> Convolution, in the real Caffe."""

import pytest
from mxnet.gluon import nn

from helpers import check_block, seq

CASES = {
    # name: (Conv2D kwargs, input shape)
    "3x3_pad1": (dict(channels=8, kernel_size=3, padding=1), (2, 3, 11, 10)),
    "stride2_odd": (dict(channels=6, kernel_size=3, strides=2, padding=1), (1, 3, 13, 9)),
    "stride3_nopad": (dict(channels=4, kernel_size=5, strides=3), (1, 3, 17, 16)),
    "dilation2": (dict(channels=5, kernel_size=3, dilation=2, padding=2), (1, 3, 12, 11)),
    "dilation_hw": (dict(channels=5, kernel_size=3, dilation=(1, 3), padding=(1, 3)), (1, 3, 10, 14)),
    "no_bias": (dict(channels=7, kernel_size=3, use_bias=False), (1, 3, 9, 9)),
    "kernel_1x7": (dict(channels=6, kernel_size=(1, 7), padding=(0, 3)), (1, 3, 9, 15)),
    "kernel_7x1": (dict(channels=6, kernel_size=(7, 1), padding=(3, 0)), (1, 3, 15, 9)),
    "asym_stride": (dict(channels=4, kernel_size=(3, 2), strides=(2, 1), padding=(1, 0)), (1, 3, 11, 8)),
    "groups": (dict(channels=6, kernel_size=3, groups=3, padding=1), (1, 3, 8, 8)),
    "pointwise": (dict(channels=16, kernel_size=1), (3, 3, 5, 7)),
}


@pytest.mark.op("Convolution")
@pytest.mark.parametrize("case", sorted(CASES))
def test_convolution(case):
    kwargs, shape = CASES[case]
    checked = check_block(seq(nn.Conv2D(**kwargs)), shape)
    assert checked.layer_types == ["Input", "Convolution"]


@pytest.mark.op("Convolution")
def test_depthwise_convolution():
    net = seq(nn.Conv2D(12, 3, padding=1), nn.Conv2D(12, 3, strides=2, padding=1, groups=12, use_bias=False))
    checked = check_block(net, (1, 3, 15, 14))
    conv = checked.result.text_net.layer[-1].convolution_param
    assert conv.group == 12 and not conv.bias_term
