"""A runtime that lives in its own virtualenv and runs as a child process of that venv's python.

The NPU toolchains and format bridges (TPU-MLIR, rknn-toolkit2, caffe2onnx + ONNX Runtime, x2paddle + Paddle) pin
Python, numpy, protobuf and torch versions that cannot share an environment with MXNet 1.9.1 or with each other.
Each has a `make` target that builds `.venv-<name>` beside the checkout (requirements-<name>.txt says why each pin);
$GLUON2CAFFE_<NAME>_PYTHON names another interpreter. The child gets that venv's bin first on PATH (the toolchains'
tools start each other by name or through `#!/usr/bin/env python3`), no PYTHONPATH and no user site, the hubs'
offline switches, and its own scratch folder as the working directory: a crash or an abort in a toolchain costs only
the child, and its own message comes back as a RuntimeFailedError.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import InvalidCallError
from .runtimes import (
    RuntimeFailedError,
    RuntimeUnavailableError,
    Timing,
    caffe_rows,
    detection_tops,
    install_hint,
    scratch_dir,
)

ROOT = Path(__file__).resolve().parents[2]  # the checkout, where `make` builds the venvs
TIMEOUT = 1800  # seconds: the slowest toolchain step measured (TPU-MLIR's model_deploy on a large net) is minutes
# How a worker script (rknn_worker.py, onnx_worker.py, paddle_worker.py) begins the line that says why it stopped.
WORKER_ERROR = "gluon2caffe worker:"
# Switches that keep libraries the toolchains pull in (huggingface_hub via tpu-mlir's transformers) off the network.
OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1"}
# The lines of a toolchain's output that carry its verdict, when it fails: a Python exception, an ERROR/FATAL log line.
_ERROR_LINE = re.compile(r"^E |\b(ERROR|FATAL|Error|error|Failed|[Nn]ot support(ed)?|not implemented)\b")
# Progress bars and INFO lines (rknn-toolkit2's "I Loading : 80%|###  |"): never the message.
_NOISE = re.compile(r"\d+%\||^(\x1b\[[0-9;]*m)?I |it/s\]")
_TRACEBACK = "Traceback (most recent call last):"
_FRAME = re.compile(r'^File "(.*)", line (\d+), in (\S+)')
_EXCEPTION = re.compile(r"^[\w.]*(Error|Exception|Exit|Interrupt)\b")


@dataclass(frozen=True)
class Venv:
    label: str  # how messages name the toolchain: "TPU-MLIR"
    directory: str  # the venv's folder under the checkout: ".venv-tpu-mlir"
    variable: str  # names another interpreter: "GLUON2CAFFE_TPU_MLIR_PYTHON"
    target: str  # the make target that builds it: "tpu-mlir"
    requirements: str  # "tpu-mlir[caffe]==1.30.2 (Python 3.10)": what the error says it needs

    @property
    def install(self) -> str:
        build = install_hint(self.target, "")
        return (
            f"an environment with {self.requirements}: {build + ' (' + self.directory + '), or ' if build else ''}"
            f"set ${self.variable} to a python that has it"
        )

    def python(self) -> str:
        """The venv's interpreter; RuntimeUnavailableError (with how to install it) when it is not there."""
        path = os.environ.get(self.variable) or str(ROOT / self.directory / "bin" / "python")
        if not os.access(path, os.X_OK):
            where = f"${self.variable} is {path!r}" if os.environ.get(self.variable) else f"{path} does not exist"
            raise RuntimeUnavailableError(f"{self.label}: {where}; {self.install}")
        return path

    def probe(self) -> None:
        self.python()

    def environment(self) -> dict[str, str]:
        """The child's environment: the venv's bin first on PATH, nothing of the caller's Python set-up."""
        bin_dir = str(Path(self.python()).parent)
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
        env.update(OFFLINE, PATH=os.pathsep.join([bin_dir, env.get("PATH", "")]), PYTHONNOUSERSITE="1")
        env.setdefault("GLOG_minloglevel", "2")  # TPU-MLIR's and rknn's pycaffe log every layer at INFO
        return env

    def run(self, command: list[str], what: str, cwd: str, refuse: Callable[[str], str | None] | None = None) -> str:
        """Run a command of this venv (its tool by name, or its python) in `cwd`; its output, or RuntimeFailedError
        with the toolchain's own message. `refuse(output)`: a toolchain's own reason to refuse the result (a layer
        it dropped), checked first, whether the command failed or not."""
        try:
            proc = subprocess.run(
                command, capture_output=True, text=True, env=self.environment(), cwd=cwd, timeout=TIMEOUT
            )
        except subprocess.TimeoutExpired:
            raise RuntimeFailedError(f"{what} did not finish in {TIMEOUT} s") from None
        output = proc.stdout + proc.stderr
        reason = refuse(output) if refuse is not None else None
        if reason:
            raise RuntimeFailedError(f"{what}: {reason}")
        if proc.returncode < 0:  # a signal: the toolchain crashed (SIGFPE, SIGSEGV, SIGABRT)
            crash = signal.Signals(-proc.returncode).name if -proc.returncode in signal.valid_signals() else "?"
            if -proc.returncode == signal.SIGKILL:  # no toolchain sends it itself: the kernel ran out of memory
                crash += ": killed, by the kernel's out-of-memory killer unless someone killed it"
            raise RuntimeFailedError(f"{what} crashed ({crash}); its last words: {toolchain_message(output)}")
        if proc.returncode != 0:
            raise RuntimeFailedError(f"{what} failed (exit {proc.returncode}): {toolchain_message(output)}")
        return output

    def run_worker(self, worker: Path, request: dict, what: str, cwd: str, refuse=None) -> str:
        """Run `worker` (a script that imports only numpy and the toolchain) with one JSON argument."""
        return self.run([self.python(), str(worker), json.dumps(request)], what, cwd, refuse)

    def worker_forward(
        self,
        name: str,
        worker: Path,
        what: str,
        files: Callable[[str], dict] = lambda tmp: {},
        refuse: Callable[[str], str | None] | None = None,
    ) -> Callable[..., dict[str, np.ndarray]]:
        """The runtime's forward function: the inputs in an .npz, `worker` run with one JSON request (prototxt,
        caffemodel, inputs, outputs, result, plus `files(scratch folder)`: where the toolchain writes its own model),
        the outputs read back from the result .npz (DetectionOutput rows in Caffe's layout). Untimed: each call
        converts the files again, so it is no speed measurement."""

        def forward(
            prototxt: str,
            caffemodel: str,
            inputs: dict[str, np.ndarray],
            outputs: list[str],
            _every: bool = False,
            timing: Timing | None = None,
        ) -> dict[str, np.ndarray]:
            if timing is not None:
                raise InvalidCallError(f"the {name} runtime converts the files on every call: its forward is not timed")
            from . import input_specs, read_prototxt

            order = list(input_specs(read_prototxt(prototxt)))
            if set(order) != set(inputs):
                raise InvalidCallError(f"the net's inputs are {order}, got arrays for {list(inputs)}")
            detections = detection_tops(prototxt)
            with scratch_dir(name) as tmp:
                feed, result = os.path.join(tmp, "inputs.npz"), os.path.join(tmp, "outputs.npz")
                np.savez(feed, **{key: np.ascontiguousarray(inputs[key], np.float32) for key in order})
                request = dict(prototxt=prototxt, caffemodel=caffemodel, inputs=feed, outputs=outputs, result=result)
                self.run_worker(worker, {**request, **files(tmp)}, what, tmp, refuse)
                if not os.path.exists(result):
                    raise RuntimeFailedError(f"{what} wrote no outputs")
                with np.load(result) as values:
                    got = {key: np.array(values[key], np.float32) for key in outputs}
            return {key: caffe_rows(v, 7) if key in detections else v for key, v in got.items()}

        return forward


