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


def caffe_pooled_size(size: int, kernel: int, pad: int, stride: int) -> int:
    """Caffe's output size: ceil, minus the last window when it would start in the bottom/right padding."""
    out = int(math.ceil((size + 2 * pad - kernel) / stride)) + 1
    if pad > 0 and (out - 1) * stride >= size + pad:
        out -= 1
    return out


@register("Pooling", caffe="Pooling (+ crop); 3-D: Reshape + 2-D Pooling passes")
def convert_pooling(node: Node, ctx: EmitContext) -> None:
    """Pooling max/avg -> Pooling, Caffe's extra ceil window cropped; padding excluded from averages is rescaled.

    An extra trailing window (Caffe's ceil) is cropped off (shape.emit_crop); count_include_pad=False is a constant
    per-position factor (_rescale_positions). 1-D pooling on (N, C, W) is the 2-D one on (N, C, 1, W) with a 1xK
    window, between two Reshapes; 3-D pooling is two 2-D passes (_pooling_3d)."""
    a = node.attrs
    x, out = node.inputs[0], node.outputs[0]
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
    kh, kw = spatial_2d(node, "kernel", a.int_tuple("kernel"), 1)
    sh, sw = spatial_2d(node, "stride", a.int_tuple("stride", ()), 1)
    ph, pw = spatial_2d(node, "pad", a.int_tuple("pad", ()), 0)
    if ph >= kh or pw >= kw:
        raise ConversionError(
            f"pad {(ph, pw)} >= kernel {(kh, kw)}; Caffe requires pad < kernel", node.name, node.op, "pad"
        )
    exclude_pad = pool_type == "avg" and bool(ph or pw) and a.bool("count_include_pad", True) is False

    _, _, height, width = ctx.shape(x)
    want = ctx.shape(out)[2:]
    got = (caffe_pooled_size(height, kh, ph, sh), caffe_pooled_size(width, kw, pw, sw))
    for axis, (g, w) in enumerate(zip(got, want)):
        if g < w:
            raise ConversionError(
                f"MXNet produces {w} windows along axis {axis + 2} but Caffe only {g} (a window that starts in the "
                "padding); no exact Caffe pooling exists for this geometry",
                node.name,
                node.op,
                "pooling_convention",
            )

    pool_pad = (ph, pw)
    if pool_type == "avg" and (ph or pw) and ctx.options.patterns.average_pad == "convolution":
        x, got = _pad_explicitly(node, ctx, x, (kh, kw), (sh, sw), (ph, pw))
        pool_pad = (0, 0)
    if got != tuple(want) and ctx.options.patterns.crop == "convolution":
        x, got = _crop_unread_input(node, ctx, x, (kh, kw), (sh, sw), pool_pad, got, tuple(want))

    # With count_include_pad=False a Scale fixes the divisor, so the pooling writes an intermediate blob.
    final = ctx.unique(f"{node.name}_counted") if exclude_pad else out
    pooled = final if got == tuple(want) else ctx.unique(f"{node.name}_caffe")
    # The layer that writes the node's output carries its name; the Pooling does when nothing follows it.
    layer = ctx.layer(node.name if pooled == out else ctx.unique(f"{node.name}_pooling"), "Pooling", [x], [pooled])
    p = layer.pooling_param
    p.pool = getattr(p, _POOL[pool_type])
    set_window(p, (kh, kw), (sh, sw), pool_pad)
    if pooled != final:
        _drop_trailing(node, ctx, pooled, final, got, tuple(want))
    if exclude_pad:
        factors = np.outer(_divisor_ratio(height, kh, sh, ph, want[0]), _divisor_ratio(width, kw, sw, pw, want[1]))
        _rescale_positions(node, ctx, final, factors.astype(np.float32), out)


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
    convert_pooling(Node(out, node.op, attrs, [x], [out]), ctx)
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


def _rescale_positions(node: Node, ctx: EmitContext, pooled: str, factors: np.ndarray, out: str) -> None:
    """out = pooled x factors[h, w] for every channel. A Scale with an (H, W) blob would be one layer, but OpenCV,
    MNN and ncnn apply a Scale blob per channel only; so the factors are a constant (B, 1, H, W) blob, repeated over
    the channels by an all-ones 1x1 Convolution (1 x value, exact), then an Eltwise PROD."""
    n, c = ctx.shape(node.inputs[0])[:2]
    constant = ctx.unique(f"{node.name}_divisors")
    # From the pooling's own input (4-D, this batch), not the net's first input (which may be of any rank).
    emit_constant_blob(ctx, constant, factors, node.inputs[0], (1, *factors.shape))
    expanded = ctx.unique(f"{node.name}_divisors_expanded")
    layer = ctx.layer(expanded, "Convolution", [constant], [expanded], [np.ones((c, 1, 1, 1), np.float32)])
    layer.convolution_param.num_output, layer.convolution_param.bias_term = c, False
    set_window(layer.convolution_param, (1, 1))
    ctx.layer(node.name, "Eltwise", [pooled, expanded], [out]).eltwise_param.operation = pb.EltwiseParameter.PROD


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


def _pad_explicitly(node: Node, ctx: EmitContext, x: str, kernel, stride, pad) -> tuple[str, tuple]:
    """The average pooling's zero padding as its own layer (pad_separately), so the Pooling has none: its windows and
    divisors are Caffe's own (clipped at H + 2p of the padded blob, H + p of the original), in every runtime. Returns
    the padded blob and Caffe's pad-free output size over it."""
    padded = pad_separately(ctx, node.name, x, tuple(pad))
    size = ctx.shape(padded)[2:]
    return padded, tuple(caffe_pooled_size(size[i], kernel[i], 0, stride[i]) for i in (0, 1))


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
    return cropped, tuple(caffe_pooled_size(size[i], kernel[i], pad[i], stride[i]) for i in (0, 1))


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
