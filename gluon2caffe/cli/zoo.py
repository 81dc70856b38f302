"""`gluon2caffe zoo`: the model-zoo sweep (tools/zoo.py) with a progress bar; writes docs/model_zoo.md, and with
`--runtime R` (other than caffe) docs/runtimes.md too (tools/runtimes_table.py)."""

from __future__ import annotations

import argparse
import sys
import time

from ..errors import Gluon2CaffeError
from .common import EXIT_FAILURE, EXIT_OK

MODEL_ZOO_DOC = "docs/model_zoo.md"
RUNTIMES_DOC = "docs/runtimes.md"


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..extras import import_gluoncv
    from ..tools import zoo

    import_gluoncv("the zoo sweep (it builds GluonCV models and runs them in MXNet)")
    if args.jobs < 1:
        raise Gluon2CaffeError("--jobs must be at least 1")
    entries = zoo.select_models(args.family, [m for m in args.models.split(",") if m], args.task)
    if not entries:
        raise Gluon2CaffeError("no model selected")
    extras = [name for name in dict.fromkeys(args.runtime or []) if name != "caffe"]
    _require(extras)
    from tqdm import tqdm  # a dependency of GluonCV's

    bar = tqdm(total=len(entries), unit="model", file=sys.stderr, dynamic_ncols=True)

    def progress(result: zoo.ZooResult) -> None:
        bar.set_postfix_str(f"{result.model}: {result.status}")
        bar.update(1)
        for line in _problems(result):
            bar.write(line)

    start = time.perf_counter()
    results = zoo.run_zoo(entries, jobs=args.jobs, progress=progress, extra_runtimes=extras)
    bar.close()
    output = Path(args.output or (RUNTIMES_DOC if extras else MODEL_ZOO_DOC))
    headline = _write(output, results, _command(args, extras), runtime_sweep=bool(extras))
    if extras and not args.output:  # the same pycaffe checks ran: their rows update docs/model_zoo.md too
        _write(Path(MODEL_ZOO_DOC), results, _command(args, extras), runtime_sweep=False)
    exact = sum(r.exact_everywhere for r in results)
    print(
        f"{exact}/{len(results)} exact in this run ({time.perf_counter() - start:.0f} s); table: {output} ({headline})"
    )
    for r in results:
        for line in _problems(r):
            print(f"  {line}")
    return EXIT_OK if exact == len(results) else EXIT_FAILURE


def _require(runtimes: list[str]) -> None:
    """Every runtime asked for must be installed before the sweep starts (not one error row per model), and compute
    in float32: the sweep's verdicts are exact or mismatch under the project's tolerance."""
    from ..verification.precision import FLOAT16, precision_of
    from ..verification.runtimes import available

    half = [name for name in runtimes if precision_of(name) == FLOAT16]
    if half:
        raise Gluon2CaffeError(
            f"{', '.join(half)} computes in float16, which the zoo sweep (exact or mismatch) cannot judge; check it "
            "with `gluon2caffe verify PREFIX --against MODEL --runtime rknn` (the float16 rule, docs/runtimes.md)"
        )

    missing = [f"{name}: {reason}" for name in runtimes if (reason := available(name)) is not None]
    if missing:
        raise Gluon2CaffeError("runtimes not available:\n  " + "\n  ".join(missing))


def _problems(result) -> list[str]:
    """'model: status: message' for pycaffe and for each extra runtime where the model is not exact."""
    lines = [] if result.exact else [f"{result.model}: {result.status}: {result.message}"]
    lines += [
        f"{result.model} in {name}: {r.status}: {r.message}" for name, r in result.runtimes.items() if not r.exact
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
    from ..tools import runtimes_table, zoo

    if runtime_sweep:
        rows = runtimes_table.save_results(output.with_suffix(".json"), results)
        runtimes_table.write_markdown(output, rows, command)
        return runtimes_table.headline(rows, runtimes_table.runtimes_in(rows))
    rows = zoo.save_results(output.with_suffix(".json"), results)
    zoo.write_markdown(output, rows, command)
    return zoo.headline(rows)
