"""L2Normalization (SSD's conv4_3 Normalize)."""

from __future__ import annotations

import numpy as np

from ..errors import ConversionError
from ..ir.graph import Node
from .context import EmitContext
from .registry import register


@register("L2Normalization", caffe="Normalize (caffe-ssd)")
def convert_l2_normalization(node: Node, ctx: EmitContext) -> None:
    """L2Normalization channel/instance -> Normalize (x / sqrt(sum x^2 + eps), same in both), scale folded in.

    Instance mode is the channel mode on the sample reshaped to one column."""
    a = node.attrs
    mode = a.str("mode", "instance", choices=("instance", "channel", "spatial"))
    if mode == "spatial":
        raise ConversionError(
            "is 'spatial' (per-channel norm over H, W); Normalize has no such mode", node.name, node.op, "mode"
        )
    x = node.inputs[0]
    shape = ctx.shape(x)
    if len(shape) != 4:
        raise ConversionError(f"input is {len(shape)}-D; Normalize takes NCHW", node.name, node.op)
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
    p.eps = a.float("eps", 1e-10)
