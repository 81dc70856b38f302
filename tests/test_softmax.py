"""softmax -> Softmax (axis always written) and softmax=True, in the real Caffe."""

import pytest
from mxnet.gluon import nn

from helpers import check_block, lam, seq


@pytest.mark.op("softmax")
@pytest.mark.parametrize("axis, expected", [(-1, 3), (1, 1), (2, 2), (-3, 1)])
def test_softmax_axis(axis, expected):
    checked = check_block(seq(nn.Conv2D(4, 3), lam(lambda F, x: F.softmax(x, axis=axis))), (2, 3, 6, 5), scale=3.0)
    assert checked.result.text_net.layer[-1].softmax_param.axis == expected


def test_softmax_default_axis_is_last():
    checked = check_block(seq(nn.Dense(7, flatten=False), lam(lambda F, x: F.softmax(x))), (1, 3, 4, 5), scale=3.0)
    assert checked.result.text_net.layer[-1].softmax_param.axis == 3


def test_softmax_option_appends_class_softmax():
    checked = check_block(seq(nn.Conv2D(4, 3), nn.Flatten(), nn.Dense(10)), (2, 3, 6, 6), softmax=True, scale=3.0)
    last = checked.result.text_net.layer[-1]
    assert last.type == "Softmax" and last.softmax_param.axis == 1
    assert checked.result.graph.outputs == [last.top[0]]
