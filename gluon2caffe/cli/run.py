"""`gluon2caffe run PREFIX IMAGE...`: the converted files on real images, as the model card says to feed and read
them: top classes, detections (a table and a PNG with the boxes), a class map or keypoints drawn over the image, a
disparity map below it; a 3-D net's clips given as their frames."""

from __future__ import annotations

import argparse
import os

import numpy as np

from ..verification.runtimes import RUNTIMES
from .common import EXIT_OK, UsageError

HELP = "run converted files on images (top classes, detections, class maps, keypoints), as PREFIX.json says"
DESCRIPTION = (
    "Run PREFIX.prototxt + PREFIX.caffemodel on images in a runtime, fed and decoded as the model card PREFIX.json "
    "(written by convert) says: a classifier's top classes with their labels; a detector's detections (a table, "
    "and IMAGE.detections.png with the boxes); a segmentation's class map and a pose model's keypoints drawn over "
    "the image (IMAGE.segmentation.png, IMAGE.pose.png); a depth model's disparity map below it (IMAGE.depth.png). "
    "A 3-D net (N, 3, D, H, W) takes each clip's D frames as D images, in order. No MXNet needed."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("prefix", metavar="PREFIX", help="the converted files' prefix (PREFIX.prototxt, .caffemodel, .json)")
    p.add_argument(
        "images",
        metavar="IMAGE",
        nargs="+",
        help="image files (PNG, JPEG, ...; read with OpenCV); a 3-D net's clips as their frames, in order",
    )
    p.add_argument(
        "--runtime",
        choices=tuple(RUNTIMES),
        help="where to run the files (default: pycaffe, else OpenCV)",
    )
    p.add_argument("--top", type=int, default=5, metavar="K", help="classifiers: how many classes (default 5)")
    p.add_argument(
        "-o",
        "--output-dir",
        metavar="DIR",
        help="where the drawn PNGs go (default: beside each image)",
    )


def run(args: argparse.Namespace) -> int:
    from ..predict import CLASSIFICATION, DEPTH, DETECTION, POSE, SEGMENTATION, draw, predict

    prefix = args.prefix
    for suffix in (".prototxt", ".caffemodel", ".json"):
        prefix = prefix[: -len(suffix)] if prefix.endswith(suffix) else prefix
    missing = [f"{prefix}.{ext}" for ext in ("prototxt", "caffemodel", "json") if not os.path.isfile(f"{prefix}.{ext}")]
    missing += [image for image in args.images if not os.path.isfile(image)]
    if missing:
        raise UsageError(f"{', '.join(missing)}: no such file (PREFIX.json is written by `gluon2caffe convert`)")
    if args.top < 1:
        raise UsageError(f"--top must be at least 1, got {args.top}")
    _check_clips(prefix, args.images)
    predictions = predict(prefix, args.images, args.runtime, args.top)
    for p in predictions:
        print(f"{p.image}:")
        if p.kind == CLASSIFICATION:
            for rank, (index, score, label) in enumerate(p.top, 1):
                print(f"  {rank}. class {index:>4}  score {score:10.4f}  {label}")
        elif p.kind == DETECTION:
            print(f"  {len(p.detections)} detection(s)")
            if p.detections:
                print(f"  {'class':>5}  {'score':>7}  {'xmin':>7} {'ymin':>7} {'xmax':>7} {'ymax':>7}  label")
            for cls, score, x0, y0, x1, y1, label in p.detections:
                print(f"  {cls:>5}  {score:7.4f}  {x0:7.1f} {y0:7.1f} {x1:7.1f} {y1:7.1f}  {label}")
        elif p.kind == SEGMENTATION:
            ids, counts = np.unique(p.class_map, return_counts=True)
            shown = ", ".join(f"{i}: {c}" for i, c in sorted(zip(ids, counts), key=lambda t: -t[1])[:5])
            print(f"  class map {p.class_map.shape[0]}x{p.class_map.shape[1]}; pixels per class (largest): {shown}")
        elif p.kind == POSE:
            for i, (x, y, score) in enumerate(p.keypoints):
                print(f"  keypoint {i:>2}: x {x:7.1f}  y {y:7.1f}  score {score:8.4f}")
        elif p.kind == DEPTH:
            d = p.disparity
            spread = f"min {d.min():.4f}, median {np.median(d):.4f}, max {d.max():.4f}"
            print(f"  disparity {d.shape[0]}x{d.shape[1]} (0..1, larger is nearer): {spread}")
        else:
            for name, value in p.outputs.items():
                print(f"  {name}: shape {tuple(value.shape)} (see PREFIX.json for what it means)")
        if p.kind in (DETECTION, SEGMENTATION, POSE, DEPTH):
            folder = args.output_dir or os.path.dirname(p.image) or "."
            os.makedirs(folder, exist_ok=True)
            stem = os.path.splitext(os.path.basename(p.image))[0]
            print(f"  drew {draw(p, os.path.join(folder, f'{stem}.{p.kind}.png'))}")
    return EXIT_OK


def _check_clips(prefix: str, images: list[str]) -> None:
    """A 3-D net takes clips of D frames: the images must make whole clips (a usage error before anything runs)."""
    from ..card import load_card

    inputs = load_card(prefix)["inputs"]
    shape = inputs[0]["shape"] if len(inputs) == 1 else []
    if len(shape) == 5 and len(images) % shape[2]:
        raise UsageError(
            f"{prefix}: the net takes clips of {shape[2]} frames {tuple(shape)}: give each clip's {shape[2]} frames "
            f"as IMAGE files, in order (got {len(images)} images)"
        )
