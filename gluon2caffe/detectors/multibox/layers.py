"""MultiBoxDetection as caffe-ssd layers: its anchors, its box decoding and its NMS, each equal to MXNet's.

MXNet 1.9.1's MultiBoxDetection (src/operator/contrib/multibox_detection.cc), and how each step is written:
  - one class per anchor: the best foreground class (the first of equal ones), kept when its score >= threshold.
    DetectionOutput instead takes every class scoring > confidence_threshold, so when two classes can pass
    (threshold < 0.5) the other foreground scores are zeroed first: the best score per anchor is a max pooling over
    the class axis (kernel and stride C), repeated over the classes (an all-ones Deconvolution), d = max - p, and
    keep = ReLU(1 - 2^126 d), 1 exactly where p is the max and 0 elsewhere: a nonzero d is at least 2^-124 when the
    best score passes a threshold >= 2^-100 (ulp arithmetic), so 2^126 d >= 4. Every runtime has these layers
    (OpenCV has no Threshold); a threshold below 2^-100 uses 1 - Threshold(d) instead, as CenterNet's peak mask.
    confidence_threshold is the float32 just below `threshold`, so `score > it` is MXNet's `score >= threshold`.
  - decoding: center = loc * variance * anchor size + anchor center, half size = exp(loc * variance) * anchor size / 2,
    corners center -/+ half size, clipped to [0, 1] when `clip` (MXNet's default). Without clip this is
    DetectionOutput's CENTER_SIZE decoding over the anchors (PriorBox layers where they reproduce MultiBoxPrior's
    anchors exactly, else the anchors as a constant: detectors/priorbox.py decides). With clip the boxes must be
    clipped before NMS, which DetectionOutput cannot do: the decoding is written in layers, each the same float32
    operation in MXNet's order (Eltwise products and sums with per-anchor constants, Exp, Power; clip as
    ReLU(x - ReLU(x - 1)), exact): `mbox_loc_corners`. DetectionOutput gets these corners as its priors (it reads
    the priors blob at every forward) with zero box predictions, which CENTER_SIZE decodes to the priors themselves
    (center +- size / 2 of the corners: float32 rounding). CORNER code would do without, but ncnn's and MNN's
    DetectionOutput have no other code type. Priors are shared by a batch, so a batch > 1 gets (center, log size)
    over priors of size 1 at 0 instead (exp(log w): float32 rounding), which needs a Log layer (MNN has none).
  - NMS within each class (force_suppress=False; True is refused unless there is one class), suppressing
    IoU >= nms_threshold (nms_threshold is the float32 just below: Caffe suppresses overlap > it), skipped when
    nms_threshold is not in (0, 1]; nms_topk candidates before NMS (MXNet over all classes, Caffe per class: the
    same detections while at most nms_topk anchors pass the threshold, else Caffe may return more, each scoring no
    higher than MXNet's last candidate, as for GluonCV's SSD).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...caffe import caffe_pb2 as pb
from ...converters.context import EmitContext
from ...converters.elemwise import expand_axes
from ...errors import InvalidCallError, Option
from ..common import DETECTIONS, emit_constant_blob, emit_detection_output
from ..priorbox import AnchorReport, plan_priorboxes, priorbox_param
from .read import MultiBoxHead

LOC, CONF, PRIORS = "mbox_loc", "mbox_conf_flatten", "mbox_priorbox"
TINY_THRESHOLD = 2.0**-100  # from this threshold up, the best-class mask needs no Threshold layer
BEST = "mbox_conf_best"  # the class scores with every foreground score but the anchor's best zeroed
CORNERS = "mbox_loc_corners"  # MXNet's decoded (and clipped) corners (clip=True)
DECODED = "mbox_loc_decoded"  # DetectionOutput's box input (clip=True)
BOXES = "mbox_boxes"  # without NMS (clip=True): the corners flattened, (B, N * 4)


@dataclass
class MultiBoxReport:
    """How the anchors and the decoding were written."""

    mode: str  # 'priorbox' | 'constant' | 'decoded' (clip: the decoding in layers, anchors as constants)
    anchors: AnchorReport | None  # the PriorBox decision (no clip)
    masked: bool  # the other foreground scores zeroed (threshold < 0.5)

    def describe(self) -> str:
        if self.mode == "decoded":
            text = "boxes decoded and clipped in layers (MultiBoxDetection clip=True), anchors as constants (exact)"
        else:
            text = self.anchors.describe() if self.anchors is not None else self.mode
        if self.masked:
            text += "; one class per anchor (the best foreground score; the others zeroed)"
        return text


def plan_multibox(head: MultiBoxHead, requested: str) -> MultiBoxReport:
    masked = head.num_classes > 1 and head.threshold < 0.5
    if head.clip:
        if requested == "priorbox":
            asked = Option("anchors", "priorbox")
            raise InvalidCallError(
                f"{asked}: this MultiBoxDetection clips its boxes (clip=True), so the decoding is written in layers "
                "with the anchors as constants; PriorBox layers cannot feed it"
            ).naming(asked)
        return MultiBoxReport("decoded", None, masked)
    clips = {p.clip for p in head.priors}
    if len(clips) > 1 and requested != "constant":  # PriorBox clips every map or none: one constant for all
        requested = "constant" if requested == "exact" else requested
        if requested == "priorbox":
            asked = Option("anchors", "priorbox")
            raise InvalidCallError(f"{asked}: some MultiBoxPriors clip and others do not").naming(asked)
    report = plan_priorboxes(
        head.center_anchors_px(), head.image_size, head.corner_anchors(), requested, clip=clips == {True}
    )
    return MultiBoxReport(report.mode, report, masked)


def emit_multibox_head(
    ctx: EmitContext, head: MultiBoxHead, features: list[str], input_name: str, report: MultiBoxReport, nms: bool
) -> list[str]:
    """Append the prior, decoding and detection layers; returns the net's outputs."""
    conf = _best_class(ctx, head) if report.masked else CONF
    if report.mode == "decoded":
        loc = _decode(ctx, head, input_name, nms)
        if not nms:
            return [loc, conf]
    else:
        loc = LOC
        if report.mode == "priorbox":
            _priorboxes(ctx, head, features, input_name, report.anchors)
        else:
            priors = head.corner_anchors().astype(np.float32).reshape(-1)
            variances = np.tile(np.asarray(head.variances, np.float32), head.num_anchors)
            emit_constant_blob(ctx, PRIORS, np.concatenate([priors, variances]), input_name)
    if not nms:
        return [loc, conf, PRIORS]
    emit_detection_output(ctx, head, loc, conf, PRIORS, pb.PriorBoxParameter.CENTER_SIZE)
    _set_nms(ctx.layers[-1].proto.detection_output_param, head)
    return [DETECTIONS]


