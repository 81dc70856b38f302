"""Walk an IR graph through the converter registry and assemble the two NetParameters: the Input layers, one
converter per node, the detector tail, then the output plumbing (a Split for outputs other layers read, a Silence for
blobs nobody reads)."""

from __future__ import annotations

import logging
import math
from typing import Callable

from ..caffe import caffe_pb2 as pb
from ..caffe.caffemodel import CaffeModel
from ..caffe.samples import sample_mixing
from ..errors import ConversionError, UnsupportedOperatorError
from ..ir.evaluate import check_parameter_inputs, constant_nodes
from ..ir.graph import Graph, Node
from .context import CONSUMER_LIMITS, DILATION_EXPANSION_BYTES, TARGETS, TOOLCHAIN_TARGETS, EmitContext, EmitOptions
from .forms import write_portable_forms
from .rank import check_rank, lower_rank, reshape_pooled_maps
from .registry import OUTSIDE_CAFFE, REGISTRY

__all__ = ["CaffeModel", "EmitContext", "EmitOptions", "build_nets", "check_supported", "emit_layers"]

log = logging.getLogger(__name__)


def check_supported(graph: Graph) -> None:
    """Scan the whole graph first: one error listing every op without a converter, with counts and node names (ops
    computing from parameters alone are evaluated by a pass instead); then every weight a Caffe layer stores must be
    a parameter or computed from parameters (not a graph input)."""
    evaluated = {node.name for node in constant_nodes(graph)}
    unsupported: dict[str, list[str]] = {}
    for node in graph.nodes:
        if node.op not in REGISTRY and node.name not in evaluated:
            unsupported.setdefault(node.op, []).append(node.name)
    if unsupported:
        raise UnsupportedOperatorError(unsupported, OUTSIDE_CAFFE)
    check_parameter_inputs(graph, computed=True)


def emit_layers(
    graph: Graph, options: EmitOptions, tail: Callable[[EmitContext], list[str]] | None = None
) -> EmitContext:
    """Convert every node; `tail` (e.g. SSD's detection layers) may append layers and returns the net's outputs
    (default: the graph's outputs). `ctx.outputs` holds the output blobs."""
    ctx = EmitContext(graph, options)
    for name, shape in graph.inputs.items():
        proto = ctx.layer(name, "Input", [], [name])
        proto.input_param.shape.add().dim.extend(shape)
    for name, (weight, bias) in graph.preprocess.items():  # raw pixels in: the normalization, one Scale per input
        normalized = ctx.unique(f"{name}_normalized")
        scale = ctx.layer(normalized, "Scale", [name], [normalized], [weight, bias]).scale_param
        scale.axis, scale.bias_term = 1, True
        ctx.set_shape(normalized, graph.inputs[name])
        ctx.alias(name, normalized)  # every reader of the input reads the normalized image
    origin: dict[int, tuple[str, str]] = {}  # id(layer) -> (node, op) that wrote it, for rank errors
    for node in graph.nodes:
        start = len(ctx.layers)
        _convert(node, ctx)
        origin.update((id(layer), (node.name, node.op)) for layer in ctx.layers[start:])
    outputs = tail(ctx) if tail else list(graph.outputs)
    _expose_consumed_outputs(outputs, ctx)
    _silence_dangling(outputs, ctx)
    ctx.outputs = [ctx.blob(t) for t in outputs]
    _compute_input_outputs(ctx)
    _merge_reshapes(ctx)
    if options.patterns.high_rank == "fold":
        lower_rank(ctx)
    if options.patterns.pooled_map == "reshape":
        reshape_pooled_maps(ctx)
    write_portable_forms(ctx)  # after the folds: it reads the final blob shapes
    check_rank(ctx, origin)
    _check_layers(ctx, origin)
    _check_dilation(ctx, origin)
    _check_samples(ctx, origin)
    _unclash_names(ctx)
    for what, nodes in ctx.approximations.items():
        shown = ", ".join(nodes[:3]) + (f", ... ({len(nodes) - 3} more)" if len(nodes) > 3 else "")
        options = {"options": ctx.approximation_options.get(what, ())}
        log.warning("%s: %d node(s), %s", what, len(nodes), shown, extra=options)
    return ctx


