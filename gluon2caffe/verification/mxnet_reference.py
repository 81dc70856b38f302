"""The MXNet side of a check: `MXNetReference`, the model as a symbol + parameters that returns any internal tensor
by its IR name (the tensor names the Caffe blobs carry), and `mxnet_forward`."""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from typing import Any, Iterator

import numpy as np

from ..errors import InvalidCallError
from ..extras import import_mxnet


def mxnet_forward(block: Any, *inputs: np.ndarray) -> list[np.ndarray]:
    mx = import_mxnet("running a model in MXNet")

    out = block(*[mx.nd.array(x) for x in inputs])
    outs = out if isinstance(out, (list, tuple)) else [out]
    return [o.asnumpy() for o in outs]


class MXNetReference:
    """The MXNet model as a symbol + parameters, able to return any internal tensor by its IR name.

    `against` is a HybridBlock (a GluonCV detector too: its whole graph, whose head the converter cuts off) or an
    ExportedModel. `aliases` maps Caffe blobs that renamed a tensor (a detector's mbox_loc) to it (`tensor_of`).
    `input_shape`: one shape (the Caffe input `input_name`) or {Caffe input name: shape} for several (an exported
    model's inputs keep their names, a block's are traced so).
    """

    def __init__(self, against: Any, input_shape: Any, input_name: str = "data"):
        from ..frontend.exported import ExportedModel
        from ..frontend.mxnet_graph import internal_tensor_names, unique_source_names

        import_mxnet("comparing with MXNet (verify --reference compares with saved outputs instead)")
        shapes = dict(input_shape) if isinstance(input_shape, dict) else {input_name: tuple(input_shape)}
        self.aliases: dict[str, str] = {}  # Caffe blob -> MXNet tensor, where the converter renamed a tensor
        if isinstance(against, ExportedModel):
            self.symbol, self.params = against.symbol(), against.params
            inputs = against.inputs
            if len(inputs) != len(shapes) or (len(inputs) > 1 and set(inputs) != set(shapes)):
                raise InvalidCallError(f"{against.symbol_path}: the model's inputs are {inputs}, not {list(shapes)}")
            # Caffe input -> MXNet variable: a single input may have been renamed (input_name).
            self.vars = dict(zip(shapes, inputs)) if len(inputs) == 1 else {name: name for name in shapes}
        else:
            traced = shapes if len(shapes) > 1 else next(iter(shapes.values()))
            self.symbol, self.params = _trace_reference(against, traced, next(iter(shapes)))
            self.vars = {name: name for name in shapes}
        self.input_names = list(shapes)
        self.input_name = self.input_names[0]
        self.var = self.vars[self.input_name]
        doc = json.loads(self.symbol.tojson())
        source_names = unique_source_names(doc["nodes"])
        self.tensors = internal_tensor_names(self.symbol, source_names)
        self.outputs = [_head_name(doc, head) for head in doc["heads"]]
        # The Caffe input may have been renamed (input_name); MXNet's own variable keeps its name.
        caffe_name = {var: name for name, var in self.vars.items()}
        self.tensors = [caffe_name.get(t, t) for t in self.tensors]
        self._index = {t: i for i, t in enumerate(self.tensors)}
        ops = {name: raw["op"] for name, raw in zip(source_names, doc["nodes"])}
        self.nodes = {t: _node_of(t, ops) for t in self.tensors}  # tensor -> (MXNet node, op)
        for name, var in self.vars.items():
            self.nodes[name] = (var, "null")

    def shapes(self, input_shapes: dict[str, tuple[int, ...]]) -> dict[str, tuple[int, ...]]:
        """{tensor: shape} of every tensor for these Caffe input shapes (MXNet's shape inference); {} where MXNet
        cannot infer them (running the model then says why)."""
        import io
        from contextlib import redirect_stdout

        known = {self.vars[name]: tuple(shape) for name, shape in input_shapes.items() if name in self.vars}
        internals = self.symbol.get_internals()
        arguments = set(internals.list_arguments())
        known.update({name: tuple(value.shape) for name, value in self.params.items() if name in arguments})
        try:
            with redirect_stdout(io.StringIO()):  # MXNet prints its arguments when inference fails
                _, shapes, _ = internals.infer_shape(**known)
        except Exception:  # noqa: BLE001 - any MXNet failure: no shapes to check here, run() reports it
            return {}
        if shapes is None:
            return {}
        return {t: tuple(s) for t, s in zip(self.tensors, shapes) if s is not None}

    def tensor_of(self, blob: str) -> str | None:
        """The MXNet tensor a Caffe blob holds, or None for a blob of the converter's own."""
        tensor = self.aliases.get(blob, blob)
        return tensor if tensor in self._index else None

    def index_of(self, tensor: str) -> int:
        """The position of an IR tensor among the symbol's internals (KeyError for an unknown tensor)."""
        return self._index[tensor]

    def group(self, tensors: list[str]) -> Any:
        """An MXNet symbol computing the named IR tensors (in that order) from the inputs and parameters."""
        import mxnet as mx

        internals = self.symbol.get_internals()
        return mx.sym.Group([internals[self._index[t]] for t in tensors])

    def run(self, x: np.ndarray | dict[str, np.ndarray], tensors: list[str]) -> dict[str, np.ndarray]:
        """Forward pass (inference) returning the named tensors; x: the input, or {Caffe input name: array}."""
        import mxnet as mx

        inputs = x if isinstance(x, dict) else {self.input_name: x}
        if set(inputs) != set(self.vars):
            raise InvalidCallError(f"the model's inputs are {list(self.vars)}, got arrays for {list(inputs)}")
        by_var = {self.vars[name]: value for name, value in inputs.items()}

        only_outputs = set(tensors) <= set(self.outputs)
        if only_outputs:
            group, names = self.symbol, self.outputs
        else:
            group, names = self.group(tensors), tensors
        args = {}
        labels = [name for name in group.list_arguments() if name not in by_var and name not in self.params]
        if labels:  # a training head's label (SoftmaxOutput's softmax_label): read by the gradient only; zeros
            shapes = dict(zip(group.list_arguments(), group.infer_shape(**{k: v.shape for k, v in by_var.items()})[0]))
        for name in group.list_arguments():
            if name in labels:
                args[name] = mx.nd.zeros(shapes[name])
            else:
                args[name] = mx.nd.array(by_var[name] if name in by_var else self.params[name])
        aux = {name: mx.nd.array(self.params[name]) for name in group.list_auxiliary_states()}
        with _no_subgraph_backend(enabled=not only_outputs):
            executor = group.bind(mx.cpu(), args=args, aux_states=aux, grad_req="null")
            values = executor.forward(is_train=False)
        return {t: v.asnumpy() for t, v in zip(names, values)}


