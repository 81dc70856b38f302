"""One way in for a whole network: a live HybridBlock (traced) or an exported model, as an IR graph without shapes,
plus the shape inference to run once the graph was checked (a detector cuts its head off first)."""

from __future__ import annotations

from typing import Any, Callable

from ..errors import ConversionError
from ..ir.graph import Graph
from .exported import ExportedModel, infer_exported_shapes
from .mxnet_graph import graph_from_json, infer_shapes, trace_block

ShapeInference = Callable[[Graph], dict]


def load_graph(net: Any, input_shape: tuple[int, ...], input_name: str = "data") -> tuple[Graph, ShapeInference]:
    """(graph, infer): the IR graph of `net` and a function giving every tensor's shape (MXNet's inference; for
    an exported model in a child process, the graph being untrusted, or our own where MXNet does not import). The
    input tensor is named `input_name`."""
    if isinstance(net, ExportedModel):
        inputs = net.inputs
        if len(inputs) != 1:
            raise ConversionError(f"{net.symbol_path}: expected one data input, found {len(inputs)}: {inputs}")
        var = inputs[0]
        graph = graph_from_json(net.symbol_json, net.params, {var: tuple(input_shape)}, name=net.name)

        def infer_exported(g: Graph) -> dict:
            shapes = infer_exported_shapes(net, {var: tuple(input_shape)}, g.source_names)
            if var != input_name:
                shapes[input_name] = shapes.pop(var)
            return shapes

        if var != input_name:
            graph.rename_tensor(var, input_name)
        return graph, infer_exported
    symbol, params = trace_block(net, tuple(input_shape), input_name)
    graph = graph_from_json(symbol.tojson(), params, {input_name: tuple(input_shape)}, name=net.name)
    return graph, lambda g: infer_shapes(symbol, g.inputs, g.source_names)
