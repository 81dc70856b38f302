"""InstanceNorm, LayerNorm, GroupNorm: (x - mean) / sqrt(var + eps) * gamma + beta from exact layers, in the real
Caffe (eps inside the square root, as MXNet has it; Caffe's MVN puts it outside)."""

import numpy as np
import pytest
from mxnet.gluon import HybridBlock, nn

from gluon2caffe import ConversionError, convert
from helpers import Lambda, check_block, seq

RUNTIMES = ["opencv", "mnn", "ncnn", "openvino"]


def affine(op, channels, seed=0, **kwargs):
    """A block computing `op` with random gamma (0.5 .. 1.5) and beta (N(0, 0.5)) of `channels` values."""
    rs = np.random.RandomState(seed)
    gamma = rs.uniform(0.5, 1.5, channels).astype(np.float32)
    beta = rs.normal(0, 0.5, channels).astype(np.float32)
    block = Lambda(lambda F, x, gamma, beta: getattr(F, op)(x, gamma, beta, **kwargs), gamma=gamma, beta=beta)
    block.initialize()
    return block


@pytest.mark.op("InstanceNorm")
@pytest.mark.parametrize("shape", [(2, 4, 5, 7), (2, 4, 9), (2, 3, 3, 4, 5), (1, 1, 6, 1)], ids=str)
@pytest.mark.parametrize("eps", [1e-3, 0.5])
def test_instance_norm(shape, eps):
    checked = check_block(affine("InstanceNorm", shape[1], eps=eps), shape, init=False, scale=3.0)
    assert checked.comparisons[0].relative <= 1e-6


@pytest.mark.op("InstanceNorm")
def test_instance_norm_block_after_convolution():
    """Gluon's nn.InstanceNorm (IBN nets) after a convolution, its gamma and beta randomized."""
    check_block(seq(nn.Conv2D(6, 3, padding=1), nn.InstanceNorm(epsilon=1e-5)), (2, 3, 7, 6))


@pytest.mark.op("LayerNorm")
@pytest.mark.parametrize(
    "shape, axis",
    [((2, 4, 5, 7), -1), ((2, 4, 5, 7), 1), ((2, 4, 5, 7), 2), ((2, 4, 5, 7), -4), ((3, 11), 1)]
    + [((2, 5, 7), -2), ((2, 3, 4, 3, 5), 3), ((7,), 0)],
    ids=str,
)
@pytest.mark.parametrize("eps", [1e-5, 0.3])
def test_layer_norm_any_axis(shape, axis, eps):
    block = affine("LayerNorm", shape[axis], axis=axis, eps=eps)
    checked = check_block(block, shape, init=False, scale=3.0)
    assert checked.comparisons[0].relative <= 1e-6


@pytest.mark.op("LayerNorm", "FullyConnected")
def test_layer_norm_block_in_a_transformer_style_net():
    """nn.LayerNorm over the last axis of (N, T, C) after a Dense(flatten=False), as transformer blocks have it."""
    check_block(seq(nn.Dense(8, flatten=False), nn.LayerNorm(), nn.Dense(5, flatten=False)), (2, 6, 4))


@pytest.mark.op("GroupNorm")
@pytest.mark.parametrize(
    "shape, groups", [((2, 6, 5, 7), 3), ((2, 6, 5, 7), 1), ((2, 6, 5, 7), 6), ((2, 4, 9), 2), ((1, 4, 2, 3, 3), 2)]
)
@pytest.mark.parametrize("eps", [1e-5, 0.2])
def test_group_norm(shape, groups, eps):
    block = affine("GroupNorm", groups, num_groups=groups, eps=eps)
    checked = check_block(block, shape, init=False, scale=3.0)
    assert checked.comparisons[0].relative <= 1e-6


@pytest.mark.parametrize("op", ["LayerNorm", "GroupNorm"])
def test_mean_and_std_outputs_are_refused(op):
    rs = np.random.RandomState(0)
    channels = 5 if op == "LayerNorm" else 1
    gamma, beta = rs.uniform(0.5, 1.5, channels), rs.normal(0, 1, channels)

    def fn(F, x, gamma, beta):
        out, mean, std = getattr(F, op)(x, gamma, beta, output_mean_var=True)
        return F.broadcast_add(out, F.reshape(F.sum(mean) * F.sum(std), (1, 1, 1)))

    block = Lambda(fn, gamma=gamma, beta=beta)
    block.initialize()
    with pytest.raises(ConversionError, match=f"op {op} attribute 'output_mean_var'"):
        convert(block, (2, 3, 5))


@pytest.mark.op("InstanceNorm", "LayerNorm", "GroupNorm")
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_norms_in_runtimes(runtime):
    """Reshape views keeping the batch, AVE pooling, all-ones Deconvolutions, Eltwise, Power, a per-channel Scale and
    (LayerNorm along a later axis) Permute: every runtime loads and computes them."""
    for block in (
        affine("InstanceNorm", 4, eps=0.01),
        affine("LayerNorm", 7, axis=-1),
        affine("LayerNorm", 4, axis=1),
        affine("GroupNorm", 2, num_groups=2),
    ):
        check_block(block, (1, 4, 5, 7), init=False, runtime=runtime, scale=3.0)


def test_gamma_computed_from_an_input_is_refused_naming_the_node():
    """gamma and beta are the Scale's blobs: they must be parameters (or computed from parameters alone)."""

    class GammaFromInput(HybridBlock):
        def hybrid_forward(self, F, x, g):
            return F.LayerNorm(x, F.sum(g, axis=0), F.sum(g, axis=0))

    block = GammaFromInput()
    block.initialize()
    with pytest.raises(ConversionError, match="op LayerNorm: .*gamma .* is computed from the graph input 'data1'"):
        convert(block, [(2, 3, 5), (2, 5)])
