"""YOLOv3's decoding (GluonCV's YOLOOutputV3) from exact Caffe layers, and its NMS on caffe-ssd's DetectionOutput.

Per output, from the 1x1 prediction map (B, A*(5+C), H, W), the same float32 operations GluonCV performs:
    (B, A, 5+C, H*W) -Permute-> (B, H*W, A, 5+C) -Slice-> centers | sizes | objectness | classes
    centers: Sigmoid -> Eltwise SUM with the grid offsets (a constant blob) -> Power(scale=stride)
    sizes:   Exp -> Eltwise PROD with the anchors (a constant blob) -> Power(scale=-/+0.5)
    corners: Eltwise SUM centers + those -> Concat (B, H*W, A, 4)
    scores:  Sigmoid(classes) x Sigmoid(objectness) (expanded by a Deconvolution + Eltwise PROD, or a two-bottom Scale)
The outputs are flattened and concatenated: `yolo_boxes` (B, N*4) pixel corners and `yolo_scores` (B, N*C), or
(B, N*(C+1)) with the background column when DetectionOutput follows.

DetectionOutput then runs GluonCV's NMS on them: the boxes are its "loc" against all-zero priors with code_type
CORNER, whose decoding is prior + variance * loc, so variances (1/W, 1/H, 1/W, 1/H) make it the identity plus the
normalization to [0, 1] (like the SSD path); the scores are its "conf" with no background class
(background_label_id -1), so labels are GluonCV's class ids.
"""

from __future__ import annotations

import numpy as np

from ...caffe import caffe_pb2 as pb
from ...converters.context import EmitContext
from ...converters.elemwise import expand_axes
from ..common import emit_constant_blob, emit_detection_output
from .read import YOLOHead


BOXES, SCORES, PRIORS, LOC = "yolo_boxes", "yolo_scores", "yolo_priors", "yolo_loc"


def emit_yolo_head(ctx: EmitContext, head: YOLOHead, predictions: list[str], input_name: str, nms: bool) -> list[str]:
    """Append the decoding (and DetectionOutput); returns the net's outputs."""
    boxes, scores = [], []
    for index, (pred, out) in enumerate(zip(predictions, head.outputs)):
        b, s = _decode(ctx, pred, out, head.num_classes, f"yolo_output{index}", nms, input_name)
        boxes.append(b)
        scores.append(s)
    for parts, top in ((boxes, LOC if nms else BOXES), (scores, SCORES)):
        layer = ctx.layer(top, "Concat", parts, [top])
        layer.concat_param.axis = 1
    if not nms:
        batch = ctx.shape(input_name)[0]
        ctx.set_shape(BOXES, (batch, head.num_boxes * 4))  # the model card's output shapes
        ctx.set_shape(SCORES, (batch, head.num_boxes * head.num_classes))
        return [BOXES, SCORES]
    _anchor_priors(ctx, head, input_name)
    return [emit_detection_output(ctx, head, LOC, SCORES, PRIORS, pb.PriorBoxParameter.CENTER_SIZE)]


