"""Pooling -> Pooling, both MXNet conventions, in the real Caffe (including the sizes where Caffe's ceil adds a row)."""

import numpy as np
import pytest
from mxnet.gluon import nn

from gluon2caffe.converters.pooling import caffe_pooled_size
from helpers import check_block, check_empty_max_windows, lam, seq

# (pool type, kernel, stride, pad, convention, input H, W)
CASES = [
    ("max", 3, 2, 1, "valid", 8, 8),  # ResNet stem on even sizes: Caffe adds a window -> sliced off
    ("max", 3, 2, 1, "valid", 9, 9),
    ("max", 3, 2, 0, "valid", 6, 7),  # no pad, Caffe ceil adds a window on H only
    ("max", 3, 2, 0, "full", 6, 7),  # squeezenet/googlenet style ceil
    ("max", 3, 2, 0, "full", 13, 12),
    ("max", 2, 2, 0, "valid", 7, 9),
    ("max", 2, 2, 0, "full", 7, 9),
    ("avg", 3, 2, 1, "valid", 8, 11),
    ("avg", 3, 1, 1, "valid", 7, 6),  # inception-style avg pool, count_include_pad
    ("avg", 3, 2, 1, "full", 10, 9),
    ("avg", 2, 2, 0, "valid", 5, 5),
    ("avg", 5, 3, 2, "full", 14, 17),
    ("max", 3, 3, 1, "valid", 10, 11),
]


@pytest.mark.op("Pooling")
@pytest.mark.parametrize("target", ["any", "caffe"])
@pytest.mark.parametrize("pool, kernel, stride, pad, convention, height, width", CASES)
def test_pooling(pool, kernel, stride, pad, convention, height, width, target):
    def fn(F, x):
        return F.Pooling(
            x,
            kernel=(kernel, kernel),
            stride=(stride, stride),
            pad=(pad, pad),
            pool_type=pool,
            pooling_convention=convention,
        )

    checked = check_block(seq(nn.Conv2D(4, 1), lam(fn)), (2, 3, height, width), target=target)
    out_h, out_w = checked.mxnet_outputs[0].shape[2:]
    # Caffe drops a padded pooling's window that starts past the input (other runtimes keep it): the padding is then
    # its own layers, as an average's always is for the default target (ncnn), and the Pooling has none.
    sizes = (height, width)
    drops = any(
        caffe_pooled_size(s, kernel, pad, stride) != caffe_pooled_size(s, kernel, pad, stride, False) for s in sizes
    )
    explicit_pad = pad > 0 and (drops or (pool == "avg" and target == "any"))
    pooled = [
        caffe_pooled_size(s + 2 * pad, kernel, 0, stride) if explicit_pad else caffe_pooled_size(s, kernel, pad, stride)
        for s in sizes
    ]
    if target == "caffe":  # a Slice per cropped axis, the rest silenced
        assert checked.layer_types.count("Slice") == (pooled[0] != out_h) + (pooled[1] != out_w)
    else:  # one one-hot Convolution crops both axes; an explicit padding is a Convolution (+ a max's -FLT_MAX: two)
        crop = pooled != [out_h, out_w]
        fill = explicit_pad and pool == "max"
        assert checked.layer_types.count("Convolution") == 1 + explicit_pad + fill + crop  # + the block's own
        assert "Silence" not in checked.layer_types


def test_slice_fix_is_exercised():
    """At least one case above really needs the fix (otherwise the tests would not show it works)."""
    assert caffe_pooled_size(8, 3, 1, 2) == 5  # MXNet 'valid' gives 4
    assert caffe_pooled_size(6, 3, 0, 2) == 3  # MXNet 'valid' gives 2


def test_sliced_rows_are_silenced():
    checked = check_block(seq(nn.Conv2D(4, 1), nn.MaxPool2D(3, 2, 1)), (1, 3, 8, 8), target="caffe")
    assert checked.layer_types[-1] == "Silence"
    assert list(checked.caffe_outputs) == checked.result.graph.outputs


@pytest.mark.op("Pooling")
@pytest.mark.parametrize("block", [nn.GlobalAvgPool2D, nn.GlobalMaxPool2D])
def test_global_pooling(block):
    checked = check_block(seq(nn.Conv2D(5, 3), block()), (2, 3, 9, 7))
    assert checked.result.text_net.layer[-1].pooling_param.global_pooling


