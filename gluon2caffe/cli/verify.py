"""`gluon2caffe verify`: run converted files and the MXNet model on one input and compare."""

from __future__ import annotations

import argparse
import os

from ..verification.runtimes import RUNTIMES
from .arguments import MODEL_HELP, add_model_source
from .common import (
    EXIT_FAILURE,
    EXIT_OK,
    PASSING,
    Progress,
    UsageError,
    classes_from,
    print_dependence,
    print_detector_check,
    print_local,
    relu6_verdict,
)

DETECTOR_LAYERS = (
    "--layers, --plot and --all compare classifier blobs; for a detector use --local (backbone and heads on MXNet's "
    "inputs), the decoding and NMS are checked end to end"
)


HELP = "run converted files and the MXNet model (or saved reference outputs) on one input and compare"
DESCRIPTION = (
    "Run PREFIX.prototxt/.caffemodel and the MXNet model on the same input and report the error of each "
    "output (and, with --layers, of every blob). Without MXNet (Python 3.12+): --reference FILE.npz compares "
    "with the outputs `gluon2caffe reference` saved where MXNet runs, on the input saved with them."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("prefix", metavar="PREFIX", help="the converted model (PREFIX.prototxt + PREFIX.caffemodel)")
    against = p.add_mutually_exclusive_group(required=True)
    against.add_argument("--against", metavar="MODEL", help=MODEL_HELP + " (needs MXNet)")
    against.add_argument(
        "--reference",
        metavar="FILE.npz",
        help="inputs and MXNet outputs saved by `gluon2caffe reference` (needs no MXNet; outputs only, no "
        "--layers/--local/--input; classifiers and other plain nets, not detectors)",
    )
    add_model_source(p)
    p.add_argument("--runtime", choices=tuple(RUNTIMES), help="default: pycaffe when importable, else OpenCV")
    p.add_argument(
        "--input",
        metavar="IMAGE|random|scene",
        help="an image (resized, ImageNet mean/std), 'random' both-sign noise (default for classifiers) or "
        "'scene', a synthetic real-looking image (default for detectors)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the random input (default 0)")
    p.add_argument("--no-bgr", action="store_true", help="the Caffe net takes RGB (it was converted with --no-bgr)")
    p.add_argument(
        "--layers",
        action="store_true",
        help="compare every blob that has an MXNet counterpart, in graph order, and name the first "
        "whose error exceeds the tolerance (caffe runtime; classifiers: refused for a detector, use --local)",
    )
    p.add_argument(
        "--local",
        action="store_true",
        help="layer-local check (caffe runtime): run every segment of Caffe layers on MXNet's own values of its "
        "inputs, print the segments worst first and exit 1 if any is beyond the tolerance; proves each layer "
        "however much the network amplifies float32 rounding (detectors: backbone and heads)",
    )
    p.add_argument("--all", action="store_true", help="with --local: every segment, in net order")
    p.add_argument(
        "--plot",
        metavar="FILE.png",
        help="draw the error along the net (log scale): the local errors with --local, else every blob's "
        "accumulated error (implies --layers; refused for a detector); .png unless FILE has another image extension",
    )


def run(args: argparse.Namespace) -> int:
    from ..zoo.catalog import is_zoo_name, lookup
    from ..zoo.loader import check_zoo_name, load_model
    from ..verification import input_specs, plot_layers, plot_size, read_prototxt, verify

    if args.reference is not None:
        return run_reference(args)
    classes = classes_from(args)
    _check_options(args)
    prefix, prototxt, caffemodel = _converted_files(args.prefix)
    against = args.against
    zoo = is_zoo_name(against)
    entry = lookup(against) if zoo else None
    if entry is not None and entry.checks_detections and (args.layers or args.plot or args.all):
        raise UsageError(DETECTOR_LAYERS)
    shape = next(iter(input_specs(read_prototxt(prototxt)).values()))  # a zoo model's (one) input
    preprocess = card_normalization(prefix)
    progress = Progress(getattr(args, "quiet", False))
    progress.imports("verify --against (it runs the model in MXNet; --reference FILE.npz needs no MXNet)", zoo)
    if zoo:
        check_zoo_name(against)
    model, description = load_model(against, shape, args.params, args.epoch, classes, progress.step)
    from ..api import read_detector_head
    from ..detectors import detector_for

    family = detector_for(model)
    if family is not None:
        if args.layers or args.plot or args.all:
            raise UsageError(DETECTOR_LAYERS)
        print(f"{prefix} against {description}")
        head = read_detector_head(model, shape)
        return print_detector_check(
            family,
            model,
            head,
            prototxt,
            caffemodel,
            args.runtime,
            not args.no_bgr,
            args.input or "scene",
            args.seed,
            args.local,
            preprocess=preprocess,
        )
    mode = "local" if args.local else ("accumulated" if args.layers or args.plot else False)
    options = dict(
        runtime=args.runtime,
        input=args.input or "random",
        to_bgr=not args.no_bgr,
        seed=args.seed,
        preprocess=preprocess,
    )
    with progress.step("verify"):
        result = verify(prototxt, caffemodel, model, layers=mode, **options)
        placed = result
        if result.local is None and result.runtime == "caffe" and result.status not in PASSING:
            if not result.shape_differences:
                # Beyond the tolerance end to end (or proving nothing): the layer-local check says whether a layer is
                # wrong or the network amplifies float32 rounding (exact by layer), as convert --verify and the zoo
                # table judge it.
                placed = verify(prototxt, caffemodel, model, layers="local", **options)
    print(f"{prefix} against {description}")
    print(
        f"  runtime: {result.runtime}; input: {result.input_description}; "
        f"{'raw pixels, ' if preprocess is not None else ''}{'BGR' if not args.no_bgr else 'RGB'} fed to Caffe"
    )
    for name, c in result.outputs.items():
        print(f"  output {name}: {c}")
    print_dependence(result.dependence)
    if mode == "accumulated" and not result.shape_differences:
        print(result.layer_table())
        first = result.first_divergence
        if first is None:
            print(f"every compared blob ({len(result.layers)}) is within the tolerance")
        else:
            print(
                f"first blob above the tolerance: {first.blob} (layer {first.layer}), "
                f"relative error {first.comparison.relative:.3g}"
            )
    if result.local is not None and not result.shape_differences:
        print_local(result.local, args.all)
    elif placed.local is not None and not placed.shape_differences:
        print(f"  layer-local check: {placed.local.distribution()}")
    approximate = relu6_verdict(placed)
    status = approximate or placed.verdict
    unplaced = placed.local is None and placed.runtime == "caffe" and status == "exact"
    print(f"  status: {status}" + (" end to end (--local also checks every layer)" if unplaced else ""))
    if args.plot and not result.shape_differences:
        points = len(result.local.segments) if result.local is not None else len(result.layers)
        width, height = plot_size(points)
        print(f"plot: {plot_layers(result, args.plot)} ({width:.0f}x{height:.0f} px, {points} points)")
    print(f"  {progress.summary()}")
    return EXIT_OK if placed.status in PASSING or approximate else EXIT_FAILURE


def card_normalization(prefix: str):
    """The normalization the files do themselves, from PREFIX.json (convert --preprocess); None without a card (files
    converted before cards existed, or by the API) or when the net takes normalized input."""
    from ..card import card_preprocess, load_card

    if not os.path.isfile(f"{prefix}.json"):
        return None
    feeds = [feed for feed in load_card(prefix)["inputs"] if feed.get("in_net")]
    return card_preprocess(feeds[0]) if feeds else None


def _converted_files(prefix: str) -> tuple[str, str, str]:
    """(prefix, prototxt, caffemodel) of the converted model; both files must exist."""
    for suffix in (".prototxt", ".caffemodel"):
        prefix = prefix[: -len(suffix)] if prefix.endswith(suffix) else prefix
    prototxt, caffemodel = f"{prefix}.prototxt", f"{prefix}.caffemodel"
    for path in (prototxt, caffemodel):
        if not os.path.isfile(path):
            raise UsageError(f"{path} does not exist (PREFIX is the path without .prototxt/.caffemodel)")
    return prefix, prototxt, caffemodel


# What --reference cannot do: the per-layer checks need MXNet's internal tensors, the input is the saved one.
REFERENCE_REFUSES = (
    ("layers", "--layers"),
    ("local", "--local"),
    ("all", "--all"),
    ("plot", "--plot"),
    ("input", "--input"),
    ("params", "--params"),
    ("classes", "--classes"),
    ("classes_file", "--classes-file"),
)


def run_reference(args: argparse.Namespace) -> int:
    """verify --reference FILE.npz: the Caffe files on the saved input against the saved MXNet outputs; no MXNet."""
    from ..verification import load_reference, verify_reference

    given = [flag for attr, flag in REFERENCE_REFUSES if getattr(args, attr, None)]
    if given or args.epoch or args.seed:
        given += ["--epoch"] * bool(args.epoch) + ["--seed"] * bool(args.seed)
        raise UsageError(
            f"{', '.join(given)} do not apply to --reference (it compares the outputs on the input saved in the file; "
            "the per-layer checks need MXNet: run them with --against where MXNet runs)"
        )
    prefix, prototxt, caffemodel = _converted_files(args.prefix)
    progress = Progress(getattr(args, "quiet", False))
    reference = load_reference(args.reference)
    with progress.step("verify"):
        preprocess = card_normalization(prefix)
        result = verify_reference(
            prototxt, caffemodel, reference, runtime=args.runtime, to_bgr=not args.no_bgr, preprocess=preprocess
        )
    print(f"{prefix} against {reference.description}")
    print(
        f"  runtime: {result.runtime}; input: {result.input_description}; "
        f"{'BGR' if not args.no_bgr else 'RGB'} fed to Caffe"
    )
    for name, c in result.outputs.items():
        print(f"  output {name}: {c}")
    print_dependence(result.dependence)
    print(f"  status: {result.verdict}")
    print(f"  {progress.summary()}")
    return EXIT_OK if result.status in PASSING else EXIT_FAILURE


def _check_options(args: argparse.Namespace) -> None:
    """What the options alone rule out (exit 2 before anything runs); --plot gets its extension (.png if none)."""
    from ..verification import default_runtime

    if args.all and not args.local:
        raise UsageError("--all goes with --local")
    if (args.layers or args.local or args.plot) and (args.runtime or default_runtime()) != "caffe":
        raise UsageError("--layers, --local and --plot need the caffe runtime (OpenCV does not expose every blob)")
    if args.plot:
        from matplotlib.backend_bases import FigureCanvasBase

        extension = os.path.splitext(args.plot)[1].lstrip(".").lower()
        supported = FigureCanvasBase.get_supported_filetypes()
        if not extension:
            args.plot += ".png"
        elif extension not in supported:
            raise UsageError(
                f"--plot {args.plot}: .{extension} is not an image format matplotlib writes; use one of "
                f"{', '.join('.' + e for e in sorted(supported))} (e.g. {os.path.splitext(args.plot)[0]}.png)"
            )
