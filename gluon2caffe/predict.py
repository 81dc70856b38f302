"""Running converted files on real images, as a user deploys them: the model card (card.py) says how to feed the
net and what its outputs mean; `predict` reads an image (or a clip's frames, for a 3-D net), feeds it in any
registered runtime and decodes the answer (top-k classes, detections, a class map, keypoints, a disparity map);
`draw` writes it over the image (a depth map beside it). `gluon2caffe run` prints it.

Images are read and resized with OpenCV (cv2.imread, BGR; cv2.resize, bilinear), the way a deployment does; the
pixels the net gets are the ones `image_pixels` returns, so any reference (MXNet) can be fed the same image.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .card import card_preprocess, load_card
from .errors import InvalidCallError

DETECTION = "detection"
CLASSIFICATION = "classification"
SEGMENTATION = "segmentation"
POSE = "pose"
DEPTH = "depth"
RAW = "raw"  # outputs shown by shape only (a detector without NMS, CenterNet's maps, camera motion, ...)


@dataclass
class Prediction:
    """One image's answer: `kind` says which fields are set."""

    image: str
    kind: str
    pixels: np.ndarray  # the image as the net saw it: RGB NCHW float32 0..255, resized to the input
    outputs: dict[str, np.ndarray]  # the raw outputs by name
    top: list[tuple[int, float, str]] = field(default_factory=list)  # classification: (class, score, label)
    # detection: (label, score, xmin, ymin, xmax, ymax) in input pixels; label is GluonCV's class id
    detections: list[tuple[int, float, float, float, float, float, str]] = field(default_factory=list)
    class_map: np.ndarray | None = None  # segmentation: (H, W) class ids at the output's size
    keypoints: np.ndarray | None = None  # pose: (K, 3) x, y in input pixels, score
    disparity: np.ndarray | None = None  # depth: (H, W) at the input's size, 0..1 (larger: nearer)


def image_pixels(path: str, shape: tuple[int, ...]) -> np.ndarray:
    """The image at `path` resized to the input (N, 3, H, W) (bilinear, OpenCV), as RGB NCHW float32 pixels 0..255,
    repeated over the batch."""
    cv2 = _cv2()
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise InvalidCallError(f"cannot read image {path} (OpenCV reads PNG, JPEG, BMP, ...)")
    n, _, h, w = shape
    resized = cv2.resize(image, (w, h), interpolation=cv2.INTER_LINEAR)
    rgb = resized[:, :, ::-1].transpose(2, 0, 1)[None].astype(np.float32)
    return np.repeat(rgb, n, axis=0)


def net_input(pixels_rgb: np.ndarray, feed: dict[str, Any]) -> np.ndarray:
    """What the Caffe net takes for RGB pixels 0..255, by its card's input entry: normalized outside the net unless
    the net does it (in_net), in the card's channel order."""
    x = pixels_rgb if feed["in_net"] else card_preprocess(feed).normalize(pixels_rgb)
    return np.ascontiguousarray(x[:, ::-1] if feed["channel_order"] == "BGR" else x).astype(np.float32)


def kind_of(card: dict[str, Any]) -> str:
    """How a card's outputs are decoded."""
    outputs = card["outputs"]
    if any(o["meaning"].startswith("detections") for o in outputs):
        return DETECTION
    task = card.get("task")
    if task in (SEGMENTATION, POSE):
        return task
    if task == DEPTH and any("the answer" in o["meaning"] for o in outputs):
        return DEPTH
    scores = task is None and outputs[0]["shape"] and len(outputs[0]["shape"]) == 2  # (N, classes) of a net
    if task in (CLASSIFICATION, "action-2d", "action-3d") or scores:
        return CLASSIFICATION
    return RAW


def read_labels(prefix: str, card: dict[str, Any]) -> list[str]:
    """The labels file's lines (line N names index N of the output it indexes); [] without one."""
    import os

    labels = card.get("labels")
    if not labels:
        return []
    path = os.path.join(os.path.dirname(str(prefix)), labels["file"])
    try:
        with open(path, encoding="utf-8") as f:
            return [line.rstrip("\n") for line in f]
    except OSError as exc:
        raise InvalidCallError(f"cannot read the labels file {path}: {exc.strerror or exc}") from None


def predict(prefix: str, images: list[str], runtime: str | None = None, top: int = 5) -> list[Prediction]:
    """Run PREFIX.prototxt / .caffemodel on each image in `runtime` (default: pycaffe, else OpenCV) and decode the
    outputs as the card PREFIX.json says."""
    from .verification.runtimes import default_runtime, forward

    card = load_card(prefix)
    if len(card["inputs"]) != 1 or card["inputs"][0].get("channel_order") is None:
        raise InvalidCallError(f"{prefix}: run takes nets with one image input; this one has {card['inputs']}")
    feed = card["inputs"][0]
    shape = tuple(feed["shape"])
    runtime = runtime or default_runtime()
    labels = read_labels(prefix, card)
    kind = kind_of(card)
    outputs = [o["name"] for o in card["outputs"]]
    prototxt, caffemodel = (f"{prefix}.{ext}" for ext in ("prototxt", "caffemodel"))
    results = []
    for name, pixels in _inputs(prefix, images, shape):
        blobs = forward(runtime, prototxt, caffemodel, {feed["name"]: net_input(pixels, feed)}, outputs)
        p = Prediction(name, kind, pixels, {name: blobs[name] for name in outputs})
        first = np.asarray(blobs[outputs[0]])
        if kind == CLASSIFICATION:
            p.top = top_classes(first.reshape(first.shape[0], -1)[0], top, labels)
        elif kind == DETECTION:
            name = next(o["name"] for o in card["outputs"] if o["meaning"].startswith("detections"))
            p.detections = detections(np.asarray(blobs[name]), shape, labels)
        elif kind == SEGMENTATION:
            p.class_map = first[0].argmax(axis=0)
        elif kind == POSE:
            p.keypoints = keypoints(first[0], shape)
        elif kind == DEPTH:  # the output at the input's size (the others are coarser scales)
            answer = next(o["name"] for o in card["outputs"] if "the answer" in o["meaning"])
            p.disparity = np.asarray(blobs[answer])[0, 0]
        results.append(p)
    return results