def _trace_reference(against: Any, input_shape: Any, input_name: str) -> tuple[Any, dict[str, np.ndarray]]:
    """Trace a block as the converter does (a detector whole: the converter cuts its head off the same graph)."""
    from ..frontend.mxnet_graph import trace_block

    return trace_block(against, input_shape, input_name)


def _node_of(tensor: str, ops: dict[str, str]) -> tuple[str, str]:
    from ..frontend.mxnet_graph import _OUTPUT_SUFFIX

    if tensor in ops:
        return tensor, ops[tensor]
    match = _OUTPUT_SUFFIX.match(tensor)
    node = match.group("node") if match else tensor
    return node, ops.get(node, "?")


def _head_name(doc: dict, head: list[int]) -> str:
    from ..frontend.mxnet_graph import tensor_name, unique_source_names

    name = unique_source_names(doc["nodes"])[head[0]]
    return name if doc["nodes"][head[0]]["op"] == "null" else tensor_name(name, head[1])


@contextmanager
def _no_subgraph_backend(enabled: bool = True) -> Iterator[None]:
    """MXNet's default subgraph backend gives wrong final outputs when BatchNorm internals are bound beside them."""
    if not enabled:
        yield
        return
    old = os.environ.get("MXNET_SUBGRAPH_BACKEND")
    os.environ["MXNET_SUBGRAPH_BACKEND"] = "NONE"
    try:
        yield
    finally:
        if old is None:
            del os.environ["MXNET_SUBGRAPH_BACKEND"]
        else:
            os.environ["MXNET_SUBGRAPH_BACKEND"] = old
