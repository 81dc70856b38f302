"""Reshape (every MXNet code), expand_dims, transpose -> Permute, Concat, Dropout and the other identities."""

import json

import mxnet as mx
import numpy as np
import pytest
from mxnet.gluon import HybridBlock, nn

from gluon2caffe import ConversionError, convert, load_exported
from gluon2caffe.converters.context import TARGETS
from gluon2caffe.verification import compare, run_converted
from helpers import SplitAttention, check_block, lam, make_input, seq

# Input to the op: conv output of shape (2, 6, 4, 5).
RESHAPES = {
    "copy_infer": dict(shape=(0, -1)),
    "explicit": dict(shape=(2, 3, 2, 20)),
    "copy_rest": dict(shape=(0, 0, -2)),
    "merge": dict(shape=(0, -3, 0)),
    "merge_twice": dict(shape=(-3, -3)),
    "split": dict(shape=(0, -4, 2, 3, 0, 0)),
    "split_infer": dict(shape=(0, -4, -1, 2, -2)),
    "reverse": dict(shape=(-1, 0), reverse=True),
    "to_3d": dict(shape=(0, 6, -1)),
    "batch_merged": dict(shape=(-1,)),
}


@pytest.mark.op("Reshape")
@pytest.mark.parametrize("case", sorted(RESHAPES))
def test_reshape(case):
    kwargs = RESHAPES[case]
    checked = check_block(seq(nn.Conv2D(6, 3, padding=1), lam(lambda F, x: F.reshape(x, **kwargs))), (2, 3, 4, 5))
    reshape = checked.result.text_net.layer[-1]
    assert reshape.type == "Reshape"
    dims = list(reshape.reshape_param.shape.dim)
    assert dims[1:] == list(checked.mxnet_outputs[0].shape[1:])
    assert dims[0] == (0 if checked.mxnet_outputs[0].shape[0] == 2 else checked.mxnet_outputs[0].shape[0])


@pytest.mark.op("expand_dims")
@pytest.mark.parametrize("axis", [0, 1, 2, -1])
def test_expand_dims(axis):
    net = seq(nn.Conv2D(4, 3, padding=1), nn.Flatten(), lam(lambda F, x: F.expand_dims(x, axis=axis)))
    check_block(net, (2, 3, 3, 4))


@pytest.mark.op("Reshape")
def test_reshape_of_a_reshape_that_changed_the_batch():
    """TSN's (N*S, C) -> (N, S, C), then a Reshape that copies the batch: merged into one, it must copy N, not N*S."""
    fn = lambda F, x: F.reshape(F.reshape(x, (-1, 3, 4)), (0, -1))
    checked = check_block(seq(nn.Conv2D(4, 3, padding=1), nn.GlobalAvgPool2D(), nn.Flatten(), lam(fn)), (6, 3, 5, 5))
    assert checked.mxnet_outputs[0].shape == (2, 12)


@pytest.mark.op("Reshape")
@pytest.mark.parametrize("shape", [(-2, -1), (1,), (0, 2)])
def test_reshape_to_another_size_is_refused(shape):
    """Found by the property suite: MXNet 1.9.1 compiled its Reshape size check out, so its shape inference
    passes a shape of another size ((-2, -1) fills the -1 in at its code's position: (2, 3) -> (2, 1, 1)) and its
    forward writes past the tensor (the process aborts); the converter wrote it and Caffe aborted loading it. Refused,
    naming the node (MXNet is never run on it here)."""
    net = lam(lambda F, x: F.reshape(x, shape, name="bad"))
    with pytest.raises(ConversionError, match=r"node '\w*bad' op Reshape attribute 'shape': turns \(2, 3\) "):
        convert(net, (2, 3), to_bgr=False)


@pytest.mark.op("squeeze")
@pytest.mark.parametrize(
    "shape, axis",
    [((2, 1, 3, 1), None), ((2, 1, 3, 1), 1), ((2, 1, 3, 1), (1, 3)), ((1, 4, 1, 1, 1), (2, 3, 4)), ((1, 4, 1), None)],
)
def test_squeeze(shape, axis):
    """Unit axes dropped (with axis None also a unit batch): a Reshape to the static shape."""
    kwargs = {} if axis is None else dict(axis=axis)
    checked = check_block(lam(lambda F, x: F.squeeze(x, **kwargs)), shape)
    assert checked.layer_types == ["Input", "Reshape"]
    assert checked.mxnet_outputs[0].shape == mx.nd.zeros(shape).squeeze(**kwargs).shape


