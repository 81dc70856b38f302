"""The runtimes a converted model runs in, behind one registry: pycaffe, OpenCV's DNN module, and the deployment
runtimes that read Caffe files through their own converters (MNN, ncnn, OpenVINO; one module each).

A runtime is a name, whether it can return every blob (the per-layer checks need that), a forward function and a
probe that says what is missing. Adding one is a forward function and a `register_runtime(...)` line; the CLI's
--runtime choices are the registry's names. Every runtime is set to compute in full float32 precision (their fast
defaults, Winograd convolutions or FP16 weights, cost 1e-4 .. 6e-3 relative: never judge a conversion with them).

The outputs come back in Caffe's layout: a DetectionOutput top as (1, 1, rows, 7) with the image id first (MNN and
ncnn drop that column), every other blob with the batch axis first (ncnn has none: it runs one image at a time).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import Gluon2CaffeError, InvalidCallError


class RuntimeUnavailableError(Gluon2CaffeError):
    """The runtime asked for (or, without a choice, every Caffe runtime) is not installed; says how to install it."""


class RuntimeFailedError(Gluon2CaffeError):
    """A runtime's own converter or loader refused the files (its message is kept)."""


@dataclass(frozen=True)
class Runtime:
    name: str
    every_blob: bool  # can return every intermediate blob (not only the outputs)
    # (prototxt, caffemodel, inputs by name, the blobs wanted, every blob?, Timing or None) -> blobs by name
    run: Callable[[str, str, dict[str, np.ndarray], list[str], bool, "Timing | None"], dict[str, np.ndarray]]
    probe: Callable[[], None]  # raises RuntimeUnavailableError (with what to install) when the runtime is missing
    install: str = ""  # one line: how to install it (the error when it is missing says it)
    # "float32" (judged by the project's tolerance) or "float16" (rknn: judged by verification/precision.py's
    # float16 rule, and never called exact)
    precision: str = "float32"


RUNTIMES: dict[str, Runtime] = {}


@dataclass
class Timing:
    """Ask a runtime to time its forward pass: `repeat` more passes after the first (a warm-up) on the loaded
    model; `seconds` gets each one. Loading and the runtime's own conversion are not timed."""

    repeat: int
    seconds: list[float] = field(default_factory=list)

    def run(self, step: Callable[[], object]) -> None:
        for _ in range(self.repeat):
            start = time.perf_counter()
            step()
            self.seconds.append(time.perf_counter() - start)


def register_runtime(runtime: Runtime) -> Runtime:
    if runtime.name in RUNTIMES:
        raise ValueError(f"runtime {runtime.name!r} registered twice")
    RUNTIMES[runtime.name] = runtime
    return runtime


def forward(
    runtime: str,
    prototxt: str,
    caffemodel: str,
    inputs: dict[str, np.ndarray],
    outputs: list[str],
    all_blobs: bool = False,
    timing: Timing | None = None,
) -> dict[str, np.ndarray]:
    """Run the files in `runtime`: the blobs `outputs` (or, in pycaffe, every blob) by name. Runtimes that return
    only what was asked for treat `all_blobs` as "the named blobs", which may be intermediate ones. `timing`: also
    time the forward pass (bench/runtimes.py)."""
    if runtime not in RUNTIMES:
        raise InvalidCallError(f"unknown runtime {runtime!r}; expected one of {', '.join(map(repr, RUNTIMES))}")
    RUNTIMES[runtime].probe()
    return RUNTIMES[runtime].run(prototxt, caffemodel, inputs, outputs, all_blobs, timing)


def available(runtime: str) -> str | None:
    """None when `runtime` can run here, else why not (with what to install)."""
    try:
        RUNTIMES[runtime].probe()
    except RuntimeUnavailableError as exc:
        return str(exc)
    return None


CHECKOUT = Path(__file__).resolve().parents[2]  # a source checkout (the Makefile beside the package), or site-packages


def install_hint(make_target: str, otherwise: str) -> str:
    """How to install a runtime, in the words of where this package runs from: in a source checkout the make target
    that builds it; for a pip-installed package (no Makefile) what to install, without make targets it has not."""
    if (CHECKOUT / "Makefile").is_file():
        return f"`make {make_target}` in the source checkout builds it"
    return otherwise


PYCAFFE_INSTALL = (
    "install a Caffe with its Python bindings (BVLC Caffe; caffe-ssd for the SSD/YOLOv3 layers) on this Python, or "
    "verify in another runtime (--runtime opencv)"
)


