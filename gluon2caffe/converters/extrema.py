"""Extremes along axes: max, min (MAX Pooling on Reshape views), argmax, argmin, topk (ArgMax)."""

from __future__ import annotations

import numpy as np

from ..errors import ConversionError
from ..ir.graph import Node
from ._common import positive_axis
from .clip import constant_like, negate
from .context import EmitContext
from .elemwise import expand_axes
from .reduce import emit_pool_reduction, reduced_axes
from .registry import register

# The reversal that makes Caffe's ArgMax pick MXNet's index among equal values is an L x L 0/1 weight.
MAX_REVERSED = 4096


@register("max", "min", caffe="Pooling MAX (+ Power, Reshape)")
def convert_max_min(node: Node, ctx: EmitContext) -> None:
    """max / min over any axes (keepdims, exclude) -> MAX Pooling on 4-D Reshape views; min = -max(-x), exact.

    Each run of adjacent reduced axes is one pooling window (see `mean`); a MAX of MAXes is the MAX."""
    x, out = node.inputs[0], node.outputs[0]
    axes = reduced_axes(node, len(ctx.shape(x)))
    if node.op == "max":
        emit_pool_reduction(ctx, node.name, x, out, axes, ctx.shape(out), "MAX")
        return
    negated = negate(ctx, f"{node.name}_negated", x)
    largest = ctx.unique(f"{node.name}_max")
    emit_pool_reduction(ctx, largest, negated, largest, axes, ctx.shape(out), "MAX")
    ctx.layer(node.name, "Power", [largest], [out]).power_param.scale = -1.0


@register("argmax", "argmin", caffe="Pooling MAX, Deconvolution, Eltwise, Power, ReLU, Scale (+ Reshape)")
def convert_argmax(node: Node, ctx: EmitContext) -> None:
    """argmax / argmin (an axis or all, keepdims) -> MXNet's first extreme, as a float, from layers every runtime has.

    Caffe's ArgMax takes the last of equal values where MXNet takes the first, and OpenCV, MNN and ncnn cannot run
    it; so (argmin as the argmax of -x): m = max along the axis; t = 1 where x == m, else 0 (_is_zero: the gap
    scaled by 2^150 in bounded steps, so any nonzero one, even subnormal, drops to 0); the largest t x (L - i) is
    L - the first such i (exact small integers)."""
    x, out = node.inputs[0], node.outputs[0]
    shape = ctx.shape(x)
    axis = optional_axis(node, None, len(shape))
    source = x if node.op == "argmax" else negate(ctx, f"{node.name}_negated", x)
    emit_first_argmax(ctx, node.name, source, axis, out)


def emit_first_argmax(ctx: EmitContext, name: str, x: str, axis: int | None, out: str) -> None:
    """out = the index of the first maximum of x along `axis` (None: of all elements, flattened), as a float; the
    last layer is called `name`."""
    shape = ctx.shape(x)
    view = _axis_view(shape, axis)
    n, lead, size, rest = view
    if size == 1:  # one element: index 0
        zero = ctx.unique(f"{name}_zero")
        ctx.layer(zero, "Power", [x], [zero]).power_param.scale = 0.0
        _reshape_to(ctx, name, zero, out, shape, axis)
        return
    current = _reshape_view(ctx, f"{name}_view", x, view, axis)
    largest = ctx.unique(f"{name}_max")
    pooling = ctx.layer(largest, "Pooling", [current], [largest]).pooling_param
    pooling.pool = pooling.MAX
    pooling.kernel_h, pooling.kernel_w = size, 1
    ctx.set_shape(largest, (n, lead, 1, rest))
    repeated = expand_axes(ctx, largest, largest, view)
    is_max = _is_zero(ctx, name, current, repeated)
    # t x (L - i): a per-channel Scale on the view (N, lead * L, rest, 1), the one axis every runtime scales along.
    channels = ctx.unique(f"{name}_channels")
    ctx.layer(channels, "Reshape", [is_max], [channels]).reshape_param.shape.dim.extend(
        [_batch_dim(n, axis), lead * size, rest, 1]
    )
    weights = np.tile(np.arange(size, 0, -1, dtype=np.float32), lead)
    ranked = ctx.unique(f"{name}_ranked")
    ctx.layer(ranked, "Scale", [channels], [ranked], [weights]).scale_param.bias_term = False
    ctx.set_shape(ranked, (n, lead * size, rest, 1))
    rows = _reshape_view(ctx, f"{name}_ranked_rows", ranked, view, axis)
    best = ctx.unique(f"{name}_best")
    pooling = ctx.layer(best, "Pooling", [rows], [best]).pooling_param
    pooling.pool = pooling.MAX
    pooling.kernel_h, pooling.kernel_w = size, 1
    index = ctx.unique(f"{name}_index")
    p = ctx.layer(index, "Power", [best], [index]).power_param
    p.scale, p.shift = -1.0, float(size)
    _reshape_to(ctx, name, index, out, shape, axis)