def _decode(
    ctx: EmitContext, pred: str, out, num_classes: int, base: str, background: bool, input_name: str
) -> tuple[str, str]:
    a, hw, p = out.num_anchors, out.height * out.width, 5 + num_classes

    def name(tag: str) -> str:
        return ctx.unique(f"{base}_{tag}")

    grid = name("grid")
    ctx.layer(grid, "Reshape", [pred], [grid]).reshape_param.shape.dim.extend([0, a, p, hw])
    cells = name("cells")
    ctx.layer(cells, "Permute", [grid], [cells]).permute_param.order.extend([0, 3, 1, 2])
    raw_centers, raw_sizes, raw_obj, raw_cls = name("raw_centers"), name("raw_sizes"), name("raw_obj"), name("raw_cls")
    layer = ctx.layer(name("split"), "Slice", [cells], [raw_centers, raw_sizes, raw_obj, raw_cls])
    layer.slice_param.axis = 3
    layer.slice_param.slice_point.extend([2, 4, 5])

    sig = name("centers_sigmoid")
    ctx.layer(sig, "Sigmoid", [raw_centers], [sig])
    # The grid offsets and the anchors vary per element: constant (B, HW, A, 2) blobs and Eltwise (x + c, x * c are
    # exact). A Scale/Bias with a multi-axis blob would be simpler, but ncnn and MNN apply only per-channel ones.
    offsets = name("grid_offsets")
    emit_constant_blob(ctx, offsets, np.repeat(out.offsets[:, None, :], a, axis=1), input_name, (hw, a, 2))
    shifted = name("centers_grid")
    ctx.layer(shifted, "Eltwise", [sig, offsets], [shifted]).eltwise_param.operation = pb.EltwiseParameter.SUM
    centers = name("centers")
    layer = ctx.layer(centers, "Power", [shifted], [centers])
    layer.power_param.power, layer.power_param.scale, layer.power_param.shift = 1.0, out.stride, 0.0

    if background:  # DetectionOutput's CENTER_SIZE input: pixel centers and the raw size logits (_anchor_priors)
        loc = name("loc")
        ctx.layer(loc, "Concat", [centers, raw_sizes], [loc]).concat_param.axis = 3
        boxes = name("loc_flat")
        ctx.layer(boxes, "Flatten", [loc], [boxes])
    else:
        boxes = _corners(ctx, name, raw_sizes, centers, out, input_name)

    obj = name("objectness")
    ctx.layer(obj, "Sigmoid", [raw_obj], [obj])
    cls = name("class_sigmoid")
    ctx.layer(cls, "Sigmoid", [raw_cls], [cls])
    score = name("scores")
    if ctx.options.patterns.broadcast != "scale":  # (B, HW, A, 1) repeated over the classes, then a product
        batch = ctx.shape(pred)[0]
        ctx.set_shape(obj, (batch, hw, a, 1))
        tiled = expand_axes(ctx, name("objectness"), obj, (batch, hw, a, num_classes))
        ctx.layer(score, "Eltwise", [cls, tiled], [score]).eltwise_param.operation = pb.EltwiseParameter.PROD
    else:  # a Scale with two bottoms, the objectness as (B, HW, A) (not per channel: wrong in ncnn)
        obj3 = name("objectness_3d")
        ctx.layer(obj3, "Reshape", [obj], [obj3]).reshape_param.shape.dim.extend([0, hw, a])
        ctx.layer(score, "Scale", [cls, obj3], [score]).scale_param.axis = 0
    if background:  # a zero score column 0 (Power with scale 0 writes zeros whatever its input)
        zero = name("background")
        layer = ctx.layer(zero, "Power", [raw_obj], [zero])
        layer.power_param.power, layer.power_param.scale, layer.power_param.shift = 1.0, 0.0, 0.0
        with_bg = name("scores_bg")
        ctx.layer(with_bg, "Concat", [zero, score], [with_bg]).concat_param.axis = 3
        score = with_bg
    scores = name("scores_flat")
    ctx.layer(scores, "Flatten", [score], [scores])
    return boxes, scores


def _corners(ctx: EmitContext, name, raw_sizes: str, centers: str, out, input_name: str) -> str:
    """GluonCV's pixel corners, flattened (B, HW*A*4): centers -/+ exp(raw sizes) * anchors / 2."""
    hw, a = out.height * out.width, out.num_anchors
    exp = name("sizes_exp")
    ctx.layer(exp, "Exp", [raw_sizes], [exp])
    anchors = name("anchor_sizes")
    emit_constant_blob(ctx, anchors, np.broadcast_to(out.anchors, (hw, a, 2)), input_name, (hw, a, 2))
    sizes = name("sizes")
    ctx.layer(sizes, "Eltwise", [exp, anchors], [sizes]).eltwise_param.operation = pb.EltwiseParameter.PROD
    # centers -/+ sizes / 2 as two plain sums with +-0.5 * sizes (negation is exact): MNN merges two Eltwise layers
    # over the same bottoms whatever their coeff (corner_max came out as corner_min).
    low, high = name("corner_min"), name("corner_max")
    for top, half, factor in ((low, name("minus_half_sizes"), -0.5), (high, name("half_sizes"), 0.5)):
        layer = ctx.layer(half, "Power", [sizes], [half])
        layer.power_param.power, layer.power_param.scale, layer.power_param.shift = 1.0, factor, 0.0
        ctx.layer(top, "Eltwise", [centers, half], [top]).eltwise_param.operation = pb.EltwiseParameter.SUM
    corners = name("boxes")
    ctx.layer(corners, "Concat", [low, high], [corners]).concat_param.axis = 3
    boxes = name("boxes_flat")
    ctx.layer(boxes, "Flatten", [corners], [boxes])
    return boxes


def _anchor_priors(ctx: EmitContext, head: YOLOHead, input_name: str) -> None:
    """(1, 2, 4N) priors for CENTER_SIZE decoding that reproduces GluonCV's boxes from `yolo_loc`:
    prior i is centered at 0 with the anchor's normalized size (aw/W, ah/H) and variances (1/aw, 1/ah, 1, 1), so
    DetectionOutput's center = (1/aw) * cx * aw/W = cx/W and size = exp(raw) * aw/W, both normalized to [0, 1].
    (Every runtime implements CENTER_SIZE; ncnn's DetectionOutput has no other code type.)"""
    h, w = head.image_size
    priors, variances = [], []
    for out in head.outputs:
        anchors = np.tile(out.anchors.astype(np.float64), (out.height * out.width, 1))  # (HW*A, 2), anchor fastest
        half = anchors / 2 / np.array([w, h])
        priors.append(np.concatenate([-half, half], 1))
        variances.append(np.concatenate([1 / anchors, np.ones_like(anchors)], 1))
    constant = np.concatenate([np.concatenate(priors).reshape(-1), np.concatenate(variances).reshape(-1)])
    emit_constant_blob(ctx, PRIORS, constant.astype(np.float32), input_name)
