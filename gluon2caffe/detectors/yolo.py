"""The YOLOv3 family: GluonCV's YOLOv3 read up to its prediction convolutions, the decoding from exact Caffe layers,
and DetectionOutput."""

from __future__ import annotations

from typing import Any

from .base import Detector, DetectorOptions, DetectorPlan, head_line
from .yolo_layers import emit_yolo_head
from .yolo_read import is_yolo, read_yolo


class YOLOPlan(DetectorPlan):
    def __init__(self, net: Any, input_shape: tuple[int, ...], options: DetectorOptions):
        self.block, self.head = read_yolo(net, input_shape)
        self.nms = options.nms
        self.predictions: list[str] = []

    def name_outputs(self, graph: Any) -> None:
        self.predictions.extend(graph.outputs)

    def emit(self, ctx: Any, input_name: str) -> list[str]:
        return emit_yolo_head(ctx, self.head, self.predictions, input_name, self.nms)


class YOLOv3(Detector):
    kind = "YOLOv3"
    function = "convert_yolo_model"
    default_input_shape = (1, 3, 416, 416)
    options = ("nms",)

    def matches(self, net: Any) -> bool:
        return is_yolo(net)

    def read(self, net: Any, input_shape: tuple[int, ...]) -> tuple[Any, Any]:
        return read_yolo(net, input_shape)

    def plan(self, net: Any, input_shape: tuple[int, ...], options: DetectorOptions) -> YOLOPlan:
        return YOLOPlan(net, input_shape, options)

    def summary(self, head: Any, report: Any, nms: bool) -> list[str]:
        return [
            head_line(self.kind, head, head.num_boxes, nms),
            "decoding: exact Caffe layers (Sigmoid, Exp, Scale with the grid offsets and anchors, Eltwise)",
        ]

    def check(self, net, head, prototxt, caffemodel, x, to_bgr=True, runtime="caffe", x2=None):
        from ..verification.detectors import check_yolo

        return check_yolo(net, head, prototxt, caffemodel, x, to_bgr=to_bgr, runtime=runtime, x2=x2)
