"""Check a converted detector (SSD, YOLOv3) against GluonCV: the tensors before NMS, and the detections as sets.

Before NMS: box predictions (mbox_loc), class probabilities (mbox_conf_flatten), priors (mbox_priorbox, in pixels)
against the inputs GluonCV's own box and class decoders receive, and Caffe's decoding of every anchor (run through
the runtime's DetectionOutput in a probe net) against GluonCV's decoded boxes.

Detections: every GluonCV detection must appear in Caffe's output (same label, score and box within the tolerance);
Caffe may return more only when GluonCV returned fewer than keep_top_k, and then only rows scoring no higher than
GluonCV's last NMS candidate (Caffe's top_k is per class, GluonCV's global: see detectors/ssd_layers.py). Rows whose
scores tie within the tolerance at the cut-off may be swapped for each other; they are counted, not hidden.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ..detectors.common import DETECTIONS
from ..detectors.ssd_layers import CONF, LOC, PRIORS
from .runtimes import forward
from . import (
    DEPENDENCE,
    EXACT,
    MISMATCH,
    TOLERANCE,
    Comparison,
    Dependence,
    MXNetReference,
    ShapeDifference,
    compare,
    describe_shape_differences,
    input_dependence,
    judge,
    net_outputs,
    perturbed_input,
    read_prototxt,
)

log = logging.getLogger(__name__)

SCORE_TOL = 1e-4
BOX_TOL = 1e-4  # of the image size (normalized coordinates)


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
    local: Any = None  # verification.local.LocalResult of the prediction part (pycaffe), None where it did not run
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


SSDCheck = DetectorCheck  # the name before YOLOv3 shared it


def graph_reference(net: Any, x: np.ndarray, tensors: dict[str, str]) -> dict[str, np.ndarray]:
    """MXNet's values of the named graph tensors (key -> IR tensor name) for input x (RGB): the whole network, traced
    live or loaded from its files, run once with its internals."""
    from . import MXNetReference

    values = MXNetReference(net, tuple(x.shape), "data").run(x, list(dict.fromkeys(tensors.values())))
    return {key: values[t] for key, t in tensors.items()}


def gluoncv_reference(net: Any, head: Any, x: np.ndarray) -> dict[str, np.ndarray]:
    """GluonCV's SSD intermediates (decoder inputs and outputs) and detections for input x (RGB)."""
    keys = ("loc", "anchors", "decoded", "conf", "ids", "scores", "boxes")
    return graph_reference(net, x, {k: head.tensors[k] for k in keys})


def run_caffe_ssd(
    prototxt: str, caffemodel: str, x_caffe: np.ndarray, runtime: str = "caffe", input_name: str = "data"
) -> dict[str, np.ndarray]:
    """The converted SSD's output and its pre-NMS blobs (mbox_loc, mbox_conf_flatten, mbox_priorbox)."""
    return run_with_blobs(prototxt, caffemodel, x_caffe, [LOC, CONF, PRIORS], runtime, input_name)


def run_with_blobs(
    prototxt: str, caffemodel: str, x: np.ndarray, blobs: list[str], runtime: str = "caffe", input_name: str = "data"
) -> dict[str, np.ndarray]:
    """The net's outputs plus the named intermediate blobs, in `runtime`."""
    wanted = list(dict.fromkeys(blobs + net_outputs(read_prototxt(prototxt))))
    every = forward(runtime, prototxt, caffemodel, {input_name: x}, wanted, all_blobs=True)
    return {name: every[name] for name in wanted}


def decode_in_caffe(loc: np.ndarray, priors: np.ndarray) -> np.ndarray:
    """Caffe's own decoding of every anchor: a probe net of one DetectionOutput without nms_param over one class.

    brocolli-caffe's DetectionOutput then keeps every prior in index order (no NMS, no threshold), so row i is
    anchor i decoded by the runtime. loc (B, N*4), priors (1, 2, N*4); returns (N, 4) normalized corners (image 0).
    """
    from ..caffe import caffe_pb2 as pb
    from google.protobuf import text_format

    n = priors.shape[2] // 4
    net = pb.NetParameter(name="decode_probe")
    for name, shape in (("loc", (1, n * 4)), ("conf", (1, n * 2)), ("priors", (1, 2, n * 4))):
        layer = net.layer.add(name=name, type="Input", top=[name])
        layer.input_param.shape.add().dim.extend(shape)
    layer = net.layer.add(name="decode", type="DetectionOutput", bottom=["loc", "conf", "priors"], top=["out"])
    d = layer.detection_output_param
    d.num_classes, d.share_location, d.background_label_id = 2, True, 0
    d.code_type = pb.PriorBoxParameter.CENTER_SIZE
    conf = np.tile(np.array([0.0, 1.0], np.float32), n)[None]
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "probe.prototxt")
        with open(path, "w") as f:
            f.write(text_format.MessageToString(net))
        import caffe

        probe = caffe.Net(path, caffe.TEST)
        for name, value in (("loc", loc[:1]), ("conf", conf), ("priors", priors[:1])):
            probe.blobs[name].data[...] = value.reshape(probe.blobs[name].data.shape)
        rows = probe.forward()["out"].reshape(-1, 7).copy()
    if rows.shape[0] != n or not np.array_equal(rows[:, 1], np.ones(n)):
        raise RuntimeError(
            f"the decode probe expects DetectionOutput without nms_param to keep all {n} priors in order "
            f"(brocolli-caffe); this runtime returned {rows.shape[0]} rows"
        )
    return rows[:, 3:7]


