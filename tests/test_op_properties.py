"""The operator property suite: every registered op over MXNet 1.9.1's attribute space, in every runtime.

For each op (tests/op_space.py draws its attributes and input shapes from MXNet's own parameter definitions), a
one-op symbol-API graph (or the op in a minimal context) is built exactly as drawn, converted, and run in the real
runtime. Exactly one of two outcomes is allowed:

  (a) exact: every output equals MXNet's under `verification.compare` (whatever tolerance rule it holds), and
      MXNet's output depends on the input; or
  (b) refused: a Gluon2CaffeError, one line, naming one of the graph's nodes.

Anything else fails: another exception (a traceback), a runtime that aborts or cannot load the files (the forward
runs in a persistent child process, tools.child_forward.ForwardWorker, so a Caffe CHECK is a failure with its
message, not a dead pytest worker), a mismatch, a non-finite value where MXNet's is finite. A runtime that fails on
files written for target 'any' (or its own target) is a failure, never a skip: until the converter avoids it, it is
listed in KNOWN_FAILURES below (which the lead empties as the fixes land; each entry also runs as a strict xfail).

Examples that prove nothing are not counted as passes: MXNet refusing the drawn attributes (MXNetError), a tensor
without values, MXNet's own output not finite, or an output that a second input does not move or that is constant
("dead"). They are hypothesis rejections, counted per op in OUTCOMES, and test_outcomes_are_bounded fails when dead
examples are more than MAX_DEAD of a runtime's (MAX_DEAD_PER_OP of an op's), or when an op never converted exactly
in pycaffe. A graph MXNet 1.9.1 cannot run at all (a Reshape to another size: its size check is compiled out and its
forward corrupts the heap) is never run in MXNet; the converter must refuse it.

Profiles: `make test` runs "ci" (a fixed seed per op and runtime; EXAMPLES below: 300+ in pycaffe, fewer per
runtime); `make fuzz` runs "fuzz" (random; OP_FUZZ_EXAMPLES in pycaffe, default 5000, spread by the same weights).
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
import tempfile
import warnings
import zlib
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable

import mxnet as mx
import numpy as np
import pytest
from conftest import runtime_or_skip
from hypothesis import HealthCheck, event, given, reject, seed, settings
from hypothesis import strategies as st
from op_space import CASES, Built, Case, build, param_value

from gluon2caffe import Gluon2CaffeError, convert, load_exported, save_model
from gluon2caffe.converters.registry import REGISTRY
from gluon2caffe.frontend.shapes import ENV as SHAPE_INFERENCE
from gluon2caffe.tools.child_forward import ForwardWorker
from gluon2caffe.verification import compare
from gluon2caffe.verification.runtimes import RuntimeFailedError

PROFILE = os.environ.get("GLUON2CAFFE_FUZZ_PROFILE", "ci")
RUNTIMES = ("caffe", "opencv", "mnn", "ncnn")
# pycaffe examples per op in the ci profile (300+ in all): more where the attribute space is larger.
EXAMPLES = {
    "Pooling": 30,
    "Convolution": 24,
    "Deconvolution": 24,
    "Reshape": 18,
    "BatchNorm": 14,
    "slice": 12,
    "Pad": 12,
    "FullyConnected": 10,
    "_contrib_BilinearResize2D": 10,
    "_contrib_AdaptiveAvgPooling2D": 8,
    "mean": 10,
    "sum": 8,
    "broadcast_add": 8,
    "broadcast_sub": 8,
    "broadcast_mul": 8,
    "UpSampling": 8,
    "slice_axis": 8,
    "slice_like": 8,
    "Concat": 8,
    "softmax": 8,
    "transpose": 8,
    "LeakyReLU": 8,
    "clip": 8,
    "broadcast_like": 8,
    "L2Normalization": 8,
    "squeeze": 6,
    "SwapAxis": 6,
    "expand_dims": 5,
    "repeat": 6,
    "add_n": 6,
    "Dropout": 6,
    "topk": 8,
    "LayerNorm": 6,
    "GroupNorm": 6,
    "take": 6,
    "split": 6,
    "_split_v2": 6,
    "norm": 6,
    "where": 6,
    "dot": 6,
    "_equal_scalar": 8,  # refused under target any (Threshold): pycaffe needs examples of target caffe
    "_not_equal_scalar": 6,
}
DEFAULT_EXAMPLES = 4
RUNTIME_SHARE = 0.25  # a runtime runs this share of an op's pycaffe examples (at least 2)
FUZZ_EXAMPLES = int(os.environ.get("OP_FUZZ_EXAMPLES", "5000"))
# Dead examples (MXNet's output independent of the input), of those that reached MXNet's output: per runtime over
# every op, and per op (a few ops draw many small outputs, e.g. x / 1e4, that the tolerance cannot tell apart).
MAX_DEAD, MAX_DEAD_PER_OP = 0.2, 0.5
MIN_PER_OP = 8  # an op's own bound applies from this many examples on (a runtime runs a few per op)
# Outcomes per (runtime, op): exact, refused, known (a KNOWN_FAILURES entry), and the rejections: mxnet (MXNet
# refused the attributes), not finite (MXNet's own output), dead.
OUTCOMES: dict[tuple[str, str], Counter] = {}
TRACE = bool(os.environ.get("OP_PROPERTIES_TRACE"))  # print every example to stderr before it runs
CONVERTED: dict[str, Any] = {}  # "net": the last example's converted net (KnownFailure.matches reads it)
REFUSALS: dict[tuple[str, str], Counter] = {}  # the refusals' messages (node names left out) per (runtime, op)


def examples(runtime: str, op: str) -> int:
    weight = EXAMPLES.get(op, DEFAULT_EXAMPLES)
    if PROFILE == "fuzz":
        weight = max(1, round(weight * FUZZ_EXAMPLES / ci_total()))
    return weight if runtime == "caffe" else max(2, round(weight * RUNTIME_SHARE))


def ci_total() -> int:
    return sum(EXAMPLES.get(op, DEFAULT_EXAMPLES) for op in REGISTRY)


def profile(runtime: str, op: str) -> settings:
    return settings(
        max_examples=examples(runtime, op),
        derandomize=False,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        print_blob=True,
    )


# -- known failures: the lead empties this list as the fixes land --------------------------------------------------


@dataclass(frozen=True)
class KnownFailure:
    """An open bug the suite finds: one of `ops` in `runtime` ('caffe' is pycaffe; '*' every runtime: the conversion
    itself fails), for cases `matches` accepts (given the case and the converted net, None where the conversion
    failed), failing with a message matching `happens` (a regex: another failure of the same case still fails).
    `example` is its minimal repro, run by test_known_failure_still_fails (a strict xfail: once fixed, it fails until
    the entry is removed)."""

    ops: tuple[str, ...]
    runtime: str
    attributes: str  # the cases, in words
    happens: str  # regex of the failure message
    matches: Callable[[Case, Any], bool]
    example: Case
    owner: str  # who fixes it (the issue and the helper)


def layers(net: Any, *types: str) -> list:
    return [layer for layer in net.layer if layer.type in types] if net is not None else []


def anisotropic_dilation(net: Any) -> bool:
    """A Convolution/Deconvolution whose two dilations differ (every dilated 1-D one, written with a unit height)."""
    return any(len(set(c.convolution_param.dilation)) > 1 for c in layers(net, "Convolution", "Deconvolution"))


def dilated_deconvolution(net: Any) -> bool:
    return any(max(d.convolution_param.dilation, default=1) > 1 for d in layers(net, "Deconvolution"))


def nd_convolution(case: Case, net: Any) -> bool:
    """Caffe's N-D (3-D) Convolution/Deconvolution: a 3-D kernel on a 5-D input."""
    return case.op in CONV_OPS and len(case.attrs.get("kernel", ())) == 3 and len(case.inputs[0]) == 5


