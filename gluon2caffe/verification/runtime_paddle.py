"""x2paddle -> Paddle: the Caffe files carried into PaddlePaddle, the exported inference model run on the CPU.

`make paddle` builds .venv-paddle (requirements-paddle.txt); paddle_worker.py runs there as a child process, with
x2paddle's usage statistics off (it sends one request per conversion to Baidu's server unless told not to). Paddle
computes in float32 on the CPU; only the net's outputs can be read.
"""

from __future__ import annotations

import os
from pathlib import Path

from .runtimes import Runtime, register_runtime
from .venv_runtime import Venv

VENV = Venv(
    "x2paddle + Paddle",
    ".venv-paddle",
    "GLUON2CAFFE_PADDLE_PYTHON",
    "paddle",
    "x2paddle==1.6.0 and paddlepaddle==3.3.1 (Python 3.11)",
)
paddle_forward = VENV.worker_forward(
    "paddle",
    Path(__file__).with_name("paddle_worker.py"),
    "x2paddle + Paddle",
    files=lambda tmp: {"save_dir": os.path.join(tmp, "paddle")},
)

register_runtime(Runtime("paddle", False, paddle_forward, VENV.probe, VENV.install))
