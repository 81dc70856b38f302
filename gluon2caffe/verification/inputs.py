"""The inputs a check feeds: random noise, an image (GluonCV's preprocessing), synthetic scenes, and the second input
of the input-dependence check; `bgr_feed`, what the Caffe net gets when the conversion swapped RGB to BGR."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InvalidCallError
from ..ir import preprocess as _preprocess
from ..ir.ops import has_rgb_axis
from ..ir.preprocess import Preprocess

BGR = [2, 1, 0]
# GluonCV's preprocessing: RGB in [0, 1], then this mean and std (ir/preprocess.py).
IMAGENET_MEAN = np.array(_preprocess.IMAGENET_MEAN, np.float32)
IMAGENET_STD = np.array(_preprocess.IMAGENET_STD, np.float32)


def make_inputs(source: Any, shapes: dict[str, tuple[int, ...]], seed: int = 0) -> tuple[dict[str, np.ndarray], str]:
    """({input name: RGB array}, description) for the net's inputs: `source` as in make_input, or a dict of them by
    input name; random inputs get seed, seed + 1, ... in input order."""
    if len(shapes) == 1 and not isinstance(source, dict):
        name, shape = next(iter(shapes.items()))
        x, description = make_input(source, shape, seed)
        return {name: x}, description
    sources = source if isinstance(source, dict) else {}
    if not isinstance(source, dict) and source not in (None, "random"):
        raise InvalidCallError(f"the net has {len(shapes)} inputs {list(shapes)}: give input as {{name: ...}}")
    unknown = set(sources) - set(shapes)
    if unknown:
        raise InvalidCallError(f"input names {sorted(unknown)} are not inputs of the net {list(shapes)}")
    inputs, descriptions = {}, []
    for i, (name, shape) in enumerate(shapes.items()):
        inputs[name], description = make_input(sources.get(name), shape, seed + i)
        descriptions.append(f"{name}: {description}")
    return inputs, "; ".join(descriptions)


def bgr_feed(
    inputs: dict[str, np.ndarray], to_bgr: bool, preprocess: Preprocess | None = None
) -> dict[str, np.ndarray]:
    """What the Caffe net is fed for MXNet's (normalized, RGB) inputs: with `preprocess` (the net normalizes its
    input itself), the raw pixels whose normalization they are; with to_bgr, in BGR. Both apply to the inputs the
    conversion swapped / normalized: a 3-channel axis 1."""
    feed = {}
    for name, x in inputs.items():
        if has_rgb_axis(x.shape):
            x = preprocess.pixels(x) if preprocess is not None else x
            x = np.ascontiguousarray(x[:, BGR]) if to_bgr else x
        feed[name] = x
    return feed


def make_input(source: str | np.ndarray | None, shape: tuple[int, ...], seed: int = 0) -> tuple[np.ndarray, str]:
    """(RGB NCHW float32 input, description)."""
    if isinstance(source, np.ndarray):
        if tuple(source.shape) != tuple(shape):
            raise InvalidCallError(f"input array has shape {source.shape}, the net takes {shape}")
        return source.astype(np.float32), "given array"
    if source is None or source == "random":
        x = np.random.RandomState(seed).normal(0, 1, shape).astype(np.float32)
        return x, f"random normal (seed {seed})"
    if len(shape) != 4:
        raise InvalidCallError(f"an image input needs an (N, C, H, W) net; this input is {shape}: use 'random'")
    if source == "scene":
        return synthetic_scene(shape, seed), f"synthetic scene (seed {seed}, ImageNet mean/std)"
    return load_image(source, shape), f"image {source} (resized, ImageNet mean/std)"


# A second image for the input-dependence check: the first mirrored left to right, plus normal noise of this std
# (in the normalized units the net reads): a real input stays a real input, and any live net's output moves.
SECOND_IMAGE_NOISE = 0.2


def second_inputs(source: Any, first: dict[str, np.ndarray], seed: int = 0) -> tuple[dict[str, np.ndarray], str]:
    """({input name: a second RGB array}, how it was made) for the input-dependence check (`input_dependence`), each
    from its input's source as make_inputs read it: random noise and synthetic scenes with another seed (input i of
    n: seed + n + i), an image mirrored left to right plus noise, a given array plus noise of its own spread."""
    sources = source if isinstance(source, dict) else {name: source for name in first}
    n = len(first)
    seconds, descriptions = {}, []
    for i, (name, x) in enumerate(first.items()):
        seconds[name], description = _second_input(sources.get(name), x, seed + n + i)
        descriptions.append(description if n == 1 else f"{name}: {description}")
    return seconds, "; ".join(descriptions)


def _second_input(source: Any, x: np.ndarray, seed: int) -> tuple[np.ndarray, str]:
    rng = np.random.RandomState(seed)
    if isinstance(source, np.ndarray):
        spread = float(np.std(x)) or 1.0
        x2 = (x + rng.normal(0, spread, x.shape)).astype(np.float32)
        return x2, f"the given array plus normal noise (std {spread:.3g}, seed {seed})"
    if source is None or source == "random":
        return rng.normal(0, 1, x.shape).astype(np.float32), f"random normal (seed {seed})"
    if source == "scene":
        return synthetic_scene(x.shape, seed), f"synthetic scene (seed {seed})"
    return perturbed_input(x, seed, "the image")


def perturbed_input(x: np.ndarray, seed: int = 1, what: str = "the input") -> tuple[np.ndarray, str]:
    """(x mirrored left to right plus normal noise of std SECOND_IMAGE_NOISE, how it was made): a second input made
    from an image (or any input, for a check not told how its input was made)."""
    noise = np.random.RandomState(seed).normal(0, SECOND_IMAGE_NOISE, x.shape)
    description = f"{what} mirrored left to right, plus normal noise (std {SECOND_IMAGE_NOISE:g}, seed {seed})"
    return (x[..., ::-1] + noise).astype(np.float32), description


NOISE = 0.25


def synthetic_scene(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """A real-looking input without a real image: a background gradient, a few flat-colored rectangles and ellipses
    (objects with edges) and pixel noise of std NOISE, in [0, 1] RGB, normalized like GluonCV's inputs.

    The objects carry no texture: the pixel noise is what keeps regions from being flat (a flat region makes channels
    nearly constant, and a BatchNorm that subtracts a mean close to the value then divides by a tiny deviation turns
    float32 rounding into 1e-4 relative errors). Each object still draws the three numbers of a striped texture that
    was multiplied by zero until issue 25 removed it: drawing them keeps every scene (and every measurement made on
    one) what it was."""
    n, c, h, w = shape
    rng = np.random.RandomState(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    images = []
    for _ in range(n):
        img = np.empty((h, w, c), np.float32)
        for ch in range(c):
            a, b, d = rng.uniform(-0.5, 0.5, 3)
            img[:, :, ch] = 0.5 + a * yy / h + b * xx / w + d * 0.3
        for _ in range(rng.randint(3, 8)):
            y0, x0 = rng.uniform(0, h), rng.uniform(0, w)
            ry, rx = rng.uniform(0.05, 0.3) * h, rng.uniform(0.05, 0.3) * w
            if rng.rand() < 0.5:
                mask = (np.abs(yy - y0) < ry) & (np.abs(xx - x0) < rx)
            else:
                mask = ((yy - y0) / ry) ** 2 + ((xx - x0) / rx) ** 2 < 1
            rng.uniform(0.05, 0.6), rng.uniform(0.05, 0.6), rng.uniform(0, 2 * np.pi)  # the unused texture's draws
            img[mask] = rng.uniform(0, 1, c)
        img += rng.normal(0, NOISE, img.shape)
        img = np.clip(img, 0, 1)
        images.append(((img - IMAGENET_MEAN[:c]) / IMAGENET_STD[:c]).transpose(2, 0, 1))
    return np.stack(images).astype(np.float32)


def load_image(path: str, shape: tuple[int, ...]) -> np.ndarray:
    """An image as GluonCV models expect it: RGB, [0, 1], normalized by the ImageNet mean/std, NCHW."""
    from PIL import Image, UnidentifiedImageError

    n, c, h, w = shape
    if c != 3:
        raise InvalidCallError(f"an image input needs a 3-channel net; this one takes {c} channels")
    try:
        with Image.open(path) as image:
            rgb = np.asarray(image.convert("RGB").resize((w, h), Image.BILINEAR), np.float32) / 255.0
    except (OSError, UnidentifiedImageError) as exc:
        raise InvalidCallError(f"cannot read image {path}: {exc}") from None
    x = ((rgb - IMAGENET_MEAN) / IMAGENET_STD).transpose(2, 0, 1)[None]
    return np.repeat(x, n, axis=0).astype(np.float32)
