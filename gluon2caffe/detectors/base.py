"""The detector protocol: what a GluonCV detector family provides, and the registry that finds the family of a net.

A family (one folder: detectors/ssd/, detectors/yolo/, detectors/centernet/) finds the head (`matches`, `cut`), reads
its settings once shapes are known (`plan`), emits its decoding and DetectionOutput (`DetectorPlan.emit`) and checks
a converted model against GluonCV (`check`, its folder's check.py, built on verification's generic pieces). The
pipeline (api.convert_with), the CLI and the zoo sweep only talk to this protocol, so a new family is one folder
whose Detector subclass is registered by one line in detectors/__init__.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from ..converters.context import EmitContext
from ..errors import InvalidCallError
from ..ir.graph import Graph
from .graph_match import HeadWalk

if TYPE_CHECKING:  # the check's types: verification is imported when a check runs, not with the pipeline
    from ..verification.detectors import DetectorCheck, DetectorRun


class DetectorHead(Protocol):
    """What a family read from the network's head (SSDHead, YOLOHead, CenterNetHead): at least these."""

    num_classes: int
    classes: list[str]
    image_size: tuple[int, int]  # (H, W) of the converted input


class HeadMatch(Protocol):
    """What a family's `cut` found (SSDMatch, YOLOMatch, CenterNetMatch): the walk, and the family's tensors."""

    walk: HeadWalk


@dataclass(frozen=True)
class DetectorOptions:
    """A detector's conversion choices (each family says which apply: `Detector.options`)."""

    anchors: str = "exact"  # SSD: 'exact' | 'priorbox' | 'constant'
    nms: bool = True  # False stops before DetectionOutput


class DetectorPlan:
    """One conversion of one detector: the head read from its graph, and the head layers to append."""

    head: DetectorHead  # the settings read from the graph
    report: object | None = None  # what the family decided while planning (SSD: how the anchors are written)

    def emit(self, ctx: EmitContext, input_name: str) -> list[str]:
        """Append the decoding (and DetectionOutput) layers; returns the net's outputs."""
        raise NotImplementedError


@dataclass(frozen=True)
class RandomHead:
    """A head block of a live detector and what its outputs are: `class` logits, `box` offsets, or `yolo`
    predictions (per anchor `period` values: x, y, log w, log h, objectness, then the classes)."""

    block: object
    role: str  # class | box | yolo
    period: int = 0


class Detector:
    """A GluonCV detector family."""

    kind: str = ""  # "SSD", "YOLOv3": in messages
    function: str = ""  # its public convert function, for messages
    default_input_shape: tuple[int, ...] = ()
    options: tuple[str, ...] = ("nms",)  # the DetectorOptions fields this family takes
    compared_at: str = "before NMS"  # where the check compares with GluonCV (the CLI's lines)
    background_label: bool = True  # Caffe label 0 is the background (DetectionOutput); CenterNet: channel = class
    # Without DetectionOutput (nms=False): the class scores' column 0 is the background (SSD's softmax) or not
    # (YOLOv3's per-class scores; CenterNet's heatmap channels).
    scores_background: bool = True
    scores_output: int = 1  # which output holds the class scores without DetectionOutput (what labels index)

    def matches(self, net: object) -> bool:
        """A live GluonCV network of this family, or an exported graph with its head's ops."""
        raise NotImplementedError

    def random_heads(self, net: object) -> list[RandomHead]:
        """The convolutions of a live network that write this family's raw head (class logits, box offsets), for
        random weights that keep the head alive (zoo/randomize.py scales them to a spread on synthetic scenes: no
        score saturated at 1.0, where every score ties). None by default."""
        return []

    def cut(self, graph: Graph) -> HeadMatch:
        """Find the head in the whole graph (shapes not known yet) and remove it; returns what the walk found.
        A graph whose tail differs from the head raises graph_match.HeadMismatch naming the node."""
        raise NotImplementedError

    def plan(
        self,
        match: HeadMatch,
        graph: Graph,
        input_shape: tuple[int, ...],
        options: DetectorOptions,
        classes: list[str] | None = None,
    ) -> DetectorPlan:
        """With shapes known: the head's numbers and the layers to append (a DetectorPlan)."""
        raise NotImplementedError

    def aliases(self, head: DetectorHead) -> dict[str, str]:
        """Caffe blobs that renamed an MXNet tensor (blob -> tensor), for the layer-local check."""
        return {}

    def summary(self, head: DetectorHead, report: object | None, nms: bool) -> list[str]:
        """Lines describing a conversion (the CLI prints them)."""
        raise NotImplementedError

    def output_meanings(self, head: DetectorHead, nms: bool) -> list[str]:
        """What each output of the converted net means, in output order (the model card's `meaning`)."""
        if nms:
            return [DETECTION_ROWS]
        raise NotImplementedError

    def labels_background(self, nms: bool) -> bool:
        """Whether index 0 of the output the labels file indexes is the background (then line 0 says so)."""
        return self.background_label if nms else self.scores_background

    def check(self, run: DetectorRun) -> DetectorCheck:
        """Compare the converted files with GluonCV (the family's check.py): one run (net, head, files, input,
        runtime, options: verification.detectors.DetectorRun)."""
        raise NotImplementedError

    def require(self, net: object) -> None:
        if not self.matches(net):
            raise InvalidCallError(
                f"{self.function} expects a GluonCV {self.kind}, got {type(net).__module__}.{type(net).__name__}"
            )


DETECTION_ROWS = (
    "detections (1, 1, rows, 7): rows [image, label, score, xmin, ymin, xmax, ymax], label = class id + 1 "
    "(0 = background, line N of the labels file names label N), corners normalized to [0, 1] (times the input "
    "width / height for pixels); no detection: one row of -1"
)


class NMSSettings(Protocol):
    """A head with GluonCV's box_nms settings (SSD, YOLOv3)."""

    num_classes: int
    score_thresh: float
    nms_thresh: float
    nms_topk: int
    post_nms: int


def head_line(kind: str, head: NMSSettings, boxes: int, nms: bool) -> str:
    """What a detector's head does, in one line (classes, boxes, NMS settings)."""
    return f"{kind}: {head.num_classes} classes (Caffe label = GluonCV class id + 1), {boxes} boxes; " + (
        f"DetectionOutput nms {head.nms_thresh:g}, top_k {head.nms_topk}, keep_top_k {head.post_nms}, "
        f"score > {head.score_thresh:g}"
        if nms
        else "no DetectionOutput (--no-nms)"
    )


def classes_of(net: object) -> list[str] | None:
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


def detector_for(net: object) -> Detector | None:
    """The family of a GluonCV detector, None for anything else."""
    return next((d for d in DETECTORS if d.matches(net)), None)
