"""Exported models (-symbol.json + .params): converted exactly like the live block, loaded without trusting them."""

import filecmp
import os

import mxnet as mx
import numpy as np
import pytest
from gluoncv.model_zoo import get_model

from gluon2caffe import InvalidCallError, ModelFileError, convert, convert_model, load_exported, save_model
from gluon2caffe.frontend.exported import resolve_paths
from gluon2caffe.frontend.ndarray_file import load_params
from gluon2caffe.zoo.randomize import randomize
from gluon2caffe.verification import MXNetReference, compare, run_converted
from helpers import make_input

ROUND_TRIP = {
    "resnet18_v2": (1, 3, 224, 224),
    "mobilenetv2_0.25": (1, 3, 224, 224),
    "squeezenet1.1": (1, 3, 227, 227),
    "densenet121": (1, 3, 224, 224),
    "inceptionv3": (1, 3, 299, 299),
}


@pytest.mark.parametrize("name", sorted(ROUND_TRIP))
def test_export_round_trip_gives_identical_files(name, tmp_path):
    shape = ROUND_TRIP[name]
    net = get_model(name, pretrained=False)
    net.initialize()
    randomize(net, shape, seed=3)
    live = save_model(*convert_model(net, shape), tmp_path / "live")
    net.hybridize()
    net(mx.nd.zeros(shape))
    net.export(str(tmp_path / net.name), epoch=7)
    exported = load_exported(tmp_path / net.name, epoch=7)
    assert exported.params_path.endswith(f"{net.name}-0007.params")
    files = save_model(*convert_model(exported, shape), tmp_path / "exported")
    assert filecmp.cmp(live[0], files[0], shallow=False), "prototxt differs"
    assert filecmp.cmp(live[1], files[1], shallow=False), "caffemodel differs"


def _symbol_api_model():
    """An old symbol-API model: moving_mean/moving_var names, BatchNorm without attributes."""
    data = mx.sym.var("data")
    x = mx.sym.Convolution(data, kernel=(3, 3), pad=(1, 1), num_filter=8, name="conv1")
    x = mx.sym.BatchNorm(x, name="bn1")
    x = mx.sym.Activation(x, act_type="relu", name="relu1")
    x = mx.sym.Pooling(x, kernel=(3, 3), stride=(2, 2), pool_type="max", name="pool1")
    x = mx.sym.FullyConnected(mx.sym.Flatten(x, name="flat"), num_hidden=5, name="fc1")
    rng = np.random.RandomState(0)
    args = {
        "conv1_weight": rng.normal(0, 0.3, (8, 3, 3, 3)),
        "conv1_bias": rng.normal(0, 0.1, 8),
        "bn1_gamma": rng.uniform(0.5, 1.5, 8),
        "bn1_beta": rng.normal(0, 0.2, 8),
        "fc1_weight": rng.normal(0, 0.1, (5, 8 * 5 * 6)),
        "fc1_bias": rng.normal(0, 0.1, 5),
    }
    aux = {"bn1_moving_mean": rng.normal(0, 0.5, 8), "bn1_moving_var": rng.uniform(0.5, 2, 8)}
    to_nd = lambda d: {k: mx.nd.array(v) for k, v in d.items()}
    return x, to_nd(args), to_nd(aux)


@pytest.mark.parametrize("merge_bn", [True, False])
def test_symbol_api_checkpoint(tmp_path, merge_bn):
    """mx.model.save_checkpoint writes arg:/aux: prefixes and moving_mean names; both are read."""
    sym, args, aux = _symbol_api_model()
    mx.model.save_checkpoint(str(tmp_path / "old"), 3, sym, args, aux)
    assert any(k.startswith("aux:") and "moving_mean" in k for k in load_params(tmp_path / "old-0003.params"))
    model = load_exported(tmp_path / "old-symbol.json", params=tmp_path / "old-0003.params")
    shape = (2, 3, 11, 13)
    result = convert(model, shape, to_bgr=False, merge_bn=merge_bn)
    x = make_input(shape, 4)
    out = run_converted(result.text_net, result.binary_weights, {"data": x})
    reference = MXNetReference(model, shape, "data").run(x, ["fc1"])["fc1"]
    c = compare(out["fc1"], reference)
    assert c.ok, c
    assert result.report.bn_folded == (1 if merge_bn else 0)


