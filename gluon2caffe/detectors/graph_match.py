"""Find a detector's head in an IR graph: the structural walk every family uses, the constants it reads, the cut.

A detector is read from its whole graph, whether it was traced from a live GluonCV network or loaded from the files
`export()` wrote: the same nodes, names and parameters either way, so both give byte-identical Caffe files. A family
walks back from the graph's outputs through the head it knows (`HeadWalk.expect`), node by node; the first node that
differs from the pattern is named in the error with what was expected there, so a modified decoder is refused, never
converted as if it were GluonCV's. What the walk finds is what the head computes with: the tensors where the Caffe
head takes over (prediction maps, box and class predictions), the attributes (stds, thresholds, top-k), and constant
parameters (anchors, grid offsets) sliced to the feature maps by `constant_value`.
"""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from ..errors import ConversionError
from ..ir.evaluate import SHAPE_ONLY_INPUTS, can_evaluate, evaluate
from ..ir.graph import Graph, Node


class HeadMismatch(ConversionError):
    """The graph's tail is not the detector head a family knows (the message names the node, op and pattern)."""

    def __init__(self, message: str, node: str | None = None, op: str | None = None):
        super().__init__(message)
        self.node, self.op = node, op


class HeadWalk:
    """Walk a graph's head with expectations; every failed one raises a HeadMismatch naming node, op and pattern."""

    def __init__(self, graph: Graph, kind: str):
        self.graph = graph
        self.kind = kind
        self._producers = {t: n for n in graph.nodes for t in n.outputs}
        self.params = dict(graph.params)  # the head's constants stay readable after `cut` drops them
        self.visited: set[str] = set()  # the head's nodes (removed by `cut`)

    def producer(self, tensor: str) -> Node | None:
        return self._producers.get(tensor)

    def fail(self, tensor: str, expected: str) -> HeadMismatch:
        node = self.producer(tensor)
        if node is None:
            where, op = f"tensor '{tensor}'", "a parameter" if tensor in self.graph.params else "an input"
            return HeadMismatch(f"{self._lead()} {where} is {op}, expected {expected}")
        return HeadMismatch(f"{self._lead()} node '{node.name}' ({node.op}) is not {expected}", node.name, node.op)

    def _lead(self) -> str:
        return f"the graph's tail is not a GluonCV {self.kind} head:"

    def expect(self, tensor: str, ops: str | tuple[str, ...], role: str, **attrs: Any) -> Node:
        """The node producing `tensor`: one of `ops`, with attributes equal to `attrs` (None: attribute absent or
        the given default); else a HeadMismatch saying what `role` should have been."""
        ops = (ops,) if isinstance(ops, str) else ops
        want = ", ".join(f"{k}={v}" for k, v in attrs.items())
        expected = f"{role}: {' or '.join(ops)}" + (f" with {want}" if want else "")
        node = self.producer(tensor)
        if node is None or node.op not in ops or tensor != node.outputs[0]:
            raise self.fail(tensor, expected)
        for key, value in attrs.items():
            if not _attr_equals(node, key, value):
                got = node.attrs.raw.get(key, "(absent)")
                raise HeadMismatch(
                    f"{self._lead()} node '{node.name}' ({node.op}) has {key}={got}, expected {expected}",
                    node.name,
                    node.op,
                )
        self.visited.add(node.name)
        return node

    def slice_axis(self, tensor: str, role: str, axes: Iterable[int], begin: int, end: Any) -> Node:
        """A slice_axis over one of `axes` (e.g. 2 or -1 of a 3-D tensor) from begin to end (None: to the end; a
        tuple: any of them)."""
        node = self.expect(tensor, "slice_axis", role)
        axis, b = node.attrs.int("axis"), node.attrs.int("begin")
        e = node.attrs.str("end", "None")
        e = None if e in ("None", "") else int(e)
        ends = end if isinstance(end, tuple) else (end,)
        if axis not in tuple(axes) or b != begin or e not in ends:
            want = " or ".join(str(x) for x in ends)
            raise self.fail(tensor, f"{role}: slice_axis axis in {tuple(axes)} begin={begin} end={want}")
        return node

    def through_reshapes(self, tensor: str) -> str:
        """The tensor a chain of Reshapes starts from (the Reshapes count as the head's)."""
        node = self.producer(tensor)
        while node is not None and node.op in ("Reshape", "reshape"):
            self.visited.add(node.name)
            tensor = node.inputs[0]
            node = self.producer(tensor)
        return tensor

    def sliced_constant(self, tensor: str, role: str) -> tuple[str, str]:
        """(the slice, the tensor it is sliced like) for [Reshape...] slice_like(constant, like * 0, axes=(2, 3)):
        GluonCV's anchor generators and YOLOv3 grid offsets, a constant cut to a feature map's size."""
        t = self.through_reshapes(tensor)
        sliced = self.expect(t, "slice_like", f"{role} (a constant sliced to its feature map)", axes=(2, 3))
        if sliced.inputs[0] not in self.params:
            raise self.fail(sliced.inputs[0], f"{role}: a constant parameter")
        like = self.expect(sliced.inputs[1], "_mul_scalar", f"{role}: the feature map times 0", scalar=0.0)
        return t, like.inputs[0]

    def scalar(self, node: Node) -> float:
        return node.attrs.float("scalar")

    def constant_value(self, tensor: str, role: str) -> np.ndarray:
        """The value of a tensor computed from parameters only (e.g. Reshape / slice_like / Concat of constants: the
        anchors and grid offsets GluonCV slices to each feature map), evaluated as the constant-folding pass does
        (ir.evaluate). Shapes come from the graph's shape inference."""
        if tensor in self.params:
            return self.params[tensor]
        node = self.producer(tensor)
        if node is None or tensor not in self.graph.shapes or not can_evaluate(node):
            raise self.fail(tensor, f"{role}: a value computed from parameters")
        self.visited.add(node.name)
        shape_only = SHAPE_ONLY_INPUTS.get(node.op)
        values = [None if i == shape_only else self.constant_value(t, role) for i, t in enumerate(node.inputs)]
        outputs = evaluate(node, values, [self.graph.shapes[t] for t in node.outputs])
        return outputs[node.outputs.index(tensor)]