def _inputs(prefix: str, images: list[str], shape: tuple[int, ...]) -> list[tuple[str, np.ndarray]]:
    """(name, RGB pixels) per forward pass: each image, or for a net that takes clips (N, 3, D, H, W) each run of D
    images as one clip's frames, in order."""
    if len(shape) != 5:
        return [(str(path), image_pixels(path, shape)) for path in images]
    frames = shape[2]
    if len(images) % frames:
        raise InvalidCallError(
            f"{prefix}: the net takes clips of {frames} frames {shape}: give each clip's {frames} frames as IMAGE "
            f"files, in order (got {len(images)} images)"
        )
    clips = [images[i : i + frames] for i in range(0, len(images), frames)]
    frame = shape[:2] + shape[3:]
    return [
        (f"{clip[0]} .. {clip[-1]} ({frames} frames)", np.stack([image_pixels(f, frame) for f in clip], axis=2))
        for clip in clips
    ]


def top_classes(scores: np.ndarray, k: int, labels: list[str]) -> list[tuple[int, float, str]]:
    """The k highest scores, highest first: (class index, score, its label or '')."""
    order = np.argsort(-scores, kind="stable")[:k]
    return [(int(i), float(scores[i]), labels[i] if i < len(labels) else "") for i in order]


def detections(rows: np.ndarray, shape: tuple[int, ...], labels: list[str]) -> list[tuple]:
    """DetectionOutput rows (1, 1, R, 7) as (class id, score, xmin, ymin, xmax, ymax in input pixels, label),
    highest score first; the -1 row of an empty result is dropped. Label L of the rows is class id L - 1; its name
    is line L of the labels file."""
    h, w = shape[2], shape[3]
    out = []
    for row in rows.reshape(-1, 7):
        if row[1] < 0:
            continue
        label = int(row[1])
        name = labels[label] if label < len(labels) else ""
        out.append((label - 1, float(row[2]), row[3] * w, row[4] * h, row[5] * w, row[6] * h, name))
    return sorted(out, key=lambda d: -d[1])


def keypoints(heatmaps: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """(K, 3): each heatmap's maximum as x, y in input pixels (the cell's center scaled by input / map) and its
    value."""
    k, mh, mw = heatmaps.shape
    flat = heatmaps.reshape(k, -1)
    index = flat.argmax(axis=1)
    ys, xs = np.unravel_index(index, (mh, mw))
    sx, sy = shape[3] / mw, shape[2] / mh
    return np.stack([(xs + 0.5) * sx, (ys + 0.5) * sy, flat[np.arange(k), index]], axis=1).astype(np.float32)


def draw(prediction: Prediction, path: str) -> str:
    """Write the image the net saw with its answer drawn (boxes, the class map blended over it, keypoints, the
    disparity map below it) as a PNG at `path`; returns the path."""
    cv2 = _cv2()
    image = np.ascontiguousarray(prediction.pixels[0].transpose(1, 2, 0)[:, :, ::-1]).clip(0, 255).astype(np.uint8)
    if prediction.kind == DETECTION:
        for cls, score, x0, y0, x1, y1, name in prediction.detections:
            color = _color(cls)
            cv2.rectangle(image, (int(round(x0)), int(round(y0))), (int(round(x1)), int(round(y1))), color, 2)
            text = f"{name or cls} {score:.2f}"
            cv2.putText(image, text, (int(x0), max(int(y0) - 3, 10)), cv2.FONT_HERSHEY_SIMPLEX, 0.4, color, 1)
    elif prediction.kind == SEGMENTATION and prediction.class_map is not None:
        colors = np.array([_color(c) for c in range(int(prediction.class_map.max()) + 1)], np.uint8)
        overlay = colors[prediction.class_map]
        overlay = cv2.resize(overlay, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_NEAREST)
        image = cv2.addWeighted(image, 0.5, overlay, 0.5, 0)
    elif prediction.kind == POSE and prediction.keypoints is not None:
        for i, (x, y, _) in enumerate(prediction.keypoints):
            cv2.circle(image, (int(round(x)), int(round(y))), 3, _color(i), -1)
    elif prediction.kind == DEPTH and prediction.disparity is not None:  # near bright, far dark, beside the image
        gray = (np.clip(prediction.disparity, 0, 1) * 255).astype(np.uint8)
        gray = cv2.resize(gray, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_NEAREST)
        image = np.concatenate([image, cv2.applyColorMap(gray, cv2.COLORMAP_MAGMA)], axis=0)
    if not cv2.imwrite(str(path), image):
        raise InvalidCallError(f"cannot write {path}")
    return str(path)


def _color(index: int) -> tuple[int, int, int]:
    rng = np.random.RandomState(index * 7919 + 1)
    return tuple(int(v) for v in rng.randint(40, 256, 3))  # type: ignore[return-value]


def _cv2():
    try:
        import cv2
    except ImportError:
        raise InvalidCallError("reading and drawing images needs OpenCV: pip install opencv-python-headless") from None
    return cv2