def _is_zero(ctx: EmitContext, name: str, x: str, largest: str) -> str:
    """1 where x == largest, else 0 (x <= largest), exactly and without inf (OpenCV's ReLU makes -inf NaN):
    g = max(x - largest, -1) in [-1, 0]; twice g = max(2^75 g, -1) (a nonzero g, even a subnormal -2^-149, reaches
    <= -2^-74, then -1); relu(1 + 2^75 g) is 1 for g = 0 and 0 for g <= -2^-74."""
    gap = ctx.unique(f"{name}_gap")
    ctx.layer(gap, "Eltwise", [x, largest], [gap]).eltwise_param.coeff.extend([1.0, -1.0])
    floor = constant_like(ctx, f"{name}_minus_one", gap, -1.0)
    bounded = ctx.unique(f"{name}_gap_bounded")
    ctx.layer(bounded, "Eltwise", [gap, floor], [bounded]).eltwise_param.operation = 2  # MAX
    scaled = ctx.unique(f"{name}_gap_scaled")
    ctx.layer(scaled, "Power", [bounded], [scaled]).power_param.scale = 2.0**75
    rebounded = ctx.unique(f"{name}_gap_rebounded")
    ctx.layer(rebounded, "Eltwise", [scaled, floor], [rebounded]).eltwise_param.operation = 2  # MAX
    linear = ctx.unique(f"{name}_is_max_linear")
    p = ctx.layer(linear, "Power", [rebounded], [linear]).power_param
    p.scale, p.shift = 2.0**75, 1.0
    is_max = ctx.unique(f"{name}_is_max")
    ctx.layer(is_max, "ReLU", [linear], [is_max])
    return is_max


def _axis_view(shape: tuple[int, ...], axis: int | None) -> tuple[int, int, int, int]:
    """(N, M, L, R): the axis as L (axis 2), the batch first where it is not the axis itself."""
    if axis is None:
        return 1, 1, int(np.prod(shape)), 1
    if axis == 0:
        return 1, 1, shape[0], int(np.prod(shape[1:]))
    return shape[0], int(np.prod(shape[1:axis])), shape[axis], int(np.prod(shape[axis + 1 :]))


def _batch_dim(n: int, axis: int | None) -> int:
    """The first Reshape dim of a view: the batch copied (0) where the view's first axis is the batch."""
    return 0 if axis not in (None, 0) else n


def _reshape_view(ctx: EmitContext, base: str, x: str, view: tuple[int, ...], axis: int | None) -> str:
    if tuple(ctx.shape(x)) == tuple(view):
        return x
    top = ctx.unique(base)
    ctx.layer(top, "Reshape", [x], [top]).reshape_param.shape.dim.extend([_batch_dim(view[0], axis), *view[1:]])
    ctx.set_shape(top, view)
    return top


def _reshape_to(ctx: EmitContext, name: str, x: str, out: str, in_shape: tuple, axis: int | None) -> None:
    """x (its first axis the batch where the axis is not) reshaped to `out`'s shape by a layer called `name`."""
    dims = list(ctx.shape(out))
    if axis not in (None, 0):
        dims[0] = 0
    ctx.layer(name, "Reshape", [x], [out]).reshape_param.shape.dim.extend(dims)


@register("topk", caffe="as argmax (k 1); else Convolution (reversal) + ArgMax (+ Power, Reshape), target caffe only")
def convert_topk(node: Node, ctx: EmitContext) -> None:
    """topk value / indices / both, any k, any axis (or all), is_ascend -> as argmax and max (k 1), else ArgMax.

    is_ascend takes the top k of -x (values negated back). k = 1 is max and argmax's layers (every runtime); k > 1
    is Caffe's ArgMax top_k (out_max_val for values), which OpenCV, MNN and ncnn cannot run, on the axis reversed (a
    0/1 Convolution) so equal values come in ascending index order (MXNet's std::sort leaves their order open; the
    values are the same). ret_typ 'mask' (1 at the top k positions) is refused: no Caffe layer writes at indices."""
    a = node.attrs
    x = node.inputs[0]
    shape = ctx.shape(x)
    ret = a.str("ret_typ", "indices", choices=("value", "indices", "mask", "both"))
    if ret == "mask":
        raise ConversionError(
            "is 'mask' (1 at the top k positions): Caffe has no layer that writes at computed indices",
            node.name,
            node.op,
            "ret_typ",
        )
    axis = optional_axis(node, -1, len(shape))
    size = int(np.prod(shape)) if axis is None else shape[axis]
    k = a.int("k", 1)
    k = size if k <= 0 else k
    if k > size:
        raise ConversionError(f"is {k}; the axis has {size} elements", node.name, node.op, "k")
    ascending = a.bool("is_ascend", False)
    source = negate(ctx, f"{node.name}_negated", x) if ascending else x
    if ret == "value":
        wanted = [(node.outputs[0], True)]
    elif ret == "indices":
        wanted = [(node.outputs[0], False)]
    else:  # values, indices: each where something reads it
        read = [t for t in node.outputs[:2] if ctx.graph.consumers(t) or t in ctx.graph.outputs]
        wanted = [(t, t == node.outputs[0]) for t in read]
    if k == 1:
        for tensor, values in wanted:
            name = node.name if tensor == node.outputs[0] else ctx.unique(f"{tensor}_layer")
            if values:
                _top_value(ctx, name, source, axis, tensor, ascending)
            else:
                emit_first_argmax(ctx, name, source, axis, tensor)
        return
    if ascending:  # values of -x: negated back
        wanted = [(t, True, f"{t}_negated_value") if value else (t, False) for t, value in wanted]
    _emit_top_k(node, ctx, source, shape, axis, k, wanted)


