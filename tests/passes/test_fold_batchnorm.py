"""The merge_bn pass: numbers in the real Caffe and what remains, with random statistics and non-default eps."""

import pytest
from mxnet.gluon import HybridBlock, nn

from helpers import check_block, seq


class ConvBnRelu(HybridBlock):
    def __init__(self, channels, use_bias, eps, fix_gamma=False):
        super().__init__()
        with self.name_scope():
            self.conv = nn.Conv2D(channels, 3, padding=1, use_bias=use_bias)
            self.bn = nn.BatchNorm(epsilon=eps, scale=not fix_gamma)

    def hybrid_forward(self, F, x):
        return F.relu(self.bn(self.conv(x)))


@pytest.mark.parametrize("use_bias", [True, False])
@pytest.mark.parametrize("eps", [1e-5, 1e-3, 0.3])
@pytest.mark.parametrize("fix_gamma", [False, True])
def test_fold_into_conv(use_bias, eps, fix_gamma):
    net = seq(ConvBnRelu(6, use_bias, eps, fix_gamma), ConvBnRelu(5, use_bias, eps, fix_gamma))
    checked = check_block(net, (2, 3, 9, 8), merge_bn=True)
    assert "BatchNorm" not in checked.layer_types and "Scale" not in checked.layer_types
    assert checked.result.report.bn_folded == 2 and checked.result.report.bn_kept == 0
    convs = [layer for layer in checked.result.text_net.layer if layer.type == "Convolution"]
    assert all(c.convolution_param.bias_term for c in convs)  # a bias is added where the conv had none


def test_fold_into_depthwise_and_grouped():
    net = seq(
        nn.Conv2D(8, 3, padding=1),
        nn.Conv2D(8, 3, groups=8, use_bias=False),
        nn.BatchNorm(epsilon=1e-3),
        nn.Conv2D(8, 1, groups=2),
        nn.BatchNorm(),
    )
    checked = check_block(net, (1, 3, 7, 7), merge_bn=True)
    assert "BatchNorm" not in checked.layer_types


def test_fold_into_dense():
    net = seq(nn.Dense(12, use_bias=False), nn.BatchNorm(epsilon=0.01), nn.Activation("relu"), nn.Dense(4))
    checked = check_block(net, (3, 3, 4, 4), merge_bn=True)
    assert "BatchNorm" not in checked.layer_types


def test_dense_flatten_false_bn_on_other_axis_is_kept():
    """Dense(flatten=False) on (N, C, W) outputs features on the last axis; a BatchNorm on axis 1 must not fold."""
    net = seq(nn.Conv2D(4, 3), nn.Dense(6, flatten=False), nn.BatchNorm())
    checked = check_block(net, (2, 3, 6, 6), merge_bn=True)
    assert checked.layer_types.count("BatchNorm") == 1


def test_merge_off_keeps_every_batchnorm():
    net = seq(ConvBnRelu(6, False, 1e-5), ConvBnRelu(5, True, 2e-3))
    checked = check_block(net, (1, 3, 7, 6), merge_bn=False)
    assert checked.layer_types.count("BatchNorm") == 2 and checked.layer_types.count("Scale") == 2


@pytest.mark.parametrize("groups", [1, 2, 4])
@pytest.mark.parametrize("fix_gamma", [False, True])
def test_fold_into_deconvolution(groups, fix_gamma):
    """A Deconvolution's weight is (C_in, C_out / g, kh, kw): the fold scales axis 1 per group (a fold along axis 0,
    as for a Convolution, would scale by the wrong channels). With and without bias, an adj that needs the zero
    extension (the folded bias then lands on the extended rows too, as MXNet's BatchNorm puts it there)."""
    net = seq(
        nn.Conv2DTranspose(8, 4, strides=2, padding=1, groups=groups, use_bias=False, in_channels=4),
        nn.BatchNorm(epsilon=1e-3, scale=not fix_gamma),
        nn.Activation("relu"),
        nn.Conv2DTranspose(4, 3, strides=2, output_padding=1, groups=groups, in_channels=8),
        nn.BatchNorm(epsilon=0.3, scale=not fix_gamma),
    )
    checked = check_block(net, (2, 4, 5, 6), merge_bn=True)
    assert "BatchNorm" not in checked.layer_types and "Scale" not in checked.layer_types
    assert checked.result.report.bn_folded == 2 and checked.result.report.bn_kept == 0


