"""The YOLOv3 family: GluonCV's YOLOv3 read up to its prediction convolutions, the decoding from exact Caffe layers,
and DetectionOutput."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...converters.context import EmitContext
from ...ir.graph import Graph
from ..base import Detector, DetectorOptions, DetectorPlan, RandomHead, head_line, register_detector
from .layers import emit_yolo_head
from .read import YOLOHead, YOLOMatch, cut_yolo, finish_yolo, is_yolo

if TYPE_CHECKING:
    from ...verification.detectors import DetectorCheck, DetectorRun


class YOLOPlan(DetectorPlan):
    def __init__(
        self,
        match: YOLOMatch,
        graph: Graph,
        input_shape: tuple[int, ...],
        options: DetectorOptions,
        classes: list[str] | None,
    ):
        self.head = finish_yolo(match, graph, input_shape, classes)
        self.nms = options.nms
        self.predictions = list(graph.outputs)

    def emit(self, ctx: EmitContext, input_name: str) -> list[str]:
        return emit_yolo_head(ctx, self.head, self.predictions, input_name, self.nms)


class YOLOv3(Detector):
    kind = "YOLOv3"
    function = "convert_yolo_model"
    default_input_shape = (1, 3, 416, 416)
    options = ("nms",)
    scores_background = False  # yolo_scores: objectness x class probability, one column per class

    def matches(self, net: object) -> bool:
        return is_yolo(net)

    def random_heads(self, net: object) -> list[RandomHead]:
        return [RandomHead(out.prediction, "yolo", out._num_pred) for out in getattr(net, "yolo_outputs", [])]

    def cut(self, graph: Graph) -> YOLOMatch:
        return cut_yolo(graph)

    def plan(
        self,
        match: YOLOMatch,
        graph: Graph,
        input_shape: tuple[int, ...],
        options: DetectorOptions,
        classes: list[str] | None = None,
    ) -> YOLOPlan:
        return YOLOPlan(match, graph, input_shape, options, classes)

    def summary(self, head: YOLOHead, report: object | None, nms: bool) -> list[str]:
        return [
            head_line(self.kind, head, head.num_boxes, nms),
            "decoding: exact Caffe layers (Sigmoid, Exp, Power; Eltwise with the grid offsets and anchors as "
            "constant blobs)",
        ]

    def output_meanings(self, head: YOLOHead, nms: bool) -> list[str]:
        if nms:
            return super().output_meanings(head, nms)
        return [
            "boxes (N, boxes * 4): corners xmin, ymin, xmax, ymax in input pixels",
            "class scores (N, boxes * classes): objectness x class probability, no background column",
        ]

    def check(self, run: DetectorRun) -> DetectorCheck:
        from .check import check_yolo

        return check_yolo(run)


YOLO_DETECTOR = register_detector(YOLOv3())
