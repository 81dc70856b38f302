"""Run a converted model in a real runtime (pycaffe, OpenCV DNN) and compare it with MXNet.

`verify(...)` is the library entry point (the CLI's `gluon2caffe verify` and the tests use it): it runs the Caffe
files and the MXNet model on the same input and returns a VerificationResult with the error of every output and,
on request, of every intermediate blob that has an MXNet counterpart (Caffe blobs are named after the MXNet tensors
whose values they hold), so a user sees where a conversion goes wrong.
"""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np

from ..caffe.io import read_prototxt  # noqa: F401  (re-exported: verification's callers read prototxts)
from ..errors import InvalidCallError
from ..extras import import_mxnet
from ..ir.ops import has_rgb_axis
from .runtimes import (  # noqa: F401  (re-exported: the runtimes are part of verification's interface)
    RUNTIMES,
    Runtime,
    RuntimeUnavailableError,
    caffe_forward,
    default_runtime,
    forward,
    opencv_forward,
    register_runtime,
)

# The project's tolerance: max|caffe - mxnet| <= TOLERANCE * max(1, max|mxnet|).
TOLERANCE = 1e-4
BGR = [2, 1, 0]
# GluonCV's preprocessing: RGB in [0, 1], then this mean and std.
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)


# Verdicts. `exact`: every output within the tolerance end to end, every segment within it on MXNet's own inputs
# (verification/local.py, where it ran) and, for a detector, the detections equal to GluonCV's. `exact by layer`: every
# segment exact (and the detections equal) but the end-to-end output beyond the tolerance: the network amplifies
# float32 rounding; reported with both numbers, never counted as exact. `mismatch`: anything else.
EXACT, BY_LAYER, MISMATCH = "exact", "exact by layer", "mismatch"
# MXNet's own output holds NaN or inf (e.g. random weights that overflow): the input proves nothing either way.
NOT_FINITE = "not comparable: MXNet's own output is not finite (try another --seed or --input, or trained --params)"


def judge(end_to_end_ok: bool, local: Any = None, reference_finite: bool = True) -> str:
    """The verdict from the end-to-end comparison and the layer-local result (None where it did not run)."""
    if not reference_finite:
        return NOT_FINITE
    if local is not None and not local.ok:
        return MISMATCH
    if end_to_end_ok:
        return EXACT
    return BY_LAYER if local is not None else MISMATCH


@dataclass
class Comparison:
    max_abs: float
    scale: float  # max(1, max|reference|)
    reference_not_finite: int = 0  # NaN / inf values in MXNet's own output: nothing to compare, not a conversion error

    @property
    def relative(self) -> float:
        return self.max_abs / self.scale

    @property
    def reference_finite(self) -> bool:
        return not self.reference_not_finite

    @property
    def ok(self) -> bool:
        return self.reference_finite and self.relative <= TOLERANCE

    def __str__(self) -> str:
        if not self.reference_finite:
            return f"MXNet's own output is not finite ({self.reference_not_finite} NaN/inf values): not comparable"
        return f"max abs error {self.max_abs:.3g}, relative {self.relative:.3g} ({'ok' if self.ok else 'MISMATCH'})"


def compare(actual: np.ndarray, reference: np.ndarray) -> Comparison:
    actual, reference = np.asarray(actual, np.float64), np.asarray(reference, np.float64)
    if actual.shape != reference.shape:
        raise AssertionError(f"shape {actual.shape} != reference shape {reference.shape}")
    not_finite = int(np.size(reference) - np.count_nonzero(np.isfinite(reference)))
    if not_finite:
        return Comparison(float("nan"), 1.0, reference_not_finite=not_finite)
    if not np.all(np.isfinite(actual)):
        return Comparison(float("inf"), 1.0)
    max_abs = float(np.max(np.abs(actual - reference))) if actual.size else 0.0
    return Comparison(max_abs, max(1.0, float(np.max(np.abs(reference))) if reference.size else 1.0))


@dataclass
class BlobError:
    """The error of one Caffe blob against the MXNet tensor it stands for."""

    layer: str
    blob: str
    shape: tuple[int, ...]
    comparison: Comparison
    note: str = ""  # e.g. "channels 0/2 swapped (BGR)"


