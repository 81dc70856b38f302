"""Blobs within the ranks a target's runtime holds: ncnn holds at most 4-D blobs (3-D without its batch axis).
Beyond, caffe2ncnn drops an axis of a 5-D Reshape and ncnn's Permute of a 6-D blob computes something else, both
without an error.

Run on the emitted layers (after emit.py has merged chained Reshapes), for a target whose `high_rank` is 'fold':
- a pixel shuffle or its inverse (Reshape to 5-D/6-D -> Permute -> Reshape to 4-D, e.g. GluonCV's PixelShuffle2D,
  MXNet's depth_to_space / space_to_depth) that moves each value of a channel to one position of an r1 x r2 block
  becomes one Deconvolution (depth to space) or Convolution (space to depth) with kernel = stride = (r1, r2) and
  one-hot 0/1 weights: each output is 1 x its value + 0 x the others (exact for finite values);
- a blob of more than 4 axes whose axes from the fourth on no layer tells apart (ResNeSt's (N, radix, C, H, W) split
  attention: Reshapes, Slices and sums over the radix, an Eltwise product) is written with those axes merged into one,
  (N, radix, C, H*W): the same values in the same order.
`check_rank` then refuses, for a target with a `max_rank`, a net that still needs more axes, naming the node.

`reshape_pooled_maps` (a target whose `pooled_map` is 'reshape') deals with the other side of ncnn's ranks: it holds
a global pooling's (N, C, 1, 1) output as a 1-D blob.
"""

from __future__ import annotations

import logging

import numpy as np

from ..caffe import caffe_pb2 as pb
from ..caffe.caffemodel import Layer
from ..errors import ConversionError
from ._common import set_window
from .context import TARGETS, EmitContext

log = logging.getLogger(__name__)
MEASURED_WITH_5D = ("caffe", "opencv", "mnn", "ncnn", "openvino", "tpu-mlir", "rknn", "onnx", "paddle")

Shape = tuple[int, ...]

# Layers whose top has the shape of their (first) bottom.
_SAME_SHAPE = {
    "ReLU", "Sigmoid", "TanH", "BNLL", "Power", "ELU", "ReLU6", "Clip", "AbsVal", "Exp", "Log", "Dropout", "Split",
    "Eltwise", "Softmax", "Scale", "Bias", "BatchNorm", "PReLU",
}  # fmt: skip
# Layers that treat every axis after their `axis` alike (or every axis alike): they compute the same on a blob whose
# trailing axes are merged, as long as their axis is not one of those.
_ELEMENTWISE = _SAME_SHAPE - {"Softmax", "Scale", "Bias"}  # BatchNorm and PReLU: per channel (axis 1)
_KEEP = 3  # axes kept as they are; the ones from here on are merged into one (4-D)


def lower_rank(ctx: EmitContext) -> None:
    """Pixel shuffles as one-hot (De)Convolutions, then the trailing axes of > 4-D blobs merged where no layer tells
    them apart (see the module docstring)."""
    _fold_pixel_shuffles(ctx)
    _merge_trailing_axes(ctx)


def check_rank(ctx: EmitContext, origin: dict[int, tuple[str, str]]) -> None:
    """A target with `max_rank`: refuse a net with a blob of more axes, naming the node whose layer writes it
    (`origin`: id(layer) -> node name and op)."""
    limit = ctx.options.patterns.max_rank
    if not limit:
        if ctx.options.target == "any":
            _warn_high_rank(ctx, origin)
        return
    shapes = blob_shapes(ctx)
    for layer in ctx.layers:
        for top in layer.proto.top:
            shape = shapes.get(top)
            if shape is not None and len(shape) > limit:
                node, op = origin.get(id(layer), (layer.proto.name, layer.proto.type))
                raise ConversionError(
                    f"writes a {len(shape)}-D blob {shape} (Caffe layer {layer.proto.name!r}, {layer.proto.type}); "
                    f"target {ctx.options.target!r} takes blobs of at most {limit} axes (its runtime holds no more, "
                    f"or computes them wrong) and this one has no {limit}-D form here: convert with another --target "
                    "(e.g. any) for the other runtimes",
                    node,
                    op,
                )


