"""Differential testing with random networks: every drawn network either matches MXNet in the real Caffe or is
refused up front with a clear error. A crash, a mismatch or a file Caffe cannot load fails, and hypothesis shrinks it
to a minimal network (then kept below as a regression test).

Nothing passes vacuously: every compared output must depend on the input (a second input moves MXNet's output by at
least 100x the tolerance, and the output is not constant), otherwise the generator drew a dead network and the test
fails. Refused networks prove nothing numeric: they are counted (hypothesis events and `OUTCOMES`), and
`test_refused_fraction_is_bounded` fails when more than MAX_REFUSED of the examples were refused.

Profiles: `make test` runs the fixed-seed "ci" profile (300 examples); `make fuzz` the random "fuzz" profile.
"""

import os
import re
from collections import Counter

import mxnet as mx
import numpy as np
from hypothesis import HealthCheck, event, given, reject, settings
from hypothesis import strategies as st

from gluon2caffe import ConversionError, convert
from gluon2caffe.tools.randomize import randomize
from gluon2caffe.verification import compare, input_dependence, mxnet_forward, run_converted
from random_nets import RandomNet, network_spec

settings.register_profile(
    "ci", max_examples=300, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck), print_blob=True
)
settings.register_profile(
    "fuzz",
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "3000")),
    deadline=None,
    suppress_health_check=list(HealthCheck),
    print_blob=True,
)
PROFILE = os.environ.get("GLUON2CAFFE_FUZZ_PROFILE", "ci")
# Refusals check no numbers. Most used to be to_bgr on a net whose first layers mix the colour channels (40 of
# 300 on the ci profile, 13%); those now convert with the BGR -> RGB permutation (passes/swap_bgr.py), so the
# fraction should be near 0 (not re-measured here). Above this bound the profile mostly tests refusals: fail.
MAX_REFUSED = 0.20
# Outcomes of the examples test_random_network ran in this session ('match', 'refused', 'dead', 'failed').
OUTCOMES: Counter[str] = Counter()


def run_spec(shape, ops, merge_bn, to_bgr, relu6="exact"):
    """Build, randomize, convert and compare one network; returns 'match' or 'refused: ...'."""
    mx.random.seed(0)
    net = RandomNet(ops)
    net.initialize(mx.init.Normal(0.5))
    randomize(net, shape, seed=0, stats_batch=max(2, shape[0]))
    to_bgr = to_bgr and shape[1] == 3
    try:
        result = convert(net, shape, to_bgr=to_bgr, merge_bn=merge_bn, relu6=relu6)
    except ConversionError as exc:
        assert str(exc)
        return f"refused: {str(exc).splitlines()[0]}"
    x = (np.random.RandomState(1).normal(0, 1, shape) * 3).astype(np.float32)
    reference = mxnet_forward(net, x)
    other = mxnet_forward(net, (np.random.RandomState(2).normal(0, 1, shape) * 3).astype(np.float32))
    spec = f"spec: shape={shape} ops={ops} merge_bn={merge_bn} to_bgr={to_bgr}"
    names = result.graph.outputs
    scales = {name: compare(ref, ref) for name, ref in zip(names, reference)}  # the scale and constancy of each
    dependence = input_dependence(dict(zip(names, reference)), dict(zip(names, other)), scales, "seed 2")
    if not dependence.ok:  # a dead network would match whatever the conversion does: it proves nothing, no example
        return f"dead: {dependence.reason(remedy=False)}"
    outputs = run_converted(result.text_net, result.binary_weights, {"data": x[:, [2, 1, 0]] if to_bgr else x})
    for name, ref in zip(names, reference):
        c = compare(outputs[name], ref)
        assert c.ok, f"{name}: {c}\n{spec}"
    return "match"


@settings(settings.get_profile(PROFILE))
@given(spec=network_spec(), merge_bn=st.booleans(), to_bgr=st.booleans())
def test_random_network(spec, merge_bn, to_bgr):
    shape, ops = spec
    try:
        outcome = run_spec(shape, ops, merge_bn, to_bgr)
    except BaseException:
        OUTCOMES["failed"] += 1
        raise
    OUTCOMES[outcome.split(":")[0]] += 1
    event(re.sub(r"'[^']*'", "'...'", outcome)[:100])  # without node names, so equal refusals group together
    if outcome.startswith("dead"):
        reject()  # not an example: Hypothesis draws another (the dead ones are counted and bounded below)


def test_refused_fraction_is_bounded():
    """Runs after test_random_network (file order) and reads its counts; run alone (`-k`), it runs the examples."""
    if not OUTCOMES:
        test_random_network()
    assert not OUTCOMES["failed"], f"test_random_network failed, so its counts mean nothing: {dict(OUTCOMES)}"
    examples = OUTCOMES["match"] + OUTCOMES["refused"] + OUTCOMES["dead"]
    fraction = (OUTCOMES["refused"] + OUTCOMES["dead"]) / examples
    print(
        f"\nrandom networks ({PROFILE}): {OUTCOMES['match']} matched, {OUTCOMES['refused']} refused, "
        f"{OUTCOMES['dead']} dead (output independent of the input, discarded) ({fraction:.1%} checked no numbers)"
    )
    assert fraction <= MAX_REFUSED, (
        f"{fraction:.1%} of {examples} random networks refused or dead (> {MAX_REFUSED:.0%}): few numbers checked"
    )


# -- regressions found by the random networks (kept as plain tests) -----------------------------------------------


def test_regression_batchnorm_without_trainable_parameters():
    """Shrunk by hypothesis: a net whose only layer is BatchNorm(scale=False, center=False). Random weights used to
    fail on it (no trainable parameter for the statistics pass's backward)."""
    assert run_spec((1, 3, 5, 5), [{"op": "bn", "eps": 1e-05, "fix_gamma": True, "center": False}], False, False) == (
        "match"
    )


def test_regression_statistics_from_a_tiny_feature_map():
    """Shrunk by hypothesis: Dense(flatten=False) then strided pooling leaves a 3x1 map; the statistics pass produced
    NaN/inf (a negative rounded variance under sqrt, and an empty window)."""
    ops = [
        {"op": "dense", "units": 2, "flatten": False, "use_bias": False},
        {
            "op": "pool",
            "kind": "max",
            "kernel": 1,
            "stride": 1,
            "pad": 0,
            "convention": "valid",
            "count_include_pad": False,
        },
        {"op": "bn", "eps": 1e-05, "fix_gamma": False, "center": False},
    ]
    assert run_spec((1, 3, 5, 5), ops, False, False) == "match"
