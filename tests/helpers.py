"""Helpers for tests: run a Gluon block through the converter and the real Caffe, and compare with MXNet."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from dataclasses import dataclass
from typing import Any, Callable

import mxnet as mx
import numpy as np
from conftest import runtime_or_skip
from mxnet.gluon import HybridBlock, nn

from gluon2caffe import convert
from gluon2caffe.api import ConversionResult
from gluon2caffe.ir.ops import has_rgb_axis
from gluon2caffe.zoo.randomize import randomize
from gluon2caffe.verification import Comparison, compare, input_dependence, mxnet_forward, run_converted
from gluon2caffe.verification.inputs import bgr_feed
from gluon2caffe.verification.verify import _softmax

ROOT = Path(__file__).resolve().parents[1]
BGR = [2, 1, 0]
LOWEST = np.finfo(np.float32).min  # what MXNet's max pooling writes for a window that reads no element

# `make test` checks a sample of each zoo list, a model per family (`make zoo` sweeps every model for
# docs/model_zoo.md); GLUON2CAFFE_ZOO_TESTS=all runs the whole lists in pytest (about 25 minutes more on 2 cores).
ZOO_TESTS = "GLUON2CAFFE_ZOO_TESTS"


def zoo_sample(models: list, sample: set[str]) -> list:
    """The catalog entries (zoo.catalog.ZooEntry) of `models` named in `sample`, or all of them under
    GLUON2CAFFE_ZOO_TESTS=all. The sample must name listed models and hold one of every family (or the list changed
    under it)."""
    unknown = sample - {e.name for e in models}
    missing = {e.family for e in models} - {e.family for e in models if e.name in sample}
    assert not unknown and not missing, f"zoo sample: not listed {sorted(unknown)}, no model of {sorted(missing)}"
    return list(models) if os.environ.get(ZOO_TESTS) == "all" else [e for e in models if e.name in sample]


class Lambda(HybridBlock):
    """A block from a function of (F, x, **params), with named parameters given as arrays (kept constant)."""

    def __init__(self, fn: Callable, **constants: np.ndarray):
        super().__init__()
        self.fn = fn
        self.names = list(constants)
        with self.name_scope():
            for name, value in constants.items():
                setattr(self, name, self.params.get_constant(name, mx.nd.array(value)))

    def hybrid_forward(self, F, x, **params):
        return self.fn(F, x, **params)


def seq(*blocks: HybridBlock) -> nn.HybridSequential:
    net = nn.HybridSequential()
    with net.name_scope():
        net.add(*blocks)
    return net


def lam(fn: Callable) -> nn.HybridLambda:
    return nn.HybridLambda(fn)


@dataclass
class Checked:
    result: ConversionResult
    comparisons: list[Comparison]
    caffe_outputs: dict[str, np.ndarray]
    mxnet_outputs: list[np.ndarray]

    @property
    def layer_types(self) -> list[str]:
        return [layer.type for layer in self.result.text_net.layer]


def make_input(shape: tuple[int, ...], seed: int, scale: float = 1.0) -> np.ndarray:
    """Inputs of both signs."""
    return (np.random.RandomState(seed).normal(0, 1, shape) * scale).astype(np.float32)


def input_shapes(input_shape: Any) -> dict[str, tuple[int, ...]]:
    """convert's input_shape as {Caffe input name: shape}: one shape is `data`, a list data0, data1, ..."""
    if isinstance(input_shape, dict):
        return dict(input_shape)
    if isinstance(input_shape, list):
        return {f"data{i}": tuple(s) for i, s in enumerate(input_shape)}
    return {"data": tuple(input_shape)}