def only_inputs(net: Any) -> bool:
    """No layer computes anything: the graph's output is its input."""
    return net is not None and not [layer for layer in net.layer if layer.type not in ("Input", "Silence")]


def unread_input(net: Any) -> bool:
    """An Input whose blob only a Silence (or nothing) reads."""
    read = {bottom for layer in net.layer if layer.type != "Silence" for bottom in layer.bottom} if net else set()
    return any(layer.top[0] not in read for layer in layers(net, "Input"))


def pooling_drops_a_window(case: Case, net: Any) -> bool:
    """A padded Pooling where Caffe's rule drops the last window (it would start in the padding)."""
    from gluon2caffe.converters.pooling import caffe_pooled_size

    if case.op != "Pooling" or case.attrs.get("global_pool") or len(case.inputs[0]) not in (3, 4):
        return False
    kernel, stride, pad = (case.attrs.get(k, ()) for k in ("kernel", "stride", "pad"))
    sizes = case.inputs[0][2:]
    if len(sizes) == 1:  # 1-D pooling runs as 2-D with a unit height
        sizes, kernel, stride, pad = (1, *sizes), (1, *kernel[:1]), (1, *stride[:1]), (0, *pad[:1])
    for axis in (0, 1):
        k = kernel[axis] if len(kernel) > axis else (kernel[0] if kernel else 1)
        s = stride[axis] if len(stride) > axis else (stride[0] if stride else 1)
        p = pad[axis] if len(pad) > axis else (pad[0] if pad else 0)
        ceil = int(math.ceil((sizes[axis] + 2 * p - k) / s)) + 1
        if p and caffe_pooled_size(sizes[axis], k, p, s) != ceil:
            return True
    return False


def moves_the_batch(case: Case, net: Any) -> bool:
    """Anything ncnn cannot run one image at a time: inputs of different batch sizes, a layer along axis 0, a Reshape
    or Permute that moves the batch axis, an output whose first axis is not the batch."""
    if net is None:
        return False
    batches = {shape[0] for shape in case.inputs}
    if len(batches) > 1:
        return True
    for layer in net.layer:
        fields = ("concat_param", "slice_param", "crop_param", "tile_param", "softmax_param", "scale_param")
        for field in fields + ("inner_product_param",):
            if layer.HasField(field) and getattr(layer, field).axis == 0:
                return True
        if layer.type == "Reshape" and list(layer.reshape_param.shape.dim)[:1] != [0]:
            return True
        if layer.type == "Permute" and list(layer.permute_param.order)[:1] != [0]:
            return True
    return False


def pad_not_below_kernel(case: Case) -> bool:
    kernel, pad = case.attrs.get("kernel", ()), case.attrs.get("pad", ())
    if len(pad) == 1:
        pad = pad * len(kernel)
    return any(p >= k for p, k in zip(pad, kernel))


def _case_is(predicate: Callable[[Case], bool]) -> Callable[[Case, Any], bool]:
    return lambda case, net: predicate(case)


def _net_has(predicate: Callable[[Any], bool]) -> Callable[[Case, Any], bool]:
    return lambda case, net: predicate(net)


