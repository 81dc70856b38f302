"""Random weights that keep a deep network alive, for tests and demos without pretrained weights.

A test on default-initialized weights passes vacuously: BatchNorm statistics of zeros/ones and Xavier weights give
outputs that barely depend on the input. The recipe here (measured on this project's nets): He-normal weights,
each convolution/dense layer rescaled to unit output variance (LSUV), BatchNorm running statistics taken from the
net's own activations, then perturbed; gamma/beta/bias random.
"""

from __future__ import annotations

import contextlib
import json
import os
from typing import Any

import numpy as np


def randomize(
    net: Any, input_shape: tuple[int, ...], seed: int = 0, stats_batch: int = 4, images: bool = False
) -> None:
    """Fill `net` (an initialized Gluon block, not hybridized) with live random weights and BatchNorm statistics.

    images=True takes the statistics on synthetic scenes instead of white noise (detectors: a net whose statistics
    come from noise saturates on image-like inputs, where every score ties).
    """
    import mxnet as mx
    from mxnet.gluon import nn

    rng = np.random.RandomState(seed)
    # Finish deferred initialization. On a 3-D or 5-D input in training mode: an inference forward lets oneDNN keep
    # 1-D / 3-D convolution weights in its own layout in place, and the set_data below then fails ("Check failed:
    # to.IsDefaultData()", surfacing at the next read) or, for 1-D, silently leaves weights and statistics that
    # differ from run to run (measured: a Conv1D + BatchNorm net whose output did not depend on its input in 3 runs of
    # 6, running_var inf). The output is discarded and no backward runs, so no statistic changes; 4-D inputs keep the
    # inference forward (oneDNN's 2-D pooling logs a line per training-mode call).
    with mx.autograd.train_mode() if len(input_shape) != 4 else contextlib.nullcontext():
        net(mx.nd.zeros(input_shape))
    params = net.collect_params()
    _draw_weights(params, rng)

    stats_batch = _usable_batch(net, input_shape, stats_batch)
    # Layers built as symbols (SSD's FeatureExpander) first need sane statistics for the rescale to measure them.
    _symbol_block_stats(net, input_shape, rng, stats_batch, images)
    # Rescale (LSUV) and running statistics in ONE pass, layer after layer, so every layer is calibrated on what its
    # predecessors finally output. (Measured: rescaling first, with the BatchNorms still at mean 0 / var 1, then
    # taking the statistics changed the inputs of the layers without BatchNorm after the rescale: senet_154e's SE
    # logits reached |400|, its BatchNorm outputs a spread of 100 at stage 4; float32 vs float64 3.3e-4.)
    bns = [b for b in _blocks(net) if isinstance(b, nn.BatchNorm)]
    _calibration_pass(net, bns, input_shape, rng, stats_batch, images)
    _symbol_block_stats(net, input_shape, rng, stats_batch, images)

    # The Gluon BatchNorms got their final statistics inside the calibration pass; the SymbolBlock ones here.
    _finish_symbol_statistics(params, {b.running_var.name for b in bns}, rng)
    _scramble_fixed_gammas(bns, rng)
    if images and _detector_heads(net):
        _calibrate_detector_heads(net, input_shape, rng, stats_batch)
    mx.nd.waitall()


def _draw_weights(params: Any, rng: np.random.RandomState) -> None:
    """He-normal weights and fresh values for every trainable parameter and running statistic."""
    import mxnet as mx

    for name, p in params.items():
        if p.grad_req == "null" and not name.endswith(("running_mean", "running_var", "moving_mean", "moving_var")):
            continue  # constants (e.g. a mean/std scale) keep their values
        if p.shape is None or 0 in p.shape:
            continue  # never used by the forward pass, so never initialized
        value = _random_value(name, p.shape, rng)
        if value is not None:
            p.set_data(mx.nd.array(value))


def _finish_symbol_statistics(params: Any, final: set[str], rng: np.random.RandomState) -> None:
    """The final (perturbed) statistics of the BatchNorms not in `final` (those inside SymbolBlocks)."""
    import mxnet as mx

    for name, p in params.items():
        if name.endswith(("running_var", "moving_var")) and name not in final:
            mean_p = params[name[: -len("_var")] + "_mean"]
            mean, var = _final_statistics(mean_p.data().asnumpy(), p.data().asnumpy(), rng)
            mean_p.set_data(mx.nd.array(mean))
            p.set_data(mx.nd.array(var))


