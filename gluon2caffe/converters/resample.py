"""Resampling: nearest UpSampling, bilinear resize, and any separable linear resampling.

A separable linear resampling out = R . X . C^T (R: rows H_out x H, C: cols W_out x W) runs in plain BVLC layers as
InnerProduct over the last axis (C), Permute, InnerProduct (R), Permute back. The weights were measured from MXNet's
own operator on unit probes when the graph was read (frontend/resample.py), so they are MXNet's weights whatever the
mode or align_corners; nothing here runs MXNet.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConversionError
from ..ir.graph import Node
from ..ir.ops import separable_weights
from ._common import set_window
from .context import EmitContext
from .registry import register


@register("UpSampling", caffe="Deconvolution (depthwise, all-ones kernel)")
def convert_upsampling(node: Node, ctx: EmitContext) -> None:
    """UpSampling nearest x k -> depthwise Deconvolution with an all-ones k x k kernel and stride k (exact)."""
    a = node.attrs
    if a.str("sample_type", "nearest") != "nearest":
        raise ConversionError(
            "only nearest upsampling converts (bilinear UpSampling is a learned deconvolution)",
            node.name,
            node.op,
            "sample_type",
        )
    if len(node.inputs) != 1:
        raise ConversionError("multi-input UpSampling is not supported", node.name, node.op, "num_args")
    k = a.int("scale")
    x = node.inputs[0]
    c = ctx.shape(x)[1]
    layer = ctx.layer(node.name, "Deconvolution", [x], [node.outputs[0]], [np.ones((c, 1, k, k), np.float32)])
    p = layer.convolution_param
    p.num_output, p.group, p.bias_term = c, c, False
    set_window(p, (k, k), (k, k))


@register("repeat", caffe="Deconvolution (depthwise, all-ones 1 x k / k x 1 kernel)")
def convert_repeat(node: Node, ctx: EmitContext) -> None:
    """repeat along H or W of NCHW (nearest upsampling, YOLOv3's) -> depthwise all-ones Deconvolution (exact)."""
    a = node.attrs
    x = node.inputs[0]
    shape = ctx.shape(x)
    k = a.int("repeats")
    axis = a.int("axis", None)
    if axis is None or len(shape) != 4 or axis % 4 not in (2, 3) or k < 1:
        raise ConversionError(
            f"repeat {k}x along axis {axis} of a {len(shape)}-D tensor; only H or W of NCHW (nearest upsampling) "
            "converts",
            node.name,
            node.op,
            "axis",
        )
    kh, kw = (k, 1) if axis % 4 == 2 else (1, k)
    c = shape[1]
    layer = ctx.layer(node.name, "Deconvolution", [x], [node.outputs[0]], [np.ones((c, 1, kh, kw), np.float32)])
    p = layer.convolution_param
    p.num_output, p.group, p.bias_term = c, c, False
    set_window(p, (kh, kw), (kh, kw))


@register("_contrib_BilinearResize2D", caffe="InnerProduct + Permute (separable)")
def convert_bilinear_resize(node: Node, ctx: EmitContext) -> None:
    """BilinearResize2D (any mode, align_corners; 'like' reads the size from shapes) -> separable InnerProducts."""
    emit_separable(node, ctx, *separable_weights(node))


def emit_separable(node: Node, ctx: EmitContext, rows: np.ndarray, cols: np.ndarray) -> None:
    """out = rows . X . cols^T per (n, c), as InnerProduct(axis 3) / Permute / InnerProduct / Permute."""
    x, out = node.inputs[0], node.outputs[0]
    n, c, h, w = ctx.shape(x)
    oh, ow = rows.shape[0], cols.shape[0]
    current, shape = x, (n, c, h, w)
    if not (ow == w and np.array_equal(cols, np.eye(w))):
        current, shape = _inner_product_last(ctx, f"{node.name}_cols", current, cols, shape)
    if not (oh == h and np.array_equal(rows, np.eye(h))):
        current, shape = _permute_hw(ctx, f"{node.name}_to_hlast", current, shape)
        current, shape = _inner_product_last(ctx, f"{node.name}_rows", current, rows, shape)
        current, shape = _permute_hw(ctx, f"{node.name}_back", current, shape)
    if current == x:
        ctx.alias(out, x)
        return
    last = ctx.layers[-1].proto  # the blob holding the result takes the MXNet tensor's name
    last.top[0] = out


def _inner_product_last(ctx: EmitContext, name: str, src: str, weight: np.ndarray, shape: tuple) -> tuple:
    top = ctx.unique(name)
    layer = ctx.layer(top, "InnerProduct", [src], [top], [weight])
    p = layer.inner_product_param
    p.num_output, p.bias_term, p.axis = weight.shape[0], False, 3
    new = shape[:3] + (weight.shape[0],)
    ctx.set_shape(top, new)
    return top, new


def _permute_hw(ctx: EmitContext, name: str, src: str, shape: tuple) -> tuple:
    top = ctx.unique(name)
    ctx.layer(top, "Permute", [src], [top]).permute_param.order.extend([0, 1, 3, 2])
    new = (shape[0], shape[1], shape[3], shape[2])
    ctx.set_shape(top, new)
    return top, new
