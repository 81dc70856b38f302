"""Picking elements at positions known when the files are written: reverse (flip), take and Embedding with constant
indices. Every value is copied (Slice + Concat) or multiplied by exactly 1 with 0 x its finite neighbours (a one-hot
Convolution, the target's crop): exact. Indices computed from the input (data-dependent indexing) are refused."""

from __future__ import annotations

import numpy as np

from ..errors import ConversionError
from ..ir.graph import Node
from .context import EmitContext
from .registry import register
from .shape import emit_crop

DATA_INDICES = (
    "its indices are computed from the input: Caffe has no layer that picks elements at positions a tensor gives "
    "(data-dependent indexing); only constant indices convert"
)

# Caffe's Embed layer reads indices from a tensor, but aborts (a CHECK) on one outside [0, input_dim) where MXNet
# clips it, and OpenCV's importer has no Embed: not written (yet).
EMBED_INDICES = (
    "its indices are computed from the input: Caffe's Embed layer aborts on an index outside the table where MXNet "
    "clips it, and not every runtime loads it, so it is not written; only constant indices convert"
)


@register("reverse", caffe="Slice + Concat (reversed)")
def convert_reverse(node: Node, ctx: EmitContext) -> None:
    """reverse (flip) along each axis of `axis` -> Slice into single elements + Concat in reverse order (copies)."""
    x, out = node.inputs[0], node.outputs[0]
    shape = ctx.shape(x)
    axes = node.attrs.int_tuple("axis")
    for axis in axes:
        if not 0 <= axis < len(shape):
            raise ConversionError(
                f"is {axes}: axis {axis} is not in [0, {len(shape)}); MXNet 1.9.1's reverse indexes the shape with "
                "it and fails on a negative axis: give the positive one",
                node.name,
                node.op,
                "axis",
            )
    flipped = [axis for axis in sorted(set(axes)) if axes.count(axis) % 2 and shape[axis] > 1]  # twice: unchanged
    if not flipped:
        ctx.alias(out, x)
        return
    current = x
    for axis in flipped:
        last = axis == flipped[-1]
        top = out if last else ctx.unique(f"{node.name}_axis{axis}")
        size = shape[axis]
        pieces = [ctx.unique(f"{node.name}_axis{axis}_{i}") for i in range(size)]
        layer = ctx.layer(ctx.unique(f"{node.name}_slice{axis}"), "Slice", [current], pieces)
        layer.slice_param.axis = axis
        layer.slice_param.slice_point.extend(range(1, size))
        ctx.layer(node.name if last else top, "Concat", pieces[::-1], [top]).concat_param.axis = axis
        ctx.set_shape(top, shape)
        current = top


@register("take", caffe="Convolution (one-hot) or Slice + Concat (+ Reshape)")
def convert_take(node: Node, ctx: EmitContext) -> None:
    """take(a, constant indices, axis, mode) -> the picked slices copied (clip/wrap resolved when converting)."""
    a = node.attrs
    data, indices = node.inputs[0], node.inputs[1]
    if not ctx.is_param(indices):
        raise ConversionError(DATA_INDICES, node.name, node.op)
    shape = ctx.shape(data)
    ndim = len(shape)
    axis = a.int("axis", 0)
    if not -ndim <= axis < ndim:
        raise ConversionError(f"is {axis}, out of range for a {ndim}-D input", node.name, node.op, "axis")
    axis %= ndim
    mode = a.str("mode", "clip", choices=("clip", "wrap", "raise"))
    positions = resolve_indices(node, ctx.param(indices), shape[axis], mode)
    gather(ctx, node.name, data, axis, positions, node.outputs[0])


