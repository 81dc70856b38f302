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
  tolerance rule (max|caffe - mxnet| <= 1e-4 * max(1, max|mxnet|)).
- With to_bgr the Caffe input holds BGR channels; blobs between the input and the layer that absorbs the swap do
  too. A 3-channel blob computed from such a blob is compared in whichever channel order its producer writes,
  and only there (the order is never guessed elsewhere).
- Layers that lead to no MXNet tensor (a detector's PriorBox / decoding / DetectionOutput, an appended Softmax)
  are not checked here: they are listed, and checked end to end.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import BGR, TOLERANCE, Comparison, MXNetReference, RuntimeUnavailableError, bgr_feed, compare


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

    @property
    def ok(self) -> bool:
        return self.comparison.ok


@dataclass
class LocalResult:
    segments: list[Segment]  # in net order
    unchecked: list[str] = field(default_factory=list)  # layers that lead to no MXNet tensor (checked end to end)

    @property
    def ok(self) -> bool:
        return all(s.ok for s in self.segments)

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
        """Median / 99th percentile / max of the segments' relative errors."""
        errors = np.array([s.comparison.relative for s in self.segments]) if self.segments else np.zeros(1)
        return (
            f"{len(self.segments)} segments: median {np.median(errors):.2g}, "
            f"p99 {np.percentile(errors, 99):.2g}, max {errors.max():.2g}"
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
            mark += "" if segment.ok else "  MISMATCH"
            note = f"  [{segment.note}]" if segment.note else ""
            lines.append(
                f"{index:>4}  {layers[:44]:44}  {segment.node[:36]:36}  {segment.op[:18]:18}  "
                f"{segment.comparison.max_abs:9.2e}  {segment.comparison.relative:9.2e}{mark}{note}"
            )
        return "\n".join(lines)


def check_local(
    prototxt: str, caffemodel: str, reference: MXNetReference, x: np.ndarray, to_bgr: bool = True
) -> LocalResult:
    """Run the Caffe net segment by segment on MXNet's values of every tensor (x: the RGB input, or {name: input})."""
    try:
        import caffe
    except ImportError as exc:
        raise RuntimeUnavailableError(f"pycaffe is not importable ({exc}); run `make caffe` to build it") from None
    caffe.set_mode_cpu()
    net = caffe.Net(prototxt, caffe.TEST, weights=caffemodel)
    names = list(net._layer_names)
    types = [layer.type for layer in net.layers]
    tops, bottoms = dict(net.top_names), dict(net.bottom_names)
    source = _sources(names, types, tops, bottoms, reference)
    inputs = x if isinstance(x, dict) else {reference.input_name: x}

    for name, value in inputs.items():
        net.blobs[name].reshape(*value.shape)
    net.reshape()
    chunk_of, chunks = _chunks(names, types, tops, source, inputs, net)
    values: dict[str, np.ndarray] = dict(inputs)
    feed = bgr_feed(inputs, to_bgr)
    for name, value in feed.items():
        net.blobs[name].data[...] = value
    bgr = {name for name in inputs if feed[name] is not inputs[name]}
    errors: dict[str, tuple[Comparison, str]] = {}
    for index, (name, kind) in enumerate(zip(names, types)):
        if kind in _NOT_COMPUTING:
            continue
        net._forward(index, index)
        if _is_fan_out(name, kind, bottoms, source):  # Caffe's own Split of a checked blob: shares its data
            if bottoms[name][0] in bgr:
                bgr.update(tops[name])
            continue
        reads_bgr = any(b in bgr for b in bottoms[name])
        for top in tops[name]:
            tensor = source.get(top)
            if tensor is None:
                if reads_bgr:
                    bgr.add(top)
                continue
            blob = net.blobs[top].data
            if tensor not in values:  # the next chunk of MXNet's tensors (the previous one is dropped)
                values = {**inputs, **reference.run(inputs, chunks[chunk_of[tensor]])}
            expected = values[tensor].reshape(blob.shape)
            comparison, note = compare(blob, expected), ""
            if reads_bgr and expected.ndim >= 2 and expected.shape[1] == 3:
                swapped = compare(blob[:, BGR], expected)
                if swapped.relative < comparison.relative:
                    comparison, note = swapped, "BGR channel order"
                    bgr.add(top)
            errors[top] = (comparison, note)
            blob[...] = expected[:, BGR] if top in bgr else expected  # later layers read MXNet's exact values
    return _segments(names, types, tops, bottoms, source, errors, reference)


# MXNet's tensors are computed in chunks of about this many bytes, in the order the layers need them (one forward
# pass each): holding every tensor of a large segmentation net at once beside the Caffe net's blobs took more than
# 22 GB (deeplab_resnest200_ade / _269_ade at 480x480 were killed by the OOM killer). A net below it takes one pass.
CHUNK_BYTES = 2 << 30


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


def _segments(names, types, tops, bottoms, source, errors, reference: MXNetReference) -> LocalResult:
    """Group layers joined by blobs of the converter's own (union-find), in net order."""
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
    groups: dict[int, list[int]] = {}
    for i in range(len(names)):
        if i not in skipped:
            groups.setdefault(find(i), []).append(i)
    result = LocalResult([])
    for members in sorted(groups.values()):
        outputs = [t for i in members for t in tops[names[i]] if t in errors]
        if not outputs:
            result.unchecked.extend(names[i] for i in members)
            continue
        worst = max(outputs, key=lambda t: errors[t][0].relative)
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
            )
        )
    return result


__all__ = ["LocalResult", "Segment", "check_local", "TOLERANCE"]
