"""Read an MXNet symbol graph (from a live HybridBlock or symbol JSON) into the IR, with MXNet's own shape inference.

Nothing in the JSON is executed or evaluated: node attributes stay strings until a typed reader parses them.
"""

from __future__ import annotations

import functools
import json
import linecache
import logging
import os
import re
import sysconfig
from typing import Any

import numpy as np

from ..errors import ConversionError, Gluon2CaffeError, InputShapeError, InvalidCallError, UntraceableBlockError
from ..extras import import_mxnet
from ..ir.graph import Graph, Node
from ..ir.ops import LOSS_HEAD_OPS
from .resample import measure_resampling
from .shape_errors import explain, mxnet_failure
from ..ir.attrs import Attrs

log = logging.getLogger(__name__)

_OUTPUT_SUFFIX = re.compile(r"^(?P<node>.*)_output(?P<index>\d*)$")


def tensor_name(node_name: str, index: int) -> str:
    return node_name if index == 0 else f"{node_name}_output{index}"


def trace_block(
    block: Any, input_shape: tuple[int, ...] | dict[str, tuple[int, ...]], input_name: str = "data"
) -> tuple[Any, dict[str, np.ndarray]]:
    """Trace a Gluon HybridBlock to an MXNet Symbol and collect its parameters as numpy arrays.

    `input_shape` is one shape (the variable `input_name`) or {name: shape}: one variable per entry, passed to the
    block's forward in that order (a block whose hybrid_forward takes several inputs)."""
    mx = import_mxnet("converting a live HybridBlock")
    from mxnet.gluon import HybridBlock

    if not isinstance(block, HybridBlock):
        raise InvalidCallError(
            f"expected an mxnet.gluon.HybridBlock, got {type(block).__module__}.{type(block).__name__}; "
            "only hybridizable blocks can be traced to a symbol graph (convert exported -symbol.json/.params instead)"
        )
    params = block.collect_params()
    uninitialized = [name for name, p in params.items() if p._data is None and not p._deferred_init]
    if uninitialized:
        shown = ", ".join(uninitialized[:5]) + (" ..." if len(uninitialized) > 5 else "")
        raise InvalidCallError(
            f"{len(uninitialized)} parameter(s) are not initialized ({shown}); "
            "call net.initialize() or net.load_parameters(...) first"
        )
    shapes = dict(input_shape) if isinstance(input_shape, dict) else {input_name: tuple(input_shape)}
    described = tuple(input_shape) if len(shapes) == 1 else shapes
    symbol = trace_symbol(block, list(shapes))
    if any(p._deferred_init for p in params.values()):
        # Shapes of deferred parameters are only known after one forward pass. Symbolic inference first: a shape
        # the net cannot take is then one line naming the node (MXNet's forward would print its arguments on stdout
        # and raise "Deferred initialization failed").
        try:
            infer_shapes(symbol, shapes, None)
        except InputShapeError:
            raise
        except InvalidCallError:  # shapes left unknown symbolically: the forward pass may still find them
            pass
        try:
            block(*[mx.nd.zeros(shape) for shape in shapes.values()])
        except Exception as exc:  # MXNet raises MXNetError/ValueError/... for a shape the net cannot take
            raise InvalidCallError(f"the network cannot run on input_shape={described}: {_first_line(exc)}") from exc
    # A forward (the one above, or the caller's) only reads the weights, so reading them does not wait for it; but
    # oneDNN's inference convolution reorders its weight in place to its own layout from inside that forward (an
    # asynchronous write pushed while it runs), and asnumpy() copies outside the engine once no write is pending.
    # Without this wait a copy can overlap the reorder and read a torn weight. (Suspected cause of conversions of one
    # live net that differed under load in CI: a MultiBox SSD's Caffe boxes 20% off while MXNet's matched float64.)
    try:
        mx.nd.waitall()
    except mx.base.MXNetError:
        # That forward failed inside MXNet, after the deferred parameters got their values (e.g. oneDNN has no
        # primitive for a dilated deconvolution with this target_shape): the conversion judges the graph itself and
        # refuses such a node by name.
        pass
    used = set(symbol.list_arguments()) | set(symbol.list_auxiliary_states())
    arrays = {p.name: p.data().asnumpy() for p in params.values() if p.name in used}
    return symbol, arrays


