"""gluon2caffe: convert MXNet Gluon models to Caffe models that compute the same numbers."""

from __future__ import annotations

import logging

from .api import ConversionResult, convert, convert_model, convert_ssd_model, save_model
from .errors import (
    ConversionError,
    Gluon2CaffeError,
    InvalidAttributeError,
    InvalidCallError,
    UnsupportedOperatorError,
)

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "ConversionError",
    "ConversionResult",
    "Gluon2CaffeError",
    "InvalidAttributeError",
    "InvalidCallError",
    "UnsupportedOperatorError",
    "convert",
    "convert_model",
    "convert_ssd_model",
    "save_model",
]
__version__ = "0.1.0"
