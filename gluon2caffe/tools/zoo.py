"""Model-zoo coverage: convert GluonCV models on live random weights, run them in the real Caffe, compare with MXNet.

`check_model` is the single check behind both the `gluon2caffe zoo` command (which writes docs/model_zoo.md) and
the parametrized zoo test, so every row of the coverage table is backed by a run of the same code in the real Caffe.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import platform
import tempfile
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from ..errors import Gluon2CaffeError
from .zoo_models import CLASSIFICATION_MODELS, SSD_MODELS, YOLO_MODELS

log = logging.getLogger(__name__)

# Inputs of both signs with the spread the BatchNorm statistics were taken at. A larger spread shifts every
# BatchNorm's input and compounds through deep nets until float32 rounding alone exceeds the tolerance (measured:
# se_resnet50_v1 at 2x: MXNet float32 vs float64 differ by 4e-4 relative; at 1x by 3e-6). Nets with clip(0, 6) get
# 3x, so activations really pass 6 (the converted ReLU6 is otherwise untested).
INPUT_SCALE = 1.0
CLIP_FAMILIES = {"mobilenetv2": 3.0, "mobilenetv3": 3.0}
SEED = 0


@dataclass
class ZooResult:
    model: str
    family: str
    input_size: int
    status: str  # exact | exact by layer | mismatch | refused | error (verification.judge)
    max_abs: float | None = None
    relative: float | None = None
    layers: int | None = None
    convert_seconds: float | None = None
    message: str = ""
    local: float | None = None  # the largest segment error (relative) of the layer-local check
    local_segments: int | None = None
    local_worst: str = ""  # the MXNet node of that segment

    @property
    def exact(self) -> bool:
        return self.status == "exact"


def check_model(model: str, family: str = "", input_size: int = 224, runtime: str = "caffe") -> ZooResult:
    """Build `model` with live random weights (models.load_zoo_model), convert it (merge_bn, to_bgr), run it in
    `runtime`, compare end to end, and (pycaffe) check every segment on MXNet's own inputs."""
    from ..api import convert
    from .models import load_zoo_model

    shape = (1, 3, input_size, input_size)
    result = ZooResult(model, family, input_size, "error")
    net = None
    try:
        net = load_zoo_model(model, shape)  # the CLI's and the tests' random net too
        try:
            conversion = convert(net, shape, to_bgr=True, merge_bn=True)
        except Gluon2CaffeError as exc:
            result.status, result.message = "refused", str(exc).splitlines()[0]
            return result
        result.convert_seconds = round(conversion.seconds, 3)
        result.layers = len(conversion.text_net.layer)
        x, x2 = _classifier_inputs(shape, family)
        got, local = _run_classifier(conversion, net, x, runtime, result)
        _judge_classifier(net, x, x2, got, conversion.graph.outputs, local, result)
        return result
    except Exception as exc:  # noqa: BLE001 - one model's failure is a row in the table, not the end of the run
        log.exception("%s failed", model)
        result.status, result.message = "error", f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        return result
    finally:
        del net
        gc.collect()


def _classifier_inputs(shape: tuple[int, ...], family: str) -> tuple[np.ndarray, np.ndarray]:
    """The input compared on and a second one (the output must depend on the input), both signs."""
    rng = np.random.RandomState(SEED + 1)
    scale = CLIP_FAMILIES.get(family, INPUT_SCALE)
    x = (rng.normal(0, 1, shape) * scale).astype(np.float32)
    x2 = (rng.normal(0, 1, shape) * scale).astype(np.float32)
    return x, x2


def _run_classifier(conversion, net, x: np.ndarray, runtime: str, result: ZooResult) -> tuple[dict, object]:
    """The converted net's outputs on x (BGR) in `runtime`, and (pycaffe) the layer-local check."""
    from ..caffe.io import save_model
    from ..verification import MXNetReference, forward

    local = None
    with tempfile.TemporaryDirectory(prefix="gluon2caffe-zoo-") as tmp:
        prototxt, caffemodel = save_model(conversion.text_net, conversion.binary_weights, os.path.join(tmp, "m"))
        del conversion.binary_weights
        feed = {"data": np.ascontiguousarray(x[:, [2, 1, 0]])}
        got = forward(runtime, prototxt, caffemodel, feed, conversion.graph.outputs)
        if runtime == "caffe":
            local = _local_check(prototxt, caffemodel, MXNetReference(net, tuple(x.shape), "data"), x, result)
    return got, local


