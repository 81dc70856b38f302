"""Fuzzing the exported-model loader: no malformed file may crash with a traceback or hang.

Every input either converts or raises a Gluon2CaffeError (ModelFileError, UnsupportedOperatorError, ...) with a
message; anything else (MXNetError, KeyError, RecursionError, a hang) is a bug.
"""

import copy
import json
import os
from datetime import timedelta

import mxnet as mx
import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from gluon2caffe import Gluon2CaffeError, convert_model, load_exported
from gluon2caffe.frontend.exported import parse_symbol_json
from gluon2caffe.frontend.ndarray_file import parse_params

LONG = os.environ.get("GLUON2CAFFE_FUZZ_PROFILE") == "fuzz"  # `make fuzz`: many random examples; else a fixed seed
FUZZ = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "3000")) if LONG else 150,
    deadline=timedelta(seconds=20),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=not LONG,
)
SHAPE = (1, 3, 9, 9)


def _model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz")
    data = mx.sym.var("data")
    x = mx.sym.Convolution(data, kernel=(3, 3), pad=(1, 1), num_filter=4, name="conv")
    x = mx.sym.BatchNorm(x, name="bn", fix_gamma=False)
    x = mx.sym.Activation(x, act_type="relu", name="relu")
    x = mx.sym.Pooling(x, kernel=(2, 2), stride=(2, 2), pool_type="avg", name="pool")
    x = mx.sym.FullyConnected(x, num_hidden=3, name="fc")
    rng = np.random.RandomState(0)
    shapes, _, aux_shapes = x.infer_shape(data=SHAPE)
    args = {n: mx.nd.array(rng.normal(size=s)) for n, s in zip(x.list_arguments(), shapes) if n != "data"}
    aux = {n: mx.nd.array(rng.uniform(0.5, 1, size=s)) for n, s in zip(x.list_auxiliary_states(), aux_shapes)}
    mx.model.save_checkpoint(str(folder / "m"), 0, x, args, aux)
    return folder


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return _model(tmp_path_factory)


def _convert(folder):
    """Load + convert; only Gluon2CaffeError may come out."""
    try:
        convert_model(load_exported(folder / "m"), SHAPE, to_bgr=False)
        event("converted")
    except Gluon2CaffeError as exc:
        event(type(exc).__name__)
        assert str(exc)  # a message, not an empty error
    except Exception as exc:  # noqa: BLE001 - the point of the test
        pytest.fail(f"crashed with {type(exc).__name__}: {exc}")


@FUZZ
@given(cut=st.floats(0, 1, exclude_max=True))
def test_truncated_params(model_dir, cut):
    data = (model_dir / "m-0000.params").read_bytes()
    with pytest.raises(Gluon2CaffeError):
        parse_params(data[: int(len(data) * cut)], "m.params")


@FUZZ
@given(data=st.data())
def test_corrupted_params_bytes(model_dir, data):
    raw = bytearray((model_dir / "m-0000.params").read_bytes())
    for _ in range(data.draw(st.integers(1, 8))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    try:
        parse_params(bytes(raw), "m.params")
    except Gluon2CaffeError:
        pass


@FUZZ
@given(blob=st.binary(max_size=2000), with_header=st.booleans())
def test_random_bytes_as_params(blob, with_header):
    header = b"\x12\x01\x00\x00\x00\x00\x00\x00" + bytes(8) if with_header else b""
    try:
        parse_params(header + blob, "x.params")
    except Gluon2CaffeError:
        pass


@FUZZ
@given(cut=st.floats(0, 1, exclude_max=True))
def test_truncated_json(model_dir, cut):
    text = (model_dir / "m-symbol.json").read_text()
    with pytest.raises(Gluon2CaffeError):
        parse_symbol_json(text[: int(len(text) * cut)], "m-symbol.json")


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)


@FUZZ
@given(data=st.data())
def test_mutated_json(tmp_path_factory, data):
    """Wrong types, missing nodes, cycles, unknown ops and attributes, bad heads: converted or refused clearly."""
    folder = _model(tmp_path_factory)
    doc = json.loads((folder / "m-symbol.json").read_text())
    for _ in range(data.draw(st.integers(1, 3))):
        _mutate(doc, data)
    (folder / "m-symbol.json").write_text(json.dumps(doc))
    _convert(folder)


def _mutate(doc, data):
    nodes = doc["nodes"]
    kind = data.draw(st.sampled_from(["field", "delete", "cycle", "attr", "op", "heads", "inputs"]))
    if not nodes:
        return
    i = data.draw(st.integers(0, len(nodes) - 1))
    node = nodes[i] if isinstance(nodes[i], dict) else {}
    if kind == "field":
        node[data.draw(st.sampled_from(["op", "name", "inputs", "attrs"]))] = data.draw(JSON_VALUES)
    elif kind == "delete":
        del nodes[i]
    elif kind == "cycle":
        if not isinstance(node.get("inputs"), list):
            node["inputs"] = []
        node["inputs"].append([data.draw(st.integers(i, len(nodes) + 2)), 0, 0])
    elif kind == "attr":
        attrs = node.setdefault("attrs", {})
        if isinstance(attrs, dict):
            key = data.draw(
                st.sampled_from(
                    [
                        "kernel",
                        "num_filter",
                        "eps",
                        "pad",
                        "stride",
                        "unknown_attr",
                        "num_hidden",
                        "pool_type",
                        "act_type",
                        "flatten",
                        "no_bias",
                    ]
                )
            )
            attrs[key] = data.draw(
                st.sampled_from(
                    [
                        "(3, 3)",
                        "0",
                        "-1",
                        "1e9",
                        "True",
                        "abc",
                        "",
                        "(0, 0)",
                        "()",
                        "None",
                        "(999999, 999999)",
                        "sigmoid",
                        "max",
                    ]
                )
            )
    elif kind == "op":
        node["op"] = data.draw(st.sampled_from(["Convolution", "null", "NoSuchOp", "Pooling", "BatchNorm", "_plus"]))
    elif kind == "heads":
        doc["heads"] = data.draw(st.lists(st.lists(st.integers(-2, len(nodes) + 2), max_size=3), max_size=3))
    elif kind == "inputs":
        node["inputs"] = data.draw(st.lists(st.lists(st.integers(-1, len(nodes)), min_size=2, max_size=3), max_size=4))


def test_deeply_nested_json(tmp_path):
    with pytest.raises(Gluon2CaffeError):
        parse_symbol_json("[" * 100000 + "]" * 100000, "deep.json")


def test_well_formed_model_converts(model_dir):
    """The unmutated files convert (so the fuzz tests start from something valid)."""
    convert_model(load_exported(model_dir / "m"), SHAPE, to_bgr=False)


def test_valid_json_copy_untouched(model_dir):
    doc = json.loads((model_dir / "m-symbol.json").read_text())
    assert parse_symbol_json(json.dumps(copy.deepcopy(doc))) == doc