class ActionHead(HybridBlock):
    """The 3-D action nets' head: (N, C, T, H, W) features averaged over T, H, W, squeezed, then classified."""

    def __init__(self):
        super().__init__()
        with self.name_scope():
            self.output = nn.Dense(5)

    def hybrid_forward(self, F, x):
        x = F.mean(F.relu(x), axis=(2, 3, 4), keepdims=True)
        return self.output(F.squeeze(x, axis=(2, 3, 4)))


@pytest.mark.op("squeeze", "mean")
def test_action_head_on_5d_features():
    checked = check_block(ActionHead(), (2, 6, 3, 5, 4))
    assert checked.mxnet_outputs[0].shape == (2, 5)


@pytest.mark.op("squeeze", "mean")
@pytest.mark.parametrize("runtime", ["opencv", "mnn", "ncnn", "openvino"])
def test_action_head_in_runtimes(runtime):
    check_block(ActionHead(), (1, 6, 3, 5, 4), runtime=runtime)


@pytest.mark.op("transpose")
@pytest.mark.parametrize("axes", [(0, 2, 3, 1), (0, 3, 1, 2), (0, 1, 3, 2), None])
def test_transpose(axes):
    fn = (lambda F, x: F.transpose(x)) if axes is None else (lambda F, x: F.transpose(x, axes=axes))
    checked = check_block(seq(nn.Conv2D(4, 3, padding=1), lam(fn)), (2, 3, 5, 6))
    order = list(checked.result.text_net.layer[-1].permute_param.order)
    assert order == (list(axes) if axes else [3, 2, 1, 0])


class Branches(HybridBlock):
    def __init__(self, dim):
        super().__init__()
        self.dim = dim
        with self.name_scope():
            self.a = nn.Conv2D(4, 3, padding=1)
            self.b = nn.Conv2D(4, 1)
            self.c = nn.Conv2D(4, 3, padding=1)

    def hybrid_forward(self, F, x):
        return F.concat(self.a(x), self.b(x), self.c(x), dim=self.dim)


@pytest.mark.op("Concat")
@pytest.mark.parametrize("dim", [1, 2, 3, 0, -1])
def test_concat(dim):
    checked = check_block(Branches(dim), (2, 3, 5, 6))
    assert checked.result.text_net.layer[-1].concat_param.axis == dim % 4


@pytest.mark.op("Concat")
def test_concat_of_one_input_is_an_identity():
    """A concatenation of one tensor is that tensor: no one-bottom Concat for runtimes to load."""
    checked = check_block(seq(nn.Conv2D(4, 3), lam(lambda F, x: F.concat(x, dim=1)), nn.Conv2D(3, 1)), (2, 3, 7, 6))
    assert "Concat" not in checked.layer_types
    assert checked.result.report.identities_removed == 1


@pytest.mark.op("Dropout")
def test_dropout_is_identity():
    checked = check_block(seq(nn.Conv2D(4, 3), nn.Dropout(0.5), nn.Activation("relu")), (1, 3, 6, 6))
    assert checked.layer_types == ["Input", "Convolution", "ReLU"]


def _net_with_copy():
    return seq(nn.Conv2D(4, 3), lam(lambda F, x: F.identity(x)), nn.Activation("relu"))


@pytest.mark.op("_copy")
def test_copy_is_identity():
    """F.identity traces to MXNet's `_copy` node; the identities pass removes it."""
    checked = check_block(_net_with_copy(), (2, 3, 6, 5))
    assert checked.result.report.identities_removed == 1
    assert checked.layer_types == ["Input", "Convolution", "ReLU"]


