"""Layer-local verification (teacher forcing): every conversion checked on MXNet's own inputs.

An end-to-end comparison of a deep network mixes two things: whether each layer was converted right, and how much
the network amplifies float32 rounding. A random test network can amplify rounding past any tolerance, and then a
right and a wrong conversion look the same. This module proves each mapping on its own:

- Every Caffe blob named after an MXNet tensor holds that tensor's values (the converter's naming rule; the
  blobs a decomposition adds have names of their own). A *segment* is the smallest group of Caffe layers whose
  inputs and outputs are all such blobs: one layer usually; a decomposition (exact ReLU6, pooling + Slice, a
  BatchNorm folded into its convolution, a Split that restores an output name) is one segment.
- The Caffe net runs layer by layer in pycaffe (`Net._forward(i, i)`). After a layer writes a blob that stands for
  an MXNet tensor, the blob is compared with MXNet's value and then overwritten with it, so every later layer
  reads MXNet's exact inputs. A segment's error is the largest error of the blobs it writes, with the project's
  tolerance rule (verification.compare: max|caffe - mxnet| <= 1e-4 * max(max|mxnet|, magnitude)).
- The magnitude of a blob is the size of the computation that wrote it, where cancellation can make the blob far
  smaller than the terms that were summed (a BatchNorm folded into a convolution subtracts a large mean; a difference
  of two nearly equal sums). A layer that sums terms (Convolution, Deconvolution, InnerProduct, Scale, Bias,
  BatchNorm, Eltwise SUM, Power with power 1, AVE Pooling, and the layers that only move values within a
  segment) runs a second time on its inputs' magnitudes with its coefficients transformed (`_MAGNITUDE_RULES`), and
  its output's magnitude is the root of the sum of its terms' squares, sqrt(sum_j (w_j x_j)^2 + b^2): the size a sum
  of those terms has without cancellation, and the scale of float32's rounding error of such a sum. Every other
  layer (ReLU, sigmoid, tanh, exp, softmax, max pooling, ...) gets no allowance: its magnitude is its output's own.
- A blob whose MXNet values are all one value within the allowance (or all zero: a dead ReLU, a saturated sigmoid)
  proves nothing: a wrong layer would write the same. Such a segment is counted as constant (not conclusive); a
  constant segment that differs is still a mismatch.
- With to_bgr the Caffe input holds BGR channels; blobs between the input and the layer that absorbs the swap do
  too. A 3-channel blob computed from such a blob is compared in whichever channel order its producer writes,
  and only there (the order is never guessed elsewhere).
- Layers that lead to no MXNet tensor (a detector's PriorBox / decoding / DetectionOutput, an appended Softmax)
  are not checked here: they are listed, and checked end to end.
- Files whose named blobs have other shapes than MXNet's tensors (another model's) are reported as such
  (`LocalResult.shape_differences`, a mismatch), nothing is run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ..caffe.io import read_prototxt
from .compare import CONCLUSIVE_REMEDY, TOLERANCE, Comparison, ShapeDifference, compare
from ..ir.ops import has_rgb_axis
from ..ir.preprocess import Preprocess
from .inputs import BGR, bgr_feed
from .mxnet_reference import MXNetReference
from .runtimes import RuntimeUnavailableError, pycaffe_hint
from .verify import shape_differences


@dataclass
class Segment:
    """One group of Caffe layers between blobs that stand for MXNet tensors, and its error on MXNet's inputs."""

    layers: list[str]  # Caffe layer names, in net order
    types: list[str]  # their Caffe types
    outputs: list[str]  # the blobs it writes that stand for MXNet tensors
    node: str  # the MXNet node of the (first) output
    op: str  # that node's operator
    comparison: Comparison  # the worst of its outputs
    note: str = ""  # e.g. "BGR channel order"
    constant: bool = False  # every output's MXNet values are constant: agreement proves nothing

    @property
    def ok(self) -> bool:
        """Within the tolerance (a constant segment too: it is not conclusive, not wrong)."""
        return self.comparison.within

    @property
    def conclusive(self) -> bool:
        return self.ok and not self.constant


