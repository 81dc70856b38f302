"""Shape ops: Flatten, Reshape, expand_dims, squeeze, transpose, Concat."""

from __future__ import annotations

import math

import numpy as np

from ..errors import ConversionError
from ..ir.graph import Node
from ._common import one_hot_window, positive_axis, set_window
from .context import EmitContext
from .registry import register, register_removed


register_removed("Dropout", "_copy", "identity", doc="identity at inference (removed by a pass)", family="shape")


@register("Flatten", caffe="Flatten")
def convert_flatten(node: Node, ctx: EmitContext) -> None:
    """Flatten -> Flatten (axis 1 to the end, C-order like MXNet).

    A 1-D input (N,) becomes (N, 1) in MXNet; Caffe's Flatten aborts on a blob without axis 1, so it is a Reshape."""
    if len(ctx.shape(node.inputs[0])) == 1:
        ctx.layer(node.name, "Reshape", [node.inputs[0]], [node.outputs[0]]).reshape_param.shape.dim.extend([0, 1])
        return
    ctx.layer(node.name, "Flatten", [node.inputs[0]], [node.outputs[0]])


@register("Reshape", "expand_dims", "squeeze", caffe="Reshape")
def convert_reshape(node: Node, ctx: EmitContext) -> None:
    """Reshape (codes 0/-1/-2/-3/-4, reverse) / expand_dims / squeeze -> Reshape to the inferred shape, batch copied."""
    x, out = node.inputs[0], node.outputs[0]
    in_shape, out_shape = ctx.shape(x), ctx.shape(out)
    if math.prod(out_shape) != math.prod(in_shape) or min(out_shape, default=1) <= 0:
        # MXNet 1.9.1 compiled its Reshape size check out: its shape inference passes such a shape (a -1 filled in
        # at its code's position after a -2/-3/-4, a wrong literal, the deprecated target_shape) and its forward
        # writes past the tensor.
        raise ConversionError(
            f"turns {in_shape} ({math.prod(in_shape)} values) into {out_shape}; MXNet 1.9.1 does not check a "
            "Reshape's size (its forward reads and writes out of bounds) and no Caffe Reshape can: give a shape with "
            "the same number of values",
            node.name,
            node.op,
            "shape",
        )
    dims = list(out_shape)
    if dims and in_shape and dims[0] == in_shape[0]:
        dims[0] = 0  # copy the batch size, so the Reshape does not pin it
    layer = ctx.layer(node.name, "Reshape", [x], [out])
    layer.reshape_param.shape.dim.extend(dims)


@register("transpose", caffe="Permute (caffe-ssd)")
def convert_transpose(node: Node, ctx: EmitContext) -> None:
    """transpose -> Permute; no `axes` means reversed axes, as in MXNet."""
    x = node.inputs[0]
    ndim = len(ctx.shape(x))
    axes = node.attrs.int_tuple("axes", ())
    order = [positive_axis(node, "axes", ax, ndim) for ax in axes] if axes else list(reversed(range(ndim)))
    if sorted(order) != list(range(ndim)):
        raise ConversionError(f"is {axes}, not a permutation of {ndim} axes", node.name, node.op, "axes")
    _permute(ctx, node, x, order, node.outputs[0])


def _permute(ctx: EmitContext, node: Node, x: str, order: list[int], out: str) -> None:
    """Permute; beyond 4-D, axes that stay in place at the end are merged first (ShuffleNet's channel shuffle
    (N, g, C/g, H, W) -> (N, C/g, g, H, W) is a 4-D Permute of (N, g, C/g, H*W)): ncnn and MNN permute 4-D only."""
    shape = ctx.shape(x)
    if len(order) == 3 and order[0] == 0 and order != [0, 1, 2]:
        # A 3-D Permute as the 4-D one with a trailing unit axis: ncnn cannot compute a 3-D Permute ("could not
        # compute blob"); every runtime permutes 4-D.
        four, permuted = ctx.unique(f"{node.name}_as_4d"), ctx.unique(f"{node.name}_permuted")
        ctx.layer(four, "Reshape", [x], [four]).reshape_param.shape.dim.extend([0, *shape[1:], 1])
        ctx.layer(permuted, "Permute", [four], [permuted]).permute_param.order.extend([*order, 3])
        ctx.layer(node.name, "Reshape", [permuted], [out]).reshape_param.shape.dim.extend([0, *ctx.shape(out)[1:]])
        return
    keep = len(order)
    while keep > 1 and order[keep - 1] == keep - 1:
        keep -= 1
    if len(order) <= 4 or keep == len(order) or keep + 1 > 4:
        layer = ctx.layer(node.name, "Permute", [x], [out])
        layer.permute_param.order.extend(order)
        return
    merged = ctx.unique(f"{node.name}_merged")
    dims = [0, *shape[1:keep], int(np.prod(shape[keep:]))]
    ctx.layer(merged, "Reshape", [x], [merged]).reshape_param.shape.dim.extend(dims)
    permuted = ctx.unique(f"{node.name}_permuted")
    ctx.layer(permuted, "Permute", [merged], [permuted]).permute_param.order.extend(order[:keep] + [keep])
    ctx.layer(node.name, "Reshape", [permuted], [out]).reshape_param.shape.dim.extend([0, *ctx.shape(out)[1:]])