def pycaffe_hint() -> str:
    return install_hint("caffe", PYCAFFE_INSTALL)


def default_runtime() -> str:
    """pycaffe when importable, else OpenCV."""
    for name in ("caffe", "opencv"):
        if available(name) is None:
            return name
    raise RuntimeUnavailableError(
        f"no Caffe runtime: pycaffe is not importable ({pycaffe_hint()}) and OpenCV cannot run: {available('opencv')}"
    )


def require_module(module: str, install: str) -> Callable[[], None]:
    """A probe: `module` must be importable."""

    def probe() -> None:
        try:
            __import__(module)
        except ImportError as exc:
            raise RuntimeUnavailableError(f"{module} is not importable ({exc}); {install}") from None

    return probe


def find_tool(variable: str, executable: str, install: str) -> str:
    """A converter tool: $`variable`, else `executable` on PATH or beside this interpreter (a venv's bin)."""
    path = os.environ.get(variable)
    if path:
        if not os.access(path, os.X_OK):
            raise RuntimeUnavailableError(f"${variable} is {path!r}, which is not an executable file")
        return path
    found = shutil.which(executable) or shutil.which(executable, path=str(Path(sys.executable).parent))
    if found is None:
        raise RuntimeUnavailableError(f"{executable} not found (set ${variable} or put it on PATH); {install}")
    return found


def run_tool(command: list[str], what: str, success: str | None = None, env: dict | None = None) -> str:
    """Run a runtime's converter in a child process (a crash or abort in it costs only that process)."""
    proc = subprocess.run(command, capture_output=True, text=True, env=env)
    output = proc.stdout + proc.stderr
    if proc.returncode != 0 or (success is not None and success not in output):
        tail = "\n".join(line for line in output.strip().splitlines()[-12:])
        raise RuntimeFailedError(f"{what} failed (exit {proc.returncode}):\n{tail}")
    return output


def detection_tops(prototxt: str) -> set[str]:
    """The tops of DetectionOutput layers (their row layout differs between runtimes)."""
    from ..caffe.io import read_prototxt

    return {top for layer in read_prototxt(prototxt).layer if layer.type == "DetectionOutput" for top in layer.top}


def caffe_rows(rows: np.ndarray, width: int, image: int = 0) -> np.ndarray:
    """DetectionOutput rows in caffe-ssd's (1, 1, n, 7) layout: [image_id, label, score, x0, y0, x1, y1]. Rows of
    `width` 6 (MNN, ncnn: no image id) get `image`; padding rows (image id or label -1, OpenVINO) are dropped; an
    empty result is one row of -1s, as in Caffe."""
    rows = np.asarray(rows, np.float32).reshape(-1, width)
    if width == 6:
        rows = np.concatenate([np.full((len(rows), 1), image, np.float32), rows], 1)
    rows = rows[(rows[:, 0] >= 0) & (rows[:, 1] >= 0)]
    if not len(rows):
        rows = -np.ones((1, 7), np.float32)
    return rows.reshape(1, 1, -1, 7)


def scratch_dir(prefix: str) -> tempfile.TemporaryDirectory:
    return tempfile.TemporaryDirectory(prefix=f"gluon2caffe-{prefix}-")


# -- pycaffe and OpenCV -------------------------------------------------------------------------------------------


def caffe_forward(
    prototxt: str, caffemodel: str, inputs: dict[str, np.ndarray], all_blobs: bool = False, timing: Timing | None = None
) -> dict[str, np.ndarray]:
    """Forward pass in pycaffe (CPU). Returns the net's outputs (or every blob) by name."""
    try:
        import caffe
    except ImportError as exc:
        raise RuntimeUnavailableError(f"pycaffe is not importable ({exc}): {pycaffe_hint()}") from None
    caffe.set_mode_cpu()
    net = caffe.Net(prototxt, caffe.TEST, weights=caffemodel)
    for name, value in inputs.items():
        net.blobs[name].reshape(*value.shape)
        net.blobs[name].data[...] = value
    out = net.forward()
    if timing is not None:
        timing.run(net.forward)
    if all_blobs:
        return {name: np.array(blob.data) for name, blob in net.blobs.items()}
    return {name: np.array(value) for name, value in out.items()}


