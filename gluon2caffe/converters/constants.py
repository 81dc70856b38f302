"""Constant blobs from layers every runtime has (anchors, priors, YOLOv3's grid, pooling divisor corrections)."""

from __future__ import annotations

import numpy as np

from ..caffe import caffe_pb2 as pb
from .context import EmitContext


def emit_constant_blob(
    ctx: EmitContext,
    top: str,
    constant: np.ndarray,
    input_name: str,
    dims: tuple[int, ...] = (2, -1),
    pool: int = pb.PoolingParameter.AVE,
) -> None:
    """A constant (batch, *dims) blob named `top` (default (B, 2, size/2)), in layers every runtime has.

    A global pooling of the input feeds an InnerProduct with zero weights; its bias is the constant, so the output
    is exactly the bias for any finite input. (Caffe's Parameter layer would do, but OpenCV cannot load it.) `pool`
    MAX keeps the pooled source finite for any finite input (an average of values near float32's limits, such as
    the -FLT_MAX of an empty max-pooling window, overflows to inf, and 0 x inf is NaN).
    """
    channels = ctx.shape(input_name)[1]
    source = ctx.unique(f"{top}_source")
    proto = ctx.layer(source, "Pooling", [input_name], [source])
    proto.pooling_param.pool = pool
    proto.pooling_param.global_pooling = True
    flat = ctx.unique(f"{top}_flat")
    weights = np.zeros((constant.size, channels), np.float32)
    proto = ctx.layer(flat, "InnerProduct", [source], [flat], [weights, constant.astype(np.float32).reshape(-1)])
    proto.inner_product_param.num_output = constant.size
    proto.inner_product_param.bias_term = True
    proto = ctx.layer(top, "Reshape", [flat], [top])
    proto.reshape_param.shape.dim.extend([0, *dims])
