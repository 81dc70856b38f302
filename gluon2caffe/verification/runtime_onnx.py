"""caffe2onnx -> ONNX Runtime: the Caffe files carried into the ONNX ecosystem, run on the CPU in float32.

`make onnx` builds .venv-onnx (requirements-onnx.txt: caffe2onnx pins onnx 1.6.0, which has no wheel for Python
3.11, so it is installed without its declared dependencies beside onnx 1.17 and protobuf 3.20); onnx_worker.py runs
there as a child process. Neither caffe2onnx nor ONNX Runtime's Linux build sends anything anywhere.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import InvalidCallError
from .runtimes import Runtime, Timing, caffe_rows, detection_tops, register_runtime, scratch_dir
from .venv_runtime import Venv

VENV = Venv(
    "caffe2onnx + ONNX Runtime",
    ".venv-onnx",
    "GLUON2CAFFE_ONNX_PYTHON",
    "onnx",
    "caffe2onnx==2.0.1 and onnxruntime (Python 3.11)",
)
WORKER = Path(__file__).with_name("onnx_worker.py")


def onnx_forward(
    prototxt: str,
    caffemodel: str,
    inputs: dict[str, np.ndarray],
    outputs: list[str],
    _every: bool = False,
    timing: Timing | None = None,
) -> dict[str, np.ndarray]:
    if timing is not None:
        raise InvalidCallError("the onnx runtime does not time its forward pass (bench/runtimes.py)")
    detections = detection_tops(prototxt)
    with scratch_dir("onnx") as tmp:
        feed, result = os.path.join(tmp, "inputs.npz"), os.path.join(tmp, "outputs.npz")
        np.savez(feed, **{name: np.ascontiguousarray(v, np.float32) for name, v in inputs.items()})
        request = dict(
            prototxt=prototxt,
            caffemodel=caffemodel,
            inputs=feed,
            outputs=outputs,
            result=result,
            onnx=os.path.join(tmp, "model.onnx"),
        )
        VENV.run_worker(WORKER, request, "caffe2onnx + ONNX Runtime", tmp)
        with np.load(result) as values:
            got = {name: np.array(values[name], np.float32) for name in outputs}
    return {name: caffe_rows(v, 7) if name in detections else v for name, v in got.items()}


register_runtime(Runtime("onnx", False, onnx_forward, VENV.probe, VENV.install))
