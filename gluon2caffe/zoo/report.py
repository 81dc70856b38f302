"""docs/model_zoo.md and docs/model_zoo.json from the zoo sweep's rows (sweep.py): developer tooling.

The tables are generated here; the prose around them is report_prose.md (a section per `[name]`, its lines joined
with single spaces, `{field}`s filled in), so the text can be edited without touching the code.
"""

from __future__ import annotations

import functools
import json
import os
import platform
from dataclasses import asdict
from pathlib import Path
from typing import Callable

import numpy as np

from .catalog import (
    CLASSIFICATION,
    OUTSIDE_MODELS,
    RUNNABLE,
    SSD,
    SSD_MODELS,
    TASKS,
    YOLO3,
    YOLO_MODELS,
    ZOO_SIZE,
)
from .sweep import RUNTIME_FIELDS, ZooResult

PROSE_FILE = Path(__file__).with_name("report_prose.md")


@functools.cache
def _prose() -> dict[str, str]:
    """{section name: its paragraph} of report_prose.md."""
    sections: dict[str, list[str]] = {}
    current = None
    for line in PROSE_FILE.read_text(encoding="utf-8").splitlines():
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], [])
        elif current is not None and line.strip():
            current.append(line.strip())
    return {name: " ".join(lines) for name, lines in sections.items()}


class _Prose:
    def __getitem__(self, name: str) -> str:
        return _prose()[name]

    def __contains__(self, name: str) -> bool:
        return name in _prose()


PROSE = _Prose()


