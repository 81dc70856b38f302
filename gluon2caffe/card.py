"""The model card: PREFIX.json beside PREFIX.prototxt / .caffemodel, saying how to feed the net and read its answer.

It holds the inputs (name, shape, channel order, the range the net takes and the normalization: inside the net with
preprocess=, otherwise the one the user applies, in the words of OpenCV's blobFromImage), the outputs (name, shape,
what they mean), the labels file and what it indexes, the target and the runtimes the files were verified in, the
converter's version and the options. `gluon2caffe run` reads it; `save_card` writes it atomically.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from .errors import InvalidCallError
from .ir.ops import has_rgb_axis
from .ir.preprocess import IMAGENET, Preprocess, preset_name

FORMAT = "gluon2caffe model card"
VERSION = 1
BGR = [2, 1, 0]

# What a task's dense outputs mean (the zoo catalog's task names; a network without one: read from the shape).
DENSE_MEANINGS = {
    "classification": "class scores (logits), one per class: argmax is the class",
    "segmentation": "per-pixel class scores (N, classes, H, W): argmax over axis 1 is the class map",
    "pose": "keypoint heatmaps (N, keypoints, H, W): a keypoint is at the maximum of its map (input / map size "
    "times the cell)",
    "depth": "disparity map (N, 1, H, W), sigmoid 0..1: depth = 1 / (0.01 + 9.99 * disparity) (GluonCV's "
    "disp_to_depth, 0.1 to 100)",
    "camera-pose": "camera motion between the frames (N, frames, 1, 3)",
    "action-2d": "class scores (logits), one per action",
    "action-3d": "class scores (logits), one per action",
}


def feed_of(
    name: str, shape: tuple[int, ...], to_bgr: bool, preprocess: Preprocess | None, trained: Preprocess | None = None
) -> dict[str, Any]:
    """How to feed input `name`: channel order, the range the net reads, the normalization and where it is done,
    and the OpenCV call that makes the blob. `trained`: the normalization the model was trained with, where known
    (a zoo model's: zoo.catalog); otherwise GluonCV's ImageNet one is assumed and the card says so."""
    image = has_rgb_axis(shape)
    layout = {4: "NCHW", 5: "NCDHW"}.get(len(shape))
    entry: dict[str, Any] = {"name": name, "shape": list(shape), "layout": layout}
    entry["dtype"] = "float32"
    if not image:
        entry.update(channel_order=None, range="as the MXNet model took it", normalization=None, in_net=False)
        return entry
    order = "BGR" if to_bgr else "RGB"
    norm = preprocess or trained or IMAGENET
    mean, std = _ordered(norm.mean, to_bgr), _ordered(norm.std, to_bgr)
    entry["channel_order"] = order
    entry["in_net"] = preprocess is not None
    entry["normalization"] = {"scale": norm.scale, "mean": mean, "std": std, "channel_order": order}
    entry["preset"] = preset_name(norm)  # --preprocess NAME that puts these numbers in the net
    entry["formula"] = f"(pixel / {norm.scale:g} - mean) / std per channel ({order} order)"
    size = f"({shape[-1]}, {shape[-2]})"
    swap = "False" if to_bgr else "True"  # cv2.imread gives BGR
    if preprocess is not None:
        entry["range"] = f"raw pixels 0-{norm.scale:g}, {order}: the net normalizes them itself"
        call = f"cv2.dnn.blobFromImage(img, scalefactor=1.0, size={size}, swapRB={swap})"
    else:
        if trained is not None:
            entry["range"] = f"normalized pixels, as the model was trained ({norm.describe()})"
        else:
            entry["range"] = (
                "normalized pixels (GluonCV's ImageNet mean/std assumed; a model trained otherwise takes its own)"
            )
        pixel_mean = "(" + ", ".join(f"{v * norm.scale:.6g}" for v in mean) + ")"
        call = f"cv2.dnn.blobFromImage(img, scalefactor=1/{norm.scale:g}, size={size}, mean={pixel_mean}, "
        call += f"swapRB={swap})"
        if any(v != 1.0 for v in std):
            call += f" / np.array({list(std)}, np.float32).reshape(1, 3, 1, 1)"
    if len(shape) == 5:  # a clip: each frame's blob (1, 3, H, W), stacked on the frame axis
        call = call.replace("(img,", "(frame,")
        call = f"np.stack([({call})[0] for frame in frames], axis=1)[None]  # {shape[2]} frames -> (1, 3, D, H, W)"
    entry["opencv"] = call
    return entry


def _ordered(values, to_bgr: bool) -> list[float]:
    values = [float(v) for v in values]
    return [values[i] for i in BGR] if to_bgr else values


def expects_lines(feed: dict[str, Any]) -> list[str]:
    """What input `feed` (feed_of) takes, for the convert summary: the numbers, then the OpenCV call."""
    head = f"input {feed['name']} {tuple(feed['shape'])}"
    if feed.get("channel_order") is None:
        return [f"{head}: {feed['range']}"]
    if feed["in_net"]:
        return [f"{head}: {feed['range']}", f"  OpenCV: {feed['opencv']}"]
    n = feed["normalization"]
    where = f"--preprocess {feed['preset']}" if feed.get("preset") else "--mean/--std/--scale"
    return [
        f"{head}: {feed['channel_order']} float {feed['layout'] or ''}, {feed['formula']}, mean {tuple(n['mean'])}, "
        f"std {tuple(n['std'])} ({where} puts it in the net)",
        f"  OpenCV: {feed['opencv']}",
    ]


def output_meanings(result: Any, task: str | None) -> list[str]:
    """What each output of a conversion means, in the net's output order."""
    outputs = list(result.output_shapes)
    if result.detector is not None:
        meanings = result.detector.output_meanings(result.head, _nms_of(result))
        return meanings + [""] * (len(outputs) - len(meanings))
    meanings = []
    made_by = {top: layer.type for layer in result.text_net.layer for top in layer.top}  # the last writer of each
    for i, (name, shape) in enumerate(result.output_shapes.items()):
        softmax = made_by.get(name) == "Softmax"  # --softmax, or a SoftmaxOutput / SoftmaxActivation head
        if task in DENSE_MEANINGS:
            meaning = DENSE_MEANINGS[task]
        elif shape is not None and len(shape) == 2:
            meaning = DENSE_MEANINGS["classification"]
        elif shape is not None and len(shape) == 4:
            meaning = "dense maps (N, C, H, W)"
        else:
            meaning = "the MXNet model's output"
        if softmax:
            meaning = meaning.replace("scores (logits)", "probabilities (softmax)")
        if task == "depth" and shape is not None and len(shape) == 4:
            meaning += _depth_scale(shape, result.graph.inputs)
        if task == "camera-pose":
            meaning = ("axis-angle rotation of " if i == 0 else "translation of ") + meaning
        if i and task == "segmentation":  # GluonCV's auxiliary head (training only); the first output is the answer
            meaning = "auxiliary head's " + meaning.split(":")[0] + " (training aid; the first output is the answer)"
        meanings.append(meaning)
    return meanings


def _depth_scale(shape: tuple[int, ...], inputs: dict[str, tuple[int, ...]]) -> str:
    """Which of monodepth2's scales an output is: the input's size (the answer) or a fraction of it."""
    height = next(iter(inputs.values()))[-2]
    if shape[-2] == height:
        return "; at the input size: the answer (the other outputs are coarser scales)"
    return f"; at 1/{height / shape[-2]:g} of the input size (a coarser scale, for training)"


def _nms_of(result: Any) -> bool:
    """Whether the detector's conversion ends in DetectionOutput (its outputs say)."""
    return "detection_out" in result.output_shapes


def model_card(
    result: Any,
    prefix: str | os.PathLike,
    *,
    model: str | None = None,
    task: str | None = None,
    labels: dict[str, Any] | None = None,
    verified_in: dict[str, str] | None = None,
    options: dict[str, Any] | None = None,
    trained: Preprocess | None = None,
) -> dict[str, Any]:
    """The card of a conversion (`result`: api.ConversionResult) written to PREFIX.*: `labels` {file, indexes,
    numbering} when a labels file was written; `verified_in` {runtime: status}; `options`: extra options to record
    (the detector's, the command line's); `trained`: the input normalization the model was trained with, where known
    (otherwise GluonCV's ImageNet one is assumed, and the card says so)."""
    from . import __version__

    opts = result.options
    name = Path(prefix).name
    inputs = [feed_of(n, shape, opts.to_bgr, opts.preprocess, trained) for n, shape in result.graph.inputs.items()]
    if result.detector is not None:
        task = task or result.detector.kind
    if task == "camera-pose":  # monodepth2's pose network: two frames, stacked on the channel axis
        inputs[0]["range"] = "two RGB frames stacked on the channel axis (6 channels), pixel / 255, not swapped"
    outputs = [
        {"name": blob, "shape": list(shape) if shape is not None else None, "meaning": meaning}
        for (blob, shape), meaning in zip(result.output_shapes.items(), output_meanings(result, task))
    ]
    recorded = {
        "input_shape": _jsonable(opts.input_shape),
        "softmax": opts.softmax,
        "to_bgr": opts.to_bgr,
        "merge_bn": opts.merge_bn,
        "input_name": opts.input_name,
        "relu6": opts.relu6,
        "target": opts.target,
        "preprocess": None
        if opts.preprocess is None
        else {"mean": list(opts.preprocess.mean), "std": list(opts.preprocess.std), "scale": opts.preprocess.scale},
        **(options or {}),
    }
    return {
        "format": FORMAT,
        "version": VERSION,
        "model": model or result.graph.name,
        "task": task,
        "files": {"prototxt": f"{name}.prototxt", "caffemodel": f"{name}.caffemodel"},
        "inputs": inputs,
        "outputs": outputs,
        "labels": labels,
        "target": opts.target,
        "verified_in": dict(verified_in or {}),
        "converter": {"name": "gluon2caffe", "version": __version__},
        "options": recorded,
    }


def _jsonable(shape: Any) -> Any:
    if isinstance(shape, dict):
        return {k: list(v) for k, v in shape.items()}
    if isinstance(shape, list):
        return [list(s) for s in shape]
    return list(shape)


def card_path(prefix: str | os.PathLike) -> str:
    return str(Path(prefix).parent / (Path(prefix).name + ".json"))


def save_card(card: dict[str, Any], prefix: str | os.PathLike) -> str:
    """Write PREFIX.json atomically (a temporary file renamed into place: a failure leaves no half-written card)."""
    path = Path(card_path(prefix))
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(card, indent=2) + "\n"
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        mask = os.umask(0o022)
        os.umask(mask)
        os.fchmod(fd, 0o666 & ~mask)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return str(path)


def load_card(prefix: str | os.PathLike) -> dict[str, Any]:
    """The card PREFIX.json; InvalidCallError (one line) when it is missing or not a gluon2caffe card."""
    path = card_path(prefix)
    try:
        with open(path, encoding="utf-8") as f:
            card = json.load(f)
    except OSError as exc:
        raise InvalidCallError(
            f"cannot read the model card {path}: {exc.strerror or exc} (convert writes it; convert again)"
        ) from None
    except json.JSONDecodeError as exc:
        raise InvalidCallError(f"{path} is not a model card: {exc}") from None
    if not isinstance(card, dict) or card.get("format") != FORMAT:
        raise InvalidCallError(f"{path} is not a gluon2caffe model card")
    return card


def card_preprocess(feed: dict[str, Any]) -> Preprocess:
    """The normalization of an input entry of a card, in RGB order (whether done in the net or outside)."""
    n = feed["normalization"]
    mean, std = n["mean"], n["std"]
    if n["channel_order"] == "BGR":
        mean, std = [mean[i] for i in BGR], [std[i] for i in BGR]
    return Preprocess(tuple(mean), tuple(std), float(n["scale"])).checked()
