"""Emit Caffe layers for an IR graph through the converter registry, and assemble the two NetParameters."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from . import REGISTRY
from ..errors import UnsupportedOperatorError
from ..ir.graph import Graph, Node
from ..caffe import caffe_pb2 as pb

log = logging.getLogger(__name__)


@dataclass
class Layer:
    proto: pb.LayerParameter  # everything but the blobs
    blobs: list[np.ndarray] = field(default_factory=list)


@dataclass
class EmitOptions:
    relu6: str = "exact"  # 'exact' | 'layer' | 'relu'


class EmitContext:
    """What a converter sees: the graph, typed shapes/params, and `layer()` to append Caffe layers."""

    def __init__(self, graph: Graph, options: EmitOptions):
        self.graph = graph
        self.options = options
        self.layers: list[Layer] = []
        self._alias: dict[str, str] = {}
        self._names: set[str] = set()
        self._blob_shapes: dict[str, tuple[int, ...]] = {}
        self.outputs: list[str] = []  # the net's output blobs, set by emit_layers

    def shape(self, tensor: str) -> tuple[int, ...]:
        """Shape of an IR tensor, or of an intermediate blob a converter registered with `set_shape`."""
        if tensor in self.graph.shapes:
            return self.graph.shapes[tensor]
        return self._blob_shapes[tensor]

    def set_shape(self, blob: str, shape: tuple[int, ...]) -> None:
        self._blob_shapes[blob] = tuple(shape)

    def param(self, tensor: str) -> np.ndarray:
        return self.graph.params[tensor]

    def is_param(self, tensor: str) -> bool:
        return tensor in self.graph.params

    def blob(self, tensor: str) -> str:
        """The Caffe blob that holds an IR tensor."""
        return self._alias.get(tensor, tensor)

    def alias(self, tensor: str, blob: str) -> None:
        """Make `tensor` an alias of an existing blob (ops that are identities in Caffe)."""
        if tensor == blob:
            self._alias.pop(tensor, None)
        else:
            self._alias[tensor] = self.blob(blob)

    def unique(self, base: str) -> str:
        """A fresh layer/blob name derived from an MXNet name (for the extra layers of a decomposition)."""
        name, i = base, 1
        while name in self._names or name in self.graph.shapes:
            name, i = f"{base}_{i}", i + 1
        self._names.add(name)
        return name

    def layer(
        self, name: str, type_: str, bottoms: list[str], tops: list[str], blobs: list[np.ndarray] | None = None
    ) -> pb.LayerParameter:
        """Append a layer; `bottoms` are IR tensor names (resolved through aliases), `tops` new blob names."""
        proto = pb.LayerParameter(name=name, type=type_)
        proto.bottom.extend(self.blob(b) for b in bottoms)
        proto.top.extend(tops)
        self._names.add(name)
        self._names.update(tops)
        self.layers.append(Layer(proto, [np.asarray(b) for b in blobs or []]))
        return proto


def check_supported(graph: Graph) -> None:
    """Scan the whole graph first: one error listing every op without a converter, with counts and node names."""
    unsupported: dict[str, list[str]] = {}
    for node in graph.nodes:
        if node.op not in REGISTRY:
            unsupported.setdefault(node.op, []).append(node.name)
    if unsupported:
        raise UnsupportedOperatorError(unsupported)


def emit_layers(
    graph: Graph, options: EmitOptions, tail: Callable[[EmitContext], list[str]] | None = None
) -> EmitContext:
    """Convert every node; `tail` (e.g. SSD's detection layers) may append layers and returns the net's outputs
    (default: the graph's outputs). `ctx.outputs` holds the output blobs."""
    ctx = EmitContext(graph, options)
    for name, shape in graph.inputs.items():
        proto = ctx.layer(name, "Input", [], [name])
        proto.input_param.shape.add().dim.extend(shape)
    for node in graph.nodes:
        _convert(node, ctx)
    outputs = tail(ctx) if tail else list(graph.outputs)
    _expose_consumed_outputs(outputs, ctx)
    _silence_dangling(outputs, ctx)
    ctx.outputs = [ctx.blob(t) for t in outputs]
    return ctx


def _convert(node: Node, ctx: EmitContext) -> None:
    entry = REGISTRY[node.op]
    if entry.convert is None:  # pragma: no cover - the pipeline removes these before emission
        raise RuntimeError(f"{node.op} node '{node.name}' should have been removed by a pass")
    entry.convert(node, ctx)


def _expose_consumed_outputs(graph_outputs: list[str], ctx: EmitContext) -> None:
    """Caffe's net outputs are the blobs no layer consumes. A model output that other layers also read is renamed
    where it is produced and consumed, and a Split copies it back to its own name as a net output."""
    for tensor in graph_outputs:  # an output that is an alias (an identity op) gets a blob of its own name
        if ctx.blob(tensor) != tensor:
            ctx.layer(ctx.unique(f"{tensor}_output"), "Split", [tensor], [tensor])
            ctx.alias(tensor, tensor)
    outputs = {ctx.blob(t) for t in graph_outputs}
    consumed = {b for layer in ctx.layers for b in layer.proto.bottom}
    for blob in sorted(outputs & consumed):
        inner = ctx.unique(f"{blob}_inner")
        position = 0
        for index, layer in enumerate(ctx.layers):
            layer.proto.bottom[:] = [inner if b == blob else b for b in layer.proto.bottom]
            if blob in layer.proto.top:
                layer.proto.top[:] = [inner if t == blob else t for t in layer.proto.top]
                position = index + 1
        ctx.layer(ctx.unique(f"{blob}_output"), "Split", [inner], [blob])
        # Right after the producer, so Caffe lists the outputs in the model's order where it can.
        ctx.layers.insert(position, ctx.layers.pop())


def _silence_dangling(graph_outputs: list[str], ctx: EmitContext) -> None:
    """Blobs nobody consumes (e.g. the trailing row a pooling fix slices off) would become extra net outputs."""
    consumed = {b for layer in ctx.layers for b in layer.proto.bottom}
    outputs = {ctx.blob(t) for t in graph_outputs}
    dangling = [t for layer in ctx.layers for t in layer.proto.top if t not in consumed and t not in outputs]
    if dangling:
        ctx.layer(ctx.unique("silence"), "Silence", [], [])
        ctx.layers[-1].proto.bottom.extend(dangling)
        log.debug("silenced %d dangling blob(s): %s", len(dangling), dangling)


# -- assembling the NetParameters --------------------------------------------------------------------------------


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field."""
    return _header(number, len(payload)) + payload


def _header(number: int, length: int) -> bytes:
    return _varint((number << 3) | 2) + _varint(length)


_BLOBS = 7  # LayerParameter.blobs


def _split_before(serialized: bytes, number: int) -> int:
    """Offset of the first top-level field numbered above `number` (protobuf writes known fields in order)."""
    pos = 0
    while pos < len(serialized):
        start = pos
        tag, pos = _read_varint(serialized, pos)
        if tag >> 3 > number:
            return start
        wire = tag & 7
        if wire == 0:
            _, pos = _read_varint(serialized, pos)
        elif wire == 2:
            length, pos = _read_varint(serialized, pos)
            pos += length
        elif wire == 5:
            pos += 4
        elif wire == 1:
            pos += 8
        else:  # pragma: no cover - groups are not in caffe.proto
            raise ValueError(f"unexpected wire type {wire}")
    return len(serialized)


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


class CaffeModel:
    """binary_weights: a Caffe NetParameter whose bytes are assembled from numpy arrays, not through protobuf.

    Filling protobuf's repeated float fields costs about 100x writing the same floats from numpy, and a parsed
    message holds a second copy of every weight. This keeps the arrays and streams them: `write_to(file)` writes the
    serialized NetParameter without building it in memory (save_model uses it), `SerializeToString()` returns the
    same bytes -- byte-identical to protobuf's own serialization of the same message (a test checks). Anything else
    (`.layer`, `.name`, `ListFields()`, ...) is answered by the parsed message, built once on first use.
    """

    def __init__(self, name: str, layers: list[Layer]):
        self._name = name
        self._layers = layers
        self._message: pb.NetParameter | None = None

    # -- streaming -----------------------------------------------------------------------------------------------
    def _chunks(self):
        """The serialized message as a sequence of bytes-like pieces (weight arrays as zero-copy memoryviews)."""
        yield _field(1, self._name.encode())
        for layer in self._layers:
            proto = layer.proto.SerializeToString()
            split = _split_before(proto, _BLOBS)
            blobs = [_blob_parts(b) for b in layer.blobs]
            body = len(proto) + sum(sum(len(part) for part in parts) for parts in blobs)
            yield _header(100, body)
            yield proto[:split]
            for parts in blobs:
                yield from parts
            yield proto[split:]

    def write_to(self, f: Any) -> int:
        """Write the serialized NetParameter to the binary file `f`; returns the number of bytes."""
        written = 0
        for chunk in self._chunks():
            f.write(chunk)
            written += len(chunk)
        return written

    def SerializeToString(self) -> bytes:  # noqa: N802 - protobuf's name
        return b"".join(bytes(c) if isinstance(c, memoryview) else c for c in self._chunks())

    def ByteSize(self) -> int:  # noqa: N802 - protobuf's name
        return sum(len(c) for c in self._chunks())

    @property
    def num_parameters(self) -> int:
        return sum(int(b.size) for layer in self._layers for b in layer.blobs)

    # -- everything else: the parsed message -----------------------------------------------------------------------
    def message(self) -> pb.NetParameter:
        if self._message is None:
            self._message = pb.NetParameter.FromString(self.SerializeToString())
        return self._message

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.message(), name)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, CaffeModel):
            return self.SerializeToString() == other.SerializeToString()
        if isinstance(other, pb.NetParameter):
            return self.message() == other
        return NotImplemented

    def __repr__(self) -> str:
        return f"CaffeModel({self._name!r}, {len(self._layers)} layers, {self.num_parameters} parameters)"


def _blob_parts(array: np.ndarray) -> list[Any]:
    """BlobProto{data (packed float32) = 5, shape = 7} as field 7 of its layer, the data as a zero-copy view."""
    data = np.ascontiguousarray(array, dtype="<f4")
    shape = _field(7, pb.BlobShape(dim=array.shape).SerializeToString())
    head = _header(5, data.nbytes) if data.size else b""  # protobuf omits an empty packed field
    view = memoryview(data.reshape(-1)).cast("B") if data.size else b""
    return [_header(_BLOBS, len(head) + data.nbytes + len(shape)), head, view, shape]


def build_nets(graph: Graph, ctx: EmitContext) -> tuple[pb.NetParameter, CaffeModel]:
    """(text_net without weights, binary_weights with every layer's blobs)."""
    text_net = pb.NetParameter(name=graph.name)
    text_net.layer.extend(layer.proto for layer in ctx.layers)
    return text_net, CaffeModel(graph.name, ctx.layers)


def layer_type_counts(net: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for layer in net.layer:
        counts[layer.type] = counts.get(layer.type, 0) + 1
    return counts
