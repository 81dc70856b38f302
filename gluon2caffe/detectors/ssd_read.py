"""Read a GluonCV SSD detector: its prediction part as a traceable block, and its anchors and decoding settings.

GluonCV's SSD graph ends in ops Caffe has no layer for (`_contrib_box_decode`, `_contrib_box_nms`, `where`,
`slice_like` on constant anchors). caffe-ssd computes the same thing with PriorBox + DetectionOutput, so the converter
traces only the part before them (features, class and box predictors, softmax over classes) and reads the rest from
the network itself: the anchors its generators actually produce for this input size, the box decoder's stds, the NMS
settings and the class-score threshold.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InvalidCallError
from .base import ensure_initialized, prediction_block

# `SSD.hybrid_forward` passes valid_thresh=0.01 to box_nms as a literal (gluoncv 0.10.5); the class decoder's
# threshold is an attribute. A score must pass both.
BOX_NMS_VALID_THRESH = 0.01

_SSD_PARTS = ("features", "class_predictors", "box_predictors", "anchor_generators", "bbox_decoder", "cls_decoder")


def is_ssd(net: Any) -> bool:
    """True for a GluonCV SSD (zoo model or a `gluoncv.model_zoo.SSD(...)` instance)."""
    try:
        from gluoncv.model_zoo.ssd.ssd import SSD
    except ImportError:  # pragma: no cover - gluoncv is a dependency
        return False
    return isinstance(net, SSD)


@dataclass
class SSDHead:
    """Everything after the predictors, read from the network."""

    num_classes: int  # foreground classes (Caffe adds background as label 0)
    classes: list[str]
    stds: tuple[float, float, float, float]  # box decoder variances
    nms_thresh: float  # <= 0 or >= 1: no NMS (GluonCV then returns every scored row)
    nms_topk: int  # GluonCV: global top-k before NMS; -1 all
    post_nms: int  # detections kept after NMS; <= 0 all
    score_thresh: float  # scores must be greater than this
    anchors: list[np.ndarray]  # per feature map: (H, W, D, 4) in GluonCV's (cx, cy, w, h) pixels, float32
    image_size: tuple[int, int]  # (H, W) of the converted input

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


def read_ssd(net: Any, input_shape: tuple[int, ...]) -> tuple[Any, SSDHead, int]:
    """(prediction block to trace, head, number of feature maps) for an initialized SSD at `input_shape`."""
    import mxnet as mx

    missing = [p for p in _SSD_PARTS if not hasattr(net, p)]
    if missing:
        raise InvalidCallError(f"not a GluonCV SSD: it has no {', '.join(missing)}")
    ensure_initialized(net, input_shape, "SSD")
    # Feature map shapes by symbolic shape inference (a forward pass would allocate every activation).
    symbols = net.features(mx.sym.var("data"))
    symbols = list(symbols) if isinstance(symbols, (list, tuple)) else [symbols]
    _, shapes, _ = mx.sym.Group(symbols).infer_shape(data=tuple(input_shape))
    feats = [_Shape(tuple(s)) for s in shapes]
    if not len(feats) == len(net.class_predictors) == len(net.box_predictors) == len(net.anchor_generators):
        raise InvalidCallError(
            f"SSD with {len(feats)} feature maps but {len(net.class_predictors)} class predictors, "
            f"{len(net.box_predictors)} box predictors, {len(net.anchor_generators)} anchor generators"
        )
    anchors = []
    for feat, generator in zip(feats, net.anchor_generators):
        _, _, fh, fw = feat.shape
        a = generator(mx.nd.zeros(feat.shape)).asnumpy().astype(np.float32)  # exactly what the net uses
        if a.size % (fh * fw * 4):
            raise InvalidCallError(f"anchor generator {generator.name} gave {a.shape} for a {fh}x{fw} feature map")
        anchors.append(a.reshape(fh, fw, -1, 4))
    decoder = net.bbox_decoder
    stds = tuple(float(s) for s in decoder._stds)  # no public accessor in GluonCV
    if getattr(decoder, "_format", "center") != "center" or getattr(decoder, "_clip", None) not in (None, -1):
        raise InvalidCallError(
            "SSD box decoder with corner-format anchors or a size clip: caffe-ssd's DetectionOutput has neither"
        )
    classes = [str(c) for c in net.classes]
    head = SSDHead(
        num_classes=len(classes),
        classes=classes,
        stds=stds,  # type: ignore[arg-type]
        nms_thresh=float(net.nms_thresh),
        nms_topk=int(net.nms_topk),
        post_nms=int(net.post_nms),
        score_thresh=max(float(net.cls_decoder._thresh), BOX_NMS_VALID_THRESH),
        anchors=anchors,
        image_size=(int(input_shape[2]), int(input_shape[3])),
    )
    return SSDPredictions(net), head, len(feats)


@dataclass
class _Shape:
    shape: tuple[int, ...]


def _ssd_predictions(F: Any, ssd: Any, x: Any) -> Any:
    """SSD.hybrid_forward up to the decoders: [loc (B, N*4), softmax conf (B, N*(C+1)), feature maps...]."""
    features = ssd.features(x)
    features = list(features) if isinstance(features, (list, tuple)) else [features]
    cls = [F.flatten(F.transpose(cp(f), (0, 2, 3, 1))) for f, cp in zip(features, ssd.class_predictors)]
    box = [F.flatten(F.transpose(bp(f), (0, 2, 3, 1))) for f, bp in zip(features, ssd.box_predictors)]
    conf = F.concat(*cls, dim=1).reshape((0, -1, ssd.num_classes + 1))
    conf = F.flatten(F.softmax(conf, axis=-1))
    loc = F.concat(*box, dim=1)
    return [loc, conf] + features


def SSDPredictions(net: Any) -> Any:  # noqa: N802 - a block class built lazily (mxnet is imported on first use)
    return prediction_block(net, _ssd_predictions)
