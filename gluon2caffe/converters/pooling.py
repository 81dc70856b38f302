"""Pooling."""

from __future__ import annotations

import math

import numpy as np

from ..caffe import caffe_pb2 as pb
from ..errors import ConversionError
from ..ir.attrs import Attrs
from ..ir.graph import Node
from ..ir.ops import separable_weights
from ._common import as_2d_input, from_2d_output, pad_separately, require_nchw, set_window, spatial_2d, spatial_nd
from .constants import emit_constant_blob
from .context import EmitContext
from .registry import register
from .shape import emit_crop


_POOL = {"max": "MAX", "avg": "AVE"}


def caffe_pooled_size(size: int, kernel: int, pad: int, stride: int, padded: bool | None = None) -> int:
    """Caffe's output size along one axis: ceil, minus the last window when it would start in the bottom/right padding
    or past the input. Caffe drops that window on every axis as soon as the layer has any padding (`padded`: pad_h
    or pad_w nonzero; default: this axis's pad), so an unpadded axis of a padded pooling loses it too."""
    out = int(math.ceil((size + 2 * pad - kernel) / stride)) + 1
    if (pad > 0 if padded is None else padded) and (out - 1) * stride >= size + pad:
        out -= 1
    return out


def caffe_pooled_sizes(size, kernel, pad, stride) -> tuple[int, int]:
    """Caffe's (H, W) output of a 2-D Pooling with these (h, w) sizes, kernel, pad and stride."""
    padded = any(pad)
    return tuple(caffe_pooled_size(size[i], kernel[i], pad[i], stride[i], padded) for i in (0, 1))


@register("Pooling", caffe="Pooling (+ crop); 3-D: Reshape + 2-D Pooling passes; sum/lp: + Eltwise, Power")
def convert_pooling(node: Node, ctx: EmitContext) -> None:
    """Pooling max/avg -> Pooling, Caffe's extra ceil window cropped; padding excluded from averages is rescaled.

    An extra trailing window (Caffe's ceil) is cropped off (shape.emit_crop); count_include_pad=False is a constant
    per-position factor (_per_position). A last 'full' window that reads no element (MXNet: 0 for avg, -FLT_MAX for
    max; Caffe: NaN, or no window) is pooled without and appended (_append_empty_windows). 1-D pooling on (N, C, W)
    is the 2-D one on (N, C, 1, W) with a 1xK window, between two Reshapes; 3-D pooling is two 2-D passes
    (_pooling_3d). pool_type sum and lp (p 1, 2) are the average times its divisor (pooling_lp.py)."""
    a = node.attrs
    x, out = node.inputs[0], node.outputs[0]
    if a.str("pool_type", "max") in ("sum", "lp"):
        from .pooling_lp import convert_sum_pooling

        convert_sum_pooling(node, ctx)
        return
    if len(ctx.shape(x)) == 3 and a.str("layout", "None") in ("None", "NCW"):
        _pooling_1d(node, ctx)
        return
    if len(ctx.shape(x)) == 5 and a.str("layout", "None") in ("None", "NCDHW"):
        _pooling_3d(node, ctx)
        return
    require_nchw(node)
    pool_type = a.str("pool_type", "max")
    if pool_type not in _POOL:
        raise ConversionError(f"is {pool_type!r}; only max and avg convert", node.name, node.op, "pool_type")
    if len(ctx.shape(x)) != 4:
        raise ConversionError(
            f"only 1-D (N, C, W) and 2-D (N, C, H, W) pooling converts to Caffe; the input is {ctx.shape(x)}",
            node.name,
            node.op,
            "kernel",
        )
    if a.bool("global_pool", False):
        layer = ctx.layer(node.name, "Pooling", [x], [out])
        layer.pooling_param.pool = getattr(layer.pooling_param, _POOL[pool_type])
        layer.pooling_param.global_pooling = True
        return

    convention = a.str("pooling_convention", "valid", choices=("valid", "full", "same"))
    if convention == "same":
        raise ConversionError("'same' has no Caffe equivalent", node.name, node.op, "pooling_convention")
    kernel = spatial_2d(node, "kernel", a.int_tuple("kernel"), 1)
    stride = spatial_2d(node, "stride", a.int_tuple("stride", ()), 1)
    pad = spatial_2d(node, "pad", a.int_tuple("pad", ()), 0)
    if pad[0] >= kernel[0] or pad[1] >= kernel[1]:
        raise ConversionError(f"pad {pad} >= kernel {kernel}; Caffe requires pad < kernel", node.name, node.op, "pad")
    n, c, height, width = ctx.shape(x)
    want = tuple(ctx.shape(out)[2:])
    empty = _empty_last_windows((height, width), stride, pad, want)
    if not any(empty):
        _pool_windows(node, ctx, pool_type, x, out, want, kernel, stride, pad)
        return
    read = (want[0] - empty[0], want[1] - empty[1])
    pooled = ctx.unique(f"{node.name}_read")
    ctx.set_shape(pooled, (n, c) + read)
    _pool_windows(node, ctx, pool_type, x, pooled, read, kernel, stride, pad, explicit_pad=True)
    _append_empty_windows(node, ctx, pooled, empty, _EMPTY_WINDOW[pool_type], out)


