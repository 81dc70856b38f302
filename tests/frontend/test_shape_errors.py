"""frontend/shape_errors.py: MXNet's infer_shape failures read as (node, reason), and the batch-axis variants tried."""

import pytest

from gluon2caffe.frontend.shape_errors import batch_variants, explain, mxnet_failure


@pytest.mark.parametrize(
    "message, node, cause",
    [
        (
            "MXNetError: Error in operator conv0_fwd: [21:14:37] ../src/operator/nn/convolution.cc:151: Check failed: "
            "dshp.ndim() == 4U (3 vs. 4) : Input data should be 4D in batch-num_filter-y-x",
            "conv0_fwd",
            "Input data should be 4D in batch-num_filter-y-x (3 vs. 4)",
        ),
        (
            "MXNetError: Error in operator pool2: [10:00:00] ../src/operator/nn/pooling.cc:173: Check failed: "
            "param.kernel[0] <= dshape_nchw[2] + 2 * param.pad[0]: kernel size (3) exceeds input (1 padded to 1)",
            "pool2",
            "kernel size (3) exceeds input (1 padded to 1)",
        ),
        (
            "MXNetError: Error in operator dense0_fwd: Shape inconsistent, Provided = [3,100], inferred shape=(3,196)",
            "dense0_fwd",
            "Shape inconsistent, Provided = [3,100], inferred shape=(3,196)",
        ),
        (
            "Traceback (most recent call last):\n  File x\n"
            "MXNetError: [10:00:00] src/x.cc:1: Check failed: a == b (1 vs. 2) ",
            None,
            "Check failed: a == b (1 vs. 2)",
        ),
    ],
)
def test_mxnet_failure_reads_the_node_and_the_reason(message, node, cause):
    assert mxnet_failure(message) == (node, cause)


def test_batch_variants_grow_every_input_then_each_alone_below_rank_5():
    assert batch_variants({"data": (3, 8, 8)}) == [{"data": (1, 3, 8, 8)}]
    assert batch_variants({"data": (1, 3, 4, 8, 8)}) == []
    assert batch_variants({"a": (3,), "b": (2, 2)}) == [
        {"a": (1, 3), "b": (1, 2, 2)},
        {"a": (1, 3), "b": (2, 2)},
        {"a": (3,), "b": (1, 2, 2)},
    ]


def test_explain_suggests_only_a_shape_that_infers():
    shapes = {"data": (3, 8, 8)}
    refused = explain(shapes, "conv", "Convolution", ["data"], "4-D please", lambda variant: False)
    assert refused.suggestion is None
    assert str(refused) == "input_shape=(3, 8, 8) does not fit the model: node 'conv' (Convolution): 4-D please"
    fits = explain(shapes, "conv", "Convolution", ["data"], "4-D please", lambda variant: True)
    assert fits.suggestion == {"data": (1, 3, 8, 8)}
    deeper = explain(shapes, "fc", "FullyConnected", ["x"], "mismatch", lambda variant: True)
    assert str(deeper) == (
        "input 'data' has shape (3, 8, 8) but the model takes a 4-D input (node 'fc' (FullyConnected) refuses it: "
        "mismatch): did you forget the batch axis? e.g. input_shape=(1, 3, 8, 8)"
    )
