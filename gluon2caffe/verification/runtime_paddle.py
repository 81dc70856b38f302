"""x2paddle -> Paddle: the Caffe files carried into PaddlePaddle, the exported inference model run on the CPU.

`make paddle` builds .venv-paddle (requirements-paddle.txt); paddle_worker.py runs there as a child process, with
x2paddle's usage statistics off (it sends one request per conversion to Baidu's server unless told not to). Paddle
computes in float32 on the CPU; only the net's outputs can be read.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import InvalidCallError
from .runtimes import Runtime, Timing, caffe_rows, detection_tops, register_runtime, scratch_dir
from .venv_runtime import Venv

VENV = Venv(
    "x2paddle + Paddle",
    ".venv-paddle",
    "GLUON2CAFFE_PADDLE_PYTHON",
    "paddle",
    "x2paddle==1.6.0 and paddlepaddle==3.3.1 (Python 3.11)",
)
WORKER = Path(__file__).with_name("paddle_worker.py")


def paddle_forward(
    prototxt: str,
    caffemodel: str,
    inputs: dict[str, np.ndarray],
    outputs: list[str],
    _every: bool = False,
    timing: Timing | None = None,
) -> dict[str, np.ndarray]:
    if timing is not None:
        raise InvalidCallError("the paddle runtime does not time its forward pass (bench/runtimes.py)")
    detections = detection_tops(prototxt)
    with scratch_dir("paddle") as tmp:
        feed, result = os.path.join(tmp, "inputs.npz"), os.path.join(tmp, "outputs.npz")
        np.savez(feed, **{name: np.ascontiguousarray(v, np.float32) for name, v in inputs.items()})
        request = dict(
            prototxt=prototxt,
            caffemodel=caffemodel,
            inputs=feed,
            outputs=outputs,
            result=result,
            save_dir=os.path.join(tmp, "paddle"),
        )
        VENV.run_worker(WORKER, request, "x2paddle + Paddle", tmp)
        with np.load(result) as values:
            got = {name: np.array(values[name], np.float32) for name in outputs}
    return {name: caffe_rows(v, 7) if name in detections else v for name, v in got.items()}


register_runtime(Runtime("paddle", False, paddle_forward, VENV.probe, VENV.install))
