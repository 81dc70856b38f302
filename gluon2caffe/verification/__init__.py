"""Run a converted model in a real runtime (pycaffe, OpenCV DNN) and compare it with MXNet.

`verify(...)` is the library entry point (the CLI's `gluon2caffe verify` and the tests use it): it runs the Caffe
files and the MXNet model on the same input and returns a VerificationResult with the error of every output and,
on request, of every intermediate blob that has an MXNet counterpart (Caffe blobs are named after the MXNet tensors
whose values they hold), so a user sees where a conversion goes wrong.
"""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np

from ..caffe.io import read_prototxt  # noqa: F401  (re-exported: verification's callers read prototxts)
from ..errors import InvalidCallError
from ..extras import import_mxnet
from ..ir.ops import has_rgb_axis
from .runtimes import (  # noqa: F401  (re-exported: the runtimes are part of verification's interface)
    RUNTIMES,
    Runtime,
    RuntimeUnavailableError,
    caffe_forward,
    default_runtime,
    forward,
    opencv_forward,
    register_runtime,
)

# The project's tolerance rule (README "What exact means"): max|caffe - mxnet| <= TOLERANCE * scale, where scale is
# max|mxnet| of the tensor, or the size of the computation that produced it (`magnitude`) when that is larger: no floor.
TOLERANCE = 1e-4


def rule_text(runtime: str = "caffe") -> str:
    """The rule in one line, for generated tables."""
    return f"max|{runtime} - mxnet| <= {TOLERANCE:g} * max(max|mxnet|, magnitude), no floor"


# An output proves something only when MXNet's own output moves with the input: a second input must change every
# output by at least DEPENDENCE allowances (DEPENDENCE * TOLERANCE * scale), and no output may be constant.
DEPENDENCE = 100
BGR = [2, 1, 0]
# GluonCV's preprocessing: RGB in [0, 1], then this mean and std.
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)


# Verdicts. `exact`: every output within the tolerance end to end, every segment within it on MXNet's own inputs
# (verification/local.py, where it ran) and, for a detector, the detections equal to GluonCV's; and the comparison
# proves something: MXNet's outputs depend on the input and none is constant. `exact by layer`: every segment exact
# (and the detections equal) but the end-to-end output beyond the tolerance: the network amplifies float32 rounding;
# reported with both numbers, never counted as exact. `mismatch`: a value beyond the tolerance that no layer-local
# result explains, a segment beyond it, different detections, or files whose blobs have other shapes than MXNet's
# tensors. `not conclusive`: the values agree but prove nothing (an output that does not depend on the input or is
# constant, or every segment constant): never exact, exit 1.
EXACT, BY_LAYER, MISMATCH, NOT_CONCLUSIVE = "exact", "exact by layer", "mismatch", "not conclusive"
# MXNet's own output holds NaN or inf (e.g. random weights that overflow): the input proves nothing either way.
NOT_FINITE = "not comparable: MXNet's own output is not finite (try another --seed or --input, or trained --params)"
# What to do about a comparison that proves nothing (the CLI's flags; the library's keyword is input=).
CONCLUSIVE_REMEDY = "give trained weights (--params FILE) or a real input (--input IMAGE)"


def judge(end_to_end_ok: bool, local: Any = None, reference_finite: bool = True, conclusive: bool = True) -> str:
    """The verdict from the end-to-end comparison (every output within the tolerance), the layer-local result (None
    where it did not run) and whether the end-to-end comparison proves anything (`conclusive`: MXNet's outputs depend
    on the input and none is constant). A difference is a mismatch whether or not it proves anything; agreement that
    proves nothing is not conclusive, never exact."""
    if not reference_finite:
        return NOT_FINITE
    if local is not None and not local.ok:
        return MISMATCH
    if not end_to_end_ok and local is None:
        return MISMATCH
    if not conclusive or (local is not None and not local.conclusive):
        return NOT_CONCLUSIVE
    return EXACT if end_to_end_ok else BY_LAYER


@dataclass
class Comparison:
    """One tensor against MXNet's: max|actual - reference| against TOLERANCE * scale."""

    max_abs: float
    scale: float  # max(max|reference|, magnitude): what the error is measured against (0 for an all-zero reference)
    reference_not_finite: int = 0  # NaN / inf values in MXNet's own output: nothing to compare, not a conversion error
    constant: bool = False  # MXNet's values are one value within the tolerance (or all zero): nothing is proven

    @property
    def relative(self) -> float:
        if self.scale > 0:
            return self.max_abs / self.scale
        return 0.0 if self.max_abs == 0 else float("inf")

    @property
    def reference_finite(self) -> bool:
        return not self.reference_not_finite

    @property
    def within(self) -> bool:
        """The values agree within the tolerance (whether or not that proves anything)."""
        return self.reference_finite and self.relative <= TOLERANCE

    @property
    def ok(self) -> bool:
        """Exact: within the tolerance, and the reference is not constant."""
        return self.within and not self.constant

    @property
    def mismatch(self) -> bool:
        return self.reference_finite and not self.within

    @property
    def status(self) -> str:
        if not self.reference_finite:
            return NOT_FINITE
        if not self.within:
            return MISMATCH
        return NOT_CONCLUSIVE if self.constant else EXACT

    def __str__(self) -> str:
        if not self.reference_finite:
            return f"MXNet's own output is not finite ({self.reference_not_finite} NaN/inf values): not comparable"
        verdict = (
            "MISMATCH" if not self.within else "not conclusive: MXNet's values are constant" if self.constant else "ok"
        )
        return f"max abs error {self.max_abs:.3g}, relative {self.relative:.3g} ({verdict})"