def _judge_classifier(net, x: np.ndarray, x2: np.ndarray, got: dict, outputs: list[str], local, result) -> None:
    """Compare with MXNet end to end, refuse a vacuous comparison, and set the row's status and message."""
    from ..verification import EXACT, MISMATCH, TOLERANCE, compare, judge, mxnet_forward

    reference = mxnet_forward(net, x)
    other = mxnet_forward(net, x2)
    comparisons = [compare(got[name].reshape(ref.shape), ref) for name, ref in zip(outputs, reference)]
    worst = max(comparisons, key=lambda c: c.relative)
    result.max_abs, result.relative = float(worst.max_abs), float(worst.relative)
    change = max(float(np.max(np.abs(r - o))) for r, o in zip(reference, other))
    if change < 100 * TOLERANCE * worst.scale:
        result.status = "error"
        result.message = f"the MXNet output barely depends on the input (changed by {change:.3g}): not a test"
        return
    result.status = judge(all(c.ok for c in comparisons), local)
    if result.status == MISMATCH and local is not None and not local.ok:
        result.message = _local_failure(local)
    elif result.status != EXACT:
        result.message = f"end-to-end relative error {worst.relative:.3g} > {TOLERANCE:g}"
        result.message += _float64_note(net, x, got, outputs, reference)


def _local_check(prototxt: str, caffemodel: str, reference, x: np.ndarray, result) -> object:
    """The layer-local check (verification/local.py); records its largest segment error in the row."""
    from ..verification.local import check_local

    local = check_local(prototxt, caffemodel, reference, x, to_bgr=True)
    _record_local(local, result)
    return local


def _record_local(local, result) -> None:
    if local is None:
        return
    worst = local.worst
    result.local, result.local_segments = local.max_relative, len(local.segments)
    result.local_worst = f"{worst.op} {worst.node}" if worst else ""


def _local_failure(local) -> str:
    bad = local.first_failure
    return f"layer {bad.layers[0]} ({bad.op} {bad.node}) is off by {bad.comparison.relative:.3g} on MXNet's inputs"


def _detector_message(check) -> str:
    """Why a detector row is not exact, with numbers."""
    if check.local is not None and not check.local.ok:
        return _local_failure(check.local)
    text = f"max pre-NMS relative error {check.max_pre_nms:.3g}; detections: {check.detections}"
    if check.float64 is not None:
        text += f"; vs float64: Caffe {check.float64[0]:.2g}, MXNet float32 {check.float64[1]:.2g}"
    return text


def _float64_note(net, x, got, outputs, reference) -> str:
    """How far MXNet's own float32 output is from the same net in float64, and Caffe's: ', MXNet float32 itself
    A from float64 (Caffe B)'; '' where the net does not run in float64. Explains an end-to-end error whose every
    layer is exact: the network amplifies float32 rounding."""
    import mxnet as mx

    from ..verification import compare

    try:
        net.cast("float64")
        truth = net(mx.nd.array(x, dtype="float64"))
        truth = [t.asnumpy() for t in (truth if isinstance(truth, (list, tuple)) else [truth])]
    except Exception:  # noqa: BLE001 - not every op runs in float64; then the row gives the end-to-end error only
        return ""
    caffe_err = max(compare(got[n].reshape(t.shape), t).relative for n, t in zip(outputs, truth))
    mxnet_err = max(compare(r, t).relative for r, t in zip(reference, truth))
    return f"; MXNet float32 itself {mxnet_err:.2g} from float64 (Caffe {caffe_err:.2g})"


@dataclass
class DetectorZooResult:
    """One detector row: errors before NMS (relative; priors and decoded boxes relative to the image size) and
    whether the detections equal GluonCV's as sets. The columns are the family's pre-NMS comparisons in order:
    SSD loc, conf, priors, decoded; YOLOv3 boxes, scores (in loc, conf)."""

    model: str
    family: str
    input_size: int
    status: str  # exact | exact by layer | mismatch | refused | error (verification.judge)
    anchors: str = ""  # SSD: priorbox | constant; YOLOv3: decoded
    loc: float | None = None
    conf: float | None = None
    priors: float | None = None
    decoded: float | None = None
    detections: str = ""
    detections_match: bool | None = None
    layers: int | None = None
    convert_seconds: float | None = None
    message: str = ""
    local: float | None = None  # the largest segment error of the layer-local check (backbone and heads)
    local_segments: int | None = None
    local_worst: str = ""

    @property
    def exact(self) -> bool:
        return self.status == "exact"

    @property
    def max_pre_nms(self) -> float | None:
        values = [v for v in (self.loc, self.conf, self.priors, self.decoded) if v is not None]
        return max(values) if values else None