def _scramble_fixed_gammas(bns: list[Any], rng: np.random.RandomState) -> None:
    """MXNet computes with gamma = 1 where fix_gamma is set, whatever is stored (and a training pass overwrites it
    with 1). Random stored values make a converter that ignores fix_gamma visibly wrong. (Other gammas keep the
    values the statistics were taken with: redrawing them would rescale every layer, compounding.)"""
    import mxnet as mx

    for b in bns:
        if b._kwargs.get("fix_gamma"):
            b.gamma.set_data(mx.nd.array(rng.uniform(0.5, 1.5, b.gamma.shape)))


def _usable_batch(net: Any, input_shape: tuple[int, ...], batch: int) -> int:
    """`batch`, or the input's own batch size where the net may not take another: a reshape that writes the batch
    size as a number. MXNet's shape inference does not reject such a reshape, and the forward pass then crashes the
    process (a segfault), so the test is that every output still leads with the batch size when inferred at
    `batch`."""
    import mxnet as mx

    from ..frontend.mxnet_graph import infer_shape_quietly

    if batch == input_shape[0]:
        return batch
    try:
        with mx.name.NameManager():  # leaves the global op counters (symbol-API names) as they were
            symbol = net(mx.sym.var("data"))
        symbol = mx.sym.Group(list(symbol)) if isinstance(symbol, (list, tuple)) else symbol
        _, shapes, _ = infer_shape_quietly(symbol, {"data": (batch,) + tuple(input_shape[1:])})
    except mx.base.MXNetError:
        return input_shape[0]
    return batch if shapes and all(len(s) > 0 and s[0] == batch for s in shapes) else input_shape[0]


VAR_FLOOR = 0.05
MAX_MEAN_RATIO = 4.0  # largest |mean| / sqrt(var) of a BatchNorm channel
# BatchNorm shift: N(BETA_MEAN, 0.2). With running statistics that normalize every channel, a ReLU after a BatchNorm
# keeps the rounding error but removes part of the signal's variance (its mean is thrown away by the next
# BatchNorm): the relative error grows by sqrt(P(z > 0) / Var(relu(z))) per ReLU, for z ~ N(beta, 1): 1.21 at
# beta = 0 ("BatchNorm causes gradient explosion", Yang et al. 2019), 1.06 at beta = 1. Compounded over a deep net
# at beta = 0 this is what made the random nets ill-conditioned (measured, MXNet float32 vs float64:
# resnet152_v1b 2.3e-4 -> 5.9e-7, yolo3_mobilenet1.0_coco 1.2e-4 -> 5e-6). With beta = 1, 16% of the units are
# still cut by each ReLU, so the non-linearity stays tested.
BETA_MEAN = 1.0

# Detector heads on image-like inputs: class logits with unit spread keep scores apart (no saturation at 1.0, where
# every score ties); damped box offsets keep exp() of the size offsets moderate (no boxes 30x their anchor).
CLASS_LOGIT_STD = 1.0
BOX_OFFSET_STD = 0.5
# YOLOv3's one prediction conv holds, per anchor, (x, y, log w, log h, objectness, classes...): per-role targets
# for the largest |value| over the calibration scenes (random darknets are heavy-tailed: calibrating the standard
# deviation left logits above 17, where sigmoid is 1.0 in float32 and every score ties).
YOLO_ROLE_MAX = (2.0, 2.0, 1.0, 1.0, 3.0)  # the classes take the last value


def _detector_heads(net: Any) -> list[tuple[Any, Any]]:
    """(head block, target: a number (the output's standard deviation), or a function of the channel count giving
    each channel's largest |value|), for the heads the net's detector family names (none for other nets)."""
    from ..detectors import detector_for

    family = detector_for(net)
    heads = family.random_heads(net) if family is not None else []
    targets = {"class": lambda head: CLASS_LOGIT_STD, "box": lambda head: BOX_OFFSET_STD}
    targets["yolo"] = lambda head: _yolo_role_max(head.period)
    return [(head.block, targets[head.role](head)) for head in heads]


def _yolo_role_max(per_anchor: int):
    def largest(channels: int) -> np.ndarray:
        role = np.arange(channels) % per_anchor
        return np.array([YOLO_ROLE_MAX[min(r, len(YOLO_ROLE_MAX) - 1)] for r in role])

    return largest