def check_block(
    block: HybridBlock,
    input_shape: Any,
    *,
    merge_bn: bool = True,
    to_bgr: bool = False,
    relu6: str = "exact",
    target: str = "any",
    softmax: bool = False,
    scale: float = 1.0,
    seed: int = 0,
    init: bool = True,
    runtime: str = "caffe",
    expect_match: bool = True,
    require_alive: bool = True,
    preprocess: Any = None,
) -> Checked:
    """Convert `block`, run it in the real runtime, compare with MXNet; asserts the tolerance and input sensitivity.

    `input_shape` as convert takes it: one shape, or several ({name: shape} or a list, each input its own both-sign
    noise; live random weights need one input, so a several-input block comes initialized, init=False). With to_bgr,
    Caffe gets the inputs with a 3-channel axis 1 in BGR (those the conversion swaps), the others as they are.

    The conversion happens before the MXNet reference runs: MXNet's forward overwrites a fix_gamma BatchNorm's
    stored gamma with 1, which would hide a converter that ignores fix_gamma.
    With `preprocess` (convert's preprocess=) MXNet gets the both-sign inputs as they are and Caffe the pixels whose
    normalization they are.
    """
    runtime_or_skip(runtime)
    shapes = input_shapes(input_shape)
    if init:
        block.initialize(mx.init.Normal(0.5))
        randomize(block, input_shape, seed=seed)
    result = convert(
        block,
        input_shape,
        softmax=softmax,
        to_bgr=to_bgr,
        merge_bn=merge_bn,
        relu6=relu6,
        target=target,
        preprocess=preprocess,
    )
    xs = {name: make_input(shape, seed + 1 + 10 * i, scale) for i, (name, shape) in enumerate(shapes.items())}
    feed = {name: x[:, BGR] if to_bgr and has_rgb_axis(x.shape) else x for name, x in xs.items()}
    if preprocess is not None:
        feed = bgr_feed(xs, to_bgr, result.options.preprocess)
    caffe_out = run_converted(result.text_net, result.binary_weights, feed, runtime=runtime)
    reference = mxnet_forward(block, *xs.values())
    if softmax:
        reference = [_softmax(reference[0], axis=1)]
    assert len(reference) == len(result.graph.outputs)
    comparisons = [compare(caffe_out[name], ref) for name, ref in zip(result.graph.outputs, reference)]
    if expect_match:
        for name, c in zip(result.graph.outputs, comparisons):
            # A constant output proves nothing (not conclusive): only a test that does not ask for a live output
            # (require_alive=False) accepts one, and then only the values.
            assert c.ok if require_alive else c.within, f"output {name}: {c}"
    if require_alive:  # every input on its own changes every output, and no output is constant
        for i, (name, shape) in enumerate(shapes.items()):
            changed = {**xs, name: make_input(shape, seed + 2 + 10 * i, scale)}
            other = mxnet_forward(block, *changed.values())
            outputs = result.graph.outputs
            dependence = input_dependence(
                dict(zip(outputs, reference)),
                dict(zip(outputs, other)),
                dict(zip(outputs, comparisons)),
                f"input {name} drawn again (seed {seed + 2 + 10 * i})",
            )
            assert dependence.ok, f"{dependence.reason(remedy=False)}: the test would pass vacuously"
    return Checked(result, comparisons, caffe_out, reference)


def check_empty_max_windows(
    block: HybridBlock, shape: tuple[int, ...], target: str = "any", runtime: str = "caffe"
) -> Checked:
    """check_block for a max pooling whose empty windows are -FLT_MAX in MXNet: those must be -FLT_MAX in the runtime
    too, and the rest within the tolerance and alive (a -FLT_MAX would make any tolerance scaled by the output
    vacuous)."""
    checked = check_block(block, shape, target=target, runtime=runtime, expect_match=False, require_alive=False)
    actual, reference = checked.caffe_outputs[checked.result.graph.outputs[0]], checked.mxnet_outputs[0]
    empty = reference == LOWEST
    assert empty.any() and not empty.all(), "no empty window (or only empty ones): the test proves nothing"
    np.testing.assert_array_equal(actual == LOWEST, empty)
    comparison = compare(actual[~empty], reference[~empty])
    assert comparison.ok, comparison
    other = mxnet_forward(block, make_input(shape, seed=7))[0]
    assert np.array_equal(other == LOWEST, empty)
    name = checked.result.graph.outputs[0]
    dependence = input_dependence({name: reference[~empty]}, {name: other[~empty]}, {name: comparison}, "seed 7")
    assert dependence.ok, f"{dependence.reason(remedy=False)}: the test would pass vacuously"
    return checked


def symbol_block(symbol: Any, params: dict[str, np.ndarray], input_name: str = "data") -> mx.gluon.SymbolBlock:
    """A HybridBlock from a symbol-API graph (nodes keep exactly the attributes the symbol API wrote)."""
    block = mx.gluon.SymbolBlock(symbol, mx.sym.var(input_name))
    for name, p in block.collect_params().items():
        p.initialize(init=mx.init.Constant(0))
        p.set_data(mx.nd.array(params[name]))
    return block


def assert_detector_ok(check: Any, by_layer_ok: bool = False) -> None:
    """A detector check (verification.detectors.DetectorCheck) passes: alive (its pre-NMS outputs move with the
    input, none constant: verification.input_dependence), not vacuous, and exact: every pre-NMS tensor within the
    tolerance, every segment of the backbone and heads within it on MXNet's own inputs (pycaffe), and
    the detections equal as sets. `by_layer_ok` also accepts `exact by layer` (every segment exact and the same
    detections, the pre-NMS tensors beyond the tolerance): only for a net documented as amplifying rounding."""
    assert check.dependence is not None and check.dependence.ok, f"not conclusive: {check.reason}"
    if check.detections is not None:
        assert check.detections.gluoncv > 0, "no GluonCV detections: the set comparison would be vacuous"
    if check.runtime == "caffe":
        assert check.local is not None and check.local.segments, "the layer-local check did not run"
    detail = ", ".join(f"{k}: {c}" for k, c in check.pre_nms.items()) + f"; detections: {check.detections}"
    if check.local is not None:
        detail += f"; local: {check.local.distribution()}"
        if check.local.first_failure is not None:
            detail += f", first failure {check.local.first_failure.layers}"
    allowed = ("exact", "exact by layer") if by_layer_ok else ("exact",)
    assert check.status in allowed, f"{check.status} (float64: {check.float64}): {detail}"


