"""SSD's anchors and detection step as caffe-ssd layers: PriorBox (or the anchors as a constant) + DetectionOutput.

Not an op converter: GluonCV's box decoding and NMS are read from the network (detectors/ssd/read.py) and written as the
layers caffe-ssd defines for exactly that job.

Anchors. caffe-ssd's PriorBox computes center +- size/2 over (image w, h) per cell, in the order: min-size square,
sqrt(min*max) square, then min*sqrt(r) x min/sqrt(r) per extra aspect ratio -- GluonCV's order. But runtimes differ
on fractional sizes (GluonCV's 512 models use 51.2, 102.4, ...), measured here:
  - caffe-ssd (and brocolli-caffe): `int min_size_ = min_sizes_[s]` in Forward, so 51.2 becomes 51 (and the
    sqrt(min*max) square uses the truncated values too);
  - OpenCV DNN: float sizes, i.e. GluonCV's anchors.
So anchors='exact' (default) writes PriorBox layers only when they reproduce the network's anchors under both
semantics, and otherwise the anchors themselves as a constant blob (a zero-weight InnerProduct whose bias holds them:
every runtime has InnerProduct; the Parameter layer would be simpler but OpenCV cannot load it).
anchors='priorbox' always writes PriorBox (portable, the usual caffe-ssd prototxt) and warns with the largest anchor
deviation when it is not exact; anchors='constant' always writes the constant.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import numpy as np

from ...caffe import caffe_pb2 as pb
from ...converters.context import EmitContext
from ...errors import InvalidCallError, Option
from ..common import DETECTIONS, emit_constant_blob, emit_detection_output  # noqa: F401  (DETECTIONS: the output)
from .read import SSDHead


log = logging.getLogger(__name__)

ANCHOR_MODES = ("exact", "priorbox", "constant")
EXACT_PX = 1e-3  # anchors closer than this (in input pixels) to the network's count as exact (float32 rounding)

LOC, CONF, PRIORS = "mbox_loc", "mbox_conf_flatten", "mbox_priorbox"


@dataclass
class PriorBoxParams:
    min_size: float
    max_size: float | None
    aspect_ratios: list[float]
    step_h: float
    step_w: float
    offset: float


@dataclass
class AnchorReport:
    """How the anchors were written, and how far PriorBox layers would be from the network's anchors (pixels)."""

    mode: str  # 'priorbox' | 'constant' (what was written)
    requested: str
    priorbox_deviation_caffe_ssd: float  # with caffe-ssd's integer sizes
    priorbox_deviation_float: float  # with float sizes (OpenCV)
    layers: list[PriorBoxParams] = field(default_factory=list)

    @property
    def exact(self) -> bool:
        return self.mode == "constant" or self.priorbox_deviation_caffe_ssd <= EXACT_PX

    def describe(self) -> str:
        if math.isinf(self.priorbox_deviation_caffe_ssd):
            return "anchors: constant blob (exact; PriorBox cannot express these anchors at all)"
        if self.mode == "constant":
            why = "requested" if self.requested == "constant" else "PriorBox cannot reproduce them"
            return (
                f"anchors: constant blob (exact; {why}: PriorBox would deviate by up to "
                f"{self.priorbox_deviation_caffe_ssd:.3g} px in caffe-ssd, {self.priorbox_deviation_float:.3g} px "
                "in OpenCV)"
            )
        if self.priorbox_deviation_caffe_ssd <= EXACT_PX and self.priorbox_deviation_float <= EXACT_PX:
            return "anchors: PriorBox layers (exact in caffe-ssd and OpenCV)"
        return (
            f"anchors: PriorBox layers, NOT exact: up to {self.priorbox_deviation_caffe_ssd:.3g} px off in caffe-ssd "
            f"(integer sizes), {self.priorbox_deviation_float:.3g} px in OpenCV (float sizes)"
        )


def fit_priorbox(anchors: np.ndarray) -> PriorBoxParams:
    """The PriorBox parameters closest to one feature map's anchors (H, W, D, 4) in (cx, cy, w, h) pixels."""
    a = anchors.astype(np.float64)
    h, w, depth, _ = a.shape
    cx0, cy0 = a[0, 0, 0, 0], a[0, 0, 0, 1]
    step_w = a[0, 1, 0, 0] - cx0 if w > 1 else None
    step_h = a[1, 0, 0, 1] - cy0 if h > 1 else None
    step_w = step_w or step_h or 2 * cx0  # a 1x1 map: assume the usual offset 0.5
    step_h = step_h or step_w
    offset = _nice(cx0 / step_w)
    sizes = a[0, 0, :, 2:]
    min_size = _nice(math.sqrt(sizes[0, 0] * sizes[0, 1]))
    max_size, first_ratio = None, 1
    if depth > 1 and abs(sizes[1, 0] - sizes[1, 1]) < 1e-3 and sizes[1, 0] > min_size:
        max_size, first_ratio = _nice(sizes[1, 0] ** 2 / min_size), 2
    ratios = [_nice(wd / ht) for wd, ht in sizes[first_ratio:]]
    return PriorBoxParams(min_size, max_size, ratios, _nice(step_h), _nice(step_w), offset)


