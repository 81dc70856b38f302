"""elemwise_add / add_n -> Eltwise SUM; per-channel constants -> Scale / Bias, in the real Caffe."""

import numpy as np
import pytest
from mxnet.gluon import HybridBlock, nn

from helpers import Lambda, check_block, seq


class Residual(HybridBlock):
    def __init__(self):
        super().__init__()
        with self.name_scope():
            self.a = nn.Conv2D(4, 3, padding=1)
            self.b = nn.Conv2D(4, 1)
            self.c = nn.Conv2D(4, 1)

    def hybrid_forward(self, F, x):
        a = self.a(x)
        return F.elemwise_add(a, self.b(a))


class AddN(Residual):
    def hybrid_forward(self, F, x):
        a = self.a(x)
        return F.add_n(a, self.b(a), self.c(a))


def test_elemwise_add():
    checked = check_block(Residual(), (2, 3, 7, 8))
    assert checked.layer_types[-1] == "Eltwise"


def test_add_n():
    checked = check_block(AddN(), (1, 3, 6, 5))
    assert len(checked.result.text_net.layer[-1].bottom) == 3


@pytest.mark.parametrize("op, caffe_type", [("broadcast_mul", "Scale"), ("broadcast_add", "Bias")])
@pytest.mark.parametrize("shape", [(1, 4, 1, 1), (4, 1, 1), (1, 4, 5, 6), (1, 1, 1, 6), (1,)])
def test_broadcast_constant(op, caffe_type, shape):
    const = np.random.RandomState(3).uniform(0.5, 2.0, shape).astype(np.float32)
    fn = Lambda(lambda F, x, c: getattr(F, op)(x, c), c=const)
    checked = check_block(seq(nn.Conv2D(4, 3, padding=1), fn), (2, 3, 5, 6))
    expected = "Power" if const.size == 1 else caffe_type
    assert checked.layer_types[-1] == expected
