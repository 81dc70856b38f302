"""Conversion speed and memory, and the converted models' forward speed, in one run: `make bench`.

For each model (in a fresh process, so its memory is its own): the time of each conversion stage (model
construction excluded), the floor (the same weights written with numpy's tofile), MXNet's own ONNX exporter on the
same block, and the peak RSS increase over the constructed model. Then the Caffe forward time of converted
resnet50_v1 and mobilenetv2_1.0 (batch 1 and 8; merge_bn on/off; the exact ReLU6 composition vs the ReLU6 layer)
next to MXNet's. Then the command a user runs, end to end: `gluon2caffe convert NAME --params FILE` in a subprocess
(resnet50_v1, vgg16, yolo3_darknet53_coco), its wall time and the split the CLI's summary prints. Prints the tables
and writes them to docs/benchmarks.md (--output); `--sections end-to-end` (any subset) measures only those and
replaces only their sections of the file.

Numbers, not pass/fail: the targets (weights stage <= 3x the floor, resnet50_v1 under 1 s, faster than the ONNX
export, peak memory <= 1.5x the weight bytes, merge_bn on not slower than off) are read off the table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CONVERSION_MODELS = [
    ("resnet50_v1", 224),
    ("mobilenetv2_1.0", 224),
    ("vgg16", 224),
    ("ssd_512_resnet50_v1_voc", 512),
]
FORWARD_REPEATS = 5
END_TO_END_MODELS = [("resnet50_v1", 224), ("vgg16", 224), ("yolo3_darknet53_coco", 416)]
END_TO_END_REPEATS = 3
SECTIONS = ("conversion", "forward", "end-to-end")


# -- one model's conversion, in a child process -------------------------------------------------------------------


def _rss_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as f:  # "5" resets the peak RSS (VmHWM) to the current RSS
        f.write("5")


def measure_conversion(name: str, size: int, onnx: bool) -> dict:
    import mxnet as mx
    import numpy as np
    from gluoncv.model_zoo import get_model

    from gluon2caffe import api
    from gluon2caffe.zoo.catalog import SSD, lookup

    shape = (1, 3, size, size)
    entry = lookup(name)
    kwargs = {"pretrained_base": False} if entry is not None and entry.task is SSD else {}
    net = get_model(name, pretrained=False, **kwargs)
    net.initialize()
    net(mx.nd.zeros(shape))  # deferred initialization: part of construction, not of the conversion
    for p in net.collect_params(".*(running|moving)_var").values():  # as training leaves them: initialize() puts
        p.set_data(mx.nd.random.uniform(0.5, 1.5, p.shape))  # U(-0.07, 0.07) in SSD's expander, which is refused
    mx.nd.waitall()
    row: dict = {"model": name, "input": f"{size}x{size}"}
    with tempfile.TemporaryDirectory(prefix="gluon2caffe-bench-") as tmp:
        _reset_peak()
        rss0 = _rss_kib("VmRSS")
        start = time.perf_counter()
        result = api.convert(net, shape)  # a detector converts as one
        save_seconds: dict[str, float] = {}
        api.save_model(result.text_net, result.binary_weights, os.path.join(tmp, "m"), timings=save_seconds, sync=True)
        total = time.perf_counter() - start
        peak = _rss_kib("VmHWM") - rss0
        row.update({k: round(v, 4) for k, v in result.stages.items()})
        row["weights"] = round(save_seconds["weights"], 4)
        row["prototxt"] = round(save_seconds["prototxt"], 4)
        row["total"] = round(total, 4)
        arrays = [b for layer in result.binary_weights._layers for b in layer.blobs]
        weight_bytes = sum(int(a.size) * 4 for a in arrays)
        row["weight_mb"] = round(weight_bytes / 2**20, 1)
        row["peak_mb"] = round(peak / 1024, 1)
        # The floor: the same float32 weights with ndarray.tofile, flushed to disk like save_model's files. Disk
        # writes vary from run to run, so the floor and our streaming writer alone are both timed best of 3.
        contiguous = [np.ascontiguousarray(a, np.float32) for a in arrays]

        def floor(path):
            with open(path, "wb") as f:
                for a in contiguous:
                    a.tofile(f)
                f.flush()
                os.fsync(f.fileno())

        def ours(path):
            with open(path, "wb") as f:
                result.binary_weights.write_to(f)
                f.flush()
                os.fsync(f.fileno())

        row["floor"] = round(_best_of(3, floor, os.path.join(tmp, "floor.bin")), 4)
        row["weights_best"] = round(_best_of(3, ours, os.path.join(tmp, "ours.bin")), 4)
        result = arrays = contiguous = None  # free before the ONNX export
        if onnx:
            row["onnx"] = _onnx_export(net, shape, os.path.join(tmp, "m.onnx"))
    return row


def _best_of(n, fn, path) -> float:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn(path)
        times.append(time.perf_counter() - start)
        os.unlink(path)
    return min(times)


def _onnx_export(net, shape, path) -> float | str:
    """MXNet's own exporter on the same block: trace + mx.onnx.export_model. Seconds, or why it failed."""
    import mxnet as mx
    import numpy as np

    try:
        start = time.perf_counter()
        sym = net(mx.sym.var("data"))
        if isinstance(sym, (list, tuple)):
            sym = mx.sym.Group(list(sym))
        params = {p.name: p.data() for p in net.collect_params().values()}
        mx.onnx.export_model(sym, params, [shape], np.float32, path)
        return round(time.perf_counter() - start, 4)
    except Exception as exc:  # noqa: BLE001 - reported in the table
        return f"failed: {type(exc).__name__}: {str(exc).splitlines()[0][:80] if str(exc) else ''}"