@register("Embedding", caffe="Convolution (one-hot) or Slice + Concat (+ Reshape)")
def convert_embedding(node: Node, ctx: EmitContext) -> None:
    """Embedding of constant indices -> the rows picked as take(axis 0, clip); a constant table is folded instead."""
    data, weight = node.inputs[0], node.inputs[1]
    if not ctx.is_param(data):
        raise ConversionError(EMBED_INDICES, node.name, node.op)
    rows = ctx.shape(weight)[0]
    gather(ctx, node.name, weight, 0, resolve_indices(node, ctx.param(data), rows, "clip"), node.outputs[0])


def resolve_indices(node: Node, indices: np.ndarray, size: int, mode: str) -> list[int]:
    """The positions MXNet's take reads for `indices` on an axis of `size`: each truncated to an integer (C++'s
    cast), then clipped to [0, size) or wrapped around it; mode 'raise' refuses one out of range, as MXNet does."""
    values = np.asarray(indices, np.float64).reshape(-1)
    if not np.all(np.isfinite(values)):
        raise ConversionError("has NaN or infinite indices", node.name, node.op)
    positions = np.trunc(values).astype(np.int64)
    if mode == "raise" and (positions.min() < 0 or positions.max() >= size):
        raise ConversionError(
            f"indices out of [0, {size}) with mode 'raise': MXNet refuses them", node.name, node.op, "mode"
        )
    if mode == "wrap":
        positions = positions % size
    else:
        positions = np.clip(positions, 0, size - 1)
    return [int(p) for p in positions]


def runs(positions: list[int]) -> list[tuple[int, int]]:
    """Consecutive ascending positions as [start, stop) runs: [2, 3, 4, 7, 7, 1] -> [(2, 5), (7, 8), (7, 8), (1, 2)]."""
    out: list[tuple[int, int]] = []
    for p in positions:
        if out and out[-1][1] == p:
            out[-1] = (out[-1][0], p + 1)
        else:
            out.append((p, p + 1))
    return out


def gather(ctx: EmitContext, name: str, x: str, axis: int, positions: list[int], out: str) -> None:
    """`out` = the slices of `x` at `positions` along `axis`, in that order, then reshaped to `out`'s shape.

    In the target's crop pattern: 'convolution' picks the channels of a view (N, size, 1, rest) (the batch axis:
    (1, N, 1, rest)) with a one-hot 1x1 Convolution (any order, repeats), or crops each run of positions from the
    height of a view (N, before, size, after) (emit_crop) and concatenates them; 'slice': one Slice at the runs'
    ends and a Concat of the pieces (a piece not read is silenced)."""
    shape = ctx.shape(x)
    out_shape = ctx.shape(out)
    size = shape[axis]
    picked_shape = tuple(len(positions) if i == axis else d for i, d in enumerate(shape))
    if positions == list(range(size)):
        _finish(ctx, name, x, out, out_shape, picked_shape)
        return
    picked = out if picked_shape == out_shape else ctx.unique(f"{name}_picked")
    layer_name = name if picked == out else picked
    if ctx.options.patterns.crop == "convolution":
        before = int(np.prod(shape[1:axis])) if axis > 0 else 1
        after = int(np.prod(shape[axis + 1 :]))
        if before == 1:
            _pick_channels(ctx, name, layer_name, x, axis, positions, picked, picked_shape)
        else:
            _crop_runs(ctx, name, layer_name, x, (shape[0], before, size, after), positions, picked, picked_shape)
    else:
        _slice_runs(ctx, name, layer_name, x, axis, positions, picked, picked_shape)
    if picked != out:
        _finish(ctx, name, picked, out, out_shape, picked_shape)


