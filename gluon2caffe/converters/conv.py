"""Convolution family."""

from __future__ import annotations

from ..errors import ConversionError
from ..ir.graph import Node
from ._common import require_nchw, set_window, spatial_2d
from .context import EmitContext
from .registry import register


@register("Convolution", caffe="Convolution")
def convert_convolution(node: Node, ctx: EmitContext) -> None:
    """Convolution -> Convolution; pad, stride, dilation, groups and non-square kernels map one to one."""
    a = node.attrs
    require_nchw(node)
    kernel = a.int_tuple("kernel")
    if len(kernel) != 2:
        raise ConversionError(f"is {kernel}; only 2-D convolution converts to Caffe", node.name, node.op, "kernel")
    kh, kw = kernel
    sh, sw = spatial_2d(node, "stride", a.int_tuple("stride", ()), 1)
    ph, pw = spatial_2d(node, "pad", a.int_tuple("pad", ()), 0)
    dh, dw = spatial_2d(node, "dilate", a.int_tuple("dilate", ()), 1)
    group = a.int("num_group", 1)
    no_bias = a.bool("no_bias", False)
    weight = ctx.param(node.inputs[1])
    blobs = [weight] if no_bias else [weight, ctx.param(node.inputs[2])]
    layer = ctx.layer(node.name, "Convolution", [node.inputs[0]], [node.outputs[0]], blobs)
    p = layer.convolution_param
    p.num_output = a.int("num_filter")
    p.bias_term = not no_bias
    set_window(p, (kh, kw), (sh, sw), (ph, pw))
    if (dh, dw) != (1, 1):
        p.dilation.extend([dh, dw])
    if group != 1:
        p.group = group
