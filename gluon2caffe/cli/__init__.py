"""The `gluon2caffe` command line: the parser and the dispatch; one module per command (convert.py, verify.py,
zoo.py, demo.py; `ops` is one line here). The library logs; the CLI owns the terminal and the log environment."""

from __future__ import annotations

import argparse
import atexit
import logging
import os
import signal
import sys
import threading
import traceback
import warnings
from typing import Sequence

from ..converters.context import TARGETS
from ..verification.runtimes import RUNTIMES
from . import convert, demo, models, reference, verify, zoo
from .terminal import without_mxnet_notices
from .common import EXIT_INTERRUPTED, EXIT_OK, EXIT_TERMINATED, Terminated, failure_message, flags_for_api

EXIT_CODES = (
    "exit codes: 0 ok; 1 conversion or verification failure (one `error:` line; -v adds the traceback); 2 usage "
    "error (bad or conflicting options, an unknown model name, an output path that cannot be written, a command that "
    "needs MXNet where it cannot be imported), found before any model is built, or an --input-shape the model's "
    "shape rules refuse (the node named); 130 interrupted (Ctrl-C), 143 "
    "terminated (SIGTERM); no partial file is left behind"
)


MODEL_HELP = (
    "a GluonCV model-zoo name (e.g. resnet18_v1; random weights unless --params), or an exported model: "
    "PREFIX (reads PREFIX-symbol.json + PREFIX-EPOCH.params) or a -symbol.json path"
)


def _shape(text: str) -> tuple[str | None, tuple[int, ...]]:
    """`N,C,H,W` (any rank 1-5) or `NAME:N,C,H,W` -> (name or None, shape)."""
    name, _, sizes = text.rpartition(":")
    try:
        shape = tuple(int(part) for part in sizes.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers like 1,3,224,224 (or NAME:1,3,224,224), got {text!r}"
        ) from None
    if not 1 <= len(shape) <= 5 or min(shape) <= 0:
        raise argparse.ArgumentTypeError(f"expected 1 to 5 positive sizes (batch first), got {text!r}")
    if ":" in text and not name:
        raise argparse.ArgumentTypeError(f"expected NAME:SIZES, got {text!r}")
    return name or None, shape