# What MXNet writes for a window that holds no input element (pool.h): an average sums nothing (0, whatever its
# divisor); a max keeps its start value, the lowest finite float32 (mshadow's MinValue, -FLT_MAX).
_EMPTY_WINDOW = {"avg": 0.0, "max": float(np.finfo(np.float32).min)}


def _empty_last_windows(size, stride, pad, want) -> tuple[int, int]:
    """Per spatial axis, 1 where MXNet's last window lies wholly past the input: only 'full' has one, when the stride
    exceeds the kernel or the window starts in the padding (start = (out - 1) * stride - pad >= size).

    No runtime computes MXNet's value there: Caffe's AVE divides 0 by 0 (NaN) and its MAX keeps -FLT_MAX, but a
    padded Caffe pooling drops that window (its out - 1 rule) where MNN and ncnn keep it, and OpenCV's MAX writes 0.
    So such a node pools only the windows that read something and appends the others' value."""
    return tuple(int((want[i] - 1) * stride[i] - pad[i] >= size[i]) for i in (0, 1))


def _pool_windows(
    node: Node, ctx: EmitContext, pool_type: str, x: str, out: str, want, kernel, stride, pad, explicit_pad=False
) -> None:
    """The Caffe Pooling (and its fixes) that writes MXNet's `want` windows of the 2-D node into `out`: Caffe's extra
    ceil window cropped, padding excluded from averages rescaled. `explicit_pad`: the padding is its own layer (as
    the average_pad 'convolution' pattern writes an average's), so the Pooling has none and no runtime's rule for a
    window that starts in the padding applies; every window of `want` then reads at least one element."""
    a = node.attrs
    (height, width), (kh, kw), (sh, sw), (ph, pw) = ctx.shape(x)[2:], kernel, stride, pad
    window = (kernel, pad, stride)
    exclude_pad = pool_type == "avg" and bool(ph or pw) and a.bool("count_include_pad", True) is False
    got = caffe_pooled_sizes((height, width), kernel, pad, stride)
    # Caffe drops a window that starts past the input of a padded pooling; MNN, ncnn and OpenVINO keep it (another
    # output size): such a pooling is written without padding too.
    drops = got != tuple(caffe_pooled_size(size, k, p, st, False) for size, k, p, st in zip((height, width), *window))
    pool_pad = (ph, pw)
    average_pad = pool_type == "avg" and ctx.options.patterns.average_pad == "convolution"
    if (ph or pw) and (explicit_pad or drops or average_pad):
        x, got = _pad_explicitly(node, ctx, x, (kh, kw), (sh, sw), (ph, pw), pool_type)
        pool_pad = (0, 0)
    for axis, (g, w) in enumerate(zip(got, want)):
        if g < w:  # pragma: no cover - Caffe drops only a window that reads nothing, which the caller appends
            raise ConversionError(
                f"MXNet produces {w} windows along axis {axis + 2} but Caffe only {g} (a window that starts in the "
                "padding); no exact Caffe pooling exists for this geometry",
                node.name,
                node.op,
                "pooling_convention",
            )
    if got != tuple(want) and ctx.options.patterns.crop == "convolution":
        x, got = _crop_unread_input(node, ctx, x, (kh, kw), (sh, sw), pool_pad, got, tuple(want))

    # With count_include_pad=False a Scale fixes the divisor, so the pooling writes an intermediate blob.
    final = ctx.unique(f"{node.name}_counted") if exclude_pad else out
    pooled = final if got == tuple(want) else ctx.unique(f"{node.name}_caffe")
    # The layer that writes the node's output carries its name; the Pooling does when nothing follows it.
    layer = ctx.layer(_layer_name(node, ctx, pooled, "pooling"), "Pooling", [x], [pooled])
    p = layer.pooling_param
    p.pool = getattr(p, _POOL[pool_type])
    set_window(p, (kh, kw), (sh, sw), pool_pad)
    if pooled != final:
        _drop_trailing(node, ctx, pooled, final, got, tuple(want))
    if exclude_pad:
        factors = np.outer(_divisor_ratio(height, kh, sh, ph, want[0]), _divisor_ratio(width, kw, sw, pw, want[1]))
        _per_position(node, ctx, final, factors.astype(np.float32), "divisors", pb.EltwiseParameter.PROD, out)


