"""The SSD family: GluonCV's SSD read up to its decoders, PriorBox or constant anchors, and DetectionOutput."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...converters.context import EmitContext
from ...ir.graph import Graph
from ..base import Detector, DetectorOptions, DetectorPlan, RandomHead, head_line, register_detector
from .layers import CONF, LOC, AnchorReport, emit_ssd_head, plan_anchors, ssd_aliases
from .read import SSDHead, SSDMatch, cut_ssd, finish_ssd, is_ssd

if TYPE_CHECKING:
    from ...verification.detectors import DetectorCheck, DetectorRun


class SSDPlan(DetectorPlan):
    def __init__(
        self,
        match: SSDMatch,
        graph: Graph,
        input_shape: tuple[int, ...],
        options: DetectorOptions,
        classes: list[str] | None,
    ):
        self.head = finish_ssd(match, graph, input_shape, classes, LOC, CONF)
        self.features = graph.outputs[2:]
        self.report = plan_anchors(self.head, options.anchors)
        self.nms = options.nms

    def emit(self, ctx: EmitContext, input_name: str) -> list[str]:
        outputs = emit_ssd_head(ctx, self.head, self.features, input_name, self.report, self.nms)
        names = {layer.proto.name for layer in ctx.layers}
        for layer in ctx.layers:  # caffe-ssd's usual names; OpenCV also looks blobs up by layer name
            if list(layer.proto.top) in ([LOC], [CONF]) and layer.proto.top[0] not in names:
                layer.proto.name = layer.proto.top[0]
        return outputs


class SSD(Detector):
    kind = "SSD"
    function = "convert_ssd_model"
    default_input_shape = (1, 3, 512, 512)
    options = ("anchors", "nms")

    def matches(self, net: object) -> bool:
        return is_ssd(net)

    def random_heads(self, net: object) -> list[RandomHead]:
        classes = [RandomHead(block, "class") for block in getattr(net, "class_predictors", [])]
        return classes + [RandomHead(block, "box") for block in getattr(net, "box_predictors", [])]

    def cut(self, graph: Graph) -> SSDMatch:
        return cut_ssd(graph)

    def plan(
        self,
        match: SSDMatch,
        graph: Graph,
        input_shape: tuple[int, ...],
        options: DetectorOptions,
        classes: list[str] | None = None,
    ) -> SSDPlan:
        return SSDPlan(match, graph, input_shape, options, classes)

    def aliases(self, head: SSDHead) -> dict[str, str]:
        return ssd_aliases(head)

    def summary(self, head: SSDHead, report: AnchorReport, nms: bool) -> list[str]:
        return [head_line(self.kind, head, head.num_anchors, nms), report.describe()]

    def output_meanings(self, head: SSDHead, nms: bool) -> list[str]:
        if nms:
            return super().output_meanings(head, nms)
        return [
            "box offsets (N, anchors * 4), to decode with the priors (variances in mbox_priorbox)",
            "class probabilities (N, anchors * (classes + 1)), softmax per anchor, column 0 = background",
            "priors (1, 2, anchors * 4): corners normalized to [0, 1], then the variances",
        ]

    def check(self, run: DetectorRun) -> DetectorCheck:
        from .check import check_ssd

        return check_ssd(run)


SSD_DETECTOR = register_detector(SSD())
