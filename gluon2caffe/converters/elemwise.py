"""Elementwise arithmetic."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..errors import ConversionError
from ..ir import Node
from .registry import register

if TYPE_CHECKING:
    from ..emit import EmitContext


@register("elemwise_add", "add_n", caffe="Eltwise SUM")
def convert_elemwise_add(node: Node, ctx: EmitContext) -> None:
    """elemwise_add / add_n -> Eltwise SUM (inputs of equal shape)."""
    shapes = {ctx.shape(t) for t in node.inputs}
    if len(shapes) != 1:
        raise ConversionError(f"inputs have different shapes {sorted(shapes)}", node.name, node.op)
    layer = ctx.layer(node.name, "Eltwise", node.inputs, [node.outputs[0]])
    layer.eltwise_param.operation = layer.eltwise_param.SUM


def constant_run(node: Node, const_shape: tuple[int, ...], out_shape: tuple[int, ...]) -> tuple[int, int] | None:
    """For a constant broadcast against `out_shape`: (first axis, number of axes) of its non-1 run, None if scalar.

    Caffe Scale/Bias take a blob whose shape equals a contiguous run of the bottom's axes, so the constant must
    be 1 outside that run and match the output inside it.
    """
    ndim = len(out_shape)
    if len(const_shape) > ndim:
        raise ConversionError(
            f"constant of shape {const_shape} broadcasts to more axes than {out_shape}", node.name, node.op
        )
    padded = (1,) * (ndim - len(const_shape)) + tuple(const_shape)
    non_one = [i for i, d in enumerate(padded) if d != 1]
    if not non_one:
        return None
    first, last = non_one[0], non_one[-1]
    if any(padded[i] != out_shape[i] for i in range(first, last + 1)):
        raise ConversionError(
            f"constant of shape {const_shape} broadcasts inside a run of axes against {out_shape}; "
            "Caffe Scale/Bias need the constant to match a contiguous run of the input's axes",
            node.name,
            node.op,
        )
    return first, last - first + 1


@register("broadcast_mul", "broadcast_add", caffe="Scale / Bias / Power")
def convert_broadcast_const(node: Node, ctx: EmitContext) -> None:
    """broadcast_mul/add by a constant parameter -> Scale/Bias with the constant as blob (Power if scalar)."""
    consts = [t for t in node.inputs if ctx.is_param(t)]
    if len(consts) != 1:
        raise ConversionError(
            "only products/sums with one constant parameter are supported (e.g. a per-channel scale)",
            node.name,
            node.op,
        )
    const = consts[0]
    x = next(t for t in node.inputs if t != const)
    out_shape = ctx.shape(node.outputs[0])
    if ctx.shape(x) != out_shape:
        raise ConversionError(f"input {ctx.shape(x)} is broadcast to {out_shape}", node.name, node.op)
    value = ctx.param(const)
    is_mul = node.op == "broadcast_mul"
    run = constant_run(node, value.shape, out_shape)
    if run is None:
        layer = ctx.layer(node.name, "Power", [x], [node.outputs[0]])
        scalar = float(np.asarray(value).reshape(-1)[0])
        if is_mul:
            layer.power_param.scale = scalar
        else:
            layer.power_param.shift = scalar
        return
    axis, num_axes = run
    blob = np.asarray(value).reshape(out_shape[axis : axis + num_axes])
    layer = ctx.layer(node.name, "Scale" if is_mul else "Bias", [x], [node.outputs[0]], [blob])
    p = layer.scale_param if is_mul else layer.bias_param
    p.axis, p.num_axes = axis, num_axes