@dataclass
class LocalResult:
    segments: list[Segment]  # in net order
    unchecked: list[str] = field(default_factory=list)  # layers that lead to no MXNet tensor (checked end to end)
    magnitudes: dict[str, float] = field(default_factory=dict)  # blob -> magnitude, for blobs a summing layer wrote
    shape_differences: list[ShapeDifference] = field(default_factory=list)  # other files: nothing was run

    @property
    def ok(self) -> bool:
        """No segment beyond the tolerance (and the files fit the model)."""
        return not self.shape_differences and all(s.ok for s in self.segments)

    @property
    def constant(self) -> list[Segment]:
        """The segments within the tolerance whose MXNet values are constant: they prove nothing."""
        return [s for s in self.segments if s.ok and s.constant]

    @property
    def conclusive(self) -> bool:
        """At least one segment proves something (a net whose every segment is constant proves nothing)."""
        return any(s.conclusive for s in self.segments)

    def inconclusive_reason(self, remedy: bool = True) -> str:
        """Why the layer-local check proves nothing ('' when it does)."""
        if self.conclusive:
            return ""
        todo = f"; {CONCLUSIVE_REMEDY}" if remedy else ""
        if not self.segments:
            return f"the layer-local check compared no segment{todo}"
        count = len(self.segments)
        return f"every segment ({count}) is constant on MXNet's inputs: the layer-local check proves nothing{todo}"

    @property
    def worst(self) -> Segment | None:
        return max(self.segments, key=lambda s: s.comparison.relative, default=None)

    @property
    def max_relative(self) -> float:
        worst = self.worst
        return worst.comparison.relative if worst else 0.0

    @property
    def first_failure(self) -> Segment | None:
        """The first segment, in net order, beyond the tolerance: the layer that is wrong."""
        return next((s for s in self.segments if not s.ok), None)

    def distribution(self) -> str:
        """Median / 99th percentile / max of the segments' relative errors, and how many are constant."""
        errors = np.array([s.comparison.relative for s in self.segments]) if self.segments else np.zeros(1)
        constant = len(self.constant)
        return (
            f"{len(self.segments)} segments: median {np.median(errors):.2g}, "
            f"p99 {np.percentile(errors, 99):.2g}, max {errors.max():.2g}"
            + (f"; {constant} segment{'s' if constant > 1 else ''} constant: not conclusive" if constant else "")
        )

    def table(self, rows: int | None = 20) -> str:
        """Segments worst first (`rows` of them; None: every segment, in net order)."""
        numbered = list(enumerate(self.segments))
        if rows is not None:
            numbered = sorted(numbered, key=lambda item: -item[1].comparison.relative)[:rows]
        first = self.first_failure
        lines = [f"{'#':>4}  {'layers':44}  {'MXNet node':36}  {'op':18}  {'max abs':>9}  {'relative':>9}"]
        for index, segment in numbered:
            layers = segment.layers[0] + (f" (+{len(segment.layers) - 1})" if len(segment.layers) > 1 else "")
            mark = "  <- first segment beyond the tolerance" if segment is first else ""
            mark += "  MISMATCH" if not segment.ok else "  constant: not conclusive" if segment.constant else ""
            note = f"  [{segment.note}]" if segment.note else ""
            lines.append(
                f"{index:>4}  {layers[:44]:44}  {segment.node[:36]:36}  {segment.op[:18]:18}  "
                f"{segment.comparison.max_abs:9.2e}  {segment.comparison.relative:9.2e}{mark}{note}"
            )
        return "\n".join(lines)


