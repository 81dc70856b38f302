"""Deconvolution (transposed convolution).

MXNet's output along a spatial axis (src/operator/nn/deconvolution.cc) is s * (in - 1) + dk - 2 * pad + adj, with
dk = d * (k - 1) + 1; with a non-zero `target_shape` MXNet ignores `pad`/`adj` and recomputes them per axis:
total = s * (in - 1) + dk - target, adj = total % 2, pad = ceil(total / 2). Both read the full (unpadded) transposed
convolution F (length s * (in - 1) + dk) from row `pad` on, rows past F being zeros (plus the bias).

Caffe's Deconvolution with pad q gives F[q : len(F) - q]. So:
- adj <= pad: Caffe pad q = pad - adj gives F[pad - adj : len(F) - pad + adj], MXNet's rows plus `adj` leading ones;
- adj > pad: Caffe pad 0 gives F, then an identity depthwise 1x1 Convolution with pad adj - pad (zeros on both
  sides; it carries the bias, so the zero rows get it as in MXNet) gives F extended by adj - pad rows each side.
Either way dropping the first `adj` rows leaves MXNet's output exactly (a crop: pure copies).
"""

from __future__ import annotations

import numpy as np

from ..errors import ConversionError
from ..ir.graph import Node
from ._common import as_2d_input, equal_dilations, from_2d_output, set_window, set_window_nd, spatial_nd
from .context import EmitContext
from .registry import register
from .shape import emit_crop

_LAYOUTS = {1: "NCW", 2: "NCHW", 3: "NCDHW"}


