"""Reference outputs saved where MXNet runs, compared with the Caffe files where it does not.

MXNet 1.9.1 imports only on Python <= 3.11. The workflow: on the old machine, `gluon2caffe reference MODEL -o
outputs.npz` (save_reference) runs the model on an input and saves that input and MXNet's outputs; on the new one,
`gluon2caffe verify PREFIX --reference outputs.npz` (verify_reference) feeds the same input to the Caffe net and
judges its outputs with the rules of `verify` (compare, TOLERANCE, judge), without importing MXNet.

The file is a plain .npz (read with allow_pickle=False: nothing in it is executed):

- `input:NAME`: each input as MXNet took it (float32, RGB for an image net; NAME is MXNet's input variable);
- `output:NAME`: each MXNet output, NAME being the tensor the Caffe output blob is named after (a Caffe output
  `NAME_softmax`, from convert --softmax, is compared with the softmax of `output:NAME`);
- `output2:NAME` (version 2): each MXNet output on a second input (verification.second_inputs: another seed, an
  image mirrored with noise), for the input-dependence check every verdict makes: an output the second input does not
  move, or a constant one, proves nothing (`not conclusive`). A file without them is not conclusive either, and says
  how to add them;
- `meta`: a JSON string: format, version, the model and input descriptions (also of the second input), the MXNet and
  gluon2caffe versions.

A net with one input and one output matches them whatever their names, so an .npz written by hand (np.savez with
`input:data`, `output:out` and `output2:out`) works too.
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import InvalidCallError
from ..caffe.io import read_prototxt
from .caffe_net import input_specs, net_outputs
from .compare import Dependence, input_dependence
from ..ir.preprocess import Preprocess
from .inputs import bgr_feed, make_inputs, second_inputs
from .precision import compare_in
from .runtimes import default_runtime, forward
from .verify import VerificationResult, _output_counterpart, _softmax

FORMAT, VERSION = "gluon2caffe-reference", 2
INPUT, OUTPUT, SECOND, META = "input:", "output:", "output2:", "meta"
# Why a reference without second outputs proves nothing, and what to do.
NO_SECOND = (
    "the reference holds no MXNet outputs for a second input (output2:NAME), so whether the outputs depend on the "
    "input cannot be checked: save it again with `gluon2caffe reference` (or add output2:NAME, MXNet's output for "
    "another input)"
)


@dataclass
class SavedReference:
    """Inputs and MXNet outputs by name, as saved by save_reference (or by hand), and what they came from."""

    inputs: dict[str, np.ndarray]
    outputs: dict[str, np.ndarray]
    meta: dict[str, Any] = field(default_factory=dict)
    path: str = ""
    second_outputs: dict[str, np.ndarray] = field(default_factory=dict)  # MXNet's outputs on a second input

    @property
    def description(self) -> str:
        model = self.meta.get("model", "?")
        return f"{model}, saved in {self.path}" if self.path else model


def save_reference(
    against: Any,
    input_shape: Any,
    path: str | os.PathLike,
    *,
    input: Any = None,
    seed: int = 0,
    description: str = "",
) -> SavedReference:
    """Run `against` (a HybridBlock or an ExportedModel) in MXNet on one input and save the input and every output
    to `path` (.npz), and every output on a second input (second_inputs). input_shape: one shape, or {input name:
    shape}; input: as `verify`'s (None: random, `seed`). Needs MXNet (the old machine)."""
    from .mxnet_reference import MXNetReference

    if isinstance(against, SavedReference):
        raise InvalidCallError("save_reference needs the MXNet model, not a saved reference")
    shapes = _input_shapes(against, input_shape)
    reference = MXNetReference(against, shapes)
    x, input_description = make_inputs(input, shapes, seed)
    outputs = reference.run(x, list(reference.outputs))
    x2, second_description = second_inputs(input, x, seed)
    second = reference.run(x2, list(reference.outputs))
    inputs = {reference.vars[name]: value for name, value in x.items()}
    import mxnet as mx

    from .. import __version__

    meta = {
        "format": FORMAT,
        "version": VERSION,
        "model": description or getattr(against, "name", None) or type(against).__name__,
        "input": input_description,
        "second_input": second_description,
        "mxnet": mx.__version__,
        "gluon2caffe": __version__,
    }
    saved = SavedReference(inputs, outputs, meta, str(path), second)
    write_reference(saved, path)
    return saved


