"""The MultiBox family: MXNet's older SSD (symbol API: MultiBoxPrior, MultiBoxDetection; MXNet's example/ssd) read
up to its predictions, its anchors as PriorBox or a constant, its MultiBoxDetection as DetectionOutput (layers.py
says how each step equals MXNet's)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...converters.context import EmitContext
from ...ir.graph import Graph
from ..base import Detector, DetectorOptions, DetectorPlan, register_detector
from .layers import CONF, LOC, MultiBoxReport, describe_head, emit_multibox_head, multibox_aliases, plan_multibox
from .read import MultiBoxHead, MultiBoxMatch, cut_multibox, finish_multibox, is_multibox, refuse_training_symbol

if TYPE_CHECKING:
    from ...verification.detectors import DetectorCheck, DetectorRun


class MultiBoxPlan(DetectorPlan):
    def __init__(
        self,
        match: MultiBoxMatch,
        graph: Graph,
        input_shape: tuple[int, ...],
        options: DetectorOptions,
        classes: list[str] | None,
    ):
        self.head = finish_multibox(match, graph, input_shape, classes, LOC, CONF)
        self.features = graph.outputs[2:]
        self.report = plan_multibox(self.head, options.anchors)
        self.nms = options.nms

    def emit(self, ctx: EmitContext, input_name: str) -> list[str]:
        outputs = emit_multibox_head(ctx, self.head, self.features, input_name, self.report, self.nms)
        names = {layer.proto.name for layer in ctx.layers}
        for layer in ctx.layers:  # caffe-ssd's usual names; OpenCV and OpenVINO look blobs up by layer name
            if list(layer.proto.top) in ([LOC], [CONF]) and layer.proto.top[0] not in names:
                layer.proto.name = layer.proto.top[0]
        return outputs


class MultiBox(Detector):
    kind = "MultiBox"
    function = "convert_with"
    default_input_shape = (1, 3, 300, 300)
    options = ("anchors", "nms")

    def matches(self, net: object) -> bool:
        return is_multibox(net)

    def require(self, net: object) -> None:
        super().require(net)
        refuse_training_symbol(net)

    def cut(self, graph: Graph) -> MultiBoxMatch:
        return cut_multibox(graph)

    def plan(
        self,
        match: MultiBoxMatch,
        graph: Graph,
        input_shape: tuple[int, ...],
        options: DetectorOptions,
        classes: list[str] | None = None,
    ) -> MultiBoxPlan:
        return MultiBoxPlan(match, graph, input_shape, options, classes)

    def aliases(self, head: MultiBoxHead) -> dict[str, str]:
        return multibox_aliases(head)

    def summary(self, head: MultiBoxHead, report: MultiBoxReport, nms: bool) -> list[str]:
        return [describe_head(head, nms), report.describe()]

    def check(self, run: DetectorRun) -> DetectorCheck:
        from .check import check_multibox

        return check_multibox(run)


MULTIBOX_DETECTOR = register_detector(MultiBox())
