"""Whether a Caffe net computes across the samples of its batch: a runtime that runs one sample at a time (ncnn)
computes such a net wrong, without an error. Read by the converter (a target that runs one sample at a time refuses
the net) and by that runtime's runner (which then refuses to run it: a loud failure, never a silent one)."""

from __future__ import annotations

from collections.abc import Iterable

from . import caffe_pb2 as pb

# The parameters whose `axis` says which axis a layer works along (each's default is not 0).
_AXIS_PARAMS = (
    "concat_param",
    "slice_param",
    "crop_param",
    "tile_param",
    "softmax_param",
    "scale_param",
    "bias_param",
    "inner_product_param",
    "flatten_param",
)


def sample_mixing(layers: Iterable[pb.LayerParameter]) -> tuple[str, str] | None:
    """(a layer's or input's name, why) where the net mixes its samples, or None: inputs of different batch sizes,
    a layer along axis 0, a Reshape that does not keep the batch as its first axis, a Permute that moves it."""
    layers = list(layers)
    batches: dict[int, str] = {}
    for layer in layers:
        if layer.type == "Input":
            for top, shape in zip(layer.top, layer.input_param.shape):
                if shape.dim:
                    batches.setdefault(shape.dim[0], top)
    if len(batches) > 1:
        return batches[max(batches)], f"the inputs have different batch sizes {sorted(batches)}"
    batch = next(iter(batches), 1)
    for layer in layers:
        for field in _AXIS_PARAMS:
            if field in ("scale_param", "bias_param") and len(layer.bottom) == 2:
                continue  # a blob operand from axis 0 carries each sample's own values (an SE gate of shape (N, C))
            if layer.HasField(field) and getattr(layer, field).axis == 0:
                return layer.name, f"its Caffe {layer.type} layer works along the batch axis (axis 0)"
        if layer.type == "Reshape":
            dims = list(layer.reshape_param.shape.dim)
            if layer.reshape_param.axis == 0 and dims[:1] not in ([0], [batch]):
                return layer.name, f"its Caffe Reshape to {dims} moves the batch axis"
        if layer.type == "Permute" and list(layer.permute_param.order)[:1] not in ([], [0]):
            return layer.name, f"its Caffe Permute {list(layer.permute_param.order)} moves the batch axis"
    return None
