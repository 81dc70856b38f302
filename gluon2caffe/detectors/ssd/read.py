"""Read a GluonCV SSD from its graph: the part Caffe computes as it is, and the head caffe-ssd's layers replace.

GluonCV's SSD graph ends in ops Caffe has no layer for (`_contrib_box_decode`, `_contrib_box_nms`, the class
decoder's `where` / `_greater_scalar`, `slice_like` on constant anchors). caffe-ssd computes the same thing with
PriorBox + DetectionOutput, so the converter keeps the graph up to the box predictions and the softmax over classes,
and reads the rest from the graph itself (detectors/graph_match.py): the anchors as the net slices them for this
input size, the box decoder's stds, the NMS settings, the class-score threshold and the class count. A live network
is traced whole and read the same way as its exported files, so both give the same Caffe files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...errors import ConversionError
from ...ir.graph import Graph
from ..graph_match import HeadMismatch, HeadWalk, add_node, class_range, cut, ops_of
from ..nms import NMS, read_nms, read_outputs


def is_ssd(net: Any) -> bool:
    """True for a GluonCV SSD (zoo model or a `gluoncv.model_zoo.SSD(...)` instance), or an exported graph with
    SSD's box decoder."""
    if isinstance(getattr(net, "symbol_json", None), str):  # an exported model (frontend.exported.ExportedModel)
        return "_contrib_box_decode" in ops_of(net.symbol_json)
    try:
        from gluoncv.model_zoo.ssd.ssd import SSD
    except ImportError:  # pragma: no cover - gluoncv is a dependency
        return False
    return isinstance(net, SSD)


@dataclass
class SSDHead:
    """Everything after the predictors, read from the graph."""

    num_classes: int  # foreground classes (Caffe adds background as label 0)
    classes: list[str]
    stds: tuple[float, float, float, float]  # box decoder variances
    nms_thresh: float  # <= 0 or >= 1: no NMS (GluonCV then returns every scored row)
    nms_topk: int  # GluonCV: global top-k before NMS; -1 all
    post_nms: int  # detections kept after NMS; <= 0 all
    score_thresh: float  # scores must be greater than this
    anchors: list[np.ndarray]  # per feature map: (H, W, D, 4) in GluonCV's (cx, cy, w, h) pixels, float32
    image_size: tuple[int, int]  # (H, W) of the converted input
    # The MXNet tensors (IR names) the check compares with: loc, anchors, decoded, conf, ids, scores, boxes.
    tensors: dict[str, str] = field(default_factory=dict)

    @property
    def num_anchors(self) -> int:
        return sum(int(np.prod(a.shape[:3])) for a in self.anchors)

    def corner_anchors(self) -> np.ndarray:
        """All anchors as caffe-ssd priors: (N, 4) corners normalized by the image size, in GluonCV's order."""
        a = np.concatenate([x.reshape(-1, 4) for x in self.anchors]).astype(np.float64)
        h, w = self.image_size
        half = a[:, 2:] / 2
        corners = np.concatenate([a[:, :2] - half, a[:, :2] + half], axis=1)
        return corners / np.array([w, h, w, h])


@dataclass
class SSDMatch:
    """What the walk found in the graph (tensor names), before shapes are known."""

    walk: HeadWalk
    loc: str  # (B, N, 4) box predictions: the box decoder's data input
    conf: str  # (B, N, C + 1) class probabilities: the softmax the class decoder reads
    anchors: str  # (1, N, 4) the decoder's anchors
    anchor_maps: list[str]  # per feature map: the anchor constant sliced to it (1, 1, H, W, D * 4)
    features: list[str]  # the feature maps the anchors were sliced to
    decoded: str
    num_classes: int
    stds: tuple[float, float, float, float]
    score_thresh: float  # the class decoder's threshold
    nms: NMS
    outputs: list[str]