@register("Concat", caffe="Concat (one input: nothing)")
def convert_concat(node: Node, ctx: EmitContext) -> None:
    """Concat -> Concat along the same axis (any dim); of one input, an identity a pass removes."""
    ndim = len(ctx.shape(node.outputs[0]))
    axis = positive_axis(node, "dim", node.attrs.int("dim", 1), ndim)
    layer = ctx.layer(node.name, "Concat", node.inputs, [node.outputs[0]])
    layer.concat_param.axis = axis


@register("SwapAxis", caffe="Permute (caffe-ssd)")
def convert_swapaxis(node: Node, ctx: EmitContext) -> None:
    """SwapAxis(dim1, dim2) -> Permute with the two axes exchanged."""
    ndim = len(ctx.shape(node.inputs[0]))
    d1 = positive_axis(node, "dim1", node.attrs.int("dim1", 0), ndim)
    d2 = positive_axis(node, "dim2", node.attrs.int("dim2", 0), ndim)
    order = list(range(ndim))
    order[d1], order[d2] = order[d2], order[d1]
    _permute(ctx, node, node.inputs[0], order, node.outputs[0])


def emit_slice(ctx: EmitContext, name: str, src: str, axis: int, start: int, stop: int, out: str) -> None:
    """Keep [start, stop) of `src` along `axis` (see emit_crop)."""
    emit_crop(ctx, name, src, [(axis, start, stop)], out)


def emit_crop(ctx: EmitContext, name: str, src: str, cuts: list[tuple[int, int, int]], out: str) -> None:
    """Keep [start, stop) of `src` along each (axis, start, stop) of `cuts`, in the target's crop pattern:

    - 'convolution' (NCHW, any of C/H/W cut): one Convolution with one-hot weights, bias-free: out[i] = 1 * x[i +
      start] + 0 * (its neighbours), exact for finite values; depthwise when the channels are kept (along H/W: 2 taps
      with dilation for a cut at either end, else start+1 taps), else a 1x1-style channel selection. One top.
    - 'slice' (and every other rank or axis): Slice layers; the parts not kept are silenced later.
    """
    shape = ctx.shape(src)
    kept = list(shape)
    for axis, start, stop in cuts:
        kept[axis] = stop - start
    ctx.set_shape(out, tuple(kept))
    if ctx.options.patterns.crop == "convolution" and len(shape) == 4 and all(axis > 0 for axis, _, _ in cuts):
        _crop_by_convolution(ctx, name, src, {axis: (start, stop) for axis, start, stop in cuts}, out)
        return
    current = src
    for i, (axis, start, stop) in enumerate(cuts):
        last = i == len(cuts) - 1
        top = out if last else ctx.unique(f"{name}_axis{axis}")
        _slice(ctx, name if last else ctx.unique(f"{name}_slice{axis}"), current, axis, start, stop, top)
        current = top


def _crop_by_convolution(ctx: EmitContext, name: str, src: str, cuts: dict[int, tuple[int, int]], out: str) -> None:
    n, c, h, w = ctx.shape(src)
    window = []
    for axis, size in ((2, h), (3, w)):
        start, stop = cuts.get(axis, (0, size))
        window.append((size - (stop - start), start))
    kernel, dilation, tap = one_hot_window(window)
    c_start, c_stop = cuts.get(1, (0, c))
    depthwise = (c_start, c_stop) == (0, c)
    weights = np.zeros((c if depthwise else c_stop - c_start, 1 if depthwise else c, *kernel), np.float32)
    for j in range(weights.shape[0]):
        weights[j, 0 if depthwise else c_start + j, tap[0], tap[1]] = 1.0
    layer = ctx.layer(name, "Convolution", [src], [out], [weights])
    p = layer.convolution_param
    p.num_output, p.bias_term = weights.shape[0], False
    if depthwise:
        p.group = c
    set_window(p, (kernel[0], kernel[1]))
    if dilation != [1, 1]:
        p.dilation.extend(dilation if dilation[0] != dilation[1] else dilation[:1])


