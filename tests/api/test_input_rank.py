"""Inputs of any rank (1-5) and several data inputs, in the real Caffe: MLPs on (N, F), Dense(flatten=False) on
(N, T, F), 1-D convolution and pooling on (N, C, W) (written as 2-D with a unit height), 5-D reshapes, two-input
blocks, and to_bgr where only some inputs are images."""

import logging

import mxnet as mx
import numpy as np
import pytest
from mxnet.gluon import HybridBlock, nn

from gluon2caffe import ConversionError, InvalidCallError, convert
from gluon2caffe.zoo.randomize import randomize
from helpers import Lambda, check_block, lam, seq

# -- rank 2 and 3: Dense ------------------------------------------------------------------------------------------


@pytest.mark.op("FullyConnected", "Activation", "BatchNorm")
@pytest.mark.parametrize("merge_bn", [True, False])
def test_mlp_on_features(merge_bn):
    net = seq(nn.Dense(16), nn.BatchNorm(epsilon=1e-3), nn.Activation("relu"), nn.Dense(9), nn.Dense(5))
    checked = check_block(net, (3, 7), merge_bn=merge_bn)
    assert checked.result.text_net.layer[0].input_param.shape[0].dim == [3, 7]
    assert checked.layer_types.count("InnerProduct") == 3
    assert ("BatchNorm" in checked.layer_types) != merge_bn


@pytest.mark.op("FullyConnected", "broadcast_mul", "broadcast_add")
@pytest.mark.parametrize("shape", [(2, 5, 7), (1, 6, 4)])
@pytest.mark.parametrize("target", ["caffe", "any"])
def test_dense_last_axis_on_sequences(shape, target):
    """Dense(flatten=False) on (N, T, F) is InnerProduct on the last axis (target caffe; the others: a 1x1
    Convolution over it, see tests/converters/test_dense.py); a per-feature scale and shift after it."""
    rng = np.random.RandomState(0)
    scale, shift = rng.uniform(0.5, 2.0, (1, 1, 8)), rng.normal(0, 0.5, (1, 1, 8))
    per_feature = Lambda(
        lambda F, x, scale, shift: F.broadcast_add(F.broadcast_mul(x, scale), shift), scale=scale, shift=shift
    )
    net = seq(nn.Dense(8, flatten=False), per_feature, nn.Dense(3, flatten=False))
    checked = check_block(net, shape, target=target)
    axes = [layer.inner_product_param.axis for layer in checked.result.text_net.layer if layer.type == "InnerProduct"]
    assert [axis for axis in axes if axis != 1] == ([2, 2] if target == "caffe" else [])
    assert checked.mxnet_outputs[0].shape == shape[:2] + (3,)


@pytest.mark.op("FullyConnected")
def test_dense_flatten_on_sequences():
    checked = check_block(seq(nn.Dense(6), nn.Dense(4)), (2, 5, 3))
    assert checked.mxnet_outputs[0].shape == (2, 4)


# -- rank 3: 1-D convolution and pooling --------------------------------------------------------------------------

CONV_1D = {
    # name: Conv1D kwargs (in_channels 4)
    "k3_pad1": dict(channels=6, kernel_size=3, padding=1),
    "stride2": dict(channels=5, kernel_size=3, strides=2),
    "stride2_pad2_dilation2": dict(channels=6, kernel_size=3, strides=2, padding=2, dilation=2),
    "groups2": dict(channels=6, kernel_size=3, groups=2, padding=1),
    "depthwise_no_bias": dict(channels=4, kernel_size=5, groups=4, padding=2, use_bias=False),
    "pointwise": dict(channels=7, kernel_size=1),
}


@pytest.mark.op("Convolution")
@pytest.mark.parametrize("width", [11, 12])
@pytest.mark.parametrize("case", sorted(CONV_1D))
def test_conv1d(case, width):
    checked = check_block(seq(nn.Conv1D(in_channels=4, **CONV_1D[case])), (2, 4, width))
    assert checked.layer_types == ["Input", "Reshape", "Convolution", "Reshape"]
    conv = next(layer for layer in checked.result.text_net.layer if layer.type == "Convolution")
    assert conv.convolution_param.kernel_h == 1 or list(conv.convolution_param.kernel_size) == [1]


