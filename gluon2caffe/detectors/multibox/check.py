"""The MultiBox SSD's check against MXNet (verification/detectors.py): the tensors before NMS, and the detections as
sets.

Before NMS: box predictions (mbox_loc) and class probabilities (mbox_conf_flatten) against MultiBoxDetection's
inputs; the anchors the conversion wrote (PriorBox or constant priors, or the decoding's constants) against MXNet's
MultiBoxPrior outputs in pixels; with clip, the corners decoded in layers (mbox_loc_corners) against MXNet's
decoding of the same inputs (TransformLocations in float32). Detections: MultiBoxDetection's rows [id, score,
corners] (id -1: none) against DetectionOutput's, label = id + 1.
"""

from __future__ import annotations

import numpy as np

from ...verification.detectors import (
    DetectorCheck,
    DetectorRun,
    blob_differences,
    finish_check,
    float64_errors,
    graph_reference,
    mismatched_files,
    px_comparison,
    run_with_blobs,
)
from ...verification.mxnet_reference import MXNetReference
from .layers import CONF, CORNERS, LOC, PRIORS, multibox_aliases
from .read import MultiBoxHead

KEYS = ("loc", "cls_prob", "anchors", "detections")


def mxnet_reference(
    net: object | MXNetReference, head: MultiBoxHead, x: np.ndarray, input_name: str = "data"
) -> dict[str, np.ndarray]:
    """MultiBoxDetection's inputs and output for input x, in the shapes the check compares: loc (B, N*4), conf
    (B, N, C+1), anchors (N, 4) normalized, and the detections as ids / scores / boxes (pixels) / conf for
    verification's matching (conf there: MXNet's candidates, every foreground score but the best zeroed)."""
    v = graph_reference(net, x, {k: head.tensors[k] for k in KEYS}, input_name)
    h, w = head.image_size
    det = v["detections"]
    probs = np.transpose(v["cls_prob"], (0, 2, 1))
    best = probs.copy()
    fg = best[:, :, 1:]
    fg[fg < fg.max(axis=2, keepdims=True)] = 0
    return {
        "loc": v["loc"].reshape(v["loc"].shape[0], -1),
        "conf": probs,
        "candidates": best,
        "anchors": v["anchors"].reshape(-1, 4),
        "ids": det[:, :, 0:1],
        "scores": det[:, :, 1:2],
        "boxes": det[:, :, 2:6] * np.array([w, h, w, h], np.float32),
    }


def mxnet_decode(loc: np.ndarray, anchors: np.ndarray, head: MultiBoxHead) -> np.ndarray:
    """MultiBoxDetection's TransformLocations (float32, MXNet's order) of image 0: (N, 4) corners."""
    f32 = np.float32
    p = loc[0].reshape(-1, 4).astype(f32)
    a = anchors.astype(f32)
    v = np.asarray(head.variances, f32)
    aw, ah = a[:, 2] - a[:, 0], a[:, 3] - a[:, 1]
    ax, ay = (a[:, 0] + a[:, 2]) / f32(2), (a[:, 1] + a[:, 3]) / f32(2)
    ox, oy = p[:, 0] * v[0] * aw + ax, p[:, 1] * v[1] * ah + ay
    ow, oh = np.exp(p[:, 2] * v[2]) * aw / f32(2), np.exp(p[:, 3] * v[3]) * ah / f32(2)
    out = np.stack([ox - ow, oy - oh, ox + ow, oy + oh], 1)
    return np.clip(out, 0, 1) if head.clip else out


def check_multibox(run: DetectorRun) -> DetectorCheck:
    """Compare the converted MultiBox SSD with MXNet on run.x (RGB; fed to Caffe as BGR when run.to_bgr)."""
    head: MultiBoxHead = run.head  # type: ignore[assignment]
    reference = run.reference()
    ref = mxnet_reference(reference, head, run.x, reference.input_name)
    # CORNERS before PRIORS: ncnn 1.0.20261020 crashes (SIGSEGV) extracting the corners after the priors made of them
    blobs = [LOC, CONF] + ([CORNERS] if head.clip else [PRIORS])
    got = run_with_blobs(run.prototxt, run.caffemodel, run.x_caffe, blobs, run.runtime, reference.input_name)
    h, w = head.image_size
    scale = np.array([w, h, w, h], np.float64)
    tensors = {"loc": (LOC, got[LOC], ref["loc"]), "conf": (CONF, got[CONF], ref["conf"])}
    differences = blob_differences(tensors)
    if differences:
        return mismatched_files(run.runtime, differences)
    tensors = {k: (blob, actual.reshape(expected.shape), expected) for k, (blob, actual, expected) in tensors.items()}
    anchors_px = ref["anchors"].astype(np.float64) * scale
    extra = {"anchors (px)": px_comparison(head.corner_anchors().astype(np.float64) * scale, anchors_px, max(h, w))}
    if head.clip:
        decoded = mxnet_decode(ref["loc"], ref["anchors"], head).astype(np.float64) * scale
        extra["decoded (px)"] = px_comparison(got[CORNERS][0].reshape(-1, 4) * scale, decoded, max(h, w))
    else:
        priors = got[PRIORS][0, 0].reshape(-1, 4).astype(np.float64) * scale
        extra["priors (px)"] = px_comparison(priors, anchors_px, max(h, w))
    x2, second = run.second()
    again = mxnet_reference(reference, head, x2, reference.input_name)
    ref_for_match = dict(ref, conf=ref["candidates"])
    return finish_check(
        run,
        reference,
        ref_for_match,
        got,
        tensors,
        extra,
        ({key: again[key] for key in tensors}, second),
        lambda: _float64_errors(reference, head, run.x, ref, got),
        multibox_aliases(head),
    )


def _float64_errors(
    reference: MXNetReference, head: MultiBoxHead, x: np.ndarray, ref: dict, got: dict
) -> tuple[float, float] | None:
    """(Caffe, MXNet float32) relative errors of loc and the class probabilities against the net in float64 (its
    class probabilities transposed to the (N, anchors, classes) of conf)."""
    tensors = [head.tensors["loc"], head.tensors["cls_prob"]]
    arrange = [lambda t: t.reshape(ref["loc"].shape), lambda t: np.transpose(t, (0, 2, 1))]
    return float64_errors(reference, x, tensors, [got[LOC], got[CONF]], [ref["loc"], ref["conf"]], arrange)