def _calibrate_detector_heads(net: Any, input_shape: tuple[int, ...], rng: np.random.RandomState, batch: int) -> None:
    """Rescale each class / box predictor so its output has the target spread on synthetic scenes (per output
    channel for YOLOv3: weights rows and bias entries are scaled together)."""
    import mxnet as mx
    from mxnet.gluon import nn

    targets = {}
    for head, std in _detector_heads(net):
        for block in _blocks(head):
            if isinstance(block, nn.Conv2D):
                targets[id(block)] = (block, std)
    measured: dict[int, np.ndarray] = {}

    def hook(block: Any, _inputs: Any, output: Any) -> None:
        out = host_array(output)
        channels = out.reshape(out.shape[0], out.shape[1], -1).transpose(1, 0, 2).reshape(out.shape[1], -1)
        per_channel = callable(targets[id(block)][1])
        measured[id(block)] = np.abs(channels).max(axis=1) if per_channel else np.array(out.std())

    handles = [b.register_forward_hook(hook) for b, _ in targets.values()]
    _forward_sample(net, handles, rng, input_shape, batch, True)
    for key, (block, std) in targets.items():
        got = measured.get(key)
        if got is None:
            continue
        want = std(got.size) if callable(std) else std
        factor = np.where(np.isfinite(got) & (got > 1e-8), want / np.maximum(got, 1e-8), 1.0)
        for p in (block.weight, block.bias):
            if p is not None:
                value = p.data().asnumpy()
                shape = (-1,) + (1,) * (value.ndim - 1) if factor.ndim else ()
                p.set_data(mx.nd.array(value * factor.reshape(shape)))


def _calibration_pass(
    net: Any, bns: list, input_shape: tuple[int, ...], rng: np.random.RandomState, batch: int, images: bool
) -> None:
    """LSUV rescale of every convolution / dense layer and BatchNorm statistics from its input, in one forward pass
    (see `_unit_variance_pass` and `_stats_from_activations`). Where MKL-DNN rejects the in-place rescale, the
    weights are restored and the statistics taken in a pass of their own."""
    if _unit_variance_pass(net, input_shape, rng, batch, images, bns=bns):
        return
    if bns:
        _stats_from_activations(net, bns, input_shape, rng, batch, images)


def _unit_variance_pass(
    net: Any, input_shape: tuple[int, ...], rng: np.random.RandomState, batch: int, images: bool, bns: list = ()
) -> bool:
    """Scale every convolution / dense layer so its output has unit standard deviation (LSUV), in one forward pass.

    Without it, deep random nets whose branches end without BatchNorm (pre-activation residual sums, attention
    masks) grow activations to 1e3 and more, where float32 rounding alone (a different summation order) moves a
    sigmoid by more than the tolerance: the comparison then measures conditioning, not the converter. A forward
    hook rescales the layer's weights and, in place, its output, so later layers already see the rescaled values.
    """
    import mxnet as mx
    from mxnet.gluon import nn

    def hook(block: Any, _inputs: Any, output: Any) -> None:
        std = float(host_array(output).std())
        if not np.isfinite(std) or std < 1e-8:
            return
        for p in (block.weight, getattr(block, "bias", None)):
            if p is not None:
                p.set_data(p.data() / std)
        output *= 1.0 / std  # in place (not output[:] = ..., which MKL-DNN layouts reject)

    layers = [
        b
        for b in _blocks(net)
        if isinstance(b, (nn.Conv2D, nn.Dense, nn.Conv2DTranspose))
        and all(p._data is not None for p in b.collect_params().values())  # skip layers the forward never used
    ]
    backup = {p.name: p.data().copy() for b in layers + list(bns) for p in b.collect_params().values()}
    handles = [b.register_forward_hook(hook) for b in layers]
    handles += [b.register_forward_pre_hook(_stats_hook(rng)) for b in bns]
    try:
        _forward_sample(net, handles, rng, input_shape, batch, images)
    except mx.base.MXNetError:
        # Some MKL-DNN graphs (NASNet's slices, ResNeSt) reject the in-place rescale; keep the He-normal weights.
        for b in layers + list(bns):
            for p in b.collect_params().values():
                p.set_data(backup[p.name])
        return False
    return True


