"""Softmax, softmin and log_softmax over any axis, with a temperature."""

from __future__ import annotations

import math

from ..errors import ConversionError
from ..ir.graph import Node
from ._common import positive_axis
from .context import EmitContext
from .elemwise import expand_axes
from .reduce import emit_pool_reduction
from .registry import register


def _checked(node: Node, ctx: EmitContext) -> tuple[int, float]:
    """(axis as 0..ndim-1, temperature) of a softmax-family node; refuses what Caffe cannot compute."""
    a = node.attrs
    if a.bool("use_length", False):
        raise ConversionError("masked softmax (use_length) has no Caffe layer", node.name, node.op, "use_length")
    dtype = a.str("dtype", "None")
    if dtype not in ("None", "float32", "float64"):
        raise ConversionError(
            f"is {dtype!r}; Caffe computes in float32 (a float16 softmax rounds differently)",
            node.name,
            node.op,
            "dtype",
        )
    temperature = a.float("temperature", None)
    temperature = 1.0 if temperature is None else temperature
    if temperature == 0 or abs(temperature) == float("inf"):
        raise ConversionError(f"is {temperature}; must be finite and nonzero", node.name, node.op, "temperature")
    axis = positive_axis(node, "axis", a.int("axis", -1), len(ctx.shape(node.inputs[0])))
    return axis, temperature


@register("softmax", "softmin", caffe="Softmax (+ Power)")
def convert_softmax(node: Node, ctx: EmitContext) -> None:
    """softmax / softmin -> Softmax of x / t / of -x / t (Power scale), the axis always written (Caffe's is 1)."""
    axis, temperature = _checked(node, ctx)
    x = node.inputs[0]
    scale = (-1.0 if node.op == "softmin" else 1.0) / temperature
    if scale != 1.0:
        scaled = ctx.unique(f"{node.name}_scaled")
        ctx.layer(scaled, "Power", [x], [scaled]).power_param.scale = scale
        ctx.set_shape(scaled, ctx.shape(x))
        x = scaled
    shape = tuple(ctx.shape(x))
    out = node.outputs[0]
    if axis == 0:
        # Along the batch: the same Softmax along axis 1 of the tensor as one sample (1, N, rest); MNN computes a
        # Softmax along axis 0 over another axis, silently.
        rest = math.prod(shape[1:])
        whole, normalized = ctx.unique(f"{node.name}_whole"), ctx.unique(f"{node.name}_normalized")
        ctx.layer(whole, "Reshape", [x], [whole]).reshape_param.shape.dim.extend([1, shape[0], rest])
        ctx.set_shape(whole, (1, shape[0], rest))
        ctx.layer(normalized, "Softmax", [whole], [normalized]).softmax_param.axis = 1
        ctx.set_shape(normalized, (1, shape[0], rest))
        ctx.layer(node.name, "Reshape", [normalized], [out]).reshape_param.shape.dim.extend(shape)
        return
    layer = ctx.layer(node.name, "Softmax", [x], [out])
    layer.softmax_param.axis = axis


@register(
    "log_softmax",
    caffe="Pooling MAX + AVE, Deconvolution, Eltwise, Exp, Log (+ Power, Reshape); not in targets any/mnn/openvino",
)
def convert_log_softmax(node: Node, ctx: EmitContext) -> None:
    """log_softmax -> d - log(sum(exp(d))), d = (x - max) / t, as MXNet computes it (never log(softmax): underflow).

    The max and the sum over the axis are poolings on Reshape views (`mean`'s; the sum is count x mean, a Power);
    each is repeated back along the axis by an all-ones Deconvolution (exact) for an Eltwise. MNN has no Log layer
    (its converter drops it)."""
    axis, temperature = _checked(node, ctx)
    x, out, name = node.inputs[0], node.outputs[0], node.name
    shape = ctx.shape(x)
    kept = tuple(1 if i == axis else d for i, d in enumerate(shape))
    centered = _minus_reduced(ctx, f"{name}_centered", x, axis, kept, "MAX")
    if temperature != 1.0:
        scaled = ctx.unique(f"{name}_scaled")
        ctx.layer(scaled, "Power", [centered], [scaled]).power_param.scale = 1.0 / temperature
        ctx.set_shape(scaled, shape)
        centered = scaled
    exp = ctx.unique(f"{name}_exp")
    ctx.layer(exp, "Exp", [centered], [exp])
    ctx.set_shape(exp, shape)
    mean = ctx.unique(f"{name}_mean_exp")
    emit_pool_reduction(ctx, mean, exp, mean, [axis], kept, "AVE")
    total = ctx.unique(f"{name}_sum_exp")
    ctx.layer(total, "Power", [mean], [total]).power_param.scale = float(shape[axis])
    log_sum = ctx.unique(f"{name}_log_sum")
    ctx.layer(log_sum, "Log", [total], [log_sum])  # a plain Log: OpenCV and ncnn ignore Log's scale
    ctx.set_shape(log_sum, kept)
    repeated = expand_axes(ctx, f"{name}_log_sum", log_sum, shape)
    layer = ctx.layer(name, "Eltwise", [centered, repeated], [out])
    layer.eltwise_param.coeff.extend([1.0, -1.0])


def _minus_reduced(ctx: EmitContext, name: str, x: str, axis: int, kept: tuple, pool: str) -> str:
    """x - reduce(x) along `axis` (the reduction repeated back along it), as a new blob."""
    shape = ctx.shape(x)
    reduced = ctx.unique(f"{name}_{pool.lower()}")
    emit_pool_reduction(ctx, reduced, x, reduced, [axis], kept, pool)
    repeated = expand_axes(ctx, reduced, reduced, shape)
    top = ctx.unique(name)
    ctx.layer(top, "Eltwise", [x, repeated], [top]).eltwise_param.coeff.extend([1.0, -1.0])
    ctx.set_shape(top, shape)
    return top