def check_ssd(
    net: Any,
    head: Any,
    prototxt: str,
    caffemodel: str,
    x: np.ndarray,
    to_bgr: bool = True,
    runtime: str = "caffe",
    x2: np.ndarray | None = None,
) -> DetectorCheck:
    """Compare the converted SSD with GluonCV on input x (RGB; fed to Caffe as BGR when to_bgr); x2: the second input
    of the input-dependence check (None: x mirrored, with noise)."""
    ref = gluoncv_reference(net, head, x)
    x_caffe = x[:, ::-1].copy() if to_bgr else x
    got = run_caffe_ssd(prototxt, caffemodel, x_caffe, runtime)
    h, w = head.image_size
    scale = np.array([w, h, w, h], np.float64)
    anchors = ref["anchors"][0].astype(np.float64)
    corners = np.concatenate([anchors[:, :2] - anchors[:, 2:] / 2, anchors[:, :2] + anchors[:, 2:] / 2], 1)
    priors = got[PRIORS]
    tensors = {"loc": (LOC, got[LOC], ref["loc"]), "conf": (CONF, got[CONF], ref["conf"])}
    differences = _differences({**tensors, "priors": (PRIORS, priors[0, 0], corners)})
    if differences:
        return DetectorCheck(runtime, {}, None, float("nan"), shape_differences=differences)
    extra = {"priors (px)": _px(priors[0, 0].reshape(-1, 4) * scale, corners, max(h, w))}
    if runtime == "caffe":
        decoded = decode_in_caffe(got[LOC], priors)
        extra["decoded (px)"] = _px(decoded * scale, ref["decoded"][0], max(h, w))
    x2, second = (x2, "the second input given") if x2 is not None else perturbed_input(x)
    again = gluoncv_reference(net, head, x2)
    return _detector_check(
        net,
        head,
        prototxt,
        caffemodel,
        x,
        to_bgr,
        runtime,
        ref,
        got,
        tensors,
        extra,
        ({key: again[key] for key in tensors}, second),
        lambda: _float64_errors(net, head, x, ref, got),
    )


def _differences(tensors: dict[str, tuple[str, np.ndarray, np.ndarray]]) -> list[ShapeDifference]:
    """The compared tensors whose Caffe blob holds another number of values than MXNet's (files of another model)."""
    return [
        ShapeDifference(blob, tuple(np.shape(actual)), tuple(np.shape(expected)))
        for blob, actual, expected in tensors.values()
        if np.size(actual) != np.size(expected)
    ]


def _detector_check(
    net: Any,
    head: Any,
    prototxt: str,
    caffemodel: str,
    x: np.ndarray,
    to_bgr: bool,
    runtime: str,
    ref: dict[str, np.ndarray],
    got: dict[str, np.ndarray],
    tensors: dict[str, tuple[str, np.ndarray, np.ndarray]],
    extra: dict[str, Comparison],
    second: tuple[dict[str, np.ndarray], str],
    float64: Callable[[], tuple[float, float] | None],
) -> DetectorCheck:
    """What every detector check does with its pre-NMS tensors (`tensors`: key -> (Caffe blob, Caffe's values,
    MXNet's), compared with the magnitude the layer-local check measured for the blob; `extra`: comparisons of its
    own, e.g. anchors in pixels): the detections as sets, the layer-local check, the input dependence of `tensors`
    (`second`: MXNet's values of them on a second input, and how it was made), and (when the pre-NMS error exceeds
    the tolerance) the float64 errors."""
    detections = match_detections(ref, got[DETECTIONS], head) if DETECTIONS in got else None
    local = _local(net, head, prototxt, caffemodel, x, to_bgr, runtime)
    if local is not None and local.shape_differences:
        return DetectorCheck(runtime, {}, None, float("nan"), shape_differences=local.shape_differences)
    magnitudes = local.magnitudes if local is not None else {}
    pre = {key: compare(actual, expected, magnitudes.get(blob)) for key, (blob, actual, expected) in tensors.items()}
    dependence = input_dependence({key: tensors[key][2] for key in tensors}, second[0], pre, second[1])
    check = DetectorCheck(runtime, {**pre, **extra}, detections, dependence.smallest, local=local)
    check.dependence = dependence
    if detections is not None and not detections.ok:
        check.moved = match_moved_boxes(ref, got[DETECTIONS], head)
    if check.max_pre_nms > TOLERANCE:
        check.float64 = float64()
    return check


