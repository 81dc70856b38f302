"""Reductions."""

from __future__ import annotations

from ..errors import ConversionError
from ..ir.graph import Node
from ._common import positive_axis
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