def _layer_name(node: Node, ctx: EmitContext, top: str, suffix: str) -> str:
    """The node's name for the layer that writes its output, a fresh one for a layer that writes an intermediate."""
    return node.name if top == node.outputs[0] else ctx.unique(f"{node.name}_{suffix}")


def _append_empty_windows(node: Node, ctx: EmitContext, pooled: str, empty, value: float, out: str) -> None:
    """`pooled` with one more row (column) where `empty` says so, holding `value`: MXNet's windows that read nothing.

    A depthwise Deconvolution with a one-hot kernel (1 at its first tap, 0 at the one more per grown axis) writes
    pooled x 1 + its neighbour x 0 (exact for finite values, which every window that reads an element has) and
    0 x pooled past the end; a nonzero `value` is then added there (a constant per-position blob, Eltwise SUM)."""
    n, c, h, w = ctx.shape(pooled)
    grown = (h + empty[0], w + empty[1])
    weights = np.zeros((c, 1, 1 + empty[0], 1 + empty[1]), np.float32)
    weights[:, 0, 0, 0] = 1.0
    padded = out if value == 0.0 else ctx.unique(f"{node.name}_grown")
    layer = ctx.layer(_layer_name(node, ctx, padded, "grown"), "Deconvolution", [pooled], [padded], [weights])
    p = layer.convolution_param
    p.num_output, p.group, p.bias_term = c, c, False
    set_window(p, (1 + empty[0], 1 + empty[1]))
    ctx.set_shape(padded, (n, c) + grown)
    if value != 0.0:
        values = np.zeros(grown, np.float32)
        values[h:, :] = value
        values[:, w:] = value
        _per_position(node, ctx, padded, values, "empty_windows", pb.EltwiseParameter.SUM, out)


def _pooling_1d(node: Node, ctx: EmitContext) -> None:
    """The node as a 2-D pooling with a unit height (kernel 1xK, stride 1xS, pad 0xP; the other attributes as
    they are) on the Reshaped input: every window, divisor and ceil/floor rule is the 1-D one along W."""
    attrs = Attrs(node.name, node.op, node.attrs.raw)
    attrs.typed = dict(node.attrs.typed)
    attrs.set("layout", "None")
    for key in ("kernel", "stride", "pad"):
        value = node.attrs.int_tuple(key, ())
        if len(value) > 1:
            raise ConversionError(f"is {value}; a 1-D pooling takes one value", node.name, node.op, key)
        if value:
            attrs.set(key, (1 if key != "pad" else 0, value[0]))
    x = as_2d_input(node, ctx, node.inputs[0])
    out = ctx.unique(f"{node.name}_2d")
    n, c, w = ctx.shape(node.outputs[0])
    ctx.set_shape(out, (n, c, 1, w))
    try:
        convert_pooling(Node(out, node.op, attrs, [x], [out]), ctx)
    except ConversionError as exc:  # name the 1-D node, not its 2-D form
        message = str(exc).split(": ", 1)[1] if exc.node else str(exc)
        raise ConversionError(message, node.name, node.op, exc.attr) from exc
    from_2d_output(node, ctx, out)


