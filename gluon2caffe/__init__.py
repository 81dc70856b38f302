"""gluon2caffe: convert MXNet Gluon models to Caffe models that compute the same numbers."""

from __future__ import annotations

import logging

from .api import ConversionResult, convert, convert_model, convert_ssd_model, convert_yolo_model, save_model
from .card import load_card, model_card
from .errors import (
    ConversionError,
    Gluon2CaffeError,
    InputShapeError,
    InvalidAttributeError,
    InvalidCallError,
    InvalidWeightsError,
    ModelFileError,
    MXNetUnavailableError,
    UnsupportedOperatorError,
    UntraceableBlockError,
)
from .frontend.exported import ExportedModel, load_exported
from .ir.preprocess import Preprocess
from .verification import SavedReference, VerificationResult, load_reference, save_reference, verify

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "ConversionError",
    "ConversionResult",
    "Gluon2CaffeError",
    "InvalidAttributeError",
    "InvalidCallError",
    "InvalidWeightsError",
    "InputShapeError",
    "UntraceableBlockError",
    "ExportedModel",
    "ModelFileError",
    "load_exported",
    "UnsupportedOperatorError",
    "convert",
    "convert_model",
    "convert_ssd_model",
    "convert_yolo_model",
    "save_model",
    "VerificationResult",
    "verify",
    "SavedReference",
    "load_reference",
    "save_reference",
    "MXNetUnavailableError",
    "Preprocess",
    "model_card",
    "load_card",
]
__version__ = "0.1.0"
