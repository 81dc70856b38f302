"""5-D (N, C, T, H, W) video graphs in the real Caffe: 3-D Convolution (Caffe's N-D Convolution), 3-D pooling (Reshape
+ 2-D Pooling passes: Caffe's Pooling aborts on 5-D blobs), BatchNorm on 5-D blobs (+ its fold), the ops around them
on 5-D blobs, to_bgr on 3-channel frames, and a small C3D-like net."""

import mxnet as mx
import numpy as np
import pytest
from mxnet.gluon import nn

from gluon2caffe import ConversionError, convert
from helpers import LOWEST, Lambda, check_block, check_empty_max_windows, lam, seq

CONV_3D = {
    # name: (Conv3D kwargs, input shape)
    "k3_pad1": (dict(channels=6, kernel_size=3, padding=1), (2, 4, 5, 7, 6)),
    "k133_stride122": (dict(channels=5, kernel_size=(1, 3, 3), strides=(1, 2, 2), padding=(0, 1, 1)), (1, 4, 5, 9, 8)),
    "k311_time_only": (dict(channels=5, kernel_size=(3, 1, 1), padding=(1, 0, 0)), (1, 4, 6, 5, 5)),
    "stride2_nopad": (dict(channels=4, kernel_size=3, strides=2), (1, 4, 7, 9, 8)),
    "dilation": (dict(channels=4, kernel_size=3, dilation=(1, 2, 2), padding=(1, 2, 2)), (1, 4, 5, 8, 9)),
    "groups2_no_bias": (dict(channels=6, kernel_size=3, groups=2, padding=1, use_bias=False), (1, 4, 4, 6, 7)),
    "depthwise": (dict(channels=4, kernel_size=(3, 3, 3), groups=4, padding=1), (1, 4, 5, 6, 6)),
    "pointwise": (dict(channels=7, kernel_size=1), (2, 4, 3, 5, 4)),
}


@pytest.mark.op("Convolution")
@pytest.mark.parametrize("case", sorted(CONV_3D))
def test_conv3d(case):
    kwargs, shape = CONV_3D[case]
    checked = check_block(seq(nn.Conv3D(in_channels=shape[1], **kwargs)), shape)
    assert checked.layer_types == ["Input", "Convolution"]
    conv = checked.result.text_net.layer[1].convolution_param
    assert len(conv.kernel_size) in (1, 3) and not conv.HasField("kernel_h")


POOL_3D = {
    "max_133_s122_p011": lambda: nn.MaxPool3D((1, 3, 3), (1, 2, 2), (0, 1, 1)),
    "max_233_s2_p011": lambda: nn.MaxPool3D((2, 3, 3), 2, (0, 1, 1)),
    "max_333_s2_p1": lambda: nn.MaxPool3D(3, 2, 1),
    "max_222": lambda: nn.MaxPool3D(2),
    "max_311_time_only": lambda: nn.MaxPool3D((3, 1, 1), (2, 1, 1), (1, 0, 0)),
    "max_333_s2_ceil": lambda: nn.MaxPool3D(3, 2, ceil_mode=True),
    "avg_222": lambda: nn.AvgPool3D(2),
    "avg_333_s2_p1": lambda: nn.AvgPool3D(3, 2, 1),
    "avg_333_s2_p1_ceil": lambda: nn.AvgPool3D(3, 2, 1, ceil_mode=True),
    "avg_333_s2_p1_exclude_pad": lambda: nn.AvgPool3D(3, 2, 1, count_include_pad=False),
    "avg_233_s122_p011_ceil_exclude_pad": lambda: nn.AvgPool3D(
        (2, 3, 3), (1, 2, 2), (1, 1, 1), ceil_mode=True, count_include_pad=False
    ),
    "avg_322_s2_ceil": lambda: nn.AvgPool3D((3, 2, 2), 2, ceil_mode=True),
    "global_avg": lambda: nn.GlobalAvgPool3D(),
    "global_max": lambda: nn.GlobalMaxPool3D(),
}


