"""Shape ops: Flatten, Reshape, expand_dims, transpose, Concat."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import ConversionError
from ..ir import Node
from ._common import positive_axis
from .registry import register, register_removed

if TYPE_CHECKING:
    from ..emit import EmitContext

register_removed("Dropout", "_copy", "identity", doc="identity at inference (removed by a pass)", family="shape")


@register("Flatten", caffe="Flatten")
def convert_flatten(node: Node, ctx: EmitContext) -> None:
    """Flatten -> Flatten (axis 1 to the end, C-order like MXNet)."""
    ctx.layer(node.name, "Flatten", [node.inputs[0]], [node.outputs[0]])


@register("Reshape", "expand_dims", caffe="Reshape")
def convert_reshape(node: Node, ctx: EmitContext) -> None:
    """Reshape (codes 0/-1/-2/-3/-4, reverse) / expand_dims -> Reshape to the inferred shape, batch copied (0)."""
    x, out = node.inputs[0], node.outputs[0]
    in_shape, out_shape = ctx.shape(x), ctx.shape(out)
    dims = list(out_shape)
    if dims and in_shape and dims[0] == in_shape[0]:
        dims[0] = 0  # copy the batch size, so the Reshape does not pin it
    layer = ctx.layer(node.name, "Reshape", [x], [out])
    layer.reshape_param.shape.dim.extend(dims)


@register("transpose", caffe="Permute (caffe-ssd)")
def convert_transpose(node: Node, ctx: EmitContext) -> None:
    """transpose -> Permute; no `axes` means reversed axes, as in MXNet."""
    x = node.inputs[0]
    ndim = len(ctx.shape(x))
    axes = node.attrs.int_tuple("axes", ())
    order = [positive_axis(node, "axes", ax, ndim) for ax in axes] if axes else list(reversed(range(ndim)))
    if sorted(order) != list(range(ndim)):
        raise ConversionError(f"is {axes}, not a permutation of {ndim} axes", node.name, node.op, "axes")
    layer = ctx.layer(node.name, "Permute", [x], [node.outputs[0]])
    layer.permute_param.order.extend(order)


@register("Concat", caffe="Concat")
def convert_concat(node: Node, ctx: EmitContext) -> None:
    """Concat -> Concat along the same axis (any dim)."""
    ndim = len(ctx.shape(node.outputs[0]))
    axis = positive_axis(node, "dim", node.attrs.int("dim", 1), ndim)
    layer = ctx.layer(node.name, "Concat", node.inputs, [node.outputs[0]])
    layer.concat_param.axis = axis