RT29 = "issue 29 (helper rt29): a converter form that runtime computes"
CONV_OPS = ("Convolution", "Deconvolution")
IDENTITIES = ("_copy", "identity", "Dropout", "slice", "slice_axis", "slice_like", "Concat", "add_n", "squeeze")
IDENTITIES += ("_contrib_BilinearResize2D", "_contrib_AdaptiveAvgPooling2D", "broadcast_like", "Pad", "expand_dims")
ALL_OPS = tuple(CASES)
KNOWN_FAILURES: list[KnownFailure] = [
    # -- the conversion itself (every runtime) ---------------------------------------------------------------------
    KnownFailure(
        ("Deconvolution",),
        "*",
        "target_shape implying a pad, no pad given: the converter follows MXNet's reference kernel (as "
        "tests/test_deconv.py does); its default CPU oneDNN kernel refuses most such cases but runs some from pad 0",
        r"MISMATCH",
        _case_is(lambda case: bool(case.attrs.get("target_shape")) and not any(case.attrs.get("pad", ()))),
        Case(
            "Deconvolution",
            {"kernel": (1, 2), "num_filter": 1, "stride": (1, 2), "target_shape": (1, 1)},
            ((1, 2, 1, 1),),
        ),
        "the lead: refuse (as for a given pad, converters/deconv.py) or keep the reference kernel's answer",
    ),
    # -- OpenCV 4.11 -----------------------------------------------------------------------------------------------
    KnownFailure(
        ("Deconvolution",),
        "opencv",
        "dilation > 1: OpenCV sizes (and computes) the Deconvolution as if undilated",
        r"shape \(.*\), MXNet's|reshape_layer|MISMATCH|getLayerShapesRecursively",
        _net_has(dilated_deconvolution),
        Case("Deconvolution", {"kernel": (3, 3), "num_filter": 2, "dilate": (2, 2)}, ((1, 2, 4, 5),)),
        RT29,
    ),
    KnownFailure(
        ("Deconvolution",),
        "opencv",
        "a pad not below the kernel (a 1-D deconvolution's pad 1 with kernel 1): OpenCV crashes or computes another "
        "output",
        r"MISMATCH|crashed|shape \(.*\), MXNet's",
        _case_is(lambda case: pad_not_below_kernel(case)),
        Case("Deconvolution", {"kernel": (1, 1), "num_filter": 1, "pad": (0, 1)}, ((1, 2, 3, 3),)),
        RT29,
    ),
    KnownFailure(
        IDENTITIES,
        "opencv",
        "the graph's output is its input (no layer): OpenCV cannot forward an empty net",
        r"!empty\(\) in function 'forward'",
        _net_has(only_inputs),
        Case("_copy", {}, ((2, 3, 4, 5),)),
        RT29,
    ),
    KnownFailure(
        ALL_OPS,
        "opencv",
        "a Bias layer (a tensor plus a broadcast constant): OpenCV cannot create it",
        r"Can't create layer .* of type \"?Bias|type Bias|Unspecified error",
        _net_has(lambda net: bool(layers(net, "Bias"))),
        Case("broadcast_add", {}, ((2, 3, 4),), params=((1, (1, 3, 4)),)),
        RT29,
    ),
    KnownFailure(
        CONV_OPS,
        "opencv",
        "3-D convolution (Caffe's N-D Convolution)",
        r"error|shape \(.*\), MXNet's|MISMATCH|crashed",
        nd_convolution,
        Case("Convolution", {"kernel": (3, 3, 3), "num_filter": 2}, ((1, 2, 4, 5, 5),)),
        RT29 + " (documented as pycaffe-only)",
    ),
    KnownFailure(
        ("L2Normalization",),
        "opencv",
        "mode 'instance' (Normalize across_spatial): OpenCV wants one scale per plane",
        r"scale.total\(\) == numPlanes",
        _net_has(lambda net: any(layer.norm_param.across_spatial for layer in layers(net, "Normalize"))),
        Case("L2Normalization", {"mode": "instance"}, ((1, 2, 1, 2),)),
        RT29,
    ),
    KnownFailure(
        ("LeakyReLU",),
        "opencv",
        "a shared PReLU slope (one value, Caffe's 0-d blob; Gluon's PReLU default): OpenCV cannot read a 0-d blob",
        r"CV_MAX_DIM|Assertion failed",
        _net_has(lambda net: any(layer.prelu_param.channel_shared for layer in layers(net, "PReLU"))),
        Case("LeakyReLU", {"act_type": "prelu"}, ((2, 1, 4, 5),)),
        RT29,
    ),
    # -- MNN 3.6.1 ---------------------------------------------------------------------------------------------------
    KnownFailure(
        ALL_OPS,
        "mnn",
        "a Split (an output other layers read, or an output that is a copy of the input) or no layer at all: MNN "
        "drops the Split and its tops, or the input",
        r"Get (output|input) failed",
        _net_has(lambda net: bool(layers(net, "Split")) or only_inputs(net)),
        Case("relu", {}, ((2, 3, 4, 5),), context="consumed"),
        RT29,
    ),
    KnownFailure(
        ALL_OPS,
        "mnn",
        "an input no layer reads (the shape-only reference of broadcast_like or slice_like): MNN drops the input",
        r"Get input failed",
        _net_has(unread_input),
        Case("broadcast_like", {}, ((2, 1), (2, 2))),
        RT29,
    ),
    KnownFailure(
        CONV_OPS,
        "mnn",
        "unequal dilations (every dilated 1-D convolution): MNN swaps them",
        r"shape \(.*\), MXNet's|MISMATCH|negative dimensions|non-finite",
        _net_has(anisotropic_dilation),
        Case("Convolution", {"kernel": (3, 3), "num_filter": 2, "dilate": (1, 2)}, ((1, 2, 6, 7),)),
        RT29,
    ),
    KnownFailure(
        CONV_OPS,
        "mnn",
        "3-D convolution (Caffe's N-D Convolution)",
        r"shape \(.*\), MXNet's|failed|crashed",
        nd_convolution,
        Case("Convolution", {"kernel": (3, 3, 3), "num_filter": 2}, ((1, 2, 4, 5, 5),)),
        RT29 + " (documented as pycaffe-only)",
    ),
    KnownFailure(
        ("softmax",),
        "mnn",
        "a Softmax along axis 0 (the batch): MNN computes another axis (silently wrong)",
        r"MISMATCH",
        _net_has(lambda net: any(layer.softmax_param.axis == 0 for layer in layers(net, "Softmax"))),
        Case("softmax", {}, ((2,),)),
        RT29,
    ),
    KnownFailure(
        ("FullyConnected",),
        "mnn",
        "flatten=False on a 5-D input (InnerProduct along axis 4)",
        r"shape \(.*\), MXNet's|crashed",
        _case_is(lambda case: len(case.inputs[0]) == 5 and case.attrs.get("flatten") is False),
        Case("FullyConnected", {"num_hidden": 2, "flatten": False}, ((1, 2, 3, 2, 3),)),
        RT29,
    ),
    # -- ncnn ------------------------------------------------------------------------------------------------------
    KnownFailure(
        ALL_OPS,
        "ncnn",
        "the batch axis moved or mixed (inputs of different batch sizes, a layer along axis 0, a Reshape or Permute "
        "of the batch): ncnn runs one image at a time",
        r".",
        moves_the_batch,
        Case("Concat", {"num_args": 2, "dim": 0}, ((1, 1, 2, 1), (1, 1, 2, 1))),
        RT29,
    ),
    KnownFailure(
        ALL_OPS,
        "ncnn",
        "a 5-D blob (4-D without the batch): ncnn holds at most 4-D",
        r"shape \(.*\), MXNet's|MISMATCH|could not|crashed|non-finite",
        lambda case, net: (
            any(len(shape) >= 5 for shape in case.inputs)
            or any(len(layer.reshape_param.shape.dim) >= 5 for layer in layers(net, "Reshape"))
        ),
        Case("expand_dims", {"axis": 0}, ((1, 1, 1, 2),)),
        RT29,
    ),
    KnownFailure(
        CONV_OPS,
        "ncnn",
        "unequal dilations (every dilated 1-D convolution): ncnn computes another dilation (silently wrong) or fails",
        r"shape \(.*\), MXNet's|MISMATCH|non-finite|could not compute|crashed",
        _net_has(anisotropic_dilation),
        Case("Convolution", {"kernel": (3, 3), "num_filter": 2, "dilate": (1, 2)}, ((1, 2, 6, 7),)),
        RT29,
    ),
    KnownFailure(
        ("transpose", "SwapAxis"),
        "ncnn",
        "a Permute of a 3-D blob: ncnn cannot compute it",
        r"could not compute blob",
        _net_has(lambda net: any(len(layer.permute_param.order) == 3 for layer in layers(net, "Permute"))),
        Case("transpose", {"axes": (0, 2, 1)}, ((2, 3, 4),)),
        RT29,
    ),
    KnownFailure(
        CONV_OPS,
        "ncnn",
        "3-D convolution (Caffe's N-D Convolution)",
        r"shape \(.*\), MXNet's|failed|crashed",
        nd_convolution,
        Case("Convolution", {"kernel": (3, 3, 3), "num_filter": 2}, ((1, 2, 4, 5, 5),)),
        RT29 + " (documented as pycaffe-only)",
    ),
    KnownFailure(
        ("FullyConnected",),
        "ncnn",
        "flatten=False on a 3-D or higher input (InnerProduct along the last axis): ncnn flattens",
        r"shape \(.*\), MXNet's|MISMATCH",
        _case_is(lambda case: len(case.inputs[0]) >= 3 and case.attrs.get("flatten") is False),
        Case("FullyConnected", {"num_hidden": 2, "flatten": False}, ((1, 2, 3, 3),)),
        RT29,
    ),
    KnownFailure(
        ("slice_like",),
        "ncnn",
        "a Crop by a reference with fewer channels (axes (2, 3)): ncnn crops the channels too",
        r"shape \(.*\), MXNet's",
        lambda case, net: bool(layers(net, "Crop")) and case.inputs[1][1:2] != case.inputs[0][1:2],
        Case("slice_like", {"axes": (2, 3)}, ((1, 2, 5, 4), (1, 1, 3, 2))),
        RT29,
    ),
]


