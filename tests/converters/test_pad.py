"""Pad (constant) in the real Caffe: folded into a convolution when symmetric, built from BVLC layers otherwise."""

import mxnet as mx
import pytest
from mxnet.gluon import HybridBlock, nn

from gluon2caffe import ConversionError, ModelFileError, convert, load_exported
from helpers import check_block, lam, seq

RUNTIMES = ["opencv", "mnn", "ncnn", "openvino"]  # pycaffe is every other test's runtime


def pad(width, value=0.0):
    return lam(lambda F, x: F.pad(x, mode="constant", pad_width=(0, 0, 0, 0) + width, constant_value=value))


@pytest.mark.op("Pad")
@pytest.mark.parametrize("width", [(1, 1, 1, 1), (2, 2, 0, 0)])
def test_symmetric_pad_folds_into_conv(width):
    checked = check_block(seq(nn.Conv2D(4, 1), pad(width), nn.Conv2D(5, 3)), (2, 3, 6, 7))
    assert checked.result.report.pads_folded == 1 and checked.layer_types.count("Convolution") == 2


@pytest.mark.op("Pad")
@pytest.mark.parametrize("width", [(1, 0, 1, 0), (0, 1, 0, 1), (0, 2, 1, 1), (1, 1, 1, 1)])
@pytest.mark.parametrize("then", ["maxpool", "avgpool", "relu"])
def test_pad_nasnet_style(width, then):
    """NASNet pads top/left by one, pools, then slices the first row/column off."""
    follow = {
        "maxpool": nn.MaxPool2D(3, 2, 1),
        "avgpool": nn.AvgPool2D(3, 2, 1, count_include_pad=False),
        "relu": nn.Activation("relu"),
    }[then]
    net = seq(nn.Conv2D(4, 1), pad(width), follow, lam(lambda F, x: F.slice(x, (0, 0, 1, 1), (None, None, None, None))))
    check_block(net, (2, 3, 9, 8))


@pytest.mark.op("Pad")
@pytest.mark.parametrize(
    "runtime, target",
    [("caffe", "caffe"), ("caffe", "any")] + [(r, "any") for r in RUNTIMES] + [(r, r) for r in RUNTIMES],
)
def test_pad_with_a_constant(runtime, target):
    """The constant border: a Bias over (H, W) for pycaffe; elsewhere a constant blob and an Eltwise SUM (OpenCV has
    no Bias layer, ncnn cannot load it, MNN applies it per channel)."""
    checked = check_block(
        seq(nn.Conv2D(4, 1), pad((1, 2, 0, 1), value=1.5)), (2, 3, 5, 6), runtime=runtime, target=target
    )
    assert ("Bias" in checked.layer_types) == (target == "caffe"), checked.layer_types


def test_edge_pad_is_refused():
    with pytest.raises(ConversionError, match="mode"):
        check_block(
            seq(nn.Conv2D(4, 1), lam(lambda F, x: F.pad(x, mode="edge", pad_width=(0, 0, 0, 0, 1, 1, 1, 1)))),
            (1, 3, 5, 5),
        )


def reflect(width):
    return lam(lambda F, x: F.pad(x, mode="reflect", pad_width=(0, 0, 0, 0) + width))


@pytest.mark.op("Pad")
@pytest.mark.parametrize(
    "width", [(1, 1, 1, 1), (2, 0, 0, 3), (0, 0, 1, 2), (4, 4, 0, 0), (3, 1, 5, 2), (1, 0, 0, 0), (0, 0, 0, 1)]
)
@pytest.mark.parametrize("target", ["any", "caffe"])
def test_reflect_pad(width, target):
    """Reflection excludes the edge (numpy 'reflect'); up to size - 1 rows, on a (2, 4, 5, 6) convolution output."""
    checked = check_block(seq(nn.Conv2D(4, 3, padding=1), reflect(width)), (2, 3, 5, 6), target=target)
    assert set(checked.layer_types) == {"Input", "Convolution", "Slice", "Concat"}  # copies only, nothing silenced
    assert checked.layer_types.count("Concat") == (width[:2] != (0, 0)) + (width[2:] != (0, 0))


@pytest.mark.op("Pad")
@pytest.mark.parametrize("width", [(1, 1, 1, 1, 1, 1), (0, 0, 2, 1, 0, 3)])
def test_reflect_pad_5d(width):
    check_block(lam(lambda F, x: F.pad(x, mode="reflect", pad_width=(0, 0, 0, 0) + width)), (2, 3, 3, 4, 5))


@pytest.mark.op("Pad")
def test_reflect_pad_of_two_rows():
    """The smallest input reflection allows: one row of padding on a 2-row input."""
    check_block(seq(nn.Conv2D(4, 3, padding=(0, 1)), reflect((1, 1, 2, 1))), (1, 3, 4, 5))


class DepthDecoderBlock(HybridBlock):
    """monodepth2's Conv3x3: ReflectionPad2d(1) + 3x3 convolution, with ELU, nearest upsampling and a sigmoid head."""

    def __init__(self):
        super().__init__()
        with self.name_scope():
            self.conv1 = nn.Conv2D(6, 3)
            self.conv2 = nn.Conv2D(4, 3)
            self.disp = nn.Conv2D(1, 3)

    def hybrid_forward(self, F, x):
        pad = dict(mode="reflect", pad_width=(0, 0, 0, 0, 1, 1, 1, 1))
        x = F.LeakyReLU(self.conv1(F.pad(x, **pad)), act_type="elu")
        x = F.UpSampling(x, scale=2, sample_type="nearest")
        x = F.LeakyReLU(self.conv2(F.pad(x, **pad)), act_type="elu")
        return F.sigmoid(self.disp(F.pad(x, **pad)))


@pytest.mark.op("Pad", "LeakyReLU", "UpSampling")
def test_monodepth2_decoder():
    checked = check_block(DepthDecoderBlock(), (1, 3, 5, 7))
    assert checked.result.report.pads_folded == 0 and checked.layer_types.count("Concat") == 6


@pytest.mark.op("Pad")
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_reflect_pad_in_runtimes(runtime):
    """A Slice part read twice by one Concat (rows 1..p are both copied and kept) loads in every runtime."""
    check_block(seq(nn.Conv2D(4, 3, padding=1), reflect((3, 1, 2, 2))), (1, 3, 5, 6), runtime=runtime)


def test_reflect_pad_wider_than_the_input_is_refused(tmp_path):
    """MXNet's own shape inference refuses it today (an exported graph is never run); the converter refuses it too,
    for a shape inference that does not."""
    x = mx.sym.Convolution(mx.sym.var("data"), num_filter=4, kernel=(1, 1), name="conv")
    mx.sym.pad(x, mode="reflect", pad_width=(0, 0, 0, 0, 0, 0, 4, 1)).save(str(tmp_path / "m-symbol.json"))
    mx.nd.save(
        str(tmp_path / "m-0000.params"), {"arg:conv_weight": mx.nd.ones((4, 3, 1, 1)), "arg:conv_bias": mx.nd.zeros(4)}
    )
    with pytest.raises((ConversionError, ModelFileError), match="reflection"):
        convert(load_exported(tmp_path / "m"), (1, 3, 5, 4))
