"""Read MXNet's older SSD (the symbol API's `_contrib_MultiBoxPrior` / `_contrib_MultiBoxDetection`, MXNet's
example/ssd) from its graph: the part Caffe computes as it is, and the head caffe-ssd's layers replace.

The deploy symbol ends in MultiBoxDetection(cls_prob, loc_preds, anchors): cls_prob a softmax over axis 1 of the class
predictions (B, C + 1, N), loc_preds the box predictions (B, N * 4), anchors (1, N, 4) the MultiBoxPrior outputs of
every feature map flattened and concatenated; it is cut to [loc_preds, class predictions, feature maps]. The
training symbol (the same detection behind a MakeLoss, beside MultiBoxTarget, the losses and a label input) is
refused by name: its shapes need the label's, and the deploy symbol holds the same net.

The anchors are MultiBoxPrior's, computed here as MXNet 1.9.1 computes them (src/operator/contrib/multibox_prior.cc,
float32): per cell, row-major, first every size with the first ratio, then the first size with every other ratio
(sizes + ratios - 1 per cell); width size * H / W * sqrt(ratio) / 2 each side (H, W the feature map's), height
size / sqrt(ratio) / 2; centers (i + offset) * step, steps -1 meaning 1 / the map's size; clip to [0, 1] when asked.
The check compares them with MXNet's own anchors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...errors import ConversionError
from ...ir.graph import Graph, Node
from ..graph_match import HeadMismatch, HeadWalk, add_node, cut, ops_of

DETECTION_OP = "_contrib_MultiBoxDetection"
PRIOR_OP = "_contrib_MultiBoxPrior"
TARGET_OP = "_contrib_MultiBoxTarget"
TRAINING_WRAPPERS = ("MakeLoss", "make_loss", "BlockGrad", "stop_gradient")
SOFTMAX_OPS = ("softmax", "SoftmaxActivation", "SoftmaxOutput", "Softmax")


def is_multibox(net: Any) -> bool:
    """True for an exported graph, or a live SymbolBlock, with MXNet's MultiBoxDetection."""
    if isinstance(getattr(net, "symbol_json", None), str):  # an exported model (frontend.exported.ExportedModel)
        return DETECTION_OP in ops_of(net.symbol_json)
    try:
        import mxnet as mx
    except ImportError:  # pragma: no cover - mxnet is a dependency
        return False
    if not isinstance(net, mx.gluon.SymbolBlock):
        return False
    graph = getattr(net, "_cached_graph", None)  # SymbolBlock keeps (inputs, output symbol) from its constructor
    if not graph or not isinstance(graph[1], mx.sym.Symbol):
        return False
    return DETECTION_OP in ops_of(graph[1].tojson())


def refuse_training_symbol(net: Any) -> None:
    """The training symbol (MultiBoxTarget and a label input beside the detection): refused by name before any work.
    Its shapes cannot be inferred without a label shape, and a detector converts from one input."""
    import json

    text = net.symbol_json if isinstance(getattr(net, "symbol_json", None), str) else net._cached_graph[1].tojson()
    target = next((n for n in json.loads(text).get("nodes", []) if n.get("op") == TARGET_OP), None)
    if target is not None:
        raise ConversionError(
            "a training symbol (MultiBoxTarget, the losses, a label input): convert the deploy symbol, which MXNet's "
            "example/ssd/deploy.py writes from the same parameters (symbol_builder.get_symbol)",
            target.get("name"),
            TARGET_OP,
        )


@dataclass
class PriorSettings:
    """One MultiBoxPrior's attributes."""

    sizes: tuple[float, ...]
    ratios: tuple[float, ...]
    steps: tuple[float, float]  # (y, x); <= 0: 1 / the map's size
    offsets: tuple[float, float]  # (y, x)
    clip: bool

    @property
    def per_cell(self) -> int:
        return len(self.sizes) + len(self.ratios) - 1


