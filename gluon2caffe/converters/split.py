"""Splitting and stacking: SliceChannel / split / _split_v2 -> Slice (+ Reshape per part); stack -> Reshape +
Concat. Every value is copied, never computed: exact."""

from __future__ import annotations

import numpy as np

from ..errors import ConversionError
from ..ir.graph import Node
from ._common import positive_axis
from .context import EmitContext
from .registry import register
from .gather import gather


@register("SliceChannel", "split", caffe="Slice (+ Reshape)")
def convert_slice_channel(node: Node, ctx: EmitContext) -> None:
    """SliceChannel / split (num_outputs equal parts of any axis; squeeze_axis) -> Slice (+ a Reshape per part)."""
    a = node.attrs
    x = node.inputs[0]
    shape = ctx.shape(x)
    axis = positive_axis(node, "axis", a.int("axis", 1), len(shape))
    parts = a.int("num_outputs")
    if parts <= 0 or shape[axis] % parts:
        raise ConversionError(
            f"is {parts}: it does not divide axis {axis} of size {shape[axis]}", node.name, node.op, "num_outputs"
        )
    size = shape[axis] // parts
    emit_parts(node, ctx, axis, [i * size for i in range(parts)], a.bool("squeeze_axis", False))


@register("_split_v2", caffe="Slice (+ Reshape)")
def convert_split_v2(node: Node, ctx: EmitContext) -> None:
    """_split_v2 (split_v2: `sections`, or `indices` starting at 0; squeeze_axis) -> Slice (+ a Reshape per part)."""
    a = node.attrs
    x = node.inputs[0]
    shape = ctx.shape(x)
    axis = positive_axis(node, "axis", a.int("axis", 1), len(shape))
    sections = a.int("sections", 0)
    starts = list(split_starts(shape[axis], sections)) if sections > 0 else list(a.int_tuple("indices", ()))
    bounds = starts[1:] + [shape[axis]]
    if not starts or starts[0] != 0 or any(not b < e <= shape[axis] for b, e in zip(starts, bounds)):
        raise ConversionError(
            f"is {tuple(starts)}: the parts must start at 0 and each hold at least one of the {shape[axis]} "
            f"elements of axis {axis}, in order",
            node.name,
            node.op,
            "indices" if sections <= 0 else "sections",
        )
    emit_parts(node, ctx, axis, starts, a.bool("squeeze_axis", False))


def split_starts(size: int, sections: int) -> tuple[int, ...]:
    """Where each of `sections` parts of an axis of `size` starts, as MXNet's split_v2 cuts it (GetSplitIndices in
    matrix_op-inl.h): the first size % sections parts one element longer."""
    short, longer = divmod(size, sections)
    starts, position = [], 0
    for i in range(sections):
        starts.append(position)
        position += short + (1 if i < longer else 0)
    return tuple(starts)


