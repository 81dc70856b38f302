"""The public API: convert_model, convert_ssd_model, convert_yolo_model, convert; save_model (caffe/io.py)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable


from .caffe.io import save_model  # noqa: F401  (public, re-exported)
from .converters.emit import CaffeModel, EmitOptions, build_nets, check_supported, emit_layers
from .errors import ConversionError, InvalidCallError, ModelFileError
from .converters.clip import RELU6_MODES
from .frontend.exported import ExportedModel, infer_shapes_isolated
from .frontend.mxnet_graph import attach_shapes, graph_from_json, trace_block
from .ir.graph import Graph
from .passes import PassReport, run_passes
from .caffe import caffe_pb2 as pb

log = logging.getLogger(__name__)


@dataclass
class ConversionResult:
    """Everything a conversion produced, for callers that want more than the two nets (the CLI, verification)."""

    text_net: pb.NetParameter
    binary_weights: CaffeModel  # a NetParameter streamed from numpy (see emit.CaffeModel)
    graph: Graph
    report: PassReport
    seconds: float
    source_nodes: int  # operator nodes in the MXNet graph, before the passes
    detection: Any = None  # SSD: the AnchorReport (how the anchors were written)
    head: Any = None  # SSD: the SSDHead read from the network
    stages: dict[str, float] = field(default_factory=dict)  # seconds per stage (trace + shapes, passes, emission)

    @property
    def num_parameters(self) -> int:
        return self.binary_weights.num_parameters


def convert_model(
    net: Any,
    input_shape: tuple[int, ...] = (1, 3, 224, 224),
    softmax: bool = False,
    to_bgr: bool = True,
    merge_bn: bool = True,
    *,
    input_name: str = "data",
    relu6: str = "exact",
) -> tuple[pb.NetParameter, CaffeModel]:
    """Convert a Gluon HybridBlock (or an exported model from `load_exported`) to Caffe.

    Returns (text_net, binary_weights): a caffe NetParameter, and a CaffeModel (a NetParameter streamed from the
    weight arrays: SerializeToString() gives the same bytes protobuf would, and attribute access parses it).

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
    from .detectors.ssd_read import is_ssd
    from .detectors.yolo_read import is_yolo

    if is_ssd(net) or is_yolo(net):
        kind = "SSD" if is_ssd(net) else "YOLOv3"
        if softmax:
            raise InvalidCallError(f"softmax=True does not apply to a {kind}: its DetectionOutput scores the classes")
        log.info("%s is a GluonCV %s: converting it as a detector", getattr(net, "name", "the network"), kind)
        detector = convert_ssd if kind == "SSD" else convert_yolo
        return detector(net, input_shape, to_bgr, merge_bn, input_name=input_name, relu6=relu6)
    input_shape = _check_input_shape(input_shape)
    _check_options(relu6, input_name)
    start = time.perf_counter()
    if isinstance(net, ExportedModel):
        graph = _read_exported(net, input_shape, input_name)
    else:
        symbol, params = trace_block(net, input_shape, input_name)
        name = getattr(net, "name", None) or type(net).__name__
        graph = graph_from_json(symbol.tojson(), params, {input_name: input_shape}, name=name)
        del params  # the graph holds the arrays; a fold then frees each original (peak memory ~1x the weights)
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
    stages = {"trace + shapes": time.perf_counter() - start}
    source_nodes = len(graph.nodes)
    t = time.perf_counter()
    report = run_passes(graph, input_name, merge_bn=merge_bn, to_bgr=to_bgr, softmax=softmax)
    stages["passes"] = time.perf_counter() - t
    t = time.perf_counter()
    ctx = emit_layers(graph, EmitOptions(relu6=relu6))
    text_net, binary_net = build_nets(graph, ctx)
    stages["emission"] = time.perf_counter() - t
    seconds = time.perf_counter() - start
    log.info("converted %s: %d Caffe layers in %.2f s", graph.name, len(text_net.layer), seconds)
    return ConversionResult(text_net, binary_net, graph, report, seconds, source_nodes, stages=stages)


