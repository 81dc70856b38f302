"""The symbol-model sweep: symbol-API networks built from their authors' definitions (zoo/symbol_nets.py), given live
random weights, saved as a classic checkpoint (PREFIX-symbol.json + PREFIX-0000.params with arg:/aux: names, as
Module.save_checkpoint writes), converted through the public path (load_exported -> convert) with both shape
inferences (MXNet's and our own rules: the bytes must be identical, as on Python 3.12/3.13 without MXNet), and
verified in the real Caffe end to end and layer by layer (verification.verify, layers='local').

Developer tooling, not API: `check_symbol_net` is the single check behind scripts/symbol_models.py (`make symbols`,
docs/symbol_models.md) and tests/zoo/test_symbol_models.py.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ..errors import Gluon2CaffeError
from .symbol_nets import SymbolNet

log = logging.getLogger(__name__)

SEED = 0


@dataclass
class SymbolResult:
    model: str
    family: str
    input_shape: tuple[int, ...]
    source: str
    status: str = "error"  # exact | exact by layer | mismatch | not conclusive | refused | error (verification.judge)
    relative: float | None = None  # end to end, the worst output
    max_abs: float | None = None
    local: float | None = None  # the largest segment error (relative) of the layer-local check
    local_segments: int | None = None
    local_worst: str = ""
    layers: int | None = None
    own_shapes_identical: bool | None = None  # our own shape rules wrote the same bytes as MXNet's inference
    convert_seconds: float | None = None
    seconds: float | None = None  # the whole check: build, random weights, both conversions, verification
    message: str = ""
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        row = asdict(self)
        row["input_shape"] = list(self.input_shape)
        return row


def random_checkpoint(net: SymbolNet, prefix: str, seed: int = SEED) -> str:
    """Build `net`, give it live random weights and save it as Module.save_checkpoint does: PREFIX-symbol.json and
    PREFIX-0000.params with arg:/aux: names. Returns the prefix.

    The recipe of zoo.randomize, on the symbol itself (so the statistics are taken on the input distribution the
    network is checked on: face nets normalize raw 0-255 pixels inside the symbol): He-normal weights, gamma
    U(0.5, 1.5) (fix_gamma layers too, so ignoring fix_gamma shows), beta N(1, 0.2), biases N(0, 0.1), PReLU slopes
    U(0.05, 0.3); BatchNorm statistics from one training-mode pass (each BatchNorm normalizes with its batch
    statistics, which is what it computes at inference once they are stored), floored and perturbed; a network
    without BatchNorm gets each Convolution / FullyConnected scaled to unit output variance (LSUV)."""
    import mxnet as mx

    from .randomize import _random_value

    rng = np.random.RandomState(seed)
    symbol = net.build()
    nodes = json.loads(symbol.tojson())["nodes"]
    arg_shapes, _, aux_shapes = symbol.infer_shape(data=net.input_shape)
    slopes = {nodes[n["inputs"][1][0]]["name"] for n in nodes if n["op"] == "LeakyReLU" and len(n["inputs"]) > 1}
    params = {}
    for name, shape in zip(symbol.list_arguments(), arg_shapes):
        if name == "data" or name.endswith("_label"):
            continue  # inputs: the data, a training head's label (Module.save_checkpoint saves neither)
        value = rng.uniform(0.05, 0.3, shape) if name in slopes else _random_value(name, shape, rng)
        params[name] = mx.nd.array(value if value is not None else rng.normal(0, 0.1, shape))
    aux = {
        name: mx.nd.zeros(shape) if name.endswith("mean") else mx.nd.ones(shape)
        for name, shape in zip(symbol.list_auxiliary_states(), aux_shapes)
    }
    sample = mx.nd.array(model_input(net, (STATS_BATCH,) + tuple(net.input_shape[1:]), rng))
    if any(n["op"] == "BatchNorm" for n in nodes):
        _batchnorm_statistics(symbol, nodes, params, aux, sample, rng)
    else:
        _unit_variance(symbol, nodes, params, sample)
    saved = {"arg:" + name: value for name, value in params.items()}
    saved.update({"aux:" + name: value for name, value in aux.items()})
    symbol.save(f"{prefix}-symbol.json")
    mx.nd.save(f"{prefix}-0000.params", saved)
    return prefix


STATS_BATCH = 4


def model_input(net: SymbolNet, shape: tuple[int, ...], rng: np.random.RandomState) -> np.ndarray:
    """What the network is fed: raw pixels U(0, 255) for nets that normalize inside the symbol, else both-sign
    normal noise."""
    if net.pixels:
        return rng.uniform(0, 255, shape).astype(np.float32)
    return rng.normal(0, 1, shape).astype(np.float32)


def _batchnorm_statistics(symbol, nodes: list, params: dict, aux: dict, sample, rng: np.random.RandomState) -> None:
    """Every BatchNorm's running statistics from its own input in one training-mode pass, floored and perturbed as
    zoo.randomize does. The pass gets copies: MXNet's training-mode BatchNorm overwrites a fix_gamma gamma with 1."""
    import mxnet as mx

    from .randomize import _bind_plain, _final_statistics

    internals = symbol.get_internals()
    targets, stats = [], []
    for node in nodes:
        if node["op"] != "BatchNorm":
            continue
        source = nodes[node["inputs"][0][0]]
        targets.append(internals[source["name"] + "_output" if source["op"] != "null" else source["name"]])
        stats.append((nodes[node["inputs"][3][0]]["name"], nodes[node["inputs"][4][0]]["name"]))
    group = mx.sym.load_json(mx.sym.Group(targets).tojson())
    args = {n: sample if n == "data" else params[n].copy() for n in group.list_arguments()}
    outs = _bind_plain(group, args, {n: aux[n].copy() for n in group.list_auxiliary_states()}).forward(is_train=True)
    for (mean_name, var_name), out in zip(stats, outs):
        x = out.asnumpy().astype(np.float64)
        others = (0,) + tuple(range(2, x.ndim))
        mean, var = _final_statistics(x.mean(axis=others), x.var(axis=others), rng)
        aux[mean_name], aux[var_name] = mx.nd.array(mean), mx.nd.array(var)


