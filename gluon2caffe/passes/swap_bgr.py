"""to_bgr=True: make the Caffe net take BGR input (MXNet took RGB), exactly, on any graph with a 3-channel input.

Each use of the input (a consumer node, or the input being a network output) starts a branch: the swap travels
from it through per-channel ops (activations, pooling, BatchNorm, per-channel constants, depthwise convolutions,
which get their parameters swapped) and must end in a Convolution or FullyConnected, whose input-channel weights
absorb it. A branch is planned without touching the graph, then taken whole or not at all:

- every use in the branch absorbs or carries the swap (and no swapped tensor is a network output): its edits are
  applied, the branch reads the BGR input directly and costs nothing;
- otherwise (an identity/residual add, a concat, an op mixing channels, a weight input, a network output, anywhere
  in the branch) the branch's first consumer is rewired to `<input>_bgr_to_rgb`, one 1x1 Convolution without bias
  whose weights are the 0/1 permutation matrix, and nothing in the branch is rewritten.

Why this is exact: an absorbed branch computes the same numbers as today (a permuted sum is the same sum of the same
products, as before). The permutation computes each output channel as 1.0 * x_c + 0.0 * x_a + 0.0 * x_b: the
products are exact and adding zeros is exact, in any summation order and with or without FMA, so the rewired
branch sees MXNet's RGB tensor bit for bit and converts exactly as with to_bgr=False. The whole pass costs at most
one permutation, on the input (3 channels, where it is cheapest to move), however many consumers need it; branches
are disjoint because a node in a branch must take the swapped tensor as its only activation input. A one-hot 1x1
Convolution is the crop the default target already writes (it loads in every runtime).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..errors import ConversionError, Option
from ..ir.attrs import Attrs
from ..ir.graph import Graph, Node
from ..ir.ops import CHANNELWISE_OPS, batchnorm_axis, constant_run

log = logging.getLogger(__name__)

SWAP = [2, 1, 0]


class _CannotSwap(Exception):
    """A use that no weight swap can absorb; its branch gets the permuted input instead."""


@dataclass
class _Step:
    node: Node
    edit: Callable[[], None] | None  # the parameter swap, applied only if the whole branch absorbs
    carries: bool  # the node's output is channel-swapped too


def swap_bgr(graph: Graph, input_name: str) -> tuple[list[str], list[str]]:
    """Make `input_name` take BGR. Returns (nodes rewritten to absorb the swap, uses fed the RGB permutation)."""
    shape = graph.inputs[input_name]
    if len(shape) < 2 or shape[1] != 3:
        rgb = Option("to_bgr", False)
        raise ConversionError(
            f"to_bgr swaps channels 0 and 2 of a 3-channel input, but input '{input_name}' has shape {shape}; "
            f"pass {rgb}"
        ).naming(rgb)
    rewritten: list[str] = []
    permuted: list[str] = []
    graph.swapped_channels.add(input_name)
    for node in graph.consumers(input_name):
        steps, why = _plan_branch(graph, node, input_name)
        if steps is None:
            log.info("swap_bgr: %s gets the RGB permutation: %s", node.name, why)
            permuted.append(node.name)
            continue
        for step in steps:
            if step.edit is not None:
                step.edit()
            rewritten.append(step.node.name)
            if step.carries:
                graph.swapped_channels.update(step.node.outputs[:1])
    if input_name in graph.outputs:
        permuted.append(f"output {input_name}")
    if permuted:
        rgb = _insert_permutation(graph, input_name)
        for node in graph.consumers(input_name):
            if node.name in permuted:
                node.inputs = [rgb if t == input_name else t for t in node.inputs]
        graph.outputs = [rgb if t == input_name else t for t in graph.outputs]
        log.info("swap_bgr: inserted %s (BGR -> RGB) for %s", rgb, ", ".join(permuted))
    log.info("swap_bgr: swapped input channels in %d node(s): %s", len(rewritten), ", ".join(rewritten))
    return rewritten, permuted


def _plan_branch(graph: Graph, first: Node, input_name: str) -> tuple[list[_Step] | None, str]:
    """The edits that make the branch starting at `first` absorb the swap, or (None, why) if it cannot."""
    steps: list[_Step] = []
    pending = [(first, input_name)]
    try:
        while pending:
            node, tensor = pending.pop()
            step = _rule(graph, node, tensor)
            steps.append(step)
            if not step.carries:
                continue
            out = node.outputs[0]
            if out in graph.outputs:
                raise _CannotSwap(f"'{out}' reaches a network output with its channels swapped")
            pending.extend((consumer, out) for consumer in graph.consumers(out))
    except _CannotSwap as exc:
        return None, str(exc)
    return steps, ""


def _rule(graph: Graph, node: Node, tensor: str) -> _Step:
    """How `node` handles a channel-swapped `tensor`: the parameter edit, and whether its output is swapped too."""
    if [t for t in node.inputs if t not in graph.params] != [tensor]:
        raise _CannotSwap(f"{node.name} ({node.op}) combines the swapped tensor with other activations")
    if node.inputs[0] != tensor and node.op not in ("broadcast_mul", "broadcast_add"):
        raise _CannotSwap(f"{node.name} ({node.op}) takes the swapped tensor as a parameter, not as its data")
    if node.op == "Convolution":
        return _convolution(graph, node)
    if node.op == "FullyConnected":
        return _fully_connected(graph, node)
    if node.op == "BatchNorm":
        if batchnorm_axis(node, len(graph.shapes[tensor])) != 1:
            raise _CannotSwap(f"{node.name} (BatchNorm) normalizes an axis other than the channels")

        def edit() -> None:
            for index in range(1, 5):
                _swap(graph, node, index, axis=0)

        return _Step(node, edit, True)
    if node.op == "LeakyReLU":
        if node.attrs.str("act_type", "leaky") == "prelu" and graph.shapes[node.inputs[1]][0] == 3:
            return _Step(node, lambda: _swap(graph, node, 1, axis=0), True)
        return _Step(node, None, True)
    if node.op == "UpSampling" and node.attrs.str("sample_type", "nearest") == "bilinear":
        return _Step(node, lambda: _swap(graph, node, 1, axis=0), True)  # depthwise: one kernel per channel
    if node.op in ("broadcast_mul", "broadcast_add"):
        return _per_channel_constant(graph, node, tensor)
    if node.op in CHANNELWISE_OPS:
        return _Step(node, None, True)
    raise _CannotSwap(f"{node.name} ({node.op}) mixes channels in a way no weight swap can absorb")


def _convolution(graph: Graph, node: Node) -> _Step:
    group = node.attrs.int("num_group", 1)
    if group == 1:
        return _Step(node, lambda: _swap(graph, node, 1, axis=1), False)
    if group == 3 and graph.shapes[node.inputs[1]][0] == 3:
        # Depthwise on the 3 input channels: output channel groups follow the input channels.
        def edit() -> None:
            _swap(graph, node, 1, axis=0)
            if not node.attrs.bool("no_bias", False):
                _swap(graph, node, 2, axis=0)

        return _Step(node, edit, True)
    raise _CannotSwap(f"{node.name} (Convolution) is grouped (num_group={group}) with other than one output a group")


def _fully_connected(graph: Graph, node: Node) -> _Step:
    in_shape = graph.shapes[node.inputs[0]]
    if not node.attrs.bool("flatten", True) and len(in_shape) != 2:
        raise _CannotSwap(f"{node.name} (FullyConnected) with flatten=False acts on the last axis, not the channels")

    def edit() -> None:
        weight = graph.private_param(node, 1)
        grouped = weight.reshape(weight.shape[0], in_shape[1], -1)
        graph.params[node.inputs[1]] = grouped[:, SWAP].reshape(weight.shape)

    return _Step(node, edit, False)


def _per_channel_constant(graph: Graph, node: Node, tensor: str) -> _Step:
    consts = [i for i, t in enumerate(node.inputs) if t in graph.params]
    out_shape = graph.shapes[node.outputs[0]]
    if len(consts) != 1 or graph.shapes[tensor] != out_shape:
        raise _CannotSwap(f"{node.name} ({node.op}) is not the swapped tensor times/plus a constant of its shape")
    index = consts[0]
    value = graph.params[node.inputs[index]]
    run = constant_run(node, value.shape, out_shape)
    if run is None or run[0] > 1:
        return _Step(node, None, True)  # the same constant for every channel
    if run[0] != 1:
        raise _CannotSwap(f"{node.name} ({node.op}) has a constant that varies along the batch axis")

    def edit() -> None:
        padded = value.reshape((1,) * (len(out_shape) - value.ndim) + value.shape)
        graph.private_param(node, index)
        graph.params[node.inputs[index]] = np.ascontiguousarray(padded[:, SWAP].reshape(value.shape))

    return _Step(node, edit, True)


def _swap(graph: Graph, node: Node, index: int, axis: int) -> None:
    value = graph.private_param(node, index)
    graph.params[node.inputs[index]] = np.ascontiguousarray(np.take(value, SWAP, axis=axis))


def _insert_permutation(graph: Graph, input_name: str) -> str:
    """`<input>_bgr_to_rgb` = the input with channels 0 and 2 swapped back, by a 1x1 (1-D: 1, 3-D: 1x1x1) 0/1
    Convolution; its name."""
    spatial = len(graph.inputs[input_name]) - 2
    if spatial not in (1, 2, 3):  # (N, 3, W), (N, 3, H, W) and video frames (N, 3, T, H, W)
        raise ConversionError(
            f"to_bgr permutes an NCW, NCHW or NCDHW input; '{input_name}' has shape {graph.inputs[input_name]}"
        )
    name = graph.fresh_name(f"{input_name}_bgr_to_rgb")
    weight = np.zeros((3, 3) + (1,) * spatial, np.float32)
    weight[[0, 1, 2], SWAP] = 1.0
    attrs = Attrs(name, "Convolution")
    for key, value in (("kernel", (1,) * spatial), ("num_filter", 3), ("num_group", 1), ("no_bias", True)):
        attrs.set(key, value)
    graph.nodes.insert(
        0, Node(name, "Convolution", attrs, [input_name, graph.add_param(f"{name}_weight", weight)], [name])
    )
    graph.shapes[name] = graph.shapes[input_name]
    return name
