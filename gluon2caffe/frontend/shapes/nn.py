"""Layers with weights or windows: Convolution, Deconvolution, Pooling, FullyConnected, BatchNorm, LeakyReLU, the
normalizations and softmax (src/operator/nn/*.cc shape functions). Parameter shapes follow the attributes and the
data: a parameter read from a file is checked against them, an unknown one (deferred initialization) gets them."""

from __future__ import annotations

import math

from .registry import OpShapes, Shape, shape_rule

LAYOUTS = {1: "NCW", 2: "NCHW", 3: "NCDHW"}


def _window(s: OpShapes, key: str, dims: int, default: int) -> tuple[int, ...]:
    """stride / dilate / pad: one value per kernel axis, or the default for each when absent or empty."""
    value = s.attrs.int_tuple(key, ())
    if not value:
        return (default,) * dims
    if len(value) != dims:
        raise s.fail(f"is {value}: {len(value)} value(s) for a {dims}-D kernel", key)
    return tuple(value)


def _kernel_geometry(s: OpShapes, x: Shape) -> tuple[tuple[int, ...], ...]:
    """(kernel, stride, dilate, pad) of a Convolution/Deconvolution on `x`, checked like MXNet does."""
    kernel = s.attrs.int_tuple("kernel")
    if not 1 <= len(kernel) <= 3:
        raise s.fail(f"is {kernel}; 1-D, 2-D or 3-D kernels only", "kernel")
    if len(x) != len(kernel) + 2:
        raise s.fail(f"a {len(kernel)}-D kernel needs a {len(kernel) + 2}-D input, got shape {x}", "kernel")
    layout = s.attrs.str("layout", "None")
    if layout not in ("None", LAYOUTS[len(kernel)]):
        raise s.fail(f"is {layout!r}; only {LAYOUTS[len(kernel)]} is supported", "layout")
    stride, dilate, pad = (_window(s, k, len(kernel), d) for k, d in (("stride", 1), ("dilate", 1), ("pad", 0)))
    if min(kernel) <= 0 or min(stride) <= 0 or min(dilate) <= 0:
        raise s.fail(f"kernel {kernel}, stride {stride} and dilate {dilate} must be positive", "kernel")
    return kernel, stride, dilate, pad


def _groups(s: OpShapes, channels: int) -> tuple[int, int]:
    num_filter, group = s.attrs.int("num_filter"), s.attrs.int("num_group", 1)
    if num_filter <= 0 or group <= 0:
        raise s.fail(f"num_filter {num_filter} and num_group {group} must be positive", "num_filter")
    if channels % group or num_filter % group:
        raise s.fail(
            f"num_group {group} must divide the {channels} input and {num_filter} output channels", "num_group"
        )
    return num_filter, group


