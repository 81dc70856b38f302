"""Pad (constant). BVLC Caffe has no Pad layer: a depthwise 1x1 identity convolution pads symmetrically (exact:
x * 1.0 + no bias), a Slice trims the sides that needed less, and a Bias adds a non-zero constant on the border."""

from __future__ import annotations

import numpy as np

from ..ir.graph import Node
from ..ir.ops import pad_amounts
from ._common import one_hot_window, set_window
from .context import EmitContext
from .registry import register
from .shape import emit_crop


@register("Pad", caffe="Convolution (depthwise one-hot) (+ Slice) (+ Bias)")
def convert_pad(node: Node, ctx: EmitContext) -> None:
    """Pad constant -> a depthwise one-hot Convolution (or Convolution + Slice), then Bias for a non-zero constant.

    Asymmetric pads are a second tap; with the 'slice' crop pattern an identity Convolution pads and a Slice crops the
    extra."""
    top, bottom, left, right = pad_amounts(node)
    value = node.attrs.float("constant_value", 0.0)
    x, out = node.inputs[0], node.outputs[0]
    n, c, h, w = ctx.shape(x)
    ph, pw = max(top, bottom), max(left, right)
    exact_size = (top, left) == (bottom, right)
    one_conv = exact_size or ctx.options.patterns.crop == "convolution"
    padded = out if one_conv and value == 0 else ctx.unique(f"{node.name}_padded")
    # One-hot depthwise kernel: symmetric padding max(lo, hi), and where lo != hi a second tap |lo - hi| away that
    # skips the extra rows of the larger side (x * 1 + 0 * neighbour: exact for finite values).
    pairs = ((top, bottom), (left, right)) if one_conv else ((0, 0), (0, 0))
    # lo < hi: the kept values start `hi - lo` into the symmetric padding; lo > hi: at its start.
    kernel, dilation, tap = one_hot_window([(abs(lo - hi), max(hi - lo, 0)) for lo, hi in pairs])
    weights = np.zeros((c, 1, *kernel), np.float32)
    weights[:, 0, tap[0], tap[1]] = 1.0
    layer = ctx.layer(
        node.name if padded == out else ctx.unique(f"{node.name}_conv"), "Convolution", [x], [padded], [weights]
    )
    p = layer.convolution_param
    p.num_output, p.group, p.bias_term = c, c, False
    set_window(p, (kernel[0], kernel[1]), pad=(ph, pw))
    if dilation != [1, 1]:
        p.dilation.extend(dilation if dilation[0] != dilation[1] else dilation[:1])
    ctx.set_shape(padded, ctx.shape(out) if one_conv else (n, c, h + 2 * ph, w + 2 * pw))
    current = padded
    if not one_conv:  # Slice off the extra rows/columns of the symmetric padding
        cuts = [
            (axis, full - lo, full + size + hi)
            for axis, (lo, hi, full, size) in ((2, (top, bottom, ph, h)), (3, (left, right, pw, w)))
            if lo != hi
        ]
        current = out if value == 0 else ctx.unique(f"{node.name}_trimmed")
        emit_crop(ctx, node.name if current == out else ctx.unique(f"{node.name}_trim"), padded, cuts, current)
    if value != 0:
        _, _, oh, ow = ctx.shape(out)
        border = np.full((oh, ow), value, np.float32)
        border[top : top + h, left : left + w] = 0.0
        bias = ctx.layer(node.name, "Bias", [current], [out], [border])
        bias.bias_param.axis, bias.bias_param.num_axes = 2, 2
