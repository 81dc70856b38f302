"""Fully connected layers."""

from __future__ import annotations

import numpy as np

from ..ir.graph import Node
from .context import EmitContext
from .registry import register


@register("FullyConnected", caffe="InnerProduct (flatten=False on 3-D+: or Reshape + Permute + 1x1 Convolution)")
def convert_fully_connected(node: Node, ctx: EmitContext) -> None:
    """FullyConnected -> InnerProduct; flatten=True is axis 1, flatten=False the last axis; no_bias -> no bias.

    A 1-D input (N,) with flatten=True is N samples of one feature: Reshaped to (N, 1) first (flatten=False takes
    the whole vector as the features of one sample: axis 0). With the target's dense_axis 'convolution',
    flatten=False on a 3-D or 4-D input is a 1x1 Convolution over the last axis made the channel axis (Reshape to
    (N, A, F, 1), Permute, Convolution, Permute, Reshape): ncnn's InnerProduct ignores `axis` and flattens the whole
    blob."""
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
    if not flatten and ndim in (3, 4) and ctx.options.patterns.dense_axis == "convolution":
        dense_by_convolution(ctx, node.name, x, node.outputs[0], a.int("num_hidden"), blobs)
        return
    layer = ctx.layer(node.name, "InnerProduct", [x], [node.outputs[0]], blobs)
    p = layer.inner_product_param
    p.num_output = a.int("num_hidden")
    p.bias_term = not no_bias
    p.axis = 1 if flatten else ndim - 1


def dense_by_convolution(ctx: EmitContext, name: str, x: str, out: str, units: int, blobs: list) -> None:
    """out = x . W^T (+ b) over x's last axis (3-D or 4-D x), as a 1x1 Convolution with that axis made the channels:
    Reshape to (N, A, F, 1), Permute, Convolution, Permute, Reshape (the target's dense_axis 'convolution')."""
    shape = ctx.shape(x)
    n, features = shape[0], shape[-1]
    rows = int(np.prod(shape[1:-1]))
    steps = [
        ("as_4d", "Reshape", (n, rows, features, 1)),
        ("features_first", "Permute", (n, features, rows, 1)),
        ("conv", "Convolution", (n, units, rows, 1)),
        ("units_last", "Permute", (n, rows, units, 1)),
    ]
    current = x
    for suffix, kind, out_shape in steps:
        top = ctx.unique(f"{name}_{suffix}")
        weights = [blobs[0].reshape(units, features, 1, 1), *blobs[1:]] if kind == "Convolution" else None
        layer = ctx.layer(top, kind, [current], [top], weights)
        if kind == "Reshape":
            layer.reshape_param.shape.dim.extend([0, *out_shape[1:]])
        elif kind == "Permute":
            layer.permute_param.order.extend([0, 2, 1, 3])
        else:
            p = layer.convolution_param
            p.num_output, p.bias_term = units, len(blobs) > 1
            p.kernel_size.append(1)
        ctx.set_shape(top, out_shape)
        current = top
    ctx.layer(name, "Reshape", [current], [out]).reshape_param.shape.dim.extend([0, *ctx.shape(out)[1:]])