@dataclass
class MultiBoxHead:
    """Everything after the predictors, read from the graph."""

    num_classes: int  # foreground classes (label 0 is the background, as in MultiBoxDetection)
    classes: list[str]
    image_size: tuple[int, int]  # (H, W) of the converted input
    threshold: float  # MultiBoxDetection keeps a box whose best foreground score is >= this
    nms_thresh: float  # suppress iou >= this; <= 0 or > 1: no NMS
    nms_topk: int  # MXNet: the best nms_topk over all classes before NMS; <= 0 all
    force_suppress: bool
    clip: bool  # decoded boxes clipped to [0, 1] before NMS
    variances: tuple[float, float, float, float]
    priors: list[PriorSettings]
    map_sizes: list[tuple[int, int]]
    anchors: list[np.ndarray] = field(default_factory=list)  # per map (H, W, D, 4) normalized corners, unclipped
    # The MXNet tensors (IR names) the check compares with: loc, cls_prob, anchors, detections.
    tensors: dict[str, str] = field(default_factory=dict)
    loc_renamed: bool = False  # the Caffe blob `mbox_loc` is the MXNet tensor tensors["loc"] renamed
    post_nms: int = -1  # MultiBoxDetection keeps every box NMS leaves (the NMSHead protocol's field)

    @property
    def score_thresh(self) -> float:
        """The DetectionOutput threshold equal to MXNet's `score >= threshold`: Caffe keeps `score > t`, so t is the
        float32 just below (a score is never negative: 0 for a non-positive threshold)."""
        t = np.float32(self.threshold)
        return float(np.nextafter(t, np.float32(-np.inf))) if t > 0 else 0.0

    @property
    def num_anchors(self) -> int:
        return sum(a.shape[0] * a.shape[1] * a.shape[2] for a in self.anchors)

    def corner_anchors(self, clipped: bool = True) -> np.ndarray:
        """Every anchor (N, 4) normalized corners in MXNet's order, clipped as each MultiBoxPrior clips."""
        rows = []
        for a, p in zip(self.anchors, self.priors):
            a = a.reshape(-1, 4)
            rows.append(np.clip(a, 0.0, 1.0) if clipped and p.clip else a)
        return np.concatenate(rows)

    def center_anchors_px(self) -> list[np.ndarray]:
        """Per map (H, W, D, 4) in (cx, cy, w, h) pixels, unclipped: what PriorBox is fitted to."""
        h, w = self.image_size
        scale = np.array([w, h, w, h], np.float64)
        out = []
        for a in self.anchors:
            c = a.astype(np.float64) * scale
            out.append(np.concatenate([(c[..., :2] + c[..., 2:]) / 2, c[..., 2:] - c[..., :2]], axis=-1))
        return out


@dataclass
class MultiBoxMatch:
    """What the walk found in the graph (tensor names), before shapes are known."""

    walk: HeadWalk
    detection: Node
    loc: str  # (B, N * 4) box predictions
    cls_preds: str  # (B, C + 1, N) class predictions (the softmax's input)
    cls_prob: str  # (B, C + 1, N) the class probabilities MultiBoxDetection reads
    anchors: str  # (1, N, 4)
    priors: list[PriorSettings]
    features: list[str]  # the feature maps each MultiBoxPrior reads (its shape only)
    outputs: list[str]


def _floats(node: Node, key: str, default: tuple[float, ...]) -> tuple[float, ...]:
    """A tuple-of-floats attribute ("(0.1,0.141)", "[1, 2, 0.5]", "0.2"), parsed as numbers (never evaluated)."""
    text = node.attrs.raw.get(key)
    if text is None:
        return default
    parts = [t.strip() for t in str(text).strip().strip("()[]").split(",") if t.strip()]
    try:
        return tuple(float(t) for t in parts)
    except ValueError:
        raise ConversionError(f"{key}={text!r} is not a list of numbers", node.name, node.op, key) from None


class MultiBoxWalk(HeadWalk):
    """The walk, its messages naming MXNet's head (not GluonCV's)."""

    def _lead(self) -> str:
        return "the graph's tail is not an MXNet MultiBox SSD head:"