@pytest.mark.op("Pooling", "Convolution")
@pytest.mark.parametrize("target", ["any", "caffe"])
@pytest.mark.parametrize("size", [(5, 9, 8), (6, 8, 11)])
@pytest.mark.parametrize("case", sorted(POOL_3D))
def test_pool3d(case, size, target):
    net = seq(nn.Conv3D(4, 3, padding=1, in_channels=3), POOL_3D[case]())
    checked = check_block(net, (2, 3) + size, target=target)
    pooling = [layer for layer in checked.result.text_net.layer if layer.type == "Pooling"]
    assert pooling and "Reshape" in checked.layer_types


@pytest.mark.op("Convolution", "BatchNorm", "Activation")
@pytest.mark.parametrize("merge_bn", [True, False])
def test_batchnorm_5d(merge_bn):
    """BatchNorm after a 3-D conv: folded into it, or a Caffe BatchNorm + Scale on the 5-D blob; and a BatchNorm fed
    by an activation (never folded), with fix_gamma (scale=False) and a non-default eps."""
    net = seq(
        nn.Conv3D(6, 3, padding=1, in_channels=3),
        nn.BatchNorm(epsilon=1e-3),
        nn.Activation("relu"),
        nn.BatchNorm(scale=False, epsilon=2e-4),
        nn.Conv3D(5, (1, 3, 3), padding=(0, 1, 1)),
    )
    checked = check_block(net, (2, 3, 4, 7, 6), merge_bn=merge_bn)
    assert checked.layer_types.count("BatchNorm") == (1 if merge_bn else 2)


@pytest.mark.op("Convolution", "slice", "Concat", "elemwise_add", "Activation", "Flatten", "FullyConnected")
def test_time_slices_concat_and_flatten_on_5d():
    """SlowFast-style plumbing on 5-D blobs: slicing the time axis, concatenating along channels and time, a residual
    add, sigmoid/tanh, and Flatten + Dense."""

    class Block(mx.gluon.HybridBlock):
        def __init__(self):
            super().__init__()
            with self.name_scope():
                self.conv = nn.Conv3D(4, 3, padding=1, in_channels=3)
                self.fast = nn.Conv3D(4, (3, 1, 1), padding=(1, 0, 0), in_channels=4)
                self.fc = nn.Dense(5)

        def hybrid_forward(self, F, x):
            y = self.conv(x)
            slow = F.slice(y, begin=(None, None, 1, None, None), end=(None, None, 4, None, None))
            early = F.slice_axis(y, axis=2, begin=0, end=3)
            late = F.slice_axis(y, axis=2, begin=3, end=6)
            mixed = F.concat(F.Activation(early, "tanh"), F.sigmoid(late) + self.fast(late), dim=2)
            return self.fc(F.concat(F.flatten(F.concat(mixed, y, dim=1)), F.flatten(slow), dim=1))

    checked = check_block(Block(), (2, 3, 6, 5, 4))
    assert checked.mxnet_outputs[0].shape == (2, 5)


@pytest.mark.op("Convolution")
def test_to_bgr_on_video_frames():
    """A 3-channel 5-D input: the first 3-D conv absorbs the swap in its weights."""
    checked = check_block(seq(nn.Conv3D(4, 3, padding=1, in_channels=3)), (1, 3, 4, 6, 5), to_bgr=True)
    assert checked.result.report.bgr_swapped and checked.layer_types == ["Input", "Convolution"]


class _Residual(mx.gluon.HybridBlock):
    def __init__(self):
        super().__init__()
        with self.name_scope():
            self.conv = nn.Conv3D(3, 3, padding=1, in_channels=3)

    def hybrid_forward(self, F, x):
        return self.conv(x) + x


@pytest.mark.op("Convolution", "elemwise_add")
def test_to_bgr_on_video_frames_with_a_permutation():
    """The input also feeds a residual add: a 1x1x1 permutation Convolution swaps it back to RGB (exact)."""
    checked = check_block(_Residual(), (1, 3, 4, 5, 6), to_bgr=True)
    assert checked.result.report.bgr_permuted and checked.layer_types.count("Convolution") == 2
    permutation = checked.result.text_net.layer[1].convolution_param
    assert list(permutation.kernel_size) == [1, 1, 1]  # one value per axis: OpenCV reads a single one as 2-D


