"""dot with a constant right operand -> InnerProduct on the last axis; a product of two activations (dot, batch_dot,
linalg_gemm2) is refused with the reason."""

import numpy as np
import pytest
from mxnet.gluon import nn

from gluon2caffe import ConversionError, UnsupportedOperatorError, convert
from helpers import Lambda, check_block, lam, seq


@pytest.mark.op("dot")
@pytest.mark.parametrize(
    "in_shape, weight_shape, transpose_b",
    [
        ((2, 6), (6, 4), False),
        ((2, 6), (3, 6), True),
        ((2, 5, 6), (6, 4), False),
        ((2, 3, 5, 6), (6, 2, 3), False),  # the weight's other axes become the output's last axes
        ((2, 3, 5, 6), (2, 3, 6), True),
        ((2, 6), (6,), False),
    ],
)
@pytest.mark.parametrize("target", ["any", "caffe"])
def test_dot_with_a_constant(in_shape, weight_shape, transpose_b, target):
    """InnerProduct over the last axis; on a 3-D or 4-D input target any writes FullyConnected's 1x1 Convolution
    form (ncnn's InnerProduct ignores its axis)."""
    w = np.random.RandomState(1).normal(size=weight_shape).astype(np.float32)
    block = Lambda(lambda F, x, w: F.dot(x, w, transpose_b=transpose_b), w=w)
    block.initialize()
    checked = check_block(block, in_shape, init=False, target=target)
    by_convolution = target == "any" and len(in_shape) in (3, 4)
    assert ("Convolution" if by_convolution else "InnerProduct") in checked.layer_types


@pytest.mark.op("dot")
@pytest.mark.parametrize("runtime", ["ncnn", "mnn", "opencv"])
@pytest.mark.parametrize("in_shape, weight_shape", [((2, 5, 6), (6, 4)), ((1, 3, 5, 6), (6, 2))])
def test_dot_over_the_last_axis_in_runtimes(runtime, in_shape, weight_shape):
    """Found by the ops26a helper: an N-D InnerProduct is wrong in ncnn (it flattens) and stops OpenVINO; target any's
    1x1 Convolution form is exact in every runtime."""
    w = np.random.RandomState(2).normal(size=weight_shape).astype(np.float32)
    block = Lambda(lambda F, x, w: F.dot(x, w), w=w)
    block.initialize()
    check_block(block, in_shape, init=False, runtime=runtime)


@pytest.mark.op("dot")
def test_dot_after_a_layer():
    w = np.random.RandomState(1).normal(size=(4, 3)).astype(np.float32)
    fn = Lambda(lambda F, x, w: F.dot(F.transpose(x, (0, 2, 3, 1)), w), w=w)
    check_block(seq(nn.Conv2D(4, 3, padding=1), fn), (2, 3, 5, 6))


@pytest.mark.parametrize(
    "fn, match",
    [
        (lambda F, x: F.dot(x, F.transpose(x)), "op dot: multiplies two tensors computed from the input"),
        (lambda F, x: F.dot(x, x, transpose_a=True), "op dot: multiplies two tensors computed from the input"),
    ],
)
def test_dot_of_two_activations_is_refused(fn, match):
    with pytest.raises(ConversionError, match=match):
        convert(lam(fn), (3, 3))


def test_a_constant_left_operand_is_refused():
    block = Lambda(lambda F, x, w: F.dot(w, x), w=np.ones((4, 3), np.float32))
    block.initialize()
    with pytest.raises(ConversionError, match="op dot: the constant is the left operand"):
        convert(block, (3, 5))


def test_batch_dot_and_gemm_are_refused_with_the_reason():
    block = lam(lambda F, x: F.batch_dot(x, x) + F.linalg.gemm2(x, x))
    with pytest.raises(UnsupportedOperatorError) as info:
        convert(block, (2, 3, 3))
    message = str(info.value)
    assert "batch_dot x1" in message and "_linalg_gemm2 x1" in message
    assert message.count("no layer multiplies two activations as matrices") == 2
