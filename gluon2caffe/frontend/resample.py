"""Measure the weights of separable linear resamplings (bilinear resize, adaptive average pooling) from MXNet.

A separable linear resampling is out = R . X . C^T per (n, c). Running MXNet's own operator on unit probes gives R and
C exactly as MXNet computes them, whatever the mode or align_corners; the converters then write them as InnerProducts
without running MXNet (ir/ops.py: SEPARABLE). Where MXNet does not import (or GLUON2CAFFE_SHAPE_INFERENCE=own),
resample_numpy.py computes the same float32 numbers with MXNet's arithmetic.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConversionError
from ..ir.graph import Graph, Node
from ..ir.ops import SEPARABLE, needs_separable_weights
from .resample_numpy import separable_weights_numpy
from .shapes import shape_inference_backend


def measure_resampling(graph: Graph) -> None:
    """Store the measured (rows, cols) on every node the converters write as a separable resampling."""
    own = None
    for node in graph.nodes:
        if not node.inputs:  # a constant (zeros, arange): nothing to resample
            continue
        x, y = graph.shapes[node.inputs[0]], graph.shapes[node.outputs[0]]
        if needs_separable_weights(node, x, y):
            own = shape_inference_backend() == "own" if own is None else own
            node.attrs.set(SEPARABLE, separable_weights_numpy(node, x, y) if own else measure_separable(node, graph))


def measure_separable(node: Node, graph: Graph) -> tuple[np.ndarray, np.ndarray]:
    """(rows H_out x H, cols W_out x W) of a separable resampling op, measured by running the MXNet op on probes.

    Probe channel i holds a unit row i (or a unit column i); the op maps it to column i of the row matrix times the
    column weights' row sums, which are 1 for every interpolation and averaging op: we check that.
    """
    import mxnet as mx

    x = node.inputs[0]
    _, _, h, w = graph.shapes[x]
    _, _, oh, ow = graph.shapes[node.outputs[0]]
    op = _mxnet_op(node)
    extra = [mx.nd.zeros(graph.shapes[t]) for t in node.inputs[1:]]

    def run(probe: np.ndarray) -> np.ndarray:
        return op(mx.nd.array(probe), *extra, **node.attrs.raw).asnumpy().astype(np.float64)

    row_probe = np.zeros((1, h, h, w), np.float32)
    row_probe[0, np.arange(h), np.arange(h), :] = 1.0
    col_probe = np.zeros((1, w, h, w), np.float32)
    col_probe[0, np.arange(w), :, np.arange(w)] = 1.0
    rows = run(row_probe)[0, :, :, 0].T  # (oh, h)
    cols = run(col_probe)[0, :, 0, :].T  # (ow, w)
    if not (np.allclose(rows.sum(axis=1), 1.0, atol=1e-5) and np.allclose(cols.sum(axis=1), 1.0, atol=1e-5)):
        raise ConversionError("the operator is not a normalized separable resampling", node.name, node.op)
    return rows.astype(np.float32), cols.astype(np.float32)


def _mxnet_op(node: Node):
    import mxnet as mx

    name = node.op
    if name.startswith("_contrib_"):
        return getattr(mx.nd.contrib, name[len("_contrib_") :])
    return getattr(mx.nd, name)