def check_local(
    prototxt: str,
    caffemodel: str,
    reference: MXNetReference,
    x: np.ndarray,
    to_bgr: bool = True,
    preprocess: Preprocess | None = None,
) -> LocalResult:
    """Run the Caffe net segment by segment on MXNet's values of every tensor (x: the RGB input, or {name: input})."""
    try:
        import caffe
    except ImportError as exc:
        raise RuntimeUnavailableError(f"pycaffe is not importable ({exc}): {pycaffe_hint()}") from None
    caffe.set_mode_cpu()
    net = caffe.Net(prototxt, caffe.TEST, weights=caffemodel)
    names = list(net._layer_names)
    types = [layer.type for layer in net.layers]
    tops, bottoms = dict(net.top_names), dict(net.bottom_names)
    source = _sources(names, types, tops, bottoms, reference)
    rewritten = _rewritten_in_place(names, tops, bottoms)
    inputs = x if isinstance(x, dict) else {reference.input_name: x}

    for name, value in inputs.items():
        net.blobs[name].reshape(*value.shape)
    net.reshape()
    differences = shape_differences(
        {blob: tuple(net.blobs[blob].data.shape) for blob in source},
        reference,
        {name: tuple(value.shape) for name, value in inputs.items()},
    )
    if differences:
        return LocalResult([], shape_differences=differences)
    chunk_of, chunks = _chunks(names, types, tops, source, inputs, net)
    rules = _magnitude_rules(read_prototxt(prototxt), names, types, bottoms, net)
    magnitudes = _Magnitudes(names, types, bottoms, rules, source)
    values: dict[str, np.ndarray] = dict(inputs)
    feed = bgr_feed(inputs, to_bgr, preprocess)  # raw pixels when the net normalizes its input itself
    for name, value in feed.items():
        net.blobs[name].data[...] = value
    bgr = {name for name, value in inputs.items() if to_bgr and has_rgb_axis(value.shape)}
    errors: dict[str, tuple[Comparison, str]] = {}
    result = LocalResult([])
    for index, (name, kind) in enumerate(zip(names, types)):
        if kind in _NOT_COMPUTING:
            continue
        if _is_fan_out(name, kind, bottoms, source):  # Caffe's own Split of a checked blob: shares its data
            net._forward(index, index)
            if bottoms[name][0] in bgr:
                bgr.update(tops[name])
            continue
        before = magnitudes.before(net, index, name)
        net._forward(index, index)
        sizes = magnitudes.after(net, index, name, tops[name], before)
        reads_bgr = any(b in bgr for b in bottoms[name])
        for top in tops[name]:
            tensor = source.get(top)
            if tensor is None or (index, top) in rewritten:  # a later layer finishes it in place
                if reads_bgr:
                    bgr.add(top)
                continue
            blob = net.blobs[top].data
            if tensor not in values:  # the next chunk of MXNet's tensors (the previous one dropped first)
                values = dict(inputs)
                values.update(reference.run(inputs, chunks[chunk_of[tensor]]))
            expected = values[tensor].reshape(blob.shape)
            magnitude = sizes.get(top)
            if magnitude is not None:
                result.magnitudes[top] = magnitude
            comparison, note = compare(blob, expected, magnitude), ""
            if reads_bgr and expected.ndim >= 2 and expected.shape[1] == 3:
                swapped = compare(blob[:, BGR], expected, magnitude)
                if swapped.relative < comparison.relative:
                    comparison, note = swapped, "BGR channel order"
                    bgr.add(top)
            errors[top] = (comparison, note)
            blob[...] = expected[:, BGR] if top in bgr else expected  # later layers read MXNet's exact values
        magnitudes.release(index)
    return _segments(names, types, tops, bottoms, source, errors, reference, result, rewritten)


def _rewritten_in_place(names, tops, bottoms) -> dict[tuple[int, str], int]:
    """{(layer index, top): the index of the layer that rewrites that top in place next} (a BatchNorm's Scale in
    place on its top): the blob holds its tensor only after the last in-place layer, and the two are one segment."""
    writer: dict[str, int] = {}
    rewritten: dict[tuple[int, str], int] = {}
    for index, name in enumerate(names):
        for top in tops[name]:
            if top in bottoms[name] and top in writer:
                rewritten[writer[top], top] = index
            writer[top] = index
    return rewritten


# -- magnitudes ---------------------------------------------------------------------------------------------------

# Magnitudes travel between layers squared ("lifted"): the rerun of a summing layer on squared inputs with squared
# coefficients is the sum of its terms' squares.
# A rule reruns layer `index` on the lifted magnitudes of its inputs and returns the lifted magnitude of each top.
Rule = Callable[[Any, int, list[np.ndarray], list[np.ndarray]], list[np.ndarray]]

