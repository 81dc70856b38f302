"""to_bgr=True: Caffe fed the BGR image equals MXNet fed RGB: the swap is absorbed into weights where it can be, and
what cannot absorb it gets one exact BGR -> RGB permutation of the input; an input without a 3-channel axis 1 is left
as it is, with a warning."""

import logging

import mxnet as mx
import numpy as np
import pytest
from mxnet.gluon import HybridBlock, nn

from gluon2caffe import convert, convert_model, save_model, verify
from helpers import Lambda, check_block, lam, seq


def test_first_conv():
    checked = check_block(seq(nn.Conv2D(6, 3, padding=1), nn.Activation("relu")), (2, 3, 7, 8), to_bgr=True)
    assert checked.result.report.bgr_swapped


def test_first_conv_after_fold():
    check_block(seq(nn.Conv2D(6, 3, use_bias=False), nn.BatchNorm(), nn.Activation("relu")), (1, 3, 7, 8), to_bgr=True)


def test_first_dense_on_image():
    check_block(seq(nn.Dense(7)), (2, 3, 4, 5), to_bgr=True)


def test_batchnorm_on_input_then_conv():
    """resnet v2 starts with a BatchNorm on the image: the swap goes through it to the conv."""
    for merge_bn in (True, False):
        net = seq(nn.BatchNorm(scale=False, center=False), nn.Conv2D(6, 3), nn.Activation("relu"))
        check_block(net, (2, 3, 7, 8), to_bgr=True, merge_bn=merge_bn)


def test_per_channel_constant_then_conv():
    """GluonCV vgg16_atrous starts with a per-channel multiply by a constant."""
    scale = np.array([0.229, 0.224, 0.225], np.float32).reshape(1, 3, 1, 1) * 255
    shift = np.array([-0.5, 0.1, 0.9], np.float32).reshape(1, 3, 1, 1)
    net = seq(
        Lambda(lambda F, x, s: F.broadcast_mul(x, s), s=scale),
        Lambda(lambda F, x, b: F.broadcast_add(x, b), b=shift),
        nn.Activation("relu"),
        nn.MaxPool2D(2),
        nn.Conv2D(5, 3),
    )
    checked = check_block(net, (1, 3, 8, 9), to_bgr=True)
    assert len(checked.result.report.bgr_swapped) == 5


def test_depthwise_first_conv():
    net = seq(nn.Conv2D(3, 3, groups=3, padding=1), nn.Conv2D(4, 1))
    check_block(net, (1, 3, 6, 7), to_bgr=True)


class TwoConsumers(HybridBlock):
    def __init__(self):
        super().__init__()
        with self.name_scope():
            self.a = nn.Conv2D(4, 3, padding=1)
            self.b = nn.Conv2D(4, 1)

    def hybrid_forward(self, F, x):
        return F.elemwise_add(self.a(x), self.b(x))


def test_input_used_twice():
    check_block(TwoConsumers(), (2, 3, 5, 6), to_bgr=True)


# -- what no weight swap absorbs gets the exact BGR -> RGB permutation (one 1x1 0/1 Convolution on the input) ---


class Residual(HybridBlock):
    """y = x + conv(x): the identity branch needs RGB, the conv absorbs the swap."""

    def __init__(self):
        super().__init__()
        with self.name_scope():
            self.conv = nn.Conv2D(3, 3, padding=1)

    def hybrid_forward(self, F, x):
        return F.elemwise_add(x, self.conv(x))


class ConcatInput(HybridBlock):
    def __init__(self, bn: bool = False):
        super().__init__()
        with self.name_scope():
            self.bn = nn.BatchNorm(epsilon=1e-3) if bn else None
            self.conv = nn.Conv2D(5, 3, padding=1)

    def hybrid_forward(self, F, x):
        if self.bn is not None:
            x = self.bn(x)
        return F.concat(x, self.conv(x), dim=1)


class ConvAndRelu(HybridBlock):
    """The input used by a conv (absorbs) and a ReLU whose swapped output would reach a pooling and an add."""

    def __init__(self, two_outputs: bool):
        super().__init__()
        self.two_outputs = two_outputs
        with self.name_scope():
            self.conv = nn.Conv2D(3, 3, padding=1)

    def hybrid_forward(self, F, x):
        a = F.contrib.AdaptiveAvgPooling2D(self.conv(x), 1)
        b = F.contrib.AdaptiveAvgPooling2D(F.relu(x), 1)
        return (a, b) if self.two_outputs else F.elemwise_add(a, b)