def _top_value(ctx: EmitContext, name: str, x: str, axis: int | None, out: str, negated: bool) -> None:
    """The max of x along `axis` (all elements for None) in `out`'s shape; negated back for is_ascend."""
    shape = ctx.shape(x)
    axes = list(range(len(shape))) if axis is None else [axis]
    if not negated:
        emit_pool_reduction(ctx, name, x, out, axes, ctx.shape(out), "MAX")
        return
    largest = ctx.unique(f"{name}_max")
    emit_pool_reduction(ctx, largest, x, largest, axes, ctx.shape(out), "MAX")
    ctx.layer(name, "Power", [largest], [out]).power_param.scale = -1.0


def optional_axis(node: Node, default: int | None, ndim: int) -> int | None:
    """The `axis` attribute as 0..ndim-1, or None where it is 'None' (every element)."""
    raw = node.attrs.str("axis", None)
    if raw is None:
        axis = default
    elif raw.strip().lower() == "none":
        axis = None
    else:
        axis = node.attrs.int("axis")
    return None if axis is None else positive_axis(node, "axis", axis, ndim)


def _emit_top_k(node: Node, ctx: EmitContext, x: str, shape: tuple, axis: int | None, k: int, wanted: list) -> None:
    """The top k of x along `axis` (None: all elements) as MXNet orders them, into each wanted output: (tensor,
    values?) or (tensor, True, blob) for values to negate. x is viewed as (A, L, B, 1), the axis reversed (0/1
    Convolution), ArgMax along it; indices i of the reversed axis are L-1-i."""
    lead = 1 if axis is None else int(np.prod(shape[:axis]))
    size = int(np.prod(shape)) if axis is None else shape[axis]
    rest = 1 if axis is None else int(np.prod(shape[axis + 1 :]))
    keep_batch = axis == 1  # the view's first axis is the batch (copied, so the net keeps a free batch size)
    view = (lead, size, rest, 1)
    current = x
    if tuple(ctx.shape(x)) != view:
        current = ctx.unique(f"{node.name}_view")
        dims = [0 if keep_batch else lead, size, rest, 1]
        ctx.layer(current, "Reshape", [x], [current]).reshape_param.shape.dim.extend(dims)
    indices_needed = any(not item[1] for item in wanted)
    if indices_needed and size > 1:
        if size > MAX_REVERSED:
            raise ConversionError(
                f"takes indices along an axis of {size} elements; matching MXNet's choice among equal values needs "
                f"an {size} x {size} reversal (at most {MAX_REVERSED} here)",
                node.name,
                node.op,
                "axis",
            )
        reversed_ = ctx.unique(f"{node.name}_reversed")
        weights = np.eye(size, dtype=np.float32)[::-1].reshape(size, size, 1, 1).copy()
        p = ctx.layer(reversed_, "Convolution", [current], [reversed_], [weights]).convolution_param
        p.num_output, p.bias_term = size, False
        p.kernel_size.append(1)
        current = reversed_
    for item in wanted:
        tensor, values = item[0], item[1]
        out_shape = ctx.shape(tensor)
        top = ctx.unique(f"{tensor}_top{k}")
        layer = ctx.layer(top, "ArgMax", [current], [top])
        p = layer.argmax_param
        p.axis, p.top_k = 1, k
        if values:
            p.out_max_val = True
        ctx.set_shape(top, (lead, k, rest, 1))
        result = top
        if not values and size > 1:  # index in the reversed axis -> MXNet's
            result = ctx.unique(f"{tensor}_index")
            q = ctx.layer(result, "Power", [top], [result]).power_param
            q.scale, q.shift = -1.0, float(size - 1)
        elif values and len(item) > 2:
            result = ctx.unique(item[2])
            ctx.layer(result, "Power", [top], [result]).power_param.scale = -1.0
        dims = list(out_shape)
        if keep_batch:
            dims[0] = 0
        name = node.name if tensor == node.outputs[0] else ctx.unique(f"{tensor}_shape")
        ctx.layer(name, "Reshape", [result], [tensor]).reshape_param.shape.dim.extend(dims)
