"""Resampling: nearest UpSampling, bilinear resize, and any separable linear resampling.

A separable linear resampling out = R . X . C^T (R: rows H_out x H, C: cols W_out x W) runs in plain layers every
runtime has: W permuted to the channel axis, a 1x1 Convolution with C as its weights, H to the channel axis, one
with R, Permute back. The weights were measured from MXNet's
own operator on unit probes when the graph was read (frontend/resample.py), so they are MXNet's weights whatever the
mode or align_corners; nothing here runs MXNet.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConversionError
from ..ir.attrs import Attrs
from ..ir.graph import Node
from ..ir.ops import separable_weights
from ._common import set_window
from .context import EmitContext
from .registry import register


@register("UpSampling", caffe="Deconvolution (depthwise: all-ones kernel; bilinear: its weight)")
def convert_upsampling(node: Node, ctx: EmitContext) -> None:
    """UpSampling -> depthwise Deconvolution with stride k: nearest an all-ones k x k kernel, bilinear its weight.

    Bilinear is MXNet's Deconvolution (upsampling-inl.h): kernel 2k - k % 2, stride k, pad ceil((k - 1) / 2),
    num_group = num_filter = C, no bias; its (C, 1, K, K) weight is a parameter (learned, or MXNet's bilinear init)."""
    a = node.attrs
    if a.str("sample_type", "nearest") == "bilinear":
        _bilinear_upsampling(node, ctx)
        return
    if len(node.inputs) != 1:
        raise ConversionError("multi-input UpSampling is not supported", node.name, node.op, "num_args")
    k = a.int("scale")
    x = node.inputs[0]
    c = ctx.shape(x)[1]
    layer = ctx.layer(node.name, "Deconvolution", [x], [node.outputs[0]], [np.ones((c, 1, k, k), np.float32)])
    p = layer.convolution_param
    p.num_output, p.group, p.bias_term = c, c, False
    set_window(p, (k, k), (k, k))


def _bilinear_upsampling(node: Node, ctx: EmitContext) -> None:
    from .deconv import convert_deconvolution

    k, c = node.attrs.int("scale"), ctx.shape(node.inputs[0])[1]
    if node.attrs.int("num_filter", 0) != c:
        raise ConversionError(
            f"is {node.attrs.int('num_filter', 0)}; bilinear UpSampling filters each of the input's {c} channels",
            node.name,
            node.op,
            "num_filter",
        )
    kernel, pad = 2 * k - k % 2, k // 2  # k // 2 == ceil((k - 1) / 2)
    attrs = {"kernel": (kernel, kernel), "stride": (k, k), "pad": (pad, pad), "num_filter": c, "num_group": c}
    deconvolution = Attrs(node.name, "Deconvolution", {**attrs, "no_bias": True})
    convert_deconvolution(Node(node.name, "Deconvolution", deconvolution, node.inputs[:2], node.outputs), ctx)


@register("_contrib_BilinearResize2D", caffe="Permute + 1x1 Convolution (separable)")
def convert_bilinear_resize(node: Node, ctx: EmitContext) -> None:
    """BilinearResize2D (any mode, align_corners; 'like' reads the size from shapes) -> separable 1x1 Convolutions."""
    emit_separable(node, ctx, *separable_weights(node))


def emit_separable(node: Node, ctx: EmitContext, rows: np.ndarray, cols: np.ndarray) -> None:
    """out = rows . X . cols^T per (n, c): each side a 1x1 Convolution whose input channels are that spatial axis
    (Permute it to axis 1, the matrix as weights, Permute back): the same dot products, in layers every runtime
    runs (an InnerProduct over one axis would do in Caffe, but ncnn's and MNN's InnerProduct flatten their input).
    """
    x, out = node.inputs[0], node.outputs[0]
    n, c, h, w = ctx.shape(x)
    oh, ow = rows.shape[0], cols.shape[0]
    do_cols = not (ow == w and np.array_equal(cols, np.eye(w)))
    do_rows = not (oh == h and np.array_equal(rows, np.eye(h)))
    if not (do_cols or do_rows):
        ctx.alias(out, x)
        return
    current = x
    if do_cols:  # (N, C, H, W) -> (N, W, C, H) -> (N, Wo, C, H)
        current = _permute(ctx, f"{node.name}_w_first", current, [0, 3, 1, 2])
        current = _mix_channels(ctx, f"{node.name}_cols", current, cols)
        # rows next: (N, Wo, C, H) -> (N, H, C, Wo); else back to (N, C, H, Wo)
        current = _permute(ctx, f"{node.name}_cols_back", current, [0, 3, 2, 1] if do_rows else [0, 2, 3, 1])
    elif do_rows:  # (N, C, H, W) -> (N, H, C, W)
        current = _permute(ctx, f"{node.name}_h_first", current, [0, 2, 1, 3])
    if do_rows:  # (N, H, C, W') -> (N, Ho, C, W') -> (N, C, Ho, W')
        current = _mix_channels(ctx, f"{node.name}_rows", current, rows)
        current = _permute(ctx, f"{node.name}_rows_back", current, [0, 2, 1, 3])
    last = ctx.layers[-1].proto  # the blob holding the result takes the MXNet tensor's name
    last.top[0] = out


def _permute(ctx: EmitContext, name: str, src: str, order: list[int]) -> str:
    top = ctx.unique(name)
    ctx.layer(top, "Permute", [src], [top]).permute_param.order.extend(order)
    return top


def _mix_channels(ctx: EmitContext, name: str, src: str, matrix: np.ndarray) -> str:
    """A bias-free 1x1 Convolution with `matrix` (out x in) as its weights."""
    top = ctx.unique(name)
    weights = matrix.astype(np.float32).reshape(matrix.shape[0], matrix.shape[1], 1, 1)
    p = ctx.layer(top, "Convolution", [src], [top], [weights]).convolution_param
    p.num_output, p.bias_term = matrix.shape[0], False
    set_window(p, (1, 1))
    return top