def convert_ssd_model(
    net: Any,
    input_shape: tuple[int, ...] = (1, 3, 512, 512),
    to_bgr: bool = True,
    merge_bn: bool = True,
    *,
    input_name: str = "data",
    relu6: str = "exact",
    anchors: str = "exact",
    nms: bool = True,
) -> tuple[pb.NetParameter, CaffeModel]:
    """Convert a GluonCV SSD to caffe-ssd: backbone and heads, anchors, and a DetectionOutput layer.

    The net's output `detection_out` has rows [image_id, label, score, xmin, ymin, xmax, ymax]: label is GluonCV's
    class id + 1 (0 is background), coordinates are normalized to [0, 1] (multiply by the input width/height for
    GluonCV's pixels), rows are grouped by label; an image without detections gives one row of -1s.
    anchors: 'exact' (default: PriorBox layers where they reproduce the net's anchors in every runtime, otherwise the
    anchors as a constant blob), 'priorbox' (always PriorBox; warns with the largest deviation when not exact) or
    'constant'. nms=False stops before DetectionOutput: outputs mbox_loc, mbox_conf_flatten (softmax) and
    mbox_priorbox, for runtimes without caffe-ssd layers.
    """
    result = convert_ssd(
        net, input_shape, to_bgr, merge_bn, input_name=input_name, relu6=relu6, anchors=anchors, nms=nms
    )
    return result.text_net, result.binary_weights


def convert_ssd(
    net: Any,
    input_shape: tuple[int, ...] = (1, 3, 512, 512),
    to_bgr: bool = True,
    merge_bn: bool = True,
    *,
    input_name: str = "data",
    relu6: str = "exact",
    anchors: str = "exact",
    nms: bool = True,
) -> ConversionResult:
    """convert_ssd_model with the full result; `result.detection` says how the anchors were written."""
    from .detectors.ssd_layers import CONF, LOC, emit_ssd_head, plan_anchors
    from .detectors.ssd_read import is_ssd, read_ssd

    input_shape = _check_input_shape(input_shape)
    _check_options(relu6, input_name)
    if not is_ssd(net):
        raise InvalidCallError(
            f"convert_ssd_model expects a GluonCV SSD, got {type(net).__module__}.{type(net).__name__}"
        )
    start = time.perf_counter()
    block, head, num_features = read_ssd(net, input_shape)
    report = plan_anchors(head, anchors)
    features: list[str] = []

    def name_outputs(graph: Graph) -> None:
        graph.rename_tensor(graph.outputs[0], LOC)
        graph.rename_tensor(graph.outputs[1], CONF)
        features.extend(graph.outputs[2 : 2 + num_features])

    def tail(ctx: Any) -> list[str]:
        outputs = emit_ssd_head(ctx, head, features, input_name, report, nms)
        names = {layer.proto.name for layer in ctx.layers}
        for layer in ctx.layers:  # caffe-ssd's usual names; OpenCV also looks blobs up by layer name
            if list(layer.proto.top) in ([LOC], [CONF]) and layer.proto.top[0] not in names:
                layer.proto.name = layer.proto.top[0]
        return outputs

    result = _convert_detector(net, block, input_shape, input_name, to_bgr, merge_bn, relu6, start, name_outputs, tail)
    result.detection, result.head = report, head
    log.info("converted SSD %s in %.2f s; %s", net.name, result.seconds, report.describe())
    return result


