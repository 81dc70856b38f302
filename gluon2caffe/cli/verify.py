"""`gluon2caffe verify`: run converted files and the MXNet model on one input and compare."""

from __future__ import annotations

import argparse
import os

from ..errors import Gluon2CaffeError
from .common import EXIT_FAILURE, EXIT_OK, PASSING, classes_from, print_detector_check, print_local


def run(args: argparse.Namespace) -> int:
    from ..tools.models import load_model
    from ..verification import input_specs, plot_layers, read_prototxt, verify

    classes = classes_from(args)
    prototxt, caffemodel = f"{args.prefix}.prototxt", f"{args.prefix}.caffemodel"
    for path in (prototxt, caffemodel):
        if not os.path.isfile(path):
            raise Gluon2CaffeError(f"{path} does not exist (PREFIX is the path without .prototxt/.caffemodel)")
    shape = next(iter(input_specs(read_prototxt(prototxt)).values()))  # a zoo model's (one) input
    model, description = load_model(args.against, shape, args.params, args.epoch, classes)
    from ..api import read_detector_head
    from ..detectors import detector_for

    family = detector_for(model)
    if family is not None:
        print(f"{args.prefix} against {description}")
        if args.layers or args.plot or args.all:
            raise Gluon2CaffeError(
                "--layers, --plot and --all compare classifier blobs; for a detector use --local (backbone and "
                "heads on MXNet's inputs), the decoding and NMS are checked end to end"
            )
        head = read_detector_head(model, shape)
        return print_detector_check(
            family, model, head, prototxt, caffemodel, args.runtime, not args.no_bgr, args.input, args.seed, args.local
        )
    if args.all and not args.local:
        raise Gluon2CaffeError("--all goes with --local")
    mode = "local" if args.local else ("accumulated" if args.layers or args.plot else False)
    result = verify(
        prototxt,
        caffemodel,
        model,
        runtime=args.runtime,
        input=args.input or "random",
        layers=mode,
        to_bgr=not args.no_bgr,
        seed=args.seed,
    )
    print(f"{args.prefix} against {description}")
    print(
        f"  runtime: {result.runtime}; input: {result.input_description}; "
        f"{'BGR' if not args.no_bgr else 'RGB'} fed to Caffe"
    )
    for name, c in result.outputs.items():
        print(f"  output {name}: {c}")
    if mode == "accumulated":
        print(result.layer_table())
        first = result.first_divergence
        if first is None:
            print(f"every compared blob ({len(result.layers)}) is within the tolerance")
        else:
            print(
                f"first blob above the tolerance: {first.blob} (layer {first.layer}), "
                f"relative error {first.comparison.relative:.3g}"
            )
    if result.local is not None:
        print_local(result.local, args.all)
        print(f"  status: {result.status}")
    if args.plot:
        print(f"plot: {plot_layers(result, args.plot)}")
    return EXIT_OK if result.status in PASSING else EXIT_FAILURE
