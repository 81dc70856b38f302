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
    """The supported-operator table in Markdown, then the operators outside Caffe with why (docs/operators.md embeds
    both; a test keeps them in sync)."""
    rows = ["| MXNet op | Caffe | notes |", "|---|---|---|"]
    for op in sorted(REGISTRY, key=str.lower):
        entry = REGISTRY[op]
        rows.append(f"| `{op}` | {entry.caffe} | {entry.doc} |")
    rows += ["", "Refused with the reason, because Caffe cannot compute them:", "", "| MXNet ops | why |", "|---|---|"]
    by_reason: dict[str, list[str]] = {}
    for op, reason in OUTSIDE_CAFFE.items():
        by_reason.setdefault(reason, []).append(op)
    for reason, ops in by_reason.items():
        sentence = reason if reason.endswith((".", ")")) else f"{reason}."
        rows.append(f"| {', '.join(f'`{op}`' for op in sorted(ops, key=str.lower))} | {sentence} |")
    return "\n".join(rows) + "\n"


# Operators no Caffe layer (or composition of layers) computes: the unsupported-operator error and docs/operators.md
# give the reason for each. (An op missing from both tables has no converter yet.)
OUTSIDE_CAFFE: dict[str, str] = {}


def _outside(reason: str, *ops: str) -> None:
    for op in ops:
        OUTSIDE_CAFFE[op] = reason


_RANDOM = ("uniform", "normal", "gamma", "exponential", "poisson", "negative_binomial", "generalized_negative_binomial")
_LINALG = ("det", "slogdet", "inverse", "potrf", "potri", "gelqf", "syevd", "trsm", "trmm", "syrk", "sumlogdiag")
_outside(
    "trigonometry: Caffe has no periodic or inverse-trigonometric layer (its transcendental layers are Exp, Log, "
    "Power, Sigmoid, TanH, BNLL)",
    *("sin", "cos", "tan", "arcsin", "arccos", "arctan"),
)
_outside(
    "rounds to integers: Caffe has no rounding layer (Threshold, its one step function, steps at a single value)",
    *("floor", "ceil", "round", "rint", "fix", "trunc", "_contrib_round_ste"),
)
_outside(
    "a remainder needs integer division (a floor): Caffe has no rounding layer",
    *("_mod", "_mod_scalar", "_rmod_scalar", "broadcast_mod"),
)
_outside(
    "indexing by a tensor: no Caffe layer reads or writes elements at positions a tensor gives (with constant "
    "positions, write it as take or slice, which convert)",
    *("pick", "gather_nd", "scatter_nd", "batch_take", "_contrib_boolean_mask"),
)
_outside(
    "a matrix product of two tensors computed from the input (per sample): Caffe's InnerProduct and Convolution hold "
    "one constant weight for the whole batch, and no layer multiplies two activations as matrices",
    *("batch_dot", "_linalg_gemm", "_linalg_gemm2", "linalg_gemm", "linalg_gemm2"),
)
_outside(
    "linear algebra (factorizations, inverses, determinants, triangular solves): no Caffe layer computes it",
    *(f"_linalg_{name}" for name in _LINALG),
    *(f"linalg_{name}" for name in _LINALG if name != "syevd"),
)
_outside(
    "draws random numbers: a Caffe net computes the same output for the same input (it has no random layer)",
    *(f"_random_{name}" for name in (*_RANDOM, "randint")),
    *(f"_random_{name}_like" for name in _RANDOM),
    *(f"random_{name}" for name in (*_RANDOM, "randint")),
    *(f"_sample_{name}" for name in (*_RANDOM, "multinomial", "unique_zipfian")),
    *(f"sample_{name}" for name in (*_RANDOM, "multinomial")),
    *("uniform", "normal", "_shuffle", "shuffle"),
)
_outside(
    "a fused recurrent network (LSTM, GRU, RNN over a sequence): not converted; Caffe's recurrent layers differ (gate "
    "order, a sequence-continuation input, no GRU or bidirectional form)",
    "RNN",
)
_outside(
    "control flow (a loop or branch run on tensors): a Caffe net is a fixed list of layers",
    *("_foreach", "_while_loop", "_cond"),
)
_outside(
    "a special function (erf, its inverse, gamma): no Caffe layer computes it",
    *("erf", "erfinv", "gamma", "gammaln"),
)
