"""clip (above all clip(0, 6) = ReLU6), and the bit-exact min/max with a constant other converters build on."""

from __future__ import annotations

import math

import numpy as np

from ..errors import ConversionError, Option
from ..ir.graph import Node
from .context import EmitContext
from .registry import register


RELU6_MODES = ("exact", "layer", "relu")
FLOAT32_MAX = float(np.finfo(np.float32).max)


@register("clip", caffe="ReLU, Power, Eltwise MAX (or ReLU6)")
def convert_clip(node: Node, ctx: EmitContext) -> None:
    """clip(lo, hi) -> min(max(x, lo), hi) bit for bit: ReLU or Eltwise MAX with a constant; ReLU6 on request.

    An infinite bound clips nothing on its side. a_min > a_max makes MXNet's clip a step (a_max where x > a_max,
    else a_min): refused. relu6='layer' writes clip(0, 6) as a ReLU6 layer, relu6='relu' as a plain ReLU (lossy,
    warned)."""
    a = node.attrs
    lo, hi = a.float("a_min"), a.float("a_max")
    for key, value in (("a_min", lo), ("a_max", hi)):
        if value is None:
            raise ConversionError("is required", node.name, node.op, key)
        if not math.isinf(value) and abs(value) > FLOAT32_MAX:
            raise ConversionError(f"is {value}, beyond float32's range (MXNet refuses it too)", node.name, node.op, key)
    if lo > hi:
        raise ConversionError(
            f"a_min {lo} > a_max {hi}: MXNet then computes a step (a_max where x > a_max, else a_min), a comparison "
            "no exact Caffe layer form here expresses; swap the bounds if min(max(x, a_max), a_min) was meant",
            node.name,
            node.op,
            "a_min",
        )
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
    emit_clip(ctx, node.name, x, out, lo, hi)


def emit_clip(ctx: EmitContext, name: str, x: str, out: str, lo: float, hi: float) -> None:
    """out = min(max(x, lo), hi), bit for bit for finite x, in a layer named `name` (lo <= hi; an infinite bound is
    no bound). Nothing is subtracted and added back, so no rounding enters: relu(x - lo) - relu(x - hi) + lo (the
    form this replaces) cancels two large terms, off by ulp(x) (a bound like 0.1 failed the tolerance at |x| ~
    3000, relu6 at x >= 2^25), and a bound near float32's limits swallowed every input."""
    if math.isinf(lo) and math.isinf(hi):  # no bound: an identity
        ctx.alias(out, x)
        return
    lower = x
    if not math.isinf(lo):
        lower = out if math.isinf(hi) else ctx.unique(f"{name}_max")
        emit_max_constant(ctx, name if lower == out else lower, x, lower, lo, shape_of=x)
    if not math.isinf(hi):
        emit_min_constant(ctx, name, lower, out, hi, shape_of=x)


def emit_max_constant(ctx: EmitContext, name: str, x: str, out: str, value: float, shape_of: str) -> None:
    """out = max(x, value), exact: ReLU for 0, else Eltwise MAX with a constant blob of x's shape."""
    ctx.set_shape(out, ctx.shape(shape_of))
    if value == 0.0:
        ctx.layer(name, "ReLU", [x], [out])
        return
    constant = constant_like(ctx, f"{name}_bound", x, value)
    ctx.layer(name, "Eltwise", [x, constant], [out]).eltwise_param.operation = 2  # MAX


def emit_min_constant(ctx: EmitContext, name: str, x: str, out: str, value: float, shape_of: str) -> None:
    """out = min(x, value) = -max(-x, -value), exact (negation is)."""
    negated = negate(ctx, f"{name}_negated", x)
    bounded = ctx.unique(f"{name}_bounded")
    emit_max_constant(ctx, bounded, negated, bounded, -value, shape_of)
    layer = ctx.layer(name, "Power", [bounded], [out])
    layer.power_param.scale = -1.0


def negate(ctx: EmitContext, base: str, x: str) -> str:
    """-x (a Power with scale -1: exact), as a new blob of x's shape."""
    top = ctx.unique(base)
    ctx.layer(top, "Power", [x], [top]).power_param.scale = -1.0
    ctx.set_shape(top, ctx.shape(x))
    return top


def constant_like(ctx: EmitContext, base: str, x: str, value: float) -> str:
    """A blob of x's shape holding `value` everywhere: Power with scale 0 and shift `value` (Caffe writes
    pow(shift, 1) = shift without reading x; the other runtimes compute value + 0 * x, the same for finite x)."""
    top = ctx.unique(base)
    p = ctx.layer(top, "Power", [x], [top]).power_param
    p.scale, p.shift = 0.0, value
    return top
