"""Run a converted model in a real runtime (pycaffe, OpenCV DNN, ...) and compare it with MXNet.

`verify(...)` is the library entry point (the CLI's `gluon2caffe verify` and the tests use it): it runs the Caffe
files and the MXNet model on the same input and returns a VerificationResult with the error of every output and,
on request, of every intermediate blob that has an MXNet counterpart (Caffe blobs are named after the MXNet tensors
whose values they hold), so a user sees where a conversion goes wrong.

This module only re-exports; each job has its module: compare.py (the tolerance rule, input dependence, verdicts),
inputs.py, caffe_net.py, mxnet_reference.py, verify.py, plots.py, verdicts.py (the approximate verdicts),
precision.py (float16), reference.py (saved outputs), local.py (layer-local), runtimes.py (the runtimes' registry),
detectors.py (what every detector check shares).
"""

from ..caffe.io import read_prototxt
from .caffe_net import caffe_blob_shapes, input_spec, input_specs, net_outputs, run_converted
from .compare import (
    BY_LAYER,
    CONCLUSIVE_REMEDY,
    DEPENDENCE,
    EXACT,
    MISMATCH,
    NOT_CONCLUSIVE,
    NOT_FINITE,
    TOLERANCE,
    Comparison,
    Dependence,
    ShapeDifference,
    compare,
    describe_shape_differences,
    input_dependence,
    judge,
    rule_text,
)
from .inputs import (
    BGR,
    IMAGENET_MEAN,
    IMAGENET_STD,
    NOISE,
    SECOND_IMAGE_NOISE,
    bgr_feed,
    load_image,
    make_input,
    make_inputs,
    perturbed_input,
    second_inputs,
    synthetic_scene,
)
from .mxnet_reference import MXNetReference, mxnet_forward
from .plots import PLOT_DPI, PLOT_MAX_NAMES, PLOT_MAX_WIDTH, plot_layers, plot_size
from .precision import compare_in, verdict_in
from .reference import SavedReference, load_reference, save_reference, verify_reference
from .runtimes import (
    RUNTIMES,
    Runtime,
    RuntimeUnavailableError,
    caffe_forward,
    default_runtime,
    forward,
    opencv_forward,
    register_runtime,
)
from .verify import BlobError, VerificationResult, local_failure, shape_differences, verify

__all__ = [
    "BGR",
    "BY_LAYER",
    "BlobError",
    "CONCLUSIVE_REMEDY",
    "Comparison",
    "DEPENDENCE",
    "Dependence",
    "EXACT",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "MISMATCH",
    "MXNetReference",
    "NOISE",
    "NOT_CONCLUSIVE",
    "NOT_FINITE",
    "PLOT_DPI",
    "PLOT_MAX_NAMES",
    "PLOT_MAX_WIDTH",
    "RUNTIMES",
    "Runtime",
    "RuntimeUnavailableError",
    "SECOND_IMAGE_NOISE",
    "SavedReference",
    "ShapeDifference",
    "TOLERANCE",
    "VerificationResult",
    "bgr_feed",
    "caffe_blob_shapes",
    "caffe_forward",
    "compare",
    "compare_in",
    "default_runtime",
    "describe_shape_differences",
    "forward",
    "input_dependence",
    "input_spec",
    "input_specs",
    "judge",
    "load_image",
    "load_reference",
    "local_failure",
    "make_input",
    "make_inputs",
    "mxnet_forward",
    "net_outputs",
    "opencv_forward",
    "perturbed_input",
    "plot_layers",
    "plot_size",
    "read_prototxt",
    "register_runtime",
    "rule_text",
    "run_converted",
    "save_reference",
    "second_inputs",
    "shape_differences",
    "synthetic_scene",
    "verdict_in",
    "verify",
    "verify_reference",
]