def _slice(ctx: EmitContext, name: str, src: str, axis: int, start: int, stop: int, out: str) -> None:
    """Keep [start, stop) of `src` along `axis` with a Slice layer; the other parts are silenced later."""
    shape = ctx.shape(src)
    size = shape[axis]
    points = [p for p in (start, stop) if 0 < p < size]
    tops = []
    for begin, end in zip([0] + points, points + [size]):
        tops.append(out if (begin, end) == (start, stop) else ctx.unique(f"{name}_unused_{begin}_{end}"))
    layer = ctx.layer(name, "Slice", [src], tops)
    layer.slice_param.axis = axis
    layer.slice_param.slice_point.extend(points)
    ctx.set_shape(out, tuple(stop - start if i == axis else d for i, d in enumerate(shape)))


def _range(node: Node, begin: int | None, end: int | None, size: int) -> tuple[int, int]:
    start = 0 if begin is None else (begin + size if begin < 0 else begin)
    stop = size if end is None else (end + size if end < 0 else end)
    start, stop = max(0, min(start, size)), max(0, min(stop, size))
    if stop <= start:
        raise ConversionError(f"empty slice [{begin}:{end}] of an axis of size {size}", node.name, node.op)
    return start, stop


@register("slice_like", caffe="Crop, the target's crop (or nothing)")
def convert_slice_like(node: Node, ctx: EmitContext) -> None:
    """slice_like(x, ref, axes) -> nothing when the shapes already agree, else Crop at offset 0 to ref's shape.

    MXNet keeps [0, ref's size) of x on `axes` (every axis by default; a negative axis counts from x's rank, and ref
    may have a lower rank as long as it has every axis named). Crop reads ref's shape on every axis from the first
    one; where that is not the same cut (a ref of another rank, an axis in between kept, a ref that is a constant
    and no blob), the cut is written from the static shapes as the target's crop (emit_crop)."""
    x, ref = node.inputs[0], node.inputs[1]
    xs, rs = ctx.shape(x), ctx.shape(ref)
    axes = node.attrs.int_tuple("axes", ())
    axes = tuple(positive_axis(node, "axes", a, len(xs)) for a in axes) if axes else tuple(range(len(xs)))
    out = ctx.shape(node.outputs[0])
    if out == xs:
        ctx.alias(node.outputs[0], x)
        return
    first = min(axes)
    # ncnn's Crop by a reference crops every axis but the batch to the reference's size, whatever its `axis`: where
    # an axis before the first one cut differs (fewer channels in ref), the cut is written from the static shapes.
    crop_fits = len(rs) == len(xs) and all(out[i] == rs[i] for i in range(1, len(xs)))
    if not crop_fits or ctx.is_param(ref):
        cuts = [(axis, 0, out[axis]) for axis in range(len(xs)) if out[axis] != xs[axis]]
        emit_crop(ctx, node.name, x, cuts, node.outputs[0])
        return
    layer = ctx.layer(node.name, "Crop", [x, ref], [node.outputs[0]])
    layer.crop_param.axis = first
    layer.crop_param.offset.append(0)


@register("slice_axis", caffe="Convolution (one-hot) or Slice")
def convert_slice_axis(node: Node, ctx: EmitContext) -> None:
    """slice_axis(axis, begin, end) -> the target's crop (emit_crop: a one-hot Convolution, or Slice + Silence)."""
    x = node.inputs[0]
    shape = ctx.shape(x)
    axis = positive_axis(node, "axis", node.attrs.int("axis"), len(shape))
    end = node.attrs.int("end", None) if node.attrs.str("end", "None") != "None" else None
    start, stop = _range(node, node.attrs.int("begin"), end, shape[axis])
    if (start, stop) == (0, shape[axis]):
        ctx.alias(node.outputs[0], x)
        return
    emit_slice(ctx, node.name, x, axis, start, stop, node.outputs[0])


@register("slice", caffe="Convolution (one-hot) or Slice")
def convert_slice(node: Node, ctx: EmitContext) -> None:
    """slice(begin, end) with step 1 -> the target's crop of every sliced axis (emit_crop)."""
    a = node.attrs
    x, out = node.inputs[0], node.outputs[0]
    shape = ctx.shape(x)
    begin, end = _optional_ints(node, "begin"), _optional_ints(node, "end")
    steps = _optional_ints(node, "step") if "step" in a else []
    if any(s not in (None, 1) for s in steps):
        raise ConversionError(f"is {a.str('step')}; only step 1 converts to Caffe Slice", node.name, node.op, "step")
    cuts = []
    for axis in range(len(begin)):
        start, stop = _range(node, begin[axis], end[axis] if axis < len(end) else None, shape[axis])
        if (start, stop) != (0, shape[axis]):
            cuts.append((axis, start, stop))
    if not cuts:
        ctx.alias(out, x)
        return
    emit_crop(ctx, node.name, x, cuts, out)


