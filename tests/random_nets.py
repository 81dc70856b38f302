"""A hypothesis strategy for random Gluon networks built from the supported layer set.

A network is a list of op specs applied to a tensor whose shape is tracked while drawing, so every drawn network is
valid in MXNet: convolutions (kernel 1-7, pad, stride 1-3, dilation, groups), BatchNorm (random eps, fix_gamma),
activations (relu, sigmoid, tanh, softrelu, clip(0,6), leaky, prelu), pooling (max/avg, both conventions,
count_include_pad), residual adds, concats, SE-style per-channel products, Dense (flatten True/False),
reshape/transpose, scalar arithmetic. Specs are plain data, so hypothesis shrinks a failure to a minimal network.
"""

from __future__ import annotations

import math

from hypothesis import strategies as st
from mxnet.gluon import HybridBlock, nn

ACTIVATIONS = ["relu", "sigmoid", "tanh", "softrelu", "relu6", "leaky", "prelu", "clip"]


def _pool_out(size, k, s, p, convention):
    span = size + 2 * p - k
    return (math.ceil(span / s) if convention == "full" else span // s) + 1


@st.composite
def conv_spec(draw, c, h, w):
    k = draw(st.integers(1, 7)) if draw(st.booleans()) else None
    kh, kw = (k, k) if k else (draw(st.integers(1, 7)), draw(st.integers(1, 7)))
    dh = draw(st.integers(1, 2)) if kh > 1 else 1
    dw = draw(st.integers(1, 2)) if kw > 1 else 1
    ph, pw = draw(st.integers(0, kh // 2 * dh + 1)), draw(st.integers(0, kw // 2 * dw + 1))
    eh, ew = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    if h + 2 * ph < eh or w + 2 * pw < ew:
        ph, pw = max(ph, (eh - h + 1) // 2), max(pw, (ew - w + 1) // 2)
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    groups = draw(st.sampled_from([g for g in (1, 2, 3, c) if c % g == 0]))
    out = groups * draw(st.integers(1, 4)) if groups > 1 else draw(st.integers(1, 8))
    bias = draw(st.booleans())
    oh, ow = (h + 2 * ph - eh) // sh + 1, (w + 2 * pw - ew) // sw + 1
    return dict(
        op="conv",
        channels=out,
        kernel=(kh, kw),
        strides=(sh, sw),
        padding=(ph, pw),
        dilation=(dh, dw),
        groups=groups,
        use_bias=bias,
    ), (out, oh, ow)


@st.composite
def pool_spec(draw, c, h, w):
    k = draw(st.integers(1, min(4, h, w) if min(h, w) > 0 else 1))
    s = draw(st.integers(1, 3))
    p = draw(st.integers(0, (k - 1) // 2 if k > 1 else 0))
    convention = draw(st.sampled_from(["valid", "full"]))
    kind = draw(st.sampled_from(["max", "avg"]))
    include_pad = draw(st.booleans())
    oh, ow = _pool_out(h, k, s, p, convention), _pool_out(w, k, s, p, convention)
    if oh < 1 or ow < 1:
        return None
    if (oh - 1) * s >= h + p or (ow - 1) * s >= w + p:
        return None  # a window entirely outside the input: MXNet itself computes -FLT_MAX or 0/0 there
    return dict(
        op="pool", kind=kind, kernel=k, stride=s, pad=p, convention=convention, count_include_pad=include_pad
    ), (c, oh, ow)


@st.composite
def network_spec(draw, max_ops=6):
    """(input shape, list of op specs)."""
    n = draw(st.integers(1, 3))
    c = draw(st.sampled_from([3, 3, 3, 1, 2, 4]))
    h, w = draw(st.integers(5, 17)), draw(st.integers(5, 17))
    shape = (n, c, h, w)
    ops = []
    flat = False  # after a Dense with flatten=True the tensor is (N, F)
    for _ in range(draw(st.integers(1, max_ops))):
        kinds = (
            ["dense"]
            if flat
            else [
                "conv",
                "conv",
                "bn",
                "act",
                "act",
                "pool",
                "residual",
                "concat",
                "se",
                "dense",
                "transpose",
                "reshape",
                "scalar",
            ]
        )
        kind = draw(st.sampled_from(kinds))
        if kind == "conv":
            spec, (c, h, w) = draw(conv_spec(c, h, w))
        elif kind == "bn":
            spec = dict(
                op="bn",
                eps=draw(st.sampled_from([1e-5, 1e-3, 0.1, 2e-5])),
                fix_gamma=draw(st.booleans()),
                center=draw(st.booleans()),
            )
        elif kind == "act":
            spec = dict(
                op="act", kind=draw(st.sampled_from(ACTIVATIONS)), slope=draw(st.sampled_from([0.1, 0.25])), channels=c
            )
        elif kind == "pool":
            drawn = draw(pool_spec(c, h, w))
            if drawn is None:
                continue
            spec, (c, h, w) = drawn
            if draw(st.booleans()) and h > 1 and w > 1:
                spec = dict(op="globalpool", kind=spec["kind"])
                h = w = 1
        elif kind == "residual":
            k = draw(st.sampled_from([1, 3, 5]))
            spec = dict(op="residual", channels=c, kernel=k)
        elif kind == "concat":
            extra = draw(st.integers(1, 4))
            spec = dict(op="concat", channels=extra)
            c += extra
        elif kind == "se":
            spec = dict(op="se", channels=c, hidden=draw(st.integers(1, 4)))
        elif kind == "dense":
            units = draw(st.integers(1, 10))
            flatten = flat or draw(st.booleans())
            spec = dict(op="dense", units=units, flatten=flatten, use_bias=draw(st.booleans()))
            if flatten:
                flat, c = True, units
            else:
                w = units
        elif kind == "transpose":
            axes = draw(st.sampled_from([(0, 1, 3, 2), (0, 2, 3, 1), (0, 3, 1, 2), (0, 2, 1, 3)]))
            spec = dict(op="transpose", axes=axes)
            dims = [None, c, h, w]
            c, h, w = dims[axes[1]], dims[axes[2]], dims[axes[3]]
        elif kind == "reshape":
            spec = dict(op="reshape", shape=(0, -1, w))  # merges C and H
            c, h = c * h, 1
            spec["shape"] = (0, c, 1, w)
        else:
            spec = dict(
                op="scalar",
                kind=draw(st.sampled_from(["add", "mul", "sub", "div"])),
                value=draw(st.sampled_from([0.5, -1.5, 3.0, 6.0])),
            )
        ops.append(spec)
    return shape, ops


class RandomNet(HybridBlock):
    """The network a spec describes."""

    def __init__(self, ops):
        super().__init__()
        self.ops = ops
        self.layers = []
        with self.name_scope():
            for i, spec in enumerate(ops):
                blocks = self._blocks(spec)
                for j, block in enumerate(blocks):
                    self.register_child(block, f"op{i}_{j}")
                self.layers.append(blocks)

    @staticmethod
    def _blocks(spec):
        op = spec["op"]
        if op == "conv":
            return [
                nn.Conv2D(
                    spec["channels"],
                    spec["kernel"],
                    spec["strides"],
                    spec["padding"],
                    spec["dilation"],
                    groups=spec["groups"],
                    use_bias=spec["use_bias"],
                )
            ]
        if op == "bn":
            return [nn.BatchNorm(epsilon=spec["eps"], scale=not spec["fix_gamma"], center=spec["center"])]
        if op == "act" and spec["kind"] == "prelu":
            return [nn.PReLU(in_channels=spec["channels"])]
        if op == "residual":
            k = spec["kernel"]
            return [nn.Conv2D(spec["channels"], k, padding=k // 2)]
        if op == "concat":
            return [nn.Conv2D(spec["channels"], 3, padding=1)]
        if op == "se":
            return [nn.Dense(spec["hidden"]), nn.Dense(spec["channels"])]
        if op == "dense":
            return [nn.Dense(spec["units"], flatten=spec["flatten"], use_bias=spec["use_bias"])]
        return []

    def hybrid_forward(self, F, x):
        for spec, blocks in zip(self.ops, self.layers):
            x = self._apply(F, spec, blocks, x)
        return x

    @staticmethod
    def _apply(F, spec, blocks, x):
        op = spec["op"]
        if op in ("conv", "bn", "dense"):
            return blocks[0](x)
        if op == "act":
            kind = spec["kind"]
            if kind == "prelu":
                return blocks[0](x)
            if kind == "relu6":
                return F.clip(x, 0, 6)
            if kind == "clip":
                return F.clip(x, -1.0, 2.5)
            if kind == "leaky":
                return F.LeakyReLU(x, act_type="leaky", slope=spec["slope"])
            return F.Activation(x, act_type=kind)
        if op == "pool":
            return F.Pooling(
                x,
                kernel=(spec["kernel"],) * 2,
                stride=(spec["stride"],) * 2,
                pad=(spec["pad"],) * 2,
                pool_type=spec["kind"],
                pooling_convention=spec["convention"],
                count_include_pad=spec["count_include_pad"],
            )
        if op == "globalpool":
            return F.Pooling(x, kernel=(1, 1), global_pool=True, pool_type=spec["kind"])
        if op == "residual":
            return F.elemwise_add(x, blocks[0](F.relu(x)))
        if op == "concat":
            return F.concat(x, blocks[0](x), dim=1)
        if op == "se":
            gate = F.sigmoid(blocks[1](F.relu(blocks[0](F.contrib.AdaptiveAvgPooling2D(x, 1)))))
            return F.broadcast_mul(x, F.reshape(gate, (0, 0, 1, 1)))
        if op == "transpose":
            return F.transpose(x, axes=spec["axes"])
        if op == "reshape":
            return F.reshape(x, spec["shape"])
        if op == "scalar":
            v = spec["value"]
            return {"add": x + v, "mul": x * v, "sub": x - v, "div": x / v}[spec["kind"]]
        raise ValueError(op)
