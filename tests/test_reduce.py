"""sum over an axis, in the real Caffe."""

import pytest
from mxnet.gluon import nn

from gluon2caffe import ConversionError
from helpers import check_block, lam, seq


@pytest.mark.op("sum")
@pytest.mark.parametrize("axis", [1, 2, 3, -1])
@pytest.mark.parametrize("keepdims", [True, False])
def test_sum_axis(axis, keepdims):
    check_block(seq(nn.Conv2D(4, 3, padding=1), lam(lambda F, x: F.sum(x, axis=axis, keepdims=keepdims))), (2, 3, 5, 6))


def test_sum_over_all_axes_is_refused():
    with pytest.raises(ConversionError, match="axis"):
        check_block(seq(nn.Conv2D(4, 3), lam(lambda F, x: F.sum(x, axis=(1, 2)))), (1, 3, 5, 6))
