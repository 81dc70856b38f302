"""Arithmetic with a scalar attribute -> Caffe Power, y = (shift + scale * x) ^ power."""

from __future__ import annotations

from ..errors import ConversionError
from ..ir.graph import Node
from ..ir.ops import SCALAR_OPS
from .context import EmitContext
from .registry import register


def _power(s: float, op: str) -> tuple[float, float, float]:
    """(power, scale, shift) computing `op` with scalar s."""
    return {
        "_plus_scalar": (1.0, 1.0, s),
        "_minus_scalar": (1.0, 1.0, -s),
        "_rminus_scalar": (1.0, -1.0, s),
        "_mul_scalar": (1.0, s, 0.0),
        "_div_scalar": (1.0, 1.0 / s if s else float("inf"), 0.0),
        "_rdiv_scalar": (-1.0, 1.0 / s if s else float("inf"), 0.0),  # s / x = (x / s) ^ -1
        "_power_scalar": (s, 1.0, 0.0),
    }[op]


@register(*SCALAR_OPS, caffe="Power")
def convert_scalar(node: Node, ctx: EmitContext) -> None:
    """x+s, x-s, s-x, x*s, x/s (as x*(1/s), within an ulp), s/x, x^s -> Power(power, scale, shift)."""
    s = node.attrs.float("scalar")
    if node.op in ("_div_scalar", "_rdiv_scalar") and s == 0:
        raise ConversionError("division by a zero scalar", node.name, node.op, "scalar")
    power, scale, shift = _power(s, node.op)
    layer = ctx.layer(node.name, "Power", [node.inputs[0]], [node.outputs[0]])
    p = layer.power_param
    p.power, p.scale, p.shift = power, scale, shift
