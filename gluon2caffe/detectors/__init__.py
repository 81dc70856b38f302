"""GluonCV detectors behind one protocol (base.py): each family reads its head from the network, emits its decoding
and DetectionOutput, and checks a conversion against GluonCV. Registering a family here is all the pipeline, the CLI
and the zoo sweep need."""

from __future__ import annotations

from .base import DETECTORS, Detector, DetectorOptions, DetectorPlan, detector_for, register_detector
from .centernet import CenterNet
from .multibox import MultiBox
from .ssd import SSD
from .yolo import YOLOv3

SSD_DETECTOR = register_detector(SSD())
# Before YOLOv3: an exported CenterNet's decoder has YOLOOutputV3's grid ops too (tile, _arange, slice_like), and
# detector_for takes the first family that matches; CenterNet's (topk, gather_nd, broadcast_equal) is narrower.
CENTERNET_DETECTOR = register_detector(CenterNet())
YOLO_DETECTOR = register_detector(YOLOv3())
MULTIBOX_DETECTOR = register_detector(MultiBox())

__all__ = [
    "CENTERNET_DETECTOR",
    "DETECTORS",
    "Detector",
    "DetectorOptions",
    "DetectorPlan",
    "MULTIBOX_DETECTOR",
    "SSD_DETECTOR",
    "YOLO_DETECTOR",
    "detector_for",
    "register_detector",
]