def _convert(node: Node, ctx: EmitContext) -> None:
    entry = REGISTRY[node.op]
    if entry.convert is None:  # pragma: no cover - the pipeline removes these before emission
        raise RuntimeError(f"{node.op} node '{node.name}' should have been removed by a pass")
    first = len(ctx.layers)
    entry.convert(node, ctx)
    for layer in ctx.layers[first:]:  # a parameter is a layer's blob, never a bottom (Caffe aborts: unknown blob)
        constants = [b for b in layer.proto.bottom if b in ctx.graph.params]
        if constants:
            raise ConversionError(
                f"reads the constant '{constants[0]}' (a parameter, or computed from parameters alone) where its "
                "Caffe layer takes a blob computed from the input; Caffe layers hold constants only as weights",
                node.name,
                node.op,
            )


def _expose_consumed_outputs(graph_outputs: list[str], ctx: EmitContext) -> None:
    """Caffe's net outputs are the blobs no layer consumes. A model output that other layers also read is renamed
    where it is produced and consumed, and a Split copies it back to its own name as a net output."""
    for tensor in graph_outputs:  # an output that is an alias (an identity op) gets a blob of its own name
        if ctx.blob(tensor) != tensor:
            _copy(ctx, ctx.unique(f"{tensor}_output"), tensor, tensor)
            ctx.alias(tensor, tensor)
    outputs = {ctx.blob(t) for t in graph_outputs}
    consumed = {b for layer in ctx.layers for b in layer.proto.bottom}
    for blob in sorted(outputs & consumed):
        if blob in ctx.graph.inputs:  # renaming it would rename the net's input: its feeders would feed nothing
            raise ConversionError(
                "is an input of the graph and also one of its outputs, and layers read it: a Caffe blob cannot be a "
                "net input and a net output that layers read; output a copy (e.g. x * 1) or drop that output",
                node=blob,
            )
        inner = ctx.unique(f"{blob}_inner")
        position = 0
        for index, layer in enumerate(ctx.layers):
            layer.proto.bottom[:] = [inner if b == blob else b for b in layer.proto.bottom]
            if blob in layer.proto.top:
                layer.proto.top[:] = [inner if t == blob else t for t in layer.proto.top]
                position = index + 1
        _copy(ctx, ctx.unique(f"{blob}_output"), inner, blob)
        # Right after the producer, so Caffe lists the outputs in the model's order where it can.
        ctx.layers.insert(position, ctx.layers.pop())


def _copy(ctx: EmitContext, name: str, source: str, top: str) -> None:
    """`top` as a copy of `source`: a one-top Split, or (output_copy 'reshape') a Reshape to its own shape."""
    if ctx.options.patterns.output_copy == "split":
        ctx.layer(name, "Split", [source], [top])
        return
    shape = ctx.shape(top)
    ctx.layer(name, "Reshape", [source], [top]).reshape_param.shape.dim.extend([0, *shape[1:]])


def _compute_input_outputs(ctx: EmitContext) -> None:
    """A net output that is a net input no layer writes (the graph is an identity) gets an in-place identity layer (a
    Power of exponent 1, scale 1, shift 0: x itself), so a runtime has a layer to run: MNN returns another value for
    a net without one, OpenCV cannot forward it."""
    written = {top for layer in ctx.layers if layer.proto.type != "Input" for top in layer.proto.top}
    for blob in dict.fromkeys(ctx.outputs):
        if blob in ctx.graph.inputs and blob not in written:
            ctx.layer(ctx.unique(f"{blob}_identity"), "Power", [blob], [blob])


def _silence_dangling(graph_outputs: list[str], ctx: EmitContext) -> None:
    """Blobs nobody consumes (e.g. the trailing row a pooling fix slices off) would become extra net outputs."""
    consumed = {b for layer in ctx.layers for b in layer.proto.bottom}
    outputs = {ctx.blob(t) for t in graph_outputs}
    dangling = [t for layer in ctx.layers for t in layer.proto.top if t not in consumed and t not in outputs]
    if dangling:
        ctx.layer(ctx.unique("silence"), "Silence", [], [])
        ctx.layers[-1].proto.bottom.extend(dangling)
        log.debug("silenced %d dangling blob(s): %s", len(dangling), dangling)


