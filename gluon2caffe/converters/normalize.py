"""L2Normalization: SSD's conv4_3 Normalize, and every mode and rank from exact layers."""

from __future__ import annotations

import numpy as np

from ..errors import ConversionError
from ..ir.graph import Node
from .context import EmitContext
from .elemwise import expand_axes
from .registry import register


@register("L2Normalization", caffe="Normalize (caffe-ssd); else Eltwise, Pooling AVE, Power, Deconvolution")
def convert_l2_normalization(node: Node, ctx: EmitContext) -> None:
    """L2Normalization x / sqrt(sum x^2 + eps): 4-D channel/instance -> Normalize (scale folded in); else composed.

    instance sums over every axis but the batch, channel over axis 1, spatial over the axes after it (3-D and up).
    4-D instance mode is the channel mode on the sample reshaped to one column (OpenCV refuses Normalize
    across_spatial). Other than 4-D channel/instance (caffe-ssd's Normalize computes those), x is viewed as 4-D with
    the summed elements on axis 2: x*x (Eltwise PROD), its mean (AVE Pooling), (count x mean + eps)^-1/2 (one Power),
    repeated back (all-ones Deconvolution) and multiplied with x."""
    a = node.attrs
    mode = a.str("mode", "instance", choices=("instance", "channel", "spatial"))
    eps = a.float("eps", 1e-10)
    x = node.inputs[0]
    shape = ctx.shape(x)
    if mode != "instance" and len(shape) < 3:
        raise ConversionError(f"is {mode!r}; MXNet needs a 3-D or larger input for it", node.name, node.op, "mode")
    if len(shape) == 4 and mode != "spatial":
        _normalize_layer(node, ctx, mode, eps)
        return
    if len(node.inputs) > 1:  # pragma: no cover - the fuse pass folds a scale only into a 4-D channel/instance node
        raise ConversionError("a folded scale on a composed L2Normalization", node.name, node.op)
    n = shape[0]
    if mode == "instance":
        view, batch = (n, 1, int(np.prod(shape[1:])), 1), True
    elif mode == "channel":
        view, batch = (n, 1, shape[1], int(np.prod(shape[2:]))), True
    else:
        view, batch = (n, shape[1], int(np.prod(shape[2:])), 1), True
    _composed(node, ctx, view, eps, batch)


def _normalize_layer(node: Node, ctx: EmitContext, mode: str, eps: float) -> None:
    """caffe-ssd Normalize (x / sqrt(sum x^2 + eps) over channels, or the whole instance), scale folded in."""
    x = node.inputs[0]
    shape = ctx.shape(x)
    # A following per-channel multiply by a constant (GluonCV's Normalize block) is folded in by the
    # fuse_normalize_scale pass as a second input; otherwise the scale is 1.
    scale = ctx.param(node.inputs[1]).reshape(-1) if len(node.inputs) > 1 else np.ones(shape[1], np.float32)
    scale = scale.astype(np.float32)
    out = node.outputs[0]
    if mode == "instance":
        # Across the whole sample, as the same Normalize across the channels of the sample as one (N, C*H*W, 1, 1)
        # column (the same sum of squares, the scale repeated over each channel's H*W): OpenCV (4.11) refuses a
        # Normalize across_spatial with a scale per channel ("scale.total() == numPlanes") or a 0-d shared one.
        n, c, h, w = shape
        column, normalized = ctx.unique(f"{node.name}_column"), ctx.unique(f"{node.name}_normalized")
        ctx.layer(column, "Reshape", [x], [column]).reshape_param.shape.dim.extend([0, c * h * w, 1, 1])
        ctx.set_shape(column, (n, c * h * w, 1, 1))
        layer = ctx.layer(normalized, "Normalize", [column], [normalized], [np.repeat(scale, h * w)])
        ctx.set_shape(normalized, (n, c * h * w, 1, 1))
        ctx.layer(node.name, "Reshape", [normalized], [out]).reshape_param.shape.dim.extend([0, c, h, w])
    else:
        layer = ctx.layer(node.name, "Normalize", [x], [out], [scale])
    p = layer.norm_param
    p.across_spatial = False
    p.channel_shared = False
    p.eps = eps


def _composed(node: Node, ctx: EmitContext, view: tuple[int, ...], eps: float, batch: bool) -> None:
    """x * (sum over axis 2 of the view of x*x + eps)^-1/2, reshaped back."""
    x, out = node.inputs[0], node.outputs[0]
    name = node.name
    shape = ctx.shape(x)
    current = x
    if tuple(shape) != view:
        current = ctx.unique(f"{name}_view")
        dims = [0 if batch else view[0], *view[1:]]
        ctx.layer(current, "Reshape", [x], [current]).reshape_param.shape.dim.extend(dims)
        ctx.set_shape(current, view)
    squares = ctx.unique(f"{name}_squares")
    ctx.layer(squares, "Eltwise", [current, current], [squares]).eltwise_param.operation = 0  # PROD
    p, q, r, s = view
    mean = ctx.unique(f"{name}_mean_square")
    pooling = ctx.layer(mean, "Pooling", [squares], [mean]).pooling_param
    pooling.pool = pooling.AVE
    pooling.kernel_h, pooling.kernel_w = r, 1
    ctx.set_shape(mean, (p, q, 1, s))
    inverse = ctx.unique(f"{name}_inverse_norm")
    power = ctx.layer(inverse, "Power", [mean], [inverse]).power_param
    power.power, power.scale, power.shift = -0.5, float(r), eps
    ctx.set_shape(inverse, (p, q, 1, s))
    repeated = expand_axes(ctx, inverse, inverse, view)
    normalized = out if tuple(shape) == view else ctx.unique(f"{name}_normalized")
    layer_name = name if normalized == out else normalized
    ctx.layer(layer_name, "Eltwise", [current, repeated], [normalized]).eltwise_param.operation = 0  # PROD
    if normalized != out:
        dims = [0 if batch else shape[0], *shape[1:]]
        ctx.layer(name, "Reshape", [normalized], [out]).reshape_param.shape.dim.extend(dims)
