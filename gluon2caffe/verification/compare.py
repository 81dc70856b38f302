"""The one rule every verdict uses: `compare` a tensor with MXNet's under TOLERANCE (no floor; an optional
`magnitude`; constant tensors prove nothing), `input_dependence` (MXNet's outputs move with the input), the verdict
names and `judge`, which turns those into one verdict."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import InvalidCallError

# The project's tolerance rule (docs/exactness.md): max|caffe - mxnet| <= TOLERANCE * scale, where scale is
# max|mxnet| of the tensor, or the size of the computation that produced it (`magnitude`) when that is larger: no floor.
TOLERANCE = 1e-4


def rule_text(runtime: str = "caffe") -> str:
    """The rule in one line, for generated tables."""
    return f"max|{runtime} - mxnet| <= {TOLERANCE:g} * max(max|mxnet|, magnitude), no floor"


# An output proves something only when MXNet's own output moves with the input: a second input must change every
# output by at least DEPENDENCE allowances (DEPENDENCE * TOLERANCE * scale), and no output may be constant.
DEPENDENCE = 100

# Verdicts. `exact`: every output within the tolerance end to end, every segment within it on MXNet's own inputs
# (verification/local.py, where it ran) and, for a detector, the detections equal to GluonCV's; and the comparison
# proves something: MXNet's outputs depend on the input and none is constant. `exact by layer`: every segment exact
# (and the detections equal) but the end-to-end output beyond the tolerance: the network amplifies float32 rounding;
# reported with both numbers, never counted as exact. `mismatch`: a value beyond the tolerance that no layer-local
# result explains, a segment beyond it, different detections, or files whose blobs have other shapes than MXNet's
# tensors. `not conclusive`: the values agree but prove nothing (an output that does not depend on the input or is
# constant, or every segment constant): never exact, exit 1.
EXACT, BY_LAYER, MISMATCH, NOT_CONCLUSIVE = "exact", "exact by layer", "mismatch", "not conclusive"
# MXNet's own output holds NaN or inf (e.g. random weights that overflow): the input proves nothing either way.
NOT_FINITE = "not comparable: MXNet's own output is not finite (try another --seed or --input, or trained --params)"
# What to do about a comparison that proves nothing (the CLI's flags; the library's keyword is input=).
CONCLUSIVE_REMEDY = "give trained weights (--params FILE) or a real input (--input IMAGE)"


def judge(end_to_end_ok: bool, local: Any = None, reference_finite: bool = True, conclusive: bool = True) -> str:
    """The verdict from the end-to-end comparison (every output within the tolerance), the layer-local result (None
    where it did not run) and whether the end-to-end comparison proves anything (`conclusive`: MXNet's outputs depend
    on the input and none is constant). A difference is a mismatch whether or not it proves anything; agreement that
    proves nothing is not conclusive, never exact."""
    if not reference_finite:
        return NOT_FINITE
    if local is not None and not local.ok:
        return MISMATCH
    if not end_to_end_ok and local is None:
        return MISMATCH
    if not conclusive or (local is not None and not local.conclusive):
        return NOT_CONCLUSIVE
    return EXACT if end_to_end_ok else BY_LAYER


@dataclass(frozen=True)
class Rule:
    """What a comparison is judged by: the tolerance (relative to the scale) and the name of a pass. The project's
    rule (TOLERANCE, `exact`) for float32 runtimes; verification/precision.py's float16 rule for a float16 one."""

    tolerance: float
    passed: str = EXACT
    name: str = ""  # how the comparison's text names a rule other than the project's

    def __str__(self) -> str:
        return self.name or f"tolerance {self.tolerance:g}"


FLOAT32_RULE = Rule(TOLERANCE)