@pytest.mark.op("identity")
def test_identity_in_an_exported_graph_is_removed(tmp_path):
    """`identity` (the name other writers of MXNet JSON use for `_copy`) in an exported model: removed too."""
    net = _net_with_copy()
    checked = check_block(net, (2, 3, 6, 5))  # also proves the output depends on the input
    net.hybridize()
    net(mx.nd.zeros((2, 3, 6, 5)))
    net.export(str(tmp_path / "m"))
    symbol = json.loads((tmp_path / "m-symbol.json").read_text())
    copies = [node for node in symbol["nodes"] if node["op"] == "_copy"]
    assert len(copies) == 1
    copies[0]["op"] = "identity"
    (tmp_path / "m-symbol.json").write_text(json.dumps(symbol))
    result = convert(load_exported(tmp_path / "m"), (2, 3, 6, 5), to_bgr=False)
    assert result.report.identities_removed == 1
    x = make_input((2, 3, 6, 5), 1)  # check_block's input (seed + 1)
    outputs = run_converted(result.text_net, result.binary_weights, {"data": x})
    assert [layer.type for layer in result.text_net.layer] == checked.layer_types
    c = compare(outputs[result.graph.outputs[0]], checked.mxnet_outputs[0])
    assert c.ok, c


@pytest.mark.op("SwapAxis")
@pytest.mark.parametrize("dims", [(1, 2), (2, 3), (1, 3)])
def test_swapaxis(dims):
    checked = check_block(seq(nn.Conv2D(4, 3, padding=1), lam(lambda F, x: F.swapaxes(x, *dims))), (2, 3, 5, 6))
    assert checked.layer_types[-1] == "Permute"


def test_channel_shuffle():
    """ShuffleNet: reshape to 5-D, swap the group axes, reshape back."""
    fn = lambda F, x: F.reshape(F.swapaxes(F.reshape(x, (0, -4, 2, -1, -2)), 1, 2), (0, -3, -2))
    check_block(seq(nn.Conv2D(6, 3, padding=1), lam(fn), nn.Conv2D(4, 1, groups=2)), (2, 3, 5, 6))


@pytest.mark.op("slice_axis")
@pytest.mark.parametrize("axis, begin, end", [(1, 0, 2), (1, 1, None), (2, 1, -1), (3, -3, None), (-1, 0, 1)])
@pytest.mark.parametrize("target", ["any", "caffe"])
def test_slice_axis(axis, begin, end, target):
    checked = check_block(
        seq(nn.Conv2D(4, 3, padding=1), lam(lambda F, x: F.slice_axis(x, axis, begin, end))),
        (2, 3, 5, 6),
        target=target,
    )
    if target == "caffe":  # Slice, the other parts silenced
        assert "Slice" in checked.layer_types and checked.layer_types[-1] == "Silence"
    else:  # one one-hot Convolution writes only the part kept
        assert checked.layer_types == ["Input", "Convolution", "Convolution"]


@pytest.mark.op("slice")
@pytest.mark.parametrize(
    "begin, end",
    [
        ((0, 0, 1, 1), (None, None, None, None)),
        ((None, 1), (None, 3)),
        ((0, 0, 0), (2, 4, -1)),
        ((0, 0, 0, 0), (None, None, None, None)),
    ],
)
def test_slice(begin, end):
    check_block(seq(nn.Conv2D(4, 3, padding=1), lam(lambda F, x: F.slice(x, begin, end))), (2, 3, 5, 6))


def test_slice_with_step_is_refused():
    with pytest.raises(ConversionError, match="step"):
        check_block(
            seq(nn.Conv2D(4, 3), lam(lambda F, x: F.slice(x, (0, 0, 0), (None, None, None), (1, 1, 2)))), (1, 3, 6, 6)
        )


class _SliceLike(HybridBlock):
    def __init__(self, axes):
        super().__init__()
        self.axes = axes

    def hybrid_forward(self, F, x, ref):
        return F.slice_like(x, ref, axes=self.axes) if self.axes is not None else F.slice_like(x, ref)


# (x shape, ref shape, axes, Crop): a ref of lower rank (MXNet reads only the axes named), of higher rank, an axis
# kept between two cut ones (the target's crop from the static shapes); every axis and a trailing run (Caffe's Crop
# with the ref as its second bottom).
SLICE_LIKE = [
    ((4, 5, 6, 7), (2, 3, 4), (0, 1, 2), False),
    ((3, 5, 6, 7), (2, 4, 3), (1, -2), False),
    ((3, 5, 6, 7), (3, 4, 6, 3, 2), (1, 3), False),
    ((2, 5, 6, 7), (2, 3, 4, 3), (1, 3), False),
    ((2, 5, 6, 7), (1, 4, 4, 3), None, True),
    ((2, 5, 6, 7), (2, 5, 4, 3), (2, 3), True),
]


