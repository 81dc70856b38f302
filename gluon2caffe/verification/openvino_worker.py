"""Run a Caffe model in OpenVINO: Model Optimizer (FP32 weights), then the CPU plugin with f32 inference.

A script for the OpenVINO environment's interpreter (see runtime_openvino.py): it imports only numpy and openvino,
never gluon2caffe. Argument: one JSON object {prototxt, caffemodel, inputs (.npz), outputs, result (.npz), repeat
(how many timed passes follow the first)}.
"""

import json
import sys
import time

import numpy as np


def main(request: dict) -> None:
    from openvino.runtime import Core
    from openvino.tools.mo import convert_model

    with np.load(request["inputs"]) as data:
        inputs = {name: data[name] for name in data.files}
    model = convert_model(
        input_model=request["caffemodel"],
        input_proto=request["prototxt"],
        compress_to_fp16=False,
        output=request["outputs"],
    )
    model.reshape({name: list(value.shape) for name, value in inputs.items()})
    compiled = Core().compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    results = compiled(inputs)
    seconds = []
    for _ in range(request.get("repeat", 0)):  # timed passes after the first
        start = time.perf_counter()
        compiled(inputs)
        seconds.append(time.perf_counter() - start)
    by_name = {}
    for port, value in results.items():
        for name in port.get_names():
            by_name[name] = value
    missing = [name for name in request["outputs"] if name not in by_name]
    if missing:
        raise SystemExit(f"OpenVINO's model has no output named {missing}; it has {sorted(by_name)}")
    np.savez(request["result"], __seconds__=np.array(seconds), **{name: by_name[name] for name in request["outputs"]})


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
