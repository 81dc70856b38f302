"""`gluon2caffe zoo`: the developers' model-zoo sweep (zoo/sweep.py) with a progress bar; writes the coverage table
(zoo/report.py) or, with `--runtime R` (other than caffe), the runtime table (zoo/runtimes_table.py) where
-o/--output says (`make zoo` passes docs/model_zoo.md, or docs/runtimes.md)."""

from __future__ import annotations

import argparse
import sys
import time

from ..errors import Gluon2CaffeError
from ..verification.precision import FLOAT16, precision_of
from ..verification.runtimes import RUNTIMES
from .common import EXIT_FAILURE, EXIT_OK, UsageError

HELP = "convert and verify the GluonCV model zoo, write its coverage table (or, with --runtime, the runtime table)"
DESCRIPTION = (
    "Convert GluonCV zoo models (classification, detectors, segmentation, pose, action recognition, "
    "depth, CenterNet up to its decoder) on live random weights, run each in "
    "the real Caffe against MXNet/GluonCV, and write the coverage table to -o FILE.md (the rows of earlier runs, in "
    "FILE.json beside it, are kept). "
    "With --runtime R (repeatable) the same converted files also run in each runtime R, and the table is the "
    "runtime x model-family one of docs/runtimes.md instead. "
    "Detector families: ssd_mobilenet, ssd_resnet, ssd_vgg16, yolo3_darknet, yolo3_mobilenet."
)


def add_arguments(z: argparse.ArgumentParser) -> None:
    from ..zoo.catalog import TASK_NAMES

    z.add_argument(
        "--task", action="append", default=[], metavar="T", help=f"only this task (repeatable): {', '.join(TASK_NAMES)}"
    )
    z.add_argument("--family", action="append", default=[], metavar="F", help="only this family (repeatable)")
    z.add_argument("--models", default="", metavar="M1,M2", help="only these models")
    z.add_argument("--jobs", type=int, default=1, metavar="N", help="worker processes (default 1)")
    z.add_argument(
        "-o",
        "--output",
        metavar="FILE.md",
        help="where to write the table (required; its rows are kept in FILE.json beside it; `make zoo` passes "
        "docs/model_zoo.md, or docs/runtimes.md with a runtime other than caffe)",
    )
    z.add_argument(
        "--zoo-output",
        metavar="FILE.md",
        help="with --runtime: also merge the sweep's pycaffe rows into this coverage table (`make zoo`: "
        "docs/model_zoo.md)",
    )
    z.add_argument(
        "--runtime",
        action="append",
        choices=tuple(RUNTIMES),
        metavar="R",
        help=f"also run the converted files in R, one of {', '.join(RUNTIMES)} (repeatable; default: caffe only, "
        "which writes the coverage table)",
    )


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..extras import import_gluoncv
    from ..zoo import sweep

    import_gluoncv("the zoo sweep (it builds GluonCV models and runs them in MXNet)")
    if args.jobs < 1:
        raise Gluon2CaffeError("--jobs must be at least 1")
    entries = sweep.select_models(args.family, [m for m in args.models.split(",") if m], args.task)
    if not entries:
        raise Gluon2CaffeError("no model selected")
    if not args.output:
        raise UsageError("zoo: -o/--output FILE.md is required (where to write the table; `make zoo` passes docs/)")
    extras = [name for name in dict.fromkeys(args.runtime or []) if name != "caffe"]
    _require(extras)
    from tqdm import tqdm  # a dependency of GluonCV's

    bar = tqdm(total=len(entries), unit="model", file=sys.stderr, dynamic_ncols=True)

    output = Path(args.output)

    def progress(result: sweep.ZooResult) -> None:
        # each row is saved as it finishes: a sweep stopped after hours keeps every model it checked
        _write(output, [result], _command(args, extras), runtime_sweep=bool(extras))
        if extras and args.zoo_output:  # the same pycaffe checks ran: their rows update the coverage table too
            _write(Path(args.zoo_output), [result], _command(args, extras), runtime_sweep=False)
        bar.set_postfix_str(f"{result.model}: {result.status}")
        bar.update(1)
        for line in _problems(result):
            bar.write(line)

    start = time.perf_counter()
    results = sweep.run_zoo(entries, jobs=args.jobs, progress=progress, extra_runtimes=extras)
    bar.close()
    headline = _write(output, results, _command(args, extras), runtime_sweep=bool(extras))
    exact = sum(r.exact_everywhere for r in results)
    half = [name for name in extras if precision_of(name) == FLOAT16]
    word = f"exact (within fp16 in {', '.join(half)})" if half else "exact"
    seconds = time.perf_counter() - start
    print(f"{exact}/{len(results)} {word} in this run ({seconds:.0f} s); table: {output} ({headline})")
    for r in results:
        for line in _problems(r):
            print(f"  {line}")
    return EXIT_OK if exact == len(results) else EXIT_FAILURE


def _require(runtimes: list[str]) -> None:
    """Every runtime asked for must be installed before the sweep starts (not one error row per model). A float16
    runtime (rknn) is judged by the float16 rule (verification/precision.py): its pass is `within fp16`."""
    from ..verification.runtimes import available

    missing = [f"{name}: {reason}" for name in runtimes if (reason := available(name)) is not None]
    if missing:
        raise Gluon2CaffeError("runtimes not available:\n  " + "\n  ".join(missing))


def _problems(result) -> list[str]:
    """'model: status: message' for pycaffe and for each extra runtime where the model is not exact."""
    lines = [] if result.exact else [f"{result.model}: {result.status}: {result.message}"]
    lines += [
        f"{result.model} in {name}: {r.status}: {r.message}" for name, r in result.runtimes.items() if not r.passed
    ]
    return lines


def _command(args: argparse.Namespace, extras: list[str]) -> str:
    return (
        "gluon2caffe zoo"
        + "".join(f" --task {t}" for t in args.task)
        + "".join(f" --family {f}" for f in args.family)
        + (f" --models {args.models}" if args.models else "")
        + "".join(f" --runtime {r}" for r in extras)
    )


def _write(output, results: list, command: str, runtime_sweep: bool) -> str:
    """Merge the rows into the JSON beside `output`, write the table, return its headline."""
    from ..zoo import report, runtimes_table

    if runtime_sweep:
        rows = runtimes_table.save_results(output.with_suffix(".json"), results)
        runtimes_table.write_markdown(output, rows, command)
        return runtimes_table.headline(rows, runtimes_table.runtimes_in(rows))
    rows = report.save_results(output.with_suffix(".json"), results)
    report.write_markdown(output, rows, command)
    return report.headline(rows)
