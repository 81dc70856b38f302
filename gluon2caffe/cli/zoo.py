"""`gluon2caffe zoo`: the model-zoo sweep (tools/zoo.py) with a progress bar; writes docs/model_zoo.md."""

from __future__ import annotations

import argparse
import sys
import time

from ..errors import Gluon2CaffeError
from .common import EXIT_FAILURE, EXIT_OK


def run(args: argparse.Namespace) -> int:
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
