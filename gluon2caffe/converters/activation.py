"""Pointwise activations."""

from __future__ import annotations

import math

import numpy as np

from ..errors import ConversionError
from ..ir.graph import Node
from .context import EmitContext
from .registry import register
from .unary import emit_softsign


_ACTIVATIONS = {"relu": "ReLU", "sigmoid": "Sigmoid", "tanh": "TanH", "softrelu": "BNLL"}


def _reshaped(ctx: EmitContext, name: str, x: str, shape: tuple[int, ...]) -> str:
    blob = ctx.unique(name)
    ctx.layer(blob, "Reshape", [x], [blob]).reshape_param.shape.dim.extend([0, *shape[1:]])
    ctx.set_shape(blob, shape)
    return blob


def _unary(node: Node, ctx: EmitContext, caffe_type: str) -> None:
    ctx.layer(node.name, caffe_type, [node.inputs[0]], [node.outputs[0]])


@register("Activation", caffe="ReLU / Sigmoid / TanH / BNLL; softsign: Power, Eltwise")
def convert_activation(node: Node, ctx: EmitContext) -> None:
    """Activation relu/sigmoid/tanh/softrelu/softsign -> ReLU/Sigmoid/TanH/BNLL (softplus)/softsign's layers."""
    act = node.attrs.str("act_type")
    if act == "softsign":
        emit_softsign(ctx, node.name, node.inputs[0], node.outputs[0])
        return
    if act not in _ACTIVATIONS:
        raise ConversionError(
            f"is {act!r}; exact Caffe layers exist for {', '.join(sorted(_ACTIVATIONS))}, softsign",
            node.name,
            node.op,
            "act_type",
        )
    _unary(node, ctx, _ACTIVATIONS[act])


@register("relu", caffe="ReLU")
def convert_relu(node: Node, ctx: EmitContext) -> None:
    """relu -> ReLU."""
    _unary(node, ctx, "ReLU")


@register("sigmoid", caffe="Sigmoid")
def convert_sigmoid(node: Node, ctx: EmitContext) -> None:
    """sigmoid -> Sigmoid."""
    _unary(node, ctx, "Sigmoid")


@register("tanh", caffe="TanH")
def convert_tanh(node: Node, ctx: EmitContext) -> None:
    """tanh -> TanH."""
    _unary(node, ctx, "TanH")


@register("LeakyReLU", caffe="ReLU / PReLU / ELU")
def convert_leaky_relu(node: Node, ctx: EmitContext) -> None:
    """LeakyReLU leaky -> ReLU(negative_slope); prelu -> PReLU (its gamma); elu -> ELU(alpha).

    PReLU on a 5-D input runs on its (N, C, rest) Reshape: Caffe's PReLU takes at most 4-D blobs."""
    a = node.attrs
    act = a.str("act_type", "leaky")
    x, out = node.inputs[0], node.outputs[0]
    if act == "leaky":
        ctx.layer(node.name, "ReLU", [x], [out]).relu_param.negative_slope = a.float("slope", 0.25)
    elif act == "elu":
        ctx.layer(node.name, "ELU", [x], [out]).elu_param.alpha = a.float("slope", 0.25)
    elif act == "prelu":
        gamma = ctx.param(node.inputs[1]).reshape(-1)
        shape = ctx.shape(x)
        channels = shape[1]
        if gamma.size not in (1, channels):
            raise ConversionError(
                f"PReLU gamma of size {gamma.size} is neither shared nor per channel", node.name, node.op, "act_type"
            )
        top = out
        if len(shape) > 4:  # Caffe's PReLU reads its blob through the 4-D accessors (it aborts on 5-D): (N, C, rest)
            x = _reshaped(ctx, f"{node.name}_as_3d", x, (shape[0], shape[1], math.prod(shape[2:])))
            top = ctx.unique(f"{node.name}_3d")
        # A shared slope as one per channel (C copies): Caffe's shared form is a 0-d blob, which OpenCV's importer
        # cannot create (`0 <= d && d <= CV_MAX_DIM` fails).
        slopes = np.full(channels, gamma[0], gamma.dtype) if gamma.size == 1 else gamma
        ctx.layer(node.name if top == out else top, "PReLU", [x], [top], [slopes])
        if top != out:
            ctx.set_shape(top, ctx.shape(x))
            ctx.layer(node.name, "Reshape", [top], [out]).reshape_param.shape.dim.extend([0, *shape[1:]])
    else:
        raise ConversionError(
            f"is {act!r}; exact Caffe layers exist for leaky, prelu, elu", node.name, node.op, "act_type"
        )