def test_unprefixed_params_and_renamed_input(tmp_path):
    sym, args, aux = _symbol_api_model()
    sym.save(str(tmp_path / "plain-symbol.json"))
    mx.nd.save(str(tmp_path / "plain-0000.params"), {**args, **aux})
    model = load_exported(tmp_path / "plain")
    result = convert(model, (1, 3, 11, 13), to_bgr=True, input_name="image")
    assert result.text_net.layer[0].top[0] == "image"


def test_resolve_paths():
    assert resolve_paths("a/net") == ("net", "a/net-symbol.json", "a/net-0000.params")
    assert resolve_paths("a/net", epoch=12) == ("net", "a/net-symbol.json", "a/net-0012.params")
    assert resolve_paths("a/net-symbol.json", params="w.params") == ("net", "a/net-symbol.json", "w.params")


def test_params_reader_matches_mxnet(tmp_path):
    rng = np.random.RandomState(1)
    arrays = {
        "arg:f32": mx.nd.array(rng.normal(size=(3, 4, 5))),
        "aux:f16": mx.nd.array(rng.normal(size=(7,)), dtype="float16"),
        "arg:f64": mx.nd.array(rng.normal(size=(2, 2)), dtype="float64"),
        "arg:i32": mx.nd.array(rng.randint(-9, 9, size=(4,)), dtype="int32"),
        "arg:u8": mx.nd.array(rng.randint(0, 255, size=(1, 2, 3)), dtype="uint8"),
        "scalar_like": mx.nd.array([2.5]),
    }
    path = str(tmp_path / "x.params")
    mx.nd.save(path, arrays)
    ours = load_params(path)
    theirs = mx.nd.load(path)
    assert list(ours) == list(theirs)
    for key in theirs:
        assert ours[key].dtype == theirs[key].asnumpy().dtype
        assert np.array_equal(ours[key], theirs[key].asnumpy())


def _exported_pair(tmp_path):
    sym, args, aux = _symbol_api_model()
    mx.model.save_checkpoint(str(tmp_path / "m"), 0, sym, args, aux)
    return tmp_path / "m-symbol.json", tmp_path / "m-0000.params"


def test_missing_files_are_named(tmp_path):
    with pytest.raises(ModelFileError, match="nothing-symbol.json.*cannot read"):
        load_exported(tmp_path / "nothing")
    symbol, _ = _exported_pair(tmp_path)
    with pytest.raises(ModelFileError, match="m-0009.params.*cannot read"):
        load_exported(tmp_path / "m", epoch=9)


def test_params_missing_a_parameter(tmp_path):
    symbol, params = _exported_pair(tmp_path)
    values = mx.nd.load(str(params))
    del values["arg:fc1_weight"]
    mx.nd.save(str(params), values)
    with pytest.raises(ModelFileError, match=r"m-0000.params.*fc1_weight"):
        load_exported(tmp_path / "m")


def test_missing_statistics_are_missing_parameters_not_inputs(tmp_path):
    """Graph variables without values that a layer takes as weights are named as missing, not taken as data inputs
    (a model may have several data inputs)."""
    symbol, params = _exported_pair(tmp_path)
    values = mx.nd.load(str(params))
    del values["aux:bn1_moving_var"]
    mx.nd.save(str(params), values)
    with pytest.raises(ModelFileError, match=r"m-0000.params.*bn1_moving_var"):
        load_exported(tmp_path / "m")


