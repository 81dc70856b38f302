"""softmax=True: append a Softmax over the class axis (1) to the network output."""

from __future__ import annotations

from ..errors import InvalidCallError
from ..ir.attrs import Attrs
from ..ir.graph import Graph, Node

# Heads that already output probabilities: the training heads' inference form and the plain softmaxes.
SOFTMAX_HEADS = ("SoftmaxOutput", "Softmax", "SoftmaxActivation", "softmax")


def append_softmax(graph: Graph) -> str:
    if len(graph.outputs) != 1:
        raise InvalidCallError(f"softmax=True needs a single-output network; this one has {len(graph.outputs)}")
    logits = graph.outputs[0]
    producer = graph.producer(logits)
    if producer is not None and producer.op in SOFTMAX_HEADS:
        raise InvalidCallError(
            f"softmax=True: the output {logits!r} is already a softmax ({producer.op} node {producer.name!r}); "
            "a second one would change it: leave softmax off"
        )
    if len(graph.shapes[logits]) < 2:
        raise InvalidCallError(f"softmax=True needs a class axis 1; the output has shape {graph.shapes[logits]}")
    name = graph.fresh_name(f"{logits}_softmax")
    attrs = Attrs(name, "softmax")
    attrs.set("axis", 1)
    graph.nodes.append(Node(name, "softmax", attrs, [logits], [name]))
    graph.shapes[name] = graph.shapes[logits]
    graph.outputs = [name]
    return name