def _local(net: Any, head: Any, prototxt: str, caffemodel: str, x: np.ndarray, to_bgr: bool, runtime: str) -> Any:
    """The layer-local check of the detector's prediction part (backbone and heads) in pycaffe; None elsewhere."""
    if runtime != "caffe":
        return None
    from ..detectors import detector_for
    from .local import check_local

    reference = MXNetReference(net, tuple(x.shape), "data")
    family = detector_for(net)
    if family is not None:
        reference.aliases.update(family.aliases(head))
    return check_local(prototxt, caffemodel, reference, x, to_bgr)


def _float64_errors(net: Any, head: Any, x: np.ndarray, ref: dict, got: dict) -> tuple[float, float] | None:
    """(Caffe, MXNet float32) relative errors of loc and conf against the same net run in float64."""
    truth = float64_tensors(net, x, [head.tensors["loc"], head.tensors["conf"]])
    if truth is None:
        return None
    pairs = ((LOC, "loc", 0), (CONF, "conf", 1))
    caffe = max(compare(got[b].reshape(truth[i].shape), truth[i]).relative for b, _, i in pairs)
    mxnet = max(compare(ref[k].reshape(truth[i].shape), truth[i]).relative for _, k, i in pairs)
    return caffe, mxnet


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


def float64_tensors(net: Any, x: np.ndarray, tensors: list[str]) -> list[np.ndarray] | None:
    """The named graph tensors computed by MXNet in float64.

    MKL-DNN has no float64 kernels for some ops, and it can only be switched off when MXNet loads, so this runs
    the graph up to those tensors in a child process with MXNET_MKLDNN_ENABLED=0. None if that fails.
    """
    import mxnet as mx

    from . import MXNetReference

    ref = MXNetReference(net, tuple(x.shape), "data")
    internals = ref.symbol.get_internals()
    symbol = mx.sym.Group([internals[ref._index[t]] for t in tensors])
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


def _px(actual_px: np.ndarray, reference_px: np.ndarray, size: int) -> Comparison:
    """Pixel coordinates compared relative to the image size (the issue's 'within 1e-4 of the image size')."""
    c = compare(actual_px, reference_px)
    return Comparison(c.max_abs, float(size), c.reference_not_finite)


def match_detections(ref: dict[str, np.ndarray], caffe_rows: np.ndarray, head: Any) -> DetectionMatch:
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


# `--anchors priorbox` on an SSD whose anchors PriorBox cannot reproduce (caffe-ssd casts fractional sizes to int):
# the boxes move, the scores do not. Its verdict is "approximate" within these bounds (scripts/measure_priorbox.py
# on 6 of the 512x512 zoo SSDs, 2-3 scenes each: corners within 0.76 px, >= 97% of GluonCV's detections found).
PRIORBOX_PRIORS_PX = 0.5  # an int cast of a size moves each corner of an anchor by at most half a pixel
PRIORBOX_SHIFT_PX = 1.0  # a found detection's corners within this of GluonCV's box (pixels of the input)
PRIORBOX_FOUND = 0.95  # at least this share of GluonCV's detections found; moved boxes flip NMS / top-k near the cut


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
    ref: dict[str, np.ndarray], caffe_rows: np.ndarray, head: Any, max_shift_px: float = PRIORBOX_SHIFT_PX
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


def _last_candidate_score(probs: np.ndarray, head: Any) -> float:
    """The lowest score among GluonCV's global top-k NMS candidates (all valid scores when there is no top-k)."""
    scores = probs[:, 1:].reshape(-1)
    valid = np.sort(scores[scores > head.score_thresh])[::-1]
    if valid.size == 0:
        return float("inf")
    k = head.nms_topk if head.nms_topk > 0 else valid.size
    return float(valid[min(k, valid.size) - 1])