def toolchain_message(output: str, lines: int = 4) -> str:
    """What a failed toolchain said, on one line: a Python traceback's exception with the two innermost functions
    (`RuntimeError: not implemented (in convert_power_op, CaffeConverter.py:1227 <- ...)`), else its last lines
    that look like an error (an ERROR line, "not support"), else its last lines; joined by ' | '."""
    text = [_plain(line) for line in output.strip().splitlines() if line.strip() and not _NOISE.search(line)]
    refused = [line[len(WORKER_ERROR) :].strip() for line in text if line.startswith(WORKER_ERROR)]
    if refused:  # a worker's own verdict (outputs missing, a step that returned an error status)
        return refused[-1]
    headers = [i for i, line in enumerate(text) if line.endswith(_TRACEBACK)]  # may follow progress output
    if headers:
        start = headers[-1]
        frames = [m for line in text[start:] if (m := _FRAME.match(line))]
        tail = [line for line in text[start + 1 :] if not _FRAME.match(line) and not line.startswith(" ")]
        exception = next((line for line in reversed(tail) if _EXCEPTION.match(line)), tail[-1] if tail else "")
        if frames:  # the two innermost frames: where it failed, and what it was doing
            where = [f"{m.group(3)}, {os.path.basename(m.group(1))}:{m.group(2)}" for m in frames[-2:]]
            return f"{exception} (in {' <- '.join(reversed(where))})"
        return exception
    errors = [line for line in text if _ERROR_LINE.search(line)]
    chosen = errors or text or [_plain(line) for line in output.strip().splitlines()[-1:]]  # only progress lines
    return " | ".join(chosen[-lines:]) or "(no output)"


def _plain(line: str) -> str:
    """A log line without terminal colour codes, at most 400 characters."""
    line = re.sub(r"\x1b\[[0-9;]*m", "", line).strip()
    return line if len(line) <= 400 else line[:397] + "..."