# Layers that only move values: rerun as they are (their magnitude is their inputs' magnitudes, moved).
_MOVES = ("Split", "Concat", "Slice", "Flatten", "Reshape", "Permute", "Crop", "Tile")
# Layers whose learnable blobs are the coefficients of a sum: rerun with the blobs lifted (BatchNorm: see _batchnorm).
_WEIGHTED = ("Convolution", "Deconvolution", "InnerProduct", "Scale", "Bias")


def _lift(x: np.ndarray) -> np.ndarray:
    return np.square(x)


def _lower(x: np.ndarray) -> float:
    """The magnitude of a blob (its largest value) from its lifted magnitude."""
    return float(np.sqrt(np.max(x))) if x.size else 0.0


def _magnitude_rules(text_net: Any, names: list[str], types: list[str], bottoms: dict, net: Any) -> dict[int, Rule]:
    """{layer index: its rule} for the layers that sum terms (the others have none: their magnitude is their own)."""
    params = {layer.name: layer for layer in text_net.layer}
    rules: dict[int, Rule] = {}
    for index, (name, kind) in enumerate(zip(names, types)):
        layer = params.get(name)
        rule = None
        if kind in _MOVES:
            rule = _rerun()
        elif kind in _WEIGHTED:
            rule = _rerun(lambda blobs: [_lift(b) for b in blobs])
        elif kind == "BatchNorm" and layer is not None:
            rule = _rerun(_batchnorm(layer.batch_norm_param.eps))
        elif kind == "Pooling" and layer is not None and layer.pooling_param.pool == layer.pooling_param.AVE:
            rule = _average(_window(layer.pooling_param, net.blobs[bottoms[name][0]].data.shape))
        elif kind == "Eltwise" and layer is not None and layer.eltwise_param.operation == layer.eltwise_param.SUM:
            coeffs = list(layer.eltwise_param.coeff) or [1.0] * len(bottoms[name])
            rule = _weighted_sum(coeffs)
        elif kind == "Power" and layer is not None and layer.power_param.power == 1:
            rule = _affine(layer.power_param.scale, layer.power_param.shift)
        if rule is not None:
            rules[index] = rule
    return rules


def _rerun(transform: Callable[[list[np.ndarray]], list[np.ndarray]] | None = None) -> Rule:
    """The layer run again on the magnitudes with its learnable blobs transformed; the net is left as it was."""

    def rule(net: Any, index: int, inputs: list[np.ndarray], saved: list[np.ndarray]) -> list[np.ndarray]:
        layer = net.layers[index]
        name = net._layer_names[index]
        bottoms, tops = list(net.bottom_names[name]), list(net.top_names[name])
        originals = [np.array(b.data) for b in layer.blobs] if transform is not None else []
        outputs = [np.array(net.blobs[t].data) for t in tops]
        try:
            for blob, value in zip(layer.blobs, transform(originals) if transform is not None else []):
                blob.data[...] = value
            for bottom, value in zip(bottoms, inputs):
                net.blobs[bottom].data[...] = value
            net._forward(index, index)
            return [np.array(net.blobs[t].data) for t in tops]
        finally:  # the blobs as they were: coefficients, inputs, then outputs (in-place and shared blobs too)
            for blob, value in zip(layer.blobs, originals):
                blob.data[...] = value
            for bottom, value in zip(bottoms, saved):
                net.blobs[bottom].data[...] = value
            for top, value in zip(tops, outputs):
                net.blobs[top].data[...] = value

    return rule


def _batchnorm(eps: float) -> Callable[[list[np.ndarray]], list[np.ndarray]]:
    """Caffe's BatchNorm y = (x - m) / sqrt(v + eps), blobs (m * f, v * f, f): terms x / s and -m / s with
    s = sqrt(v + eps). On squared inputs, m -> -m^2 and v -> (v + eps)^2 - eps give (x^2 + m^2) / s^2."""

    def transform(blobs: list[np.ndarray]) -> list[np.ndarray]:
        mean, var, factor = blobs[0], blobs[1], blobs[2]
        f = float(factor.reshape(-1)[0]) if factor.size else 1.0
        f = f if f != 0 else 1.0
        m, v = mean / f, var / f
        return [-np.square(m) * f, (np.square(v + eps) - eps) * f, factor]

    return transform


