"""Ops that move or select elements: Reshape (codes 0, -1, -2, -3, -4, reverse), Flatten, expand_dims, squeeze,
transpose, SwapAxis, Concat, slice, slice_axis, slice_like, repeat, tile, Pad (src/operator/tensor/matrix_op-inl.h,
src/operator/nn/concat.cc, src/operator/pad.cc)."""

from __future__ import annotations

import math

from .registry import OpShapes, Shape, shape_rule


def reshape_target(s: OpShapes, x: Shape, codes: tuple[int, ...], reverse: bool) -> Shape:
    """MXNet's Reshape codes against `x`: 0 copies a dim, -1 is inferred, -2 copies the rest, -3 merges two dims,
    -4 splits one into the next two codes (one may be -1); `reverse` matches them from the right.

    As in MXNet 1.9 (InferReshapeShape), the -1 is filled in at its position among the codes, which is not its
    position in the result after a -2, -3 or -4: such a shape then has the wrong size and is refused here (MXNet's
    size check is compiled out; its forward would fail)."""
    dims, params = list(x), list(codes)
    if reverse:
        dims.reverse()
        params.reverse()
    out: list[int] = []
    src, inferred, i = 0, -1, 0
    while i < len(params):
        code = params[i]
        if code == 0:
            if src >= len(dims):
                raise s.fail(f"is {codes}: code 0 at position {i} copies past the input's {len(x)} dims", "shape")
            out.append(dims[src])
            src += 1
        elif code == -1:
            if inferred >= 0:
                raise s.fail(f"is {codes}: only one dim can be inferred (-1)", "shape")
            inferred = i
            out.append(1)
            src += 1
        elif code == -2:
            out.extend(dims[src:])
            src = len(dims)
        elif code == -3:
            if src + 1 >= len(dims):
                raise s.fail(f"is {codes}: -3 merges two dims past the input's {len(x)}", "shape")
            out.append(dims[src] * dims[src + 1])
            src += 2
        elif code == -4:
            if i + 2 >= len(params) or src >= len(dims):
                raise s.fail(f"is {codes}: -4 needs two sizes after it and a dim to split", "shape")
            d0, d1, d2 = dims[src], params[i + 1], params[i + 2]
            src, i = src + 1, i + 2
            if d1 == -1 and d2 == -1:
                raise s.fail(f"is {codes}: the split dims cannot both be -1", "shape")
            if d1 == -1:
                d1 = d0 // d2 if d2 else 0
            if d2 == -1:
                d2 = d0 // d1 if d1 else 0
            if d1 * d2 != d0:
                raise s.fail(f"is {codes}: split dims {d1}, {d2} do not divide the dim {d0}", "shape")
            out.extend((d1, d2))
        elif code > 0:
            out.append(code)
            src += 1
        else:
            raise s.fail(f"is {codes}: {code} is not a Reshape code", "shape")
        i += 1
    if inferred >= 0 and inferred < len(out):
        rest = math.prod(out)
        out[inferred] = math.prod(x) // rest if rest else 0
    if reverse:
        out.reverse()
    result = tuple(out)
    if math.prod(result) != math.prod(x) or not result or min(result) <= 0:
        raise s.fail(f"is {codes}: the input {x} cannot become {result}", "shape")
    return result


@shape_rule("Reshape", "reshape")
def reshape(s: OpShapes) -> list[Shape]:
    """`shape` with MXNet's special codes (see reshape_target)."""
    x = s.data(0)
    codes = s.attrs.int_tuple("shape", ())
    if not codes:
        return [legacy_reshape_target(s, x)]
    return [reshape_target(s, x, codes, s.attrs.bool("reverse", False))]


