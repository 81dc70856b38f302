"""Local response normalization across channels, from a window average of x*x (not Caffe's LRN layer)."""

from __future__ import annotations

from ..errors import ConversionError
from ..ir.attrs import Attrs
from ..ir.graph import Node
from .context import EmitContext
from .registry import register


@register("LRN", caffe="Eltwise PROD, Reshape, Pooling AVE, Power")
def convert_lrn(node: Node, ctx: EmitContext) -> None:
    """LRN(nsize, alpha, beta, knorm) -> x * (knorm + alpha * mean of x^2 over the channel window)^-beta.

    MXNet computes x / (k + alpha/n * S)^beta, S the sum of x^2 over the n channels centered on each (zeros past the
    edges; an even n, in MXNet's oneDNN kernel, sums the n - 1 centered channels and still divides by n). Caffe's
    LRN layer is not used: it slides its window by adding the entering channel and subtracting the leaving one, so
    a large channel next to small ones cancels (one channel at 1e3 beside ones at 1e-3: 3.5e-3 relative off MXNet,
    at 1e4 inf), and OpenCV, MNN and ncnn read its k as 1. Instead the window is an AVE Pooling (n' x 1, padded by
    its half, so every divisor is n') over x*x viewed as (N, 1, C, H*W), and one Power computes
    (k + alpha n'/n * mean)^-beta; an Eltwise PROD multiplies x. 2-D and 4-D inputs, as MXNet's LRN computes."""
    a = node.attrs
    x, out = node.inputs[0], node.outputs[0]
    shape = ctx.shape(x)
    if len(shape) not in (2, 4):
        raise ConversionError(
            f"input is {len(shape)}-D; MXNet's LRN computes 2-D and 4-D inputs only (it fails on this one)",
            node.name,
            node.op,
        )
    size = a.int("nsize")
    if size < 1:
        raise ConversionError(f"is {size}; must be positive", node.name, node.op, "nsize")
    alpha, beta, k = a.float("alpha", 1e-4), a.float("beta", 0.75), a.float("knorm", 2.0)
    window = size if size % 2 else max(size - 1, 1)
    n, channels = shape[:2]
    rest = 1 if len(shape) == 2 else shape[2] * shape[3]
    squares = ctx.unique(f"{node.name}_squares")
    ctx.layer(squares, "Eltwise", [x, x], [squares]).eltwise_param.operation = 0  # PROD: x * x exactly
    rows = ctx.unique(f"{node.name}_rows")
    ctx.layer(rows, "Reshape", [squares], [rows]).reshape_param.shape.dim.extend([0, 1, channels, rest])
    ctx.set_shape(rows, (n, 1, channels, rest))
    mean = ctx.unique(f"{node.name}_window_mean")
    ctx.set_shape(mean, (n, 1, channels, rest))
    attrs = Attrs(mean, "Pooling", {})
    for key, value in (("kernel", (window, 1)), ("stride", (1, 1)), ("pad", ((window - 1) // 2, 0))):
        attrs.set(key, value)
    attrs.set("pool_type", "avg")
    from .pooling import convert_pooling

    convert_pooling(Node(mean, "Pooling", attrs, [rows], [mean]), ctx)
    factor = ctx.unique(f"{node.name}_factor")
    p = ctx.layer(factor, "Power", [mean], [factor]).power_param
    p.power, p.scale, p.shift = -beta, alpha * window / size, k
    back = ctx.unique(f"{node.name}_factor_shaped")
    ctx.layer(back, "Reshape", [factor], [back]).reshape_param.shape.dim.extend([0, *shape[1:]])
    ctx.layer(node.name, "Eltwise", [x, back], [out]).eltwise_param.operation = 0  # PROD