def compare(actual: np.ndarray, reference: np.ndarray, magnitude: float | None = None) -> Comparison:
    """`actual` against MXNet's `reference` under the tolerance rule: relative = max|actual - reference| / scale with
    scale = max(max|reference|, magnitude). `magnitude` is the size of the computation that produced the tensor, where
    cancellation makes the tensor's own size meaningless (the layer-local check measures it for linear layers: see
    verification/local.py); None: the tensor's own size. A reference whose values are all one value within the
    allowance (a constant Caffe tensor would pass), or all zero, is `constant`: agreement there proves nothing.
    Shapes must hold the same number of values (`actual` is compared in the reference's shape); a different number is
    an InvalidCallError (verify reports such blobs as a mismatch before comparing: `shape_differences`)."""
    actual, reference = np.asarray(actual, np.float64), np.asarray(reference, np.float64)
    if actual.size != reference.size:
        raise InvalidCallError(f"cannot compare shape {actual.shape} with reference shape {reference.shape}")
    actual = actual.reshape(reference.shape)
    not_finite = int(np.size(reference) - np.count_nonzero(np.isfinite(reference)))
    if not_finite:
        return Comparison(float("nan"), 1.0, reference_not_finite=not_finite)
    if not reference.size:
        return Comparison(0.0, 0.0, constant=True)
    top, bottom = float(np.max(reference)), float(np.min(reference))
    own = max(abs(top), abs(bottom))
    scale = own
    if magnitude is not None and np.isfinite(magnitude) and magnitude > scale:
        scale = float(magnitude)
    # Some one value is within the allowance of every reference value: a constant tensor would pass.
    constant = own == 0 or (reference.size > 1 and (top - bottom) / 2 <= TOLERANCE * scale)
    if not np.all(np.isfinite(actual)):
        return Comparison(float("inf"), scale, constant=constant)
    return Comparison(float(np.max(np.abs(actual - reference))), scale, constant=constant)


@dataclass
class Dependence:
    """Whether MXNet's outputs depend on the input: each output's change for a second input, against DEPENDENCE
    allowances of its comparison's scale; an output that moves less, or is constant, makes the comparison prove
    nothing (`not conclusive`)."""

    second_input: str  # how the second input was made
    changes: dict[str, float]  # output -> max|mxnet(x) - mxnet(x2)|
    scales: dict[str, float]  # output -> the scale its comparison uses
    constant: list[str] = field(default_factory=list)  # outputs whose MXNet values are constant

    def relative(self, name: str) -> float:
        scale = self.scales[name]
        return self.changes[name] / scale if scale > 0 else (0.0 if self.changes[name] == 0 else float("inf"))

    @property
    def dead(self) -> list[str]:
        """The outputs a second input moved by less than DEPENDENCE allowances."""
        return [name for name in self.changes if not self.relative(name) >= DEPENDENCE * TOLERANCE]

    @property
    def smallest(self) -> float:
        """The smallest relative change over the outputs (nan without outputs)."""
        return min((self.relative(name) for name in self.changes), default=float("nan"))

    @property
    def ok(self) -> bool:
        return bool(self.changes) and not self.dead and not self.constant

    def __str__(self) -> str:
        """`a second input (random normal (seed 1)) moves every output by 0.31 of its scale or more (0.01 needed)`"""
        if not self.ok:
            return self.reason(remedy=False)
        return (
            f"a second input ({self.second_input}) moves every output by {self.smallest:.3g} of its scale or more "
            f"({DEPENDENCE * TOLERANCE:g} needed)"
        )

    def reason(self, remedy: bool = True) -> str:
        """Why the comparison proves nothing, with what to do ('' when it does)."""
        if self.ok:
            return ""
        todo = f"; {CONCLUSIVE_REMEDY}" if remedy else ""
        if not self.changes:  # nothing to measure the dependence with: second_input says why
            return self.second_input or f"no output to compare{todo}"
        if self.constant:
            what = f"{_names(self.constant)} {'is' if len(self.constant) == 1 else 'are'} constant"
        else:
            name = min(self.dead, key=self.relative)
            what = (
                f"the MXNet output {name} does not depend on the input (a second input, {self.second_input}, moves it "
                f"by {self.changes[name]:.3g}, {self.relative(name):.3g} of its size {self.scales[name]:.3g}; "
                f"{DEPENDENCE * TOLERANCE:g} needed)"
            )
        return f"{what}: the comparison proves nothing{todo}"


def _names(names: list[str], shown: int = 3) -> str:
    text = ", ".join(names[:shown])
    return (
        ("the MXNet output " if len(names) == 1 else "the MXNet outputs ")
        + text
        + (f" and {len(names) - shown} more" if len(names) > shown else "")
    )


def input_dependence(
    first: dict[str, np.ndarray], second: dict[str, np.ndarray], comparisons: dict[str, Comparison], second_input: str
) -> Dependence:
    """The one rule every verdict uses (verify, the detector checks, the zoo sweep, the tests): MXNet's outputs on the
    compared input (`first`) and on a second one (`second`, made as `second_input` says), each output's change
    against DEPENDENCE allowances of the scale its comparison used; constant outputs (comparison.constant) named."""
    changes = {}
    for name, value in first.items():
        other = np.asarray(second[name], np.float64).reshape(np.shape(value))
        changes[name] = float(np.max(np.abs(np.asarray(value, np.float64) - other))) if np.size(value) else 0.0
    scales = {name: comparisons[name].scale for name in first}
    constant = [name for name in first if comparisons[name].constant]
    return Dependence(second_input, changes, scales, constant)


