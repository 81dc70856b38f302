"""`verification.runtimes.forward` in a child process, so that a runtime that aborts or segfaults (MNN's and ncnn's
interpreters run in-process) costs one result with its crash text, not the process that holds the other results.

The child imports numpy and the runtime registry only (not MXNet, ~0.5 s); inputs and outputs pass through .npz
files in a scratch folder.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from ..verification.runtimes import RuntimeFailedError

TIMEOUT = 1800  # seconds; the largest zoo nets take a few minutes in OpenVINO's Model Optimizer

_CHILD = """
import json, sys, traceback
import numpy as np
request = json.loads(sys.argv[1])
try:
    from gluon2caffe.verification.runtimes import forward
    with np.load(request["inputs"]) as f:
        inputs = {name: f[key] for name, key in request["input_keys"].items()}
    got = forward(request["runtime"], request["prototxt"], request["caffemodel"], inputs, request["outputs"])
    np.savez(request["result"], *[got[name] for name in request["outputs"]])
except Exception as exc:
    traceback.print_exc()
    with open(request["error"], "w") as f:
        json.dump({"type": type(exc).__name__, "message": str(exc)}, f)
    sys.exit(1)
"""


def forward_in_child(
    runtime: str, prototxt: str, caffemodel: str, inputs: dict[str, np.ndarray], outputs: list[str]
) -> dict[str, np.ndarray]:
    """The blobs `outputs` of the files run in `runtime` (as verification.runtimes.forward) in a child process.
    Raises RuntimeFailedError with the runtime's own error, or with the signal and the last lines of its output
    when it crashed."""
    with tempfile.TemporaryDirectory(prefix=f"gluon2caffe-{runtime}-child-") as tmp:
        keys = {name: f"input{i}" for i, name in enumerate(inputs)}
        request = dict(
            runtime=runtime,
            prototxt=prototxt,
            caffemodel=caffemodel,
            inputs=os.path.join(tmp, "inputs.npz"),
            input_keys=keys,
            outputs=list(outputs),
            result=os.path.join(tmp, "result.npz"),
            error=os.path.join(tmp, "error.json"),
        )
        np.savez(request["inputs"], **{keys[name]: value for name, value in inputs.items()})
        proc = _run(request)
        if proc.returncode != 0:
            raise RuntimeFailedError(_failure(runtime, proc, request["error"]))
        with np.load(request["result"]) as values:
            return {name: values[f"arr_{i}"] for i, name in enumerate(outputs)}


def _run(request: dict) -> subprocess.CompletedProcess:
    """The child, importing this copy of gluon2caffe (not another one installed in the environment)."""
    package_root = str(Path(__file__).resolve().parents[2])
    path = os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH", "")) if p)
    env = dict(os.environ, PYTHONPATH=path)
    command = [sys.executable, "-c", _CHILD, json.dumps(request)]
    try:
        return subprocess.run(command, capture_output=True, text=True, env=env, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        raise RuntimeFailedError(f"{request['runtime']} did not finish in {TIMEOUT} s") from None


def _failure(runtime: str, proc: subprocess.CompletedProcess, error_file: str) -> str:
    """The runtime's exception (its message; 'Type: message' for an unexpected one), or how the child died and the
    last lines it printed."""
    if os.path.exists(error_file):
        with open(error_file) as f:
            error = json.load(f)
        if error["type"] in ("RuntimeFailedError", "RuntimeUnavailableError"):  # they say which runtime and what
            return error["message"]
        return f"{error['type']}: {error['message']}"
    how = f"exit {proc.returncode}"
    if proc.returncode < 0:
        try:
            how = f"signal {signal.Signals(-proc.returncode).name}"
        except ValueError:
            how = f"signal {-proc.returncode}"
    tail = [line for line in (proc.stdout + proc.stderr).strip().splitlines() if line.strip()][-3:]
    return f"{runtime} crashed ({how})" + (": " + " / ".join(tail) if tail else "")
