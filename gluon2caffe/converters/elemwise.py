"""Elementwise arithmetic: sums, differences and products of tensors and constants, with MXNet broadcasting
(broadcast_like included)."""

from __future__ import annotations

import numpy as np

from ..errors import ConversionError
from ..ir.graph import Node
from ..ir.ops import broadcast_run, constant_run
from ._common import as_map, set_window
from .constants import emit_constant_blob
from .context import EmitContext
from .registry import register


_KIND = {
    "elemwise_add": "add",
    "broadcast_add": "add",
    "elemwise_sub": "sub",
    "broadcast_sub": "sub",
    "elemwise_mul": "mul",
    "broadcast_mul": "mul",
}


@register("add_n", caffe="Eltwise SUM (one input: nothing)")
def convert_add_n(node: Node, ctx: EmitContext) -> None:
    """add_n -> Eltwise SUM (inputs of equal shape); of one input, an identity a pass removes."""
    shapes = {ctx.shape(t) for t in node.inputs}
    if len(shapes) != 1:
        raise ConversionError(f"inputs have different shapes {sorted(shapes)}", node.name, node.op)
    layer = ctx.layer(node.name, "Eltwise", node.inputs, [node.outputs[0]])
    layer.eltwise_param.operation = layer.eltwise_param.SUM


@register(*_KIND, caffe="Eltwise / Scale / Bias / Power (+ Deconvolution or Concat)")
def convert_binary(node: Node, ctx: EmitContext) -> None:
    """Sum/difference/product -> Eltwise (a broadcast operand expanded first), two-bottom Scale/Bias, or Power.

    Equal shapes -> Eltwise; a broadcast tensor -> expanded (all-ones Deconvolutions; Concat on the batch) + Eltwise,
    or for a trailing run with target pattern 'scale' a two-bottom Scale/Bias; a constant -> Scale/Bias/Power."""
    kind = _KIND[node.op]
    a, b = node.inputs
    if ctx.is_param(a) and ctx.is_param(b):
        raise ConversionError("both operands are constants; nothing to compute at run time", node.name, node.op)
    if ctx.is_param(a) or ctx.is_param(b):
        _with_constant(node, ctx, kind)
        return
    out = node.outputs[0]
    out_shape = ctx.shape(out)
    shape_a, shape_b = ctx.shape(a), ctx.shape(b)
    if shape_a == shape_b == out_shape:
        _eltwise(ctx, node.name, kind, a, b, out)
        return
    # One operand has the output's shape, the other is broadcast along some axes.
    if kind in ("add", "mul") and shape_a != out_shape and shape_b == out_shape:
        a, b, shape_a, shape_b = b, a, shape_b, shape_a
    if shape_a == out_shape and kind in ("add", "mul"):
        run = broadcast_run(shape_b, out_shape)
        if run:
            _scale_or_bias_by_tensor(node, ctx, kind, a, b, run, out)
            return
    ta = _tile_to(node, ctx, a, out_shape, "a")
    tb = _tile_to(node, ctx, b, out_shape, "b")
    _eltwise(ctx, node.name, kind, ta, tb, out)


def _eltwise(ctx: EmitContext, name: str, kind: str, a: str, b: str, out: str) -> None:
    layer = ctx.layer(name, "Eltwise", [a, b], [out])
    p = layer.eltwise_param
    if kind == "mul":
        p.operation = p.PROD
    else:
        p.operation = p.SUM
        if kind == "sub":
            p.coeff.extend([1.0, -1.0])


def _scale_or_bias_by_tensor(
    node: Node, ctx: EmitContext, kind: str, x: str, operand: str, run: tuple[int, int], out: str
) -> None:
    """x * operand / x + operand, the operand broadcast along trailing axes (an SE gate), in the target's broadcast
    pattern: expanded (expand_axes) + Eltwise, or a two-bottom Scale/Bias (the operand reshaped to the run, batch
    copied); 'channel_scale' only where the operand holds one value per channel (and sample)."""
    out_shape = ctx.shape(out)
    axis, num_axes = run
    shape = ctx.shape(operand)
    if axis > 0 and len(shape) == len(out_shape) and shape[:axis] == tuple(out_shape[:axis]):
        # A tensor of the output's rank with the same leading (batch) axes is per sample: keep the batch in the run,
        # so the Reshape can copy it and the net runs at any batch (at batch 1 the run could start after it).
        axis, num_axes = 0, num_axes + axis
    broadcast = ctx.options.patterns.broadcast
    no_bias = kind == "add" and "Bias" in ctx.options.patterns.missing_layers
    if broadcast == "eltwise" or (broadcast == "channel_scale" and axis + num_axes > 2) or no_bias:
        _eltwise(ctx, node.name, kind, x, _tile_to(node, ctx, operand, out_shape, "b"), out)
        return
    operand_blob = ctx.blob(operand)
    if ctx.shape(operand) != tuple(out_shape[axis : axis + num_axes]):
        reshaped = ctx.unique(f"{node.name}_operand")
        layer = ctx.layer(reshaped, "Reshape", [operand], [reshaped])
        dims = list(out_shape[axis : axis + num_axes])
        if axis == 0:
            dims[0] = 0  # copy the batch size, so the net can be reshaped to another batch
        layer.reshape_param.shape.dim.extend(dims)
        operand_blob = reshaped
    layer = ctx.layer(node.name, "Scale" if kind == "mul" else "Bias", [x], [out])
    layer.bottom.append(operand_blob)
    (layer.scale_param if kind == "mul" else layer.bias_param).axis = axis


