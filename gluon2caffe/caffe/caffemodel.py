"""The streaming caffemodel writer: a NetParameter whose bytes are assembled from numpy arrays, not protobuf."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import caffe_pb2 as pb


@dataclass
class Layer:
    proto: pb.LayerParameter  # everything but the blobs
    blobs: list[np.ndarray] = field(default_factory=list)


# -- protobuf wire format --------------------------------------------------------------------------------


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