# -- YOLOv3 ------------------------------------------------------------------------------------------------------


def yolo_reference(net: Any, head: Any, x: np.ndarray) -> dict[str, np.ndarray]:
    """GluonCV's decoded boxes (B, N, 4) and class scores (B, N, C) before NMS, in the converter's order (outputs,
    then positions, then anchors), and its detections; `conf` has a zero background column for match_detections."""
    count = len(head.outputs)
    keys = ["ids", "scores", "boxes"] + [f"output{i}" for i in range(count)] + [f"prediction{i}" for i in range(count)]
    values = graph_reference(net, x, {k: head.tensors[k] for k in keys})
    captured = [values[f"output{i}"] for i in range(count)]
    predictions = [values[f"prediction{i}"] for i in range(count)]
    all_boxes, all_scores = [], []
    classes = head.num_classes
    for det in captured:  # (B, C * n, 6): class-major copies of the same n boxes
        per_class = det.reshape(det.shape[0], classes, -1, 6)
        all_boxes.append(per_class[:, 0, :, 2:6])
        all_scores.append(per_class[:, :, :, 1].transpose(0, 2, 1))
    pre_boxes, pre_scores = np.concatenate(all_boxes, 1), np.concatenate(all_scores, 1)
    conf = np.concatenate([np.zeros(pre_scores.shape[:2] + (1,), pre_scores.dtype), pre_scores], -1)
    return {
        "pre_boxes": pre_boxes,
        "pre_scores": pre_scores,
        "predictions": predictions,
        "conf": conf,
        "ids": values["ids"],
        "scores": values["scores"],
        "boxes": values["boxes"],
    }


def check_yolo(
    net: Any,
    head: Any,
    prototxt: str,
    caffemodel: str,
    x: np.ndarray,
    to_bgr: bool = True,
    runtime: str = "caffe",
    x2: np.ndarray | None = None,
) -> DetectorCheck:
    """Compare a converted YOLOv3 with GluonCV before NMS (the decoded boxes, or with DetectionOutput its `yolo_loc`
    input: pixel centers and raw size logits), the scores, then the detections; x2: the second input of the
    input-dependence check (None: x mirrored, with noise)."""
    from ..detectors.yolo_layers import BOXES, SCORES
    from ..detectors.yolo_layers import LOC as YOLO_LOC

    ref = yolo_reference(net, head, x)
    x_caffe = x[:, ::-1].copy() if to_bgr else x
    located = any(YOLO_LOC in layer.top for layer in read_prototxt(prototxt).layer)
    got = run_with_blobs(prototxt, caffemodel, x_caffe, [YOLO_LOC if located else BOXES, SCORES], runtime)
    b, n, c = ref["pre_scores"].shape
    if got[SCORES].size % (b * n) or (got[YOLO_LOC if located else BOXES].size != b * n * 4):
        blob = SCORES if got[SCORES].size % (b * n) else YOLO_LOC if located else BOXES
        mxnet = ref["pre_scores"].shape if blob == SCORES else (b, n, 4)
        return DetectorCheck(
            runtime, {}, None, float("nan"), shape_differences=[ShapeDifference(blob, got[blob].shape, mxnet)]
        )
    scores = got[SCORES].reshape(b, n, -1)[:, :, -c:]  # without the background column, when there is one
    if located:
        ref["pre_loc"] = yolo_loc(ref["predictions"], head).astype(np.float32)
        boxes = ("loc", got[YOLO_LOC].reshape(b, n, 4), "pre_loc", YOLO_LOC)
    else:
        boxes = ("boxes", got[BOXES].reshape(b, n, 4), "pre_boxes", BOXES)
    tensors = {boxes[0]: (boxes[3], boxes[1], ref[boxes[2]]), "scores": (SCORES, scores, ref["pre_scores"])}
    differences = _differences(tensors)
    if differences:
        return DetectorCheck(runtime, {}, None, float("nan"), shape_differences=differences)
    x2, second = (x2, "the second input given") if x2 is not None else perturbed_input(x)
    again = yolo_reference(net, head, x2)
    if located:
        again["pre_loc"] = yolo_loc(again["predictions"], head).astype(np.float32)
    return _detector_check(
        net,
        head,
        prototxt,
        caffemodel,
        x,
        to_bgr,
        runtime,
        ref,
        got,
        tensors,
        {},
        ({boxes[0]: again[boxes[2]], "scores": again["pre_scores"]}, second),
        lambda: _yolo_float64_errors(net, head, x, ref, boxes, scores),
    )