def opencv_forward(
    prototxt: str, caffemodel: str, inputs: dict[str, np.ndarray], outputs: list[str], timing: Timing | None = None
) -> dict[str, np.ndarray]:
    """Forward pass in OpenCV's DNN module (a second, independent Caffe reader)."""
    try:
        import cv2
    except ImportError:
        raise RuntimeUnavailableError("OpenCV is not installed (pip install opencv-python-headless)") from None
    try:
        return _opencv_run(cv2, prototxt, caffemodel, inputs, outputs, timing)
    except cv2.error as exc:  # its class is named `error`: said as OpenCV's own words, one line, not "error: error:"
        words = getattr(exc, "err", "") or str(exc).strip().splitlines()[-1]
        where = f" (in {exc.func})" if getattr(exc, "func", "") else ""
        raise RuntimeFailedError(f"OpenCV {cv2.__version__} cannot run {prototxt}: {words}{where}") from None


def _opencv_run(cv2, prototxt, caffemodel, inputs, outputs, timing) -> dict[str, np.ndarray]:
    net = cv2.dnn.readNetFromCaffe(prototxt, caffemodel)
    for name, value in inputs.items():
        net.setInput(np.ascontiguousarray(value, np.float32), name)
    computed = [blob for blob in outputs if blob not in inputs]  # an input asked for (a net that is an identity)
    writers = _opencv_writers(prototxt, computed)
    missing = [repr(blob) for blob, (layer, _) in zip(computed, writers) if net.getLayerId(layer) < 0]
    if missing:
        raise RuntimeFailedError(f"OpenCV has no layer writing blob(s) {', '.join(missing)} of {prototxt}")
    # forwardAndRetrieve gives every output of each layer asked for: a pin "layer.1" names no layer in OpenCV 4.11
    # (its forward() returns a layer's first output only), so a Slice's kept middle part is read this way.
    layers = list(dict.fromkeys(layer for layer, _ in writers))
    if layers:
        retrieved = dict(zip(layers, net.forwardAndRetrieve(layers)))
        values = {blob: retrieved[layer][index] for blob, (layer, index) in zip(computed, writers)}
    else:
        values = {}
    if timing is not None and layers:
        timing.run(lambda: net.forwardAndRetrieve(layers))
    return {name: np.array(values[name] if name in values else inputs[name]) for name in outputs}


def _opencv_writers(prototxt: str, blobs: list[str]) -> list[tuple[str, int]]:
    """(OpenCV layer, output index) of the last layer writing each blob: OpenCV's forward() names layer outputs
    ("layer", "layer.1"), not blobs, and names layers its own way. Its Caffe importer adds a Convolution as one layer
    per bottom/top pair named after the top (`dstNet.addLayer(layer.top(i), ...)`): the blob of a BatchNorm folded
    into the convolution before it is written by an OpenCV layer named like the blob, not like the convolution."""
    from ..caffe.io import read_prototxt

    writers = {}
    for layer in read_prototxt(prototxt).layer:
        for index, top in enumerate(layer.top):
            writers[top] = (top, 0) if layer.type == "Convolution" else (layer.name, index)
    return [writers.get(blob, (blob, 0)) for blob in blobs]


register_runtime(
    Runtime(
        "caffe",
        True,
        lambda p, m, inputs, _outputs, every, timing: caffe_forward(p, m, inputs, every, timing),
        require_module("caffe", pycaffe_hint()),
        pycaffe_hint(),
    )
)
OPENCV_INSTALL = "pip install 'opencv-python-headless<5' (4.11.0.86 is the version tested)"


def opencv_probe() -> None:
    """OpenCV 4.x: 5.0 removed the Caffe importer (readNetFromCaffe then refuses every file)."""
    require_module("cv2", OPENCV_INSTALL)()
    import cv2

    version = getattr(cv2, "__version__", "")
    major = version.split(".")[0]
    if major.isdigit() and int(major) >= 5:
        raise RuntimeUnavailableError(f"OpenCV {version} has no Caffe importer (OpenCV 5 removed it); {OPENCV_INSTALL}")


register_runtime(
    Runtime(
        "opencv",
        False,
        lambda p, m, inputs, outputs, _every, timing: opencv_forward(p, m, inputs, outputs, timing),
        opencv_probe,
        OPENCV_INSTALL,
    )
)

# The deployment runtimes register themselves (imported last: they use the helpers above).
from . import runtime_mnn, runtime_ncnn, runtime_openvino  # noqa: E402, F401
from . import runtime_onnx, runtime_paddle, runtime_rknn, runtime_tpu_mlir  # noqa: E402, F401
