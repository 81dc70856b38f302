"""The detector protocol: what a GluonCV detector family provides, and the registry that finds the family of a net.

A family (ssd.py, yolo.py) finds the head (`matches`), reads its settings and the part of the network to trace
(`read`, `plan`), emits its decoding and DetectionOutput (`DetectorPlan.emit`) and checks a converted model against
GluonCV (`check`). The pipeline (api.convert_detector), the CLI and the zoo sweep only talk to this protocol, so a
new family is one module that subclasses Detector and registers itself in detectors/__init__.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import InvalidCallError


@dataclass(frozen=True)
class DetectorOptions:
    """A detector's conversion choices (each family says which apply: `Detector.options`)."""

    anchors: str = "exact"  # SSD: 'exact' | 'priorbox' | 'constant'
    nms: bool = True  # False stops before DetectionOutput


class DetectorPlan:
    """One conversion of one detector: the head read from its graph, and the head layers to append."""

    head: Any  # the settings read from the graph (SSDHead, YOLOHead)
    report: Any = None  # what the family decided while planning (SSD: how the anchors are written)

    def emit(self, ctx: Any, input_name: str) -> list[str]:
        """Append the decoding (and DetectionOutput) layers; returns the net's outputs."""
        raise NotImplementedError


class Detector:
    """A GluonCV detector family."""

    kind: str = ""  # "SSD", "YOLOv3": in messages
    function: str = ""  # its public convert function, for messages
    default_input_shape: tuple[int, ...] = ()
    options: tuple[str, ...] = ("nms",)  # the DetectorOptions fields this family takes
    compared_at: str = "before NMS"  # where the check compares with GluonCV (the CLI's lines)
    background_label: bool = True  # Caffe label 0 is the background (DetectionOutput); CenterNet: channel = class

    def matches(self, net: Any) -> bool:
        """A live GluonCV network of this family, or an exported graph with its head's ops."""
        raise NotImplementedError

    def cut(self, graph: Any) -> Any:
        """Find the head in the whole graph (shapes not known yet) and remove it; returns what the walk found.
        A graph whose tail differs from the head raises graph_match.HeadMismatch naming the node."""
        raise NotImplementedError

    def plan(self, match: Any, graph: Any, input_shape: tuple[int, ...], options: DetectorOptions, classes=None):
        """With shapes known: the head's numbers and the layers to append (a DetectorPlan)."""
        raise NotImplementedError

    def aliases(self, head: Any) -> dict[str, str]:
        """Caffe blobs that renamed an MXNet tensor (blob -> tensor), for the layer-local check."""
        return {}

    def summary(self, head: Any, report: Any, nms: bool) -> list[str]:
        """Lines describing a conversion (the CLI prints them)."""
        raise NotImplementedError

    def check(
        self,
        net: Any,
        head: Any,
        prototxt: str,
        caffemodel: str,
        x: Any,
        to_bgr: bool = True,
        runtime: str = "caffe",
        x2: Any = None,
    ) -> Any:
        """Compare the converted files with GluonCV on input x (verification.detectors.DetectorCheck)."""
        raise NotImplementedError

    def require(self, net: Any) -> None:
        if not self.matches(net):
            raise InvalidCallError(
                f"{self.function} expects a GluonCV {self.kind}, got {type(net).__module__}.{type(net).__name__}"
            )


def head_line(kind: str, head: Any, boxes: int, nms: bool) -> str:
    """What a detector's head does, in one line (classes, boxes, NMS settings)."""
    return f"{kind}: {head.num_classes} classes (Caffe label = GluonCV class id + 1), {boxes} boxes; " + (
        f"DetectionOutput nms {head.nms_thresh:g}, top_k {head.nms_topk}, keep_top_k {head.post_nms}, "
        f"score > {head.score_thresh:g}"
        if nms
        else "no DetectionOutput (--no-nms)"
    )


def classes_of(net: Any) -> list[str] | None:
    """The class names a live network carries (GluonCV's `classes`) or an exported model was given; None: unknown
    (an exported graph has only the class count)."""
    classes = getattr(net, "classes", None)
    return [str(c) for c in classes] if classes is not None else None


DETECTORS: list[Detector] = []


def register_detector(detector: Detector) -> Detector:
    if any(d.kind == detector.kind for d in DETECTORS):
        raise ValueError(f"detector family {detector.kind} registered twice")
    DETECTORS.append(detector)
    return detector


def detector_for(net: Any) -> Detector | None:
    """The family of a GluonCV detector, None for anything else."""
    return next((d for d in DETECTORS if d.matches(net)), None)