@pytest.mark.op("Convolution", "BatchNorm", "Activation", "Pooling", "Flatten", "FullyConnected")
@pytest.mark.parametrize("merge_bn", [True, False])
def test_c3d_like_net(merge_bn):
    """A small C3D: Conv3D + BN + ReLU, MaxPool3D (1,2,2) then (2,2,2) with ceil, a grouped (3,1,1) temporal conv, a
    global average pool, Dense; odd sizes."""
    net = seq(
        nn.Conv3D(8, 3, padding=1, in_channels=3),
        nn.BatchNorm(),
        nn.Activation("relu"),
        nn.MaxPool3D((1, 2, 2), (1, 2, 2)),
        nn.Conv3D(8, 3, padding=1),
        nn.BatchNorm(epsilon=1e-3),
        nn.Activation("relu"),
        nn.MaxPool3D(2, 2, ceil_mode=True),
        nn.Conv3D(8, (3, 1, 1), padding=(1, 0, 0), groups=2),
        nn.Activation("relu"),
        nn.GlobalAvgPool3D(),
        nn.Flatten(),
        nn.Dense(5),
    )
    checked = check_block(net, (2, 3, 7, 13, 11), merge_bn=merge_bn)
    assert ("BatchNorm" in checked.layer_types) != merge_bn


def _c3d_like() -> nn.HybridSequential:
    return seq(
        nn.Conv3D(8, 3, padding=1, in_channels=3),
        nn.Activation("relu"),
        nn.MaxPool3D((1, 2, 2), (1, 2, 2)),
        nn.Conv3D(8, 1, strides=2),
        nn.Conv3D(6, (3, 1, 1), padding=(1, 0, 0), groups=2),
        nn.GlobalAvgPool3D(),
        nn.Flatten(),
        nn.Dense(5),
    )


@pytest.mark.op("Convolution", "Pooling")
@pytest.mark.parametrize("runtime, target", [("opencv", "any"), ("opencv", "opencv")])
def test_3d_convolutions_in_runtime(runtime, target):
    """Every axis's kernel, stride and pad value is written: OpenCV reads a single one as a 2-D window (a 3x3x3
    kernel as 3x3: a negative output size; a stride 2 on H and W only: a residual shape mismatch)."""
    checked = check_block(_c3d_like(), (1, 3, 5, 9, 8), runtime=runtime, target=target)
    windows = [list(layer.convolution_param.kernel_size) for layer in checked.result.text_net.layer]
    assert [3, 3, 3] in windows and [1, 1, 1] in windows


@pytest.mark.op("Convolution")
@pytest.mark.parametrize("target", ["ncnn", "mnn", "openvino", "tpu-mlir", "rknn", "onnx", "paddle"])
def test_3d_convolutions_refused_where_no_runtime_holds_them(target):
    """ncnn holds at most 4-D blobs; MNN computes N-D convolutions' output sizes as 0; OpenVINO's Model Optimizer
    stops at them ("Stopped shape/value propagation"); none of the NPU toolchains takes them (the zoo sweep: TPU-MLIR's
    shape inference, caffe2onnx's and rknn's Conv dilations, x2paddle's 4-D unpacking): refused for their targets,
    one line naming the node (the net's 5-D input)."""
    net = _c3d_like()
    net.initialize()
    with pytest.raises(ConversionError) as error:
        convert(net, (1, 3, 5, 9, 8), to_bgr=False, target=target)
    message = str(error.value)
    assert "\n" not in message and message.startswith("node 'data' op Input: writes a 5-D blob (1, 3, 5, 9, 8)")
    assert f"target {target!r} takes blobs of at most 4 axes" in message


@pytest.mark.op("Pooling")
def test_pool3d_window_in_padding():
    """ceil_mode with kernel 2, stride 2, pad 1 on 5 frames: MXNet's last window along T starts in the padding and
    reads nothing (-FLT_MAX), which Caffe's pooling drops; the time pass appends it (was refused)."""
    net = seq(nn.MaxPool3D((2, 1, 1), (2, 1, 1), (1, 0, 0), ceil_mode=True))
    checked = check_empty_max_windows(net, (1, 2, 5, 6, 6))
    assert (checked.mxnet_outputs[0][:, :, -1] == LOWEST).all()


