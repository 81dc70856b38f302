"""InstanceNorm, LayerNorm, GroupNorm: (x - mean) / sqrt(var + eps) * gamma + beta, from exact layers.

Caffe's MVN puts eps outside the square root (x - mean) / (sqrt(var) + eps); these are composed instead on a 4-D
Reshape view (P, Q, R, S) whose axis R holds the elements normalized together: AVE Pooling over R for the mean and
the variance, all-ones Deconvolutions to repeat them back (exact), Eltwise for the difference and the products, and
one Power for (var + eps)^-1/2. gamma and beta are a Scale with bias along the channel axis (axis 1) of a view, the
one axis every runtime scales by.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConversionError
from ..ir.graph import Node
from ._common import positive_axis
from .context import EmitContext
from .elemwise import expand_axes
from .registry import register


@register("InstanceNorm", caffe="Reshape, Pooling AVE, Deconvolution, Eltwise, Power, Scale")
def convert_instance_norm(node: Node, ctx: EmitContext) -> None:
    """InstanceNorm -> per (sample, channel) over the other axes (eps inside the root), gamma/beta per channel."""
    x = node.inputs[0]
    shape = ctx.shape(x)
    if len(shape) < 3:
        raise ConversionError(f"input is {len(shape)}-D; MXNet's InstanceNorm needs 3-D or more", node.name, node.op)
    n, c, rest = shape[0], shape[1], int(np.prod(shape[2:]))
    eps = node.attrs.float("eps", 1e-3)
    view = _view(ctx, f"{node.name}_rows", x, (n, c, rest, 1), batch=True)
    standard = emit_standardize(ctx, node.name, view, eps)
    _affine(node, ctx, standard, c, batch=True)


@register("GroupNorm", caffe="Reshape, Pooling AVE, Deconvolution, Eltwise, Power, Scale")
def convert_group_norm(node: Node, ctx: EmitContext) -> None:
    """GroupNorm(num_groups) -> per (sample, group) over its channels and the other axes, gamma/beta per group."""
    a = node.attrs
    _refuse_moments(node)
    x = node.inputs[0]
    shape = ctx.shape(x)
    groups = a.int("num_groups", 1)
    if len(shape) < 3 or groups < 1 or shape[1] % groups:
        raise ConversionError(
            f"is {groups} for an input of shape {shape}; MXNet needs 3-D or more, channels a multiple of it",
            node.name,
            node.op,
            "num_groups",
        )
    n = shape[0]
    rest = int(np.prod(shape[1:])) // groups
    view = _view(ctx, f"{node.name}_rows", x, (n, groups, rest, 1), batch=True)
    standard = emit_standardize(ctx, node.name, view, a.float("eps", 1e-5))
    _affine(node, ctx, standard, groups, batch=True)


@register("LayerNorm", caffe="Reshape, Pooling AVE, Deconvolution, Eltwise, Power, Scale")
def convert_layer_norm(node: Node, ctx: EmitContext) -> None:
    """LayerNorm(axis, eps) -> over `axis` (any; eps inside the root), gamma/beta along it; no output_mean_var."""
    a = node.attrs
    _refuse_moments(node)
    x = node.inputs[0]
    shape = ctx.shape(x)
    axis = positive_axis(node, "axis", a.int("axis", -1), len(shape))
    size, rest = shape[axis], int(np.prod(shape[axis + 1 :]))
    # (N, the axes between, the axis, the axes after): the batch stays the batch (ncnn has no other).
    first, between = (1, 1) if axis == 0 else (shape[0], int(np.prod(shape[1:axis])))
    view = _view(ctx, f"{node.name}_rows", x, (first, between, size, rest), batch=axis != 0)
    standard = emit_standardize(ctx, node.name, view, a.float("eps", 1e-5))
    if between == 1:
        channels = _view(ctx, f"{node.name}_channels", standard, (first, size, rest, 1), batch=axis != 0)
        _affine(node, ctx, channels, size, batch=axis != 0)
        return
    # gamma/beta vary along axis 2 of the view: Permute it to axis 1 (a Scale on another axis is per channel in
    # OpenCV, MNN and ncnn), scale, Permute back.
    swapped = ctx.unique(f"{node.name}_channels_first")
    ctx.layer(swapped, "Permute", [standard], [swapped]).permute_param.order.extend([0, 2, 1, 3])
    ctx.set_shape(swapped, (first, size, between, rest))
    scaled = ctx.unique(f"{node.name}_affine")
    gamma, beta = _gamma_beta(node, ctx, size)
    ctx.layer(scaled, "Scale", [swapped], [scaled], [gamma, beta]).scale_param.bias_term = True
    back = ctx.unique(f"{node.name}_channels_back")
    ctx.layer(back, "Permute", [scaled], [back]).permute_param.order.extend([0, 2, 1, 3])
    dims = [0, *ctx.shape(node.outputs[0])[1:]]  # between > 1: the axis is not the batch
    ctx.layer(node.name, "Reshape", [back], [node.outputs[0]]).reshape_param.shape.dim.extend(dims)


def _refuse_moments(node: Node) -> None:
    """output_mean_var=True with the mean or std read: those outputs are not converted."""
    if node.attrs.bool("output_mean_var", False) and len(node.outputs) > 1:
        raise ConversionError(
            "is true and the mean/std outputs are used; only the normalized output converts",
            node.name,
            node.op,
            "output_mean_var",
        )


def _view(ctx: EmitContext, base: str, x: str, shape: tuple[int, ...], batch: bool) -> str:
    """x reshaped to `shape` (its batch copied when `batch`: the view's first axis is x's batch)."""
    if tuple(ctx.shape(x)) == tuple(shape):
        return x
    top = ctx.unique(base)
    dims = [0 if batch else shape[0], *shape[1:]]
    ctx.layer(top, "Reshape", [x], [top]).reshape_param.shape.dim.extend(dims)
    ctx.set_shape(top, shape)
    return top


def emit_standardize(ctx: EmitContext, name: str, x: str, eps: float) -> str:
    """(x - mean) * (var + eps)^-1/2 over axis 2 of the 4-D blob x, per (P, Q, S): MXNet's population variance of the
    centered values, eps inside the root. Returns the new blob."""
    p, q, r, s = ctx.shape(x)
    kept = (p, q, 1, s)
    mean = _pool_rows(ctx, f"{name}_mean", x, r, kept)
    centered = ctx.unique(f"{name}_centered")
    repeated = expand_axes(ctx, mean, mean, (p, q, r, s))
    ctx.layer(centered, "Eltwise", [x, repeated], [centered]).eltwise_param.coeff.extend([1.0, -1.0])
    ctx.set_shape(centered, (p, q, r, s))
    squares = ctx.unique(f"{name}_squares")
    ctx.layer(squares, "Eltwise", [centered, centered], [squares]).eltwise_param.operation = 0  # PROD
    ctx.set_shape(squares, (p, q, r, s))
    variance = _pool_rows(ctx, f"{name}_variance", squares, r, kept)
    inverse = ctx.unique(f"{name}_inverse_std")
    power = ctx.layer(inverse, "Power", [variance], [inverse]).power_param
    power.power, power.shift = -0.5, eps
    ctx.set_shape(inverse, kept)
    standard = ctx.unique(f"{name}_standard")
    repeated = expand_axes(ctx, inverse, inverse, (p, q, r, s))
    ctx.layer(standard, "Eltwise", [centered, repeated], [standard]).eltwise_param.operation = 0  # PROD
    ctx.set_shape(standard, (p, q, r, s))
    return standard


def _pool_rows(ctx: EmitContext, base: str, x: str, rows: int, kept: tuple[int, ...]) -> str:
    """The AVE over axis 2 of the 4-D blob x (a (rows, 1) window)."""
    top = ctx.unique(base)
    layer = ctx.layer(top, "Pooling", [x], [top])
    layer.pooling_param.pool = layer.pooling_param.AVE
    layer.pooling_param.kernel_h, layer.pooling_param.kernel_w = rows, 1
    ctx.set_shape(top, kept)
    return top


def _gamma_beta(node: Node, ctx: EmitContext, channels: int) -> tuple[np.ndarray, np.ndarray]:
    gamma = ctx.param(node.inputs[1]).reshape(-1).astype(np.float32)
    beta = ctx.param(node.inputs[2]).reshape(-1).astype(np.float32)
    if gamma.size != channels or beta.size != channels:
        raise ConversionError(
            f"gamma/beta have {gamma.size}/{beta.size} values for {channels} channels", node.name, node.op
        )
    return gamma, beta


def _affine(node: Node, ctx: EmitContext, x: str, channels: int, batch: bool) -> None:
    """node output = x * gamma + beta along axis 1 of the 4-D view x, reshaped back to the node's shape."""
    gamma, beta = _gamma_beta(node, ctx, channels)
    out = node.outputs[0]
    out_shape = ctx.shape(out)
    scaled = out if tuple(ctx.shape(x)) == tuple(out_shape) else ctx.unique(f"{node.name}_affine")
    layer = ctx.layer(node.name if scaled == out else scaled, "Scale", [x], [scaled], [gamma, beta])
    layer.scale_param.bias_term = True
    if scaled != out:
        dims = list(out_shape)
        if batch:
            dims[0] = 0
        ctx.layer(node.name, "Reshape", [scaled], [out]).reshape_param.shape.dim.extend(dims)
