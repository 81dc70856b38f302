"""Per-op converters, one module per op family. Importing this package fills the registry."""

from . import (  # noqa: F401  (imported for their registrations)
    activation,
    batchnorm,
    clip,
    conv,
    deconv,
    dense,
    elemwise,
    extrema,
    layernorm,
    lrn,
    normalize,
    pad,
    pooling,
    reduce,
    resample,
    scalar,
    shape,
    softmax,
    unary,
)
from .registry import REGISTRY, support_table

__all__ = ["REGISTRY", "support_table"]
