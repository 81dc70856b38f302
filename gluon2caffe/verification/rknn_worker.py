"""Run a Caffe model in rknn-toolkit2's RK3588 simulator (float16, no quantization).

A script for the rknn venv's interpreter (see runtime_rknn.py): it imports only numpy and rknn, never gluon2caffe.
Argument: one JSON object {prototxt, caffemodel, inputs (.npz, in the net's input order), outputs, result (.npz)}.
rknn-toolkit2 reports a layer it cannot convert with an error line and goes on without it (the built model's
outputs are then other tensors); the runtime module reads that line from this script's output and refuses.
"""

import json
import sys

import numpy as np

WORKER_ERROR = "gluon2caffe worker:"  # how venv_runtime.py finds this script's own verdict

TARGET = "rk3588"


def main(request: dict) -> None:
    from rknn.api import RKNN

    with np.load(request["inputs"]) as data:
        inputs = [data[name] for name in data.files]
    rknn = RKNN(verbose=False)
    try:
        # No mean/std: the net's input is fed as it is (rknn's defaults, set explicitly so no warning is printed).
        rknn.config(
            target_platform=TARGET,
            mean_values=[[0.0] * x.shape[1] for x in inputs],
            std_values=[[1.0] * x.shape[1] for x in inputs],
        )
        _check(rknn.load_caffe(model=request["prototxt"], blobs=request["caffemodel"]), "load_caffe")
        _check(rknn.build(do_quantization=False), "build (float16, no quantization)")
        names = [output.name for output in rknn.rknn_base.ir.graph.output]
        _check(rknn.init_runtime(), "init_runtime (simulator)")
        values = rknn.inference(inputs=inputs, data_format=["nchw"] * len(inputs))
        if values is None:
            raise SystemExit(f"{WORKER_ERROR} rknn-toolkit2: inference returned nothing")
    finally:
        rknn.release()
    by_name = dict(zip(names, values))
    missing = [name for name in request["outputs"] if name not in by_name]
    if missing:
        raise SystemExit(f"{WORKER_ERROR} rknn-toolkit2's model has no output named {missing}; its outputs are {names}")
    np.savez(request["result"], **{name: np.asarray(by_name[name], np.float32) for name in request["outputs"]})


def _check(status: int, step: str) -> None:
    if status != 0:
        raise SystemExit(f"{WORKER_ERROR} rknn-toolkit2: {step} failed (status {status})")


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