@dataclass
class VerificationResult:
    runtime: str
    outputs: dict[str, Comparison]
    layers: list[BlobError] = field(default_factory=list)  # layers="accumulated": every blob of one Caffe forward
    input_description: str = ""
    local: Any = None  # layers="local": a verification.local.LocalResult (every segment on MXNet's inputs)

    @property
    def ok(self) -> bool:
        """Exact: every output within the tolerance (and every segment, when the local check ran)."""
        return self.outputs_ok and (self.local is None or self.local.ok)

    @property
    def outputs_ok(self) -> bool:
        return all(c.ok for c in self.outputs.values())

    @property
    def status(self) -> str:
        """exact | exact by layer | mismatch | not comparable (see `judge`)."""
        status = judge(self.outputs_ok, self.local, all(c.reference_finite for c in self.outputs.values()))
        return verdict_in(self.runtime, status)  # a float16 runtime's pass is "within fp16" (precision.py)

    @property
    def first_divergence(self) -> BlobError | None:
        """The first blob, in graph order, whose error exceeds the tolerance: where the conversion goes wrong."""
        return next((b for b in self.layers if not b.comparison.ok), None)

    def layer_table(self) -> str:
        first = self.first_divergence
        rows = [f"{'#':>4}  {'layer':40}  {'blob':40}  {'shape':18}  {'max abs':>9}  {'relative':>9}"]
        for i, b in enumerate(self.layers):
            mark = "  <- first error above tolerance" if b is first else ""
            note = f"  [{b.note}]" if b.note else ""
            rows.append(
                f"{i:>4}  {b.layer[:40]:40}  {b.blob[:40]:40}  {str(b.shape)[:18]:18}  "
                f"{b.comparison.max_abs:9.2e}  {b.comparison.relative:9.2e}{mark}{note}"
            )
        return "\n".join(rows)


def verify(
    prototxt: str,
    caffemodel: str,
    against: Any,
    *,
    runtime: str | None = None,
    input: str | np.ndarray | None = None,
    layers: bool | str = False,
    to_bgr: bool = True,
    seed: int = 0,
) -> VerificationResult:
    """Run PROTOTXT/CAFFEMODEL and the MXNet model `against` (a HybridBlock or an ExportedModel) on one input.

    input: None or 'random' (both-sign normal noise, `seed`; input i of several gets seed + i), an image path (resized
    to the net's input and normalized the GluonCV way), or an RGB NCHW array; several inputs: a dict {name: any of
    these}. The Caffe net gets an input with 3 channels on axis 1 (rank >= 3) in BGR when `to_bgr`, as converted.
    runtime: 'caffe', 'opencv' or None (pycaffe when importable, else OpenCV).
    layers: False (outputs only); 'accumulated' (or True): every Caffe blob that has an MXNet counterpart, from one
    forward pass, so errors add up along the net; 'local': every segment of layers run on MXNet's own values of its
    inputs (verification/local.py), which proves each layer however ill-conditioned the net. Both need pycaffe.
    against: a SavedReference (load_reference("outputs.npz")) compares with outputs saved where MXNet runs, on the
    input saved with them (`input` and `seed` do not apply, nor the layer checks); no MXNet is imported then.
    """
    if isinstance(against, SavedReference):
        if layers or input is not None:
            raise InvalidCallError("against a saved reference: its own input, outputs only (no input=, no layers=)")
        return verify_reference(prototxt, caffemodel, against, runtime=runtime, to_bgr=to_bgr)
    runtime = runtime or default_runtime()
    mode = {False: None, True: "accumulated", "accumulated": "accumulated", "local": "local"}.get(layers, "?")
    if mode == "?":
        raise InvalidCallError(f"layers={layers!r}; expected False, 'accumulated' (or True) or 'local'")
    if mode and runtime != "caffe":
        raise InvalidCallError("per-layer comparison needs the caffe runtime (OpenCV does not expose every blob)")
    layers = mode == "accumulated"
    text_net = read_prototxt(prototxt)
    shapes = input_specs(text_net)
    x, description = make_inputs(input, shapes, seed)
    feed = bgr_feed(x, to_bgr)
    reference = MXNetReference(against, shapes)
    outputs = net_outputs(text_net)
    caffe_blobs = forward(runtime, prototxt, caffemodel, feed, outputs, all_blobs=layers)

    wanted = set(reference.tensors) & {top for layer in text_net.layer for top in layer.top} if layers else set()
    out_tensors = {name: _output_counterpart(name, reference.outputs) for name in outputs}
    ref = reference.run(x, sorted(wanted | {t for t, _ in out_tensors.values()}))
    result = VerificationResult(runtime, {}, input_description=description)
    for name, (tensor, softmax) in out_tensors.items():
        expected = _softmax(ref[tensor], axis=1) if softmax else ref[tensor]
        result.outputs[name] = compare_in(runtime, caffe_blobs[name].reshape(expected.shape), expected)
    if layers:
        result.layers = _per_layer(text_net, caffe_blobs, ref, wanted, to_bgr, set(shapes))
    if mode == "local":
        from .local import check_local

        result.local = check_local(prototxt, caffemodel, reference, x, to_bgr)
    return result


