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
CHILD_GRACE = 5.0  # seconds an interrupted child gets to remove its temporary files before it is killed

_CHILD = """
import json, signal, sys, traceback
signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(143))  # unwind: the runtime's temporary files go
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
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) as proc:
        try:
            stdout, stderr = proc.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise RuntimeFailedError(f"{request['runtime']} did not finish in {TIMEOUT} s") from None
        except BaseException:  # this process is ending (SIGTERM, Ctrl-C): the child first removes its own files
            proc.terminate()
            try:
                proc.communicate(timeout=CHILD_GRACE)
            except subprocess.TimeoutExpired:
                proc.kill()
            raise
    return subprocess.CompletedProcess(command, proc.returncode, stdout, stderr)


def _failure(runtime: str, proc: subprocess.CompletedProcess, error_file: str) -> str:
    """The runtime's exception (its message; 'Type: message' for an unexpected one), or how the child died and the
    last lines it printed."""
    if os.path.exists(error_file):
        with open(error_file) as f:
            error = json.load(f)
        if error["type"] in ("RuntimeFailedError", "RuntimeUnavailableError"):  # they say which runtime and what
            return error["message"]
        return f"{error['type']}: {error['message']}"
    how = _how_it_died(proc.returncode)
    tail = [line for line in (proc.stdout + proc.stderr).strip().splitlines() if line.strip()][-3:]
    return f"{runtime} crashed ({how})" + (": " + " / ".join(tail) if tail else "")


# A persistent child for many small forwards (the operator property suite runs thousands): the same isolation as
# forward_in_child without paying an interpreter start and a runtime import for each. Requests and replies are JSON
# lines; the replies go through a copy of the child's first stdout, and everything the runtimes print (MNN writes to
# stdout) goes to its log, so it cannot corrupt a reply.
_WORKER = """
import json, os, sys, traceback
import numpy as np
reply = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)
from gluon2caffe.verification.runtimes import forward
for line in sys.stdin:
    request = json.loads(line)
    try:
        with np.load(request["inputs"]) as f:
            inputs = {name: f[key] for name, key in request["input_keys"].items()}
        got = forward(request["runtime"], request["prototxt"], request["caffemodel"], inputs, request["outputs"])
        np.savez(request["result"], *[got[name] for name in request["outputs"]])
        answer = {"ok": True}
    except Exception as exc:
        traceback.print_exc()
        answer = {"ok": False, "type": type(exc).__name__, "message": str(exc)}
    reply.write(json.dumps(answer) + "\\n")
    reply.flush()
"""


class ForwardWorker:
    """`verification.runtimes.forward` in one long-lived child process, request after request. A runtime that aborts
    or segfaults (a Caffe CHECK, MNN's or ncnn's interpreter) or hangs kills only the child: the request raises
    RuntimeFailedError with the signal and the child's last lines, and the next request starts a new child.

    `deaths` counts the children lost that way; `max_requests` bounds how many requests one child serves (the
    memory a runtime keeps between nets stays bounded)."""

    def __init__(self, timeout: float = TIMEOUT, max_requests: int = 500):
        self.timeout = timeout
        self.max_requests = max_requests
        self.deaths = 0
        self._proc: subprocess.Popen | None = None
        self._log: tempfile._TemporaryFileWrapper | None = None
        self._served = 0
        self._scratch = tempfile.TemporaryDirectory(prefix="gluon2caffe-worker-")

    def forward(
        self, runtime: str, prototxt: str, caffemodel: str, inputs: dict[str, np.ndarray], outputs: list[str]
    ) -> dict[str, np.ndarray]:
        """The blobs `outputs` of the files run in `runtime`, as forward_in_child gives them."""
        if self._proc is None or self._served >= self.max_requests:
            self._start()
        self._served += 1
        keys = {name: f"input{i}" for i, name in enumerate(inputs)}
        folder = self._scratch.name
        request = dict(
            runtime=runtime,
            prototxt=prototxt,
            caffemodel=caffemodel,
            inputs=os.path.join(folder, "inputs.npz"),
            input_keys=keys,
            outputs=list(outputs),
            result=os.path.join(folder, "result.npz"),
        )
        np.savez(request["inputs"], **{keys[name]: value for name, value in inputs.items()})
        log_start = os.fstat(self._log.fileno()).st_size
        answer = self._ask(json.dumps(request), runtime, log_start)
        if not answer["ok"]:
            if answer["type"] in ("RuntimeFailedError", "RuntimeUnavailableError"):
                raise RuntimeFailedError(answer["message"])
            raise RuntimeFailedError(f"{answer['type']}: {answer['message']}")
        with np.load(request["result"]) as values:
            return {name: values[f"arr_{i}"] for i, name in enumerate(outputs)}

    def _ask(self, line: str, runtime: str, log_start: int) -> dict:
        import select

        proc = self._proc
        try:
            proc.stdin.write(line + "\n")
            proc.stdin.flush()
            ready, _, _ = select.select([proc.stdout], [], [], self.timeout)
            reply = proc.stdout.readline() if ready else None
        except (BrokenPipeError, OSError):
            reply = ""
        if reply:
            return json.loads(reply)
        if reply is None:  # no answer in time: the child hangs
            proc.kill()
            proc.wait()
            how = f"did not finish in {self.timeout:g} s"
        else:
            proc.wait()
            how = f"crashed ({_how_it_died(proc.returncode)})"
        tail = self._log_tail(log_start)
        self._stop()
        self.deaths += 1
        raise RuntimeFailedError(f"{runtime} {how}" + (": " + " / ".join(tail) if tail else ""))

    def _log_tail(self, start: int, lines: int = 3) -> list[str]:
        with open(self._log.name, errors="replace") as f:
            f.seek(start)
            text = f.read()
        return [line.strip() for line in text.splitlines() if line.strip()][-lines:]

    def _start(self) -> None:
        self._stop()
        package_root = str(Path(__file__).resolve().parents[2])
        path = os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH", "")) if p)
        env = dict(os.environ, PYTHONPATH=path)
        self._log = tempfile.NamedTemporaryFile(prefix="gluon2caffe-worker-", suffix=".log", dir=self._scratch.name)
        self._proc = subprocess.Popen(
            [sys.executable, "-c", _WORKER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            env=env,
            text=True,
        )
        self._served = 0

    def _stop(self) -> None:
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.stdin.close()
                try:
                    self._proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
                    self._proc.wait()
            self._proc.stdout.close()
            self._proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def close(self) -> None:
        self._stop()
        self._scratch.cleanup()

    def __enter__(self) -> ForwardWorker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _how_it_died(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"signal {signal.Signals(-returncode).name}"
        except ValueError:
            return f"signal {-returncode}"
    return f"exit {returncode}"