def _pooling_3d(node: Node, ctx: EmitContext) -> None:
    """3-D pooling on (N, C, T, H, W) as 2-D passes, since Caffe's Pooling takes 4-D blobs only (on a 5-D one it
    aborts the process): Reshape to (N, C*T, H, W) and pool (kh, kw); Reshape to (N, C, T, H'*W') and pool (kt, 1);
    Reshape to (N, C, T', H', W'). Exact because MXNet's 3-D window is a product of per-axis windows: a max over it
    is the max over T of the max over (H, W), and its average divisor (window clipped at size + pad, or the real
    elements with count_include_pad=False) is the product of the per-axis divisors each 2-D pass applies. Each pass
    is this converter's 2-D pooling (ceil windows cropped, divisors rescaled), on one pair of axes with the node's
    own attributes. Global pooling: Reshape to (N, C, T*H, W) and global pooling."""
    a = node.attrs
    x, out = node.inputs[0], node.outputs[0]
    pool_type = a.str("pool_type", "max")
    if pool_type not in _POOL:
        raise ConversionError(f"is {pool_type!r}; only max and avg convert", node.name, node.op, "pool_type")
    n, c, t, h, w = ctx.shape(x)
    _, _, ot, oh, ow = ctx.shape(out)
    if a.bool("global_pool", False):
        merged = _reshape(node, ctx, x, "input_4d", (n, c, t * h, w))
        _pass_2d(node, ctx, merged, (n, c, 1, 1), {"global_pool": True}, "global", last=True)
        return
    kernel = spatial_nd(node, "kernel", a.int_tuple("kernel"), 1, 3)
    stride = spatial_nd(node, "stride", a.int_tuple("stride", ()), 1, 3)
    pad = spatial_nd(node, "pad", a.int_tuple("pad", ()), 0, 3)
    if pool_type == "avg":
        _refuse_zero_divisor(node, (t, h, w), kernel, stride, pad, (ot, oh, ow), a.bool("count_include_pad", True))
    time_pass = (kernel[0], stride[0], pad[0]) != (1, 1, 0)
    current, (ch, cw) = x, (h, w)
    if (kernel[1:], stride[1:], pad[1:]) != ((1, 1), (1, 1), (0, 0)):
        frames = _reshape(node, ctx, x, "frames", (n, c * t, h, w))
        window = {"kernel": kernel[1:], "stride": stride[1:], "pad": pad[1:]}
        current = _pass_2d(node, ctx, frames, (n, c * t, oh, ow), window, "spatial", last=False)
        ch, cw = oh, ow
    if time_pass:
        series = _reshape(node, ctx, current, "series", (n, c, t, ch * cw))
        window = {"kernel": (kernel[0], 1), "stride": (stride[0], 1), "pad": (pad[0], 0)}
        current = _pass_2d(node, ctx, series, (n, c, ot, oh * ow), window, "time", last=False)
    ctx.layer(node.name, "Reshape", [current], [out]).reshape_param.shape.dim.extend([0, c, ot, oh, ow])


def _refuse_zero_divisor(node: Node, size, kernel, stride, pad, out, count_include_pad: bool) -> None:
    """MXNet's 3-D average (pool.h, pool_sum_3d) writes NaN for a window whose divisor is 0, where its 1-D and 2-D
    ones write 0: a last 'full' window that reads nothing and ends exactly at the input's edge (or, counting the
    padding, at the padding's). Only a last window can be empty, and every other window's divisor is positive."""
    for axis in range(3):
        start = (out[axis] - 1) * stride[axis] - pad[axis]
        end = min(start + kernel[axis], size[axis] + pad[axis])
        divisor = end - start if count_include_pad else min(end, size[axis]) - max(start, 0)
        if divisor == 0:
            raise ConversionError(
                f"MXNet's 3-D average writes NaN for its last window along axis {axis + 2}: the window holds no "
                "element and its divisor is 0 (1-D and 2-D pooling write 0 there); refused rather than converted to "
                "other numbers. Choose kernel, stride and pad whose last window reads the input, or "
                "pooling_convention='valid'",
                node.name,
                node.op,
                "pooling_convention",
            )