def legacy_reshape_target(s: OpShapes, x: Shape) -> Shape:
    """The deprecated `target_shape`: its one 0 inferred, the first axis x's with keep_highest (matrix_op-inl.h)."""
    target = list(s.attrs.int_tuple("target_shape", ()))
    if not target:
        raise s.fail("is missing or empty (and so is the deprecated target_shape)", "shape")
    start = 1 if s.attrs.bool("keep_highest", False) else 0
    if start:
        target[0] = x[0]
    zeros = [i for i in range(start, len(target)) if target[i] == 0]
    if len(zeros) == 1:
        target[zeros[0]] = 1
        target[zeros[0]] = math.prod(x) // math.prod(target)
    if any(d <= 0 for d in target) or math.prod(target) != math.prod(x):
        raise s.fail(f"is {tuple(target)}; it must hold the input's {math.prod(x)} values {x}", "target_shape")
    return tuple(target)


@shape_rule("Flatten", "flatten")
def flatten(s: OpShapes) -> list[Shape]:
    """(N, product of the other dims)."""
    x = s.data(0)
    return [(x[0], math.prod(x[1:]))]


@shape_rule("expand_dims")
def expand_dims(s: OpShapes) -> list[Shape]:
    """A dim of 1 inserted at `axis` (-ndim-1 .. ndim)."""
    x = s.data(0)
    axis = s.attrs.int("axis")
    if not -len(x) - 1 <= axis <= len(x):
        raise s.fail(f"is {axis}, out of range for a {len(x)}-D input", "axis")
    axis = axis % (len(x) + 1)
    return [tuple(x[:axis]) + (1,) + tuple(x[axis:])]


@shape_rule("squeeze")
def squeeze(s: OpShapes) -> list[Shape]:
    """The dims of size 1 (all, or those of `axis`, which must be 1) removed; (1,) if none is left."""
    x = s.data(0)
    axes = s.attrs.int_tuple("axis", None)
    if axes is None:
        drop = {i for i, d in enumerate(x) if d == 1}
    else:
        drop = {s.axis("axis", a, len(x)) for a in axes}
        if len(drop) != len(axes):
            raise s.fail(f"is {axes}: an axis appears twice", "axis")
        wrong = [i for i in sorted(drop) if x[i] != 1]
        if wrong:
            raise s.fail(f"is {axes}: axis {wrong[0]} has size {x[wrong[0]]}, not 1", "axis")
    kept = tuple(d for i, d in enumerate(x) if i not in drop)
    return [kept or (1,)]


@shape_rule("transpose")
def transpose(s: OpShapes) -> list[Shape]:
    """x's dims in the order of `axes` (a permutation; default: reversed)."""
    x = s.data(0)
    axes = s.attrs.int_tuple("axes", ())
    if not axes:
        return [tuple(reversed(x))]
    if len(axes) != len(x):
        raise s.fail(f"is {axes}, for a {len(x)}-D input", "axes")
    order = [s.axis("axes", a, len(x)) for a in axes]
    if sorted(order) != list(range(len(x))):
        raise s.fail(f"is {axes}, not a permutation of the {len(x)} axes", "axes")
    return [tuple(x[a] for a in order)]