# -- forward speed of converted models ----------------------------------------------------------------------------


def measure_forward() -> list[dict]:
    import caffe
    import mxnet as mx
    import numpy as np

    from gluon2caffe import api
    from gluon2caffe.zoo.loader import load_zoo_model

    caffe.set_mode_cpu()
    rows = []
    configs = [
        ("resnet50_v1", {"merge_bn": True}, "merge_bn on"),
        ("resnet50_v1", {"merge_bn": False}, "merge_bn off"),
        ("mobilenetv2_1.0", {"merge_bn": True, "relu6": "exact"}, "merge_bn on, relu6 exact"),
        ("mobilenetv2_1.0", {"merge_bn": False, "relu6": "exact"}, "merge_bn off, relu6 exact"),
        ("mobilenetv2_1.0", {"merge_bn": True, "relu6": "layer"}, "merge_bn on, ReLU6 layer"),
    ]
    nets = {}
    with tempfile.TemporaryDirectory(prefix="gluon2caffe-bench-") as tmp:
        for name, options, label in configs:
            for batch in (1, 8):
                shape = (batch, 3, 224, 224)
                if (name, batch) not in nets:
                    nets[(name, batch)] = load_zoo_model(name, shape)
                net = nets[(name, batch)]
                result = api.convert(net, shape, **options)
                prefix = os.path.join(tmp, f"{name}-{batch}")
                prototxt, caffemodel = api.save_model(result.text_net, result.binary_weights, prefix)
                x = np.random.RandomState(0).normal(0, 1, shape).astype(np.float32)
                c = caffe.Net(prototxt, caffe.TEST, weights=caffemodel)
                c.blobs["data"].data[...] = x
                c.forward()  # warm-up
                caffe_s = _best(c.forward)
                net.hybridize(static_alloc=True, static_shape=True)
                xm = mx.nd.array(x)
                net(xm).wait_to_read()
                mxnet_s = _best(lambda net=net, xm=xm: net(xm).wait_to_read())
                net.hybridize(active=False)
                rows.append(
                    {
                        "model": name,
                        "batch": batch,
                        "conversion": label,
                        "caffe_ms": round(caffe_s * 1000, 1),
                        "mxnet_ms": round(mxnet_s * 1000, 1),
                    }
                )
                print(
                    f"  forward {name} batch {batch} {label}: caffe {caffe_s * 1000:.1f} ms, "
                    f"mxnet {mxnet_s * 1000:.1f} ms",
                    file=sys.stderr,
                    flush=True,
                )
    return rows


def _best(fn) -> float:
    times = []
    for _ in range(FORWARD_REPEATS):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


# -- the command line, end to end -----------------------------------------------------------------------------------


def make_params(name: str, size: int, path: str) -> None:
    """Trained-looking weights for `name`: the zoo model initialized and saved with save_parameters."""
    import mxnet as mx
    from gluoncv.model_zoo import get_model

    try:
        net = get_model(name, pretrained=False, pretrained_base=False)
    except (TypeError, Warning):  # a getter without a base network (darknet53 raises a Warning)
        net = get_model(name, pretrained=False)
    net.initialize(mx.init.Xavier())
    net(mx.nd.zeros((1, 3, size, size)))
    net.save_parameters(path)


SUMMARY_STEP = re.compile(r"([a-z][a-z ]*?) (\d+\.\d+) s")


