"""Model-zoo coverage: convert GluonCV models on live random weights, run them in the real Caffe, compare with MXNet.

Developer tooling (the package's own coverage tables), not API. `check_model` is the single check behind both the
`gluon2caffe zoo` command (report.py writes docs/model_zoo.md from its rows) and the parametrized zoo test, so
every row of the coverage table is backed by a run of the same code in the real Caffe. With `extra_runtimes` the
same saved files then run in each of those runtimes too (`gluon2caffe zoo --runtime mnn --runtime ncnn`,
docs/runtimes.md): one conversion per model, a RuntimeResult per runtime inside the row.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from ..errors import Gluon2CaffeError
from ..verification.compare import EXACT
from ..verification.precision import FLOAT16, FP16_TOLERANCE, WITHIN_FP16, compare_in, precision_of, verdict_in
from .catalog import OUTSIDE_MODELS, RUNNABLE, TASK_NAMES, ZooEntry, lookup

log = logging.getLogger(__name__)

# Inputs of both signs with the spread the BatchNorm statistics were taken at. A larger spread shifts every
# BatchNorm's input and compounds through deep nets until float32 rounding alone exceeds the tolerance (measured:
# se_resnet50_v1 at 2x: MXNet float32 vs float64 differ by 4e-4 relative; at 1x by 3e-6). Nets with clip(0, 6) get
# 3x, so activations really pass 6 (the converted ReLU6 is otherwise untested).
INPUT_SCALE = 1.0
CLIP_FAMILIES = {"mobilenetv2": 3.0, "mobilenetv3": 3.0}
SEED = 0


@dataclass
class RuntimeResult:
    """The model's converted files run in one more runtime (verification/runtimes.py at its full-float32 settings),
    compared end to end with MXNet (detectors: the family's check). There is no layer-local check outside pycaffe,
    so the verdict is exact or mismatch; a float16 runtime (rknn) is judged by the float16 rule instead
    (verification/precision.py): `within fp16` or mismatch, never exact. error: the runtime's converter or loader
    refused the files, or it crashed (the message says which, with the runtime's own words)."""

    # exact | within fp16 | mismatch | not conclusive | error | not run | refused (the runtime's own --target refuses
    # the model, with the reason)
    status: str
    relative: float | None = None  # classifiers: the worst output; detectors: the largest pre-NMS error
    max_abs: float | None = None  # classifiers: the worst output's
    seconds: float | None = None  # the runtime's own conversion, load and forward (classifiers), or its whole check
    message: str = ""
    pre_nms: dict[str, float] = field(default_factory=dict)  # detectors: relative error of each pre-NMS tensor
    detections: str = ""  # detectors: the detections against GluonCV's, as sets
    detections_match: bool | None = None

    @property
    def exact(self) -> bool:
        return self.status == "exact"

    @property
    def passed(self) -> bool:
        """Exact, or within fp16 in a float16 runtime (that runtime's pass)."""
        return self.status in (EXACT, WITHIN_FP16)


# Row fields that only runtime sweeps fill; docs/model_zoo.json is written without them.
RUNTIME_FIELDS = ("runtimes", "seconds")


@dataclass
class ZooResult:
    model: str
    family: str
    input_size: int | tuple[int, ...]  # an int s: (1, 3, s, s); else the whole input shape (zoo_models.input_shape)
    status: str  # exact | exact by layer | mismatch | not conclusive | refused | error (verification.judge)
    max_abs: float | None = None
    relative: float | None = None
    layers: int | None = None
    convert_seconds: float | None = None
    message: str = ""
    local: float | None = None  # the largest segment error (relative) of the layer-local check
    local_segments: int | None = None
    local_worst: str = ""  # the MXNet node of that segment
    local_constant: int | None = None  # segments whose MXNet values are constant (not conclusive; counted)
    runtimes: dict[str, RuntimeResult] = field(default_factory=dict)  # the extra runtimes' results, by name
    seconds: float | None = None  # the whole check (runtime sweeps only)

    @property
    def exact(self) -> bool:
        return self.status == "exact"

    @property
    def exact_everywhere(self) -> bool:
        """Exact in pycaffe and passed in every extra runtime (exact; a float16 runtime: within fp16)."""
        return self.exact and all(r.passed for r in self.runtimes.values())


# Called with (stage, row so far) before each runtime's part of a check: the sweep's journal of where a worker was.
StageHook = Callable[[str, object], None]


def check_model(
    entry: ZooEntry,
    runtime: str = "caffe",
    extra_runtimes: Sequence[str] = (),
    on_stage: StageHook | None = None,
) -> ZooResult:
    """Build `model` with live random weights (models.load_zoo_model), convert it (merge_bn, to_bgr on 3-channel
    inputs, also 5-D clips), run it in `runtime`, compare every output end to end (dense outputs: class scores,
    segmentation maps, pose heatmaps, depth; CenterNet: its decoder's inputs), and (pycaffe) check every segment on
    MXNet's own inputs; then run the same files in each of `extra_runtimes` (each in a child process) and compare
    those end to end (`result.runtimes`)."""
    from ..api import convert
    from .loader import load_zoo_model, release_memory

    model, family, shape = entry.name, entry.family, entry.input_shape
    result = ZooResult(model, family, entry.input_size, "error")
    start = time.perf_counter()
    net = None
    try:
        _enter(on_stage, runtime, result)
        net = load_zoo_model(model, shape)  # the CLI's and the tests' random net too
        try:
            conversion = convert(net, shape, to_bgr=shape[1] == 3, merge_bn=True)
        except Gluon2CaffeError as exc:
            result.status, result.message = "refused", refusal_text(exc)
            return result
        result.convert_seconds = round(conversion.seconds, 3)
        result.layers = len(conversion.text_net.layer)
        x, x2 = _classifier_inputs(shape, family)
        references = _references(net, x, x2, conversion.head)
        runs = _run_classifier(conversion, net, x, runtime, _extras(extra_runtimes, runtime), result, on_stage)
        outputs = _caffe_outputs(conversion)
        mxnet_references = references
        if conversion.head is not None:
            references, ties = _resolve_ties(net, x, conversion.head, runs.got[outputs[0]], mxnet_references)
        _judge_classifier(net, x, runs.got, outputs, references, runs.local, result)
        if conversion.head is not None and ties:
            result.message = "; ".join(m for m in (result.message, f"{ties} near-tie peaks decided as Caffe did") if m)
        magnitudes = runs.local.magnitudes if runs.local is not None else {}
        for name, run in runs.elsewhere.items():
            judged_against, runtime_ties = references, 0
            if conversion.head is not None and run[0] is not None and outputs[0] in run[0]:
                # CenterNet's peaks: the runtime's near-ties decided as that runtime did (not as pycaffe did)
                judged_against, runtime_ties = _resolve_ties(
                    net, x, conversion.head, run[0][outputs[0]], mxnet_references
                )
            result.runtimes[name] = _judge_in_runtime(name, net, x, run, outputs, judged_against, magnitudes)
            if runtime_ties:
                note = f"{runtime_ties} near-tie peaks decided as {name} did"
                result.runtimes[name].message = "; ".join(m for m in (result.runtimes[name].message, note) if m)
            if not result.runtimes[name].passed:
                own = functools.partial(_convert_classifier, net, shape)
                result.runtimes[name] = _refused_for_target(name, own, result.runtimes[name])
        return result
    except Exception as exc:  # noqa: BLE001 - one model's failure is a row in the table, not the end of the run
        log.exception("%s failed", model)
        result.status, result.message = "error", f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        return result
    finally:
        del net
        release_memory()
        if extra_runtimes:
            result.seconds = round(time.perf_counter() - start, 1)


def _convert_classifier(net, shape: tuple[int, ...], target: str):
    from ..api import convert

    return convert(net, shape, to_bgr=shape[1] == 3, merge_bn=True, target=target)


def _convert_detector(net, shape: tuple[int, ...], detector, target: str):
    from ..api import ConvertOptions, convert_with
    from ..detectors import DetectorOptions

    return convert_with(net, ConvertOptions(shape, target=target), DetectorOptions(), detector)


def _refused_for_target(runtime: str, convert_for: Callable, ran: RuntimeResult) -> RuntimeResult:
    """A runtime that failed on the `any` files: when the converter refuses the runtime's own target for this model
    (converters/context.py TARGETS: what that runtime cannot hold or load), the row says so, with the reason, and
    keeps what the `any` files did; otherwise the failure stands as it is."""
    from ..converters.context import TARGETS

    if runtime not in TARGETS:
        return ran
    try:
        convert_for(runtime)
    except Gluon2CaffeError as exc:
        did = f"{ran.status}: {ran.message}" if ran.message else ran.status
        message = f"--target {runtime} refuses it: {refusal_text(exc)} (the default files there: {did})"
        return replace(ran, status="refused", message=message)
    return ran


def refusal_text(exc: Exception, limit: int = 400) -> str:
    """The converter's refusal as one table cell: its lines joined (the unsupported-operator error lists the ops
    on the lines after the first)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = " ".join(lines)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _extras(extra_runtimes: Sequence[str], runtime: str) -> list[str]:
    """The extra runtimes once each, without the one the row is checked in."""
    return [name for name in dict.fromkeys(extra_runtimes) if name != runtime]


def _enter(on_stage: StageHook | None, stage: str, result) -> None:
    if on_stage is not None:
        on_stage(stage, result)


# How _classifier_inputs makes the second input (the input-dependence check's).
SECOND_INPUT = f"the next draw of the same both-sign normal noise (seed {SEED + 1})"


def _classifier_inputs(shape: tuple[int, ...], family: str) -> tuple[np.ndarray, np.ndarray]:
    """The input compared on and a second one (the output must depend on the input), both signs."""
    rng = np.random.RandomState(SEED + 1)
    scale = CLIP_FAMILIES.get(family, INPUT_SCALE)
    x = (rng.normal(0, 1, shape) * scale).astype(np.float32)
    x2 = (rng.normal(0, 1, shape) * scale).astype(np.float32)
    return x, x2


def _references(net, x: np.ndarray, x2: np.ndarray, head=None) -> tuple[list, list]:
    """MXNet's outputs on the input compared on, and on the second input (the output must depend on the input).
    A network converted up to a decoder (CenterNet: `head.tensors`) is compared at the decoder's inputs."""
    from ..verification import mxnet_forward
    from ..verification.detectors import graph_reference

    if head is None:
        return mxnet_forward(net, x), mxnet_forward(net, x2)
    tensors = dict(enumerate(head.tensors))
    return tuple(list(graph_reference(net, inputs, tensors).values()) for inputs in (x, x2))


def _resolve_ties(net, x: np.ndarray, head, got_peaks: np.ndarray, references) -> tuple[tuple, int]:
    """CenterNet: MXNet's NMS'd heatmap with its near-ties decided as Caffe decided them (see
    verification.detectors.resolve_peak_ties), and how many positions that changed."""
    from ..verification.detectors import graph_reference, resolve_peak_ties

    first, second = references
    heatmap = graph_reference(net, x, {"h": head.heatmap})["h"]
    peaks, ties = resolve_peak_ties(first[0], heatmap, got_peaks)
    return ([peaks, *first[1:]], second), ties


def _caffe_outputs(conversion) -> list[str]:
    """The converted net's outputs, in the order of MXNet's (a detector's: its plan's outputs)."""
    if conversion.head is not None:
        return conversion.head.output_blobs()
    return list(conversion.graph.outputs)


@dataclass
class _ClassifierRuns:
    """What ran on one model's saved files: the outputs in the primary runtime, its layer-local check (pycaffe),
    and per extra runtime (outputs or None, seconds, error message)."""

    got: dict
    local: object = None
    elsewhere: dict[str, tuple] = field(default_factory=dict)


def _run_classifier(
    conversion, net, x: np.ndarray, runtime: str, extra_runtimes: list[str], result: ZooResult, on_stage
) -> _ClassifierRuns:
    """The converted net's outputs on x (BGR) in `runtime`, (pycaffe) the layer-local check, then the outputs in
    each extra runtime, all from the same saved files."""
    from ..caffe.io import save_model
    from ..verification import MXNetReference, forward
    from .loader import release_memory

    with tempfile.TemporaryDirectory(prefix="gluon2caffe-zoo-") as tmp:
        prototxt, caffemodel = save_model(conversion.text_net, conversion.binary_weights, os.path.join(tmp, "m"))
        del conversion.binary_weights
        to_bgr = x.shape[1] == 3
        feed = {"data": np.ascontiguousarray(x[:, [2, 1, 0]]) if to_bgr else x}
        outputs = _caffe_outputs(conversion)
        runs = _ClassifierRuns(forward(runtime, prototxt, caffemodel, feed, outputs))
        if runtime == "caffe":
            reference = MXNetReference(net, tuple(x.shape), "data")
            if conversion.detector is not None:
                reference.aliases.update(conversion.detector.aliases(conversion.head))
            runs.local = _local_check(prototxt, caffemodel, reference, x, result, to_bgr)
            del reference
            release_memory()  # the check's Caffe net and MXNet chunks, before the other runtimes' children start
        for name in extra_runtimes:
            _enter(on_stage, name, result)
            runs.elsewhere[name] = _run_elsewhere(name, prototxt, caffemodel, feed, outputs)
    return runs


def _run_elsewhere(runtime: str, prototxt: str, caffemodel: str, feed: dict, outputs: list[str]) -> tuple:
    """(outputs or None, seconds, error message) of the files in another runtime, run in a child process."""
    from .child_forward import forward_in_child

    start = time.perf_counter()
    try:
        got, error = forward_in_child(runtime, prototxt, caffemodel, feed, outputs), ""
    except Exception as exc:  # noqa: BLE001 - the runtime's refusal or crash is its result, not the row's
        got, error = None, error_text(exc)
    return got, round(time.perf_counter() - start, 2), error


def error_text(exc: Exception) -> str:
    """A runtime's failure as one table cell. The runtimes' own errors say which runtime and tool failed; a
    multi-line one (a tool's output) is cut to its first and last lines (the tail ends with the reason)."""
    from ..verification.runtimes import RuntimeFailedError, RuntimeUnavailableError

    text = (
        str(exc) if isinstance(exc, (RuntimeFailedError, RuntimeUnavailableError)) else f"{type(exc).__name__}: {exc}"
    )
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) <= 1:
        return lines[0] if lines else type(exc).__name__
    return f"{lines[0]} [...] {lines[-1]}"


def _judge_classifier(net, x: np.ndarray, got: dict, outputs: list[str], references, local, result) -> None:
    """Compare with MXNet end to end, refuse a vacuous comparison, and set the row's status and message."""
    worst, result.status, result.message = _classifier_verdict(net, x, got, outputs, references, local, "Caffe")
    result.max_abs, result.relative = float(worst.max_abs), float(worst.relative)


def _judge_in_runtime(
    runtime: str, net, x: np.ndarray, run: tuple, outputs: list[str], references, magnitudes=None
) -> RuntimeResult:
    """An extra runtime's outputs judged like pycaffe's, without the layer-local check (the output magnitudes it
    measured in pycaffe apply: the same files on the same input)."""
    got, seconds, error = run
    if got is None:
        return RuntimeResult("error", seconds=seconds, message=error)
    try:
        worst, status, message = _classifier_verdict(net, x, got, outputs, references, None, runtime, magnitudes)
        status = verdict_in(runtime, status)
    except Exception as exc:  # noqa: BLE001 - e.g. an output of another size: this runtime's result, not the row's
        return RuntimeResult("error", seconds=seconds, message=error_text(exc))
    return RuntimeResult(status, float(worst.relative), float(worst.max_abs), seconds, message)


def _classifier_verdict(net, x, got: dict, outputs: list[str], references, local, label: str, magnitudes=None) -> tuple:
    """(worst output comparison, status, message) of `got` against MXNet (verification.compare, with the magnitude
    the layer-local check measured for each output; verification.input_dependence on the second input; judge);
    `label` names the runtime in the float64 note; a float16 runtime's outputs are compared under the float16 rule
    (verification/precision.py: its own magnitude, no float64 note)."""
    from ..verification import EXACT, MISMATCH, NOT_CONCLUSIVE, TOLERANCE, input_dependence, judge

    reference, other = references
    if magnitudes is None:
        magnitudes = local.magnitudes if local is not None else {}
    comparisons = {
        name: compare_in(label, got[name], ref, magnitudes.get(name)) for name, ref in zip(outputs, reference)
    }
    worst = max(comparisons.values(), key=lambda c: c.relative)
    dependence = input_dependence(dict(zip(outputs, reference)), dict(zip(outputs, other)), comparisons, SECOND_INPUT)
    finite = all(c.reference_finite for c in comparisons.values())
    status = judge(all(c.within for c in comparisons.values()), local, finite, dependence.ok)
    if status == MISMATCH and local is not None and not local.ok:
        return worst, status, _local_failure(local)
    if status == NOT_CONCLUSIVE:
        reason = dependence.reason(remedy=False) if not dependence.ok else local.inconclusive_reason(remedy=False)
        return worst, status, reason
    if status != EXACT:
        message = f"end-to-end relative error {worst.relative:.3g}"
        if precision_of(label) == FLOAT16:
            return worst, status, f"{message} > {FP16_TOLERANCE:.2g} (the float16 rule)"
        return worst, status, f"{message} > {TOLERANCE:g}" + _float64_note(net, x, got, outputs, reference, label)
    return worst, status, ""


def _local_check(prototxt: str, caffemodel: str, reference, x: np.ndarray, result, to_bgr: bool = True) -> object:
    """The layer-local check (verification/local.py); records its largest segment error in the row."""
    from ..verification.local import check_local

    local = check_local(prototxt, caffemodel, reference, x, to_bgr=to_bgr)
    _record_local(local, result)
    return local


def _record_local(local, result) -> None:
    if local is None:
        return
    worst = local.worst
    result.local, result.local_segments = local.max_relative, len(local.segments)
    result.local_constant = len(local.constant)
    result.local_worst = f"{worst.op} {worst.node}" if worst else ""


def _local_failure(local) -> str:
    from ..verification import local_failure

    return local_failure(local.first_failure)


def _detector_message(check) -> str:
    """Why a detector row is not exact, with numbers."""
    if check.local is not None and not check.local.ok:
        return _local_failure(check.local)
    text = f"max pre-NMS relative error {check.max_pre_nms:.3g}; detections: {check.detections}"
    if check.float64 is not None:
        label = "Caffe" if check.runtime == "caffe" else check.runtime
        text += f"; vs float64: {label} {check.float64[0]:.2g}, MXNet float32 {check.float64[1]:.2g}"
    return text


def _float64_note(net, x, got, outputs, reference, label: str = "Caffe") -> str:
    """How far MXNet's own float32 output is from the same net in float64, and the runtime's: ', MXNet float32 itself
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
    if [t.shape for t in truth] != [r.shape for r in reference]:  # compared at a decoder's inputs (CenterNet)
        return ""
    caffe_err = max(compare(got[n].reshape(t.shape), t).relative for n, t in zip(outputs, truth))
    mxnet_err = max(compare(r, t).relative for r, t in zip(reference, truth))
    return f"; MXNet float32 itself {mxnet_err:.2g} from float64 ({label} {caffe_err:.2g})"


@dataclass
class DetectorZooResult:
    """One detector row: errors before NMS (relative; priors and decoded boxes relative to the image size) and
    whether the detections equal GluonCV's as sets. The columns are the family's pre-NMS comparisons in order:
    SSD loc, conf, priors, decoded; YOLOv3 boxes, scores (in loc, conf)."""

    model: str
    family: str
    input_size: int
    status: str  # exact | exact by layer | mismatch | not conclusive | refused | error (verification.judge)
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
    local_constant: int | None = None
    runtimes: dict[str, RuntimeResult] = field(default_factory=dict)  # the extra runtimes' results, by name
    seconds: float | None = None  # the whole check (runtime sweeps only)
    exported: str = ""  # the files net.export() writes, converted: "same files" (byte-identical) or what differs

    @property
    def exact(self) -> bool:
        return self.status == "exact"

    @property
    def exact_everywhere(self) -> bool:
        """Exact in pycaffe and passed in every extra runtime (exact; a float16 runtime: within fp16)."""
        return self.exact and all(r.passed for r in self.runtimes.values())

    @property
    def max_pre_nms(self) -> float | None:
        values = [v for v in (self.loc, self.conf, self.priors, self.decoded) if v is not None]
        return max(values) if values else None


def check_detector_model(
    entry: ZooEntry,
    runtime: str = "caffe",
    extra_runtimes: Sequence[str] = (),
    on_stage: StageHook | None = None,
) -> DetectorZooResult:
    """Build a detector with live random weights, convert it (merge_bn, to_bgr; SSD: exact anchors), run it in
    `runtime` on a synthetic scene and compare with GluonCV before NMS and after (its family's check); then the
    family's check of the same files in each of `extra_runtimes` (`result.runtimes`)."""
    from ..api import ConvertOptions, convert_with, save_model
    from ..detectors import DetectorOptions, detector_for
    from .loader import load_zoo_model, release_memory

    model, shape = entry.name, entry.input_shape
    result = DetectorZooResult(model, entry.family, entry.input_size, "error")
    start = time.perf_counter()
    net = None
    try:
        _enter(on_stage, runtime, result)
        net = load_zoo_model(model, shape)
        detector = detector_for(net)
        try:
            conversion = convert_with(net, ConvertOptions(shape), DetectorOptions(), detector)
        except Gluon2CaffeError as exc:
            result.status, result.message = "refused", refusal_text(exc)
            return result
        result.convert_seconds = round(conversion.seconds, 3)
        result.layers = len(conversion.text_net.layer)
        result.anchors = conversion.detection.mode if conversion.detection is not None else "decoded"
        with tempfile.TemporaryDirectory(prefix="gluon2caffe-zoo-") as tmp:
            prototxt, caffemodel = save_model(conversion.text_net, conversion.binary_weights, os.path.join(tmp, "m"))
            del conversion.binary_weights
            # Deployment has the exported files: convert them too, and check those against MXNet running them.
            reference, result.exported = _exported_twin(net, shape, detector, prototxt, caffemodel, tmp)
            check = _detector_check(detector, reference, conversion.head, prototxt, caffemodel, shape, runtime)
            _record_detector_check(check, result)
            for name in _extras(extra_runtimes, runtime):
                _enter(on_stage, name, result)
                result.runtimes[name] = _detector_in_runtime(
                    detector, reference, conversion.head, prototxt, caffemodel, shape, name
                )
                if not result.runtimes[name].passed:
                    own = functools.partial(_convert_detector, net, shape, detector)
                    result.runtimes[name] = _refused_for_target(name, own, result.runtimes[name])
        return result
    except Exception as exc:  # noqa: BLE001 - one model's failure is a row in the table, not the end of the run
        log.exception("%s failed", model)
        result.status, result.message = "error", f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        return result
    finally:
        del net
        release_memory()
        if extra_runtimes:
            result.seconds = round(time.perf_counter() - start, 1)


def _exported_twin(net, shape: tuple[int, ...], detector, prototxt: str, caffemodel: str, tmp: str) -> tuple:
    """(the model the check runs, what its files are): net.export() as a user does after training, converted; when
    it gives byte-identical files, the check runs against the exported files in MXNet, else against the live net."""
    import mxnet as mx

    from ..api import ConvertOptions, convert_with, save_model
    from ..detectors import DetectorOptions
    from ..frontend.exported import load_exported

    net.hybridize()
    net(mx.nd.zeros(shape))
    prefix = os.path.join(tmp, net.name)  # the Caffe net is named after the prefix: the live net's name
    net.export(prefix)
    model = load_exported(prefix)
    try:
        twin = convert_with(model, ConvertOptions(shape), DetectorOptions(), detector)
    except Gluon2CaffeError as exc:
        return net, f"refused: {str(exc).splitlines()[0]}"
    files = save_model(twin.text_net, twin.binary_weights, os.path.join(tmp, "exported"))
    same = [open(a, "rb").read() == open(b, "rb").read() for a, b in zip((prototxt, caffemodel), files)]
    if all(same):
        return model, "same files"
    return net, "DIFFER: " + " and ".join(n for n, s in zip(("prototxt", "caffemodel"), same) if not s)


def _detector_check(detector, net, head, prototxt: str, caffemodel: str, shape: tuple[int, ...], runtime: str):
    """The family's check (verification/detectors.py) of the saved files in `runtime`, on the sweep's scenes."""
    from ..verification import synthetic_scene
    from ..verification.detectors import DetectorRun

    scene, other = synthetic_scene(shape, SEED + 1), synthetic_scene(shape, SEED + 2)
    return detector.check(DetectorRun(net, head, (prototxt, caffemodel), scene, runtime, x2=other))


def _detector_in_runtime(detector, net, head, prototxt, caffemodel, shape, runtime: str) -> RuntimeResult:
    """The family's check in an extra runtime as a RuntimeResult; the runtime's refusal is its message."""
    start = time.perf_counter()
    try:
        check = _detector_check(detector, net, head, prototxt, caffemodel, shape, runtime)
    except Exception as exc:  # noqa: BLE001 - the runtime's refusal or error is its result, not the row's
        return RuntimeResult("error", seconds=round(time.perf_counter() - start, 2), message=error_text(exc))
    status, message = _detector_verdict(check)
    return RuntimeResult(
        status,
        relative=float(check.max_pre_nms),
        seconds=round(time.perf_counter() - start, 2),
        message=message,
        pre_nms={name: float(c.relative) for name, c in check.pre_nms.items()},
        detections=str(check.detections or ""),
        detections_match=None if check.detections is None else check.detections.ok,
    )


def _record_detector_check(check, result: DetectorZooResult) -> None:
    """The row's columns from a DetectorCheck, its status, and why it is not exact."""
    columns = [float(c.relative) for c in check.pre_nms.values()] + [None] * 4
    result.loc, result.conf, result.priors, result.decoded = columns[:4]
    if check.detections is not None:
        result.detections, result.detections_match = str(check.detections), check.detections.ok
    _record_local(check.local, result)
    result.status, result.message = _detector_verdict(check)


def _detector_verdict(check) -> tuple[str, str]:
    """(status, message) of a DetectorCheck: its status (a comparison that proves nothing is `not conclusive`), an
    error when GluonCV found nothing (the set comparison would be vacuous)."""
    from ..verification import EXACT, NOT_CONCLUSIVE

    if check.status == NOT_CONCLUSIVE:
        return check.status, check.reason
    if check.detections is not None and check.detections.gluoncv == 0:
        return "error", "GluonCV found no detections: the set comparison would be vacuous"
    return check.status, "" if check.status == EXACT else _detector_message(check)


def is_detector_row(row: dict) -> bool:
    """A row of a model whose check compares detections (the catalog's task says; SSD, YOLOv3)."""
    entry = lookup(row["model"])
    return entry is not None and entry.checks_detections


def select_models(
    families: Iterable[str] = (), models: Iterable[str] = (), tasks: Iterable[str] = ()
) -> list[ZooEntry]:
    """The catalog entries of the given families, models and tasks (catalog.TASKS names); all when none is given.
    A model outside Caffe (OUTSIDE_MODELS) is refused with its reason."""
    families, models, tasks = set(families), set(models), set(tasks)
    known = {e.name for e in RUNNABLE}
    outside = {e.name: e.outside for e in OUTSIDE_MODELS}
    if models & set(outside):
        name = sorted(models & set(outside))[0]
        raise Gluon2CaffeError(f"{name} cannot be a Caffe model: {outside[name]}")
    unknown = models - known
    if unknown:
        raise Gluon2CaffeError(f"not in the zoo lists: {sorted(unknown)}")
    known_families = {e.family for e in RUNNABLE}
    if families - known_families:
        raise Gluon2CaffeError(f"unknown families {sorted(families - known_families)}; known: {sorted(known_families)}")
    known_tasks = set(TASK_NAMES)
    if tasks - known_tasks:
        raise Gluon2CaffeError(f"unknown tasks {sorted(tasks - known_tasks)}; known: {sorted(known_tasks)}")
    return [
        entry
        for entry in RUNNABLE
        if (not families or entry.family in families)
        and (not models or entry.name in models)
        and (not tasks or entry.task.name in tasks)
    ]


# How long an interrupted worker gets to remove its temporary files (it handles SIGTERM between Python steps; a long
# MXNet or Caffe call finishes first) before it is killed.
WORKER_GRACE = 10.0


def _worker_init() -> None:
    """A worker ends on SIGTERM as on Ctrl-C: the `with` blocks unwind, so its temporary folders (converted files, a
    runtime child's feed) are removed and a runtime child it waits for is stopped. It leads its own process group,
    which its runtime children (and theirs: a toolchain's own tools) join: _end_workers kills the whole group, so a
    worker killed in native code leaves no toolchain running. Ctrl-C reaches only the sweep (the workers, ignoring it
    anyway, are in their own groups), which ends them."""
    import signal
    import sys

    os.setpgrp()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(143))


def _end_workers(processes: list) -> None:
    """SIGTERM every worker, give them WORKER_GRACE seconds in all to clean up, then kill what is left of each one's
    process group (the worker if still running, and any runtime child or grandchild that outlived it)."""
    import signal

    for process in processes:
        if process.is_alive():
            process.terminate()
    deadline = time.monotonic() + WORKER_GRACE
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):  # the group is empty: the worker and its children are gone
            pass
        if process.is_alive():  # not a group leader (it died before its initializer ran)
            process.kill()