@pytest.mark.op("Pooling")
def test_gluon_pool_layers():
    net = seq(nn.Conv2D(4, 3), nn.MaxPool2D(3, 2, ceil_mode=True), nn.AvgPool2D(2, 1, 1))
    check_block(net, (1, 3, 12, 13))


# (kernel, stride, pad, convention, H, W): NASNet's 3x3 stride 1/2 pad 1 pools and odd/even sizes
EXCLUDE_PAD = [
    (3, 1, 1, "valid", 7, 8),
    (3, 2, 1, "valid", 9, 8),
    (3, 2, 1, "full", 10, 7),
    (5, 2, 2, "valid", 11, 11),
    (1, 2, 0, "valid", 7, 6),
    (2, 2, 1, "full", 8, 10),
]


@pytest.mark.op("Pooling")
@pytest.mark.parametrize("kernel, stride, pad, convention, height, width", EXCLUDE_PAD)
def test_average_pooling_excluding_padding(kernel, stride, pad, convention, height, width):
    """count_include_pad=False (NASNet): Caffe's average times a constant per-position factor."""

    def fn(F, x):
        return F.Pooling(
            x,
            kernel=(kernel, kernel),
            stride=(stride, stride),
            pad=(pad, pad),
            pool_type="avg",
            pooling_convention=convention,
            count_include_pad=False,
        )

    checked = check_block(seq(nn.Conv2D(4, 1), lam(fn)), (2, 3, height, width))
    assert ("Eltwise" in checked.layer_types) == (pad > 0)  # the average times the constant factors


def _pool(**attrs):
    return lam(lambda F, x: F.Pooling(x, pooling_convention="full", **attrs))


# (input shape, kernel, stride, pad): MXNet's last 'full' window lies wholly past the input on some axis: the
# stride exceeds the kernel (the two geometries; 1-D), or the window starts in the padding (Caffe drops it,
# on an unpadded axis too when the other axis is padded).
PAST_THE_EDGE = [
    ((1, 3, 64, 64), (3, 3), (3, 4), (0, 0)),
    ((2, 1, 60, 60), (3, 3), (4, 5), (0, 0)),
    ((2, 3, 10, 11), (3, 3), (6, 6), (1, 1)),
    ((2, 3, 9, 12), (2, 3), (5, 4), (1, 0)),
    ((2, 3, 15), (2,), (4,), (0,)),
    ((2, 3, 10), (3,), (6,), (1,)),
]


@pytest.mark.op("Pooling")
@pytest.mark.parametrize("target", ["any", "caffe"])
@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("shape, kernel, stride, pad", PAST_THE_EDGE)
def test_average_window_past_the_input_is_zero(shape, kernel, stride, pad, count_include_pad, target):
    """MXNet's average over a window that reads no element is 0 (Caffe's is 0/0 = NaN, or no window at all): the
    windows that read something are pooled, then the empty one is appended as a 0 by a one-hot Deconvolution."""
    conv = nn.Conv2D(4, 1) if len(shape) == 4 else nn.Conv1D(4, 1)
    pool = _pool(pool_type="avg", kernel=kernel, stride=stride, pad=pad, count_include_pad=count_include_pad)
    checked = check_block(seq(conv, pool), shape, target=target)
    out = checked.mxnet_outputs[0]
    assert np.all(out[..., -1] == 0) and np.any(out[..., :-1] != 0), "no empty last window: the test proves nothing"
    assert "Deconvolution" in checked.layer_types


@pytest.mark.op("Pooling")
@pytest.mark.parametrize("target", ["any", "caffe"])
@pytest.mark.parametrize("shape, kernel, stride, pad", PAST_THE_EDGE)
def test_max_window_past_the_input_is_lowest_float(shape, kernel, stride, pad, target):
    """MXNet's max over a window that reads no element is -FLT_MAX. Caffe's MAX keeps -FLT_MAX there too, but with
    padding it drops the window, and other runtimes write other values: the windows that read something are pooled
    (the padding -FLT_MAX, its own layers) and the empty one appended (0 by a one-hot Deconvolution, plus -FLT_MAX)."""
    conv = nn.Conv2D(4, 1) if len(shape) == 4 else nn.Conv1D(4, 1)
    checked = check_empty_max_windows(
        seq(conv, _pool(pool_type="max", kernel=kernel, stride=stride, pad=pad)), shape, target
    )
    assert "Deconvolution" in checked.layer_types