def _window(param: Any, shape: tuple[int, ...]) -> int:
    """The number of values an AVE Pooling window averages (the whole kernel; fewer at a clipped edge)."""
    if param.global_pooling:
        return int(np.prod(shape[2:]))
    kh = param.kernel_h or param.kernel_size or 1
    kw = param.kernel_w or param.kernel_size or 1
    return int(kh * kw)


def _average(window: int) -> Rule:
    """AVE Pooling: the terms are x / k, so the pooled x^2 divided by k (the full window's k: at an edge Caffe divides
    by fewer values, which only makes the magnitude smaller, never looser)."""
    rerun = _rerun()

    def rule(net: Any, index: int, inputs: list[np.ndarray], saved: list[np.ndarray]) -> list[np.ndarray]:
        return [p / window for p in rerun(net, index, inputs, saved)]

    return rule


def _weighted_sum(coeffs: list[float]) -> Rule:
    """Eltwise SUM: sum_k c_k x_k."""

    def rule(net: Any, index: int, inputs: list[np.ndarray], saved: list[np.ndarray]) -> list[np.ndarray]:
        total = sum(float(_lift(np.float64(c))) * x for c, x in zip(coeffs, inputs))
        return [np.asarray(total, np.float32)]

    return rule


def _affine(scale: float, shift: float) -> Rule:
    """Power with power 1: shift + scale * x."""

    def rule(net: Any, index: int, inputs: list[np.ndarray], saved: list[np.ndarray]) -> list[np.ndarray]:
        lifted_scale, lifted_shift = float(_lift(np.float64(scale))), float(_lift(np.float64(shift)))
        return [(lifted_shift + lifted_scale * inputs[0]).astype(np.float32)]

    return rule


class _Magnitudes:
    """The lifted magnitudes of the converter's own blobs that a summing layer reads (kept until their last reader
    ran), and each summing layer's rerun."""

    def __init__(self, names: list[str], types: list[str], bottoms: dict, rules: dict[int, Rule], source: dict):
        self.names, self.rules, self.source = names, rules, source
        self.bottoms = bottoms
        readers: dict[str, int] = {}
        for index, name in enumerate(names):
            if index in rules:
                for blob in bottoms[name]:
                    readers[blob] = index
        self.last_reader = readers  # blob -> the last summing layer that reads it
        self.lifted: dict[str, np.ndarray] = {}  # converter's blob -> its lifted magnitude

    def before(self, net: Any, index: int, name: str) -> list[np.ndarray] | None:
        """The inputs of a summing layer as they are before it runs (an in-place layer overwrites them)."""
        if index not in self.rules:
            return None
        return [np.array(net.blobs[b].data) for b in self.bottoms[name]]

    def after(self, net: Any, index: int, name: str, tops: list[str], saved: list[np.ndarray] | None) -> dict:
        """{top: magnitude} for a summing layer's tops that stand for MXNet tensors (none for other layers); keeps
        the lifted magnitudes of the converter's own tops that a later summing layer reads."""
        rule = self.rules.get(index)
        if rule is None:
            for top in tops:  # no allowance: its own size
                if top not in self.source and top in self.last_reader:
                    self.lifted[top] = _lift(np.array(net.blobs[top].data))
            return {}
        inputs = [
            self.lifted[b] if b in self.lifted and b not in self.source else _lift(value)
            for b, value in zip(self.bottoms[name], saved)
        ]
        lifted = rule(net, index, inputs, saved)
        sizes = {}
        for top, value in zip(tops, lifted):
            if top in self.source:
                size = _lower(value)
                sizes[top] = size if np.isfinite(size) else None
            elif top in self.last_reader:
                self.lifted[top] = value
        return sizes

    def release(self, index: int) -> None:
        for blob in [b for b, last in self.last_reader.items() if last <= index and b in self.lifted]:
            del self.lifted[blob]