def match_ssd(graph: Graph) -> SSDMatch:
    """Walk GluonCV's SSD head back from the graph's outputs (SSD.hybrid_forward, gluoncv 0.10.5); HeadMismatch at
    the first node that differs, naming it and the pattern expected there."""
    w = HeadWalk(graph, "SSD")
    result, nms = read_outputs(w), None
    result, nms = read_nms(w, result)
    per_class = w.expect(result, ("Concat", "concat"), "the per-class detections", dim=1)
    cid = score = boxes = None
    for i, row in enumerate(per_class.inputs):
        c = w.expect(row, ("Concat", "concat"), f"class {i}'s [id, score, box] rows", dim=-1)
        if len(c.inputs) != 3:
            raise w.fail(row, f"class {i}'s rows: a Concat of 3 (id, score, box)")
        ids_i = w.slice_axis(c.inputs[0], f"class {i}'s ids", (-1, 2), i, i + 1).inputs[0]
        score_i = w.slice_axis(c.inputs[1], f"class {i}'s scores", (-1, 2), i, i + 1).inputs[0]
        if (cid, score, boxes) != (None, None, None) and (ids_i, score_i, c.inputs[2]) != (cid, score, boxes):
            raise w.fail(row, f"class {i}'s rows: the same ids, scores and boxes as class 0's")
        cid, score, boxes = ids_i, score_i, c.inputs[2]
    num_classes = len(per_class.inputs)
    decoder = w.expect(boxes, "_contrib_box_decode", "the box decoder (NormalizedBoxCenterDecoder)", format="center")
    if decoder.attrs.float("clip", -1.0) > 0:
        raise ConversionError(
            "SSD box decoder with a size clip: caffe-ssd's DetectionOutput has none", decoder.name, decoder.op
        )
    stds = tuple(decoder.attrs.float(f"std{k}", 1.0) for k in range(4))
    loc, anchors = decoder.inputs
    conf, thresh = _class_decoder(w, cid, score, num_classes)
    anchor_maps, features = _anchor_generators(w, anchors)
    return SSDMatch(
        w, loc, conf, anchors, anchor_maps, features, boxes, num_classes, stds, thresh, nms, w.graph.outputs[:]
    )


def _class_decoder(w: HeadWalk, cid: str, score: str, num_classes: int) -> tuple[str, float]:
    """MultiPerClassDecoder: (the softmax it reads, its threshold)."""
    ids = w.expect(cid, "where", "the class decoder's ids (where)")
    scores = w.expect(score, "where", "the class decoder's scores (where)")
    if ids.inputs[0] != scores.inputs[0]:
        raise w.fail(score, "the class decoder's scores: a where on the same mask as the ids")
    mask = w.expect(ids.inputs[0], "_greater_scalar", "the class decoder's score threshold")
    foreground = mask.inputs[0]
    if scores.inputs[1] != foreground:
        raise w.fail(scores.inputs[1], "the class decoder's foreground scores")
    w.expect(scores.inputs[2], "zeros_like", "zeros for scores under the threshold")
    neg = w.expect(ids.inputs[2], "_mul_scalar", "-1 ids for scores under the threshold", scalar=-1.0)
    w.expect(neg.inputs[0], "ones_like", "-1 ids for scores under the threshold")
    grid = w.expect(ids.inputs[1], "broadcast_add", "the class id grid (zeros + arange)")
    softmax_in = w.slice_axis(foreground, "the foreground class probabilities", (-1, 2), 1, None).inputs[0]
    zeros = w.expect(grid.inputs[0], "zeros_like", "the class id grid's zeros")
    if w.slice_axis(zeros.inputs[0], "the background column", (-1, 2), 0, 1).inputs[0] != softmax_in:
        raise w.fail(zeros.inputs[0], "a slice of the class probabilities")
    if list(class_range(w, grid.inputs[1], "the class ids")) != list(range(num_classes)):
        raise w.fail(grid.inputs[1], f"the class ids 0..{num_classes - 1}")
    softmax = w.expect(softmax_in, "softmax", "the softmax over classes")
    if softmax.attrs.int("axis", -1) not in (-1, 2) or softmax.attrs.str("temperature", "None") not in (
        "None",
        "1",
        "1.0",
    ):
        raise w.fail(softmax_in, "the softmax over classes: axis=-1, no temperature")
    return softmax_in, mask.attrs.float("scalar")


