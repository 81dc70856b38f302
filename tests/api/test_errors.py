"""Errors: unsupported ops reported together before any work, bad attributes and bad calls named clearly."""

import mxnet as mx
import numpy as np
import pytest
from mxnet.gluon import HybridBlock, nn

from gluon2caffe import (
    ConversionError,
    InvalidAttributeError,
    InvalidCallError,
    ModelFileError,
    UnsupportedOperatorError,
    convert_model,
    load_exported,
)
from gluon2caffe.errors import InputShapeError, UntraceableBlockError
from gluon2caffe.ir.attrs import Attrs
from helpers import lam, seq, symbol_block


def test_every_unsupported_op_is_listed_with_counts_and_names():
    net = seq(
        nn.Conv2D(4, 3),
        lam(lambda F, x: F.sin(x)),
        lam(lambda F, x: F.cos(x)),
        lam(lambda F, x: F.sin(x)),
        nn.Activation("relu"),
        lam(lambda F, x: F.sin(x)),
    )
    net.initialize()
    with pytest.raises(UnsupportedOperatorError) as info:
        convert_model(net, (1, 3, 8, 8))
    err = info.value
    assert set(err.unsupported) == {"sin", "cos"}
    assert len(err.unsupported["sin"]) == 3 and len(err.unsupported["cos"]) == 1
    message = str(err)
    assert "sin x3" in message and "cos x1" in message
    assert all(name in message for name in err.unsupported["sin"])


def test_ops_outside_caffe_are_listed_with_the_reason():
    """Operators Caffe cannot compute say why (converters/registry.OUTSIDE_CAFFE); others are just unsupported."""
    net = seq(
        lam(lambda F, x: F.sin(x)),
        lam(lambda F, x: F.floor(x)),
        lam(lambda F, x: x + F.random.uniform(shape=(1, 3, 8, 8))),
        lam(lambda F, x: F.sinh(x)),
    )
    net.initialize()
    with pytest.raises(UnsupportedOperatorError) as info:
        convert_model(net, (1, 3, 8, 8), to_bgr=False)
    lines = str(info.value).splitlines()
    line = {op: next(text for text in lines if text.strip().startswith(f"{op} x1")) for op in info.value.unsupported}
    assert "(trigonometry: Caffe has no periodic" in line["sin"]
    assert "(rounds to integers" in line["floor"]
    assert "(draws random numbers" in line["_random_uniform"]
    assert line["sinh"].endswith(tuple(info.value.unsupported["sinh"]))  # no reason given: it has no converter yet
    assert set(info.value.reasons) == {"sin", "floor", "_random_uniform"}


def test_unsupported_scan_happens_before_any_attribute_error():
    """A net with both a bad attribute and an unsupported op reports the unsupported op (nothing converted)."""
    net = seq(lam(lambda F, x: F.Pooling(x, kernel=(2, 2), pool_type="lp", p_value=2)), lam(lambda F, x: F.erf(x)))
    net.initialize()
    with pytest.raises(UnsupportedOperatorError, match="erf"):
        convert_model(net, (1, 3, 8, 8), to_bgr=False)


def test_bad_attribute_names_node_op_and_attribute():
    net = seq(lam(lambda F, x: F.Pooling(x, kernel=(2, 2), pool_type="lp", p_value=3)))
    net.initialize()
    with pytest.raises(ConversionError) as info:
        convert_model(net, (1, 3, 8, 8), to_bgr=False)
    assert info.value.op == "Pooling" and info.value.attr == "p_value" and info.value.node
    assert "Pooling" in str(info.value) and "p_value" in str(info.value) and info.value.node in str(info.value)


def test_attribute_strings_are_parsed_never_evaluated(tmp_path):
    marker = tmp_path / "pwned"
    evil = f"__import__('pathlib').Path({str(marker)!r}).touch() or (3, 3)"
    attrs = Attrs("conv0", "Convolution", {"kernel": evil, "eps": evil, "no_bias": evil})
    with pytest.raises(InvalidAttributeError, match="conv0.*Convolution.*kernel"):
        attrs.int_tuple("kernel")
    with pytest.raises(InvalidAttributeError, match="eps"):
        attrs.float("eps")
    with pytest.raises(InvalidAttributeError, match="no_bias"):
        attrs.bool("no_bias")
    assert not marker.exists()