def _worker(entry: ZooEntry, runtime: str, extra_runtimes: tuple[str, ...] = (), journal: str | None = None) -> dict:
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("MXNET_SUBGRAPH_BACKEND", "NONE")  # hooks on internal outputs need the plain executor
    check = check_detector_model if entry.checks_detections else check_model
    on_stage = _journal_writer(journal, entry.name) if journal else None
    return asdict(check(entry, runtime=runtime, extra_runtimes=extra_runtimes, on_stage=on_stage))


def _journal_writer(folder: str, model: str) -> StageHook:
    """Writes where the worker is, (stage, the row so far), to folder/model.json: read back if the worker dies."""
    path = Path(folder) / f"{model}.json"
    path.unlink(missing_ok=True)  # a journal of an earlier attempt (a pool another model broke) is not this one's

    def write(stage: str, row) -> None:
        path.write_text(json.dumps({"stage": stage, "row": asdict(row)}))

    return write


def _row(data: dict) -> ZooResult | DetectorZooResult:
    data = dict(data)
    runtimes = {name: RuntimeResult(**r) for name, r in data.pop("runtimes", {}).items()}
    row = DetectorZooResult(**data) if is_detector_row(data) else ZooResult(**data)
    row.runtimes = runtimes
    return row


WHY_DIED = "(the runtime aborted or ran out of memory)"
DIED = f"the worker died {WHY_DIED}"


