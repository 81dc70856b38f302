"""What every detector check shares (the family's own check is detectors/<family>/check.py): the run a check is
given (`DetectorRun`), its result (`DetectorCheck`), MXNet's values of graph tensors, running the files with their
intermediate blobs, detection matching, the float64 reference, and `finish_check`, which turns a family's pre-NMS
tensors into a verdict (layer-local check, input dependence, detections, float64 errors). Nothing here imports
`detectors/`: a family plugs in by calling these with its head (the `DetectionHead` protocol).

Detections: every GluonCV detection must appear in Caffe's output (same label, score and box within the tolerance);
Caffe may return more only when GluonCV returned fewer than keep_top_k, and then only rows scoring no higher than
GluonCV's last NMS candidate (Caffe's top_k is per class, GluonCV's global: see detectors/ssd/layers.py). Rows whose
scores tie within the tolerance at the cut-off may be swapped for each other; they are counted, not hidden.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from typing import Callable, Mapping, Protocol

import numpy as np

from ..caffe.io import read_prototxt
from .caffe_net import input_spec, net_outputs
from .compare import (
    DEPENDENCE,
    EXACT,
    MISMATCH,
    TOLERANCE,
    Comparison,
    Dependence,
    ShapeDifference,
    compare,
    describe_shape_differences,
    input_dependence,
    judge,
)
from ..ir.preprocess import Preprocess
from .inputs import bgr_feed, perturbed_input
from .local import LocalResult, check_local
from .mxnet_reference import MXNetReference
from .runtimes import forward
from .verdicts import (  # noqa: F401  (re-exported: the SSD's approximate verdict)
    PRIORBOX_FOUND,
    PRIORBOX_PRIORS_PX,
    PRIORBOX_SHIFT_PX,
    priorbox_verdict,
)

log = logging.getLogger(__name__)

SCORE_TOL = 1e-4
BOX_TOL = 1e-4  # of the image size (normalized coordinates)
DETECTIONS = "detection_out"  # caffe-ssd's DetectionOutput top, as every family writes it (detectors/common.py)


class DetectionHead(Protocol):
    """What the generic pieces read from a family's head (SSDHead, YOLOHead, CenterNetHead)."""

    num_classes: int
    image_size: tuple[int, int]  # (H, W) of the converted input


class NMSHead(DetectionHead, Protocol):
    """A head whose detections go through DetectionOutput with GluonCV's NMS settings (SSD, YOLOv3)."""

    score_thresh: float
    nms_thresh: float
    nms_topk: int
    post_nms: int


@dataclass(frozen=True)
class DetectorRun:
    """One detector check: the network (a live GluonCV net or an ExportedModel), the head its conversion read, the
    converted files, the input, and how to run them."""

    net: object
    head: DetectionHead
    files: tuple[str, str]  # (prototxt, caffemodel)
    x: np.ndarray  # RGB NCHW, as GluonCV takes it
    runtime: str = "caffe"
    to_bgr: bool = True  # the conversion swapped the input to BGR: Caffe is fed x in BGR
    x2: np.ndarray | None = None  # the input-dependence check's second input (None: x mirrored, with noise)
    input_name: str | None = None  # the Caffe input blob (the conversion's input_name); None: the net's one Input
    preprocess: Preprocess | None = None  # the files normalize their input themselves: Caffe is fed raw pixels

    @property
    def prototxt(self) -> str:
        return self.files[0]

    @property
    def caffemodel(self) -> str:
        return self.files[1]

    @property
    def caffe_input(self) -> str:
        return self.input_name or input_spec(read_prototxt(self.prototxt))[0]

    @property
    def x_caffe(self) -> np.ndarray:
        return bgr_feed({"x": self.x}, self.to_bgr, self.preprocess)["x"]

    def reference(self) -> MXNetReference:
        """The whole network in MXNet, its input named as the Caffe input (the layer-local check matches blobs by
        name): one per check, shared by every reference value the check takes."""
        return MXNetReference(self.net, tuple(self.x.shape), self.caffe_input)

    def second(self) -> tuple[np.ndarray, str]:
        """(the second input, how it was made)."""
        return (self.x2, "the second input given") if self.x2 is not None else perturbed_input(self.x)


