"""Exported models: what `HybridBlock.export()` writes (NAME-symbol.json + NAME-0000.params), loaded safely.

Nothing in either file is executed. The JSON is parsed with `json` and checked node by node before MXNet sees it
(MXNet is used only for shape inference, on a graph already known to be well formed); the params file is read by
our own bounds-checked reader. Every problem is a ModelFileError naming the file and what is wrong.
"""

from __future__ import annotations

import faulthandler
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import Gluon2CaffeError, InputShapeError, ModelFileError
from ..extras import import_mxnet
from .ndarray_file import load_params

log = logging.getLogger(__name__)

PARAM_PREFIXES = ("arg:", "aux:")
MAX_NODES = 1_000_000
MAX_OUTPUT_INDEX = 1024
ATTR_KEYS = ("attrs", "attr", "param")


@dataclass
class ExportedModel:
    """A model as exported files: the validated symbol JSON and its parameters (prefixes stripped)."""

    name: str
    symbol_path: str
    params_path: str
    symbol_json: str
    params: dict[str, np.ndarray]
    classes: list[str] | None = None  # class names given by the user (CLI --classes), for a detector
    # "own": shape inference by our own rules whatever GLUON2CAFFE_SHAPE_INFERENCE=auto would pick (a shipped zoo
    # graph, checked against MXNet's inference when it was written: zoo/graphs.py); None: the setting decides.
    shape_inference: str | None = None

    @property
    def inputs(self) -> list[str]:
        """Variables with no parameter value: the data inputs."""
        from .mxnet_graph import label_variables

        doc = json.loads(self.symbol_json)
        labels = label_variables(doc["nodes"])
        return [
            n["name"]
            for n in doc["nodes"]
            if n["op"] == "null" and n["name"] not in self.params and n["name"] not in labels
        ]

    def symbol(self) -> Any:
        """The MXNet Symbol (for shape inference and reference runs)."""
        mx = import_mxnet("running an exported model in MXNet")

        try:
            return mx.sym.load_json(self.symbol_json)
        except Exception as exc:  # MXNetError for an op or attribute MXNet itself rejects
            raise ModelFileError(self.symbol_path, f"MXNet cannot load this graph: {_first_line(exc)}") from None


SHAPE_INFERENCE_TIMEOUT = 300  # seconds


def infer_exported_shapes(model: ExportedModel, input_shapes: dict, source_names: list[str]) -> dict:
    """Every tensor's shape in the whole exported graph: MXNet's inference in a child process, or our own
    (frontend/shapes: where MXNet does not import, or GLUON2CAFFE_SHAPE_INFERENCE=own). ModelFileError naming the
    symbol file (the params file for a parameter of the wrong shape) when the graph cannot take `input_shapes`."""
    from .mxnet_graph import graph_from_json
    from .shapes import infer_graph_shapes, shape_inference_backend
    from .shapes.registry import ParameterShapeError

    if shape_inference_backend(auto=model.shape_inference) == "mxnet":
        return infer_shapes_isolated(model, input_shapes, source_names)

    def own(shapes: dict) -> dict:  # the whole graph, like MXNet's: a detector's head is cut later (ops of a head
        # we have no rule for: skipped)
        return infer_graph_shapes(graph_from_json(model.symbol_json, model.params, shapes, name=model.name), True)

    try:
        return own(input_shapes)
    except ParameterShapeError as exc:
        raise ModelFileError(model.params_path, str(exc)) from None
    except Gluon2CaffeError as exc:
        error = exc
    # A batch axis forgotten is one line saying so; any other failure names the node and the symbol file.
    batch = _forgotten_batch_axis(model, input_shapes, error, own)
    if batch is not None:
        raise batch from None
    raise ModelFileError(model.symbol_path, str(error)) from None