def _dead_row(entry: ZooEntry, journal: str | None, extra_runtimes: tuple[str, ...]):
    """The row of a model whose worker died. Where the journal says it died in an extra runtime, the row keeps
    what was checked before, that runtime gets the error and the ones after it are 'not run'."""
    model, family, size = entry.name, entry.family, entry.input_size
    path = Path(journal) / f"{model}.json" if journal else None
    saved = json.loads(path.read_text()) if path is not None and path.exists() else None
    if saved is None or saved["stage"] not in extra_runtimes:
        return _row(dict(model=model, family=family, input_size=size, status="error", message=DIED))
    row, stage = _row(saved["row"]), saved["stage"]
    row.runtimes[stage] = RuntimeResult("error", message=f"the worker died in {stage} {WHY_DIED}")
    for name in extra_runtimes[extra_runtimes.index(stage) + 1 :]:
        row.runtimes[name] = RuntimeResult("not run", message=f"the worker died in {stage} before")
    return row


def run_zoo(
    entries: list[ZooEntry],
    jobs: int = 1,
    runtime: str = "caffe",
    progress: Callable[[ZooResult], None] | None = None,
    extra_runtimes: Sequence[str] = (),
) -> list[ZooResult]:
    """Check `entries` in `jobs` worker processes (each imports MXNet once and checks many models), each also in
    `extra_runtimes`. A worker that dies (a runtime abort, out of memory) costs only the model it was on: that model
    is reported as an error (in a runtime sweep, an error of the runtime it died in, from the workers' journal)."""
    extras = tuple(extra_runtimes)
    with tempfile.TemporaryDirectory(prefix="gluon2caffe-zoo-journal-") as folder:
        return _run_pools(entries, max(1, jobs), runtime, progress, extras, folder if extras else None)


