"""The layer-local check (verification/local.py): each segment of Caffe layers run on MXNet's own inputs.

It must (1) pass on right conversions, grouping decompositions into one segment, (2) name the one layer that is
wrong, and nothing else, and (3) prove a net whose end-to-end error is only amplified float32 rounding."""

import mxnet as mx
import numpy as np
import pytest
from gluoncv.model_zoo import get_model
from mxnet.gluon import nn

import gluon2caffe
from gluon2caffe import convert, save_model
from gluon2caffe.caffe import caffe_pb2 as pb
from gluon2caffe.zoo.randomize import randomize
from gluon2caffe.verification import MXNetReference, TOLERANCE
from gluon2caffe.verification.local import check_local
from helpers import Lambda, make_input, seq

SHAPE = (1, 3, 64, 64)


@pytest.fixture(scope="module")
def resnet(tmp_path_factory):
    net = get_model("resnet18_v1", pretrained=False)
    net.initialize()
    randomize(net, SHAPE, seed=4)
    result = convert(net, SHAPE)
    files = save_model(result.text_net, result.binary_weights, tmp_path_factory.mktemp("local") / "r18")
    return net, result, files


def test_every_segment_of_a_resnet_is_exact(resnet):
    net, result, files = resnet
    r = gluon2caffe.verify(*files, net, layers="local")
    local = r.local
    assert r.status == "exact" and local.ok and local.first_failure is None
    # One segment per MXNet op that survives conversion: BatchNorm folded into its convolution is one segment.
    folded = [s for s in local.segments if s.op == "BatchNorm" and s.types == ["Convolution"]]
    assert len(folded) == 20, [(s.layers, s.op) for s in local.segments]
    assert {s.op for s in local.segments} >= {"BatchNorm", "Activation", "Pooling", "elemwise_add", "FullyConnected"}
    # The first convolution reads the BGR input and absorbs the swap: its output is in MXNet's order.
    assert all(s.note == "" for s in local.segments)
    assert 0 < local.max_relative <= TOLERANCE and "segments: median" in local.distribution()
    assert "MISMATCH" not in local.table(None)


def test_mxnet_tensors_in_small_chunks_give_the_same_segments(resnet, monkeypatch):
    """The MXNet values come in memory-bounded chunks (one forward pass each); any chunk size gives the same result."""
    from gluon2caffe.verification import local as local_module

    net, _result, files = resnet
    x = make_input(SHAPE, 9)
    whole = check_local(*files, MXNetReference(net, SHAPE, "data"), x)
    monkeypatch.setattr(local_module, "CHUNK_BYTES", 64 * 1024)  # a few tensors per chunk at 64x64
    reference = MXNetReference(net, SHAPE, "data")
    passes = []
    run = reference.run
    reference.run = lambda inputs, tensors: passes.append(len(tensors)) or run(inputs, tensors)
    chunked = check_local(*files, reference, x)
    assert len(passes) > 5 and sum(passes) == len({t for s in whole.segments for t in s.outputs}), passes
    assert len(whole.segments) == len(chunked.segments) > 20
    for a, b in zip(whole.segments, chunked.segments):
        assert (a.layers, a.outputs, a.comparison.max_abs, a.note) == (
            b.layers,
            b.outputs,
            b.comparison.max_abs,
            b.note,
        )


def test_a_corrupted_layer_is_named_and_only_it(resnet, tmp_path):
    net, result, files = resnet
    broken = pb.NetParameter.FromString(result.binary_weights.SerializeToString())
    target = [layer for layer in broken.layer if layer.type == "Convolution"][7]
    weights = np.array(target.blobs[0].data)
    target.blobs[0].data[:] = (weights * 1.01).tolist()
    bad = save_model(result.text_net, broken, tmp_path / "bad")
    r = gluon2caffe.verify(*bad, net, layers="local")
    assert r.status == "mismatch" and not r.ok
    failing = [s for s in r.local.segments if not s.ok]
    assert [s.layers for s in failing] == [[target.name]]  # teacher forcing: later layers read MXNet's values
    assert r.local.first_failure.layers == [target.name]
    assert "<- first segment beyond the tolerance" in r.local.table()


