"""Per-op converters, one module per op family. Importing this package fills the registry."""

from . import (  # noqa: F401  (imported for their registrations)
    activation,
    arith,
    batchnorm,
    clip,
    compare,
    constant,
    conv,
    deconv,
    dense,
    elemwise,
    extrema,
    gather,
    layernorm,
    lrn,
    matmul,
    normalize,
    pad,
    pooling,
    reduce,
    resample,
    scalar,
    shape,
    softmax,
    split,
    tile,
    training,
    unary,
)
from .registry import REGISTRY, support_table

__all__ = ["REGISTRY", "support_table"]
