"""`verify`: run converted files and the MXNet model on one input, output by output (and, on request, blob by
blob or layer-locally), into a VerificationResult with one verdict."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..caffe.io import read_prototxt
from ..errors import InvalidCallError
from .caffe_net import caffe_blob_shapes, input_specs, net_outputs
from .compare import (
    CONCLUSIVE_REMEDY,
    EXACT,
    MISMATCH,
    NOT_CONCLUSIVE,
    TOLERANCE,
    Comparison,
    Dependence,
    ShapeDifference,
    _names,
    compare,
    describe_shape_differences,
    input_dependence,
    judge,
)
from ..ir.preprocess import Preprocess
from .inputs import BGR, bgr_feed, make_inputs, second_inputs
from .mxnet_reference import MXNetReference
from .precision import compare_in, verdict_in
from .runtimes import default_runtime, forward


@dataclass
class BlobError:
    """The error of one Caffe blob against the MXNet tensor it stands for."""

    layer: str
    blob: str
    shape: tuple[int, ...]
    comparison: Comparison
    note: str = ""  # e.g. "channels 0/2 swapped (BGR)"


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
    preprocess: Preprocess | None = None,
) -> VerificationResult:
    """Run PROTOTXT/CAFFEMODEL and the MXNet model `against` (a HybridBlock or an ExportedModel) on one input.

    input: None or 'random' (both-sign normal noise, `seed`; input i of several gets seed + i), an image path (resized
    to the net's input and normalized the GluonCV way), or an RGB NCHW array; several inputs: a dict {name: any of
    these}. The Caffe net gets an input with 3 channels on axis 1 (rank >= 3) in BGR when `to_bgr`, as converted.
    runtime: a name of verification.runtimes.RUNTIMES ('caffe', 'opencv', 'mnn', 'ncnn', 'openvino', ...) or None
    (pycaffe when importable, else OpenCV).
    layers: False (outputs only); 'accumulated' (or True): every Caffe blob that has an MXNet counterpart, from one
    forward pass, so errors add up along the net; 'local': every segment of layers run on MXNet's own values of its
    inputs (verification/local.py), which proves each layer however ill-conditioned the net. Both need pycaffe.
    MXNet also runs on a second input (`second_inputs`: another seed, an image mirrored with noise): an output that
    it does not move, or a constant one, makes the result `not conclusive` (result.dependence, result.reason).
    preprocess: the normalization the files do themselves (converted with preprocess=): MXNet gets the normalized
    input, the Caffe net the raw pixels whose normalization it is (`bgr_feed`).
    Named blobs whose shapes differ from MXNet's tensors (files of another model) are a `mismatch` naming them
    (result.shape_differences): found before comparing when an output's or (layers=) any blob's size differs, and
    looked for when the outputs differ.
    against: a SavedReference (load_reference("outputs.npz")) compares with outputs saved where MXNet runs, on the
    input saved with them (`input` and `seed` do not apply, nor the layer checks); no MXNet is imported then.
    """
    from .reference import SavedReference, verify_reference  # reference.py builds on this module

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
    feed = bgr_feed(x, to_bgr, preprocess)
    reference = MXNetReference(against, shapes)
    outputs = net_outputs(text_net)
    # An output cut at an internal tensor (outputs=, --output-node) is compared with that tensor: every blob is named
    # after the MXNet tensor whose values it holds.
    internal = [name for name in outputs if name not in reference.outputs and reference.tensor_of(name) == name]
    out_tensors = {name: _output_counterpart(name, reference.outputs + internal) for name in outputs}
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
        from .local import check_local  # local.py builds on this module

        result.local = check_local(prototxt, caffemodel, reference, x, to_bgr, preprocess)
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


def _softmax(x: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)