def known_failure(case: Case, runtime: str, message: str) -> KnownFailure | None:
    for entry in KNOWN_FAILURES:
        if case.op in entry.ops and entry.runtime in (runtime, "*") and entry.matches(case, CONVERTED.get("net")):
            if re.search(entry.happens, message, re.S):
                return entry
    return None


# -- one example ---------------------------------------------------------------------------------------------------


class Rejected(Exception):
    """The example proves nothing (MXNet refused it, its own output is not finite, or dead)."""

    def __init__(self, why: str, detail: str = ""):
        super().__init__(f"{why}: {detail}" if detail else why)
        self.why = why


def feeds(built: Built, case: Case, seed_offset: int) -> dict[str, np.ndarray]:
    """Both-sign normal values for the graph inputs: data from the example's seed + `seed_offset` (a second input
    moves only them), weights made inputs from the example's seed."""
    values = {}
    for i, (name, shape) in enumerate(built.inputs.items()):
        if name in built.data:
            rng = np.random.RandomState((case.seed + 7919 * seed_offset + i) % 2**32)
            values[name] = (rng.normal(0, 1, shape) * case.scale).astype(np.float32)
        else:
            values[name] = param_value(name, shape, np.random.RandomState(case.seed + 1))
    return values


def mxnet_outputs(built: Built, values: dict[str, np.ndarray]) -> list[np.ndarray]:
    """MXNet's inference outputs of the graph (copies of the parameters: MXNet's forward overwrites a fix_gamma
    BatchNorm's gamma in place)."""
    symbol = built.symbol
    arrays = {**built.params, **values}
    args = {name: mx.nd.array(arrays[name]) for name in symbol.list_arguments()}
    aux = {name: mx.nd.array(arrays[name]) for name in symbol.list_auxiliary_states()}
    executor = symbol.bind(mx.cpu(), args=args, aux_states=aux, grad_req="null")
    return [out.asnumpy() for out in executor.forward(is_train=False)]


def symbol_block(built: Built) -> mx.gluon.SymbolBlock:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SymbolBlock cannot decide the inputs' types before it sees them
        block = mx.gluon.SymbolBlock(built.symbol, [mx.sym.var(name) for name in built.inputs])
    for name, parameter in block.collect_params().items():
        parameter.initialize(init=mx.init.Constant(0))
        parameter.set_data(mx.nd.array(built.params[name]))
    return block


def alive(reference: np.ndarray, other: np.ndarray) -> str:
    """Why `reference` proves nothing about a conversion (under compare's own rule), or ''. A conversion that
    computed `other` (MXNet's output for another input), or a constant, must be caught with a 100x margin: a
    hundredth of the difference must already fail compare."""
    reference, other = np.asarray(reference, np.float64), np.asarray(other, np.float64)
    if reference.size == 0:
        return "the output is empty"
    if compare(reference, reference).constant:
        return "MXNet's output is constant"
    if compare(reference + (other - reference) / 100, reference).ok:
        return "a second input barely moves MXNet's output"
    mean = float(np.mean(reference))
    if reference.size > 1 and compare(mean + (reference - mean) / 100, reference).ok:
        return "MXNet's output is (nearly) constant"
    return ""


