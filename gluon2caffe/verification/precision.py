"""The float16 rule: what a check may claim in a runtime that computes in float16 (rknn-toolkit2's simulator).

Such a runtime cannot be exact: float16 keeps 11 significant bits (a rounding unit of 2**-11 = 4.9e-4), and every
layer rounds its weights, its inputs and its result. Its check therefore has its own, stated rule and its own verdict:

    max|runtime - mxnet| <= FP16_TOLERANCE * max|mxnet|      (FP16_TOLERANCE = 16 * 2**-11 = 7.8e-3)

relative to the output's own magnitude (no floor: a tiny output is not excused), and a pass is called
`within fp16`, never `exact`. Measured in rknn-toolkit2 2.5.0 (RK3588) on random-weight zoo nets: classifiers
9e-4 .. 1.7e-3 of max|mxnet|, an SSD's box and class heads 4.0e-3 and 4.2e-3, single constructs 4e-4 .. 8e-4
(docs/runtimes.md); a wrong construct (an ignored Eltwise coefficient, a lost padding) is off by 1e-1 .. 1 of the
output, far outside. It proves that the runtime read the files as the same net, not that every bit is the same:
judge a conversion in a float32 runtime.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InvalidCallError
from .compare import BY_LAYER, EXACT, MISMATCH, NOT_CONCLUSIVE, NOT_FINITE, compare
from .runtimes import RUNTIMES

FLOAT32, FLOAT16 = "float32", "float16"
FP16_TOLERANCE = 16 * 2.0**-11
WITHIN_FP16 = "within fp16"


@dataclass
class Fp16Comparison:
    """A comparison under the float16 rule (the same fields and properties as verification.Comparison)."""

    max_abs: float
    scale: float  # max|reference| (no floor)
    reference_not_finite: int = 0
    constant: bool = False  # one value is within the float16 allowance of every reference value: proves nothing

    @property
    def relative(self) -> float:
        return self.max_abs / self.scale if self.scale > 0 else (0.0 if self.max_abs == 0 else float("inf"))

    @property
    def reference_finite(self) -> bool:
        return not self.reference_not_finite

    @property
    def within(self) -> bool:
        return self.reference_finite and self.relative <= FP16_TOLERANCE

    @property
    def ok(self) -> bool:
        return self.within and not self.constant

    @property
    def mismatch(self) -> bool:
        return self.reference_finite and not self.within

    @property
    def status(self) -> str:
        if not self.reference_finite:
            return NOT_FINITE
        if not self.within:
            return MISMATCH
        return NOT_CONCLUSIVE if self.constant else WITHIN_FP16

    def __str__(self) -> str:
        if not self.reference_finite:
            return f"MXNet's own output is not finite ({self.reference_not_finite} NaN/inf values): not comparable"
        verdict = (
            "MISMATCH"
            if not self.within
            else "not conclusive: MXNet's values are constant"
            if self.constant
            else WITHIN_FP16
        )
        return (
            f"max abs error {self.max_abs:.3g}, {self.relative:.3g} of max|mxnet| (float16 rule "
            f"{FP16_TOLERANCE:.2g}: {verdict})"
        )


def compare_fp16(actual: np.ndarray, reference: np.ndarray) -> Fp16Comparison:
    actual, reference = np.asarray(actual, np.float64), np.asarray(reference, np.float64)
    if actual.shape != reference.shape:
        raise InvalidCallError(f"cannot compare shape {actual.shape} with reference shape {reference.shape}")
    not_finite = int(np.size(reference) - np.count_nonzero(np.isfinite(reference)))
    if not_finite:
        return Fp16Comparison(float("nan"), 1.0, reference_not_finite=not_finite)
    if not np.all(np.isfinite(actual)):
        return Fp16Comparison(float("inf"), 1.0)
    if not reference.size:
        return Fp16Comparison(0.0, 0.0, constant=True)
    top, bottom = float(np.max(reference)), float(np.min(reference))
    scale = max(abs(top), abs(bottom))
    constant = scale == 0 or (reference.size > 1 and (top - bottom) / 2 <= FP16_TOLERANCE * scale)
    return Fp16Comparison(float(np.max(np.abs(actual - reference))), scale, constant=constant)


def precision_of(runtime: str) -> str:
    return RUNTIMES[runtime].precision if runtime in RUNTIMES else FLOAT32


def compare_in(runtime: str, actual: np.ndarray, reference: np.ndarray, magnitude: float | None = None):
    """`actual` (from `runtime`) against `reference` under that runtime's rule: the project's tolerance
    (verification.compare, with `magnitude`), or the float16 rule (the output's own size)."""
    if precision_of(runtime) == FLOAT16:
        return compare_fp16(actual, reference)
    return compare(actual, reference, magnitude)


def verdict_in(runtime: str, status: str) -> str:
    """The verdict as the runtime may state it: a float16 runtime's pass is `within fp16`, never `exact`."""
    if precision_of(runtime) == FLOAT16 and status in (EXACT, BY_LAYER):
        return WITHIN_FP16
    return status
