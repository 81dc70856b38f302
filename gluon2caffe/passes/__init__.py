"""Rewrite passes on the IR, run in a fixed order by `run_passes`."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from ..ir.graph import Graph
from .append_softmax import append_softmax
from .fold_batchnorm import fold_batchnorm
from .fold_pad import fold_pad
from .fuse_normalize_scale import fuse_normalize_scale
from .remove_identities import remove_identities
from .swap_bgr import swap_bgr

log = logging.getLogger(__name__)


@dataclass
class PassReport:
    """What each pass did, for logs and the CLI summary."""

    identities_removed: int = 0
    pads_folded: int = 0
    bn_folded: int = 0
    bn_kept: int = 0
    normalize_scales_folded: int = 0
    bgr_swapped: list[str] = field(default_factory=list)
    bgr_permuted: list[str] = field(default_factory=list)  # uses of the input fed its exact BGR -> RGB permutation
    softmax_appended: str | None = None


def run_passes(graph: Graph, input_name: str, merge_bn: bool, to_bgr: bool, softmax: bool) -> PassReport:
    report = PassReport()
    # Identities first, so a Dropout between a conv and its BatchNorm does not block the fold.
    report.identities_removed = remove_identities(graph)
    report.pads_folded = fold_pad(graph)
    report.normalize_scales_folded = fuse_normalize_scale(graph)
    if merge_bn:
        report.bn_folded, report.bn_kept = fold_batchnorm(graph)
    else:
        report.bn_kept = sum(1 for n in graph.nodes if n.op == "BatchNorm")
    # After the fold: the swap then rewrites the folded weights once (either order gives the same numbers).
    if to_bgr:
        report.bgr_swapped, report.bgr_permuted = swap_bgr(graph, input_name)
    if softmax:
        report.softmax_appended = append_softmax(graph)
    return report
