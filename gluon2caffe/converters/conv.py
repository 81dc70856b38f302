"""Convolution family."""

from __future__ import annotations

from ..errors import ConversionError
from ..ir.graph import Node
from ._common import (
    as_2d_input,
    equal_dilations,
    from_2d_output,
    pad_separately,
    require_nchw,
    set_window,
    set_window_nd,
    spatial_2d,
    spatial_nd,
)
from .context import EmitContext
from .registry import register


@register("Convolution", caffe="Convolution (1-D: Reshape + 1xK Convolution + Reshape; 3-D: N-D Convolution)")
def convert_convolution(node: Node, ctx: EmitContext) -> None:
    """Convolution -> Convolution, pad, stride, dilation, groups and kernel one to one; 1-D as 2-D with a 1xK kernel.

    A 1-D convolution on (N, C, W) is the 2-D one on (N, C, 1, W) with a 1xK kernel, between two Reshapes. A 3-D
    one on (N, C, T, H, W) is Caffe's N-D Convolution (three kernel/stride/pad/dilation values, its N-D im2col; only
    Caffe itself runs it, not OpenCV/MNN/ncnn)."""
    a = node.attrs
    layout = a.str("layout", "None")
    kernel = a.int_tuple("kernel")
    if len(kernel) == 1 and layout in ("None", "NCW"):
        _convolution_1d(node, ctx, kernel[0])
        return
    if len(kernel) == 3 and layout in ("None", "NCDHW"):
        windows = [spatial_nd(node, key, a.int_tuple(key, ()), fill, 3) for key, fill in _WINDOW]
        weight = ctx.param(node.inputs[1])
        _emit(node, ctx, node.name, node.inputs[0], node.outputs[0], weight, kernel, *windows)
        return
    require_nchw(node)
    if len(kernel) != 2:
        raise ConversionError(
            f"is {kernel}; only 1-D, 2-D and 3-D (NCW, NCHW, NCDHW) convolution convert to Caffe",
            node.name,
            node.op,
            "kernel",
        )
    stride = spatial_2d(node, "stride", a.int_tuple("stride", ()), 1)
    pad = spatial_2d(node, "pad", a.int_tuple("pad", ()), 0)
    dilate = spatial_2d(node, "dilate", a.int_tuple("dilate", ()), 1)
    weight = ctx.param(node.inputs[1])
    _emit(node, ctx, node.name, node.inputs[0], node.outputs[0], weight, kernel, stride, pad, dilate)


_WINDOW = (("stride", 1), ("pad", 0), ("dilate", 1))


def _convolution_1d(node: Node, ctx: EmitContext, kernel: int) -> None:
    a = node.attrs
    values = {}
    for key, fill in (("stride", 1), ("pad", 0), ("dilate", 1)):
        value = a.int_tuple(key, ())
        if len(value) > 1:
            raise ConversionError(f"is {value}; a 1-D convolution takes one value", node.name, node.op, key)
        values[key] = (1 if key != "pad" else 0, value[0] if value else fill)
    x = as_2d_input(node, ctx, node.inputs[0])
    weight = ctx.param(node.inputs[1])
    out = ctx.unique(f"{node.name}_2d")
    _emit(node, ctx, out, x, out, weight.reshape(weight.shape[:2] + (1, kernel)), (1, kernel), *values.values())
    from_2d_output(node, ctx, out)


def opencv_misplaces_pad(
    channels: int, group: int, num_output: int, kernel, stride, pad, dilate, size: tuple[int, int]
) -> bool:
    """Whether OpenCV 4.11 computes this 2-D Convolution wrong: its fast depthwise kernel (taken for group == input
    channels == outputs > 1, a 3x3 kernel, stride_w 1 or (2 with dilation_w 1), pad_h, pad_w <= 1) computes the first
    output column as if its taps sat at -1, 0 and dilation_w (right only when dilation_w is 1), and on a map
    2 * dilation - 1 high (wide) with pad 1 reads the row (column) past its end. Measured over pad 0..4, dilation
    1..4, stride 1..2 per axis and sizes 1..40 (tests/converters/test_conv.py): wrong exactly in these cases."""
    (ph, pw), (dh, dw), (h, w) = pad, dilate, size
    fast = (
        group == channels == num_output > 1
        and tuple(kernel) == (3, 3)
        and (stride[1] == 1 or (stride[1] == 2 and dw == 1))
        and ph <= 1
        and pw <= 1
    )
    return fast and ((pw == 1 and dw >= 2) or (ph == 1 and h == 2 * dh - 1) or (pw == 1 and w == 2 * dw - 1))


def _emit(node: Node, ctx: EmitContext, name: str, x: str, out: str, weight, kernel, stride, pad, dilate) -> None:
    a = node.attrs
    no_bias = a.bool("no_bias", False)
    group = a.int("num_group", 1)
    patterns = ctx.options.patterns
    if len(kernel) == 2 and dilate[0] != dilate[1] and patterns.unequal_dilation == "kernel":
        weight, kernel, dilate = equal_dilations(weight, kernel, dilate)
    blobs = [weight] if no_bias else [weight, ctx.param(node.inputs[2])]
    if len(kernel) == 2 and patterns.depthwise_pad == "separate":
        n, c, h, w = ctx.shape(x)
        if opencv_misplaces_pad(c, group, a.int("num_filter"), kernel, stride, pad, dilate, (h, w)):
            x, pad = pad_separately(ctx, name, x, tuple(pad)), (0, 0)
    layer = ctx.layer(name, "Convolution", [x], [out], blobs)
    p = layer.convolution_param
    p.num_output = a.int("num_filter")
    p.bias_term = not no_bias
    if len(kernel) == 2:
        set_window(p, tuple(kernel), tuple(stride), tuple(pad))
    else:
        set_window_nd(p, tuple(kernel), tuple(stride), tuple(pad))
    if set(dilate) != {1}:
        p.dilation.extend(dilate)
    if group != 1:
        p.group = group
