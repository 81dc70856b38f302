"""Reductions over axes: sum, mean, max, min, prod (src/operator/tensor/broadcast_reduce_op.h, ReduceAxesShape)."""

from __future__ import annotations

import numpy as np

from .registry import OpShapes, Shape, shape_rule


@shape_rule("sum", "mean", "max", "min", "prod", "nansum", "nanprod", "sum_axis")
def reduce_axes(s: OpShapes) -> list[Shape]:
    """The reduced axes (`axis`; all when absent; the others with `exclude`) dropped, or kept as 1 with keepdims;
    reducing everything without keepdims gives (1,)."""
    x = s.data(0)
    axes = s.attrs.int_tuple("axis", None)
    keepdims, exclude = s.attrs.bool("keepdims", False), s.attrs.bool("exclude", False)
    if axes is None or (not axes and not exclude):
        return [(1,) * len(x) if keepdims else (1,)]
    chosen = [s.axis("axis", a, len(x)) for a in axes]
    if len(set(chosen)) != len(chosen):
        raise s.fail(f"is {axes}: an axis appears twice", "axis")
    reduced = set(range(len(x))) - set(chosen) if exclude else set(chosen)
    if keepdims:
        return [tuple(1 if i in reduced else d for i, d in enumerate(x))]
    kept = tuple(d for i, d in enumerate(x) if i not in reduced)
    return [kept or (1,)]


@shape_rule("norm")
def norm(s: OpShapes) -> list[Shape]:
    """As sum (no `exclude`): the axes reduced, kept as 1 with keepdims (broadcast_reduce_op.h, NormShape)."""
    x = s.data(0)
    axes = s.attrs.int_tuple("axis", None)
    keepdims = s.attrs.bool("keepdims", False)
    if not axes:
        return [(1,) * len(x) if keepdims else (1,)]
    chosen = [s.axis("axis", a, len(x)) for a in axes]
    if len(set(chosen)) != len(chosen):
        raise s.fail(f"is {axes}: an axis appears twice", "axis")
    if keepdims:
        return [tuple(1 if i in chosen else d for i, d in enumerate(x))]
    return [tuple(d for i, d in enumerate(x) if i not in chosen) or (1,)]


@shape_rule("argmax", "argmin")
def reduce_axis(s: OpShapes) -> list[Shape]:
    """One axis (or all when absent, or for a 1-D input) reduced: dropped, or kept as 1 with keepdims
    (ReduceAxisShapeImpl)."""
    x = s.data(0)
    axis = _optional_int(s, "axis", None)
    keepdims = s.attrs.bool("keepdims", False)
    if axis is None or len(x) == 1:
        return [(1,) * len(x) if keepdims else (1,)]
    axis = s.axis("axis", axis, len(x))
    if keepdims:
        return [tuple(1 if i == axis else d for i, d in enumerate(x))]
    return [tuple(d for i, d in enumerate(x) if i != axis)]


@shape_rule("topk")
def topk(s: OpShapes) -> list[Shape]:
    """k along `axis` (default -1; 'None': the flattened input, (k,)); k <= 0 is the whole axis; 'mask' keeps the
    input's shape; 'both' gives values and indices (ordering_op-inl.h, ParseTopKParam)."""
    x = s.data(0)
    axis = _optional_int(s, "axis", -1)
    ret = s.attrs.str("ret_typ", "indices", choices=("value", "indices", "mask", "both"))
    if axis is not None:
        axis = s.axis("axis", axis, len(x))
    size = x[axis] if axis is not None else int(np.prod(x))
    k = s.attrs.int("k", 1)
    k = size if k <= 0 else k
    if k > size:
        raise s.fail(f"is {k}; the axis has {size} elements", "k")
    if ret == "mask":
        out = tuple(x)
    elif axis is None:
        out = (k,)
    else:
        out = tuple(k if i == axis else d for i, d in enumerate(x))
    return [out, out] if ret == "both" else [out]


def _optional_int(s: OpShapes, key: str, default: int | None) -> int | None:
    """An optional integer attribute: absent -> `default`, 'None' -> None."""
    raw = s.attrs.str(key, None)
    if raw is None:
        return default
    if isinstance(raw, str) and raw.strip().lower() == "none":
        return None
    return s.attrs.int(key)