def test_two_data_inputs_load_and_need_a_shape_each(tmp_path):
    data, extra = mx.sym.var("data"), mx.sym.var("extra")
    out = mx.sym.FullyConnected(mx.sym.concat(data, extra, dim=1), num_hidden=2, name="fc")
    out.save(str(tmp_path / "two-symbol.json"))
    rng = np.random.RandomState(0)
    weights = {"arg:fc_weight": mx.nd.array(rng.normal(0, 1, (2, 5))), "arg:fc_bias": mx.nd.array(rng.normal(0, 1, 2))}
    mx.nd.save(str(tmp_path / "two-0000.params"), weights)
    model = load_exported(tmp_path / "two")
    assert model.inputs == ["data", "extra"]
    with pytest.raises(
        InvalidCallError, match=r"inputs are \['data', 'extra'\]; input_shape has no shape for \['extra'\]"
    ):
        convert(model, {"data": (1, 3)})
    shapes = {"data": (2, 3), "extra": (2, 2)}
    result = convert(model, shapes)
    x = {name: make_input(shape, i) for i, (name, shape) in enumerate(shapes.items())}
    out = run_converted(result.text_net, result.binary_weights, x)
    reference = MXNetReference(model, shapes).run(x, ["fc"])["fc"]
    c = compare(out["fc"], reference)
    assert c.ok, c
    other = MXNetReference(model, shapes).run({**x, "extra": make_input((2, 2), 9)}, ["fc"])["fc"]
    assert np.max(np.abs(other - reference)) > 0.1  # the second input matters
    assert result.report.bgr_skipped == ["data", "extra"]


def test_params_of_the_wrong_shape(tmp_path):
    symbol, params = _exported_pair(tmp_path)
    values = mx.nd.load(str(params))
    values["arg:conv1_weight"] = mx.nd.zeros((8, 3, 5, 5))
    mx.nd.save(str(params), values)
    with pytest.raises(ModelFileError, match=r"m-0000.params.*conv1_weight.*shape"):
        convert_model(load_exported(tmp_path / "m"), (1, 3, 9, 9))


def test_truncated_params(tmp_path):
    symbol, params = _exported_pair(tmp_path)
    data = params.read_bytes()
    params.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match="m-0000.params.*truncated"):
        load_exported(tmp_path / "m")


def test_unsupported_op_in_exported_graph_reported_before_mxnet_parses_it(tmp_path):
    symbol, params = _exported_pair(tmp_path)
    text = symbol.read_text().replace('"op": "Activation"', '"op": "NoSuchOp"')
    symbol.write_text(text)
    from gluon2caffe import UnsupportedOperatorError

    with pytest.raises(UnsupportedOperatorError, match="NoSuchOp x1: relu1"):
        convert_model(load_exported(tmp_path / "m"), (1, 3, 9, 9))


def test_loading_executes_nothing(tmp_path):
    """Attribute strings that are Python code stay strings: refused by the typed readers, never run."""
    symbol, params = _exported_pair(tmp_path)
    marker = tmp_path / "pwned"
    payload = f"__import__('os').system('touch {marker}')"
    symbol.write_text(symbol.read_text().replace('"num_hidden": "5"', f'"num_hidden": "{payload}"'))
    from gluon2caffe import Gluon2CaffeError

    with pytest.raises(Gluon2CaffeError):
        convert_model(load_exported(tmp_path / "m"), (1, 3, 9, 9))
    assert not os.path.exists(marker)


def test_mxnet_crash_during_shape_inference_is_a_clear_error(tmp_path, monkeypatch):
    """MXNet's C++ trusts the graph (a fuzzed file made infer_shape segfault): it runs in a child process."""
    import signal
    import time

    import gluon2caffe.frontend.exported as exported
    import gluon2caffe.frontend.mxnet_graph as reader

    _exported_pair(tmp_path)
    model = load_exported(tmp_path / "m")
    monkeypatch.setattr(reader, "infer_shapes", lambda *a: os.kill(os.getpid(), signal.SIGSEGV))
    with pytest.raises(ModelFileError, match="m-symbol.json.*crashed"):
        convert_model(model, (1, 3, 11, 13))
    monkeypatch.setattr(reader, "infer_shapes", lambda *a: time.sleep(60))
    monkeypatch.setattr(exported, "SHAPE_INFERENCE_TIMEOUT", 1)
    with pytest.raises(ModelFileError, match="did not finish"):
        convert_model(model, (1, 3, 11, 13))
