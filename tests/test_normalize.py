"""L2Normalization -> caffe-ssd Normalize, with a following per-channel scale folded in (SSD's conv4_3 norm)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import Lambda, check_block, seq
from mxnet.gluon import nn

from gluon2caffe import convert
from gluon2caffe.errors import ConversionError


@pytest.mark.op("L2Normalization")
@pytest.mark.parametrize("mode", ["channel", "instance"])
@pytest.mark.parametrize("eps", [1e-10, 1e-3, 0.5])
def test_l2_normalization(mode, eps):
    block = seq(nn.Conv2D(5, 3, padding=1), Lambda(lambda F, x: F.L2Normalization(x, mode=mode, eps=eps)))
    checked = check_block(block, (2, 3, 9, 7))
    assert checked.layer_types.count("Normalize") == 1


def test_scale_after_normalization_folds_into_normalize():
    scale = np.random.RandomState(0).uniform(5, 20, (1, 6, 1, 1)).astype(np.float32)
    block = seq(
        nn.Conv2D(6, 3, padding=1),
        Lambda(lambda F, x, s: F.broadcast_mul(F.L2Normalization(x, mode="channel", eps=1e-10), s), s=scale),
    )
    checked = check_block(block, (1, 3, 11, 10))
    assert checked.layer_types.count("Normalize") == 1 and "Scale" not in checked.layer_types
    assert checked.result.report.normalize_scales_folded == 1


def test_spatial_mode_is_refused():
    block = seq(nn.Conv2D(4, 1), Lambda(lambda F, x: F.L2Normalization(x, mode="spatial")))
    block.initialize()
    with pytest.raises(ConversionError, match="spatial"):
        convert(block, (1, 3, 5, 5), to_bgr=False)


@pytest.mark.op("L2Normalization")
@pytest.mark.parametrize("runtime, target", [(r, t) for r in ("opencv", "mnn", "ncnn") for t in ("any", r)])
def test_instance_mode_in_runtimes(runtime, target):
    """Found by tests/test_op_properties.py: OpenCV refuses a Normalize across_spatial with a scale per channel
    (`scale.total() == numPlanes`) and cannot create the 0-d shared one; mode instance is the channel mode on the
    sample as one (N, C*H*W, 1, 1) column, exact everywhere."""
    block = seq(nn.Conv2D(5, 3, padding=1), Lambda(lambda F, x: F.L2Normalization(x, mode="instance", eps=1e-3)))
    checked = check_block(block, (2, 3, 6, 5), runtime=runtime, target=target)
    normalize = [layer.norm_param for layer in checked.result.text_net.layer if layer.type == "Normalize"]
    assert [p.across_spatial for p in normalize] == [False]