def _stats_from_activations(
    net: Any, bns: list, input_shape: tuple[int, ...], rng: np.random.RandomState, batch: int, images: bool
) -> None:
    """Set each BatchNorm's running statistics to the batch statistics of its own input, in one inference pass.

    A pre-forward hook measures the input and stores its per-channel mean and variance before the BatchNorm runs, so
    it normalizes exactly as in training and later layers see normalized values. (No autograd: MXNet 1.9 updates
    running statistics only in backward, and MKL-DNN's backward rejects some graphs, e.g. NASNet's slices.)
    """
    handles = [b.register_forward_pre_hook(_stats_hook(rng)) for b in bns]
    _forward_sample(net, handles, rng, input_shape, batch, images)


def _stats_hook(rng: np.random.RandomState):
    """A pre-forward hook that stores the input's per-channel mean and variance, floored and perturbed
    (`_final_statistics`), as the BatchNorm's running statistics: the BatchNorm then runs in this very pass exactly
    as it will in the test, so later layers are calibrated on its final output."""
    import mxnet as mx

    def hook(block: Any, inputs: Any) -> None:
        x = host_array(inputs[0]).astype(np.float64)
        axis = block._kwargs.get("axis", 1) % x.ndim
        others = tuple(i for i in range(x.ndim) if i != axis)
        mean, var = _final_statistics(x.mean(axis=others), x.var(axis=others), rng)
        block.running_mean.set_data(mx.nd.array(mean))
        block.running_var.set_data(mx.nd.array(var))

    return hook


def _final_statistics(mean: np.ndarray, var: np.ndarray, rng: np.random.RandomState) -> tuple[np.ndarray, np.ndarray]:
    """Measured batch statistics -> stored running statistics: floored, then perturbed."""
    var = np.maximum(var, 0.0)  # a batch variance can round to slightly below zero
    # BatchNorm computes (x - mean) / sqrt(var): float32 rounding of x, which is relative to the magnitude of the
    # values that made x (the layer's mean square, E[x^2] = mean^2 + var), is multiplied by 1 / sqrt(var). A channel
    # that barely varies over the statistics batch turns that rounding into output: SSD's 1x1 extras seen at a few
    # positions; every BatchNorm after global pooling (ResNeSt's split attention), whose input is the pooled
    # average of a noise image, nearly the same for every input and measured on `stats_batch` values: there
    # |mean| / sqrt(var) reached 345 and MXNet float32 was 1.2e-2 from float64 on resnest50. Floor each variance
    # at a fraction of the layer's mean square and of the channel's own squared mean: the amplification stays
    # below 1 / sqrt(VAR_FLOOR) (4.5x) and MAX_MEAN_RATIO.
    var = np.maximum(var, VAR_FLOOR * float(np.mean(var + mean**2)))
    var = np.maximum(var, (mean / MAX_MEAN_RATIO) ** 2)
    mean = mean + rng.normal(0, 0.1, mean.shape) * np.sqrt(var)
    # Symmetric in log scale: a chain of BatchNorms compounds the factors, and U(0.5, 1.5) drifts upward
    # (E[1/sqrt(u)] > 1), which grew deep nets' activations 10x per stage.
    var = var * np.exp(rng.normal(0, 0.1, var.shape))
    return mean, var