POOL_1D = {
    "max_k3_s2_p1": lambda: nn.MaxPool1D(3, 2, 1),
    "max_k3_s2_ceil": lambda: nn.MaxPool1D(3, 2, ceil_mode=True),
    "max_k2": lambda: nn.MaxPool1D(2),
    "avg_k3_s2_p1": lambda: nn.AvgPool1D(3, 2, 1),
    "avg_k3_s2_p1_ceil_exclude_pad": lambda: nn.AvgPool1D(3, 2, 1, ceil_mode=True, count_include_pad=False),
    "avg_k4_s3_p2_exclude_pad": lambda: nn.AvgPool1D(4, 3, 2, count_include_pad=False),
    "avg_k3_s2_ceil": lambda: nn.AvgPool1D(3, 2, ceil_mode=True),
    "global_avg": lambda: nn.GlobalAvgPool1D(),
    "global_max": lambda: nn.GlobalMaxPool1D(),
}


@pytest.mark.op("Pooling", "Convolution")
@pytest.mark.parametrize("target", ["any", "caffe"])
@pytest.mark.parametrize("width", [11, 12])
@pytest.mark.parametrize("case", sorted(POOL_1D))
def test_pool1d(case, width, target):
    net = seq(nn.Conv1D(5, 3, padding=1, in_channels=3), POOL_1D[case]())
    checked = check_block(net, (2, 3, width), target=target)
    assert "Pooling" in checked.layer_types


@pytest.mark.op("Convolution", "BatchNorm", "Activation", "Pooling", "Flatten", "FullyConnected")
@pytest.mark.parametrize("merge_bn", [True, False])
def test_conv1d_net(merge_bn):
    """A small 1-D CNN: conv, BatchNorm (folded or a Caffe BatchNorm on a 3-D blob), ReLU, pooling, a classifier."""
    net = seq(
        nn.Conv1D(8, 5, strides=2, padding=2, in_channels=3),
        nn.BatchNorm(),
        nn.Activation("relu"),
        nn.MaxPool1D(3, 2, 1),
        nn.Conv1D(8, 3, padding=1, groups=2),
        nn.AvgPool1D(2, ceil_mode=True),
        nn.Flatten(),
        nn.Dense(4),
    )
    checked = check_block(net, (2, 3, 27), merge_bn=merge_bn)
    assert ("BatchNorm" in checked.layer_types) != merge_bn


def test_random_weights_of_a_1d_net_are_reproducible():
    """randomize on a 3-D input: an inference forward used to leave oneDNN's own layout in the Conv1D weights, and the
    weights / statistics then differed from run to run (a dead net in 3 runs of 6, running_var inf)."""

    def drawn():
        net = seq(nn.Conv1D(8, 5, strides=2, padding=2, in_channels=3), nn.BatchNorm(), nn.Activation("relu"))
        net.initialize(mx.init.Normal(0.5))
        randomize(net, (2, 3, 27), seed=0)
        return [p.data().asnumpy() for p in net.collect_params().values()]

    first = drawn()
    for _ in range(3):
        again = drawn()
        assert all(np.isfinite(a).all() and np.array_equal(a, b) for a, b in zip(first, again))


# -- rank 1 and 5 ---------------------------------------------------------------------------------------------------


@pytest.mark.op("Activation", "_mul_scalar", "_plus_scalar")
def test_rank1_elementwise():
    net = lam(lambda F, x: F.Activation(x * 3 + 0.5, act_type="tanh"))
    checked = check_block(net, (9,), init=False)
    assert checked.result.text_net.layer[0].input_param.shape[0].dim == [9]


@pytest.mark.op("Reshape", "FullyConnected", "relu")
def test_rank5_reshape_and_dense():
    net = seq(lam(lambda F, x: F.relu(F.reshape(x, (0, -1, 4)))), nn.Dense(6, flatten=False), nn.Dense(3))
    checked = check_block(net, (2, 3, 2, 2, 4))
    assert list(checked.result.text_net.layer[0].input_param.shape[0].dim) == [2, 3, 2, 2, 4]


@pytest.mark.op("FullyConnected")
def test_rank5_dense_flatten():
    check_block(seq(nn.Dense(5)), (2, 2, 3, 2, 3))


