"""The `gluon2caffe` command line. The library logs; this module owns the terminal."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from typing import Sequence

from ..errors import Gluon2CaffeError

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2

MODEL_HELP = (
    "a GluonCV model-zoo name (e.g. resnet18_v1; random weights unless --params), or an exported model: "
    "PREFIX (reads PREFIX-symbol.json + PREFIX-EPOCH.params) or a -symbol.json path"
)


def _shape(text: str) -> tuple[int, ...]:
    try:
        shape = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers like 1,3,224,224, got {text!r}") from None
    if len(shape) != 4 or min(shape) <= 0:
        raise argparse.ArgumentTypeError(f"expected 4 positive sizes N,C,H,W, got {text!r}")
    return shape


def _add_model_source(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--params",
        metavar="FILE",
        help="weights: the .params of an exported model, or trained weights (save_parameters) for a zoo model",
    )
    p.add_argument("--epoch", type=int, default=0, metavar="N", help="epoch of PREFIX-N.params (default 0)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gluon2caffe",
        description="Convert MXNet Gluon / GluonCV models to Caffe models that compute the same numbers.",
        epilog="exit codes: 0 ok, 1 conversion or verification failure, 2 usage error",
    )
    common = argparse.ArgumentParser(add_help=False)
    # default=SUPPRESS: `gluon2caffe -v convert` and `gluon2caffe convert -v` both work.
    common.add_argument(
        "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="log what every pass does"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log what every pass does")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{convert,verify,zoo,demo,ops}")

    c = sub.add_parser(
        "convert",
        parents=[common],
        help="convert a model to PREFIX.prototxt + PREFIX.caffemodel",
        description="Convert a model to PREFIX.prototxt + PREFIX.caffemodel.",
    )
    c.add_argument("model", metavar="MODEL", help=MODEL_HELP)
    c.add_argument("-o", "--output", required=True, metavar="PREFIX", help="output prefix (folders are created)")
    c.add_argument(
        "--input-shape",
        type=_shape,
        metavar="N,C,H,W",
        help="input shape (default 1,3,224,224; a zoo SSD's own size, e.g. 1,3,512,512 for ssd_512_...)",
    )
    c.add_argument("--input-name", default="data", help="name of the Caffe input blob (default data)")
    c.add_argument("--no-bgr", action="store_true", help="keep RGB input order (default: the Caffe net takes BGR)")
    c.add_argument("--no-merge-bn", action="store_true", help="keep BatchNorm layers (default: fold them)")
    c.add_argument("--softmax", action="store_true", help="append a Softmax over the class axis")
    c.add_argument(
        "--relu6",
        choices=("exact", "layer", "relu"),
        default="exact",
        help="clip(0,6): exact BVLC layers (default), a ReLU6 layer, or lossy ReLU (warns)",
    )
    c.add_argument(
        "--anchors",
        choices=("exact", "priorbox", "constant"),
        default="exact",
        help="SSD: PriorBox layers where exact, else the anchors as a constant (default); always PriorBox "
        "(portable, warns with the deviation); or always the constant",
    )
    c.add_argument(
        "--no-nms",
        action="store_true",
        help="SSD / YOLOv3: stop before DetectionOutput (SSD outputs mbox_loc, mbox_conf_flatten, mbox_priorbox; "
        "YOLOv3 yolo_boxes, yolo_scores)",
    )
    _add_model_source(c)
    c.add_argument("--verify", action="store_true", help="run the result (pycaffe, else OpenCV) against MXNet")

    v = sub.add_parser(
        "verify",
        parents=[common],
        help="run converted files and the MXNet model on one input and compare",
        description="Run PREFIX.prototxt/.caffemodel and the MXNet model on the same input and report "
        "the error of each output (and, with --layers, of every blob).",
    )
    v.add_argument("prefix", metavar="PREFIX", help="the converted model (PREFIX.prototxt + PREFIX.caffemodel)")
    v.add_argument("--against", required=True, metavar="MODEL", help=MODEL_HELP)
    _add_model_source(v)
    v.add_argument("--runtime", choices=("caffe", "opencv"), help="default: pycaffe when importable, else OpenCV")
    v.add_argument(
        "--input",
        metavar="IMAGE|random|scene",
        help="an image (resized, ImageNet mean/std), 'random' both-sign noise (default for classifiers) or "
        "'scene', a synthetic real-looking image (default for detectors)",
    )
    v.add_argument("--seed", type=int, default=0, help="seed of the random input (default 0)")
    v.add_argument("--no-bgr", action="store_true", help="the Caffe net takes RGB (it was converted with --no-bgr)")
    v.add_argument(
        "--layers",
        action="store_true",
        help="compare every blob that has an MXNet counterpart, in graph order, and name the first "
        "whose error exceeds the tolerance (caffe runtime)",
    )
    v.add_argument(
        "--local",
        action="store_true",
        help="layer-local check (caffe runtime): run every segment of Caffe layers on MXNet's own values of its "
        "inputs, print the segments worst first and exit 1 if any is beyond the tolerance; proves each layer "
        "however much the network amplifies float32 rounding (detectors: backbone and heads)",
    )
    v.add_argument("--all", action="store_true", help="with --local: every segment, in net order")
    v.add_argument(
        "--plot",
        metavar="FILE.png",
        help="draw the error along the net (log scale): the local errors with --local, else every blob's "
        "accumulated error (implies --layers)",
    )

    z = sub.add_parser(
        "zoo",
        parents=[common],
        help="convert and verify GluonCV classification models and SSD detectors, write docs/model_zoo.md",
        description="Convert GluonCV classification models and SSD detectors on live random weights, run each in "
        "the real Caffe against MXNet/GluonCV, and write the coverage table (rows of earlier runs are kept). "
        "SSD families: ssd_mobilenet, ssd_resnet, ssd_vgg16.",
    )
    z.add_argument("--family", action="append", default=[], metavar="F", help="only this family (repeatable)")
    z.add_argument("--models", default="", metavar="M1,M2", help="only these models")
    z.add_argument("--jobs", type=int, default=1, metavar="N", help="worker processes (default 1)")
    z.add_argument("--output", default="docs/model_zoo.md", metavar="FILE.md", help="(default docs/model_zoo.md)")
    z.add_argument("--runtime", choices=("caffe", "opencv"), default="caffe", help="(default caffe)")

    d = sub.add_parser(
        "demo",
        parents=[common],
        help="convert a zoo model, verify it in Caffe, print the max error and the files (`make demo`)",
        description="Convert a GluonCV model (resnet18_v1), verify it in Caffe against MXNet, say where the files are.",
    )
    d.add_argument("--model", default="resnet18_v1", help="GluonCV model-zoo name (default resnet18_v1)")
    d.add_argument("--params", metavar="FILE", help="trained .params file (random live weights otherwise)")
    d.add_argument("--output", metavar="PREFIX", help="output prefix (default out/MODEL)")

    sub.add_parser("ops", help="print the supported-operator table", description="Print the supported-operator table.")
    return parser


def quiet_runtimes() -> None:
    """The terminal's log environment, set before Caffe or MXNet load (the library never touches os.environ)."""
    # Caffe logs INFO/WARNING lines to stderr from the moment it is loaded; keep only errors unless the user says so.
    os.environ.setdefault("GLOG_minloglevel", "2")
    # MXNet announces its subgraph backend on every bind; that is noise on a user's terminal.
    os.environ.setdefault("MXNET_SUBGRAPH_VERBOSE", "0")


