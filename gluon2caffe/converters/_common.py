"""Helpers shared by converters."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from google.protobuf.descriptor import FieldDescriptor

from ..errors import ConversionError
from ..ir.graph import Node
from ..ir.ops import positive_axis  # noqa: F401  (re-exported for the converters)


def spatial_2d(node: Node, key: str, value: tuple[int, ...], fill: int) -> tuple[int, int]:
    """A 2-D (h, w) pair from an MXNet tuple attribute; an empty tuple means the op default."""
    if len(value) == 0:
        return fill, fill
    if len(value) == 1:
        return value[0], value[0]
    if len(value) == 2:
        return value[0], value[1]
    raise ConversionError(f"is {value}; only 2-D (NCHW) operators convert to Caffe", node.name, node.op, key)


def spatial_nd(node: Node, key: str, value: tuple[int, ...], fill: int, ndim: int) -> tuple[int, ...]:
    """An `ndim`-value tuple from an MXNet tuple attribute (empty: the op default; one value: every axis)."""
    if len(value) == 0:
        return (fill,) * ndim
    if len(value) == 1:
        return value * ndim
    if len(value) == ndim:
        return tuple(value)
    raise ConversionError(f"is {value}; the op has {ndim} spatial axes", node.name, node.op, key)


def require_nchw(node: Node) -> None:
    layout = node.attrs.str("layout", "None")
    if layout not in ("None", "NCHW"):
        raise ConversionError(
            f"is {layout!r}; only NCW (1-D), NCHW (2-D) and NCDHW (3-D) convert to Caffe", node.name, node.op, "layout"
        )


def set_window(
    param: Any, kernel: tuple[int, int], stride: tuple[int, int] = (1, 1), pad: tuple[int, int] = (0, 0)
) -> None:
    """Kernel, stride and pad of a Convolution/Deconvolution/Pooling parameter. Where H and W agree, the one-value
    field (`kernel_size`, `stride`, `pad`): every reader takes it, while some read only that form (x2paddle takes a
    Pooling's scalar `pad` and ignores `pad_h`/`pad_w`). Defaults (stride 1, pad 0) are left out."""
    repeated = param.DESCRIPTOR.fields_by_name["pad"].label == FieldDescriptor.LABEL_REPEATED
    for field, (h, w), default in (("kernel", kernel, None), ("stride", stride, 1), ("pad", pad, 0)):
        if h == w == default:
            continue
        single = "kernel_size" if field == "kernel" else field
        if h != w:
            setattr(param, f"{field}_h", h)
            setattr(param, f"{field}_w", w)
        elif repeated:
            getattr(param, single).append(h)
        else:
            setattr(param, single, h)


def set_window_nd(param: Any, kernel: tuple[int, ...], stride: tuple[int, ...], pad: tuple[int, ...]) -> None:
    """Kernel, stride and pad of an N-D (e.g. 3-D) Convolution/Deconvolution: Caffe's repeated fields, one value per
    spatial axis even where they agree (OpenCV reads a single value as a 2-D window: a 3x3x3 kernel as 3x3, a negative
    output size); defaults (stride 1, pad 0 on every axis) left out."""
    for field, values, default in (("kernel_size", kernel, None), ("stride", stride, 1), ("pad", pad, 0)):
        if any(v != default for v in values):
            getattr(param, field).extend(values)


def equal_dilations(weight: np.ndarray, kernel, dilation) -> tuple[np.ndarray, tuple[int, int], tuple[int, int]]:
    """A 2-D (de)convolution with dilations (dh, dw), dh != dw, as one with equal dilations (MNN reads a
    Convolution's two dilations swapped). An axis with a one-tap kernel takes the other's dilation (it has no effect
    there: a 1-D convolution's 1 x K kernel); otherwise both take g = gcd(dh, dw) and each axis's taps spread d / g
    apart with zero weights between them (x * 0 adds nothing: exact for finite values). Returns (weight, kernel,
    dilation); the weight's last two axes are the kernel's (Convolution and Deconvolution alike)."""
    (kh, kw), (dh, dw) = kernel, dilation
    if kh == 1 or kw == 1:
        d = dw if kh == 1 else dh
        return weight, (kh, kw), (d, d)
    g = math.gcd(dh, dw)
    steps = (dh // g, dw // g)
    size = ((kh - 1) * steps[0] + 1, (kw - 1) * steps[1] + 1)
    stuffed = np.zeros(weight.shape[:-2] + size, weight.dtype)
    stuffed[..., :: steps[0], :: steps[1]] = weight
    return stuffed, size, (g, g)


def as_map(ctx: Any, base: str, x: str) -> str:
    """An (N, C, 1, 1) blob through a Reshape to the same shape, for a layer that needs it as a map: a no-op in Caffe;
    ncnn keeps a (C, 1, 1) blob as 1-D after a global pooling, and its Deconvolution crashes on one (see also
    rank.py `reshape_pooled_maps`). Any other blob is returned as it is."""
    shape = tuple(ctx.shape(x))
    if len(shape) != 4 or shape[2:] != (1, 1):
        return x
    blob = ctx.unique(f"{base}_as_map")
    ctx.layer(blob, "Reshape", [x], [blob]).reshape_param.shape.dim.extend([0, shape[1], 1, 1])
    ctx.set_shape(blob, shape)
    return blob


def pad_separately(ctx: Any, base: str, x: str, pad: tuple[int, int]) -> str:
    """`x` zero-padded by `pad` (h, w) in its own layer: a depthwise 1x1 Convolution of weight 1 with that pad
    (x * 1 inside, zeros around: exact), so the layer after it needs no pad. Returns the padded blob."""
    n, c, h, w = ctx.shape(x)
    padded = ctx.unique(f"{base}_padded")
    layer = ctx.layer(padded, "Convolution", [x], [padded], [np.ones((c, 1, 1, 1), np.float32)])
    p = layer.convolution_param
    p.num_output, p.group, p.bias_term = c, c, False
    set_window(p, (1, 1), pad=pad)
    ctx.set_shape(padded, (n, c, h + 2 * pad[0], w + 2 * pad[1]))
    return padded


def one_hot_window(cuts: list[tuple[int, int]]) -> tuple[list[int], list[int], list[int]]:
    """(kernel, dilation, tap) per spatial axis of a one-hot kernel that keeps `size - extra` values starting at
    `start`, for each (extra, start) of `cuts`: a cut at either end is two taps `extra` apart (dilation), any other
    start + 1 taps. Dilations are equal on both axes or dense: MNN reads a Convolution's two dilations swapped."""
    kernel, dilation, tap = [], [], []
    for extra, start in cuts:
        if extra == 0:
            k, d, t = 1, 1, 0
        elif start in (0, extra):
            k, d, t = 2, extra, int(start == extra)
        else:
            k, d, t = extra + 1, 1, start
        kernel.append(k)
        dilation.append(d)
        tap.append(t)
    if len(set(dilation)) > 1:
        for i, d in enumerate(dilation):
            if d > 1:
                kernel[i], dilation[i], tap[i] = d + 1, 1, tap[i] * d
    return kernel, dilation, tap


def as_2d_input(node: Node, ctx: Any, x: str) -> str:
    """A 1-D op's (N, C, W) input as (N, C, 1, W) (a Reshape): Caffe's 2-D layers with a unit height then compute the
    1-D op exactly, and every runtime loads them (N-D Convolution/Pooling are BVLC-CPU-only at best)."""
    shape = ctx.shape(x)
    if len(shape) != 3:
        raise ConversionError(f"a 1-D window op needs an (N, C, W) input, got {shape}", node.name, node.op, "kernel")
    n, c, w = shape
    blob = ctx.unique(f"{node.name}_input_2d")
    ctx.layer(blob, "Reshape", [x], [blob]).reshape_param.shape.dim.extend([0, c, 1, w])
    ctx.set_shape(blob, (n, c, 1, w))
    return blob


def from_2d_output(node: Node, ctx: Any, blob: str) -> None:
    """The (N, C, 1, W) result of a 1-D op's 2-D form back to the node's (N, C, W) output, by a Reshape named after
    the node (the layer that writes the node's output carries its name)."""
    n, c, w = ctx.shape(node.outputs[0])
    ctx.set_shape(blob, (n, c, 1, w))
    ctx.layer(node.name, "Reshape", [blob], [node.outputs[0]]).reshape_param.shape.dim.extend([0, c, w])
