"""The public API: convert_model, convert_ssd_model, convert_yolo_model and convert (the full result); save_model
lives with the Caffe files (caffe/io.py). Every function here builds a ConvertOptions (and, for a detector,
DetectorOptions) and runs the one pipeline, `convert_with`: read -> passes -> emit (docs/architecture.md)."""

from __future__ import annotations

import functools
import logging
import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable

import numpy as np

from .caffe import caffe_pb2 as pb
from .caffe.io import save_model  # noqa: F401  (public, re-exported)
from .converters.clip import RELU6_MODES
from .converters.context import TARGETS
from .converters.emit import CaffeModel, EmitOptions, build_nets, check_supported, emit_layers
from .detectors import SSD_DETECTOR, YOLO_DETECTOR, Detector, DetectorOptions, detector_for
from .detectors.base import DetectorHead, classes_of
from .errors import ConversionError, InvalidCallError, ModelFileError
from .frontend.exported import ExportedModel
from .frontend.load import load_graph
from .frontend.outputs import select_outputs
from .frontend.mxnet_graph import attach_shapes
from .ir.graph import Graph
from .ir.preprocess import PRESETS, Preprocess
from .ir.weights import check_weights
from .passes import PassReport, run_passes

log = logging.getLogger(__name__)

# One shape (a tuple of ints), {name: shape} (several named inputs) or a list of shapes (several inputs in order).
InputShape = Any


@dataclass
class ConversionResult:
    """Everything a conversion produced, for callers that want more than the two nets (the CLI, verification)."""

    text_net: pb.NetParameter
    binary_weights: CaffeModel  # a NetParameter streamed from numpy (see caffe/caffemodel.py)
    graph: Graph
    report: PassReport
    seconds: float
    source_nodes: int  # operator nodes in the MXNet graph, before the passes
    detection: Any = None  # a detector's planning report (SSD: the AnchorReport, how the anchors were written)
    head: Any = None  # a detector's head read from the network (SSDHead, YOLOHead)
    stages: dict[str, float] = field(default_factory=dict)  # seconds per stage (trace + shapes, passes, emission)
    detector: Detector | None = None  # the detector family, None for any other network
    options: ConvertOptions | None = None  # the checked options it was converted with
    # output blob -> shape (None: rows vary)
    output_shapes: dict[str, tuple[int, ...] | None] = field(default_factory=dict)

    @property
    def num_parameters(self) -> int:
        return self.binary_weights.num_parameters


@dataclass(frozen=True)
class ConvertOptions:
    """The conversion choices every network takes (docs/python-api.md, "Options")."""

    # One input: a tuple of ints (the input is `input_name`). Several: {name: shape} (named, in that order), or a list
    # of shapes (a live block's inputs are input_name + index: data0, data1, ...; an exported model's, its own).
    input_shape: Any = (1, 3, 224, 224)
    softmax: bool = False
    to_bgr: bool = True
    merge_bn: bool = True
    input_name: str = "data"
    relu6: str = "exact"
    target: str = "any"  # the runtime the files are for (converters.context.TARGETS); 'any' loads in all of them
    # Internal tensors to output instead of the model's outputs, by MXNet's names ('fc0_output') or node names.
    outputs: tuple[str, ...] = ()
    # The normalization the net does itself (its image inputs then take raw pixels): None, 'imagenet' or a Preprocess.
    preprocess: str | Preprocess | None = None

    def checked(self) -> ConvertOptions:
        """These options with input_shape as a tuple of ints, a {name: shape} dict or a list of shapes (each a tuple
        of positive ints, rank 1 to 5); InvalidCallError for anything out of range."""
        shape = _check_input_shapes(self.input_shape)
        if self.relu6 not in RELU6_MODES:
            raise InvalidCallError(f"relu6={self.relu6!r}; expected one of {RELU6_MODES}")
        if self.target not in TARGETS:
            raise InvalidCallError(f"target={self.target!r}; expected one of {tuple(TARGETS)}")
        if not isinstance(self.input_name, str) or not self.input_name:
            raise InvalidCallError(f"input_name must be a non-empty string, got {self.input_name!r}")
        outputs = (self.outputs,) if isinstance(self.outputs, str) else tuple(self.outputs or ())
        if not all(isinstance(name, str) and name for name in outputs):
            raise InvalidCallError(f"outputs must be tensor names (e.g. 'fc1_output'), got {self.outputs!r}")
        return replace(self, input_shape=shape, outputs=outputs, preprocess=_check_preprocess(self.preprocess))

    def input_shapes(self, model_inputs: list[str] | None = None) -> dict[str, tuple[int, ...]]:
        """{Caffe input name: shape} of checked options. `model_inputs`: an exported model's data variables (a tuple
        shape goes to its one variable, a list to its variables in order, a dict must name every one)."""
        shape = self.input_shape
        if model_inputs is None:  # a live block: the names are ours
            if isinstance(shape, dict):
                return dict(shape)
            if isinstance(shape, list):
                return {f"{self.input_name}{i}": s for i, s in enumerate(shape)}
            return {self.input_name: shape}
        if isinstance(shape, dict):
            missing = [name for name in model_inputs if name not in shape]
            unknown = [name for name in shape if name not in model_inputs]
            if missing or unknown:
                raise InvalidCallError(
                    f"the model's data inputs are {model_inputs}; input_shape "
                    + (f"has no shape for {missing}" if missing else f"names unknown inputs {unknown}")
                )
            return {name: shape[name] for name in model_inputs}
        shapes = shape if isinstance(shape, list) else [shape]
        if len(shapes) != len(model_inputs):
            example = ", ".join(f"{name!r}: (...)" for name in model_inputs)
            raise InvalidCallError(
                f"the model has {len(model_inputs)} data input(s) {model_inputs} but input_shape gives "
                f"{len(shapes)} shape(s); give one per input, e.g. {{{example}}} (CLI: --input-shape NAME:SIZES each)"
            )
        return dict(zip(model_inputs, shapes))