def _add_model_source(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--params",
        metavar="FILE",
        help="weights: the .params of an exported model, or trained weights (save_parameters) for a zoo model",
    )
    p.add_argument("--epoch", type=int, default=0, metavar="N", help="epoch of PREFIX-N.params (default 0)")
    names = p.add_mutually_exclusive_group()
    names.add_argument(
        "--classes",
        metavar="A,B,C",
        help="SSD / YOLOv3: the class names, in training order; a *_custom zoo model is built with them (as many as "
        "its trained --params has), another zoo detector only takes new names for as many classes as it has",
    )
    names.add_argument("--classes-file", metavar="FILE", help="the class names, one per line (like --classes)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gluon2caffe",
        description="Convert MXNet Gluon / GluonCV models to Caffe models that compute the same numbers.",
        epilog=EXIT_CODES,
    )
    common = argparse.ArgumentParser(add_help=False)
    # default=SUPPRESS: `gluon2caffe -v convert` and `gluon2caffe convert -v` both work.
    common.add_argument(
        "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="log what every pass does"
    )
    common.add_argument(
        "-q", "--quiet", action="store_true", default=argparse.SUPPRESS, help="no progress lines on stderr"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log what every pass does (and tracebacks)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{convert,verify,reference,models,zoo,demo,ops}")

    c = sub.add_parser(
        "convert",
        parents=[common],
        help="convert a model to PREFIX.prototxt + PREFIX.caffemodel",
        description="Convert a model to PREFIX.prototxt + PREFIX.caffemodel.",
    )
    c.add_argument("model", metavar="MODEL", help=MODEL_HELP)
    c.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="PREFIX",
        help="output prefix (folders are created): PREFIX.prototxt + PREFIX.caffemodel; DIR/ writes DIR/MODEL.*; "
        "a .prototxt/.caffemodel ending is dropped",
    )
    c.add_argument(
        "--input-shape",
        type=_shape,
        action="append",
        metavar="[NAME:]N,C,H,W",
        help="input shape, any rank 1-5 batch first (default: a zoo model's own size, as `gluon2caffe models` lists "
        "it: 224, cifar_* 32, inceptionv3 299, ssd_512_... 512, ...; 1,3,224,224 otherwise); repeat it for a model "
        "with several inputs, as NAME:SIZES (an exported model's input names) or in input order",
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
        "--target",
        choices=tuple(TARGETS),
        default="any",
        help="the runtime the files are for: any (default: layers every runtime loads) or one runtime, for the "
        "pattern it runs best (all exact; see docs/runtimes.md)",
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
        help="run converted files and the MXNet model (or saved reference outputs) on one input and compare",
        description="Run PREFIX.prototxt/.caffemodel and the MXNet model on the same input and report "
        "the error of each output (and, with --layers, of every blob). Without MXNet (Python 3.12+): --reference "
        "FILE.npz compares with the outputs `gluon2caffe reference` saved where MXNet runs, on the input saved with "
        "them.",
    )
    v.add_argument("prefix", metavar="PREFIX", help="the converted model (PREFIX.prototxt + PREFIX.caffemodel)")
    against = v.add_mutually_exclusive_group(required=True)
    against.add_argument("--against", metavar="MODEL", help=MODEL_HELP + " (needs MXNet)")
    against.add_argument(
        "--reference",
        metavar="FILE.npz",
        help="inputs and MXNet outputs saved by `gluon2caffe reference` (needs no MXNet; outputs only, no "
        "--layers/--local/--input; classifiers and other plain nets, not detectors)",
    )
    _add_model_source(v)
    v.add_argument("--runtime", choices=tuple(RUNTIMES), help="default: pycaffe when importable, else OpenCV")
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
        "whose error exceeds the tolerance (caffe runtime; classifiers: refused for a detector, use --local)",
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
        "accumulated error (implies --layers; refused for a detector); .png unless FILE has another image extension",
    )

    z = sub.add_parser(
        "zoo",
        parents=[common],
        help="convert and verify the GluonCV model zoo, write docs/model_zoo.md (or, with --runtime, docs/runtimes.md)",
        description="Convert GluonCV zoo models (classification, detectors, segmentation, pose, action recognition, "
        "depth, CenterNet up to its decoder) on live random weights, run each in "
        "the real Caffe against MXNet/GluonCV, and write the coverage table (rows of earlier runs are kept). "
        "With --runtime R (repeatable) the same converted files also run in each runtime R, and the table is the "
        "runtime x model-family one of docs/runtimes.md instead. "
        "Detector families: ssd_mobilenet, ssd_resnet, ssd_vgg16, yolo3_darknet, yolo3_mobilenet.",
    )
    z.add_argument(
        "--task",
        action="append",
        default=[],
        metavar="T",
        help="only this task (repeatable): classification, ssd, yolo3, segmentation, pose, action-2d, action-3d, "
        "depth, centernet",
    )
    z.add_argument("--family", action="append", default=[], metavar="F", help="only this family (repeatable)")
    z.add_argument("--models", default="", metavar="M1,M2", help="only these models")
    z.add_argument("--jobs", type=int, default=1, metavar="N", help="worker processes (default 1)")
    z.add_argument(
        "--output",
        metavar="FILE.md",
        help="(default docs/model_zoo.md; with a runtime other than caffe docs/runtimes.md), the JSON beside it",
    )
    z.add_argument(
        "--runtime",
        action="append",
        choices=tuple(RUNTIMES),
        metavar="R",
        help=f"also run the converted files in R, one of {', '.join(RUNTIMES)} (repeatable; default: caffe only, "
        "which writes docs/model_zoo.md)",
    )

    d = sub.add_parser(
        "demo",
        parents=[common],
        help="convert a zoo model, verify it in Caffe, print the max error and the files (`make demo`)",
        description="Convert a GluonCV model (resnet18_v1), verify it in Caffe against MXNet, say where the files are.",
    )
    d.add_argument("--model", default="resnet18_v1", help="GluonCV model-zoo name (default resnet18_v1)")
    d.add_argument("--input-shape", type=_shape, metavar="N,C,H,W", help="input shape (default: the model's own size)")
    d.add_argument("--params", metavar="FILE", help="trained .params file (random live weights otherwise)")
    d.add_argument("--output", metavar="PREFIX", help="output prefix (default out/MODEL)")

    r = sub.add_parser(
        "reference",
        parents=[common],
        help="run a model in MXNet on one input and save the input and outputs (for verify --reference)",
        description="Where MXNet runs (Python <= 3.11): run MODEL on one input and save the input and MXNet's "
        "outputs to FILE.npz, for `gluon2caffe verify PREFIX --reference FILE.npz` where MXNet does not run.",
    )
    r.add_argument("model", metavar="MODEL", help=MODEL_HELP)
    r.add_argument("-o", "--output", required=True, metavar="FILE.npz", help="where to save (.npz is added if missing)")
    r.add_argument(
        "--input-shape",
        type=_shape,
        action="append",
        metavar="[NAME:]N,C,H,W",
        help="input shape, as for convert (the same one: the Caffe net's input must match)",
    )
    r.add_argument(
        "--input",
        metavar="IMAGE|random|scene",
        help="an image (resized, ImageNet mean/std), 'random' both-sign noise (default) or 'scene'",
    )
    r.add_argument("--seed", type=int, default=0, help="seed of the random input (default 0)")
    _add_model_source(r)

    m = sub.add_parser(
        "models",
        parents=[common],
        help="list the zoo names with their family and default input",
        description="List GluonCV model-zoo names with their family and the input size convert uses by default. "
        "Names outside the project's tested lists (tools/zoo_models.py) are marked as such.",
    )
    m.add_argument("filter", nargs="?", default="", metavar="FILTER", help="only names containing FILTER")

    sub.add_parser("ops", help="print the supported-operator table", description="Print the supported-operator table.")
    return parser


