"""Reductions by pooling over Reshape views: sum, mean (and the helpers max/min/norm use)."""

from __future__ import annotations

import numpy as np

from ..errors import ConversionError
from ..ir.graph import Node
from ._common import positive_axis, set_window
from .context import EmitContext
from .registry import register
from .unary import emit_abs


MAX_TERMS = 64


@register("sum", caffe="Slice + Eltwise SUM, or Pooling AVE + Power (+ Reshape)")
def convert_sum(node: Node, ctx: EmitContext) -> None:
    """sum over any axes (keepdims, exclude) -> Slice + Eltwise SUM (one axis of up to 64), else mean x count.

    One axis of at most 64 elements (ResNeSt's radix) is summed term by term; any other set of axes is averaged as
    `mean` does (AVE Pooling on Reshape views) and multiplied back by the element count (a Power scale: within an
    ulp of the sum)."""
    a = node.attrs
    x, out = node.inputs[0], node.outputs[0]
    shape = ctx.shape(x)
    axes = reduced_axes(node, len(shape))
    if len(axes) == 1 and shape[axes[0]] <= MAX_TERMS:
        _sum_terms(node, ctx, axes[0], a.bool("keepdims", False))
        return
    count = int(np.prod([shape[axis] for axis in axes]))
    if count == 1:
        emit_pool_reduction(ctx, node.name, x, out, axes, ctx.shape(out), "AVE")
        return
    mean = ctx.unique(f"{node.name}_mean")
    emit_pool_reduction(ctx, mean, x, mean, axes, ctx.shape(out), "AVE")
    ctx.layer(node.name, "Power", [mean], [out]).power_param.scale = float(count)


def _sum_terms(node: Node, ctx: EmitContext, axis: int, keepdims: bool) -> None:
    """sum over one short axis: Slice into its parts + Eltwise SUM (+ a Reshape dropping the axis)."""
    x, out = node.inputs[0], node.outputs[0]
    shape = ctx.shape(x)
    size = shape[axis]
    summed = out if keepdims else ctx.unique(f"{node.name}_keepdims")
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
    axes = reduced_axes(node, len(ctx.shape(x)))
    emit_pool_reduction(ctx, node.name, x, out, axes, ctx.shape(out), "AVE")


def emit_pool_reduction(
    ctx: EmitContext, name: str, x: str, out: str, axes: list[int], out_shape: tuple[int, ...], pool: str
) -> None:
    """out (of `out_shape`: the reduced axes dropped or kept as 1) = the AVE or MAX of x over `axes` (ascending),
    by Pooling each run of adjacent reduced axes on a 4-D Reshape view (see `mean`); a MAX of MAXes is the MAX, a
    mean of equal-sized means the mean. The last layer is called `name`."""
    shape = ctx.shape(x)
    steps = []
    logical = list(shape)
    for start, stop in reversed(_runs([a for a in axes if shape[a] > 1])):
        view, kernel = _pooling_view(logical, start, stop)
        logical[start:stop] = [1] * (stop - start)
        steps.append((start, view, kernel))
    keep_batch = 0 not in axes
    if not steps:  # every reduced axis has size 1
        _reshape(ctx, name, x, out, out_shape, keep_batch=keep_batch)
        return
    current = x
    for i, (start, view, kernel) in enumerate(steps):
        if tuple(ctx.shape(current)) != view:
            viewed = ctx.unique(f"{name}_view{i}")
            _reshape(ctx, viewed, current, viewed, view, keep_batch=start > 0)
            current = viewed
        pooled_shape = (view[0], view[1], view[2] // kernel[0], view[3] // kernel[1])
        last = i == len(steps) - 1
        pooled = out if last and pooled_shape == tuple(out_shape) else ctx.unique(f"{name}_{pool.lower()}{i}")
        layer = ctx.layer(name if pooled == out else pooled, "Pooling", [current], [pooled])
        layer.pooling_param.pool = getattr(layer.pooling_param, pool)
        set_window(layer.pooling_param, kernel)
        ctx.set_shape(pooled, pooled_shape)
        current = pooled
    if current != out:
        _reshape(ctx, name, current, out, out_shape, keep_batch=keep_batch)


def reduced_axes(node: Node, ndim: int) -> list[int]:
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


@register("norm", caffe="Eltwise (MAX of x, -x; or PROD), Pooling AVE, Power (+ Reshape)")
def convert_norm(node: Node, ctx: EmitContext) -> None:
    """norm ord 1 / 2 over any axes (keepdims) -> abs(x) or x*x averaged as `mean` does, then (count x mean)^(1/ord).

    ord=2 is sqrt(count * mean(x*x)): MXNet scales by the largest |x| first, so it stays finite where x*x overflows
    float32 (|x| > 1.8e19); here such a norm is inf. Over axes that hold one element the norm is |x|."""
    a = node.attrs
    ord_ = a.int("ord", 2)
    if ord_ not in (1, 2):
        raise ConversionError(f"is {ord_}; MXNet computes ord 1 and 2 only", node.name, node.op, "ord")
    out_dtype = a.str("out_dtype", "None")
    if out_dtype not in ("None", "float32", "float64"):
        raise ConversionError(
            f"is {out_dtype!r}; Caffe computes in float32 (float16 and integer outputs round or truncate the norm)",
            node.name,
            node.op,
            "out_dtype",
        )
    x, out = node.inputs[0], node.outputs[0]
    shape = ctx.shape(x)
    given = a.int_tuple("axis", None)
    axes = list(range(len(shape))) if not given else sorted({positive_axis(node, "axis", i, len(shape)) for i in given})
    count = int(np.prod([shape[axis] for axis in axes]))
    if count == 1:
        magnitude = ctx.unique(f"{node.name}_abs")
        emit_abs(ctx, magnitude, x, magnitude)
        ctx.set_shape(magnitude, shape)
        emit_pool_reduction(ctx, node.name, magnitude, out, axes, ctx.shape(out), "AVE")
        return
    terms = ctx.unique(f"{node.name}_{'abs' if ord_ == 1 else 'square'}")
    if ord_ == 1:
        emit_abs(ctx, terms, x, terms)
    else:
        ctx.layer(terms, "Eltwise", [x, x], [terms]).eltwise_param.operation = 0  # PROD: x * x exactly
    ctx.set_shape(terms, shape)
    mean = ctx.unique(f"{node.name}_mean")
    emit_pool_reduction(ctx, mean, terms, mean, axes, ctx.shape(out), "AVE")
    p = ctx.layer(node.name, "Power", [mean], [out]).power_param
    p.scale = float(count)
    if ord_ == 2:
        p.power = 0.5
