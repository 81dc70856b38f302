"""The registry of per-op converters: MXNet op name -> function that emits Caffe layers for one node."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from .context import EmitContext
    from ..ir.graph import Node

Converter = Callable[["Node", "EmitContext"], None]


@dataclass(frozen=True)
class OpEntry:
    op: str
    caffe: str  # the Caffe layer(s) it becomes, for the support table
    doc: str  # the converter's one-line docstring
    convert: Converter | None  # None: the op is removed by a pass before emission (e.g. Dropout)
    family: str


REGISTRY: dict[str, OpEntry] = {}


def register(*ops: str, caffe: str) -> Callable[[Converter], Converter]:
    """Register `fn` as the converter of each MXNet op in `ops`; a second registration of an op is a bug."""

    def decorator(fn: Converter) -> Converter:
        for op in ops:
            _add(OpEntry(op, caffe, _first_line(fn.__doc__), fn, fn.__module__.rsplit(".", 1)[-1]))
        return fn

    return decorator


def register_removed(*ops: str, doc: str, family: str) -> None:
    """Ops that a rewrite pass removes (identities at inference); listed as supported, never emitted."""
    for op in ops:
        _add(OpEntry(op, "(none)", doc, None, family))


def _add(entry: OpEntry) -> None:
    if entry.op in REGISTRY:
        raise RuntimeError(f"converter for {entry.op} registered twice ({REGISTRY[entry.op].family}, {entry.family})")
    REGISTRY[entry.op] = entry


def _first_line(doc: str | None) -> str:
    if not doc or not doc.strip():
        raise RuntimeError("every converter needs a one-line docstring stating its mapping")
    lines = doc.strip().splitlines()
    if len(lines) > 1 and lines[1].strip():  # the table shows the first line only: it must not stop mid-sentence
        raise RuntimeError(f"a converter's docstring needs a summary line of its own, then a blank line: {lines[0]!r}")
    return lines[0]


def support_table() -> str:
    """The supported-operator table in Markdown (the README embeds it; a test keeps them in sync)."""
    rows = ["| MXNet op | Caffe | notes |", "|---|---|---|"]
    for op in sorted(REGISTRY, key=str.lower):
        entry = REGISTRY[op]
        rows.append(f"| `{op}` | {entry.caffe} | {entry.doc} |")
    return "\n".join(rows) + "\n"