@dataclass
class DetectionMatch:
    gluoncv: int  # detections GluonCV returned
    caffe: int  # rows Caffe returned (without the -1 row of an empty result)
    matched: int
    tie_swaps: int = 0
    max_score_diff: float = 0.0
    max_box_diff: float = 0.0  # normalized
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def __str__(self) -> str:
        text = (
            f"{self.matched}/{self.gluoncv} GluonCV detections found among {self.caffe} Caffe rows "
            f"(score diff {self.max_score_diff:.2g}, box diff {self.max_box_diff:.2g} of the image size"
            + (f", {self.tie_swaps} tied rows swapped" if self.tie_swaps else "")
            + ")"
        )
        return text if self.ok else text + "; " + "; ".join(self.problems[:3])


@dataclass
class DetectorCheck:
    """A detector checked against GluonCV (check_ssd, check_yolo, check_centernet)."""

    runtime: str
    pre_nms: dict[str, Comparison]  # SSD: loc, conf, priors (px), decoded (px); YOLOv3: boxes, scores (relative)
    detections: DetectionMatch | None
    # The smallest relative change of the network's pre-NMS outputs (SSD loc and conf; YOLOv3 boxes and scores;
    # CenterNet heatmap, sizes, offsets) for a second input: DEPENDENCE * TOLERANCE or more, or nothing is proven.
    sensitivity: float
    # When the pre-NMS error exceeds the tolerance: (Caffe, MXNet float32) relative errors against MXNet in float64,
    # which say how much the network amplifies float32 rounding (information; the verdict does not use them).
    float64: tuple[float, float] | None = None
    local: LocalResult | None = None  # the layer-local result of the prediction part (pycaffe), None elsewhere
    moved: MovedBoxesMatch | None = None  # the detections matched allowing moved boxes (the --anchors priorbox verdict)
    dependence: Dependence | None = None  # the input-dependence check of those outputs (verification.input_dependence)
    shape_differences: list[ShapeDifference] = field(default_factory=list)  # other files: nothing compared

    @property
    def max_pre_nms(self) -> float:
        return max((c.relative for c in self.pre_nms.values()), default=float("nan"))

    @property
    def conclusive(self) -> bool:
        """The pre-NMS outputs move with the input and none is constant (verification.input_dependence)."""
        if self.dependence is not None:
            return self.dependence.ok
        return self.sensitivity >= DEPENDENCE * TOLERANCE

    @property
    def status(self) -> str:
        """exact | exact by layer | mismatch | not conclusive | not comparable (verification.judge); different
        detections, or files whose blobs have other shapes, are a mismatch."""
        if self.shape_differences:
            return MISMATCH
        finite = all(c.reference_finite for c in self.pre_nms.values())
        if finite and self.detections is not None and not self.detections.ok:
            return MISMATCH
        within = bool(self.pre_nms) and all(c.within for c in self.pre_nms.values())
        return judge(within, self.local, finite, self.conclusive)

    @property
    def reason(self) -> str:
        """Why the check is not conclusive, or why the files are not this model's ('' otherwise)."""
        if self.shape_differences:
            return describe_shape_differences(self.shape_differences)
        if self.status != "not conclusive":
            return ""
        if self.dependence is not None and not self.dependence.ok:
            return self.dependence.reason()
        if self.local is not None and not self.local.conclusive:
            return self.local.inconclusive_reason()
        return f"the class scores barely depend on the input (relative change {self.sensitivity:.3g})"

    @property
    def exact(self) -> bool:
        return self.status == EXACT

    @property
    def ok(self) -> bool:
        return self.exact


