"""Nearest upsampling and bilinear resizing in the real Caffe."""

import pytest
from mxnet.gluon import nn

from helpers import check_block, lam, seq


@pytest.mark.op("UpSampling")
@pytest.mark.parametrize("scale", [2, 3])
def test_nearest_upsampling(scale):
    net = seq(nn.Conv2D(4, 3), lam(lambda F, x: F.UpSampling(x, scale=scale, sample_type="nearest")))
    checked = check_block(net, (2, 3, 6, 5))
    assert checked.layer_types[-1] == "Deconvolution"


@pytest.mark.op("_contrib_BilinearResize2D")
@pytest.mark.parametrize("size", [(10, 12), (7, 7), (3, 4), (5, 9)])
@pytest.mark.parametrize("align_corners", [True, False])
def test_bilinear_resize(size, align_corners):
    fn = lambda F, x: F.contrib.BilinearResize2D(x, height=size[0], width=size[1], align_corners=align_corners)
    checked = check_block(seq(nn.Conv2D(4, 3), lam(fn)), (2, 3, 7, 8))
    assert "Permute" in checked.layer_types  # separable: 1x1 Convolutions over permuted axes


@pytest.mark.op("_contrib_BilinearResize2D")
def test_bilinear_resize_like():
    class Like(nn.HybridBlock):
        def __init__(self):
            super().__init__()
            with self.name_scope():
                self.small = nn.Conv2D(4, 3, strides=2)
                self.big = nn.Conv2D(4, 1)

        def hybrid_forward(self, F, x):
            big = self.big(x)
            return big + F.contrib.BilinearResize2D(self.small(x), like=big, mode="like")

    check_block(Like(), (1, 3, 9, 11))
