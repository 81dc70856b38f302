"""OpenVINO (Intel): Model Optimizer's Caffe frontend, then the CPU plugin, in full float32.

`openvino-dev[caffe]==2023.3.0` is the last release whose Model Optimizer reads Caffe. It pins protobuf 3.20 and
numpy 1.25, which cannot share an environment with MXNet 1.9.1 (numpy < 1.24), so it lives in its own virtualenv
(`make openvino` builds .venv-openvino, telemetry opted out) and runs as a child process: openvino_worker.py,
which imports only numpy and openvino. The interpreter is $GLUON2CAFFE_OPENVINO_PYTHON, else .venv-openvino's.

Precision: FP32 weights (`compress_to_fp16=False`; MO's default FP16 costs up to 6e-3 relative) and
INFERENCE_PRECISION_HINT f32.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from .runtimes import (
    Runtime,
    Timing,
    caffe_rows,
    detection_tops,
    register_runtime,
    run_tool,
    scratch_dir,
)
from .venv_runtime import Venv

VENV = Venv("OpenVINO", ".venv-openvino", "GLUON2CAFFE_OPENVINO_PYTHON", "openvino", "openvino-dev[caffe]==2023.3.0")
WORKER = Path(__file__).with_name("openvino_worker.py")


def openvino_python() -> str:
    return VENV.python()


def openvino_forward(
    prototxt: str,
    caffemodel: str,
    inputs: dict[str, np.ndarray],
    outputs: list[str],
    _every: bool = False,
    timing: Timing | None = None,
) -> dict[str, np.ndarray]:
    detections = detection_tops(prototxt)
    with scratch_dir("openvino") as tmp:
        feed, result = os.path.join(tmp, "inputs.npz"), os.path.join(tmp, "outputs.npz")
        np.savez(feed, **{name: np.ascontiguousarray(v, np.float32) for name, v in inputs.items()})
        repeat = timing.repeat if timing is not None else 0
        request = dict(
            prototxt=prototxt, caffemodel=caffemodel, inputs=feed, outputs=outputs, result=result, repeat=repeat
        )
        env = dict(os.environ, PYTHONPATH="", PYTHONNOUSERSITE="1")
        run_tool([openvino_python(), str(WORKER), json.dumps(request)], "OpenVINO's Model Optimizer", env=env)
        with np.load(result) as values:
            got = {name: values[name] for name in outputs}
            if timing is not None:
                timing.seconds.extend(float(v) for v in values["__seconds__"])
    return {name: caffe_rows(v, 7) if name in detections else v for name, v in got.items()}


register_runtime(Runtime("openvino", False, openvino_forward, VENV.probe, VENV.install))
