"""The CenterNet family: GluonCV's CenterNet (without deformable convolution) converted up to its decoder's inputs.

The net's outputs are what CenterNetDecoder takes: `centernet_heatmap` (N, C, H, W), the class heatmap after its
3x3 max-pool NMS; the box sizes (N, 2, H, W) and the center offsets (N, 2, H, W). Decoding them (docs/detectors.md,
"CenterNet"): take the top-k values of the heatmap over C*H*W; for a value at (c, y, x), the class is c, the score
the value, the center (x + offset[0, y, x], y + offset[1, y, x]), the box that center -/+ wh[:, y, x] / 2, all
times the stride (input size / heatmap size).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...converters.context import EmitContext
from ...ir.graph import Graph
from ..base import Detector, DetectorOptions, DetectorPlan, register_detector
from .layers import PEAKS, centernet_aliases, emit_centernet_head
from .read import CenterNetHead, CenterNetMatch, cut_centernet, finish_centernet, is_centernet

if TYPE_CHECKING:
    from ...verification.detectors import DetectorCheck, DetectorRun


class CenterNetPlan(DetectorPlan):
    def __init__(self, match: CenterNetMatch, graph: Graph, input_shape: tuple[int, ...], classes: list[str] | None):
        self.head = finish_centernet(match, graph, input_shape, classes)
        self.maps = (match.heatmap, match.wh, match.offset)

    def emit(self, ctx: EmitContext, input_name: str) -> list[str]:
        return emit_centernet_head(ctx, self.head, *self.maps)


class CenterNet(Detector):
    kind = "CenterNet"
    function = "convert_with"
    default_input_shape = (1, 3, 512, 512)
    options = ()  # no NMS to leave out: the conversion always stops at the decoder's inputs
    compared_at = "at the decoder's input"
    background_label = False  # heatmap channel c is class c
    scores_background = False
    scores_output = 0  # the heatmap

    def matches(self, net: object) -> bool:
        return is_centernet(net)

    def cut(self, graph: Graph) -> CenterNetMatch:
        return cut_centernet(graph)

    def plan(
        self,
        match: CenterNetMatch,
        graph: Graph,
        input_shape: tuple[int, ...],
        options: DetectorOptions,
        classes: list[str] | None = None,
    ) -> CenterNetPlan:
        return CenterNetPlan(match, graph, input_shape, classes)

    def aliases(self, head: CenterNetHead) -> dict[str, str]:
        return centernet_aliases(head)

    def summary(self, head: CenterNetHead, report: object | None, nms: bool) -> list[str]:
        h, w = head.map_size
        return [
            f"CenterNet: {head.num_classes} classes on a {h}x{w} heatmap (stride {head.stride:g}); converted up to "
            f"its decoder: outputs {PEAKS} (heatmap after the 3x3 max-pool NMS), box sizes, center offsets",
            f"decode outside Caffe: top-{head.topk} of {PEAKS} over classes x positions, sizes and offsets at those "
            "positions (docs/detectors.md, 'CenterNet')",
        ]

    def output_meanings(self, head: CenterNetHead, nms: bool) -> list[str]:
        h, w = head.map_size
        return [
            f"heatmap (N, classes, {h}, {w}) after the 3x3 max-pool NMS: channel c = class c (line c of the labels "
            f"file), a peak's value is its score; top-{head.topk} over classes x positions",
            f"box sizes (N, 2, {h}, {w}): width, height at each cell, in heatmap cells (times the stride "
            f"{head.stride:g} for input pixels)",
            f"center offsets (N, 2, {h}, {w}): x, y added to a peak's cell before the stride",
        ]

    def check(self, run: DetectorRun) -> DetectorCheck:
        from .check import check_centernet

        return check_centernet(run)


CENTERNET_DETECTOR = register_detector(CenterNet())
