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

import numpy as np

from .compare import BY_LAYER, EXACT, Comparison, Rule, compare
from .runtimes import RUNTIMES

FLOAT32, FLOAT16 = "float32", "float16"
FP16_TOLERANCE = 16 * 2.0**-11
WITHIN_FP16 = "within fp16"


FP16_RULE = Rule(FP16_TOLERANCE, WITHIN_FP16, f"float16 rule {FP16_TOLERANCE:.2g}")


def compare_fp16(actual: np.ndarray, reference: np.ndarray) -> Comparison:
    """`actual` against `reference` under the float16 rule: relative to the output's own size (no magnitude)."""
    return compare(actual, reference, rule=FP16_RULE)


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
