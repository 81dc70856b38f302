"""rknn-toolkit2 (Rockchip): its Caffe loader, a float16 build for the RK3588, run in the toolkit's simulator.

`make rknn` builds .venv-rknn (Python 3.10; requirements-rknn.txt); rknn_worker.py runs there as a child process.
The NPU computes in float16 (the toolkit has no float32 build for it; `do_quantization=False` means float16), so
this runtime is judged by the float16 rule of verification/precision.py and its pass is `within fp16`, never
`exact`. It returns only the net's outputs (no intermediate blobs).

rknn-toolkit2 drops a layer it has no converter for with an error line ("OP in Layer X Current not support") and
builds the rest; the files are then refused here with that line, never run as another net.
"""

from __future__ import annotations

import re
from pathlib import Path

from .precision import FLOAT16
from .runtimes import Runtime, register_runtime
from .venv_runtime import Venv

VENV = Venv("rknn-toolkit2", ".venv-rknn", "GLUON2CAFFE_RKNN_PYTHON", "rknn", "rknn-toolkit2==2.5.0 (Python 3.10)")
# rknn-toolkit2's error log lines ("E load_caffe: ...", "E build: ..."), colour codes removed.
_ERROR = re.compile(r"^E (\w+): (.*)$")


def dropped_layers(output: str) -> str | None:
    """rknn-toolkit2's own words for the layers it left out ("OP in Layer X Current not support"), if any."""
    lines = [m.group(2).strip() for line in output.splitlines() if (m := _ERROR.match(_plain(line)))]
    dropped = [line for line in lines if "not support" in line.lower()]
    if not dropped:
        return None
    return f"it cannot convert every layer (it drops them and builds the rest): {' | '.join(dropped)}"


def _plain(line: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", line).strip()


rknn_forward = VENV.worker_forward(
    "rknn",
    Path(__file__).with_name("rknn_worker.py"),
    "rknn-toolkit2 (RK3588 simulator, float16)",
    refuse=dropped_layers,
)

register_runtime(Runtime("rknn", False, rknn_forward, VENV.probe, VENV.install, precision=FLOAT16))