def measure_end_to_end(name: str, size: int) -> list[dict]:
    """Best of END_TO_END_REPEATS wall times of `gluon2caffe convert NAME --params FILE -q` in a fresh process,
    with the steps of that run as the CLI's summary line reports them ("...; import 2.31 s, build 0.03 s, load
    params 0.52 s, convert 0.12 s, write 0.61 s; 3.62 s in all"). The rest of the wall time is the interpreter's
    start, the package's own import and the exit. Two rows: the shipped graph (zoo/graphs.py, no MXNet) and
    the net built by GluonCV (GLUON2CAFFE_ZOO_GRAPHS=0), runs alternated."""
    load_average = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="gluon2caffe-bench-") as tmp:
        params = os.path.join(tmp, f"{name}.params")
        subprocess.run([sys.executable, __file__, "--make-params", f"{name}:{size}:{params}"], check=True)
        runs: dict[str, list] = {"shipped": [], "GluonCV": []}
        for _ in range(END_TO_END_REPEATS):
            for graph in runs:
                runs[graph].append(_end_to_end_run(name, params, tmp, graph))
        caffemodel_mb = os.path.getsize(os.path.join(tmp, f"{name}.caffemodel")) / 2**20
    rows = []
    for graph, graph_runs in runs.items():
        wall, steps = min(graph_runs, key=lambda run: run[0])
        rows.append(
            {
                "model": name,
                "graph": graph,
                "input": f"{size}x{size}",
                "wall": round(wall, 2),
                "walls": [round(w, 2) for w, _ in graph_runs],
                "import": steps.get("import", 0.0),
                "load": round(steps.get("build", 0.0) + steps.get("load params", 0.0), 2),
                "convert": steps.get("convert", 0.0),
                "write": steps.get("write", 0.0),
                "rest": round(wall - steps.get("in all", wall), 2),
                "caffemodel_mb": round(caffemodel_mb, 1),
                "load_average": load_average,
            }
        )
    return rows


def _end_to_end_run(name: str, params: str, tmp: str, graph: str) -> tuple[float, dict[str, float]]:
    env = dict(os.environ, GLUON2CAFFE_ZOO_GRAPHS="1" if graph == "shipped" else "0")
    cmd = [sys.executable, "-m", "gluon2caffe", "convert", name, "--params", params, "-o", f"{tmp}/", "-q"]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {proc.stderr.strip()}")
    summary = next(line for line in proc.stdout.splitlines() if line.strip().startswith("converted in"))
    steps = {step: float(seconds) for step, seconds in SUMMARY_STEP.findall(summary.split(";", 1)[1])}
    steps["in all"] = float(re.search(r"(\d+\.\d+) s in all", summary).group(1))
    print(f"  {name} ({graph} graph): {wall:.2f} s wall; {summary.strip()}", file=sys.stderr, flush=True)
    return wall, steps


