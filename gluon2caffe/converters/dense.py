"""Fully connected layers."""

from __future__ import annotations

from ..ir.graph import Node
from .context import EmitContext
from .registry import register


@register("FullyConnected", caffe="InnerProduct")
def convert_fully_connected(node: Node, ctx: EmitContext) -> None:
    """FullyConnected -> InnerProduct; flatten=True is axis 1, flatten=False the last axis; no_bias -> no bias."""
    a = node.attrs
    no_bias = a.bool("no_bias", False)
    flatten = a.bool("flatten", True)
    weight = ctx.param(node.inputs[1])
    blobs = [weight] if no_bias else [weight, ctx.param(node.inputs[2])]
    layer = ctx.layer(node.name, "InnerProduct", [node.inputs[0]], [node.outputs[0]], blobs)
    p = layer.inner_product_param
    p.num_output = a.int("num_hidden")
    p.bias_term = not no_bias
    ndim = len(ctx.shape(node.inputs[0]))
    p.axis = 1 if flatten else ndim - 1