@pytest.mark.op("Pooling")
def test_3d_sum_pooling_converts():
    """3-D convolution and pooling convert (converters/test_conv3d.py); sum pooling is count x average (issue 26)."""
    net = seq(nn.Conv3D(4, 3, in_channels=2), lam(lambda F, x: F.Pooling(x, kernel=(2, 2, 2), pool_type="sum")))
    check_block(net, (1, 2, 5, 5, 5))


@pytest.mark.op("Pooling")
def test_1d_pooling_refusal_names_the_node():
    """Found by the property suite: a refusal inside the 1-D pooling's 2-D form named that form's internal
    node ('..._2d'), which is in no graph the user has (an lp pooling of p = 3 has no exact Caffe form)."""
    net = lam(lambda F, x: F.Pooling(x, kernel=(2,), pool_type="lp", p_value=3, name="pool1d"))
    with pytest.raises(ConversionError, match=r"^node '\w*pool1d' op Pooling attribute"):
        convert(net, (1, 2, 5), to_bgr=False)


@pytest.mark.op("Flatten")
def test_flatten_of_a_vector():
    """Found by the property suite: Flatten of (N,) is (N, 1) in MXNet, and Caffe's Flatten aborted the
    process on a blob without axis 1 ("axis 1 out of range for 1-D Blob"): written as a Reshape."""
    checked = check_block(seq(lam(lambda F, x: F.Flatten(x)), nn.Dense(3)), (4,))
    assert checked.layer_types[:2] == ["Input", "Reshape"]


@pytest.mark.op("_copy")
def test_an_input_that_is_also_an_output_read_by_layers_is_refused():
    """Found by the property suite: a graph that outputs its input (through an identity) and also reads it
    renamed the net's Input to 'data_inner', so a caller feeding 'data' fed nothing (silently wrong outputs)."""
    net = lam(lambda F, x: [F.identity(x), F.relu(x)])
    with pytest.raises(ConversionError, match=r"^node 'data': is an input of the graph and also one of its outputs"):
        convert(net, (2, 3), to_bgr=False)
    check_block(lam(lambda F, x: [x * 1, F.relu(x)]), (2, 3), init=False)  # what the message suggests converts


@pytest.mark.parametrize(
    "shape", [(0, 4), (2, -1, 3), (1, 2, 3, 4, 5, 6), (), {"a": (1, 0)}, [(1, 3), (2, 0)], {"": (1, 3)}]
)
def test_bad_shapes_are_invalid_calls(shape):
    net = seq(nn.Dense(3))
    net.initialize()
    with pytest.raises(InvalidCallError, match="input_shape"):
        convert(net, shape)


# -- several inputs --------------------------------------------------------------------------------------------------


class ImageAndVector(HybridBlock):
    """Two branches: an image through a conv and a global pool, a vector through a Dense; concatenated, then mixed."""

    def __init__(self, image_channels=3):
        super().__init__()
        with self.name_scope():
            self.conv = nn.Conv2D(6, 3, padding=1, in_channels=image_channels)
            self.pool = nn.GlobalAvgPool2D()
            self.fc = nn.Dense(5, in_units=4)
            self.head = nn.Dense(3, in_units=11)

    def hybrid_forward(self, F, image, vector):
        return self.head(F.concat(self.pool(F.relu(self.conv(image))).flatten(), self.fc(vector), dim=1))


class SumOfTwo(HybridBlock):
    """Two (N, F) inputs through their own Dense, added (an Eltwise SUM of two branches)."""

    def __init__(self):
        super().__init__()
        with self.name_scope():
            self.a, self.b = nn.Dense(6, in_units=5), nn.Dense(6, in_units=3)

    def hybrid_forward(self, F, a, b):
        return F.tanh(self.a(a) + self.b(b))


def _initialized(block):
    block.initialize(mx.init.Normal(0.5))
    return block


@pytest.mark.op("FullyConnected", "elemwise_add")
def test_two_inputs_as_a_list():
    checked = check_block(_initialized(SumOfTwo()), [(2, 5), (2, 3)], init=False)
    inputs = [layer for layer in checked.result.text_net.layer if layer.type == "Input"]
    assert [(layer.top[0], list(layer.input_param.shape[0].dim)) for layer in inputs] == [
        ("data0", [2, 5]),
        ("data1", [2, 3]),
    ]


