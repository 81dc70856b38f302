"""Read a GluonCV YOLOv3 from its graph: the network up to each output's prediction map, plus what its YOLOOutputV3
layers decode with (anchors, strides, grid offsets), the class count and the NMS settings.

GluonCV's YOLOOutputV3 decodes with ops Caffe has no layers for (slice_like on constant grids, tile, arange) and
ends in box_nms. The converter keeps the graph up to each output's 1x1 prediction convolution and writes the
decoding itself from exact Caffe layers (detectors/yolo/layers.py), reading the constants from the graph
(detectors/graph_match.py); live networks are traced whole and read the same way as their exported files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...errors import ConversionError
from ...ir.graph import Graph
from ..graph_match import HeadMismatch, HeadWalk, class_range, cut, ops_of
from ..nms import NMS, NMS_OPS, read_nms, read_outputs


def is_yolo(net: Any) -> bool:
    """True for a GluonCV YOLOv3 (zoo model or a `gluoncv.model_zoo.YOLOV3(...)` instance), or an exported graph
    with YOLOOutputV3's grid ops and no SSD box decoder."""
    if isinstance(getattr(net, "symbol_json", None), str):  # an exported model (frontend.exported.ExportedModel)
        ops = ops_of(net.symbol_json)
        return "_contrib_box_decode" not in ops and (
            {"tile", "_arange", "slice_like"} <= ops or bool(ops & set(NMS_OPS))
        )
    try:
        from gluoncv.model_zoo.yolo.yolo3 import YOLOV3
    except ImportError:  # pragma: no cover - gluoncv is a dependency
        return False
    return isinstance(net, YOLOV3)


@dataclass
class YOLOOutput:
    """One YOLOOutputV3 at this input size."""

    height: int
    width: int
    stride: float
    anchors: np.ndarray  # (A, 2) pixel (w, h)
    offsets: np.ndarray  # (H*W, 2) grid (x, y), in GluonCV's position order

    @property
    def num_anchors(self) -> int:
        return int(self.anchors.shape[0])

    @property
    def num_boxes(self) -> int:
        return self.height * self.width * self.num_anchors


@dataclass
class YOLOHead:
    num_classes: int
    classes: list[str]
    outputs: list[YOLOOutput]
    nms_thresh: float
    nms_topk: int
    post_nms: int
    score_thresh: float
    image_size: tuple[int, int]  # (H, W)
    # The MXNet tensors (IR names) the check compares with: ids, scores, boxes; per output its detections
    # ("output<i>") and prediction map ("prediction<i>").
    tensors: dict[str, str] = field(default_factory=dict)

    @property
    def num_boxes(self) -> int:
        return sum(o.num_boxes for o in self.outputs)


@dataclass
class YOLOOutputMatch:
    prediction: str  # the prediction map (B, A * (5 + C), H, W): where the Caffe decoding starts
    tip: str  # the tensor the grid offsets are sliced to
    detections: str  # this output's (B, C * H * W * A, 6) rows
    stride: float
    anchors: str  # the anchors constant (1, 1, A, 2)
    offsets: str  # the grid offsets sliced to the map (1, H * W, 1, 2)
    num_anchors: int


@dataclass
class YOLOMatch:
    walk: HeadWalk
    outputs: list[YOLOOutputMatch]
    num_classes: int
    nms: NMS
    results: list[str]


def match_yolo(graph: Graph) -> YOLOMatch:
    """Walk GluonCV's YOLOv3 head back from the graph's outputs (YOLOV3 and YOLOOutputV3.hybrid_forward, gluoncv
    0.10.5); HeadMismatch at the first node that differs, naming it and the pattern expected there."""
    w = HeadWalk(graph, "YOLOv3")
    rows, nms = read_nms(w, read_outputs(w))
    concat = w.expect(rows, ("Concat", "concat"), "the detections of every YOLOOutputV3", dim=1)
    outputs, classes = [], None
    for i, t in enumerate(concat.inputs):
        out, k = _yolo_output(w, t, i)
        if classes is not None and k != classes:
            raise w.fail(t, f"YOLOOutputV3 {i}: {classes} classes like the others")
        classes = k
        outputs.append(out)
    return YOLOMatch(w, outputs, int(classes or 0), nms, graph.outputs[:])


