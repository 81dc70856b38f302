"""The weights of MXNet's separable resamplings computed without MXNet, float32 operation for operation.

frontend/resample.py measures them by running MXNet's op on unit probes; where MXNet does not import, these give the
same float32 numbers from the same arithmetic (src/operator/contrib/bilinear_resize.cc, adaptive_avg_pooling.cc,
MXNet 1.9.1). tests/frontend/test_shape_inference.py checks both agree bit for bit over many sizes.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import ConversionError
from ..ir.graph import Node

f32 = np.float32


def bilinear_weights(node: Node, in_size: int, out_size: int, other_in: int, other_out: int, rows: bool) -> np.ndarray:
    """(out_size x in_size) weights of _contrib_BilinearResize2D along one axis, as the probe measures them.

    MXNet computes h0 * (w0 * x00 + w1 * x01) + h1 * (w0 * x10 + w1 * x11) in float32. A row probe (constant along
    W) makes the inner sums w0 + w1 at output column 0; a column probe gives each inner sum one weight, times the
    two row weights of output row 0, summed."""
    align = node.attrs.bool("align_corners", True)
    if in_size == out_size and other_in == other_out:
        return np.eye(out_size, dtype=np.float32)  # MXNet copies when neither size changes
    axis = [_taps(_scale(in_size, out_size, align), j, in_size, align) for j in range(out_size)]
    _, _, o0, o1 = _taps(_scale(other_in, other_out, align), 0, other_in, align)
    weights = np.zeros((out_size, in_size), np.float32)
    zero = f32(0.0)
    for j, (first, second, l0, l1) in enumerate(axis):
        for i in {first, second}:
            a, b = (l0 if i == first else zero), (l1 if i == second else zero)
            if rows:  # outer weights of this axis, inner sum of the other's
                inner = f32(o0 + o1)
                weights[j, i] = f32(f32(a * inner) + f32(b * inner))
            else:  # inner weights of this axis, outer ones of the other's
                inner = f32(a + b)
                weights[j, i] = f32(f32(o0 * inner) + f32(o1 * inner))
    return weights


def _taps(scale: np.float32, index: int, size: int, align: bool) -> tuple[int, int, np.float32, np.float32]:
    """(first source index, second, their weights) of output `index`."""
    src = _source_index(scale, index, align)
    first = int(src)
    second = first + 1 if first < size - 1 else first
    l1 = f32(src - f32(first))
    return first, second, f32(f32(1.0) - l1), l1


def _scale(in_size: int, out_size: int, align: bool) -> np.float32:
    if out_size <= 1:
        return f32(0.0)
    return f32(f32(in_size - 1) / f32(out_size - 1)) if align else f32(f32(in_size) / f32(out_size))


def _source_index(scale: np.float32, index: int, align: bool) -> np.float32:
    if align:
        return f32(scale * f32(index))
    src = f32(float(scale) * (index + 0.5) - 0.5)  # float scale * double, rounded to float once
    return f32(0.0) if src < 0 else src


def adaptive_weights(in_size: int, out_size: int, other_in: int, other_out: int, rows: bool) -> np.ndarray:
    """(out_size x in_size) weights of _contrib_AdaptiveAvgPooling2D along one axis as the probe measures them:
    MXNet averages a window as sum / kW / kH, the probe's sum being the other axis's window size at index 0."""
    other_k = _end(0, other_out, other_in) - _start(0, other_out, other_in)
    weights = np.zeros((out_size, in_size), np.float32)
    for o in range(out_size):
        start, end = _start(o, out_size, in_size), _end(o, out_size, in_size)
        k = end - start
        kw, kh = (other_k, k) if rows else (k, other_k)
        total = other_k  # the probe's ones in the window
        weights[o, start:end] = f32(f32(f32(total) / f32(kw)) / f32(kh))
    return weights


def _start(a: int, b: int, c: int) -> int:
    return int(math.floor(f32(f32(a * c) / f32(b))))


def _end(a: int, b: int, c: int) -> int:
    return int(math.ceil(f32(f32((a + 1) * c) / f32(b))))


def separable_weights_numpy(
    node: Node, in_shape: tuple[int, ...], out_shape: tuple[int, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """(rows H_out x H, cols W_out x W) as frontend/resample.measure_separable gives them, without MXNet."""
    _, _, h, w = in_shape
    _, _, oh, ow = out_shape
    if node.op == "_contrib_BilinearResize2D":
        return bilinear_weights(node, h, oh, w, ow, True), bilinear_weights(node, w, ow, h, oh, False)
    if node.op == "_contrib_AdaptiveAvgPooling2D":
        return adaptive_weights(h, oh, w, ow, True), adaptive_weights(w, ow, h, oh, False)
    raise ConversionError("no MXNet-free weights for this resampling", node.name, node.op)
