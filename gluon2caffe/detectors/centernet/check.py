"""CenterNet's check (verification/detectors.py): MXNet's tensors at the decoder's inputs (the heatmap after its
NMS, the box sizes, the center offsets) against the converted net's outputs; no detections (the decoder runs
outside Caffe)."""

from __future__ import annotations

from ...verification.detectors import (
    DetectorCheck,
    DetectorRun,
    blob_differences,
    finish_check,
    graph_reference,
    mismatched_files,
    resolve_peak_ties,
)
from ...verification.runtimes import forward
from .layers import centernet_aliases

KEYS = ("heatmap", "wh", "offset")


def check_centernet(run: DetectorRun) -> DetectorCheck:
    """Compare a CenterNet converted up to its decoder with MXNet's tensors at the decoder's inputs: the heatmap
    after its NMS (keep * h, near-ties decided as the runtime did: resolve_peak_ties), the box sizes, the offsets."""
    head = run.head
    reference = run.reference()
    tensors_of = dict(zip(KEYS, head.tensors))
    ref = graph_reference(reference, run.x, {**tensors_of, "sigmoid": head.heatmap})
    outputs = head.output_blobs()
    got = forward(run.runtime, run.prototxt, run.caffemodel, {reference.input_name: run.x_caffe}, outputs)
    differences = blob_differences({key: (blob, got[blob], ref[key]) for key, blob in zip(KEYS, outputs)})
    if differences:
        return mismatched_files(run.runtime, differences)
    ref["heatmap"], _ties = resolve_peak_ties(ref["heatmap"], ref.pop("sigmoid"), got[outputs[0]])
    tensors = {key: (blob, got[blob], ref[key]) for key, blob in zip(KEYS, outputs)}
    x2, second = run.second()
    again = graph_reference(reference, x2, tensors_of)
    return finish_check(run, reference, ref, got, tensors, {}, (again, second), lambda: None, centernet_aliases(head))
