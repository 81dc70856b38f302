"""The one way in for every network: a live HybridBlock (traced) or an exported model, plain or detector, as an IR
graph without shapes, plus the shape inference to run once the graph was checked (a detector cuts its head off
first). api.convert_with and api.read_detector_head read through here."""

from __future__ import annotations

from typing import Any, Callable

from ..errors import InvalidCallError
from ..ir.graph import Graph
from .exported import ExportedModel, infer_exported_shapes
from .mxnet_graph import graph_from_json, infer_shapes, trace_block

ShapeInference = Callable[[Graph], dict]


def load_graph(
    net: Any, input_shapes: dict[str, tuple[int, ...]], input_name: str | None = None
) -> tuple[Graph, ShapeInference]:
    """(graph, infer): the IR graph of `net` and a function giving every tensor's shape (MXNet's inference; for an
    exported model in a child process, the graph being untrusted, or our own where MXNet does not import).

    `input_shapes` {variable: shape}: a live block's inputs, traced under these names in this order (its forward
    takes them so); an exported model's data variables, every one. `input_name`: the name its one input takes in
    the graph (the Caffe input), where that differs from the exported model's variable; None keeps the names."""
    shapes = {name: tuple(shape) for name, shape in input_shapes.items()}
    if isinstance(net, ExportedModel):
        graph = graph_from_json(net.symbol_json, net.params, shapes, name=net.name)
        var = next(iter(shapes))
        renamed = input_name is not None and var != input_name
        if renamed and len(shapes) != 1:
            raise InvalidCallError(f"input_name renames one input; {net.symbol_path} has {len(shapes)}: {list(shapes)}")

        def infer_exported(g: Graph) -> dict:
            inferred = infer_exported_shapes(net, shapes, g.source_names)
            if renamed:
                inferred[input_name] = inferred.pop(var)
            return inferred

        if renamed:
            graph.rename_tensor(var, input_name)
        return graph, infer_exported
    if len(shapes) == 1:  # one input: traced as `name` (its messages say the shape, not the name)
        ((name, shape),) = shapes.items()
        symbol, params = trace_block(net, shape, name)
    else:
        symbol, params = trace_block(net, shapes)
    graph = graph_from_json(symbol.tojson(), params, shapes, name=getattr(net, "name", None) or type(net).__name__)
    del params  # the graph holds the arrays; a fold then frees each original (peak memory ~1x the weights)
    return graph, lambda g: infer_shapes(symbol, g.inputs, g.source_names)
