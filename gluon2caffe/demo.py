"""`make demo`: convert resnet18_v1, verify it in the real Caffe, print the max error and where the files are.

python -m gluon2caffe.demo [--model resnet18_v1] [--params FILE] [--output out/resnet18_v1]
"""

from __future__ import annotations

import argparse
import sys
import time


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gluon2caffe.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet18_v1")
    parser.add_argument("--params", help="trained .params file (random live weights otherwise)")
    parser.add_argument("--output", help="output prefix (default out/MODEL)")
    args = parser.parse_args(argv)
    shape = (1, 3, 224, 224)
    prefix = args.output or f"out/{args.model}"

    from .api import convert, save_model
    from .models import load_zoo_model
    from .verification import TOLERANCE, verify_against_mxnet

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
    try:
        comparisons = verify_against_mxnet(net, result, prototxt, caffemodel, to_bgr=True)
    except ImportError as exc:
        print(
            f"error: pycaffe is not importable ({exc}); `make demo` builds it: run it from the repository root",
            file=sys.stderr,
        )
        return 1
    ok = all(c.ok for c in comparisons.values())
    for name, c in comparisons.items():
        print(f"      output {name}: {c}")
    print(
        f"{'OK' if ok else 'FAILED'}: max|caffe - mxnet| <= {TOLERANCE:g} * max(1, max|mxnet|) "
        f"{'holds' if ok else 'does not hold'}"
    )
    print(f"files:\n  {prototxt}\n  {caffemodel}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
