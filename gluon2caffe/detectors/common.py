"""What every detector family writes the same way: caffe-ssd's DetectionOutput with GluonCV's NMS settings, and
constant blobs (anchors, priors) from layers every runtime has."""

from __future__ import annotations

from ..caffe import caffe_pb2 as pb
from ..converters.constants import emit_constant_blob  # noqa: F401  (the detectors' constants)
from ..converters.context import EmitContext
from .base import NMSSettings

DETECTIONS = "detection_out"


def emit_detection_output(ctx: EmitContext, head: NMSSettings, loc: str, conf: str, priors: str, code_type: int) -> str:
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


def set_nms(d: pb.DetectionOutputParameter, head: NMSSettings) -> None:
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
