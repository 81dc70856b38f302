"""The SSD family: GluonCV's SSD read up to its decoders, PriorBox or constant anchors, and DetectionOutput."""

from __future__ import annotations

from typing import Any

from .base import Detector, DetectorOptions, DetectorPlan, head_line
from .ssd_layers import CONF, LOC, emit_ssd_head, plan_anchors
from .ssd_read import is_ssd, read_ssd


class SSDPlan(DetectorPlan):
    def __init__(self, net: Any, input_shape: tuple[int, ...], options: DetectorOptions):
        self.block, self.head, self.num_features = read_ssd(net, input_shape)
        self.report = plan_anchors(self.head, options.anchors)
        self.nms = options.nms
        self.features: list[str] = []

    def name_outputs(self, graph: Any) -> None:
        graph.rename_tensor(graph.outputs[0], LOC)
        graph.rename_tensor(graph.outputs[1], CONF)
        self.features.extend(graph.outputs[2 : 2 + self.num_features])

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
    renamed_outputs = {LOC: 0, CONF: 1}

    def matches(self, net: Any) -> bool:
        return is_ssd(net)

    def read(self, net: Any, input_shape: tuple[int, ...]) -> tuple[Any, Any]:
        block, head, _ = read_ssd(net, input_shape)
        return block, head

    def plan(self, net: Any, input_shape: tuple[int, ...], options: DetectorOptions) -> SSDPlan:
        return SSDPlan(net, input_shape, options)

    def summary(self, head: Any, report: Any, nms: bool) -> list[str]:
        return [head_line(self.kind, head, head.num_anchors, nms), report.describe()]

    def check(self, net, head, prototxt, caffemodel, x, to_bgr=True, runtime="caffe", x2=None):
        from ..verification.detectors import check_ssd

        return check_ssd(net, head, prototxt, caffemodel, x, to_bgr=to_bgr, runtime=runtime, x2=x2)