def match_multibox(graph: Graph) -> MultiBoxMatch:
    """Walk MultiBoxDetection's inputs back (MXNet 1.9.1 example/ssd/symbol/common.py multibox_layer and
    symbol_builder.py); HeadMismatch at the first node that differs, naming it and the pattern expected there."""
    w = MultiBoxWalk(graph, "MultiBox SSD")
    found = []
    for out in graph.outputs:
        node = w.producer(out)
        while node is not None and node.op in TRAINING_WRAPPERS:
            node = w.producer(node.inputs[0])
        if node is not None and node.op == DETECTION_OP:
            found.append((out, node))
    if len(found) != 1:
        raise HeadMismatch(
            f"the graph's tail is not an MXNet MultiBox SSD head: {len(found)} of its outputs are a MultiBoxDetection "
            f"({DETECTION_OP}), expected exactly one"
        )
    out, det = found[0]
    w.expect(det.outputs[0], DETECTION_OP, "the detections")
    node = w.producer(out)
    while node is not None and node.op in TRAINING_WRAPPERS:
        w.visited.add(node.name)
        node = w.producer(node.inputs[0])
    if len(det.inputs) != 3:
        raise w.fail(det.outputs[0], "MultiBoxDetection over (cls_prob, loc_pred, anchors)")
    cls_prob, loc, anchors = det.inputs
    softmax = w.expect(cls_prob, SOFTMAX_OPS, "the class probabilities (a softmax over axis 1)")
    if not _softmax_over_axis_1(softmax):
        raise w.fail(
            cls_prob,
            "the class probabilities: softmax axis=1 (SoftmaxActivation mode=channel, "
            "SoftmaxOutput multi_output=True), no temperature",
        )
    priors, features = _anchor_generators(w, anchors)
    return MultiBoxMatch(w, det, loc, softmax.inputs[0], cls_prob, anchors, priors, features, [out])


def _softmax_over_axis_1(node: Node) -> bool:
    a = node.attrs
    if node.op == "softmax":
        return (
            a.int("axis", -1) == 1
            and a.str("temperature", "None") in ("None", "1", "1.0")
            and not a.bool("use_length", False)
        )
    if node.op == "SoftmaxActivation":
        return a.str("mode", "instance") == "channel"
    # SoftmaxOutput's forward (training symbol): a softmax over axis 1 when multi_output
    return a.bool("multi_output", False) and not a.bool("preserve_shape", False)


def _anchor_generators(w: HeadWalk, anchors: str) -> tuple[list[PriorSettings], list[str]]:
    """Reshape(0, -1, 4) of a Concat (dim 1) of flattened MultiBoxPriors (one map: no Concat)."""
    t = _through_flattens(w, anchors)
    node = w.producer(t)
    inputs = [t]
    if node is not None and node.op in ("Concat", "concat"):
        concat = w.expect(t, ("Concat", "concat"), "the anchors of every feature map", dim=1)
        inputs = concat.inputs
    priors, features = [], []
    for i, x in enumerate(inputs):
        prior = w.expect(_through_flattens(w, x), PRIOR_OP, f"feature map {i}'s anchors (MultiBoxPrior)")
        steps = _floats(prior, "steps", (-1.0, -1.0))
        offsets = _floats(prior, "offsets", (0.5, 0.5))
        if len(steps) != 2 or len(offsets) != 2:
            raise w.fail(prior.outputs[0], "MultiBoxPrior with two steps (y, x) and two offsets (y, x)")
        sizes, ratios = _floats(prior, "sizes", (1.0,)), _floats(prior, "ratios", (1.0,))
        if not sizes or not ratios:
            raise w.fail(prior.outputs[0], "MultiBoxPrior with at least one size and one ratio")
        priors.append(PriorSettings(sizes, ratios, steps, offsets, prior.attrs.bool("clip", False)))  # type: ignore[arg-type]
        features.append(prior.inputs[0])
    return priors, features


def _through_flattens(w: HeadWalk, tensor: str) -> str:
    node = w.producer(tensor)
    while node is not None and node.op in ("Reshape", "reshape", "Flatten", "flatten"):
        w.visited.add(node.name)
        tensor = node.inputs[0]
        node = w.producer(tensor)
    return tensor


def cut_multibox(graph: Graph) -> MultiBoxMatch:
    """Find the head and remove it: the graph then computes [loc_preds, class predictions, feature maps...]."""
    match = match_multibox(graph)
    cut(graph, [match.loc, match.cls_preds] + match.features)
    return match


def multibox_prior(p: PriorSettings, fh: int, fw: int) -> np.ndarray:
    """MultiBoxPrior's anchors for an fh x fw map, unclipped: (fh, fw, D, 4) normalized corners, float32 as MXNet."""
    f32 = np.float32
    step_y, step_x = f32(p.steps[0]), f32(p.steps[1])
    if step_y <= 0 or step_x <= 0:
        step_y, step_x = f32(1) / f32(fh), f32(1) / f32(fw)
    cy = (np.arange(fh, dtype=f32) + f32(p.offsets[0])) * step_y
    cx = (np.arange(fw, dtype=f32) + f32(p.offsets[1])) * step_x
    half = []  # (w/2, h/2) per anchor
    first = np.sqrt(f32(p.ratios[0]))
    for size in p.sizes:
        half.append((f32(size) * f32(fh) / f32(fw) * first / f32(2), f32(size) / first / f32(2)))
    for ratio in p.ratios[1:]:
        r = np.sqrt(f32(ratio))
        half.append((f32(p.sizes[0]) * f32(fh) / f32(fw) * r / f32(2), f32(p.sizes[0]) / r / f32(2)))
    hw = np.array([h[0] for h in half], f32)
    hh = np.array([h[1] for h in half], f32)
    x, y = cx[None, :, None], cy[:, None, None]
    out = np.stack(np.broadcast_arrays(x - hw, y - hh, x + hw, y + hh), axis=-1)
    return out.astype(f32)


