"""Spatial resampling: UpSampling, _contrib_BilinearResize2D, _contrib_AdaptiveAvgPooling2D
(src/operator/nn/upsampling.cc, src/operator/contrib/bilinear_resize-inl.h, adaptive_avg_pooling.cc)."""

from __future__ import annotations

from .registry import OpShapes, Shape, shape_rule


@shape_rule("UpSampling")
def upsampling(s: OpShapes) -> list[Shape]:
    """H and W times `scale`. nearest: every input scaled to the first one's output size (channels concatenated,
    or summed with multi_input_mode 'sum'); bilinear: one input and a (C, 1, k, k) weight, k = 2 scale - scale % 2."""
    a = s.attrs
    scale = a.int("scale")
    kind = a.str("sample_type", choices=("nearest", "bilinear"))
    x = s.data(0)
    args = a.int("num_args")
    if args != s.count:
        raise s.fail(f"is {args} but the node has {s.count} input(s)", "num_args")
    if scale <= 0:
        raise s.fail(f"is {scale}; must be positive", "scale")
    if len(x) != 4:
        raise s.fail(f"needs a 4-D input, got shape {x}")
    oh, ow = x[2] * scale, x[3] * scale
    if kind == "bilinear":
        k = 2 * scale - scale % 2
        s.param(1, (x[1], 1, k, k), "the weight")
        return [(x[0], x[1], oh, ow)]
    mode = a.str("multi_input_mode", "concat", choices=("concat", "sum"))
    channels = 0
    for i in range(s.count):
        shape = s.data(i)
        if len(shape) != 4 or shape[0] != x[0] or oh % shape[2] or ow % shape[3]:
            raise s.fail(f"input {i} of shape {shape} does not scale to ({oh}, {ow})")
        if mode == "sum" and shape[1] != x[1]:
            raise s.fail(f"summed inputs need equal channels, got {shape[1]} and {x[1]}", "multi_input_mode")
        channels += shape[1]
    return [(x[0], channels if mode == "concat" else x[1], oh, ow)]


INT16 = 1 << 16


def _int16(value: int) -> int:
    """MXNet stores the resized height/width as int16_t."""
    value %= INT16
    return value - INT16 if value >= INT16 // 2 else value


@shape_rule("_contrib_BilinearResize2D")
def bilinear_resize(s: OpShapes) -> list[Shape]:
    """(N, C, new H, new W) by `mode`: 'size' (height/width, or the scales), 'odd_scale', 'like' (the second
    input's H, W), 'to_even_down/up', 'to_odd_down/up'."""
    a = s.attrs
    x = s.data(0)
    if len(x) != 4:
        raise s.fail(f"needs a 4-D input, got shape {x}")
    mode = a.str(
        "mode", "size", choices=("size", "odd_scale", "like", "to_even_down", "to_even_up", "to_odd_down", "to_odd_up")
    )
    h, w = x[2], x[3]
    sh, sw = a.float("scale_height", None), a.float("scale_width", None)
    if mode == "size":
        if sh is not None and sw is None:
            raise s.fail("scale_height without scale_width", "scale_width")
        oh = int(sh * h) if sh is not None else a.int("height", 1)
        ow = int(sw * w) if sh is not None else a.int("width", 1)
    elif mode == "odd_scale":
        if sh is None or sw is None:
            raise s.fail("mode 'odd_scale' needs scale_height and scale_width", "mode")
        oh = int(h * sh) if h % 2 == 0 else int((h - 1) * sh) + 1
        ow = int(w * sw) if w % 2 == 0 else int((w - 1) * sw) + 1
    elif mode == "like":
        like = s.data(1)
        if len(like) < 4:
            raise s.fail(f"mode 'like' needs a 4-D second input, got shape {like}", "mode")
        oh, ow = like[2], like[3]
    else:
        even, down = mode.startswith("to_even"), mode.endswith("down")
        fix = lambda d: d if (d % 2 == 0) == even else (d - 1 if down else d + 1)
        oh, ow = fix(h), fix(w)
    if mode != "like" and s.count != 1:
        raise s.fail(f"takes 1 input in mode {mode!r}, got {s.count}", "mode")
    oh, ow = _int16(oh), _int16(ow)
    if oh <= 0 or ow <= 0:
        raise s.fail(f"gives an output of {oh} x {ow}")
    return [(x[0], x[1], oh, ow)]


@shape_rule("_contrib_AdaptiveAvgPooling2D")
def adaptive_avg_pooling(s: OpShapes) -> list[Shape]:
    """(N, C, *output_size): one value is square, none is 1 x 1."""
    x = s.data(0)
    if len(x) != 4:
        raise s.fail(f"needs a 4-D input, got shape {x}")
    size = s.attrs.int_tuple("output_size", ())
    if not size:
        size = (1, 1)
    elif len(size) == 1:
        size = (size[0], size[0])
    elif len(size) != 2:
        raise s.fail(f"is {size}; one or two sizes", "output_size")
    if min(size) <= 0:
        raise s.fail(f"is {size}; must be positive", "output_size")
    return [(x[0], x[1], *size)]
