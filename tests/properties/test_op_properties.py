"""The operator property suite: every registered op over MXNet 1.9.1's attribute space, in every runtime.

For each op (tests/op_space.py draws its attributes and input shapes from MXNet's own parameter definitions), a
one-op symbol-API graph (or the op in a minimal context) is built exactly as drawn, converted, and run in the real
runtime. Exactly one of two outcomes is allowed:

  (a) exact: every output equals MXNet's under `verification.compare` (whatever tolerance rule it holds), and
      MXNet's output depends on the input; or
  (b) refused: a Gluon2CaffeError, one line, naming one of the graph's nodes.

Anything else fails: another exception (a traceback), a runtime that aborts or cannot load the files (the forward
runs in a persistent child process, zoo.child_forward.ForwardWorker, so a Caffe CHECK is a failure with its
message, not a dead pytest worker), a mismatch, a non-finite value where MXNet's is finite. A runtime that fails on
files written for target 'any' (or its own target) is a failure, never a skip, with one exception (the rule of
test_random_nets.py run_spec): a loud runtime failure (RuntimeFailedError) on the files of 'any' where the
conversion for the runtime's own target refuses the example, naming the node: the converter knows that runtime cannot
run it. That counts as refused. A silent mismatch on the files of 'any' is never accepted. (There is no list of known
failures: every one the suite found is fixed by a form the runtime computes, or refused by its target.)

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
from gluon2caffe.zoo.child_forward import ForwardWorker
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
# Outcomes per (runtime, op): exact, refused, failed, and the rejections: mxnet (MXNet
# refused the attributes), not finite (MXNet's own output), dead.
OUTCOMES: dict[tuple[str, str], Counter] = {}
TRACE = bool(os.environ.get("OP_PROPERTIES_TRACE"))  # print every example to stderr before it runs
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
    outputs = list(result.graph.outputs)
    assert len(outputs) == len(reference), f"{len(outputs)} Caffe outputs for MXNet's {len(reference)}"
    prototxt, caffemodel = save_model(result.text_net, result.binary_weights, os.path.join(tmp, "model"))
    try:
        got = worker.forward(runtime, prototxt, caffemodel, values, outputs)
    except RuntimeFailedError as exc:
        # A loud failure on the files of `any` is allowed only where the runtime's own target refuses the example (as
        # test_random_nets.py run_spec): the converter knows the runtime cannot run it. Never a silent mismatch.
        own = refusal_of_own_target(case, built, runtime, tmp) if target == "any" and runtime != "caffe" else None
        if own is None:
            raise AssertionError(f"{runtime} failed on the files converted for target {target!r}: {exc}") from None
        return own
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


def refusal_of_own_target(case: Case, built: Built, runtime: str, tmp: str) -> str | None:
    """'refused: <message>' when the conversion for `runtime`'s own target refuses the example, else None."""
    folder = os.path.join(tmp, "own")
    os.makedirs(folder, exist_ok=True)
    try:
        converted(case, built, runtime, folder)
    except Gluon2CaffeError as exc:
        return "refused: " + re.sub(r"'[^']*'", "'...'", str(exc))[:150]
    return None


def check_example(case: Case, runtime: str, target: str, worker: ForwardWorker) -> str:
    """The example's outcome as counted; raises what fails it."""
    counts = OUTCOMES.setdefault((runtime, case.op), Counter())
    if TRACE:  # each example before it runs: what was running when a process died
        print(f"{runtime} target={target} {case!r}", file=sys.stderr, flush=True)
    try:
        outcome = run_case(case, runtime, target, worker)
    except Rejected as rejected:
        counts[rejected.why] += 1
        event(f"rejected: {rejected.why}")
        reject()
    except Exception:
        counts["failed"] += 1
        raise
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
    return counts["exact"] + counts["refused"] + counts["failed"] + counts["dead"]


def refusal_table() -> str:
    rows = []
    for (runtime, op), reasons in sorted(REFUSALS.items()):
        rows += [f"{runtime:8} {op:32} {count:>4}  {reason}" for reason, count in reasons.most_common()]
    return "\n".join(rows)


def outcome_table() -> str:
    columns = ("exact", "refused", "failed", "mxnet", "empty", "not finite", "dead")
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
