"""Batch normalization (the layers left after the fold pass)."""

from __future__ import annotations

import numpy as np

from ..errors import ConversionError
from ..ir.graph import Node
from ..ir.ops import batchnorm_axis, batchnorm_params
from .context import EmitContext
from .registry import register


@register("BatchNorm", caffe="BatchNorm + Scale")
def convert_batchnorm(node: Node, ctx: EmitContext) -> None:
    """BatchNorm -> BatchNorm (global stats, the node's eps) + Scale (gamma, or 1 with fix_gamma; beta)."""
    x = node.inputs[0]
    if any(ctx.graph.use_count(t) for t in node.outputs[1:]):
        raise ConversionError(
            "its mean and inverse-std outputs (output_mean_var) are read; at inference they are the moving statistics, "
            "which no Caffe layer outputs: read only the normalized output",
            node.name,
            node.op,
            "output_mean_var",
        )
    if batchnorm_axis(node, len(ctx.shape(x))) != 1:
        raise ConversionError(
            "Caffe BatchNorm normalizes axis 1 only; this node normalizes another axis", node.name, node.op, "axis"
        )
    gamma, beta, mean, var, eps = batchnorm_params(node, ctx.graph.params)
    normalized = ctx.unique(f"{node.name}_normalized")
    bn = ctx.layer(node.name, "BatchNorm", [x], [normalized], [mean, var, np.ones(1)])
    bn.batch_norm_param.use_global_stats = True
    bn.batch_norm_param.eps = eps
    scale = ctx.layer(ctx.unique(f"{node.name}_scale"), "Scale", [normalized], [node.outputs[0]], [gamma, beta])
    scale.scale_param.bias_term = True
