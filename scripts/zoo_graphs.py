"""Write or check the shipped zoo graphs (gluon2caffe/zoo/shipped_graphs/NAME.json.gz; see zoo/graphs.py).

Each listed zoo model of the chosen tasks is built offline by GluonCV in a fresh name scope (the names a new process
gives it), traced at its default input, and its record written; before writing, our own shape inference must give
every tensor of the graph the shape MXNet's gives it, or the model gets no record. zoo_graphs/index.json says, for
each model, "record" or why it stays on the GluonCV-built path (a traced graph with two nodes of one name, which no
export() file could hold either). --check compares the records on
disk with fresh traces instead (exit 1 on any difference or missing record).

    .venv/bin/python scripts/zoo_graphs.py                         # every listed model (about 10 minutes)
    .venv/bin/python scripts/zoo_graphs.py --check
    .venv/bin/python scripts/zoo_graphs.py --models vgg16,resnet50_v1
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from gluon2caffe.errors import ModelFileError

from gluon2caffe.frontend.exported import ExportedModel, infer_exported_shapes, infer_shapes_isolated
from gluon2caffe.frontend.exported import parse_symbol_json
from gluon2caffe.frontend.mxnet_graph import unique_source_names
from gluon2caffe.zoo.graphs import FOLDER, INDEX, _read, record_path, trace_record, write_record
from gluon2caffe.zoo.catalog import RUNNABLE, TASK_NAMES

DEFAULT_TASKS = TASK_NAMES


def shapes_agree(record: dict) -> str | None:
    """None when our shape inference equals MXNet's on every tensor of the record's graph that it infers (all but those
    after an op without a rule of ours, which no conversion reaches), else the first difference."""
    values = {
        p_name: np.broadcast_to(np.zeros((), dtype), tuple(p_shape))
        for _key, p_name, p_shape, dtype, used in record["params"]
        if used
    }
    model = ExportedModel(record["net_name"], "(record)", "(zero values)", record["symbol"], values)
    inputs = {model.inputs[0]: tuple(record["input_shape"])}
    names = unique_source_names(parse_symbol_json(model.symbol_json)["nodes"])
    model.shape_inference = "own"
    own = infer_exported_shapes(model, inputs, names)
    theirs = infer_shapes_isolated(model, inputs, names)
    for tensor, shape in theirs.items():
        # None: past an op with no rule of ours (CenterNet's top-k decoder, which the conversion cuts off)
        if own.get(tensor) is not None and tuple(own[tensor]) != tuple(shape):
            return f"{tensor}: ours {own.get(tensor)}, MXNet's {tuple(shape)}"
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", action="append", help=f"tasks (default: {', '.join(DEFAULT_TASKS)})")
    parser.add_argument("--models", help="only these models (comma-separated)")
    parser.add_argument("--check", action="store_true", help="compare the records on disk with fresh traces")
    args = parser.parse_args()
    tasks = tuple(args.task or DEFAULT_TASKS)
    wanted = set(args.models.split(",")) if args.models else None
    models = [
        (entry.name, entry.input_shape)
        for entry in RUNNABLE
        if (entry.task.name in tasks or wanted) and (wanted is None or entry.name in wanted)
    ]
    index = read_index()
    failures = 0
    for i, (name, shape) in enumerate(models, 1):
        t = time.perf_counter()
        record = trace_record(name, shape)
        untraceable = "no exportable trace (untraceable, or variables that are not parameters)"
        live = untraceable if record is None else live_only_reason(record)
        if args.check:
            on_disk = _read(record_path(name)) if record_path(name).exists() else None
            ok = (on_disk is None and index.get(name) == live) if live else on_disk == record
            status = "same" if ok else "DIFFERENT (or missing)"
        elif live:
            record_path(name).unlink(missing_ok=True)
            index[name], ok, status = live, True, f"no record, the live path ({live})"
        else:
            difference = shapes_agree(record)
            ok = difference is None
            if ok:
                path = write_record(record)
                index[name], status = "record", f"wrote {path.name} ({path.stat().st_size / 1024:.0f} KB)"
            else:
                record_path(name).unlink(missing_ok=True)
                index.pop(name, None)
                status = f"NO RECORD: shapes differ ({difference})"
        failures += not ok
        print(f"[{i}/{len(models)}] {name} {'x'.join(map(str, shape))}: {status} ({time.perf_counter() - t:.1f} s)")
        sys.stdout.flush()
    if not args.check:
        INDEX.write_text(json.dumps(dict(sorted(index.items())), indent=0) + "\n")
    records = list(FOLDER.glob("*.json.gz"))
    total = sum(p.stat().st_size for p in records)
    print(f"{failures} failure(s); {len(records)} records, {total / 1e6:.1f} MB")
    return 1 if failures else 0


def read_index() -> dict[str, str]:
    return json.loads(INDEX.read_text()) if INDEX.exists() else {}


def live_only_reason(record: dict) -> str | None:
    """Why a traced graph cannot be a record (it could not be an exported file either), None if it can."""
    try:
        parse_symbol_json(record["symbol"])
    except ModelFileError as exc:
        return str(exc).split(": ", 1)[-1]
    return None


if __name__ == "__main__":
    sys.exit(main())
