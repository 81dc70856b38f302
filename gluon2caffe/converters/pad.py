"""Pad (constant). BVLC Caffe has no Pad layer: a depthwise 1x1 identity convolution pads symmetrically (exact:
x * 1.0 + no bias), a Slice trims the sides that needed less, and a Bias adds a non-zero constant on the border."""

from __future__ import annotations

import numpy as np

from ..ir.graph import Node
from ..ir.ops import pad_amounts
from .context import EmitContext
from .registry import register
from .shape import emit_slice


@register("Pad", caffe="Convolution (depthwise 1x1 identity) + Slice (+ Bias)")
def convert_pad(node: Node, ctx: EmitContext) -> None:
    """Pad constant -> identity depthwise Convolution with symmetric pad, Slice off the extra, Bias for a constant."""
    top, bottom, left, right = pad_amounts(node)
    value = node.attrs.float("constant_value", 0.0)
    x, out = node.inputs[0], node.outputs[0]
    n, c, h, w = ctx.shape(x)
    ph, pw = max(top, bottom), max(left, right)
    exact_size = (top, left) == (bottom, right)
    padded = out if exact_size and value == 0 else ctx.unique(f"{node.name}_padded")
    layer = ctx.layer(
        node.name if padded == out else ctx.unique(f"{node.name}_conv"),
        "Convolution",
        [x],
        [padded],
        [np.ones((c, 1, 1, 1), np.float32)],
    )
    p = layer.convolution_param
    p.num_output, p.group, p.bias_term = c, c, False
    p.kernel_h = p.kernel_w = 1
    p.pad_h, p.pad_w = ph, pw
    ctx.set_shape(padded, (n, c, h + 2 * ph, w + 2 * pw))
    current = padded
    for axis, (lo, hi, full) in ((2, (top, bottom, ph)), (3, (left, right, pw))):
        if lo == hi:
            continue
        start, stop = full - lo, full + (h if axis == 2 else w) + hi
        last = axis == 3 or left == right
        target = out if last and value == 0 else ctx.unique(f"{node.name}_trim{axis}")
        emit_slice(
            ctx,
            node.name if target == out else ctx.unique(f"{node.name}_slice{axis}"),
            current,
            axis,
            start,
            stop,
            target,
        )
        current = target
    if value != 0:
        _, _, oh, ow = ctx.shape(out)
        border = np.full((oh, ow), value, np.float32)
        border[top : top + h, left : left + w] = 0.0
        bias = ctx.layer(node.name, "Bias", [current], [out], [border])
        bias.bias_param.axis, bias.bias_param.num_axes = 2, 2
