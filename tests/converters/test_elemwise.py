"""elemwise_add / add_n -> Eltwise SUM; per-channel constants -> Scale / Bias, in the real Caffe."""

import numpy as np
import pytest
from mxnet.gluon import HybridBlock, nn

from helpers import Lambda, SplitAttention, check_block, lam, seq

RUNTIMES = ["opencv", "mnn", "ncnn", "openvino"]  # pycaffe is every other test's runtime


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


@pytest.mark.op("elemwise_add")
def test_elemwise_add():
    checked = check_block(Residual(), (2, 3, 7, 8))
    assert checked.layer_types[-1] == "Eltwise"


@pytest.mark.op("add_n")
def test_add_n():
    checked = check_block(AddN(), (1, 3, 6, 5))
    assert len(checked.result.text_net.layer[-1].bottom) == 3


@pytest.mark.op("add_n")
@pytest.mark.parametrize("fn", [lambda F, x: F.add_n(x), lambda F, x: F.ElementWiseSum(x)], ids=["add_n", "sum"])
def test_add_n_of_one_input_is_an_identity(fn):
    """A one-bottom Eltwise made Caffe abort loading the net; a sum of one tensor is that tensor."""
    checked = check_block(seq(nn.Conv2D(4, 3), lam(fn), nn.Conv2D(3, 1)), (2, 3, 7, 6))
    assert "Eltwise" not in checked.layer_types
    assert checked.result.report.identities_removed == 1


@pytest.mark.parametrize(
    "op, caffe_type",
    [
        pytest.param("broadcast_mul", "Scale", marks=pytest.mark.op("broadcast_mul")),
        pytest.param("broadcast_add", "Bias", marks=pytest.mark.op("broadcast_add")),
    ],
)
@pytest.mark.parametrize("shape", [(1, 4, 1, 1), (4, 1, 1), (1, 4, 5, 6), (1, 1, 1, 6), (1,)])
@pytest.mark.parametrize("target", ["caffe", "any"])
def test_broadcast_constant(op, caffe_type, shape, target):
    """A scalar is a Power; target caffe carries any other constant as a Scale/Bias blob; the others (constant
    'eltwise') a per-channel one as a Scale (of weight 1 with the constant as bias, for a sum), else an Eltwise with
    the constant as a blob (test_constant_operand_in_runtime: why)."""
    const = np.random.RandomState(3).uniform(0.5, 2.0, shape).astype(np.float32)
    fn = Lambda(lambda F, x, c: getattr(F, op)(x, c), c=const)
    checked = check_block(seq(nn.Conv2D(4, 3, padding=1), fn), (2, 3, 5, 6), target=target)
    per_channel = shape in ((1, 4, 1, 1), (4, 1, 1))
    expected = (
        ("Power" if target == "caffe" else "Scale")  # target any: no Power for an affine map
        if const.size == 1
        else caffe_type
        if target == "caffe"
        else "Scale"
        if per_channel
        else "Eltwise"
    )
    assert checked.layer_types[-1] == expected


class Binary(HybridBlock):
    """Two conv branches with the given output shapes combined by `op` (broadcasting through reshape/pooling)."""

    def __init__(self, op, shape_a, shape_b):
        super().__init__()
        self.op, self.shape_a, self.shape_b = op, shape_a, shape_b
        with self.name_scope():
            self.a = nn.Conv2D(4, 3, padding=1)
            self.b = nn.Conv2D(4, 1)

    def hybrid_forward(self, F, x):
        a = _shape_like(F, self.a(x), self.shape_a)
        b = _shape_like(F, self.b(x), self.shape_b)
        return getattr(F, self.op)(a, b)


def _shape_like(F, t, kind):
    if kind == "full":
        return t
    if kind == "channel":  # (N, C, 1, 1): SE blocks
        return F.contrib.AdaptiveAvgPooling2D(t, 1)
    if kind == "spatial":  # (N, 1, H, W): attention maps
        return F.sum(t, axis=1, keepdims=True)
    if kind == "row":  # (N, C, H, 1)
        return (
            F.max(t, axis=3, keepdims=True)
            if False
            else F.Pooling(t, kernel=(1, 6), pool_type="avg", global_pool=False)
        )
    raise ValueError(kind)


@pytest.mark.parametrize(
    "op",
    [
        pytest.param("elemwise_add", marks=pytest.mark.op("elemwise_add")),
        pytest.param("elemwise_sub", marks=pytest.mark.op("elemwise_sub")),
        pytest.param("elemwise_mul", marks=pytest.mark.op("elemwise_mul")),
    ],
)
def test_same_shape_binary(op):
    checked = check_block(Binary(op, "full", "full"), (2, 3, 5, 6))
    assert checked.layer_types[-1] == "Eltwise"


