"""Fold a symmetric zero Pad into the Convolution that consumes it (its own pad grows)."""

from __future__ import annotations

import logging

from ..ir.graph import Graph
from ..ir.ops import pad_amounts

log = logging.getLogger(__name__)


def fold_pad(graph: Graph) -> int:
    """Zero padding followed by a convolution is the convolution with a larger pad: exactly the same sums."""
    folded = 0
    for pad in [n for n in graph.nodes if n.op == "Pad"]:
        consumers = graph.consumers(pad.outputs[0])
        if len(consumers) != 1 or pad.outputs[0] in graph.outputs or consumers[0].op != "Convolution":
            continue
        conv = consumers[0]
        if conv.inputs[0] != pad.outputs[0] or len(conv.attrs.int_tuple("kernel")) != 2:
            continue
        try:
            top, bottom, left, right = pad_amounts(pad)
        except Exception:  # noqa: BLE001 - not foldable; the Pad converter reports it
            continue
        if pad.attrs.float("constant_value", 0.0) != 0.0 or top != bottom or left != right:
            continue
        old = conv.attrs.int_tuple("pad", ())
        ph, pw = (old + (0, 0))[:2] if len(old) == 2 else ((old[0], old[0]) if old else (0, 0))
        conv.attrs.set("pad", (ph + top, pw + left))
        conv.inputs[0] = pad.inputs[0]
        graph.remove_node(pad)
        folded += 1
    log.info("fold_pad: folded %d Pad node(s) into convolutions", folded)
    return folded