def _reshape(node: Node, ctx: EmitContext, x: str, suffix: str, shape: tuple[int, ...]) -> str:
    blob = ctx.unique(f"{node.name}_{suffix}")
    ctx.layer(blob, "Reshape", [x], [blob]).reshape_param.shape.dim.extend([0, *shape[1:]])
    ctx.set_shape(blob, shape)
    return blob


def _pass_2d(node: Node, ctx: EmitContext, x: str, out_shape: tuple, window: dict, axes: str, last: bool) -> str:
    """One 2-D pooling pass of a 3-D node on the 4-D blob `x`: the node's attributes with this pass's window."""
    attrs = Attrs(node.name, node.op, node.attrs.raw)
    attrs.typed = dict(node.attrs.typed)
    attrs.set("layout", "None")
    for key, value in window.items():
        attrs.set(key, value)
    out = ctx.unique(f"{node.name}_{axes}")
    ctx.set_shape(out, out_shape)
    try:
        convert_pooling(Node(out, node.op, attrs, [x], [out]), ctx)
    except ConversionError as exc:  # name the 3-D node, not its 2-D pass
        message = str(exc).split(": ", 1)[1] if exc.node else str(exc)
        raise ConversionError(f"in its {axes} pass: {message}", node.name, node.op, exc.attr) from exc
    if last:  # a global pass is the last pooling: only the Reshape back to 5-D follows
        _, c = out_shape[:2]
        ctx.layer(node.name, "Reshape", [out], [node.outputs[0]]).reshape_param.shape.dim.extend([0, c, 1, 1, 1])
        return node.outputs[0]
    return out


def _per_position(node: Node, ctx: EmitContext, blob: str, values: np.ndarray, tag: str, operation, out: str) -> None:
    """out = blob (op) values[h, w] for every channel (op: Eltwise PROD or SUM). A Scale or Bias with an (H, W) blob
    would be one layer, but OpenCV, MNN and ncnn apply those per channel only; so the values are a constant (B, 1,
    H, W) blob, repeated over the channels by an all-ones 1x1 Convolution (1 x value, exact), then an Eltwise."""
    n, c = ctx.shape(node.inputs[0])[:2]
    constant = ctx.unique(f"{node.name}_{tag}")
    # From the pooling's own input (4-D, this batch), not the net's first input (which may be of any rank); by its
    # maximum, finite even where a 3-D max's first pass wrote -FLT_MAX.
    emit_constant_blob(ctx, constant, values, node.inputs[0], (1, *values.shape), pb.PoolingParameter.MAX)
    expanded = ctx.unique(f"{node.name}_{tag}_expanded")
    layer = ctx.layer(expanded, "Convolution", [constant], [expanded], [np.ones((c, 1, 1, 1), np.float32)])
    layer.convolution_param.num_output, layer.convolution_param.bias_term = c, False
    set_window(layer.convolution_param, (1, 1))
    layer = ctx.layer(_layer_name(node, ctx, out, tag), "Eltwise", [blob, expanded], [out])
    layer.eltwise_param.operation = operation


def _divisor_ratio(size: int, kernel: int, stride: int, pad: int, count: int) -> np.ndarray:
    """Per output position along one axis: Caffe's divisor (window clipped to size + pad) / the number of real
    (non-padding) elements MXNet divides by with count_include_pad=False. Caffe's average times this is MXNet's."""
    ratios = []
    for i in range(count):
        start = i * stride - pad
        caffe = min(start + kernel, size + pad) - start
        real = min(start + kernel, size) - max(start, 0)
        ratios.append(caffe / real)
    return np.array(ratios, np.float64)


