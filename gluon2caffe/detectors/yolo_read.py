"""Read a GluonCV YOLOv3 detector: its network up to the raw predictions as a traceable block, plus what its
YOLOOutputV3 layers decode with (anchors, strides, grid offsets) and its NMS settings.

GluonCV's YOLOOutputV3 decodes with ops Caffe has no layers for (slice_like on constant grids, tile, arange) and
ends in box_nms. The converter traces the network up to each output's 1x1 prediction convolution and writes the
decoding itself from exact Caffe layers (detectors/yolo_layers.py), reading the constants from the network.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InvalidCallError
from .base import ensure_initialized, prediction_block

# `YOLOV3.hybrid_forward` passes valid_thresh=0.01 to box_nms as a literal (gluoncv 0.10.5).
BOX_NMS_VALID_THRESH = 0.01


def is_yolo(net: Any) -> bool:
    """True for a GluonCV YOLOv3 (zoo model or a `gluoncv.model_zoo.YOLOV3(...)` instance)."""
    try:
        from gluoncv.model_zoo.yolo.yolo3 import YOLOV3
    except ImportError:  # pragma: no cover - gluoncv is a dependency
        return False
    return isinstance(net, YOLOV3)


@dataclass
class YOLOOutput:
    """One YOLOOutputV3 at this input size."""

    height: int
    width: int
    stride: float
    anchors: np.ndarray  # (A, 2) pixel (w, h)
    offsets: np.ndarray  # (H*W, 2) grid (x, y), in GluonCV's position order

    @property
    def num_anchors(self) -> int:
        return int(self.anchors.shape[0])

    @property
    def num_boxes(self) -> int:
        return self.height * self.width * self.num_anchors


@dataclass
class YOLOHead:
    num_classes: int
    classes: list[str]
    outputs: list[YOLOOutput]
    nms_thresh: float
    nms_topk: int
    post_nms: int
    score_thresh: float
    image_size: tuple[int, int]  # (H, W)

    @property
    def num_boxes(self) -> int:
        return sum(o.num_boxes for o in self.outputs)


def read_yolo(net: Any, input_shape: tuple[int, ...]) -> tuple[Any, YOLOHead]:
    """(prediction block to trace, head) for an initialized YOLOv3 at `input_shape`."""
    import mxnet as mx

    for part in ("stages", "yolo_blocks", "yolo_outputs", "transitions"):
        if not hasattr(net, part):
            raise InvalidCallError(f"not a GluonCV YOLOv3: it has no {part}")
    ensure_initialized(net, input_shape, "YOLOv3")
    block = YOLOPredictions(net)
    # Each prediction map's size, by symbolic shape inference (no forward pass).
    symbols = block(mx.sym.var("data"))
    _, shapes, _ = mx.sym.Group(list(symbols)).infer_shape(data=tuple(input_shape))
    outputs = []
    for shape, out in zip(shapes, net.yolo_outputs):
        _, channels, h, w = shape
        anchors = out.anchors.data().asnumpy().reshape(-1, 2).astype(np.float32)
        if channels != anchors.shape[0] * (5 + out._classes):
            raise InvalidCallError(f"{out.name}: {channels} prediction channels for {anchors.shape[0]} anchors")
        grid = out.offsets.data().asnumpy()  # (1, 1, alloc_h, alloc_w, 2)
        if grid.shape[2] < h or grid.shape[3] < w:
            raise InvalidCallError(f"{out.name}: a {h}x{w} map exceeds the {grid.shape[2:4]} offset grid")
        offsets = grid[0, 0, :h, :w, :].reshape(-1, 2).astype(np.float32)
        outputs.append(YOLOOutput(h, w, float(out._stride), anchors, offsets))
    classes = [str(c) for c in net.classes]
    head = YOLOHead(
        num_classes=len(classes),
        classes=classes,
        outputs=outputs,
        nms_thresh=float(net.nms_thresh),
        nms_topk=int(net.nms_topk),
        post_nms=int(net.post_nms),
        score_thresh=BOX_NMS_VALID_THRESH,
        image_size=(int(input_shape[2]), int(input_shape[3])),
    )
    return block, head


def _yolo_predictions(F: Any, yolo: Any, x: Any) -> Any:
    """YOLOV3.hybrid_forward (inference) up to each output's prediction convolution: [pred_0, pred_1, ...]."""
    from gluoncv.model_zoo.yolo.yolo3 import _upsample

    routes = []
    for stage in yolo.stages:
        x = stage(x)
        routes.append(x)
    predictions = []
    for i, block, output in zip(range(len(routes)), yolo.yolo_blocks, yolo.yolo_outputs):
        x, tip = block(x)
        predictions.append(output.prediction(tip))
        if i >= len(routes) - 1:
            break
        x = yolo.transitions[i](x)
        upsample = _upsample(x, stride=2)
        route_now = routes[::-1][i + 1]
        # GluonCV crops to route_now * 0; only the shape matters, so the route itself is the reference.
        x = F.concat(F.slice_like(upsample, route_now, axes=(2, 3)), route_now, dim=1)
    return predictions


def YOLOPredictions(net: Any) -> Any:  # noqa: N802 - a block class built lazily (mxnet is imported on first use)
    return prediction_block(net, _yolo_predictions)
