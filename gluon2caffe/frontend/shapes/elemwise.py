"""Element-wise ops: one output of the input's shape (unary, scalar, like), equal shapes (elemwise_*, add_n), and
NumPy-style broadcasting (broadcast_*, broadcast_like), as src/operator/tensor/elemwise_*_op and
elemwise_binary_broadcast_op.h infer them."""

from __future__ import annotations

from ...ir.ops import SCALAR_OPS
from .registry import OpShapes, Shape, shape_rule

UNARY = (
    "Activation",
    "relu",
    "sigmoid",
    "tanh",
    "exp",
    "log",
    "log2",
    "log10",
    "sqrt",
    "rsqrt",
    "square",
    "reciprocal",
    "abs",
    "negative",
    "hard_sigmoid",
    "softsign",
    "clip",
    "ones_like",
    "zeros_like",
    "_copy",
    "identity",
    "BlockGrad",
    "stop_gradient",
    "Cast",
    "cast",
    "amp_cast",
    "MakeLoss",
    "make_loss",
    *SCALAR_OPS,
    "_greater_scalar",
    "_greater_equal_scalar",
    "_lesser_scalar",
    "_lesser_equal_scalar",
    "_equal_scalar",
    "_not_equal_scalar",
    "_maximum_scalar",
    "_minimum_scalar",
    "logical_not",
)


@shape_rule(*UNARY)
def unary(s: OpShapes) -> list[Shape]:
    """y has x's shape."""
    return [s.data(0)]


@shape_rule("Dropout")
def dropout(s: OpShapes) -> list[Shape]:
    """The output and its (hidden) mask have the input's shape."""
    x = s.data(0)
    return [x, x]


@shape_rule("elemwise_add", "elemwise_sub", "elemwise_mul", "elemwise_div", "_div", "add_n", "_maximum", "_minimum")
def same_shape(s: OpShapes) -> list[Shape]:
    """Every input has one shape, the output's."""
    return [s.inputs_equal()]


BROADCAST = (
    "broadcast_add",
    "broadcast_sub",
    "broadcast_mul",
    "broadcast_div",
    "broadcast_plus",
    "broadcast_minus",
    "broadcast_maximum",
    "broadcast_minimum",
    "broadcast_greater",
    "broadcast_greater_equal",
    "broadcast_lesser",
    "broadcast_lesser_equal",
    "broadcast_equal",
    "broadcast_not_equal",
    "broadcast_power",
)


def broadcast(s: OpShapes, a: Shape, b: Shape) -> Shape:
    """NumPy broadcasting of two shapes: aligned at the end, each pair of sizes equal or one of them 1."""
    ndim = max(len(a), len(b))
    pa, pb = (1,) * (ndim - len(a)) + tuple(a), (1,) * (ndim - len(b)) + tuple(b)
    out = []
    for x, y in zip(pa, pb):
        if x != y and 1 not in (x, y):
            raise s.fail(f"operands of shapes {tuple(a)} and {tuple(b)} cannot be broadcast together")
        out.append(y if x == 1 else x)
    return tuple(out)


@shape_rule(*BROADCAST)
def broadcast_binary(s: OpShapes) -> list[Shape]:
    """The two inputs broadcast against each other."""
    return [broadcast(s, s.data(0), s.data(1))]


@shape_rule("broadcast_like")
def broadcast_like(s: OpShapes) -> list[Shape]:
    """lhs broadcast to rhs's shape (all axes, same rank), or on lhs_axes to the sizes of rhs's rhs_axes."""
    lhs, rhs = s.data(0), s.data(1)
    lhs_axes, rhs_axes = s.attrs.int_tuple("lhs_axes", None), s.attrs.int_tuple("rhs_axes", None)
    if lhs_axes is None or rhs_axes is None:  # MXNet ignores one without the other
        if len(lhs) != len(rhs):
            raise s.fail(f"operand of shape {lhs} cannot be broadcast to {rhs}: different ranks")
        for x, y in zip(lhs, rhs):
            if x != y and x != 1:
                raise s.fail(f"operand of shape {lhs} cannot be broadcast to {rhs}")
        return [tuple(rhs)]
    if len(lhs_axes) != len(rhs_axes) or not lhs_axes:
        raise s.fail(f"lhs_axes {lhs_axes} and rhs_axes {rhs_axes} must have one, non-zero length", "lhs_axes")
    out = list(lhs)
    for la, ra in zip(lhs_axes, rhs_axes):
        i, j = s.axis("lhs_axes", la, len(lhs)), s.axis("rhs_axes", ra, len(rhs))
        if lhs[i] != 1:
            raise s.fail(f"axis {la} has size {lhs[i]}, not 1: it cannot be broadcast to {rhs[j]}", "lhs_axes")
        out[i] = rhs[j]
    return [tuple(out)]