def main(argv: Sequence[str] | None = None) -> int:
    quiet_runtimes()
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        if args.command == "ops":
            from ..converters import support_table

            print(support_table(), end="")
            return EXIT_OK
        if args.command == "convert":
            return _convert(args)
        if args.command == "zoo":
            return _zoo(args)
        if args.command == "demo":
            return _demo(args)
        return _verify(args)
    except Gluon2CaffeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILURE


def _convert(args: argparse.Namespace) -> int:
    from ..api import ConvertOptions, convert_with, save_model
    from ..detectors import DetectorOptions, detector_for
    from ..tools.models import default_input_shape, load_model

    start = time.perf_counter()
    shape = args.input_shape or default_input_shape(args.model) or (1, 3, 224, 224)
    model, description = load_model(args.model, shape, args.params, args.epoch)
    family = detector_for(model)
    _check_detector_flags(args, family)
    options = ConvertOptions(shape, args.softmax, not args.no_bgr, not args.no_merge_bn, args.input_name, args.relu6)
    detector = DetectorOptions(anchors=args.anchors, nms=not args.no_nms) if family is not None else None
    result = convert_with(model, options, detector, family)
    prototxt, caffemodel = save_model(result.text_net, result.binary_weights, args.output)
    _print_conversion(args, description, result, prototxt, caffemodel, start)
    if args.verify and family is not None:
        return _print_detector_check(
            family, model, result.head, prototxt, caffemodel, None, not args.no_bgr, "scene", 0
        )
    if args.verify:
        return _verify_conversion(prototxt, caffemodel, model, not args.no_bgr)
    return EXIT_OK


