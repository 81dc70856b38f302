"""Random weights that keep a deep network alive, for tests and demos without pretrained weights.

A test on default-initialized weights passes vacuously: BatchNorm statistics of zeros/ones and Xavier weights give
outputs that barely depend on the input. The recipe here (measured on this project's nets): He-normal weights,
BatchNorm running statistics taken from the net's own activations, then perturbed; gamma/beta/bias random.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def randomize(net: Any, input_shape: tuple[int, ...], seed: int = 0, stats_batch: int = 4) -> None:
    """Fill `net` (an initialized Gluon block, not hybridized) with live random weights and BatchNorm statistics."""
    import mxnet as mx
    from mxnet.gluon import nn

    rng = np.random.RandomState(seed)
    net(mx.nd.zeros(input_shape))  # finish deferred initialization
    params = net.collect_params()
    for name, p in params.items():
        if p.grad_req == "null" and not name.endswith(("running_mean", "running_var")):
            continue  # constants (e.g. a mean/std scale) keep their values
        if p.shape is None or 0 in p.shape:
            continue  # never used by the forward pass, so never initialized
        value = _random_value(name, p.shape, rng)
        if value is not None:
            p.set_data(mx.nd.array(value))

    # Running statistics from the net's own activations: momentum 0 makes one training pass store the batch stats.
    bns = [b for b in _blocks(net) if isinstance(b, nn.BatchNorm)]
    if bns:
        _stats_from_activations(net, bns, input_shape, rng, stats_batch)

    for name, p in params.items():
        if name.endswith("running_var"):
            var = p.data().asnumpy()
            mean_p = params[name[: -len("running_var")] + "running_mean"]
            mean = mean_p.data().asnumpy()
            mean = mean + rng.normal(0, 0.1, mean.shape) * np.sqrt(var)
            var = var * rng.uniform(0.5, 1.5, var.shape)
            mean_p.set_data(mx.nd.array(mean))
            p.set_data(mx.nd.array(var))
        elif name.endswith("gamma"):
            # After the training pass: MXNet overwrites a fix_gamma BatchNorm's stored gamma with 1. Random values
            # here make a converter that ignores fix_gamma visibly wrong.
            p.set_data(mx.nd.array(rng.uniform(0.5, 1.5, p.shape)))
    mx.nd.waitall()


def _stats_from_activations(
    net: Any, bns: list, input_shape: tuple[int, ...], rng: np.random.RandomState, batch: int
) -> None:
    """Momentum 0 makes one training pass store each BatchNorm's batch statistics as its running statistics."""
    import mxnet as mx
    from mxnet import autograd

    saved = [b._kwargs.get("momentum") for b in bns]
    for b in bns:
        b._kwargs["momentum"] = 0.0
    x = mx.nd.array(rng.normal(0, 1, (batch,) + tuple(input_shape[1:])).astype(np.float32))
    with autograd.record():
        out = net(x)
        outs = out if isinstance(out, (list, tuple)) else [out]
        loss = sum(o.sum() for o in outs)
    loss.backward()
    for b, momentum in zip(bns, saved):
        b._kwargs["momentum"] = momentum


def _random_value(name: str, shape: tuple[int, ...], rng: np.random.RandomState) -> np.ndarray | None:
    if name.endswith("weight") and len(shape) >= 2:
        fan_in = int(np.prod(shape[1:]))
        return rng.normal(0, np.sqrt(2.0 / fan_in), shape)
    if name.endswith("bias"):
        return rng.normal(0, 0.1, shape)
    if name.endswith("gamma"):
        return rng.uniform(0.5, 1.5, shape)
    if name.endswith("beta"):
        return rng.normal(0, 0.2, shape)
    if name.endswith("alpha"):
        return rng.uniform(0.05, 0.3, shape)
    return None


def _blocks(block: Any):
    yield block
    for child in block._children.values():
        yield from _blocks(child)
