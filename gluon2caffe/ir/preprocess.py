"""The input normalization a converted net can carry in itself (`preprocess=`): raw pixels in, the network's own
normalized input after one per-channel Caffe Scale layer with bias.

GluonCV's models read `(pixel / scale - mean) / std` per channel (RGB, pixel in 0..255, scale 255, the ImageNet
mean and std). Neither OpenCV's `blobFromImage` nor Caffe's `transform_param` can divide by a per-channel std, so
the conversion can put the whole normalization into the net: a Scale layer of weight 1 / (scale * std_c) and bias
-mean_c / std_c on the input, in the Caffe input's channel order (BGR after to_bgr). It is never folded into the
first convolution: folding is exact only without padding (a padded border would read 0 instead of the normalized 0,
i.e. the mean), and one 3-channel Scale costs nothing; one rule everywhere keeps it simple and exact.

Exactness: x * w + b with w, b rounded to float32 differs from MXNet's (x / scale - mean) / std by a few float32
roundings of the normalized value (about 1e-7 of it), far inside the project's tolerance; tests/passes/
test_normalize_input.py measures it in every runtime.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InvalidCallError

# GluonCV's preprocessing: RGB in [0, 1] (pixels / 255), then this mean and std.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
BGR = [2, 1, 0]


@dataclass(frozen=True)
class Preprocess:
    """normalized_c = (pixel_c / scale - mean_c) / std_c, with mean and std in RGB order (as GluonCV writes them)."""

    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    scale: float = 1.0

    def checked(self) -> Preprocess:
        """These numbers as floats: three means, three positive stds, a positive scale; InvalidCallError otherwise."""
        try:
            mean = tuple(float(v) for v in self.mean)
            std = tuple(float(v) for v in self.std)
            scale = float(self.scale)
        except (TypeError, ValueError):
            raise InvalidCallError(f"preprocess numbers must be numbers, got {self}") from None
        if len(mean) != 3 or len(std) != 3:
            raise InvalidCallError(f"preprocess takes 3 means and 3 stds (R, G, B), got mean={mean} std={std}")
        values = np.array(mean + std + (scale,))
        if not np.all(np.isfinite(values)) or min(std) <= 0 or scale <= 0:
            raise InvalidCallError(
                f"preprocess: std and scale must be positive and finite, got std={std} scale={scale}"
            )
        return Preprocess(mean, std, scale)  # type: ignore[arg-type]

    def scale_blobs(self, bgr: bool) -> tuple[np.ndarray, np.ndarray]:
        """(weight, bias) of the Scale layer, float32, in the Caffe input's channel order (BGR when `bgr`)."""
        mean, std = np.array(self.mean, np.float64), np.array(self.std, np.float64)
        weight, bias = 1.0 / (self.scale * std), -mean / std
        order = BGR if bgr else [0, 1, 2]
        return weight[order].astype(np.float32), bias[order].astype(np.float32)

    def normalize(self, pixels_rgb: np.ndarray) -> np.ndarray:
        """GluonCV's own arithmetic on RGB NCHW pixels (float32): (pixels / scale - mean) / std."""
        mean = np.array(self.mean, np.float32).reshape(1, 3, *([1] * (pixels_rgb.ndim - 2)))
        std = np.array(self.std, np.float32).reshape(mean.shape)
        return ((pixels_rgb.astype(np.float32) / np.float32(self.scale) - mean) / std).astype(np.float32)

    def pixels(self, normalized_rgb: np.ndarray) -> np.ndarray:
        """The pixels (RGB NCHW, float32) whose normalization is `normalized_rgb` (up to float32 rounding)."""
        shape = (1, 3, *([1] * (normalized_rgb.ndim - 2)))
        mean = np.array(self.mean, np.float64).reshape(shape)
        std = np.array(self.std, np.float64).reshape(shape)
        return ((normalized_rgb.astype(np.float64) * std + mean) * self.scale).astype(np.float32)

    def describe(self) -> str:
        return f"(pixel / {self.scale:g} - mean) / std, RGB mean {_three(self.mean)}, std {_three(self.std)}"


IMAGENET = Preprocess(IMAGENET_MEAN, IMAGENET_STD, 255.0)
# GluonCV's CIFAR-10 training and evaluation scripts (train_cifar10.py): their own mean and std.
CIFAR = Preprocess((0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010), 255.0)
# pixel / 255 only: monodepth2's encoder normalizes inside the network, (x - 0.45) / 0.225.
UNIT = Preprocess((0.0, 0.0, 0.0), (1.0, 1.0, 1.0), 255.0)
PRESETS = {"imagenet": IMAGENET, "cifar": CIFAR, "unit": UNIT}


def preset_name(preprocess: Preprocess) -> str | None:
    """The preset's name (`--preprocess NAME`) of these numbers, None for others."""
    return next((name for name, p in PRESETS.items() if p == preprocess), None)


def _three(values) -> str:
    return "(" + ", ".join(f"{v:g}" for v in values) + ")"