def _forgotten_batch_axis(model: ExportedModel, input_shapes: dict, error: Gluon2CaffeError, own) -> Any:
    """The InputShapeError of our own inference's failure when a batch axis of 1 in front of the inputs makes it
    succeed (shape_errors.explain), else None."""
    from .shape_errors import explain

    node = getattr(error, "node", None)
    doc = json.loads(model.symbol_json)
    raw = next((r for r in doc["nodes"] if r["op"] != "null" and r["name"] == node), None)
    nodes = doc["nodes"]
    reads = [] if raw is None else [nodes[e[0]]["name"] for e in raw.get("inputs", []) if nodes[e[0]]["op"] == "null"]
    cause = str(error)

    def works(shapes: dict) -> bool:
        try:
            own(shapes)
        except Gluon2CaffeError:
            return False
        return True

    found = explain(dict(input_shapes), node, getattr(error, "op", None), reads, cause, works)
    return found if found.suggestion is not None else None


def infer_shapes_isolated(model: ExportedModel, input_shapes: dict, source_names: list[str]) -> dict:
    """MXNet's shape inference on an untrusted graph, in a forked child process.

    MXNet's C++ graph code trusts its input: a well-formed but hostile graph can crash the process (a fuzzed
    attribute made infer_shape segfault) or run for ever. In a child, a crash or a hang becomes a ModelFileError.
    """
    import select
    import signal

    from .mxnet_graph import infer_shapes

    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        os.close(read_fd)
        faulthandler.disable()  # a crash here is expected and reported by the parent, not dumped on the terminal
        try:
            import mxnet as mx

            shapes = infer_shapes(mx.sym.load_json(model.symbol_json), input_shapes, source_names)
            payload = {"shapes": {k: list(v) for k, v in shapes.items()}}
        except InputShapeError as exc:
            payload = {"error": _node_error(exc), "input_shape": _as_json(exc)}
        except Gluon2CaffeError as exc:
            payload = {"error": str(exc)}
        except BaseException as exc:  # noqa: BLE001 - reported to the parent
            payload = {"error": f"MXNet cannot load this graph: {_first_line(exc)}"}
        with os.fdopen(write_fd, "w") as f:
            f.write(json.dumps(payload))
        os._exit(0)
    os.close(write_fd)
    chunks, deadline = [], time.monotonic() + SHAPE_INFERENCE_TIMEOUT
    with os.fdopen(read_fd, "rb") as f:
        while True:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([f], [], [], max(0.0, left))
            if not ready:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                raise ModelFileError(
                    model.symbol_path, f"MXNet's shape inference did not finish in {SHAPE_INFERENCE_TIMEOUT} s; stopped"
                )
            chunk = os.read(f.fileno(), 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status) or not chunks:
        raise ModelFileError(
            model.symbol_path,
            f"MXNet crashed while reading this graph (signal "
            f"{os.WTERMSIG(status) if os.WIFSIGNALED(status) else 'none'}); the file is malformed",
        )
    payload = json.loads(b"".join(chunks))
    if payload.get("input_shape", {}).get("suggestion") is not None:  # a batch axis forgotten
        raise _from_json(payload["input_shape"])
    if "error" in payload:
        raise ModelFileError(model.symbol_path, payload["error"])
    return {k: tuple(v) for k, v in payload["shapes"].items()}


def _node_error(exc: InputShapeError) -> str:
    """MXNet's refusal of the input shapes, said of the file: the node, its op, why, at which input shapes."""
    where = f"node '{exc.node}' op {exc.op}: " if exc.node is not None else ""
    return f"{where}{exc.reason} (MXNet's shape inference, input shapes {exc.shapes})"


def _as_json(exc: InputShapeError) -> dict:
    return {
        "shapes": exc.shapes,
        "reason": exc.reason,
        "node": exc.node,
        "op": exc.op,
        "suggestion": exc.suggestion,
    }


def _from_json(fields: dict) -> InputShapeError:
    shapes = {k: tuple(v) for k, v in fields["shapes"].items()}
    suggestion = {k: tuple(v) for k, v in fields["suggestion"].items()}
    return InputShapeError(shapes, fields["reason"], fields["node"], fields["op"], suggestion)