def emit_parts(node: Node, ctx: EmitContext, axis: int, starts: list[int], squeeze: bool) -> None:
    """The node's outputs: the parts of its input along `axis` starting at `starts` (each to the next start, the
    last to the end), squeezed (a Reshape without `axis`) if asked.

    One Slice writes every part; where some part is read by nothing and the target avoids Silence (its crop pattern
    is 'convolution'), each part that is read is picked on its own (gather: a one-hot Convolution on a 4-D view)."""
    x = node.inputs[0]
    shape = ctx.shape(x)
    ends = starts[1:] + [shape[axis]]
    if squeeze and any(e - b != 1 for b, e in zip(starts, ends)):
        raise ConversionError(
            f"squeezes axis {axis}, but its parts are not all of size 1", node.name, node.op, "squeeze_axis"
        )
    outputs = [node.outputs[i] if i < len(node.outputs) else None for i in range(len(starts))]
    read = [t is not None and ctx.graph.use_count(t) > 0 for t in outputs]
    if len(starts) == 1:  # one part: the input itself
        parts = [x]
    elif all(read) or ctx.options.patterns.crop != "convolution":
        parts = [ctx.unique(f"{node.name}_part{i}") if squeeze or t is None else t for i, t in enumerate(outputs)]
        layer = ctx.layer(node.name if not squeeze else ctx.unique(f"{node.name}_slice"), "Slice", [x], parts)
        layer.slice_param.axis = axis
        layer.slice_param.slice_point.extend(starts[1:])
        for part, b, e in zip(parts, starts, ends):
            ctx.set_shape(part, tuple(e - b if i == axis else d for i, d in enumerate(shape)))
    else:  # each part that is read, picked as a one-hot Convolution on a view (gather), squeezed by its Reshape
        first = read.index(True) if any(read) else -1
        for i, (t, b, e) in enumerate(zip(outputs, starts, ends)):
            if read[i]:
                name = node.name if i == first else ctx.unique(f"{node.name}_part{i}")
                gather(ctx, name, x, axis, list(range(b, e)), t)
        return
    for i, (t, part) in enumerate(zip(outputs, parts)):
        if t is None:
            continue
        if not squeeze:
            if part != t:
                ctx.alias(t, part)
            continue
        out_shape = ctx.shape(t)
        name = node.name if i == 0 else ctx.unique(f"{node.name}_squeeze{i}")
        dims = list(out_shape)
        if axis > 0 and dims:
            dims[0] = 0  # the batch is kept: copied, so the net can be reshaped to another batch
        ctx.layer(name, "Reshape", [part], [t]).reshape_param.shape.dim.extend(dims)


@register("stack", caffe="Reshape + Concat + Reshape")
def convert_stack(node: Node, ctx: EmitContext) -> None:
    """stack(axis) -> each input viewed as (N, P, Q) (P: the axes before `axis`, Q: from it on), Concat on Q, Reshape.

    Concatenating the (N, P, Q) views along their last axis puts input i at [i*Q, (i+1)*Q) of each (n, p) row, which
    is the stacked tensor (N, ..., k, ...) in C order; the views keep every blob at most 3-D. Along axis 0 the inputs
    are (1, size) rows concatenated on axis 0."""
    shape = ctx.shape(node.inputs[0])
    out = node.outputs[0]
    out_shape = ctx.shape(out)
    axis = positive_axis(node, "axis", node.attrs.int("axis", 0), len(shape) + 1)
    if any(ctx.shape(t) != shape for t in node.inputs):
        raise ConversionError(f"inputs have different shapes {[ctx.shape(t) for t in node.inputs]}", node.name, node.op)
    if len(node.inputs) == 1:
        _reshape(ctx, node.name, node.inputs[0], out, out_shape, keep_batch=axis > 0)
        return
    if axis == 0:
        view = (1, int(np.prod(shape)))
        concat_axis = 0
    else:
        view = (shape[0], int(np.prod(shape[1:axis])), int(np.prod(shape[axis:])))
        concat_axis = 2
    views = []
    for i, t in enumerate(node.inputs):
        if ctx.shape(t) == view:
            views.append(t)
            continue
        viewed = ctx.unique(f"{node.name}_view{i}")
        _reshape(ctx, viewed, t, viewed, view, keep_batch=axis > 0)
        views.append(viewed)
    joined = ctx.unique(f"{node.name}_concat")
    ctx.layer(joined, "Concat", views, [joined]).concat_param.axis = concat_axis
    joined_shape = list(view)
    joined_shape[concat_axis] *= len(views)
    ctx.set_shape(joined, tuple(joined_shape))
    _reshape(ctx, node.name, joined, out, out_shape, keep_batch=axis > 0)


def _reshape(ctx: EmitContext, name: str, src: str, top: str, shape: tuple[int, ...], keep_batch: bool) -> None:
    """Reshape `src` to `shape`; the batch copied (0) when it stays the first axis, so the net stays reshapable."""
    dims = list(shape)
    if keep_batch and dims:
        dims[0] = 0
    ctx.layer(name, "Reshape", [src], [top]).reshape_param.shape.dim.extend(dims)
    ctx.set_shape(top, tuple(shape))
