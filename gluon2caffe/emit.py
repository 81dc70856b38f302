"""Emit Caffe layers for an IR graph through the converter registry, and assemble the two NetParameters."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .converters import REGISTRY
from .errors import UnsupportedOperatorError
from .ir import Graph, Node
from .proto import caffe_pb2 as pb

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


def emit_layers(graph: Graph, options: EmitOptions) -> EmitContext:
    ctx = EmitContext(graph, options)
    for name, shape in graph.inputs.items():
        proto = ctx.layer(name, "Input", [], [name])
        proto.input_param.shape.add().dim.extend(shape)
    for node in graph.nodes:
        _convert(node, ctx)
    _expose_consumed_outputs(graph, ctx)
    _silence_dangling(graph, ctx)
    return ctx


def _convert(node: Node, ctx: EmitContext) -> None:
    entry = REGISTRY[node.op]
    if entry.convert is None:  # pragma: no cover - the pipeline removes these before emission
        raise RuntimeError(f"{node.op} node '{node.name}' should have been removed by a pass")
    entry.convert(node, ctx)


def _expose_consumed_outputs(graph: Graph, ctx: EmitContext) -> None:
    """Caffe's net outputs are the blobs no layer consumes. A model output that other layers also read is renamed
    where it is produced and consumed, and a Split copies it back to its own name as a net output."""
    for tensor in graph.outputs:  # an output that is an alias (an identity op) gets a blob of its own name
        if ctx.blob(tensor) != tensor:
            ctx.layer(ctx.unique(f"{tensor}_output"), "Split", [tensor], [tensor])
            ctx.alias(tensor, tensor)
    outputs = {ctx.blob(t) for t in graph.outputs}
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


def _silence_dangling(graph: Graph, ctx: EmitContext) -> None:
    """Blobs nobody consumes (e.g. the trailing row a pooling fix slices off) would become extra net outputs."""
    consumed = {b for layer in ctx.layers for b in layer.proto.bottom}
    outputs = {ctx.blob(t) for t in graph.outputs}
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
    return _varint((number << 3) | 2) + _varint(len(payload)) + payload


def _blob_bytes(array: np.ndarray) -> bytes:
    """BlobProto{shape, data (packed float32)} serialized straight from numpy (no per-float protobuf work)."""
    shape = pb.BlobShape(dim=array.shape).SerializeToString()
    data = np.ascontiguousarray(array, dtype="<f4").tobytes()
    return _field(7, shape) + _field(5, data)


def build_nets(graph: Graph, ctx: EmitContext) -> tuple[pb.NetParameter, pb.NetParameter]:
    """(text_net without weights, binary_weights with every layer's blobs)."""
    text_net = pb.NetParameter(name=graph.name)
    text_net.layer.extend(layer.proto for layer in ctx.layers)
    chunks = [_field(1, graph.name.encode())]
    for layer in ctx.layers:
        body = layer.proto.SerializeToString() + b"".join(_field(7, _blob_bytes(b)) for b in layer.blobs)
        chunks.append(_field(100, body))
    binary_net = pb.NetParameter.FromString(b"".join(chunks))
    return text_net, binary_net


def layer_type_counts(net: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for layer in net.layer:
        counts[layer.type] = counts.get(layer.type, 0) + 1
    return counts