def _convert_detector(
    net: Any,
    block: Any,
    input_shape: tuple[int, ...],
    input_name: str,
    to_bgr: bool,
    merge_bn: bool,
    relu6: str,
    start: float,
    name_outputs: Callable[[Graph], None],
    tail: Callable[[Any], list[str]],
) -> ConversionResult:
    """A detector's traced prediction `block` through the passes and emission; `tail` appends its head layers."""
    import mxnet as mx

    with mx.name.NameManager():  # fresh op counters: the same net gives the same layer names every time
        symbol, params = trace_block(block, input_shape, input_name)
    graph = graph_from_json(symbol.tojson(), params, {input_name: input_shape}, name=net.name)
    del params  # see convert()
    check_supported(graph)
    attach_shapes(graph, symbol)
    stages = {"trace + shapes": time.perf_counter() - start}
    name_outputs(graph)
    source_nodes = len(graph.nodes)
    t = time.perf_counter()
    passes = run_passes(graph, input_name, merge_bn=merge_bn, to_bgr=to_bgr, softmax=False)
    stages["passes"] = time.perf_counter() - t
    t = time.perf_counter()
    ctx = emit_layers(graph, EmitOptions(relu6=relu6), tail=tail)
    text_net, binary_net = build_nets(graph, ctx)
    stages["emission"] = time.perf_counter() - t
    seconds = time.perf_counter() - start
    return ConversionResult(text_net, binary_net, graph, passes, seconds, source_nodes, stages=stages)


def convert_yolo_model(
    net: Any,
    input_shape: tuple[int, ...] = (1, 3, 416, 416),
    to_bgr: bool = True,
    merge_bn: bool = True,
    *,
    input_name: str = "data",
    relu6: str = "exact",
    nms: bool = True,
) -> tuple[pb.NetParameter, CaffeModel]:
    """Convert a GluonCV YOLOv3 to Caffe: backbone, heads, the decoding from exact layers, and DetectionOutput.

    `detection_out` rows are [image_id, label, score, xmin, ymin, xmax, ymax] with label = GluonCV's class id + 1
    (as in the SSD path) and coordinates normalized to [0, 1], grouped by label; no detection gives a row of -1s.
    nms=False stops before DetectionOutput: outputs yolo_boxes (B, N*4; pixel corners) and yolo_scores (B, N*C).
    """
    result = convert_yolo(net, input_shape, to_bgr, merge_bn, input_name=input_name, relu6=relu6, nms=nms)
    return result.text_net, result.binary_weights


def convert_yolo(
    net: Any,
    input_shape: tuple[int, ...] = (1, 3, 416, 416),
    to_bgr: bool = True,
    merge_bn: bool = True,
    *,
    input_name: str = "data",
    relu6: str = "exact",
    nms: bool = True,
) -> ConversionResult:
    """convert_yolo_model with the full result (`result.head` is the YOLOHead read from the network)."""
    from .detectors.yolo_layers import emit_yolo_head
    from .detectors.yolo_read import is_yolo, read_yolo

    input_shape = _check_input_shape(input_shape)
    _check_options(relu6, input_name)
    if not is_yolo(net):
        raise InvalidCallError(
            f"convert_yolo_model expects a GluonCV YOLOv3, got {type(net).__module__}.{type(net).__name__}"
        )
    start = time.perf_counter()
    block, head = read_yolo(net, input_shape)
    predictions: list[str] = []

    def tail(ctx: Any) -> list[str]:
        return emit_yolo_head(ctx, head, predictions, input_name, nms)

    result = _convert_detector(
        net,
        block,
        input_shape,
        input_name,
        to_bgr,
        merge_bn,
        relu6,
        start,
        lambda g: predictions.extend(g.outputs),
        tail,
    )
    result.head = head
    log.info("converted YOLOv3 %s: %d Caffe layers in %.2f s", net.name, len(result.text_net.layer), result.seconds)
    return result


def _check_options(relu6: str, input_name: str) -> None:
    if relu6 not in RELU6_MODES:
        raise InvalidCallError(f"relu6={relu6!r}; expected one of {RELU6_MODES}")
    if not isinstance(input_name, str) or not input_name:
        raise InvalidCallError(f"input_name must be a non-empty string, got {input_name!r}")


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
