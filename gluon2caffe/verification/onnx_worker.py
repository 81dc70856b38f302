"""Convert a Caffe model with caffe2onnx and run it in ONNX Runtime (CPU, float32).

A script for the onnx venv's interpreter (see runtime_onnx.py): it imports only numpy, onnx, onnxruntime,
caffe2onnx and legacy_pb2.py beside it, never gluon2caffe (caffe2onnx's caffe_pb2 is rebuilt for the compiled
protobuf: legacy_pb2.py says why). Argument: one JSON object {prototxt, caffemodel, inputs (.npz), outputs, result
(.npz), onnx (where to write the model)}. The ONNX model is run as caffe2onnx wrote it; only the blobs asked for
that are not graph outputs already are added as outputs (an intermediate blob: the detector checks read some).
"""

import json
import sys

import numpy as np

WORKER_ERROR = "gluon2caffe worker:"  # how venv_runtime.py finds this script's own verdict


def main(request: dict) -> None:
    import legacy_pb2
    import onnx
    import onnxruntime

    legacy_pb2.install("caffe2onnx.proto.caffe_upsample_pb2")
    from caffe2onnx.src.caffe2onnx import Caffe2Onnx
    from caffe2onnx.src.load_save_model import loadcaffemodel, saveonnxmodel

    graph, params = loadcaffemodel(request["prototxt"], request["caffemodel"])
    model = Caffe2Onnx(graph, params, request["onnx"]).createOnnxModel()
    produced = {name for node in model.graph.node for name in node.output}
    present = {output.name for output in model.graph.output}
    for name in request["outputs"]:
        if name not in present and name in produced:
            model.graph.output.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    saveonnxmodel(model, request["onnx"])
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(request["onnx"], options, providers=["CPUExecutionProvider"])
    with np.load(request["inputs"]) as data:
        arrays = {name: data[name] for name in data.files}
    # caffe2onnx names the graph input after the Caffe input with "_input" appended (data -> data_input).
    feed = {}
    for graph_input in session.get_inputs():
        name = graph_input.name
        source = name if name in arrays else name[: -len("_input")] if name.endswith("_input") else None
        if source not in arrays:
            raise SystemExit(
                f"{WORKER_ERROR} caffe2onnx's model takes an input {name!r}; the arrays given are {sorted(arrays)}"
            )
        feed[name] = arrays[source]
    names = [output.name for output in session.get_outputs()]
    missing = [name for name in request["outputs"] if name not in names]
    if missing:
        raise SystemExit(f"{WORKER_ERROR} caffe2onnx's model has no tensor named {missing}; its outputs are {names}")
    values = session.run(request["outputs"], feed)
    np.savez(request["result"], **dict(zip(request["outputs"], values)))


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
