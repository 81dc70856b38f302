"""Weights no runtime can compute with (ir/weights.py): NaN / infinite parameters and BatchNorm statistics whose
moving_var + eps is not positive are refused before anything is written, every offending node named at once, the
live and the exported path alike, without a numpy RuntimeWarning; a moving_var below zero that the node's own eps
keeps positive converts exactly."""

import warnings

import mxnet as mx
import numpy as np
import pytest
from mxnet.gluon import nn

from gluon2caffe import ConversionError, convert, load_exported
from gluon2caffe.errors import InvalidWeightsError
from gluon2caffe.zoo.randomize import randomize
from helpers import check_block, seq

SHAPE = (2, 3, 7, 9)


def conv_bn_net(eps: float = 1e-3, fix_gamma: bool = False) -> nn.HybridSequential:
    """conv -> BatchNorm -> relu -> conv -> BatchNorm, with live random weights and statistics."""
    net = seq(
        nn.Conv2D(6, 3, padding=1),
        nn.BatchNorm(epsilon=eps, scale=not fix_gamma),
        nn.Activation("relu"),
        nn.Conv2D(5, 3),
        nn.BatchNorm(epsilon=eps, scale=not fix_gamma),
    )
    net.initialize(mx.init.Normal(0.5))
    randomize(net, SHAPE)
    return net


def set_param(param, edit) -> None:
    value = param.data().asnumpy()
    edit(value)
    param.set_data(mx.nd.array(value))


def refused(net, shape=SHAPE, **kwargs) -> InvalidWeightsError:
    """The InvalidWeightsError of converting `net` (no numpy RuntimeWarning on the way)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.raises(InvalidWeightsError) as info:
            convert(net, shape, **kwargs)
    assert "\n" not in str(info.value)
    return info.value


@pytest.mark.parametrize("merge_bn", [True, False])
def test_negative_moving_var_is_refused_naming_the_node_and_the_channels(merge_bn):
    net = conv_bn_net(eps=1e-3)
    bn = net[1]
    set_param(bn.running_var, lambda v: v.__setitem__([1, 4], [-0.05, -0.001]))  # -0.001 + eps == 0: refused too
    err = refused(net, merge_bn=merge_bn)
    assert isinstance(err, ConversionError)
    assert [(node, op, param) for node, op, param, _ in err.problems] == [
        (bn.name + "_fwd", "BatchNorm", bn.running_var.name)
    ]
    message = str(err)
    assert f"node '{bn.name}_fwd' (BatchNorm): moving_var + eps (0.001) <= 0 at 2 of 6 channels [1, 4]" in message
    assert "nothing was converted" in message and "convert trained weights" in message


def test_every_offending_node_is_reported_at_once():
    """NaN in a conv weight, inf in a bias, and a BatchNorm's statistics, in one error: the first few described,
    the rest named."""
    net = conv_bn_net()
    set_param(net[0].weight, lambda w: w.__setitem__((0, 1, 2, 2), np.nan))
    set_param(net[3].bias, lambda b: b.__setitem__(slice(None), np.inf))
    set_param(net[4].running_var, lambda v: v.__setitem__(0, -1.0))
    err = refused(net)
    assert [param for _, _, param, _ in err.problems] == [
        net[0].weight.name,
        net[3].bias.name,
        net[4].running_var.name,
    ]
    message = str(err)
    assert f"'{net[0].weight.name}' has NaN or infinite values at 1 of 162 [(0, 1, 2, 2)]" in message
    assert f"'{net[3].bias.name}' has NaN or infinite values at 5 of 5 [0, 1, 2, 3, 4]" in message
    assert "NaN or infinite weights" in message and "moving_var is the variance" in message


def test_many_offending_nodes_are_all_named():
    net = seq(*[nn.BatchNorm(in_channels=3) for _ in range(6)])
    net.initialize()
    for bn in net:
        set_param(bn.running_var, lambda v: v.__setitem__(slice(None), -1.0))
    err = refused(net, merge_bn=False)
    assert len(err.problems) == 6
    assert all(f"'{bn.name}_fwd'" in str(err) for bn in net)


def test_moving_var_below_zero_that_eps_keeps_positive_converts_exactly():
    """moving_var + eps > 0 with moving_var < 0: MXNet computes with it (the node's own eps), and so does Caffe."""
    for merge_bn in (True, False):
        net = conv_bn_net(eps=0.3)
        set_param(net[1].running_var, lambda v: v.__setitem__([0, 3], [-0.2, -0.29]))
        check_block(net, SHAPE, merge_bn=merge_bn, init=False)


def test_a_fix_gamma_batchnorms_stored_gamma_is_not_read():
    """fix_gamma: MXNet computes with gamma = 1 whatever is stored, so a NaN there is no reason to refuse."""
    net = conv_bn_net(fix_gamma=True)
    set_param(net[1].gamma, lambda g: g.__setitem__(slice(None), np.nan))
    check_block(net, SHAPE, init=False)


@pytest.mark.parametrize("use_global_stats", [False, True])
def test_exported_files_with_impossible_statistics_are_refused(use_global_stats, tmp_path):
    """At inference MXNet normalizes with the moving statistics whatever use_global_stats says: checked either way."""
    x = mx.sym.Convolution(mx.sym.var("data"), kernel=(3, 3), num_filter=4, name="conv")
    x = mx.sym.BatchNorm(x, name="bn", eps=2e-5, use_global_stats=use_global_stats)
    rng = np.random.RandomState(0)
    args = {"conv_weight": rng.normal(size=(4, 3, 3, 3)), "conv_bias": rng.normal(size=4)}
    args.update(bn_gamma=np.ones(4), bn_beta=np.zeros(4))
    aux = {"bn_moving_mean": np.zeros(4), "bn_moving_var": np.array([1.0, -3e-5, 0.5, np.nan])}
    mx.model.save_checkpoint(
        str(tmp_path / "m"),
        0,
        x,
        {k: mx.nd.array(v) for k, v in args.items()},
        {k: mx.nd.array(v) for k, v in aux.items()},
    )
    for merge_bn in (True, False):
        err = refused(load_exported(tmp_path / "m"), (1, 3, 8, 8), merge_bn=merge_bn)
        assert [(node, param) for node, _, param, _ in err.problems] == [
            ("bn", "bn_moving_var"),
            ("bn", "bn_moving_var"),
        ]
        assert "'bn_moving_var' has NaN or infinite values at 1 of 4 [3]" in str(err)
        assert "moving_var + eps (2e-05) <= 0 at 1 of 4 channels [1]" in str(err)


def test_an_untrained_gluoncv_ssd_is_refused():
    """docs/detectors.md's case: right after initialize(), GluonCV's SSD feature expander has MXNet's default
    U(-0.07, 0.07) moving variances; converting such a net wrote NaN into 16 blobs, with a RuntimeWarning as the only
    sign."""
    import gluoncv

    from gluon2caffe import convert_ssd_model

    net = gluoncv.model_zoo.get_model("ssd_300_mobilenet0.25_voc", pretrained=False, pretrained_base=False)
    net.initialize()
    net(mx.nd.zeros((1, 3, 300, 300)))
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.raises(InvalidWeightsError) as info:
            convert_ssd_model(net, (1, 3, 300, 300))
    assert {node for node, *_ in info.value.problems} == {
        f"{net.name}_expand_{kind}bn{i}"
        for kind in ("", "trans_")
        for i in range(4)  # ssd0 alone, ssdN in a worker
    }
    assert str(info.value).startswith("8 node(s) have weights no runtime can compute with; nothing was converted")