def _pad_explicitly(node: Node, ctx: EmitContext, x: str, kernel, stride, pad, pool_type: str) -> tuple[str, tuple]:
    """The pooling's padding as its own layers, so the Pooling has none: its windows and divisors are Caffe's own
    (clipped at H + 2p of the padded blob, H + p of the original), in every runtime. An average's padding is zeros
    (pad_separately: a depthwise 1x1 identity Convolution with that pad); a max's is -FLT_MAX, which no window's
    maximum takes unless it holds nothing else (MXNet's max ignores the padding): the zeros plus a constant -FLT_MAX
    there (Eltwise SUM). Returns the padded blob and Caffe's pad-free output size over it."""
    n, c, h, w = ctx.shape(x)
    padded = pad_separately(ctx, node.name, x, tuple(pad))
    size = ctx.shape(padded)[2:]
    if pool_type == "max":
        fill = np.full(size, _EMPTY_WINDOW["max"], np.float32)
        fill[pad[0] : pad[0] + h, pad[1] : pad[1] + w] = 0.0
        lowest = ctx.unique(f"{node.name}_padded_lowest")
        _per_position(node, ctx, padded, fill, "padding", pb.EltwiseParameter.SUM, lowest)
        ctx.set_shape(lowest, (n, c) + size)
        padded = lowest
    return padded, caffe_pooled_sizes(size, kernel, (0, 0), stride)


def _crop_unread_input(node: Node, ctx: EmitContext, x: str, kernel, stride, pad, got: tuple, want: tuple):
    """Along an axis without padding, Caffe's extra window may start past the input: an AVE over no element is 0/0,
    and a one-hot crop (1 x value + 0 x NaN) would spread that NaN. There, crop the input instead to the rows MXNet's
    windows read, (want - 1) * stride + kernel, over which Caffe's ceil gives MXNet's windows exactly. Returns the
    pooling's input and Caffe's output size after that."""
    cuts = [
        (axis + 2, 0, (want[axis] - 1) * stride[axis] + kernel[axis])
        for axis in (0, 1)
        if got[axis] != want[axis] and pad[axis] == 0
    ]
    if not cuts:
        return x, got
    cropped = ctx.unique(f"{node.name}_input")
    emit_crop(ctx, cropped, x, cuts, cropped)
    size = ctx.shape(cropped)[2:]
    return cropped, caffe_pooled_sizes(size, kernel, pad, stride)


def _drop_trailing(node: Node, ctx: EmitContext, src: str, out: str, got: tuple, want: tuple) -> None:
    """Caffe's windows start where MXNet's do, so dropping the extra trailing row/column is exact."""
    n, c = ctx.shape(node.inputs[0])[:2]
    ctx.set_shape(src, (n, c) + tuple(got))
    cuts = [(axis + 2, 0, want[axis]) for axis in (0, 1) if got[axis] != want[axis]]
    emit_crop(ctx, node.name if out == node.outputs[0] else ctx.unique(f"{node.name}_crop"), src, cuts, out)


@register("_contrib_AdaptiveAvgPooling2D", caffe="Pooling (global or AVE), else Permute + 1x1 Convolution")
def convert_adaptive_avg_pooling(node: Node, ctx: EmitContext) -> None:
    """AdaptiveAvgPooling2D -> global or AVE Pooling where sizes divide, else two separable 1x1 Convolutions.

    Output 1 -> global AVE; sizes that divide the input -> AVE with kernel = stride; others -> the same averages as
    two separable 1x1 Convolutions (exact weights measured from MXNet's own op)."""
    x, out = node.inputs[0], node.outputs[0]
    _, _, height, width = ctx.shape(x)
    _, _, oh, ow = ctx.shape(out)
    if (oh, ow) == (1, 1):
        layer = ctx.layer(node.name, "Pooling", [x], [out])
        layer.pooling_param.pool = layer.pooling_param.AVE
        layer.pooling_param.global_pooling = True
        return
    if height % oh == 0 and width % ow == 0:
        layer = ctx.layer(node.name, "Pooling", [x], [out])
        p = layer.pooling_param
        p.pool = p.AVE
        set_window(p, (height // oh, width // ow), (height // oh, width // ow))
        return
    from .resample import emit_separable

    emit_separable(node, ctx, *separable_weights(node))
