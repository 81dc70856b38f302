"""Softmax."""

from __future__ import annotations

from ..errors import ConversionError
from ..ir.graph import Node
from ._common import positive_axis
from .context import EmitContext
from .registry import register


@register("softmax", caffe="Softmax")
def convert_softmax(node: Node, ctx: EmitContext) -> None:
    """softmax -> Softmax with the axis always written (MXNet defaults to -1, Caffe to 1)."""
    a = node.attrs
    temperature = a.float("temperature", None)
    if temperature not in (None, 1.0):
        raise ConversionError(f"is {temperature}; only temperature 1 converts", node.name, node.op, "temperature")
    if a.str("dtype", "None") == "float16":
        raise ConversionError(
            "is 'float16': MXNet rounds the output to half precision (about 3 digits), a Caffe net computes float32; "
            "drop dtype (or make it float32) to convert exactly",
            node.name,
            node.op,
            "dtype",
        )
    if a.bool("use_length", False):
        raise ConversionError("masked softmax (use_length) has no Caffe layer", node.name, node.op, "use_length")
    x = node.inputs[0]
    axis = positive_axis(node, "axis", a.int("axis", -1), len(ctx.shape(x)))
    layer = ctx.layer(node.name, "Softmax", [x], [node.outputs[0]])
    layer.softmax_param.axis = axis