def _check_detector_flags(args: argparse.Namespace, family) -> None:
    """--anchors / --no-nms only for the detectors that take them; --softmax for no detector."""
    if family is None:
        for flag, value in (("--anchors", args.anchors != "exact"), ("--no-nms", args.no_nms)):
            if value:
                raise Gluon2CaffeError(f"{flag} applies to SSD / YOLOv3 detectors only; {args.model} is not one")
        return
    if args.softmax:
        raise Gluon2CaffeError(f"--softmax does not apply to a {family.kind} (its DetectionOutput scores the classes)")
    if args.anchors != "exact" and "anchors" not in family.options:
        raise Gluon2CaffeError(f"--anchors does not apply to a {family.kind}")


def _print_conversion(
    args: argparse.Namespace, description: str, result, prototxt: str, caffemodel: str, start
) -> None:
    from ..tools.models import describe_size

    r = result.report
    print(f"{description}")
    print(
        f"  {result.source_nodes} MXNet nodes -> {len(result.text_net.layer)} Caffe layers, "
        f"{result.num_parameters / 1e6:.2f}M parameters"
    )
    print(
        f"  BatchNorm folded: {r.bn_folded}, kept: {r.bn_kept}; identities removed: {r.identities_removed}; "
        f"BGR swap: {', '.join(r.bgr_swapped) if r.bgr_swapped else 'off'}; "
        f"softmax appended: {'yes' if r.softmax_appended else 'no'}; relu6: {args.relu6}"
    )
    if result.detector is not None:
        for line in result.detector.summary(result.head, result.detection, not args.no_nms):
            print(f"  {line}")
    print(f"  converted in {result.seconds:.2f} s, {time.perf_counter() - start:.2f} s in all")
    print(f"  wrote {prototxt} ({describe_size(prototxt)})")
    print(f"        {caffemodel} ({describe_size(caffemodel)})")


def _verify_conversion(prototxt: str, caffemodel: str, model, to_bgr: bool) -> int:
    from ..verification import default_runtime, verify

    runtime = default_runtime()
    v = verify(prototxt, caffemodel, model, to_bgr=to_bgr, layers="local" if runtime == "caffe" else False)
    for name, c in v.outputs.items():
        print(f"  verify ({v.runtime}) {name}: {c}")
    if v.local is not None:
        print(f"  layer-local check: {v.local.distribution()}")
    print(f"  status: {v.status}")
    return EXIT_OK if v.status in _PASSING else EXIT_FAILURE