def _symbol_block_stats(
    net: Any, input_shape: tuple[int, ...], rng: np.random.RandomState, batch: int, images: bool
) -> None:
    """The same for BatchNorm ops inside SymbolBlocks (GluonCV's SSD FeatureExpander builds its extra layers with
    mx.sym.BatchNorm): capture the block's inputs, then, BatchNorm by BatchNorm in graph order, evaluate the
    symbol feeding it and store that input's statistics (so each sees its predecessors already normalized)."""
    import mxnet as mx
    from mxnet.gluon import SymbolBlock

    blocks = [b for b in _blocks(net) if isinstance(b, SymbolBlock)]
    if not blocks:
        return
    captured: dict[int, list] = {}

    def hook(block: Any, inputs: Any) -> None:
        captured[id(block)] = [i.copy() for i in inputs]

    handles = [b.register_forward_pre_hook(hook) for b in blocks]
    _forward_sample(net, handles, rng, input_shape, batch, images)
    for block in blocks:
        if id(block) not in captured:
            continue
        inputs_syms, output_sym = block._cached_graph
        internals = output_sym.get_internals()
        graph = json.loads(output_sym.tojson())
        params = {p.name: p for p in block.collect_params().values()}
        feed = {s.name: x for s, x in zip(inputs_syms, captured[id(block)])}
        nodes = graph["nodes"]
        targets, stats = [], []
        for node in nodes:
            if node["op"] != "BatchNorm":
                continue
            src = nodes[node["inputs"][0][0]]
            targets.append(internals[src["name"] + "_output" if src["op"] != "null" else src["name"]])
            stats.append((nodes[node["inputs"][3][0]]["name"], nodes[node["inputs"][4][0]]["name"]))
        if not targets:
            continue
        # One training-mode pass: each BatchNorm normalizes with its batch statistics, which is exactly what it
        # does in inference once those statistics are stored, so every input comes out as in a sequential pass.
        group = mx.sym.load_json(mx.sym.Group(targets).tojson())  # a grouped Group repeats shared variables
        args = {n: feed[n] if n in feed else params[n].data() for n in group.list_arguments()}
        aux = {n: params[n].data().copy() for n in group.list_auxiliary_states()}
        outs = _bind_plain(group, args, aux).forward(is_train=True)
        for (mean_name, var_name), out in zip(stats, outs):
            x = host_array(out).astype(np.float64)
            others = (0,) + tuple(range(2, x.ndim))
            params[mean_name].set_data(mx.nd.array(x.mean(axis=others)))
            params[var_name].set_data(mx.nd.array(x.var(axis=others)))


def _forward_sample(
    net: Any, handles: list, rng: np.random.RandomState, input_shape: tuple[int, ...], batch: int, images: bool
) -> None:
    """One forward pass on a random batch (noise, or synthetic scenes) for the hooks in `handles`, detached after."""
    import mxnet as mx

    try:
        out = net(mx.nd.array(_sample(rng, (batch,) + tuple(input_shape[1:]), images)))
        for o in out if isinstance(out, (list, tuple)) else [out]:
            o.wait_to_read()
        mx.nd.waitall()  # oneDNN's in-place weight reorders too (frontend/mxnet_graph.trace_block says why)
    finally:
        for h in handles:
            h.detach()


def _sample(rng: np.random.RandomState, shape: tuple[int, ...], images: bool) -> np.ndarray:
    if images:
        from ..verification import synthetic_scene

        return synthetic_scene(shape, seed=int(rng.randint(1 << 30)))
    return rng.normal(0, 1, shape).astype(np.float32)


def _bind_plain(symbol: Any, args: dict, aux: dict) -> Any:
    """Bind without MXNet's MKL-DNN subgraph backend, whose fused graph rejects a plain argument list."""
    import mxnet as mx

    saved = {k: os.environ.get(k) for k in ("MXNET_SUBGRAPH_BACKEND", "MXNET_SUBGRAPH_VERBOSE")}
    os.environ.update(MXNET_SUBGRAPH_BACKEND="NONE", MXNET_SUBGRAPH_VERBOSE="0")
    try:
        return symbol.bind(mx.cpu(), args, aux_states=aux)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _random_value(name: str, shape: tuple[int, ...], rng: np.random.RandomState) -> np.ndarray | None:
    if name.endswith("weight") and len(shape) >= 2:
        fan_in = int(np.prod(shape[1:]))
        return rng.normal(0, np.sqrt(2.0 / fan_in), shape)
    if name.endswith("bias"):
        return rng.normal(0, 0.1, shape)
    if name.endswith("gamma"):
        return rng.uniform(0.5, 1.5, shape)
    if name.endswith("beta"):
        return rng.normal(BETA_MEAN, 0.2, shape)
    if name.endswith("alpha"):
        return rng.uniform(0.05, 0.3, shape)
    return None


def _blocks(block: Any):
    yield block
    for child in block._children.values():
        yield from _blocks(child)


def host_array(value: Any) -> np.ndarray:
    """An activation as numpy. MXNet 1.9.1 cannot copy some 5-D activations in MKL-DNN's blocked layout to the host
    (asnumpy fails `to.IsDefaultData()`; measured on r2plus1d's BatchNorm inputs): Flatten reorders them first."""
    import mxnet as mx

    try:
        return value.asnumpy()
    except mx.base.MXNetError:
        return mx.nd.Flatten(value).asnumpy().reshape(value.shape)