# -- the public functions ------------------------------------------------------------------------------------------


def convert_model(
    net: Any,
    input_shape: InputShape = (1, 3, 224, 224),
    softmax: bool = False,
    to_bgr: bool = True,
    merge_bn: bool = True,
    *,
    input_name: str = "data",
    relu6: str = "exact",
    target: str = "any",
    outputs: tuple[str, ...] | list[str] = (),
    preprocess: str | Preprocess | None = None,
) -> tuple[pb.NetParameter, CaffeModel]:
    """Convert a Gluon HybridBlock (or an exported model from `load_exported`) to Caffe.

    Returns (text_net, binary_weights): a caffe NetParameter, and a CaffeModel (a NetParameter streamed from the
    weight arrays: SerializeToString() gives the same bytes protobuf would, and attribute access parses it).

    text_net has no weights (write it as .prototxt), binary_weights the same layers with their blobs (.caffemodel).
    input_shape: one input, a tuple of 1 to 5 positive ints, batch first (its Caffe blob is `input_name`); several
    inputs, {name: shape} (each an Input layer and blob of that name, in that order) or a list of shapes (a live
    block's hybrid_forward(x0, x1, ...) gets data0, data1, ... (input_name + index); an exported model's inputs keep
    their names, in graph order). to_bgr swaps the inputs of rank >= 3 with 3 channels on axis 1 and leaves any other
    input as it is (a warning; `result.report.bgr_skipped`).
    relu6: how clip(0, 6) is written: 'exact' (BVLC layers, default), 'layer' (a ReLU6 layer, for OpenCV/ncnn and
    forks that have one) or 'relu' (the original tool's lossy plain ReLU; logs a warning).
    target: the runtime the files are for. 'any' (default) writes only layers every runtime loads (pycaffe, OpenCV,
    ncnn, MNN, OpenVINO); 'caffe', 'opencv', 'ncnn', 'mnn', 'openvino' pick what that runtime runs best (all exact;
    docs/runtimes.md).
    outputs: internal tensors to output instead of the model's outputs, as `sym.get_internals()['fc1_output']`
    picks them (MXNet's internal names, or node names for a node's first output); the net keeps only what they
    read. A training head (SoftmaxOutput, ...) converts to what it computes at inference; its label is no input.
    preprocess: None (default: the net takes GluonCV's normalized image, `ConversionResult.expects` says how to make
    it), 'imagenet' (the net takes raw 0-255 pixels and computes GluonCV's (x/255 - mean)/std itself, in one exact
    per-channel Scale layer after its input) or `Preprocess(mean=(R, G, B), std=(R, G, B), scale=S)` for
    (x/S - mean)/std. It applies to the inputs to_bgr would swap (3 channels on axis 1), in their Caffe channel order.
    """
    result = convert(
        net,
        input_shape,
        softmax,
        to_bgr,
        merge_bn,
        input_name=input_name,
        relu6=relu6,
        target=target,
        outputs=outputs,
        preprocess=preprocess,
    )
    return result.text_net, result.binary_weights