def _output_counterpart(name: str, mxnet_outputs: list[str]) -> tuple[str, bool]:
    """The MXNet output a Caffe output stands for, and whether a Softmax was appended (softmax=True)."""
    if name in mxnet_outputs:
        return name, False
    if name.endswith("_softmax") and name[: -len("_softmax")] in mxnet_outputs:
        return name[: -len("_softmax")], True
    raise InvalidCallError(f"Caffe output {name!r} has no MXNet counterpart among {mxnet_outputs}: wrong --against?")


def _per_layer(text_net: Any, blobs: dict, ref: dict, wanted: set, to_bgr: bool, inputs: set) -> list[BlobError]:
    rows = []
    for layer in text_net.layer:
        for top in layer.top:
            if top not in wanted or top in inputs or top not in blobs:
                continue
            actual, expected = blobs[top], ref[top]
            if actual.shape != expected.shape:
                actual = actual.reshape(expected.shape)
            c, note = compare(actual, expected), ""
            # Between a BGR input and the layer that absorbs the swap, blobs hold BGR-ordered channels.
            if to_bgr and not c.ok and expected.ndim >= 2 and expected.shape[1] == 3:
                swapped = compare(actual[:, BGR], expected)
                if swapped.ok:
                    c, note = swapped, "channels 0/2 swapped (BGR)"
            rows.append(BlobError(layer.name, top, tuple(expected.shape), c, note))
    return rows


PLOT_DPI = 100
PLOT_MAX_WIDTH = 16.0  # inches: 1600 px at PLOT_DPI, whatever the number of blobs
PLOT_MAX_NAMES = 80  # layer names on the x axis; a longer net names every k-th point


def plot_layers(result: VerificationResult, path: str) -> str:
    """Draw the error along the net (log scale) with the tolerance and the first error beyond it: the local error of
    every segment when the local check ran, else every blob's accumulated error. The x axis names the layers
    (rotated; every k-th of a long net, at most PLOT_MAX_NAMES); the image is at most PLOT_MAX_WIDTH wide
    (plot_size says how large). Returns path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if result.local is not None:
        points = [(s.layers[0], s.comparison.relative) for s in result.local.segments]
        first = result.local.first_failure
        first_index = result.local.segments.index(first) if first else None
        what = "local error (each segment on MXNet's inputs)"
    else:
        points = [(b.layer, b.comparison.relative) for b in result.layers]
        first = result.first_divergence
        first_index = result.layers.index(first) if first else None
        what = "accumulated error (one forward pass)"
    errors = [max(e, 1e-12) for _, e in points]
    fig, ax = plt.subplots(figsize=plot_size(len(errors), in_inches=True))
    ax.semilogy(range(len(errors)), errors, marker=".", linewidth=1)
    ax.axhline(TOLERANCE, color="red", linestyle="--", label=f"tolerance {TOLERANCE:g}")
    if first_index is not None:
        ax.axvline(first_index, color="orange", label=f"first error: {points[first_index][0]}")
    step = -(-len(points) // PLOT_MAX_NAMES) if points else 1
    shown = list(range(0, len(points), step))
    ax.set_xticks(shown)
    ax.set_xticklabels([points[i][0] for i in shown], rotation=90, fontsize=6)
    ax.set_xlim(-1, max(len(points), 1))
    ax.set_xlabel(f"layer, in net order ({len(points)} points" + (f", one in {step} named)" if step > 1 else ")"))
    ax.set_ylabel("max |caffe - mxnet| / max(1, max |mxnet|)")
    ax.set_title(f"{what} ({result.runtime})")
    ax.legend(loc="upper left")
    fig.tight_layout()
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fig.savefig(path, dpi=PLOT_DPI)
    plt.close(fig)
    return path


def plot_size(points: int, in_inches: bool = False) -> tuple[float, float]:
    """(width, height) of plot_layers' image for this many points: pixels at PLOT_DPI (or inches)."""
    width, height = max(8.0, min(PLOT_MAX_WIDTH, 0.1 * points)), 6.0
    return (width, height) if in_inches else (width * PLOT_DPI, height * PLOT_DPI)


