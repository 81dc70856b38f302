"""Scalar arithmetic -> Power, in the real Caffe."""

import pytest
from mxnet.gluon import nn

from helpers import check_block, lam, seq

OPS = {
    "_plus_scalar": lambda x: x + 3.0,
    "_minus_scalar": lambda x: x - 1.5,
    "_rminus_scalar": lambda x: 2.5 - x,
    "_mul_scalar": lambda x: x * -0.7,
    "_div_scalar": lambda x: x / 6.0,
    "_rdiv_scalar": lambda x: 2.0 / (x * x + 1.0),
    "_power_scalar": lambda x: (x * x + 0.5) ** 1.5,
}


@pytest.mark.parametrize(
    "op",
    [
        pytest.param("_div_scalar", marks=pytest.mark.op("_div_scalar")),
        pytest.param("_minus_scalar", marks=pytest.mark.op("_minus_scalar")),
        pytest.param("_mul_scalar", marks=pytest.mark.op("_mul_scalar")),
        pytest.param("_plus_scalar", marks=pytest.mark.op("_plus_scalar")),
        pytest.param("_power_scalar", marks=pytest.mark.op("_power_scalar")),
        pytest.param("_rdiv_scalar", marks=pytest.mark.op("_rdiv_scalar")),
        pytest.param("_rminus_scalar", marks=pytest.mark.op("_rminus_scalar")),
    ],
)
def test_scalar_op(op):
    checked = check_block(seq(nn.Conv2D(4, 3), lam(lambda F, x: OPS[op](x))), (2, 3, 6, 5), scale=2.0)
    affine = op not in ("_power_scalar", "_rdiv_scalar")  # target any writes an affine map as a Scale
    assert ("Scale" if affine else "Power") in checked.layer_types
    assert op in [n.op for n in checked.result.graph.nodes]


def test_hard_swish_mobilenetv3_style():
    """MobileNetV3: x * relu6(x + 3) / 6, exact with Power + the ReLU6 composition + Eltwise PROD."""
    net = seq(nn.Conv2D(6, 3, padding=1), lam(lambda F, x: x * (F.clip(x + 3, 0, 6) / 6)))
    checked = check_block(net, (2, 3, 7, 6), scale=4.0)
    assert "Eltwise" in checked.layer_types