def render_end_to_end(rows: list[dict]) -> list[str]:
    load = ", ".join(f"{r['model']} {r['load_average']:.1f}" for r in rows if r["graph"] == "shipped")
    lines = [
        "## End to end: the command line",
        "",
        f"Wall time of `gluon2caffe convert NAME --params FILE -o DIR/ -q` in a fresh process (best of"
        f" {END_TO_END_REPEATS}, the other runs in brackets; FILE written by `save_parameters`), and the steps of that"
        " run as the CLI's summary prints them: import (MXNet and GluonCV), load (build the zoo block, read the"
        " weights), convert (trace, passes, emission), write (both files, atomically, no fsync); the rest is the"
        " interpreter's start, the package's own import and the exit. Graph: `shipped` is the default (the zoo"
        " name's traced graph shipped in the package, gluon2caffe/zoo/shipped_graphs/: no MXNet, no GluonCV),"
        " `GluonCV` the same command with GLUON2CAFFE_ZOO_GRAPHS=0 (the block built by GluonCV and traced), runs"
        " alternated. Issue 16's target: vgg16 under 5 s.",
        "",
        f"Load average (1 min) when each model's runs started: {load} (other jobs on the machine slow every step,"
        " most of all the import).",
        "",
        "| model | graph | input | wall (s) | import | load | convert | write | rest | caffemodel (MB) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        others = ", ".join(f"{w:.2f}" for w in r["walls"] if w != r["wall"]) or "-"
        lines.append(
            f"| {r['model']} | {r['graph']} | {r['input']} | {r['wall']:.2f} ({others}) | {r['import']:.2f} |"
            f" {r['load']:.2f} | {r['convert']:.2f} | {r['write']:.2f} | {r['rest']:.2f} | {r['caffemodel_mb']} |"
        )
    return lines


def replace_sections(text: str, sections: dict[str, list[str]]) -> str:
    """`text` (a benchmarks.md) with each `## heading` section in `sections` replaced (appended if missing)."""
    parts = re.split(r"(?m)^(?=## )", text)
    for heading, lines in sections.items():
        body = "\n".join(lines) + "\n\n"
        index = next((i for i, part in enumerate(parts) if part.startswith(f"## {heading}")), None)
        if index is None:
            parts[-1] = parts[-1].rstrip("\n") + "\n\n"
            parts.append(body)
        else:
            parts[index] = body
    return "".join(parts).rstrip("\n") + "\n"


# -- report -------------------------------------------------------------------------------------------------------


def render(conversions: list[dict], forwards: list[dict], end_to_end: list[dict], command: str) -> str:
    lines = [
        "# Benchmarks",
        "",
        f"Produced by `{command}` on {_machine()}.",
        "",
        "## Conversion",
        "",
        "Seconds per stage of one `convert` + `save_model` (model construction excluded; the weights stage streams"
        " the caffemodel to disk with fsync), the floor (the same float32 weights written with `ndarray.tofile`"
        " and fsynced, best of 3) next to our weights writer alone (best of 3: disk writes vary), MXNet's"
        " `mx.onnx.export_model` on the same block (trace + export), and the peak RSS increase of the conversion"
        " over the constructed model (`VmHWM`, reset before converting).",
        "",
        "| model | input | trace + shapes | passes | emission | prototxt | weights stage | total | floor |"
        " weights stage (best of 3) | best / floor | ONNX export | total / ONNX | weights (MB) |"
        " peak RSS increase (MB) | peak / weights |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in conversions:
        onnx = r.get("onnx", "not run")
        ratio = f"{r['total'] / onnx:.2f}" if isinstance(onnx, float) and onnx > 0 else ""
        onnx_text = f"{onnx:.3f}" if isinstance(onnx, float) else str(onnx)
        lines.append(
            f"| {r['model']} | {r['input']} | {r['trace + shapes']:.3f} | {r['passes']:.3f} | {r['emission']:.3f} |"
            f" {r['prototxt']:.3f} | {r['weights']:.3f} | {r['total']:.3f} | {r['floor']:.3f} |"
            f" {r['weights_best']:.3f} | {r['weights_best'] / max(r['floor'], 1e-9):.2f} | {onnx_text} | {ratio} |"
            f" {r['weight_mb']} |"
            f" {r['peak_mb']} | {r['peak_mb'] / max(r['weight_mb'], 1e-9):.2f} |"
        )
    lines += ["", "## Targets (issue 6)", ""] + _targets(conversions, forwards)
    lines += [
        "",
        "## Forward time of converted models",
        "",
        f"pycaffe CPU forward, best of {FORWARD_REPEATS} after a warm-up, next to MXNet (hybridized, static"
        " alloc) on the same input; random live weights.",
        "",
        "| model | batch | conversion | Caffe (ms) | MXNet (ms) | Caffe / MXNet |",
        "|---|---|---|---|---|---|",
    ]
    for r in forwards:
        lines.append(
            f"| {r['model']} | {r['batch']} | {r['conversion']} | {r['caffe_ms']} | {r['mxnet_ms']} |"
            f" {r['caffe_ms'] / r['mxnet_ms']:.2f} |"
        )
    if end_to_end:
        lines += [""] + render_end_to_end(end_to_end)
    return "\n".join(lines) + "\n"


def _targets(conversions: list[dict], forwards: list[dict]) -> list[str]:
    """Each target of the performance issue, read off the measurements: holds / does NOT hold."""

    def verdict(ok: bool) -> str:
        return "holds" if ok else "does NOT hold"

    by_name = {r["model"]: r for r in conversions}
    lines = []
    for name in ("resnet50_v1", "vgg16"):
        if name in by_name:
            r = by_name[name]
            ratio = r["weights_best"] / r["floor"]
            lines.append(
                f"- weights stage <= 3x the tofile floor on {name}: {ratio:.2f}x (best of 3; the single in-conversion"
                f" stage took {r['weights']:.3f} s vs {r['floor']:.3f} s, disk writes vary): {verdict(ratio <= 3)}"
            )
    if "resnet50_v1" in by_name:
        total = by_name["resnet50_v1"]["total"]
        lines.append(f"- whole conversion of resnet50_v1 under 1 s: {total:.3f} s: {verdict(total < 1)}")
    onnx = [(r["model"], r["total"], r.get("onnx")) for r in conversions]
    measured = [(m, t, o) for m, t, o in onnx if isinstance(o, float)]
    if measured:
        slowest = max(t / o for _, t, o in measured)
        lines.append(
            f"- faster than MXNet's ONNX export on every model: at most {slowest:.2f}x its time"
            f" ({', '.join(m for m, _, _ in measured)}): {verdict(slowest < 1 and len(measured) == len(onnx))}"
        )
    if conversions:
        worst = max(r["peak_mb"] / r["weight_mb"] for r in conversions)
        lines.append(f"- peak memory increase <= 1.5x the weight bytes: at most {worst:.2f}x: {verdict(worst <= 1.5)}")
    pairs = {}
    for r in forwards:
        if r["conversion"].startswith("merge_bn on") and "ReLU6 layer" not in r["conversion"]:
            pairs.setdefault((r["model"], r["batch"]), {})["on"] = r["caffe_ms"]
        elif r["conversion"].startswith("merge_bn off"):
            pairs.setdefault((r["model"], r["batch"]), {})["off"] = r["caffe_ms"]
    complete = [v for v in pairs.values() if len(v) == 2]
    if complete:
        ok = all(v["on"] <= v["off"] for v in complete)
        lines.append(f"- merge_bn on not slower than off in Caffe ({len(complete)} pairs): {verdict(ok)}")
    return lines


def _machine() -> str:
    cpu = ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        mem = f", {int(open('/proc/meminfo').readline().split()[1]) / 2**20:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return (
        f"{cpu or platform.processor()} ({os.cpu_count()} cores{mem}), {platform.system()} {platform.release()},"
        f" Python {platform.python_version()}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(m for m, _ in CONVERSION_MODELS), help="conversion models")
    parser.add_argument("--no-onnx", action="store_true", help="skip MXNet's ONNX export (needs onnx<=1.18)")
    parser.add_argument("--no-forward", action="store_true", help="skip the forward-time table")
    parser.add_argument("--output", default="docs/benchmarks.md", help="(default docs/benchmarks.md)")
    parser.add_argument(
        "--sections",
        default=",".join(SECTIONS),
        help=f"what to measure, of {','.join(SECTIONS)} (default all); a subset replaces only its sections of --output",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--make-params", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:  # one model's conversion, in its own process
        name, size = args.child.split(":")
        print(json.dumps(measure_conversion(name, int(size), not args.no_onnx)))
        return 0
    if args.make_params:
        name, size, path = args.make_params.split(":", 2)
        make_params(name, int(size), path)
        return 0
    sections = args.sections.split(",")
    unknown = sorted(set(sections) - set(SECTIONS))
    if unknown:
        parser.error(f"unknown section(s) {unknown}; choose from {', '.join(SECTIONS)}")
    if args.no_forward and "forward" in sections:
        sections.remove("forward")
    command = "make bench" if len(sys.argv) == 1 else "python bench/bench.py " + " ".join(sys.argv[1:])
    if "conversion" not in sections:  # a subset: only its own sections of the existing file change
        output = Path(args.output)
        replaced = {}
        if "forward" in sections:
            raise SystemExit("--sections forward without conversion: not supported (the targets read both)")
        if "end-to-end" in sections:
            rows = []
            for name, size in END_TO_END_MODELS:
                print(f"end to end: {name} ...", file=sys.stderr, flush=True)
                rows.extend(measure_end_to_end(name, size))
            replaced["End to end"] = render_end_to_end(rows)
        text = replace_sections(output.read_text() if output.exists() else "# Benchmarks\n", replaced)
        print(text)
        output.write_text(text)
        print(f"written to {output}", file=sys.stderr)
        return 0
    sizes = dict(CONVERSION_MODELS)
    conversions = []
    for name in args.models.split(","):
        print(f"converting {name} ...", file=sys.stderr, flush=True)
        cmd = [sys.executable, __file__, "--child", f"{name}:{sizes.get(name, 224)}"]
        if args.no_onnx:
            cmd.append("--no-onnx")
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            print(proc.stderr, file=sys.stderr)
            return 1
        row = json.loads(proc.stdout.strip().splitlines()[-1])
        conversions.append(row)
        print(f"  {json.dumps(row)}", file=sys.stderr, flush=True)
    forwards = measure_forward() if "forward" in sections else []
    end_to_end = []
    if "end-to-end" in sections:
        for name, size in END_TO_END_MODELS:
            print(f"end to end: {name} ...", file=sys.stderr, flush=True)
            end_to_end.extend(measure_end_to_end(name, size))
    text = render(conversions, forwards, end_to_end, command)
    print(text)
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text)
    print(f"written to {output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
