"""Values known when the files are written: subgraphs that read only parameters (weights, constants), evaluated op by
op in numpy with MXNet's own float32 arithmetic, and the inputs a Caffe layer needs as parameters.

MXNet 1.9.1's CPU kernels round once per arithmetic op in the tensor's type (float32: IEEE, as numpy does), cast a
scalar attribute to that type first (`DType(scalar)`, elemwise_binary_scalar_op.h), and add_n sums its inputs as
in0 + (in1 + (in2 + in3)) for up to four inputs, then from the left (elemwise_sum.h). Ops whose numpy result is not
MXNet's bit for bit (exp, log: numpy's SIMD functions differ from libm's in the last bit) are not evaluated here;
such a subgraph stays in the graph and the op's converter, or the parameter check, names it.

A subgraph is folded only into tensors other nodes read: a graph output computed from parameters alone stays a
node (a Caffe net output is a layer's top).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..errors import ConversionError
from .graph import Graph, Node
from .ops import SCALAR_OPS, parameter_inputs

# Ops that read no input at all: constants (zeros, ones, full, arange), always known when converting.
SOURCE_OPS = frozenset({"_zeros", "_ones", "_full", "_arange"})

# Inputs an op reads for their shape alone: their values do not make the output depend on them.
SHAPE_ONLY_INPUTS = {"slice_like": 1, "broadcast_like": 1}

Values = list  # the node's inputs: arrays, None for an input read for its shape only
Evaluator = Callable[[Node, Values, list], list]


def value_inputs(node: Node) -> list[str]:
    """The inputs whose values `node` reads (all but SHAPE_ONLY_INPUTS)."""
    skip = SHAPE_ONLY_INPUTS.get(node.op)
    return [t for i, t in enumerate(node.inputs) if i != skip]


def _float(node: Node, x: np.ndarray) -> np.ndarray:
    if not np.issubdtype(x.dtype, np.floating):
        raise ConversionError(
            f"computes with a {x.dtype} parameter; only floating-point parameters are evaluated at conversion time",
            node.name,
            node.op,
        )
    return x


def _scalar(node: Node, x: np.ndarray) -> np.floating:
    """The node's `scalar` in x's type, as MXNet casts it (DType(scalar)) before computing."""
    return x.dtype.type(node.attrs.float("scalar"))


def _add_n(node: Node, values: Values, shapes: list) -> list:
    xs = [_float(node, x) for x in values]
    if len(xs) <= 4:  # a[i] + sum(b...): from the right
        total = xs[-1]
        for x in reversed(xs[:-1]):
            total = x + total
        return [total]
    total = xs[0]
    for x in xs[1:]:
        total = total + x
    return [total]


def _reshaped(node: Node, values: Values, shapes: list) -> list:
    """Ops that keep the elements in order (Reshape codes, Flatten, expand_dims, squeeze): the inferred shape."""
    return [values[0].reshape(shapes[0])]


def _transpose(node: Node, values: Values, shapes: list) -> list:
    x = values[0]
    axes = node.attrs.int_tuple("axes", ())
    return [np.transpose(x, axes if axes else None)]


def _swapaxes(node: Node, values: Values, shapes: list) -> list:
    return [np.swapaxes(values[0], node.attrs.int("dim1", 0), node.attrs.int("dim2", 0))]


def _concat(node: Node, values: Values, shapes: list) -> list:
    return [np.concatenate(values, axis=node.attrs.int("dim", 1))]


def _optional_ints(node: Node, key: str) -> list[int | None]:
    """'(0, None, 1)' -> [0, None, 1]; absent -> []."""
    if key not in node.attrs:
        return []
    items = [t.strip() for t in node.attrs.str(key).strip().strip("()[]").split(",") if t.strip()]
    try:
        return [None if t == "None" else int(t) for t in items]
    except ValueError:
        raise node.attrs.error(key, f"is {node.attrs.str(key)!r}, not a tuple of integers or None") from None


def _slice(node: Node, values: Values, shapes: list) -> list:
    """slice / crop: MXNet's index ranges (GetIndexRange in matrix_op-inl.h) per axis, any step."""
    x = values[0]
    begin, end, step = _optional_ints(node, "begin"), _optional_ints(node, "end"), _optional_ints(node, "step")
    for axis in range(len(begin)):
        s = step[axis] if axis < len(step) and step[axis] is not None else 1
        if s == 0:
            raise node.attrs.error("step", "has a step of 0")
        size = x.shape[axis]
        b = begin[axis] if begin[axis] is not None else (size - 1 if s < 0 else 0)
        e = end[axis] if axis < len(end) and end[axis] is not None else (-1 if s < 0 else size)
        b += size if b < 0 else 0
        if axis < len(end) and end[axis] is not None and e < 0:
            e += size
        b = 0 if b < 0 and s > 0 else b
        b = size - 1 if b > size - 1 and s < 0 else b
        e = min(max(e, -1), size)
        empty = b < 0 or b > size - 1  # MXNet's -1: nothing (np.arange would count from the end)
        x = np.take(x, np.arange(0) if empty else np.arange(b, e, s), axis=axis)
    return [x]


