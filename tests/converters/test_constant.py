"""F.zeros / ones / full / arange (_zeros, _ones, _full, _arange) are evaluated when converting, in MXNet's float32
arithmetic, and become the weights of what reads them; a constant that is an output of the net is refused."""

import pytest
from mxnet.gluon import nn

from gluon2caffe import ConversionError, convert
from helpers import check_block, lam, seq


@pytest.mark.parametrize(
    "fn",
    [
        pytest.param(
            lambda F, x: F.broadcast_add(x, F.zeros((1, 4, 1, 1))), marks=pytest.mark.op("_zeros"), id="zeros"
        ),
        pytest.param(
            lambda F, x: F.broadcast_mul(x, F.ones((1, 4, 5, 6)) * 3), marks=pytest.mark.op("_ones"), id="ones"
        ),
        pytest.param(
            lambda F, x: F.broadcast_add(x, F.full((1, 1, 1, 6), -2.5)), marks=pytest.mark.op("_full"), id="full"
        ),
        pytest.param(
            lambda F, x: F.broadcast_mul(x, F.reshape(F.arange(0.5, 2.5, 0.5), (1, 4, 1, 1))),
            marks=pytest.mark.op("_arange"),
            id="arange",
        ),
        pytest.param(
            lambda F, x: F.broadcast_add(x, F.reshape(F.arange(3, repeat=2), (1, 1, 1, 6))),
            marks=pytest.mark.op("_arange"),
            id="arange_repeat",
        ),
        pytest.param(
            lambda F, x: F.broadcast_sub(x, F.reshape(F.arange(7, -1, -2), (1, 4, 1, 1))),
            marks=pytest.mark.op("_arange"),
            id="arange_down",
        ),
    ],
)
def test_constants_become_weights(fn):
    checked = check_block(seq(nn.Conv2D(4, 3, padding=1), lam(fn)), (2, 3, 5, 6))
    assert checked.result.report.constants_folded >= 1
    # zeros: folded into nothing; a constant that is not one value per channel: a constant blob and an Eltwise
    # (target any's constant 'eltwise', converters/elemwise.py combine_with_constant)
    assert checked.layer_types[-1] in ("Convolution", "Scale", "Bias", "Power", "Eltwise")


@pytest.mark.op("_arange")
def test_arange_values_are_mxnets():
    """start + (i // repeat) * step in float32, as MXNet's kernel: a fractional step that float32 rounds."""
    fn = lambda F, x: F.broadcast_add(x, F.arange(0.1, 3.0, 0.3, repeat=1))  # noqa: E731
    checked = check_block(lam(fn), (2, 10), init=False)
    assert checked.comparisons[0].max_abs == 0.0


@pytest.mark.op("_ones")
def test_a_constant_output_is_refused():
    block = lam(lambda F, x: (F.relu(x), F.ones((2, 3))))
    with pytest.raises(ConversionError, match=r"op _ones: is a constant .* an output of the net"):
        convert(block, (1, 3))
