"""Batch normalization (the layers left after the fold pass)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..errors import ConversionError
from ..ir.graph import Node
from ._common import positive_axis
from .registry import register

if TYPE_CHECKING:
    from .emit import EmitContext

# MXNet's op defaults, used when a node carries no attributes (symbol API); Gluon writes its own (eps 1e-5).
BN_DEFAULT_EPS = 1e-3
BN_DEFAULT_FIX_GAMMA = True


def batchnorm_params(node: Node, params: dict[str, np.ndarray]) -> tuple[np.ndarray, ...]:
    """(gamma, beta, mean, var, eps) as MXNet computes with them: gamma is 1 when fix_gamma is set."""
    a = node.attrs
    eps = a.float("eps", BN_DEFAULT_EPS)
    fix_gamma = a.bool("fix_gamma", BN_DEFAULT_FIX_GAMMA)
    gamma, beta, mean, var = (params[t].astype(np.float64) for t in node.inputs[1:5])
    if fix_gamma:
        gamma = np.ones_like(gamma)
    return gamma, beta, mean, var, eps


def batchnorm_axis(node: Node, ndim: int) -> int:
    return positive_axis(node, "axis", node.attrs.int("axis", 1), ndim)


@register("BatchNorm", caffe="BatchNorm + Scale")
def convert_batchnorm(node: Node, ctx: EmitContext) -> None:
    """BatchNorm -> BatchNorm (global stats, the node's eps) + Scale (gamma, or 1 with fix_gamma; beta)."""
    x = node.inputs[0]
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
