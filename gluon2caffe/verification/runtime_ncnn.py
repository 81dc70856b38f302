"""ncnn (Tencent): its `caffe2ncnn` converter, then the pip `ncnn` runtime, in full float32.

No package registry ships caffe2ncnn (the pip wheel has the runtime only). Build it from ncnn's two source files
(`tools/caffe/caffe2ncnn.cpp` + `caffe.proto`) with `make caffe2ncnn NCNN_TOOL_SRC=DIR`; it is found through
$GLUON2CAFFE_CAFFE2NCNN, else on PATH or beside this interpreter (the venv's bin, where the make target puts it).

Precision: Winograd and packed-sgemm convolutions and fp16/bf16 storage off (their defaults cost 2e-4 .. 2e-3).
ncnn runs one image at a time without a batch axis: each image of a batch is its own extraction.
"""

from __future__ import annotations

import os

import numpy as np


from .runtimes import (
    Runtime,
    RuntimeFailedError,
    Timing,
    caffe_rows,
    detection_tops,
    find_tool,
    install_hint,
    register_runtime,
    require_module,
    run_tool,
    scratch_dir,
)

VARIABLE = "GLUON2CAFFE_CAFFE2NCNN"
INSTALL = (
    "pip install ncnn==1.0.20261020, and build ncnn's caffe2ncnn (no registry ships it) from ncnn's tools/caffe "
    "(caffe2ncnn.cpp + caffe.proto, g++ and libprotobuf): "
    + install_hint("caffe2ncnn NCNN_TOOL_SRC=DIR", "put it on PATH or name it with $GLUON2CAFFE_CAFFE2NCNN")
)


def caffe2ncnn() -> str:
    return find_tool(VARIABLE, "caffe2ncnn", INSTALL)


def probe() -> None:
    require_module("ncnn", INSTALL)()
    caffe2ncnn()


def convert_to_ncnn(prototxt: str, caffemodel: str, param: str, weights: str) -> None:
    output = run_tool([caffe2ncnn(), prototxt, caffemodel, param, weights], "ncnn's caffe2ncnn")
    for line in output.splitlines():  # it reports unknown layer types and goes on
        if "not supported" in line.lower() or "unknown" in line.lower():
            raise RuntimeFailedError(f"ncnn's caffe2ncnn: {line.strip()}")


def strict_options(net) -> None:
    """Every convolution in plain float32 (no Winograd, no packed sgemm, no fp16/bf16), on the CPU."""
    opt = net.opt
    opt.use_vulkan_compute = False
    opt.use_winograd_convolution = False
    opt.use_sgemm_convolution = False
    opt.use_fp16_storage = opt.use_fp16_packed = opt.use_fp16_arithmetic = False
    opt.use_bf16_storage = False
    opt.num_threads = 1


def ncnn_forward(
    prototxt: str,
    caffemodel: str,
    inputs: dict[str, np.ndarray],
    outputs: list[str],
    _every: bool = False,
    timing: Timing | None = None,
) -> dict[str, np.ndarray]:
    import ncnn

    detections = detection_tops(prototxt)
    refuse_unrunnable(prototxt)
    batch = {value.shape[0] for value in inputs.values()}
    if len(batch) != 1:
        raise RuntimeFailedError(f"ncnn runs one sample at a time: inputs of different batch sizes {sorted(batch)}")
    with scratch_dir("ncnn") as tmp:
        param, weights = os.path.join(tmp, "model.param"), os.path.join(tmp, "model.bin")
        convert_to_ncnn(prototxt, caffemodel, param, weights)
        net = ncnn.Net()
        strict_options(net)
        if net.load_param(param) != 0 or net.load_model(weights) != 0:
            raise RuntimeFailedError(f"ncnn could not load the files ncnn's caffe2ncnn wrote from {prototxt}")
        per_image: dict[str, list[np.ndarray]] = {name: [] for name in outputs}
        for i in range(batch.pop()):
            for name, value in _extract(ncnn, net, {k: v[i] for k, v in inputs.items()}, outputs).items():
                per_image[name].append(caffe_rows(value, 6, image=i) if name in detections else value[None])
        if timing is not None:
            timing.run(lambda: _extract(ncnn, net, {k: v[0] for k, v in inputs.items()}, outputs))
        net.clear()
    return {name: np.concatenate(parts, 2 if name in detections else 0) for name, parts in per_image.items()}


# Layers that compute each element alone (a 5-D blob's axes do not matter to them).
_PER_ELEMENT = {"ReLU", "ReLU6", "Sigmoid", "TanH", "Power", "ELU", "AbsVal", "BNLL", "Exp", "Clip", "Dropout", "Split"}
_PER_ELEMENT |= {"Silence"}


def refuse_unrunnable(prototxt: str) -> None:
    """What ncnn computes wrong without an error, said as a RuntimeFailedError before it runs: a blob of more than 4
    axes (ncnn holds at most 4-D, 3-D without the batch) or a net that mixes its samples (ncnn runs one at a time).
    The converter's target 'ncnn' refuses both (Patterns.max_rank, per_sample); another target's files may have them."""
    from ..caffe.io import read_prototxt
    from ..caffe.samples import sample_mixing

    layers = list(read_prototxt(prototxt).layer)
    high: set[str] = set()  # blobs of more than 4 axes: a 5-D input is a 4-D Mat per sample
    for layer in layers:
        rank, reads = 0, [b for b in layer.bottom if b in high]
        if layer.type == "Input":
            high.update(t for t, shape in zip(layer.top, layer.input_param.shape) if len(shape.dim) > 4)
        elif layer.type == "Reshape":
            rank = len(layer.reshape_param.shape.dim)
        elif layer.type == "Permute":
            rank = len(layer.permute_param.order)
        elif reads and layer.type in _PER_ELEMENT:
            high.update(layer.top)  # right whatever the axes: the top keeps the 5-D shape
        elif reads:
            rank = 5
        if rank > 4:
            raise RuntimeFailedError(
                f"ncnn holds blobs of at most 4 axes; {layer.type} layer {layer.name!r} of {prototxt} has {rank} "
                "or reads one (convert with --target ncnn: it refuses what it cannot write within 4)"
            )
    found = sample_mixing(layers)
    if found is not None:
        raise RuntimeFailedError(
            f"ncnn runs one sample at a time; {found[0]!r} of {prototxt}: {found[1]} (convert with --target ncnn: it "
            "refuses such a net)"
        )


def _extract(ncnn, net, image: dict[str, np.ndarray], outputs: list[str]) -> dict[str, np.ndarray]:
    """One image (no batch axis) through `net`: the blobs `outputs`, copied out of ncnn's memory."""
    extractor = net.create_extractor()
    for name, value in image.items():
        # clone: ncnn.Mat(array) borrows the buffer, and a first layer working in place would write to it. The array
        # is named so that it outlives the clone (a temporary could be freed between Mat() and clone()).
        array = np.ascontiguousarray(value, np.float32)
        extractor.input(name, ncnn.Mat(array).clone())
        del array
    result = {}
    for name in outputs:
        ret, mat = extractor.extract(name)
        if ret != 0:
            raise RuntimeFailedError(f"ncnn could not compute blob {name!r} (error {ret})")
        result[name] = np.array(mat, np.float32, copy=True)
        del mat  # ncnn's allocator must outlive every Mat it gave out
    del extractor
    return result


register_runtime(Runtime("ncnn", False, ncnn_forward, probe, INSTALL))