def priorbox_output(p: PriorBoxParams, fh: int, fw: int, image: tuple[int, int], integer_sizes: bool) -> np.ndarray:
    """What a PriorBox layer computes, (fh*fw*D, 4) normalized corners, with caffe-ssd's integer or float sizes.

    Like caffe-ssd, aspect ratios within 1e-6 of one already listed (1 included) are dropped.
    """
    img_h, img_w = image
    size = float(int(p.min_size)) if integer_sizes else float(np.float32(p.min_size))
    boxes = [(size, size)]
    if p.max_size is not None:
        big = float(int(p.max_size)) if integer_sizes else float(np.float32(p.max_size))
        boxes.append((math.sqrt(size * big),) * 2)
    seen = [1.0]
    for r in p.aspect_ratios:
        r = float(np.float32(r))
        if any(abs(r - s) < 1e-6 for s in seen):
            continue
        seen.append(r)
        boxes.append((size * math.sqrt(r), size / math.sqrt(r)))
    bw = np.array([b[0] for b in boxes])
    bh = np.array([b[1] for b in boxes])
    cy, cx = np.meshgrid(
        (np.arange(fh) + p.offset) * np.float32(p.step_h),
        (np.arange(fw) + p.offset) * np.float32(p.step_w),
        indexing="ij",
    )
    cx, cy = cx[:, :, None], cy[:, :, None]
    out = np.stack([(cx - bw / 2) / img_w, (cy - bh / 2) / img_h, (cx + bw / 2) / img_w, (cy + bh / 2) / img_h], -1)
    return out.reshape(-1, 4)


def plan_anchors(head: SSDHead, requested: str) -> AnchorReport:
    if requested not in ANCHOR_MODES:
        raise InvalidCallError(f"anchors={requested!r}; expected one of {ANCHOR_MODES}")
    fits = [fit_priorbox(a) for a in head.anchors]
    target = head.corner_anchors()
    scale = np.array([head.image_size[1], head.image_size[0]] * 2, dtype=np.float64)
    deviation = {}
    for integer in (True, False):
        got = []
        for p, a in zip(fits, head.anchors):
            out = priorbox_output(p, a.shape[0], a.shape[1], head.image_size, integer)
            got.append(out if out.shape[0] == a.shape[0] * a.shape[1] * a.shape[2] else None)
        if any(g is None for g in got):  # PriorBox would not even make the same number of anchors
            deviation[integer] = math.inf
        else:
            deviation[integer] = float(np.abs((np.concatenate(got) - target) * scale).max())
    exact_everywhere = max(deviation.values()) <= EXACT_PX
    if requested == "priorbox" and math.isinf(deviation[True]):
        asked, exact = Option("anchors", "priorbox"), Option("anchors", "exact")
        raise InvalidCallError(
            f"{asked}: PriorBox cannot express this network's anchors (not min square, sqrt(min*max) "
            f"square, then ratios of the min size, as in SSDAnchorGenerator); use {exact}"
        ).naming(asked, exact)
    if requested == "constant" or (requested == "exact" and not exact_everywhere):
        mode = "constant"
    else:
        mode = "priorbox"
    report = AnchorReport(mode, requested, deviation[True], deviation[False], fits)
    if mode == "priorbox" and not exact_everywhere:
        exact = Option("anchors", "exact")
        log.warning("%s; use %s for the network's own anchors", report.describe(), exact, extra={"options": (exact,)})
    else:
        log.info("%s", report.describe())
    return report


def emit_ssd_head(
    ctx: EmitContext, head: SSDHead, features: list[str], input_name: str, report: AnchorReport, nms: bool
) -> list[str]:
    """Append the prior and detection layers; returns the net's outputs."""
    if report.mode == "priorbox":
        tops = []
        for feat, p in zip(features, report.layers):
            name = ctx.unique(f"{ctx.blob(feat)}_priorbox")
            proto = ctx.layer(name, "PriorBox", [feat, input_name], [name])
            _priorbox_param(proto.prior_box_param, p, head.stds)
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


def _priorbox_param(param: pb.PriorBoxParameter, p: PriorBoxParams, stds: tuple[float, ...]) -> None:
    param.min_size.append(p.min_size)
    if p.max_size is not None:
        param.max_size.append(p.max_size)
    param.aspect_ratio.extend(p.aspect_ratios)
    param.flip = False  # GluonCV lists every ratio itself
    param.clip = False  # written explicitly: the default differs between forks (caffe-ssd false, brocolli true)
    param.variance.extend(stds)
    if p.step_h == p.step_w:
        param.step = p.step_w  # always written: Caffe's default (image / map size) is not GluonCV's step
    else:
        param.step_h, param.step_w = p.step_h, p.step_w
    param.offset = p.offset


def _constant_priors(ctx: EmitContext, head: SSDHead, input_name: str) -> None:
    """The network's own anchors as a constant (1, 2, 4N) blob: priors then variances, like PriorBox's output."""
    priors = head.corner_anchors().astype(np.float32).reshape(-1)
    variances = np.tile(np.asarray(head.stds, dtype=np.float32), head.num_anchors)
    emit_constant_blob(ctx, PRIORS, np.concatenate([priors, variances]), input_name)


def _nice(value: float) -> float:
    """Undo float32 noise in a recovered size/ratio/step: 102.40001 -> 102.4 (only when that close)."""
    value = float(value)
    rounded = round(value, 4)
    return rounded if abs(rounded - value) <= 1e-5 * max(1.0, abs(value)) else value


def ssd_aliases(head: SSDHead) -> dict[str, str]:
    """Caffe blobs that renamed an MXNet tensor (blob -> tensor), for the layer-local check."""
    return {LOC: head.tensors["loc_flat"]} if head.tensors.get("loc_flat") else {}