def graph_reference(
    net: object, x: np.ndarray, tensors: dict[str, str], input_name: str = "data"
) -> dict[str, np.ndarray]:
    """MXNet's values of the named graph tensors (key -> IR tensor name) for input x (RGB): the whole network, traced
    live or loaded from its files, run once with its internals. `net` may be an MXNetReference already built."""
    reference = net if isinstance(net, MXNetReference) else MXNetReference(net, tuple(x.shape), input_name)
    values = reference.run(x, list(dict.fromkeys(tensors.values())))
    return {key: values[t] for key, t in tensors.items()}


def run_with_blobs(
    prototxt: str, caffemodel: str, x: np.ndarray, blobs: list[str], runtime: str = "caffe", input_name: str = "data"
) -> dict[str, np.ndarray]:
    """The net's outputs plus the named intermediate blobs, in `runtime`."""
    wanted = list(dict.fromkeys(blobs + net_outputs(read_prototxt(prototxt))))
    every = forward(runtime, prototxt, caffemodel, {input_name: x}, wanted, all_blobs=True)
    return {name: every[name] for name in wanted}


def blob_differences(tensors: dict[str, tuple[str, np.ndarray, np.ndarray]]) -> list[ShapeDifference]:
    """The compared tensors (key -> (Caffe blob, Caffe's values, MXNet's)) whose Caffe blob holds another number of
    values than MXNet's (files of another model)."""
    return [
        ShapeDifference(blob, tuple(np.shape(actual)), tuple(np.shape(expected)))
        for blob, actual, expected in tensors.values()
        if np.size(actual) != np.size(expected)
    ]


def mismatched_files(runtime: str, differences: list[ShapeDifference]) -> DetectorCheck:
    """The check of files whose blobs have other shapes than the network's: nothing compared, a mismatch."""
    return DetectorCheck(runtime, {}, None, float("nan"), shape_differences=differences)


def finish_check(
    run: DetectorRun,
    reference: MXNetReference,
    ref: dict[str, np.ndarray],
    got: dict[str, np.ndarray],
    tensors: dict[str, tuple[str, np.ndarray, np.ndarray]],
    extra: dict[str, Comparison],
    second: tuple[dict[str, np.ndarray], str],
    float64: Callable[[], tuple[float, float] | None],
    aliases: Mapping[str, str],
) -> DetectorCheck:
    """What every detector check does with its pre-NMS tensors (`tensors`: key -> (Caffe blob, Caffe's values,
    MXNet's), compared with the magnitude the layer-local check measured for the blob; `extra`: comparisons of its
    own, e.g. anchors in pixels): the detections as sets, the layer-local check (`aliases`: Caffe blobs that renamed
    an MXNet tensor), the input dependence of `tensors` (`second`: MXNet's values of them on a second input, and how
    it was made), and (when the pre-NMS error exceeds the tolerance) the float64 errors."""
    detections = match_detections(ref, got[DETECTIONS], run.head) if DETECTIONS in got else None
    local = None
    if run.runtime == "caffe":  # the layer-local check of the prediction part needs pycaffe's layer-by-layer forward
        reference.aliases.update(aliases)
        local = check_local(run.prototxt, run.caffemodel, reference, run.x, run.to_bgr, run.preprocess)
        if local.shape_differences:
            return mismatched_files(run.runtime, local.shape_differences)
    magnitudes = local.magnitudes if local is not None else {}
    pre = {key: compare(actual, expected, magnitudes.get(blob)) for key, (blob, actual, expected) in tensors.items()}
    dependence = input_dependence({key: tensors[key][2] for key in tensors}, second[0], pre, second[1])
    check = DetectorCheck(run.runtime, {**pre, **extra}, detections, dependence.smallest, local=local)
    check.dependence = dependence
    if detections is not None and not detections.ok:
        check.moved = match_moved_boxes(ref, got[DETECTIONS], run.head)
    if check.max_pre_nms > TOLERANCE:
        check.float64 = float64()
    return check


