"""The intermediate representation: a small typed graph read from MXNet, rewritten by passes, emitted as Caffe.

Tensors are named by strings. A node's first output keeps the MXNet node name, so Caffe blob names map back to
MXNet nodes; further outputs are named `<node>_output<i>`. Parameters (weights, BatchNorm statistics, constants)
are numpy arrays in `Graph.params`, referenced by tensor name from node inputs like any other tensor.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

from .attrs import Attrs


@dataclass
class Node:
    name: str
    op: str
    attrs: Attrs
    inputs: list[str]
    outputs: list[str]

    def __repr__(self) -> str:
        return f"Node({self.name!r}, {self.op}, in={self.inputs}, out={self.outputs})"


@dataclass
class Graph:
    nodes: list[Node]
    inputs: dict[str, tuple[int, ...]]
    outputs: list[str]
    params: dict[str, np.ndarray]
    shapes: dict[str, tuple[int, ...]]
    name: str = "net"
    # Tensors whose channels 0 and 2 are swapped relative to MXNet (between a BGR input and the layer that absorbs
    # the swap), for comparisons of intermediate blobs.
    swapped_channels: set[str] = field(default_factory=set)
    # Inputs that take raw pixels: {input: (weight, bias)} of the per-channel Scale the emission puts right after the
    # Input layer, in the Caffe input's channel order (ir/preprocess.py).
    preprocess: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    # The name given to each node of the source JSON, in its order (variables too): MXNet allows duplicate node
    # names, ours are made unique, and shape inference results are matched to nodes by this order.
    source_names: list[str] = field(default_factory=list)
    _fresh: itertools.count = field(default_factory=itertools.count, repr=False)

    # -- queries -------------------------------------------------------------------------------------------------
    def producer(self, tensor: str) -> Node | None:
        for node in self.nodes:
            if tensor in node.outputs:
                return node
        return None

    def consumers(self, tensor: str) -> list[Node]:
        return [node for node in self.nodes if tensor in node.inputs]

    def is_param(self, tensor: str) -> bool:
        return tensor in self.params

    def data_inputs(self, node: Node) -> list[str]:
        """The node's inputs that are activations (not parameters)."""
        return [t for t in node.inputs if t not in self.params]

    def use_count(self, tensor: str) -> int:
        return sum(node.inputs.count(tensor) for node in self.nodes) + self.outputs.count(tensor)

    # -- edits ---------------------------------------------------------------------------------------------------
    def fresh_name(self, base: str) -> str:
        taken = set(self.params) | set(self.shapes) | {n.name for n in self.nodes}
        name = base
        while name in taken:
            name = f"{base}_{next(self._fresh)}"
        return name

    def private_param(self, node: Node, index: int) -> np.ndarray:
        """The parameter at `node.inputs[index]`, copied under a new name first if another user shares it.

        Passes that rewrite a weight call this, so a parameter shared by several nodes is never changed under the
        others.
        """
        name = node.inputs[index]
        if self.use_count(name) > 1:
            new = self.fresh_name(f"{name}_{node.name}")
            self.params[new] = self.params[name].copy()
            self.shapes[new] = self.shapes[name]
            node.inputs[index] = new
            name = new
        return self.params[name]

    def add_param(self, base: str, value: np.ndarray) -> str:
        name = self.fresh_name(base)
        self.params[name] = value
        self.shapes[name] = tuple(value.shape)
        return name

    def replace_uses(self, old: str, new: str) -> None:
        for node in self.nodes:
            node.inputs = [new if t == old else t for t in node.inputs]
        self.outputs = [new if t == old else t for t in self.outputs]

    def rename_tensor(self, old: str, new: str) -> None:
        """Rename a tensor everywhere (inputs, outputs, shapes, params)."""
        if new in self.shapes or new in self.params:
            raise ValueError(f"tensor name {new!r} is already taken")
        for node in self.nodes:
            node.inputs = [new if t == old else t for t in node.inputs]
            node.outputs = [new if t == old else t for t in node.outputs]
        self.outputs = [new if t == old else t for t in self.outputs]
        self.inputs = {(new if k == old else k): v for k, v in self.inputs.items()}
        for table in (self.shapes, self.params):
            if old in table:
                table[new] = table.pop(old)

    def remove_node(self, node: Node) -> None:
        self.nodes.remove(node)

    def prune_params(self) -> None:
        """Drop parameters no node uses any more (after a fold)."""
        used = {t for node in self.nodes for t in node.inputs}
        for name in [p for p in self.params if p not in used]:
            del self.params[name]

    def op_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for node in self.nodes:
            counts[node.op] = counts.get(node.op, 0) + 1
        return counts
