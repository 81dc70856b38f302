"""Our own shape inference: every tensor's shape from the inputs' and the parameters', without MXNet.

One rule per MXNet op (registry.py; a module per op family), written from MXNet's shape functions. It is used when
MXNet cannot be imported (Python 3.12+), or when GLUON2CAFFE_SHAPE_INFERENCE=own; tests check it against MXNet's own
`infer_shape` op by op and model by model (tests/frontend/test_shape_inference.py).

GLUON2CAFFE_SHAPE_INFERENCE: 'auto' (default: MXNet's inference when MXNet imports, else ours), 'own', 'mxnet'.
"""

from __future__ import annotations

import functools
import os

from ...errors import ConversionError, InvalidCallError
from ...ir.graph import Graph
from . import detection, elemwise, nn, reduce, resample, select, training  # noqa: F401  (imported for their registrations)
from . import shape as _shape  # noqa: F401
from .registry import SHAPE_RULES, OpShapes, Shape, shape_rule

__all__ = ["SHAPE_RULES", "infer_graph_shapes", "mxnet_available", "shape_inference_backend", "shape_rule"]

ENV = "GLUON2CAFFE_SHAPE_INFERENCE"
BACKENDS = ("auto", "own", "mxnet")


@functools.lru_cache(maxsize=1)
def mxnet_available() -> bool:
    """Whether `import mxnet` works here (it fails on Python 3.12+ even where it is installed)."""
    try:
        import mxnet  # noqa: F401
    except Exception:  # ImportError, or AttributeError from numpy >= 1.24 on import
        return False
    return True


def shape_inference_backend(auto: str | None = None) -> str:
    """'own' or 'mxnet': what converting exported files uses, from GLUON2CAFFE_SHAPE_INFERENCE (auto: `auto` where
    given, else MXNet when it imports). InvalidCallError for an unknown value, or 'mxnet' forced where MXNet does not
    import."""
    choice = os.environ.get(ENV, "auto").strip().lower() or "auto"
    if choice not in BACKENDS:
        raise InvalidCallError(f"{ENV}={choice!r}; expected one of {', '.join(BACKENDS)}")
    if choice == "auto":
        return auto or ("mxnet" if mxnet_available() else "own")
    if choice == "mxnet" and not mxnet_available():
        raise InvalidCallError(f"{ENV}=mxnet but MXNet cannot be imported here; use 'own' (or unset it)")
    return choice


def infer_graph_shapes(graph: Graph, skip_unknown_ops: bool = False) -> dict[str, Shape]:
    """The shape of every tensor of `graph` (inputs, parameters, node outputs), node by node in graph order.

    Parameters have the shapes of their arrays; a parameter variable without a value gets the shape its op needs.
    A node whose op has no rule, or whose attributes and input shapes MXNet would refuse, raises ConversionError
    naming the node, the op and (where one is at fault) the attribute. `skip_unknown_ops`: a node whose op has no
    rule (and every node after it that reads its outputs) is left without shapes instead: a detector head the
    conversion cuts off needs only some of its tensors' shapes (the caller checks those it needs are known).
    """
    shapes: dict[str, Shape] = {name: tuple(int(d) for d in shape) for name, shape in graph.inputs.items()}
    shapes.update({name: tuple(int(d) for d in value.shape) for name, value in graph.params.items()})
    produced = {t for node in graph.nodes for t in node.outputs}
    skipped: set[str] = set()
    for node in graph.nodes:
        rule = SHAPE_RULES.get(node.op)
        if skip_unknown_ops and (rule is None or any(t in skipped for t in node.inputs)):
            skipped.update(node.outputs)
            continue
        if rule is None:
            raise ConversionError("no shape rule for this operator (our shape inference)", node.name, node.op)
        inputs: list[Shape | None] = []
        for tensor in node.inputs:
            if tensor not in shapes and tensor in produced:
                raise ConversionError(f"input '{tensor}' is computed after this node", node.name, node.op)
            inputs.append(shapes.get(tensor))
        op = OpShapes(node, inputs)
        try:
            outputs = rule(op)
        except (ArithmeticError, ValueError) as exc:  # e.g. an infinite scale attribute: untrusted files have them
            raise ConversionError(f"attributes out of range ({exc})", node.name, node.op) from None
        for tensor, known in zip(node.inputs, op.shapes):
            if known is not None:
                shapes.setdefault(tensor, tuple(known))
        if len(node.outputs) > len(outputs):
            raise ConversionError(
                f"output {len(node.outputs) - 1} is used but the op has {len(outputs)} output(s)", node.name, node.op
            )
        for tensor, shape in zip(node.outputs, outputs):
            shape = tuple(int(d) for d in shape)
            if not shape or min(shape) <= 0:
                raise ConversionError(f"output '{tensor}' would have shape {shape}", node.name, node.op)
            shapes[tensor] = shape
    return shapes