def _warn_high_rank(ctx: EmitContext, origin: dict[int, tuple[str, str]]) -> None:
    """Target `any` writing blobs of more than 4 axes (3-D convolution and pooling, video clips): the files are exact
    where they load, but the runtimes whose targets hold at most 4 axes (MNN, ncnn, OpenVINO, the NPU toolchains)
    cannot run them; a warning names them and the first layer that needs more, so `any` never silently means less than
    every runtime."""
    # The runtimes measured with 5-D blobs (pycaffe, OpenCV, MNN, ncnn, OpenVINO, and the NPU toolchains' targets:
    # r2plus1d in the zoo sweep).
    deploy = {name: p for name, p in TARGETS.items() if name in MEASURED_WITH_5D}
    limited = {name: p.max_rank for name, p in deploy.items() if p.max_rank}
    if not limited:
        return
    shapes = blob_shapes(ctx)
    for layer in ctx.layers:
        for top in [] if layer.proto.type == "Input" else layer.proto.top:
            shape = shapes.get(top)
            if shape is None or len(shape) <= min(limited.values()):
                continue
            node, _ = origin.get(id(layer), (layer.proto.name, layer.proto.type))
            refused = sorted(name for name, limit in limited.items() if len(shape) > limit)
            able = sorted(name for name in deploy if name not in limited and name != "any")
            log.warning(
                "%s writes a %d-D blob (Caffe layer %r, %s): these files run in %s; %s hold at most %d axes and "
                "cannot load them (their --target refuses the model, naming this node)",
                node,
                len(shape),
                layer.proto.name,
                layer.proto.type,
                ", ".join(able),
                ", ".join(refused),
                min(limited.values()),
            )
            return


def blob_shapes(ctx: EmitContext) -> dict[str, Shape]:
    """The shape of every blob the layers write, as the layers say (Reshape dims, Permute order, Slice points, ...),
    else as the converters registered it."""
    shapes: dict[str, Shape] = {}
    for layer in ctx.layers:
        proto = layer.proto
        ins = [shapes.get(b) or _known(ctx, b) for b in proto.bottom]
        tops = _layer_shapes(proto, ins)
        for i, top in enumerate(proto.top):
            shape = tops[i] if tops is not None else _known(ctx, top)
            if shape is not None:
                shapes[top] = shape
    return shapes


def _known(ctx: EmitContext, blob: str) -> Shape | None:
    try:
        return tuple(ctx.shape(blob))
    except KeyError:
        return None


def _layer_shapes(proto, ins: list[Shape | None]) -> list[Shape] | None:
    """The tops' shapes from the bottoms' and the layer's parameters, for layers that only move or combine values;
    None for the others (their shapes come from the converters)."""
    kind = proto.type
    if kind == "Input":
        return [tuple(s.dim) for s in proto.input_param.shape]
    if not ins or ins[0] is None:
        return None
    x = ins[0]
    if kind in _SAME_SHAPE:
        return [x] * len(proto.top)
    if kind == "Reshape" and not proto.reshape_param.HasField("axis") and not proto.reshape_param.HasField("num_axes"):
        dims = [x[i] if d == 0 else d for i, d in enumerate(proto.reshape_param.shape.dim)]
        if dims.count(-1) == 1:
            known = int(np.prod([d for d in dims if d != -1]))
            dims[dims.index(-1)] = int(np.prod(x)) // known if known else 0
        return [tuple(dims)]
    if kind == "Permute":
        order = list(proto.permute_param.order)
        order += [i for i in range(len(x)) if i not in order]
        return [tuple(x[i] for i in order)]
    if kind == "Slice":
        axis = proto.slice_param.axis % len(x)
        points = [0, *proto.slice_param.slice_point, x[axis]]
        if len(points) - 1 != len(proto.top):  # evenly split (no slice points)
            step = x[axis] // len(proto.top)
            points = list(range(0, x[axis] + 1, step))
        return [x[:axis] + (b - a,) + x[axis + 1 :] for a, b in zip(points, points[1:])]
    if kind == "Concat" and all(s is not None for s in ins):
        axis = proto.concat_param.axis % len(x)
        return [x[:axis] + (sum(s[axis] for s in ins),) + x[axis + 1 :]]
    return None


# -- ncnn's 1-D form of a pooled (N, C, 1, 1) map -------------------------------------------------------------------

