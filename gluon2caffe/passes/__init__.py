"""Rewrite passes on the IR, run in a fixed order by `run_passes`."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from ..ir.graph import Graph
from ..ir.ops import has_rgb_axis
from ..ir.preprocess import Preprocess
from .append_softmax import append_softmax
from .fold_batchnorm import fold_batchnorm
from .fold_constants import fold_constants
from .fold_pad import fold_pad
from .fuse_normalize_scale import fuse_normalize_scale
from .normalize_input import normalize_input
from .remove_identities import remove_identities
from .shape_references import bypass_shape_references
from .swap_bgr import swap_bgr

log = logging.getLogger(__name__)


@dataclass
class PassReport:
    """What each pass did, for logs and the CLI summary."""

    identities_removed: int = 0
    constants_folded: int = 0  # nodes computed from parameters alone, evaluated into parameters
    shape_references_dropped: int = 0
    pads_folded: int = 0
    bn_folded: int = 0
    bn_kept: int = 0
    normalize_scales_folded: int = 0
    bgr_swapped: list[str] = field(default_factory=list)
    bgr_permuted: list[str] = field(default_factory=list)  # uses of the input fed its exact BGR -> RGB permutation
    bgr_skipped: list[str] = field(default_factory=list)  # inputs to_bgr left as they are (no 3-channel axis 1)
    softmax_appended: str | None = None
    preprocessed: list[str] = field(default_factory=list)  # inputs that take raw pixels (normalized in the net)


def run_passes(
    graph: Graph,
    input_names: str | list[str],
    merge_bn: bool,
    to_bgr: bool,
    softmax: bool,
    preprocess: Preprocess | None = None,
) -> PassReport:
    """The passes in their order; `input_names` are the data inputs (to_bgr swaps those with a 3-channel axis 1;
    `preprocess` makes the same inputs take raw pixels)."""
    names = [input_names] if isinstance(input_names, str) else list(input_names)
    report = PassReport()
    # Identities first, so a Dropout between a conv and its BatchNorm does not block the fold.
    report.identities_removed = remove_identities(graph)
    report.shape_references_dropped = bypass_shape_references(graph)
    # Before every pass that reads or rewrites a weight (fold_pad's convolution, the BatchNorm fold, the BGR swap):
    # a weight computed from parameters (weight * mask, a slice of a weight) is a parameter from here on.
    report.constants_folded = fold_constants(graph)
    report.pads_folded = fold_pad(graph)
    report.normalize_scales_folded = fuse_normalize_scale(graph)
    if merge_bn:
        report.bn_folded, report.bn_kept = fold_batchnorm(graph)
    else:
        report.bn_kept = sum(1 for n in graph.nodes if n.op == "BatchNorm")
    # After the fold: the swap then rewrites the folded weights once (either order gives the same numbers).
    if to_bgr:
        for name in names:
            _swap_bgr_or_skip(graph, name, report)
    # After the swap: the normalization's per-channel numbers follow the Caffe input's channel order (BGR if swapped).
    if preprocess is not None:
        report.preprocessed = normalize_input(graph, names, preprocess)
    if softmax:
        report.softmax_appended = append_softmax(graph)
    return report


def _swap_bgr_or_skip(graph: Graph, name: str, report: PassReport) -> None:
    """to_bgr applies to the inputs that are images (N, 3, ...); any other input (a feature vector, a sequence, a
    grayscale image) is left as it is, with a warning, so several-input models convert with the default to_bgr."""
    shape = graph.inputs[name]
    if has_rgb_axis(shape):
        swapped, permuted = swap_bgr(graph, name)
        report.bgr_swapped.extend(swapped)
        report.bgr_permuted.extend(permuted)
        return
    log.warning("to_bgr: input '%s' of shape %s has no 3-channel axis 1; left as it is", name, shape)
    report.bgr_skipped.append(name)