def test_decompositions_are_one_segment(tmp_path):
    """Exact ReLU6 (several BVLC layers) and a 'valid' max pool whose extra Caffe row is cropped off (Pooling +
    a one-hot Convolution) are each one segment, checked at their MXNet outputs."""
    net = seq(
        nn.Conv2D(6, 3, in_channels=3),
        Lambda(lambda F, x: F.clip(x, 0, 6)),
        nn.MaxPool2D(3, 2),
        nn.Conv2D(4, 1, in_channels=6),
    )
    shape = (1, 3, 12, 12)  # 10x10 after the conv: 3/2 pooling 'valid' gives 4, Caffe's ceil 5
    net.initialize(mx.init.Normal(0.5))
    randomize(net, shape, seed=0)
    result = convert(net, shape, to_bgr=False)
    files = save_model(result.text_net, result.binary_weights, tmp_path / "d")
    x = make_input(shape, 1, scale=3.0)
    local = check_local(*files, MXNetReference(net, shape, "data"), x, to_bgr=False)
    assert local.ok
    by_op = {s.op: s for s in local.segments}
    assert len(by_op["clip"].layers) > 1 and len(by_op["Pooling"].layers) > 1, local.table(None)
    assert "Convolution" in by_op["Pooling"].types
    assert len(local.segments) == 4 and not local.unchecked


class _Amplifier(nn.HybridBlock):
    """(conv_a(x) - conv_b(x)) * 1e4 with conv_b = conv_a + a small delta: float32 rounding of the two
    convolutions is amplified far past the tolerance, though every layer is exact."""

    def __init__(self):
        super().__init__()
        with self.name_scope():
            self.a = nn.Conv2D(8, 3, in_channels=3, use_bias=False)
            self.b = nn.Conv2D(8, 3, in_channels=3, use_bias=False)

    def hybrid_forward(self, F, x):
        return (self.a(x) - self.b(x)) * 1e4


def test_amplified_rounding_is_exact_by_layer(tmp_path):
    shape = (1, 3, 17, 17)
    net = _Amplifier()
    net.initialize(mx.init.Normal(1.0))
    w = net.a.weight.data().asnumpy()
    net.b.weight.set_data(mx.nd.array(w * (1 + 1e-4 * np.random.RandomState(0).normal(size=w.shape))))
    result = convert(net, shape, to_bgr=False)
    files = save_model(result.text_net, result.binary_weights, tmp_path / "amp")
    x = make_input(shape, 1, scale=10.0)
    r = gluon2caffe.verify(*files, net, input=x, layers="local", to_bgr=False)
    assert not r.outputs_ok, f"the end-to-end error should show the amplification: {r.outputs}"
    assert r.local.ok and r.status == "exact by layer", r.local.table(None)


def test_layers_argument_is_checked(resnet):
    net, _, files = resnet
    with pytest.raises(gluon2caffe.errors.InvalidCallError, match="layers="):
        gluon2caffe.verify(*files, net, layers="everything")
    with pytest.raises(gluon2caffe.errors.InvalidCallError, match="caffe runtime"):
        gluon2caffe.verify(*files, net, layers="local", runtime="opencv")


def _corrupt_largest_weight(binary_weights, layer_type: str, factor: float):
    """A copy of the weights with the largest-magnitude weight of the last `layer_type` layer times `factor`."""
    broken = pb.NetParameter.FromString(binary_weights.SerializeToString())
    target = [layer for layer in broken.layer if layer.type == layer_type][-1]
    weights = np.array(target.blobs[0].data)
    weights[np.argmax(np.abs(weights))] *= factor
    target.blobs[0].data[:] = weights.tolist()
    return broken, target.name


