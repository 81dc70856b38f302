"""TPU-MLIR (Sophgo): its Caffe frontend, then its top-level MLIR interpreter or a BM1684X bmodel in its simulator.

Two runtimes, one toolchain (`make tpu-mlir` builds .venv-tpu-mlir, Python 3.10; requirements-tpu-mlir.txt):

- `tpu-mlir`: `model_transform` (Caffe -> top MLIR, F32), run by `model_runner` in the MLIR interpreter on the CPU.
  What every Sophgo chip's compilation starts from; seconds per net.
- `tpu-mlir-bm1684x`: the same MLIR, then `model_deploy --quantize F32 --processor bm1684x` (the chip's own F32
  kernels, layer groups, its own DetectionOutput), the bmodel run by `model_runner` in the chip simulator (cmodel).
  Seconds to minutes per net.

Both in float32 (F32 top ops, F32 bmodel): judged by the project's tolerance like pycaffe. The tools run in the
venv as child processes with their own scratch folder (they write beside the working directory); neither the
transform's nor the deploy's own validation runs (no --test_input: we compare with MXNet instead). The requested
blobs become the MLIR's outputs (`--output_names`), so intermediate blobs can be read too (the detector checks);
PriorBox outputs, which the frontend folds into a constant, are read from its own weight file.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import InvalidCallError
from .runtimes import (
    Runtime,
    RuntimeFailedError,
    Timing,
    caffe_rows,
    detection_tops,
    register_runtime,
    scratch_dir,
)
from .venv_runtime import Venv

VENV = Venv(
    "TPU-MLIR",
    ".venv-tpu-mlir",
    "GLUON2CAFFE_TPU_MLIR_PYTHON",
    "tpu-mlir",
    "tpu-mlir[caffe]==1.30.2 (Python 3.10)",
)
CHIP = "bm1684x"


def tpu_mlir_forward(
    prototxt: str,
    caffemodel: str,
    inputs: dict[str, np.ndarray],
    outputs: list[str],
    _every: bool = False,
    timing: Timing | None = None,
    chip: str | None = None,
) -> dict[str, np.ndarray]:
    """Run the files through model_transform (and, with `chip`, model_deploy F32) and model_runner."""
    if timing is not None:
        raise InvalidCallError("TPU-MLIR's model_runner loads the model on every call: its forward is not timed")
    from . import input_specs, read_prototxt

    text_net = read_prototxt(prototxt)
    order = list(input_specs(text_net))
    if set(order) != set(inputs):
        raise InvalidCallError(f"the net's inputs are {order}, got arrays for {list(inputs)}")
    detections = detection_tops(prototxt)
    constants = [name for name in outputs if name in prior_blobs(text_net)]
    computed = [name for name in outputs if name not in constants]
    bin_dir = Path(VENV.python()).parent
    with scratch_dir("tpu-mlir") as tmp:
        feed, result = os.path.join(tmp, "inputs.npz"), os.path.join(tmp, "outputs.npz")
        np.savez(feed, **{name: np.ascontiguousarray(inputs[name], np.float32) for name in order})
        shapes = "[" + ",".join("[" + ",".join(str(d) for d in inputs[name].shape) + "]" for name in order) + "]"
        mlir = os.path.join(tmp, "net.mlir")
        transform = [str(bin_dir / "model_transform"), "--model_name", "net", "--model_def", prototxt]
        transform += ["--model_data", caffemodel, "--input_shapes", shapes, "--output_names", ",".join(computed)]
        VENV.run(transform + ["--mlir", mlir], "TPU-MLIR's model_transform (Caffe frontend)", tmp)
        model = mlir
        if chip is not None:
            model = os.path.join(tmp, f"net_{chip}_f32.bmodel")
            deploy = [str(bin_dir / "model_deploy"), "--mlir", mlir, "--quantize", "F32", "--processor", chip]
            VENV.run(deploy + ["--model", model], f"TPU-MLIR's model_deploy F32 for {chip}", tmp)
        runner = [str(bin_dir / "model_runner"), "--input", feed, "--model", model, "--output", result]
        where = f"the {chip} simulator" if chip else "the MLIR interpreter"
        VENV.run(runner, f"TPU-MLIR's model_runner ({where})", tmp)
        with np.load(result) as values:
            source = {name: _copied_from(text_net, name, values.files) for name in computed}
            missing = [name for name in computed if source[name] not in values.files]
            if missing:
                raise RuntimeFailedError(
                    f"TPU-MLIR's model_runner returned no blob named {missing}; it returned {sorted(values.files)}"
                )
            got = {name: np.array(values[source[name]], np.float32) for name in computed}
        if constants:
            got.update(_folded_priors(os.path.join(tmp, "net_top_f32_all_weight.npz"), constants))
    return {name: caffe_rows(v, 7) if name in detections else v for name, v in got.items()}


def _copied_from(text_net, name: str, returned: list[str]) -> str:
    """The blob model_runner returns for output `name`: itself, or, where an identity Reshape copies another blob to
    it (an output that other layers also read: converters' output_copy), the copied blob, which TPU-MLIR returns
    once it has removed the no-op Reshape (icnet_resnet50_citys: `..._conv0_fwd_inner`). The values are the same."""
    if name in returned:
        return name
    writers = [layer for layer in text_net.layer if name in layer.top]
    if writers and writers[-1].type == "Reshape" and len(writers[-1].bottom) == 1:
        return writers[-1].bottom[0]
    return name


def prior_blobs(text_net) -> set[str]:
    """Blobs that only PriorBox layers compute (their tops, and Concats of them): TPU-MLIR's frontend folds them into
    one constant (a weight op `<top>_<layer>loadweight`), which model_runner cannot return as an output."""
    constant: set[str] = set()
    for layer in text_net.layer:
        if layer.type == "PriorBox" or (layer.type == "Concat" and all(b in constant for b in layer.bottom)):
            constant.update(layer.top)
    return constant


def _folded_priors(weights: str, names: list[str]) -> dict[str, np.ndarray]:
    """The priors TPU-MLIR folded, read from its own weight file, in PriorBox's (1, 2, 4 * anchors) layout."""
    got = {}
    with np.load(weights) as values:
        for name in names:
            keys = [k for k in values.files if k.startswith(f"{name}_") and k.endswith("loadweight")]
            if len(keys) != 1:
                raise RuntimeFailedError(
                    f"TPU-MLIR folded the PriorBox blob {name!r} into a constant that was not found in its weights "
                    f"(candidates {keys})"
                )
            got[name] = np.array(values[keys[0]], np.float32).reshape(1, 2, -1)
    return got


def bm1684x_forward(prototxt, caffemodel, inputs, outputs, every=False, timing=None):
    return tpu_mlir_forward(prototxt, caffemodel, inputs, outputs, every, timing, chip=CHIP)


register_runtime(Runtime("tpu-mlir", False, tpu_mlir_forward, VENV.probe, VENV.install))
register_runtime(Runtime(f"tpu-mlir-{CHIP}", False, bm1684x_forward, VENV.probe, VENV.install))