def finish_multibox(
    match: MultiBoxMatch, graph: Graph, input_shape: tuple[int, ...], classes: list[str] | None, loc: str, conf: str
) -> MultiBoxHead:
    """With shapes known: the head's numbers, and the cut graph's outputs as caffe-ssd's `loc` (B, N * 4) and `conf`
    (B, N * (C + 1)) blobs (softmax over classes, anchors major), followed by the feature maps."""
    w, shapes, det = match.walk, graph.shapes, match.detection
    b, c1, n = shapes[match.cls_preds]
    if shapes[match.loc] != (b, n * 4) or c1 < 2:
        raise HeadMismatch(
            f"the graph's tail is not an MXNet MultiBox SSD head: class predictions of shape {shapes[match.cls_preds]} "
            f"(B, C + 1, N) and box predictions of shape {shapes[match.loc]}, expected (B, N * 4)"
        )
    anchors, map_sizes = [], []
    for p, feature in zip(match.priors, match.features):
        fh, fw = shapes[feature][2:4]
        anchors.append(multibox_prior(p, int(fh), int(fw)).reshape(fh, fw, p.per_cell, 4))
        map_sizes.append((int(fh), int(fw)))
    total = sum(a.shape[0] * a.shape[1] * a.shape[2] for a in anchors)
    if total != n:
        raise w.fail(match.anchors, f"{n} anchors, one per box prediction (the MultiBoxPriors make {total})")
    a = det.attrs
    variances = _floats(det, "variances", (0.1, 0.1, 0.2, 0.2))
    if len(variances) != 4:
        raise ConversionError(f"MultiBoxDetection variances={variances}: 4 expected", det.name, det.op, "variances")
    force = a.bool("force_suppress", False)
    nms_thresh = a.float("nms_threshold", 0.5)
    if force and c1 > 2 and 0 < nms_thresh <= 1:
        raise ConversionError(
            "MultiBoxDetection force_suppress=True suppresses boxes across classes; caffe-ssd's DetectionOutput "
            "suppresses within a class only: convert a symbol with force_suppress=False",
            det.name,
            det.op,
            "force_suppress",
        )
    if loc in shapes or conf in shapes:
        raise ConversionError(f"the graph already has a tensor named {loc} or {conf}", det.name, det.op)
    renamed = w.producer(match.loc) is not None and match.loc not in match.features
    if renamed:
        graph.rename_tensor(match.loc, loc)
    else:
        add_node(graph, loc, "Flatten", [match.loc], (b, n * 4))
    prob = add_node(graph, f"{conf}_softmax", "softmax", [match.cls_preds], (b, c1, n), axis="1")
    by_anchor = add_node(graph, f"{conf}_perm", "transpose", [prob], (b, n, c1), axes="(0, 2, 1)")
    add_node(graph, conf, "Flatten", [by_anchor], (b, n * c1))
    cut(graph, [loc, conf] + match.features)
    names = list(classes) if classes is not None else [f"class{i}" for i in range(c1 - 1)]
    if len(names) != c1 - 1:
        raise ConversionError(f"{len(names)} class names for a MultiBox SSD with {c1 - 1} classes")
    return MultiBoxHead(
        num_classes=c1 - 1,
        classes=names,
        image_size=(int(input_shape[2]), int(input_shape[3])),
        threshold=a.float("threshold", 0.01),
        nms_thresh=nms_thresh,
        nms_topk=a.int("nms_topk", -1),
        force_suppress=force,
        clip=a.bool("clip", True),
        variances=variances,  # type: ignore[arg-type]
        priors=match.priors,
        map_sizes=map_sizes,
        anchors=anchors,
        loc_renamed=renamed,
        tensors={"loc": match.loc, "cls_prob": match.cls_prob, "anchors": match.anchors, "detections": det.outputs[0]},
    )