def trace_symbol(block: Any, input_names: list[str]) -> Any:
    """The MXNet Symbol of a HybridBlock called on one variable per name, as export() writes it. Needs no parameter
    values: a block whose parameters wait for deferred initialization traces as well."""
    import mxnet as mx

    try:
        symbol = block(*[mx.sym.var(name) for name in input_names])
    except Gluon2CaffeError:
        raise
    except Exception as exc:  # code that runs on NDArrays only (x.shape, asnumpy(), ...), or too many inputs
        raise _untraceable(block, input_names, exc) from None
    if isinstance(symbol, (list, tuple)):
        symbol = mx.sym.Group(list(_flatten(symbol)))
    # What export() writes: tojson() drops the amp_cast / amp_multicast nodes (GluonCV's box decoder has one) that
    # the live symbol's internals still list, so internals and JSON nodes would no longer line up.
    return mx.sym.load_json(symbol.tojson())


def _flatten(items: Any):
    for item in items:
        if isinstance(item, (list, tuple)):
            yield from _flatten(item)
        else:
            yield item


def graph_from_symbol(
    symbol: Any, params: dict[str, np.ndarray], input_shapes: dict[str, tuple[int, ...]], name: str = "net"
) -> Graph:
    """Build the IR from an MXNet Symbol, inferring every tensor's shape with MXNet itself."""
    graph = graph_from_json(symbol.tojson(), params, input_shapes, name=name)
    attach_shapes(graph, symbol)
    return graph


def attach_shapes(graph: Graph, symbol: Any, shapes: dict[str, tuple[int, ...]] | None = None) -> None:
    """Fill `graph.shapes` from MXNet's shape inference on `symbol` (or given `shapes`) and check the parameters."""
    graph.shapes.update(shapes if shapes is not None else infer_shapes(symbol, graph.inputs, graph.source_names))
    missing = [t for node in graph.nodes for t in node.outputs + node.inputs if t not in graph.shapes]
    if missing:
        raise Gluon2CaffeError(f"shape inference left {len(missing)} tensor(s) unknown, e.g. {missing[:3]}")
    for tensor, shape in graph.shapes.items():
        if tensor in graph.params and tuple(graph.params[tensor].shape) != shape:
            raise ConversionError(
                f"parameter has shape {graph.params[tensor].shape} but the graph needs {shape}", node=tensor
            )
    measure_resampling(graph)  # the only MXNet a converter would otherwise need


def infer_shapes(
    symbol: Any, input_shapes: dict[str, tuple[int, ...]], source_names: list[str] | None
) -> dict[str, tuple[int, ...]]:
    """Every tensor's shape by MXNet's inference ({IR tensor name: shape}; without `source_names`, only checked:
    {}). InputShapeError naming the node whose shape rule refused `input_shapes`, nothing printed."""
    internals = symbol.get_internals()
    shapes = {name: tuple(shape) for name, shape in input_shapes.items()}
    try:
        out_shapes = _infer_quietly(internals, shapes)
    except Exception as exc:  # MXNetError naming the operator whose shape rule failed
        raise _shape_error(symbol, shapes, exc) from None
    if out_shapes is None:
        raise InvalidCallError(f"MXNet could not infer all shapes from inputs {input_shapes}")
    if source_names is None:
        return {}
    names = internal_tensor_names(symbol, source_names)
    return {tensor: tuple(shape) for tensor, shape in zip(names, out_shapes)}


def infer_shape_quietly(symbol: Any, shapes: dict[str, tuple[int, ...]]) -> tuple:
    """`symbol.infer_shape(**shapes)`: (argument, output, auxiliary state shapes), None for those that stay unknown.
    Symbol.infer_shape print()s its arguments on stdout before it re-raises a failure (MXNetError): its
    implementation, without that."""
    return symbol._infer_shape_impl(False, **shapes)


def _infer_quietly(internals: Any, shapes: dict[str, tuple[int, ...]]) -> list | None:
    """The output shapes of `internals` (None when some stay unknown), nothing printed."""
    return infer_shape_quietly(internals, shapes)[1]


def _shape_error(symbol: Any, shapes: dict[str, tuple[int, ...]], exc: BaseException) -> Gluon2CaffeError:
    """The one-line error for shapes MXNet's inference refused (shape_errors.explain)."""
    node, cause = mxnet_failure(str(exc))
    raw_nodes = json.loads(symbol.tojson())["nodes"]
    raw = next((r for r in raw_nodes if r["op"] != "null" and r["name"] == node), None)
    reads = (
        []
        if raw is None
        else [raw_nodes[e[0]]["name"] for e in raw.get("inputs", []) if raw_nodes[e[0]]["op"] == "null"]
    )
    internals = symbol.get_internals()

    def works(variant: dict[str, tuple[int, ...]]) -> bool:
        try:
            return _infer_quietly(internals, variant) is not None
        except Exception:  # refused too
            return False

    # A name MXNet gives that is not a node of the graph is not repeated.
    return explain(shapes, node if raw else None, raw["op"] if raw else None, reads, cause, works)


