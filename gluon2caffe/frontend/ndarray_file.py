"""A reader for MXNet's NDArray list files (`.params`), in pure numpy.

MXNet's own loader is C++ that trusts the file; this one checks every count and size against the bytes that are
there, so a truncated or hostile file gives a ModelFileError naming the file, never a crash, a hang or a huge
allocation. Format (mxnet/src/ndarray/ndarray.cc, NDArray::Save): u64 magic 0x112, u64 reserved, u64 count,
`count` arrays, u64 count, `count` names (u64 length + bytes). An array: u32 magic (V1 0xF993FAC8, V2 ...C9,
V3 ...CA), i32 storage type (V2/V3 only; 0 = dense), shape (u32 ndim (i32 in V3) + i64 dims), i32 dev_type,
i32 dev_id, i32 dtype flag, raw little-endian data.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from ..errors import ModelFileError

LIST_MAGIC = 0x112
V1, V2, V3 = 0xF993FAC8, 0xF993FAC9, 0xF993FACA
DTYPES = {0: "<f4", 1: "<f8", 2: "<f2", 3: "u1", 4: "<i4", 5: "i1", 6: "<i8", 7: "?"}
MAX_NDIM = 32


class _Reader:
    def __init__(self, data: bytes, path: str):
        # A memoryview: taking an array's bytes is a view, not a copy (hundreds of MB for vgg16).
        self.data, self.pos, self.path = memoryview(data), 0, path

    def fail(self, message: str) -> ModelFileError:
        return ModelFileError(self.path, f"{message} (at byte {self.pos} of {len(self.data)})")

    def take(self, size: int, what: str) -> memoryview:
        if size < 0 or self.pos + size > len(self.data):
            raise self.fail(f"truncated: {what} needs {size} bytes, {len(self.data) - self.pos} left")
        chunk = self.data[self.pos : self.pos + size]
        self.pos += size
        return chunk

    def unpack(self, fmt: str, what: str) -> tuple:
        return struct.unpack(fmt, self.take(struct.calcsize(fmt), what))


def load_params(path: str | Path) -> dict[str, np.ndarray]:
    """Read a `.params` file into {name: array}. Names keep their `arg:`/`aux:` prefixes."""
    path = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ModelFileError(path, f"cannot read: {exc.strerror or exc}") from None
    return parse_params(data, path)


def parse_params(data: bytes, path: str = "<params>") -> dict[str, np.ndarray]:
    r = _Reader(data, path)
    magic, _reserved = r.unpack("<QQ", "header")
    if magic != LIST_MAGIC:
        raise ModelFileError(path, f"not an MXNet .params file (magic {magic:#x}, expected {LIST_MAGIC:#x})")
    (count,) = r.unpack("<Q", "array count")
    if count > (len(data) - r.pos) // 20:  # an array takes at least 20 bytes
        raise r.fail(f"claims {count} arrays, more than the file can hold")
    arrays = [_read_array(r, i) for i in range(count)]
    (num_names,) = r.unpack("<Q", "name count")
    if num_names != count:
        raise r.fail(f"{count} arrays but {num_names} names; only named parameter files can be converted")
    names = []
    for i in range(num_names):
        (length,) = r.unpack("<Q", f"length of name {i}")
        raw = r.take(length, f"name {i}")
        try:
            names.append(bytes(raw).decode("utf-8"))
        except UnicodeDecodeError:
            raise r.fail(f"name {i} is not UTF-8") from None
    if r.pos != len(data):
        raise r.fail(f"{len(data) - r.pos} unexpected bytes after the last name")
    if len(set(names)) != len(names):
        raise ModelFileError(path, "duplicate parameter names")
    return dict(zip(names, arrays))


def _read_array(r: _Reader, index: int) -> np.ndarray:
    (magic,) = r.unpack("<I", f"array {index} magic")
    if magic not in (V1, V2, V3):
        raise r.fail(f"array {index}: unknown format {magic:#x} (very old or not an MXNet file)")
    if magic != V1:
        (stype,) = r.unpack("<i", f"array {index} storage type")
        if stype != 0:
            raise r.fail(f"array {index}: sparse storage (type {stype}) is not supported; save dense arrays")
    (ndim,) = r.unpack("<i" if magic == V3 else "<I", f"array {index} ndim")
    if ndim < 0 or ndim > MAX_NDIM:
        raise r.fail(f"array {index}: {ndim} dimensions")
    shape = r.unpack(f"<{ndim}q", f"array {index} shape") if ndim else ()
    if any(d < 0 for d in shape):
        raise r.fail(f"array {index}: negative dimension in {shape}")
    if ndim == 0 and magic != V3:
        return np.zeros((0,), np.float32)  # a "none" array: nothing more is stored
    r.unpack("<ii", f"array {index} context")
    (flag,) = r.unpack("<i", f"array {index} dtype")
    if flag not in DTYPES:
        raise r.fail(f"array {index}: unsupported dtype flag {flag}")
    dtype = np.dtype(DTYPES[flag])
    size = 1
    for d in shape:
        size *= d
    nbytes = size * dtype.itemsize
    raw = r.take(nbytes, f"array {index} data ({shape}, {dtype})")
    # Little-endian data on a little-endian machine is used in place (no copy); the file's bytes stay alive with it.
    array = np.frombuffer(raw, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="), copy=False)
    array.flags.writeable = False  # the model's own values: passes that rewrite a weight copy it first
    return array
