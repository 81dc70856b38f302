"""The registry of shape rules: MXNet op name -> function giving a node's output shapes from its input shapes.

A rule sees an `OpShapes`: the node, its attributes and the shapes of its inputs. Data inputs always have a shape
(the graph is walked in order); a parameter whose shape is unknown (deferred initialization) is given the shape the
op needs (`OpShapes.param`), as MXNet's own inference does, and a known one is checked against it.
"""

from __future__ import annotations

from typing import Callable

from ...errors import ConversionError
from ...ir.attrs import Attrs
from ...ir.graph import Node

Shape = tuple[int, ...]


class ParameterShapeError(ConversionError):
    """A parameter whose (file's) shape is not the one its op needs."""


class OpShapes:
    """What a shape rule reads and writes for one node."""

    def __init__(self, node: Node, shapes: list[Shape | None]):
        self.node = node
        self.attrs: Attrs = node.attrs
        self.shapes = shapes

    def fail(self, message: str, attr: str | None = None) -> ConversionError:
        return ConversionError(message, self.node.name, self.node.op, attr)

    def positive_int(self, attr: str) -> int:
        """The integer attribute `attr` (required), refused unless it is positive."""
        value = self.attrs.int(attr)
        if value <= 0:
            raise self.fail(f"is {value}; must be positive", attr)
        return value

    @property
    def count(self) -> int:
        return len(self.shapes)

    def data(self, index: int = 0) -> Shape:
        """The shape of input `index`, which must be known (an activation, or a parameter read from the file)."""
        if index >= len(self.shapes):
            raise self.fail(f"has {len(self.shapes)} input(s); input {index} is missing")
        shape = self.shapes[index]
        if shape is None:
            raise self.fail(f"the shape of input {index} ('{self.node.inputs[index]}') is unknown")
        if not shape:  # MXNet 1.x has no 0-D tensors: () is its 'unknown shape'
            raise self.fail(f"input {index} ('{self.node.inputs[index]}') has no dimensions")
        return shape

    def param(self, index: int, expected: Shape, what: str) -> None:
        """Input `index` (a parameter) must have shape `expected`: assigned when unknown, checked when known."""
        if index >= len(self.shapes):
            raise self.fail(f"has {len(self.shapes)} input(s); {what} (input {index}) is missing")
        expected = tuple(int(d) for d in expected)
        known = self.shapes[index]
        if known is None:
            self.shapes[index] = expected
        elif tuple(known) != expected:
            raise ParameterShapeError(
                f"{what} '{self.node.inputs[index]}' has shape {tuple(known)}, the op needs {expected}",
                self.node.name,
                self.node.op,
            )

    def axis(self, key: str, axis: int, ndim: int) -> int:
        """`axis` of a `ndim`-D tensor as 0..ndim-1 (negative counts from the end)."""
        if not -ndim <= axis < ndim:
            raise self.fail(f"is {axis}, out of range for a {ndim}-D input", key)
        return axis % ndim

    def inputs_equal(self, count: int | None = None) -> Shape:
        """The one shape all (or the first `count`) inputs share (element-wise ops)."""
        shapes = [self.data(i) for i in range(count if count is not None else len(self.shapes))]
        if not shapes:
            raise self.fail("has no inputs")
        if any(s != shapes[0] for s in shapes[1:]):
            raise self.fail(f"inputs have different shapes {[tuple(s) for s in shapes]}")
        return shapes[0]


ShapeRule = Callable[[OpShapes], list[Shape]]

SHAPE_RULES: dict[str, ShapeRule] = {}


def shape_rule(*ops: str) -> Callable[[ShapeRule], ShapeRule]:
    """Register `fn` as the shape rule of each MXNet op in `ops`; a second registration of an op is a bug."""

    def decorator(fn: ShapeRule) -> ShapeRule:
        for op in ops:
            if op in SHAPE_RULES:
                raise RuntimeError(
                    f"shape rule for {op} registered twice ({SHAPE_RULES[op].__module__}, {fn.__module__})"
                )
            SHAPE_RULES[op] = fn
        return fn

    return decorator
