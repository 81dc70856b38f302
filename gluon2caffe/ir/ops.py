"""What MXNet ops mean, shared by the passes and the converters: op traits and attribute semantics.

Everything here reads IR nodes and shapes only (no Caffe, no MXNet), so a pass can ask what a converter would
(e.g. the BatchNorm fold and the BatchNorm converter compute with the same gamma/beta/mean/var/eps).
"""

from __future__ import annotations

import numpy as np

from ..errors import ConversionError
from .graph import Node

# Arithmetic with a scalar attribute (converters/scalar.py writes them as Power).
SCALAR_OPS = (
    "_plus_scalar",
    "_minus_scalar",
    "_rminus_scalar",
    "_mul_scalar",
    "_div_scalar",
    "_rdiv_scalar",
    "_power_scalar",
)

# Identities at inference (passes/remove_identities.py removes them; Dropout mode 'always' is refused there): the
# training heads and gradient stops among them compute y = x forward (MXNet 1.9.1 regression_output-inl.h,
# svm_output-inl.h, make_loss); their label input, if any, is dropped when the graph is read (LOSS_HEAD_OPS).
IDENTITY_OPS = (
    "Dropout",
    "_copy",
    "identity",
    "BlockGrad",
    "stop_gradient",
    "MakeLoss",
    "make_loss",
    "LinearRegressionOutput",
    "MAERegressionOutput",
    "SVMOutput",
)
# Training heads whose inputs past the data (index >= 1) are labels: read at training only, never at inference, so
# they are not data inputs of the converted net (frontend/mxnet_graph.label_variables). "Softmax" is MXNet's old
# alias of SoftmaxOutput.
LOSS_HEAD_OPS = (
    "SoftmaxOutput",
    "Softmax",
    "LogisticRegressionOutput",
    "LinearRegressionOutput",
    "MAERegressionOutput",
    "SVMOutput",
)
# Cast to these types is an identity in Caffe's float32 (any other dtype is refused by converters/training.py).
IDENTITY_CASTS = ("float32",)
# Identities when given one input: a sum or a concatenation of one tensor (Caffe's Eltwise needs two bottoms and
# aborts loading the net; a one-bottom Concat loads in Caffe, but it is a copy all the same).
ONE_INPUT_IDENTITY_OPS = ("add_n", "Concat", "concat")


def is_identity(node: Node) -> bool:
    """Whether `node` passes its one input through unchanged at inference (IDENTITY_OPS, ONE_INPUT_IDENTITY_OPS)."""
    if node.op in ("Cast", "cast"):
        return node.attrs.str("dtype") in IDENTITY_CASTS
    return node.op in IDENTITY_OPS or (node.op in ONE_INPUT_IDENTITY_OPS and len(node.inputs) == 1)


# Ops that act on each channel on its own: a channel-swapped input gives a channel-swapped output.
CHANNELWISE_OPS = frozenset(
    {
        "Activation",
        "relu",
        "sigmoid",
        "tanh",
        "clip",
        "Pooling",
        "Dropout",
        "_copy",
        "identity",
        "Pad",
        "UpSampling",
        "_contrib_BilinearResize2D",
        "_contrib_AdaptiveAvgPooling2D",
        *SCALAR_OPS,
    }
)

# MXNet's BatchNorm defaults, used when a node carries no attributes (symbol API); Gluon writes its own (eps 1e-5).
BN_DEFAULT_EPS = 1e-3
BN_DEFAULT_FIX_GAMMA = True


def positive_axis(node: Node, key: str, axis: int, ndim: int) -> int:
    if not -ndim <= axis < ndim:
        raise ConversionError(f"is {axis}, out of range for a {ndim}-D input", node.name, node.op, key)
    return axis % ndim


def parameter_inputs(node: Node) -> dict[int, str]:
    """{input index: role} of the inputs `node`'s Caffe layer stores as its blobs (weights, bias, BatchNorm's
    statistics, PReLU's slopes, Normalize's scale, the normalizations' gamma and beta): they must be parameters,
    known when the files are written."""
    op, a = node.op, node.attrs
    if op in ("Convolution", "Deconvolution", "FullyConnected"):
        roles = {1: "weight"}
        if not a.bool("no_bias", op == "Deconvolution"):  # MXNet's Deconvolution has no bias by default
            roles[2] = "bias"
    elif op == "BatchNorm":
        roles = {1: "gamma", 2: "beta", 3: "moving_mean", 4: "moving_var"}
    elif op == "LeakyReLU" and a.str("act_type", "leaky") == "prelu":
        roles = {1: "gamma"}
    elif op == "UpSampling" and a.str("sample_type", "nearest") == "bilinear":
        roles = {1: "weight"}
    elif op == "L2Normalization":
        roles = {1: "scale"}  # only after fuse_normalize_scale gives it one
    elif op in ("InstanceNorm", "LayerNorm", "GroupNorm"):
        roles = {1: "gamma", 2: "beta"}
    else:
        return {}
    return {index: role for index, role in roles.items() if index < len(node.inputs)}