def convert_and_check_detector(net: Any, shape: tuple[int, ...], tmp_path: Any, runtime: str = "caffe", **kwargs: Any):
    """Convert a GluonCV detector (kwargs: the conversion options of its family), save it, and check it against
    GluonCV on a synthetic scene (a second scene for the sensitivity). Returns (ConversionResult, DetectorCheck)."""
    from gluon2caffe import save_model
    from gluon2caffe.api import detector_converter
    from gluon2caffe.detectors import detector_for
    from gluon2caffe.verification import synthetic_scene
    from gluon2caffe.verification.detectors import DetectorRun

    runtime_or_skip(runtime)
    family = detector_for(net)
    result = detector_converter(family)(net, shape, **kwargs)
    prototxt, caffemodel = save_model(result.text_net, result.binary_weights, tmp_path / "detector")
    scene, other = synthetic_scene(shape, seed=1), synthetic_scene(shape, seed=2)
    files, to_bgr = (prototxt, caffemodel), kwargs.get("to_bgr", True)
    # preprocess=: Caffe is fed the scene's raw pixels
    run = DetectorRun(net, result.head, files, scene, runtime, to_bgr, other, preprocess=result.options.preprocess)
    check = family.check(run)
    return result, check


def scene_png(path: Any, height: int, width: int, seed: int) -> str:
    """A synthetic scene (verification/inputs.py) as an 8-bit PNG file: an image to run converted files on."""
    import cv2

    from gluon2caffe.verification.inputs import IMAGENET_MEAN, IMAGENET_STD, synthetic_scene

    x = synthetic_scene((1, 3, height, width), seed=seed)[0].transpose(1, 2, 0)
    rgb = ((x * IMAGENET_STD + IMAGENET_MEAN) * 255).clip(0, 255).round().astype(np.uint8)
    assert cv2.imwrite(str(path), rgb[:, :, ::-1])
    return str(path)


# -- blocks and tools tests in several folders share -------------------------------------------------------------


class SplitAttention(HybridBlock):
    """ResNeSt's 5-D broadcast: (N, R, C, 1, 1) * (N, R, C, H, W), then a sum over the radix axis."""

    def __init__(self, radix=2):
        super().__init__()
        self.radix = radix
        with self.name_scope():
            self.conv = nn.Conv2D(4 * radix, 3, padding=1)
            self.fc = nn.Dense(4 * radix)

    def hybrid_forward(self, F, x):
        y = self.conv(x)
        splited = F.reshape(y.expand_dims(1), (0, self.radix, 4, 0, 0))
        atten = self.fc(F.contrib.AdaptiveAvgPooling2D(F.sum(splited, axis=1), 1))
        atten = F.softmax(atten.reshape((0, 1, self.radix, -1)).swapaxes(1, 2), axis=1).reshape(
            (0, self.radix, -1, 1, 1)
        )
        return F.sum(F.broadcast_mul(atten, splited), axis=1)


def custom_mobilenetv2_ssd(num_classes=4):
    from gluoncv.model_zoo import SSD

    net = SSD(
        "mobilenetv2_1.0",
        512,
        features=["features_linearbottleneck13_relu60_relu6", "features_linearbottleneck16_relu60_relu6"],
        num_filters=[256, 256, 128, 128],
        sizes=[51.2, 102.4, 189.4, 276.4, 363.52, 450.6, 492],
        ratios=[[1, 2, 0.5]] + [[1, 2, 0.5, 3, 1.0 / 3]] * 3 + [[1, 2, 0.5]] * 2,
        steps=[16, 32, 64, 128, 256, 512],
        classes=[f"c{i}" for i in range(num_classes)],
        pretrained=False,
    )
    mx.random.seed(0)
    net.initialize()
    return net


CONVERT = textwrap.dedent(
    """
    import sys
    {blocker}
    from gluon2caffe import convert, load_exported, save_model
    prefix, out, shape = sys.argv[1], sys.argv[2], tuple(int(d) for d in sys.argv[3].split(","))
    result = convert(load_exported(prefix), shape)
    save_model(result.text_net, result.binary_weights, out)
    print("mxnet imported:", "mxnet" in sys.modules)
    """
)

BLOCK_MXNET = textwrap.dedent(
    """
    class NoMXNet:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("mxnet", "gluoncv"):
                raise ImportError(f"No module named {name!r} (blocked by the test)")
    sys.meta_path.insert(0, NoMXNet())
    """
)


def convert_in_child(prefix: str, out: Path, shape: tuple, backend: str, block: bool) -> tuple[bytes, bytes]:
    """(prototxt, caffemodel) bytes of a conversion in a fresh process (MXNet blocked if `block`)."""
    script = CONVERT.format(blocker=BLOCK_MXNET if block else "")
    env = dict(os.environ, GLUON2CAFFE_SHAPE_INFERENCE=backend, PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-c", script, prefix, str(out), ",".join(map(str, shape))],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert ("mxnet imported: False" in done.stdout) == block, done.stdout
    return Path(f"{out}.prototxt").read_bytes(), Path(f"{out}.caffemodel").read_bytes()