def quiet_runtimes() -> None:
    """The terminal's log environment, set before Caffe or MXNet load (the library never touches os.environ)."""
    # Caffe logs INFO/WARNING lines to stderr from the moment it is loaded; keep only errors unless the user says so.
    os.environ.setdefault("GLOG_minloglevel", "2")
    # MXNet announces its subgraph backend on every bind; that is noise on a user's terminal.
    os.environ.setdefault("MXNET_SUBGRAPH_VERBOSE", "0")


def quiet_warnings() -> None:
    """MXNet's Python warnings that say nothing to a user of the CLI (a symbol whose dtype it infers later)."""
    warnings.filterwarnings("ignore", message=".*Cannot decide type for the following arguments.*")


class _FlagsFormatter(logging.Formatter):
    """Library warnings name keyword arguments (anchors='exact'); the terminal shows flags (--anchors exact)."""

    def format(self, record: logging.LogRecord) -> str:
        return flags_for_api(super().format(record))


def _terminate(signum, frame) -> None:
    raise Terminated()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line `argv` and return its exit code; with no `argv` (the program itself: `gluon2caffe`,
    `python -m gluon2caffe`) the process ends here, without the interpreter's teardown (see `_end_process`)."""
    code = _run(argv)
    if argv is None:
        _end_process(code)
    return code


def _end_process(code: int) -> None:
    """Exit at once once the command is done. After MXNet and GluonCV were loaded, the interpreter's own teardown
    (C++ static destructors, thousands of modules) took 2-4 s, a third of `convert vgg16 --params`, and does
    nothing a finished command needs: every file is closed and every temporary file removed by then. The exit
    handlers still run and the streams are flushed."""
    atexit._run_exitfuncs()
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more can be said
            pass
    os._exit(code)


def _run(argv: Sequence[str] | None) -> int:
    quiet_runtimes()
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    handler = logging.StreamHandler()
    handler.setFormatter(_FlagsFormatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, handlers=[handler])
    if not args.verbose:
        quiet_warnings()
    # SIGTERM ends the command like Ctrl-C: the `finally` blocks remove temporary files on the way out.
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if main_thread else None
    try:
        with without_mxnet_notices():
            return _dispatch(args)
    except KeyboardInterrupt as exc:
        terminated = isinstance(exc, Terminated)
        print(f"error: {'terminated' if terminated else 'interrupted'}; no partial file was left", file=sys.stderr)
        return EXIT_TERMINATED if terminated else EXIT_INTERRUPTED
    except Exception as exc:
        if args.verbose:
            traceback.print_exc()
        message, code = failure_message(exc)
        print(f"error: {message}", file=sys.stderr)
        return code
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "ops":
        from ..converters import support_table

        print(support_table(), end="")
        return EXIT_OK
    commands = {
        "convert": convert.run,
        "zoo": zoo.run,
        "demo": demo.run,
        "verify": verify.run,
        "reference": reference.run,
        "models": models.run,
    }
    return commands[args.command](args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
