"""The Caffe side of a check: a net's inputs and outputs read from its prototxt, its blobs' shapes, and running
converted nets (runtimes.forward)."""

from __future__ import annotations

import os
import tempfile
from typing import Any

import numpy as np

from ..errors import InvalidCallError
from .runtimes import forward


def input_spec(text_net: Any) -> tuple[str, tuple[int, ...]]:
    """(name, shape) of a net's one input; several inputs are an error here (input_specs reads them all)."""
    shapes = input_specs(text_net)
    if len(shapes) != 1:
        raise InvalidCallError(f"expected one Input layer, found {len(shapes)}: {list(shapes)}")
    return next(iter(shapes.items()))


def input_specs(text_net: Any) -> dict[str, tuple[int, ...]]:
    """{name: shape} of a net's Input layers, in order."""
    inputs = [layer for layer in text_net.layer if layer.type == "Input"]
    if not inputs or any(not layer.input_param.shape for layer in inputs):
        raise InvalidCallError(f"expected Input layers with a shape, found {len(inputs)} Input layer(s)")
    return {layer.top[0]: tuple(int(d) for d in layer.input_param.shape[0].dim) for layer in inputs}


def net_outputs(text_net: Any) -> list[str]:
    """The blobs a Caffe net outputs: tops no layer consumes (in layer order)."""
    consumed = {b for layer in text_net.layer for b in layer.bottom}
    outs: list[str] = []
    for layer in text_net.layer:
        for top in layer.top:
            if top not in consumed and top not in outs:
                outs.append(top)
    return outs


def run_converted(
    text_net: Any, binary_weights: Any, inputs: dict[str, np.ndarray], runtime: str = "caffe"
) -> dict[str, np.ndarray]:
    """Save the two nets to a temporary folder and run them in `runtime` (runtimes.RUNTIMES: 'caffe', 'opencv')."""
    from ..caffe.io import save_model

    with tempfile.TemporaryDirectory(prefix="gluon2caffe-") as tmp:
        prototxt, caffemodel = save_model(text_net, binary_weights, os.path.join(tmp, "model"))
        return forward(runtime, prototxt, caffemodel, inputs, net_outputs(text_net))


# -- the MXNet side ----------------------------------------------------------------------------------------------


def caffe_blob_shapes(prototxt: str) -> dict[str, tuple[int, ...]]:
    """{blob: shape} of every blob of the Caffe net, from pycaffe without weights; {} without pycaffe (then only the
    outputs' shapes are named)."""
    try:
        import caffe
    except ImportError:
        return {}
    caffe.set_mode_cpu()
    net = caffe.Net(prototxt, caffe.TEST)
    return {name: tuple(blob.data.shape) for name, blob in net.blobs.items()}
