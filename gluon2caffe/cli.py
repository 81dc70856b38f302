"""The `gluon2caffe` command line. The library logs; this module owns the terminal."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from typing import Any, Sequence

from .errors import Gluon2CaffeError

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


def _shape(text: str) -> tuple[int, ...]:
    try:
        shape = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers like 1,3,224,224, got {text!r}") from None
    if len(shape) != 4 or min(shape) <= 0:
        raise argparse.ArgumentTypeError(f"expected 4 positive sizes N,C,H,W, got {text!r}")
    return shape


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gluon2caffe",
        description="Convert MXNet Gluon / GluonCV models to Caffe models that compute the same numbers.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log what every pass does")
    sub = parser.add_subparsers(dest="command", required=True)

    convert = sub.add_parser("convert", help="convert a GluonCV model-zoo model to PREFIX.prototxt + PREFIX.caffemodel")
    convert.add_argument("model", help="GluonCV model-zoo name, e.g. resnet18_v1")
    convert.add_argument("-o", "--output", required=True, metavar="PREFIX", help="output prefix (folders are created)")
    convert.add_argument("--input-shape", type=_shape, default=(1, 3, 224, 224), metavar="N,C,H,W")
    convert.add_argument("--input-name", default="data", help="name of the Caffe input blob (default: data)")
    convert.add_argument("--no-bgr", action="store_true", help="keep RGB input order (default: the net takes BGR)")
    convert.add_argument("--no-merge-bn", action="store_true", help="keep BatchNorm layers (default: fold them)")
    convert.add_argument("--softmax", action="store_true", help="append a Softmax over the class axis")
    convert.add_argument(
        "--relu6",
        choices=("exact", "layer", "relu"),
        default="exact",
        help="clip(0,6): exact BVLC layers (default), a ReLU6 layer, or lossy ReLU (warns)",
    )
    convert.add_argument("--params", metavar="FILE", help="trained weights (.params); random live weights otherwise")
    convert.add_argument("--verify", action="store_true", help="run the result in pycaffe and compare with MXNet")

    sub.add_parser("ops", help="print the supported-operator table")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
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
            from .converters import support_table

            print(support_table(), end="")
            return EXIT_OK
        return _convert(args)
    except Gluon2CaffeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILURE


def load_zoo_model(name: str, input_shape: tuple[int, ...], params: str | None) -> Any:
    """A GluonCV zoo model with `params` loaded, or with random live weights (no download is possible)."""
    from gluoncv.model_zoo import get_model

    from .randomize import randomize

    try:
        net = get_model(name, pretrained=False)
    except ValueError as exc:
        raise Gluon2CaffeError(f"unknown GluonCV model {name!r}: {str(exc).splitlines()[0]}") from None
    if params:
        net.load_parameters(params)
    else:
        net.initialize()
        randomize(net, input_shape, seed=0)
    return net


def _convert(args: argparse.Namespace) -> int:
    from .api import convert, save_model

    start = time.perf_counter()
    net = load_zoo_model(args.model, args.input_shape, args.params)
    result = convert(
        net,
        args.input_shape,
        softmax=args.softmax,
        to_bgr=not args.no_bgr,
        merge_bn=not args.no_merge_bn,
        input_name=args.input_name,
        relu6=args.relu6,
    )
    prototxt, caffemodel = save_model(result.text_net, result.binary_weights, args.output)
    r = result.report
    weights = "given params" if args.params else "random weights"
    print(
        f"{args.model} ({weights}): {len(result.graph.nodes)} MXNet nodes -> {len(result.text_net.layer)} Caffe layers"
    )
    print(f"  BatchNorm folded: {r.bn_folded}, kept: {r.bn_kept}; BGR swap in: {', '.join(r.bgr_swapped) or 'off'}")
    print(f"  converted in {result.seconds:.2f} s (total {time.perf_counter() - start:.2f} s)")
    print(f"  {prototxt}\n  {caffemodel}")
    if args.verify:
        from .verification import verify_against_mxnet

        comparisons = verify_against_mxnet(net, result, prototxt, caffemodel, to_bgr=not args.no_bgr)
        for name, c in comparisons.items():
            print(f"  verify {name}: {c}")
        if not all(c.ok for c in comparisons.values()):
            return EXIT_FAILURE
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
