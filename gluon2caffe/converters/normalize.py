"""L2Normalization (SSD's conv4_3 Normalize)."""

from __future__ import annotations

import numpy as np

from ..errors import ConversionError
from ..ir.graph import Node
from .context import EmitContext
from .registry import register


@register("L2Normalization", caffe="Normalize (caffe-ssd)")
def convert_l2_normalization(node: Node, ctx: EmitContext) -> None:
    """L2Normalization channel/instance -> Normalize (x / sqrt(sum x^2 + eps), same in both), scale folded in."""
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
    layer = ctx.layer(node.name, "Normalize", [x], [node.outputs[0]], [scale.astype(np.float32)])
    p = layer.norm_param
    p.across_spatial = mode == "instance"
    p.channel_shared = False
    p.eps = a.float("eps", 1e-10)
