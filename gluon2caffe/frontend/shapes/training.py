"""Training heads and legacy symbol-API ops (Crop).

Training heads: y has the data's shape; a label input (one-node graphs only: reading a graph drops a head's label
edge, frontend/mxnet_graph.py) gets the shape MXNet 1.9.1 assigns it (softmax_output.cc, regression_output-inl.h,
svm_output-inl.h)."""

from __future__ import annotations

import math

from .registry import OpShapes, Shape, shape_rule


@shape_rule("SoftmaxOutput", "Softmax")
def softmax_output(s: OpShapes) -> list[Shape]:
    """y has x's shape; the label is (N, size / N / C) with multi_output, else x without its last axis (or x)."""
    x = s.data(0)
    if s.count > 1 and s.shapes[1] != x:  # a label of the data's shape holds probabilities: MXNet accepts it
        if s.attrs.bool("multi_output", False):
            if len(x) < 2:
                raise s.fail(f"multi_output needs a class axis 1; the input has shape {x}", "multi_output")
            s.param(1, (x[0], math.prod(x) // x[0] // x[1]), "label")
        elif len(x) > 1:
            s.param(1, x[:-1], "label")
    return [x]


@shape_rule("LogisticRegressionOutput", "LinearRegressionOutput", "MAERegressionOutput")
def regression_output(s: OpShapes) -> list[Shape]:
    """y has x's shape; the label is (N,) for an (N, 1) input, else x's shape."""
    x = s.data(0)
    if s.count > 1:
        s.param(1, (x[0],) if len(x) == 2 and x[1] == 1 else x, "label")
    return [x]


@shape_rule("SVMOutput")
def svm_output(s: OpShapes) -> list[Shape]:
    """y has x's shape; the label is x without its last axis."""
    x = s.data(0)
    if s.count > 1 and len(x) > 1:
        s.param(1, x[:-1], "label")
    return [x]


@shape_rule("Crop")
def crop(s: OpShapes) -> list[Shape]:
    """Legacy Crop: x's N, C with h_w's (one input) or the crop_like input's (two) H, W, within x (crop-inl.h)."""
    x = s.data(0)
    if len(x) != 4:
        raise s.fail(f"needs a 4-D NCHW input, got {x}")
    if s.attrs.int("num_args", 1) != s.count:
        raise s.fail(f"is {s.attrs.int('num_args', 1)} with {s.count} input(s)", "num_args")
    if s.count > 1:
        like = s.data(1)
        if len(like) != 4:
            raise s.fail(f"crop_like needs 4 dimensions, got {like}")
        h, w = like[2], like[3]
    else:
        hw = s.attrs.int_tuple("h_w", (0, 0))
        if len(hw) != 2:
            raise s.fail(f"is {hw}; expected (height, width)", "h_w")
        h, w = hw
        if not (1 <= h <= x[2] and 1 <= w <= x[3]):
            raise s.fail(f"is ({h}, {w}); must be within the input's ({x[2]}, {x[3]})", "h_w")
    return [(x[0], x[1], h, w)]
