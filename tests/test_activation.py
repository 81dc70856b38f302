"""Activations, in the real Caffe; inputs of both signs."""

import pytest
from mxnet.gluon import nn

from helpers import check_block, lam, seq


@pytest.mark.parametrize(
    "act, caffe_type",
    [("relu", "ReLU"), ("sigmoid", "Sigmoid"), ("tanh", "TanH"), ("softrelu", "BNLL")],
)
def test_activation(act, caffe_type):
    checked = check_block(seq(nn.Conv2D(4, 3), nn.Activation(act)), (2, 3, 7, 6), scale=3.0)
    assert checked.layer_types[-1] == caffe_type


@pytest.mark.parametrize("op, caffe_type", [("relu", "ReLU"), ("sigmoid", "Sigmoid"), ("tanh", "TanH")])
def test_bare_activation_ops(op, caffe_type):
    checked = check_block(seq(nn.Conv2D(4, 3), lam(lambda F, x: getattr(F, op)(x))), (1, 3, 6, 7), scale=3.0)
    assert checked.layer_types[-1] == caffe_type


def test_unsupported_activation_type_is_a_clear_error():
    from gluon2caffe import ConversionError

    with pytest.raises(ConversionError, match="act_type.*softsign"):
        check_block(seq(nn.Conv2D(4, 3), nn.Activation("softsign")), (1, 3, 6, 7))
