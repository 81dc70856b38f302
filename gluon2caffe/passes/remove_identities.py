"""Remove ops that are identities at inference (Dropout, _copy, identity; add_n and Concat of one input)."""

from __future__ import annotations

import logging

from ..errors import ConversionError
from ..ir.graph import Graph
from ..ir.ops import is_identity

log = logging.getLogger(__name__)


def remove_identities(graph: Graph) -> int:
    removed = 0
    for node in [n for n in graph.nodes if is_identity(n)]:
        if node.op == "Dropout" and node.attrs.str("mode", "training") == "always":
            raise ConversionError(
                "Dropout with mode='always' is active at inference; it has no deterministic Caffe equivalent",
                node.name,
                node.op,
                "mode",
            )
        graph.replace_uses(node.outputs[0], node.inputs[0])
        graph.remove_node(node)
        removed += 1
    log.info("remove_identities: removed %d node(s)", removed)
    return removed