def write_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` through a temporary file beside it: a sweep killed while saving leaves the old table, not
    half of a new one."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def load_results(path: Path) -> dict[str, dict]:
    if path.exists():
        return {row["model"]: row for row in json.loads(path.read_text())}
    return {}


def save_results(path: Path, results: list[ZooResult]) -> dict[str, dict]:
    """Merge `results` into the JSON beside the table (so a --family run updates its rows) and return all rows."""
    rows = load_results(path)
    rows.update({r.model: {k: v for k, v in asdict(r).items() if k not in RUNTIME_FIELDS} for r in results})
    order = [e.name for e in RUNNABLE]
    merged = [rows[m] for m in order if m in rows]
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(merged, indent=1) + "\n")
    return {row["model"]: row for row in merged}


def headline(rows: dict[str, dict]) -> str:
    """'N/332 GluonCV zoo models exact': every name of the zoo counts, the ones outside Caffe and not run too."""
    exact = sum(1 for r in rows.values() if r["status"] == "exact")
    return f"{exact}/{ZOO_SIZE} GluonCV zoo models exact end to end"


def task_summary(rows: dict[str, dict]) -> list[str]:
    """One row per task family: models, exact, not exact, not run yet (and the models outside Caffe)."""
    lines = ["| task | models | exact | exact by layer | not exact | not run |", "|---|---|---|---|---|---|"]
    for task, models in TASKS:
        done = [rows[e.name] for e in models if e.name in rows]
        exact = sum(r["status"] == "exact" for r in done)
        by_layer = sum(r["status"] == "exact by layer" for r in done)
        cells = [task.title, len(models), exact, by_layer, len(done) - exact - by_layer, len(models) - len(done)]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    lines.append(f"| outside Caffe (see the last table) | {len(OUTSIDE_MODELS)} | 0 | 0 | {len(OUTSIDE_MODELS)} | 0 |")
    exact = sum(r["status"] == "exact" for r in rows.values())
    by_layer = sum(r["status"] == "exact by layer" for r in rows.values())
    missing = len(RUNNABLE) - len(rows)
    lines.append(
        f"| **all** | {ZOO_SIZE} | {exact} | {by_layer} | {ZOO_SIZE - exact - by_layer - missing} | {missing} |"
    )
    pending = [task.name for task, models in TASKS if any(e.name not in rows for e in models)]
    if pending:
        tasks = " ".join(f"--task {name}" for name in pending)
        lines += ["", f"Rows not run yet (`not run` below): `gluon2caffe zoo {tasks} --jobs 2` runs those tasks."]
    return lines


def local_summary(rows: dict[str, dict]) -> str:
    """One line on the layer-local errors over the table: how many models were checked by layer, and the spread of
    their largest segment errors."""
    local = sorted(r["local"] for r in rows.values() if r.get("local") is not None)
    if not local:
        return "No layer-local check in this table."
    segments = sum(r["local_segments"] or 0 for r in rows.values() if r.get("local") is not None)
    constant = sum(r.get("local_constant") or 0 for r in rows.values() if r.get("local") is not None)
    within = sum(1 for v in local if v <= 1e-4)
    return (
        f"Layer-local check: {len(local)} models, {segments} segments, each run on MXNet's own inputs; the largest"
        f" segment error of a model is {np.median(local):.2g} at the median and {local[-1]:.2g} at worst"
        f" ({within}/{len(local)} models with every segment within the tolerance"
        + (f"; {constant} segments constant on MXNet's inputs: not conclusive, counted" if constant else "")
        + ")."
    )


def _local_cell(r: dict) -> str:
    """The local-error column: largest segment error, the number of segments (and of constant ones)."""
    if r.get("local") is None:
        return ""
    constant = f", {r['local_constant']} constant" if r.get("local_constant") else ""
    return f"{r['local']:.2g} ({r['local_segments']}{constant})"


def _ssd_section(rows: dict[str, dict]) -> list[str]:
    fmt = lambda v: "" if v is None else format(v, ".2g")  # noqa: E731
    lines = [
        "",
        "## SSD detectors",
        "",
        PROSE["ssd"],
        "",
        "| model | input | status | anchors | loc | conf | priors | decoded | detections | local error (segments) "
        "| Caffe layers | conversion (s) | export() |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    lines += _detector_rows(rows, SSD_MODELS, lambda r: [r["anchors"]] + [fmt(r[k]) for k in SSD.columns[1:]])
    lines += [
        "",
        "## YOLOv3 detectors",
        "",
        PROSE["yolo3"],
        "",
        "| model | input | status | boxes | scores | detections | local error (segments) | Caffe layers "
        "| conversion (s) | export() |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    lines += _detector_rows(rows, YOLO_MODELS, lambda r: [fmt(r[k]) for k in YOLO3.columns])
    return lines


def _detector_rows(rows: dict[str, dict], models: list, middle: Callable[[dict], list[str]]) -> list[str]:
    """Table rows: model | input | status | `middle` columns | detections | Caffe layers | conversion (s)."""
    lines = []
    for entry in models:
        model, size = entry.name, entry.size_text
        r = rows.get(model)
        if r is None:
            lines.append(f"| {model} | {size} | not run |" + "  |" * (len(middle(_EMPTY_ROW)) + 5))
            continue
        match = {True: "match", False: "DIFFER", None: ""}[r["detections_match"]]
        detail = r["detections"].split(" (")[0] if r["detections"] else ""
        seconds = "" if r["convert_seconds"] is None else format(r["convert_seconds"], ".2f")
        cells = [
            model,
            size,
            r["status"],
            *middle(r),
            f"{match}: {detail}",
            _local_cell(r),
            str(r["layers"] or ""),
            seconds,
            r.get("exported", "") or "not run",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


_EMPTY_ROW = {k: None for k in ("anchors", "loc", "conf", "priors", "decoded")}


def _dense_section(title: str, kind: str, models: list, rows: dict[str, dict]) -> list[str]:
    """One task family's table: model | family | input | status | errors | local | layers | seconds | note."""
    fmt = lambda v, spec: "" if v is None else format(v, spec)  # noqa: E731
    lines = ["", f"## {title}", ""]
    if kind in PROSE:
        lines += [PROSE[kind], ""]
    lines += [
        "| model | family | input | status | max abs error | relative error | local error (segments) | Caffe layers "
        "| conversion (s) | note |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for entry in models:
        model, family, size = entry.name, entry.family, entry.size_text
        r = rows.get(model)
        if r is None:
            lines.append(f"| {model} | {family} | {size} | not run |  |  |  |  |  |  |")
            continue
        lines.append(
            f"| {model} | {family} | {size} | {r['status']} | {fmt(r['max_abs'], '.3g')} | "
            f"{fmt(r['relative'], '.3g')} | {_local_cell(r)} | {fmt(r['layers'], 'd')} | "
            f"{fmt(r['convert_seconds'], '.2f')} | {r['message'].replace('|', '/')} |"
        )
    return lines


def _outside_section() -> list[str]:
    lines = [
        "",
        "## Outside Caffe",
        "",
        PROSE["outside"],
        "",
        "| model | family | why not |",
        "|---|---|---|",
    ]
    return lines + [f"| {e.name} | {e.family} | {e.outside} |" for e in OUTSIDE_MODELS]


def write_markdown(path: Path, rows: dict[str, dict], command: str) -> str:
    from ..verification import rule_text

    lines = [
        "# GluonCV model zoo coverage",
        "",
        f"**{headline(rows)}** in the real Caffe ({rule_text()}).",
        "",
        *task_summary(rows),
        "",
        local_summary(rows),
        "",
        PROSE["generated"].format(
            command=command,
            machine=platform.machine(),
            python=platform.python_version(),
            rows=len(rows),
            runnable=len(RUNNABLE),
        ),
        "",
        PROSE["getters"],
    ]
    for task, models in TASKS:
        if task is SSD:
            lines += _ssd_section(rows)
        elif task is not YOLO3:  # in the SSD section's writer
            title = f"{task.title} models" if task is CLASSIFICATION else task.title
            lines += _dense_section(title, task.name, models, rows)
    others = [r for r in rows.values() if r["status"] != "exact"]
    lines += [
        "",
        "## Not exact end to end",
        "",
        PROSE["not-exact"],
        "",
    ]
    lines += [f"- {r['model']}: {r['status']}: {r['message']}" for r in others] or ["None."]
    lines += _outside_section()
    text = "\n".join(lines) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, text)
    return text
