"""The emission context: what a converter sees (the graph, typed shapes and parameters) and `layer()` to append
Caffe layers; EmitOptions are the user's emission choices."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..caffe import caffe_pb2 as pb
from ..caffe.caffemodel import Layer
from ..ir.graph import Graph


@dataclass(frozen=True)
class Patterns:
    """How a target writes the two constructs whose best Caffe form differs between runtimes (all exact)."""

    # Keeping part of a blob (Caffe's extra pooling window, a slice): 'convolution' (a depthwise or 1x1 Convolution
    # with one-hot weights: one top, loads everywhere) or 'slice' (Slice + Silence of the rest: OpenVINO's Model
    # Optimizer, caffe2onnx and x2paddle reject Silence; MNN turns the silenced blobs into extra outputs).
    crop: str
    # A product/sum with a tensor broadcast along trailing axes (SE gates, YOLO's objectness): 'eltwise' (the operand
    # expanded by all-ones depthwise Deconvolutions, then Eltwise: loads everywhere) or 'scale' (Scale/Bias with
    # two bottoms, no expanded copy: MNN and x2paddle reject it).
    broadcast: str
    # An average pooling with padding: 'pooling' (the pad in the Pooling layer) or 'convolution' (an explicit zero
    # pad by a depthwise 1x1 Convolution, then a pad-free Pooling): ncnn's Caffe importer averages over the real
    # elements only, where Caffe divides by the window including its padding.
    average_pad: str = "pooling"
    # Whether the runtime has Caffe's Threshold layer (y = x > t), the only step function among Caffe's layers:
    # comparisons and logical_not need it. Caffe, MNN and ncnn run it; OpenCV and OpenVINO refuse it (measured).
    threshold: bool = True


# The default target loads in every runtime; the others pick what that runtime runs best (docs/runtimes.md has the
# measurements behind each choice).
TARGETS: dict[str, Patterns] = {
    "any": Patterns(crop="convolution", broadcast="eltwise", average_pad="convolution", threshold=False),
    "caffe": Patterns(crop="slice", broadcast="scale"),
    "opencv": Patterns(crop="slice", broadcast="scale", threshold=False),
    "ncnn": Patterns(crop="slice", broadcast="scale", average_pad="convolution"),
    "mnn": Patterns(crop="convolution", broadcast="eltwise"),
    "openvino": Patterns(crop="convolution", broadcast="scale", threshold=False),
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

    def approximate(self, what: str, node: str) -> None:
        """Record that `node` is written approximately, as the user asked (`what`); emit_layers warns once per kind."""
        self.approximations.setdefault(what, []).append(node)

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
