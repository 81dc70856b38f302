"""Internal outputs by name: a model cut so that its outputs are the named tensors, as MXNet's
`sym.get_internals()['fc1_output']` picks them (how face-embedding and feature-extractor models are deployed).

A live block is traced first; either way the result is an ExportedModel whose symbol's heads are the named tensors,
with only the nodes and parameters they need, so the conversion and the MXNet reference read the same graph."""

from __future__ import annotations

import difflib
import json
import re
from typing import Any

from ..errors import InvalidCallError
from ..ir.attrs import Attrs
from .exported import ExportedModel

_INTERNAL = re.compile(r"^(?P<node>.*)_output(?P<index>\d*)$")


def select_outputs(net: Any, names: tuple[str, ...], input_shapes: dict[str, tuple[int, ...]]) -> ExportedModel:
    """`net` (an ExportedModel or a live HybridBlock, traced at `input_shapes`) with the outputs `names`: MXNet's
    internal names (`fc0_output`, `slice0_output1`) or node names (a node's first output). InvalidCallError naming
    an unknown name, with the nearest ones."""
    if not isinstance(net, ExportedModel):
        net = _traced(net, input_shapes)
    doc = json.loads(net.symbol_json)
    heads = [_entry(doc["nodes"], doc["heads"], name, net.symbol_path) for name in names]
    doc, kept = _reheaded(doc, heads)
    params = {k: v for k, v in net.params.items() if k in kept}
    return ExportedModel(
        net.name, net.symbol_path, net.params_path, json.dumps(doc), params, net.classes, net.shape_inference
    )


def _traced(block: Any, input_shapes: dict[str, tuple[int, ...]]) -> ExportedModel:
    from .mxnet_graph import trace_block

    shape = next(iter(input_shapes.values())) if len(input_shapes) == 1 else input_shapes
    symbol, params = trace_block(block, shape, next(iter(input_shapes)))
    for value in params.values():  # a pass then copies before it rewrites: MXNet's reference reads these afterwards
        value.flags.writeable = False
    name = getattr(block, "name", None) or type(block).__name__
    return ExportedModel(name, f"{name} (traced)", f"{name} (traced)", symbol.tojson(), params)


def _entry(nodes: list[dict], heads: list[list[int]], name: str, where: str) -> list[int]:
    """[node index, output index, 0] of the tensor `name` (MXNet's internal name or an operator node's name)."""
    by_name = {raw["name"]: i for i, raw in enumerate(nodes)}
    index = by_name.get(name)
    output = 0
    if index is None:
        match = _INTERNAL.match(name)
        if match is not None:
            index = by_name.get(match.group("node"))
            output = int(match.group("index") or 0)
    if index is None:
        candidates = [f"{raw['name']}_output" for raw in nodes if raw["op"] != "null"]
        near = difflib.get_close_matches(name, candidates, n=3)
        hint = f"; nearest: {', '.join(near)}" if near else ""
        raise InvalidCallError(f"output {name!r}: {where} has no node of that name (give `NODE_output`{hint})")
    if nodes[index]["op"] == "null":
        raise InvalidCallError(f"output {name!r}: in {where} it is an input or a parameter, not an operator's output")
    if output > 0 and not _has_output(nodes, heads, index, output):
        raise InvalidCallError(
            f"output {name!r}: node {nodes[index]['name']!r} ({nodes[index]['op']}) in {where} has no output {output}"
        )
    return [index, output, 0]


def _has_output(nodes: list[dict], heads: list[list[int]], index: int, output: int) -> bool:
    """Whether output `output` of node `index` exists: below a split's num_outputs, else read by the graph."""
    raw = nodes[index]
    attrs = next((raw[key] for key in ("attrs", "attr", "param") if key in raw), {})
    if raw["op"] in ("SliceChannel", "split") and "num_outputs" in attrs:
        return output < int(Attrs(raw["name"], raw["op"], attrs).int("num_outputs"))
    entries = [entry for node in nodes for entry in node.get("inputs", [])] + heads
    return any(entry[0] == index and entry[1] == output for entry in entries)


def _reheaded(doc: dict, heads: list[list[int]]) -> tuple[dict, set[str]]:
    """(the symbol JSON with `heads` as its outputs and only the nodes they read, the variables kept)."""
    nodes = doc["nodes"]
    keep: set[int] = set()
    stack = [head[0] for head in heads]
    while stack:
        i = stack.pop()
        if i not in keep:
            keep.add(i)
            stack.extend(entry[0] for entry in nodes[i].get("inputs", []))
    order = sorted(keep)  # the JSON is in topological order: so is any subset of it
    new = {old: i for i, old in enumerate(order)}
    kept_nodes = [dict(nodes[i], inputs=[[new[e[0]], *e[1:]] for e in nodes[i].get("inputs", [])]) for i in order]
    reheaded = {
        "nodes": kept_nodes,
        "arg_nodes": [i for i, raw in enumerate(kept_nodes) if raw["op"] == "null"],
        "heads": [[new[h[0]], h[1], 0] for h in heads],
    }
    if "attrs" in doc:
        reheaded["attrs"] = doc["attrs"]
    return reheaded, {raw["name"] for raw in kept_nodes if raw["op"] == "null"}