def _tile_to(node: Node, ctx: EmitContext, tensor: str, out_shape: tuple[int, ...], tag: str) -> str:
    """Repeat `tensor` along its broadcast axes until it has `out_shape`: exact, for any broadcast (expand_axes)."""
    shape = ctx.shape(tensor)
    if shape == out_shape:
        return tensor
    ndim = len(out_shape)
    padded = (1,) * (ndim - len(shape)) + tuple(shape)
    current = tensor
    if padded != shape:
        current = ctx.unique(f"{node.name}_{tag}_expanded")
        ctx.layer(current, "Reshape", [tensor], [current]).reshape_param.shape.dim.extend(padded)
        ctx.set_shape(current, padded)
    for axis in range(ndim):
        if padded[axis] != out_shape[axis] and padded[axis] != 1:
            raise ConversionError(f"shapes {shape} and {out_shape} do not broadcast", node.name, node.op)
    return expand_axes(ctx, f"{node.name}_{tag}", current, out_shape)


def expand_axes(
    ctx: EmitContext, base: str, blob: str, out_shape: tuple[int, ...], top: str | None = None, name: str | None = None
) -> str:
    """`blob` (size 1 where it differs from `out_shape`) repeated to `out_shape`, exactly. On a 4-D blob, H and W
    are expanded by a depthwise Deconvolution with an all-ones 1-D kernel (value x 1, every runtime has it; MNN has
    no Tile), and on a longer blob whose last two axes grow, the same on it reshaped to 4-D; any other axis but the
    batch the same on a 4-D view, the batch by a Concat of copies. The result is written to `top` by a layer called
    `name` when given (a node's output), else to a new blob."""
    shape = list(ctx.shape(blob))
    expanded = [axis for axis, size in enumerate(out_shape) if shape[axis] != size]
    if len(shape) > 4 and expanded and min(expanded) >= len(shape) - 2:
        # Only the last two axes grow (ResNeSt's (N, R, C, 1, 1) gates): as 4-D (N, R*C, H, W), then back.
        lead = int(np.prod(shape[1:-2]))
        flat = ctx.unique(f"{base}_as_4d")
        ctx.layer(flat, "Reshape", [blob], [flat]).reshape_param.shape.dim.extend([0, lead, *shape[-2:]])
        ctx.set_shape(flat, (shape[0], lead, *shape[-2:]))
        four = expand_axes(ctx, base, flat, (shape[0], lead, *out_shape[-2:]))
        back = top or ctx.unique(f"{base}_as_{len(shape)}d")
        ctx.layer(name or back, "Reshape", [four], [back]).reshape_param.shape.dim.extend([0, *out_shape[1:]])
        ctx.set_shape(back, tuple(out_shape))
        return back
    current = blob
    if len(shape) == 4 and tuple(out_shape[2:]) != (1, 1):
        current = as_map(ctx, base, current)  # ncnn's Deconvolution crashes on its 1-D form of a (C, 1, 1) blob
    for axis in expanded:
        size = out_shape[axis]
        last = axis == expanded[-1] and top is not None
        grown = top if last else ctx.unique(f"{base}_expand{axis}")
        layer_name = (name or grown) if last else grown
        if len(shape) == 4 and axis in (2, 3):
            _repeat_by_deconvolution(ctx, layer_name, current, shape[1], (size, 1) if axis == 2 else (1, size), grown)
        elif axis > 0:
            # The axis as the unit height of a 4-D view (batch, the axes before it, 1, the axes after it): the same
            # all-ones Deconvolution repeats it, and a Reshape gives the blob its own shape back. Tile would do it in
            # one layer, but OpenCV and MNN refuse Caffe's Tile and ncnn computes something else with it.
            lead, rest = int(np.prod(shape[1:axis])), int(np.prod(shape[axis + 1 :]))
            view, repeated = ctx.unique(f"{base}_view{axis}"), ctx.unique(f"{base}_repeat{axis}")
            ctx.layer(view, "Reshape", [current], [view]).reshape_param.shape.dim.extend([0, lead, 1, rest])
            ctx.set_shape(view, (shape[0], lead, 1, rest))
            _repeat_by_deconvolution(ctx, repeated, view, lead, (size, 1), repeated)
            grown_dims = [0, *shape[1:axis], size, *shape[axis + 1 :]]
            ctx.layer(layer_name, "Reshape", [repeated], [grown]).reshape_param.shape.dim.extend(grown_dims)
        else:  # the batch (of 1): a Concat of copies along it (OpenCV and MNN do not run Caffe's Tile)
            ctx.layer(layer_name, "Concat", [current] * size, [grown]).concat_param.axis = 0
        shape[axis] = size
        ctx.set_shape(grown, tuple(shape))
        current = grown
    return current