def _optional_ints(node: Node, key: str) -> list[int | None]:
    """'(0, None, 1)' -> [0, None, 1]."""
    text = node.attrs.str(key).strip().strip("()[]")
    values: list[int | None] = []
    for item in (t.strip() for t in text.split(",")):
        if item == "":
            continue
        if item == "None":
            values.append(None)
        else:
            try:
                values.append(int(item))
            except ValueError:
                raise node.attrs.error(key, f"is {node.attrs.str(key)!r}, not a tuple of integers or None") from None
    return values


@register("depth_to_space", "space_to_depth", caffe="Reshape + Permute + Reshape (folded: one-hot (De)Convolution)")
def convert_depth_to_space(node: Node, ctx: EmitContext) -> None:
    """depth_to_space / space_to_depth(block_size) -> Reshape to 6-D, Permute, Reshape to 4-D, as MXNet defines them.

    Values are moved, none computed. Where the target folds blobs beyond 4-D (converters/rank.py), the three become
    one Deconvolution (Convolution) with one-hot 0/1 weights: exact too."""
    x, out = node.inputs[0], node.outputs[0]
    n, c, h, w = ctx.shape(x)
    b = node.attrs.int("block_size")
    if b <= 0 or (c % (b * b) if node.op == "depth_to_space" else h % b or w % b):
        raise ConversionError(f"is {b}: it does not divide the input {(n, c, h, w)}", node.name, node.op, "block_size")
    if node.op == "depth_to_space":  # (N, b, b, C/b^2, H, W) -> (N, C/b^2, H, b, W, b)
        view, order = (n, b, b, c // (b * b), h, w), [0, 3, 4, 1, 5, 2]
    else:  # (N, C, H/b, b, W/b, b) -> (N, b, b, C, H/b, W/b)
        view, order = (n, c, h // b, b, w // b, b), [0, 3, 5, 1, 2, 4]
    blocks = ctx.unique(f"{node.name}_blocks")
    ctx.layer(blocks, "Reshape", [x], [blocks]).reshape_param.shape.dim.extend([0, *view[1:]])
    ctx.set_shape(blocks, view)
    moved = ctx.unique(f"{node.name}_moved")
    ctx.layer(moved, "Permute", [blocks], [moved]).permute_param.order.extend(order)
    ctx.set_shape(moved, tuple(view[i] for i in order))
    ctx.layer(node.name, "Reshape", [moved], [out]).reshape_param.shape.dim.extend([0, *ctx.shape(out)[1:]])


def crop_window(node: Node, data: tuple[int, ...], like: tuple[int, ...] | None) -> tuple[int, int, int, int]:
    """(top, left, height, width) of a legacy Crop of an NCHW `data`: h_w or the crop_like input's H, W; at `offset`
    (y, x) or centred (center_crop, MXNet's integer halves). ConversionError naming the attribute otherwise."""
    a = node.attrs
    if len(data) != 4 or (like is not None and len(like) != 4):
        raise ConversionError(
            f"needs 4-D NCHW inputs, got {data}" + (f" and {like}" if like else ""), node.name, node.op
        )
    hw, offset = (like[2:] if like is not None else a.int_tuple("h_w", (0, 0))), a.int_tuple("offset", (0, 0))
    for key, value in (("h_w", hw), ("offset", offset)):
        if len(value) != 2:
            raise ConversionError(f"is {value}; expected two values (y, x)", node.name, node.op, key)
    h, w = hw
    if not (1 <= h <= data[2] and 1 <= w <= data[3]):
        raise ConversionError(f"crop {h}x{w} does not fit the input's {data[2]}x{data[3]}", node.name, node.op, "h_w")
    if a.bool("center_crop", False):
        return (data[2] - h) // 2, (data[3] - w) // 2, h, w
    top, left = offset
    if not (0 <= top <= data[2] - h and 0 <= left <= data[3] - w):
        raise ConversionError(
            f"is ({top}, {left}); a {h}x{w} crop of {data[2]}x{data[3]} needs 0 <= offset <= ({data[2] - h}, "
            f"{data[3] - w})",
            node.name,
            node.op,
            "offset",
        )
    return top, left, h, w


@register("Crop", caffe="Convolution (one-hot) or Slice")
def convert_crop(node: Node, ctx: EmitContext) -> None:
    """Crop (legacy: h_w or a crop_like input, offset or center_crop) -> the target's crop of H and W (emit_crop).

    The crop_like input gives only its shape (static here); its values are never read."""
    x = node.inputs[0]
    like = ctx.shape(node.inputs[1]) if len(node.inputs) > 1 else None
    top, left, h, w = crop_window(node, tuple(ctx.shape(x)), like)
    shape = ctx.shape(x)
    cuts = [(axis, start, start + size) for axis, start, size in ((2, top, h), (3, left, w)) if size != shape[axis]]
    if not cuts:
        ctx.alias(node.outputs[0], x)
        return
    emit_crop(ctx, node.name, x, cuts, node.outputs[0])
