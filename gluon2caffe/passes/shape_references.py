"""Tensors computed only for their shape: `slice_like(x, ref * 0)` (GluonCV's YOLOv3 upsampling, anchor and grid
generators) reads nothing of `ref * 0` but its shape, which is `ref`'s. The reference becomes `ref` itself, and the
multiply, now read by nothing, is dropped (it would be a dangling Caffe blob, and a Silence some runtimes reject).
"""

from __future__ import annotations

import logging

from ..ir.graph import Graph

log = logging.getLogger(__name__)

SHAPE_ONLY_INPUTS = {"slice_like": 1}  # op -> the input whose shape alone is read
ZEROS = ("zeros_like",)


def bypass_shape_references(graph: Graph) -> int:
    """Point shape-only inputs at the tensor whose shape they copy; drop what no longer feeds anything. Returns the
    number of nodes dropped."""
    producers = {t: n for n in graph.nodes for t in n.outputs}
    for node in graph.nodes:
        index = SHAPE_ONLY_INPUTS.get(node.op)
        if index is None or index >= len(node.inputs):
            continue
        ref = producers.get(node.inputs[index])
        while ref is not None and _zero_like(ref) and ref.inputs[0] not in graph.params:
            node.inputs[index] = ref.inputs[0]  # same shape: x * 0 and zeros_like(x) have x's
            ref = producers.get(ref.inputs[0])
    return drop_unused(graph)


def _zero_like(node) -> bool:
    if node.op in ZEROS:
        return True
    return node.op == "_mul_scalar" and node.attrs.float("scalar", 1.0) == 0.0


def drop_unused(graph: Graph) -> int:
    """Remove nodes none of whose outputs is read or a graph output (repeatedly: their inputs may free up too)."""
    dropped = 0
    while True:
        used = {t for n in graph.nodes for t in n.inputs} | set(graph.outputs)
        dead = [n for n in graph.nodes if not any(t in used for t in n.outputs)]
        if not dead:
            break
        for node in dead:
            graph.remove_node(node)
        dropped += len(dead)
    if dropped:
        graph.prune_params()
        log.info("bypass_shape_references: dropped %d node(s) computed only for a shape", dropped)
    return dropped