# Layers that compute an (N, C, 1, 1) blob held as ncnn's 1-D (C,) the same as Caffe does (per element or per
# channel along axis 1), and keep it 1-D.
_FLAT_SAFE = {
    "ReLU", "Sigmoid", "TanH", "BNLL", "Power", "ELU", "ReLU6", "Clip", "AbsVal", "Exp", "Log", "Dropout", "Split",
    "BatchNorm", "PReLU", "Eltwise", "Concat", "Softmax", "Scale", "Bias",
}  # fmt: skip
# Layers that read it as the vector it is.
_FLAT_READERS = {"Flatten", "InnerProduct", "Reshape", "Silence"}


def reshape_pooled_maps(ctx: EmitContext) -> None:
    """ncnn holds the (N, C, 1, 1) output of a global Pooling as a 1-D blob (C,), and whatever computes per element
    keeps it so. A layer that needs it as a map (a Convolution other than 1x1 ungrouped without pad: error -100; a
    Deconvolution: a crash; an Eltwise or Concat with a real map, a Pooling, a Slice or Crop on H/W: other numbers,
    no error) reads it through a Reshape to (N, C, 1, 1) instead: a no-op in Caffe, a 3-D (C, 1, 1) blob in ncnn."""
    shapes = blob_shapes(ctx)
    flat: set[str] = set()
    layers = []
    for layer in ctx.layers:
        proto = layer.proto
        reads_flat = [b for b in proto.bottom if b in flat]
        if reads_flat and not _computes_flat(proto, flat):
            for blob in dict.fromkeys(reads_flat):
                view = ctx.unique(f"{blob}_as_map")
                reshape = pb.LayerParameter(name=view, type="Reshape")
                reshape.bottom.append(blob)
                reshape.top.append(view)
                reshape.reshape_param.shape.dim.extend([0, shapes[blob][1], 1, 1])
                layers.append(Layer(reshape, []))
                proto.bottom[:] = [view if b == blob else b for b in proto.bottom]
            reads_flat = []
        layers.append(layer)
        if proto.type == "Pooling" and proto.pooling_param.global_pooling:
            flat.update(t for t in proto.top if len(shapes.get(t, ())) == 4)
        elif reads_flat and proto.type not in _FLAT_READERS:
            flat.update(proto.top)
    ctx.layers[:] = layers


def _computes_flat(proto, flat: set[str]) -> bool:
    """Whether ncnn computes `proto` right with its flat bottoms held 1-D."""
    kind = proto.type
    if kind in _FLAT_READERS:
        return True
    if kind in ("Eltwise", "Concat"):  # every operand 1-D, or the 1-D one is read against a map
        return all(b in flat for b in proto.bottom) and (kind == "Eltwise" or proto.concat_param.axis in (1, -3))
    if kind == "Softmax":
        return proto.softmax_param.axis in (1, -3)
    if kind in ("Scale", "Bias"):
        param = proto.scale_param if kind == "Scale" else proto.bias_param
        return len(proto.bottom) == 1 and param.axis in (1, -3) and param.num_axes == 1
    if kind == "Convolution":
        p = proto.convolution_param
        window = [*p.kernel_size, p.kernel_h, p.kernel_w, *p.pad, p.pad_h, p.pad_w]
        return p.group <= 1 and set(window) <= {0, 1} and not p.pad and not p.pad_h and not p.pad_w
    return kind in _FLAT_SAFE


# -- pixel shuffles ------------------------------------------------------------------------------------------------


