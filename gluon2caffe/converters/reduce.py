"""Reductions: sum (Slice + Eltwise), mean (AVE Pooling)."""

from __future__ import annotations

import numpy as np

from ..errors import ConversionError
from ..ir.graph import Node
from ._common import positive_axis, set_window
from .context import EmitContext
from .registry import register


MAX_TERMS = 64


@register("sum", caffe="Slice + Eltwise SUM (+ Reshape)")
def convert_sum(node: Node, ctx: EmitContext) -> None:
    """sum over one axis (of up to 64 elements, e.g. ResNeSt's radix) -> Slice into parts + Eltwise SUM."""
    a = node.attrs
    x, out = node.inputs[0], node.outputs[0]
    shape = ctx.shape(x)
    axes = a.int_tuple("axis", None)
    if axes is None or len(axes) != 1 or a.bool("exclude", False):
        raise ConversionError(
            f"is {a.str('axis', 'None')}; only a sum over one axis converts", node.name, node.op, "axis"
        )
    axis = positive_axis(node, "axis", axes[0], len(shape))
    size = shape[axis]
    if size > MAX_TERMS:
        raise ConversionError(f"sums {size} terms; at most {MAX_TERMS} are supported", node.name, node.op, "axis")
    summed = out if a.bool("keepdims", False) else ctx.unique(f"{node.name}_keepdims")
    if size == 1:
        parts = [x]
    else:
        parts = [ctx.unique(f"{node.name}_part{i}") for i in range(size)]
        layer = ctx.layer(ctx.unique(f"{node.name}_split"), "Slice", [x], parts)
        layer.slice_param.axis = axis
        layer.slice_param.slice_point.extend(range(1, size))
    if len(parts) == 1:
        ctx.alias(summed, x)
    else:
        ctx.layer(node.name, "Eltwise", parts, [summed]).eltwise_param.operation = 1  # SUM
    if summed != out:
        reshape = ctx.layer(ctx.unique(f"{node.name}_squeeze"), "Reshape", [summed], [out])
        dims = list(ctx.shape(out))
        if dims and dims[0] == shape[0] and axis != 0:
            dims[0] = 0
        reshape.reshape_param.shape.dim.extend(dims)


@register("mean", caffe="Pooling AVE (+ Reshape)")
def convert_mean(node: Node, ctx: EmitContext) -> None:
    """mean over any axes (keepdims, exclude) -> AVE Pooling of each run of adjacent axes, on a 4-D Reshape view.

    A run [a, b) of reduced axes of (d0, ..., dn) is the window height of (d0, d1*..*d(a-1), da*..*d(b-1), the rest):
    Caffe's AVE sums the window and divides by its size, as MXNet does; runs apart are pooled one after the other
    (a mean of equal-sized means). A 4-D input reduced over H and/or W is pooled as it is."""
    x, out = node.inputs[0], node.outputs[0]
    shape, out_shape = ctx.shape(x), ctx.shape(out)
    axes = _reduced_axes(node, len(shape))
    steps = []
    logical = list(shape)
    for start, stop in reversed(_runs([a for a in axes if shape[a] > 1])):
        view, kernel = _pooling_view(logical, start, stop)
        logical[start:stop] = [1] * (stop - start)
        steps.append((start, view, kernel))
    if not steps:  # every reduced axis has size 1
        _reshape(ctx, node.name, x, out, out_shape, keep_batch=0 not in axes)
        return
    current = x
    for i, (start, view, kernel) in enumerate(steps):
        if tuple(ctx.shape(current)) != view:
            viewed = ctx.unique(f"{node.name}_view{i}")
            _reshape(ctx, viewed, current, viewed, view, keep_batch=start > 0)
            current = viewed
        pooled_shape = (view[0], view[1], view[2] // kernel[0], view[3] // kernel[1])
        last = i == len(steps) - 1
        pooled = out if last and pooled_shape == out_shape else ctx.unique(f"{node.name}_mean{i}")
        layer = ctx.layer(node.name if pooled == out else pooled, "Pooling", [current], [pooled])
        layer.pooling_param.pool = layer.pooling_param.AVE
        set_window(layer.pooling_param, kernel)
        ctx.set_shape(pooled, pooled_shape)
        current = pooled
    if current != out:
        _reshape(ctx, node.name, current, out, out_shape, keep_batch=0 not in axes)


def _reduced_axes(node: Node, ndim: int) -> list[int]:
    """The axes a reduction (axis, exclude) reduces, ascending; no axis (or an empty tuple) means all of them."""
    a = node.attrs
    given = a.int_tuple("axis", None)
    if not given:
        return list(range(ndim))
    chosen = {positive_axis(node, "axis", axis, ndim) for axis in given}
    if a.bool("exclude", False):
        return [axis for axis in range(ndim) if axis not in chosen]
    return sorted(chosen)


def _runs(axes: list[int]) -> list[tuple[int, int]]:
    """Ascending axes as [start, stop) runs of adjacent axes: [1, 2, 4] -> [(1, 3), (4, 5)]."""
    runs: list[tuple[int, int]] = []
    for axis in axes:
        if runs and runs[-1][1] == axis:
            runs[-1] = (runs[-1][0], axis + 1)
        else:
            runs.append((axis, axis + 1))
    return runs


def _pooling_view(shape: list[int], start: int, stop: int) -> tuple[tuple[int, int, int, int], tuple[int, int]]:
    """(4-D view, pooling kernel) that averages axes [start, stop) of `shape`: H and/or W of a 4-D shape in place,
    else the run as the height of (batch, the axes before it, the run, the axes after it)."""
    if len(shape) == 4 and start >= 2:
        n, c, h, w = shape
        return (n, c, h, w), (h if start == 2 else 1, w if stop == 4 else 1)
    size = int(np.prod(shape[start:stop]))
    rest = int(np.prod(shape[stop:]))
    if start == 0:
        return (1, 1, size, rest), (size, 1)
    return (shape[0], int(np.prod(shape[1:start])), size, rest), (size, 1)


def _reshape(ctx: EmitContext, name: str, src: str, top: str, shape: tuple[int, ...], keep_batch: bool) -> None:
    """Reshape `src` to `shape`; the batch copied (0) when it is the source's batch, so the net stays reshapable."""
    dims = list(shape)
    if keep_batch and dims:
        dims[0] = 0
    ctx.layer(name, "Reshape", [src], [top]).reshape_param.shape.dim.extend(dims)
    ctx.set_shape(top, shape)
