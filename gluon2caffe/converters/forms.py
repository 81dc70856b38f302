"""The forms every Caffe reader takes, written over the emitted layers for a target that asks for them (Patterns
`affine`, `weighted_sum`, `stride`, `batchnorm`, `dense_bias`; the default target `any` asks for all five). Each
computes what the layer it replaces computes, with the same float operations:

- an affine Power (exponent 1: y = scale * x + shift) -> a Scale with the scale and the shift as per-channel blobs
  (TPU-MLIR implements no Power layer; MNN and ncnn apply a Scale blob per channel, so one value per channel);
- a weighted Eltwise SUM (`coeff`) -> each weighted bottom through a Scale by its weight, then a plain SUM (TPU-MLIR
  and caffe2onnx ignore `coeff`: a - b came out as a + b);
- every Convolution/Deconvolution/Pooling with its stride written (rknn-toolkit2 reads a missing stride beside
  kernel_h/kernel_w as 0);
- a BatchNorm's Scale in place on the BatchNorm's top (caffe2onnx merges the Scale right after a BatchNorm into it
  and then loses a Scale top of another name);
- an InnerProduct without a bias given a zero one (x2paddle asserts `bias_term` on every InnerProduct; x + 0 is x).
"""

from __future__ import annotations

import numpy as np

from ..caffe import caffe_pb2 as pb
from ..caffe.caffemodel import Layer
from .context import EmitContext
from .rank import blob_shapes


def write_portable_forms(ctx: EmitContext) -> None:
    patterns = ctx.options.patterns
    if patterns.affine == "scale" or patterns.weighted_sum == "scale":
        shapes = blob_shapes(ctx)
        layers: list[Layer] = []
        for layer in ctx.layers:
            proto = layer.proto
            mapped = all(len(shapes.get(b) or ()) >= 2 for b in proto.bottom)  # see _per_channel
            if patterns.weighted_sum == "scale" and proto.type == "Eltwise" and proto.eltwise_param.coeff and mapped:
                layers += _unweighted(ctx, proto, shapes)
            if patterns.affine == "scale" and proto.type == "Power" and proto.power_param.power == 1 and mapped:
                layer = _affine_scale(proto, shapes[proto.bottom[0]])
            layers.append(layer)
        ctx.layers[:] = layers
    if patterns.stride == "explicit":
        for layer in ctx.layers:
            _explicit_stride(layer.proto)
    if patterns.batchnorm == "in_place":
        _scale_in_place(ctx)
    if patterns.dense_bias == "explicit":
        for layer in ctx.layers:
            _zero_bias(layer)


def _per_channel(value: float, shape: tuple[int, ...]) -> tuple[int, np.ndarray]:
    """(axis, blob) of a Scale that multiplies or adds `value` everywhere: one value per channel (axis 1). A 1-D
    blob (or one of unknown shape) keeps its Power / coeff: a Scale along its axis 0 would be along the batch, which
    ncnn (one sample at a time) cannot run."""
    return 1, np.full(shape[1], value, np.float32)


def _affine_scale(power: pb.LayerParameter, shape: tuple[int, ...]) -> Layer:
    """A Power of exponent 1 as a Scale with a bias: x * scale + shift, in that order, as Caffe's Power computes it."""
    p = power.power_param
    axis, scale = _per_channel(p.scale, shape)
    _, shift = _per_channel(p.shift, shape)
    proto = pb.LayerParameter(name=power.name, type="Scale")
    proto.bottom.extend(power.bottom)
    proto.top.extend(power.top)
    proto.scale_param.axis = axis
    proto.scale_param.bias_term = True
    return Layer(proto, [scale, shift])


def _unweighted(ctx: EmitContext, eltwise: pb.LayerParameter, shapes: dict) -> list[Layer]:
    """The Scale layers that weight an Eltwise SUM's bottoms (a weight of 1 needs none); the SUM loses its coeff."""
    coeff = list(eltwise.eltwise_param.coeff)
    eltwise.eltwise_param.ClearField("coeff")
    scales = []
    for i, (bottom, weight) in enumerate(zip(list(eltwise.bottom), coeff)):
        if weight == 1:
            continue
        axis, blob = _per_channel(weight, shapes[bottom])
        top = ctx.unique(f"{eltwise.name}_weighted{i}")
        proto = pb.LayerParameter(name=top, type="Scale")
        proto.bottom.append(bottom)
        proto.top.append(top)
        proto.scale_param.axis = axis
        scales.append(Layer(proto, [blob]))
        eltwise.bottom[i] = top
    return scales


def _explicit_stride(proto: pb.LayerParameter) -> None:
    """The stride written where it was left at its default (1), in the one-value field, which every reader takes
    (x2paddle reads a Pooling's one-value fields only; see _common.set_window)."""
    if proto.type in ("Convolution", "Deconvolution"):
        p = proto.convolution_param
        if not p.stride and not p.HasField("stride_h"):
            p.stride.extend([1] * max(len(p.kernel_size), 1))
    elif proto.type == "Pooling":
        p = proto.pooling_param
        if not p.global_pooling and not p.HasField("stride_h") and not p.HasField("stride"):
            p.stride = 1


def _zero_bias(layer: Layer) -> None:
    """An InnerProduct without a bias gets a zero one (its output is unchanged: x + 0 is x)."""
    p = layer.proto.inner_product_param
    if layer.proto.type == "InnerProduct" and not p.bias_term:
        p.bias_term = True
        layer.blobs.append(np.zeros(p.num_output, np.float32))


def _scale_in_place(ctx: EmitContext) -> None:
    """A BatchNorm whose top only the Scale right after it reads writes that Scale's top, and the Scale runs in
    place there; not where that top is a net output (a net's outputs are the tops no layer reads, for Caffe's
    readers and ours: an in-place Scale reads it)."""
    readers: dict[str, int] = {}
    for layer in ctx.layers:
        for bottom in layer.proto.bottom:
            readers[bottom] = readers.get(bottom, 0) + 1
    for bn, scale in zip(ctx.layers, ctx.layers[1:]):
        b, s = bn.proto, scale.proto
        if b.type != "BatchNorm" or s.type != "Scale" or len(s.bottom) != 1 or list(s.bottom) != list(b.top):
            continue
        if readers.get(b.top[0]) != 1 or s.top[0] in ctx.outputs:  # an output read in place is no net output
            continue
        b.top[0] = s.top[0]
        s.bottom[0] = s.top[0]