def test_malicious_attribute_in_a_graph_is_rejected(tmp_path, monkeypatch):
    """An attribute string that is code reaches the typed reader as a string and is refused, not run."""
    import gluon2caffe.frontend.load as load  # the one reader (issue 25)

    marker = tmp_path / "pwned"
    data = mx.sym.var("data")
    conv = mx.sym.Convolution(data, kernel=(3, 3), num_filter=2, name="conv")
    block = symbol_block(conv, {"conv_weight": np.ones((2, 3, 3, 3)), "conv_bias": np.zeros(2)})
    original = load.graph_from_json

    def tampered(text, *args, **kwargs):
        assert '"num_filter": "2"' in text
        text = text.replace('"num_filter": "2"', f"\"num_filter\": \"__import__('os').system('touch {marker}')\"")
        return original(text, *args, **kwargs)

    monkeypatch.setattr(load, "graph_from_json", tampered)
    with pytest.raises(InvalidAttributeError, match="num_filter"):
        convert_model(block, (1, 3, 5, 5), to_bgr=False)
    assert not marker.exists()


@pytest.mark.parametrize(
    "raw, expected",
    [("(3, 3)", (3, 3)), ("[1,2]", (1, 2)), ("3", (3,)), ("()", ()), ("(3,)", (3,)), ("(2L, 2L)", (2, 2))],
)
def test_int_tuple(raw, expected):
    assert Attrs("n", "op", {"k": raw}).int_tuple("k") == expected


def test_typed_readers():
    a = Attrs("n", "op", {"f": "1e-05", "b": "True", "b2": "0", "i": "4", "none": "None"})
    assert a.float("f") == 1e-5 and a.bool("b") is True and a.bool("b2") is False and a.int("i") == 4
    assert a.float("none", None) is None and a.float("missing", 2.0) == 2.0
    with pytest.raises(InvalidAttributeError, match="required"):
        a.int("missing")
    with pytest.raises(InvalidAttributeError, match="not an integer"):
        Attrs("n", "op", {"i": "2.5"}).int("i")


def test_not_a_hybridblock():
    class Plain(nn.Block):
        def forward(self, x):
            return x

    with pytest.raises(InvalidCallError, match="HybridBlock"):
        convert_model(Plain())
    with pytest.raises(InvalidCallError, match="HybridBlock"):
        convert_model("resnet18_v1")


@pytest.mark.parametrize("shape", [(3, 224, 224), (1, 3, 224), (1, 3, 224, 224, 1), (1, 3, 0, 4), "abc"])
def test_bad_input_shape(shape):
    net = seq(nn.Conv2D(4, 3))
    net.initialize()
    with pytest.raises(InvalidCallError, match="input_shape"):
        convert_model(net, shape)


def test_input_shape_the_net_cannot_take():
    net = seq(nn.Conv2D(4, 3), nn.Flatten(), nn.Dense(3, in_units=100))
    net.initialize()
    with pytest.raises(InvalidCallError):
        convert_model(net, (1, 3, 9, 9))


def test_uninitialized_parameters():
    net = seq(nn.Conv2D(4, 3))
    with pytest.raises(InvalidCallError, match="initialize"):
        convert_model(net, (1, 3, 8, 8))


# -- input shapes the model cannot take: one line naming the node (and the batch axis, where one is missing) --------


@pytest.mark.parametrize("in_channels", [0, 3], ids=["deferred", "initialized"])
def test_a_forgotten_batch_axis_is_one_line_with_the_shape_that_fits(in_channels, capfd):
    net = seq(nn.Conv2D(4, 3, in_channels=in_channels), nn.Activation("relu"))
    net.initialize()
    with pytest.raises(InputShapeError) as info:
        convert_model(net, (3, 224, 224))
    conv = net[0].name + "_fwd"
    assert str(info.value) == (
        f"input 'data' has shape (3, 224, 224) but node '{conv}' (Convolution), which reads it, takes a 4-D input: "
        "did you forget the batch axis? e.g. input_shape=(1, 3, 224, 224)"
    )
    assert info.value.describe(cli=True).endswith("e.g. --input-shape 1,3,224,224")
    assert isinstance(info.value, InvalidCallError) and info.value.suggestion == {"data": (1, 3, 224, 224)}
    out, err = capfd.readouterr()
    assert out == "" and "infer_shape" not in err  # MXNet's own argument dump (print) is not run


def test_a_shape_the_model_cannot_take_names_the_node_whose_rule_failed(capfd):
    net = seq(nn.Conv2D(4, 3, in_channels=3), nn.Flatten(), nn.Dense(3, in_units=100))
    net.initialize()
    dense, conv = net[2].name + "_fwd", net[0].name + "_fwd"
    with pytest.raises(InputShapeError) as info:
        convert_model(net, (1, 3, 9, 9))
    assert str(info.value) == (
        f"input_shape=(1, 3, 9, 9) does not fit the model: node '{dense}' (FullyConnected): Shape inconsistent, "
        "Provided = [3,100], inferred shape=(3,196)"
    )
    with pytest.raises(InputShapeError) as info:
        convert_model(net, (1, 3, 2, 2))
    assert str(info.value) == (
        f"input_shape=(1, 3, 2, 2) does not fit the model: node '{conv}' (Convolution): kernel size exceed input "
        "(3 vs. 2)"
    )
    assert capfd.readouterr().out == ""


