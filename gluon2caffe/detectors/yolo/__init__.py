"""The YOLOv3 family: GluonCV's YOLOv3 read up to its prediction convolutions, the decoding from exact Caffe layers,
and DetectionOutput."""

from __future__ import annotations

from typing import Any

from .base import Detector, DetectorOptions, DetectorPlan, head_line
from .yolo_layers import emit_yolo_head
from .yolo_read import cut_yolo, finish_yolo, is_yolo


class YOLOPlan(DetectorPlan):
    def __init__(self, match: Any, graph: Any, input_shape: tuple[int, ...], options: DetectorOptions, classes):
        self.head = finish_yolo(match, graph, input_shape, classes)
        self.nms = options.nms
        self.predictions = list(graph.outputs)

    def emit(self, ctx: Any, input_name: str) -> list[str]:
        return emit_yolo_head(ctx, self.head, self.predictions, input_name, self.nms)


class YOLOv3(Detector):
    kind = "YOLOv3"
    function = "convert_yolo_model"
    default_input_shape = (1, 3, 416, 416)
    options = ("nms",)

    def matches(self, net: Any) -> bool:
        return is_yolo(net)

    def cut(self, graph: Any) -> Any:
        return cut_yolo(graph)

    def plan(self, match: Any, graph: Any, input_shape: tuple[int, ...], options: DetectorOptions, classes=None):
        return YOLOPlan(match, graph, input_shape, options, classes)

    def summary(self, head: Any, report: Any, nms: bool) -> list[str]:
        return [
            head_line(self.kind, head, head.num_boxes, nms),
            "decoding: exact Caffe layers (Sigmoid, Exp, Scale with the grid offsets and anchors, Eltwise)",
        ]

    def check(self, net, head, prototxt, caffemodel, x, to_bgr=True, runtime="caffe", x2=None):
        from ..verification.detectors import check_yolo

        return check_yolo(net, head, prototxt, caffemodel, x, to_bgr=to_bgr, runtime=runtime, x2=x2)