@shape_rule("depth_to_space", "space_to_depth")
def depth_to_space(s: OpShapes) -> list[Shape]:
    """(N, C, H, W) -> (N, C / b^2, H b, W b) (depth_to_space) or (N, C b^2, H / b, W / b) (space_to_depth)."""
    x = s.data(0)
    if len(x) != 4:
        raise s.fail(f"needs a 4-D input, not {x}")
    b = s.positive_int("block_size")
    n, c, h, w = x
    if s.node.op == "depth_to_space":
        if c % (b * b):
            raise s.fail(f"is {b}: the {c} channels are not a multiple of {b * b}", "block_size")
        return [(n, c // (b * b), h * b, w * b)]
    if h % b or w % b:
        raise s.fail(f"is {b}: the {h} x {w} map is not a multiple of it", "block_size")
    return [(n, c * b * b, h // b, w // b)]


@shape_rule("SwapAxis", "swapaxes")
def swap_axis(s: OpShapes) -> list[Shape]:
    """x with dims dim1 and dim2 exchanged."""
    x = list(s.data(0))
    i = s.axis("dim1", s.attrs.int("dim1", 0), len(x))
    j = s.axis("dim2", s.attrs.int("dim2", 0), len(x))
    x[i], x[j] = x[j], x[i]
    return [tuple(x)]


@shape_rule("Concat", "concat")
def concat(s: OpShapes) -> list[Shape]:
    """The inputs joined on `dim` (default 1): every other dim equal."""
    shapes = [s.data(i) for i in range(s.count)]
    if not shapes:
        raise s.fail("has no inputs")
    first = shapes[0]
    dim = s.axis("dim", s.attrs.int("dim", 1), len(first))
    for shape in shapes[1:]:
        if len(shape) != len(first) or any(a != b for k, (a, b) in enumerate(zip(shape, first)) if k != dim):
            raise s.fail(f"inputs of shapes {[tuple(x) for x in shapes]} do not match outside dim {dim}", "dim")
    out = list(first)
    out[dim] = sum(shape[dim] for shape in shapes)
    return [tuple(out)]


def _optional_ints(s: OpShapes, key: str) -> tuple[int | None, ...]:
    """'(0, None, 2)' -> (0, None, 2): begin/end/step of slice hold ints or None."""
    text = s.attrs.str(key, "()")
    if not isinstance(text, str):
        return tuple(text)
    body = text.strip().lstrip("([").rstrip(")]")
    items = [item.strip() for item in body.split(",")]
    if items and items[-1] == "":
        items.pop()
    values: list[int | None] = []
    for item in items:
        if item.lower() == "none":
            values.append(None)
        else:
            try:
                values.append(int(float(item)) if float(item).is_integer() else int(item))
            except ValueError:
                raise s.fail(f"is {text!r}: {item!r} is not an integer or None", key) from None
    return tuple(values)


def slice_size(s: OpShapes, length: int, begin: int | None, end: int | None, step: int, axis: int) -> int:
    """Elements of range(begin, end, step) on an axis of `length`, MXNet's way (None: from the start / to the end;
    negative: from the end); an empty slice is an error."""
    if step == 0:
        raise s.fail(f"step on axis {axis} is 0", "step")
    if step > 0:
        b = 0 if begin is None else begin
        e = length if end is None else end
    else:
        b = length - 1 if begin is None else begin
        e = -1 if end is None else end
    if b < 0:
        b += length
    if e < 0 and end is not None:
        e += length
    if b < 0 and step > 0:
        b = 0
    if b > length - 1 and step < 0:
        b = length - 1
    if b < 0 or b > length - 1:
        b = -1
    e = max(e, -1)
    e = min(e, length)
    if e == b or b < 0:
        size = 0
    elif step > 0:
        size = (e - b - 1) // step + 1 if e > b else 0
    else:
        size = (b - e - 1) // (-step) + 1 if e < b else 0
    if size <= 0:
        raise s.fail(f"selects nothing on axis {axis} of size {length} (begin {begin}, end {end}, step {step})")
    return size


@shape_rule("slice", "crop")
def slice_(s: OpShapes) -> list[Shape]:
    """range(begin, end, step) on each of the first len(begin) axes; the other axes whole."""
    x = s.data(0)
    begin, end = _optional_ints(s, "begin"), _optional_ints(s, "end")
    step = _optional_ints(s, "step")
    if len(begin) != len(end) or (step and len(step) != len(begin)) or len(begin) > len(x):
        raise s.fail(f"begin {begin}, end {end} and step {step} do not fit a {len(x)}-D input", "begin")
    out = list(x)
    for i, (b, e) in enumerate(zip(begin, end)):
        st = step[i] if step and step[i] is not None else 1
        out[i] = slice_size(s, x[i], b, e, st, i)
    return [tuple(out)]


@shape_rule("slice_axis")
def slice_axis(s: OpShapes) -> list[Shape]:
    """begin..end (negative: from the end; end None: to the end) on one axis."""
    x = s.data(0)
    axis = s.axis("axis", s.attrs.int("axis"), len(x))
    size = x[axis]
    begin = s.attrs.int("begin")
    end_text = s.attrs.str("end", "None")
    end = size if end_text.strip().lower() in ("none", "") else s.attrs.int("end")
    begin = begin + size if begin < 0 else begin
    end = end + size if end < 0 else end
    if not 0 <= end <= size:
        raise s.fail(f"is {end_text}: out of range for axis {axis} of size {size}", "end")
    if not 0 <= begin < end:
        raise s.fail(f"begin {s.attrs.int('begin')} and end {end_text} select nothing on axis {axis} of size {size}")
    out = list(x)
    out[axis] = end - begin
    return [tuple(out)]


@shape_rule("slice_like")
def slice_like(s: OpShapes) -> list[Shape]:
    """x cut from 0 to the sizes of the second input, on `axes` (default: every axis; same rank)."""
    x, like = s.data(0), s.data(1)
    axes = s.attrs.int_tuple("axes", ())
    out = list(x)
    if not axes:
        if len(x) != len(like):
            raise s.fail(f"slices every axis of {x} like {like}: the ranks differ", "axes")
        chosen = range(len(x))
    else:
        chosen = []
        for a in axes:
            axis = a + len(x) if a < 0 else a
            if not 0 <= axis < len(x) or axis >= len(like):
                raise s.fail(f"is {axes}: axis {a} is out of range for {x} or {like}", "axes")
            chosen.append(axis)
    for axis in chosen:
        if like[axis] > x[axis]:
            raise s.fail(f"axis {axis}: size {like[axis]} exceeds the input's {x[axis]}", "axes")
        out[axis] = like[axis]
    return [tuple(out)]


@shape_rule("repeat")
def repeat(s: OpShapes) -> list[Shape]:
    """`axis` times `repeats`; no axis: the flattened input times `repeats`."""
    x = s.data(0)
    repeats = s.positive_int("repeats")
    axis = s.attrs.int("axis", None)
    if axis is None:
        return [(math.prod(x) * repeats,)]
    axis = s.axis("axis", axis, len(x))
    out = list(x)
    out[axis] *= repeats
    return [tuple(out)]


@shape_rule("tile")
def tile(s: OpShapes) -> list[Shape]:
    """x's dims times `reps`, both aligned at the end (the shorter padded with 1s in front)."""
    x = s.data(0)
    reps = s.attrs.int_tuple("reps")
    if not reps:
        return [x]
    if min(reps) <= 0:
        raise s.fail(f"is {reps}; must be positive", "reps")
    ndim = max(len(x), len(reps))
    px, pr = (1,) * (ndim - len(x)) + tuple(x), (1,) * (ndim - len(reps)) + tuple(reps)
    return [tuple(a * b for a, b in zip(px, pr))]


@shape_rule("Pad", "pad")
def pad(s: OpShapes) -> list[Shape]:
    """Each dim grows by its (before, after) of pad_width; 4-D or 5-D, nothing on N and C; reflect pads less than
    the dim."""
    x = s.data(0)
    mode = s.attrs.str("mode", "constant", choices=("constant", "edge", "reflect"))
    width = s.attrs.int_tuple("pad_width")
    if len(x) not in (4, 5):
        raise s.fail(f"needs a 4-D or 5-D input, got shape {x}")
    if len(width) != 2 * len(x):
        raise s.fail(f"is {width}: {len(width)} values for a {len(x)}-D input (2 per dim)", "pad_width")
    if any(width[:4]):
        raise s.fail(f"is {width}: N and C cannot be padded", "pad_width")
    if min(width) < 0:
        raise s.fail(f"is {width}: negative padding", "pad_width")
    if mode == "reflect" and (max(width[4:6]) >= x[2] or max(width[6:8]) >= x[3]):  # MXNet checks these two only
        raise s.fail(f"is {width}: reflect padding of H and W must be smaller than {x[2:4]}", "pad_width")
    out = [d + before + after for d, before, after in zip(x, width[::2], width[1::2])]
    return [tuple(out)]
