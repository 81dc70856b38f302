"""Ops that split, stack, repeat, reorder or pick elements, and the constants (src/operator/tensor/matrix_op-inl.h:
SplitOpShape, StackOpShape; broadcast_reduce_op.h: BroadcastAxesShape, BroadcastToShape; indexing_op.h:
TakeOpShape, EmbeddingOpShape; init_op.h: InitShape; dot-inl.h: DotShape)."""

from __future__ import annotations

import math

from .registry import OpShapes, Shape, shape_rule


@shape_rule("_split_v2")
def split_v2(s: OpShapes) -> list[Shape]:
    """Parts of `axis` starting at `indices` (the first at 0), or `sections` parts (the first size % sections one
    longer); each holds at least one element; squeeze_axis drops the axis (parts of 1)."""
    x = s.data(0)
    axis = s.axis("axis", s.attrs.int("axis", 1), len(x))
    size = x[axis]
    sections = s.attrs.int("sections", 0)
    if sections > 0:
        short, longer = divmod(size, sections)
        starts = [i * short + min(i, longer) for i in range(sections)]
    else:
        starts = list(s.attrs.int_tuple("indices", ()))
    if not starts:
        raise s.fail("has no indices and no sections", "indices")
    ends = starts[1:] + [size]
    if starts[0] != 0 or any(not b < e <= size for b, e in zip(starts, ends)):
        key = "sections" if sections > 0 else "indices"
        raise s.fail(f"splits axis {axis} of size {size} at {tuple(starts)}: parts must start at 0, be non-empty", key)
    outputs = []
    for b, e in zip(starts, ends):
        out = list(x)
        out[axis] = e - b
        if s.attrs.bool("squeeze_axis", False):
            if e - b != 1:
                raise s.fail(f"squeezes axis {axis} but a part has {e - b} elements", "squeeze_axis")
            del out[axis]
        outputs.append(tuple(out))
    return outputs


@shape_rule("stack")
def stack(s: OpShapes) -> list[Shape]:
    """num_args inputs of one shape joined along a new `axis` (-ndim-1 .. ndim)."""
    shapes = [s.data(i) for i in range(s.count)]
    if not shapes:
        raise s.fail("has no inputs")
    if s.attrs.int("num_args", len(shapes)) != len(shapes):
        raise s.fail(f"is {s.attrs.int('num_args')}, but the node has {len(shapes)} inputs", "num_args")
    x = shapes[0]
    if any(shape != x for shape in shapes[1:]):
        raise s.fail(f"inputs have different shapes {[tuple(shape) for shape in shapes]}")
    axis = s.axis("axis", s.attrs.int("axis", 0), len(x) + 1)
    return [tuple(x[:axis]) + (len(shapes),) + tuple(x[axis:])]


@shape_rule("reverse")
def reverse(s: OpShapes) -> list[Shape]:
    """x's shape, whatever `axis` says (MXNet's shape function reads no attribute; its forward, and the converter,
    refuse an axis outside [0, ndim))."""
    return [s.data(0)]


@shape_rule("broadcast_to")
def broadcast_to(s: OpShapes) -> list[Shape]:
    """`shape` (0: keep x's size) of x's rank; x's size there 1 or equal."""
    x = s.data(0)
    target = s.attrs.int_tuple("shape", ())
    if len(target) != len(x):
        raise s.fail(f"is {target}: x of shape {x} cannot be broadcast to it", "shape")
    out = []
    for d, t in zip(x, target):
        if t == 0:
            out.append(d)
        elif t < 0 or (d != t and d != 1):
            raise s.fail(f"is {target}: x of shape {x} cannot be broadcast to it", "shape")
        else:
            out.append(t)
    return [tuple(out)]


@shape_rule("broadcast_axis", "broadcast_axes")
def broadcast_axis(s: OpShapes) -> list[Shape]:
    """Each axis of `axis` (in [0, ndim), of size 1) becomes its `size`."""
    x = list(s.data(0))
    axes, sizes = s.attrs.int_tuple("axis", ()), s.attrs.int_tuple("size", ())
    if len(axes) != len(sizes):
        raise s.fail(f"axis {axes} and size {sizes} differ in length", "size")
    for axis, size in zip(axes, sizes):
        if not 0 <= axis < len(x):
            raise s.fail(f"is {axes}: axis {axis} is not in [0, {len(x)})", "axis")
        if x[axis] != 1:
            raise s.fail(f"axis {axis} has size {x[axis]}; only axes of size 1 are broadcast", "axis")
        if size <= 0:
            raise s.fail(f"is {sizes}; sizes must be positive", "size")
        x[axis] = size
    return [tuple(x)]


@shape_rule("take")
def take(s: OpShapes) -> list[Shape]:
    """x's shape with `axis` replaced by the indices' shape."""
    x, indices = s.data(0), s.data(1)
    axis = s.axis("axis", s.attrs.int("axis", 0), len(x))
    s.attrs.str("mode", "clip", choices=("clip", "wrap", "raise"))
    return [tuple(x[:axis]) + tuple(indices) + tuple(x[axis + 1 :])]


@shape_rule("Embedding")
def embedding(s: OpShapes) -> list[Shape]:
    """The indices' shape + (output_dim,); the weight is (input_dim, output_dim)."""
    indices = s.data(0)
    rows, width = s.positive_int("input_dim"), s.positive_int("output_dim")
    s.param(1, (rows, width), "weight")
    return [tuple(indices) + (width,)]


@shape_rule("_zeros", "_ones", "_full")
def constant(s: OpShapes) -> list[Shape]:
    """`shape`, every size positive (MXNet 1.x reads 0 as unknown)."""
    shape = s.attrs.int_tuple("shape", ())
    if not shape or min(shape) <= 0:
        raise s.fail(f"is {shape}; a constant needs positive sizes", "shape")
    if s.count:
        raise s.fail(f"reads no input, but the node has {s.count}")
    return [tuple(shape)]


@shape_rule("dot")
def dot(s: OpShapes) -> list[Shape]:
    """lhs (..., K) . rhs (K, ...) -> lhs's other axes + rhs's other axes; transpose_a contracts lhs's first axis,
    transpose_b rhs's last; two vectors give (1,)."""
    lhs, rhs = s.data(0), s.data(1)
    ta, tb = s.attrs.bool("transpose_a", False), s.attrs.bool("transpose_b", False)
    if len(lhs) == 1 and len(rhs) == 1:
        if ta or tb:
            raise s.fail("transposes a vector", "transpose_a" if ta else "transpose_b")
        if lhs != rhs:
            raise s.fail(f"vectors of sizes {lhs[0]} and {rhs[0]} differ")
        return [(1,)]
    lhs_kept, lhs_k = (lhs[1:], lhs[:1]) if ta else (lhs[:-1], lhs[-1:])
    rhs_k, rhs_kept = (rhs[-1:], rhs[:-1]) if tb else (rhs[:1], rhs[1:])
    if len(lhs) == 1:
        lhs_kept, lhs_k = (), lhs  # a vector is (1, K), or (K, 1) transposed: both contract its K
    if len(rhs) == 1:
        rhs_k, rhs_kept = rhs, ()
    if math.prod(lhs_k) != math.prod(rhs_k):
        raise s.fail(f"cannot multiply {lhs} by {rhs}")
    return [tuple(lhs_kept) + tuple(rhs_kept)]