# MXNet's tensors are computed in chunks of about this many bytes, in the order the layers need them (one forward
# pass each): holding every tensor of a large segmentation net at once beside the Caffe net's blobs took more than
# 22 GB (deeplab_resnest200_ade / _269_ade at 480x480 were killed by the OOM killer). A net below it takes one pass.
# Caffe keeps every blob (about 15 GB for deeplab_resnest269_ade at 480x480), so the chunks must stay small beside
# it: at 2 GB that model's check reached 24 GB and was killed; measured at 240x240, 512 MB chunks took the peak
# from 10.4 GB to 8.0 GB (the check 16 s -> 19 s); the previous chunk is dropped before the next is computed.
CHUNK_BYTES = 512 << 20


def _chunks(names, types, tops, source, inputs, net) -> tuple[dict[str, int], list[list[str]]]:
    """({MXNet tensor: its chunk}, chunks of tensor names): the tensors the Caffe blobs stand for, in net order."""
    chunk_of: dict[str, int] = {}
    chunks: list[list[str]] = []
    size = 0
    for name, kind in zip(names, types):
        if kind in _NOT_COMPUTING:
            continue
        for top in tops[name]:
            tensor = source.get(top)
            if tensor is None or tensor in inputs or tensor in chunk_of:
                continue
            nbytes = net.blobs[top].data.size * 4
            if not chunks or size + nbytes > CHUNK_BYTES:
                chunks.append([])
                size = 0
            chunks[-1].append(tensor)
            chunk_of[tensor] = len(chunks) - 1
            size += nbytes
    return chunk_of, chunks


# Layers that compute nothing to check: the input, and Silence (it only marks blobs a rewrite discards; grouping
# by its bottoms would join every segment that discards a blob).
_NOT_COMPUTING = ("Input", "Silence")


def _is_fan_out(name: str, kind: str, bottoms: dict, source: dict) -> bool:
    return kind == "Split" and bottoms[name][0] in source


def _sources(names, types, tops, bottoms, reference: MXNetReference) -> dict[str, str]:
    """Caffe blob -> the MXNet tensor it holds (Caffe's own Split copies of such a blob included)."""
    source: dict[str, str] = {}
    for name, kind in zip(names, types):
        for top in tops[name]:
            if _is_fan_out(name, kind, bottoms, source):
                source[top] = source[bottoms[name][0]]
                continue
            tensor = reference.tensor_of(top)
            if tensor is not None:
                source[top] = tensor
    return source


def _segments(names, types, tops, bottoms, source, errors, reference: MXNetReference, result: LocalResult, rewritten):
    """Group layers joined by blobs of the converter's own (union-find), or by a blob one rewrites in place, in net
    order."""
    parent = list(range(len(names)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    skipped = {
        i for i, (n, k) in enumerate(zip(names, types)) if k in _NOT_COMPUTING or _is_fan_out(n, k, bottoms, source)
    }
    producer: dict[str, int] = {}
    for i, name in enumerate(names):
        if i in skipped:
            continue
        for blob in bottoms[name]:
            if blob not in source and blob in producer:
                parent[find(i)] = find(producer[blob])
        for blob in tops[name]:
            if blob not in source:
                producer[blob] = i
    for (i, _), j in rewritten.items():
        if i not in skipped and j not in skipped:
            parent[find(j)] = find(i)
    groups: dict[int, list[int]] = {}
    for i in range(len(names)):
        if i not in skipped:
            groups.setdefault(find(i), []).append(i)
    for members in sorted(groups.values()):
        outputs = list(dict.fromkeys(t for i in members for t in tops[names[i]] if t in errors))
        if not outputs:
            result.unchecked.extend(names[i] for i in members)
            continue
        # The worst output: one beyond the tolerance first, then the largest relative error.
        worst = max(outputs, key=lambda t: (not errors[t][0].within, errors[t][0].relative))
        node, op = reference.nodes.get(source[outputs[0]], (source[outputs[0]], "?"))
        notes = sorted({errors[t][1] for t in outputs if errors[t][1]})
        result.segments.append(
            Segment(
                [names[i] for i in members],
                [types[i] for i in members],
                outputs,
                node,
                op,
                errors[worst][0],
                ", ".join(notes),
                constant=all(errors[t][0].constant for t in outputs),
            )
        )
    return result


__all__ = ["LocalResult", "Segment", "check_local", "TOLERANCE"]