def _repeat_by_deconvolution(
    ctx: EmitContext, name: str, blob: str, channels: int, kernel: tuple[int, int], top: str
) -> None:
    """A 4-D blob with a unit H (W) repeated kernel[0] (kernel[1]) times: a depthwise Deconvolution with an all-ones
    kernel writes value x 1 at each position (exact)."""
    weights = np.ones((channels, 1, *kernel), np.float32)
    p = ctx.layer(name, "Deconvolution", [blob], [top], [weights]).convolution_param
    p.num_output, p.group, p.bias_term = channels, channels, False
    set_window(p, kernel)
    n, c, h, w = ctx.shape(blob)
    ctx.set_shape(top, (n, c, h * kernel[0], w * kernel[1]))


def _with_constant(node: Node, ctx: EmitContext, kind: str) -> None:
    """A tensor combined with a constant parameter: Scale/Bias with the constant as blob (Power if scalar)."""
    a, b = node.inputs
    const_first = ctx.is_param(a)
    const, x = (a, b) if const_first else (b, a)
    out = node.outputs[0]
    out_shape = ctx.shape(out)
    if ctx.shape(x) != out_shape:
        raise ConversionError(f"input {ctx.shape(x)} is broadcast to {out_shape}", node.name, node.op)
    value = np.asarray(ctx.param(const), np.float64)
    if kind == "sub":  # x - c = x + (-c);  c - x = -x + c
        value = value if const_first else -value
        if const_first:
            negated = ctx.unique(f"{node.name}_negated")
            ctx.layer(negated, "Power", [x], [negated]).power_param.scale = -1.0
            ctx.set_shape(negated, ctx.shape(x))
            x = negated
        kind = "add"
    value = _collapsed(value, out_shape)
    run = constant_run(node, value.shape, out_shape)
    if run is None:
        layer = ctx.layer(node.name, "Power", [x], [out])
        scalar = float(value.reshape(-1)[0])
        if kind == "mul":
            layer.power_param.scale = scalar
        else:
            layer.power_param.shift = scalar
        return
    if ctx.options.patterns.constant == "eltwise" and not (kind == "mul" and run == (1, 1)):
        if run[0] == 0:  # the constant differs between the samples
            combine_with_batch_constant(ctx, node.name, kind, x, value, out)
        else:  # (a product per channel: the Scale below)
            combine_with_constant(ctx, node.name, kind, x, value, out)
        return
    axis, num_axes = run
    blob = value.reshape(out_shape[axis : axis + num_axes])
    layer = ctx.layer(node.name, "Scale" if kind == "mul" else "Bias", [x], [out], [blob])
    p = layer.scale_param if kind == "mul" else layer.bias_param
    p.axis, p.num_axes = axis, num_axes


def _collapsed(value: np.ndarray, out_shape: tuple[int, ...]) -> np.ndarray:
    """The constant with the same values everywhere as one value, and with the same values for every sample (of a
    shape that spans the batch axis) as one sample: zeros((N, C, 1)) is a scalar, a per-sample copy of one table is
    that table (MXNet broadcasts either to the same numbers)."""
    flat = value.reshape(-1)
    if flat.size and np.all(flat == flat[0]):
        return flat[:1].reshape(())
    if value.ndim == len(out_shape) and value.shape[0] > 1 and np.all(value == value[:1]):
        return value[:1]
    return value


