"""Pooling pool_type 'sum' and 'lp' (p 1, 2): a window's sum of x (of x*x, then its root), 1-D, 2-D and 3-D.

MXNet sums the window's elements inside the input (the padding adds nothing); its 'avg' with count_include_pad
(the default) divides that sum by the window clipped to the padded input, a per-position number known from the
shapes. So the sum is the average (this module's Pooling converter, every convention) times that divisor: a Power
scale where every position has the same one, else a constant per-position product. Within an ulp of the sum.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConversionError
from ..ir.attrs import Attrs
from ..ir.graph import Node
from ._common import spatial_nd
from .context import EmitContext


def convert_sum_pooling(node: Node, ctx: EmitContext) -> None:
    """Pooling sum / lp -> [x*x (p 2)], the 'avg' Pooling, x divisor, [Power 0.5 (p 2)]; other p refused."""
    from .pooling import _per_position, convert_pooling

    a = node.attrs
    x, out = node.inputs[0], node.outputs[0]
    p = a.int("p_value", None) if a.str("pool_type") == "lp" else None
    p = 1 if p is None else p
    if p not in (1, 2):
        raise ConversionError(
            f"is {p}; p 1 and 2 convert (MXNet computes 3 too, as cbrt of a sum of cubes, which Caffe's Power "
            "cannot take of a negative sum)",
            node.name,
            node.op,
            "p_value",
        )
    in_shape, out_shape = ctx.shape(x), ctx.shape(out)
    source = x
    if p == 2:
        source = ctx.unique(f"{node.name}_squares")
        ctx.layer(source, "Eltwise", [x, x], [source]).eltwise_param.operation = 0  # PROD: x * x exactly
        ctx.set_shape(source, in_shape)
    attrs = Attrs(node.name, node.op, node.attrs.raw)
    attrs.typed = dict(node.attrs.typed)
    attrs.set("pool_type", "avg")
    attrs.set("count_include_pad", True)
    average = ctx.unique(f"{node.name}_average")
    ctx.set_shape(average, out_shape)
    try:
        convert_pooling(Node(average, node.op, attrs, [source], [average]), ctx)
    except ConversionError as exc:  # name this node, not its average
        message = str(exc).split(": ", 1)[1] if exc.node else str(exc)
        raise ConversionError(f"in its window average: {message}", node.name, node.op, exc.attr) from exc
    divisors = _divisors(node, in_shape[2:], out_shape[2:])
    root = out if p == 1 else ctx.unique(f"{node.name}_sum")
    if np.all(divisors == divisors.flat[0]):
        layer = ctx.layer(node.name, "Power", [average], [out]).power_param
        layer.scale = float(divisors.flat[0])
        if p == 2:
            layer.power = 0.5
        return
    n, c = out_shape[:2]
    # The divisors as an (A, B) grid of the output viewed as (N, C, A, B): (1, W), (H, W) or (T, H*W).
    grid = divisors.reshape(1, -1) if divisors.ndim == 1 else divisors.reshape(divisors.shape[0], -1)
    view = ctx.unique(f"{node.name}_average_4d")
    ctx.layer(view, "Reshape", [average], [view]).reshape_param.shape.dim.extend([0, c, *grid.shape])
    ctx.set_shape(view, (n, c, *grid.shape))
    summed = ctx.unique(f"{node.name}_sum_4d")
    ctx.set_shape(summed, (n, c, *grid.shape))
    _per_position(Node(summed, node.op, node.attrs, [view], [summed]), ctx, view, grid, "divisor", 0, summed)
    if p == 2:
        ctx.layer(root, "Reshape", [summed], [root]).reshape_param.shape.dim.extend([0, *out_shape[1:]])
        ctx.layer(node.name, "Power", [root], [out]).power_param.power = 0.5
    else:
        ctx.layer(node.name, "Reshape", [summed], [out]).reshape_param.shape.dim.extend([0, *out_shape[1:]])


def _divisors(node: Node, size: tuple[int, ...], out: tuple[int, ...]) -> np.ndarray:
    """MXNet's 'avg' divisor (count_include_pad) at every output position: per axis the window clipped to the
    padded input (end - start, end = min(start + kernel, size + pad)); empty windows (whose average is 0) get 1."""
    a = node.attrs
    ndim = len(size)
    if a.bool("global_pool", False):
        kernel, stride, pad = tuple(size), (1,) * ndim, (0,) * ndim
    else:
        kernel = spatial_nd(node, "kernel", a.int_tuple("kernel"), 1, ndim)
        stride = spatial_nd(node, "stride", a.int_tuple("stride", ()), 1, ndim)
        pad = spatial_nd(node, "pad", a.int_tuple("pad", ()), 0, ndim)
    per_axis = []
    for length, count, k, s, p in zip(size, out, kernel, stride, pad):
        starts = np.arange(count) * s - p
        ends = np.minimum(starts + k, length + p)
        per_axis.append(np.maximum(ends - starts, 1).astype(np.float64))
    divisors = per_axis[0]
    for axis in per_axis[1:]:
        divisors = np.multiply.outer(divisors, axis)
    return divisors.astype(np.float32)
