"""The emission context: what a converter sees (the graph, typed shapes and parameters) and `layer()` to append
Caffe layers; EmitOptions are the user's emission choices."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..caffe import caffe_pb2 as pb
from ..caffe.caffemodel import Layer
from ..errors import Option
from ..ir.graph import Graph


@dataclass(frozen=True)
class Patterns:
    """How a target writes the constructs whose best Caffe form differs between runtimes (all exact), and what its
    runtime cannot hold."""

    # Keeping part of a blob (Caffe's extra pooling window, a slice): 'convolution' (a depthwise or 1x1 Convolution
    # with one-hot weights: one top, loads everywhere) or 'slice' (Slice + Silence of the rest: OpenVINO's Model
    # Optimizer, caffe2onnx and x2paddle reject Silence; MNN turns the silenced blobs into extra outputs).
    crop: str
    # A product/sum with a tensor broadcast along trailing axes (SE gates, YOLO's objectness): 'eltwise' (the operand
    # expanded by all-ones depthwise Deconvolutions, then Eltwise: loads everywhere), 'scale' (Scale/Bias with
    # two bottoms, no expanded copy: MNN and x2paddle reject it) or 'channel_scale' (that Scale only where the operand
    # is one value per channel, an SE gate; 'eltwise' otherwise: ncnn applies a second bottom per channel only, so
    # ResNeSt's (N, radix, C) gates or YOLO's (B, HW, A) objectness as a Scale are silently wrong there).
    broadcast: str
    # An average pooling with padding: 'pooling' (the pad in the Pooling layer) or 'convolution' (an explicit zero
    # pad by a depthwise 1x1 Convolution, then a pad-free Pooling): ncnn's Caffe importer averages over the real
    # elements only, where Caffe divides by the window including its padding.
    average_pad: str = "pooling"
    # A depthwise 3x3 Convolution whose padding OpenCV's fast 3x3 depthwise kernel (4.11) misplaces: 'inline' (the
    # pad in the Convolution) or 'separate' (the zero padding by its own depthwise 1x1 Convolution, then the
    # convolution without pad), only where OpenCV would misplace it (converters/conv.py `opencv_misplaces_pad`).
    depthwise_pad: str = "inline"
    # A 2-D (de)convolution with unequal dilations: 'keep' them, or 'kernel' (both dilations their gcd, the kernel
    # spread with zero weights between its taps: more multiply-adds, the same numbers): MNN reads a Convolution's two
    # dilations swapped, (1, 2) as (2, 1), and so does OpenVINO's; ncnn's caffe2ncnn keeps one of them for both axes.
    unequal_dilation: str = "keep"
    # A Deconvolution: 'keep' it as MXNet has it, or 'plain' (no dilation, each pad below its kernel: the kernel
    # spread and extended with zero weights, converters/deconv.py `plain_deconvolution`): OpenCV 4.11 sizes a dilated
    # Deconvolution as if undilated, and computes another output where a pad is not below the kernel.
    deconvolution: str = "keep"
    # Blobs of more than 4 axes: 'keep' (written as the graph has them: pycaffe, OpenCV, MNN and OpenVINO run them)
    # or 'fold' (within 4 axes where the converter knows a form: a pixel shuffle as a one-hot Deconvolution, trailing
    # axes no layer tells apart merged; converters/rank.py). ncnn holds at most 4-D blobs and computes something else
    # beyond, without an error.
    high_rank: str = "keep"
    # The (N, C, 1, 1) output of a global pooling, read by a layer that needs a map: 'as_is', or 'reshape' (through a
    # no-op Reshape to (N, C, 1, 1)): ncnn holds that output as a 1-D blob, and its Convolution (but a 1x1 ungrouped
    # pad-free one), Deconvolution, Pooling and an Eltwise with a real map fail or compute something else on one.
    pooled_map: str = "as_is"
    # A FullyConnected over the last axis of a 3-D or 4-D input (flatten=False): 'inner_product' (InnerProduct with
    # that axis) or 'convolution' (a 1x1 Convolution with the axis permuted to the channels): ncnn's InnerProduct
    # ignores `axis` and flattens the whole blob; OpenVINO's Model Optimizer stops at it ("Stopped shape/value
    # propagation"); OpenCV folds a BatchNorm that follows it into its weights as if its outputs were channels; MNN
    # fails on it after a Reshape ("Error for compute convolution shape").
    dense_axis: str = "inner_product"
    # A net output that is also read inside the net, or that is another tensor's alias, gets its own blob by a copy:
    # 'split' (a one-top Split) or 'reshape' (a Reshape to its own shape): OpenVINO's Model Optimizer has no Split,
    # MNN's converter drops it and the output with it ("can't find output").
    output_copy: str = "split"
    # A tensor plus or times a constant that is not a scalar (broadcast_add/mul of a parameter, a Pad's constant
    # border): 'param' (a Scale or Bias carrying the constant as its blob, over any run of axes) or 'eltwise' (a Scale
    # where it is one value per channel, else the constant as a blob and an Eltwise): MNN and ncnn apply a Scale blob
    # per channel only (silently wrong otherwise), OpenCV has no Bias layer, ncnn cannot load one, OpenVINO stops at
    # a Scale over several axes.
    constant: str = "param"
    # The most axes a blob may have in the target's runtime (0: no limit): ncnn holds at most 4-D blobs, MNN computes
    # N-D convolutions' sizes as 0, OpenVINO's Model Optimizer stops at them. A net that needs more is refused.
    max_rank: int = 0
    # The largest (de)convolution dilation the target's chip holds (0: no limit). rknn-toolkit2 2.5.0 (RK3588: a
    # dilation up to 15, a 4-bit register field) expands a larger one into a dense ((k-1)*d+1)^2 kernel: 2048 -> 256
    # channels at dilation 15 builds in 0.6 GB and 4 s, at 16 (a 33x33 kernel, 1.1 GB of float16 weights) in 4 GB
    # and 29 s, at 24 (49x49, 2.5 GB) it did not build in 10 GB (abort) nor in 16 GB (DeepLab's ASPP, 12/24/36: the
    # out-of-memory killer, in the zoo sweep). A layer whose expanded kernel exceeds DILATION_EXPANSION_BYTES is
    # refused.
    max_dilation: int = 0
    # The runtime runs one sample of a batch at a time (ncnn: no batch axis): a net whose layers mix the samples (a
    # layer along axis 0, a Reshape or Permute that moves the batch, inputs of different batch sizes) is refused.
    per_sample: bool = False
    # Caffe layer types the target's runtime cannot load, or computes wrong, and no other form replaces: a net that
    # needs one is refused for the target, naming the node. Target any lists those a runtime computes wrong or
    # cannot run (MNN drops Log; ArgMax, topk with k > 1, runs in pycaffe alone).
    missing_layers: frozenset[str] = frozenset()
    # Whether the runtime has Caffe's Threshold layer (y = x > t), the only step function among Caffe's layers:
    # comparisons and logical_not need it. Caffe, MNN and ncnn run it; OpenCV and OpenVINO refuse it (measured). A
    # comparison node is refused by name where it is False (converters/compare.py); `any` is False because OpenCV's
    # and OpenVINO's loads fail on it (CenterNet's own Threshold is the one layer written regardless).
    threshold: bool = True
    # An affine map y = scale * x + shift (negations, constants, x * s + t): 'power' (a Power layer of exponent 1)
    # or 'scale' (a Scale with the scale and shift as per-channel blobs): TPU-MLIR's Caffe frontend implements no
    # Power layer ("not implemented"). Exact either way (one multiply, one add). Powers of another exponent (sqrt,
    # reciprocal, square) have no other form and stay, and so does an affine Power of a 1-D blob (no channel axis).
    affine: str = "power"
    # A weighted Eltwise SUM (a - b): 'coeff' (the SUM's `coeff` field) or 'scale' (each weighted bottom through a
    # Scale by its weight, then a plain SUM): TPU-MLIR and caffe2onnx ignore `coeff` without a word (a - b computed
    # as a + b). Exact either way (x * -1 is exact).
    weighted_sum: str = "coeff"
    # Convolution/Deconvolution/Pooling strides: 'default' (left out where 1) or 'explicit' (written on every one):
    # rknn-toolkit2 reads a missing stride beside kernel_h/kernel_w as 0 ("stride 0": a SIGFPE at build).
    stride: str = "default"
    # A BatchNorm's Scale: 'separate' (BatchNorm into its own blob, then the Scale) or 'in_place' (the Scale in place
    # on the BatchNorm's top, right after it): caffe2onnx merges a BatchNorm with the Scale right after it and then
    # loses the Scale's top unless it is the BatchNorm's ("layer's bottom not detected").
    batchnorm: str = "separate"
    # An InnerProduct without a bias (a Dense with use_bias=False: SE gates): 'optional' (bias_term false, no blob) or
    # 'explicit' (bias_term true with a zero bias): x2paddle asserts bias_term on every InnerProduct. Exact either way
    # (x + 0 is x).
    dense_bias: str = "optional"


# The default target loads in every runtime; the others pick what that runtime runs best (docs/runtimes.md has the
# measurements behind each choice). Each target is a base with what its runtime needs changed (dataclasses.replace).

# What the deployment runtimes share: no Bias layer, 4-D folds of higher ranks, a 1x1 Convolution for a
# FullyConnected over the last axis, a Reshape for an output copy (OpenVINO has no Split, MNN drops it); ArgMax runs in
# pycaffe alone.
_DEPLOY = Patterns(
    constant="eltwise",
    crop="convolution",
    broadcast="eltwise",
    unequal_dilation="kernel",
    high_rank="fold",
    dense_axis="convolution",
    output_copy="reshape",
    missing_layers=frozenset({"ArgMax"}),
)
_ANY = replace(
    _DEPLOY,
    average_pad="convolution",
    depthwise_pad="separate",
    deconvolution="plain",
    pooled_map="reshape",
    missing_layers=frozenset({"Log", "ArgMax"}),
    threshold=False,
    affine="scale",
    weighted_sum="scale",
    stride="explicit",
    batchnorm="in_place",
    dense_bias="explicit",
)
TARGETS: dict[str, Patterns] = {
    # Also read by the NPU toolchains and format bridges (TPU-MLIR, rknn-toolkit2, caffe2onnx, x2paddle) wherever
    # they have the layers: no affine Power, no Eltwise coeff, explicit strides, in-place BatchNorm + Scale, a bias on
    # every InnerProduct.
    "any": _ANY,
    "caffe": Patterns(crop="slice", broadcast="scale"),
    # OpenCV 4.11's Caffe importer: no Threshold layer (CenterNet's peak test), no Bias layer (a sum with a broadcast
    # tensor is then the expanded operand and an Eltwise). (No Tile either: no converter writes one.)
    "opencv": replace(
        _DEPLOY,
        crop="slice",
        broadcast="scale",
        unequal_dilation="keep",
        high_rank="keep",
        output_copy="split",
        depthwise_pad="separate",
        deconvolution="plain",
        missing_layers=frozenset({"Threshold", "Bias", "ArgMax"}),
        threshold=False,
    ),
    "ncnn": replace(
        _DEPLOY,
        crop="slice",
        broadcast="channel_scale",
        output_copy="split",
        average_pad="convolution",
        pooled_map="reshape",
        max_rank=4,
        per_sample=True,
    ),
    # MNN 3.6: N-D (3-D) Convolutions get output sizes of 0 ("Compute Shape Error"): at most 4-D; its converter drops
    # a Log layer without a word (log2(y) came out as y / ln 2; a Log output is "can't find output").
    "mnn": replace(_DEPLOY, max_rank=4, missing_layers=frozenset({"Log", "ArgMax"})),
    # Model Optimizer 2023.3's Caffe frontend: "Found custom layer ..." for each of these (measured; Silence and Split
    # have other forms, BNLL (softrelu), Exp (YOLOv3's box sizes) and Log have none); it stops at an N-D Convolution.
    "openvino": replace(
        _DEPLOY,
        broadcast="scale",
        max_rank=4,
        # Threshold: "Found custom layer" too (comparisons are refused by threshold=False; CenterNet's peak mask
        # writes one itself: measured in the zoo sweep, Model Optimizer exit 1 on center_net_mobilenetv3_small_duc_voc).
        missing_layers=frozenset({"BNLL", "Exp", "Log", "ArgMax", "AbsVal", "Split", "Silence", "Threshold"}),
        threshold=False,
    ),
    # The NPU toolchains and format bridges: the `any` files, refused where the consumer has no kernel for a layer
    # (CONSUMER_LIMITS says what to use instead). TPU-MLIR 1.30.2: no Power layer at all (sqrt, reciprocal, square
    # have no other form), no Exp (YOLOv3's --no-nms box sizes); no Threshold (CenterNet's peak mask) and no ELU
    # (monodepth2's decoder): "<Op> Op not support now", measured in the whole-zoo sweep (docs/runtimes.md).
    # None of the four takes a 5-D blob (a 3-D convolution; measured on r2plus1d_resnet18_kinetics400 in the zoo
    # sweep: TPU-MLIR's shape inference fails, caffe2onnx writes a Conv ONNX Runtime rejects (its dilations), rknn
    # the same through its ONNX step, x2paddle unpacks 4 dims): max_rank=4, refused like MNN's and ncnn's.
    "tpu-mlir": replace(_ANY, max_rank=4, missing_layers=_ANY.missing_layers | {"Power", "Exp", "Threshold", "ELU"}),
    # rknn-toolkit2 2.5.0 (float16): drops DetectionOutput, PriorBox, Exp, Threshold (CenterNet's peak mask) and ELU
    # (monodepth2's decoder) ("OP in Layer ... Current not support", the last two measured in the zoo sweep) and builds
    # the rest.
    "rknn": replace(
        _ANY,
        max_rank=4,
        max_dilation=15,
        missing_layers=_ANY.missing_layers | {"DetectionOutput", "PriorBox", "Exp", "Threshold", "ELU"},
    ),
    # caffe2onnx 2.0.1 + ONNX Runtime: no Exp, no ELU ("Failed type not support", monodepth2 in the zoo sweep);
    # PriorBox and DetectionOutput become custom ops ONNX Runtime cannot run; an Eltwise MAX gets two output shapes
    # (IndexError), an Eltwise PROD a wrong one (a crash at the next layer).
    "onnx": replace(
        _ANY,
        max_rank=4,
        missing_layers=_ANY.missing_layers
        | {"Exp", "ELU", "PriorBox", "DetectionOutput", "Eltwise MAX", "Eltwise PROD"},
    ),
    # x2paddle 1.6.0 + Paddle 3: no Exp; no shape inference for Threshold and ELU (AttributeError: no shape_threshold,
    # shape_elu: CenterNet and monodepth2 in the zoo sweep); its PriorBox and DetectionOutput code fails on Paddle 3
    # (prior_box, multiclass_nms3: TypeError; YOLOv3's: IndexError); it writes an Eltwise MAX as a Paddle call that
    # raises a TypeError.
    "paddle": replace(
        _ANY,
        max_rank=4,
        missing_layers=_ANY.missing_layers | {"Exp", "Threshold", "ELU", "PriorBox", "DetectionOutput", "Eltwise MAX"},
    ),
}

# The targets of the NPU toolchains and format bridges: `any`'s files with refusals (not suggested for another
# runtime's refusal: they load nothing `any` does not).
TOOLCHAIN_TARGETS = ("tpu-mlir", "rknn", "onnx", "paddle")

# The float16 bytes of an expanded dilated kernel (Patterns.max_dilation) above which a target refuses the layer:
# between the 1.1 GB that built and the 2.5 GB that did not (measured in rknn-toolkit2 2.5.0, above).
DILATION_EXPANSION_BYTES = 2 * 1024**3

# What to do instead where a consumer has no kernel for a layer (the refusal for that --target says it).
CONSUMER_LIMITS: dict[str, str] = {
    "DetectionOutput": "convert with --no-nms and decode the boxes (and run NMS) in the application",
    "PriorBox": "convert with --anchors constant (the anchors as a constant blob)",
    "Exp": (
        "a YOLOv3 without NMS (--no-nms) needs it for its box sizes: leave out --no-nms where the toolchain has "
        "DetectionOutput (TPU-MLIR), else no Caffe form here computes them"
    ),
    "Power": "a Power of exponent other than 1 (sqrt, reciprocal, square) has no other Caffe form",
    "Threshold": "it is CenterNet's heatmap peak test (a step function), which has no other Caffe form",
    "ELU": "ELU needs an exponential (exp), which this toolchain has in no Caffe layer",
    "Eltwise MAX": (
        "it writes a maximum or minimum (an exact clip, maximum, minimum, abs), which has no other exact Caffe form; "
        "for ReLU6 convert with --relu6 layer (exact there)"
    ),
    "Eltwise PROD": (
        "it writes a product of two tensors (an SE gate, hard-swish, YOLOv3's scores), which has no other Caffe form"
    ),
}
# Layers a target's consumer loads and computes wrong on one of its chips, not in its reference: the convert
# summary for that --target names them with what to do (target -> layer type -> note).
CONSUMER_NOTES: dict[str, dict[str, str]] = {
    "tpu-mlir": {
        "DetectionOutput": (
            "a BM1684X bmodel's SSD DetectionOutput decodes some boxes wrong (80 and 84 of 100 right, measured; the "
            "top MLIR's and YOLOv3's are right): check the detections on that chip, or decode in the application "
            "(--no-nms)"
        ),
    },
}


@dataclass
class EmitOptions:
    relu6: str = "exact"  # 'exact' | 'layer' | 'relu'
    target: str = "any"  # a key of TARGETS

    @property
    def patterns(self) -> Patterns:
        return TARGETS[self.target]


class EmitContext:
    """What a converter sees: the graph, typed shapes/params, and `layer()` to append Caffe layers."""

    def __init__(self, graph: Graph, options: EmitOptions):
        self.graph = graph
        self.options = options
        self.layers: list[Layer] = []
        self._alias: dict[str, str] = {}
        self._names: set[str] = set()
        self._blob_shapes: dict[str, tuple[int, ...]] = {}
        self.outputs: list[str] = []  # the net's output blobs, set by emit_layers
        self.approximations: dict[str, list[str]] = {}  # what was asked for -> the nodes it changed (warned once)
        self.approximation_options: dict[str, tuple[Option, ...]] = {}  # what -> the API arguments it names

    def approximate(self, what: str, node: str, *options: Option) -> None:
        """Record that `node` is written approximately, as the user asked (`what`, naming the API arguments
        `options`); emit_layers warns once per kind."""
        self.approximations.setdefault(what, []).append(node)
        self.approximation_options[what] = options

    def shape(self, tensor: str) -> tuple[int, ...]:
        """Shape of an IR tensor, or of an intermediate blob a converter registered with `set_shape`."""
        if tensor in self.graph.shapes:
            return self.graph.shapes[tensor]
        return self._blob_shapes[tensor]

    def set_shape(self, blob: str, shape: tuple[int, ...]) -> None:
        self._blob_shapes[blob] = tuple(shape)

    def param(self, tensor: str) -> np.ndarray:
        return self.graph.params[tensor]

    def is_param(self, tensor: str) -> bool:
        return tensor in self.graph.params

    def blob(self, tensor: str) -> str:
        """The Caffe blob that holds an IR tensor."""
        return self._alias.get(tensor, tensor)

    def alias(self, tensor: str, blob: str) -> None:
        """Make `tensor` an alias of an existing blob (ops that are identities in Caffe)."""
        if tensor == blob:
            self._alias.pop(tensor, None)
        else:
            self._alias[tensor] = self.blob(blob)

    def rename_blob(self, tensor: str, name: str) -> None:
        """Give the blob holding `tensor` the name `name` in every layer that writes or reads it (a detector's
        outputs get names that say what they hold); `name` must be new."""
        old = self.blob(tensor)
        if name in self._names or name in self.graph.shapes:
            raise ValueError(f"blob name {name!r} is taken")  # pragma: no cover - the detectors' names are fixed
        for layer in self.layers:
            for field_ in (layer.proto.top, layer.proto.bottom):
                for i, blob in enumerate(field_):
                    if blob == old:
                        field_[i] = name
        self._alias = {t: (name if b == old else b) for t, b in self._alias.items()}
        self._alias[tensor] = name
        self._names.add(name)
        self._blob_shapes[name] = self.shape(tensor)

    def unique(self, base: str) -> str:
        """A fresh layer/blob name derived from an MXNet name (for the extra layers of a decomposition)."""
        name, i = base, 1
        while name in self._names or name in self.graph.shapes:
            name, i = f"{base}_{i}", i + 1
        self._names.add(name)
        return name

    def layer(
        self, name: str, type_: str, bottoms: list[str], tops: list[str], blobs: list[np.ndarray] | None = None
    ) -> pb.LayerParameter:
        """Append a layer; `bottoms` are IR tensor names (resolved through aliases), `tops` new blob names."""
        proto = pb.LayerParameter(name=name, type=type_)
        proto.bottom.extend(self.blob(b) for b in bottoms)
        proto.top.extend(tops)
        self._names.add(name)
        self._names.update(tops)
        self.layers.append(Layer(proto, [np.asarray(b) for b in blobs or []]))
        return proto
