"""The detector protocol: what a GluonCV detector family provides, and the registry that finds the family of a net.

A family (ssd.py, yolo.py) finds the head (`matches`), reads its settings and the part of the network to trace
(`read`, `plan`), emits its decoding and DetectionOutput (`DetectorPlan.emit`) and checks a converted model against
GluonCV (`check`). The pipeline (api.convert_detector), the CLI and the zoo sweep only talk to this protocol, so a
new family is one module that subclasses Detector and registers itself in detectors/__init__.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from ..errors import InvalidCallError


@dataclass(frozen=True)
class DetectorOptions:
    """A detector's conversion choices (each family says which apply: `Detector.options`)."""

    anchors: str = "exact"  # SSD: 'exact' | 'priorbox' | 'constant'
    nms: bool = True  # False stops before DetectionOutput


class DetectorPlan:
    """One conversion of one detector: the block to trace, the head read from it, and the head layers to append."""

    block: Any  # the prediction part of the network, traced like any HybridBlock
    head: Any  # the settings read from the network (SSDHead, YOLOHead)
    report: Any = None  # what the family decided while planning (SSD: how the anchors are written)

    def name_outputs(self, graph: Any) -> None:
        """Rename/collect the traced graph's outputs the head layers read (before the passes)."""

    def emit(self, ctx: Any, input_name: str) -> list[str]:
        """Append the decoding (and DetectionOutput) layers; returns the net's outputs."""
        raise NotImplementedError


class Detector:
    """A GluonCV detector family."""

    kind: str = ""  # "SSD", "YOLOv3": in messages
    function: str = ""  # its public convert function, for messages
    default_input_shape: tuple[int, ...] = ()
    options: tuple[str, ...] = ("nms",)  # the DetectorOptions fields this family takes
    # Caffe blobs that rename the traced network's outputs (name -> output index), for the MXNet reference.
    renamed_outputs: dict[str, int] = {}

    def matches(self, net: Any) -> bool:
        raise NotImplementedError

    def read(self, net: Any, input_shape: tuple[int, ...]) -> tuple[Any, Any]:
        """(prediction block to trace, head) for an initialized net at `input_shape` (runs MXNet)."""
        raise NotImplementedError

    def plan(self, net: Any, input_shape: tuple[int, ...], options: DetectorOptions) -> DetectorPlan:
        raise NotImplementedError

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


def ensure_initialized(net: Any, input_shape: tuple[int, ...], kind: str) -> None:
    """Refuse a detector whose parameters were never initialized; finish deferred initialization (one forward)."""
    import mxnet as mx

    params = net.collect_params()
    if any(p._data is None and not p._deferred_init for p in params.values()):
        raise InvalidCallError(f"the {kind}'s parameters are not initialized; call net.initialize() or load_parameters")
    if any(p._deferred_init for p in params.values()):
        net(mx.nd.zeros(input_shape))


def prediction_block(net: Any, forward: Callable[[Any, Any, Any], Any]) -> Any:
    """A HybridBlock computing `forward(F, net, x)`: the part of a detector the converter traces (the class is built
    on first use, so importing this module does not import MXNet)."""
    from mxnet.gluon import HybridBlock

    class _Predictions(HybridBlock):
        def __init__(self, detector: Any):
            super().__init__(prefix="")
            self.detector = detector

        def hybrid_forward(self, F: Any, x: Any) -> Any:
            return forward(F, self.detector, x)

    return _Predictions(net)


DETECTORS: list[Detector] = []


def register_detector(detector: Detector) -> Detector:
    if any(d.kind == detector.kind for d in DETECTORS):
        raise ValueError(f"detector family {detector.kind} registered twice")
    DETECTORS.append(detector)
    return detector


def detector_for(net: Any) -> Detector | None:
    """The family of a GluonCV detector, None for anything else."""
    return next((d for d in DETECTORS if d.matches(net)), None)