RUNTIMES = ["opencv", "mnn", "ncnn", "openvino"]  # pycaffe is every other test's runtime


@pytest.mark.op("Pooling")
@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("pool_type", ["avg", "max"])
def test_window_past_the_input_in_runtimes(pool_type, runtime):
    """The default target's form of an empty last window computes MXNet's value in every runtime: OpenCV's MAX of an
    empty window is 0, and MNN and ncnn keep the window a padded Caffe pooling drops (another output size)."""
    shape, kernel, stride, pad = (2, 3, 9, 12), (2, 3), (5, 4), (1, 0)  # H: in the padding, W: past the input
    block = seq(nn.Conv2D(4, 1), _pool(pool_type=pool_type, kernel=kernel, stride=stride, pad=pad))
    if pool_type == "max":
        check_empty_max_windows(block, shape, runtime=runtime)
    else:
        checked = check_block(block, shape, runtime=runtime)
        assert np.all(checked.mxnet_outputs[0][:, :, -1] == 0) and np.all(checked.mxnet_outputs[0][..., -1] == 0)


@pytest.mark.op("Pooling")
@pytest.mark.parametrize("target", ["any", "caffe"])
def test_pooling_padded_on_one_axis(target):
    """Caffe drops a last window that starts past the input on every axis once the layer has any padding (W here,
    unpadded, loses its third window): its output size is computed with both pads (a per-axis rule made Caffe abort
    on the Slice of a column it did not have). ('full' on this geometry: the (9, 12) case of PAST_THE_EDGE.)"""

    def fn(F, x):
        return F.Pooling(x, pool_type="max", kernel=(3, 1), stride=(1, 3), pad=(1, 0))

    assert caffe_pooled_size(5, 1, 0, 3, padded=True) == 2 and caffe_pooled_size(5, 1, 0, 3) == 3
    check_block(seq(nn.Conv2D(4, 1), lam(fn)), (2, 3, 6, 5), target=target)


@pytest.mark.op("Pooling")
@pytest.mark.parametrize("runtime", ["caffe", *RUNTIMES])
@pytest.mark.parametrize("pool_type", ["avg", "max"])
def test_window_caffe_drops_in_runtimes(pool_type, runtime):
    """'valid', kernel 2 stride 4 pad 1 on 7: Caffe's ceil adds a third window starting past the input and, the layer
    being padded, drops it; MNN, ncnn and OpenVINO keep it (a 3x3 max output where MXNet's is 2x2). Such a pooling
    is written with its padding as its own layers, and the pad-free Pooling's extra window cropped."""

    def fn(F, x):
        return F.Pooling(x, pool_type=pool_type, kernel=(2, 2), stride=(4, 4), pad=(1, 1))

    assert caffe_pooled_size(7, 2, 1, 4) == 2 and caffe_pooled_size(7, 2, 1, 4, padded=False) == 3
    checked = check_block(seq(nn.Conv2D(4, 1), lam(fn)), (1, 3, 7, 7), runtime=runtime)
    assert checked.layer_types.count("Pooling") == 1 + (pool_type == "max")  # (+ the -FLT_MAX padding's source)


@pytest.mark.op("_contrib_AdaptiveAvgPooling2D")
@pytest.mark.parametrize(
    "in_hw, out_hw, caffe_type",
    [
        ((9, 7), 1, "Pooling"),
        ((8, 12), (2, 3), "Pooling"),
        ((8, 8), 3, "Permute"),
        ((11, 7), (5, 3), "Permute"),
        ((7, 9), (7, 4), "Permute"),
    ],
)
def test_adaptive_average_pooling(in_hw, out_hw, caffe_type):
    net = seq(nn.Conv2D(4, 1), lam(lambda F, x: F.contrib.AdaptiveAvgPooling2D(x, output_size=out_hw)))
    checked = check_block(net, (2, 3) + in_hw)
    assert caffe_type in checked.layer_types