def _slice_axis(node: Node, values: Values, shapes: list) -> list:
    x = values[0]
    axis = node.attrs.int("axis") % x.ndim
    begin = node.attrs.int("begin")
    end = None if node.attrs.str("end", "None") in ("None", "") else node.attrs.int("end")
    index = [slice(None)] * x.ndim
    index[axis] = slice(begin, end)
    return [x[tuple(index)]]


def _slice_like(node: Node, values: Values, shapes: list) -> list:
    """[0, size) of the reference on the axes it cuts: the output's shape says which."""
    return [values[0][tuple(slice(0, d) for d in shapes[0])]]


def _split(node: Node, values: Values, shapes: list) -> list:
    x = values[0]
    axis = node.attrs.int("axis", 1) % x.ndim
    parts = np.split(x, node.attrs.int("num_outputs"), axis=axis)
    if node.attrs.bool("squeeze_axis", False):
        parts = [np.squeeze(p, axis=axis) for p in parts]
    return parts


def _tile(node: Node, values: Values, shapes: list) -> list:
    return [np.tile(values[0], node.attrs.int_tuple("reps"))]


def _repeat(node: Node, values: Values, shapes: list) -> list:
    axis = node.attrs.str("axis", "None")
    return [np.repeat(values[0], node.attrs.int("repeats"), axis=None if axis == "None" else int(axis))]


def _broadcast_to_output(node: Node, values: Values, shapes: list) -> list:
    return [np.broadcast_to(values[0], shapes[0])]


def _split_v2(node: Node, values: Values, shapes: list) -> list:
    """split_v2: the parts start at `indices`, or `sections` parts with the first size % sections one longer."""
    x = values[0]
    axis = node.attrs.int("axis", 1) % x.ndim
    sections = node.attrs.int("sections", 0)
    if sections > 0:
        short, longer = divmod(x.shape[axis], sections)
        starts = list(np.cumsum([0] + [short + (i < longer) for i in range(sections - 1)]))
    else:
        starts = list(node.attrs.int_tuple("indices"))
    parts = np.split(x, [int(p) for p in starts[1:]], axis=axis)
    if node.attrs.bool("squeeze_axis", False):
        parts = [np.squeeze(p, axis=axis) for p in parts]
    return parts


def _stack(node: Node, values: Values, shapes: list) -> list:
    return [np.stack(values, axis=node.attrs.int("axis", 0))]


def _reverse(node: Node, values: Values, shapes: list) -> list:
    x = values[0]
    for axis in node.attrs.int_tuple("axis"):
        if not 0 <= axis < x.ndim:  # MXNet 1.9.1's forward fails on a negative axis
            raise node.attrs.error("axis", f"is {axis}, not in [0, {x.ndim})")
        x = np.flip(x, axis)
    return [x]


def _take_positions(node: Node, indices: np.ndarray, size: int, mode: str) -> np.ndarray:
    """MXNet's take: each index truncated to an integer, then clipped to [0, size) or wrapped ('raise': refused)."""
    positions = np.trunc(np.asarray(indices, np.float64))
    if not np.all(np.isfinite(positions)):
        raise ConversionError("has NaN or infinite indices", node.name, node.op)
    positions = positions.astype(np.int64)
    if mode == "raise" and positions.size and (positions.min() < 0 or positions.max() >= size):
        raise ConversionError(f"indices out of [0, {size}) with mode 'raise'", node.name, node.op, "mode")
    return positions % size if mode == "wrap" else np.clip(positions, 0, size - 1)


def _take(node: Node, values: Values, shapes: list) -> list:
    x, indices = values
    axis = node.attrs.int("axis", 0) % x.ndim
    mode = node.attrs.str("mode", "clip", choices=("clip", "wrap", "raise"))
    return [np.take(x, _take_positions(node, indices, x.shape[axis], mode), axis=axis)]


def _embedding(node: Node, values: Values, shapes: list) -> list:
    indices, weight = values
    return [np.take(weight, _take_positions(node, indices, weight.shape[0], "clip"), axis=0)]


def _constant(fill: Callable[[Node], float]) -> Evaluator:
    """An op that reads no input (zeros, ones, full): its shape filled with one value, in its dtype."""
    return lambda node, values, shapes: [np.full(shapes[0], fill(node), dtype=_dtype(node))]