@pytest.mark.parametrize(
    "op",
    [
        pytest.param("broadcast_mul", marks=pytest.mark.op("broadcast_mul")),
        pytest.param("broadcast_add", marks=pytest.mark.op("broadcast_add")),
        pytest.param("broadcast_sub", marks=pytest.mark.op("broadcast_sub")),
    ],
)
@pytest.mark.parametrize(
    "a, b", [("full", "channel"), ("channel", "full"), ("full", "spatial"), ("spatial", "channel"), ("full", "row")]
)
@pytest.mark.parametrize("target", ["any", "caffe"])
def test_broadcast_binary(op, a, b, target):
    checked = check_block(Binary(op, a, b), (2, 3, 5, 6), target=target)
    if op in ("broadcast_mul", "broadcast_add") and "channel" in (a, b) and "full" in (a, b):
        if target == "caffe":
            assert checked.layer_types[-1] in ("Scale", "Bias")  # the two-bottom per-channel form
        else:  # the operand expanded over H and W (loads in MNN, which rejects a two-bottom Scale)
            assert checked.layer_types[-3:] == ["Deconvolution", "Deconvolution", "Eltwise"], checked.layer_types


@pytest.mark.op("broadcast_mul", "sum")
@pytest.mark.parametrize("radix", [2, 4])
def test_resnest_split_attention(radix):
    check_block(SplitAttention(radix), (2, 3, 6, 5), scale=2.0)


@pytest.mark.parametrize(
    "op",
    [
        pytest.param("broadcast_sub", marks=pytest.mark.op("broadcast_sub")),
        pytest.param("elemwise_sub", marks=pytest.mark.op("elemwise_sub")),
    ],
)
@pytest.mark.parametrize("const_first", [False, True])
def test_subtract_constant(op, const_first):
    const = (
        np.random.RandomState(2).normal(size=(1, 4, 1, 1) if op == "broadcast_sub" else (1, 4, 5, 6)).astype(np.float32)
    )
    fn = (lambda F, x, c: getattr(F, op)(c, x)) if const_first else (lambda F, x, c: getattr(F, op)(x, c))
    check_block(seq(nn.Conv2D(4, 3, padding=1), Lambda(fn, c=const)), (1, 3, 5, 6))


@pytest.mark.parametrize(
    "op, caffe_value",
    [
        pytest.param("ones_like", 1.0, marks=pytest.mark.op("ones_like")),
        pytest.param("zeros_like", 0.0, marks=pytest.mark.op("zeros_like")),
    ],
)
def test_fill_like(op, caffe_value):
    """Residual attention: ones_like(mask) + mask."""
    net = seq(nn.Conv2D(4, 3), lam(lambda F, x: F.elemwise_add(getattr(F, op)(x), F.sigmoid(x)) * x))
    check_block(net, (2, 3, 6, 5))


class SEGate(HybridBlock):
    """alpha_pose's SE layer: `y.expand_dims(-1).expand_dims(-1).broadcast_like(x) * x`."""

    def __init__(self, channels=4):
        super().__init__()
        with self.name_scope():
            self.conv = nn.Conv2D(channels, 3, padding=1)
            self.fc = seq(nn.Dense(channels), nn.Activation("relu"), nn.Dense(channels, activation="sigmoid"))

    def hybrid_forward(self, F, x):
        x = self.conv(x)
        y = self.fc(F.contrib.AdaptiveAvgPooling2D(x, output_size=1))
        return y.expand_dims(-1).expand_dims(-1).broadcast_like(x) * x


@pytest.mark.op("broadcast_like", "elemwise_mul")
@pytest.mark.parametrize("target", ["any", "caffe"])
def test_broadcast_like_se_gate(target):
    checked = check_block(SEGate(), (2, 3, 5, 7), target=target)
    assert checked.layer_types[-3:] == ["Deconvolution", "Deconvolution", "Eltwise"], checked.layer_types


class BroadcastLike(HybridBlock):
    """conv(x) reduced to `reduced` (axes kept as 1), then broadcast like conv(x) (or along the given axes)."""

    def __init__(self, reduced, lhs_axes=None, rhs_axes=None, ndim=4):
        super().__init__()
        self.reduced, self.ndim = reduced, ndim
        self.axes = {} if lhs_axes is None else dict(lhs_axes=lhs_axes, rhs_axes=rhs_axes)
        with self.name_scope():
            self.conv = nn.Conv2D(6, 3, padding=1)

    def hybrid_forward(self, F, x):
        x = self.conv(x)
        if self.ndim == 5:
            x = F.reshape(x, (0, -4, 2, 3, 0, 0))
        elif self.ndim == 3:
            x = F.reshape(x, (0, 0, -3))
        return F.broadcast_like(F.mean(x, axis=self.reduced, keepdims=True), x, **self.axes) * F.relu(x)


