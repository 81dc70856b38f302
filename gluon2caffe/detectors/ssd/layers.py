"""SSD's anchors and detection step as caffe-ssd layers: PriorBox (or the anchors as a constant) + DetectionOutput.

Not an op converter: GluonCV's box decoding and NMS are read from the network (detectors/ssd/read.py) and written as the
layers caffe-ssd defines for exactly that job.

Anchors. caffe-ssd's PriorBox computes center +- size/2 over (image w, h) per cell, in the order: min-size square,
sqrt(min*max) square, then min*sqrt(r) x min/sqrt(r) per extra aspect ratio -- GluonCV's order. But runtimes differ
on fractional sizes (GluonCV's 512 models use 51.2, 102.4, ...), measured here:
  - caffe-ssd (and brocolli-caffe): `int min_size_ = min_sizes_[s]` in Forward, so 51.2 becomes 51 (and the
    sqrt(min*max) square uses the truncated values too);
  - OpenCV DNN: float sizes, i.e. GluonCV's anchors.
So anchors='exact' (default; the decision is detectors/priorbox.py's, shared with MultiBox) writes PriorBox layers
only when they reproduce the network's anchors under both semantics, and otherwise the anchors themselves as a
constant blob (a zero-weight InnerProduct whose bias holds them: every runtime has InnerProduct; the Parameter layer
would be simpler but OpenCV cannot load it).
anchors='priorbox' always writes PriorBox (portable, the usual caffe-ssd prototxt) and warns with the largest anchor
deviation when it is not exact; anchors='constant' always writes the constant.
"""

from __future__ import annotations

import numpy as np

from ...caffe import caffe_pb2 as pb
from ...converters.context import EmitContext
from ..common import DETECTIONS, emit_constant_blob, emit_detection_output  # noqa: F401  (DETECTIONS: the output)
from ..priorbox import (  # noqa: F401  (re-exported: the SSD's PriorBox pieces, shared with MultiBox)
    ANCHOR_MODES,
    EXACT_PX,
    AnchorReport,
    PriorBoxParams,
    fit_priorbox,
    plan_priorboxes,
    priorbox_output,
    priorbox_param,
)
from .read import SSDHead

LOC, CONF, PRIORS = "mbox_loc", "mbox_conf_flatten", "mbox_priorbox"


def plan_anchors(head: SSDHead, requested: str) -> AnchorReport:
    return plan_priorboxes(head.anchors, head.image_size, head.corner_anchors(), requested)


def emit_ssd_head(
    ctx: EmitContext, head: SSDHead, features: list[str], input_name: str, report: AnchorReport, nms: bool
) -> list[str]:
    """Append the prior and detection layers; returns the net's outputs."""
    if report.mode == "priorbox":
        tops = []
        for feat, p in zip(features, report.layers):
            name = ctx.unique(f"{ctx.blob(feat)}_priorbox")
            proto = ctx.layer(name, "PriorBox", [feat, input_name], [name])
            priorbox_param(proto.prior_box_param, p, head.stds)
            tops.append(name)
        proto = ctx.layer(PRIORS, "Concat", tops, [PRIORS])
        proto.concat_param.axis = 2
    else:
        _constant_priors(ctx, head, input_name)
    if not nms:
        batch, anchors = ctx.shape(input_name)[0], head.num_anchors
        for blob, shape in ((LOC, (batch, anchors * 4)), (CONF, (batch, anchors * (head.num_classes + 1)))):
            ctx.set_shape(blob, shape)  # the model card's output shapes
        ctx.set_shape(PRIORS, (1, 2, anchors * 4))
        return [LOC, CONF, PRIORS]
    return [emit_detection_output(ctx, head, LOC, CONF, PRIORS, pb.PriorBoxParameter.CENTER_SIZE)]


def _constant_priors(ctx: EmitContext, head: SSDHead, input_name: str) -> None:
    """The network's own anchors as a constant (1, 2, 4N) blob: priors then variances, like PriorBox's output."""
    priors = head.corner_anchors().astype(np.float32).reshape(-1)
    variances = np.tile(np.asarray(head.stds, dtype=np.float32), head.num_anchors)
    emit_constant_blob(ctx, PRIORS, np.concatenate([priors, variances]), input_name)


def ssd_aliases(head: SSDHead) -> dict[str, str]:
    """Caffe blobs that renamed an MXNet tensor (blob -> tensor), for the layer-local check."""
    return {LOC: head.tensors["loc_flat"]} if head.tensors.get("loc_flat") else {}
