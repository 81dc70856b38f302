"""Element-wise math: abs, exp, logarithms, powers, negation, hard_sigmoid, softsign."""

from __future__ import annotations

import math

from ..errors import ConversionError
from ..ir.graph import Node
from .clip import emit_clip
from .context import EmitContext
from .registry import register


@register("abs", caffe="Power + Eltwise MAX")
def convert_abs(node: Node, ctx: EmitContext) -> None:
    """abs -> max(x, -x) (Power scale -1, Eltwise MAX): bit for bit, and OpenVINO loads it (not AbsVal)."""
    emit_abs(ctx, node.name, node.inputs[0], node.outputs[0])


def emit_abs(ctx: EmitContext, name: str, x: str, out: str) -> None:
    """|x| = max(x, -x) into `out` by a layer called `name`: AbsVal computes the same, but OpenVINO's Model
    Optimizer refuses AbsVal layers."""
    negated = ctx.unique(f"{name}_negated")
    ctx.layer(negated, "Power", [x], [negated]).power_param.scale = -1.0
    ctx.layer(name, "Eltwise", [x, negated], [out]).eltwise_param.operation = 2  # MAX
    ctx.set_shape(out, ctx.shape(x))


@register("exp", caffe="Exp")
def convert_exp(node: Node, ctx: EmitContext) -> None:
    """exp -> Exp (base e: expf, as MXNet)."""
    ctx.layer(node.name, "Exp", [node.inputs[0]], [node.outputs[0]])


# log_b(x) = ln(x) * (1 / ln(b)): a Log then a Power scale, not Log's own `base` (which OpenCV's Log ignores).
_LOG_SCALE = {"log": None, "log2": 1.0 / math.log(2.0), "log10": 1.0 / math.log(10.0)}


@register("log", "log2", "log10", caffe="Log (+ Power); not in targets any/mnn/openvino")
def convert_log(node: Node, ctx: EmitContext) -> None:
    """log -> Log; log2 / log10 -> Log then Power scale 1/ln(base) (within 2 ulp of MXNet's log2f / log10f)."""
    x, out = node.inputs[0], node.outputs[0]
    scale = _LOG_SCALE[node.op]
    if scale is None:
        ctx.layer(node.name, "Log", [x], [out])
        return
    natural = ctx.unique(f"{node.name}_ln")
    ctx.layer(natural, "Log", [x], [natural])
    ctx.layer(node.name, "Power", [natural], [out]).power_param.scale = scale


# op -> (power, scale): y = (scale * x) ^ power.
_POWERS = {
    "sqrt": (0.5, 1.0),
    "rsqrt": (-0.5, 1.0),
    "reciprocal": (-1.0, 1.0),
    "negative": (1.0, -1.0),
}


@register(*_POWERS, caffe="Power")
def convert_power(node: Node, ctx: EmitContext) -> None:
    """sqrt, rsqrt, reciprocal, negative -> Power (powf: within an ulp of MXNet's sqrtf, 1/sqrtf, 1/x; -x exact)."""
    power, scale = _POWERS[node.op]
    p = ctx.layer(node.name, "Power", [node.inputs[0]], [node.outputs[0]]).power_param
    p.power, p.scale = power, scale


@register("square", caffe="Eltwise PROD")
def convert_square(node: Node, ctx: EmitContext) -> None:
    """square -> Eltwise PROD of x with itself: x * x bit for bit (Power 2's powf is an ulp off 1 in 1400 times)."""
    x = node.inputs[0]
    ctx.layer(node.name, "Eltwise", [x, x], [node.outputs[0]]).eltwise_param.operation = 0  # PROD


@register("hard_sigmoid", caffe="Power + ReLU, Power, Eltwise MAX")
def convert_hard_sigmoid(node: Node, ctx: EmitContext) -> None:
    """hard_sigmoid(alpha, beta) -> Power (alpha * x + beta, as MXNet rounds it), then clip to [0, 1] exactly."""
    a = node.attrs
    alpha, beta = a.float("alpha", 0.2), a.float("beta", 0.5)
    for key, value in (("alpha", alpha), ("beta", beta)):
        if math.isinf(value):
            raise ConversionError(f"is {value}; must be finite", node.name, node.op, key)
    x, out = node.inputs[0], node.outputs[0]
    linear = ctx.unique(f"{node.name}_linear")
    p = ctx.layer(linear, "Power", [x], [linear]).power_param
    p.scale, p.shift = alpha, beta
    ctx.set_shape(linear, ctx.shape(x))
    emit_clip(ctx, node.name, linear, out, 0.0, 1.0)


@register("softsign", caffe="Power, Eltwise MAX, Power, Eltwise PROD")
def convert_softsign(node: Node, ctx: EmitContext) -> None:
    """softsign -> x * (1 + abs(x))^-1: abs as max(x, -x), Power (shift 1, power -1), Eltwise PROD (within an ulp)."""
    emit_softsign(ctx, node.name, node.inputs[0], node.outputs[0])


def emit_softsign(ctx: EmitContext, name: str, x: str, out: str) -> None:
    """x / (1 + |x|) in layers every runtime has; the product is named `name` and writes `out`."""
    magnitude = ctx.unique(f"{name}_abs")
    emit_abs(ctx, magnitude, x, magnitude)
    inverse = ctx.unique(f"{name}_inverse")
    p = ctx.layer(inverse, "Power", [magnitude], [inverse]).power_param
    p.power, p.shift = -1.0, 1.0
    ctx.layer(name, "Eltwise", [x, inverse], [out]).eltwise_param.operation = 0  # PROD