def convert(
    net: Any,
    input_shape: InputShape = (1, 3, 224, 224),
    softmax: bool = False,
    to_bgr: bool = True,
    merge_bn: bool = True,
    *,
    input_name: str = "data",
    relu6: str = "exact",
    target: str = "any",
    outputs: tuple[str, ...] | list[str] = (),
    preprocess: str | Preprocess | None = None,
) -> ConversionResult:
    """convert_model with the full result (IR graph, pass report, time); a GluonCV detector converts as one."""
    options = ConvertOptions(
        input_shape, softmax, to_bgr, merge_bn, input_name, relu6, target, tuple(outputs), preprocess=preprocess
    )
    return convert_with(net, options)


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
    target: str = "any",
    preprocess: str | Preprocess | None = None,
) -> tuple[pb.NetParameter, CaffeModel]:
    """Convert a GluonCV SSD to caffe-ssd: backbone and heads, anchors, and a DetectionOutput layer.

    The net's output `detection_out` has rows [image_id, label, score, xmin, ymin, xmax, ymax]: label is GluonCV's
    class id + 1 (0 is background), coordinates are normalized to [0, 1] (multiply by the input width/height for
    GluonCV's pixels), rows are grouped by label; an image without detections gives one row of -1s.
    anchors: 'exact' (default: PriorBox layers where they reproduce the net's anchors in every runtime, otherwise the
    anchors as a constant blob), 'priorbox' (always PriorBox; warns with the largest deviation when not exact) or
    'constant'. nms=False stops before DetectionOutput: outputs mbox_loc, mbox_conf_flatten (softmax) and
    mbox_priorbox, for runtimes without caffe-ssd layers. target, preprocess: as in convert_model.
    """
    result = convert_ssd(
        net,
        input_shape,
        to_bgr,
        merge_bn,
        input_name=input_name,
        relu6=relu6,
        anchors=anchors,
        nms=nms,
        target=target,
        preprocess=preprocess,
    )
    return result.text_net, result.binary_weights


def convert_yolo_model(
    net: Any,
    input_shape: tuple[int, ...] = (1, 3, 416, 416),
    to_bgr: bool = True,
    merge_bn: bool = True,
    *,
    input_name: str = "data",
    relu6: str = "exact",
    nms: bool = True,
    target: str = "any",
    preprocess: str | Preprocess | None = None,
) -> tuple[pb.NetParameter, CaffeModel]:
    """Convert a GluonCV YOLOv3 to Caffe: backbone, heads, the decoding from exact layers, and DetectionOutput.

    `detection_out` rows are [image_id, label, score, xmin, ymin, xmax, ymax] with label = GluonCV's class id + 1
    (as in the SSD path) and coordinates normalized to [0, 1], grouped by label; no detection gives a row of -1s.
    nms=False stops before DetectionOutput: outputs yolo_boxes (B, N*4; pixel corners) and yolo_scores (B, N*C).
    target, preprocess: as in convert_model.
    """
    keywords = dict(input_name=input_name, relu6=relu6, nms=nms, target=target, preprocess=preprocess)
    result = convert_yolo(net, input_shape, to_bgr, merge_bn, **keywords)
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
    target: str = "any",
    preprocess: str | Preprocess | None = None,
) -> ConversionResult:
    """convert_ssd_model with the full result (`result.head`, `result.detection`)."""
    options = ConvertOptions(input_shape, False, to_bgr, merge_bn, input_name, relu6, target, preprocess=preprocess)
    return convert_with(net, options, DetectorOptions(anchors=anchors, nms=nms), SSD_DETECTOR)


def convert_yolo(
    net: Any,
    input_shape: tuple[int, ...] = (1, 3, 416, 416),
    to_bgr: bool = True,
    merge_bn: bool = True,
    *,
    input_name: str = "data",
    relu6: str = "exact",
    nms: bool = True,
    target: str = "any",
    preprocess: str | Preprocess | None = None,
) -> ConversionResult:
    """convert_yolo_model with the full result (`result.head`, `result.detection`)."""
    options = ConvertOptions(input_shape, False, to_bgr, merge_bn, input_name, relu6, target, preprocess=preprocess)
    return convert_with(net, options, DetectorOptions(nms=nms), YOLO_DETECTOR)


