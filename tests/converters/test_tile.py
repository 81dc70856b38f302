"""tile -> Concat of copies; repeat -> an all-ones depthwise Deconvolution on a 4-D view; broadcast_to /
broadcast_axis -> all-ones Deconvolutions (a Concat of copies on the batch): copies and x 1, so Caffe equals MXNet
bit for bit, on every axis, rank and count; and every runtime loads them (no Caffe Tile, which OpenCV and MNN
refuse and ncnn misreads)."""

import pytest
from mxnet.gluon import nn

from helpers import check_block, lam, seq

RUNTIMES = ["opencv", "mnn", "ncnn", "openvino"]


def _exact(checked) -> None:
    """Bit for bit (the op copies), and no Tile layer."""
    for comparison in checked.comparisons:
        assert comparison.max_abs == 0.0, comparison
    assert "Tile" not in checked.layer_types


@pytest.mark.op("tile")
@pytest.mark.parametrize(
    "shape, reps",
    [
        ((2, 3, 4, 5), (1, 2, 1, 1)),
        ((2, 3, 4, 5), (2, 1, 3, 1)),  # (2, 1, 3, 2): MXNet 1.9.1 fails ("too many reduction axes")
        ((2, 3, 4, 5), (3,)),  # reps shorter than the rank: the last axis
        ((2, 3, 5), (2, 1, 1, 2)),  # reps longer: a new leading axis
        ((3, 5), (1, 1)),
        ((2, 7), (4, 3)),
        ((1, 2, 3, 2, 3), (1, 1, 2, 1, 3)),
    ],
)
def test_tile(shape, reps):
    _exact(check_block(lam(lambda F, x: F.tile(x, reps=reps)), shape, init=False))


@pytest.mark.op("repeat")
@pytest.mark.parametrize(
    "shape, repeats, axis",
    [
        ((2, 3, 4, 5), 2, 2),
        ((2, 3, 4, 5), 3, -1),
        ((2, 3, 4, 5), 2, 1),
        ((2, 3, 4, 5), 2, 0),
        ((2, 3, 4, 5), 1, 1),
        ((2, 3, 5), 3, None),  # the flattened input
        ((3, 7), 2, -1),
        ((1, 2, 3, 4, 3), 2, 3),
    ],
)
def test_repeat(shape, repeats, axis):
    _exact(check_block(lam(lambda F, x: F.repeat(x, repeats=repeats, axis=axis)), shape, init=False))


@pytest.mark.op("broadcast_to")
@pytest.mark.parametrize(
    "shape, kept, target",
    [
        ((2, 3, 5, 7), (1, 1), (0, 0, 5, 7)),
        ((2, 3, 5, 7), (5, 1), (0, 0, 0, 7)),
        ((2, 3, 5, 7), (1, 7), (0, 0, 5, 0)),
        ((1, 3, 5, 7), (5, 7), (3, 0, 0, 0)),  # the batch: copies concatenated
        ((2, 6, 5), (1, 5), (0, 6, 0)),
        ((2, 2, 3, 4, 5), (1, 5), (0, 0, 3, 4, 0)),
    ],
)
def test_broadcast_to(shape, kept, target):
    """The input's first row and/or column (a copy) broadcast back over H and/or W (0 keeps a size), the channels,
    the batch, on 3-D to 5-D inputs."""

    def fn(F, x):
        y = F.slice_axis(x, axis=-2, begin=0, end=kept[0]) if kept[0] == 1 else x
        y = F.slice_axis(y, axis=-1, begin=0, end=1) if kept[1] == 1 else y
        if len(shape) == 3:
            y = F.slice_axis(y, axis=1, begin=0, end=1)
        return F.broadcast_to(y, shape=target)

    _exact(check_block(lam(fn), shape, init=False))


@pytest.mark.op("broadcast_axis")
@pytest.mark.parametrize("axis, size", [((2,), (6,)), ((2, 3), (3, 4)), ((1,), (5,)), ((0, 3), (3, 2))])
def test_broadcast_axis(axis, size):
    """Axes of size 1 (the input's first element along them) broadcast to any size, the channels and batch too."""

    def fn(F, x):
        for a in axis:
            x = F.slice_axis(x, axis=a, begin=0, end=1)
        return F.broadcast_axis(x, axis=axis, size=size)

    checked = check_block(lam(fn), (2, 3, 5, 4), init=False)
    _exact(checked)
    assert checked.mxnet_outputs[0].shape[axis[0]] == size[0]


@pytest.mark.op("tile", "repeat", "broadcast_to")
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_tile_repeat_broadcast_in_runtime(runtime):
    """Every form, in each runtime at target any: a tile of the channels and of W, a repeat of C and of W, a
    broadcast of a globally pooled (C, 1, 1) blob (ncnn keeps it 1-D)."""

    def fn(F, x):
        pooled = F.broadcast_to(F.contrib.AdaptiveAvgPooling2D(x, output_size=1), shape=(0, 0, 4, 5))
        return F.tile(x, reps=(1, 2, 1, 3)), F.repeat(x, repeats=2, axis=1), F.repeat(x, repeats=3, axis=3), pooled

    check_block(seq(nn.Conv2D(4, 3, padding=1), lam(fn)), (1, 3, 4, 5), runtime=runtime)
