"""The fold_constants pass: weights computed in the graph from parameters (weight * mask, slices, concats, reshapes,
transposes and arithmetic of parameters) evaluated at conversion time, bit for bit as MXNet computes them, then the
converted net in the real Caffe."""

import mxnet as mx
import numpy as np
import pytest
from mxnet.gluon import HybridBlock, nn

from gluon2caffe import ConversionError, UnsupportedOperatorError, convert
from gluon2caffe.frontend.mxnet_graph import trace_symbol
from gluon2caffe.ir.attrs import Attrs
from gluon2caffe.ir.evaluate import evaluate
from gluon2caffe.ir.graph import Node
from helpers import check_block, seq


def mxnet_value(block: HybridBlock, tensor: str) -> np.ndarray:
    """MXNet's own value of an internal tensor of the traced block that depends on parameters only."""
    symbol = trace_symbol(block, ["data"]).get_internals()[f"{tensor}_output"]
    params = {p.name: p.data() for p in block.collect_params().values()}
    return symbol.eval(ctx=mx.cpu(), **{name: params[name] for name in symbol.list_arguments()})[0].asnumpy()


def assert_folded_bitwise(block: HybridBlock, result, tensors: list[str]) -> None:
    """Each folded tensor is a parameter of the converted graph holding exactly the float32 bits MXNet computes."""
    for tensor in tensors:
        assert tensor in result.graph.params, f"{tensor} was not folded into a parameter"
        folded, reference = result.graph.params[tensor], mxnet_value(block, tensor)
        assert folded.dtype == reference.dtype == np.float32
        np.testing.assert_array_equal(folded.view(np.uint32), reference.view(np.uint32))


def _group_mask(out_channels: int, in_channels: int, groups: int, kernel: int) -> np.ndarray:
    """A learned group structure: output channel o reads only the input channels of its group."""
    mask = np.zeros((out_channels, in_channels, kernel, kernel), np.float32)
    per_out, per_in = out_channels // groups, in_channels // groups
    for o in range(out_channels):
        g = o // per_out
        mask[o, g * per_in : (g + 1) * per_in] = 1.0
    return mask


class MaskedConv(HybridBlock):
    """A convolution whose weight is weight * mask (a constant), as learned-group-structure nets write it."""

    def __init__(self, channels: int, in_channels: int, groups: int):
        super().__init__()
        self.channels = channels
        with self.name_scope():
            self.weight = self.params.get("weight", shape=(channels, in_channels, 3, 3))
            self.bias = self.params.get("bias", shape=(channels,))
            self.mask = self.params.get_constant("mask", _group_mask(channels, in_channels, groups, 3))

    def hybrid_forward(self, F, x, weight, bias, mask):
        return F.Convolution(x, weight * mask, bias, kernel=(3, 3), pad=(1, 1), num_filter=self.channels)


@pytest.mark.op("Convolution", "BatchNorm")
@pytest.mark.parametrize("merge_bn", [True, False])
def test_masked_convolution(merge_bn):
    """weight * mask: one elemwise_mul of a parameter and a constant, folded; the BatchNorm after it folds in too."""
    masked = MaskedConv(8, 6, groups=2)
    net = seq(nn.Conv2D(6, 1), masked, nn.BatchNorm(epsilon=2e-3), nn.Activation("relu"))
    checked = check_block(net, (2, 3, 9, 8), merge_bn=merge_bn, to_bgr=True)
    result = checked.result
    assert result.report.constants_folded == 1
    assert ("BatchNorm" in checked.layer_types) != merge_bn
    conv = next(n for n in result.graph.nodes if n.op == "Convolution" and n.name.startswith(masked.name))
    if not merge_bn:  # (the fold rescales the weight afterwards)
        assert_folded_bitwise(masked, result, [conv.inputs[1]])
    assert not any(name.endswith("_mask") for name in result.graph.params), "the mask is folded away"