def combine_with_constant(ctx: EmitContext, name: str, kind: str, x: str, value: np.ndarray, out: str) -> None:
    """out = x + value or x * value, `value` broadcast to x's shape and the same for every sample, in layers every
    runtime computes alike (the target's constant 'eltwise'): one value per channel is a Scale (of weight 1 with the
    values as its bias, for a sum: exact); anything else is the constant as a blob of x's shape (emit_constant_blob)
    and an Eltwise. A Scale or Bias blob over other axes is wrong in MNN and ncnn (they apply it per channel:
    relative errors 0.8 .. 3.3), OpenCV has no Bias layer and cannot fuse such a Scale, OpenVINO stops at it."""
    shape = tuple(ctx.shape(x))
    value = np.asarray(value, np.float32)
    padded = value.reshape((1,) * (len(shape) - value.ndim) + value.shape)  # MXNet aligns the trailing axes
    full = np.broadcast_to(padded[0], shape[1:])  # the batch axis of a constant is 1 here (constant_run from axis 1)
    channel = full.reshape(full.shape[0], -1)
    if len(shape) >= 2 and np.all(channel == channel[:, :1]):  # one value per channel
        values = np.ascontiguousarray(channel[:, 0])
        blobs = [values] if kind == "mul" else [np.ones_like(values), values]
        p = ctx.layer(name, "Scale", [x], [out], blobs).scale_param
        p.axis, p.bias_term = 1, kind != "mul"
        return
    source = x
    if len(shape) != 4:  # the constant's source pooling needs a 4-D blob: this one as (N, everything, 1, 1)
        source = ctx.unique(f"{name}_as_4d")
        ctx.layer(source, "Reshape", [x], [source]).reshape_param.shape.dim.extend([0, int(np.prod(shape[1:])), 1, 1])
        ctx.set_shape(source, (shape[0], int(np.prod(shape[1:])), 1, 1))
    constant = ctx.unique(f"{name}_constant")
    emit_constant_blob(ctx, constant, np.ascontiguousarray(full), source, shape[1:])
    ctx.set_shape(constant, shape)
    _eltwise(ctx, name, kind, x, constant, out)


def combine_with_batch_constant(ctx: EmitContext, name: str, kind: str, x: str, value: np.ndarray, out: str) -> None:
    """out = x + value or x * value where `value` differs along the batch axis (so x's batch size is the constant's):
    the whole tensor as one sample (1, size, 1, 1), combined there with the constant (combine_with_constant), and
    reshaped back. A Bias/Scale along axis 0 is what the 'param' pattern writes: MNN's output takes another shape,
    OpenCV has no Bias, ncnn cannot load one (and runs one sample at a time: its target refuses this form)."""
    shape = tuple(ctx.shape(x))
    size = int(np.prod(shape))
    flat, combined = ctx.unique(f"{name}_whole"), ctx.unique(f"{name}_combined")
    ctx.layer(flat, "Reshape", [x], [flat]).reshape_param.shape.dim.extend([1, size, 1, 1])
    ctx.set_shape(flat, (1, size, 1, 1))
    full = np.broadcast_to(np.asarray(value, np.float32).reshape((1,) * (len(shape) - value.ndim) + value.shape), shape)
    combine_with_constant(ctx, combined, kind, flat, full.reshape(1, size, 1, 1), combined)
    ctx.set_shape(combined, (1, size, 1, 1))
    ctx.layer(name, "Reshape", [combined], [out]).reshape_param.shape.dim.extend(shape)


@register("broadcast_like", caffe="Deconvolution (all-ones) (+ Reshape) or Concat (batch)")
def convert_broadcast_like(node: Node, ctx: EmitContext) -> None:
    """broadcast_like (lhs_axes/rhs_axes) -> lhs repeated to the output's shape by all-ones Deconvolutions (exact).

    The output's shape is static, so the second input (read for its shape only) is not a bottom; its producer stays,
    as MXNet's graph has it (alpha_pose's SE gate: the gate broadcast like x, then multiplied by x)."""
    lhs, out = node.inputs[0], node.outputs[0]
    shape, out_shape = ctx.shape(lhs), ctx.shape(out)
    if len(shape) != len(out_shape) or any(s not in (1, o) for s, o in zip(shape, out_shape)):
        raise ConversionError(f"broadcasts {shape} to {out_shape}", node.name, node.op, "lhs_axes")
    if shape == out_shape:
        ctx.alias(out, lhs)
        return
    expand_axes(ctx, node.name, lhs, out_shape, top=out, name=node.name)


@register("ones_like", "zeros_like", caffe="Power")
def convert_fill_like(node: Node, ctx: EmitContext) -> None:
    """ones_like / zeros_like -> an affine Power 0 * x + 1 / 0 * x (Caffe writes the constant).

    An affine map (exponent 1, scale 0), not a Power of exponent 0: the targets that write no Power (`any`) turn it
    into a Scale, which every consumer computes (TPU-MLIR has no kernel for an exponent other than 1).
    """
    layer = ctx.layer(node.name, "Power", [node.inputs[0]], [node.outputs[0]])
    layer.power_param.scale = 0.0
    if node.op == "ones_like":
        layer.power_param.shift = 1.0
