"""Fully connected layers."""

from __future__ import annotations

from ..ir.graph import Node
from .context import EmitContext
from .registry import register


@register("FullyConnected", caffe="InnerProduct")
def convert_fully_connected(node: Node, ctx: EmitContext) -> None:
    """FullyConnected -> InnerProduct; flatten=True is axis 1, flatten=False the last axis; no_bias -> no bias.

    A 1-D input (N,) with flatten=True is N samples of one feature: Reshaped to (N, 1) first (flatten=False takes
    the whole vector as the features of one sample: axis 0)."""
    a = node.attrs
    no_bias = a.bool("no_bias", False)
    flatten = a.bool("flatten", True)
    weight = ctx.param(node.inputs[1])
    blobs = [weight] if no_bias else [weight, ctx.param(node.inputs[2])]
    x = node.inputs[0]
    ndim = len(ctx.shape(x))
    if ndim == 1 and flatten:  # (N,) is N samples of one feature, (N, 1); Caffe has no axis 1 on a 1-D blob
        x = ctx.unique(f"{node.name}_features")
        ctx.layer(x, "Reshape", [node.inputs[0]], [x]).reshape_param.shape.dim.extend([0, 1])
        ctx.set_shape(x, (ctx.shape(node.inputs[0])[0], 1))
    layer = ctx.layer(node.name, "InnerProduct", [x], [node.outputs[0]], blobs)
    p = layer.inner_product_param
    p.num_output = a.int("num_hidden")
    p.bias_term = not no_bias
    p.axis = 1 if flatten else ndim - 1