@pytest.mark.op("slice_like")
@pytest.mark.parametrize("target", ["any", "caffe"])
@pytest.mark.parametrize("x_shape, ref_shape, axes, crop", SLICE_LIKE)
def test_slice_like(x_shape, ref_shape, axes, crop, target):
    """The issue's (4, 5, 6, 7) like (2, 3, 4) on axes (0, 1, 2) raised IndexError; every case is MXNet's cut. The
    reference gives the output its shape only, so only x is checked to move it."""
    block = _SliceLike(axes)
    checked = check_block(block, [x_shape, ref_shape], target=target, init=False, require_alive=False)
    reference = checked.mxnet_outputs[0]
    assert reference.shape != x_shape
    other = block(mx.nd.array(make_input(x_shape, 7)), mx.nd.array(make_input(ref_shape, 8))).asnumpy()
    assert np.max(np.abs(other - reference)) > 0.1
    assert ("Crop" in checked.layer_types) == crop


# -- blobs within 4 axes: pixel shuffles as one-hot (De)Convolutions; > 4-D refused for ncnn -------------------------

RUNTIMES = ["caffe", "opencv", "mnn", "ncnn", "openvino"]


def _depth_to_space(F, x):
    """MXNet's depth_to_space (DCR) written out: (N, b, b, C, H, W) -> (N, C, H, b, W, b)."""
    blocks = F.reshape(F.reshape(x, (0, -4, 2, -1, -2)), (0, 0, -4, 2, -1, -2))
    return F.reshape(F.transpose(blocks, (0, 3, 4, 1, 5, 2)), (0, 0, -3, -3))


def _space_to_depth(F, x):
    """MXNet's space_to_depth written out: (N, C, H/2, 2, W/2, 2) -> (N, 2, 2, C, H/2, W/2)."""
    moved = F.transpose(F.reshape(x, (0, 0, -4, -1, 2, -4, -1, 2)), (0, 3, 5, 1, 2, 4))
    return F.reshape(F.reshape(moved, (0, -3, -2)), (0, -3, -2))


def _pixel_shuffles() -> nn.HybridSequential:
    """GluonCV's DUC upsampling (PixelShuffle2D, CRD order: channel c * r1 * r2 + i * r2 + j), a rectangular one
    (2 x 3), a DCR one (depth_to_space: channel (i * r + j) * C + c) and its inverse."""
    from mxnet.gluon.contrib.nn import PixelShuffle2D

    return seq(
        nn.Conv2D(16, 3, padding=1),
        PixelShuffle2D(2),
        nn.Conv2D(24, 3, padding=1),
        PixelShuffle2D((2, 3)),
        nn.Conv2D(8, 1),
        lam(_depth_to_space),
        nn.Conv2D(8, 3, padding=1),
        lam(_space_to_depth),
        nn.Conv2D(5, 3),
    )


@pytest.mark.op("Reshape", "transpose")
@pytest.mark.parametrize("target, runtime", [("any", r) for r in RUNTIMES] + [(r, r) for r in RUNTIMES])
def test_pixel_shuffle_in_runtime(target, runtime):
    """Exact in every runtime under `any` and its own target. Where the target folds high ranks (any, ncnn) each
    Reshape -> 6-D Permute -> Reshape is one Deconvolution (Convolution for space to depth) with one-hot weights: no
    blob has more than 4 axes (ncnn computed the 6-D Permute wrong without an error: mobile_pose, relative 1.1)."""
    checked = check_block(_pixel_shuffles(), (2, 3, 5, 4), runtime=runtime, target=target)
    folded = TARGETS[target].high_rank == "fold"
    layers = checked.result.text_net.layer
    assert ("Permute" in checked.layer_types) != folded, checked.layer_types
    if folded:
        assert checked.layer_types.count("Deconvolution") == 3 and checked.layer_types.count("Convolution") == 6
        assert all(len(layer.reshape_param.shape.dim) <= 4 for layer in layers)
        groups = [layer.convolution_param.group for layer in layers if layer.type == "Deconvolution"]
        assert groups == [4, 4, 1], groups  # CRD: one group per output channel; DCR reads every channel


