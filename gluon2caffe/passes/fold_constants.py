"""Evaluate the subgraphs that read only parameters and constants (a weight times a mask, a slice, concat, reshape or
transpose of a weight, arithmetic of parameters) at conversion time: their results become parameters."""

from __future__ import annotations

import logging

from ..ir.evaluate import SHAPE_ONLY_INPUTS, check_parameter_inputs, constant_nodes, evaluate
from ..ir.graph import Graph

log = logging.getLogger(__name__)


def fold_constants(graph: Graph) -> int:
    """Replace every node computed from parameters alone (ir.evaluate.constant_nodes) by its outputs as parameters,
    evaluated op by op in MXNet's float32 arithmetic (ir.evaluate.evaluate). Returns the number of nodes folded.

    Then every input a Caffe layer stores as a weight must be a parameter: one that an op not evaluated here still
    computes is refused, naming the node, the input and that op (ir.evaluate.check_parameter_inputs)."""
    folded = 0
    for node in constant_nodes(graph):
        skip = SHAPE_ONLY_INPUTS.get(node.op)
        values = [None if i == skip else graph.params[t] for i, t in enumerate(node.inputs)]
        for tensor, value in zip(node.outputs, evaluate(node, values, [graph.shapes[t] for t in node.outputs])):
            graph.params[tensor] = value
        graph.remove_node(node)
        folded += 1
    if folded:
        graph.prune_params()
    check_parameter_inputs(graph, computed=False)
    log.info("fold_constants: evaluated %d node(s) computed from parameters alone", folded)
    return folded
