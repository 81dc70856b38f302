"""Pointwise activations."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import ConversionError
from ..ir import Node
from .registry import register

if TYPE_CHECKING:
    from ..emit import EmitContext

_ACTIVATIONS = {"relu": "ReLU", "sigmoid": "Sigmoid", "tanh": "TanH", "softrelu": "BNLL"}


def _unary(node: Node, ctx: EmitContext, caffe_type: str) -> None:
    ctx.layer(node.name, caffe_type, [node.inputs[0]], [node.outputs[0]])


@register("Activation", caffe="ReLU / Sigmoid / TanH / BNLL")
def convert_activation(node: Node, ctx: EmitContext) -> None:
    """Activation relu/sigmoid/tanh/softrelu -> ReLU/Sigmoid/TanH/BNLL (softrelu is softplus, which BNLL computes)."""
    act = node.attrs.str("act_type")
    if act not in _ACTIVATIONS:
        raise ConversionError(
            f"is {act!r}; exact Caffe layers exist for {', '.join(sorted(_ACTIVATIONS))}",
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
