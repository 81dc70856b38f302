"""clip(0, 6) (ReLU6) and other clip ranges, in the real Caffe, with values far above 6 and below 0."""

import logging

import numpy as np
import pytest
from mxnet.gluon import nn

from gluon2caffe import ConversionError, InvalidCallError, convert_model
from helpers import check_block, lam, seq


def relu6_net():
    return seq(nn.Conv2D(8, 3, padding=1), lam(lambda F, x: F.clip(x, 0, 6)))


@pytest.mark.op("clip")
def test_relu6_exact_by_default_with_bvlc_layers():
    checked = check_block(relu6_net(), (2, 3, 7, 6), scale=8.0)
    assert "ReLU6" not in checked.layer_types
    assert set(checked.layer_types) <= {"Input", "Convolution", "ReLU", "Scale", "Eltwise"}
    ref = checked.mxnet_outputs[0]
    assert (ref == 6).mean() > 0.05 and (ref == 0).mean() > 0.05, "the test input must reach both clip bounds"


@pytest.mark.op("clip")
def test_relu6_layer_mode():
    checked = check_block(relu6_net(), (2, 3, 7, 6), scale=8.0, relu6="layer")
    assert checked.layer_types[-1] == "ReLU6"


def test_relu6_layer_mode_in_opencv():
    checked = check_block(relu6_net(), (1, 3, 7, 6), scale=8.0, relu6="layer", runtime="opencv")
    assert checked.layer_types[-1] == "ReLU6"


def test_relu_mode_is_lossy_opt_in_and_warns(caplog):
    with caplog.at_level(logging.WARNING, logger="gluon2caffe"):
        checked = check_block(relu6_net(), (2, 3, 7, 6), scale=8.0, relu6="relu", expect_match=False)
    assert checked.layer_types[-1] == "ReLU"
    assert any("NOT exact" in r.message for r in caplog.records)
    assert not checked.comparisons[0].ok  # values above 6 are no longer clipped


@pytest.mark.op("clip")
@pytest.mark.parametrize(
    "lo, hi",
    [
        (-1.0, 2.5),
        (0.5, 3.0),
        (-6.0, 0.0),
        (0.0, 1.0),
        (0.0, 6.0),
        (-0.1, 0.2),
        (-3.0, -1.0),
        (1.5, 1.5),
        (0.3, 0.3001),
    ],
)
def test_other_clip_ranges_are_bit_exact(lo, hi):
    """Negative bounds, a_min > 0, both bounds negative, equal bounds, bounds one float apart: min(max(x, lo), hi)
    with nothing subtracted and added back, so the output is MXNet's bit for bit (on the net's input: a convolution
    before it would round differently in Caffe)."""
    checked = check_block(lam(lambda F, x: F.clip(x, lo, hi)), (2, 3, 6, 7), scale=4.0, require_alive=hi - lo > 0.01)
    ref = checked.mxnet_outputs[0]
    np.testing.assert_array_equal(checked.caffe_outputs[checked.result.graph.outputs[0]], ref)
    assert (ref == np.float32(lo)).mean() > 0.02 and (ref == np.float32(hi)).mean() > 0.02


@pytest.mark.op("clip")
@pytest.mark.parametrize("lo, hi", [(-np.inf, 0.3), (-0.3, np.inf), (-np.inf, np.inf), (-3e38, 3e38), (-1e30, -1e29)])
@pytest.mark.parametrize("shape", [(2, 3, 5, 7), (3, 11), (2, 3, 4, 3, 5)], ids=lambda s: f"{len(s)}d")
def test_infinite_and_huge_bounds(lo, hi, shape):
    """An infinite bound clips nothing on its side (both: an identity); bounds near float32's limits compare as
    any other (relu(x - lo) - relu(x - hi) + lo, the form this replaced, returned 0 for every x ~ 1 here)."""
    checked = check_block(lam(lambda F, x: F.clip(x, lo, hi)), shape, scale=4.0, require_alive=hi > -1e29)
    ref = checked.mxnet_outputs[0]
    np.testing.assert_array_equal(checked.caffe_outputs[checked.result.graph.outputs[0]], ref)


@pytest.mark.op("clip")
@pytest.mark.parametrize("lo, hi, scale", [(-0.1, 0.1, 1e4), (0.0, 6.0, 1e8), (-2.5, 0.7, 1e30)])
def test_large_inputs_are_clipped_exactly(lo, hi, scale):
    """Inputs far beyond the bounds: relu(x - lo) - relu(x - hi) cancelled two terms of ulp(x) each (0.1 at x ~ 3000
    was off by 2.4e-4; relu6 at 1e8 gave 8); min/max does not subtract."""
    checked = check_block(lam(lambda F, x: F.clip(x, lo, hi)), (2, 3, 5, 7), scale=scale)
    np.testing.assert_array_equal(checked.caffe_outputs[checked.result.graph.outputs[0]], checked.mxnet_outputs[0])


def test_a_min_above_a_max_is_refused_naming_the_node():
    block = lam(lambda F, x: F.clip(x, 2.0, 1.0))
    block.initialize()
    with pytest.raises(ConversionError, match="a_min 2.0 > a_max 1.0: MXNet then computes a step") as error:
        convert_model(block, (1, 3, 5, 5))
    assert "op clip" in str(error.value) and "node '" in str(error.value)


def test_bounds_beyond_float32_are_refused_in_a_file(tmp_path):
    """MXNet refuses a_min=-1e39 when it builds the op; a file can still hold it (our own shape inference reads it)."""
    from gluon2caffe.ir.attrs import Attrs
    from gluon2caffe.ir.graph import Graph, Node
    from gluon2caffe.converters.emit import EmitOptions, emit_layers

    node = Node("c", "clip", Attrs("c", "clip", {"a_min": "-1e39", "a_max": "1"}), ["data"], ["c"])
    graph = Graph([node], {"data": (1, 3)}, ["c"], {}, {"data": (1, 3), "c": (1, 3)})
    with pytest.raises(ConversionError, match="node 'c' op clip attribute 'a_min': is -1e[+]39, beyond float32"):
        emit_layers(graph, EmitOptions())


def test_unknown_relu6_mode():
    net = relu6_net()
    net.initialize()
    with pytest.raises(InvalidCallError, match="relu6"):
        convert_model(net, (1, 3, 5, 5), relu6="approx")
