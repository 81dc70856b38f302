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

from ..caffe import caffe_pb2 as pb
from ..errors import ConversionError
from ..ir.attrs import Attrs
from ..ir.graph import Node
from ..ir.ops import constant_run
from .constants import emit_constant_blob
from .compare import ZERO_ONE_OPS, constant_like, either, eltwise_max, require_threshold
from .context import EmitContext
from .elemwise import _tile_to, convert_binary, expand_axes
from .registry import register

DIVISIONS = ("elemwise_div", "broadcast_div", "_div")


@register(*DIVISIONS, caffe="Power (power -1) + Eltwise PROD / Scale; by a constant: Power, Scale or Eltwise PROD")
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
        _times_constant(node, ctx, a, (1.0 / c).astype(np.float32), out)
        return
    c = np.asarray(ctx.param(a), np.float64) if ctx.is_param(a) else None
    reciprocal = out if c is not None and c.size == 1 else ctx.unique(f"{node.name}_reciprocal")
    p = ctx.layer(node.name if reciprocal == out else reciprocal, "Power", [b], [reciprocal]).power_param
    p.power = -1.0
    if reciprocal == out:  # c / b = (b * (1/c))^-1 in one layer (OpenCV computes some chains of Powers wrongly)
        if c.reshape(-1)[0] == 0:
            raise ConversionError(f"divides the constant 0 ('{a}'); nothing to compute", node.name, node.op)
        p.scale = float(np.float32(1.0 / c.reshape(-1)[0]))
        return
    ctx.set_shape(reciprocal, ctx.shape(b))
    if c is not None:  # c / b = c * b^-1
        _times_constant(node, ctx, reciprocal, c.astype(np.float32), out)
        return
    product = Node(node.name, "broadcast_mul", Attrs(node.name, node.op), [a, reciprocal], node.outputs)
    convert_binary(product, ctx)


def _times_constant(node: Node, ctx: EmitContext, x: str, value: np.ndarray, out: str) -> None:
    """x times a constant: Power(scale) for one value, Scale for one per channel, else an Eltwise PROD with the
    constant as a blob (MNN and ncnn apply a Scale blob per channel only, OpenVINO refuses another)."""
    out_shape = ctx.shape(out)
    _check_not_broadcast(node, ctx, x)
    run = constant_run(node, value.shape, out_shape)
    if run is None:
        ctx.layer(node.name, "Power", [x], [out]).power_param.scale = float(value.reshape(-1)[0])
        return
    if run == (1, 1):
        layer = ctx.layer(node.name, "Scale", [x], [out], [value.reshape(out_shape[1])])
        layer.scale_param.axis, layer.scale_param.num_axes = 1, 1
        return
    blob = constant_operand(node, ctx, x, value, "factor")
    layer = ctx.layer(node.name, "Eltwise", [x, blob], [out])
    layer.eltwise_param.operation = layer.eltwise_param.PROD


def _check_not_broadcast(node: Node, ctx: EmitContext, x: str) -> None:
    out_shape = ctx.shape(node.outputs[0])
    if ctx.shape(x) != out_shape:
        raise ConversionError(
            f"the tensor operand {ctx.shape(x)} is broadcast to the constant's shape {out_shape}", node.name, node.op
        )


def constant_operand(node: Node, ctx: EmitContext, x: str, value: np.ndarray, tag: str) -> str:
    """A blob of x's shape holding the constant `value` broadcast: one value by Power (scale 0, shift value), more
    by converters/constants.emit_constant_blob (an InnerProduct's bias, fed by a pooling of x) expanded over the
    axes it is broadcast along (all-ones Deconvolutions). Every runtime loads both; both are exact for finite x."""
    _check_not_broadcast(node, ctx, x)
    shape = ctx.shape(x)
    if value.size == 1:
        return constant_like(ctx, f"{node.name}_{tag}", x, float(np.float32(value.reshape(-1)[0])))
    padded = (1,) * (len(shape) - value.ndim) + tuple(value.shape)
    value = value.reshape(padded)
    if padded[0] != 1 and np.all(value == value[:1]):  # the same for every sample (a constant broadcast like x)
        value, padded = value[:1], (1, *padded[1:])
    if padded[0] != 1:
        raise ConversionError(
            f"the constant '{tag}' of shape {value.shape} differs per sample; only constants shared by the batch "
            "convert",
            node.name,
            node.op,
        )
    source = x
    if len(shape) != 4:  # the pooling that feeds the constant's InnerProduct reads a 4-D blob
        source = ctx.unique(f"{node.name}_{tag}_source")
        ctx.layer(source, "Reshape", [x], [source]).reshape_param.shape.dim.extend([0, int(np.prod(shape[1:])), 1, 1])
        ctx.set_shape(source, (shape[0], int(np.prod(shape[1:])), 1, 1))
    top = ctx.unique(f"{node.name}_{tag}")
    emit_constant_blob(ctx, top, value.astype(np.float32), source, dims=padded[1:], pool=pb.PoolingParameter.MAX)
    ctx.set_shape(top, (shape[0], *padded[1:]))
    if tuple(padded[1:]) == tuple(shape[1:]):
        return top
    return expand_axes(ctx, f"{node.name}_{tag}", top, shape)


@register(
    "_maximum", "_minimum", "broadcast_maximum", "broadcast_minimum", caffe="Eltwise MAX (+ Power, constant blobs)"
)
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
            operands.append(constant_operand(node, ctx, other, sign * np.asarray(ctx.param(t), np.float64), tag))
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


@register("where", caffe="Threshold + Eltwise PROD/SUM + Power; not in targets any/opencv/openvino")
def convert_where(node: Node, ctx: EmitContext) -> None:
    """where(cond, x, y) -> m * x + (1 - m) * y, m = [cond != 0] (Threshold; cond itself if a comparison's 0/1).

    Exact for finite x and y: one product is a copy (1 x value), the other an exact 0, and value + 0 is the value (an
    infinite value in the branch not taken would give 0 x inf = NaN). A condition of shape (N,) selects whole rows of
    the first axis, as MXNet's does. A constant x or y is a blob of its values (constant_operand)."""
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
            branch = constant_operand(node, ctx, other, np.asarray(ctx.param(branch), np.float64), tag)
        top = ctx.unique(f"{node.name}_{tag}_kept")
        layer = ctx.layer(top, "Eltwise", [weight, branch], [top])
        layer.eltwise_param.operation = layer.eltwise_param.PROD
        ctx.set_shape(top, shape)
        branches.append(top)
    layer = ctx.layer(node.name, "Eltwise", branches, [out])
    layer.eltwise_param.operation = layer.eltwise_param.SUM
