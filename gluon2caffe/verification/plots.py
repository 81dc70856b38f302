"""The error along a net, drawn (verify --plot)."""

from __future__ import annotations

import os

from .compare import TOLERANCE
from .verify import VerificationResult

PLOT_DPI = 100
PLOT_MAX_WIDTH = 16.0  # inches: 1600 px at PLOT_DPI, whatever the number of blobs
PLOT_MAX_NAMES = 80  # layer names on the x axis; a longer net names every k-th point


def plot_layers(result: VerificationResult, path: str) -> str:
    """Draw the error along the net (log scale) with the tolerance and the first error beyond it: the local error of
    every segment when the local check ran, else every blob's accumulated error. The x axis names the layers
    (rotated; every k-th of a long net, at most PLOT_MAX_NAMES); the image is at most PLOT_MAX_WIDTH wide
    (plot_size says how large). Returns path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if result.local is not None:
        points = [(s.layers[0], s.comparison.relative) for s in result.local.segments]
        first = result.local.first_failure
        first_index = result.local.segments.index(first) if first else None
        what = "local error (each segment on MXNet's inputs)"
    else:
        points = [(b.layer, b.comparison.relative) for b in result.layers]
        first = result.first_divergence
        first_index = result.layers.index(first) if first else None
        what = "accumulated error (one forward pass)"
    errors = [max(e, 1e-12) for _, e in points]
    fig, ax = plt.subplots(figsize=plot_size(len(errors), in_inches=True))
    ax.semilogy(range(len(errors)), errors, marker=".", linewidth=1)
    ax.axhline(TOLERANCE, color="red", linestyle="--", label=f"tolerance {TOLERANCE:g}")
    if first_index is not None:
        ax.axvline(first_index, color="orange", label=f"first error: {points[first_index][0]}")
    step = -(-len(points) // PLOT_MAX_NAMES) if points else 1
    shown = list(range(0, len(points), step))
    ax.set_xticks(shown)
    ax.set_xticklabels([points[i][0] for i in shown], rotation=90, fontsize=6)
    ax.set_xlim(-1, max(len(points), 1))
    ax.set_xlabel(f"layer, in net order ({len(points)} points" + (f", one in {step} named)" if step > 1 else ")"))
    ax.set_ylabel("max |caffe - mxnet| / max(max |mxnet|, magnitude)")
    ax.set_title(f"{what} ({result.runtime})")
    ax.legend(loc="upper left")
    fig.tight_layout()
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fig.savefig(path, dpi=PLOT_DPI)
    plt.close(fig)
    return path


def plot_size(points: int, in_inches: bool = False) -> tuple[float, float]:
    """(width, height) of plot_layers' image for this many points: pixels at PLOT_DPI (or inches)."""
    width, height = max(8.0, min(PLOT_MAX_WIDTH, 0.1 * points)), 6.0
    return (width, height) if in_inches else (width * PLOT_DPI, height * PLOT_DPI)