def undefined_in_mxnet(built: Built) -> str:
    """Why MXNet 1.9.1 cannot run the graph at all, or ''. A Reshape whose shape inference gives another number of
    values: its size check is compiled out (`#if 0` in ReshapeShape), and its forward then corrupts the heap and
    aborts the process, so it is never run; the converter must refuse such a graph."""
    internals = built.symbol.get_internals()
    _, shapes, _ = internals.infer_shape(**built.inputs)
    known = dict(zip(internals.list_outputs(), shapes or []))
    empty = [name for name, shape in known.items() if 0 in shape]
    if empty:  # nothing to compare; and MXNet's forward on a zero-size tensor poisons its engine (the next fork
        # or sync raises "Check failed: delay_alloc", and a fork in its atfork handler aborts the process)
        raise Rejected("empty", f"MXNet's tensor {empty[0]} has no values")
    doc = json.loads(built.symbol.tojson())
    for node in doc["nodes"]:
        if node["op"] != "Reshape":
            continue
        source = doc["nodes"][node["inputs"][0][0]]
        before = known.get(source["name"] if source["op"] == "null" else f"{source['name']}_output")
        after = known.get(f"{node['name']}_output")
        if before is None or after is None:
            continue
        if math.prod(before) != math.prod(after) or min(after, default=1) <= 0:
            return f"MXNet's Reshape turns {tuple(before)} into {tuple(after)} (no size check in 1.9.1)"
    return ""


def reference_of(case: Case) -> tuple[Built, dict[str, np.ndarray], list[np.ndarray] | str]:
    """The built graph, its inputs and MXNet's outputs (or why MXNet cannot run it); Rejected when the example proves
    nothing."""
    try:
        built = build(case)
        values = feeds(built, case, 0)
        undefined = undefined_in_mxnet(built)
        if undefined:
            return built, values, undefined
        reference = mxnet_outputs(built, values)
        other = mxnet_outputs(built, feeds(built, case, 1))
    except mx.base.MXNetError as exc:
        raise Rejected("mxnet", str(exc).strip().splitlines()[0][:120]) from None
    for out in reference:
        if not np.all(np.isfinite(out)):
            raise Rejected("not finite")
    if all(alive(r, o) for r, o in zip(reference, other)):
        raise Rejected("dead", alive(reference[0], other[0]))
    return built, values, reference


def converted(case: Case, built: Built, target: str, folder: str):
    """The conversion of the case's graph as `case.source` gives it to the converter."""
    options = dict(to_bgr=False, merge_bn=case.merge_bn, relu6=case.relu6, target=target)
    if case.source == "block":
        return convert(symbol_block(built), dict(built.inputs), **options)
    prefix = os.path.join(folder, "exported")
    built.export(prefix, case)
    backend = os.environ.get(SHAPE_INFERENCE)
    os.environ[SHAPE_INFERENCE] = "own" if case.source == "exported_own" else "mxnet"
    try:
        return convert(load_exported(prefix), dict(built.inputs), **options)
    finally:
        if backend is None:
            del os.environ[SHAPE_INFERENCE]
        else:
            os.environ[SHAPE_INFERENCE] = backend


def run_case(case: Case, runtime: str, target: str, worker: ForwardWorker) -> str:
    """'exact' or 'refused: <message>' (see the module docstring); AssertionError for anything else; Rejected."""
    CONVERTED["net"] = None
    built, values, reference = reference_of(case)
    with tempfile.TemporaryDirectory(prefix="gluon2caffe-props-") as tmp:
        return _convert_and_run(case, runtime, target, worker, built, values, reference, tmp)


def _convert_and_run(case, runtime, target, worker, built, values, reference, tmp) -> str:
    try:
        result = converted(case, built, target, tmp)
        assert not isinstance(reference, str), f"converted a graph MXNet cannot run: {reference}"
    except Gluon2CaffeError as exc:
        message = str(exc)
        names = [*built.nodes, *built.inputs, *built.params]  # MXNet's nodes: the ops and the variables
        assert any(f"'{name}'" in message for name in names), f"a refusal that names no node {names}: {message}"
        assert "\n" not in message.strip(), f"a refusal of more than one line: {message}"
        return "refused: " + re.sub(r"'[^']*'", "'...'", message)[:150]
    CONVERTED["net"] = result.text_net
    outputs = list(result.graph.outputs)
    assert len(outputs) == len(reference), f"{len(outputs)} Caffe outputs for MXNet's {len(reference)}"
    prototxt, caffemodel = save_model(result.text_net, result.binary_weights, os.path.join(tmp, "model"))
    try:
        got = worker.forward(runtime, prototxt, caffemodel, values, outputs)
    except RuntimeFailedError as exc:
        raise AssertionError(f"{runtime} failed on the files converted for target {target!r}: {exc}") from None
    for name, expected in zip(outputs, reference):
        actual = got[name]
        if actual.size == expected.size and actual.shape != expected.shape:
            actual = actual.reshape(expected.shape)  # runtimes that drop unit axes (ncnn) or the batch
        assert actual.shape == expected.shape, f"output {name}: shape {actual.shape}, MXNet's {expected.shape}"
        bad = int(np.size(actual) - np.count_nonzero(np.isfinite(actual)))
        assert not bad, f"output {name}: {bad} non-finite value(s) where MXNet's are finite"
        c = compare(actual, expected)
        # A constant output beside live ones (the example is rejected when every output is dead) must agree; only the
        # live ones prove the conversion.
        assert c.within if c.constant else c.ok, f"output {name} in {runtime} (target {target!r}): {c}"
    return "exact"


