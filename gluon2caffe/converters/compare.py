"""Comparisons with a scalar and logical_not -> Caffe's Threshold (y = 1 if x > t else 0), negation and 1 - y;
maximum / minimum with a scalar -> Eltwise MAX with a constant blob. All exact.

Threshold is the only step function among Caffe's layers, so a comparison has no other form: a target whose runtime
lacks it (OpenCV, OpenVINO, and therefore `any`) refuses the node with the reason. The threshold is the scalar as
float32, which is what MXNet compares with (DType(scalar)); x < s is -x > -s (negation is exact), x >= s is
1 - (x < s), x != s is (x > s) + (x < s) (at most one is 1), x == s is 1 minus that: no subtraction x - s, whose
rounding could hide a difference."""

from __future__ import annotations

import numpy as np

from ..errors import ConversionError
from ..ir.graph import Node
from .context import TARGETS, TOOLCHAIN_TARGETS, EmitContext
from .registry import register

COMPARISONS = (
    "_greater_scalar",
    "_lesser_scalar",
    "_greater_equal_scalar",
    "_lesser_equal_scalar",
    "_equal_scalar",
    "_not_equal_scalar",
)
# Ops whose outputs are 0 or 1 only (logical_not of them is 1 - x, no Threshold needed).
ZERO_ONE_OPS = frozenset({*COMPARISONS, "logical_not"})


def require_threshold(node: Node, ctx: EmitContext) -> None:
    """Refuse, with the reason, a node that needs Threshold where the target's runtime cannot load it."""
    if ctx.options.patterns.threshold:
        return
    having = ", ".join(repr(name) for name, p in TARGETS.items() if p.threshold and name not in TOOLCHAIN_TARGETS)
    raise ConversionError(
        f"needs Caffe's Threshold layer (the only step function among Caffe's layers), which OpenCV and OpenVINO "
        f"cannot load, so target {ctx.options.target!r} does not write it: convert with target {having} "
        "(--target), for a runtime that has it",
        node.name,
        node.op,
    )


def _scalar(node: Node) -> float:
    """The node's scalar as MXNet compares with it: float32."""
    value = node.attrs.float("scalar")
    if value is None or not np.isfinite(np.float32(value)):
        raise ConversionError(
            f"is {node.attrs.str('scalar')}; only a finite float32 converts", node.name, node.op, "scalar"
        )
    return float(np.float32(value))


def _power(ctx: EmitContext, name: str, x: str, top: str, scale: float = 1.0, shift: float = 0.0) -> str:
    p = ctx.layer(name, "Power", [x], [top]).power_param
    p.scale, p.shift = scale, shift
    ctx.set_shape(top, ctx.shape(x))
    return top


def _threshold(ctx: EmitContext, name: str, x: str, t: float, top: str) -> str:
    ctx.layer(name, "Threshold", [x], [top]).threshold_param.threshold = t
    ctx.set_shape(top, ctx.shape(x))
    return top


def _greater(ctx: EmitContext, base: str, x: str, s: float, top: str | None = None, name: str | None = None) -> str:
    """[x > s]."""
    top = top or ctx.unique(f"{base}_gt")
    return _threshold(ctx, name or top, x, s, top)


def _lesser(ctx: EmitContext, base: str, x: str, s: float, top: str | None = None, name: str | None = None) -> str:
    """[x < s] = [-x > -s]."""
    negated = ctx.unique(f"{base}_negated")
    _power(ctx, negated, x, negated, scale=-1.0)
    top = top or ctx.unique(f"{base}_lt")
    return _threshold(ctx, name or top, negated, -s, top)


def either(ctx: EmitContext, base: str, x: str, s: float, top: str | None = None, name: str | None = None) -> str:
    """[x != s] = [x > s] + [x < s]."""
    top = top or ctx.unique(f"{base}_ne")
    layer = ctx.layer(name or top, "Eltwise", [_greater(ctx, base, x, s), _lesser(ctx, base, x, s)], [top])
    layer.eltwise_param.operation = layer.eltwise_param.SUM
    ctx.set_shape(top, ctx.shape(x))
    return top


@register(*COMPARISONS, caffe="Threshold (+ Power, Eltwise SUM); not in targets any/opencv/openvino")
def convert_comparison(node: Node, ctx: EmitContext) -> None:
    """x > s, x < s, x >= s, x <= s, x != s, x == s -> Threshold on x or -x (+ 1 - y, a sum of two), exact."""
    require_threshold(node, ctx)
    x, out, name = node.inputs[0], node.outputs[0], node.name
    s = _scalar(node)
    if node.op == "_greater_scalar":
        _greater(ctx, name, x, s, out, name)
    elif node.op == "_lesser_scalar":
        _lesser(ctx, name, x, s, out, name)
    elif node.op == "_not_equal_scalar":
        either(ctx, name, x, s, out, name)
    else:  # 1 - the opposite comparison
        opposite = {"_greater_equal_scalar": _lesser, "_lesser_equal_scalar": _greater, "_equal_scalar": either}
        _power(ctx, name, opposite[node.op](ctx, name, x, s), out, scale=-1.0, shift=1.0)


@register("logical_not", caffe="Power (0/1 input) or Threshold + Eltwise SUM + Power")
def convert_logical_not(node: Node, ctx: EmitContext) -> None:
    """logical_not = [x == 0]: 1 - x where x is a comparison's 0/1 output, else 1 - ([x > 0] + [x < 0]); exact."""
    x, out = node.inputs[0], node.outputs[0]
    producer = ctx.graph.producer(x)
    if producer is not None and producer.op in ZERO_ONE_OPS:
        _power(ctx, node.name, x, out, scale=-1.0, shift=1.0)
        return
    require_threshold(node, ctx)
    _power(ctx, node.name, either(ctx, node.name, x, 0.0), out, scale=-1.0, shift=1.0)


@register("_maximum_scalar", "_minimum_scalar", caffe="Power (constant) + Eltwise MAX (+ Power)")
def convert_extremum_scalar(node: Node, ctx: EmitContext) -> None:
    """max(x, s) -> Eltwise MAX of x and a blob of s (Power scale 0, shift s); min(x, s) = -max(-x, -s). Exact.

    Not relu(x - s) + s, which rounds twice: with s = -1e6 it loses every x near 0."""
    x, out, name = node.inputs[0], node.outputs[0], node.name
    s = _scalar(node)
    if node.op == "_maximum_scalar":
        eltwise_max(ctx, name, x, constant_like(ctx, name, x, s), out, name)
        return
    negated = ctx.unique(f"{name}_negated")
    _power(ctx, negated, x, negated, scale=-1.0)
    larger = eltwise_max(ctx, name, negated, constant_like(ctx, name, x, -s))
    _power(ctx, name, larger, out, scale=-1.0)


def constant_like(ctx: EmitContext, base: str, x: str, value: float) -> str:
    """A blob of x's shape holding `value` everywhere: Power with scale 0 and shift `value` (0 x a finite x + value;
    Caffe writes the shift without reading x)."""
    top = ctx.unique(f"{base}_constant")
    return _power(ctx, top, x, top, scale=0.0, shift=value)


def eltwise_max(ctx: EmitContext, base: str, a: str, b: str, top: str | None = None, name: str | None = None) -> str:
    top = top or ctx.unique(f"{base}_max")
    layer = ctx.layer(name or top, "Eltwise", [a, b], [top])
    layer.eltwise_param.operation = layer.eltwise_param.MAX
    ctx.set_shape(top, ctx.shape(a))
    return top
