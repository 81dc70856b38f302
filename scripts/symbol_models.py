"""Convert and verify the symbol-API networks of gluon2caffe/zoo/symbol_nets.py; write docs/symbol_models.md and
docs/symbol_models.json (`make symbols`).

Each network is built from its authors' definition with live random weights, saved as a classic checkpoint, converted
through the public path with both shape inferences and verified in the real Caffe end to end and layer by layer
(gluon2caffe/zoo/symbol_sweep.py). Rows are merged into the JSON, so `--models a,b` reruns a few and keeps the rest.

    .venv/bin/python scripts/symbol_models.py                      # every network (about 10 minutes)
    .venv/bin/python scripts/symbol_models.py --models resnet-18,alexnet
    .venv/bin/python scripts/symbol_models.py --table-only           # the markdown from the JSON
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

from gluon2caffe.verification import rule_text
from gluon2caffe.zoo.report import write_atomic
from gluon2caffe.zoo.symbol_nets import SYMBOL_NETS, symbol_net
from gluon2caffe.zoo.symbol_sweep import check_symbol_net

DOCS = Path(__file__).resolve().parent.parent / "docs"

# Rows another part of the work fills: (name, family, source, why it is not run here).
SLOTS = (
    (
        "ssd-vgg16-reduced (MultiBox)",
        "multibox-ssd",
        "MXNet 1.9.1 example/ssd/symbol/symbol_builder.py",
        "issue 26 section 3 (MultiBox SSD as a detector family): its own tests and table rows, not run by this sweep",
    ),
)

PROSE = """\
Every row is a network built from the public definition named in its Source column (builders in
`gluon2caffe/zoo/symbol_nets.py`, written from the definitions' structure: the same operators with the same
attributes), given live random weights (He-normal weights, BatchNorm statistics from the net's own activations,
perturbed; every fix_gamma BatchNorm stores a gamma != 1), saved as a classic checkpoint (`PREFIX-symbol.json` +
`PREFIX-0000.params` with `arg:`/`aux:` names, as `Module.save_checkpoint` writes), converted through the public path
(`load_exported` + `convert`, as `gluon2caffe convert PREFIX --input-shape ...`) and run in the real Caffe on
both-sign normal noise (the face-recognition nets: raw pixels U(0, 255), which they normalize inside the symbol; the
BatchNorm statistics are taken on the same kind of input), where the output must move with a second input (the same
input plus noise of its spread) by far more than the tolerance. End to end: the worst output's error
relative to its magnitude; local: the largest error of any segment of layers run on MXNet's own values of its
inputs. Own shapes: the conversion with our own shape rules (as on Python 3.12/3.13, where MXNet does not import)
wrote the same prototxt and caffemodel bytes as with MXNet's shape inference.

Classifiers end with `softmax` over the classes, what their training symbol's `SoftmaxOutput` computes at inference
(the training heads themselves are issue 26 section 1). Face-recognition backbones end at the embedding `fc1` (the
BatchNorm after the FullyConnected), the output they are deployed with. The RetinaFace row's outputs are the nine head
tensors (class probabilities after the channel softmax, boxes and landmarks at strides 32, 16, 8); the anchor decoding
and NMS run in Python in its source, outside the symbol. Check s: the whole row (build, random weights, both
conversions, the checks), measured on a machine whose two cores other jobs shared."""

# Why a row is not exact, beyond the converter's own message: the operator and what would make it convert.
PENDING = {
    "Crop": "Crop (the legacy two-input crop_like form RetinaFace's FPN uses) and SoftmaxActivation (mode=channel, its "
    "class scores) are legacy symbol-API operators that Caffe computes exactly (a crop; Softmax over axis 1); "
    "issue 26 section 1 converts them (a separate branch)",
    "softmax_label": "a training symbol's SoftmaxOutput head with its label input: issue 26 section 1 drops the label "
    "and writes Softmax (a separate branch)",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", help="comma-separated names (default: every network)")
    parser.add_argument("--output", type=Path, default=DOCS / "symbol_models.md")
    parser.add_argument("--table-only", action="store_true", help="rewrite the markdown from the JSON, run nothing")
    args = parser.parse_args(argv)
    nets = [symbol_net(n) for n in args.models.split(",")] if args.models else list(SYMBOL_NETS)
    json_path = args.output.with_suffix(".json")
    rows = json.loads(json_path.read_text()) if json_path.exists() else {}
    if args.table_only:
        ordered = {n.name: rows[n.name] for n in SYMBOL_NETS if n.name in rows}
        write_atomic(args.output, markdown(ordered))
        return 0
    for net in nets:
        result = check_symbol_net(net)
        rows[net.name] = result.as_dict()
        print(
            f"{net.name}: {result.status} e2e {result.relative} local {result.local} ({result.seconds} s)", flush=True
        )
        known = {n.name for n in SYMBOL_NETS}
        ordered = {n.name: rows[n.name] for n in SYMBOL_NETS if n.name in rows}
        ordered.update({k: v for k, v in rows.items() if k not in known})
        write_atomic(json_path, json.dumps(ordered, indent=1, sort_keys=True) + "\n")
        write_atomic(args.output, markdown(ordered))
    # A refusal is the converter's own one-line reason (the table explains it); anything else not exact fails.
    return 0 if all(r["status"] in ("exact", "exact by layer", "refused") for r in rows.values()) else 1


def _number(value) -> str:
    return "" if value is None else f"{value:.2g}"


def _shape(shape) -> str:
    return "x".join(str(d) for d in shape[1:])


def markdown(rows: dict[str, dict]) -> str:
    exact = sum(r["status"] == "exact" for r in rows.values())
    lines = [
        "# Symbol-API networks from their authors' source",
        "",
        f"**{exact} of {len(rows)} exact** in the real Caffe ({rule_text()}).",
        "",
        PROSE,
        "",
        f"Generated by `make symbols` (scripts/symbol_models.py) on {platform.machine()}, Python "
        f"{platform.python_version()}.",
        "",
        "| Network | Family | Input | Verdict | End to end | Local (worst segment) | Own shapes | Layers | Convert s "
        "| Check s | Source |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows.values():
        local = f"{_number(r['local'])} ({r['local_worst']})" if r["local"] is not None else ""
        own = {True: "identical", False: "DIFFER", None: ""}[r["own_shapes_identical"]]
        verdict = r["status"] + (f": {r['message']}" if r["message"] else "")
        lines.append(
            f"| {r['model']} | {r['family']} | {_shape(r['input_shape'])} | {verdict} | {_number(r['relative'])} "
            f"| {local} | {own} | {r['layers'] or ''} | {r['convert_seconds'] or ''} | {r['seconds']} "
            f"| {r['source']}{'; ' + r['note'] if r['note'] else ''} |"
        )
    for name, family, source, why in SLOTS:
        lines.append(f"| {name} | {family} | | not run here: {why} | | | | | | | {source} |")
    others = [r for r in rows.values() if r["status"] != "exact"]
    lines += ["", "## Not exact", ""]
    for r in others:
        why = [text for word, text in PENDING.items() if word in r["message"]]
        lines.append(f"- {r['model']}: {r['status']}: {'; '.join(why) if why else r['message']}.")
    if not others:
        lines.append("None.")
    lines += [
        "",
        "Rerun those rows once their operators convert: `make symbols SYMBOLS_ARGS=--models NAME,NAME` (the other "
        "rows are kept).",
    ]
    text = "\n".join(lines) + "\n"
    return text


if __name__ == "__main__":
    sys.exit(main())