def _run_pools(entries, jobs: int, runtime: str, progress, extras: tuple[str, ...], journal: str | None) -> list:
    import multiprocessing

    results: dict[str, ZooResult] = {}
    pending = list(entries)
    workers = jobs
    while pending:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_worker_init) as pool:
            futures = {pool.submit(_worker, entry, runtime, extras, journal): entry for entry in pending}
            try:
                for future in as_completed(futures):
                    result = _row(future.result())
                    results[result.model] = result
                    if progress:
                        progress(result)
                pending = []
            except (KeyboardInterrupt, SystemExit):
                # Ctrl-C / SIGTERM (the CLI raises it as a KeyboardInterrupt): end the workers now; leaving the pool
                # would wait for their models to finish (minutes for a segmentation net)
                _end_workers(list((getattr(pool, "_processes", None) or {}).values()))
                pool.shutdown(wait=False, cancel_futures=True)
                raise
            except BrokenProcessPool:
                pending = [e for e in pending if e.name not in results]
                if workers == 1 or len(pending) == 1:
                    # Alone in its pool, the first unfinished model is the one that killed the worker.
                    dead = pending.pop(0)
                    results[dead.name] = _dead_row(dead, journal, extras)
                    if progress:
                        progress(results[dead.name])
                    workers = jobs
                else:
                    workers = 1  # rerun the next models one at a time to find the culprit
    return [results[e.name] for e in entries]