_FLOAT64_CHILD = """
import sys, numpy as np, mxnet as mx
d, count, var = sys.argv[1], int(sys.argv[2]), sys.argv[3]
net = mx.gluon.SymbolBlock.imports(d + "/p-symbol.json", [var], d + "/p.params")
net.cast("float64")
out = net(mx.nd.array(np.load(d + "/x.npy"), dtype="float64"))
out = out if isinstance(out, (list, tuple)) else [out]
for i in range(count):
    np.save(d + "/out%d.npy" % i, out[i].asnumpy())
"""


def float64_tensors(
    net: object, x: np.ndarray, tensors: list[str], input_name: str = "data"
) -> list[np.ndarray] | None:
    """The named graph tensors computed by MXNet in float64 (`net` may be an MXNetReference already built).

    MKL-DNN has no float64 kernels for some ops, and it can only be switched off when MXNet loads, so this runs
    the graph up to those tensors in a child process with MXNET_MKLDNN_ENABLED=0. None if that fails.
    """
    import mxnet as mx

    ref = net if isinstance(net, MXNetReference) else MXNetReference(net, tuple(x.shape), input_name)
    symbol = ref.group(tensors)
    used = set(symbol.list_arguments()) | set(symbol.list_auxiliary_states())
    aux = set(symbol.list_auxiliary_states())
    with tempfile.TemporaryDirectory(prefix="gluon2caffe-f64-") as tmp:
        symbol.save(os.path.join(tmp, "p-symbol.json"))
        mx.nd.save(
            os.path.join(tmp, "p.params"),
            {("aux:" if k in aux else "arg:") + k: mx.nd.array(v) for k, v in ref.params.items() if k in used},
        )
        np.save(os.path.join(tmp, "x.npy"), x.astype(np.float64))
        env = dict(os.environ, MXNET_MKLDNN_ENABLED="0", MXNET_STORAGE_FALLBACK_LOG_VERBOSE="0")
        proc = subprocess.run(
            [sys.executable, "-c", _FLOAT64_CHILD, tmp, str(len(tensors)), ref.var],
            env=env,
            capture_output=True,
            text=True,
            timeout=1800,
        )
        if proc.returncode != 0:
            log.warning("float64 reference failed: %s", proc.stderr.strip().splitlines()[-1:])
            return None
        return [np.load(os.path.join(tmp, f"out{i}.npy")) for i in range(len(tensors))]


def float64_errors(
    reference: MXNetReference,
    x: np.ndarray,
    tensors: list[str],
    got: list[np.ndarray],
    ref: list[np.ndarray],
    arrange: list[Callable[[np.ndarray], np.ndarray]] | None = None,
) -> tuple[float, float] | None:
    """(Caffe, MXNet float32): the largest relative errors of `got` (Caffe's) and `ref` (MXNet's) against the graph
    `tensors` run in float64 (float64_tensors); `arrange[i]` lays float64 tensor i out as got[i] and ref[i] are (a
    reshape, a transpose). None where the float64 run fails."""
    truth = float64_tensors(reference, x, tensors)
    if truth is None:
        return None
    truth = [f(t) for f, t in zip(arrange, truth)] if arrange is not None else truth
    caffe = max(compare(g.reshape(t.shape), t).relative for g, t in zip(got, truth))
    mxnet = max(compare(r.reshape(t.shape), t).relative for r, t in zip(ref, truth))
    return caffe, mxnet


def px_comparison(actual_px: np.ndarray, reference_px: np.ndarray, size: int) -> Comparison:
    """Pixel coordinates compared relative to the image size (the issue's 'within 1e-4 of the image size')."""
    c = compare(actual_px, reference_px)
    return Comparison(c.max_abs, float(size), c.reference_not_finite)


