"""The public API: convert_model, convert_ssd_model, save_model (same signatures as the original tool)."""

from __future__ import annotations

import logging
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from google.protobuf import text_format

from .emit import EmitOptions, build_nets, check_supported, emit_layers
from .errors import ConversionError, InvalidCallError, ModelFileError
from .converters.clip import RELU6_MODES
from .frontend.exported import ExportedModel, infer_shapes_isolated
from .frontend.mxnet_graph import attach_shapes, graph_from_json, trace_block
from .ir import Graph
from .passes import PassReport, run_passes
from .proto import caffe_pb2 as pb

log = logging.getLogger(__name__)


@dataclass
class ConversionResult:
    """Everything a conversion produced, for callers that want more than the two nets (the CLI, verification)."""

    text_net: pb.NetParameter
    binary_weights: pb.NetParameter
    graph: Graph
    report: PassReport
    seconds: float
    source_nodes: int  # operator nodes in the MXNet graph, before the passes

    @property
    def num_parameters(self) -> int:
        return sum(len(blob.data) for layer in self.binary_weights.layer for blob in layer.blobs)


def convert_model(
    net: Any,
    input_shape: tuple[int, ...] = (1, 3, 224, 224),
    softmax: bool = False,
    to_bgr: bool = True,
    merge_bn: bool = True,
    *,
    input_name: str = "data",
    relu6: str = "exact",
) -> tuple[pb.NetParameter, pb.NetParameter]:
    """Convert a Gluon HybridBlock (or an exported model from `load_exported`) to Caffe.

    Returns (text_net, binary_weights), both caffe NetParameter messages.

    text_net has no weights (write it as .prototxt), binary_weights the same layers with their blobs (.caffemodel).
    relu6: how clip(0, 6) is written: 'exact' (BVLC layers, default), 'layer' (a ReLU6 layer, for OpenCV/ncnn and
    forks that have one) or 'relu' (the original tool's lossy plain ReLU; logs a warning).
    """
    result = convert(net, input_shape, softmax, to_bgr, merge_bn, input_name=input_name, relu6=relu6)
    return result.text_net, result.binary_weights


def convert(
    net: Any,
    input_shape: tuple[int, ...] = (1, 3, 224, 224),
    softmax: bool = False,
    to_bgr: bool = True,
    merge_bn: bool = True,
    *,
    input_name: str = "data",
    relu6: str = "exact",
) -> ConversionResult:
    """convert_model with the full result (IR graph, pass report, time)."""
    input_shape = _check_input_shape(input_shape)
    if relu6 not in RELU6_MODES:
        raise InvalidCallError(f"relu6={relu6!r}; expected one of {RELU6_MODES}")
    if not isinstance(input_name, str) or not input_name:
        raise InvalidCallError(f"input_name must be a non-empty string, got {input_name!r}")
    start = time.perf_counter()
    if isinstance(net, ExportedModel):
        graph = _read_exported(net, input_shape, input_name)
    else:
        symbol, params = trace_block(net, input_shape, input_name)
        name = getattr(net, "name", None) or type(net).__name__
        graph = graph_from_json(symbol.tojson(), params, {input_name: input_shape}, name=name)
        check_supported(graph)  # before any work: every unsupported op at once
        attach_shapes(graph, symbol)
    return convert_graph(graph, input_name, softmax, to_bgr, merge_bn, relu6, start)


def _read_exported(model: ExportedModel, input_shape: tuple[int, ...], input_name: str) -> Graph:
    inputs = model.inputs
    if len(inputs) != 1:
        raise InvalidCallError(f"{model.symbol_path}: expected one data input, found {len(inputs)}: {inputs}")
    var = inputs[0]
    graph = graph_from_json(model.symbol_json, model.params, {var: input_shape}, name=model.name)
    check_supported(graph)  # before any work (and before MXNet parses the graph): every unsupported op at once
    try:
        attach_shapes(graph, None, infer_shapes_isolated(model, graph.inputs, graph.source_names))
    except ConversionError as exc:  # a parameter whose shape the graph does not take
        raise ModelFileError(model.params_path, str(exc)) from None
    if var != input_name:
        graph.rename_tensor(var, input_name)
    return graph


def convert_graph(
    graph: Graph, input_name: str, softmax: bool, to_bgr: bool, merge_bn: bool, relu6: str, start: float
) -> ConversionResult:
    """Passes and emission on a graph whose ops are supported and whose shapes are known."""
    source_nodes = len(graph.nodes)
    report = run_passes(graph, input_name, merge_bn=merge_bn, to_bgr=to_bgr, softmax=softmax)
    ctx = emit_layers(graph, EmitOptions(relu6=relu6))
    text_net, binary_net = build_nets(graph, ctx)
    seconds = time.perf_counter() - start
    log.info("converted %s: %d Caffe layers in %.2f s", graph.name, len(text_net.layer), seconds)
    return ConversionResult(text_net, binary_net, graph, report, seconds, source_nodes)


def convert_ssd_model(*args: Any, **kwargs: Any) -> tuple[pb.NetParameter, pb.NetParameter]:
    """Convert a GluonCV SSD detector to caffe-ssd (PriorBox + DetectionOutput). Not implemented yet."""
    raise NotImplementedError(
        "convert_ssd_model is not implemented yet (SSD support: PriorBox + DetectionOutput is planned); "
        "convert_model converts SSD backbones and heads without the detection post-processing"
    )


def _check_input_shape(input_shape: Any) -> tuple[int, ...]:
    try:
        shape = tuple(int(d) for d in input_shape)
    except (TypeError, ValueError):
        raise InvalidCallError(f"input_shape must be a tuple of ints, got {input_shape!r}") from None
    if len(shape) != 4:
        raise InvalidCallError(f"input_shape must be (batch, channels, height, width), got {shape} ({len(shape)}-D)")
    if any(d <= 0 for d in shape):
        raise InvalidCallError(f"input_shape must be positive, got {shape}")
    return shape


def save_model(
    text_net: pb.NetParameter, binary_weights: pb.NetParameter, prefix: str | os.PathLike
) -> tuple[str, str]:
    """Write PREFIX.prototxt and PREFIX.caffemodel, creating folders; both files are written atomically.

    Both files are written to temporary files first and only then moved into place, so a failure leaves no
    half-written file and does not clobber a previous good pair. Returns the two paths.
    """
    prefix = Path(prefix)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    prototxt = prefix.parent / (prefix.name + ".prototxt")
    caffemodel = prefix.parent / (prefix.name + ".caffemodel")
    text = text_format.MessageToString(text_net).encode()
    binary = binary_weights.SerializeToString()
    temps = []
    try:
        for data, final in ((text, prototxt), (binary, caffemodel)):
            fd, tmp = tempfile.mkstemp(dir=prefix.parent, prefix=f".{final.name}.", suffix=".tmp")
            temps.append(tmp)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        os.replace(temps[0], prototxt)
        os.replace(temps[1], caffemodel)
    finally:
        for tmp in temps:
            if os.path.exists(tmp):
                os.unlink(tmp)
    log.info("saved %s (%d bytes) and %s (%d bytes)", prototxt, len(text), caffemodel, len(binary))
    return str(prototxt), str(caffemodel)