class OctaveConv(HybridBlock):
    """Octave convolution: high- and low-frequency halves of the channels, one weight (out, in, 3, 3) sliced into
    the four paths (high->high, low->high, high->low, low->low) with slice and slice_axis, its bias likewise."""

    def __init__(self, channels: int = 8, in_channels: int = 6):
        super().__init__()
        self.channels, self.in_channels = channels, in_channels
        with self.name_scope():
            self.weight = self.params.get("weight", shape=(channels, in_channels, 3, 3))
            self.bias = self.params.get("bias", shape=(channels,))

    def hybrid_forward(self, F, x, weight, bias):
        ci, co = self.in_channels // 2, self.channels // 2
        x_high = F.slice_axis(x, axis=1, begin=0, end=ci)
        x_low = F.Pooling(F.slice_axis(x, axis=1, begin=ci, end=None), kernel=(2, 2), stride=(2, 2), pool_type="avg")
        w_hh = F.slice(weight, begin=(0, 0), end=(co, ci))
        w_lh = F.slice_axis(F.slice_axis(weight, axis=0, begin=0, end=co), axis=1, begin=ci, end=None)
        w_hl = F.slice(weight, begin=(co, 0, None, None), end=(None, ci, None, None))
        w_ll = F.slice(weight, begin=(co, ci), end=(None, None))
        b_high, b_low = F.slice_axis(bias, axis=0, begin=0, end=co), F.slice_axis(bias, axis=0, begin=co, end=None)

        def conv(data, w, b=None):
            return F.Convolution(data, w, b, kernel=(3, 3), pad=(1, 1), num_filter=co, no_bias=b is None)

        low_to_high = F.UpSampling(conv(x_low, w_lh), scale=2, sample_type="nearest")
        y_high = conv(x_high, w_hh, b_high) + low_to_high
        high_to_low = conv(F.Pooling(x_high, kernel=(2, 2), stride=(2, 2), pool_type="avg"), w_hl, b_low)
        y_low = high_to_low + conv(x_low, w_ll)
        return F.concat(y_high, F.UpSampling(y_low, scale=2, sample_type="nearest"), dim=1)


@pytest.mark.op("Convolution", "Pooling", "UpSampling", "elemwise_add", "Concat", "slice_axis")
def test_octave_convolution_with_a_sliced_weight():
    octave = OctaveConv()
    net = seq(nn.Conv2D(6, 3, padding=1), octave, nn.Conv2D(5, 1))
    checked = check_block(net, (2, 3, 10, 12))
    result = checked.result
    assert result.report.constants_folded == 7  # 3 slice + 2 slice_axis (weight), 2 slice_axis (bias)
    sliced = [n for n in result.graph.nodes if n.op in ("slice", "slice_axis")]
    assert len(sliced) == 2, "only the two slices of the input remain"
    convs = [n for n in result.graph.nodes if n.op == "Convolution" and n.name.startswith(octave.name)]
    assert len(convs) == 4
    assert_folded_bitwise(octave, result, [t for n in convs for t in n.inputs[1:]])


class WeightOf(HybridBlock):
    """A layer whose weight (and bias) is `fn` of parameters: Convolution (3x3, 5 filters), FullyConnected (7
    units) or a PReLU/BatchNorm after a convolution, with the raw parameters it needs."""

    def __init__(self, op: str, fn, shapes: dict, consts: dict | None = None):
        super().__init__()
        self.op, self.fn, self.names = op, fn, list(shapes) + list(consts or {})
        with self.name_scope():
            for name, shape in shapes.items():
                setattr(self, name, self.params.get(name, shape=shape))
            for name, value in (consts or {}).items():
                setattr(self, name, self.params.get_constant(name, value))

    def hybrid_forward(self, F, x, **params):
        w = self.fn(F, **params)
        if self.op == "Convolution":
            return F.Convolution(x, w["weight"], w.get("bias"), kernel=(3, 3), num_filter=5, no_bias="bias" not in w)
        if self.op == "FullyConnected":
            return F.FullyConnected(x, w["weight"], w.get("bias"), num_hidden=7, no_bias="bias" not in w)
        if self.op == "LeakyReLU":
            return F.LeakyReLU(x, w["gamma"], act_type="prelu")
        return F.BatchNorm(x, w["gamma"], w["beta"], w["mean"], w["var"], eps=1e-3, fix_gamma=False)


