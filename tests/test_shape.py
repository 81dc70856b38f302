"""Reshape (every MXNet code), expand_dims, transpose -> Permute, Concat, Dropout, in the real Caffe."""

import pytest
from mxnet.gluon import HybridBlock, nn

from helpers import check_block, lam, seq

# Input to the op: conv output of shape (2, 6, 4, 5).
RESHAPES = {
    "copy_infer": dict(shape=(0, -1)),
    "explicit": dict(shape=(2, 3, 2, 20)),
    "copy_rest": dict(shape=(0, 0, -2)),
    "merge": dict(shape=(0, -3, 0)),
    "merge_twice": dict(shape=(-3, -3)),
    "split": dict(shape=(0, -4, 2, 3, 0, 0)),
    "split_infer": dict(shape=(0, -4, -1, 2, -2)),
    "reverse": dict(shape=(-1, 0), reverse=True),
    "to_3d": dict(shape=(0, 6, -1)),
    "batch_merged": dict(shape=(-1,)),
}


@pytest.mark.parametrize("case", sorted(RESHAPES))
def test_reshape(case):
    kwargs = RESHAPES[case]
    checked = check_block(seq(nn.Conv2D(6, 3, padding=1), lam(lambda F, x: F.reshape(x, **kwargs))), (2, 3, 4, 5))
    reshape = checked.result.text_net.layer[-1]
    assert reshape.type == "Reshape"
    dims = list(reshape.reshape_param.shape.dim)
    assert dims[1:] == list(checked.mxnet_outputs[0].shape[1:])
    assert dims[0] == (0 if checked.mxnet_outputs[0].shape[0] == 2 else checked.mxnet_outputs[0].shape[0])


@pytest.mark.parametrize("axis", [0, 1, 2, -1])
def test_expand_dims(axis):
    net = seq(nn.Conv2D(4, 3, padding=1), nn.Flatten(), lam(lambda F, x: F.expand_dims(x, axis=axis)))
    check_block(net, (2, 3, 3, 4))


@pytest.mark.parametrize("axes", [(0, 2, 3, 1), (0, 3, 1, 2), (0, 1, 3, 2), None])
def test_transpose(axes):
    fn = (lambda F, x: F.transpose(x)) if axes is None else (lambda F, x: F.transpose(x, axes=axes))
    checked = check_block(seq(nn.Conv2D(4, 3, padding=1), lam(fn)), (2, 3, 5, 6))
    order = list(checked.result.text_net.layer[-1].permute_param.order)
    assert order == (list(axes) if axes else [3, 2, 1, 0])


class Branches(HybridBlock):
    def __init__(self, dim):
        super().__init__()
        self.dim = dim
        with self.name_scope():
            self.a = nn.Conv2D(4, 3, padding=1)
            self.b = nn.Conv2D(4, 1)
            self.c = nn.Conv2D(4, 3, padding=1)

    def hybrid_forward(self, F, x):
        return F.concat(self.a(x), self.b(x), self.c(x), dim=self.dim)


@pytest.mark.parametrize("dim", [1, 2, 3, 0, -1])
def test_concat(dim):
    checked = check_block(Branches(dim), (2, 3, 5, 6))
    assert checked.result.text_net.layer[-1].concat_param.axis == dim % 4


def test_dropout_is_identity():
    checked = check_block(seq(nn.Conv2D(4, 3), nn.Dropout(0.5), nn.Activation("relu")), (1, 3, 6, 6))
    assert checked.layer_types == ["Input", "Convolution", "ReLU"]


@pytest.mark.parametrize("dims", [(1, 2), (2, 3), (1, 3)])
def test_swapaxis(dims):
    checked = check_block(seq(nn.Conv2D(4, 3, padding=1), lam(lambda F, x: F.swapaxes(x, *dims))), (2, 3, 5, 6))
    assert checked.layer_types[-1] == "Permute"


def test_channel_shuffle():
    """ShuffleNet: reshape to 5-D, swap the group axes, reshape back."""
    fn = lambda F, x: F.reshape(F.swapaxes(F.reshape(x, (0, -4, 2, -1, -2)), 1, 2), (0, -3, -2))
    check_block(seq(nn.Conv2D(6, 3, padding=1), lam(fn), nn.Conv2D(4, 1, groups=2)), (2, 3, 5, 6))


@pytest.mark.parametrize("axis, begin, end", [(1, 0, 2), (1, 1, None), (2, 1, -1), (3, -3, None), (-1, 0, 1)])
def test_slice_axis(axis, begin, end):
    checked = check_block(
        seq(nn.Conv2D(4, 3, padding=1), lam(lambda F, x: F.slice_axis(x, axis, begin, end))), (2, 3, 5, 6)
    )
    assert "Slice" in checked.layer_types and checked.layer_types[-1] == "Silence"


@pytest.mark.parametrize(
    "begin, end",
    [
        ((0, 0, 1, 1), (None, None, None, None)),
        ((None, 1), (None, 3)),
        ((0, 0, 0), (2, 4, -1)),
        ((0, 0, 0, 0), (None, None, None, None)),
    ],
)
def test_slice(begin, end):
    check_block(seq(nn.Conv2D(4, 3, padding=1), lam(lambda F, x: F.slice(x, begin, end))), (2, 3, 5, 6))


def test_slice_with_step_is_refused():
    from gluon2caffe import ConversionError

    with pytest.raises(ConversionError, match="step"):
        check_block(
            seq(nn.Conv2D(4, 3), lam(lambda F, x: F.slice(x, (0, 0, 0), (None, None, None), (1, 1, 2)))), (1, 3, 6, 6)
        )