@pytest.mark.op("Reshape", "transpose")
def test_more_than_4_axes_refused_for_ncnn():
    """A 5-D transpose of the trailing axes has no 4-D form here: refused for ncnn (one line naming the node),
    converted for `any` (exact in pycaffe)."""
    fn = lambda F, x: F.reshape(F.transpose(F.reshape(x, (0, -4, 2, -1, -2)), (0, 1, 2, 4, 3)), (0, -3, -2))  # noqa
    block = seq(nn.Conv2D(4, 3, padding=1), lam(fn), nn.Conv2D(3, 1))
    block.initialize()
    with pytest.raises(ConversionError) as error:
        convert(block, (1, 3, 5, 6), target="ncnn")
    message = str(error.value)
    assert len(message.splitlines()) == 1 and "5-D blob" in message
    assert "'ncnn' takes blobs of at most 4 axes" in message
    assert message.startswith("node 'hybridlambda") and "op Reshape" in message, message
    check_block(block, (1, 3, 5, 6), init=False)


@pytest.mark.op("sum", "broadcast_mul")
@pytest.mark.parametrize("target", ["any", "ncnn"])
def test_split_attention_within_4_axes(target):
    """ResNeSt's radix split attention on (N, radix, C, H, W): its trailing axes merged, (N, radix, C, H*W), under
    the targets that fold high ranks; exact in ncnn (it was 0/6 of the resnest models before)."""
    checked = check_block(SplitAttention(), (2, 8, 5, 6), runtime="ncnn", target=target, scale=2.0)
    assert all(len(layer.reshape_param.shape.dim) <= 4 for layer in checked.result.text_net.layer)


@pytest.mark.op("transpose", "SwapAxis")
@pytest.mark.parametrize("runtime", ["caffe", "opencv", "mnn", "ncnn"])
def test_3d_permute_in_runtimes(runtime):
    """Found by the property suite: ncnn cannot compute a 3-D Permute (`could not compute blob`); a 3-D
    transpose that keeps the batch is the 4-D Permute with a trailing unit axis, between two Reshapes."""
    block = seq(nn.Dense(6, flatten=False), lam(lambda F, x: F.swapaxes(F.transpose(x, axes=(0, 2, 1)), 1, 2)))
    checked = check_block(block, (2, 3, 4), runtime=runtime, target="any")
    orders = [list(layer.permute_param.order) for layer in checked.result.text_net.layer if layer.type == "Permute"]
    assert orders and all(len(order) == 4 for order in orders[-2:]), orders


@pytest.mark.op("slice_like")
@pytest.mark.parametrize("runtime, target", [(r, t) for r in ("caffe", "ncnn", "mnn") for t in ("any", r)])
def test_slice_like_with_fewer_reference_channels_in_runtimes(runtime, target):
    """Found by the property suite: ncnn's Crop by a reference crops every axis but the batch to the
    reference's size (its channels too); where the reference differs on an axis kept, the cut is static."""
    reference = lambda F, x: F.slice(x, (None, 0, 0, 0), (None, 1, 3, 2))  # noqa: E731 - (N, 1, 3, 2)
    block = seq(nn.Conv2D(4, 3, padding=1), lam(lambda F, x: F.slice_like(x, reference(F, x), axes=(2, 3))))
    checked = check_block(block, (2, 3, 7, 6), runtime=runtime, target=target)
    assert "Crop" not in checked.layer_types
    assert checked.mxnet_outputs[0].shape == (2, 4, 3, 2)


@pytest.mark.op("Concat")
def test_concat_along_the_batch_is_refused_for_ncnn():
    """ncnn runs one sample at a time (a Concat along axis 0 computed another output there, relative 0.69): its
    target refuses a net that mixes the samples, naming the node."""
    net = lam(lambda F, x: F.concat(x, x * 2, dim=0, name="cat"))
    with pytest.raises(ConversionError, match=r"node '\w*cat' op Concat: .*batch axis.*one sample at a time"):
        convert(net, (1, 3, 4, 4), to_bgr=False, target="ncnn")
