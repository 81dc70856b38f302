"""Read a GluonCV CenterNet from its graph: the network up to its decoder's inputs (the class heatmap after its
sigmoid, the box-size map and the center-offset map), and the decoder's settings (top-k, output stride).

GluonCV's CenterNetDecoder picks the top-k peaks over C*H*W and gathers the sizes and offsets at them (topk,
gather_nd, integer division of the flat indices): no Caffe layer gathers at data-dependent indices, so the
conversion stops at the decoder's inputs, like SSD / YOLOv3 with nms=False. The heatmap's NMS before the decoder,
keep = (maxpool3x3(h) == h) * h, is exact in Caffe and is written by detectors/centernet/layers.py.

The walk (graph_match.HeadWalk) starts from the graph's outputs (ids, scores, boxes):
    scores = topk(Reshape(keep * h, (0, -1)))          keep = broadcast_equal(Pooling max 3x3/1 pad 1 (h), h)
    boxes  = Concat(x - w/2, y - h/2, x + w/2, y + h/2) * stride
             x = Cast(xs) + Cast(Reshape(gather_nd(Reshape(transpose(offset, (0, 2, 3, 1)), (0, -1, 2)), idx)))
             w/2 = Cast(Reshape(gather_nd(Reshape(transpose(wh, (0, 2, 3, 1)), (0, -1, 2)), idx))) / 2
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ...ir.graph import Graph
from ..graph_match import HeadMismatch, HeadWalk, cut, ops_of

DECODER_OPS = {"topk", "gather_nd", "broadcast_equal"}


def is_centernet(net: Any) -> bool:
    """True for a GluonCV CenterNet (zoo model or a `gluoncv.model_zoo.center_net.CenterNet`), or an exported graph
    with its heatmap NMS and top-k / gather decoder."""
    if isinstance(getattr(net, "symbol_json", None), str):  # an exported model (frontend.exported.ExportedModel)
        return DECODER_OPS <= ops_of(net.symbol_json)
    try:
        from gluoncv.model_zoo.center_net.center_net import CenterNet
    except ImportError:  # pragma: no cover - gluoncv is a dependency
        return False
    return isinstance(net, CenterNet)


@dataclass
class CenterNetHead:
    """What the converted CenterNet outputs, and what decodes them (outside Caffe)."""

    num_classes: int
    classes: list[str]
    topk: int  # the decoder keeps the k highest peaks over classes x positions
    stride: float  # box coordinates = heatmap cells x stride (the decoder's scale)
    map_size: tuple[int, int]  # (H, W) of the heatmap: the input / stride
    image_size: tuple[int, int]  # (H, W) of the input
    # MXNet tensors at the decoder's inputs, in the converted net's output order: the heatmap after its NMS
    # (keep * h), the box sizes, the center offsets; and "heatmap" (h: the sigmoid, before the NMS).
    tensors: list[str] = field(default_factory=list)
    heatmap: str = ""
    blobs: list[str] = field(default_factory=list)  # the Caffe outputs for `tensors` (set when the tail is emitted)

    def output_blobs(self) -> list[str]:
        """The converted net's outputs in `tensors` order: the heatmap after its NMS, the sizes, the offsets."""
        from .layers import OFFSETS, PEAKS, SIZES

        return self.blobs or [PEAKS, SIZES, OFFSETS]


@dataclass
class CenterNetMatch:
    walk: HeadWalk
    heatmap: str  # h, the sigmoid of the heatmap head
    peaks: str  # keep * h
    wh: str
    offset: str
    topk: int
    stride: float