def _dtype(node: Node) -> np.dtype:
    try:
        return np.dtype(node.attrs.str("dtype", "float32"))
    except TypeError:
        raise node.attrs.error("dtype", f"is {node.attrs.str('dtype')!r}, not a dtype numpy knows") from None


def _arange(node: Node, values: Values, shapes: list) -> list:
    """start + (i // repeat) * step in the output's type, as MXNet's range_fwd computes it (no stop: 0 to start)."""
    a = node.attrs
    start, stop = a.float("start", 0.0), a.float("stop", None)
    if stop is None:
        start = 0.0
    dtype = _dtype(node)
    steps = (np.arange(shapes[0][0]) // a.int("repeat", 1)).astype(dtype)
    return [dtype.type(start) + steps * dtype.type(a.float("step", 1.0))]


def _cast(node: Node, values: Values, shapes: list) -> list:
    try:
        dtype = np.dtype(node.attrs.str("dtype"))
    except TypeError:
        raise node.attrs.error("dtype", f"is {node.attrs.str('dtype')!r}, not a dtype numpy knows") from None
    return [values[0].astype(dtype)]


def _unary(fn: Callable[[np.ndarray], np.ndarray]) -> Evaluator:
    return lambda node, values, shapes: [fn(_float(node, values[0]))]


def _with_scalar(fn: Callable[[np.ndarray, np.floating], np.ndarray]) -> Evaluator:
    def evaluate(node: Node, values: Values, shapes: list) -> list:
        x = _float(node, values[0])
        return [fn(x, _scalar(node, x))]

    return evaluate


def _binary(fn: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Evaluator:
    def evaluate(node: Node, values: Values, shapes: list) -> list:
        a, b = (_float(node, v) for v in values)
        if a.dtype != b.dtype:
            raise ConversionError(f"combines {a.dtype} with {b.dtype}", node.name, node.op)
        return [fn(a, b)]

    return evaluate


def _relu(x: np.ndarray) -> np.ndarray:
    return np.where(x > 0, x, x.dtype.type(0))


def _clip(node: Node, values: Values, shapes: list) -> list:
    x = _float(node, values[0])
    low, high = (x.dtype.type(node.attrs.float(key)) for key in ("a_min", "a_max"))
    return [np.where(x < low, low, np.where(x > high, high, x))]


_SCALAR = {
    "_plus_scalar": lambda x, s: x + s,
    "_minus_scalar": lambda x, s: x - s,
    "_rminus_scalar": lambda x, s: s - x,
    "_mul_scalar": lambda x, s: x * s,
    "_div_scalar": lambda x, s: x / s,
    "_rdiv_scalar": lambda x, s: s / x,
    "_power_scalar": np.power,
    "_maximum_scalar": np.maximum,
    "_minimum_scalar": np.minimum,
}
assert set(SCALAR_OPS) <= set(_SCALAR)

_BINARY = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide}

EVALUATORS: dict[str, Evaluator] = {
    **{op: _with_scalar(fn) for op, fn in _SCALAR.items()},
    **{f"elemwise_{k}": _binary(fn) for k, fn in _BINARY.items()},
    **{f"broadcast_{k}": _binary(fn) for k, fn in _BINARY.items()},
    "broadcast_plus": _binary(np.add),
    "broadcast_minus": _binary(np.subtract),
    "broadcast_maximum": _binary(np.maximum),
    "broadcast_minimum": _binary(np.minimum),
    "broadcast_power": _binary(np.power),
    "_maximum": _binary(np.maximum),
    "_minimum": _binary(np.minimum),
    "add_n": _add_n,
    "negative": _unary(np.negative),
    "abs": _unary(np.abs),
    "sqrt": _unary(np.sqrt),
    "square": _unary(lambda x: x * x),
    "relu": _unary(_relu),
    "clip": _clip,
    "zeros_like": lambda node, values, shapes: [np.zeros_like(values[0])],
    "ones_like": lambda node, values, shapes: [np.ones_like(values[0])],
    "_copy": lambda node, values, shapes: [values[0]],
    "identity": lambda node, values, shapes: [values[0]],
    "BlockGrad": lambda node, values, shapes: [values[0]],
    "stop_gradient": lambda node, values, shapes: [values[0]],
    "Cast": _cast,
    "amp_cast": _cast,
    "Reshape": _reshaped,
    "reshape": _reshaped,
    "Flatten": _reshaped,
    "flatten": _reshaped,
    "expand_dims": _reshaped,
    "squeeze": _reshaped,
    "transpose": _transpose,
    "SwapAxis": _swapaxes,
    "swapaxes": _swapaxes,
    "Concat": _concat,
    "concat": _concat,
    "slice": _slice,
    "crop": _slice,
    "slice_axis": _slice_axis,
    "slice_like": _slice_like,
    "SliceChannel": _split,
    "split": _split,
    "_split_v2": _split_v2,
    "stack": _stack,
    "reverse": _reverse,
    "take": _take,
    "Embedding": _embedding,
    "broadcast_to": _broadcast_to_output,
    "broadcast_axis": _broadcast_to_output,
    "_zeros": _constant(lambda node: 0.0),
    "_ones": _constant(lambda node: 1.0),
    "_full": _constant(lambda node: node.attrs.float("value")),
    "_arange": _arange,
    "tile": _tile,
    "repeat": _repeat,
    "broadcast_like": _broadcast_to_output,
}


def can_evaluate(node: Node) -> bool:
    """Whether `node`'s op is evaluated here (for an Activation: only relu, the one whose result is exact)."""
    if node.op == "Activation":
        return node.attrs.str("act_type", "") == "relu"
    return node.op in EVALUATORS


def evaluate(node: Node, values: Values, shapes: list) -> list[np.ndarray]:
    """The outputs of `node` from the values of its inputs (None where only a shape is read), each checked against
    the shape inference gave it (`shapes`)."""
    fn = _unary(_relu) if node.op == "Activation" else EVALUATORS[node.op]
    results = fn(node, values, [tuple(s) for s in shapes])
    if len(results) < len(shapes):
        raise ConversionError(f"evaluating it gave {len(results)} outputs, the graph reads {len(shapes)}", node.name)
    out = []
    for result, shape in zip(results, shapes):  # a node's outputs are the first ones something reads
        result = np.ascontiguousarray(result)
        if result.shape != tuple(shape):
            raise ConversionError(
                f"evaluating it from its parameters gave shape {result.shape}, where shape inference gave "
                f"{tuple(shape)}",
                node.name,
                node.op,
            )
        out.append(result)
    return out


def constant_nodes(graph: Graph) -> list[Node]:
    """The nodes, in graph order, whose outputs are known at conversion time: an op evaluated here whose value
    inputs are parameters or outputs of such nodes (a constant op reads none), and none of whose outputs is a graph
    output."""
    known = set(graph.params)
    found = []
    for node in graph.nodes:
        if not can_evaluate(node) or any(t in graph.outputs for t in node.outputs):
            continue
        if all(t in known for t in value_inputs(node)) and (value_inputs(node) or node.op in SOURCE_OPS):
            known.update(node.outputs)
            found.append(node)
    return found


def check_parameter_inputs(graph: Graph, computed: bool) -> None:
    """Every input a Caffe layer stores as a blob (ops.parameter_inputs) is a parameter; `computed`: or computed
    from parameters alone by ops evaluated here (before constant folding). Else a ConversionError names the node,
    the input and where it comes from: a graph input, or the first op on its way that cannot be evaluated."""
    producers = {t: n for n in graph.nodes for t in n.outputs}
    known = set(graph.params)
    if computed:
        known.update(t for n in constant_nodes(graph) for t in n.outputs)
    for node in graph.nodes:
        for index, role in parameter_inputs(node).items():
            tensor = node.inputs[index]
            if tensor in known:
                continue
            lead = f"Caffe layers take weights as parameters; this node's {role} (input {index})"
            if tensor in graph.inputs:
                reason = f"{lead} is the graph input '{tensor}'"
                remedy = "make it a parameter (or constant) of the block instead of an input"
            else:
                source = _graph_input_read(tensor, producers, graph)
                if source is not None:
                    reason = f"{lead} '{tensor}' is computed from the graph input '{source}'"
                    remedy = "compute it from parameters only, or make it a parameter of the block"
                else:
                    blocker = _first_unevaluated(tensor, producers, known)
                    reason = (
                        f"{lead} '{tensor}' is computed from parameters by node '{blocker.name}' ({blocker.op}), "
                        "which is not evaluated at conversion time"
                    )
                    remedy = "compute that weight with numpy and store it as the parameter"
            raise ConversionError(f"{reason}: {remedy}", node.name, node.op)


def _graph_input_read(tensor: str, producers: dict[str, Node], graph: Graph) -> str | None:
    """A graph input whose value `tensor` depends on, if any."""
    stack, seen = [tensor], set()
    while stack:
        t = stack.pop()
        if t in seen:
            continue
        seen.add(t)
        if t in graph.inputs:
            return t
        node = producers.get(t)
        if node is not None:
            stack.extend(value_inputs(node))
    return None


def _first_unevaluated(tensor: str, producers: dict[str, Node], known: set[str]) -> Node:
    """The node on the way to `tensor` (read only from parameters) that was not evaluated: its value inputs are all
    known, its outputs not."""
    node = producers[tensor]
    while True:
        unknown = [t for t in value_inputs(node) if t not in known and t in producers]
        if not unknown:
            return node
        node = producers[unknown[0]]
