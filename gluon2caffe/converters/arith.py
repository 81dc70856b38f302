"""Division by a tensor, maximum / minimum of two tensors, and where (a selection by a condition).

Caffe has no division layer: a / b is a * b^-1, b^-1 by a Power layer (power -1), the product as broadcast_mul
writes it (Eltwise PROD, or Scale). That rounds twice where MXNet rounds once: the result is within 4 x 2^-24 =
2.4e-7 relative of MXNet's (b^-1 within an ulp, the product's and MXNet's rounding half an ulp each; measured: at
most 1 ulp, 1.19e-7, in pycaffe), 400x inside the tolerance (1e-4 of the output's scale), so it converts. Outside
float32's normal range it is not: where |b| > 2^126 the reciprocal is subnormal and loses digits, and where
|b| < 2^-128 it overflows to inf (a / b finite in MXNet when a is as tiny).

maximum is Eltwise MAX (exact: a copy of one operand); minimum is -max(-a, -b) (negation is exact)."""

from __future__ import annotations

import numpy as np

from ..errors import ConversionError
from ..ir.attrs import Attrs
from ..ir.graph import Node
from ..ir.ops import constant_run
from .compare import ZERO_ONE_OPS, constant_like, either, eltwise_max, require_threshold
from .context import EmitContext
from .elemwise import _tile_to, convert_binary, expand_axes
from .registry import register

DIVISIONS = ("elemwise_div", "broadcast_div", "_div")


@register(*DIVISIONS, caffe="Power (power -1) + Eltwise PROD / Scale, or Scale / Power by 1/c")
def convert_div(node: Node, ctx: EmitContext) -> None:
    """a / b -> a * b^-1 (Power -1, then a product as broadcast_mul's), within 2.4e-7 relative; a / c -> a * (1/c)."""
    a, b = node.inputs
    out = node.outputs[0]
    if ctx.is_param(a) and ctx.is_param(b):
        raise ConversionError("both operands are constants; nothing to compute at run time", node.name, node.op)
    if ctx.is_param(b):  # 1/c rounded once, in float64 then to float32: a * (1/c) is within 1.5 ulp of a / c
        c = np.asarray(ctx.param(b), np.float64)
        if np.any(c == 0):
            raise ConversionError(f"divides by the constant '{b}', which holds a 0", node.name, node.op)
        _scale(node, ctx, a, (1.0 / c).astype(np.float32), out, node.name)
        return
    reciprocal = ctx.unique(f"{node.name}_reciprocal")
    ctx.layer(reciprocal, "Power", [b], [reciprocal]).power_param.power = -1.0
    ctx.set_shape(reciprocal, ctx.shape(b))
    if ctx.is_param(a):  # c / b = c * b^-1
        _scale(node, ctx, reciprocal, np.asarray(ctx.param(a), np.float32), out, node.name)
        return
    product = Node(node.name, "broadcast_mul", Attrs(node.name, node.op), [a, reciprocal], node.outputs)
    convert_binary(product, ctx)


def _scale(node: Node, ctx: EmitContext, x: str, value: np.ndarray, out: str, name: str) -> None:
    """x times a constant: Power(scale) for one value, else Scale with the constant as its blob."""
    out_shape = ctx.shape(out)
    if ctx.shape(x) != out_shape:
        raise ConversionError(
            f"the tensor operand {ctx.shape(x)} is broadcast to the constant's shape {out_shape}", node.name, node.op
        )
    run = constant_run(node, value.shape, out_shape)
    if run is None:
        ctx.layer(name, "Power", [x], [out]).power_param.scale = float(value.reshape(-1)[0])
        return
    axis, num_axes = run
    layer = ctx.layer(name, "Scale", [x], [out], [value.reshape(out_shape[axis : axis + num_axes])])
    layer.scale_param.axis, layer.scale_param.num_axes = axis, num_axes


@register("_maximum", "_minimum", "broadcast_maximum", "broadcast_minimum", caffe="Eltwise MAX (+ Power)")
def convert_extremum(node: Node, ctx: EmitContext) -> None:
    """max(a, b) -> Eltwise MAX (a broadcast operand expanded; a constant a blob); min(a, b) = -max(-a, -b). Exact."""
    a, b = node.inputs
    out = node.outputs[0]
    out_shape = ctx.shape(out)
    minimum = node.op in ("_minimum", "broadcast_minimum")
    sign = -1.0 if minimum else 1.0
    if ctx.is_param(a) and ctx.is_param(b):
        raise ConversionError("both operands are constants; nothing to compute at run time", node.name, node.op)
    operands = []
    for tag, t in (("a", a), ("b", b)):
        if ctx.is_param(t):
            other = b if t == a else a
            operands.append(_constant_blob(node, ctx, other, sign * np.asarray(ctx.param(t), np.float64), tag))
            continue
        expanded = _tile_to(node, ctx, t, out_shape, tag)
        if minimum:
            negated = ctx.unique(f"{node.name}_{tag}_negated")
            ctx.layer(negated, "Power", [expanded], [negated]).power_param.scale = -1.0
            ctx.set_shape(negated, out_shape)
            expanded = negated
        operands.append(expanded)
    if not minimum:
        eltwise_max(ctx, node.name, operands[0], operands[1], out, node.name)
        return
    larger = eltwise_max(ctx, node.name, operands[0], operands[1])
    ctx.layer(node.name, "Power", [larger], [out]).power_param.scale = -1.0


