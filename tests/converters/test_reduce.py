"""sum and mean over any axes, and norm, in the real Caffe."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mxnet.gluon import HybridBlock, nn

from gluon2caffe import ConversionError, convert
from helpers import check_block, lam, seq

RUNTIMES = ["opencv", "mnn", "ncnn", "openvino"]  # pycaffe is every other test's runtime


@pytest.mark.op("sum")
@pytest.mark.parametrize("axis", [1, 2, 3, -1])
@pytest.mark.parametrize("keepdims", [True, False])
def test_sum_axis(axis, keepdims):
    check_block(seq(nn.Conv2D(4, 3, padding=1), lam(lambda F, x: F.sum(x, axis=axis, keepdims=keepdims))), (2, 3, 5, 6))


@pytest.mark.op("sum")
@pytest.mark.parametrize(
    "shape, kwargs",
    [
        ((2, 3, 5, 7), dict(axis=(1, 2))),
        ((2, 3, 5, 7), dict()),
        ((2, 3, 5, 7), dict(axis=(0, 3), keepdims=True)),
        ((2, 3, 5, 7), dict(axis=1, exclude=True)),
        ((3, 70), dict(axis=1)),
        ((2, 5, 3), dict(axis=(-1, -3))),
        ((2, 3, 4, 3, 5), dict(axis=(2, 4), keepdims=True)),
    ],
)
def test_sum_any_axes(shape, kwargs):
    """Several axes, all of them, exclude, an axis longer than 64: count x mean (within an ulp of the sum)."""
    checked = check_block(lam(lambda F, x: F.sum(x, **kwargs)), shape)
    assert checked.comparisons[0].relative <= 1e-6


def mean(**kwargs):
    return lam(lambda F, x: F.mean(x, **kwargs))


def pooling_kernels(checked):
    return [
        (layer.pooling_param.kernel_h or layer.pooling_param.kernel_size, layer.pooling_param.kernel_w)
        for layer in checked.result.text_net.layer
        if layer.type == "Pooling"
    ]


@pytest.mark.op("mean")
@pytest.mark.parametrize("axis", [1, 2, 3, -1, (2, 3), (1, 2), (1, 3), (1, 2, 3), (0, 2), None])
@pytest.mark.parametrize("keepdims", [True, False])
def test_mean_4d(axis, keepdims):
    """After a convolution (2, 4, 5, 7): H/W in place, other runs as the height of a 4-D view."""
    kwargs = {} if axis is None else dict(axis=axis)
    checked = check_block(seq(nn.Conv2D(4, 3, padding=1), mean(keepdims=keepdims, **kwargs)), (2, 3, 5, 7))
    assert set(checked.layer_types) <= {"Input", "Convolution", "Pooling", "Reshape"}
    runs = {1: 1, 2: 1, 3: 1, -1: 1, (2, 3): 1, (1, 2): 1, (1, 3): 2, (1, 2, 3): 1, (0, 2): 2, None: 1}[axis]
    assert checked.layer_types.count("Pooling") == runs


@pytest.mark.op("mean")
def test_mean_over_hw_is_one_pooling_window():
    checked = check_block(seq(nn.Conv2D(4, 3), mean(axis=(2, 3), keepdims=True)), (1, 3, 6, 9))
    assert checked.layer_types[-1] == "Pooling" and pooling_kernels(checked) == [(4, 7)]


@pytest.mark.op("mean")
@pytest.mark.parametrize("axis", [1, (1, 2), 3, (0, 1)])
def test_mean_exclude(axis):
    """exclude=True reduces every axis but the given ones."""
    check_block(seq(nn.Conv2D(4, 3, padding=1), mean(axis=axis, exclude=True, keepdims=False)), (2, 3, 5, 6))


@pytest.mark.op("mean")
@pytest.mark.parametrize(
    "shape, axis", [((3, 7), 1), ((3, 7), 0), ((2, 5, 6), 1), ((2, 5, 6), 2), ((2, 5, 6), (1, 2)), ((2, 5, 6), (0, 2))]
)
def test_mean_2d_3d(shape, axis):
    check_block(mean(axis=axis), shape)


@pytest.mark.op("mean")
@pytest.mark.parametrize("axis", [(2, 3, 4), 2, 4, (1, 3), (3, 4), (1, 2, 3, 4)])
@pytest.mark.parametrize("keepdims", [True, False])
def test_mean_5d(axis, keepdims):
    """(N, C, T, H, W) as the 3-D action nets have it: no Caffe blob of the mean is 5-D but the input."""
    check_block(mean(axis=axis, keepdims=keepdims), (2, 3, 4, 5, 3))


@pytest.mark.op("mean")
def test_mean_of_unit_axes_is_a_reshape():
    checked = check_block(seq(nn.Conv2D(4, 3), nn.GlobalMaxPool2D(), mean(axis=(2, 3))), (2, 3, 5, 5))
    assert checked.layer_types[-1] == "Reshape" and "Pooling" in checked.layer_types


@st.composite
def reductions(draw):
    shape = tuple(draw(st.lists(st.integers(1, 5), min_size=2, max_size=5)))
    axes = draw(st.one_of(st.none(), st.lists(st.integers(-len(shape), len(shape) - 1), min_size=1, unique=True)))
    if axes is not None and len({a % len(shape) for a in axes}) != len(axes):
        axes = sorted({a % len(shape) for a in axes})
    return shape, axes, draw(st.booleans()), draw(st.booleans())


@pytest.mark.op("mean")
@settings(max_examples=40, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck), print_blob=True)
@given(case=reductions())
def test_mean_any_axes(case):
    """Any rank 2-5, any set of axes (with the batch, with unit axes), keepdims, exclude."""
    shape, axes, keepdims, exclude = case
    kwargs = dict(keepdims=keepdims, exclude=exclude)
    if axes is not None:
        kwargs["axis"] = tuple(axes)
    check_block(mean(**kwargs), shape, require_alive=False)


class SegmentConsensus(HybridBlock):
    """TSN: a 2-D net runs on N x segments frames, then the class scores are averaged over the segments."""

    def __init__(self, segments):
        super().__init__()
        self.segments = segments
        with self.name_scope():
            self.features = seq(nn.Conv2D(8, 3, padding=1), nn.BatchNorm(), nn.Activation("relu"), nn.GlobalAvgPool2D())
            self.output = nn.Dense(5)

    def hybrid_forward(self, F, x):
        x = self.output(self.features(x))
        return F.mean(F.reshape(x, shape=(-1, self.segments, 5)), axis=1)


@pytest.mark.op("mean")
def test_tsn_segment_consensus():
    checked = check_block(SegmentConsensus(3), (6, 3, 9, 11))
    assert checked.mxnet_outputs[0].shape == (2, 5)


class PoseDecoder(HybridBlock):
    """monodepth2's pose decoder: convolutions, then `out.mean(3).mean(2)` as (N, 1, 1, 6) (GluonCV then scales it
    by 0.01, which would leave too small a change for the input-sensitivity check)."""

    def __init__(self):
        super().__init__()
        with self.name_scope():
            self.convs = seq(nn.Conv2D(8, 3, padding=1), nn.Activation("relu"), nn.Conv2D(6, 1))

    def hybrid_forward(self, F, x):
        out = self.convs(x).mean(3).mean(2)
        return out.reshape((-1, 1, 1, 6))


@pytest.mark.op("mean")
def test_posenet_decoder():
    check_block(PoseDecoder(), (2, 6, 5, 9))


@pytest.mark.op("mean")
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_mean_in_runtimes(runtime):
    """The Reshape views and (H x 1) AVE windows load and match in every runtime (TSN's consensus with several
    segments changes the batch, which ncnn cannot express: a batch-1 net has one segment)."""
    check_block(PoseDecoder(), (1, 6, 5, 9), runtime=runtime)
    check_block(seq(nn.Conv2D(4, 3, padding=1), mean(axis=(1, 3), keepdims=True)), (1, 3, 5, 7), runtime=runtime)


@pytest.mark.op("norm")
@pytest.mark.parametrize("ord_", [1, 2])
@pytest.mark.parametrize(
    "shape, kwargs",
    [
        ((2, 3, 5, 7), dict()),
        ((2, 3, 5, 7), dict(axis=1)),
        ((2, 3, 5, 7), dict(axis=(2, 3), keepdims=True)),
        ((2, 3, 5, 7), dict(axis=(-1, 0))),
        ((3, 11), dict(axis=-1, keepdims=True)),
        ((2, 3, 4, 3, 5), dict(axis=(1, 3, 4))),
        ((2, 1, 5), dict(axis=1)),
    ],
)
def test_norm(ord_, shape, kwargs):
    """ord 1 (sum |x|) and 2 (sqrt(sum x^2)) over any axes, keepdims; over one element it is |x|."""
    checked = check_block(lam(lambda F, x: F.norm(x, ord=ord_, **kwargs)), shape, scale=3.0)
    assert checked.comparisons[0].relative <= 1e-6


@pytest.mark.parametrize("kwargs, attr", [(dict(ord=3), "ord"), (dict(out_dtype="int32"), "out_dtype")])
def test_norm_refusals(kwargs, attr):
    block = lam(lambda F, x: F.norm(x, axis=1, **kwargs))
    block.initialize()
    with pytest.raises(ConversionError, match=f"op norm attribute '{attr}'"):
        convert(block, (1, 3, 5))


@pytest.mark.op("sum", "norm")
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_sum_and_norm_in_runtimes(runtime):
    check_block(lam(lambda F, x: F.sum(x, axis=(1, 3))), (1, 4, 5, 7), runtime=runtime)
    check_block(lam(lambda F, x: F.norm(x, axis=1, keepdims=True)), (1, 4, 5, 7), runtime=runtime)
