"""clip, above all clip(0, 6) = ReLU6."""

from __future__ import annotations

import math

from ..errors import ConversionError, Option
from ..ir.graph import Node
from .context import EmitContext
from .registry import register


RELU6_MODES = ("exact", "layer", "relu")


@register("clip", caffe="ReLU, Power, Eltwise (or ReLU6)")
def convert_clip(node: Node, ctx: EmitContext) -> None:
    """clip(lo, hi) -> relu(x - lo) - relu(x - hi) + lo from BVLC layers; ReLU6 layer or lossy ReLU only on request."""
    a = node.attrs
    lo, hi = a.float("a_min"), a.float("a_max")
    if lo is None or hi is None or math.isinf(lo) or math.isinf(hi):
        raise ConversionError("clip needs finite a_min and a_max", node.name, node.op, "a_min")
    if lo > hi:
        raise ConversionError(f"a_min {lo} > a_max {hi}", node.name, node.op, "a_min")
    x, out = node.inputs[0], node.outputs[0]
    mode = ctx.options.relu6
    if (lo, hi) == (0.0, 6.0) and mode == "layer":
        ctx.layer(node.name, "ReLU6", [x], [out])
        return
    if (lo, hi) == (0.0, 6.0) and mode == "relu":
        asked = Option("relu6", "relu")
        what = f"clip(0, 6) converted to plain ReLU ({asked}): outputs above 6 are no longer clipped, NOT exact"
        ctx.approximate(what, node.name, asked)
        ctx.layer(node.name, "ReLU", [x], [out])
        return
    _clip_from_relus(node, ctx, lo, hi)


def _clip_from_relus(node: Node, ctx: EmitContext, lo: float, hi: float) -> None:
    """clip(x, lo, hi) = relu(x - lo) - relu(x - hi) + lo, exact for x <= hi (to float rounding above)."""
    x, out, name = node.inputs[0], node.outputs[0], node.name

    def shifted_relu(shift: float, tag: str) -> str:
        src = x
        if shift != 0.0:
            src = ctx.unique(f"{name}_minus_{tag}")
            ctx.layer(src, "Power", [x], [src]).power_param.shift = -shift
        top = ctx.unique(f"{name}_relu_{tag}")
        ctx.layer(top, "ReLU", [src], [top])
        return top

    low = shifted_relu(lo, "lo")
    high = shifted_relu(hi, "hi")
    diff = out if lo == 0.0 else ctx.unique(f"{name}_diff")
    eltwise = ctx.layer(name if lo == 0.0 else diff, "Eltwise", [low, high], [diff])
    eltwise.eltwise_param.operation = eltwise.eltwise_param.SUM
    eltwise.eltwise_param.coeff.extend([1.0, -1.0])
    if lo != 0.0:
        ctx.layer(name, "Power", [diff], [out]).power_param.shift = lo
