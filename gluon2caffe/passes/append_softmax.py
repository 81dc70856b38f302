"""softmax=True: append a Softmax over the class axis (1) to the network output."""

from __future__ import annotations

from ..errors import InvalidCallError
from ..ir.attrs import Attrs
from ..ir.graph import Graph, Node


def append_softmax(graph: Graph) -> str:
    if len(graph.outputs) != 1:
        raise InvalidCallError(f"softmax=True needs a single-output network; this one has {len(graph.outputs)}")
    logits = graph.outputs[0]
    if len(graph.shapes[logits]) < 2:
        raise InvalidCallError(f"softmax=True needs a class axis 1; the output has shape {graph.shapes[logits]}")
    name = graph.fresh_name(f"{logits}_softmax")
    attrs = Attrs(name, "softmax")
    attrs.set("axis", 1)
    graph.nodes.append(Node(name, "softmax", attrs, [logits], [name]))
    graph.shapes[name] = graph.shapes[logits]
    graph.outputs = [name]
    return name