def match_centernet(graph: Graph) -> CenterNetMatch:
    """Walk GluonCV's CenterNet decoder back from the graph's outputs (ids, scores, boxes)."""
    w = HeadWalk(graph, "CenterNet")
    if len(graph.outputs) != 3:
        raise HeadMismatch(f"a GluonCV CenterNet has 3 outputs (ids, scores, boxes), this graph {len(graph.outputs)}")
    _ids, scores, boxes = graph.outputs
    top = w.expect(scores, "topk", "the scores: the top-k peaks", ret_typ="both")
    flat = w.expect(top.inputs[0], ("Reshape", "reshape"), "the peaks flattened over classes x positions")
    peaks = w.expect(flat.inputs[0], ("elemwise_mul", "broadcast_mul"), "the peaks: keep * heatmap")
    equal = w.expect(peaks.inputs[0], "broadcast_equal", "keep: the heatmap equals its 3x3 maximum")
    heatmap = peaks.inputs[1]
    pool = w.expect(equal.inputs[0], "Pooling", "the heatmap's 3x3 maximum", pool_type="max", kernel=(3, 3))
    if tuple(pool.attrs.int_tuple("stride", (1, 1))) != (1, 1) or tuple(pool.attrs.int_tuple("pad", (0, 0))) != (
        1,
        1,
    ):
        raise w.fail(equal.inputs[0], "the heatmap's 3x3 maximum: stride 1, pad 1")
    if pool.inputs[0] != heatmap or equal.inputs[1] != heatmap:
        raise w.fail(peaks.inputs[1], "the heatmap the 3x3 maximum is taken of")

    scale = w.expect(boxes, "_mul_scalar", "the boxes times the output stride")
    corners = w.expect(scale.inputs[0], ("Concat", "concat"), "the box corners")
    left = w.expect(corners.inputs[0], "expand_dims", "the left edge")
    sub = w.expect(left.inputs[0], "elemwise_sub", "the left edge: center x - width / 2")
    center = w.expect(sub.inputs[0], "elemwise_add", "the center x: the peak's column + its offset")
    half = w.expect(sub.inputs[1], "_div_scalar", "half the width", scalar=2.0)
    wh = _gathered_map(w, half.inputs[0], "the box sizes")
    offset = _gathered_map(w, center.inputs[1], "the center offsets")
    return CenterNetMatch(w, heatmap, peaks.outputs[0], wh, offset, top.attrs.int("k", 1), scale.attrs.float("scalar"))


def _gathered_map(w: HeadWalk, tensor: str, role: str) -> str:
    """The map a decoder value is gathered from: Cast(Reshape(gather_nd(Reshape(transpose(map)))))."""
    cast = w.expect(tensor, "Cast", f"{role}: the gathered values as float32")
    rows = w.expect(cast.inputs[0], ("Reshape", "reshape"), f"{role}: the gathered values by peak")
    gather = w.expect(rows.inputs[0], "gather_nd", f"{role}: the values at the peaks")
    flat = w.expect(gather.inputs[0], ("Reshape", "reshape"), f"{role}: the map as (N, H*W, 2)")
    channels_last = w.expect(flat.inputs[0], "transpose", f"{role}: the map channels-last", axes=(0, 2, 3, 1))
    return channels_last.inputs[0]


def cut_centernet(graph: Graph) -> CenterNetMatch:
    """Find the decoder and remove it (with the heatmap NMS, which the Caffe tail rewrites): the graph then computes
    the heatmap (after its sigmoid), the box sizes and the center offsets."""
    match = match_centernet(graph)
    cut(graph, [match.heatmap, match.wh, match.offset])
    return match


def finish_centernet(
    match: CenterNetMatch, graph: Graph, input_shape: tuple[int, ...], classes: list[str] | None
) -> CenterNetHead:
    """With shapes known: the class count and the map size; the sizes and offsets must be 2-channel maps there."""
    _, k, h, width = graph.shapes[match.heatmap]
    for tensor, role in ((match.wh, "box-size"), (match.offset, "center-offset")):
        if tuple(graph.shapes[tensor]) != (graph.shapes[match.heatmap][0], 2, h, width):
            raise HeadMismatch(
                f"the graph's tail is not a GluonCV CenterNet head: the {role} map is {graph.shapes[tensor]}, "
                f"expected 2 channels on the heatmap's {h}x{width} grid"
            )
    names = list(classes) if classes is not None else [f"class{i}" for i in range(k)]
    if len(names) != k:
        raise HeadMismatch(f"{len(names)} class names for a CenterNet with {k} classes")
    return CenterNetHead(
        num_classes=k,
        classes=names,
        topk=match.topk,
        stride=match.stride,
        map_size=(h, width),
        image_size=(int(input_shape[2]), int(input_shape[3])),
        tensors=[match.peaks, match.wh, match.offset],
        heatmap=match.heatmap,
    )
