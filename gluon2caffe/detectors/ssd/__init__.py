"""The SSD family: GluonCV's SSD read up to its decoders, PriorBox or constant anchors, and DetectionOutput."""

from __future__ import annotations

from typing import Any

from .base import Detector, DetectorOptions, DetectorPlan, head_line
from .ssd_layers import CONF, LOC, emit_ssd_head, plan_anchors
from .ssd_read import cut_ssd, finish_ssd, is_ssd


class SSDPlan(DetectorPlan):
    def __init__(self, match: Any, graph: Any, input_shape: tuple[int, ...], options: DetectorOptions, classes):
        self.head = finish_ssd(match, graph, input_shape, classes, LOC, CONF)
        self.features = graph.outputs[2:]
        self.report = plan_anchors(self.head, options.anchors)
        self.nms = options.nms

    def emit(self, ctx: Any, input_name: str) -> list[str]:
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

    def matches(self, net: Any) -> bool:
        return is_ssd(net)

    def cut(self, graph: Any) -> Any:
        return cut_ssd(graph)

    def plan(self, match: Any, graph: Any, input_shape: tuple[int, ...], options: DetectorOptions, classes=None):
        return SSDPlan(match, graph, input_shape, options, classes)

    def aliases(self, head: Any) -> dict[str, str]:
        return {LOC: head.tensors["loc_flat"]} if head.tensors.get("loc_flat") else {}

    def summary(self, head: Any, report: Any, nms: bool) -> list[str]:
        return [head_line(self.kind, head, head.num_anchors, nms), report.describe()]

    def check(self, net, head, prototxt, caffemodel, x, to_bgr=True, runtime="caffe", x2=None):
        from ..verification.detectors import check_ssd

        return check_ssd(net, head, prototxt, caffemodel, x, to_bgr=to_bgr, runtime=runtime, x2=x2)