def _yolo_output(w: HeadWalk, detections: str, i: int) -> tuple[YOLOOutputMatch, int]:
    role = f"YOLOOutputV3 {i}"
    rows = w.expect(detections, ("Reshape", "reshape"), f"{role}'s rows", shape=(0, -1, 6))
    per_class = w.expect(rows.inputs[0], "transpose", f"{role}'s rows by class", axes=(1, 0, 2, 3, 4))
    parts = w.expect(per_class.inputs[0], ("Concat", "concat"), f"{role}'s [id, score, box] rows", dim=-1)
    if len(parts.inputs) != 3:
        raise w.fail(per_class.inputs[0], f"{role}'s rows: a Concat of 3 (ids, scores, boxes)")
    ids, scores, boxes = parts.inputs
    tile = w.expect(boxes, "tile", f"{role}'s boxes repeated per class")
    reps = tile.attrs.int_tuple("reps")
    if len(reps) != 5 or reps[1:] != (1, 1, 1, 1):
        raise w.fail(boxes, f"{role}'s boxes: tile with reps (classes, 1, 1, 1, 1)")
    k = reps[0]
    corners = w.expect(tile.inputs[0], ("Concat", "concat"), f"{role}'s box corners", dim=-1)
    if len(corners.inputs) != 2:
        raise w.fail(tile.inputs[0], f"{role}'s box corners: a Concat of (center - half, center + half)")
    low = w.expect(corners.inputs[0], ("elemwise_sub", "_minus", "_Minus"), f"{role}'s top-left corners")
    high = w.expect(corners.inputs[1], ("elemwise_add", "_plus", "_Plus"), f"{role}'s bottom-right corners")
    if low.inputs != high.inputs:
        raise w.fail(corners.inputs[1], f"{role}'s bottom-right corners: center + half of the same tensors")
    center, half = low.inputs
    scaled = w.expect(center, "_mul_scalar", f"{role}'s box centers times the stride")
    shifted = w.expect(scaled.inputs[0], "broadcast_add", f"{role}'s sigmoid(center logits) + grid offsets")
    sig = w.expect(shifted.inputs[0], "sigmoid", f"{role}'s sigmoid of the center logits")
    pred = w.slice_axis(sig.inputs[0], f"{role}'s center logits", (-1, 3), 0, 2).inputs[0]
    offsets, tip = _grid(w, shifted.inputs[1], role)
    halved = w.expect(half, "_div_scalar", f"{role}'s half sizes", scalar=2.0)
    sized = w.expect(halved.inputs[0], "broadcast_mul", f"{role}'s exp(size logits) times the anchors")
    exp = w.expect(sized.inputs[0], "exp", f"{role}'s exp of the size logits")
    if w.slice_axis(exp.inputs[0], f"{role}'s size logits", (-1, 3), 2, 4).inputs[0] != pred:
        raise w.fail(exp.inputs[0], f"{role}'s size logits: a slice of the same predictions")
    anchors = sized.inputs[1]
    if anchors not in w.params:
        raise w.fail(anchors, f"{role}'s anchors: a constant parameter")
    _scores(w, scores, pred, role)
    grid = w.expect(ids, "broadcast_add", f"{role}'s class ids (scores * 0 + arange)")
    zero = w.expect(grid.inputs[0], "_mul_scalar", f"{role}'s class ids: scores times 0", scalar=0.0)
    if zero.inputs[0] != scores:
        raise w.fail(grid.inputs[0], f"{role}'s class ids: the scores times 0")
    if list(class_range(w, grid.inputs[1], f"{role}'s class ids")) != list(range(k)):
        raise w.fail(grid.inputs[1], f"{role}'s class ids 0..{k - 1}")
    by_anchor = w.expect(pred, ("Reshape", "reshape"), f"{role}'s predictions per anchor (0, -1, A, 5 + C)")
    shape = by_anchor.attrs.int_tuple("shape")
    if len(shape) != 4 or shape[:2] != (0, -1) or shape[3] != 5 + k:
        raise w.fail(pred, f"{role}'s predictions per anchor: Reshape to (0, -1, A, {5 + k})")
    a = shape[2]
    positions = w.expect(by_anchor.inputs[0], "transpose", f"{role}'s predictions by position", axes=(0, 2, 1))
    flat = w.expect(positions.inputs[0], ("Reshape", "reshape"), f"{role}'s flattened map", shape=(0, a * (5 + k), -1))
    out = YOLOOutputMatch(flat.inputs[0], tip, detections, w.scalar(scaled), anchors, offsets, a)
    return out, k