ONES = np.ones((5, 3, 3, 3), np.float32)
HALF = np.full((5,), 0.5, np.float32)
_rng = np.random.RandomState(5)
SPREAD = (_rng.normal(0, 1, (5, 3, 3, 3)) * 10.0 ** _rng.uniform(-3, 3, (5, 3, 3, 3))).astype(np.float32)
# name: (op, shapes of the raw parameters, constants, fn of them giving the layer's weight/bias/statistics)
EXPRESSIONS = {
    "scaled_and_shifted": (
        "Convolution",
        {"w": (5, 3, 3, 3), "b": (5,)},
        {},
        lambda F, w, b: {"weight": w * 0.37 + 0.01, "bias": 3.0 - b / 7.0},
    ),
    "sqrt_abs_negative_power": (
        "Convolution",
        {"w": (5, 3, 3, 3)},
        {},
        lambda F, w: {"weight": -F.sqrt(F.abs(w)) + F.square(w) ** 1.5},
    ),
    "reshaped_flat_weight": ("Convolution", {"w": (135,)}, {}, lambda F, w: {"weight": F.reshape(w, (5, 3, 3, 3))}),
    "transposed": ("Convolution", {"w": (3, 5, 3, 3)}, {}, lambda F, w: {"weight": F.transpose(w, (1, 0, 2, 3))}),
    "concat_of_two": (
        "Convolution",
        {"w1": (2, 3, 3, 3), "w2": (3, 3, 3, 3)},
        {},
        lambda F, w1, w2: {"weight": F.concat(w2, w1, dim=0)},
    ),
    "add_n_of_three_and_five": (  # terms of very different sizes: the summation order shows in the last bits
        "Convolution",
        {"a": (5, 3, 3, 3), "b": (5, 3, 3, 3)},
        {"k": SPREAD, "ones": ONES},
        lambda F, a, b, k, ones: {"weight": F.add_n(a, k, b) - F.add_n(k, a, ones * 1e-3, b, k * 3) * 0.25},
    ),
    "broadcast_with_a_constant": (
        "Convolution",
        {"w": (5, 3, 3, 3), "s": (5, 1, 1, 1)},
        {"half": HALF},
        lambda F, w, s, half: {"weight": F.broadcast_mul(w, s), "bias": F.broadcast_div(half, F.abs(s.reshape(-1)))},
    ),
    "split_expand_squeeze": (
        "Convolution",
        {"w": (5, 6, 3, 3)},
        {},
        lambda F, w: {
            "weight": F.squeeze(F.expand_dims(F.split(w, 2, axis=1)[1], axis=0), axis=0) + F.split(w, 2, axis=1)[0]
        },
    ),
    "dense_transposed_flattened": (
        "FullyConnected",
        {"w": (48, 7)},
        {},
        lambda F, w: {
            "weight": F.Flatten(F.transpose(w).reshape((7, 3, 16))),
            "bias": F.slice_axis(w, axis=0, begin=5, end=6).reshape((7,)) * 0.5,
        },
    ),
    "prelu_slopes": ("LeakyReLU", {"g": (3,)}, {}, lambda F, g: {"gamma": F.clip(F.abs(g), 0.05, 0.6)}),
    "batchnorm_affine": (  # (MXNet's moving statistics are mutable variables: they cannot be computed)
        "BatchNorm",
        {"g": (6,), "b": (3,), "m": (3,)},
        {"v": np.array([0.5, 1.3, 2.0], np.float32)},
        lambda F, g, b, m, v: {
            "gamma": F.slice(g, begin=(1,), end=(None,), step=(2,)),
            "beta": b - 1,
            "mean": m,
            "var": v,
        },
    ),
}