@dataclass
class Comparison:
    """One tensor against MXNet's: max|actual - reference| against the rule's tolerance x scale."""

    max_abs: float
    scale: float  # max(max|reference|, magnitude): what the error is measured against (0 for an all-zero reference)
    reference_not_finite: int = 0  # NaN / inf values in MXNet's own output: nothing to compare, not a conversion error
    constant: bool = False  # MXNet's values are one value within the tolerance (or all zero): nothing is proven
    rule: Rule = FLOAT32_RULE

    @property
    def relative(self) -> float:
        if self.scale > 0:
            return self.max_abs / self.scale
        return 0.0 if self.max_abs == 0 else float("inf")

    @property
    def reference_finite(self) -> bool:
        return not self.reference_not_finite

    @property
    def within(self) -> bool:
        """The values agree within the tolerance (whether or not that proves anything)."""
        return self.reference_finite and self.relative <= self.rule.tolerance

    @property
    def ok(self) -> bool:
        """Within the tolerance, and the reference is not constant (exact, or the rule's pass)."""
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
        return NOT_CONCLUSIVE if self.constant else self.rule.passed

    def __str__(self) -> str:
        if not self.reference_finite:
            return f"MXNet's own output is not finite ({self.reference_not_finite} NaN/inf values): not comparable"
        constant = "not conclusive: MXNet's values are constant"
        if self.rule == FLOAT32_RULE:
            verdict = "MISMATCH" if not self.within else constant if self.constant else "ok"
            return f"max abs error {self.max_abs:.3g}, relative {self.relative:.3g} ({verdict})"
        verdict = "MISMATCH" if not self.within else constant if self.constant else self.rule.passed
        return f"max abs error {self.max_abs:.3g}, {self.relative:.3g} of max|mxnet| ({self.rule}: {verdict})"


def compare(
    actual: np.ndarray, reference: np.ndarray, magnitude: float | None = None, rule: Rule = FLOAT32_RULE
) -> Comparison:
    """`actual` against MXNet's `reference` under the tolerance rule: relative = max|actual - reference| / scale with
    scale = max(max|reference|, magnitude). `magnitude` is the size of the computation that produced the tensor, where
    cancellation makes the tensor's own size meaningless (the layer-local check measures it for linear layers: see
    verification/local.py); None: the tensor's own size. A reference whose values are all one value within the
    allowance (a constant Caffe tensor would pass), or all zero, is `constant`: agreement there proves nothing.
    Shapes must hold the same number of values (`actual` is compared in the reference's shape); a different number is
    an InvalidCallError (verify reports such blobs as a mismatch before comparing: `shape_differences`). `rule`: the
    tolerance and the name of a pass (verification/precision.py's float16 rule for a float16 runtime)."""
    actual, reference = np.asarray(actual, np.float64), np.asarray(reference, np.float64)
    if actual.size != reference.size:
        raise InvalidCallError(f"cannot compare shape {actual.shape} with reference shape {reference.shape}")
    actual = actual.reshape(reference.shape)
    not_finite = int(np.size(reference) - np.count_nonzero(np.isfinite(reference)))
    if not_finite:
        return Comparison(float("nan"), 1.0, reference_not_finite=not_finite, rule=rule)
    if not reference.size:
        return Comparison(0.0, 0.0, constant=True, rule=rule)
    top, bottom = float(np.max(reference)), float(np.min(reference))
    own = max(abs(top), abs(bottom))
    scale = own
    if magnitude is not None and np.isfinite(magnitude) and magnitude > scale:
        scale = float(magnitude)
    # Some one value is within the allowance of every reference value: a constant tensor would pass.
    constant = own == 0 or (reference.size > 1 and (top - bottom) / 2 <= rule.tolerance * scale)
    if not np.all(np.isfinite(actual)):
        return Comparison(float("inf"), scale, constant=constant, rule=rule)
    return Comparison(float(np.max(np.abs(actual - reference))), scale, constant=constant, rule=rule)