def convert_detector(
    net: Any,
    input_shape: tuple[int, ...] | None = None,
    to_bgr: bool = True,
    merge_bn: bool = True,
    *,
    family: Detector,
    input_name: str = "data",
    relu6: str = "exact",
    target: str = "any",
    anchors: str | None = None,
    nms: bool | None = None,
    preprocess: str | Preprocess | None = None,
) -> ConversionResult:
    """Any registered family's conversion with the full result (the tests and the bench use it for every family):
    `input_shape` None takes the family's default; the detector options are the ones the family takes
    (`family.options`), an option it does not take is a TypeError as for any function."""
    given = {"anchors": anchors, "nms": nms}
    unknown = sorted(k for k, v in given.items() if v is not None and k not in family.options)
    if unknown:
        raise TypeError(f"{family.function}: unexpected option(s) {unknown}")
    detector = DetectorOptions(**{k: v for k, v in given.items() if v is not None})
    shape = family.default_input_shape if input_shape is None else input_shape
    options = ConvertOptions(shape, False, to_bgr, merge_bn, input_name, relu6, target, preprocess=preprocess)
    return convert_with(net, options, detector, family)


def detector_converter(family: Detector) -> Callable[..., ConversionResult]:
    """`family`'s convert function with the full result: convert_detector with the family given."""
    return functools.partial(convert_detector, family=family)


# -- the pipeline ----------------------------------------------------------------------------------------------------


def convert_with(
    net: Any, options: ConvertOptions, detector: DetectorOptions | None = None, family: Detector | None = None
) -> ConversionResult:
    """The one pipeline for every network, a GluonCV detector (`family`, or the one `detector_for` finds) or not:
    load (frontend/load.py) -> cut the head -> check ops and weights -> shapes -> passes -> emit (+ the head)."""
    net, options = with_outputs(net, options)
    if family is None:
        family = detector_for(net)
        if family is not None:
            if options.softmax:
                raise InvalidCallError(
                    f"softmax=True does not apply to a {family.kind}: its DetectionOutput scores the classes"
                )
            log.info(
                "%s is a GluonCV %s: converting it as a detector", getattr(net, "name", "the network"), family.kind
            )
    options = options.checked()
    start = time.perf_counter()
    if family is not None:
        if not isinstance(options.input_shape, tuple):
            raise InvalidCallError(f"a {family.kind} takes one input: input_shape must be one shape (N, 3, H, W)")
        family.require(net)
    graph, infer = load_graph(net, *_graph_inputs(net, options))
    source_nodes = len(graph.nodes)
    match = family.cut(graph) if family is not None else None  # the head, walked and cut off before any check
    check_supported(graph)  # before any work (and before MXNet parses an exported graph): every unsupported op
    check_weights(graph)  # then every NaN / impossible weight at once
    try:
        attach_shapes(graph, None, infer(graph))
    except ConversionError as exc:  # a parameter whose shape the graph does not take
        if isinstance(net, ExportedModel):
            raise ModelFileError(net.params_path, str(exc)) from None
        raise
    if family is None:
        result = _passes_and_emission(graph, options, start)
        result.options = options
        return result
    plan = family.plan(match, graph, options.input_shape, detector or DetectorOptions(), classes_of(net))
    result = _passes_and_emission(graph, options, start, tail=lambda ctx: plan.emit(ctx, options.input_name))
    result.head, result.detection, result.detector = plan.head, plan.report, family
    result.options = options
    result.source_nodes = source_nodes  # the whole graph's, head included
    return result


def with_outputs(net: Any, options: ConvertOptions) -> tuple[Any, ConvertOptions]:
    """(the model cut at `options.outputs` (an ExportedModel; a live block traced), the options without them); the
    same two unchanged when no outputs are named. The CLI verifies the cut model against MXNet."""
    if not options.outputs:
        return net, options
    options = options.checked()
    net = select_outputs(net, options.outputs, options.input_shapes(_model_inputs(net)))
    return net, replace(options, outputs=())


def _model_inputs(net: Any) -> list[str] | None:
    """An exported model's data variables; None for a live block (its inputs are named by the options)."""
    return net.inputs if isinstance(net, ExportedModel) else None


def _graph_inputs(net: Any, options: ConvertOptions) -> tuple[dict[str, tuple[int, ...]], str | None]:
    """(the input shapes load_graph takes, the name a single input of an exported model takes) for checked options:
    a live block's inputs are named by the options; an exported model keeps its variables' names, but a single one
    given as one shape becomes `input_name`."""
    if isinstance(net, ExportedModel):
        rename = options.input_name if isinstance(options.input_shape, tuple) else None
        return options.input_shapes(net.inputs), rename
    return options.input_shapes(), None


def read_detector_head(net: Any, input_shape: tuple[int, ...], input_name: str = "data") -> DetectorHead:
    """The head of a GluonCV detector (live or exported) at `input_shape` as a conversion reads it (SSDHead,
    YOLOHead, CenterNetHead), without converting: for checking files converted earlier."""
    family = detector_for(net)
    if family is None:
        raise InvalidCallError("not a GluonCV SSD or YOLOv3 (live, or exported with its decoder and NMS)")
    options = ConvertOptions(tuple(input_shape), input_name=input_name).checked()
    graph, infer = load_graph(net, *_graph_inputs(net, options))
    match = family.cut(graph)
    graph.shapes.update(infer(graph))
    return family.plan(match, graph, options.input_shape, DetectorOptions(), classes_of(net)).head


