"""Reductions over axes: sum, mean, max, min, prod (src/operator/tensor/broadcast_reduce_op.h, ReduceAxesShape)."""

from __future__ import annotations

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