def _check_layers(ctx: EmitContext, origin: dict[int, tuple[str, str]]) -> None:
    """Refuse a net that needs a Caffe layer the target's runtime cannot load (Patterns.missing_layers: layer types,
    or an Eltwise operation as 'Eltwise MAX' / 'Eltwise PROD')."""
    missing = ctx.options.patterns.missing_layers
    for layer in ctx.layers:
        kind = layer_kind(layer.proto)
        if kind not in missing and layer.proto.type not in missing:
            continue
        kind = kind if kind in missing else layer.proto.type
        node, op = origin.get(id(layer), (layer.proto.name, layer.proto.type))
        if kind in CONSUMER_LIMITS and kind not in TARGETS["any"].missing_layers:
            raise ConversionError(
                f"needs a Caffe {kind} layer ({layer.proto.name!r}), which the toolchain of target "
                f"{ctx.options.target!r} cannot compute; {CONSUMER_LIMITS[kind]}",
                node,
                op,
            )
        having = [n for n, p in TARGETS.items() if kind not in p.missing_layers and n not in TOOLCHAIN_TARGETS]
        runtimes = "a runtime it is for" if ctx.options.target == "any" else "its runtime"
        raise ConversionError(
            f"needs a Caffe {kind} layer ({layer.proto.name!r}), which {runtimes} cannot load or "
            f"computes wrong (target {ctx.options.target!r}) and no other form replaces; convert with --target "
            f"{' / '.join(having)}, whichever runtime you deploy to",
            node,
            op,
        )


def _check_dilation(ctx: EmitContext, origin: dict[int, tuple[str, str]]) -> None:
    """Refuse a (de)convolution dilated past the target's chip (Patterns.max_dilation) whose kernel, expanded dense
    by the toolchain, would exceed DILATION_EXPANSION_BYTES of float16 weights (the toolchain's build runs out of
    memory there)."""
    limit = ctx.options.patterns.max_dilation
    if not limit:
        return
    for layer in ctx.layers:
        if layer.proto.type not in ("Convolution", "Deconvolution") or not layer.blobs:
            continue
        param = layer.proto.convolution_param
        dilation = max(param.dilation, default=1)
        if dilation <= limit:
            continue
        weights = layer.blobs[0].shape  # (out, in / group, k...) or, for a Deconvolution, (in, out / group, k...)
        dilations = list(param.dilation) * (len(weights) - 2) if len(param.dilation) == 1 else list(param.dilation)
        expanded = [(k - 1) * d + 1 for k, d in zip(weights[2:], dilations)]
        size = 2 * math.prod(weights[:2]) * math.prod(expanded)
        if size <= DILATION_EXPANSION_BYTES:
            continue
        node, op = origin.get(id(layer), (layer.proto.name, layer.proto.type))
        raise ConversionError(
            f"needs a {layer.proto.type} dilated {dilation} ({layer.proto.name!r}); the chip of target "
            f"{ctx.options.target!r} holds a dilation up to {limit}, and its toolchain expands this one into a dense "
            f"{'x'.join(map(str, expanded))} kernel, {size / 1e9:.1f} GB of float16 weights, which its build runs out "
            f"of memory on (DeepLab's ASPP: killed at 16 GB); a model with dilations up to {limit} converts",
            node,
            op,
        )


def layer_kind(proto: pb.LayerParameter) -> str:
    """The layer's type, and an Eltwise's operation with it ('Eltwise MAX'): what Patterns.missing_layers names."""
    if proto.type == "Eltwise":
        return f"Eltwise {pb.EltwiseParameter.EltwiseOp.Name(proto.eltwise_param.operation)}"
    return proto.type