def _untraceable(block: Any, input_names: list[str], exc: BaseException) -> Gluon2CaffeError:
    """The error for a block whose call on symbols raised `exc`: the line of the model's code where it happened (the
    innermost traceback frame outside MXNet, gluon2caffe and the standard library) and the block running there."""
    frames = []
    tb = exc.__traceback__
    while tb is not None:
        frames.append((tb.tb_frame, tb.tb_lineno))
        tb = tb.tb_next
    user = [(frame, line) for frame, line in frames if _is_model_code(frame.f_code.co_filename)]
    if not user and isinstance(exc, TypeError):  # the call itself: hybrid_forward takes another number of inputs
        return InvalidCallError(f"the network cannot take {len(input_names)} input(s) {input_names}: {exc}")
    name = type(block).__name__
    location = None
    if user:
        frame, line = user[-1]
        owner = frame.f_locals.get("self")
        if owner is not None and hasattr(owner, "collect_params"):  # a Gluon block
            name = type(owner).__name__
        source = linecache.getline(frame.f_code.co_filename, line).strip()
        location = f"{frame.f_code.co_filename}:{line} in {frame.f_code.co_name}" + (f" ({source})" if source else "")
    cause = f"{type(exc).__name__}: {_first_line(exc).rstrip('.')}"
    if type(exc).__name__ == "MXNetError":  # an operator call MXNet refuses, not NDArray-only code
        at = f" at {location}" if location else ""
        return InvalidCallError(f"{name} cannot be traced{at}: MXNet refuses an operator call ({cause})")
    return UntraceableBlockError(name, location, cause)


def _is_model_code(filename: str) -> bool:
    """A file of the model's code: not MXNet's, not ours, not the standard library's (nor a frozen module). Code
    typed at a prompt (<stdin>, <string>, a notebook cell) is the model's."""
    if filename.startswith("<frozen"):
        return False
    if filename.startswith("<"):
        return True
    path = os.path.realpath(filename)
    return not any(path.startswith(root) for root in _library_roots())


@functools.lru_cache(maxsize=1)
def _library_roots() -> tuple[str, ...]:
    import mxnet

    roots = [os.path.dirname(mxnet.__file__), os.path.dirname(os.path.dirname(os.path.abspath(__file__)))]
    roots.append(sysconfig.get_paths()["stdlib"])
    return tuple(os.path.realpath(root) + os.sep for root in roots)


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def internal_tensor_names(symbol: Any, source_names: list[str]) -> list[str]:
    """IR tensor names of `symbol.get_internals()` outputs, in order (variables keep their own names).

    MXNet lists internals node by node in the order of the symbol JSON; `source_names` (the IR's name of each JSON
    node) match them by position, which stays right when MXNet node names repeat. A node's outputs are the run of
    internals MXNet says it owns: they are called `<node>_output`, `<node>_output0`, `<node>_output1`, ... or by
    the op's own names (BatchNorm with output_mean_var: `<node>_output`, `<node>_mean`, `<node>_var`); a run of one
    owner holds several nodes when node names repeat, each starting at `_output` or `_output0`.
    """
    variables = set(symbol.list_arguments()) | set(symbol.list_auxiliary_states())
    internals = symbol.get_internals()
    outputs = internals.list_outputs()
    owners = [internals[i].name for i in range(len(outputs))]
    names, i = [], 0
    for node_name in source_names:
        if i >= len(outputs):
            raise Gluon2CaffeError(f"MXNet's internal outputs do not follow the graph order at {node_name!r}")
        if outputs[i] in variables:
            names.append(outputs[i])
            i += 1
            continue
        owner, index = owners[i], 0
        while i < len(outputs) and owners[i] == owner and outputs[i] not in variables:
            if index and outputs[i] in (f"{owner}_output", f"{owner}_output0"):
                break  # the next node of the same name
            names.append(tensor_name(node_name, index))
            i, index = i + 1, index + 1
    return names


