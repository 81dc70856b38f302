"""Pooling pool_type 'sum' and 'lp' (p 1, 2): the window average times its divisor (then the square root), 1-D, 2-D
and 3-D, every convention, in the real Caffe and the deployment runtimes."""

import pytest

from gluon2caffe import ConversionError, convert
from helpers import check_block, lam

RUNTIMES = ["opencv", "mnn", "ncnn", "openvino"]


def pool(**kwargs):
    return lam(lambda F, x: F.Pooling(x, **kwargs))


CASES = [
    # 2-D: valid and full, padding (windows clipped to the padded input: per-position divisors), global
    ((2, 3, 7, 8), dict(kernel=(3, 3))),
    ((2, 3, 7, 8), dict(kernel=(3, 3), stride=(2, 2), pad=(1, 1))),
    ((2, 3, 8, 9), dict(kernel=(3, 2), stride=(2, 3), pad=(1, 1), pooling_convention="full")),
    ((2, 3, 8, 9), dict(kernel=(3, 3), stride=(2, 2), pooling_convention="full")),
    ((2, 3, 9, 9), dict(kernel=(2, 2), stride=(4, 4), pooling_convention="full")),  # a last window past the input
    ((2, 3, 5, 6), dict(kernel=(1, 1), global_pool=True)),
    # 1-D and 3-D
    ((2, 3, 9), dict(kernel=(3,), stride=(2,), pad=(1,))),
    ((2, 3, 9), dict(kernel=(4,), stride=(3,), pooling_convention="full")),
    ((2, 3, 9), dict(kernel=(3,), global_pool=True)),
    ((2, 3, 4, 7, 6), dict(kernel=(2, 3, 3), stride=(1, 2, 2), pad=(1, 1, 1))),
    ((1, 2, 5, 5, 5), dict(kernel=(2, 2, 2), stride=(2, 2, 2), pooling_convention="full")),
]


@pytest.mark.op("Pooling")
@pytest.mark.parametrize("shape, kwargs", CASES, ids=str)
@pytest.mark.parametrize(
    "kind", [dict(pool_type="sum"), dict(pool_type="lp", p_value=1), dict(pool_type="lp", p_value=2)]
)
def test_sum_and_lp_pooling(shape, kwargs, kind):
    checked = check_block(pool(**kwargs, **kind), shape, scale=3.0)
    assert checked.comparisons[0].relative <= 1e-6


@pytest.mark.parametrize("p", [3, 4])
def test_other_p_is_refused(p):
    block = pool(kernel=(2, 2), pool_type="lp", p_value=p)
    block.initialize()
    with pytest.raises(ConversionError, match=f"op Pooling attribute 'p_value': is {p}; p 1 and 2 convert"):
        convert(block, (1, 3, 6, 6))


@pytest.mark.op("Pooling")
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_lp_pooling_in_runtimes(runtime):
    """Constant divisors (a Power scale) and per-position ones (a constant blob and an Eltwise PROD)."""
    for kwargs in (dict(kernel=(3, 3), pad=(1, 1), stride=(2, 2)), dict(kernel=(2, 2), stride=(2, 2))):
        check_block(pool(pool_type="lp", p_value=2, **kwargs), (1, 3, 7, 8), runtime=runtime, scale=3.0)
    check_block(
        pool(kernel=(3, 3), pool_type="sum", pooling_convention="full", stride=(2, 2)), (1, 3, 8, 9), runtime=runtime
    )
