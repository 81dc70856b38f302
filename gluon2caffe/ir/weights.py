"""Weights a conversion refuses before it writes anything: values no runtime can compute with.

A NaN or infinite parameter makes every output it reaches NaN, and a BatchNorm whose moving_var + eps is not positive
divides by the square root of a negative number (MXNet's output is NaN there too): an untrained net's statistics (at
`initialize()`, GluonCV's SSD feature expander draws its moving_var from MXNet's default U(-0.07, 0.07)) or a damaged
file. Written as they are, the Caffe files would compute NaN without a word; `check_weights` names every such
parameter at once instead, like the unsupported-op check.
"""

from __future__ import annotations

import numpy as np

from ..errors import InvalidWeightsError
from .graph import Graph, Node
from .ops import BN_DEFAULT_FIX_GAMMA, batchnorm_params

SHOWN_INDICES = 5

_UNTRAINED = (
    "moving_var is the variance training measures (>= 0): an untrained net's statistics (after initialize(), GluonCV's "
    "SSD feature expander has MXNet's default U(-0.07, 0.07) there) are not a model; convert trained weights"
)
_NON_FINITE = (
    "NaN or infinite weights (a training run that diverged, a damaged file) make the outputs NaN; convert weights "
    "saved before that"
)


def check_weights(graph: Graph) -> None:
    """InvalidWeightsError naming every parameter that is NaN or infinite where MXNet reads it, and every BatchNorm
    whose moving_var + eps (its own eps) is not positive; a fix_gamma BatchNorm's stored gamma is not read (MXNet
    computes with 1) and is not checked. At inference MXNet's BatchNorm always normalizes with the moving statistics
    (use_global_stats only matters in training), so they are checked whatever that attribute says."""
    readers: dict[str, Node] = {}
    for node in graph.nodes:
        for tensor in node.inputs:
            if tensor in graph.params:
                readers.setdefault(tensor, node)
    unread = _ignored_gammas(graph)
    problems: list[tuple[str | None, str | None, str, str]] = []
    non_finite = bad_variance = False
    with np.errstate(all="ignore"):
        for name, value in graph.params.items():
            if name in unread or not np.issubdtype(value.dtype, np.floating):
                continue
            bad = ~np.isfinite(value)
            if bad.any():
                node = readers.get(name)
                what = f"'{name}' has NaN or infinite values at {_count(bad)} {_where(bad)}"
                problems.append((node.name if node else None, node.op if node else None, name, what))
                non_finite = True
        for node in graph.nodes:
            if node.op != "BatchNorm" or len(node.inputs) < 5 or any(t not in graph.params for t in node.inputs[1:5]):
                continue
            _, _, _, var, eps = batchnorm_params(node, graph.params)
            bad = np.isfinite(var) & ~(var + eps > 0)  # a non-finite var is reported above
            if bad.any():
                name = node.inputs[4]
                what = f"moving_var + eps ({eps:g}) <= 0 at {_count(bad)} channels {_where(bad)}"
                problems.append((node.name, node.op, name, what))
                bad_variance = True
    if problems:
        remedy = " ".join(text for text, found in ((_UNTRAINED, bad_variance), (_NON_FINITE, non_finite)) if found)
        raise InvalidWeightsError(problems, remedy)


def _ignored_gammas(graph: Graph) -> set[str]:
    """The gamma of every fix_gamma BatchNorm that nothing else reads: MXNet computes with 1 instead."""
    fixed = {
        node.inputs[1]
        for node in graph.nodes
        if node.op == "BatchNorm" and len(node.inputs) > 1 and node.attrs.bool("fix_gamma", BN_DEFAULT_FIX_GAMMA)
    }
    read_elsewhere = {
        t
        for node in graph.nodes
        if not (node.op == "BatchNorm" and node.attrs.bool("fix_gamma", BN_DEFAULT_FIX_GAMMA))
        for t in node.inputs
    }
    return fixed - read_elsewhere


def _count(bad: np.ndarray) -> str:
    return f"{int(bad.sum())} of {bad.size}"


def _where(bad: np.ndarray) -> str:
    """The first few offending indices: [0, 3, 7, ...] (flat for 1-D), [(0, 1, 2, 2), ...] otherwise."""
    found = np.argwhere(bad)
    shown = [int(i[0]) if bad.ndim == 1 else tuple(int(v) for v in i) for i in found[:SHOWN_INDICES]]
    return "[" + ", ".join(map(str, shown)) + (", ...]" if len(found) > SHOWN_INDICES else "]")