def _verify(args: argparse.Namespace) -> int:
    from ..tools.models import load_model
    from ..verification import input_spec, plot_layers, read_prototxt, verify

    prototxt, caffemodel = f"{args.prefix}.prototxt", f"{args.prefix}.caffemodel"
    for path in (prototxt, caffemodel):
        if not os.path.isfile(path):
            raise Gluon2CaffeError(f"{path} does not exist (PREFIX is the path without .prototxt/.caffemodel)")
    _, shape = input_spec(read_prototxt(prototxt))
    model, description = load_model(args.against, shape, args.params, args.epoch)
    from ..detectors import detector_for

    family = detector_for(model)
    if family is not None:
        print(f"{args.prefix} against {description}")
        if args.layers or args.plot or args.all:
            raise Gluon2CaffeError(
                "--layers, --plot and --all compare classifier blobs; for a detector use --local (backbone and "
                "heads on MXNet's inputs), the decoding and NMS are checked end to end"
            )
        head = family.read(model, shape)[1]
        return _print_detector_check(
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
        _print_local(result.local, args.all)
        print(f"  status: {result.status}")
    if args.plot:
        print(f"plot: {plot_layers(result, args.plot)}")
    return EXIT_OK if result.status in _PASSING else EXIT_FAILURE


# `exact by layer` passes: every layer is proven on MXNet's own inputs, and the end-to-end difference is float32
# rounding the network amplifies (the output says so with both numbers).
_PASSING = ("exact", "exact by layer")


def _print_local(local, every: bool) -> None:
    print(f"layer-local check ({local.distribution()}):")
    print(local.table(None if every else 20))
    if len(local.segments) > 20 and not every:
        print(f"  ... {len(local.segments) - 20} more segments (--all lists every one)")
    if local.unchecked:
        print(f"  {len(local.unchecked)} layers lead to no MXNet tensor and are checked end to end only")
    bad = local.first_failure
    if bad is None:
        print(f"every segment ({len(local.segments)}) is within the tolerance on MXNet's inputs")
    else:
        print(
            f"first segment beyond the tolerance: layer {bad.layers[0]} ({bad.op} {bad.node}), "
            f"relative error {bad.comparison.relative:.3g}"
        )


def _print_detector_check(
    family,
    model,
    head,
    prototxt: str,
    caffemodel: str,
    runtime: str | None,
    to_bgr: bool,
    source: str,
    seed: int,
    show_local: bool = False,
) -> int:
    from ..verification import default_runtime, make_input

    runtime = runtime or default_runtime()
    if show_local and runtime != "caffe":
        raise Gluon2CaffeError("--local needs the caffe runtime (OpenCV does not expose every blob)")
    x, input_description = make_input(source, (1, 3) + tuple(head.image_size), seed)
    check = family.check(model, head, prototxt, caffemodel, x, to_bgr=to_bgr, runtime=runtime)
    print(f"  runtime: {runtime}; input: {input_description}; {'BGR' if to_bgr else 'RGB'} fed to Caffe")
    for name, c in check.pre_nms.items():
        print(f"  before NMS, {name}: {c}")
    if check.detections is not None:
        print(f"  detections: {check.detections}")
    if check.local is not None:
        if show_local:
            _print_local(check.local, False)
        else:
            print(f"  layer-local check: {check.local.distribution()}")
    if check.float64 is not None:
        print(
            f"  against MXNet in float64: Caffe {check.float64[0]:.3g}, MXNet float32 {check.float64[1]:.3g} "
            "(how much the network amplifies float32 rounding)"
        )
    print(f"  status: {check.status}")
    return EXIT_OK if check.status in _PASSING else EXIT_FAILURE


def _demo(args: argparse.Namespace) -> int:
    from ..api import convert, save_model
    from ..tools.models import load_zoo_model
    from ..verification import TOLERANCE, verify

    shape = (1, 3, 224, 224)
    prefix = args.output or f"out/{args.model}"
    print(f"[1/3] building {args.model} ({'weights from ' + args.params if args.params else 'random live weights'})")
    net = load_zoo_model(args.model, shape, args.params)
    print(f"[2/3] converting (to_bgr=True, merge_bn=True, input {shape})")
    start = time.perf_counter()
    result = convert(net, shape, to_bgr=True, merge_bn=True)
    prototxt, caffemodel = save_model(result.text_net, result.binary_weights, prefix)
    print(
        f"      {len(result.text_net.layer)} Caffe layers, {result.report.bn_folded} BatchNorm folded, "
        f"{time.perf_counter() - start:.2f} s"
    )
    print("[3/3] verifying in Caffe (BGR input) against MXNet (RGB input)")
    v = verify(prototxt, caffemodel, net, runtime="caffe", to_bgr=True, layers="local")
    for name, c in v.outputs.items():
        print(f"      output {name}: {c}")
    print(f"      layer by layer, on MXNet's own inputs: {v.local.distribution()}")
    verdict = "holds" if v.ok else "does not hold"
    print(
        f"{'OK' if v.ok else 'FAILED'} ({v.status}): max|caffe - mxnet| <= {TOLERANCE:g} * max(1, max|mxnet|) "
        f"{verdict} for the output and every layer"
    )
    print(f"files:\n  {prototxt}\n  {caffemodel}")
    return EXIT_OK if v.ok else EXIT_FAILURE


def _zoo(args: argparse.Namespace) -> int:
    from pathlib import Path

    from tqdm import tqdm

    from ..tools import zoo

    if args.jobs < 1:
        raise Gluon2CaffeError("--jobs must be at least 1")
    entries = zoo.select_models(args.family, [m for m in args.models.split(",") if m])
    if not entries:
        raise Gluon2CaffeError("no model selected")
    bar = tqdm(total=len(entries), unit="model", file=sys.stderr, dynamic_ncols=True)

    def progress(result: zoo.ZooResult) -> None:
        bar.set_postfix_str(f"{result.model}: {result.status}")
        bar.update(1)
        if not result.exact:
            bar.write(f"{result.model}: {result.status}: {result.message}")

    start = time.perf_counter()
    results = zoo.run_zoo(entries, jobs=args.jobs, runtime=args.runtime, progress=progress)
    bar.close()
    output = Path(args.output)
    rows = zoo.save_results(output.with_suffix(".json"), results)
    command = (
        "gluon2caffe zoo"
        + "".join(f" --family {f}" for f in args.family)
        + (f" --models {args.models}" if args.models else "")
        + (f" --runtime {args.runtime}" if args.runtime != "caffe" else "")
    )
    zoo.write_markdown(output, rows, command)
    exact = sum(r.exact for r in results)
    print(
        f"{exact}/{len(results)} exact in this run ({time.perf_counter() - start:.0f} s); table: {output} "
        f"({zoo.headline(rows)})"
    )
    for r in results:
        if not r.exact:
            print(f"  {r.model}: {r.status}: {r.message}")
    return EXIT_OK if exact == len(results) else EXIT_FAILURE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