@pytest.mark.parametrize("name", sorted(EXPRESSIONS))
def test_weights_computed_from_parameters(name):
    op, shapes, consts, fn = EXPRESSIONS[name]
    layer = WeightOf(op, fn, shapes, consts)
    net = seq(nn.Conv2D(3, 1), layer) if op != "FullyConnected" else seq(nn.Conv2D(3, 1), nn.Activation("tanh"), layer)
    shape = (2, 3, 4, 4) if op == "FullyConnected" else (2, 3, 7, 6)
    checked = check_block(net, shape, merge_bn=False)
    result = checked.result
    assert result.report.constants_folded >= 1
    consumer = next(n for n in result.graph.nodes if n.op == op and n.name.startswith(layer.name))
    computed = [t for t in consumer.inputs[1:] if t not in layer.collect_params()]
    assert computed
    assert_folded_bitwise(layer, result, computed)
    leftover = [n.op for n in result.graph.nodes if n.name.startswith(layer.name) and n.op != op]
    assert not leftover, f"not folded: {leftover}"


def test_evaluation_refuses_an_integer_parameter_naming_the_node():
    node = Node("n", "_mul_scalar", Attrs("n", "_mul_scalar", {"scalar": "2"}), ["p"], ["n"])
    with pytest.raises(ConversionError, match="node 'n' op _mul_scalar: computes with a int32 parameter"):
        evaluate(node, [np.arange(3, dtype=np.int32)], [(3,)])


class _Weighted(HybridBlock):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn
        with self.name_scope():
            self.p = self.params.get("p", shape=(4, 3, 3, 3))

    def hybrid_forward(self, F, x, p):
        return F.Convolution(x, self.fn(F, p), kernel=(3, 3), num_filter=4, no_bias=True)


def test_a_weight_through_an_op_not_evaluated_is_refused_naming_it():
    """sigmoid has a converter but is not evaluated (numpy's exp is not libm's bit for bit): refused before any
    work, naming the convolution, its weight and the sigmoid."""
    net = _Weighted(lambda F, p: F.sigmoid(p))
    net.initialize()
    with pytest.raises(
        ConversionError,
        match=r"op Convolution: Caffe layers take weights as parameters; this node's "
        r"weight \(input 1\) '.*sigmoid0' is computed from parameters by node '.*sigmoid0' \(sigmoid\), "
        "which is not evaluated at conversion time",
    ):
        convert(net, (1, 3, 8, 8), to_bgr=False)


def test_a_weight_through_an_unsupported_op_is_listed_as_unsupported():
    net = _Weighted(lambda F, p: F.sin(p) * 0.1)
    net.initialize()
    with pytest.raises(UnsupportedOperatorError, match="sin x1"):
        convert(net, (1, 3, 8, 8), to_bgr=False)


def test_a_constant_where_a_layer_reads_a_blob_is_refused_naming_the_node():
    """A parameter-only subgraph feeding a data input (an UpSampling of a constant) is folded into a parameter, and
    no Caffe layer reads a parameter as a blob: refused rather than a net Caffe cannot load."""

    class _ConstantMap(HybridBlock):
        def __init__(self):
            super().__init__()
            with self.name_scope():
                self.p = self.params.get("p", shape=(1, 3, 4, 4))

        def hybrid_forward(self, F, x, p):
            return x + F.UpSampling(p * 2, scale=2, sample_type="nearest")

    net = _ConstantMap()
    net.initialize()
    with pytest.raises(ConversionError, match=r"op UpSampling: reads the constant '.*' \(a parameter, or computed"):
        convert(net, (1, 3, 8, 8), to_bgr=False)


def test_exported_weights_fold_without_mxnet_to_the_same_bytes(tmp_path):
    """The fold is numpy only: exported files with a masked and an octave convolution convert in a process where
    MXNet cannot be imported (our shape inference), byte-identical to the conversion with MXNet's inference."""
    from helpers import convert_in_child

    net = seq(nn.Conv2D(6, 1), MaskedConv(6, 6, groups=3), OctaveConv())
    net.initialize()
    net.hybridize()
    net(mx.nd.zeros((1, 3, 10, 12)))
    prefix = str(tmp_path / "weights")
    net.export(prefix)
    reference = convert_in_child(prefix, tmp_path / "mxnet", (1, 3, 10, 12), "mxnet", block=False)
    own = convert_in_child(prefix, tmp_path / "own", (1, 3, 10, 12), "auto", block=True)
    assert own == reference
    assert b"_mask" not in own[0] and own[0].count(b'type: "Convolution"') == 1 + 1 + 4 + 2