def resolve_paths(model: str | Path, epoch: int = 0, params: str | Path | None = None) -> tuple[str, str, str]:
    """(name, symbol path, params path) from a prefix or a -symbol.json path, and an epoch or a params path."""
    model = str(model)
    if model.endswith("-symbol.json"):
        symbol_path, prefix = model, model[: -len("-symbol.json")]
    elif model.endswith(".json"):
        symbol_path, prefix = model, model[: -len(".json")]
    else:
        symbol_path, prefix = f"{model}-symbol.json", model
    params_path = str(params) if params is not None else f"{prefix}-{int(epoch):04d}.params"
    return Path(prefix).name, symbol_path, params_path


def is_exported_model(model: str | Path) -> bool:
    model = str(model)
    return model.endswith(".json") or Path(f"{model}-symbol.json").is_file()


def load_exported(model: str | Path, epoch: int = 0, params: str | Path | None = None) -> ExportedModel:
    """Load NAME-symbol.json + NAME-EPOCH.params (by prefix and epoch, or the two paths)."""
    name, symbol_path, params_path = resolve_paths(model, epoch, params)
    text = _read_text(symbol_path)
    doc = parse_symbol_json(text, symbol_path)
    raw = load_params(params_path)
    values = strip_prefixes(raw, params_path)
    from .mxnet_graph import label_variables

    variables = [n["name"] for n in doc["nodes"] if n["op"] == "null"]
    labels = label_variables(doc["nodes"])
    inputs = [v for v in variables if v not in values and v not in labels]
    if not inputs:
        raise ModelFileError(symbol_path, "every variable has a parameter value: the graph has no data input")
    missing = missing_parameters(doc, inputs)
    if missing:
        raise ModelFileError(
            params_path,
            f"no values for {len(missing)} parameter(s) {missing[:6]}{' ...' if len(missing) > 6 else ''} (graph "
            "variables a layer takes as weights): this file lacks parameters (or belongs to another graph)",
        )
    if len(inputs) > 1:
        log.info("%s: %d data inputs %s", symbol_path, len(inputs), inputs)
    unused = sorted(set(values) - set(variables))
    if unused:
        log.info("%s: %d parameter(s) the graph does not use: %s", params_path, len(unused), unused[:5])
    return ExportedModel(name, symbol_path, params_path, text, {k: v for k, v in values.items() if k in variables})


# Inputs of these ops past the data (index >= 1) are learned parameters, never data; so are variables named like
# Gluon's parameters. A graph variable of either kind without a value is a missing parameter, not a data input.
_WEIGHT_OPS = ("Convolution", "Deconvolution", "FullyConnected", "BatchNorm", "InstanceNorm", "LayerNorm", "Embedding")
_PARAMETER_SUFFIXES = (
    "_weight",
    "_bias",
    "_gamma",
    "_beta",
    "_running_mean",
    "_running_var",
    "_moving_mean",
    "_moving_var",
    "_alpha",
)


def missing_parameters(doc: dict, inputs: list[str]) -> list[str]:
    """The variables among `inputs` (those without a value) that are parameters by their use or their name."""
    nodes = doc["nodes"]
    as_weight = {
        nodes[entry[0]]["name"]
        for node in nodes
        if node["op"] in _WEIGHT_OPS
        for entry in node.get("inputs", [])[1:]
        if nodes[entry[0]]["op"] == "null"
    }
    return [name for name in inputs if name in as_weight or name.endswith(_PARAMETER_SUFFIXES)]


def strip_prefixes(raw: dict[str, np.ndarray], path: str) -> dict[str, np.ndarray]:
    """`arg:`/`aux:` prefixes (export, Module.save_checkpoint) removed; unprefixed names are taken as they are."""
    values: dict[str, np.ndarray] = {}
    for key, value in raw.items():
        name = key.split(":", 1)[1] if key.startswith(PARAM_PREFIXES) else key
        if name in values:
            raise ModelFileError(path, f"parameter {name!r} appears twice (with and without a prefix)")
        values[name] = value
    return values


