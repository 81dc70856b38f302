"""Shipped zoo graphs: the traced symbol of each listed zoo model at its default input, so that `convert NAME --params
FILE` (no --verify) needs neither MXNet nor GluonCV.

Building a zoo model means importing MXNet and GluonCV (3 s of CPU on this machine kind, most of it MXNet
registering its operators), for a graph that is always the same: GluonCV 0.10.5 is the last release. A record
(zoo/shipped_graphs/NAME.json.gz, written by scripts/zoo_graphs.py) holds what `models.as_exported` takes from the
live net: the symbol JSON traced in a fresh name scope (the names a new process gives), each parameter's structured
key (`save_parameters`), full name and the shape the network needs, the net's name and its classes. With a record,
the weights go from the params file to the Caffe files exactly as on the traced path: the files are byte-identical
(tests/zoo/test_zoo_graphs.py; scripts/zoo_graphs.py --check compares every record with a fresh trace).

Shape inference on a record's graph is our own (frontend/shapes): scripts/zoo_graphs.py checks, when it writes a
record, that every tensor's shape equals MXNet's on that graph. GLUON2CAFFE_ZOO_GRAPHS=0 turns records off (the
model is then built by GluonCV, as for a name without a record).
"""

from __future__ import annotations

import functools
import gzip
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..frontend.exported import ExportedModel, check_parameters, strip_prefixes
from ..frontend.ndarray_file import load_params

FOLDER = Path(__file__).with_name("shipped_graphs")
INDEX = FOLDER / "index.json"  # {zoo name: "record", or why it has none (the GluonCV-built path)}
FORMAT = 1
ENV = "GLUON2CAFFE_ZOO_GRAPHS"


def record_path(name: str) -> Path:
    return FOLDER / f"{name}.json.gz"


def shipped_record(name: str, input_shape: tuple[int, ...]) -> dict[str, Any] | None:
    """The record of zoo model `name` built at `input_shape`, None where there is none (another input shape, a name
    without a record, records turned off)."""
    if os.environ.get(ENV, "1").strip() == "0":
        return None
    path = record_path(name)
    if "/" in name or not path.is_file():
        return None
    record = _read(path)
    if record.get("format") != FORMAT or record["name"] != name or tuple(record["input_shape"]) != tuple(input_shape):
        return None
    return record


def record_for(
    name: str, input_shape: tuple[int, ...], params: str | None, classes: list[str] | None, live: bool
) -> dict[str, Any] | None:
    """The record a zoo-name conversion reads instead of building the net: one with trained weights (`params`), no
    reference run (not `live`), no class names of the user's, at the record's input shape; None otherwise."""
    if live or not params or classes is not None:
        return None
    return shipped_record(name, input_shape)


@functools.lru_cache(maxsize=4)
def _read(path: Path) -> dict[str, Any]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return json.load(f)


def exported_from_record(record: dict[str, Any], path: str) -> ExportedModel:
    """The model of `record` with the trained values of the params file `path` (views of its bytes), checked as
    models.as_exported checks them: every parameter of the network present, with the shape the network needs."""
    values = strip_prefixes(load_params(path), path)
    entries = record["params"]  # [structured key, full name, needed shape, dtype, used by the graph]
    structured = {key: (name, shape, dtype, used) for key, name, shape, dtype, used in entries}
    by_name = {name: (name, shape, dtype, used) for _key, name, shape, dtype, used in entries}
    table = structured if set(values) & set(structured) else by_name
    check_parameters(values, {key: shape for key, (_name, shape, _dtype, _used) in table.items()}, path)
    weights = {
        name: values[key] if values[key].dtype == np.dtype(dtype) else values[key].astype(dtype)
        for key, (name, _shape, dtype, used) in table.items()
        if used
    }
    model = ExportedModel(record["net_name"], f"{record['net_name']} (traced)", path, record["symbol"], weights)
    model.classes = record["classes"]
    model.shape_inference = "own"  # checked against MXNet's on this graph when the record was written
    return model


def trace_record(name: str, input_shape: tuple[int, ...]) -> dict[str, Any] | None:
    """A fresh record of zoo model `name` at `input_shape`: built by GluonCV in a fresh name scope (the names a new
    process gives: vgg0_, not vgg7_) and traced; None for a net that cannot be traced symbolically."""
    import mxnet as mx

    from .loader import build_zoo_net

    with mx.name.NameManager():
        return make_record(name, input_shape, build_zoo_net(name, input_shape))


def make_record(name: str, input_shape: tuple[int, ...], net: Any) -> dict[str, Any] | None:
    """The record of a freshly built, initialized zoo net (built in a fresh name scope), or None for a net that
    cannot be traced symbolically or whose graph has variables that are not its parameters (the live path)."""
    from .loader import class_names, net_name, parameter_trace

    traced = parameter_trace(net, input_shape)
    if traced is None:
        return None
    symbol, shapes = traced
    params = [
        [key, p.name, list(shapes.get(p.name, p.shape)), np.dtype(p.dtype).name, p.name in shapes]
        for key, p in net._collect_params_with_prefix().items()
    ]
    return {
        "format": FORMAT,
        "name": name,
        "input_shape": list(input_shape),
        "net_name": net_name(net),
        "symbol": _without_initializers(symbol.tojson()),
        "params": params,
        "classes": class_names(net),
    }


def _without_initializers(symbol_json: str) -> str:
    """The graph without `__init__` attributes: an initializer's repr (SSD's FeatureExpander writes `<mxnet.initializer
    .Xavier object at 0x7f...>` on its variables and ops) differs from process to process and means nothing to a
    conversion."""
    graph = json.loads(symbol_json)
    for node in graph["nodes"]:
        for key in ("attrs", "attr"):
            if isinstance(node.get(key), dict):
                node[key].pop("__init__", None)
    return json.dumps(graph, indent=2)


def write_record(record: dict[str, Any], folder: Path = FOLDER) -> Path:
    """Write `record` as folder/NAME.json.gz (gzip without a timestamp: the same record gives the same bytes)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{record['name']}.json.gz"
    data = json.dumps(record, separators=(",", ":"), sort_keys=True).encode()
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=9, mtime=0, filename="") as f:
        f.write(data)
    os.replace(tmp, path)
    return path
