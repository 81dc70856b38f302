"""CenterNet's heatmap NMS from exact Caffe layers; the converted net ends at the decoder's inputs.

GluonCV keeps a heatmap value only where it is the maximum of its 3x3 neighbourhood:
    keep = broadcast_equal(maxpool3x3(h), h);  peaks = keep * h
In Caffe (every step exact: m >= h, and m - h == 0 exactly when m == h):
    m = Pooling(MAX, 3, stride 1, pad 1)(h)   (Caffe's max ignores the padding, MXNet pads with -inf: the same)
    d = Eltwise SUM(m, h; coeff 1, -1)         (>= 0)
    t = Threshold(0)(d)                        (1 where d > 0, else 0)
    keep = Power(scale -1, shift 1)(t)         (1 where m == h, else 0)
    peaks = Eltwise PROD(keep, h)              -> `centernet_heatmap`
"""

from __future__ import annotations

from ...caffe import caffe_pb2 as pb
from ...converters.context import EmitContext
from .read import CenterNetHead

PEAKS = "centernet_heatmap"
# The box sizes and center offsets keep no MXNet name (centernet0_conv3_fwd says nothing): these say what they hold.
SIZES, OFFSETS = "centernet_wh", "centernet_offset"


def emit_centernet_head(ctx: EmitContext, head: CenterNetHead, heatmap: str, wh: str, offset: str) -> list[str]:
    """Append the heatmap NMS; returns the net's outputs: the NMS'd heatmap, the box sizes, the center offsets."""
    shape = ctx.shape(heatmap)
    maximum, diff, above, keep = (ctx.unique(f"{PEAKS}_{tag}") for tag in ("max", "diff", "above", "keep"))
    pool = ctx.layer(maximum, "Pooling", [heatmap], [maximum]).pooling_param
    pool.pool = pb.PoolingParameter.MAX
    pool.kernel_size, pool.stride, pool.pad = 3, 1, 1
    eltwise = ctx.layer(diff, "Eltwise", [maximum, heatmap], [diff]).eltwise_param
    eltwise.operation = pb.EltwiseParameter.SUM
    eltwise.coeff.extend([1.0, -1.0])
    ctx.layer(above, "Threshold", [diff], [above])  # threshold_param's default: 0 (the schema has no field for it)
    power = ctx.layer(keep, "Power", [above], [keep]).power_param
    power.power, power.scale, power.shift = 1.0, -1.0, 1.0
    ctx.layer(PEAKS, "Eltwise", [keep, heatmap], [PEAKS]).eltwise_param.operation = pb.EltwiseParameter.PROD
    for blob in (maximum, diff, above, keep, PEAKS):
        ctx.set_shape(blob, shape)
    ctx.rename_blob(wh, SIZES)
    ctx.rename_blob(offset, OFFSETS)
    head.blobs = [PEAKS, SIZES, OFFSETS]
    return list(head.blobs)


def centernet_aliases(head: CenterNetHead) -> dict[str, str]:
    """Caffe blobs that renamed an MXNet tensor (blob -> tensor), for the layer-local check."""
    return {PEAKS: head.tensors[0], SIZES: head.tensors[1], OFFSETS: head.tensors[2]}
