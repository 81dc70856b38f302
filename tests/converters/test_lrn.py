"""LRN across channels (MXNet's alpha/nsize/knorm/beta) from a window average of x*x, in the real Caffe: odd and even
window sizes, channels of very different sizes (Caffe's own LRN layer cancels there), the deployment runtimes."""

import numpy as np
import pytest
from mxnet.gluon import nn

from gluon2caffe import ConversionError, convert
from gluon2caffe.verification import compare, mxnet_forward, run_converted
from helpers import check_block, lam, seq

RUNTIMES = ["opencv", "mnn", "ncnn", "openvino"]


def lrn(**kwargs):
    return lam(lambda F, x: F.LRN(x, **kwargs))


@pytest.mark.op("LRN")
@pytest.mark.parametrize("nsize", [1, 2, 3, 4, 5, 6, 7, 9])
@pytest.mark.parametrize(
    "alpha, beta, knorm", [(1e-4, 0.75, 2.0), (0.5, 0.75, 2.0), (2.0, 0.5, 1.0), (0.3, 1.2, 0.5), (1.0, 0.75, -0.5)]
)
def test_lrn(nsize, alpha, beta, knorm):
    """Windows past the channel edges, nsize above the channel count, even sizes (MXNet's oneDNN kernel: the n - 1
    channels around, alpha still divided by n), knorm below 1 and above, negative; the input scaled so that
    alpha/n * sum x^2 matters against knorm."""
    block = lrn(nsize=nsize, alpha=alpha, beta=beta, knorm=knorm)
    shape = (2, 7, 5, 6)
    if knorm < 0:  # k + alpha/n S must stay positive: inputs large enough
        block = lam(lambda F, x: F.LRN(F.abs(x) + 3.0, nsize=nsize, alpha=alpha, beta=beta, knorm=knorm))
    checked = check_block(block, shape, scale=30.0 if alpha < 0.01 else 3.0)
    assert checked.comparisons[0].relative <= 1e-6


@pytest.mark.op("LRN")
@pytest.mark.parametrize("big", [1e3, 1e4, 1e6])
@pytest.mark.parametrize("nsize, alpha", [(1, 2.0), (3, 1.0), (5, 1e-4)])
def test_lrn_of_channels_of_very_different_sizes(big, nsize, alpha):
    """One channel at `big`, its neighbours at 1e-3: Caffe's LRN layer (a sliding sum that subtracts the channel
    leaving the window) was 3.5e-3 relative off at 1e3 and inf at 1e4; a window average sums what it holds."""
    x = np.full((1, 6, 2, 3), 1e-3, np.float32)
    x[0, 0], x[0, 3] = big, 0.5
    block = lrn(nsize=nsize, alpha=alpha, beta=0.75, knorm=1.0)
    block.initialize()
    result = convert(block, x.shape)
    caffe = run_converted(result.text_net, result.binary_weights, {"data": x})[result.graph.outputs[0]]
    comparison = compare(caffe, mxnet_forward(block, x)[0])
    assert comparison.relative <= 1e-6, comparison


@pytest.mark.op("LRN")
def test_lrn_2d_and_after_convolutions():
    """AlexNet's conv -> relu -> LRN -> pool, and an LRN on a 2-D (N, C) input (viewed as (N, C, 1, 1))."""
    check_block(seq(nn.Conv2D(8, 3, padding=1), nn.Activation("relu"), lrn(nsize=5, alpha=1e-2)), (2, 3, 9, 8))
    check_block(lrn(nsize=3, alpha=0.5), (3, 10), scale=3.0)


@pytest.mark.parametrize("shape", [(2, 5, 7), (2, 5, 3, 4, 2)])
def test_lrn_of_other_ranks_is_refused(shape):
    """MXNet's LRN fails on 3-D and 5-D inputs at run time; the conversion says so."""
    block = lrn(nsize=3)
    block.initialize()
    with pytest.raises(ConversionError, match="op LRN: input is [35]-D; MXNet's LRN computes 2-D and 4-D"):
        convert(block, shape)


@pytest.mark.op("LRN")
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_lrn_in_runtimes(runtime):
    """knorm 2 (MXNet's default: OpenCV, MNN and ncnn read Caffe's LRN k as 1, this form has none), an even nsize."""
    check_block(lrn(nsize=5, alpha=0.5, knorm=2.0), (1, 7, 5, 6), runtime=runtime, scale=3.0)
    check_block(lrn(nsize=4, alpha=0.5, knorm=1.5, beta=0.6), (1, 7, 5, 6), runtime=runtime, scale=3.0)
