"""BatchNorm -> BatchNorm + Scale (and the fold), in the real Caffe: random statistics, fix_gamma, every eps source."""

import json

import mxnet as mx
import numpy as np
import pytest
from mxnet.gluon import HybridBlock, nn

from gluon2caffe import ConversionError, convert
from helpers import check_block, make_input, seq, symbol_block
from gluon2caffe.verification import compare, mxnet_forward, run_converted

MERGE = pytest.mark.parametrize("merge_bn", [True, False], ids=["merge", "nomerge"])


def bn_types(checked):
    return [t for t in checked.layer_types if t in ("BatchNorm", "Scale")]


@pytest.mark.op("BatchNorm")
@MERGE
@pytest.mark.parametrize("eps", [1e-5, 2e-3, 0.5])
def test_gluon_batchnorm_eps(merge_bn, eps):
    checked = check_block(seq(nn.Conv2D(6, 3), nn.BatchNorm(epsilon=eps)), (2, 3, 7, 8), merge_bn=merge_bn)
    assert bn_types(checked) == ([] if merge_bn else ["BatchNorm", "Scale"])
    if not merge_bn:
        assert checked.result.text_net.layer[2].batch_norm_param.eps == pytest.approx(eps, rel=1e-6)
        assert checked.result.text_net.layer[2].batch_norm_param.use_global_stats


@pytest.mark.op("BatchNorm")
@MERGE
def test_fix_gamma_is_honoured(merge_bn):
    """Gluon scale=False is fix_gamma=True: MXNet uses gamma=1 whatever is stored (here random, not 1)."""
    net = seq(nn.Conv2D(6, 3), nn.BatchNorm(scale=False, epsilon=1e-3))
    net.initialize()
    from gluon2caffe.zoo.randomize import randomize

    randomize(net, (2, 3, 7, 8))
    gamma = [p for n, p in net.collect_params().items() if n.endswith("gamma")][0]
    assert not np.allclose(gamma.data().asnumpy(), 1.0), (
        "stored gamma must differ from 1 for this test to mean anything"
    )
    check_block(net, (2, 3, 7, 8), merge_bn=merge_bn, init=False)


@pytest.mark.op("BatchNorm")
@MERGE
def test_center_false(merge_bn):
    check_block(seq(nn.Conv2D(6, 3), nn.BatchNorm(center=False)), (1, 3, 6, 6), merge_bn=merge_bn)


def _symbol_bn_net(**bn_attrs):
    data = mx.sym.var("data")
    conv = mx.sym.Convolution(data, kernel=(3, 3), num_filter=5, name="conv")
    bn = mx.sym.BatchNorm(conv, name="bn", **bn_attrs)
    out = mx.sym.Activation(bn, act_type="relu", name="relu")
    rng = np.random.RandomState(7)
    params = {
        "conv_weight": rng.normal(0, 0.3, (5, 3, 3, 3)),
        "conv_bias": rng.normal(0, 0.1, (5,)),
        "bn_gamma": rng.uniform(0.5, 1.5, (5,)),
        "bn_beta": rng.normal(0, 0.2, (5,)),
        "bn_moving_mean": rng.normal(0, 0.3, (5,)),
        # small variances make the eps visible: 1e-3 vs 1e-5 changes the output by far more than the tolerance
        "bn_moving_var": rng.uniform(0.002, 0.01, (5,)),
    }
    return symbol_block(out, params), out


@pytest.mark.op("BatchNorm")
@MERGE
@pytest.mark.parametrize(
    "attrs",
    [{}, {"eps": 1e-4, "fix_gamma": False}, {"fix_gamma": True, "eps": 0.01}],
    ids=["no_attrs", "eps1e-4", "fixgamma_eps0.01"],
)
def test_symbol_api_batchnorm(merge_bn, attrs):
    """A symbol-API node with no attributes uses the op defaults: eps=1e-3, fix_gamma=True."""
    block, symbol = _symbol_bn_net(**attrs)
    node = [n for n in json.loads(symbol.tojson())["nodes"] if n["name"] == "bn"][0]
    assert set(node.get("attrs", {})) == set(attrs)
    shape = (2, 3, 6, 7)
    result = convert(block, shape, to_bgr=False, merge_bn=merge_bn)
    x = make_input(shape, 1)
    out = run_converted(result.text_net, result.binary_weights, {"data": x})
    c = compare(out[result.graph.outputs[0]], mxnet_forward(block, x)[0])
    assert c.ok, c


def test_symbol_api_defaults_matter():
    """The no-attribute net differs from the same net read with Gluon's defaults: the test above is not vacuous."""
    x = make_input((2, 3, 6, 7), 1)
    defaults = mxnet_forward(_symbol_bn_net()[0], x)[0]
    gluon_like = mxnet_forward(_symbol_bn_net(eps=1e-5, fix_gamma=False)[0], x)[0]
    assert not compare(gluon_like, defaults).ok


class Shared(HybridBlock):
    """A conv whose output feeds a BatchNorm and something else: the fold must not apply."""

    def __init__(self):
        super().__init__()
        with self.name_scope():
            self.conv = nn.Conv2D(4, 3, padding=1)
            self.bn = nn.BatchNorm()

    def hybrid_forward(self, F, x):
        y = self.conv(x)
        return F.elemwise_add(self.bn(y), y)


@pytest.mark.op("BatchNorm")
@MERGE
def test_batchnorm_on_input_and_shared_producer_stay(merge_bn):
    net = seq(nn.BatchNorm(), nn.Conv2D(4, 3), Shared())
    checked = check_block(net, (2, 3, 8, 7), merge_bn=merge_bn)
    assert checked.layer_types.count("BatchNorm") == 2
    assert checked.result.report.bn_folded == 0


@pytest.mark.op("BatchNorm")
@MERGE
def test_batchnorm_after_dense(merge_bn):
    checked = check_block(seq(nn.Dense(8), nn.BatchNorm(epsilon=1e-3)), (2, 3, 4, 4), merge_bn=merge_bn)
    assert checked.layer_types.count("BatchNorm") == (0 if merge_bn else 1)


def _output_mean_var_block(read_statistics: bool) -> mx.gluon.SymbolBlock:
    x = mx.sym.var("data")
    bn = mx.sym.BatchNorm(mx.sym.Convolution(x, kernel=(1, 1), num_filter=3, name="conv"), output_mean_var=True)
    y = bn if read_statistics else mx.sym.relu(bn[0])
    rng = np.random.RandomState(0)
    shapes = dict(zip(y.list_arguments() + y.list_auxiliary_states(), sum(y.infer_shape(data=(2, 3, 5, 4))[::2], [])))
    params = {name: rng.uniform(0.5, 1.5, shape).astype(np.float32) for name, shape in shapes.items() if name != "data"}
    return symbol_block(y, params)


@pytest.mark.op("BatchNorm")
@MERGE
def test_output_mean_var(merge_bn):
    """Found by the property suite: BatchNorm(output_mean_var=True) names its outputs `_output`, `_mean`,
    `_var`, which the reader did not count as one node's ("shape inference left 2 tensor(s) unknown", naming no node).
    Its normalized output converts; reading the statistics (the moving mean and 1/sqrt(var + eps) at inference,
    which no Caffe layer outputs) is refused naming the node, folded or not."""
    check_block(_output_mean_var_block(False), (2, 3, 5, 4), merge_bn=merge_bn, init=False)
    with pytest.raises(ConversionError, match=r"node '\w+' op BatchNorm attribute 'output_mean_var': its mean"):
        convert(_output_mean_var_block(True), (2, 3, 5, 4), to_bgr=False, merge_bn=merge_bn)