def _priorboxes(
    ctx: EmitContext, head: MultiBoxHead, features: list[str], input_name: str, report: AnchorReport
) -> None:
    tops = []
    clip = all(p.clip for p in head.priors)
    for feat, p in zip(features, report.layers):
        name = ctx.unique(f"{ctx.blob(feat)}_priorbox")
        proto = ctx.layer(name, "PriorBox", [feat, input_name], [name])
        priorbox_param(proto.prior_box_param, p, head.variances, clip)
        tops.append(name)
    proto = ctx.layer(PRIORS, "Concat", tops, [PRIORS])
    proto.concat_param.axis = 2


def _set_nms(d: pb.DetectionOutputParameter, head: MultiBoxHead) -> None:
    """MultiBoxDetection's threshold and NMS (module docstring); explicit top-k values (every runtime reads them)."""
    n, below = head.num_anchors, np.float32(-np.inf)
    d.confidence_threshold = head.score_thresh
    if 0 < head.nms_thresh <= 1:
        d.nms_param.nms_threshold = float(np.nextafter(np.float32(head.nms_thresh), below))
        d.nms_param.top_k = min(head.nms_topk, n) if head.nms_topk > 0 else n
    else:  # MXNet skips NMS and its top-k
        d.nms_param.nms_threshold = 1.0
        d.nms_param.top_k = n
    # MultiBoxDetection keeps every box NMS leaves, at most one per anchor (-1 would say so; OpenCV 4.11 crashed on it)
    d.keep_top_k = n


def _power(ctx: EmitContext, name: str, bottom: str, scale: float = 1.0, shift: float = 0.0) -> str:
    p = ctx.layer(name, "Power", [bottom], [name]).power_param
    p.power, p.scale, p.shift = 1.0, scale, shift
    return name


def _eltwise(ctx: EmitContext, name: str, a: str, b: str, op: int) -> str:
    ctx.layer(name, "Eltwise", [a, b], [name]).eltwise_param.operation = op
    return name


