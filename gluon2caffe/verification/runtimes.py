"""The runtimes a converted model runs in: pycaffe and OpenCV's DNN module, behind one registry.

A runtime is a name, the module that must be importable, whether it can return every blob (the per-layer checks
need that), and a forward function. Adding one is a forward function and a `register_runtime(...)` line here; the
CLI's --runtime choices are the registry's names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..errors import Gluon2CaffeError, InvalidCallError


class RuntimeUnavailableError(Gluon2CaffeError):
    """Neither pycaffe nor OpenCV (or not the one asked for) can be imported."""


@dataclass(frozen=True)
class Runtime:
    name: str
    module: str  # importable when the runtime is installed
    every_blob: bool  # can return every intermediate blob (not only the outputs)
    # (prototxt, caffemodel, inputs by name, the output blobs wanted, every blob?) -> blobs by name
    run: Callable[[str, str, dict[str, np.ndarray], list[str], bool], dict[str, np.ndarray]]


RUNTIMES: dict[str, Runtime] = {}


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
) -> dict[str, np.ndarray]:
    """Run the files in `runtime`: the net's `outputs` (or, where the runtime can, every blob) by name."""
    if runtime not in RUNTIMES:
        raise InvalidCallError(f"unknown runtime {runtime!r}; expected one of {', '.join(map(repr, RUNTIMES))}")
    return RUNTIMES[runtime].run(prototxt, caffemodel, inputs, outputs, all_blobs)


def default_runtime() -> str:
    """The first registered runtime that is installed (pycaffe, else OpenCV)."""
    for runtime in RUNTIMES.values():
        try:
            __import__(runtime.module)
            return runtime.name
        except ImportError:
            continue
    raise RuntimeUnavailableError(
        "no Caffe runtime: pycaffe is not importable (run `make caffe` to build it) and OpenCV is not installed "
        "(pip install opencv-python-headless)"
    )


def caffe_forward(
    prototxt: str, caffemodel: str, inputs: dict[str, np.ndarray], all_blobs: bool = False
) -> dict[str, np.ndarray]:
    """Forward pass in pycaffe (CPU). Returns the net's outputs (or every blob) by name."""
    try:
        import caffe
    except ImportError as exc:
        raise RuntimeUnavailableError(f"pycaffe is not importable ({exc}); run `make caffe` to build it") from None
    caffe.set_mode_cpu()
    net = caffe.Net(prototxt, caffe.TEST, weights=caffemodel)
    for name, value in inputs.items():
        net.blobs[name].reshape(*value.shape)
        net.blobs[name].data[...] = value
    out = net.forward()
    if all_blobs:
        return {name: np.array(blob.data) for name, blob in net.blobs.items()}
    return {name: np.array(value) for name, value in out.items()}


def opencv_forward(
    prototxt: str, caffemodel: str, inputs: dict[str, np.ndarray], outputs: list[str]
) -> dict[str, np.ndarray]:
    """Forward pass in OpenCV's DNN module (a second, independent Caffe reader)."""
    try:
        import cv2
    except ImportError:
        raise RuntimeUnavailableError("OpenCV is not installed (pip install opencv-python-headless)") from None
    net = cv2.dnn.readNetFromCaffe(prototxt, caffemodel)
    for name, value in inputs.items():
        net.setInput(np.ascontiguousarray(value, np.float32), name)
    values = net.forward(outputs)
    return {name: np.array(v) for name, v in zip(outputs, values)}


register_runtime(
    Runtime("caffe", "caffe", True, lambda p, m, inputs, _outputs, every: caffe_forward(p, m, inputs, all_blobs=every))
)
register_runtime(
    Runtime("opencv", "cv2", False, lambda p, m, inputs, outputs, _every: opencv_forward(p, m, inputs, outputs))
)
