"""Softmax."""

from __future__ import annotations

import math

from ..errors import ConversionError
from ..ir.graph import Node
from ._common import positive_axis
from .context import EmitContext
from .registry import register


@register("softmax", caffe="Softmax")
def convert_softmax(node: Node, ctx: EmitContext) -> None:
    """softmax -> Softmax with the axis always written (MXNet defaults to -1, Caffe to 1).

    Along axis 0, the tensor is reshaped to one sample (1, N, rest) and the Softmax runs along axis 1."""
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
    shape = tuple(ctx.shape(x))
    axis = positive_axis(node, "axis", a.int("axis", -1), len(shape))
    out = node.outputs[0]
    if axis == 0:
        # Along the batch: the same Softmax along axis 1 of the tensor as one sample (1, N, rest); MNN computes a
        # Softmax along axis 0 over another axis, silently.
        rest = math.prod(shape[1:])
        whole, normalized = ctx.unique(f"{node.name}_whole"), ctx.unique(f"{node.name}_normalized")
        ctx.layer(whole, "Reshape", [x], [whole]).reshape_param.shape.dim.extend([1, shape[0], rest])
        ctx.set_shape(whole, (1, shape[0], rest))
        ctx.layer(normalized, "Softmax", [whole], [normalized]).softmax_param.axis = 1
        ctx.set_shape(normalized, (1, shape[0], rest))
        ctx.layer(node.name, "Reshape", [normalized], [out]).reshape_param.shape.dim.extend(shape)
        return
    layer = ctx.layer(node.name, "Softmax", [x], [out])
    layer.softmax_param.axis = axis
