"""Run a converted model in a real runtime (pycaffe, OpenCV DNN) and compare it with MXNet."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from typing import Any

import numpy as np

# The project's tolerance: max|caffe - mxnet| <= TOLERANCE * max(1, max|mxnet|).
TOLERANCE = 1e-4


@dataclass
class Comparison:
    max_abs: float
    scale: float  # max(1, max|reference|)

    @property
    def relative(self) -> float:
        return self.max_abs / self.scale

    @property
    def ok(self) -> bool:
        return self.relative <= TOLERANCE

    def __str__(self) -> str:
        return f"max abs error {self.max_abs:.3g}, relative {self.relative:.3g} ({'ok' if self.ok else 'MISMATCH'})"


def compare(actual: np.ndarray, reference: np.ndarray) -> Comparison:
    actual, reference = np.asarray(actual, np.float64), np.asarray(reference, np.float64)
    if actual.shape != reference.shape:
        raise AssertionError(f"shape {actual.shape} != reference shape {reference.shape}")
    if not np.all(np.isfinite(actual)):
        return Comparison(float("inf"), 1.0)
    max_abs = float(np.max(np.abs(actual - reference))) if actual.size else 0.0
    return Comparison(max_abs, max(1.0, float(np.max(np.abs(reference))) if reference.size else 1.0))


def mxnet_forward(block: Any, *inputs: np.ndarray) -> list[np.ndarray]:
    import mxnet as mx

    out = block(*[mx.nd.array(x) for x in inputs])
    outs = out if isinstance(out, (list, tuple)) else [out]
    return [o.asnumpy() for o in outs]


def caffe_forward(prototxt: str, caffemodel: str, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Forward pass in pycaffe (CPU). Returns the net's outputs by blob name."""
    os.environ.setdefault("GLOG_minloglevel", "2")
    import caffe

    caffe.set_mode_cpu()
    net = caffe.Net(prototxt, caffemodel, caffe.TEST)
    for name, value in inputs.items():
        net.blobs[name].reshape(*value.shape)
        net.blobs[name].data[...] = value
    out = net.forward()
    return {name: np.array(value) for name, value in out.items()}


def opencv_forward(
    prototxt: str, caffemodel: str, inputs: dict[str, np.ndarray], outputs: list[str]
) -> dict[str, np.ndarray]:
    """Forward pass in OpenCV's DNN module (a second, independent Caffe reader)."""
    import cv2

    net = cv2.dnn.readNetFromCaffe(prototxt, caffemodel)
    for name, value in inputs.items():
        net.setInput(np.ascontiguousarray(value, np.float32), name)
    values = net.forward(outputs)
    return {name: np.array(v) for name, v in zip(outputs, values)}


def run_converted(
    text_net: Any, binary_weights: Any, inputs: dict[str, np.ndarray], runtime: str = "caffe"
) -> dict[str, np.ndarray]:
    """Save the two nets to a temporary folder and run them in `runtime` ('caffe' or 'opencv')."""
    from .api import save_model

    with tempfile.TemporaryDirectory(prefix="gluon2caffe-") as tmp:
        prototxt, caffemodel = save_model(text_net, binary_weights, os.path.join(tmp, "model"))
        if runtime == "caffe":
            return caffe_forward(prototxt, caffemodel, inputs)
        if runtime == "opencv":
            return opencv_forward(prototxt, caffemodel, inputs, net_outputs(text_net))
        raise ValueError(f"unknown runtime {runtime!r}; expected 'caffe' or 'opencv'")


def net_outputs(text_net: Any) -> list[str]:
    """The blobs a Caffe net outputs: tops no layer consumes (in layer order)."""
    consumed = {b for layer in text_net.layer for b in layer.bottom}
    outs: list[str] = []
    for layer in text_net.layer:
        for top in layer.top:
            if top not in consumed and top not in outs:
                outs.append(top)
    return outs


def verify_against_mxnet(
    net: Any, result: Any, prototxt: str, caffemodel: str, to_bgr: bool, seed: int = 0
) -> dict[str, Comparison]:
    """Run the saved files in pycaffe on a random both-sign input and compare each output with MXNet's."""
    input_name, shape = next(iter(result.graph.inputs.items()))
    x = np.random.RandomState(seed).normal(0, 1, shape).astype(np.float32)
    outputs = caffe_forward(prototxt, caffemodel, {input_name: np.ascontiguousarray(x[:, [2, 1, 0]]) if to_bgr else x})
    reference = mxnet_forward(net, x)
    if result.report.softmax_appended:
        reference = [_softmax(reference[0], axis=1)]
    return {name: compare(outputs[name], ref) for name, ref in zip(result.graph.outputs, reference)}


def _softmax(x: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)
