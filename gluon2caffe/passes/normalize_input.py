"""preprocess=: make the image inputs take raw pixels, the normalization done in the net (ir/preprocess.py)."""

from __future__ import annotations

import logging

from ..ir.graph import Graph
from ..ir.ops import has_rgb_axis
from ..ir.preprocess import Preprocess

log = logging.getLogger(__name__)


def normalize_input(graph: Graph, input_names: list[str], preprocess: Preprocess) -> list[str]:
    """Record, for each input with 3 channels on axis 1, the per-channel Scale (weight 1 / (scale * std), bias
    -mean / std) the emission writes right after its Input layer, in the channel order the Caffe input has after
    the BGR swap (run after swap_bgr). Never folded into the first layer (a padded convolution would read the
    normalized image's border as 0). Returns the inputs normalized; any other input is left as it is (a warning)."""
    normalized = []
    for name in input_names:
        shape = graph.inputs[name]
        if not has_rgb_axis(shape):
            log.warning("preprocess: input '%s' of shape %s has no 3-channel axis 1; left as it is", name, shape)
            continue
        graph.preprocess[name] = preprocess.scale_blobs(bgr=name in graph.swapped_channels)
        normalized.append(name)
        log.info("normalize_input: %s takes raw pixels: %s", name, preprocess.describe())
    return normalized