def _best_class(ctx: EmitContext, head: MultiBoxHead) -> str:
    """`mbox_conf_flatten` with every foreground score but each anchor's best set to 0 (module docstring)."""
    n, c = head.num_anchors, head.num_classes

    def name(tag: str) -> str:
        return ctx.unique(f"{BEST}_{tag}")

    rows = name("rows")
    ctx.layer(rows, "Reshape", [CONF], [rows]).reshape_param.shape.dim.extend([0, 1, n, c + 1])
    background, foreground = name("background"), name("foreground")
    split = ctx.layer(name("split"), "Slice", [rows], [background, foreground])
    split.slice_param.axis = 3
    split.slice_param.slice_point.append(1)
    row_max = name("row_max")
    pool = ctx.layer(row_max, "Pooling", [foreground], [row_max]).pooling_param
    pool.pool = pb.PoolingParameter.MAX
    pool.kernel_h, pool.kernel_w, pool.stride_h, pool.stride_w = 1, c, 1, c
    batch = ctx.shape(CONF)[0]
    ctx.set_shape(row_max, (batch, 1, n, 1))
    best = expand_axes(ctx, name("max"), row_max, (batch, 1, n, c))  # each row's max repeated over its classes
    diff = name("diff")
    eltwise = ctx.layer(diff, "Eltwise", [best, foreground], [diff]).eltwise_param
    eltwise.operation = pb.EltwiseParameter.SUM
    eltwise.coeff.extend([1.0, -1.0])
    below = name("below")
    if head.threshold >= TINY_THRESHOLD:  # ReLU(1 - 2^126 d) (module docstring)
        _power(ctx, below, diff, -(2.0**126), 1.0)
        keep = name("keep")
        ctx.layer(keep, "ReLU", [below], [keep])
    else:
        ctx.layer(below, "Threshold", [diff], [below])  # threshold_param's default: 0 (1 where max - p > 0)
        keep = _power(ctx, name("keep"), below, -1.0, 1.0)
    kept = _eltwise(ctx, name("kept"), keep, foreground, pb.EltwiseParameter.PROD)
    joined = name("rows_best")
    ctx.layer(joined, "Concat", [background, kept], [joined]).concat_param.axis = 3
    ctx.layer(BEST, "Flatten", [joined], [BEST])
    for blob in (foreground, diff, below, keep, kept):
        ctx.set_shape(blob, (batch, 1, n, c))
    ctx.set_shape(background, (batch, 1, n, 1))
    ctx.set_shape(rows, (batch, 1, n, c + 1))
    ctx.set_shape(joined, (batch, 1, n, c + 1))
    ctx.set_shape(BEST, (batch, n * (c + 1)))
    return BEST