def test_fold_into_3d_convolution():
    net = seq(
        nn.Conv3D(6, 3, padding=1, use_bias=False, in_channels=3),
        nn.BatchNorm(epsilon=1e-3),
        nn.Activation("relu"),
        nn.Conv3D(6, (1, 3, 3), padding=(0, 1, 1), groups=3),
        nn.BatchNorm(scale=False),
    )
    checked = check_block(net, (1, 3, 5, 7, 6), merge_bn=True)
    assert "BatchNorm" not in checked.layer_types and checked.result.report.bn_folded == 2


def test_a_fold_beyond_float32_is_refused_never_written_as_inf():
    """gamma / sqrt(moving_var + eps) of 7e14 times a weight of 1e30 is beyond float32: the fold names the
    BatchNorm instead of writing inf (and no numpy warning leaks); unfolded, the same net converts."""
    import warnings

    import mxnet as mx
    import numpy as np

    from gluon2caffe import ConversionError, convert
    from helpers import symbol_block

    x = mx.sym.Convolution(mx.sym.var("data"), kernel=(1, 1), num_filter=2, name="conv")
    x = mx.sym.BatchNorm(x, eps=1e-30, fix_gamma=False, name="bn")
    params = {"conv_weight": np.full((2, 3, 1, 1), 1e30), "conv_bias": np.zeros(2), "bn_gamma": np.ones(2)}
    params.update(bn_beta=np.zeros(2), bn_moving_mean=np.zeros(2), bn_moving_var=np.array([1.0, 1e-30]))
    block = symbol_block(x, params)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        folding = r"node 'bn' op BatchNorm: folding it into 'conv' \(Convolution\)"
        with pytest.raises(ConversionError, match=folding) as e:
            convert(block, (1, 3, 4, 4), merge_bn=True)
        result = convert(block, (1, 3, 4, 4), merge_bn=False)
    assert result.report.bn_kept == 1
    # The remedy is an API argument, carried as data: the command line names its flag.
    from gluon2caffe.cli.common import with_flags
    from gluon2caffe.errors import Option

    assert e.value.options == (Option("merge_bn", False),) and str(e.value).endswith("convert with merge_bn=False")
    assert with_flags(str(e.value), e.value.options).endswith("convert with --no-merge-bn")


def test_the_fold_never_changes_the_models_own_arrays(tmp_path):
    """An ExportedModel built from writeable arrays (in memory, not the read-only file reader's): the fold works on
    the graph's own copies, so the model converted is still the model (verify afterwards compares with it)."""
    import mxnet as mx
    import numpy as np

    from gluon2caffe import convert
    from gluon2caffe.frontend.exported import ExportedModel, load_exported

    net = seq(nn.Conv2D(4, 3, in_channels=3), nn.BatchNorm(in_channels=4), nn.Activation("relu"))
    net.initialize(mx.init.Normal(0.5))
    net.hybridize()
    net(mx.nd.zeros((1, 3, 8, 8)))
    net.export(str(tmp_path / "m"))
    files = load_exported(str(tmp_path / "m"))
    params = {name: np.array(value) for name, value in files.params.items()}  # writeable copies
    before = {name: value.copy() for name, value in params.items()}
    model = ExportedModel(files.name, files.symbol_path, files.params_path, files.symbol_json, params)
    result = convert(model, (1, 3, 8, 8), merge_bn=True)
    assert result.report.bn_folded == 1
    assert all(np.array_equal(params[name], before[name]) for name in before)