def test_a_forgotten_batch_axis_of_one_input_among_several():
    class Two(mx.gluon.HybridBlock):
        def __init__(self):
            super().__init__()
            with self.name_scope():
                self.conv = nn.Conv2D(4, 1, in_channels=3)
                self.dense = nn.Dense(4, in_units=5)

        def hybrid_forward(self, F, image, meta):
            return F.broadcast_add(self.conv(image), F.reshape(self.dense(meta), (0, 0, 1, 1)))

    net = Two()
    net.initialize()
    with pytest.raises(InputShapeError) as info:
        convert_model(net, {"image": (1, 3, 8, 8), "meta": (5,)})
    assert info.value.suggestion == {"image": (1, 3, 8, 8), "meta": (1, 5)}
    assert str(info.value).startswith("input 'meta' has shape (5,) but ")
    assert str(info.value).endswith("e.g. input_shape={'image': (1, 3, 8, 8), 'meta': (1, 5)}")
    assert info.value.describe(cli=True).endswith("e.g. --input-shape image:1,3,8,8 --input-shape meta:1,5")


def export_tiny(folder):
    net = seq(nn.Conv2D(4, 3, in_channels=3), nn.BatchNorm(), nn.Activation("relu"), nn.Dense(2))
    net.initialize()
    net.hybridize()
    net(mx.nd.zeros((1, 3, 9, 9)))
    net.export(str(folder / "tiny"))
    return load_exported(folder / "tiny"), net[0].name + "_fwd"


@pytest.mark.parametrize("backend", ["mxnet", "own"])
def test_exported_model_shape_errors_name_the_node(backend, tmp_path, monkeypatch, capfd):
    """The same line for an exported model, by MXNet's inference (in its child process) and by ours; another shape
    the graph refuses is the symbol file's error naming the node, on one line."""
    monkeypatch.setenv("GLUON2CAFFE_SHAPE_INFERENCE", backend)
    model, conv = export_tiny(tmp_path)
    with pytest.raises(InputShapeError) as info:
        convert_model(model, (3, 9, 9))
    assert str(info.value) == (
        f"input 'data' has shape (3, 9, 9) but node '{conv}' (Convolution), which reads it, takes a 4-D input: "
        "did you forget the batch axis? e.g. input_shape=(1, 3, 9, 9)"
    )
    with pytest.raises(ModelFileError) as info:
        convert_model(model, (1, 3, 1, 1))
    message = str(info.value)
    assert message.startswith(f"{model.symbol_path}: node '{conv}' op Convolution") and "\n" not in message
    assert "exceed" in message
    assert capfd.readouterr().out == ""


# -- blocks whose hybrid_forward runs on NDArrays only: the block, the line, what to do -----------------------------


class ReadsShape(mx.gluon.HybridBlock):
    def hybrid_forward(self, F, x):
        batch = x.shape[0]  # imperative only
        return F.reshape(x, (batch, -1))


class CallsAsnumpy(mx.gluon.HybridBlock):
    def hybrid_forward(self, F, x):
        return x * float(x.asnumpy().max())  # imperative only


class BranchesOnValues(mx.gluon.HybridBlock):
    def hybrid_forward(self, F, x):
        if x.sum() > 0:  # imperative only
            return F.relu(x)
        return x


def line_of(cls, text: str) -> int:
    """The line of this file where `cls` has `text`."""
    import inspect

    lines, start = inspect.getsourcelines(cls)
    return start + next(i for i, line in enumerate(lines) if text in line)


@pytest.mark.parametrize(
    "cls, text, cause",
    [
        (ReadsShape, "batch = x.shape[0]", "AttributeError: 'Symbol' object has no attribute 'shape'"),
        (CallsAsnumpy, "x.asnumpy()", "NotImplementedForSymbol: Function asnumpy is not implemented for Symbol"),
        (BranchesOnValues, "if x.sum() > 0", "NotImplementedForSymbol"),
    ],
)
def test_an_untraceable_block_names_its_class_and_line(cls, text, cause):
    net = seq(nn.Conv2D(3, 1, in_channels=3), cls())
    net.initialize()
    with pytest.raises(UntraceableBlockError) as info:
        convert_model(net, (1, 3, 8, 8))
    message = str(info.value)
    assert message.startswith(f"{cls.__name__} cannot be traced symbolically at {__file__}:{line_of(cls, text)} in ")
    assert text in message and cause in message and "\n" not in message
    assert "F operators" in message and "net.hybridize(); net(x) runs" in message
    assert isinstance(info.value, InvalidCallError)


