"""Errors: unsupported ops reported together before any work, bad attributes and bad calls named clearly."""

import mxnet as mx
import numpy as np
import pytest
from mxnet.gluon import HybridBlock, nn

from gluon2caffe import (
    ConversionError,
    InvalidAttributeError,
    InvalidCallError,
    UnsupportedOperatorError,
    convert_model,
)
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


def test_unsupported_scan_happens_before_any_attribute_error():
    """A net with both a bad attribute and an unsupported op reports the unsupported op (nothing converted)."""
    net = seq(lam(lambda F, x: F.Pooling(x, kernel=(2, 2), pool_type="lp", p_value=2)), lam(lambda F, x: F.erf(x)))
    net.initialize()
    with pytest.raises(UnsupportedOperatorError, match="erf"):
        convert_model(net, (1, 3, 8, 8), to_bgr=False)


def test_bad_attribute_names_node_op_and_attribute():
    net = seq(lam(lambda F, x: F.Pooling(x, kernel=(2, 2), pool_type="lp", p_value=2)))
    net.initialize()
    with pytest.raises(ConversionError) as info:
        convert_model(net, (1, 3, 8, 8), to_bgr=False)
    assert info.value.op == "Pooling" and info.value.attr == "pool_type" and info.value.node
    assert "Pooling" in str(info.value) and "pool_type" in str(info.value) and info.value.node in str(info.value)


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
    import gluon2caffe.api as api

    marker = tmp_path / "pwned"
    data = mx.sym.var("data")
    conv = mx.sym.Convolution(data, kernel=(3, 3), num_filter=2, name="conv")
    block = symbol_block(conv, {"conv_weight": np.ones((2, 3, 3, 3)), "conv_bias": np.zeros(2)})
    original = api.graph_from_json

    def tampered(text, *args, **kwargs):
        assert '"num_filter": "2"' in text
        text = text.replace('"num_filter": "2"', f"\"num_filter\": \"__import__('os').system('touch {marker}')\"")
        return original(text, *args, **kwargs)

    monkeypatch.setattr(api, "graph_from_json", tampered)
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