@shape_rule("Convolution")
def convolution(s: OpShapes) -> list[Shape]:
    """out = (in + 2 pad - dilate (kernel - 1) - 1) // stride + 1; weight (num_filter, C / group, *kernel)."""
    x = s.data(0)
    kernel, stride, dilate, pad = _kernel_geometry(s, x)
    num_filter, group = _groups(s, x[1])
    s.param(1, (num_filter, x[1] // group, *kernel), "the weight")
    if not s.attrs.bool("no_bias", False):
        s.param(2, (num_filter,), "the bias")
    spatial = []
    for size, k, st, d, p in zip(x[2:], kernel, stride, dilate, pad):
        extent = d * (k - 1) + 1
        if extent > size + 2 * p:
            raise s.fail(f"the kernel ({extent} with dilation) exceeds the input {size} padded by {p}", "kernel")
        spatial.append((size + 2 * p - extent) // st + 1)
    return [(x[0], num_filter, *spatial)]


@shape_rule("Deconvolution")
def deconvolution(s: OpShapes) -> list[Shape]:
    """out = stride (in - 1) + dilate (kernel - 1) + 1 - 2 pad + adj, or target_shape (pad and adj derived);
    weight (C, num_filter / group, *kernel)."""
    x = s.data(0)
    kernel, stride, dilate, pad = _kernel_geometry(s, x)
    num_filter, group = _groups(s, x[1])
    adj = _window(s, "adj", len(kernel), 0)
    if len(kernel) == 3 and any(d != 1 for d in dilate):
        raise s.fail(f"is {dilate}; MXNet has no dilated 3-D deconvolution", "dilate")
    target = s.attrs.int_tuple("target_shape", ())
    s.param(1, (x[1], num_filter // group, *kernel), "the weight")
    if not s.attrs.bool("no_bias", True):
        s.param(2, (num_filter,), "the bias")
    if target and any(target):
        if len(target) != len(kernel):
            raise s.fail(f"is {target}: {len(target)} value(s) for a {len(kernel)}-D kernel", "target_shape")
        spatial = []
        for size, k, st, d, t in zip(x[2:], kernel, stride, dilate, target):
            full = st * (size - 1) + d * (k - 1) + 1
            if full < t:
                raise s.fail(f"is {target}: larger than the {full} the deconvolution gives", "target_shape")
            if st - 1 < (full - t) % 2:
                raise s.fail(f"is {target}: needs an adj smaller than the stride {st}", "target_shape")
            spatial.append(t)
        return [(x[0], num_filter, *spatial)]
    spatial = []
    for size, k, st, d, p, a in zip(x[2:], kernel, stride, dilate, pad, adj):
        if a > st - 1:
            raise s.fail(f"is {adj}; adj must be smaller than the stride {stride}", "adj")
        out = st * (size - 1) + d * (k - 1) + 1 - 2 * p + a
        if out <= 0:
            raise s.fail(f"gives an output size {out} (pad {p} is too large)", "pad")
        spatial.append(out)
    return [(x[0], num_filter, *spatial)]


POOLING_CONVENTIONS = ("valid", "full", "same")


@shape_rule("Pooling")
def pooling(s: OpShapes) -> list[Shape]:
    """valid: 1 + (in + 2 pad - kernel) // stride; full: 1 + ceil(...); global: 1."""
    x = s.data(0)
    a = s.attrs
    convention = a.str("pooling_convention", "valid", choices=POOLING_CONVENTIONS)
    if a.str("pool_type", "max") == "lp" and a.int("p_value", None) is None:
        raise s.fail("pool_type 'lp' needs p_value (MXNet checks it)", "p_value")
    if not 3 <= len(x) <= 5:
        raise s.fail(f"needs a 3-D, 4-D or 5-D input, got shape {x}")
    kernel = a.int_tuple("kernel", ())
    layout = a.str("layout", "None")
    if layout not in ("None", LAYOUTS[len(x) - 2]):
        raise s.fail(f"is {layout!r}; only {LAYOUTS[len(x) - 2]} is supported", "layout")
    if a.bool("global_pool", False):
        if len(kernel) not in (0, 3) and len(kernel) != len(x) - 2:
            pass  # MXNet ignores the kernel of a global pooling
        return [(x[0], x[1]) + (1,) * (len(x) - 2)]
    if not 1 <= len(kernel) <= 3:
        raise s.fail(f"is {kernel}; a 1-D, 2-D or 3-D window (or global_pool) is needed", "kernel")
    if len(x) != len(kernel) + 2:
        raise s.fail(f"a {len(kernel)}-D window needs a {len(kernel) + 2}-D input, got shape {x}", "kernel")
    stride, pad = _window(s, "stride", len(kernel), 1), _window(s, "pad", len(kernel), 0)
    if min(kernel) <= 0 or min(stride) <= 0:
        raise s.fail(f"kernel {kernel} and stride {stride} must be positive", "kernel")
    if convention == "same":  # MXNet 1.9's check for it reads pad[1] of a 1-D pad: it fails whatever the shapes
        raise s.fail("'same' is refused by MXNet 1.9's shape inference", "pooling_convention")
    spatial = []
    for size, k, st, p in zip(x[2:], kernel, stride, pad):
        if k > size + 2 * p:
            raise s.fail(f"the window {k} exceeds the input {size} padded by {p}", "kernel")
        if convention == "valid":
            spatial.append(1 + (size + 2 * p - k) // st)
        else:
            spatial.append(1 + math.ceil((size + 2 * p - k) / st))
    return [(x[0], x[1], *spatial)]


@shape_rule("FullyConnected")
def fully_connected(s: OpShapes) -> list[Shape]:
    """flatten: (N, num_hidden) from all of x's axes but the first; else x's last axis becomes num_hidden."""
    x = s.data(0)
    hidden = s.positive_int("num_hidden")
    if s.attrs.bool("flatten", True):
        inputs = math.prod(x[1:])
        out = (x[0], hidden)
    else:
        inputs = x[-1]
        out = tuple(x[:-1]) + (hidden,)
    s.param(1, (hidden, inputs), "the weight")
    if not s.attrs.bool("no_bias", False):
        s.param(2, (hidden,), "the bias")
    return [out]


@shape_rule("BatchNorm")
def batchnorm(s: OpShapes) -> list[Shape]:
    """y has x's shape; gamma, beta, moving mean and var (and the hidden mean/var outputs) are (C,) on `axis`."""
    x = s.data(0)
    axis = s.axis("axis", s.attrs.int("axis", 1), len(x))
    channels = (x[axis],)
    for index, what in enumerate(("gamma", "beta", "the moving mean", "the moving variance"), start=1):
        s.param(index, channels, what)
    return [x, channels, channels]


@shape_rule("LeakyReLU")
def leaky_relu(s: OpShapes) -> list[Shape]:
    """y has x's shape; PReLU's gamma (given: any shape; unknown: one per channel of axis 1)."""
    x = s.data(0)
    if s.attrs.str("act_type", "leaky") == "prelu" and s.count > 1 and s.shapes[1] is None:
        if len(x) < 2:  # MXNet reads x's axis 1 for an unknown gamma
            raise s.fail(f"an unknown gamma is one per channel of axis 1; the input has shape {x}")
        s.param(1, (x[1],), "gamma")
    return [x, x]


@shape_rule("softmax", "softmin", "log_softmax", "SoftmaxActivation")
def softmax(s: OpShapes) -> list[Shape]:
    """y has x's shape (MXNet's inference does not check the axis; the converter does)."""
    return [s.data(0)]


@shape_rule("L2Normalization")
def l2_normalization(s: OpShapes) -> list[Shape]:
    """y has x's shape; the hidden norm is (N,) per instance, (N, spatial...) per channel, (N, C) spatially."""
    x = s.data(0)
    mode = s.attrs.str("mode", "instance", choices=("instance", "channel", "spatial"))
    if mode == "instance":
        norm = (x[0],)
    elif mode == "channel":
        if len(x) < 3:
            raise s.fail(f"mode 'channel' needs at least a 3-D input, got shape {x}", "mode")
        norm = (x[0], *x[2:])
    else:
        if len(x) < 3:
            raise s.fail(f"mode 'spatial' needs at least a 3-D input, got shape {x}", "mode")
        norm = (x[0], x[1])
    return [x, norm]


@shape_rule("LRN")
def lrn(s: OpShapes) -> list[Shape]:
    """y (and the hidden normalizer) have x's shape (MXNet checks nothing else at shape inference)."""
    x = s.data(0)
    return [x, x]


@shape_rule("GroupNorm")
def group_norm(s: OpShapes) -> list[Shape]:
    """y has x's shape (at least 3-D, channels a multiple of num_groups); gamma and beta are per group (G,); the
    hidden mean and std are (N, G) (group_norm.cc, GroupNormShape)."""
    x = s.data(0)
    groups = s.attrs.int("num_groups", 1)
    if len(x) < 3:
        raise s.fail(f"needs at least a 3-D input, got shape {x}")
    if groups < 1 or x[1] % groups:
        raise s.fail(f"is {groups}; the {x[1]} channels must divide into that many groups", "num_groups")
    s.param(1, (groups,), "gamma")
    s.param(2, (groups,), "beta")
    return [x, (x[0], groups), (x[0], groups)]


@shape_rule("InstanceNorm", "LayerNorm")
def norm_layers(s: OpShapes) -> list[Shape]:
    """y has x's shape; gamma and beta are per channel (InstanceNorm: axis 1; LayerNorm: `axis`)."""
    x = s.data(0)
    if s.node.op == "InstanceNorm":
        if len(x) < 2:
            raise s.fail(f"needs a channel axis, got shape {x}")
        channels = (x[1],)
    else:
        channels = (x[s.axis("axis", s.attrs.int("axis", -1), len(x))],)
    s.param(1, channels, "gamma")
    s.param(2, channels, "beta")
    return [x]