def check_parameters(values: dict[str, np.ndarray], needed: dict[str, Any], path: str) -> None:
    """ModelFileError naming `path` unless every key of `needed` ({parameter key: the shape the network needs}) is in
    `values` with that shape (trained weights for a zoo model: zoo/loader.py, zoo/graphs.py)."""
    missing = sorted(set(needed) - set(values))
    if missing:
        raise ModelFileError(path, f"{len(missing)} parameter(s) of the network are missing, e.g. {missing[:3]}")
    for key, shape in needed.items():
        if tuple(values[key].shape) != tuple(shape):
            raise ModelFileError(path, f"{key} has shape {values[key].shape}, the network needs {tuple(shape)}")


def _read_text(path: str) -> str:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ModelFileError(path, f"cannot read: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ModelFileError(path, f"not UTF-8 text (byte {exc.start})") from None


def parse_symbol_json(text: str, path: str = "<symbol>") -> dict:
    """Parse and check MXNet symbol JSON: a node list in topological order (so no cycles) with well-formed fields."""
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ModelFileError(path, f"not valid JSON: {_first_line(exc)}") from None
    if not isinstance(doc, dict):
        raise ModelFileError(path, f"expected a JSON object with 'nodes' and 'heads', got {type(doc).__name__}")
    nodes, heads = doc.get("nodes"), doc.get("heads")
    if not isinstance(nodes, list) or not nodes:
        raise ModelFileError(path, "'nodes' must be a non-empty list")
    if len(nodes) > MAX_NODES:
        raise ModelFileError(path, f"{len(nodes)} nodes is more than the {MAX_NODES} supported")
    if not isinstance(heads, list) or not heads:
        raise ModelFileError(path, "'heads' (the outputs) must be a non-empty list")
    names: set[str] = set()
    for index, node in enumerate(nodes):
        _check_node(node, index, len(nodes), names, path)
    for head in heads:
        _check_entry(head, len(nodes), f"head {head!r}", path)
    return doc


def _check_node(node: Any, index: int, count: int, names: set[str], path: str) -> None:
    where = f"node {index}"
    if not isinstance(node, dict):
        raise ModelFileError(path, f"{where} is a {type(node).__name__}, not an object")
    op, name = node.get("op"), node.get("name")
    if not isinstance(op, str) or not op:
        raise ModelFileError(path, f"{where} has no 'op' string")
    if not isinstance(name, str) or not name:
        raise ModelFileError(path, f"{where} ({op}) has no 'name' string")
    where = f"node {index} '{name}' ({op})"
    if name in names:
        raise ModelFileError(path, f"{where}: the name is used by another node")
    names.add(name)
    inputs = node.get("inputs", [])
    if not isinstance(inputs, list):
        raise ModelFileError(path, f"{where}: 'inputs' must be a list")
    if op == "null" and inputs:
        raise ModelFileError(path, f"{where}: a variable cannot have inputs")
    for entry in inputs:
        _check_entry(entry, index, f"{where} input {entry!r}", path)
    for key in ATTR_KEYS:
        if key in node:
            attrs = node[key]
            if not isinstance(attrs, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in attrs.items()
            ):
                raise ModelFileError(path, f"{where}: '{key}' must map attribute names to strings")


def _check_entry(entry: Any, limit: int, where: str, path: str) -> None:
    """[node index, output index(, version)] referring to an earlier node: this also rules out cycles."""
    if not isinstance(entry, list) or len(entry) not in (2, 3) or not all(type(v) is int for v in entry):
        raise ModelFileError(path, f"{where}: expected [node, output(, version)] integers")
    if not 0 <= entry[0] < limit:
        raise ModelFileError(path, f"{where}: refers to node {entry[0]}, not an earlier node (or a cycle)")
    if not 0 <= entry[1] < MAX_OUTPUT_INDEX:
        raise ModelFileError(path, f"{where}: output index {entry[1]} out of range")


def _first_line(exc: BaseException) -> str:
    """The informative line of an exception message (MXNet's start with a C++ traceback)."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    for line in reversed(lines):
        if line.startswith("MXNetError:") or "Check failed" in line:
            return line
    return lines[0] if not lines[0].startswith("Traceback") else lines[-1]