@dataclass
class BlobError:
    """The error of one Caffe blob against the MXNet tensor it stands for."""

    layer: str
    blob: str
    shape: tuple[int, ...]
    comparison: Comparison
    note: str = ""  # e.g. "channels 0/2 swapped (BGR)"


@dataclass
class ShapeDifference:
    """A Caffe blob whose MXNet tensor (same name) holds another number of values: the files are not this model's."""

    blob: str
    caffe: tuple[int, ...]
    mxnet: tuple[int, ...]

    def __str__(self) -> str:
        return f"{self.blob}: Caffe {_shape(self.caffe)}, MXNet {_shape(self.mxnet)}"


def _shape(shape: tuple[int, ...]) -> str:
    return "(" + ",".join(str(d) for d in shape) + ")"


def describe_shape_differences(differences: list[ShapeDifference], shown: int = 3) -> str:
    """One line: how many named blobs differ, a few of them, and what to check."""
    count = len(differences)
    listed = "; ".join(str(d) for d in differences[:shown]) + ("; ..." if count > shown else "")
    return (
        f"{count} named blob{'s' if count > 1 else ''} of the Caffe files {'have' if count > 1 else 'has'} another "
        f"shape than MXNet's tensor{'s' if count > 1 else ''} of that name ({listed}): the files were not converted "
        "from this model (or for another input shape)"
    )


