"""depth_to_space / space_to_depth: MXNet's Reshape + Permute + Reshape, one-hot (De)Convolutions where the target
folds blobs beyond 4-D; exact in the real Caffe and every runtime."""

import mxnet as mx
import pytest
from mxnet.gluon import nn

from gluon2caffe import convert, load_exported
from gluon2caffe.errors import InputShapeError, ModelFileError
from helpers import check_block, lam, seq

OPS = [
    pytest.param("depth_to_space", marks=pytest.mark.op("depth_to_space")),
    pytest.param("space_to_depth", marks=pytest.mark.op("space_to_depth")),
]
SHAPES = {"depth_to_space": (2, 12, 3, 5), "space_to_depth": (2, 3, 6, 4)}


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("block", [1, 2])
@pytest.mark.parametrize("target", ["any", "caffe"])
def test_block_moves(op, block, target):
    """Bit for bit: values are moved (target caffe: Reshape/Permute/Reshape) or copied by one-hot weights (any)."""
    shape = SHAPES[op]
    block_net = seq(nn.Conv2D(shape[1], 1), lam(lambda F, x: getattr(F, op)(x, block)))
    checked = check_block(block_net, shape, target=target)
    assert checked.comparisons[0].max_abs <= 2.4e-7 * checked.comparisons[0].scale
    folded = {"depth_to_space": "Deconvolution", "space_to_depth": "Convolution"}[op]
    if block > 1:
        assert ("Permute" in checked.layer_types) == (target == "caffe")
        assert target == "caffe" or folded in checked.layer_types[2:]


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("runtime", ["opencv", "ncnn", "mnn", "openvino"])
def test_block_moves_in_runtimes(op, runtime):
    shape = (1, *SHAPES[op][1:])
    check_block(seq(nn.Conv2D(shape[1], 1), lam(lambda F, x: getattr(F, op)(x, 2))), shape, runtime=runtime)


@pytest.mark.parametrize("op", ["depth_to_space", "space_to_depth"])  # refused: converts no op
@pytest.mark.parametrize("source", ["block", "own"])
def test_a_block_that_does_not_divide_is_refused(op, source, tmp_path, monkeypatch):
    """A live block: MXNet's shape inference refuses it, named; an exported file read without MXNet: our rule."""
    block = lam(lambda F, x: getattr(F, op)(x, 2, name="blk"))
    block.initialize()
    if source == "block":
        with pytest.raises(InputShapeError, match=r"node '\w*blk' \(" + op):
            convert(block, (1, 3, 5, 5))
        return
    block.hybridize()
    block(mx.nd.zeros((1, 4, 4, 4)))
    block.export(str(tmp_path / "m"))
    monkeypatch.setenv("GLUON2CAFFE_SHAPE_INFERENCE", "own")
    with pytest.raises(ModelFileError, match=rf"node '\w*blk' op {op} attribute 'block_size': is 2: the"):
        convert(load_exported(tmp_path / "m"), (1, 3, 5, 5))