def test_a_tiny_output_is_judged_at_its_own_size(tmp_path):
    """Issue 24: `max|caffe - mxnet| <= 1e-4 * max(1, max|mxnet|)` let any tensor below 1e-4 pass whatever Caffe
    computed. A last Dense scaled down to outputs of ~1e-6 (a head scaled down by training), one of its weights
    changed by 5% in the written caffemodel: the layer-local check names that layer and only it, and the end-to-end
    comparison is a mismatch too; the old rule passed both."""
    shape = (2, 3, 8, 8)
    net = seq(nn.Conv2D(8, 3, in_channels=3), nn.Activation("relu"), nn.Dense(5, in_units=8 * 6 * 6))
    net.initialize(mx.init.Normal(0.5))
    randomize(net, shape, seed=0)
    dense = net[2]
    for param in (dense.weight, dense.bias):
        param.set_data(param.data() * 1e-6)
    result = convert(net, shape, to_bgr=False)
    (output,) = result.graph.outputs
    x = make_input(shape, 1)
    files = save_model(result.text_net, result.binary_weights, tmp_path / "tiny")
    good = gluon2caffe.verify(*files, net, input=x, layers="local", to_bgr=False)
    assert good.status == "exact", (good.outputs, good.local.table(None))
    assert 1e-8 < good.outputs[output].scale < 1e-4 and good.dependence.ok

    broken, name = _corrupt_largest_weight(result.binary_weights, "InnerProduct", 1.05)
    r = gluon2caffe.verify(
        *save_model(result.text_net, broken, tmp_path / "bad"), net, input=x, layers="local", to_bgr=False
    )
    assert r.status == "mismatch" and not r.ok
    assert [s.layers for s in r.local.segments if not s.ok] == [[name]], r.local.table(None)
    assert r.local.first_failure.layers == [name] and f"layer {name}" in r.reason
    end_to_end = r.outputs[output]
    assert end_to_end.mismatch and end_to_end.relative > 10 * TOLERANCE, end_to_end
    # What the old floor let through: both errors are far below 1e-4 in absolute terms.
    assert end_to_end.max_abs <= TOLERANCE * max(1.0, end_to_end.scale)
    assert r.local.first_failure.comparison.max_abs <= TOLERANCE


def test_cancellation_is_measured_against_the_size_of_the_computation(tmp_path):
    """A Dense whose bias cancels most of W.x (inputs with a large common offset): its output is ~1000x smaller than
    the terms it sums, and float32 rounding of those terms, in MXNet and in Caffe alike, is beyond 1e-4 of the
    output. The layer-local check measures that segment's magnitude (sqrt(sum (w x)^2 + b^2): the pycaffe layer rerun
    on squared inputs and weights) and judges it against that: every segment exact. Judged against its own size it
    would be a mismatch, which would be wrong. A wrong weight there is still a mismatch."""
    shape, offset = (4, 256), 1000.0
    net = seq(nn.Dense(16, in_units=256), nn.Dense(4, in_units=16))
    net.initialize(mx.init.Normal(1.0))
    weight = net[0].weight.data().asnumpy()
    net[0].bias.set_data(mx.nd.array(-offset * weight.sum(axis=1)))
    result = convert(net, shape, to_bgr=False)
    files = save_model(result.text_net, result.binary_weights, tmp_path / "cancel")
    x = (offset + np.random.RandomState(3).normal(0, 1, shape)).astype(np.float32)
    r = gluon2caffe.verify(*files, net, input=x, layers="local", to_bgr=False)
    cancelling, last = r.local.segments
    (blob,) = cancelling.outputs
    own = float(np.max(np.abs(MXNetReference(net, shape, "data").run(x, [blob])[blob])))
    assert r.local.magnitudes[blob] > 100 * own, (r.local.magnitudes, own)
    assert cancelling.comparison.max_abs > TOLERANCE * own, "no cancellation error to measure: the test proves nothing"
    assert r.local.ok and not r.local.constant and r.dependence.ok, r.local.table(None)
    # MXNet's own rounding of the cancelling layer reaches the output: every layer exact, end to end maybe not.
    assert r.status in ("exact", "exact by layer"), (r.outputs, r.local.table(None))

    broken = pb.NetParameter.FromString(result.binary_weights.SerializeToString())
    target = [layer for layer in broken.layer if layer.type == "InnerProduct"][0]
    weights = np.array(target.blobs[0].data)
    weights[np.argmax(np.abs(weights))] *= 1.05
    target.blobs[0].data[:] = weights.tolist()
    bad = gluon2caffe.verify(
        *save_model(result.text_net, broken, tmp_path / "bad"), net, input=x, layers="local", to_bgr=False
    )
    assert bad.status == "mismatch" and bad.local.first_failure.layers == [target.name]