def check_example(case: Case, runtime: str, target: str, worker: ForwardWorker) -> str:
    """The example's outcome as counted; raises what fails it (unless a KNOWN_FAILURES entry covers it)."""
    counts = OUTCOMES.setdefault((runtime, case.op), Counter())
    if TRACE:  # each example before it runs: what was running when a process died
        print(f"{runtime} target={target} {case!r}", file=sys.stderr, flush=True)
    try:
        outcome = run_case(case, runtime, target, worker)
    except Rejected as rejected:
        counts[rejected.why] += 1
        event(f"rejected: {rejected.why}")
        reject()
    except Exception as exc:  # noqa: BLE001 - a traceback is a finding; a known one is counted, not raised
        entry = known_failure(case, runtime, f"{type(exc).__name__}: {exc}")
        if entry is None:
            counts["failed"] += 1
            raise
        outcome = "known"
    if outcome.startswith("refused: "):
        REFUSALS.setdefault((runtime, case.op), Counter())[outcome[len("refused: ") :]] += 1
        outcome = "refused"
    counts[outcome] += 1
    event(outcome)
    return outcome


# -- the tests -----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def workers():
    """One persistent forward process per runtime, for the whole module."""
    pool: dict[str, ForwardWorker] = {}
    yield pool
    for worker in pool.values():
        worker.close()


def _worker(pool: dict[str, ForwardWorker], runtime: str) -> ForwardWorker:
    if runtime not in pool:
        pool[runtime] = ForwardWorker(timeout=300)
    return pool[runtime]


def test_every_registered_op_has_a_strategy():
    assert set(CASES) == set(REGISTRY), (
        f"ops without a strategy in op_space.CASES: {sorted(set(REGISTRY) - set(CASES))}; "
        f"strategies for unregistered ops: {sorted(set(CASES) - set(REGISTRY))}"
    )
    assert sum(examples("caffe", op) for op in REGISTRY) >= 300


