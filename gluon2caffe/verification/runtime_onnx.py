"""caffe2onnx -> ONNX Runtime: the Caffe files carried into the ONNX ecosystem, run on the CPU in float32.

`make onnx` builds .venv-onnx (requirements-onnx.txt: caffe2onnx pins onnx 1.6.0, which has no wheel for Python
3.11, so it is installed without its declared dependencies beside onnx 1.17 and protobuf 3.20); onnx_worker.py runs
there as a child process. Neither caffe2onnx nor ONNX Runtime's Linux build sends anything anywhere.
"""

from __future__ import annotations

import os
from pathlib import Path

from .runtimes import Runtime, register_runtime
from .venv_runtime import Venv

VENV = Venv(
    "caffe2onnx + ONNX Runtime",
    ".venv-onnx",
    "GLUON2CAFFE_ONNX_PYTHON",
    "onnx",
    "caffe2onnx==2.0.1 and onnxruntime (Python 3.11)",
)
onnx_forward = VENV.worker_forward(
    "onnx",
    Path(__file__).with_name("onnx_worker.py"),
    "caffe2onnx + ONNX Runtime",
    files=lambda tmp: {"onnx": os.path.join(tmp, "model.onnx")},
)

register_runtime(Runtime("onnx", False, onnx_forward, VENV.probe, VENV.install))