def _decode(ctx: EmitContext, head: MultiBoxHead, input_name: str, nms: bool) -> str:
    """MultiBoxDetection's TransformLocations with clip in layers (module docstring): `mbox_loc_corners`, then
    DetectionOutput's input `mbox_loc_decoded` (its priors `mbox_priorbox`), or without NMS the corners flattened,
    `mbox_boxes`."""
    n = head.num_anchors
    f32 = np.float32
    a = head.corner_anchors().astype(f32)  # as MXNet reads them: al, at, ar, ab
    size = np.stack([a[:, 2] - a[:, 0], a[:, 3] - a[:, 1]], 1)  # aw = ar - al, ah = ab - at
    center = np.stack([(a[:, 0] + a[:, 2]) / f32(2), (a[:, 1] + a[:, 3]) / f32(2)], 1)
    v = np.asarray(head.variances, f32)

    def name(tag: str) -> str:
        return ctx.unique(f"{DECODED}_{tag}")

    def constant(tag: str, value: np.ndarray) -> str:
        blob = name(tag)
        emit_constant_blob(ctx, blob, np.ascontiguousarray(value, f32), input_name, (n, 1, 2))
        return blob

    cells = name("cells")
    ctx.layer(cells, "Reshape", [LOC], [cells]).reshape_param.shape.dim.extend([0, n, 2, 2])
    raw_centers, raw_sizes = name("raw_centers"), name("raw_sizes")
    split = ctx.layer(name("split"), "Slice", [cells], [raw_centers, raw_sizes])
    split.slice_param.axis = 2
    split.slice_param.slice_point.append(1)
    prod, add = pb.EltwiseParameter.PROD, pb.EltwiseParameter.SUM
    anchor_size = constant("anchor_size", size[:, None, :])
    scaled = _eltwise(ctx, name("center_var"), raw_centers, constant("var_center", np.tile(v[:2], (n, 1, 1))), prod)
    moved = _eltwise(ctx, name("center_size"), scaled, anchor_size, prod)
    centers = _eltwise(ctx, name("centers"), moved, constant("anchor_center", center[:, None, :]), add)
    logits = _eltwise(ctx, name("size_var"), raw_sizes, constant("var_size", np.tile(v[2:], (n, 1, 1))), prod)
    grown = name("size_exp")
    ctx.layer(grown, "Exp", [logits], [grown])
    sizes = _eltwise(ctx, name("sizes"), grown, anchor_size, prod)
    low = _eltwise(ctx, name("min"), centers, _power(ctx, name("minus_half"), sizes, -0.5), add)
    high = _eltwise(ctx, name("max"), centers, _power(ctx, name("half"), sizes, 0.5), add)
    corners = name("corners")
    ctx.layer(corners, "Concat", [low, high], [corners]).concat_param.axis = 2
    clipped = CORNERS  # max(0, min(1, x)) = ReLU(x - ReLU(x - 1)), every step exact
    over = name("over")
    ctx.layer(over, "ReLU", [_power(ctx, name("minus_one"), corners, 1.0, -1.0)], [over])
    capped = _eltwise(ctx, name("capped"), corners, _power(ctx, name("minus_over"), over, -1.0), add)
    ctx.layer(clipped, "ReLU", [capped], [clipped])
    if not nms:  # the boxes themselves, (B, N * 4) normalized corners
        ctx.layer(BOXES, "Flatten", [clipped], [BOXES])
        return BOXES
    if ctx.shape(LOC)[0] == 1:  # the corners as DetectionOutput's priors, zero box predictions
        n = head.num_anchors
        flat = name("as_priors")
        ctx.layer(flat, "Reshape", [clipped], [flat]).reshape_param.shape.dim.extend([0, 1, 4 * n])
        variances = name("variances")
        emit_constant_blob(ctx, variances, np.ones(4 * n, np.float32), input_name, (1, 4 * n))
        ctx.layer(PRIORS, "Concat", [flat, variances], [PRIORS]).concat_param.axis = 1
        return _power(ctx, DECODED, LOC, 0.0)  # Power with scale 0: zeros whatever the input
    # A batch: priors are shared by the batch's images, so (center, log size) over priors of size 1 at 0
    low, high = name("low"), name("high")
    split = ctx.layer(name("corner_split"), "Slice", [clipped], [low, high])
    split.slice_param.axis = 2
    split.slice_param.slice_point.append(1)
    size = _eltwise(ctx, name("size"), high, _power(ctx, name("minus_low"), low, -1.0), add)
    center = _power(ctx, name("center"), _eltwise(ctx, name("corner_sum"), low, high, add), 0.5)
    log_size = name("log_size")
    ctx.layer(log_size, "Log", [size], [log_size])
    encoded = name("encoded")
    ctx.layer(encoded, "Concat", [center, log_size], [encoded]).concat_param.axis = 2
    ctx.layer(DECODED, "Flatten", [encoded], [DECODED])
    priors = np.tile(np.array([-0.5, -0.5, 0.5, 0.5], np.float32), n)
    emit_constant_blob(ctx, PRIORS, np.concatenate([priors, np.ones(4 * n, np.float32)]), input_name)
    return DECODED


def multibox_aliases(head: MultiBoxHead) -> dict[str, str]:
    """Caffe blobs that renamed an MXNet tensor (blob -> tensor), for the layer-local check."""
    return {LOC: head.tensors["loc"]} if head.loc_renamed else {}


def describe_head(head: MultiBoxHead, nms: bool) -> str:
    if not nms:
        return f"MultiBox SSD: {head.num_classes} classes, {head.num_anchors} boxes; no DetectionOutput (--no-nms)"
    nms_text = (
        f"nms {head.nms_thresh:g} (iou >= suppresses), top_k {head.nms_topk if head.nms_topk > 0 else 'all'}"
        if 0 < head.nms_thresh <= 1
        else "no NMS"
    )
    if 0 < head.nms_thresh <= 1 and 0 < head.nms_topk < head.num_anchors:
        nms_text += " per class (MXNet's is over all classes)"
    return (
        f"MultiBox SSD: {head.num_classes} classes (Caffe label = MXNet class id + 1), {head.num_anchors} boxes; "
        f"DetectionOutput {nms_text}, score >= {head.threshold:g}, variances {tuple(head.variances)}, "
        f"clip {head.clip}"
    )