def _scores(w: HeadWalk, scores: str, pred: str, role: str) -> None:
    """scores = expand_dims(transpose(sigmoid(class logits) * sigmoid(objectness), (3, 0, 1, 2)), -1)."""
    expanded = w.expect(scores, "expand_dims", f"{role}'s scores", axis=-1)
    by_class = w.expect(expanded.inputs[0], "transpose", f"{role}'s scores by class", axes=(3, 0, 1, 2))
    product = w.expect(by_class.inputs[0], "broadcast_mul", f"{role}'s class scores times objectness")
    for t, what, begin, end in ((product.inputs[0], "class logits", 5, None), (product.inputs[1], "objectness", 4, 5)):
        sig = w.expect(t, "sigmoid", f"{role}'s sigmoid of the {what}")
        if w.slice_axis(sig.inputs[0], f"{role}'s {what}", (-1, 3), begin, end).inputs[0] != pred:
            raise w.fail(sig.inputs[0], f"{role}'s {what}: a slice of the same predictions")


def _grid(w: HeadWalk, tensor: str, role: str) -> tuple[str, str]:
    """(grid offsets tensor, the tensor they are sliced to): Reshape(slice_like(constant, tip * 0, axes=(2, 3)))."""
    return tensor, w.sliced_constant(tensor, f"{role}'s grid offsets")[1]


def cut_yolo(graph: Graph) -> YOLOMatch:
    """Find the head and remove it: the graph then computes each output's prediction map."""
    match = match_yolo(graph)
    cut(graph, [o.prediction for o in match.outputs])
    return match


def finish_yolo(match: YOLOMatch, graph: Graph, input_shape: tuple[int, ...], classes: list[str] | None) -> YOLOHead:
    """With shapes known: each output's size, anchors and grid offsets, and the NMS settings."""
    w, shapes, k = match.walk, graph.shapes, match.num_classes
    outputs, tensors = [], {"ids": match.results[0], "scores": match.results[1], "boxes": match.results[2]}
    for i, o in enumerate(match.outputs):
        _, channels, h, width = shapes[o.prediction]
        if channels != o.num_anchors * (5 + k) or tuple(shapes[o.tip][2:4]) != (h, width):
            raise HeadMismatch(
                f"the graph's tail is not a GluonCV YOLOv3 head: output {i}'s prediction map {shapes[o.prediction]} "
                f"does not hold {o.num_anchors} anchors x {5 + k} values on the {shapes[o.tip][2:4]} grid"
            )
        anchors = w.params[o.anchors].reshape(-1, 2).astype(np.float32)
        offsets = w.constant_value(o.offsets, "the grid offsets").reshape(-1, 2).astype(np.float32)
        if anchors.shape[0] != o.num_anchors or offsets.shape[0] != h * width:
            raise w.fail(o.offsets, f"output {i}: {o.num_anchors} anchors and {h * width} grid offsets")
        outputs.append(YOLOOutput(h, width, o.stride, anchors, offsets))
        tensors[f"output{i}"], tensors[f"prediction{i}"] = o.detections, o.prediction
    names = list(classes) if classes is not None else [f"class{i}" for i in range(k)]
    if len(names) != k:
        raise ConversionError(f"{len(names)} class names for a YOLOv3 with {k} classes")
    nms = match.nms
    return YOLOHead(
        num_classes=k,
        classes=names,
        outputs=outputs,
        nms_thresh=nms.overlap if nms.present else 0.0,
        nms_topk=nms.topk,
        post_nms=nms.post if nms.present else -1,
        score_thresh=nms.valid_thresh if nms.present else 0.0,
        image_size=(int(input_shape[2]), int(input_shape[3])),
        tensors=tensors,
    )
