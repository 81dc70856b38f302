"""What every detector family writes the same way: caffe-ssd's DetectionOutput with GluonCV's NMS settings, and
constant blobs (anchors, priors) from layers every runtime has."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..caffe import caffe_pb2 as pb
from ..converters.context import EmitContext

DETECTIONS = "detection_out"


def emit_detection_output(ctx: EmitContext, head: Any, loc: str, conf: str, priors: str, code_type: int) -> str:
    """DetectionOutput over `loc`/`conf`/`priors` (shared boxes, background label 0 in front of the head's classes,
    variances from the priors blob) with the head's NMS settings; returns its top, `detection_out`."""
    proto = ctx.layer(DETECTIONS, "DetectionOutput", [loc, conf, priors], [DETECTIONS])
    d = proto.detection_output_param
    d.num_classes = head.num_classes + 1
    d.share_location = True
    d.background_label_id = 0
    d.code_type = code_type
    d.variance_encoded_in_target = False
    set_nms(d, head)
    return DETECTIONS


def set_nms(d: pb.DetectionOutputParameter, head: Any) -> None:
    """GluonCV's box_nms settings (any head with score_thresh, nms_thresh, nms_topk, post_nms) on DetectionOutput."""
    d.confidence_threshold = head.score_thresh
    if 0 < head.nms_thresh < 1:
        d.nms_param.nms_threshold = head.nms_thresh
        if head.nms_topk > 0:
            d.nms_param.top_k = head.nms_topk
        d.keep_top_k = head.post_nms if head.post_nms > 0 else -1
    else:  # GluonCV skips NMS and post_nms: IoU <= 1 always holds, so nothing is suppressed
        d.nms_param.nms_threshold = 1.0
        d.keep_top_k = -1


def emit_constant_blob(
    ctx: EmitContext, top: str, constant: np.ndarray, input_name: str, dims: tuple[int, ...] = (2, -1)
) -> None:
    """A constant (batch, *dims) blob named `top` (default (B, 2, size/2)), in layers every runtime has.

    A global pooling of the input feeds an InnerProduct with zero weights; its bias is the constant, so the output
    is exactly the bias for any finite input. (Caffe's Parameter layer would do, but OpenCV cannot load it.)
    """
    channels = ctx.shape(input_name)[1]
    source = ctx.unique(f"{top}_source")
    proto = ctx.layer(source, "Pooling", [input_name], [source])
    proto.pooling_param.pool = pb.PoolingParameter.AVE
    proto.pooling_param.global_pooling = True
    flat = ctx.unique(f"{top}_flat")
    weights = np.zeros((constant.size, channels), np.float32)
    proto = ctx.layer(flat, "InnerProduct", [source], [flat], [weights, constant.astype(np.float32).reshape(-1)])
    proto.inner_product_param.num_output = constant.size
    proto.inner_product_param.bias_term = True
    proto = ctx.layer(top, "Reshape", [flat], [top])
    proto.reshape_param.shape.dim.extend([0, *dims])
