"""Repeating a tensor: tile -> Concat of copies; repeat -> an all-ones depthwise Deconvolution; broadcast_to /
broadcast_axis -> all-ones Deconvolutions (elemwise.expand_axes). Each output value is an input value copied (a
Concat) or multiplied by exactly 1 (a Deconvolution whose windows do not overlap): exact.

Caffe's Tile layer would do tile and broadcast in one layer, but only Caffe runs it: OpenCV and MNN refuse it and
ncnn loads it with another meaning (measured: a tile of the channels gave the input's shape back)."""

from __future__ import annotations

import numpy as np

from ..errors import ConversionError
from ..ir.graph import Node
from ._common import positive_axis, set_window
from .context import EmitContext
from .elemwise import expand_axes
from .registry import register


@register("tile", caffe="Concat (copies) (+ Reshape)")
def convert_tile(node: Node, ctx: EmitContext) -> None:
    """tile(reps) -> per repeated axis a Concat of that many copies along it (a longer `reps` first adds axes)."""
    x, out = node.inputs[0], node.outputs[0]
    shape, out_shape = ctx.shape(x), ctx.shape(out)
    reps = node.attrs.int_tuple("reps")
    if any(r < 1 for r in reps):
        raise ConversionError(f"is {reps}; every repetition count must be positive", node.name, node.op, "reps")
    ndim = max(len(shape), len(reps))
    current_shape = (1,) * (ndim - len(shape)) + tuple(shape)
    reps = (1,) * (ndim - len(reps)) + tuple(reps)
    axes = [axis for axis in range(ndim) if reps[axis] > 1]
    if not axes:
        if current_shape == shape:
            ctx.alias(out, x)
        else:
            ctx.layer(node.name, "Reshape", [x], [out]).reshape_param.shape.dim.extend(current_shape)
        return
    current = x
    if current_shape != shape:  # the new leading axes of size 1
        current = ctx.unique(f"{node.name}_expanded")
        ctx.layer(current, "Reshape", [x], [current]).reshape_param.shape.dim.extend(current_shape)
        ctx.set_shape(current, current_shape)
    for axis in axes:
        last = axis == axes[-1]
        top = out if last else ctx.unique(f"{node.name}_axis{axis}")
        layer = ctx.layer(node.name if last else top, "Concat", [current] * reps[axis], [top])
        layer.concat_param.axis = axis
        current_shape = tuple(d * reps[axis] if i == axis else d for i, d in enumerate(current_shape))
        ctx.set_shape(top, current_shape)
        current = top
    if current_shape != out_shape:  # pragma: no cover - shape inference gave the same
        raise ConversionError(f"tiles {shape} to {current_shape}, not {out_shape}", node.name, node.op, "reps")


@register("repeat", caffe="Deconvolution (depthwise, all-ones k x 1) (+ Reshape)")
def convert_repeat(node: Node, ctx: EmitContext) -> None:
    """repeat along any axis (none: the flattened input) -> all-ones depthwise Deconvolution, kernel = stride = k.

    The repeated axis is the height of a 4-D view (batch, the axes before it, it, the axes after it); a Deconvolution
    with a k x 1 all-ones kernel and stride k writes each row k times (value x 1, windows apart: exact), and a
    Reshape gives the output its shape. H or W of NCHW is repeated in place (YOLOv3's nearest upsampling)."""
    a = node.attrs
    x, out = node.inputs[0], node.outputs[0]
    shape, out_shape = ctx.shape(x), ctx.shape(out)
    k = a.int("repeats")
    if k < 1:
        raise ConversionError(f"is {k}; only a positive repetition count converts", node.name, node.op, "repeats")
    axis_text = a.str("axis", "None")
    axis = None if axis_text.strip().lower() in ("none", "") else positive_axis(node, "axis", a.int("axis"), len(shape))
    if k == 1 and axis is not None:
        ctx.alias(out, x)
        return
    if axis is not None and len(shape) == 4 and axis in (2, 3):
        _repeat_rows(ctx, node.name, x, (k, 1) if axis == 2 else (1, k), out)
        return
    if axis is None:
        view, keep_batch = (1, 1, int(np.prod(shape)), 1), False
    elif axis == 0:
        view, keep_batch = (1, 1, shape[0], int(np.prod(shape[1:]))), False
    else:
        view = (shape[0], int(np.prod(shape[1:axis])), shape[axis], int(np.prod(shape[axis + 1 :])))
        keep_batch = True
    viewed = ctx.unique(f"{node.name}_view")
    _reshape(ctx, viewed, x, viewed, view, keep_batch)
    repeated = ctx.unique(f"{node.name}_repeated")
    _repeat_rows(ctx, repeated, viewed, (k, 1), repeated)
    _reshape(ctx, node.name, repeated, out, out_shape, keep_batch)


def _repeat_rows(ctx: EmitContext, name: str, blob: str, kernel: tuple[int, int], top: str) -> None:
    """Each row (kernel (k, 1)) or column (kernel (1, k)) of a 4-D blob written k times: a depthwise Deconvolution
    with an all-ones kernel and stride = kernel."""
    n, c, h, w = ctx.shape(blob)
    layer = ctx.layer(name, "Deconvolution", [blob], [top], [np.ones((c, 1, *kernel), np.float32)])
    p = layer.convolution_param
    p.num_output, p.group, p.bias_term = c, c, False
    set_window(p, kernel, kernel)
    ctx.set_shape(top, (n, c, h * kernel[0], w * kernel[1]))


def _reshape(ctx: EmitContext, name: str, src: str, top: str, shape: tuple[int, ...], keep_batch: bool) -> None:
    dims = list(shape)
    if keep_batch and dims:
        dims[0] = 0  # the batch copied, so the net can be reshaped to another batch
    ctx.layer(name, "Reshape", [src], [top]).reshape_param.shape.dim.extend(dims)
    ctx.set_shape(top, tuple(shape))


@register("broadcast_to", "broadcast_axis", caffe="Deconvolution (all-ones) (+ Reshape) or Concat (batch)")
def convert_broadcast_to(node: Node, ctx: EmitContext) -> None:
    """broadcast_to(shape) / broadcast_axis(axis, size) -> the size-1 axes repeated by all-ones Deconvolutions."""
    x, out = node.inputs[0], node.outputs[0]
    shape, out_shape = ctx.shape(x), ctx.shape(out)
    if len(shape) != len(out_shape) or any(s not in (1, o) for s, o in zip(shape, out_shape)):
        raise ConversionError(f"broadcasts {shape} to {out_shape}", node.name, node.op)
    if shape == out_shape:
        ctx.alias(out, x)
        return
    expand_axes(ctx, node.name, x, out_shape, top=out, name=node.name)