def yolo_loc(predictions: list[np.ndarray], head: Any) -> np.ndarray:
    """`yolo_loc` from the prediction maps, in float64: (B, N, 4) = pixel centers (sigmoid + grid offset) * stride
    and the raw size logits, in the converter's box order."""
    locs = []
    for pred, out in zip(predictions, head.outputs):
        bsz, a, hw = pred.shape[0], out.num_anchors, out.height * out.width
        p = pred.astype(np.float64).reshape(bsz, a, -1, hw).transpose(0, 3, 1, 2)  # (B, HW, A, 5 + C)
        centers = (1 / (1 + np.exp(-p[..., 0:2])) + out.offsets.astype(np.float64)[None, :, None, :]) * out.stride
        locs.append(np.concatenate([centers, p[..., 2:4]], -1).reshape(bsz, -1, 4))
    return np.concatenate(locs, 1)


def _yolo_float64_errors(net, head, x, ref, boxes, caffe_scores) -> tuple[float, float] | None:
    """(Caffe, MXNet float32) relative errors of the boxes (or loc) and scores against float64: the prediction maps
    in float64 (child process, no MKL-DNN) decoded in float64 with the network's constants."""
    count = len(head.outputs)
    predictions = float64_tensors(net, x, [head.tensors[f"prediction{i}"] for i in range(count)])
    if predictions is None:
        return None
    what, caffe_boxes, ref_key = boxes[:3]
    truth_boxes, scores = [], []
    for pred, out in zip(predictions, head.outputs):
        bsz, a, hw = pred.shape[0], out.num_anchors, out.height * out.width
        p = pred.reshape(bsz, a, -1, hw).transpose(0, 3, 1, 2)  # (B, HW, A, 5 + C)
        sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
        centers = (sig(p[..., 0:2]) + out.offsets.astype(np.float64)[None, :, None, :]) * out.stride
        half = np.exp(p[..., 2:4]) * out.anchors.astype(np.float64)[None, None] / 2
        truth_boxes.append(np.concatenate([centers - half, centers + half], -1).reshape(bsz, -1, 4))
        scores.append((sig(p[..., 5:]) * sig(p[..., 4:5])).reshape(bsz, hw * a, -1))
    truth = yolo_loc(predictions, head) if what == "loc" else np.concatenate(truth_boxes, 1)
    truth_scores = np.concatenate(scores, 1)
    caffe = max(compare(caffe_boxes, truth).relative, compare(caffe_scores, truth_scores).relative)
    mxnet = max(compare(ref[ref_key], truth).relative, compare(ref["pre_scores"], truth_scores).relative)
    return caffe, mxnet


CENTERNET_KEYS = ("heatmap", "wh", "offset")


def check_centernet(
    net: Any,
    head: Any,
    prototxt: str,
    caffemodel: str,
    x: np.ndarray,
    to_bgr: bool = True,
    runtime: str = "caffe",
    x2: np.ndarray | None = None,
) -> DetectorCheck:
    """Compare a CenterNet converted up to its decoder with MXNet's tensors at the decoder's inputs: the heatmap
    after its NMS (keep * h), the box sizes, the center offsets (no detections: the decoder runs outside Caffe); x2: the
    second input of the input-dependence check (None: x mirrored, with noise)."""
    tensors_of = dict(zip(CENTERNET_KEYS, head.tensors))
    ref = graph_reference(net, x, {**tensors_of, "sigmoid": head.heatmap})
    outputs = head.output_blobs()
    got = forward(runtime, prototxt, caffemodel, {"data": x[:, ::-1].copy() if to_bgr else x}, outputs)
    differences = _differences({key: (blob, got[blob], ref[key]) for key, blob in zip(CENTERNET_KEYS, outputs)})
    if differences:
        return DetectorCheck(runtime, {}, None, float("nan"), shape_differences=differences)
    ref["heatmap"], _ties = resolve_peak_ties(ref["heatmap"], ref.pop("sigmoid"), got[outputs[0]])
    tensors = {key: (blob, got[blob], ref[key]) for key, blob in zip(CENTERNET_KEYS, outputs)}
    x2, second = (x2, "the second input given") if x2 is not None else perturbed_input(x)
    again = graph_reference(net, x2, tensors_of)
    return _detector_check(
        net,
        head,
        prototxt,
        caffemodel,
        x,
        to_bgr,
        runtime,
        ref,
        got,
        tensors,
        {},
        (again, second),
        lambda: None,
    )


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