def _anchor_generators(w: HeadWalk, anchors: str) -> tuple[list[str], list[str]]:
    """SSDAnchorGenerator outputs concatenated: per map the sliced constant and the feature map it is sliced to."""
    node = w.expect(anchors, ("Reshape", "reshape"), "the anchors (1, N, 4)")
    concat = w.expect(node.inputs[0], ("Concat", "concat"), "the anchors of every feature map", dim=1)
    maps, features = [], []
    for i, t in enumerate(concat.inputs):
        sliced, feature = w.sliced_constant(t, f"anchor generator {i}'s anchors")
        maps.append(sliced)
        features.append(feature)
    return maps, features


def cut_ssd(graph: Graph) -> SSDMatch:
    """Find the head and remove it: the graph then computes [loc, conf, feature maps...]."""
    match = match_ssd(graph)
    cut(graph, [match.loc, match.conf] + match.features)
    return match


def finish_ssd(
    match: SSDMatch, graph: Graph, input_shape: tuple[int, ...], classes: list[str] | None, loc: str, conf: str
) -> SSDHead:
    """With shapes known: the head's numbers, and the cut graph's outputs renamed / flattened to caffe-ssd's `loc`
    (B, N * 4) and `conf` (B, N * (C + 1)) blobs, followed by the feature maps."""
    w, shapes = match.walk, graph.shapes
    k = match.num_classes
    b, n, c1 = shapes[match.conf]
    if c1 != k + 1 or shapes[match.loc] != (b, n, 4):
        raise HeadMismatch(
            f"the graph's tail is not a GluonCV SSD head: {k} classes but class probabilities of shape "
            f"{shapes[match.conf]} and box predictions of shape {shapes[match.loc]}"
        )
    per_map = []
    for t, feature in zip(match.anchor_maps, match.features):
        _, _, fh, fw = shapes[feature]
        value = w.constant_value(t, "the anchors").astype(np.float32)
        if value.size % (fh * fw * 4):
            raise w.fail(t, f"anchors for a {fh}x{fw} feature map")
        per_map.append(value.reshape(fh, fw, -1, 4))
    every = w.constant_value(match.anchors, "the anchors").reshape(-1, 4)
    if not np.array_equal(every, np.concatenate([a.reshape(-1, 4) for a in per_map])) or len(every) != n:
        raise w.fail(match.anchors, "the feature maps' anchors concatenated in order, one per box prediction")
    producer = w.producer(match.loc)
    flat = producer.inputs[0] if producer is not None and producer.op in ("Reshape", "reshape") else None
    if flat is not None and shapes.get(flat) == (b, n * 4) and flat not in match.features:
        graph.rename_tensor(flat, loc)
        loc_source = flat
    else:
        add_node(graph, loc, "Flatten", [match.loc], (b, n * 4))
        loc_source = None
    add_node(graph, conf, "Flatten", [match.conf], (b, n * c1))
    cut(graph, [loc, conf] + match.features)  # the (B, N, 4) Reshape is no longer needed
    nms = match.nms
    names = list(classes) if classes is not None else [f"class{i}" for i in range(k)]
    if len(names) != k:
        raise ConversionError(f"{len(names)} class names for an SSD with {k} classes")
    return SSDHead(
        num_classes=k,
        classes=names,
        stds=match.stds,  # type: ignore[arg-type]
        nms_thresh=nms.overlap if nms.present else 0.0,
        nms_topk=nms.topk,
        post_nms=nms.post if nms.present else -1,
        score_thresh=max(match.score_thresh, nms.valid_thresh) if nms.present else match.score_thresh,
        anchors=per_map,
        image_size=(int(input_shape[2]), int(input_shape[3])),
        tensors={
            "loc": match.loc,
            "loc_flat": loc_source or "",
            "anchors": match.anchors,
            "decoded": match.decoded,
            "conf": match.conf,
            "ids": match.outputs[0],
            "scores": match.outputs[1],
            "boxes": match.outputs[2],
        },
    )