@dataclass
class Dependence:
    """Whether MXNet's outputs depend on the input: each output's change for a second input, against DEPENDENCE
    allowances of its comparison's scale; an output that moves less, or is constant, makes the comparison prove
    nothing (`not conclusive`)."""

    second_input: str  # how the second input was made
    changes: dict[str, float]  # output -> max|mxnet(x) - mxnet(x2)|
    scales: dict[str, float]  # output -> the scale its comparison uses
    constant: list[str] = field(default_factory=list)  # outputs whose MXNet values are constant

    def relative(self, name: str) -> float:
        scale = self.scales[name]
        return self.changes[name] / scale if scale > 0 else (0.0 if self.changes[name] == 0 else float("inf"))

    @property
    def dead(self) -> list[str]:
        """The outputs a second input moved by less than DEPENDENCE allowances."""
        return [name for name in self.changes if not self.relative(name) >= DEPENDENCE * TOLERANCE]

    @property
    def smallest(self) -> float:
        """The smallest relative change over the outputs (nan without outputs)."""
        return min((self.relative(name) for name in self.changes), default=float("nan"))

    @property
    def ok(self) -> bool:
        return bool(self.changes) and not self.dead and not self.constant

    def __str__(self) -> str:
        """`a second input (random normal (seed 1)) moves every output by 0.31 of its scale or more (0.01 needed)`"""
        if not self.ok:
            return self.reason(remedy=False)
        return (
            f"a second input ({self.second_input}) moves every output by {self.smallest:.3g} of its scale or more "
            f"({DEPENDENCE * TOLERANCE:g} needed)"
        )

    def reason(self, remedy: bool = True) -> str:
        """Why the comparison proves nothing, with what to do ('' when it does)."""
        if self.ok:
            return ""
        todo = f"; {CONCLUSIVE_REMEDY}" if remedy else ""
        if not self.changes:  # nothing to measure the dependence with: second_input says why
            return self.second_input or f"no output to compare{todo}"
        if self.constant:
            what = f"{_names(self.constant)} {'is' if len(self.constant) == 1 else 'are'} constant"
        else:
            name = min(self.dead, key=self.relative)
            what = (
                f"the MXNet output {name} does not depend on the input (a second input, {self.second_input}, moves it "
                f"by {self.changes[name]:.3g}, {self.relative(name):.3g} of its size {self.scales[name]:.3g}; "
                f"{DEPENDENCE * TOLERANCE:g} needed)"
            )
        return f"{what}: the comparison proves nothing{todo}"


def _names(names: list[str], shown: int = 3) -> str:
    text = ", ".join(names[:shown])
    return (
        ("the MXNet output " if len(names) == 1 else "the MXNet outputs ")
        + text
        + (f" and {len(names) - shown} more" if len(names) > shown else "")
    )


def input_dependence(
    first: dict[str, np.ndarray], second: dict[str, np.ndarray], comparisons: dict[str, Comparison], second_input: str
) -> Dependence:
    """The one rule every verdict uses (verify, the detector checks, the zoo sweep, the tests): MXNet's outputs on the
    compared input (`first`) and on a second one (`second`, made as `second_input` says), each output's change
    against DEPENDENCE allowances of the scale its comparison used; constant outputs (comparison.constant) named."""
    changes = {}
    for name, value in first.items():
        other = np.asarray(second[name], np.float64).reshape(np.shape(value))
        changes[name] = float(np.max(np.abs(np.asarray(value, np.float64) - other))) if np.size(value) else 0.0
    scales = {name: comparisons[name].scale for name in first}
    constant = [name for name in first if comparisons[name].constant]
    return Dependence(second_input, changes, scales, constant)


@dataclass
class ShapeDifference:
    """A Caffe blob whose MXNet tensor (same name) holds another number of values: the files are not this model's."""

    blob: str
    caffe: tuple[int, ...]
    mxnet: tuple[int, ...]

    def __str__(self) -> str:
        return f"{self.blob}: Caffe {_shape(self.caffe)}, MXNet {_shape(self.mxnet)}"


def _shape(shape: tuple[int, ...]) -> str:
    return "(" + ",".join(str(d) for d in shape) + ")"


def describe_shape_differences(differences: list[ShapeDifference], shown: int = 3) -> str:
    """One line: how many named blobs differ, a few of them, and what to check."""
    count = len(differences)
    listed = "; ".join(str(d) for d in differences[:shown]) + ("; ..." if count > shown else "")
    return (
        f"{count} named blob{'s' if count > 1 else ''} of the Caffe files {'have' if count > 1 else 'has'} another "
        f"shape than MXNet's tensor{'s' if count > 1 else ''} of that name ({listed}): the files were not converted "
        "from this model (or for another input shape)"
    )
