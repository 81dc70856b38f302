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


@register("SoftmaxOutput", "Softmax", "SoftmaxActivation", caffe="Softmax (+ Reshape)")
def convert_softmax_head(node: Node, ctx: EmitContext) -> None:
    """SoftmaxOutput / SoftmaxActivation -> Softmax over their axis (+ Reshape for a whole instance).

    Over axis 1 (multi_output, mode='channel'), the last axis (preserve_shape), else over everything but the batch
    (MXNet's default: a Reshape to (N, rest) around it where rest is more than axis 1)."""
    x, out = node.inputs[0], node.outputs[0]
    shape = tuple(ctx.shape(x))
    if len(shape) < 2:
        raise ConversionError(
            f"the input has shape {shape}; a softmax head needs a batch axis and a class axis", node.name, node.op
        )
    a = node.attrs
    if node.op == "SoftmaxActivation":
        mode = a.str("mode", "instance", choices=("instance", "channel"))
        axis = 1 if mode == "channel" else None
    elif a.bool("multi_output", False):
        axis = 1
    elif a.bool("preserve_shape", False):
        axis = len(shape) - 1
    else:
        axis = None  # MXNet's default: the tensor as (N, rest), normalized over rest
    if axis is None and math.prod(shape[2:]) == 1:
        axis = 1  # (N, C, 1, ...): over C is over everything but the batch
    if axis is not None:
        ctx.layer(node.name, "Softmax", [x], [out]).softmax_param.axis = axis
        return
    rest = math.prod(shape[1:])
    flat, normalized = ctx.unique(f"{node.name}_flat"), ctx.unique(f"{node.name}_normalized")
    ctx.layer(flat, "Reshape", [x], [flat]).reshape_param.shape.dim.extend([shape[0], rest])
    ctx.set_shape(flat, (shape[0], rest))
    ctx.layer(normalized, "Softmax", [flat], [normalized]).softmax_param.axis = 1
    ctx.set_shape(normalized, (shape[0], rest))
    ctx.layer(node.name, "Reshape", [normalized], [out]).reshape_param.shape.dim.extend(shape)


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