def _check_samples(ctx: EmitContext, origin: dict[int, tuple[str, str]]) -> None:
    """Refuse a net that mixes its samples for a target whose runtime runs one sample at a time (Patterns.per_sample),
    naming the node whose layer does it."""
    if not ctx.options.patterns.per_sample:
        return
    found = sample_mixing(layer.proto for layer in ctx.layers)
    if found is None:
        return
    name, why = found
    writers = {layer.proto.name: origin.get(id(layer), (name, "")) for layer in ctx.layers}
    node, op = writers.get(name, (name, ""))
    raise ConversionError(
        f"{why}; target {ctx.options.target!r}'s runtime runs one sample at a time and would compute it wrong: "
        "convert with another --target (e.g. any) for the other runtimes, or with batch size 1",
        node,
        op or None,
    )


def _merge_reshapes(ctx: EmitContext) -> None:
    """A Reshape of a Reshape whose result nothing else reads becomes one Reshape (of the first one's input): a chain
    through a 5-D shape (ShuffleNet's channel shuffle) then has no 5-D blob, which ncnn cannot hold. Safe because our
    Reshapes copy only the batch (a 0 at index 0) and give every other dimension or -1; a batch copy through a Reshape
    that changed the batch (TSN's (N*S, C) -> (N, S, C)) takes the value that Reshape wrote."""
    producer = {top: layer for layer in ctx.layers for top in layer.proto.top}
    readers: dict[str, int] = {}
    for layer in ctx.layers:
        for bottom in layer.proto.bottom:
            readers[bottom] = readers.get(bottom, 0) + 1
    removed = set()
    for layer in ctx.layers:
        proto = layer.proto
        if proto.type != "Reshape" or not _plain_reshape(proto):
            continue
        source = producer.get(proto.bottom[0])
        while (
            source is not None
            and source.proto.type == "Reshape"
            and _plain_reshape(source.proto)
            and readers.get(source.proto.top[0], 0) == 1
            and source.proto.top[0] not in ctx.outputs
            and _batch_copy_survives(proto, source.proto)
        ):
            if list(proto.reshape_param.shape.dim[:1]) == [0]:  # copy what the first Reshape wrote, not its input's
                proto.reshape_param.shape.dim[0] = source.proto.reshape_param.shape.dim[0]
            proto.bottom[0] = source.proto.bottom[0]
            removed.add(id(source))
            source = producer.get(proto.bottom[0])
    ctx.layers[:] = [layer for layer in ctx.layers if id(layer) not in removed]


def _batch_copy_survives(proto: pb.LayerParameter, source: pb.LayerParameter) -> bool:
    """A Reshape that copies its input's batch (0) reads what `source` wrote there: merged, it copies the same value
    (a 0 there too) or writes it (a number); a -1 there is known only at run time, so those two stay apart."""
    dims, source_dims = list(proto.reshape_param.shape.dim), list(source.reshape_param.shape.dim)
    return dims[:1] != [0] or (bool(source_dims) and source_dims[0] >= 0)


def _plain_reshape(proto: pb.LayerParameter) -> bool:
    p = proto.reshape_param
    return not p.HasField("axis") and not p.HasField("num_axes") and 0 not in list(p.shape.dim)[1:]


def _unclash_names(ctx: EmitContext) -> None:
    """A layer named like a blob another layer writes is renamed (`<name>_<type>`): OpenCV's importer refuses the
    net ("Layer ... already into net") or wires the wrong blob. The layer that writes blob X keeps the name X."""
    written_by = {top: layer.proto for layer in ctx.layers for top in layer.proto.top}
    for layer in ctx.layers:
        proto = layer.proto
        writer = written_by.get(proto.name)
        if writer is not None and writer is not proto:
            proto.name = ctx.unique(f"{proto.name}_{proto.type.lower()}")


def build_nets(graph: Graph, ctx: EmitContext) -> tuple[pb.NetParameter, CaffeModel]:
    """(text_net without weights, binary_weights with every layer's blobs)."""
    text_net = pb.NetParameter(name=graph.name)
    text_net.layer.extend(layer.proto for layer in ctx.layers)
    return text_net, CaffeModel(graph.name, ctx.layers)
