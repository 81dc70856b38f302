"""Helpers shared by converters."""

from __future__ import annotations

from ..errors import ConversionError
from ..ir.graph import Node
from ..ir.ops import positive_axis  # noqa: F401  (re-exported for the converters)


def spatial_2d(node: Node, key: str, value: tuple[int, ...], fill: int) -> tuple[int, int]:
    """A 2-D (h, w) pair from an MXNet tuple attribute; an empty tuple means the op default."""
    if len(value) == 0:
        return fill, fill
    if len(value) == 1:
        return value[0], value[0]
    if len(value) == 2:
        return value[0], value[1]
    raise ConversionError(f"is {value}; only 2-D (NCHW) operators convert to Caffe", node.name, node.op, key)


def require_nchw(node: Node) -> None:
    layout = node.attrs.str("layout", "None")
    if layout not in ("None", "NCHW"):
        raise ConversionError(f"is {layout!r}; only NCHW converts to Caffe", node.name, node.op, "layout")
