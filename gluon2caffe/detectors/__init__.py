"""Detectors behind one protocol (base.py): GluonCV's SSD, YOLOv3 and CenterNet, and MXNet's older MultiBox SSD. Each
family reads its head from the network, emits its decoding and DetectionOutput, and checks a conversion against its
reference. Importing a family here (one line) is all the pipeline, the CLI and the zoo sweep need."""

from __future__ import annotations

from .base import DETECTORS, Detector, DetectorOptions, DetectorPlan, detector_for, register_detector

# One line per family: importing it registers it (its __init__.py ends with `register_detector(...)`; the name
# imported is for callers that name a family: `from gluon2caffe.detectors import SSD_DETECTOR`). The order is
# detector_for's: CenterNet before YOLOv3, as an exported CenterNet's decoder has YOLOOutputV3's grid ops too (tile,
# _arange, slice_like) and detector_for takes the first family that matches; CenterNet's (topk, gather_nd,
# broadcast_equal) is narrower.
from .ssd import SSD_DETECTOR  # noqa: I001, F401 (registration order; importing registers the family)
from .centernet import CENTERNET_DETECTOR  # noqa: F401
from .yolo import YOLO_DETECTOR  # noqa: F401
from .multibox import MULTIBOX_DETECTOR  # noqa: F401

__all__ = [
    "DETECTORS",
    "Detector",
    "DetectorOptions",
    "DetectorPlan",
    "detector_for",
    "register_detector",
]
