"""GluonCV detectors behind one protocol (base.py): each family reads its head from the network, emits its decoding
and DetectionOutput, and checks a conversion against GluonCV. Importing a family here (one line) is all the pipeline,
the CLI and the zoo sweep need."""

from __future__ import annotations

from .base import DETECTORS, Detector, DetectorOptions, DetectorPlan, detector_for, register_detector

# One line per family: importing it registers it (its __init__.py ends with `register_detector(...)`). The order is
# detector_for's: CenterNet before YOLOv3, as an exported CenterNet's decoder has YOLOOutputV3's grid ops too (tile,
# _arange, slice_like) and detector_for takes the first family that matches; CenterNet's (topk, gather_nd,
# broadcast_equal) is narrower.
from .ssd import SSD_DETECTOR  # noqa: I001 (registration order)
from .centernet import CENTERNET_DETECTOR
from .yolo import YOLO_DETECTOR

__all__ = [
    "CENTERNET_DETECTOR",
    "DETECTORS",
    "Detector",
    "DetectorOptions",
    "DetectorPlan",
    "SSD_DETECTOR",
    "YOLO_DETECTOR",
    "detector_for",
    "register_detector",
]