@dataclass
class VerificationResult:
    runtime: str
    outputs: dict[str, Comparison]
    layers: list[BlobError] = field(default_factory=list)  # layers="accumulated": every blob of one Caffe forward
    input_description: str = ""
    local: Any = None  # layers="local": a verification.local.LocalResult (every segment on MXNet's inputs)
    dependence: Dependence | None = None  # MXNet's outputs on a second input (None: not checked, a saved reference)
    # Named blobs whose shapes differ from MXNet's tensors (files of another model): a mismatch naming them.
    shape_differences: list[ShapeDifference] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Exact (see `status`)."""
        return self.status == EXACT

    @property
    def outputs_ok(self) -> bool:
        """Every output within the tolerance end to end (whether or not that proves anything)."""
        return bool(self.outputs) and all(c.within for c in self.outputs.values())

    @property
    def conclusive(self) -> bool:
        """The end-to-end comparison proves something: no output constant, and (where it was checked) every output
        moves with the input."""
        constant = any(c.constant for c in self.outputs.values())
        return not constant and (self.dependence is None or self.dependence.ok)

    @property
    def status(self) -> str:
        """exact | exact by layer | within fp16 | mismatch | not conclusive | not comparable (see `judge`); `reason`
        says why."""
        if self.shape_differences:
            return MISMATCH
        finite = all(c.reference_finite for c in self.outputs.values())
        status = judge(self.outputs_ok, self.local, finite, self.conclusive)
        return verdict_in(self.runtime, status)  # a float16 runtime's pass is "within fp16" (precision.py)

    @property
    def reason(self) -> str:
        """Why the status is not exact, in one line ('' when exact or exact by layer)."""
        status = self.status
        if self.shape_differences:
            return describe_shape_differences(self.shape_differences)
        if status == MISMATCH:
            bad = self.local.first_failure if self.local is not None else None
            if bad is not None:
                return local_failure(bad)
            worst = max(self.outputs.items(), key=lambda item: item[1].relative)
            return f"output {worst[0]} is off by {worst[1].relative:.3g} relative (tolerance {TOLERANCE:g})"
        if status == NOT_CONCLUSIVE:
            if self.dependence is not None and not self.dependence.ok:
                return self.dependence.reason()
            constant = [name for name, c in self.outputs.items() if c.constant]
            if constant:
                verb = "is" if len(constant) == 1 else "are"
                return f"{_names(constant)} {verb} constant: the comparison proves nothing; {CONCLUSIVE_REMEDY}"
            if self.local is not None:
                return self.local.inconclusive_reason()
        return ""

    @property
    def verdict(self) -> str:
        """The status line: the status and, when it is not a pass, why."""
        reason = self.reason
        return f"{self.status}: {reason}" if reason and self.status in (MISMATCH, NOT_CONCLUSIVE) else self.status

    @property
    def first_divergence(self) -> BlobError | None:
        """The first blob, in graph order, whose error exceeds the tolerance: where the conversion goes wrong."""
        return next((b for b in self.layers if b.comparison.mismatch), None)

    def layer_table(self) -> str:
        first = self.first_divergence
        rows = [f"{'#':>4}  {'layer':40}  {'blob':40}  {'shape':18}  {'max abs':>9}  {'relative':>9}"]
        for i, b in enumerate(self.layers):
            mark = "  <- first error above tolerance" if b is first else ""
            mark += "  (constant: not conclusive)" if b.comparison.constant and b.comparison.within else ""
            note = f"  [{b.note}]" if b.note else ""
            rows.append(
                f"{i:>4}  {b.layer[:40]:40}  {b.blob[:40]:40}  {str(b.shape)[:18]:18}  "
                f"{b.comparison.max_abs:9.2e}  {b.comparison.relative:9.2e}{mark}{note}"
            )
        return "\n".join(rows)


def verify(
    prototxt: str,
    caffemodel: str,
    against: Any,
    *,
    runtime: str | None = None,
    input: str | np.ndarray | None = None,
    layers: bool | str = False,
    to_bgr: bool = True,
    seed: int = 0,
) -> VerificationResult:
    """Run PROTOTXT/CAFFEMODEL and the MXNet model `against` (a HybridBlock or an ExportedModel) on one input.

    input: None or 'random' (both-sign normal noise, `seed`; input i of several gets seed + i), an image path (resized
    to the net's input and normalized the GluonCV way), or an RGB NCHW array; several inputs: a dict {name: any of
    these}. The Caffe net gets an input with 3 channels on axis 1 (rank >= 3) in BGR when `to_bgr`, as converted.
    runtime: 'caffe', 'opencv' or None (pycaffe when importable, else OpenCV).
    layers: False (outputs only); 'accumulated' (or True): every Caffe blob that has an MXNet counterpart, from one
    forward pass, so errors add up along the net; 'local': every segment of layers run on MXNet's own values of its
    inputs (verification/local.py), which proves each layer however ill-conditioned the net. Both need pycaffe.
    MXNet also runs on a second input (`second_inputs`: another seed, an image mirrored with noise): an output that
    it does not move, or a constant one, makes the result `not conclusive` (result.dependence, result.reason).
    Named blobs whose shapes differ from MXNet's tensors (files of another model) are a `mismatch` naming them
    (result.shape_differences): found before comparing when an output's or (layers=) any blob's size differs, and
    looked for when the outputs differ.
    against: a SavedReference (load_reference("outputs.npz")) compares with outputs saved where MXNet runs, on the
    input saved with them (`input` and `seed` do not apply, nor the layer checks); no MXNet is imported then.
    """
    if isinstance(against, SavedReference):
        if layers or input is not None:
            raise InvalidCallError("against a saved reference: its own input, outputs only (no input=, no layers=)")
        return verify_reference(prototxt, caffemodel, against, runtime=runtime, to_bgr=to_bgr)
    runtime = runtime or default_runtime()
    mode = {False: None, True: "accumulated", "accumulated": "accumulated", "local": "local"}.get(layers, "?")
    if mode == "?":
        raise InvalidCallError(f"layers={layers!r}; expected False, 'accumulated' (or True) or 'local'")
    if mode and runtime != "caffe":
        raise InvalidCallError("per-layer comparison needs the caffe runtime (OpenCV does not expose every blob)")
    layers = mode == "accumulated"
    text_net = read_prototxt(prototxt)
    shapes = input_specs(text_net)
    x, description = make_inputs(input, shapes, seed)
    x2, second = second_inputs(input, x, seed)
    feed = bgr_feed(x, to_bgr)
    reference = MXNetReference(against, shapes)
    outputs = net_outputs(text_net)
    out_tensors = {name: _output_counterpart(name, reference.outputs) for name in outputs}
    result = VerificationResult(runtime, {}, input_description=description)
    caffe_blobs = forward(runtime, prototxt, caffemodel, feed, outputs, all_blobs=layers)
    output_shapes = {name: caffe_blobs[name].shape for name in outputs}
    differences = shape_differences(output_shapes, reference, shapes, out_tensors)
    if differences or layers:  # name every blob that differs (not only the outputs)
        every = {n: b.shape for n, b in caffe_blobs.items()} if layers else caffe_blob_shapes(prototxt)
        differences = shape_differences({**every, **output_shapes}, reference, shapes, out_tensors)
    if differences:
        result.shape_differences = differences
        return result

    wanted = set(reference.tensors) & {top for layer in text_net.layer for top in layer.top} if layers else set()
    out_names = sorted({t for t, _ in out_tensors.values()})
    ref = reference.run(x, sorted(wanted | set(out_names)))
    if mode == "local":
        from .local import check_local

        result.local = check_local(prototxt, caffemodel, reference, x, to_bgr)
        if result.local.shape_differences:
            result.shape_differences = result.local.shape_differences
            return result
    first, again = {}, {}
    ref2 = reference.run(x2, out_names)
    for name, (tensor, softmax) in out_tensors.items():
        expected = _softmax(ref[tensor], axis=1) if softmax else ref[tensor]
        other = _softmax(ref2[tensor], axis=1) if softmax else ref2[tensor]
        # The end-to-end output measured against the size of the computation of the segment that writes it.
        magnitude = None if softmax or result.local is None else result.local.magnitudes.get(name)
        result.outputs[name] = compare_in(runtime, caffe_blobs[name], expected, magnitude)
        first[name], again[name] = expected, other
    result.dependence = input_dependence(first, again, result.outputs, second)
    if not result.outputs_ok and not layers and result.local is None:
        # Outputs that differ may come from files of another model: name its blobs whose shapes differ, if any.
        every = caffe_blob_shapes(prototxt)
        result.shape_differences = shape_differences({**every, **output_shapes}, reference, shapes, out_tensors)
    if layers:
        result.layers = _per_layer(text_net, caffe_blobs, ref, wanted, to_bgr, set(shapes))
    return result


def local_failure(segment: Any) -> str:
    """Where a layer-local mismatch is: `layer NAME (OP NODE) is off by R on MXNet's inputs`."""
    relative = segment.comparison.relative
    return f"layer {segment.layers[0]} ({segment.op} {segment.node}) is off by {relative:.3g} on MXNet's inputs"


def caffe_blob_shapes(prototxt: str) -> dict[str, tuple[int, ...]]:
    """{blob: shape} of every blob of the Caffe net, from pycaffe without weights; {} without pycaffe (then only the
    outputs' shapes are named)."""
    try:
        import caffe
    except ImportError:
        return {}
    caffe.set_mode_cpu()
    net = caffe.Net(prototxt, caffe.TEST)
    return {name: tuple(blob.data.shape) for name, blob in net.blobs.items()}


def shape_differences(
    blob_shapes: dict[str, tuple[int, ...]],
    reference: "MXNetReference",
    input_shapes: dict[str, tuple[int, ...]],
    out_tensors: dict[str, tuple[str, bool]] | None = None,
) -> list[ShapeDifference]:
    """The Caffe blobs (name -> shape) whose MXNet tensor of the same name (an output: its counterpart) holds another
    number of values, in the order given."""
    mxnet = reference.shapes(input_shapes)
    counterpart = {name: tensor for name, (tensor, _) in (out_tensors or {}).items()}
    differences = []
    for blob, shape in blob_shapes.items():
        tensor = counterpart.get(blob) or reference.tensor_of(blob)
        if tensor is None or tensor in input_shapes or tensor not in mxnet:
            continue
        if int(np.prod(shape)) != int(np.prod(mxnet[tensor])):
            differences.append(ShapeDifference(blob, tuple(shape), tuple(mxnet[tensor])))
    return differences


def _output_counterpart(name: str, mxnet_outputs: list[str]) -> tuple[str, bool]:
    """The MXNet output a Caffe output stands for, and whether a Softmax was appended (softmax=True)."""
    if name in mxnet_outputs:
        return name, False
    if name.endswith("_softmax") and name[: -len("_softmax")] in mxnet_outputs:
        return name[: -len("_softmax")], True
    raise InvalidCallError(f"Caffe output {name!r} has no MXNet counterpart among {mxnet_outputs}: wrong --against?")


def _per_layer(text_net: Any, blobs: dict, ref: dict, wanted: set, to_bgr: bool, inputs: set) -> list[BlobError]:
    rows = []
    for layer in text_net.layer:
        for top in layer.top:
            if top not in wanted or top in inputs or top not in blobs:
                continue
            actual, expected = blobs[top], ref[top]
            if actual.shape != expected.shape:
                actual = actual.reshape(expected.shape)
            c, note = compare(actual, expected), ""
            # Between a BGR input and the layer that absorbs the swap, blobs hold BGR-ordered channels.
            if to_bgr and c.mismatch and expected.ndim >= 2 and expected.shape[1] == 3:
                swapped = compare(actual[:, BGR], expected)
                if swapped.within:
                    c, note = swapped, "channels 0/2 swapped (BGR)"
            rows.append(BlobError(layer.name, top, tuple(expected.shape), c, note))
    return rows


PLOT_DPI = 100
PLOT_MAX_WIDTH = 16.0  # inches: 1600 px at PLOT_DPI, whatever the number of blobs
PLOT_MAX_NAMES = 80  # layer names on the x axis; a longer net names every k-th point


def plot_layers(result: VerificationResult, path: str) -> str:
    """Draw the error along the net (log scale) with the tolerance and the first error beyond it: the local error of
    every segment when the local check ran, else every blob's accumulated error. The x axis names the layers
    (rotated; every k-th of a long net, at most PLOT_MAX_NAMES); the image is at most PLOT_MAX_WIDTH wide
    (plot_size says how large). Returns path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if result.local is not None:
        points = [(s.layers[0], s.comparison.relative) for s in result.local.segments]
        first = result.local.first_failure
        first_index = result.local.segments.index(first) if first else None
        what = "local error (each segment on MXNet's inputs)"
    else:
        points = [(b.layer, b.comparison.relative) for b in result.layers]
        first = result.first_divergence
        first_index = result.layers.index(first) if first else None
        what = "accumulated error (one forward pass)"
    errors = [max(e, 1e-12) for _, e in points]
    fig, ax = plt.subplots(figsize=plot_size(len(errors), in_inches=True))
    ax.semilogy(range(len(errors)), errors, marker=".", linewidth=1)
    ax.axhline(TOLERANCE, color="red", linestyle="--", label=f"tolerance {TOLERANCE:g}")
    if first_index is not None:
        ax.axvline(first_index, color="orange", label=f"first error: {points[first_index][0]}")
    step = -(-len(points) // PLOT_MAX_NAMES) if points else 1
    shown = list(range(0, len(points), step))
    ax.set_xticks(shown)
    ax.set_xticklabels([points[i][0] for i in shown], rotation=90, fontsize=6)
    ax.set_xlim(-1, max(len(points), 1))
    ax.set_xlabel(f"layer, in net order ({len(points)} points" + (f", one in {step} named)" if step > 1 else ")"))
    ax.set_ylabel("max |caffe - mxnet| / max(max |mxnet|, magnitude)")
    ax.set_title(f"{what} ({result.runtime})")
    ax.legend(loc="upper left")
    fig.tight_layout()
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fig.savefig(path, dpi=PLOT_DPI)
    plt.close(fig)
    return path


def plot_size(points: int, in_inches: bool = False) -> tuple[float, float]:
    """(width, height) of plot_layers' image for this many points: pixels at PLOT_DPI (or inches)."""
    width, height = max(8.0, min(PLOT_MAX_WIDTH, 0.1 * points)), 6.0
    return (width, height) if in_inches else (width * PLOT_DPI, height * PLOT_DPI)


# -- inputs ------------------------------------------------------------------------------------------------------


def make_inputs(source: Any, shapes: dict[str, tuple[int, ...]], seed: int = 0) -> tuple[dict[str, np.ndarray], str]:
    """({input name: RGB array}, description) for the net's inputs: `source` as in make_input, or a dict of them by
    input name; random inputs get seed, seed + 1, ... in input order."""
    if len(shapes) == 1 and not isinstance(source, dict):
        name, shape = next(iter(shapes.items()))
        x, description = make_input(source, shape, seed)
        return {name: x}, description
    sources = source if isinstance(source, dict) else {}
    if not isinstance(source, dict) and source not in (None, "random"):
        raise InvalidCallError(f"the net has {len(shapes)} inputs {list(shapes)}: give input as {{name: ...}}")
    unknown = set(sources) - set(shapes)
    if unknown:
        raise InvalidCallError(f"input names {sorted(unknown)} are not inputs of the net {list(shapes)}")
    inputs, descriptions = {}, []
    for i, (name, shape) in enumerate(shapes.items()):
        inputs[name], description = make_input(sources.get(name), shape, seed + i)
        descriptions.append(f"{name}: {description}")
    return inputs, "; ".join(descriptions)


def bgr_feed(inputs: dict[str, np.ndarray], to_bgr: bool) -> dict[str, np.ndarray]:
    """What the Caffe net is fed: with to_bgr, the inputs the conversion swapped (a 3-channel axis 1) in BGR."""
    return {
        name: np.ascontiguousarray(x[:, BGR]) if to_bgr and has_rgb_axis(x.shape) else x for name, x in inputs.items()
    }


def make_input(source: str | np.ndarray | None, shape: tuple[int, ...], seed: int = 0) -> tuple[np.ndarray, str]:
    """(RGB NCHW float32 input, description)."""
    if isinstance(source, np.ndarray):
        if tuple(source.shape) != tuple(shape):
            raise InvalidCallError(f"input array has shape {source.shape}, the net takes {shape}")
        return source.astype(np.float32), "given array"
    if source is None or source == "random":
        x = np.random.RandomState(seed).normal(0, 1, shape).astype(np.float32)
        return x, f"random normal (seed {seed})"
    if len(shape) != 4:
        raise InvalidCallError(f"an image input needs an (N, C, H, W) net; this input is {shape}: use 'random'")
    if source == "scene":
        return synthetic_scene(shape, seed), f"synthetic scene (seed {seed}, ImageNet mean/std)"
    return load_image(source, shape), f"image {source} (resized, ImageNet mean/std)"


# A second image for the input-dependence check: the first mirrored left to right, plus normal noise of this std
# (in the normalized units the net reads): a real input stays a real input, and any live net's output moves.
SECOND_IMAGE_NOISE = 0.2


def second_inputs(source: Any, first: dict[str, np.ndarray], seed: int = 0) -> tuple[dict[str, np.ndarray], str]:
    """({input name: a second RGB array}, how it was made) for the input-dependence check (`input_dependence`), each
    from its input's source as make_inputs read it: random noise and synthetic scenes with another seed (input i of
    n: seed + n + i), an image mirrored left to right plus noise, a given array plus noise of its own spread."""
    sources = source if isinstance(source, dict) else {name: source for name in first}
    n = len(first)
    seconds, descriptions = {}, []
    for i, (name, x) in enumerate(first.items()):
        seconds[name], description = _second_input(sources.get(name), x, seed + n + i)
        descriptions.append(description if n == 1 else f"{name}: {description}")
    return seconds, "; ".join(descriptions)


def _second_input(source: Any, x: np.ndarray, seed: int) -> tuple[np.ndarray, str]:
    rng = np.random.RandomState(seed)
    if isinstance(source, np.ndarray):
        spread = float(np.std(x)) or 1.0
        x2 = (x + rng.normal(0, spread, x.shape)).astype(np.float32)
        return x2, f"the given array plus normal noise (std {spread:.3g}, seed {seed})"
    if source is None or source == "random":
        return rng.normal(0, 1, x.shape).astype(np.float32), f"random normal (seed {seed})"
    if source == "scene":
        return synthetic_scene(x.shape, seed), f"synthetic scene (seed {seed})"
    return perturbed_input(x, seed, "the image")


def perturbed_input(x: np.ndarray, seed: int = 1, what: str = "the input") -> tuple[np.ndarray, str]:
    """(x mirrored left to right plus normal noise of std SECOND_IMAGE_NOISE, how it was made): a second input made
    from an image (or any input, for a check not told how its input was made)."""
    noise = np.random.RandomState(seed).normal(0, SECOND_IMAGE_NOISE, x.shape)
    description = f"{what} mirrored left to right, plus normal noise (std {SECOND_IMAGE_NOISE:g}, seed {seed})"
    return (x[..., ::-1] + noise).astype(np.float32), description


NOISE = 0.25
TEXTURE = 0.0


def synthetic_scene(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """A real-looking input without a real image: a background gradient, a few rectangles and ellipses (objects
    with edges) carrying striped textures, and pixel noise, in [0, 1] RGB, normalized like GluonCV's inputs.

    Texture matters: flat regions make channels nearly constant, and a BatchNorm that subtracts a mean close to the
    value then divides by a tiny deviation turns float32 rounding into 1e-4 relative errors (measured: MXNet float32
    vs float64 on a random SSD fed flat scenes); textured scenes keep the random nets well conditioned."""
    n, c, h, w = shape
    rng = np.random.RandomState(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    images = []
    for _ in range(n):
        img = np.empty((h, w, c), np.float32)
        for ch in range(c):
            a, b, d = rng.uniform(-0.5, 0.5, 3)
            img[:, :, ch] = 0.5 + a * yy / h + b * xx / w + d * 0.3
        for _ in range(rng.randint(3, 8)):
            y0, x0 = rng.uniform(0, h), rng.uniform(0, w)
            ry, rx = rng.uniform(0.05, 0.3) * h, rng.uniform(0.05, 0.3) * w
            if rng.rand() < 0.5:
                mask = (np.abs(yy - y0) < ry) & (np.abs(xx - x0) < rx)
            else:
                mask = ((yy - y0) / ry) ** 2 + ((xx - x0) / rx) ** 2 < 1
            fy, fx, phase = rng.uniform(0.05, 0.6), rng.uniform(0.05, 0.6), rng.uniform(0, 2 * np.pi)
            texture = TEXTURE * np.sin(fy * yy + fx * xx + phase)[mask]  # stripes, grain: objects are not flat
            img[mask] = rng.uniform(0, 1, c) + texture[:, None]
        img += rng.normal(0, NOISE, img.shape)
        img = np.clip(img, 0, 1)
        images.append(((img - IMAGENET_MEAN[:c]) / IMAGENET_STD[:c]).transpose(2, 0, 1))
    return np.stack(images).astype(np.float32)


def load_image(path: str, shape: tuple[int, ...]) -> np.ndarray:
    """An image as GluonCV models expect it: RGB, [0, 1], normalized by the ImageNet mean/std, NCHW."""
    from PIL import Image, UnidentifiedImageError

    n, c, h, w = shape
    if c != 3:
        raise InvalidCallError(f"an image input needs a 3-channel net; this one takes {c} channels")
    try:
        with Image.open(path) as image:
            rgb = np.asarray(image.convert("RGB").resize((w, h), Image.BILINEAR), np.float32) / 255.0
    except (OSError, UnidentifiedImageError) as exc:
        raise InvalidCallError(f"cannot read image {path}: {exc}") from None
    x = ((rgb - IMAGENET_MEAN) / IMAGENET_STD).transpose(2, 0, 1)[None]
    return np.repeat(x, n, axis=0).astype(np.float32)


# -- the Caffe side ----------------------------------------------------------------------------------------------


def input_spec(text_net: Any) -> tuple[str, tuple[int, ...]]:
    """(name, shape) of a net's one input; several inputs are an error here (input_specs reads them all)."""
    shapes = input_specs(text_net)
    if len(shapes) != 1:
        raise InvalidCallError(f"expected one Input layer, found {len(shapes)}: {list(shapes)}")
    return next(iter(shapes.items()))


def input_specs(text_net: Any) -> dict[str, tuple[int, ...]]:
    """{name: shape} of a net's Input layers, in order."""
    inputs = [layer for layer in text_net.layer if layer.type == "Input"]
    if not inputs or any(not layer.input_param.shape for layer in inputs):
        raise InvalidCallError(f"expected Input layers with a shape, found {len(inputs)} Input layer(s)")
    return {layer.top[0]: tuple(int(d) for d in layer.input_param.shape[0].dim) for layer in inputs}


def net_outputs(text_net: Any) -> list[str]:
    """The blobs a Caffe net outputs: tops no layer consumes (in layer order)."""
    consumed = {b for layer in text_net.layer for b in layer.bottom}
    outs: list[str] = []
    for layer in text_net.layer:
        for top in layer.top:
            if top not in consumed and top not in outs:
                outs.append(top)
    return outs


def run_converted(
    text_net: Any, binary_weights: Any, inputs: dict[str, np.ndarray], runtime: str = "caffe"
) -> dict[str, np.ndarray]:
    """Save the two nets to a temporary folder and run them in `runtime` (runtimes.RUNTIMES: 'caffe', 'opencv')."""
    from ..caffe.io import save_model

    with tempfile.TemporaryDirectory(prefix="gluon2caffe-") as tmp:
        prototxt, caffemodel = save_model(text_net, binary_weights, os.path.join(tmp, "model"))
        return forward(runtime, prototxt, caffemodel, inputs, net_outputs(text_net))


# -- the MXNet side ----------------------------------------------------------------------------------------------


def mxnet_forward(block: Any, *inputs: np.ndarray) -> list[np.ndarray]:
    mx = import_mxnet("running a model in MXNet")

    out = block(*[mx.nd.array(x) for x in inputs])
    outs = out if isinstance(out, (list, tuple)) else [out]
    return [o.asnumpy() for o in outs]


class MXNetReference:
    """The MXNet model as a symbol + parameters, able to return any internal tensor by its IR name.

    `against` is a HybridBlock (a GluonCV detector too: its whole graph, whose head the converter cuts off) or an
    ExportedModel. `aliases` maps Caffe blobs that renamed a tensor (a detector's mbox_loc) to it (`tensor_of`).
    `input_shape`: one shape (the Caffe input `input_name`) or {Caffe input name: shape} for several (an exported
    model's inputs keep their names, a block's are traced so).
    """

    def __init__(self, against: Any, input_shape: Any, input_name: str = "data"):
        from ..frontend.exported import ExportedModel
        from ..frontend.mxnet_graph import internal_tensor_names, unique_source_names

        import_mxnet("comparing with MXNet (verify --reference compares with saved outputs instead)")
        shapes = dict(input_shape) if isinstance(input_shape, dict) else {input_name: tuple(input_shape)}
        self.aliases: dict[str, str] = {}  # Caffe blob -> MXNet tensor, where the converter renamed a tensor
        if isinstance(against, ExportedModel):
            self.symbol, self.params = against.symbol(), against.params
            inputs = against.inputs
            if len(inputs) != len(shapes) or (len(inputs) > 1 and set(inputs) != set(shapes)):
                raise InvalidCallError(f"{against.symbol_path}: the model's inputs are {inputs}, not {list(shapes)}")
            # Caffe input -> MXNet variable: a single input may have been renamed (input_name).
            self.vars = dict(zip(shapes, inputs)) if len(inputs) == 1 else {name: name for name in shapes}
        else:
            traced = shapes if len(shapes) > 1 else next(iter(shapes.values()))
            self.symbol, self.params = _trace_reference(against, traced, next(iter(shapes)))
            self.vars = {name: name for name in shapes}
        self.input_names = list(shapes)
        self.input_name = self.input_names[0]
        self.var = self.vars[self.input_name]
        doc = json.loads(self.symbol.tojson())
        source_names = unique_source_names(doc["nodes"])
        self.tensors = internal_tensor_names(self.symbol, source_names)
        self.outputs = [_head_name(doc, head) for head in doc["heads"]]
        # The Caffe input may have been renamed (input_name); MXNet's own variable keeps its name.
        caffe_name = {var: name for name, var in self.vars.items()}
        self.tensors = [caffe_name.get(t, t) for t in self.tensors]
        self._index = {t: i for i, t in enumerate(self.tensors)}
        ops = {name: raw["op"] for name, raw in zip(source_names, doc["nodes"])}
        self.nodes = {t: _node_of(t, ops) for t in self.tensors}  # tensor -> (MXNet node, op)
        for name, var in self.vars.items():
            self.nodes[name] = (var, "null")

    def shapes(self, input_shapes: dict[str, tuple[int, ...]]) -> dict[str, tuple[int, ...]]:
        """{tensor: shape} of every tensor for these Caffe input shapes (MXNet's shape inference); {} where MXNet
        cannot infer them (running the model then says why)."""
        import io
        from contextlib import redirect_stdout

        known = {self.vars[name]: tuple(shape) for name, shape in input_shapes.items() if name in self.vars}
        internals = self.symbol.get_internals()
        arguments = set(internals.list_arguments())
        known.update({name: tuple(value.shape) for name, value in self.params.items() if name in arguments})
        try:
            with redirect_stdout(io.StringIO()):  # MXNet prints its arguments when inference fails
                _, shapes, _ = internals.infer_shape(**known)
        except Exception:  # noqa: BLE001 - any MXNet failure: no shapes to check here, run() reports it
            return {}
        if shapes is None:
            return {}
        return {t: tuple(s) for t, s in zip(self.tensors, shapes) if s is not None}

    def tensor_of(self, blob: str) -> str | None:
        """The MXNet tensor a Caffe blob holds, or None for a blob of the converter's own."""
        tensor = self.aliases.get(blob, blob)
        return tensor if tensor in self._index else None

    def run(self, x: np.ndarray | dict[str, np.ndarray], tensors: list[str]) -> dict[str, np.ndarray]:
        """Forward pass (inference) returning the named tensors; x: the input, or {Caffe input name: array}."""
        import mxnet as mx

        inputs = x if isinstance(x, dict) else {self.input_name: x}
        if set(inputs) != set(self.vars):
            raise InvalidCallError(f"the model's inputs are {list(self.vars)}, got arrays for {list(inputs)}")
        by_var = {self.vars[name]: value for name, value in inputs.items()}

        only_outputs = set(tensors) <= set(self.outputs)
        if only_outputs:
            group, names = self.symbol, self.outputs
        else:
            internals = self.symbol.get_internals()
            group, names = mx.sym.Group([internals[self._index[t]] for t in tensors]), tensors
        args = {}
        for name in group.list_arguments():
            args[name] = mx.nd.array(by_var[name] if name in by_var else self.params[name])
        aux = {name: mx.nd.array(self.params[name]) for name in group.list_auxiliary_states()}
        with _no_subgraph_backend(enabled=not only_outputs):
            executor = group.bind(mx.cpu(), args=args, aux_states=aux, grad_req="null")
            values = executor.forward(is_train=False)
        return {t: v.asnumpy() for t, v in zip(names, values)}


def _trace_reference(against: Any, input_shape: Any, input_name: str) -> tuple[Any, dict[str, np.ndarray]]:
    """Trace a block as the converter does (a detector whole: the converter cuts its head off the same graph)."""
    from ..frontend.mxnet_graph import trace_block

    return trace_block(against, input_shape, input_name)


def _node_of(tensor: str, ops: dict[str, str]) -> tuple[str, str]:
    from ..frontend.mxnet_graph import _OUTPUT_SUFFIX

    if tensor in ops:
        return tensor, ops[tensor]
    match = _OUTPUT_SUFFIX.match(tensor)
    node = match.group("node") if match else tensor
    return node, ops.get(node, "?")


def _head_name(doc: dict, head: list[int]) -> str:
    from ..frontend.mxnet_graph import tensor_name, unique_source_names

    name = unique_source_names(doc["nodes"])[head[0]]
    return name if doc["nodes"][head[0]]["op"] == "null" else tensor_name(name, head[1])


@contextmanager
def _no_subgraph_backend(enabled: bool = True) -> Iterator[None]:
    """MXNet's default subgraph backend gives wrong final outputs when BatchNorm internals are bound beside them."""
    if not enabled:
        yield
        return
    old = os.environ.get("MXNET_SUBGRAPH_BACKEND")
    os.environ["MXNET_SUBGRAPH_BACKEND"] = "NONE"
    try:
        yield
    finally:
        if old is None:
            del os.environ["MXNET_SUBGRAPH_BACKEND"]
        else:
            os.environ["MXNET_SUBGRAPH_BACKEND"] = old


def _softmax(x: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


# A float16 runtime's rule and verdict (rknn); saved reference outputs (where MXNet cannot run): imported last, the
# modules use the names above.
from .precision import compare_in, verdict_in  # noqa: E402
from .reference import SavedReference, load_reference, save_reference, verify_reference  # noqa: E402, F401
