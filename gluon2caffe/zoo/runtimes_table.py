"""docs/runtimes.md and docs/runtimes.json: the zoo sweep in several runtimes (`gluon2caffe zoo --runtime mnn
--runtime ncnn`).

The generated part (a runtime x model-family table, then every model that is not exact in some runtime, with its
message) is followed by runtimes_notes.md beside this module, written by hand (install lines, the settings that make
each runtime exact, what each does differently, the --target profiles): edit that file, then rerun the command.
"""

from __future__ import annotations

import datetime
import importlib.util
import json
import os
import platform
import re
import subprocess
from dataclasses import asdict, fields
from importlib import metadata
from pathlib import Path

from ..converters.context import TARGETS, Patterns
from ..verification import rule_text
from ..verification.precision import FLOAT16, FP16_TOLERANCE, WITHIN_FP16, precision_of
from ..verification.runtimes import RUNTIMES
from .catalog import CLASSIFICATION_MODELS, RUNNABLE, ZooEntry, size_text
from .report import load_results, write_atomic
from .sweep import is_detector_row

NOTES = Path(__file__).with_name("runtimes_notes.md")
TARGETS_MARK = "<!-- targets-table -->"
PRIMARY = "caffe"  # the runtime every row is first checked in (with the layer-local check)
DISTRIBUTIONS = {"opencv": "opencv-python-headless", "mnn": "MNN", "ncnn": "ncnn"}
# The runtimes in venvs of their own (verification/venv_runtime.py): their module and the packages named in the header.
VENV_DISTRIBUTIONS = {
    "tpu-mlir": ("runtime_tpu_mlir", ["tpu-mlir"]),
    "tpu-mlir-bm1684x": ("runtime_tpu_mlir", ["tpu-mlir"]),
    "rknn": ("runtime_rknn", ["rknn-toolkit2"]),
    "onnx": ("runtime_onnx", ["caffe2onnx", "onnxruntime"]),
    "paddle": ("runtime_paddle", ["x2paddle", "paddlepaddle"]),
}


def save_results(path: Path, results: list) -> dict[str, dict]:
    """Merge `results` (ZooResult / DetectorZooResult rows with their `runtimes`) into the JSON: a model's row is
    replaced, but the results of runtimes this sweep did not run are kept. Returns every row by model."""
    rows = load_results(path)
    for result in results:
        row = asdict(result)
        row["runtimes"] = {**rows.get(result.model, {}).get("runtimes", {}), **row["runtimes"]}
        rows[result.model] = row
    merged = [rows[e.name] for e in RUNNABLE if e.name in rows]
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(merged, indent=1) + "\n")
    return {row["model"]: row for row in merged}


def runtimes_in(rows: dict[str, dict]) -> list[str]:
    """The table's columns: pycaffe, then every runtime some row has a result of, in the registry's order."""
    seen = {name for row in rows.values() for name in row.get("runtimes", {})}
    return [PRIMARY] + [name for name in RUNTIMES if name in seen and name != PRIMARY]


def outcome(row: dict, runtime: str) -> dict | None:
    """One model in one runtime: a dict with status, relative and message (pycaffe: the row's own verdict)."""
    if runtime != PRIMARY:
        return row.get("runtimes", {}).get(runtime)
    if is_detector_row(row):
        errors = [row.get(k) for k in ("loc", "conf", "priors", "decoded") if row.get(k) is not None]
        relative = max(errors) if errors else None
    else:
        relative = row.get("relative")
    return {"status": row["status"], "relative": relative, "message": row["message"]}


def write_markdown(path: Path, rows: dict[str, dict], command: str) -> str:
    runtimes = runtimes_in(rows)
    lines = _header(rows, runtimes, command)
    lines += _family_table(rows, runtimes)
    lines += _not_exact(rows, runtimes)
    text = "\n".join(lines) + "\n\n" + notes()
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, text)
    return text