# -- inputs ------------------------------------------------------------------------------------------------------


def make_inputs(source: Any, shapes: dict[str, tuple[int, ...]], seed: int = 0) -> tuple[dict[str, np.ndarray], str]:
    """({input name: RGB array}, description) for the net's inputs: `source` as in make_input, or a dict of them by
    input name; random inputs get seed, seed + 1, ... in input order."""
    if len(shapes) == 1 and not isinstance(source, dict):
        name, shape = next(iter(shapes.items()))
        x, description = make_input(source, shape, seed)
        return {name: x}, description
    sources = source if isinstance(source, dict) else {}
    if not isinstance(source, dict) and source not in (None, "random"):
        raise InvalidCallError(f"the net has {len(shapes)} inputs {list(shapes)}: give input as {{name: ...}}")
    unknown = set(sources) - set(shapes)
    if unknown:
        raise InvalidCallError(f"input names {sorted(unknown)} are not inputs of the net {list(shapes)}")
    inputs, descriptions = {}, []
    for i, (name, shape) in enumerate(shapes.items()):
        inputs[name], description = make_input(sources.get(name), shape, seed + i)
        descriptions.append(f"{name}: {description}")
    return inputs, "; ".join(descriptions)


def bgr_feed(inputs: dict[str, np.ndarray], to_bgr: bool) -> dict[str, np.ndarray]:
    """What the Caffe net is fed: with to_bgr, the inputs the conversion swapped (a 3-channel axis 1) in BGR."""
    return {
        name: np.ascontiguousarray(x[:, BGR]) if to_bgr and has_rgb_axis(x.shape) else x for name, x in inputs.items()
    }


def make_input(source: str | np.ndarray | None, shape: tuple[int, ...], seed: int = 0) -> tuple[np.ndarray, str]:
    """(RGB NCHW float32 input, description)."""
    if isinstance(source, np.ndarray):
        if tuple(source.shape) != tuple(shape):
            raise InvalidCallError(f"input array has shape {source.shape}, the net takes {shape}")
        return source.astype(np.float32), "given array"
    if source is None or source == "random":
        x = np.random.RandomState(seed).normal(0, 1, shape).astype(np.float32)
        return x, f"random normal (seed {seed})"
    if len(shape) != 4:
        raise InvalidCallError(f"an image input needs an (N, C, H, W) net; this input is {shape}: use 'random'")
    if source == "scene":
        return synthetic_scene(shape, seed), f"synthetic scene (seed {seed}, ImageNet mean/std)"
    return load_image(source, shape), f"image {source} (resized, ImageNet mean/std)"


IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)


NOISE = 0.25
TEXTURE = 0.0


