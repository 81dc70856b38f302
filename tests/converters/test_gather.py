"""reverse -> Slice + Concat reversed; take / Embedding with constant indices -> the picked slices (a one-hot
Convolution or crops at target any, Slice + Concat at target caffe): copies and x 1, bit for bit equal to MXNet.
Indices computed from the input are refused, naming the node."""

import mxnet as mx
import numpy as np
import pytest
from mxnet.gluon import nn

from gluon2caffe import ConversionError, convert
from helpers import Lambda, check_block, lam, seq

RUNTIMES = ["opencv", "mnn", "ncnn", "openvino"]


def _constants(fn, **constants) -> Lambda:
    """A parameter-free block reading constants (initialized: they hold their values)."""
    block = Lambda(fn, **constants)
    block.initialize()
    return block


def _exact(checked) -> None:
    for comparison in checked.comparisons:
        assert comparison.max_abs == 0.0, comparison


@pytest.mark.op("reverse")
@pytest.mark.parametrize(
    "shape, axis",
    [
        ((2, 3, 4, 5), 1),
        ((2, 3, 4, 5), 3),
        ((2, 3, 4, 5), (2, 3)),
        ((2, 3, 4, 5), 0),
        ((2, 3, 4, 5), (1, 1)),  # twice: unchanged
        ((2, 7), 1),
        ((2, 3, 5), (0, 2)),
        ((1, 2, 3, 4, 3), 3),
        ((2, 1, 4, 5), 1),  # an axis of one element
    ],
)
def test_reverse(shape, axis):
    checked = check_block(lam(lambda F, x: F.reverse(x, axis=axis)), shape, init=False)
    _exact(checked)


def test_reverse_of_a_negative_axis_is_refused():
    """MXNet 1.9.1's reverse indexes the shape with the axis: a negative one fails in MXNet itself."""
    block = lam(lambda F, x: F.reverse(x, axis=-1))
    with pytest.raises(ConversionError, match=r"op reverse attribute 'axis'.*negative axis"):
        convert(block, (1, 3, 4, 5))


INDICES = {
    "picked": [2, 0, 3],
    "repeated": [1, 1, 4, 2, 3],
    "run": [1, 2, 3],
    "matrix": [[0, 3], [4, 1]],
    "out_of_range": [-1.7, 0.9, 6, 2.2],  # truncated, then clipped (or wrapped)
    "all": [0, 1, 2, 3, 4],
}


@pytest.mark.op("take")
@pytest.mark.parametrize("target", ["any", "caffe"])
@pytest.mark.parametrize("mode", ["clip", "wrap"])
@pytest.mark.parametrize("axis", [1, 2, -1, 0])
@pytest.mark.parametrize("case", sorted(INDICES))
def test_take_with_constant_indices(case, axis, mode, target):
    """A learned channel (row, column) selection: constant indices of every layout, on every axis of (5, 5, 5, 5)."""
    indices = np.array(INDICES[case], np.float32)
    block = _constants(lambda F, x, idx: F.take(x, idx, axis=axis, mode=mode), idx=indices)
    checked = check_block(block, (5, 5, 5, 5), target=target, init=False)
    _exact(checked)
    if target == "any":
        assert "Silence" not in checked.layer_types


@pytest.mark.op("take")
@pytest.mark.parametrize("shape, axis", [((2, 6), 1), ((3, 4, 6), 2), ((2, 3, 4, 2, 6), 4), ((2, 6, 3), 1)])
def test_take_on_other_ranks(shape, axis):
    block = _constants(lambda F, x, idx: F.take(x, idx, axis=axis), idx=np.array([5, 0, 2, 2], np.float32))
    _exact(check_block(block, shape, init=False))


def test_take_with_indices_from_the_input_is_refused():
    block = lam(lambda F, x: F.take(x, F.relu(F.slice_axis(x, axis=1, begin=0, end=1)), axis=1))
    with pytest.raises(ConversionError, match=r"op take: its indices are computed from the input"):
        convert(block, (1, 3, 4, 5))


def test_take_with_indices_out_of_range_and_mode_raise_is_refused():
    block = _constants(lambda F, x, idx: F.take(x, idx, axis=1, mode="raise"), idx=np.array([0, 3], np.float32))
    with pytest.raises(ConversionError, match="mode 'raise'"):
        convert(block, (1, 3, 4, 5))


@pytest.mark.op("Embedding")
def test_embedding_of_constant_indices_picks_rows_of_a_computed_table():
    """The table is computed from the input (a Dense layer's output rows); the indices are constants."""
    indices = np.array([[3, 0], [1, 7.6]], np.float32)  # 7.6: truncated to 7, clipped to the last row (5)

    class Net(nn.HybridBlock):
        def __init__(self):
            super().__init__()
            self.dense = nn.Dense(4, flatten=False)
            self.idx = self.params.get_constant("idx", mx.nd.array(indices))

        def hybrid_forward(self, F, x, idx):
            return F.Embedding(idx, self.dense(x), input_dim=6, output_dim=4)

    checked = check_block(Net(), (6, 5))
    assert checked.mxnet_outputs[0].shape == (2, 2, 4)


@pytest.mark.op("Embedding")
def test_embedding_of_a_constant_table_is_folded():
    """A constant table read at constant indices is evaluated when converting (a Bias of the picked rows)."""
    table = np.random.RandomState(0).normal(size=(6, 5)).astype(np.float32)
    block = _constants(
        lambda F, x, idx, w: F.broadcast_add(x, F.Embedding(idx, w, input_dim=6, output_dim=5)),
        idx=np.array([4], np.float32),
        w=table,
    )
    checked = check_block(block, (2, 5), init=False)
    assert checked.result.report.constants_folded == 1


def test_embedding_of_indices_from_the_input_is_refused():
    table = np.ones((6, 5), np.float32)
    block = _constants(lambda F, x, w: F.Embedding(x, w, input_dim=6, output_dim=5), w=table)
    with pytest.raises(ConversionError, match="op Embedding: its indices are computed from the input"):
        convert(block, (2, 3))


@pytest.mark.op("reverse", "take")
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_reverse_and_take_in_runtime(runtime):
    def fn(F, x, idx):
        return F.reverse(x, axis=1), F.reverse(x, axis=(2, 3)), F.take(x, idx, axis=1), F.take(x, idx, axis=3)

    block = seq(nn.Conv2D(5, 3, padding=1), Lambda(fn, idx=np.array([4, 0, 0, 2], np.float32)))
    check_block(block, (1, 3, 4, 5), runtime=runtime)