def notes() -> str:
    """The hand-written part, with the --target table generated from converters/context.py's TARGETS (a column per
    Patterns field)."""
    names = [f.name for f in fields(Patterns)]
    table = ["| target | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for target, patterns in TARGETS.items():
        cells = [_pattern_cell(getattr(patterns, name)) for name in names]
        table.append(f"| {target} | " + " | ".join(cells) + " |")
    return NOTES.read_text().replace(TARGETS_MARK, "\n".join(table))


def _pattern_cell(value) -> str:
    if isinstance(value, frozenset):
        return ", ".join(sorted(value)) or "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "-" if value == 0 else str(value)


def passing(runtime: str) -> str:
    """The verdict a pass has in `runtime`: exact, or `within fp16` in a float16 runtime (verification/precision.py)."""
    return WITHIN_FP16 if precision_of(runtime) == FLOAT16 else "exact"


def headline(rows: dict[str, dict], runtimes: list[str]) -> str:
    """'caffe 4/4 exact; mnn 3/4 exact; rknn 2/4 within fp16; ...' over every model of the table."""
    parts = []
    for runtime in runtimes:
        done = [o for o in (outcome(r, runtime) for r in rows.values()) if o is not None]
        word = passing(runtime)
        parts.append(f"{runtime} {sum(o['status'] == word for o in done)}/{len(done)} {word}")
    return "; ".join(parts)


def _header(rows: dict[str, dict], runtimes: list[str], command: str) -> list[str]:
    total = len(RUNNABLE)
    partial = "" if len(rows) == total else f" **Partial sweep: {len(rows)} of the {total} zoo models.**"
    return [
        "# The converted model zoo in each runtime",
        "",
        "<!-- Generated by `gluon2caffe zoo --runtime R ...` (gluon2caffe/zoo/runtimes_table.py) with the"
        " hand-written gluon2caffe/zoo/runtimes_notes.md appended: edit that file, not this one. -->",
        "",
        f"**{headline(rows, runtimes)}** ({rule_text('runtime')}).",
        "",
        f"Last updated by `{command}` on {datetime.date.today().isoformat()}, {machine()} (rows of earlier runs are"
        f" kept in docs/runtimes.json); {len(rows)}/{total} models in this table.{partial} Versions:"
        f" {versions(runtimes)}.",
        "",
        "Each model is built with live random weights and converted once, exactly as for docs/model_zoo.md (default"
        " target `any`, merge_bn, to_bgr), and the same files then run in each runtime at its full-float32 settings"
        " (below), on the same both-sign input. Classifiers: the worst output against MXNet end to end, relative ="
        " max|a - b| / max(max|mxnet|, magnitude) (the magnitude pycaffe's layer-local check measured for the"
        " segment that writes the output); the MXNet output must depend on the input. Detectors: the family's check"
        " (tests/detectors/test_ssd.py, tests/detectors/test_yolo.py), the pre-NMS tensors (the largest relative"
        " error is shown) and the"
        " runtime's detections against GluonCV's as sets. The caffe column is pycaffe with the layer-local check"
        " (docs/model_zoo.md's verdict); no other runtime can run segments on MXNet's own inputs, so their `exact` is"
        " end to end and their other verdict `mismatch`. `error`: the runtime's converter or loader refused the"
        " files, or it crashed (in its own child process, for classifiers); the message is the runtime's. `refused`:"
        " not exact with the default files, and the converter refuses the runtime's own `--target` for the model"
        " (what that runtime cannot hold or load), with its reason. A float16 runtime (rknn's chip simulator) cannot"
        f" be exact: it is judged by the float16 rule, max|runtime - mxnet| <= {FP16_TOLERANCE:.2g} * max|mxnet|"
        " (verification/precision.py), and its pass is `within fp16`.",
    ]


def _family_table(rows: dict[str, dict], runtimes: list[str]) -> list[str]:
    lines = [
        "",
        "## Runtime x model family",
        "",
        "Each cell: exact models / models run in that runtime, and the largest relative error among them (a float16"
        " runtime: models within fp16).",
        "",
        "| family | models | " + " | ".join(runtimes) + " |",
        "|---|---|" + "---|" * len(runtimes),
    ]
    for family, models in _families():
        done = [rows[m] for m in models if m in rows]
        if done:
            lines.append(_table_row(family, done, len(models), runtimes))
    for label, entries in (("all classifiers", CLASSIFICATION_MODELS), ("all detectors", _detector_entries())):
        done = [rows[e.name] for e in entries if e.name in rows]
        if done:
            lines.append(_table_row(f"**{label}**", done, len(entries), runtimes))
    return lines


def _families() -> list[tuple[str, list[str]]]:
    """(family, its models) in the zoo lists' order."""
    families: dict[str, list[str]] = {}
    for entry in RUNNABLE:
        families.setdefault(entry.family, []).append(entry.name)
    return list(families.items())


def _detector_entries() -> list[ZooEntry]:
    return [entry for entry in RUNNABLE if entry.checks_detections]


def _table_row(label: str, done: list[dict], total: int, runtimes: list[str]) -> str:
    cells = [label, f"{len(done)}/{total}"] + [_cell([outcome(r, name) for r in done], name) for name in runtimes]
    return "| " + " | ".join(cells) + " |"


def _cell(outcomes: list[dict | None], runtime: str) -> str:
    """'n/m exact, worst 2.1e-06' over the models that ran in this runtime ('n/m within fp16' in a float16 one)."""
    ran = [o for o in outcomes if o is not None]
    if not ran:
        return "not run"
    word = passing(runtime)
    passed = sum(o["status"] == word for o in ran)
    refused = sum(o["status"] == "refused" for o in ran)
    errors = [o["relative"] for o in ran if o.get("relative") is not None and o["status"] != "refused"]
    text = f"{passed}/{len(ran)} {word}" + (f", {refused} refused for its target" if refused else "")
    return text + (f", worst {max(errors):.2g}" if errors else "")


def _not_exact(rows: dict[str, dict], runtimes: list[str]) -> list[str]:
    """Per runtime, every model that did not pass there (not exact; not within fp16 in a float16 runtime), with its
    message."""
    lines = ["", "## Not exact", ""]
    for runtime in runtimes:
        lines += [f"### {runtime}", ""]
        word = passing(runtime)
        misses = [(r, o) for r in rows.values() if (o := outcome(r, runtime)) and o["status"] != word]
        lines += [
            f"- {r['model']} ({r['family']}, {size_text(r['input_size'])}): {o['status']}: "
            + (o["message"] or "(no message)")
            for r, o in misses
        ] or ["None."]
        lines.append("")
    return lines[:-1]


def machine() -> str:
    """The CPU, core count, OS and Python the sweep ran on."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return (
        f"{platform.machine()} ({cpu}, {os.cpu_count()} cores), {platform.system()}, Python {platform.python_version()}"
    )


def versions(runtimes: list[str]) -> str:
    return ", ".join(f"{name} {_version(name)}" for name in runtimes)


def _version(runtime: str) -> str:
    """The installed version of a runtime's package (without importing it: MNN prints on import)."""
    if runtime == "caffe":
        return _caffe_version()
    if runtime == "openvino":
        return _openvino_version()
    if runtime in VENV_DISTRIBUTIONS:
        return _venv_version(runtime)
    try:
        return metadata.version(DISTRIBUTIONS[runtime])
    except (KeyError, metadata.PackageNotFoundError):
        return "(version unknown)"


def _caffe_version() -> str:
    """pycaffe's build, from the folder scripts/build_caffe.sh installs it in (caffe-VERSION-pyX.Y-KEY)."""
    spec = importlib.util.find_spec("caffe")
    found = re.search(r"caffe-(\d[\w.]*)-py", spec.origin or "") if spec is not None else None
    return f"(brocolli-caffe {found.group(1)})" if found else "(version unknown)"


def _openvino_version() -> str:
    """OpenVINO's version in its own environment."""
    from ..verification.runtime_openvino import openvino_python

    code = "from importlib import metadata; print(metadata.version('openvino'))"
    try:
        proc = subprocess.run([openvino_python(), "-c", code], capture_output=True, text=True, timeout=60)
    except Exception:  # noqa: BLE001 - only the header's version note depends on it
        return "(version unknown)"
    return proc.stdout.strip() or "(version unknown)"


def _venv_version(runtime: str) -> str:
    """The versions of a venv runtime's packages, asked of that venv's python."""
    module, names = VENV_DISTRIBUTIONS[runtime]
    venv = importlib.import_module(f"gluon2caffe.verification.{module}").VENV
    code = f"from importlib import metadata; print(', '.join(n + ' ' + metadata.version(n) for n in {names!r}))"
    try:
        proc = subprocess.run([venv.python(), "-c", code], capture_output=True, text=True, timeout=60)
    except Exception:  # noqa: BLE001 - only the header's version note depends on it
        return "(version unknown)"
    return f"({proc.stdout.strip()})" if proc.returncode == 0 and proc.stdout.strip() else "(version unknown)"
