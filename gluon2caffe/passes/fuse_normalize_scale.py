"""Fold a per-channel constant multiply after L2Normalization into caffe-ssd Normalize's own scale blob."""

from __future__ import annotations

from ..ir.graph import Graph

_MULTIPLY = ("broadcast_mul", "elemwise_mul", "_mul", "broadcast_multiply")


def fuse_normalize_scale(graph: Graph) -> int:
    """L2Normalization(x) * s with s a constant of shape (1, C, 1, 1) or (C, 1, 1): one Normalize with scale s.

    Returns the number of multiplies folded.
    """
    folded = 0
    for norm in [n for n in graph.nodes if n.op == "L2Normalization" and len(n.inputs) == 1]:
        out = norm.outputs[0]
        users = graph.consumers(out)
        if len(users) != 1 or out in graph.outputs:
            continue
        mul = users[0]
        if mul.op not in _MULTIPLY or len(mul.inputs) != 2 or mul.inputs.count(out) != 1:
            continue
        const = mul.inputs[1] if mul.inputs[0] == out else mul.inputs[0]
        channels = graph.shapes[out][1]
        if not graph.is_param(const) or len(graph.shapes[out]) != 4:
            continue
        if norm.attrs.str("mode", "instance") == "spatial":  # Normalize has no spatial mode: composed, scale apart
            continue
        shape = graph.shapes[const]
        # Broadcasting aligns trailing axes: only (C, 1, 1), with leading ones, is per channel of NCHW.
        if len(shape) < 3 or shape[-3:] != (channels, 1, 1) or any(d != 1 for d in shape[:-3]):
            continue
        norm.inputs.append(const)
        norm.outputs = [mul.outputs[0]]
        graph.remove_node(mul)
        folded += 1
    return folded
