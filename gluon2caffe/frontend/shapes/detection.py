"""The ops of GluonCV's detector heads (SSD, YOLOv3) as exported: decoding, thresholds, NMS, ranges."""

from __future__ import annotations

import math

from .registry import OpShapes, Shape, shape_rule


@shape_rule("where")
def where(s: OpShapes) -> list[Shape]:
    """x's shape: x and y equal, the condition equal to them or 1-D over their first axis."""
    cond, x, y = s.data(0), s.data(1), s.data(2)
    if x != y:
        raise s.fail(f"x and y have different shapes {x} and {y}")
    if cond != x and not (len(cond) == 1 and cond[0] == x[0]):
        raise s.fail(f"the condition of shape {cond} is neither {x} nor ({x[0]},)")
    return [x]


@shape_rule("_arange")
def arange(s: OpShapes) -> list[Shape]:
    """(ceil((stop - start) / step) * repeat,); no stop: range(0, start)."""
    a = s.attrs
    start, stop = a.float("start", 0.0), a.float("stop", None)
    step, repeat = a.float("step", 1.0), a.int("repeat", 1)
    if a.bool("infer_range", False) and stop is None:
        raise s.fail("infer_range without stop: the length depends on another tensor", "infer_range")
    if stop is None:
        start, stop = 0.0, start
    if step == 0 or repeat <= 0:
        raise s.fail(f"step {step} must not be 0 and repeat {repeat} must be positive", "step")
    if (step > 0 and not start < stop) or (step < 0 and not start > stop):
        raise s.fail(f"invalid range (start, stop, step) = ({start}, {stop}, {step})", "stop")
    return [(int(math.ceil((stop - start) / step) * repeat),)]


@shape_rule("_contrib_box_decode")
def box_decode(s: OpShapes) -> list[Shape]:
    """The box predictions' shape (B, N, 4); the anchors are (..., N, 4)."""
    data, anchors = s.data(0), s.data(1)
    if len(data) != 3 or data[-1] != 4:
        raise s.fail(f"needs box predictions of shape (B, N, 4), got {data}")
    if len(anchors) < 3 or anchors[-1] != 4:
        raise s.fail(f"needs anchors of shape (1, N, 4), got {anchors}")
    return [data]


@shape_rule("_contrib_box_nms", "_contrib_box_non_maximum_suppression")
def box_nms(s: OpShapes) -> list[Shape]:
    """The input's shape (..., N, K) (K holds score, 4 coordinates and maybe an id); the hidden index (..., N, 1)."""
    x = s.data(0)
    a = s.attrs
    if len(x) < 2:
        raise s.fail(f"needs (..., boxes, values) of at least 2 dims, got {x}")
    width = x[-1]
    coord, score, ident = a.int("coord_start", 2), a.int("score_index", 1), a.int("id_index", -1)
    if width < (6 if ident >= 0 else 5):
        raise s.fail(f"each box has {width} values; score, 4 coordinates{' and an id' if ident >= 0 else ''} needed")
    if not 0 <= score < width or coord <= score <= coord + 3:
        raise s.fail(f"is {score}: out of range or inside the coordinates", "score_index")
    if coord < 0 or coord + 3 >= width:
        raise s.fail(f"is {coord}: the coordinates do not fit in {width} values", "coord_start")
    if ident >= 0 and (ident >= width or coord <= ident <= coord + 3 or ident == score):
        raise s.fail(f"is {ident}: out of range or on the score or coordinates", "id_index")
    return [x, tuple(x[:-1]) + (1,)]


@shape_rule("SliceChannel", "split")
def slice_channel(s: OpShapes) -> list[Shape]:
    """num_outputs equal parts of `axis` (that axis removed with squeeze_axis, when each part is 1)."""
    x = s.data(0)
    parts = s.attrs.int("num_outputs")
    axis = s.axis("axis", s.attrs.int("axis", 1), len(x))
    if parts <= 0 or x[axis] % parts:
        raise s.fail(f"is {parts}: does not divide axis {axis} of size {x[axis]}", "num_outputs")
    out = list(x)
    out[axis] = x[axis] // parts
    if s.attrs.bool("squeeze_axis", False):
        if out[axis] != 1:
            raise s.fail(f"squeezes axis {axis} but each part has {out[axis]} elements", "squeeze_axis")
        del out[axis]
    return [tuple(out)] * parts