def _passes_and_emission(
    graph: Graph, options: ConvertOptions, start: float, tail: Callable[[Any], list[str]] | None = None
) -> ConversionResult:
    """Passes and emission on a graph whose ops are supported and whose shapes are known."""
    stages = {"trace + shapes": time.perf_counter() - start}
    source_nodes = len(graph.nodes)
    t = time.perf_counter()
    report = run_passes(
        graph,
        list(graph.inputs),
        merge_bn=options.merge_bn,
        to_bgr=options.to_bgr,
        softmax=options.softmax,
        preprocess=options.preprocess,
    )
    stages["passes"] = time.perf_counter() - t
    t = time.perf_counter()
    ctx = emit_layers(graph, EmitOptions(relu6=options.relu6, target=options.target), tail=tail)
    text_net, binary_net = build_nets(graph, ctx)
    stages["emission"] = time.perf_counter() - t
    seconds = time.perf_counter() - start
    log.info("converted %s: %d Caffe layers in %.2f s", graph.name, len(text_net.layer), seconds)
    result = ConversionResult(text_net, binary_net, graph, report, seconds, source_nodes, stages=stages)
    result.output_shapes = {blob: _output_shape(ctx, blob) for blob in ctx.outputs}
    return result


def _output_shape(ctx: Any, blob: str) -> tuple[int, ...] | None:
    """An output blob's shape where emission knows it (a DetectionOutput's rows vary: None)."""
    try:
        return tuple(int(d) for d in ctx.shape(blob))
    except KeyError:
        return None


def _check_preprocess(preprocess: Any) -> Preprocess | None:
    """None, a preset's name ('imagenet') or a Preprocess, as a checked Preprocess (None for none)."""
    if preprocess is None:
        return None
    if isinstance(preprocess, str):
        if preprocess not in PRESETS:
            raise InvalidCallError(f"preprocess={preprocess!r}; expected one of {tuple(PRESETS)} or a Preprocess")
        return PRESETS[preprocess]
    if not isinstance(preprocess, Preprocess):
        raise InvalidCallError(f"preprocess must be None, 'imagenet' or a Preprocess, got {preprocess!r}")
    return preprocess.checked()


MAX_INPUT_RANK = 5  # Caffe blobs hold more, but no runtime we target takes a rank-6 input


def _check_input_shapes(input_shape: Any) -> tuple[int, ...] | dict[str, tuple[int, ...]] | list[tuple[int, ...]]:
    """One shape (a tuple), {name: shape} or a list of shapes, each checked (see ConvertOptions.input_shape)."""
    if isinstance(input_shape, dict):
        if not input_shape:
            raise InvalidCallError("input_shape is an empty dict; give {name: shape} for every data input")
        for name in input_shape:
            if not isinstance(name, str) or not name:
                raise InvalidCallError(f"input_shape names must be non-empty strings, got {name!r}")
        return {name: _check_input_shape(shape, name) for name, shape in input_shape.items()}
    if isinstance(input_shape, (list, tuple)) and input_shape and not isinstance(input_shape[0], (int, np.integer)):
        if isinstance(input_shape[0], str):
            raise InvalidCallError(f"input_shape must be a tuple of ints, got {input_shape!r}")
        return [_check_input_shape(shape, f"#{i}") for i, shape in enumerate(input_shape)]
    return _check_input_shape(input_shape)


def _check_input_shape(input_shape: Any, which: str = "") -> tuple[int, ...]:
    where = f" (input {which})" if which else ""
    if isinstance(input_shape, str):
        raise InvalidCallError(f"input_shape{where} must be a tuple of ints, got {input_shape!r}")
    try:
        shape = tuple(int(d) for d in input_shape)
    except (TypeError, ValueError):
        raise InvalidCallError(f"input_shape{where} must be a tuple of ints, got {input_shape!r}") from None
    if not 1 <= len(shape) <= MAX_INPUT_RANK:
        raise InvalidCallError(
            f"input_shape{where} must have 1 to {MAX_INPUT_RANK} dimensions (batch first), got {shape} ({len(shape)}-D)"
        )
    if any(d <= 0 for d in shape):
        raise InvalidCallError(f"input_shape{where} must be positive, got {shape}")
    return shape