def _fold_pixel_shuffles(ctx: EmitContext) -> None:
    """Each chain of Reshapes and Permutes from a 4-D blob to a 4-D blob through a > 4-D one that moves values as a
    pixel shuffle does (or its inverse, or a channel permutation) becomes one one-hot (De)Convolution."""
    producer = {top: layer for layer in ctx.layers for top in layer.proto.top}
    readers: dict[str, int] = {}
    for layer in ctx.layers:
        for bottom in layer.proto.bottom:
            readers[bottom] = readers.get(bottom, 0) + 1
    shapes = blob_shapes(ctx)
    replaced: dict[int, Layer | None] = {}
    for last in ctx.layers:
        if last.proto.type != "Reshape" or len(shapes.get(last.proto.top[0], ())) != 4 or id(last) in replaced:
            continue
        chain = [last]  # back to the first layer whose bottom is 4-D, through blobs read once
        while chain[0].proto.type in ("Reshape", "Permute") and _moves_batch_along(chain[0].proto):
            source = producer.get(chain[0].proto.bottom[0])
            if len(shapes.get(chain[0].proto.bottom[0], ())) == 4 and len(chain) > 1:
                break
            if source is None or source.proto.type not in ("Reshape", "Permute") or id(source) in replaced:
                break
            if readers.get(source.proto.top[0], 0) != 1 or source.proto.top[0] in ctx.outputs:
                break
            chain.insert(0, source)
        x = shapes.get(chain[0].proto.bottom[0])
        inner = [shapes.get(layer.proto.top[0]) for layer in chain[:-1]]
        if len(chain) < 2 or x is None or len(x) != 4 or any(s is None for s in inner):
            continue
        if not any(len(s) > 4 for s in inner) or not all(_moves_batch_along(layer.proto) for layer in chain):
            continue
        source = np.arange(int(np.prod(x[1:]))).reshape(1, *x[1:])
        for layer, shape in zip(chain, [*inner, shapes[last.proto.top[0]]]):
            if layer.proto.type == "Permute":
                source = source.transpose(list(layer.proto.permute_param.order))
            source = source.reshape(1, *shape[1:])
        block = _one_hot_resample(last.proto.name, chain[0].proto.bottom[0], last.proto.top[0], x, source[0])
        if block is not None:
            replaced.update({id(layer): None for layer in chain})
            replaced[id(last)] = block
    if replaced:
        ctx.layers[:] = [
            replaced.get(id(layer), layer) for layer in ctx.layers if replaced.get(id(layer), layer) is not None
        ]


def _moves_batch_along(proto) -> bool:
    """A Reshape that copies the batch (0) or a Permute that keeps it first: each image's values stay its own."""
    if proto.type == "Reshape":
        return list(proto.reshape_param.shape.dim[:1]) == [0]
    return list(proto.permute_param.order[:1]) == [0]


def _one_hot_resample(name: str, bottom: str, top: str, x: Shape, source: np.ndarray):
    """The Convolution (space to depth, or a channel permutation) or Deconvolution (depth to space) that moves each
    value of a (C, H, W) image as `source` says (source[co, ho, wo]: the index of the value there), or None when that
    is no such block move."""
    _, c, h, w = x
    c_out, ho, wo = source.shape
    if h % ho == 0 and w % wo == 0:  # space to depth: out[k, a, b] = x[ci, a * r1 + i, b * r2 + j]
        r1, r2 = h // ho, w // wo
        channel, rest = np.divmod(source[:, 0, 0], h * w)
        i, j = np.divmod(rest, w)
        if np.any(i >= r1) or np.any(j >= r2):
            return None
        expected = (channel * h * w + i * w + j)[:, None, None] + (
            np.arange(ho)[:, None] * r1 * w + np.arange(wo)[None, :] * r2
        )
        if not np.array_equal(source, expected):
            return None
        return _block_layer(name, "Convolution", bottom, top, c, c_out, (channel, i, j), (r1, r2))
    if ho % h == 0 and wo % w == 0:  # depth to space: out[co, h * r1 + i, w * r2 + j] = x[k, h, w]
        r1, r2 = ho // h, wo // w
        blocks = source.reshape(c_out, h, r1, w, r2).transpose(0, 2, 4, 1, 3)  # (co, i, j, h, w)
        channel = blocks[..., 0, 0] // (h * w)
        if not np.array_equal(blocks, channel[..., None, None] * h * w + np.arange(h * w).reshape(h, w)):
            return None
        return _block_layer(name, "Deconvolution", bottom, top, c, c_out, channel, (r1, r2))
    return None