def match_detections(ref: dict[str, np.ndarray], caffe_rows: np.ndarray, head: NMSHead) -> DetectionMatch:
    """GluonCV's detections (image 0) against Caffe's rows, as sets; see the module docstring."""
    h, w = head.image_size
    scale = np.array([w, h, w, h], np.float64)
    ids, scores, boxes = ref["ids"][0, :, 0], ref["scores"][0, :, 0], ref["boxes"][0]
    keep = ids >= 0
    g = [(int(i) + 1, float(s), b / scale) for i, s, b in zip(ids[keep], scores[keep], boxes[keep])]
    rows = caffe_rows.reshape(-1, 7)
    rows = rows[(rows[:, 0] == 0) & (rows[:, 1] >= 0)]
    c = [(int(r[1]), float(r[2]), r[3:7].astype(np.float64)) for r in rows]
    result = DetectionMatch(len(g), len(c), 0)
    unmatched_c = list(range(len(c)))
    unmatched_g = []
    for label, score, box in sorted(g, key=lambda t: -t[1]):
        best = None
        for j in unmatched_c:
            cl, cs, cb = c[j]
            if cl == label and abs(cs - score) <= SCORE_TOL and np.abs(cb - box).max() <= BOX_TOL:
                best = j
                break
        if best is None:
            unmatched_g.append((label, score, box))
            continue
        unmatched_c.remove(best)
        result.matched += 1
        result.max_score_diff = max(result.max_score_diff, abs(c[best][1] - score))
        result.max_box_diff = max(result.max_box_diff, float(np.abs(c[best][2] - box).max()))
    # Ties at the cut-off: a GluonCV row missing from Caffe may be replaced by a Caffe row of the same score.
    cutoff = min((s for _, s, _ in g), default=float("inf"))
    for label, score, box in unmatched_g:
        swap = next((j for j in unmatched_c if abs(c[j][1] - score) <= SCORE_TOL and score <= cutoff + SCORE_TOL), None)
        if swap is None:
            result.problems.append(f"GluonCV detection label {label} score {score:.6f} box {np.round(box, 5)} missing")
        else:
            unmatched_c.remove(swap)
            result.tie_swaps += 1
    keep_top_k = head.post_nms if 0 < head.nms_thresh < 1 and head.post_nms > 0 else None
    extra = [c[j] for j in unmatched_c]
    if extra:
        if keep_top_k is not None and len(g) >= keep_top_k:
            result.problems.append(f"{len(extra)} Caffe rows beyond GluonCV's full {keep_top_k} detections")
        else:
            bound = _last_candidate_score(ref["conf"][0], head)
            over = [e for e in extra if e[1] > bound + SCORE_TOL]
            if over:
                result.problems.append(
                    f"{len(over)} extra Caffe rows score above GluonCV's last NMS candidate ({bound:.6f}), "
                    f"e.g. label {over[0][0]} score {over[0][1]:.6f}"
                )
    return result


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two corner boxes (xmin, ymin, xmax, ymax)."""
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
    return float(w * h / union) if union > 0 else float(np.array_equal(a, b))


@dataclass
class MovedBoxesMatch:
    """GluonCV's detections found in Caffe's rows when the boxes may have moved (anchors that are not GluonCV's):
    same label, score within SCORE_TOL (scores do not depend on the anchors), corners within max_shift_px."""

    gluoncv: int
    caffe: int
    matched: int
    min_iou: float = 1.0  # over the matched detections
    max_score_diff: float = 0.0
    max_shift_px: float = 0.0  # the largest corner shift of a matched box, in pixels

    def __str__(self) -> str:
        return (
            f"{self.matched}/{self.gluoncv} GluonCV detections found among {self.caffe} Caffe rows with moved boxes "
            f"(corners within {self.max_shift_px:.2g} px, IoU >= {self.min_iou:.4f}, "
            f"score diff {self.max_score_diff:.2g})"
        )


def match_moved_boxes(
    ref: dict[str, np.ndarray], caffe_rows: np.ndarray, head: NMSHead, max_shift_px: float = PRIORBOX_SHIFT_PX
) -> MovedBoxesMatch:
    """Greedy, highest GluonCV score first: each GluonCV detection takes the unmatched Caffe row of its label and
    score (within SCORE_TOL) with corners within max_shift_px that overlaps it most."""
    h, w = head.image_size
    scale = np.array([w, h, w, h], np.float64)
    ids, scores, boxes = ref["ids"][0, :, 0], ref["scores"][0, :, 0], ref["boxes"][0]
    keep = ids >= 0
    g = sorted(zip(ids[keep] + 1, scores[keep], boxes[keep].astype(np.float64)), key=lambda t: -t[1])
    rows = caffe_rows.reshape(-1, 7)
    rows = rows[(rows[:, 0] == 0) & (rows[:, 1] >= 0)].astype(np.float64)
    pixels = rows[:, 3:7] * scale
    result = MovedBoxesMatch(len(g), len(rows), 0)
    free = np.ones(len(rows), bool)
    for label, score, box in g:
        shift = np.abs(pixels - box).max(1) if len(rows) else np.zeros(0)
        candidates = np.flatnonzero(
            free & (rows[:, 1] == label) & (np.abs(rows[:, 2] - score) <= SCORE_TOL) & (shift <= max_shift_px)
        )
        if not candidates.size:
            continue
        overlaps = [iou(pixels[j], box) for j in candidates]
        best = int(candidates[int(np.argmax(overlaps))])
        free[best] = False
        result.matched += 1
        result.min_iou = min(result.min_iou, max(overlaps))
        result.max_score_diff = max(result.max_score_diff, abs(rows[best, 2] - score))
        result.max_shift_px = max(result.max_shift_px, float(shift[best]))
    return result


def _last_candidate_score(probs: np.ndarray, head: NMSHead) -> float:
    """The lowest score among GluonCV's global top-k NMS candidates (all valid scores when there is no top-k)."""
    scores = probs[:, 1:].reshape(-1)
    valid = np.sort(scores[scores > head.score_thresh])[::-1]
    if valid.size == 0:
        return float("inf")
    k = head.nms_topk if head.nms_topk > 0 else valid.size
    return float(valid[min(k, valid.size) - 1])


def resolve_peak_ties(peaks_ref: np.ndarray, heatmap_ref: np.ndarray, got: np.ndarray) -> tuple[np.ndarray, int]:
    """(MXNet's NMS'd heatmap with its near-ties decided as in `got`, how many positions that changed).

    keep = (maxpool3x3(h) == h) is discontinuous: where a value and the largest of its 8 neighbours are within the
    tolerance of each other, float32 rounding of h (any two runtimes differ by ~1e-7) decides which one is the peak.
    At those positions (in MXNet's h) both outcomes are right, so the reference takes the one `got` has (h or 0);
    everywhere else it is MXNet's. The heatmap, sizes and offsets are compared as they are."""
    n, c, h, w = heatmap_ref.shape
    padded = np.full((n, c, h + 2, w + 2), -np.inf, dtype=heatmap_ref.dtype)
    padded[:, :, 1:-1, 1:-1] = heatmap_ref
    neighbours = np.full_like(heatmap_ref, -np.inf)
    for dy in range(3):
        for dx in range(3):
            if (dy, dx) != (1, 1):
                np.maximum(neighbours, padded[:, :, dy : dy + h, dx : dx + w], out=neighbours)
    tol = TOLERANCE * float(np.max(np.abs(heatmap_ref)))
    near = np.abs(heatmap_ref - neighbours) <= tol
    got = got.reshape(peaks_ref.shape)
    as_got = np.where(np.abs(got - heatmap_ref) <= np.abs(got), heatmap_ref, 0.0).astype(peaks_ref.dtype)
    resolved = np.where(near, as_got, peaks_ref)
    return resolved, int(np.count_nonzero(resolved != peaks_ref))
