"""The approximate verdicts: a conversion that is knowingly not exact, judged within bounds measured for it, never
counted as exact. `relu6_verdict`: clip(0, 6) written as one ReLU (--relu6 relu); `priorbox_verdict`: an SSD's
anchors written as PriorBox layers that cannot reproduce them (--anchors priorbox)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .compare import BY_LAYER, EXACT, NOT_CONCLUSIVE
from .precision import WITHIN_FP16

if TYPE_CHECKING:  # annotations only: the detector check builds on this module
    from .detectors import DetectorCheck
    from .verify import VerificationResult

PASSING = (EXACT, BY_LAYER, WITHIN_FP16)  # the verdicts that pass (within fp16: a float16 runtime's, rknn)


def relu6_verdict(v: VerificationResult, asked: bool = False) -> str | None:
    """`approximate (--relu6 relu): ...` when the only deviations are clip(0, 6) segments the files write as one
    ReLU (which only --relu6 relu writes), with every other segment exact; else None (a mismatch stays one).

    Without the layer-local check (OpenCV) the deviation cannot be placed: only a conversion that `asked` for it
    (convert --relu6 relu --verify) reports it, saying it is not placed. A comparison that proves nothing (not
    conclusive) is never an approximation."""
    if v.status in PASSING or v.status == NOT_CONCLUSIVE or v.shape_differences or not v.outputs:
        return None
    if not all(c.reference_finite for c in v.outputs.values()):
        return None
    deviation = max(c.relative for c in v.outputs.values())
    if v.local is None:
        if not asked:
            return None
        return f"approximate (--relu6 relu): output off by {deviation:.3g} relative, not placed layer by layer"
    bad = [s for s in v.local.segments if not s.ok]
    if not bad or not all(s.op == "clip" and list(s.types) == ["ReLU"] for s in bad):
        return None
    return (
        f"approximate (--relu6 relu): output off by {deviation:.3g} relative; the {len(bad)} segment(s) beyond "
        "the tolerance are all clip(0, 6) written as ReLU, every other segment is exact"
    )


# `--anchors priorbox` on an SSD whose anchors PriorBox cannot reproduce (caffe-ssd casts fractional sizes to int):
# the boxes move, the scores do not. Its verdict is "approximate" within these bounds (scripts/measure_priorbox.py
# on 6 of the 512x512 zoo SSDs, 2-3 scenes each: corners within 0.76 px, >= 97% of GluonCV's detections found).
PRIORBOX_PRIORS_PX = 0.5  # an int cast of a size moves each corner of an anchor by at most half a pixel
PRIORBOX_SHIFT_PX = 1.0  # a found detection's corners within this of GluonCV's box (pixels of the input)
PRIORBOX_FOUND = 0.95  # at least this share of GluonCV's detections found; moved boxes flip NMS / top-k near the cut


def priorbox_verdict(check: DetectorCheck) -> str | None:
    """`approximate (...)` for an SSD whose files write PriorBox anchors that are not GluonCV's, when only what the
    anchors feed moved and within the PRIORBOX_* bounds: loc, conf and every checked layer exact, priors within
    PRIORBOX_PRIORS_PX, at least PRIORBOX_FOUND of GluonCV's detections found with corners within PRIORBOX_SHIFT_PX.
    None when it does not apply or a bound is exceeded (the check's own status then stands)."""
    priors = check.pre_nms.get("priors (px)")
    if priors is None or priors.within or not all(c.reference_finite for c in check.pre_nms.values()):
        return None
    if not check.conclusive or check.shape_differences:  # a comparison that proves nothing approximates nothing
        return None
    others = [c for name, c in check.pre_nms.items() if name not in ("priors (px)", "decoded (px)")]
    if not all(c.within for c in others) or (check.local is not None and not check.local.ok):
        return None
    if priors.max_abs > PRIORBOX_PRIORS_PX:
        return None
    moved = check.moved
    decoded = check.pre_nms.get("decoded (px)")
    found = ""
    if moved is not None:
        if moved.matched < PRIORBOX_FOUND * moved.gluoncv:
            return None
        found = f"; {moved.matched}/{moved.gluoncv} detections found, corners within {moved.max_shift_px:.2g} px"
    return (
        f"approximate (--anchors priorbox): priors off by {priors.max_abs:.2g} px"
        + (f", decoded boxes by {decoded.max_abs:.2g} px" if decoded is not None else "")
        + found
        + f" (tolerance: priors {PRIORBOX_PRIORS_PX:g} px, detections >= {PRIORBOX_FOUND:.0%} found within "
        f"{PRIORBOX_SHIFT_PX:g} px, same label and score); loc, conf and every layer exact"
    )