def _block_layer(name: str, kind: str, bottom: str, top: str, c_in: int, c_out: int, where, block) -> Layer:
    """A (De)Convolution with kernel = stride = `block` and one-hot weights, grouped where each output channel reads
    (writes) a contiguous run of channels of its own."""
    r1, r2 = block
    if kind == "Deconvolution":  # where[co, i, j]: the input channel written to (i, j) of output channel co's block
        pairs = [(int(where[co, i, j]), co, i, j) for co in range(c_out) for i in range(r1) for j in range(r2)]
        group = c_out if all(k // (r1 * r2) == co for k, co, _, _ in pairs) else 1
        weights = np.zeros((c_in, c_out // group, r1, r2), np.float32)
        for k, co, i, j in pairs:
            weights[k, co % (c_out // group), i, j] = 1.0
    else:  # where = (input channel, i, j) read by each output channel
        channel, rows, cols = where
        group = c_in if all(channel[k] == k // (r1 * r2) for k in range(c_out)) and c_out == c_in * r1 * r2 else 1
        weights = np.zeros((c_out, c_in // group, r1, r2), np.float32)
        for k in range(c_out):
            weights[k, int(channel[k]) % (c_in // group), int(rows[k]), int(cols[k])] = 1.0
    proto = pb.LayerParameter(name=name, type=kind)
    proto.bottom.append(bottom)
    proto.top.append(top)
    p = proto.convolution_param
    p.num_output, p.bias_term = c_out, False
    if group != 1:
        p.group = group
    set_window(p, block, block)
    return Layer(proto, [weights])


# -- trailing axes -------------------------------------------------------------------------------------------------


def _merge_trailing_axes(ctx: EmitContext) -> None:
    shapes = blob_shapes(ctx)
    high = {blob for blob, shape in shapes.items() if len(shape) > 4}
    if not high:
        return
    # Groups of > 4-D blobs that must keep one layout: linked through every layer but a Reshape (which reads only
    # the count of its bottom, and whose dims say its top's layout).
    parent = {blob: blob for blob in high}

    def root(blob: str) -> str:
        while parent[blob] != blob:
            parent[blob] = parent[parent[blob]]
            blob = parent[blob]
        return blob

    touching: dict[str, list] = {}
    for layer in ctx.layers:
        proto = layer.proto
        linked = [b for b in [*proto.bottom, *proto.top] if b in high]
        for blob in linked:
            touching.setdefault(blob, []).append(proto)
        if proto.type != "Reshape":
            for a, b in zip(linked, linked[1:]):
                parent[root(a)] = root(b)
    groups: dict[str, set[str]] = {}
    for blob in high:
        groups.setdefault(root(blob), set()).add(blob)
    for members in groups.values():
        protos = {id(p): p for blob in members for p in touching.get(blob, [])}.values()
        if members & set(ctx.outputs) or any(shapes[b][_KEEP:] != shapes[next(iter(members))][_KEEP:] for b in members):
            continue
        if not all(_indifferent(p, members, shapes) for p in protos):
            continue
        for proto in protos:
            if proto.type == "Reshape" and proto.top[0] in members:
                shape = shapes[proto.top[0]]
                dims = [proto.reshape_param.shape.dim[0], *shape[1:_KEEP], int(np.prod(shape[_KEEP:]))]
                proto.reshape_param.shape.dim[:] = dims
            elif proto.type == "Permute":
                proto.permute_param.order[:] = list(proto.permute_param.order[:_KEEP]) + [_KEEP]


def _indifferent(proto, members: set[str], shapes: dict[str, Shape]) -> bool:
    """Whether `proto` computes the same with the trailing axes (from _KEEP on) of the group's blobs merged."""
    kind = proto.type
    if kind in ("Reshape", "Silence") or kind in _ELEMENTWISE:
        return True
    if kind in ("Slice", "Concat", "Softmax"):
        param = {"Slice": proto.slice_param, "Concat": proto.concat_param, "Softmax": proto.softmax_param}[kind]
        rank = len(shapes[next(b for b in [*proto.bottom, *proto.top] if b in members)])
        return param.axis % rank < _KEEP
    if kind == "Permute":
        order = list(proto.permute_param.order)
        return all(order[i] == i for i in range(_KEEP, len(order)))
    if kind in ("Scale", "Bias"):  # a factor per position of axes [axis, axis + span), the same along the rest
        param = proto.scale_param if kind == "Scale" else proto.bias_param
        rank = len(shapes[proto.bottom[0]])
        axis = param.axis % rank
        if len(proto.bottom) > 1:
            if proto.bottom[1] in members or proto.bottom[1] not in shapes:
                return False
            span = len(shapes[proto.bottom[1]])
        else:
            span = param.num_axes if param.num_axes >= 0 else rank - axis
        return proto.bottom[0] in members and axis + span <= _KEEP
    return False