def graph_from_json(
    text: str, params: dict[str, np.ndarray], input_shapes: dict[str, tuple[int, ...]], name: str = "net"
) -> Graph:
    """Parse MXNet symbol JSON into IR nodes (shapes are filled in by the caller)."""
    doc = json.loads(text)
    raw_nodes = doc["nodes"]
    nodes: list[Node] = []
    var_names: dict[int, str] = {}
    num_outputs: dict[int, int] = {}
    source_names = unique_source_names(raw_nodes)
    unique_names: dict[int, str] = {}
    for index, raw in enumerate(raw_nodes):
        op = raw["op"]
        node_name = source_names[index]
        if op == "null":
            var_names[index] = node_name
            continue
        unique_names[index] = node_name
        attrs = Attrs(node_name, op, raw.get("attrs", raw.get("attr", raw.get("param", {}))))
        entries = raw.get("inputs", [])[:1] if op in LOSS_HEAD_OPS else raw.get("inputs", [])  # labels dropped
        inputs = [_input_name(unique_names, var_names, entry) for entry in entries]
        num_outputs[index] = 1
        nodes.append(Node(node_name, op, attrs, inputs, [node_name]))
    # Multi-output nodes: find every output index that is referenced.
    node_by_name = {n.name: n for n in nodes}
    for raw in raw_nodes:
        for entry in raw.get("inputs", []):
            _register_output(unique_names, node_by_name, entry)
    outputs = []
    for entry in doc["heads"]:
        _register_output(unique_names, node_by_name, entry)
        outputs.append(_input_name(unique_names, var_names, entry))
    labels = label_variables(raw_nodes)
    unknown_inputs = [v for v in var_names.values() if v not in params and v not in input_shapes and v not in labels]
    if unknown_inputs:
        raise InvalidCallError(
            f"the graph has inputs without a shape or a parameter value: {unknown_inputs}; "
            f"known inputs: {list(input_shapes)}"
        )
    used_params = {t for n in nodes for t in n.inputs if t in params}
    return Graph(
        nodes=nodes,
        inputs={k: tuple(v) for k, v in input_shapes.items()},
        outputs=outputs,
        params={k: _read_only(v) for k, v in params.items() if k in used_params},
        shapes={},
        name=name,
        source_names=source_names,
    )


def _read_only(value: np.ndarray) -> np.ndarray:
    """A read-only view of a caller's array (no copy): a pass that rewrites a weight (the BatchNorm fold) then works
    on its own copy, never on the model's arrays, so a model converted and then verified is the model it was (an
    in-memory ExportedModel from writeable arrays was folded in place, and its verify compared with changed weights)."""
    if isinstance(value, np.ndarray) and value.flags.writeable:
        value = value.view()
        value.flags.writeable = False
    return value


def label_variables(raw_nodes: list[dict]) -> set[str]:
    """The variables read only as the label of a training head (SoftmaxOutput's `softmax_label`, ...): inference
    never reads them, so they are not data inputs (graph_from_json drops the label edges)."""
    label_uses: dict[int, bool] = {}  # variable index -> every use so far is a label slot
    for raw in raw_nodes:
        for slot, entry in enumerate(raw.get("inputs", [])):
            if raw_nodes[entry[0]]["op"] == "null":
                label = raw["op"] in LOSS_HEAD_OPS and slot >= 1
                label_uses[entry[0]] = label_uses.get(entry[0], True) and label
    return {raw_nodes[i]["name"] for i, only_label in label_uses.items() if only_label}


def unique_source_names(raw_nodes: list[dict]) -> list[str]:
    """A unique name per JSON node: MXNet allows repeated node names (dla34 has them), tensor names may not repeat.
    A repeat becomes NAME_1, NAME_2, ... (variables keep their names)."""
    names: list[str] = []
    taken = {raw["name"] for raw in raw_nodes if raw["op"] == "null"}
    for raw in raw_nodes:
        name = raw["name"]
        if raw["op"] != "null":
            if name in taken:
                k = 1
                while f"{name}_{k}" in taken:
                    k += 1
                name = f"{name}_{k}"
            taken.add(name)
        names.append(name)
    return names


def _input_name(unique_names: dict[int, str], var_names: dict[int, str], entry: list[int]) -> str:
    src, index = entry[0], entry[1]
    if src in var_names:
        return var_names[src]
    return tensor_name(unique_names[src], index)


def _register_output(unique_names: dict[int, str], node_by_name: dict[str, Node], entry: list[int]) -> None:
    src, index = entry[0], entry[1]
    node = node_by_name.get(unique_names.get(src, ""))
    if node is None:
        return
    while len(node.outputs) <= index:
        node.outputs.append(tensor_name(node.name, len(node.outputs)))