@pytest.mark.parametrize(
    "op",
    [
        pytest.param("Activation", marks=pytest.mark.op("Activation")),
        pytest.param("BatchNorm", marks=pytest.mark.op("BatchNorm")),
        pytest.param("Concat", marks=pytest.mark.op("Concat")),
        pytest.param("Convolution", marks=pytest.mark.op("Convolution")),
        pytest.param("Deconvolution", marks=pytest.mark.op("Deconvolution")),
        pytest.param("Dropout", marks=pytest.mark.op("Dropout")),
        pytest.param("Embedding", marks=pytest.mark.op("Embedding")),
        pytest.param("Flatten", marks=pytest.mark.op("Flatten")),
        pytest.param("FullyConnected", marks=pytest.mark.op("FullyConnected")),
        pytest.param("GroupNorm", marks=pytest.mark.op("GroupNorm")),
        pytest.param("InstanceNorm", marks=pytest.mark.op("InstanceNorm")),
        pytest.param("L2Normalization", marks=pytest.mark.op("L2Normalization")),
        pytest.param("LRN", marks=pytest.mark.op("LRN")),
        pytest.param("LayerNorm", marks=pytest.mark.op("LayerNorm")),
        pytest.param("LeakyReLU", marks=pytest.mark.op("LeakyReLU")),
        pytest.param("Pad", marks=pytest.mark.op("Pad")),
        pytest.param("Pooling", marks=pytest.mark.op("Pooling")),
        pytest.param("Reshape", marks=pytest.mark.op("Reshape")),
        pytest.param("SliceChannel", marks=pytest.mark.op("SliceChannel")),
        pytest.param("SwapAxis", marks=pytest.mark.op("SwapAxis")),
        pytest.param("UpSampling", marks=pytest.mark.op("UpSampling")),
        pytest.param("_arange", marks=pytest.mark.op("_arange")),
        pytest.param("_contrib_AdaptiveAvgPooling2D", marks=pytest.mark.op("_contrib_AdaptiveAvgPooling2D")),
        pytest.param("_contrib_BilinearResize2D", marks=pytest.mark.op("_contrib_BilinearResize2D")),
        pytest.param("_copy", marks=pytest.mark.op("_copy")),
        pytest.param("_div", marks=pytest.mark.op("_div")),
        pytest.param("_div_scalar", marks=pytest.mark.op("_div_scalar")),
        pytest.param("_equal_scalar", marks=pytest.mark.op("_equal_scalar")),
        pytest.param("_full", marks=pytest.mark.op("_full")),
        pytest.param("_greater_equal_scalar", marks=pytest.mark.op("_greater_equal_scalar")),
        pytest.param("_greater_scalar", marks=pytest.mark.op("_greater_scalar")),
        pytest.param("_lesser_equal_scalar", marks=pytest.mark.op("_lesser_equal_scalar")),
        pytest.param("_lesser_scalar", marks=pytest.mark.op("_lesser_scalar")),
        pytest.param("_maximum", marks=pytest.mark.op("_maximum")),
        pytest.param("_maximum_scalar", marks=pytest.mark.op("_maximum_scalar")),
        pytest.param("_minimum", marks=pytest.mark.op("_minimum")),
        pytest.param("_minimum_scalar", marks=pytest.mark.op("_minimum_scalar")),
        pytest.param("_minus_scalar", marks=pytest.mark.op("_minus_scalar")),
        pytest.param("_mul_scalar", marks=pytest.mark.op("_mul_scalar")),
        pytest.param("_not_equal_scalar", marks=pytest.mark.op("_not_equal_scalar")),
        pytest.param("_ones", marks=pytest.mark.op("_ones")),
        pytest.param("_plus_scalar", marks=pytest.mark.op("_plus_scalar")),
        pytest.param("_power_scalar", marks=pytest.mark.op("_power_scalar")),
        pytest.param("_rdiv_scalar", marks=pytest.mark.op("_rdiv_scalar")),
        pytest.param("_rminus_scalar", marks=pytest.mark.op("_rminus_scalar")),
        pytest.param("_split_v2", marks=pytest.mark.op("_split_v2")),
        pytest.param("_zeros", marks=pytest.mark.op("_zeros")),
        pytest.param("abs", marks=pytest.mark.op("abs")),
        pytest.param("add_n", marks=pytest.mark.op("add_n")),
        pytest.param("argmax", marks=pytest.mark.op("argmax")),
        pytest.param("argmin", marks=pytest.mark.op("argmin")),
        pytest.param("broadcast_add", marks=pytest.mark.op("broadcast_add")),
        pytest.param("broadcast_axis", marks=pytest.mark.op("broadcast_axis")),
        pytest.param("broadcast_div", marks=pytest.mark.op("broadcast_div")),
        pytest.param("broadcast_like", marks=pytest.mark.op("broadcast_like")),
        pytest.param("broadcast_maximum", marks=pytest.mark.op("broadcast_maximum")),
        pytest.param("broadcast_minimum", marks=pytest.mark.op("broadcast_minimum")),
        pytest.param("broadcast_mul", marks=pytest.mark.op("broadcast_mul")),
        pytest.param("broadcast_sub", marks=pytest.mark.op("broadcast_sub")),
        pytest.param("broadcast_to", marks=pytest.mark.op("broadcast_to")),
        pytest.param("clip", marks=pytest.mark.op("clip")),
        pytest.param("depth_to_space", marks=pytest.mark.op("depth_to_space")),
        pytest.param("dot", marks=pytest.mark.op("dot")),
        pytest.param("elemwise_add", marks=pytest.mark.op("elemwise_add")),
        pytest.param("elemwise_div", marks=pytest.mark.op("elemwise_div")),
        pytest.param("elemwise_mul", marks=pytest.mark.op("elemwise_mul")),
        pytest.param("elemwise_sub", marks=pytest.mark.op("elemwise_sub")),
        pytest.param("exp", marks=pytest.mark.op("exp")),
        pytest.param("expand_dims", marks=pytest.mark.op("expand_dims")),
        pytest.param("hard_sigmoid", marks=pytest.mark.op("hard_sigmoid")),
        pytest.param("identity", marks=pytest.mark.op("identity")),
        pytest.param("log", marks=pytest.mark.op("log")),
        pytest.param("log10", marks=pytest.mark.op("log10")),
        pytest.param("log2", marks=pytest.mark.op("log2")),
        pytest.param("log_softmax", marks=pytest.mark.op("log_softmax")),
        pytest.param("logical_not", marks=pytest.mark.op("logical_not")),
        pytest.param("max", marks=pytest.mark.op("max")),
        pytest.param("mean", marks=pytest.mark.op("mean")),
        pytest.param("min", marks=pytest.mark.op("min")),
        pytest.param("negative", marks=pytest.mark.op("negative")),
        pytest.param("norm", marks=pytest.mark.op("norm")),
        pytest.param("ones_like", marks=pytest.mark.op("ones_like")),
        pytest.param("reciprocal", marks=pytest.mark.op("reciprocal")),
        pytest.param("relu", marks=pytest.mark.op("relu")),
        pytest.param("repeat", marks=pytest.mark.op("repeat")),
        pytest.param("reverse", marks=pytest.mark.op("reverse")),
        pytest.param("rsqrt", marks=pytest.mark.op("rsqrt")),
        pytest.param("sigmoid", marks=pytest.mark.op("sigmoid")),
        pytest.param("slice", marks=pytest.mark.op("slice")),
        pytest.param("slice_axis", marks=pytest.mark.op("slice_axis")),
        pytest.param("slice_like", marks=pytest.mark.op("slice_like")),
        pytest.param("softmax", marks=pytest.mark.op("softmax")),
        pytest.param("softmin", marks=pytest.mark.op("softmin")),
        pytest.param("softsign", marks=pytest.mark.op("softsign")),
        pytest.param("split", marks=pytest.mark.op("split")),
        pytest.param("space_to_depth", marks=pytest.mark.op("space_to_depth")),
        pytest.param("sqrt", marks=pytest.mark.op("sqrt")),
        pytest.param("square", marks=pytest.mark.op("square")),
        pytest.param("squeeze", marks=pytest.mark.op("squeeze")),
        pytest.param("stack", marks=pytest.mark.op("stack")),
        pytest.param("sum", marks=pytest.mark.op("sum")),
        pytest.param("take", marks=pytest.mark.op("take")),
        pytest.param("tanh", marks=pytest.mark.op("tanh")),
        pytest.param("tile", marks=pytest.mark.op("tile")),
        pytest.param("topk", marks=pytest.mark.op("topk")),
        pytest.param("transpose", marks=pytest.mark.op("transpose")),
        pytest.param("where", marks=pytest.mark.op("where")),
        pytest.param("zeros_like", marks=pytest.mark.op("zeros_like")),
    ],
)
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_operator(runtime, op, workers):
    """Every example of `op` converts exactly in `runtime` or is refused naming a node (module docstring)."""
    runtime_or_skip(runtime)
    worker = _worker(workers, runtime)
    targets = ("any", runtime)

    @profile(runtime, op)
    @given(case=CASES[op], target=st.sampled_from(targets))
    def check(case, target):
        check_example(case, runtime, target, worker)

    if PROFILE != "fuzz":
        check = seed(zlib.crc32(f"{runtime}/{op}".encode()))(check)
    check()


def test_outcomes_are_bounded():
    """Runs after test_operator (file order) and reads its counts: every op converted exactly in pycaffe at least
    once, dead examples are at most MAX_DEAD of an op's, and the table of outcomes is printed."""
    if not OUTCOMES:  # run alone (-k): the pycaffe examples first
        with ForwardWorker(timeout=300) as worker:
            for op in sorted(CASES):
                test_operator("caffe", op, {"caffe": worker})
    print("\n" + outcome_table() + "\n\nrefusals:\n" + refusal_table())
    ran = {op for runtime, op in OUTCOMES if runtime == "caffe"}
    never_exact = sorted(op for op in ran if not OUTCOMES[("caffe", op)]["exact"])
    assert not never_exact, f"ops that never converted exactly in pycaffe: {never_exact}"
    totals: dict[str, Counter] = {}
    for (runtime, op), counts in OUTCOMES.items():
        totals.setdefault(runtime, Counter()).update(counts)
        if reached(counts) >= MIN_PER_OP:
            assert counts["dead"] <= MAX_DEAD_PER_OP * reached(counts), f"{op} in {runtime}: {dict(counts)}"
    for runtime, counts in totals.items():
        assert counts["dead"] <= MAX_DEAD * max(reached(counts), 1), f"{runtime}: {dict(counts)}: mostly dead"