def check_detector_model(
    model: str, family: str = "", input_size: int = 512, runtime: str = "caffe"
) -> DetectorZooResult:
    """Build a detector with live random weights, convert it (merge_bn, to_bgr; SSD: exact anchors), run it in
    `runtime` on a synthetic scene and compare with GluonCV before NMS and after (its family's check)."""
    from ..api import ConvertOptions, convert_with, save_model
    from ..detectors import DetectorOptions, detector_for
    from ..verification import synthetic_scene
    from .models import load_zoo_model

    shape = (1, 3, input_size, input_size)
    result = DetectorZooResult(model, family, input_size, "error")
    net = None
    try:
        net = load_zoo_model(model, shape)
        detector = detector_for(net)
        try:
            conversion = convert_with(net, ConvertOptions(shape), DetectorOptions(), detector)
        except Gluon2CaffeError as exc:
            result.status, result.message = "refused", str(exc).splitlines()[0]
            return result
        result.convert_seconds = round(conversion.seconds, 3)
        result.layers = len(conversion.text_net.layer)
        result.anchors = conversion.detection.mode if conversion.detection is not None else "decoded"
        with tempfile.TemporaryDirectory(prefix="gluon2caffe-zoo-") as tmp:
            prototxt, caffemodel = save_model(conversion.text_net, conversion.binary_weights, os.path.join(tmp, "m"))
            del conversion.binary_weights
            check = detector.check(
                net,
                conversion.head,
                prototxt,
                caffemodel,
                synthetic_scene(shape, SEED + 1),
                runtime=runtime,
                x2=synthetic_scene(shape, SEED + 2),
            )
        _record_detector_check(check, result)
        return result
    except Exception as exc:  # noqa: BLE001 - one model's failure is a row in the table, not the end of the run
        log.exception("%s failed", model)
        result.status, result.message = "error", f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        return result
    finally:
        del net
        gc.collect()


def _record_detector_check(check, result: DetectorZooResult) -> None:
    """The row's columns from a DetectorCheck, its status, and why it is not exact."""
    from ..verification import EXACT, TOLERANCE

    columns = [float(c.relative) for c in check.pre_nms.values()] + [None] * 4
    result.loc, result.conf, result.priors, result.decoded = columns[:4]
    if check.detections is not None:
        result.detections, result.detections_match = str(check.detections), check.detections.ok
    _record_local(check.local, result)
    if not check.sensitivity >= 100 * TOLERANCE:
        result.status = "error"
        result.message = f"the class scores barely depend on the input ({check.sensitivity:.3g}): not a test"
    elif check.detections is not None and check.detections.gluoncv == 0:
        result.status = "error"
        result.message = "GluonCV found no detections: the set comparison would be vacuous"
    else:
        result.status = check.status
        if check.status != EXACT:
            result.message = _detector_message(check)


# The names before YOLOv3 shared them.
SSDZooResult, check_ssd_model = DetectorZooResult, check_detector_model

ALL_MODELS = CLASSIFICATION_MODELS + SSD_MODELS + YOLO_MODELS


def _is_detector(family: str) -> bool:
    """A detector row (SSD or YOLOv3)."""
    return family.startswith(("ssd", "yolo"))


def select_models(families: Iterable[str] = (), models: Iterable[str] = ()) -> list[tuple[str, str, int]]:
    families, models = set(families), set(models)
    known = {m for m, _, _ in ALL_MODELS}
    unknown = models - known
    if unknown:
        raise Gluon2CaffeError(f"not in the zoo lists: {sorted(unknown)}")
    known_families = {f for _, f, _ in ALL_MODELS}
    if families - known_families:
        raise Gluon2CaffeError(f"unknown families {sorted(families - known_families)}; known: {sorted(known_families)}")
    return [
        entry for entry in ALL_MODELS if (not families or entry[1] in families) and (not models or entry[0] in models)
    ]


def _worker(entry: tuple[str, str, int], runtime: str) -> dict:
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("MXNET_SUBGRAPH_BACKEND", "NONE")  # hooks on internal outputs need the plain executor
    check = check_detector_model if _is_detector(entry[1]) else check_model
    return asdict(check(*entry, runtime=runtime))


def _row(data: dict) -> ZooResult | DetectorZooResult:
    return DetectorZooResult(**data) if _is_detector(data["family"]) else ZooResult(**data)