def _attr_equals(node: Node, key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return node.attrs.bool(key, value) == value
    if isinstance(value, int):
        return node.attrs.int(key, value) == value
    if isinstance(value, float):
        return abs(node.attrs.float(key, value) - value) <= 1e-12 * max(1.0, abs(value))
    if isinstance(value, tuple):
        return tuple(node.attrs.int_tuple(key, value)) == value
    return node.attrs.str(key, value) == value


def ops_of(symbol_json_or_graph: Any) -> set[str]:
    """The operator names of a graph (IR Graph or symbol JSON text)."""
    if isinstance(symbol_json_or_graph, Graph):
        return {n.op for n in symbol_json_or_graph.nodes}
    import json

    return {n.get("op") for n in json.loads(symbol_json_or_graph).get("nodes", [])}


def cut(graph: Graph, outputs: list[str]) -> None:
    """Make `outputs` the graph's outputs and drop every node (and parameter) they do not need: the head."""
    needed = set(outputs)
    keep = []
    for node in reversed(graph.nodes):
        if any(t in needed for t in node.outputs):
            keep.append(node)
            needed.update(node.inputs)
    graph.nodes = keep[::-1]
    graph.outputs = list(outputs)
    graph.prune_params()


def add_node(graph: Graph, name: str, op: str, inputs: list[str], shape: tuple[int, ...], **attrs: str) -> str:
    """Append a node with one output named `name` (the Caffe blob) of the given shape."""
    from ..ir.attrs import Attrs

    graph.nodes.append(Node(name, op, Attrs(name, op, dict(attrs)), list(inputs), [name]))
    graph.shapes[name] = tuple(shape)
    return name


def class_range(w: HeadWalk, tensor: str, role: str) -> np.ndarray:
    """The values of an `_arange` (possibly reshaped) the head builds its class ids from."""
    tensor = w.through_reshapes(tensor)
    node = w.expect(tensor, "_arange", role)
    start, stop = node.attrs.float("start", 0.0), node.attrs.str("stop", "None")
    step, repeat = node.attrs.float("step", 1.0), node.attrs.int("repeat", 1)
    if stop in ("None", ""):
        start, end = 0.0, start
    else:
        end = float(stop)
    if repeat != 1 or step == 0:
        raise w.fail(tensor, f"{role}: _arange with step != 0 and repeat=1")
    return np.arange(start, end, step)