NEEDS_PERMUTATION = {
    # id: (block, input shape, ops of the nodes fed the permutation, ops rewritten to absorb the swap)
    "residual": (Residual, (2, 3, 5, 6), ["elemwise_add"], ["Convolution"]),
    "concat": (lambda: ConcatInput(), (1, 3, 6, 7), ["Concat"], ["Convolution"]),
    "used_twice_add": (lambda: ConvAndRelu(False), (2, 3, 5, 5), ["relu"], ["Convolution"]),
    "used_twice_outputs": (lambda: ConvAndRelu(True), (2, 3, 5, 5), ["relu"], ["Convolution"]),
    "mixes_channels": (
        lambda: seq(lam(lambda F, x: F.broadcast_mul(x, F.slice_axis(x, axis=1, begin=0, end=1))), nn.Conv2D(4, 1)),
        (1, 3, 5, 6),
        ["broadcast_mul", "slice_axis"],
        [],
    ),
    "relu_to_output": (lambda: seq(nn.Activation("relu")), (2, 3, 4, 5), ["Activation"], []),
    "pool_relu_to_output": (lambda: seq(nn.MaxPool2D(2), nn.Activation("relu")), (1, 3, 6, 7), ["Pooling"], []),
    "batchnorm_concat": (lambda: ConcatInput(bn=True), (2, 3, 5, 6), ["BatchNorm"], []),
    "reshape_dense": (lambda: seq(lam(lambda F, x: F.reshape(x, shape=(0, -1))), nn.Dense(4)), (1, 3, 4, 5), None, []),
    "transpose_dense": (
        lambda: seq(lam(lambda F, x: F.transpose(x, axes=(0, 2, 3, 1))), nn.Dense(4, flatten=False)),
        (1, 3, 4, 5),
        ["transpose"],
        [],
    ),
    "dense_last_axis": (lambda: seq(nn.Dense(4, flatten=False)), (1, 3, 4, 5), ["FullyConnected"], []),
}


@pytest.mark.parametrize("case", sorted(NEEDS_PERMUTATION))
def test_unabsorbable_use_gets_the_permutation(case):
    """Caffe fed BGR equals MXNet fed RGB; the report names what got the permutation; it costs exactly one layer."""
    make, shape, permuted_ops, swapped_ops = NEEDS_PERMUTATION[case]
    block = make()
    checked = check_block(block, shape, to_bgr=True)
    graph, report = checked.result.graph, checked.result.report
    fed = graph.consumers("data_bgr_to_rgb")
    assert sorted(report.bgr_permuted) == sorted(n.name for n in fed) and fed
    if permuted_ops is not None:
        assert sorted(n.op for n in fed) == sorted(permuted_ops)
    ops = {n.name: n.op for n in graph.nodes}
    assert sorted(ops[name] for name in report.bgr_swapped) == sorted(swapped_ops)
    others = [n for n in graph.consumers("data") if n is not graph.producer("data_bgr_to_rgb")]
    assert all(n.name in report.bgr_swapped for n in others)  # the input's other readers absorbed the swap
    rgb_layers = len(convert(block, shape, to_bgr=False).text_net.layer)
    assert len(checked.result.text_net.layer) == rgb_layers + 1
    permutation = next(layer for layer in checked.result.text_net.layer if layer.name == "data_bgr_to_rgb")
    assert permutation.type == "Convolution" and list(permutation.bottom) == ["data"]


def test_fully_absorbed_swap_inserts_no_permutation():
    """Absorbed everywhere (two convs, a per-channel chain): no permutation, the same layers as without to_bgr."""
    for block, shape in (
        (TwoConsumers(), (2, 3, 5, 6)),
        (seq(nn.BatchNorm(), nn.Activation("relu"), nn.Conv2D(4, 3)), (1, 3, 6, 5)),
    ):
        checked = check_block(block, shape, to_bgr=True, merge_bn=False)
        assert checked.result.report.bgr_permuted == [] and len(checked.result.report.bgr_swapped) >= 2
        assert not any("bgr_to_rgb" in layer.name for layer in checked.result.text_net.layer)
        assert len(checked.result.text_net.layer) == len(
            convert(block, shape, to_bgr=False, merge_bn=False).text_net.layer
        )


def test_permuted_net_passes_the_layer_local_check(tmp_path):
    """The inserted blob has no MXNet counterpart; the per-layer and layer-local checks still run and pass."""
    block = Residual()
    checked = check_block(block, (1, 3, 6, 6), to_bgr=True)
    prototxt, caffemodel = save_model(checked.result.text_net, checked.result.binary_weights, tmp_path / "m")
    result = verify(prototxt, caffemodel, block, to_bgr=True, layers="local")
    assert result.ok and result.status == "exact", result.status


def test_non_rgb_input_is_left_as_it_is_with_a_warning(caplog):
    """to_bgr applies to 3-channel inputs (axis 1, rank >= 3); a grayscale image is converted as it is and said so."""
    with caplog.at_level(logging.WARNING, logger="gluon2caffe"):
        checked = check_block(seq(nn.Conv2D(4, 3)), (1, 1, 8, 8), to_bgr=True)
    assert checked.result.report.bgr_skipped == ["data"] and checked.result.report.bgr_swapped == []
    assert any("input 'data' of shape (1, 1, 8, 8) has no 3-channel axis 1" in r.message for r in caplog.records)


def test_swap_does_not_touch_the_users_network():
    block = seq(nn.Conv2D(4, 3))
    block.initialize()
    block(mx.nd.zeros((1, 3, 5, 5)))
    before = block[0].weight.data().asnumpy().copy()
    convert_model(block, (1, 3, 5, 5), to_bgr=True)
    assert np.array_equal(block[0].weight.data().asnumpy(), before)
