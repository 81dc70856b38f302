"""`gluon2caffe demo`: build, convert and verify one zoo model, step by step."""

from __future__ import annotations

import argparse
import time

from .arguments import shape
from .common import EXIT_FAILURE, EXIT_OK, output_prefix


HELP = "convert a zoo model, verify it in Caffe, print the max error and the files (`make demo`)"
DESCRIPTION = "Convert a GluonCV model (resnet18_v1), verify it in Caffe against MXNet, say where the files are."


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="resnet18_v1", help="GluonCV model-zoo name (default resnet18_v1)")
    p.add_argument("--input-shape", type=shape, metavar="N,C,H,W", help="input shape (default: the model's own size)")
    p.add_argument("--params", metavar="FILE", help="trained .params file (random live weights otherwise)")
    p.add_argument("--output", metavar="PREFIX", help="output prefix (default out/MODEL)")


def run(args: argparse.Namespace) -> int:
    from ..api import convert, save_model
    from ..extras import import_gluoncv
    from ..zoo.loader import check_zoo_name, default_input_shape, load_zoo_model
    from ..verification import rule_text, verify

    prefix = output_prefix(args.output or f"out/{args.model}", args.model)
    import_gluoncv("the demo (it builds a GluonCV model and runs it in MXNet)")
    check_zoo_name(args.model)
    shape = (args.input_shape[1] if args.input_shape else None) or default_input_shape(args.model) or (1, 3, 224, 224)
    print(f"[1/3] building {args.model} ({'weights from ' + args.params if args.params else 'random live weights'})")
    net = load_zoo_model(args.model, shape, args.params)
    print(f"[2/3] converting (to_bgr=True, merge_bn=True, input {shape})")
    start = time.perf_counter()
    result = convert(net, shape, to_bgr=True, merge_bn=True)
    prototxt, caffemodel = save_model(result.text_net, result.binary_weights, prefix)
    print(
        f"      {len(result.text_net.layer)} Caffe layers, {result.report.bn_folded} BatchNorm folded, "
        f"{time.perf_counter() - start:.2f} s"
    )
    print("[3/3] verifying in Caffe (BGR input) against MXNet (RGB input)")
    v = verify(prototxt, caffemodel, net, runtime="caffe", to_bgr=True, layers="local")
    for name, c in v.outputs.items():
        print(f"      output {name}: {c}")
    if v.dependence is not None:
        print(f"      input dependence: {v.dependence}")
    if v.local is not None and not v.shape_differences:
        print(f"      layer by layer, on MXNet's own inputs: {v.local.distribution()}")
    verdict = "holds" if v.ok else "does not hold"
    print(
        f"{'OK' if v.ok else 'FAILED'} ({v.verdict}): {rule_text()} {verdict} for the output and every layer, "
        "and the output depends on the input"
    )
    print(f"files:\n  {prototxt}\n  {caffemodel}")
    return EXIT_OK if v.ok else EXIT_FAILURE
