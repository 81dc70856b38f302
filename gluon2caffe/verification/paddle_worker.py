"""Convert a Caffe model with x2paddle and run the inference model it exports in Paddle (CPU, float32).

A script for the paddle venv's interpreter (see runtime_paddle.py): it imports only numpy, paddle, x2paddle and
legacy_pb2.py beside it, never gluon2caffe (x2paddle's caffe_pb2 is rebuilt for the compiled protobuf: legacy_pb2.py
says why). Argument: one JSON object {prototxt, caffemodel, inputs (.npz), outputs, result (.npz), save_dir}.

x2paddle writes a dygraph Layer (x2paddle_code.py), its weights and the static inference model exported from it
(inference_model/); the inference model is what Paddle deploys, and what runs here. Its inputs and outputs are
those of the Layer's forward, whose argument and return variables x2paddle names after the Caffe blobs (read from
the generated code's syntax tree, never executed for that). Only the net's outputs can be read.
x2paddle's usage statistics (a request to Baidu's server per conversion) are off: disable_feedback=True.
"""

import ast
import json
import os
import re
import sys

import numpy as np

WORKER_ERROR = "gluon2caffe worker:"  # how venv_runtime.py finds this script's own verdict


def main(request: dict) -> None:
    import legacy_pb2
    import paddle

    legacy_pb2.install("x2paddle.decoder.caffe_pb2")
    from x2paddle.convert import caffe2paddle

    save_dir = request["save_dir"]
    caffe2paddle(request["prototxt"], request["caffemodel"], save_dir, None, disable_feedback=True)
    arguments, returned = _forward_signature(os.path.join(save_dir, "x2paddle_code.py"))
    with np.load(request["inputs"]) as data:
        by_name = {_identifier(name): data[name] for name in data.files}
    missing = [name for name in arguments if name not in by_name]
    if missing:
        raise SystemExit(f"{WORKER_ERROR} x2paddle's model takes inputs {arguments}; no array for {missing}")
    paddle.set_device("cpu")
    model = paddle.jit.load(os.path.join(save_dir, "inference_model", "model"))
    model.eval()
    values = model(*[paddle.to_tensor(by_name[name]) for name in arguments])
    values = values if isinstance(values, (list, tuple)) else [values]
    if len(values) != len(returned):
        raise SystemExit(
            f"{WORKER_ERROR} x2paddle's inference model returned {len(values)} outputs, its code {len(returned)}"
        )
    got = {name: np.asarray(value.numpy(), np.float32) for name, value in zip(returned, values)}
    writers = _writers(request["prototxt"])
    result, unknown = {}, []
    for name in request["outputs"]:
        # x2paddle names a variable after its blob, or after the layer that writes it where that layer's name is not
        # the blob's (fastscnn's resized outputs, written by "<blob>_rows_back")
        for candidate in (name, writers.get(name, name)):
            if _identifier(candidate) in got:
                result[name] = got[_identifier(candidate)]
                break
        else:
            unknown.append(name)
    if unknown:
        raise SystemExit(f"{WORKER_ERROR} x2paddle's model has no output named {unknown}; it returns {returned}")
    np.savez(request["result"], **result)


def _writers(prototxt: str) -> dict[str, str]:
    """Each blob's last writer: {top: layer name} of the prototxt (read with x2paddle's own caffe_pb2)."""
    from google.protobuf import text_format
    from x2paddle.decoder import caffe_pb2

    net = caffe_pb2.NetParameter()
    with open(prototxt) as f:
        text_format.Merge(f.read(), net)
    return {top: layer.name for layer in net.layer for top in layer.top}


def _forward_signature(code_path: str) -> tuple[list[str], list[str]]:
    """(argument names, returned names) of the Layer's forward in x2paddle's generated code."""
    with open(code_path) as f:
        tree = ast.parse(f.read())
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == "forward":
            arguments = [a.arg for a in node.args.args[1:]]
            returns = [n for n in ast.walk(node) if isinstance(n, ast.Return) and n.value is not None]
            value = returns[-1].value
            items = value.elts if isinstance(value, (ast.Tuple, ast.List)) else [value]
            return arguments, [item.id for item in items if isinstance(item, ast.Name)]
    raise SystemExit(f"{WORKER_ERROR} x2paddle's generated code {code_path} has no forward method")


def _identifier(name: str) -> str:
    """A Caffe blob name as x2paddle's generated code spells the variable (non-word characters become _)."""
    return re.sub(r"\W", "_", name)


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