def batchnorm_params(node: Node, params: dict[str, np.ndarray]) -> tuple[np.ndarray, ...]:
    """(gamma, beta, mean, var, eps) as MXNet computes with them: gamma is 1 when fix_gamma is set."""
    a = node.attrs
    eps = a.float("eps", BN_DEFAULT_EPS)
    fix_gamma = a.bool("fix_gamma", BN_DEFAULT_FIX_GAMMA)
    gamma, beta, mean, var = (params[t].astype(np.float64) for t in node.inputs[1:5])
    if fix_gamma:
        gamma = np.ones_like(gamma)
    return gamma, beta, mean, var, eps


def batchnorm_axis(node: Node, ndim: int) -> int:
    return positive_axis(node, "axis", node.attrs.int("axis", 1), ndim)


def pad_amounts(node: Node) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) of a 4-D constant Pad; raises for anything Caffe cannot express."""
    a = node.attrs
    mode = a.str("mode", "constant")
    if mode != "constant":
        raise ConversionError(f"is {mode!r}; only constant padding converts", node.name, node.op, "mode")
    width = a.int_tuple("pad_width")
    if len(width) != 8:
        raise ConversionError(f"is {width}; only 4-D (NCHW) padding converts", node.name, node.op, "pad_width")
    if any(width[:4]) or min(width) < 0:
        raise ConversionError(
            f"is {width}; only non-negative padding of H and W converts", node.name, node.op, "pad_width"
        )
    return width[4], width[5], width[6], width[7]


def constant_run(node: Node, const_shape: tuple[int, ...], out_shape: tuple[int, ...]) -> tuple[int, int] | None:
    """For a tensor broadcast against `out_shape`: (first axis, number of axes) of its non-1 run, None if scalar.

    Caffe Scale/Bias take a second operand whose shape equals a contiguous run of the first's axes, so the operand
    must be 1 outside that run and match the output inside it; otherwise this raises.
    """
    run = broadcast_run(const_shape, out_shape)
    if run is False:
        raise ConversionError(
            f"operand of shape {const_shape} broadcasts inside a run of axes against {out_shape}; "
            "Caffe Scale/Bias need it to match a contiguous run of the input's axes",
            node.name,
            node.op,
        )
    return run


def broadcast_run(shape: tuple[int, ...], out_shape: tuple[int, ...]) -> tuple[int, int] | None | bool:
    """(axis, num_axes) of the contiguous run where `shape` equals `out_shape` (1 elsewhere); None: all ones;
    False: no such run."""
    ndim = len(out_shape)
    if len(shape) > ndim:
        return False
    padded = (1,) * (ndim - len(shape)) + tuple(shape)
    differs = [i for i in range(ndim) if padded[i] != out_shape[i]]
    if any(padded[i] != 1 for i in differs):
        return False
    equal = [i for i in range(ndim) if padded[i] != 1]
    if not equal:
        return None
    first, last = equal[0], equal[-1]
    if any(padded[i] == 1 and out_shape[i] != 1 for i in range(first, last + 1)):
        return False
    return first, last - first + 1


# Separable linear resamplings (out = R . X . C^T): the frontend measures R and C from MXNet's own operator when it
# reads the graph and stores them under this attribute; the converters write them as InnerProducts.
SEPARABLE = "__separable_weights__"


def needs_separable_weights(node: Node, in_shape: tuple[int, ...], out_shape: tuple[int, ...]) -> bool:
    """Whether the converter writes `node` as a separable resampling (adaptive pooling only where no Pooling fits)."""
    if len(in_shape) != 4 or len(out_shape) != 4:
        return False  # the converters refuse it
    if node.op == "_contrib_BilinearResize2D":
        return True
    if node.op != "_contrib_AdaptiveAvgPooling2D":
        return False
    (_, _, height, width), (_, _, oh, ow) = in_shape, out_shape
    return (oh, ow) != (1, 1) and not (height % oh == 0 and width % ow == 0)


def separable_weights(node: Node) -> tuple[np.ndarray, np.ndarray]:
    """(rows H_out x H, cols W_out x W) the frontend measured for `node`."""
    if SEPARABLE not in node.attrs:
        raise ConversionError(
            "resampling weights were not measured (read the graph with the frontend)", node.name, node.op
        )
    return node.attrs.typed[SEPARABLE]


def has_rgb_axis(shape: tuple[int, ...]) -> bool:
    """An input to_bgr swaps: rank >= 3 with 3 channels on axis 1 (N, 3, ...). The passes and the verification (which
    feeds such inputs in BGR) ask the same question."""
    return len(shape) >= 3 and shape[1] == 3