def reached(counts: Counter) -> int:
    """Examples that got past MXNet (its refusals and non-finite outputs are not examples at all)."""
    return counts["exact"] + counts["refused"] + counts["known"] + counts["failed"] + counts["dead"]


def refusal_table() -> str:
    rows = []
    for (runtime, op), reasons in sorted(REFUSALS.items()):
        rows += [f"{runtime:8} {op:32} {count:>4}  {reason}" for reason, count in reasons.most_common()]
    return "\n".join(rows)


def outcome_table() -> str:
    columns = ("exact", "refused", "known", "failed", "mxnet", "empty", "not finite", "dead")
    rows = [f"{'runtime':8} {'op':32} " + " ".join(f"{c:>11}" for c in columns)]
    for (runtime, op), counts in sorted(OUTCOMES.items()):
        rows.append(f"{runtime:8} {op:32} " + " ".join(f"{counts[c]:>11}" for c in columns))
    totals: dict[str, Counter] = {}
    for (runtime, _), counts in OUTCOMES.items():
        totals.setdefault(runtime, Counter()).update(counts)
    for runtime, counts in sorted(totals.items()):
        rows.append(f"{runtime:8} {'(all ops)':32} " + " ".join(f"{counts[c]:>11}" for c in columns))
    return "\n".join(rows)


# Examples the suite found failing, shrunk by hypothesis, kept as they were drawn (each fix also has a test in its
# op family's module): (case, the outcome now).
REGRESSIONS = [
    (Case("Flatten", {}, ((1,),)), "exact"),  # Caffe's Flatten aborted on a 1-D blob
    (Case("FullyConnected", {"num_hidden": 1}, ((1,),)), "exact"),  # InnerProduct axis 1 of a 1-D blob aborted
    # named the 1-D pooling's internal 2-D node; sum pooling converts since issue 26 (pooling_lp.py)
    (Case("Pooling", {"global_pool": True, "pool_type": "sum", "layout": "NCW"}, ((1, 1, 1),)), "exact"),
    (Case("_copy", {}, ((1,),), context="consumed"), "refused"),  # renamed the net's input: silently wrong
    (Case("BatchNorm", {"output_mean_var": True}, ((2, 3, 4, 4),)), "refused"),  # an unnamed Gluon2CaffeError
    (Case("softmax", {"dtype": "float16"}, ((3,),)), "refused"),  # converted as exact, 2.4e-4 off
    (Case("Reshape", {"shape": (1,)}, ((3, 5),)), "refused"),  # MXNet runs it out of bounds; Caffe aborted
    (Case("Reshape", {"target_shape": (0,), "keep_highest": True}, ((1, 5, 6, 6),)), "refused"),
    (Case("LeakyReLU", {"act_type": "prelu"}, ((1, 1, 1, 1, 1),)), "exact"),  # Caffe's PReLU aborted on 5-D
    (  # converted as MXNet's reference kernel computes it; its default oneDNN kernel reads from the given pad
        Case(
            "Deconvolution",
            dict(kernel=(1, 4), num_filter=1, num_group=1, stride=(2, 2), pad=(0, 1), target_shape=(3, 1)),
            ((1, 2, 2, 1),),
        ),
        "refused",
    ),
]


@pytest.mark.parametrize("case, outcome", REGRESSIONS, ids=lambda v: v.op if isinstance(v, Case) else v)
def test_regression(case, outcome, workers):
    assert run_case(case, "caffe", "any", _worker(workers, "caffe")).split(":")[0] == outcome


@pytest.mark.parametrize("entry", KNOWN_FAILURES, ids=lambda e: f"{e.runtime}-{e.example.op}-{e.attributes[:40]}")
def test_known_failure_still_fails(entry, workers):
    """Each KNOWN_FAILURES entry's repro still fails as recorded (once fixed, this fails: remove the entry)."""
    runtime = "caffe" if entry.runtime == "*" else entry.runtime
    runtime_or_skip(runtime)
    try:
        outcome = run_case(entry.example, runtime, "any", _worker(workers, runtime))
    except Exception as exc:  # noqa: BLE001
        message = f"{type(exc).__name__}: {exc}"
        covered = entry.matches(entry.example, CONVERTED.get("net")) and re.search(entry.happens, message, re.S)
        assert covered, f"fails otherwise than recorded: {message}"
        return
    pytest.fail(f"fixed ({outcome}): remove this entry from KNOWN_FAILURES", pytrace=False)


def test_a_worker_that_dies_is_a_message_and_replaced(tmp_path):
    """A forward that aborts the child (a Caffe CHECK) is a RuntimeFailedError with the signal and the child's last
    words, and the next forward runs in a new child."""
    net = tmp_path / "bad.prototxt"  # a Reshape to an impossible count: Caffe's CHECK aborts
    net.write_text(
        'layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 4 } } }\n'
        'layer { name: "r" type: "Reshape" bottom: "data" top: "r" reshape_param { shape { dim: 3 } } }\n'
    )
    good = tmp_path / "good.prototxt"
    good.write_text(
        'layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 4 } } }\n'
        'layer { name: "r" type: "ReLU" bottom: "data" top: "r" }\n'
    )
    weights = tmp_path / "empty.caffemodel"  # a NetParameter without layers
    weights.write_bytes(b"")
    x = {"data": np.array([[-1, 2, -3, 4]], np.float32)}
    with ForwardWorker(timeout=60) as worker:
        with pytest.raises(RuntimeFailedError, match=r"caffe crashed \(signal SIGABRT\): .*Check failed"):
            worker.forward("caffe", str(net), str(weights), x, ["r"])
        assert worker.deaths == 1
        got = worker.forward("caffe", str(good), str(weights), x, ["r"])
        np.testing.assert_array_equal(got["r"], [[0, 2, 0, 4]])
