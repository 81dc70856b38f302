"""Fold BatchNorm into the Convolution, Deconvolution or FullyConnected that feeds it (merge_bn=True)."""

from __future__ import annotations

import logging

import numpy as np

from ..errors import ConversionError, Option
from ..ir.graph import Graph, Node
from ..ir.ops import batchnorm_axis, batchnorm_params

log = logging.getLogger(__name__)

_CHUNK = 64  # output channels folded at a time


def fold_batchnorm(graph: Graph) -> tuple[int, int]:
    """Returns (folded, kept). A BatchNorm is folded when its producer is a Convolution, Deconvolution or
    FullyConnected whose output feeds nothing else and whose output channel axis is the axis the BatchNorm normalizes.

    With s = gamma / sqrt(var + eps) (gamma = 1 under fix_gamma, eps the node's own):
        W'[o] = W[o] * s[o]        b'[o] = (b[o] - mean[o]) * s[o] + beta[o]     (b = 0 when the producer had none)
    where W[o] is every weight that feeds output channel o: a Deconvolution's weight is (C_in, C_out / g, ...), so
    output channel o = g_o * (C_out / g) + j is column j of the input channels of group g_o.
    """
    folded = kept = 0
    for bn in [n for n in graph.nodes if n.op == "BatchNorm"]:
        producer = graph.producer(bn.inputs[0])
        if producer is None or not _foldable(graph, producer, bn):
            kept += 1
            continue
        _fold(graph, producer, bn)
        folded += 1
    graph.prune_params()
    log.info("fold_batchnorm: folded %d BatchNorm node(s) into their producers, kept %d", folded, kept)
    return folded, kept


def _foldable(graph: Graph, producer: Node, bn: Node) -> bool:
    if producer.op not in ("Convolution", "Deconvolution", "FullyConnected"):
        return False
    out = producer.outputs[0]
    if graph.use_count(out) != 1 or len(producer.outputs) != 1:
        return False
    if any(graph.use_count(t) for t in bn.outputs[1:]):  # output_mean_var's statistics are read: the converter refuses
        return False
    out_ndim = len(graph.shapes[out])
    channel_axis = 1
    if producer.op == "FullyConnected" and not producer.attrs.bool("flatten", True):
        channel_axis = out_ndim - 1
    if producer.op != "FullyConnected" and producer.attrs.str("layout", "None") not in ("None", "NCHW", "NCW", "NCDHW"):
        return False
    return batchnorm_axis(bn, out_ndim) == channel_axis


def _fold(graph: Graph, producer: Node, bn: Node) -> None:
    gamma, beta, mean, var, eps = batchnorm_params(bn, graph.params)
    if not np.all(var + eps > 0):  # the pipeline refuses these first (ir/weights.py); never a NaN written here
        raise ConversionError("moving_var + eps is not positive: the fold would write NaN", bn.name, bn.op)
    scale = gamma / np.sqrt(var + eps)
    weight = graph.private_param(producer, 1)
    if not (weight.flags.writeable and weight.dtype == np.float32):  # e.g. read-only arrays of a .params file
        weight = graph.params[producer.inputs[1]] = weight.astype(np.float32)
    # Products beyond float32's range become inf (numpy >= 1.24 warns on that cast): checked below instead.
    with np.errstate(over="ignore", invalid="ignore"):
        if producer.op == "Deconvolution":
            _scale_deconvolution(weight, scale, producer.attrs.int("num_group", 1))
        else:
            _scale_rows(weight, scale)
        if producer.attrs.bool("no_bias", producer.op == "Deconvolution"):  # MXNet's Deconvolution has no bias
            bias = np.zeros_like(scale)
            bias_name = graph.add_param(f"{producer.name}_bias", bias.astype(np.float32))
            producer.inputs = producer.inputs[:2] + [bias_name]
            producer.attrs.set("no_bias", False)
        else:
            bias = graph.private_param(producer, 2).astype(np.float64)
        graph.params[producer.inputs[2]] = ((bias - mean) * scale + beta).astype(np.float32)
        finite = all(np.isfinite(a.min()) and np.isfinite(a.max()) for a in (weight, graph.params[producer.inputs[2]]))
    if not finite:  # min/max: no second copy of the weights
        keep = Option("merge_bn", False)
        raise ConversionError(
            f"folding it into '{producer.name}' ({producer.op}) gives weights beyond float32's range (largest "
            f"gamma / sqrt(moving_var + eps) is {float(np.abs(scale).max()):.3g}); convert with {keep}",
            bn.name,
            bn.op,
        ).naming(keep)
    graph.shapes[producer.inputs[2]] = tuple(scale.shape)
    # The folded producer now computes the BatchNorm's output, so its blob takes that name: a Caffe blob is always
    # named after the MXNet tensor whose values it holds (the producer's own output had no other user).
    producer.outputs[0] = bn.outputs[0]
    graph.remove_node(bn)


def _scale_rows(weight: np.ndarray, scale: np.ndarray) -> None:
    """weight[o] *= scale[o] (output channels on axis 0). In place, a block of output channels at a time, each product
    computed in float64 and rounded once: no second copy of the weights (peak memory), the same numbers as a
    whole-array float64 product."""
    for start in range(0, weight.shape[0], _CHUNK):
        part = weight[start : start + _CHUNK]
        s = scale[start : start + _CHUNK].reshape((-1,) + (1,) * (weight.ndim - 1))
        part[...] = (part.astype(np.float64) * s).astype(np.float32)


def _scale_deconvolution(weight: np.ndarray, scale: np.ndarray, group: int) -> None:
    """A Deconvolution's weight (C_in, C_out / g, ...) times the scale of its output channel: input channel i of
    group i // (C_in / g) feeds output channels (i // (C_in / g)) * (C_out / g) + j, j along axis 1. In place, one
    input channel at a time (float64 product, rounded once)."""
    per_group_in, per_group_out = weight.shape[0] // group, weight.shape[1]
    shape = (per_group_out,) + (1,) * (weight.ndim - 2)
    for i in range(weight.shape[0]):
        g = i // per_group_in
        s = scale[g * per_group_out : (g + 1) * per_group_out].reshape(shape)
        weight[i] = (weight[i].astype(np.float64) * s).astype(np.float32)
