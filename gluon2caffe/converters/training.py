"""Training heads and legacy softmaxes at inference: SoftmaxOutput / SoftmaxActivation -> Softmax,
LogisticRegressionOutput -> Sigmoid; the heads and gradient stops that compute y = x are removed by a pass; Cast to
float32 is removed, to any other type refused. A head's label input was dropped when the graph was read."""

from __future__ import annotations

import math

from ..errors import ConversionError
from ..ir.graph import Node
from ..ir.ops import IDENTITY_CASTS
from .context import EmitContext
from .registry import register, register_removed

register_removed(
    "BlockGrad",
    "stop_gradient",
    "MakeLoss",
    "make_loss",
    "LinearRegressionOutput",
    "MAERegressionOutput",
    "SVMOutput",
    doc="y = x at inference (a training head's label is dropped; removed by a pass)",
    family="training",
)


@register("SoftmaxOutput", "Softmax", "SoftmaxActivation", caffe="Softmax")
def convert_softmax_head(node: Node, ctx: EmitContext) -> None:
    """SoftmaxOutput / SoftmaxActivation -> Softmax over axis 1 (multi_output, mode='channel') or the last axis.

    The last axis: SoftmaxActivation's instance mode and SoftmaxOutput's preserve_shape (MXNet's FlatTo2D keeps the
    last axis). SoftmaxOutput's default is computed two ways by MXNet 1.9.1 itself: over all axes but the batch
    (its reference code, training) and over the last axis (MKLDNN CPU builds at inference); where the two differ
    (an input of rank > 2 with more than one value on the axes between) it is refused, naming the node."""
    shape = tuple(ctx.shape(node.inputs[0]))
    if len(shape) < 2:
        raise ConversionError(
            f"the input has shape {shape}; a softmax head needs a batch axis and a class axis", node.name, node.op
        )
    a = node.attrs
    if node.op == "SoftmaxActivation":
        channel = a.str("mode", "instance", choices=("instance", "channel")) == "channel"
        axis = 1 if channel else len(shape) - 1
    elif a.bool("multi_output", False):
        axis = 1
    elif a.bool("preserve_shape", False) or math.prod(shape[1:-1]) == 1:
        axis = len(shape) - 1
    else:
        raise ConversionError(
            f"over an input of shape {shape} MXNet 1.9.1 computes this softmax two ways: over all axes but the batch "
            "(training, builds without MKLDNN) or over the last axis (MKLDNN CPU builds at inference); say which in "
            "the symbol file: preserve_shape=True (the last axis), multi_output=True (axis 1), or a Flatten before it",
            node.name,
            node.op,
            "preserve_shape",
        )
    ctx.layer(node.name, "Softmax", [node.inputs[0]], [node.outputs[0]]).softmax_param.axis = axis


@register("LogisticRegressionOutput", caffe="Sigmoid")
def convert_logistic_head(node: Node, ctx: EmitContext) -> None:
    """LogisticRegressionOutput -> Sigmoid (its forward; the label is read by the gradient only)."""
    ctx.layer(node.name, "Sigmoid", [node.inputs[0]], [node.outputs[0]])


@register("Cast", "cast", caffe="(removed: to float32)")
def convert_cast(node: Node, ctx: EmitContext) -> None:
    """Cast to float32 -> removed by a pass (Caffe computes in float32); to any other type refused here."""
    dtype = node.attrs.str("dtype")
    raise ConversionError(
        f"is {dtype!r}; Caffe computes in float32 only, so a cast to {dtype} (its rounding"
        + (", its integer truncation" if "int" in dtype or dtype == "bool" else "")
        + f") cannot be reproduced; only {', '.join(IDENTITY_CASTS)} converts (an identity)",
        node.name,
        node.op,
        "dtype",
    )