@pytest.mark.op("broadcast_like")
@pytest.mark.parametrize(
    "reduced, ndim", [((2, 3), 4), (2, 4), (1, 4), ((1, 3), 4), (2, 3), ((3, 4), 5), ((2, 3, 4), 5), ((1, 3), 5)]
)
def test_broadcast_like(reduced, ndim):
    """H/W of a 4-D blob (or the last two of a 5-D one) by all-ones Deconvolutions, any other axis by the same on a
    4-D view: no Tile, which OpenCV, MNN and ncnn do not run."""
    checked = check_block(BroadcastLike(reduced, ndim=ndim), (2, 3, 5, 7))
    assert "Deconvolution" in checked.layer_types and "Tile" not in checked.layer_types


@pytest.mark.op("broadcast_like")
def test_broadcast_like_with_axes():
    """lhs_axes/rhs_axes: lhs (N, 1, H, 1) takes its axes 1 and 3 from the rhs's axes 1 and 2."""
    checked = check_block(BroadcastLike((1, 3), lhs_axes=(1, 3), rhs_axes=(1, 2)), (2, 3, 5, 5))
    assert checked.mxnet_outputs[0].shape == (2, 6, 5, 5)


@pytest.mark.op("broadcast_like", "elemwise_mul")
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_broadcast_like_in_runtimes(runtime):
    check_block(SEGate(), (1, 3, 5, 7), runtime=runtime)
    check_block(BroadcastLike(1), (1, 3, 5, 7), runtime=runtime)  # over the channels, on a 4-D view


@pytest.mark.op("broadcast_mul", "broadcast_add")
@pytest.mark.parametrize("shape", [(1, 4, 5, 6), (1, 1, 5, 6), (6,), (1, 4, 1, 1)], ids=str)
@pytest.mark.parametrize(
    "runtime, target",
    [(r, "any") for r in ("caffe", "opencv", "mnn", "ncnn", "openvino")]
    + [(r, r) for r in ("caffe", "opencv", "mnn", "ncnn", "openvino")],
)
def test_constant_operand_in_runtime(shape, runtime, target):
    """x * c + c2 with a constant that is per channel, per position or per column: a Scale per channel, else (every
    target but caffe) the constant as a blob and an Eltwise. A Scale over several axes was silently wrong in MNN and
    ncnn (relative 0.8 .. 3.3: they apply it per channel), OpenCV has no Bias layer, OpenVINO stopped at both."""
    c = np.random.RandomState(1).normal(size=shape).astype(np.float32)
    block = seq(
        nn.Conv2D(4, 3, padding=1),
        Lambda(lambda F, x, c: F.broadcast_add(F.broadcast_mul(x, c), c), c=c),
        nn.Conv2D(3, 1),
    )
    checked = check_block(block, (2, 3, 5, 6), runtime=runtime, target=target)
    params = [
        layer.scale_param if layer.type == "Scale" else layer.bias_param
        for layer in checked.result.text_net.layer
        if layer.type in ("Scale", "Bias") and len(layer.bottom) == 1
    ]
    beyond_channels = [p for p in params if p.axis != 1 or p.num_axes != 1]
    assert bool(beyond_channels) == (target == "caffe" and shape != (1, 4, 1, 1)), checked.layer_types


@pytest.mark.op("broadcast_add", "broadcast_mul")
@pytest.mark.parametrize("runtime", ["caffe", "opencv", "mnn"])
@pytest.mark.parametrize("target", ["any", "own"])
def test_constant_along_the_batch_in_runtimes(runtime, target):
    """Found by the property suite: a constant that differs along the batch (x * c + c, c of shape
    (N, C, H, W) or (N,)) was a Scale/Bias along axis 0: MNN computed another shape or values (relative 1.16), OpenCV
    has no Bias. It is combined with the tensor as one sample (1, size, 1, 1), then reshaped back."""
    c = np.random.RandomState(1).normal(size=(2, 4, 5, 6)).astype(np.float32)
    block = seq(nn.Conv2D(4, 3, padding=1), Lambda(lambda F, x, c: F.broadcast_add(F.broadcast_mul(x, c), c), c=c))
    checked = check_block(block, (2, 3, 5, 6), runtime=runtime, target=runtime if target == "own" else "any")
    assert ("Bias" in checked.layer_types) == (runtime == "caffe" and target == "own"), checked.layer_types


@pytest.mark.op("broadcast_add")
@pytest.mark.parametrize("runtime", ["caffe", "opencv", "mnn"])
@pytest.mark.parametrize("target", ["any", "own"])
def test_broadcast_along_the_batch_in_runtimes(runtime, target):
    """A (1, C) tensor plus an (N, C) one: the operand repeated along the batch by a Concat of copies (OpenCV and MNN
    have no Caffe Tile; OpenCV no Bias either)."""
    block = Lambda(lambda F, x: F.broadcast_add(F.slice_axis(x, 0, 0, 1), x))
    checked = check_block(block, (3, 4), init=False, runtime=runtime, target=runtime if target == "own" else "any")
    assert "Tile" not in checked.layer_types
    assert ("Bias" in checked.layer_types) == (runtime == "caffe" and target == "own"), checked.layer_types