def mxnet_pad_adj(node: Node, in_size: tuple[int, ...]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The (pad, adj) per spatial axis MXNet's Deconvolution uses for an input of spatial size `in_size`."""
    a = node.attrs
    ndim = len(in_size)
    kernel = spatial_nd(node, "kernel", a.int_tuple("kernel"), 1, ndim)
    stride = spatial_nd(node, "stride", a.int_tuple("stride", ()), 1, ndim)
    dilate = spatial_nd(node, "dilate", a.int_tuple("dilate", ()), 1, ndim)
    target = a.int_tuple("target_shape", ())
    if any(target):
        if len(target) != ndim or not all(target):
            raise ConversionError(
                f"is {target}; give a non-zero size for each of the {ndim} spatial axes",
                node.name,
                node.op,
                "target_shape",
            )
        totals = [s * (i - 1) + d * (k - 1) + 1 - t for s, i, d, k, t in zip(stride, in_size, dilate, kernel, target)]
        pad = tuple((t + 1) // 2 for t in totals)
        given = spatial_nd(node, "pad", a.int_tuple("pad", ()), 0, ndim)
        if any(given) and given != pad:
            # MXNet's own kernels disagree here: its reference (and GPU) kernel reads the full output from the pad
            # target_shape implies, its CPU oneDNN kernel (the pip build's default) from the given `pad` (without
            # one, oneDNN refuses a target_shape that implies a pad, and the reference kernel is MXNet's answer).
            raise ConversionError(
                f"is {target} with pad {given}, but it implies pad {pad}: MXNet's CPU (oneDNN) and reference kernels "
                "compute different outputs for it; give pad equal to the implied one (or a target_shape that agrees)",
                node.name,
                node.op,
                "target_shape",
            )
        if any(pad) and not any(given):
            # No pad given: MXNet's CPU (oneDNN) kernel refuses most of these and computes some from pad 0, its
            # reference kernel reads from the implied pad: no single answer is MXNet's.
            raise ConversionError(
                f"is {target} without a pad, but it implies pad {pad}: MXNet's CPU (oneDNN) and reference kernels "
                f"compute different outputs for it; give pad={pad} explicitly (or a target_shape that implies pad 0)",
                node.name,
                node.op,
                "target_shape",
            )
        return pad, tuple(t % 2 for t in totals)
    pad = a.int_tuple("pad", ())
    adj = a.int_tuple("adj", ())
    return (
        tuple(pad[i] if i < len(pad) else 0 for i in range(ndim)),
        tuple(adj[i] if i < len(adj) else 0 for i in range(ndim)),
    )


@register("Deconvolution", caffe="Deconvolution (+ identity Convolution pad) (+ crop); 1-D via Reshape")
def convert_deconvolution(node: Node, ctx: EmitContext) -> None:
    """Deconvolution -> Deconvolution (same weight layout), `adj`/`target_shape` as a pad change and a crop (exact).

    1-D deconvolution on (N, C, W) is the 2-D one on (N, C, 1, W) with a 1xK kernel, between two Reshapes; 3-D is
    Caffe's N-D Deconvolution (Caffe itself only)."""
    a = node.attrs
    x, out = node.inputs[0], node.outputs[0]
    in_shape, out_shape = ctx.shape(x), ctx.shape(out)
    ndim = len(in_shape) - 2
    if ndim not in _LAYOUTS or a.str("layout", "None") not in ("None", _LAYOUTS[ndim]):
        raise ConversionError(
            f"is {a.str('layout', 'None')!r} on a {len(in_shape)}-D input; only NCW, NCHW and NCDHW convert",
            node.name,
            node.op,
            "layout",
        )
    kernel = spatial_nd(node, "kernel", a.int_tuple("kernel"), 1, ndim)
    stride = spatial_nd(node, "stride", a.int_tuple("stride", ()), 1, ndim)
    dilate = spatial_nd(node, "dilate", a.int_tuple("dilate", ()), 1, ndim)
    pad, adj = mxnet_pad_adj(node, in_shape[2:])
    sizes = tuple(
        s * (i - 1) + d * (k - 1) + 1 - 2 * p + j
        for s, i, d, k, p, j in zip(stride, in_shape[2:], dilate, kernel, pad, adj)
    )
    if sizes != tuple(out_shape[2:]):
        raise ConversionError(
            f"MXNet's output is {out_shape[2:]}, but its shape rule gives {sizes} for pad {pad}, adj {adj}",
            node.name,
            node.op,
            "target_shape",
        )
    weight = ctx.param(node.inputs[1])
    bias = None if a.bool("no_bias", True) else ctx.param(node.inputs[2])  # MXNet's default: no bias
    if ndim == 1:  # the unit axis: everything 2-D with a leading 1 (0 for pad/adj)
        kernel, stride, dilate, pad, adj = (1, *kernel), (1, *stride), (1, *dilate), (0, *pad), (0, *adj)
        weight = weight.reshape(weight.shape[:2] + (1, weight.shape[2]))
        x = as_2d_input(node, ctx, x)
        out = ctx.unique(f"{node.name}_2d")
        n, c, w = out_shape
        ctx.set_shape(out, (n, c, 1, w))
    _emit(node, ctx, node.name if ndim > 1 else out, x, out, weight, bias, kernel, stride, dilate, pad, adj)
    if ndim == 1:
        from_2d_output(node, ctx, out)


def _emit(node: Node, ctx: EmitContext, name: str, x: str, out: str, weight, bias, kernel, stride, dilate, pad, adj):
    """The Caffe layers writing `out` (the last one called `name`): Deconvolution, identity pad, crop as needed."""
    a = node.attrs
    n, c_out = ctx.shape(out)[:2]
    in_size = ctx.shape(x)[2:]
    group = a.int("num_group", 1)
    caffe_pad = tuple(max(p - j, 0) for p, j in zip(pad, adj))
    extend = tuple(max(j - p, 0) for p, j in zip(pad, adj))
    full = tuple(s * (i - 1) + d * (k - 1) + 1 for s, i, d, k in zip(stride, in_size, dilate, kernel))
    deconv_size = tuple(f - 2 * q for f, q in zip(full, caffe_pad))
    cropped = any(adj)
    padded = any(extend)
    last = "crop" if cropped else ("pad" if padded else "deconv")
    deconv_top = out if last == "deconv" else ctx.unique(f"{node.name}_deconv")
    deconv_bias = bias if not padded else None
    if len(kernel) == 2 and dilate[0] != dilate[1] and ctx.options.patterns.unequal_dilation == "kernel":
        weight, kernel, dilate = equal_dilations(weight, kernel, dilate)
    if ctx.options.patterns.deconvolution == "plain":
        weight, kernel, dilate, caffe_pad = plain_deconvolution(weight, kernel, dilate, caffe_pad)
    layer = ctx.layer(
        name if last == "deconv" else deconv_top,
        "Deconvolution",
        [x],
        [deconv_top],
        [weight] if deconv_bias is None else [weight, deconv_bias],
    )
    p = layer.convolution_param
    p.num_output = a.int("num_filter")
    p.bias_term = deconv_bias is not None
    _window(p, kernel, stride, caffe_pad)
    if set(dilate) != {1}:
        p.dilation.extend(dilate if len(set(dilate)) > 1 else dilate[:1])
    if group != 1:
        p.group = group
    ctx.set_shape(deconv_top, (n, c_out) + deconv_size)
    current = deconv_top
    if padded:
        # Zero rows past the full output (MXNet's `adj` beyond its pad), and the bias on every row.
        top = out if last == "pad" else ctx.unique(f"{node.name}_extended")
        ones = np.ones((c_out, 1) + (1,) * len(kernel), np.float32)
        blobs = [ones] if bias is None else [ones, bias]
        layer = ctx.layer(name if last == "pad" else top, "Convolution", [current], [top], blobs)
        p = layer.convolution_param
        p.num_output, p.group, p.bias_term = c_out, c_out, bias is not None
        _window(p, (1,) * len(kernel), (1,) * len(kernel), extend)
        ctx.set_shape(top, (n, c_out) + tuple(size + 2 * e for size, e in zip(deconv_size, extend)))
        current = top
    if cropped:
        size = ctx.shape(out)[2:]
        cuts = [(axis + 2, j, j + size[axis]) for axis, j in enumerate(adj) if j]
        emit_crop(ctx, name, current, cuts, out)


def plain_deconvolution(weight: np.ndarray, kernel, dilation, pad):
    """The same Deconvolution without dilation and with each pad below its kernel size, for OpenCV (4.11), which
    sizes a dilated Deconvolution as if undilated and computes another output where a pad is not below the kernel:
    the taps spread d apart with zero weights between them (kernel d * (k - 1) + 1, dilation 1), then where the pad p
    is not below that kernel k, m = p - k + 1 zero taps on both ends and pad p + m (the full output grows by m on
    each side and the pad cuts it away again: the same rows). x * 0 adds nothing: exact for finite values. Returns
    (weight, kernel, dilation, pad)."""
    n = len(kernel)
    if set(dilation) != {1}:
        size = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
        spread = np.zeros(weight.shape[:-n] + size, weight.dtype)
        spread[(Ellipsis, *(slice(None, None, d) for d in dilation))] = weight
        weight, kernel, dilation = spread, size, (1,) * n
    grow = tuple(max(p - k + 1, 0) for k, p in zip(kernel, pad))
    if any(grow):
        weight = np.pad(weight, [(0, 0)] * (weight.ndim - n) + [(m, m) for m in grow])
        kernel = tuple(k + 2 * m for k, m in zip(kernel, grow))
        pad = tuple(p + m for p, m in zip(pad, grow))
    return weight, tuple(kernel), tuple(dilation), tuple(pad)


def _window(param, kernel, stride, pad) -> None:
    if len(kernel) == 2:
        set_window(param, tuple(kernel), tuple(stride), tuple(pad))
    else:
        set_window_nd(param, tuple(kernel), tuple(stride), tuple(pad))
