"""Training heads: y has the data's shape; a label input (one-node graphs only: reading a graph drops a head's label
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
