"""to_bgr=True: make the Caffe net take BGR input by swapping channels 0 and 2 where the input is first used."""

from __future__ import annotations

import logging

import numpy as np

from ..errors import ConversionError
from ..ir.graph import Graph, Node
from ..ir.ops import CHANNELWISE_OPS, batchnorm_axis, constant_run

log = logging.getLogger(__name__)

SWAP = [2, 1, 0]


def swap_bgr(graph: Graph, input_name: str) -> list[str]:
    """Swap channels 0/2 in the weights of whatever first consumes `input_name`. Returns the rewritten nodes.

    The swap travels through per-channel ops (activations, pooling, BatchNorm, per-channel constants, which get
    their constants swapped) until it reaches a Convolution or FullyConnected, whose input-channel weights absorb
    it. Anything else raises: a model that silently keeps RGB weights is exactly what to_bgr must never produce.
    """
    shape = graph.inputs[input_name]
    if len(shape) < 2 or shape[1] != 3:
        raise ConversionError(
            f"to_bgr swaps channels 0 and 2 of a 3-channel input, but input '{input_name}' has shape {shape}; "
            "pass to_bgr=False"
        )
    rewritten: list[str] = []
    pending = [input_name]
    graph.swapped_channels.add(input_name)
    while pending:
        tensor = pending.pop()
        if tensor in graph.outputs:
            raise ConversionError(
                f"to_bgr: tensor '{tensor}' reaches a network output with its channels still swapped; pass to_bgr=False"
            )
        for node in graph.consumers(tensor):
            if _absorb(graph, node, tensor):
                rewritten.append(node.name)
            else:
                rewritten.append(node.name)
                pending.extend(node.outputs[:1])
                graph.swapped_channels.update(node.outputs[:1])
    log.info("swap_bgr: swapped input channels in %d node(s): %s", len(rewritten), ", ".join(rewritten))
    return rewritten


def _absorb(graph: Graph, node: Node, tensor: str) -> bool:
    """Rewrite `node` for a channel-swapped `tensor`. True if the swap ends here, False if its output is swapped too."""
    if node.inputs[0] != tensor and node.op in ("Convolution", "FullyConnected", "BatchNorm"):
        _refuse(node, "the swapped tensor is not its data input")
    if node.op == "Convolution":
        return _convolution(graph, node)
    if node.op == "FullyConnected":
        _fully_connected(graph, node)
        return True
    if node.op == "BatchNorm":
        if batchnorm_axis(node, len(graph.shapes[tensor])) != 1:
            _refuse(node, "it normalizes an axis other than the channels")
        for index in range(1, 5):
            _swap(graph, node, index, axis=0)
        return False
    if node.op == "LeakyReLU":
        if node.attrs.str("act_type", "leaky") == "prelu" and graph.shapes[node.inputs[1]][0] == 3:
            _swap(graph, node, 1, axis=0)
        return False
    if node.op in ("broadcast_mul", "broadcast_add"):
        _per_channel_constant(graph, node, tensor)
        return False
    if node.op in CHANNELWISE_OPS:
        return False
    _refuse(node, "it mixes channels in a way no weight swap can absorb")
    return False  # unreachable


def _convolution(graph: Graph, node: Node) -> bool:
    group = node.attrs.int("num_group", 1)
    if group == 1:
        _swap(graph, node, 1, axis=1)
        return True
    if group == 3:  # depthwise on the 3 input channels: output channel groups follow the input channels
        if graph.shapes[node.inputs[1]][0] != 3:
            _refuse(node, "a grouped convolution with several outputs per input channel")
        _swap(graph, node, 1, axis=0)
        if not node.attrs.bool("no_bias", False):
            _swap(graph, node, 2, axis=0)
        return False
    _refuse(node, f"num_group={group}")
    return False  # unreachable


def _fully_connected(graph: Graph, node: Node) -> None:
    in_shape = graph.shapes[node.inputs[0]]
    flatten = node.attrs.bool("flatten", True)
    if not flatten and len(in_shape) != 2:
        _refuse(node, "flatten=False applies it to the last axis, not the channels")
    weight = graph.private_param(node, 1)
    out_features = weight.shape[0]
    grouped = weight.reshape(out_features, in_shape[1], -1)
    graph.params[node.inputs[1]] = grouped[:, SWAP].reshape(weight.shape)


def _per_channel_constant(graph: Graph, node: Node, tensor: str) -> None:
    consts = [i for i, t in enumerate(node.inputs) if t in graph.params]
    if len(consts) != 1:
        _refuse(node, "it combines the input with another activation")
    index = consts[0]
    value = graph.params[node.inputs[index]]
    out_shape = graph.shapes[node.outputs[0]]
    if graph.shapes[tensor] != out_shape:
        _refuse(node, "it broadcasts the input")
    run = constant_run(node, value.shape, out_shape)
    if run is None or run[0] > 1:
        return  # the same constant for every channel
    if run[0] != 1:
        _refuse(node, "its constant varies along the batch axis")
    padded = value.reshape((1,) * (len(out_shape) - value.ndim) + value.shape)
    swapped = padded[:, SWAP].reshape(value.shape)
    graph.private_param(node, index)
    graph.params[node.inputs[index]] = np.ascontiguousarray(swapped)


def _swap(graph: Graph, node: Node, index: int, axis: int) -> None:
    value = graph.private_param(node, index)
    graph.params[node.inputs[index]] = np.ascontiguousarray(np.take(value, SWAP, axis=axis))


def _refuse(node: Node, why: str) -> None:
    raise ConversionError(
        f"to_bgr cannot swap the input channels here: {why}. Convert with to_bgr=False and feed RGB, "
        "or swap the channels before this node yourself",
        node.name,
        node.op,
    )
