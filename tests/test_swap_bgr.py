"""to_bgr=True: Caffe fed the BGR image equals MXNet fed RGB; unswappable inputs are refused, never ignored."""

import mxnet as mx
import numpy as np
import pytest
from mxnet.gluon import HybridBlock, nn

from gluon2caffe import ConversionError, convert_model
from helpers import Lambda, check_block, lam, seq


def test_first_conv():
    checked = check_block(seq(nn.Conv2D(6, 3, padding=1), nn.Activation("relu")), (2, 3, 7, 8), to_bgr=True)
    assert checked.result.report.bgr_swapped


def test_first_conv_after_fold():
    check_block(seq(nn.Conv2D(6, 3, use_bias=False), nn.BatchNorm(), nn.Activation("relu")), (1, 3, 7, 8), to_bgr=True)


def test_first_dense_on_image():
    check_block(seq(nn.Dense(7)), (2, 3, 4, 5), to_bgr=True)


def test_batchnorm_on_input_then_conv():
    """resnet v2 starts with a BatchNorm on the image: the swap goes through it to the conv."""
    for merge_bn in (True, False):
        net = seq(nn.BatchNorm(scale=False, center=False), nn.Conv2D(6, 3), nn.Activation("relu"))
        check_block(net, (2, 3, 7, 8), to_bgr=True, merge_bn=merge_bn)


def test_per_channel_constant_then_conv():
    """GluonCV vgg16_atrous starts with a per-channel multiply by a constant."""
    scale = np.array([0.229, 0.224, 0.225], np.float32).reshape(1, 3, 1, 1) * 255
    shift = np.array([-0.5, 0.1, 0.9], np.float32).reshape(1, 3, 1, 1)
    net = seq(
        Lambda(lambda F, x, s: F.broadcast_mul(x, s), s=scale),
        Lambda(lambda F, x, b: F.broadcast_add(x, b), b=shift),
        nn.Activation("relu"),
        nn.MaxPool2D(2),
        nn.Conv2D(5, 3),
    )
    checked = check_block(net, (1, 3, 8, 9), to_bgr=True)
    assert len(checked.result.report.bgr_swapped) == 5


def test_depthwise_first_conv():
    net = seq(nn.Conv2D(3, 3, groups=3, padding=1), nn.Conv2D(4, 1))
    check_block(net, (1, 3, 6, 7), to_bgr=True)


class TwoConsumers(HybridBlock):
    def __init__(self):
        super().__init__()
        with self.name_scope():
            self.a = nn.Conv2D(4, 3, padding=1)
            self.b = nn.Conv2D(4, 1)

    def hybrid_forward(self, F, x):
        return F.elemwise_add(self.a(x), self.b(x))


def test_input_used_twice():
    check_block(TwoConsumers(), (2, 3, 5, 6), to_bgr=True)


@pytest.mark.parametrize(
    "net",
    [
        lambda: seq(lam(lambda F, x: F.reshape(x, shape=(0, -1))), nn.Dense(4)),
        lambda: seq(lam(lambda F, x: F.transpose(x, axes=(0, 2, 3, 1))), nn.Dense(4, flatten=False)),
        lambda: seq(nn.Activation("relu")),  # the swapped input reaches the output
        lambda: seq(nn.Dense(4, flatten=False)),  # acts on the width axis, not the channels
    ],
    ids=["reshape", "transpose", "to_output", "dense_last_axis"],
)
def test_unswappable_input_is_refused(net):
    block = net()
    block.initialize()
    with pytest.raises(ConversionError, match="to_bgr"):
        convert_model(block, (1, 3, 4, 5), to_bgr=True)
    convert_model(block, (1, 3, 4, 5), to_bgr=False)  # fine without the swap


def test_non_rgb_input_is_refused():
    block = seq(nn.Conv2D(4, 3))
    block.initialize()
    with pytest.raises(ConversionError, match="3-channel"):
        convert_model(block, (1, 1, 8, 8), to_bgr=True)


def test_swap_does_not_touch_the_users_network():
    block = seq(nn.Conv2D(4, 3))
    block.initialize()
    block(mx.nd.zeros((1, 3, 5, 5)))
    before = block[0].weight.data().asnumpy().copy()
    convert_model(block, (1, 3, 5, 5), to_bgr=True)
    assert np.array_equal(block[0].weight.data().asnumpy(), before)