def _pick_channels(ctx, name, layer_name, x, axis, positions, picked, picked_shape) -> None:
    """A one-hot 1x1 Convolution: output channel j = 1 x input channel positions[j] (+ 0 x the others), on the
    input itself (NCHW, axis 1) or on a view (N, size, 1, the axes after `axis`)."""
    shape = ctx.shape(x)
    size, after = shape[axis], int(np.prod(shape[axis + 1 :]))
    src = x
    four_d = len(shape) == 4 and axis == 1
    keep_batch = axis > 0
    if not four_d:
        src = ctx.unique(f"{name}_view")
        _reshape(ctx, src, x, src, (shape[0] if keep_batch else 1, size, 1, after), keep_batch)
    weights = np.zeros((len(positions), size, 1, 1), np.float32)
    weights[np.arange(len(positions)), positions] = 1.0
    top = picked if four_d else ctx.unique(f"{name}_channels")
    conv = ctx.layer(layer_name if four_d else top, "Convolution", [src], [top], [weights])
    conv.convolution_param.num_output, conv.convolution_param.bias_term = len(positions), False
    conv.convolution_param.kernel_size.append(1)
    ctx.set_shape(top, (shape[0] if keep_batch else 1, len(positions), *(shape[2:] if four_d else (1, after))))
    if not four_d:
        _reshape(ctx, layer_name, top, picked, picked_shape, keep_batch)


def _crop_runs(ctx, name, layer_name, x, view, positions, picked, picked_shape) -> None:
    """Each run of positions cropped from the height of a 4-D view (emit_crop), the crops concatenated."""
    viewed = ctx.unique(f"{name}_view")
    _reshape(ctx, viewed, x, viewed, view, keep_batch=True)
    pieces = []
    for i, (start, stop) in enumerate(runs(positions)):
        piece = ctx.unique(f"{name}_run{i}")
        emit_crop(ctx, piece, viewed, [(2, start, stop)], piece)
        pieces.append(piece)
    joined = pieces[0]
    if len(pieces) > 1:
        joined = ctx.unique(f"{name}_joined")
        ctx.layer(joined, "Concat", pieces, [joined]).concat_param.axis = 2
    ctx.set_shape(joined, (view[0], view[1], len(positions), view[3]))
    _reshape(ctx, layer_name, joined, picked, picked_shape, keep_batch=True)


def _slice_runs(ctx, name, layer_name, x, axis, positions, picked, picked_shape) -> None:
    """One Slice at every run's ends, the pieces of each run concatenated in order (a piece may be read twice)."""
    shape = ctx.shape(x)
    size = shape[axis]
    spans = runs(positions)
    points = sorted({p for span in spans for p in span if 0 < p < size})
    bounds = list(zip([0] + points, points + [size]))
    tops = [ctx.unique(f"{name}_piece{b}_{e}") for b, e in bounds]
    layer = ctx.layer(ctx.unique(f"{name}_slice"), "Slice", [x], tops)
    layer.slice_param.axis = axis
    layer.slice_param.slice_point.extend(points)
    for top, (b, e) in zip(tops, bounds):
        ctx.set_shape(top, tuple(e - b if i == axis else d for i, d in enumerate(shape)))
    order = [top for start, stop in spans for top, (b, e) in zip(tops, bounds) if start <= b and e <= stop]
    if len(order) == 1:
        ctx.alias(picked, order[0])
        return
    ctx.layer(layer_name, "Concat", order, [picked]).concat_param.axis = axis
    ctx.set_shape(picked, picked_shape)


def _finish(ctx: EmitContext, name: str, src: str, out: str, out_shape: tuple, src_shape: tuple) -> None:
    """`src` as the node's output: an alias when the shapes agree, else a Reshape named after the node."""
    if tuple(src_shape) == tuple(out_shape):
        ctx.alias(out, src)
        return
    keep = bool(out_shape) and bool(src_shape) and out_shape[0] == src_shape[0]
    _reshape(ctx, name, src, out, out_shape, keep_batch=keep)


def _reshape(ctx: EmitContext, name: str, src: str, top: str, shape: tuple[int, ...], keep_batch: bool) -> None:
    dims = list(shape)
    if keep_batch and dims:
        dims[0] = 0  # the batch copied, so the net can be reshaped to another batch
    ctx.layer(name, "Reshape", [src], [top]).reshape_param.shape.dim.extend(dims)
    ctx.set_shape(top, tuple(shape))
