"""Pad (constant, reflect). BVLC Caffe has no Pad layer: a depthwise 1x1 identity convolution pads symmetrically
(exact: x * 1.0 + no bias), a Slice trims the sides that needed less, and a Bias adds a non-zero constant on the
border; reflection is pure copies, the border rows cut out by Slice and put around the input by Concat."""

from __future__ import annotations

import numpy as np

from ..errors import ConversionError
from ..ir.graph import Node
from ..ir.ops import pad_amounts
from ._common import one_hot_window, set_window
from .context import EmitContext
from .elemwise import combine_with_constant
from .registry import register
from .shape import emit_crop


@register("Pad", caffe="Convolution (depthwise one-hot) (+ Slice) (+ Bias); reflect: Slice + Concat")
def convert_pad(node: Node, ctx: EmitContext) -> None:
    """Pad constant -> a depthwise one-hot Convolution (+ Slice) (+ Bias); reflect -> Slice + Concat (pure copies).

    Asymmetric pads are a second tap; with the 'slice' crop pattern an identity Convolution pads and a Slice crops the
    extra. A constant other than 0 is a Bias on the border."""
    if node.attrs.str("mode", "constant") == "reflect":
        _reflect_pad(node, ctx)
        return
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
        if ctx.options.patterns.constant == "eltwise":  # a Bias over (H, W): no Bias in OpenCV/ncnn, per channel in MNN
            combine_with_constant(ctx, node.name, "add", current, border, out)
            return
        bias = ctx.layer(node.name, "Bias", [current], [out], [border])
        bias.bias_param.axis, bias.bias_param.num_axes = 2, 2


def _reflect_pad(node: Node, ctx: EmitContext) -> None:
    """Pad mode=reflect (MXNet's: the edge row is not repeated, like numpy's 'reflect') of the spatial axes of a 4-D or
    5-D input, one axis after the other: every output row is a copy of an input row."""
    x, out = node.inputs[0], node.outputs[0]
    shape = ctx.shape(x)
    width = node.attrs.int_tuple("pad_width")
    if len(shape) not in (4, 5) or len(width) != 2 * len(shape) or any(width[:4]) or min(width) < 0:
        raise ConversionError(
            f"is {width} on a {len(shape)}-D input; reflection pads the spatial axes of a 4-D or 5-D input",
            node.name,
            node.op,
            "pad_width",
        )
    padded = [
        (axis, width[2 * axis], width[2 * axis + 1])
        for axis in range(2, len(shape))
        if width[2 * axis : 2 * axis + 2] != (0, 0)
    ]
    if not padded:
        ctx.alias(out, x)
        return
    current = x
    for i, (axis, before, after) in enumerate(padded):
        if max(before, after) >= shape[axis]:
            raise ConversionError(
                f"pads axis {axis} of size {shape[axis]} by {(before, after)}; reflection needs less than the size",
                node.name,
                node.op,
                "pad_width",
            )
        last = i == len(padded) - 1
        top = out if last else ctx.unique(f"{node.name}_axis{axis}")
        _reflect_axis(ctx, node.name if last else top, current, axis, before, after, top)
        current = top


def _reflect_axis(ctx: EmitContext, name: str, x: str, axis: int, before: int, after: int, out: str) -> None:
    """Rows before..1 of `x`, all of `x`, then rows size-2..size-1-after, along `axis`: one Slice cuts every row that
    is copied into a part of its own (and the rest into the parts between), one Concat puts them in order. Every part
    is read, so nothing is left to silence."""
    shape = ctx.shape(x)
    size = shape[axis]
    head = set(range(1, before + 2)) if before else set()  # rows 0..before, one part each
    tail = set(range(size - 1 - after, size)) if after else set()  # rows size-1-after..size-1
    points = sorted((head | tail) - {0, size})
    bounds = list(zip([0, *points], [*points, size]))
    parts = [ctx.unique(f"{name}_rows{axis}_{start}") for start, _ in bounds]
    row = {start: part for (start, stop), part in zip(bounds, parts) if stop - start == 1}
    slicer = ctx.layer(ctx.unique(f"{name}_rows{axis}"), "Slice", [x], parts)
    slicer.slice_param.axis = axis
    slicer.slice_param.slice_point.extend(points)
    for (start, stop), part in zip(bounds, parts):
        ctx.set_shape(part, tuple(stop - start if a == axis else d for a, d in enumerate(shape)))
    order = [row[r] for r in range(before, 0, -1)] + parts + [row[r] for r in range(size - 2, size - 2 - after, -1)]
    ctx.layer(name, "Concat", order, [out]).concat_param.axis = axis
    ctx.set_shape(out, tuple(size + before + after if a == axis else d for a, d in enumerate(shape)))
