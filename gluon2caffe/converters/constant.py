"""Constants: _zeros, _ones, _full, _arange (F.zeros, F.ones, F.full, F.arange) read no input. The constant-folding
pass evaluates them (ir/evaluate.py, MXNet's float32 arithmetic) and what reads them takes the values as weights: a
sum or product with a tensor is a Bias / Scale / Power, a division a Scale by the reciprocal."""

from __future__ import annotations

from ..errors import ConversionError
from ..ir.graph import Node
from .context import EmitContext
from .registry import register


@register("_zeros", "_ones", "_full", "_arange", caffe="(folded into the weights of what reads it)")
def convert_constant(node: Node, ctx: EmitContext) -> None:
    """zeros / ones / full / arange -> evaluated when converting, the values become the weights of their readers.

    A constant the pass did not fold is an output of the net: Caffe computes its outputs from its inputs."""
    raise ConversionError(
        "is a constant (it reads no input) and an output of the net: a Caffe net computes its outputs from its "
        "inputs; combine it with an input, or drop it from the outputs",
        node.name,
        node.op,
    )
