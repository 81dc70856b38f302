"""SliceChannel / split / _split_v2 -> Slice (+ Reshape); stack -> Reshape + Concat: copies, so Caffe's outputs
equal MXNet's bit for bit, on every axis (negative too), rank, squeeze_axis and part layout."""

import mxnet as mx
import numpy as np
import pytest
from mxnet.gluon import nn

from gluon2caffe import convert, load_exported
from gluon2caffe.verification import MXNetReference, run_converted
from helpers import check_block, lam, make_input, seq

RUNTIMES = ["opencv", "mnn", "ncnn", "openvino"]


def _exact(checked) -> None:
    for comparison in checked.comparisons:
        assert comparison.max_abs == 0.0, comparison


@pytest.mark.op("SliceChannel")
@pytest.mark.parametrize(
    "shape, parts, axis, squeeze",
    [
        ((2, 6, 5, 7), 3, 1, False),
        ((2, 6, 5, 7), 5, 2, False),
        ((2, 6, 5, 7), 7, -1, True),
        ((2, 6, 5, 7), 2, -3, False),
        ((4, 3, 5), 4, 0, False),
        ((4, 3, 5), 3, 1, True),
        ((2, 9), 3, -1, False),
        ((1, 4, 3, 2, 5), 5, 4, True),
        ((2, 4, 3, 5), 1, 1, False),
    ],
)
def test_slice_channel(shape, parts, axis, squeeze):
    """Every part is an output; the input itself is the graph input (any rank), both signs."""
    fn = lambda F, x: F.split(x, num_outputs=parts, axis=axis, squeeze_axis=squeeze)  # noqa: E731
    checked = check_block(lam(fn), shape)
    _exact(checked)
    assert len(checked.mxnet_outputs) == parts
    if parts > 1:
        assert "Slice" in checked.layer_types


@pytest.mark.op("SliceChannel")
@pytest.mark.parametrize("target", ["any", "caffe"])
@pytest.mark.parametrize("axis, used", [(1, (1,)), (2, (0, 2)), (3, (2,)), (-1, (0,))])
def test_slice_channel_some_parts_unused(target, axis, used):
    """ShuffleNetV2-style: only some parts are read. Target any cuts each part that is read with a one-hot
    Convolution (no Silence, which OpenVINO rejects); target caffe writes one Slice and silences the rest."""

    def fn(F, x):
        parts = F.split(x, num_outputs=3, axis=axis)
        return parts[used[0]] if len(used) == 1 else parts[used[0]] + parts[used[1]]

    checked = check_block(seq(nn.Conv2D(6, 3, padding=1), lam(fn)), (2, 3, 6, 9), target=target)
    assert ("Silence" in checked.layer_types) == (target == "caffe")


@pytest.mark.op("SliceChannel")
@pytest.mark.parametrize(
    "shape, axis, squeeze",
    [((2, 6, 9), 1, False), ((2, 3, 9), -1, False), ((3, 3, 5), 0, False), ((2, 3, 4, 3, 3), 3, True)],
)
def test_slice_channel_some_parts_unused_on_other_ranks(shape, axis, squeeze):
    """Target any picks each part that is read from a 4-D view, whatever the rank or axis: no Silence."""
    fn = lambda F, x: F.split(x, num_outputs=3, axis=axis, squeeze_axis=squeeze)[1]  # noqa: E731
    checked = check_block(lam(fn), shape, init=False)
    assert "Silence" not in checked.layer_types and "Slice" not in checked.layer_types
    _exact(checked)


@pytest.mark.op("_split_v2")
@pytest.mark.parametrize(
    "shape, split, axis, squeeze",
    [
        ((2, 7, 5, 4), 3, 1, False),  # sections with a remainder: 3, 2, 2
        ((2, 7, 5, 4), (2, 3), 1, False),
        ((2, 7, 5, 4), (1,), -2, False),
        ((2, 7, 5, 4), 4, -1, True),
        ((5, 3), (1, 4), 0, False),
        ((2, 3, 4), (1, 2), 1, True),
        ((1, 2, 3, 4, 6), 4, 4, False),
    ],
)
def test_split_v2(shape, split, axis, squeeze):
    """Indices (the frontend adds the leading 0) or sections, unequal ones too (F.split_v2 refuses those; the op
    itself, as a symbol file has it, cuts them as numpy's array_split does)."""
    if isinstance(split, int):
        fn = lambda F, x: F._internal._split_v2(x, indices=(), sections=split, axis=axis, squeeze_axis=squeeze)  # noqa: E731
    else:
        fn = lambda F, x: F.split_v2(x, split, axis=axis, squeeze_axis=squeeze)  # noqa: E731
    checked = check_block(lam(fn), shape)
    _exact(checked)
    sizes = [out.shape[axis] if not squeeze else 1 for out in checked.mxnet_outputs]
    assert sum(sizes) == shape[axis] and len(sizes) > 1


@pytest.mark.op("stack")
@pytest.mark.parametrize(
    "shape, count, axis",
    [
        ((2, 3, 4, 5), 2, 1),
        ((2, 3, 4, 5), 3, 0),
        ((2, 3, 4, 5), 2, -1),
        ((2, 3, 4, 5), 2, 2),
        ((3, 5), 4, 1),
        ((2, 3, 4), 1, -2),
        ((2, 4, 3), 3, 3),
    ],
)
def test_stack(shape, count, axis):
    """Inputs computed from the one input (x, 2x-1, -x, ...), so each is alive."""
    fn = lambda F, x: F.stack(*[x * (i + 1) - i for i in range(count)], axis=axis)  # noqa: E731
    checked = check_block(lam(fn), shape)
    assert checked.mxnet_outputs[0].shape[axis] == count


@pytest.mark.op("SliceChannel", "stack")
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_split_and_stack_in_runtime(runtime):
    """A channel split (ShuffleNetV2), a split of W with squeeze, and a stack of the parts, in each runtime."""

    def fn(F, x):
        a, b = F.split(x, num_outputs=2, axis=1)
        columns = F.split(a, num_outputs=5, axis=3, squeeze_axis=True)
        return F.concat(F.relu(b), a, dim=1), F.stack(*columns, axis=1)

    check_block(seq(nn.Conv2D(6, 3, padding=1), lam(fn)), (1, 3, 4, 5), runtime=runtime)


@pytest.mark.op("_split_v2")
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_split_v2_in_runtime(runtime):
    check_block(lam(lambda F, x: F.split_v2(x, (2, 3), axis=2)), (1, 3, 7, 4), runtime=runtime)


@pytest.mark.op("split")
def test_split_alias_in_a_symbol_file(tmp_path):
    """A hand-written symbol file may name the op by its alias `split` (MXNet writes SliceChannel); both inferences
    read it."""
    data = mx.sym.var("data")
    parts = mx.sym.SliceChannel(data, num_outputs=3, axis=2, name="cut")
    symbol = mx.sym.Group([parts[0], parts[2] * 2])
    text = symbol.tojson().replace('"op": "SliceChannel"', '"op": "split"')
    assert '"op": "split"' in text
    (tmp_path / "m-symbol.json").write_text(text)
    mx.nd.save(str(tmp_path / "m-0000.params"), {})
    model = load_exported(tmp_path / "m")
    shape = (2, 3, 6, 5)
    result = convert(model, shape, to_bgr=False)
    x = make_input(shape, 3)
    got = run_converted(result.text_net, result.binary_weights, {"data": x})
    reference = MXNetReference(model, shape, "data").run(x, result.graph.outputs)
    for name in result.graph.outputs:
        np.testing.assert_array_equal(got[name], reference[name])
