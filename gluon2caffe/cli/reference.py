"""`gluon2caffe reference`: where MXNet runs, save a model's input and outputs for `verify --reference`."""

from __future__ import annotations

import argparse

from .common import EXIT_OK, Progress, UsageError, classes_from, input_shape_option


def run(args: argparse.Namespace) -> int:
    from ..tools.models import check_zoo_name, default_input_shape, is_exported_model, load_model
    from ..verification import save_reference

    classes = classes_from(args)
    output = args.output if args.output.endswith(".npz") else f"{args.output}.npz"
    model_name = args.model
    zoo = not (is_exported_model(model_name) or "/" in model_name or model_name.endswith((".json", ".params")))
    if zoo and model_name.startswith(("ssd_", "yolo3_")):
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