def run_zoo(
    entries: list[tuple[str, str, int]],
    jobs: int = 1,
    runtime: str = "caffe",
    progress: Callable[[ZooResult], None] | None = None,
) -> list[ZooResult]:
    """Check `entries` in `jobs` worker processes (each imports MXNet once and checks many models). A worker that
    dies (a runtime abort, out of memory) costs only the model it was on: that model is reported as an error."""
    import multiprocessing

    results: dict[str, ZooResult] = {}
    pending = list(entries)
    workers = max(1, jobs)
    while pending:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            futures = {pool.submit(_worker, entry, runtime): entry for entry in pending}
            try:
                for future in as_completed(futures):
                    result = _row(future.result())
                    results[result.model] = result
                    if progress:
                        progress(result)
                pending = []
            except BrokenProcessPool:
                pending = [e for e in pending if e[0] not in results]
                if workers == 1 or len(pending) == 1:
                    # Alone in its pool, the first unfinished model is the one that killed the worker.
                    dead = pending.pop(0)
                    results[dead[0]] = _row(
                        dict(
                            model=dead[0],
                            family=dead[1],
                            input_size=dead[2],
                            status="error",
                            message="the worker died (the runtime aborted or ran out of memory)",
                        )
                    )
                    if progress:
                        progress(results[dead[0]])
                    workers = max(1, jobs)
                else:
                    workers = 1  # rerun the next models one at a time to find the culprit
    return [results[m] for m, _, _ in entries]


# -- docs/model_zoo.md -------------------------------------------------------------------------------------------


def load_results(path: Path) -> dict[str, dict]:
    if path.exists():
        return {row["model"]: row for row in json.loads(path.read_text())}
    return {}


def save_results(path: Path, results: list[ZooResult]) -> dict[str, dict]:
    """Merge `results` into the JSON beside the table (so a --family run updates its rows) and return all rows."""
    rows = load_results(path)
    rows.update({r.model: asdict(r) for r in results})
    order = [m for m, _, _ in ALL_MODELS]
    merged = [rows[m] for m in order if m in rows]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(merged, indent=1) + "\n")
    return {row["model"]: row for row in merged}


def headline(rows: dict[str, dict]) -> str:
    classification = [r for r in rows.values() if not _is_detector(r["family"])]
    exact = sum(1 for r in classification if r["status"] == "exact")
    text = f"{exact}/{len(CLASSIFICATION_MODELS)} classification models exact end to end"
    for models, kind in ((SSD_MODELS, "SSD"), (YOLO_MODELS, "YOLOv3")):
        done = [rows[m] for m, _, _ in models if m in rows]
        if done:
            text += f"; {sum(1 for r in done if r['status'] == 'exact')}/{len(models)} {kind} detectors exact"
    by_layer = sum(1 for r in rows.values() if r["status"] == "exact by layer")
    if by_layer:
        text += f" ({by_layer} more exact by layer only: see the end)"
    return text


def local_summary(rows: dict[str, dict]) -> str:
    """One line on the layer-local errors over the table: how many models were checked by layer, and the spread of
    their largest segment errors."""
    local = sorted(r["local"] for r in rows.values() if r.get("local") is not None)
    if not local:
        return "No layer-local check in this table."
    segments = sum(r["local_segments"] or 0 for r in rows.values() if r.get("local") is not None)
    within = sum(1 for v in local if v <= 1e-4)
    return (
        f"Layer-local check: {len(local)} models, {segments} segments, each run on MXNet's own inputs; the largest"
        f" segment error of a model is {np.median(local):.2g} at the median and {local[-1]:.2g} at worst"
        f" ({within}/{len(local)} models with every segment within the tolerance)."
    )


def _local_cell(r: dict) -> str:
    """The local-error column: largest segment error and the number of segments."""
    if r.get("local") is None:
        return ""
    return f"{r['local']:.2g} ({r['local_segments']})"


