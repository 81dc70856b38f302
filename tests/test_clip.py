"""clip(0, 6) (ReLU6) and other clip ranges, in the real Caffe, with values far above 6 and below 0."""

import logging

import numpy as np
import pytest
from mxnet.gluon import nn

from gluon2caffe import InvalidCallError, convert_model
from helpers import check_block, lam, seq


def relu6_net():
    return seq(nn.Conv2D(8, 3, padding=1), lam(lambda F, x: F.clip(x, 0, 6)))


@pytest.mark.op("clip")
def test_relu6_exact_by_default_with_bvlc_layers():
    checked = check_block(relu6_net(), (2, 3, 7, 6), scale=8.0)
    assert "ReLU6" not in checked.layer_types
    assert set(checked.layer_types) <= {"Input", "Convolution", "ReLU", "Power", "Eltwise"}
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
@pytest.mark.parametrize("lo, hi", [(-1.0, 2.5), (0.5, 3.0), (-6.0, 0.0), (0.0, 1.0), (0.0, 6.0)])
def test_other_clip_ranges_are_exact(lo, hi):
    net = seq(nn.Conv2D(6, 3, padding=1), lam(lambda F, x: F.clip(x, lo, hi)))
    checked = check_block(net, (2, 3, 6, 7), scale=4.0)
    ref = checked.mxnet_outputs[0]
    assert np.isclose(ref, lo).mean() > 0.02 and np.isclose(ref, hi).mean() > 0.02


def test_unknown_relu6_mode():
    net = relu6_net()
    net.initialize()
    with pytest.raises(InvalidCallError, match="relu6"):
        convert_model(net, (1, 3, 5, 5), relu6="approx")