def _constant_blob(node: Node, ctx: EmitContext, x: str, value: np.ndarray, tag: str) -> str:
    """A blob of x's shape holding the constant `value` broadcast: Power scale 0 (+ Bias with the constant as blob:
    0 + c is c exactly)."""
    shape = ctx.shape(x)
    if shape != ctx.shape(node.outputs[0]):
        raise ConversionError(
            f"the tensor operand {shape} is broadcast to the constant's shape {ctx.shape(node.outputs[0])}",
            node.name,
            node.op,
        )
    run = constant_run(node, value.shape, shape)
    if run is None:
        return constant_like(ctx, f"{node.name}_{tag}", x, float(value.reshape(-1)[0]))
    zeros = constant_like(ctx, f"{node.name}_{tag}", x, 0.0)
    axis, num_axes = run
    top = ctx.unique(f"{node.name}_{tag}_values")
    blob = value.astype(np.float32).reshape(shape[axis : axis + num_axes])
    layer = ctx.layer(top, "Bias", [zeros], [top], [blob])
    layer.bias_param.axis, layer.bias_param.num_axes = axis, num_axes
    ctx.set_shape(top, shape)
    return top


@register("where", caffe="Threshold + Eltwise PROD/SUM + Power; not in targets any/opencv/openvino")
def convert_where(node: Node, ctx: EmitContext) -> None:
    """where(cond, x, y) -> m * x + (1 - m) * y, m = [cond != 0] (Threshold; cond itself if a comparison's 0/1).

    Exact for finite x and y: one product is a copy (1 x value), the other an exact 0, and value + 0 is the value (an
    infinite value in the branch not taken would give 0 x inf = NaN). A condition of shape (N,) selects whole rows of
    the first axis, as MXNet's does. A constant x or y is a blob of its values (Power scale 0, + Bias)."""
    cond, x, y = node.inputs
    out = node.outputs[0]
    shape = ctx.shape(out)
    if ctx.is_param(cond):
        raise ConversionError(
            "the condition is a constant: the graph should select at conversion time (not supported)",
            node.name,
            node.op,
        )
    if ctx.is_param(x) and ctx.is_param(y):
        raise ConversionError("both branches are constants (not supported)", node.name, node.op)
    producer = ctx.graph.producer(cond)
    if producer is not None and producer.op in ZERO_ONE_OPS:
        mask = cond
    else:
        require_threshold(node, ctx)
        mask = either(ctx, node.name, cond, 0.0)
    if ctx.shape(mask) != shape:  # (N,): one value per row of the first axis
        rows = ctx.unique(f"{node.name}_rows")
        dims = [ctx.shape(mask)[0]] + [1] * (len(shape) - 1)
        ctx.layer(rows, "Reshape", [mask], [rows]).reshape_param.shape.dim.extend(dims)
        ctx.set_shape(rows, tuple(dims))
        mask = expand_axes(ctx, f"{node.name}_mask", rows, shape)
    inverse = ctx.unique(f"{node.name}_not")
    p = ctx.layer(inverse, "Power", [mask], [inverse]).power_param
    p.scale, p.shift = -1.0, 1.0
    ctx.set_shape(inverse, shape)
    branches = []
    for tag, branch, weight in (("x", x, mask), ("y", y, inverse)):
        if ctx.is_param(branch):
            other = y if branch == x else x
            branch = _constant_blob(node, ctx, other, np.asarray(ctx.param(branch), np.float64), tag)
        top = ctx.unique(f"{node.name}_{tag}_kept")
        layer = ctx.layer(top, "Eltwise", [weight, branch], [top])
        layer.eltwise_param.operation = layer.eltwise_param.PROD
        ctx.set_shape(top, shape)
        branches.append(top)
    layer = ctx.layer(node.name, "Eltwise", branches, [out])
    layer.eltwise_param.operation = layer.eltwise_param.SUM