def _ssd_section(rows: dict[str, dict]) -> list[str]:
    fmt = lambda v: "" if v is None else format(v, ".2g")  # noqa: E731
    lines = [
        "",
        "## SSD detectors",
        "",
        "`convert_ssd_model` (PriorBox or constant anchors + caffe-ssd DetectionOutput), merge_bn and to_bgr on,"
        " live random weights with statistics taken on synthetic scenes and the heads calibrated so scores spread,"
        " run in pycaffe on a synthetic scene (tests/test_ssd.py runs the same check). Pre-NMS columns are relative"
        " errors against GluonCV's own decoder inputs/outputs (priors and decoded boxes: pixels / image size;"
        " decoded = Caffe's DetectionOutput decoding of every anchor). `exact`: all within 1e-4 and the detections"
        " equal GluonCV's as sets (label, score within 1e-4, box within 1e-4 of the image size).",
        "",
        "| model | input | status | anchors | loc | conf | priors | decoded | detections | local error (segments) "
        "| Caffe layers | conversion (s) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    lines += _detector_rows(
        rows, SSD_MODELS, lambda r: [r["anchors"]] + [fmt(r[k]) for k in ("loc", "conf", "priors", "decoded")]
    )
    lines += [
        "",
        "## YOLOv3 detectors",
        "",
        "`convert_yolo_model` (GluonCV's YOLOOutputV3 decoding from exact Caffe layers + caffe-ssd DetectionOutput),"
        " same recipe as the SSD rows. Pre-NMS columns: the decoded boxes (pixels) and class scores against GluonCV's"
        " YOLOOutputV3 outputs, relative errors. `exact`: both within 1e-4 and the detections equal GluonCV's as"
        " sets.",
        "",
        "| model | input | status | boxes | scores | detections | local error (segments) | Caffe layers "
        "| conversion (s) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    lines += _detector_rows(rows, YOLO_MODELS, lambda r: [fmt(r["loc"]), fmt(r["conf"])])
    return lines


def _detector_rows(rows: dict[str, dict], models: list, middle: Callable[[dict], list[str]]) -> list[str]:
    """Table rows: model | input | status | `middle` columns | detections | Caffe layers | conversion (s)."""
    lines = []
    for model, _family, size in models:
        r = rows.get(model)
        if r is None:
            lines.append(f"| {model} | {size}x{size} | not run |" + "  |" * (len(middle(_EMPTY_ROW)) + 4))
            continue
        match = {True: "match", False: "DIFFER", None: ""}[r["detections_match"]]
        detail = r["detections"].split(" (")[0] if r["detections"] else ""
        seconds = "" if r["convert_seconds"] is None else format(r["convert_seconds"], ".2f")
        cells = [
            model,
            f"{size}x{size}",
            r["status"],
            *middle(r),
            f"{match}: {detail}",
            _local_cell(r),
            str(r["layers"] or ""),
            seconds,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


_EMPTY_ROW = {k: None for k in ("anchors", "loc", "conf", "priors", "decoded")}


def write_markdown(path: Path, rows: dict[str, dict], command: str) -> str:
    total = len(ALL_MODELS)
    lines = [
        "# GluonCV model zoo coverage",
        "",
        f"**{headline(rows)}** in the real Caffe (max|caffe - mxnet| <= 1e-4 * max(1, max|mxnet|)).",
        "",
        local_summary(rows),
        "",
        f"Generated by `{command}` on {platform.machine()} / Python {platform.python_version()}"
        f" ({len(rows)}/{total} models in this table). Each model: live random weights (He-normal, BatchNorm"
        " statistics from its own activations, perturbed), converted with merge_bn=True and to_bgr=True, run in"
        " pycaffe on a both-sign input (BGR), compared with MXNet on the same input (RGB); the MXNet output must"
        " also depend on the input, so no row passes vacuously. Local error: the layer-local check"
        " (verification/local.py): every segment of Caffe layers run on MXNet's own values of its inputs, the largest"
        " relative error over the segments (their count in brackets); it proves each layer however"
        " ill-conditioned the net. `exact` = end to end AND every segment within the tolerance (AND, for"
        " detectors, the same detections). The same check runs in `make test` (tests/test_zoo.py).",
        "",
        "## Classification models",
        "",
        "| model | family | input | status | max abs error | relative error | local error (segments) | Caffe layers "
        "| conversion (s) | note |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for model, family, size in CLASSIFICATION_MODELS:
        r = rows.get(model)
        if r is None:
            lines.append(f"| {model} | {family} | {size}x{size} | not run |  |  |  |  |  |  |")
            continue
        fmt = lambda v, spec: "" if v is None else format(v, spec)  # noqa: E731
        lines.append(
            f"| {model} | {family} | {size}x{size} | {r['status']} | {fmt(r['max_abs'], '.3g')} | "
            f"{fmt(r['relative'], '.3g')} | {_local_cell(r)} | {fmt(r['layers'], 'd')} | "
            f"{fmt(r['convert_seconds'], '.2f')} | {r['message'].replace('|', '/')} |"
        )
    lines += _ssd_section(rows)
    others = [r for r in rows.values() if r["status"] != "exact"]
    lines += [
        "",
        "## Not exact end to end",
        "",
        "`exact by layer`: every segment of the converted net matches MXNet within the tolerance when it is fed"
        " MXNet's own values of its inputs (the local error column), and the detections (detectors) equal"
        " GluonCV's, but the end-to-end output is beyond the tolerance: the random-weight network amplifies float32"
        " rounding (the float64 numbers say by how much). Not counted as exact above.",
        "",
    ]
    lines += [f"- {r['model']}: {r['status']}: {r['message']}" for r in others] or ["None."]
    text = "\n".join(lines) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return text
