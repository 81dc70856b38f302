"""The YOLOv3's check against GluonCV (verification/detectors.py): the decoded boxes (or DetectionOutput's `yolo_loc`
input) and class scores before NMS, then the detections as sets."""

from __future__ import annotations

import numpy as np

from ...caffe.io import read_prototxt
from ...verification.compare import ShapeDifference, compare
from ...verification.detectors import (
    DetectorCheck,
    DetectorRun,
    blob_differences,
    finish_check,
    float64_tensors,
    graph_reference,
    mismatched_files,
    run_with_blobs,
)
from ...verification.mxnet_reference import MXNetReference
from .layers import BOXES, SCORES
from .layers import LOC as YOLO_LOC
from .read import YOLOHead


def yolo_reference(
    net: object | MXNetReference, head: YOLOHead, x: np.ndarray, input_name: str = "data"
) -> dict[str, np.ndarray]:
    """GluonCV's decoded boxes (B, N, 4) and class scores (B, N, C) before NMS, in the converter's order (outputs,
    then positions, then anchors), and its detections; `conf` has a zero background column for match_detections."""
    count = len(head.outputs)
    keys = ["ids", "scores", "boxes"] + [f"output{i}" for i in range(count)] + [f"prediction{i}" for i in range(count)]
    values = graph_reference(net, x, {k: head.tensors[k] for k in keys}, input_name)
    captured = [values[f"output{i}"] for i in range(count)]
    predictions = [values[f"prediction{i}"] for i in range(count)]
    all_boxes, all_scores = [], []
    classes = head.num_classes
    for det in captured:  # (B, C * n, 6): class-major copies of the same n boxes
        per_class = det.reshape(det.shape[0], classes, -1, 6)
        all_boxes.append(per_class[:, 0, :, 2:6])
        all_scores.append(per_class[:, :, :, 1].transpose(0, 2, 1))
    pre_boxes, pre_scores = np.concatenate(all_boxes, 1), np.concatenate(all_scores, 1)
    conf = np.concatenate([np.zeros(pre_scores.shape[:2] + (1,), pre_scores.dtype), pre_scores], -1)
    return {
        "pre_boxes": pre_boxes,
        "pre_scores": pre_scores,
        "predictions": predictions,
        "conf": conf,
        "ids": values["ids"],
        "scores": values["scores"],
        "boxes": values["boxes"],
    }


def check_yolo(run: DetectorRun) -> DetectorCheck:
    """Compare a converted YOLOv3 with GluonCV before NMS (the decoded boxes, or with DetectionOutput its `yolo_loc`
    input: pixel centers and raw size logits), the scores, then the detections."""
    head = run.head
    reference = run.reference()
    ref = yolo_reference(reference, head, run.x)
    located = any(YOLO_LOC in layer.top for layer in read_prototxt(run.prototxt).layer)
    blobs = [YOLO_LOC if located else BOXES, SCORES]
    got = run_with_blobs(run.prototxt, run.caffemodel, run.x_caffe, blobs, run.runtime, reference.input_name)
    b, n, c = ref["pre_scores"].shape
    if got[SCORES].size % (b * n) or (got[YOLO_LOC if located else BOXES].size != b * n * 4):
        blob = SCORES if got[SCORES].size % (b * n) else YOLO_LOC if located else BOXES
        mxnet = ref["pre_scores"].shape if blob == SCORES else (b, n, 4)
        return mismatched_files(run.runtime, [ShapeDifference(blob, got[blob].shape, mxnet)])
    scores = got[SCORES].reshape(b, n, -1)[:, :, -c:]  # without the background column, when there is one
    if located:
        ref["pre_loc"] = yolo_loc(ref["predictions"], head).astype(np.float32)
        boxes = ("loc", got[YOLO_LOC].reshape(b, n, 4), "pre_loc", YOLO_LOC)
    else:
        boxes = ("boxes", got[BOXES].reshape(b, n, 4), "pre_boxes", BOXES)
    tensors = {boxes[0]: (boxes[3], boxes[1], ref[boxes[2]]), "scores": (SCORES, scores, ref["pre_scores"])}
    differences = blob_differences(tensors)
    if differences:
        return mismatched_files(run.runtime, differences)
    x2, second = run.second()
    again = yolo_reference(reference, head, x2)
    if located:
        again["pre_loc"] = yolo_loc(again["predictions"], head).astype(np.float32)
    return finish_check(
        run,
        reference,
        ref,
        got,
        tensors,
        {},
        ({boxes[0]: again[boxes[2]], "scores": again["pre_scores"]}, second),
        lambda: _yolo_float64_errors(reference, head, run.x, ref, boxes, scores),
        {},
    )


def yolo_loc(predictions: list[np.ndarray], head: YOLOHead) -> np.ndarray:
    """`yolo_loc` from the prediction maps, in float64: (B, N, 4) = pixel centers (sigmoid + grid offset) * stride
    and the raw size logits, in the converter's box order."""
    locs = []
    for pred, out in zip(predictions, head.outputs):
        bsz, a, hw = pred.shape[0], out.num_anchors, out.height * out.width
        p = pred.astype(np.float64).reshape(bsz, a, -1, hw).transpose(0, 3, 1, 2)  # (B, HW, A, 5 + C)
        centers = (1 / (1 + np.exp(-p[..., 0:2])) + out.offsets.astype(np.float64)[None, :, None, :]) * out.stride
        locs.append(np.concatenate([centers, p[..., 2:4]], -1).reshape(bsz, -1, 4))
    return np.concatenate(locs, 1)


def _yolo_float64_errors(
    net: object | MXNetReference,
    head: YOLOHead,
    x: np.ndarray,
    ref: dict[str, np.ndarray],
    boxes: tuple,
    caffe_scores: np.ndarray,
) -> tuple[float, float] | None:
    """(Caffe, MXNet float32) relative errors of the boxes (or loc) and scores against float64: the prediction maps
    in float64 (child process, no MKL-DNN) decoded in float64 with the network's constants."""
    count = len(head.outputs)
    predictions = float64_tensors(net, x, [head.tensors[f"prediction{i}"] for i in range(count)])
    if predictions is None:
        return None
    what, caffe_boxes, ref_key = boxes[:3]
    truth_boxes, scores = [], []
    for pred, out in zip(predictions, head.outputs):
        bsz, a, hw = pred.shape[0], out.num_anchors, out.height * out.width
        p = pred.reshape(bsz, a, -1, hw).transpose(0, 3, 1, 2)  # (B, HW, A, 5 + C)
        sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
        centers = (sig(p[..., 0:2]) + out.offsets.astype(np.float64)[None, :, None, :]) * out.stride
        half = np.exp(p[..., 2:4]) * out.anchors.astype(np.float64)[None, None] / 2
        truth_boxes.append(np.concatenate([centers - half, centers + half], -1).reshape(bsz, -1, 4))
        scores.append((sig(p[..., 5:]) * sig(p[..., 4:5])).reshape(bsz, hw * a, -1))
    truth = yolo_loc(predictions, head) if what == "loc" else np.concatenate(truth_boxes, 1)
    truth_scores = np.concatenate(scores, 1)
    caffe = max(compare(caffe_boxes, truth).relative, compare(caffe_scores, truth_scores).relative)
    mxnet = max(compare(ref[ref_key], truth).relative, compare(ref["pre_scores"], truth_scores).relative)
    return caffe, mxnet
