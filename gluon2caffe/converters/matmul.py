"""dot with a constant right operand -> InnerProduct on the last axis. A product of two activations has no Caffe
layer (InnerProduct and Convolution hold their weights as constants); it is refused, naming the node."""

from __future__ import annotations

import numpy as np

from ..errors import ConversionError
from ..ir.graph import Node
from .context import EmitContext
from .dense import dense_by_convolution
from .registry import register

TWO_ACTIVATIONS = (
    "multiplies two tensors computed from the input as matrices: Caffe's InnerProduct and Convolution hold their "
    "weights as constants, and no Caffe layer multiplies two activations as matrices"
)


@register("dot", caffe="InnerProduct (+ Reshape)")
def convert_dot(node: Node, ctx: EmitContext) -> None:
    """dot(x, W) with W a constant (transpose_b too) -> InnerProduct over x's last axis, no bias (+ Reshape).

    MXNet's dot contracts x's last axis with W's first (with transpose_b, its last); the other axes of W become the
    output's last axes. A constant left operand, or transpose_a, contracts the input's batch axis: refused. On a 3-D
    or 4-D input, the target's dense_axis 'convolution' writes FullyConnected's 1x1 Convolution form instead."""
    a = node.attrs
    x, w = node.inputs
    out = node.outputs[0]
    if not ctx.is_param(w) or ctx.is_param(x):
        raise ConversionError(
            TWO_ACTIVATIONS
            if not ctx.is_param(w) and not ctx.is_param(x)
            else "the constant is the left operand: the product contracts the input's first (batch) axis, which "
            "InnerProduct cannot",
            node.name,
            node.op,
        )
    if a.bool("transpose_a", False):
        raise ConversionError(
            "transposes the input: the product contracts its first (batch) axis, which InnerProduct cannot",
            node.name,
            node.op,
            "transpose_a",
        )
    shape = ctx.shape(x)
    weight = np.asarray(ctx.param(w), np.float32)
    if len(shape) < 2:
        raise ConversionError(f"the input {shape} has no batch axis to keep", node.name, node.op)
    if a.bool("transpose_b", False):  # contracts W's last axis: W as (the other axes, K)
        matrix = weight.reshape(-1, weight.shape[-1])
    else:  # contracts W's first axis: W as (K, the other axes), transposed
        matrix = weight.reshape(weight.shape[0], -1).T
    if matrix.shape[1] != shape[-1]:
        raise ConversionError(f"the input {shape} and the weight {weight.shape} do not match", node.name, node.op)
    out_shape = ctx.shape(out)
    flat = (*shape[:-1], matrix.shape[0])
    top = out if flat == out_shape else ctx.unique(f"{node.name}_flat")
    if len(shape) in (3, 4) and ctx.options.patterns.dense_axis == "convolution":
        # As FullyConnected(flatten=False): ncnn's InnerProduct ignores `axis`, OpenVINO's Model Optimizer stops at it.
        name = node.name if top == out else ctx.unique(f"{node.name}_dense")
        ctx.set_shape(top, flat)
        dense_by_convolution(ctx, name, x, top, matrix.shape[0], [np.ascontiguousarray(matrix)])
        if top != out:
            ctx.layer(node.name, "Reshape", [top], [out]).reshape_param.shape.dim.extend([0, *out_shape[1:]])
        return
    layer = ctx.layer(node.name if top == out else top, "InnerProduct", [x], [top], [np.ascontiguousarray(matrix)])
    p = layer.inner_product_param
    p.num_output, p.bias_term, p.axis = matrix.shape[0], False, len(shape) - 1
    ctx.set_shape(top, flat)
    if top != out:
        dims = [0, *out_shape[1:]]
        ctx.layer(node.name, "Reshape", [top], [out]).reshape_param.shape.dim.extend(dims)