@pytest.mark.op("Pooling")
@pytest.mark.parametrize("count_include_pad", [True, False])
def test_pool3d_average_window_past_the_input(count_include_pad):
    """Kernel 1 stride 3 on 5 frames ('full'): the last window starts at 6, past the input's end; MXNet's 3-D average
    of it is 0 (its divisor 5 - 6 is negative, not the 0 that gives NaN), which the time pass appends."""

    def fn(F, x):
        return F.Pooling(
            x,
            pool_type="avg",
            kernel=(1, 3, 3),
            stride=(3, 2, 2),
            pad=(0, 1, 1),
            pooling_convention="full",
            count_include_pad=count_include_pad,
        )

    checked = check_block(seq(nn.Conv3D(4, 1), lam(fn)), (2, 3, 5, 7, 8))
    assert (checked.mxnet_outputs[0][:, :, -1] == 0).all()


@pytest.mark.op("Pooling")
@pytest.mark.parametrize("count_include_pad", [True, False])
def test_pool3d_average_nan_window_is_refused_naming_the_node(count_include_pad):
    """Kernel 4 stride 6 on 6 frames ('full'): the last window starts at 6, the input's end; MXNet's 3-D average
    divides its empty sum by 0 and writes NaN (its 2-D one writes 0): refused, naming the 3-D node."""
    net = seq(
        nn.Conv3D(4, 1),
        lam(
            lambda F, x: F.Pooling(
                x,
                pool_type="avg",
                kernel=(4, 2, 2),
                stride=(6, 2, 2),
                pooling_convention="full",
                count_include_pad=count_include_pad,
            )
        ),
    )
    net.initialize()
    assert np.isnan(net(mx.nd.ones((1, 3, 6, 6, 6))).asnumpy()).any()
    with pytest.raises(
        ConversionError, match=r"node '\w+pooling0' op Pooling attribute 'pooling_convention': MXNet's 3-D"
    ):
        convert(net, (1, 3, 6, 6, 6), to_bgr=False)


@pytest.mark.op("Convolution")
def test_channels_last_3d_convolution_is_refused_naming_the_node():
    weight = np.ones((4, 3, 3, 3, 2), np.float32)
    net = Lambda(
        lambda F, x, w: F.Convolution(x, w, kernel=(3, 3, 3), num_filter=4, no_bias=True, layout="NDHWC"), w=weight
    )
    net.initialize()
    with pytest.raises(ConversionError, match=r"op Convolution attribute 'layout': is 'NDHWC'; only NCW \(1-D\), NCHW"):
        convert(net, (1, 5, 5, 5, 2), to_bgr=False)


@pytest.mark.op("Convolution", "Pooling")
def test_any_says_which_runtimes_cannot_load_5d_blobs(caplog):
    """Issue 28: a 3-D net under target `any` converts (exact in Caffe and OpenCV, checked here) with a warning
    naming the first layer that needs 5-D blobs and the runtimes that hold at most 4 axes (MNN, ncnn, OpenVINO, the
    NPU toolchains, whose own targets refuse it); target caffe, and a 4-D net, say nothing."""
    shape = (1, 3, 4, 9, 9)
    for runtime in ("caffe", "opencv"):
        caplog.clear()
        with caplog.at_level("WARNING", logger="gluon2caffe"):
            check_block(seq(nn.Conv3D(4, 3, in_channels=3, padding=1), nn.MaxPool3D(2)), shape, runtime=runtime)
        warned = [r.getMessage() for r in caplog.records if "5-D blob" in r.getMessage()]
        held = "mnn, ncnn, onnx, openvino, paddle, rknn, tpu-mlir hold at most 4 axes"
        assert len(warned) == 1 and held in warned[0], warned
        assert "conv" in warned[0].split(" writes")[0] and "caffe, opencv" in warned[0], warned
    caplog.clear()
    with caplog.at_level("WARNING", logger="gluon2caffe"):
        check_block(seq(nn.Conv3D(4, 3, in_channels=3, padding=1)), shape, target="caffe")
        check_block(seq(nn.Conv2D(4, 3, in_channels=3, padding=1)), (1, 3, 9, 9))
    assert not [r for r in caplog.records if "5-D blob" in r.getMessage()]
