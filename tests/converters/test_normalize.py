"""L2Normalization -> caffe-ssd Normalize, with a following per-channel scale folded in (SSD's conv4_3 norm), and
every other mode and rank composed from exact layers."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import Lambda, check_block, lam, seq
from mxnet.gluon import nn

from gluon2caffe import convert
from gluon2caffe.errors import InputShapeError


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


@pytest.mark.op("L2Normalization")
@pytest.mark.parametrize(
    "mode, shape",
    [("spatial", (2, 5, 4, 3)), ("spatial", (2, 5, 7)), ("spatial", (2, 3, 2, 3, 4))]
    + [("channel", (2, 5, 7)), ("channel", (2, 3, 2, 3, 4))]
    + [("instance", (3, 7)), ("instance", (2, 5, 7)), ("instance", (2, 3, 2, 3, 4)), ("instance", (5,))],
    ids=str,
)
@pytest.mark.parametrize("eps", [1e-10, 0.5])
def test_l2_normalization_every_mode_and_rank(mode, shape, eps):
    """spatial (any rank), channel and instance beyond 4-D and below: x * (sum x^2 + eps)^-1/2 composed (Normalize
    takes 4-D channel / instance only)."""
    checked = check_block(lam(lambda F, x: F.L2Normalization(x, mode=mode, eps=eps)), shape, scale=3.0)
    assert "Normalize" not in checked.layer_types
    assert checked.comparisons[0].relative <= 1e-6


def test_channel_mode_of_2d_input_is_refused():
    """MXNet's shape inference refuses it: one line naming the node."""
    block = lam(lambda F, x: F.L2Normalization(x, mode="channel"))
    block.initialize()
    with pytest.raises(InputShapeError, match="node '.*l2normalization0' [(]L2Normalization[)].* takes a 3-D input"):
        convert(block, (2, 5), to_bgr=False)


@pytest.mark.op("L2Normalization")
@pytest.mark.parametrize("runtime", ["opencv", "mnn", "ncnn", "openvino"])
def test_composed_l2_normalization_in_runtimes(runtime):
    for mode, shape in (("spatial", (1, 5, 4, 3)), ("channel", (1, 4, 7)), ("instance", (1, 9))):
        check_block(lam(lambda F, x, m=mode: F.L2Normalization(x, mode=m)), shape, runtime=runtime, scale=3.0)


@pytest.mark.op("L2Normalization", "broadcast_mul")
def test_spatial_mode_then_a_channel_scale():
    """The fuse pass folds a scale into 4-D channel/instance nodes only; a spatial one keeps its multiply."""
    scale = np.random.RandomState(1).uniform(0.5, 2, (1, 5, 1, 1)).astype(np.float32)
    block = Lambda(lambda F, x, s: F.broadcast_mul(F.L2Normalization(x, mode="spatial"), s), s=scale)
    checked = check_block(block, (2, 5, 4, 3), scale=3.0)
    assert checked.result.report.normalize_scales_folded == 0


@pytest.mark.op("L2Normalization")
@pytest.mark.parametrize("runtime, target", [(r, t) for r in ("opencv", "mnn", "ncnn") for t in ("any", r)])
def test_instance_mode_in_runtimes(runtime, target):
    """Found by the property suite: OpenCV refuses a Normalize across_spatial with a scale per channel
    (`scale.total() == numPlanes`) and cannot create the 0-d shared one; mode instance is the channel mode on the
    sample as one (N, C*H*W, 1, 1) column, exact everywhere."""
    block = seq(nn.Conv2D(5, 3, padding=1), Lambda(lambda F, x: F.L2Normalization(x, mode="instance", eps=1e-3)))
    checked = check_block(block, (2, 3, 6, 5), runtime=runtime, target=target)
    normalize = [layer.norm_param for layer in checked.result.text_net.layer if layer.type == "Normalize"]
    assert [p.across_spatial for p in normalize] == [False]
