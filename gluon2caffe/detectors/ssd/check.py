"""The SSD's check against GluonCV: the tensors before NMS, and the detections as sets (verification/detectors.py).

Before NMS: box predictions (mbox_loc), class probabilities (mbox_conf_flatten), priors (mbox_priorbox, in pixels)
against the inputs GluonCV's own box and class decoders receive, and Caffe's decoding of every anchor (run through
the runtime's DetectionOutput in a probe net) against GluonCV's decoded boxes.
"""

from __future__ import annotations

import os
import tempfile

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
from ...verification.runtimes import RuntimeFailedError
from .layers import CONF, LOC, PRIORS, ssd_aliases
from .read import SSDHead

REFERENCE_KEYS = ("loc", "anchors", "decoded", "conf", "ids", "scores", "boxes")


def gluoncv_reference(
    net: object | MXNetReference, head: SSDHead, x: np.ndarray, input_name: str = "data"
) -> dict[str, np.ndarray]:
    """GluonCV's SSD intermediates (decoder inputs and outputs) and detections for input x (RGB)."""
    return graph_reference(net, x, {k: head.tensors[k] for k in REFERENCE_KEYS}, input_name)


def run_caffe_ssd(
    prototxt: str, caffemodel: str, x_caffe: np.ndarray, runtime: str = "caffe", input_name: str = "data"
) -> dict[str, np.ndarray]:
    """The converted SSD's output and its pre-NMS blobs (mbox_loc, mbox_conf_flatten, mbox_priorbox)."""
    return run_with_blobs(prototxt, caffemodel, x_caffe, [LOC, CONF, PRIORS], runtime, input_name)


def decode_in_caffe(loc: np.ndarray, priors: np.ndarray) -> np.ndarray:
    """Caffe's own decoding of every anchor: a probe net of one DetectionOutput without nms_param over one class.

    brocolli-caffe's DetectionOutput then keeps every prior in index order (no NMS, no threshold), so row i is
    anchor i decoded by the runtime. loc (B, N*4), priors (1, 2, N*4); returns (N, 4) normalized corners (image 0).
    """
    from google.protobuf import text_format

    from ...caffe import caffe_pb2 as pb

    n = priors.shape[2] // 4
    net = pb.NetParameter(name="decode_probe")
    for name, shape in (("loc", (1, n * 4)), ("conf", (1, n * 2)), ("priors", (1, 2, n * 4))):
        layer = net.layer.add(name=name, type="Input", top=[name])
        layer.input_param.shape.add().dim.extend(shape)
    layer = net.layer.add(name="decode", type="DetectionOutput", bottom=["loc", "conf", "priors"], top=["out"])
    d = layer.detection_output_param
    d.num_classes, d.share_location, d.background_label_id = 2, True, 0
    d.code_type = pb.PriorBoxParameter.CENTER_SIZE
    conf = np.tile(np.array([0.0, 1.0], np.float32), n)[None]
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "probe.prototxt")
        with open(path, "w") as f:
            f.write(text_format.MessageToString(net))
        import caffe

        probe = caffe.Net(path, caffe.TEST)
        for name, value in (("loc", loc[:1]), ("conf", conf), ("priors", priors[:1])):
            probe.blobs[name].data[...] = value.reshape(probe.blobs[name].data.shape)
        rows = probe.forward()["out"].reshape(-1, 7).copy()
    if rows.shape[0] != n or not np.array_equal(rows[:, 1], np.ones(n)):
        raise RuntimeFailedError(
            f"the decode probe expects DetectionOutput without nms_param to keep all {n} priors in order "
            f"(brocolli-caffe); this runtime returned {rows.shape[0]} rows"
        )
    return rows[:, 3:7]


def check_ssd(run: DetectorRun) -> DetectorCheck:
    """Compare the converted SSD with GluonCV on run.x (RGB; fed to Caffe as BGR when run.to_bgr)."""
    head = run.head
    reference = run.reference()
    ref = gluoncv_reference(reference, head, run.x)
    got = run_caffe_ssd(run.prototxt, run.caffemodel, run.x_caffe, run.runtime, reference.input_name)
    h, w = head.image_size
    scale = np.array([w, h, w, h], np.float64)
    anchors = ref["anchors"][0].astype(np.float64)
    corners = np.concatenate([anchors[:, :2] - anchors[:, 2:] / 2, anchors[:, :2] + anchors[:, 2:] / 2], 1)
    priors = got[PRIORS]
    tensors = {"loc": (LOC, got[LOC], ref["loc"]), "conf": (CONF, got[CONF], ref["conf"])}
    differences = blob_differences({**tensors, "priors": (PRIORS, priors[0, 0], corners)})
    if differences:
        return mismatched_files(run.runtime, differences)
    extra = {"priors (px)": px_comparison(priors[0, 0].reshape(-1, 4) * scale, corners, max(h, w))}
    if run.runtime == "caffe":
        decoded = decode_in_caffe(got[LOC], priors)
        extra["decoded (px)"] = px_comparison(decoded * scale, ref["decoded"][0], max(h, w))
    x2, second = run.second()
    again = gluoncv_reference(reference, head, x2)
    return finish_check(
        run,
        reference,
        ref,
        got,
        tensors,
        extra,
        ({key: again[key] for key in tensors}, second),
        lambda: _float64_errors(reference, head, run.x, ref, got),
        ssd_aliases(head),
    )


def _float64_errors(
    reference: MXNetReference, head: SSDHead, x: np.ndarray, ref: dict, got: dict
) -> tuple[float, float] | None:
    """(Caffe, MXNet float32) relative errors of loc and conf against the same net run in float64."""
    tensors = [head.tensors["loc"], head.tensors["conf"]]
    return float64_errors(reference, x, tensors, [got[LOC], got[CONF]], [ref["loc"], ref["conf"]])