def synthetic_scene(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """A real-looking input without a real image: a background gradient, a few rectangles and ellipses (objects
    with edges) carrying striped textures, and pixel noise, in [0, 1] RGB, normalized like GluonCV's inputs.

    Texture matters: flat regions make channels nearly constant, and a BatchNorm that subtracts a mean close to the
    value then divides by a tiny deviation turns float32 rounding into 1e-4 relative errors (measured: MXNet float32
    vs float64 on a random SSD fed flat scenes); textured scenes keep the random nets well conditioned."""
    n, c, h, w = shape
    rng = np.random.RandomState(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    images = []
    for _ in range(n):
        img = np.empty((h, w, c), np.float32)
        for ch in range(c):
            a, b, d = rng.uniform(-0.5, 0.5, 3)
            img[:, :, ch] = 0.5 + a * yy / h + b * xx / w + d * 0.3
        for _ in range(rng.randint(3, 8)):
            y0, x0 = rng.uniform(0, h), rng.uniform(0, w)
            ry, rx = rng.uniform(0.05, 0.3) * h, rng.uniform(0.05, 0.3) * w
            if rng.rand() < 0.5:
                mask = (np.abs(yy - y0) < ry) & (np.abs(xx - x0) < rx)
            else:
                mask = ((yy - y0) / ry) ** 2 + ((xx - x0) / rx) ** 2 < 1
            fy, fx, phase = rng.uniform(0.05, 0.6), rng.uniform(0.05, 0.6), rng.uniform(0, 2 * np.pi)
            texture = TEXTURE * np.sin(fy * yy + fx * xx + phase)[mask]  # stripes, grain: objects are not flat
            img[mask] = rng.uniform(0, 1, c) + texture[:, None]
        img += rng.normal(0, NOISE, img.shape)
        img = np.clip(img, 0, 1)
        images.append(((img - IMAGENET_MEAN[:c]) / IMAGENET_STD[:c]).transpose(2, 0, 1))
    return np.stack(images).astype(np.float32)


def load_image(path: str, shape: tuple[int, ...]) -> np.ndarray:
    """An image as GluonCV models expect it: RGB, [0, 1], normalized by the ImageNet mean/std, NCHW."""
    from PIL import Image, UnidentifiedImageError

    n, c, h, w = shape
    if c != 3:
        raise InvalidCallError(f"an image input needs a 3-channel net; this one takes {c} channels")
    try:
        with Image.open(path) as image:
            rgb = np.asarray(image.convert("RGB").resize((w, h), Image.BILINEAR), np.float32) / 255.0
    except (OSError, UnidentifiedImageError) as exc:
        raise InvalidCallError(f"cannot read image {path}: {exc}") from None
    x = ((rgb - IMAGENET_MEAN) / IMAGENET_STD).transpose(2, 0, 1)[None]
    return np.repeat(x, n, axis=0).astype(np.float32)


# -- the Caffe side ----------------------------------------------------------------------------------------------


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


def mxnet_forward(block: Any, *inputs: np.ndarray) -> list[np.ndarray]:
    mx = import_mxnet("running a model in MXNet")

    out = block(*[mx.nd.array(x) for x in inputs])
    outs = out if isinstance(out, (list, tuple)) else [out]
    return [o.asnumpy() for o in outs]


class MXNetReference:
    """The MXNet model as a symbol + parameters, able to return any internal tensor by its IR name.

    `against` is a HybridBlock (a GluonCV detector too: its whole graph, whose head the converter cuts off) or an
    ExportedModel. `aliases` maps Caffe blobs that renamed a tensor (a detector's mbox_loc) to it (`tensor_of`).
    `input_shape`: one shape (the Caffe input `input_name`) or {Caffe input name: shape} for several (an exported
    model's inputs keep their names, a block's are traced so).
    """

    def __init__(self, against: Any, input_shape: Any, input_name: str = "data"):
        from ..frontend.exported import ExportedModel
        from ..frontend.mxnet_graph import internal_tensor_names, unique_source_names

        import_mxnet("comparing with MXNet (verify --reference compares with saved outputs instead)")
        shapes = dict(input_shape) if isinstance(input_shape, dict) else {input_name: tuple(input_shape)}
        self.aliases: dict[str, str] = {}  # Caffe blob -> MXNet tensor, where the converter renamed a tensor
        if isinstance(against, ExportedModel):
            self.symbol, self.params = against.symbol(), against.params
            inputs = against.inputs
            if len(inputs) != len(shapes) or (len(inputs) > 1 and set(inputs) != set(shapes)):
                raise InvalidCallError(f"{against.symbol_path}: the model's inputs are {inputs}, not {list(shapes)}")
            # Caffe input -> MXNet variable: a single input may have been renamed (input_name).
            self.vars = dict(zip(shapes, inputs)) if len(inputs) == 1 else {name: name for name in shapes}
        else:
            traced = shapes if len(shapes) > 1 else next(iter(shapes.values()))
            self.symbol, self.params = _trace_reference(against, traced, next(iter(shapes)))
            self.vars = {name: name for name in shapes}
        self.input_names = list(shapes)
        self.input_name = self.input_names[0]
        self.var = self.vars[self.input_name]
        doc = json.loads(self.symbol.tojson())
        source_names = unique_source_names(doc["nodes"])
        self.tensors = internal_tensor_names(self.symbol, source_names)
        self.outputs = [_head_name(doc, head) for head in doc["heads"]]
        # The Caffe input may have been renamed (input_name); MXNet's own variable keeps its name.
        caffe_name = {var: name for name, var in self.vars.items()}
        self.tensors = [caffe_name.get(t, t) for t in self.tensors]
        self._index = {t: i for i, t in enumerate(self.tensors)}
        ops = {name: raw["op"] for name, raw in zip(source_names, doc["nodes"])}
        self.nodes = {t: _node_of(t, ops) for t in self.tensors}  # tensor -> (MXNet node, op)
        for name, var in self.vars.items():
            self.nodes[name] = (var, "null")

    def tensor_of(self, blob: str) -> str | None:
        """The MXNet tensor a Caffe blob holds, or None for a blob of the converter's own."""
        tensor = self.aliases.get(blob, blob)
        return tensor if tensor in self._index else None

    def run(self, x: np.ndarray | dict[str, np.ndarray], tensors: list[str]) -> dict[str, np.ndarray]:
        """Forward pass (inference) returning the named tensors; x: the input, or {Caffe input name: array}."""
        import mxnet as mx

        inputs = x if isinstance(x, dict) else {self.input_name: x}
        if set(inputs) != set(self.vars):
            raise InvalidCallError(f"the model's inputs are {list(self.vars)}, got arrays for {list(inputs)}")
        by_var = {self.vars[name]: value for name, value in inputs.items()}

        only_outputs = set(tensors) <= set(self.outputs)
        if only_outputs:
            group, names = self.symbol, self.outputs
        else:
            internals = self.symbol.get_internals()
            group, names = mx.sym.Group([internals[self._index[t]] for t in tensors]), tensors
        args = {}
        for name in group.list_arguments():
            args[name] = mx.nd.array(by_var[name] if name in by_var else self.params[name])
        aux = {name: mx.nd.array(self.params[name]) for name in group.list_auxiliary_states()}
        with _no_subgraph_backend(enabled=not only_outputs):
            executor = group.bind(mx.cpu(), args=args, aux_states=aux, grad_req="null")
            values = executor.forward(is_train=False)
        return {t: v.asnumpy() for t, v in zip(names, values)}


def _trace_reference(against: Any, input_shape: Any, input_name: str) -> tuple[Any, dict[str, np.ndarray]]:
    """Trace a block as the converter does (a detector whole: the converter cuts its head off the same graph)."""
    from ..frontend.mxnet_graph import trace_block

    return trace_block(against, input_shape, input_name)


def _node_of(tensor: str, ops: dict[str, str]) -> tuple[str, str]:
    from ..frontend.mxnet_graph import _OUTPUT_SUFFIX

    if tensor in ops:
        return tensor, ops[tensor]
    match = _OUTPUT_SUFFIX.match(tensor)
    node = match.group("node") if match else tensor
    return node, ops.get(node, "?")


def _head_name(doc: dict, head: list[int]) -> str:
    from ..frontend.mxnet_graph import tensor_name, unique_source_names

    name = unique_source_names(doc["nodes"])[head[0]]
    return name if doc["nodes"][head[0]]["op"] == "null" else tensor_name(name, head[1])


@contextmanager
def _no_subgraph_backend(enabled: bool = True) -> Iterator[None]:
    """MXNet's default subgraph backend gives wrong final outputs when BatchNorm internals are bound beside them."""
    if not enabled:
        yield
        return
    old = os.environ.get("MXNET_SUBGRAPH_BACKEND")
    os.environ["MXNET_SUBGRAPH_BACKEND"] = "NONE"
    try:
        yield
    finally:
        if old is None:
            del os.environ["MXNET_SUBGRAPH_BACKEND"]
        else:
            os.environ["MXNET_SUBGRAPH_BACKEND"] = old


def _softmax(x: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


# A float16 runtime's rule and verdict (rknn); saved reference outputs (where MXNet cannot run): imported last, the
# modules use the names above.
from .precision import compare_in, verdict_in  # noqa: E402
from .reference import SavedReference, load_reference, save_reference, verify_reference  # noqa: E402, F401