@pytest.mark.op("Convolution", "Concat", "FullyConnected")
def test_two_inputs_as_a_dict_keep_their_names_and_order():
    checked = check_block(_initialized(ImageAndVector(2)), {"image": (2, 2, 7, 6), "vector": (2, 4)}, init=False)
    assert [layer.top[0] for layer in checked.result.text_net.layer if layer.type == "Input"] == ["image", "vector"]


@pytest.mark.op("Convolution", "Concat", "FullyConnected")
def test_to_bgr_swaps_only_the_image_input(caplog):
    with caplog.at_level(logging.WARNING, logger="gluon2caffe"):
        checked = check_block(
            _initialized(ImageAndVector()), {"image": (2, 3, 9, 8), "vector": (2, 4)}, init=False, to_bgr=True
        )
    report = checked.result.report
    assert report.bgr_swapped and report.bgr_skipped == ["vector"]
    assert any("input 'vector' of shape (2, 4) has no 3-channel axis 1" in r.message for r in caplog.records)


@pytest.mark.op("FullyConnected")
def test_to_bgr_on_a_feature_input_is_skipped_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="gluon2caffe"):
        checked = check_block(seq(nn.Dense(8), nn.Dense(3)), (2, 3), to_bgr=True)  # 3 features are not channels
    assert checked.result.report.bgr_skipped == ["data"] and checked.result.report.bgr_swapped == []
    assert any("left as it is" in r.message for r in caplog.records)


def test_a_block_given_the_wrong_number_of_inputs():
    net = _initialized(SumOfTwo())
    with pytest.raises(InvalidCallError, match="cannot take 1 input"):
        convert(net, (2, 5))


def test_exported_two_input_model(tmp_path):
    from gluon2caffe import load_exported
    from gluon2caffe.verification import run_converted, MXNetReference, compare

    net = _initialized(ImageAndVector())
    net.hybridize()
    net(mx.nd.zeros((1, 3, 6, 6)), mx.nd.zeros((1, 4)))
    net.export(str(tmp_path / "two"))
    model = load_exported(tmp_path / "two")
    assert model.inputs == ["data0", "data1"]
    with pytest.raises(InvalidCallError, match=r"data0.*data1.*no shape for \['data1'\]"):
        convert(model, {"data0": (1, 3, 6, 6)})
    with pytest.raises(InvalidCallError, match="2 data input"):
        convert(model, (1, 3, 6, 6))
    shapes = {"data0": (2, 3, 7, 5), "data1": (2, 4)}
    for given in (shapes, list(shapes.values())):  # named, or in the model's input order
        result = convert(model, given, to_bgr=False)
        rng = np.random.RandomState(0)
        x = {name: rng.normal(0, 1, shape).astype(np.float32) for name, shape in shapes.items()}
        out = run_converted(result.text_net, result.binary_weights, x)
        reference = MXNetReference(model, shapes)
        expected = reference.run(x, reference.outputs)[reference.outputs[0]]
        c = compare(out[reference.outputs[0]], expected)
        assert c.ok, c


@pytest.mark.op("FullyConnected")
@pytest.mark.parametrize(
    "fn",
    [
        pytest.param(lambda F, x: F.softmax(x, axis=-1), id="softmax_last", marks=pytest.mark.op("softmax")),
        pytest.param(lambda F, x: F.softmax(x, axis=1), id="softmax_1", marks=pytest.mark.op("softmax")),
        pytest.param(lambda F, x: F.sum(x, axis=-1), id="sum_last", marks=pytest.mark.op("sum")),
        pytest.param(lambda F, x: F.sum(x, axis=1, keepdims=True), id="sum_1_keepdims", marks=pytest.mark.op("sum")),
        pytest.param(lambda F, x: F.LeakyReLU(x, slope=0.2), id="leaky", marks=pytest.mark.op("LeakyReLU")),
    ],
)
def test_rank_free_ops_on_sequences(fn):
    """Ops that take any rank, after a Dense(flatten=False) on (N, T, F)."""
    check_block(seq(nn.Dense(6, flatten=False), lam(fn)), (2, 5, 3))