def _input_shapes(against: Any, input_shape: Any) -> dict[str, tuple[int, ...]]:
    """{MXNet input name: shape}: an exported model's own input names, a live block's `data` (data0, ... for
    several, as the converter traces them)."""
    from ..frontend.exported import ExportedModel

    if isinstance(input_shape, dict):
        return {name: tuple(shape) for name, shape in input_shape.items()}
    if isinstance(against, ExportedModel):
        names = against.inputs
        shapes = [tuple(input_shape)] if isinstance(input_shape, tuple) else [tuple(s) for s in input_shape]
        if len(shapes) != len(names):
            raise InvalidCallError(f"{against.symbol_path}: the model's inputs are {names}; give {len(names)} shapes")
        return dict(zip(names, shapes))
    if isinstance(input_shape, tuple):
        return {"data": tuple(input_shape)}
    return {f"data{i}": tuple(shape) for i, shape in enumerate(input_shape)}


def write_reference(saved: SavedReference, path: str | os.PathLike) -> str:
    """Write the .npz (atomically: a temporary file moved into place). Returns the path."""
    path = os.fspath(path)
    arrays = {f"{INPUT}{name}": np.asarray(v) for name, v in saved.inputs.items()}
    arrays.update({f"{OUTPUT}{name}": np.asarray(v) for name, v in saved.outputs.items()})
    arrays.update({f"{SECOND}{name}": np.asarray(v) for name, v in saved.second_outputs.items()})
    arrays[META] = np.array(json.dumps(saved.meta, sort_keys=True))
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, f".{os.path.basename(path)}.tmp")
    try:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def load_reference(path: str | os.PathLike) -> SavedReference:
    """Read an .npz of inputs and outputs (see the module docstring); nothing in it is unpickled."""
    path = os.fspath(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
    except FileNotFoundError:
        raise InvalidCallError(f"--reference {path}: no such file") from None
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise InvalidCallError(f"--reference {path}: not a readable .npz ({exc})") from None
    inputs = {name[len(INPUT) :]: a for name, a in arrays.items() if name.startswith(INPUT)}
    outputs = {name[len(OUTPUT) :]: a for name, a in arrays.items() if name.startswith(OUTPUT)}
    second = {name[len(SECOND) :]: a for name, a in arrays.items() if name.startswith(SECOND)}
    if not inputs or not outputs:
        raise InvalidCallError(
            f"--reference {path}: expected arrays named input:NAME and output:NAME, found {sorted(arrays)} "
            "(`gluon2caffe reference` writes them)"
        )
    meta: dict[str, Any] = {}
    if META in arrays:
        try:
            meta = json.loads(str(arrays[META]))
        except ValueError:
            raise InvalidCallError(f"--reference {path}: its meta is not JSON") from None
    if meta.get("format", FORMAT) != FORMAT or int(meta.get("version", VERSION)) > VERSION:
        raise InvalidCallError(
            f"--reference {path}: format {meta.get('format')} v{meta.get('version')} is not one "
            f"this gluon2caffe reads ({FORMAT} v{VERSION})"
        )
    return SavedReference(inputs, outputs, meta, path, second)


def verify_reference(
    prototxt: str,
    caffemodel: str,
    reference: SavedReference,
    *,
    runtime: str | None = None,
    to_bgr: bool = True,
    preprocess: Preprocess | None = None,
) -> VerificationResult:
    """Run PROTOTXT/CAFFEMODEL on the saved input and compare each output with the saved MXNet output (the rules of
    `verify` without its layer checks, which need MXNet's internal tensors; the input dependence from the saved
    outputs on a second input, or not conclusive without them). No MXNet. `preprocess`: files that normalize their
    input themselves get the raw pixels of the saved (normalized) input."""
    runtime = runtime or default_runtime()
    text_net = read_prototxt(prototxt)
    shapes = input_specs(text_net)
    x = _match_inputs(reference, shapes)
    outputs = net_outputs(text_net)
    pairs = _match_outputs(reference, outputs)
    inputs, _ = make_inputs(x if len(x) > 1 else next(iter(x.values())), shapes)  # shapes and dtype checked
    blobs = forward(runtime, prototxt, caffemodel, bgr_feed(inputs, to_bgr, preprocess), outputs)
    described = reference.meta.get("input", "saved input")
    result = VerificationResult(runtime, {}, input_description=f"{described} (saved in {reference.path or 'memory'})")
    for name, (saved, softmax) in pairs.items():
        expected = _softmax(reference.outputs[saved], axis=1) if softmax else reference.outputs[saved]
        if blobs[name].size != expected.size:
            raise InvalidCallError(
                f"Caffe output {name!r} has {blobs[name].shape}, the saved output {saved!r} {expected.shape}: "
                "was the reference saved for this model and --input-shape?"
            )
        result.outputs[name] = compare_in(runtime, blobs[name].reshape(expected.shape), expected)
    result.dependence = _dependence(reference, pairs, result)
    return result


def _dependence(reference: SavedReference, pairs: dict[str, tuple[str, bool]], result: VerificationResult):
    """The input-dependence check from the saved second outputs (a Dependence without changes, saying what is
    missing, when the file has none for some output)."""
    if not all(saved in reference.second_outputs for saved, _ in pairs.values()):
        return Dependence(NO_SECOND, {}, {})
    first, second = {}, {}
    for name, (saved, softmax) in pairs.items():
        value, other = reference.outputs[saved], reference.second_outputs[saved]
        if np.size(other) != np.size(value):
            raise InvalidCallError(f"{SECOND}{saved} has {other.shape}, {OUTPUT}{saved} {value.shape}")
        first[name] = _softmax(value, axis=1) if softmax else value
        second[name] = _softmax(other.reshape(value.shape), axis=1) if softmax else other
    described = reference.meta.get("second_input", "the saved second input")
    return input_dependence(first, second, result.outputs, described)


def _match_inputs(reference: SavedReference, shapes: dict[str, tuple[int, ...]]) -> dict[str, np.ndarray]:
    """{Caffe input: saved array}: by name, or the one saved input for a net with one input (renamed by
    --input-name)."""
    saved = reference.inputs
    if len(shapes) == 1 and len(saved) == 1:
        return {next(iter(shapes)): next(iter(saved.values()))}
    missing = [name for name in shapes if name not in saved]
    if missing or len(saved) != len(shapes):
        raise InvalidCallError(f"the Caffe net's inputs are {list(shapes)}, the reference saved {list(saved)}")
    return {name: saved[name] for name in shapes}


def _match_outputs(reference: SavedReference, outputs: list[str]) -> dict[str, tuple[str, bool]]:
    """{Caffe output: (saved output, softmax appended)}: by the names the converter keeps (NAME, NAME_softmax), or
    the one saved output for a net with one output."""
    saved = list(reference.outputs)
    try:
        return {name: _output_counterpart(name, saved) for name in outputs}
    except InvalidCallError:
        if len(outputs) == 1 and len(saved) == 1:
            return {outputs[0]: (saved[0], False)}
        raise InvalidCallError(
            f"the Caffe net's outputs {outputs} are not among the saved outputs {saved}: was the reference saved for "
            "this model? (a detector's DetectionOutput has no saved counterpart: verify detectors against MXNet)"
        ) from None
