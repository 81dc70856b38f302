"""The `gluon2caffe` command line: the parser assembled from the commands and the dispatch; one module per command
(convert.py, verify.py, run.py, zoo.py, demo.py, reference.py, models.py: each declares its arguments next to its `run`;
`ops` is one line here). The library logs; the CLI owns the terminal and the log environment."""

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

from .. import __version__
from . import convert, demo, models, reference, run, verify, zoo
from .common import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_TERMINATED,
    Terminated,
    check_named_files,
    failure_message,
    with_flags,
)
from .terminal import without_mxnet_notices

# Each command module declares its arguments (add_arguments, HELP, DESCRIPTION) next to its run(); in `--help` order.
COMMANDS = {
    "convert": convert,
    "verify": verify,
    "run": run,
    "zoo": zoo,
    "demo": demo,
    "reference": reference,
    "models": models,
}

EXIT_CODES = (
    "exit codes: 0 ok; 1 conversion or verification failure (one `error:` line; -v adds the traceback); 2 usage "
    "error (bad or conflicting options, an unknown model name, a file an option names that is missing or unreadable, "
    "an output path that cannot be written, a command that needs MXNet where it cannot be imported), found before "
    "any model is built, or an --input-shape the model's "
    "shape rules refuse (the node named); 130 interrupted (Ctrl-C), 143 "
    "terminated (SIGTERM); no partial file is left behind"
)


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
    parser.add_argument("--version", action="version", version=f"gluon2caffe {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what every pass does (and tracebacks)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")
    sub = parser.add_subparsers(
        dest="command", required=True, metavar="{convert,verify,run,reference,models,zoo,demo,ops}"
    )

    for name, module in COMMANDS.items():
        p = sub.add_parser(name, parents=[common], help=module.HELP, description=module.DESCRIPTION)
        module.add_arguments(p)
    sub.add_parser("ops", help="print the supported-operator table", description="Print the supported-operator table.")
    return parser


def quiet_runtimes() -> None:
    """The terminal's log environment, set before Caffe or MXNet load (the library never touches os.environ)."""
    # Caffe logs INFO/WARNING lines to stderr from the moment it is loaded; keep only errors unless the user says so.
    os.environ.setdefault("GLOG_minloglevel", "2")
    # MXNet announces its subgraph backend on every bind; that is noise on a user's terminal.
    os.environ.setdefault("MXNET_SUBGRAPH_VERBOSE", "0")
    # OpenCV logs its own failures as raw [ERROR:...] lines before raising; the error line says them once.
    os.environ.setdefault("OPENCV_LOG_LEVEL", "SILENT")


def quiet_warnings() -> None:
    """MXNet's Python warnings that say nothing to a user of the CLI (a symbol whose dtype it infers later)."""
    warnings.filterwarnings("ignore", message=".*Cannot decide type for the following arguments.*")


class _FlagsFormatter(logging.Formatter):
    """Library warnings name keyword arguments (anchors='exact', carried as data: the record's `options`); the
    terminal shows flags (--anchors exact)."""

    def format(self, record: logging.LogRecord) -> str:
        return with_flags(super().format(record), getattr(record, "options", ()))


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
    check_named_files(args)  # a missing file named by an option: exit 2 before anything is built
    if args.command == "ops":
        from ..converters import support_table

        print(support_table(), end="")
        return EXIT_OK
    return COMMANDS[args.command].run(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
