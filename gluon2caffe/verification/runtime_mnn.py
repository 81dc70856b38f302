"""MNN (Alibaba): its own Caffe converter, then its interpreter, in full float32.

The pip wheel `MNN` ships the converter as `_tools.mnnconvert`. It is called through that function in a child
interpreter, never through the `mnnconvert` console entry point: that wrapper runs `pip install` of a telemetry
package and posts usage data. The child process also keeps a converter abort (a CHECK) away from the caller.

Precision: `precision: high` and Winograd off (session hint WINOGRAD_MEMORY_LEVEL = 0); MNN's default 3x3
Winograd convolutions cost 2e-4 .. 2e-3 relative.
"""

from __future__ import annotations

import functools
import os
import sys

import numpy as np

from .runtimes import (
    Runtime,
    RuntimeFailedError,
    Timing,
    caffe_rows,
    detection_tops,
    register_runtime,
    require_module,
    run_tool,
    scratch_dir,
)

INSTALL = "pip install MNN==3.6.1"
_CONVERT = "import sys, _tools; sys.exit(0 if _tools.mnnconvert(['mnnconvert'] + sys.argv[1:]) else 1)"
_WINOGRAD_MEMORY_LEVEL = 3  # MNN.Interpreter.setSessionHint key (Interpreter::HintMode::WINOGRAD_MEMORY_LEVEL)


def convert_to_mnn(prototxt: str, caffemodel: str, out: str) -> str:
    """prototxt + caffemodel -> out (.mnn) with MNN's converter (intermediate blobs are read through the session's
    saveTensors, not marked here)."""
    command = [sys.executable, "-c", _CONVERT, "-f", "CAFFE", "--modelFile", caffemodel, "--prototxt", prototxt]
    command += ["--MNNModel", out, "--bizCode", "gluon2caffe"]
    run_tool(command, "MNN's Caffe converter", success="Converted Success")
    return out


def mnn_forward(
    prototxt: str,
    caffemodel: str,
    inputs: dict[str, np.ndarray],
    outputs: list[str],
    _every: bool = False,
    timing: Timing | None = None,
) -> dict[str, np.ndarray]:
    import MNN

    detections = detection_tops(prototxt)
    with scratch_dir("mnn") as tmp:
        model = convert_to_mnn(prototxt, caffemodel, os.path.join(tmp, "model.mnn"))
        interpreter = MNN.Interpreter(model)
        interpreter.setSessionHint(_WINOGRAD_MEMORY_LEVEL, 0)
        session = interpreter.createSession({"precision": "high", "numThread": 1, "saveTensors": tuple(outputs)})
        # MNN's converter drops an Input no layer reads (broadcast_like's shape-only reference): nothing depends on
        # it, so it is not fed (asking MNN for it fails: "Get input failed").
        kept = set(interpreter.getSessionInputAll(session))
        inputs = {name: value for name, value in inputs.items() if name in kept or name in _read_inputs(prototxt)}
        for name, value in inputs.items():
            tensor = interpreter.getSessionInput(session, name)
            interpreter.resizeTensor(tensor, tuple(value.shape))
        interpreter.resizeSession(session)
        for name, value in inputs.items():
            value = np.ascontiguousarray(value, np.float32)
            host = MNN.Tensor(value.shape, MNN.Halide_Type_Float, value, MNN.Tensor_DimensionType_Caffe)
            interpreter.getSessionInput(session, name).copyFrom(host)
        code = interpreter.runSession(session)
        if code != 0:  # e.g. its shape inference failed ("Compute Shape Error", printed by MNN): outputs are empty
            raise RuntimeFailedError(f"MNN could not run the net converted from {prototxt} (runSession error {code})")
        if timing is not None:
            timing.run(functools.partial(interpreter.runSession, session))
        result = {}
        for name in outputs:
            tensor = interpreter.getSessionOutput(session, name)
            shape = tensor.getShape()
            host = MNN.Tensor(shape, MNN.Halide_Type_Float, np.zeros(shape, np.float32), MNN.Tensor_DimensionType_Caffe)
            tensor.copyToHostTensor(host)
            value = np.array(host.getNumpyData(), np.float32).reshape(shape)
            if 0 in shape:  # an N-D (3-D) Convolution's output sizes are 0 in MNN 3.6: it computed nothing
                raise RuntimeFailedError(f"MNN computed blob {name!r} of {prototxt} as {tuple(shape)}: no values")
            result[name] = caffe_rows(value, 6) if name in detections else value
        del session, interpreter
    return result


def _read_inputs(prototxt: str) -> set[str]:
    """The net's inputs that a layer other than Silence reads."""
    from ..caffe.io import read_prototxt

    read = {bottom for layer in read_prototxt(prototxt).layer if layer.type != "Silence" for bottom in layer.bottom}
    return read


register_runtime(Runtime("mnn", False, mnn_forward, require_module("MNN", INSTALL), INSTALL))