def _unit_variance(symbol, nodes: list, params: dict, sample) -> None:
    """LSUV for a symbol without BatchNorm (AlexNet, VGG, GoogLeNet): scale each Convolution / FullyConnected, in
    graph order, so its output has unit standard deviation on the sample. (With He-normal weights alone GoogLeNet's
    softmax saturated: a second input moved it by 0.3%, not conclusive.)"""
    from .randomize import _bind_plain

    internals = symbol.get_internals()
    for node in nodes:
        if node["op"] not in ("Convolution", "FullyConnected"):
            continue
        layer = internals[node["name"] + "_output"]
        args = {n: sample if n == "data" else params[n] for n in layer.list_arguments()}
        std = float(_bind_plain(layer, args, {}).forward(is_train=False)[0].asnumpy().std())
        if np.isfinite(std) and std > 1e-8:
            for suffix in ("_weight", "_bias"):
                if node["name"] + suffix in params:
                    params[node["name"] + suffix] = params[node["name"] + suffix] / std


def check_symbol_net(net: SymbolNet, folder: str | None = None) -> SymbolResult:
    """Build, randomize, save, convert (both shape inferences) and verify one network; a refusal or failure is the
    row's result (the converter's own one-line error), never an exception."""
    result = SymbolResult(net.name, net.family, net.input_shape, net.source, note=net.note)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="gluon2caffe-symbols-") as tmp:
        try:
            _check(net, folder or tmp, result)
        except Gluon2CaffeError as exc:
            from .sweep import refusal_text

            result.status, result.message = "refused", refusal_text(exc)
        except Exception as exc:  # noqa: BLE001 - one network's failure is a row in the table, not the end of the run
            log.exception("%s failed", net.name)
            first = str(exc).splitlines()[0] if str(exc) else ""
            result.status, result.message = "error", f"{type(exc).__name__}: {first}"
    result.seconds = round(time.perf_counter() - start, 1)
    return result


def _check(net: SymbolNet, folder: str, result: SymbolResult) -> None:
    from ..api import convert
    from ..caffe.io import save_model
    from ..frontend.exported import load_exported
    from ..verification import verify

    prefix = random_checkpoint(net, os.path.join(folder, net.name))
    model = load_exported(prefix)
    conversion = convert(model, net.input_shape, to_bgr=True, merge_bn=True)
    result.convert_seconds = round(conversion.seconds, 2)
    result.layers = len(conversion.text_net.layer)
    prototxt, caffemodel = save_model(conversion.text_net, conversion.binary_weights, prefix + "-caffe")
    result.own_shapes_identical = _own_shapes_identical(prefix, net, prototxt, caffemodel)
    x = model_input(net, net.input_shape, np.random.RandomState(SEED + 1))
    verified = verify(prototxt, caffemodel, load_exported(prefix), input=x, layers="local")
    worst = max(verified.outputs.values(), key=lambda c: c.relative)
    result.relative, result.max_abs = float(worst.relative), float(worst.max_abs)
    local = verified.local
    if local is not None and local.segments:
        bad = max(local.segments, key=lambda s: s.comparison.relative)
        result.local, result.local_worst = float(bad.comparison.relative), bad.node
        result.local_segments = len(local.segments)
    result.status, result.message = verified.status, verified.reason


def _own_shapes_identical(prefix: str, net: SymbolNet, prototxt: str, caffemodel: str) -> bool:
    """Convert again with our own shape rules (as on Python 3.12/3.13, where MXNet does not import): the same
    prototxt and caffemodel bytes."""
    from ..api import convert
    from ..caffe.io import save_model
    from ..frontend.exported import load_exported

    model = load_exported(prefix)
    model.shape_inference = "own"
    again = convert(model, net.input_shape, to_bgr=True, merge_bn=True)
    own = save_model(again.text_net, again.binary_weights, prefix + "-own")
    return all(_read(mine) == _read(theirs) for mine, theirs in zip((prototxt, caffemodel), own))


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()