def test_a_block_called_with_too_many_inputs_says_so():
    net = seq(nn.Conv2D(3, 1, in_channels=3))
    net.initialize()
    with pytest.raises(InvalidCallError, match=r"cannot take 2 input\(s\)"):
        convert_model(net, [(1, 3, 8, 8), (1, 3, 8, 8)])


class _TwoInputs(HybridBlock):
    """fn(F, x, w, **params): a layer whose weight (or statistics) is the block's second input."""

    def __init__(self, fn, **shapes):
        super().__init__()
        self.fn = fn
        with self.name_scope():
            for name, shape in shapes.items():
                setattr(self, name, self.params.get(name, shape=shape, init=mx.init.One()))

    def hybrid_forward(self, F, x, w, **params):
        return self.fn(F, x, w, **params)


# name: (fn of (F, x, w, params), the block's parameters, the second input's shape, op, role and index named)
WEIGHT_INPUTS = {
    "conv_weight": (
        lambda F, x, w: F.Convolution(x, w, kernel=(3, 3), num_filter=4, no_bias=True),
        {},
        (4, 3, 3, 3),
        "Convolution",
        "weight (input 1)",
    ),
    "conv_bias": (
        lambda F, x, w, p: F.Convolution(x, p, w, kernel=(3, 3), num_filter=4),
        {"p": (4, 3, 3, 3)},
        (4,),
        "Convolution",
        "bias (input 2)",
    ),
    "deconv_weight": (
        lambda F, x, w: F.Deconvolution(x, w, kernel=(2, 2), num_filter=4),
        {},
        (3, 4, 2, 2),
        "Deconvolution",
        "weight (input 1)",
    ),
    "dense_weight": (
        lambda F, x, w: F.FullyConnected(x, w, num_hidden=5, no_bias=True),
        {},
        (5, 192),
        "FullyConnected",
        "weight (input 1)",
    ),
    "batchnorm_gamma": (
        lambda F, x, w, b, m, v: F.BatchNorm(x, w, b, m, v, fix_gamma=False),
        {"b": (3,), "m": (3,), "v": (3,)},
        (3,),
        "BatchNorm",
        "gamma (input 1)",
    ),
    "batchnorm_moving_var": (
        lambda F, x, w, g, b, m: F.BatchNorm(x, g, b, m, w),
        {"g": (3,), "b": (3,), "m": (3,)},
        (3,),
        "BatchNorm",
        "moving_var (input 4)",
    ),
    "prelu_gamma": (
        lambda F, x, w: F.LeakyReLU(x, w, act_type="prelu"),
        {},
        (3,),
        "LeakyReLU",
        "gamma (input 1)",
    ),
}


@pytest.mark.parametrize("case", sorted(WEIGHT_INPUTS))
def test_a_weight_given_as_a_graph_input_is_refused_before_any_work(case, monkeypatch):
    """Caffe stores weights in the layer: a weight that is a data input of the block (was a KeyError) is refused,
    naming the node, which weight and the input, before shape inference or any pass runs."""
    import gluon2caffe.api as api

    fn, params, shape, op, role = WEIGHT_INPUTS[case]
    net = _TwoInputs(fn, **params)
    net.initialize()

    def no_work(*args, **kwargs):
        raise AssertionError("shape inference ran before the weight inputs were checked")

    monkeypatch.setattr(api, "attach_shapes", no_work)
    with pytest.raises(ConversionError) as info:
        convert_model(net, [(1, 3, 8, 8), shape], to_bgr=False)
    assert info.value.op == op and info.value.node.startswith(net.name)
    assert str(info.value) == (
        f"node '{info.value.node}' op {op}: Caffe layers take weights as parameters; this node's {role} is the graph "
        "input 'data1': make it a parameter (or constant) of the block instead of an input"
    )


def test_a_weight_computed_from_a_graph_input_is_refused_naming_it():
    net = _TwoInputs(lambda F, x, w: F.Convolution(x, F.transpose(w) * 2, kernel=(3, 3), num_filter=4, no_bias=True))
    net.initialize()
    with pytest.raises(
        ConversionError,
        match=r"op Convolution: .* this node's weight \(input 1\) '\w+' is computed "
        r"from the graph input 'data1': compute it from parameters only",
    ):
        convert_model(net, [(1, 3, 8, 8), (3, 3, 3, 4)], to_bgr=False)
