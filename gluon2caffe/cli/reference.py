"""`gluon2caffe reference`: where MXNet runs, save a model's input and outputs for `verify --reference`."""

from __future__ import annotations

import argparse

from .arguments import MODEL_HELP, add_model_source, shape
from .common import EXIT_OK, Progress, UsageError, classes_from, input_shape_option


HELP = "run a model in MXNet on one input and save the input and outputs (for verify --reference)"
DESCRIPTION = (
    "Where MXNet runs (Python <= 3.11): run MODEL on one input and save the input and MXNet's outputs to "
    "FILE.npz, for `gluon2caffe verify PREFIX --reference FILE.npz` where MXNet does not run."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", metavar="MODEL", help=MODEL_HELP)
    p.add_argument("-o", "--output", required=True, metavar="FILE.npz", help="where to save (.npz is added if missing)")
    p.add_argument(
        "--input-shape",
        type=shape,
        action="append",
        metavar="[NAME:]N,C,H,W",
        help="input shape, as for convert (the same one: the Caffe net's input must match)",
    )
    p.add_argument(
        "--input",
        metavar="IMAGE|random|scene",
        help="an image (resized, ImageNet mean/std), 'random' both-sign noise (default) or 'scene'",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the random input (default 0)")
    add_model_source(p)


def run(args: argparse.Namespace) -> int:
    from ..zoo.catalog import is_zoo_name, lookup
    from ..zoo.loader import check_zoo_name, default_input_shape, load_model
    from ..verification import save_reference

    classes = classes_from(args)
    output = args.output if args.output.endswith(".npz") else f"{args.output}.npz"
    model_name = args.model
    zoo = is_zoo_name(model_name)
    entry = lookup(model_name) if zoo else None
    if entry is not None and entry.checks_detections:
        raise UsageError(DETECTORS)
    progress = Progress(getattr(args, "quiet", False))
    progress.imports("gluon2caffe reference (it runs the model in MXNet: run it where MXNet runs)", zoo)
    if zoo:
        check_zoo_name(model_name)
    shape = input_shape_option(args.input_shape) or default_input_shape(model_name) or (1, 3, 224, 224)
    first = shape if isinstance(shape, tuple) else next(iter(shape.values() if isinstance(shape, dict) else shape))
    model, description = load_model(model_name, first, args.params, args.epoch, classes, progress.step)
    from ..detectors import detector_for

    if detector_for(model) is not None:
        raise UsageError(DETECTORS)
    with progress.step("run"):
        saved = save_reference(model, shape, output, input=args.input, seed=args.seed, description=description)
    print(f"{description}")
    print(f"  input: {saved.meta['input']}; " + ", ".join(f"{n} {tuple(a.shape)}" for n, a in saved.inputs.items()))
    for name, value in saved.outputs.items():
        print(f"  output {name}: {tuple(value.shape)}")
    print(f"  also each output for a second input (the input-dependence check): {saved.meta['second_input']}")
    print(f"  wrote {output} ({progress.summary()})")
    print(f"  on the machine without MXNet: gluon2caffe verify PREFIX --reference {output}")
    return EXIT_OK


DETECTORS = (
    "reference: an SSD / YOLOv3's Caffe output (DetectionOutput, after NMS) has no MXNet tensor to save for it; "
    "verify detectors with --against where MXNet runs"
)
