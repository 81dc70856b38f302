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
SATURATING = {"sigmoid", "tanh", "relu6", "clip"}


def _pool_out(size, k, s, p, convention):
    span = size + 2 * p - k
    return (math.ceil(span / s) if convention == "full" else span // s) + 1


def _taps_see_input(size, k, s, p, d):
    """Whether some output position of a convolution along one axis has a tap on the input (not the padding)."""
    out = (size + 2 * p - d * (k - 1) - 1) // s + 1
    return any(0 <= o * s - p + t * d < size for o in range(out) for t in range(k))


def _live_after(live, k, s, p, d, out):
    """Which output positions along one axis read a position that depends on the network's input."""
    n = len(live)
    return [any(0 <= o * s - p + t * d < n and live[o * s - p + t * d] for t in range(k)) for o in range(out)]


# Value bounds, tracked while drawing so that no drawn activation sees only values where it is constant or saturated
# (relu of negatives, clip(0, 6) of values above 6, sigmoid of values around 8...): its output would not depend on the
# input, and a comparison of it would pass whatever the conversion does.
UNBOUNDED = (-math.inf, math.inf)
# An activation other than leaky/prelu is drawn only where the values can reach this interval.
RESPONSIVE = (-3.0, 3.0)


def _act_bounds(kind, lo, hi):
    sig = lambda v: 1 / (1 + math.exp(-max(min(v, 50), -50)))  # noqa: E731
    softplus = lambda v: v if v > 30 else math.log1p(math.exp(max(v, -50)))  # noqa: E731
    if kind == "relu":
        return max(lo, 0.0), max(hi, 0.0)
    if kind in ("relu6", "clip"):
        a, b = (0.0, 6.0) if kind == "relu6" else (-1.0, 2.5)
        return min(max(lo, a), b), min(max(hi, a), b)
    if kind == "sigmoid":
        return sig(lo), sig(hi)
    if kind == "tanh":
        return math.tanh(max(lo, -50)), math.tanh(min(hi, 50))
    if kind == "softrelu":
        return softplus(lo), softplus(hi)
    return (lo if lo >= 0 else -math.inf), hi  # leaky / prelu: a negative slope of its own


def _scalar_bounds(kind, value, lo, hi):
    if kind == "add":
        return lo + value, hi + value
    if kind == "sub":
        return lo - value, hi - value
    ends = [lo * value, hi * value] if kind == "mul" else [lo / value, hi / value]
    ends = [e if not math.isnan(e) else 0.0 for e in ends]
    return min(ends), max(ends)


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
    # On a small map, dilated taps or a large pad can land every window's taps in the padding: the output would not
    # depend on the input at all (a vacuous comparison). Then that axis takes no dilation and the smallest pad.
    if not _taps_see_input(h, kh, sh, ph, dh):
        dh, ph, eh = 1, max(0, (kh - h + 1) // 2), kh
    if not _taps_see_input(w, kw, sw, pw, dw):
        dw, pw, ew = 1, max(0, (kw - w + 1) // 2), kw
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
    """(input shape, list of op specs). Every drawn network's output depends on its input: the draw tracks which
    positions along C, H, W depend on the input (padding-only windows do not) and the bounds of the values, and
    leaves out an op that would make the output constant (see `_live_after`, RESPONSIVE)."""
    n = draw(st.integers(1, 3))
    c = draw(st.sampled_from([3, 3, 3, 1, 2, 4]))
    h, w = draw(st.integers(5, 17)), draw(st.integers(5, 17))
    shape = (n, c, h, w)
    ops = []
    flat = False  # after a Dense with flatten=True the tensor is (N, F)
    live = [[True] * c, [True] * h, [True] * w]  # per axis: positions that depend on the input
    bounds = UNBOUNDED
    # After a saturating activation, until a layer mixes positions again, most values sit on the same bound: a global
    # max of them is (nearly) the same for every input, so the comparison would be vacuous. Global pooling averages.
    saturated = False
    # After a global pooling, one value per channel summarizes a whole map and moves little between inputs: a
    # saturating activation there would be constant to within the tolerance.
    pooled = False
    se_used = False
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
        if kind == "se" and (se_used or c < 2):
            # A second gate, or a gate over one channel (LSUV then scales a single value per sample), can close
            # completely for a new input (outputs ~1e-31, found by the fuzz profile).
            continue
        before = (c, h, w, flat)
        new_live = [list(a) for a in live]
        if kind == "conv":
            spec, (oc, oh, ow) = draw(conv_spec(c, h, w))
            (kh, kw), (sh, sw), (ph, pw), (dh, dw) = spec["kernel"], spec["strides"], spec["padding"], spec["dilation"]
            new_live = [
                [any(live[0])] * oc,
                _live_after(live[1], kh, sh, ph, dh, oh),
                _live_after(live[2], kw, sw, pw, dw, ow),
            ]
            c, h, w = oc, oh, ow
        elif kind == "bn":
            spec = dict(
                op="bn",
                eps=draw(st.sampled_from([1e-5, 1e-3, 0.1, 2e-5])),
                fix_gamma=draw(st.booleans()),
                center=draw(st.booleans()),
            )
        elif kind == "act":
            choices = ACTIVATIONS
            if pooled:
                choices = [a for a in ACTIVATIONS if a not in SATURATING]
            if bounds[1] <= RESPONSIVE[0] or bounds[0] >= RESPONSIVE[1]:
                choices = ["leaky", "prelu"]
            spec = dict(
                op="act", kind=draw(st.sampled_from(choices)), slope=draw(st.sampled_from([0.1, 0.25])), channels=c
            )
        elif kind == "pool":
            drawn = draw(pool_spec(c, h, w))
            if drawn is None:
                continue
            spec, (c, oh, ow) = drawn
            k, st_, pd = spec["kernel"], spec["stride"], spec["pad"]
            new_live[1], new_live[2] = _live_after(live[1], k, st_, pd, 1, oh), _live_after(live[2], k, st_, pd, 1, ow)
            h, w = oh, ow
            if draw(st.booleans()) and h > 1 and w > 1:
                spec = dict(op="globalpool", kind="avg" if saturated else spec["kind"])
                h = w = 1
                new_live[1], new_live[2] = [any(live[1])], [any(live[2])]
        elif kind == "residual":
            k = draw(st.sampled_from([1, 3, 5]))
            spec = dict(op="residual", channels=c, kernel=k)
        elif kind == "concat":
            extra = draw(st.integers(1, 4))
            spec = dict(op="concat", channels=extra)
            c += extra
            new_live[0] = live[0] + [any(live[0])] * extra
        elif kind == "se":
            spec = dict(op="se", channels=c, hidden=draw(st.integers(2, 4)))
        elif kind == "dense":
            units = draw(st.integers(1, 10))
            flatten = flat or draw(st.booleans())
            spec = dict(op="dense", units=units, flatten=flatten, use_bias=draw(st.booleans()))
            if flatten:
                alive = flat and any(live[0]) or all(any(a) for a in live)
                flat, c = True, units
                new_live = [[alive] * units, [True], [True]]
            else:
                w = units
                new_live[2] = [any(live[2])] * units
        elif kind == "transpose":
            axes = draw(st.sampled_from([(0, 1, 3, 2), (0, 2, 3, 1), (0, 3, 1, 2), (0, 2, 1, 3)]))
            spec = dict(op="transpose", axes=axes)
            dims = [None, c, h, w]
            c, h, w = dims[axes[1]], dims[axes[2]], dims[axes[3]]
            new_live = [live[axes[i] - 1] for i in (1, 2, 3)]
        elif kind == "reshape":
            spec = dict(op="reshape", shape=(0, -1, w))  # merges C and H
            new_live = [[a and b for a in live[0] for b in live[1]], [True], live[2]]
            c, h = c * h, 1
            spec["shape"] = (0, c, 1, w)
        else:
            spec = dict(
                op="scalar",
                kind=draw(st.sampled_from(["add", "mul", "sub", "div"])),
                value=draw(st.sampled_from([0.5, -1.5, 3.0, 6.0])),
            )
        if not all(any(a) for a in new_live):
            # Every remaining position reads only padding: the output would not depend on the input. Leave it out.
            c, h, w, flat = before
            continue
        live = new_live
        bounds = _next_bounds(kind, spec, bounds)
        if kind in ("conv", "residual", "concat", "se", "dense"):
            saturated = False
        elif kind == "act":
            saturated = saturated or spec["kind"] in SATURATING
        pooled = spec["op"] == "globalpool" or (
            pooled and kind not in ("conv", "residual", "concat", "se", "dense", "bn")
        )
        se_used = se_used or kind == "se"
        ops.append(spec)
    return shape, ops


def _next_bounds(kind, spec, bounds):
    lo, hi = bounds
    if kind == "act":
        return _act_bounds(spec["kind"], lo, hi)
    if kind == "scalar":
        return _scalar_bounds(spec["kind"], spec["value"], lo, hi)
    if kind == "se":  # x times a gate in (0, 1)
        return min(lo, 0.0), max(hi, 0.0)
    if kind in ("pool", "transpose", "reshape"):
        return bounds
    return UNBOUNDED  # conv, BatchNorm, dense, residual, concat: affine maps of the statistics randomize sets


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
