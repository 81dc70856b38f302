"""Forward speed of each --target profile in each runtime: the measurements behind converters.context.TARGETS.

The default target ('any') writes only layers every runtime loads: a one-hot Convolution for a crop, an all-ones
Deconvolution to expand a broadcast operand. The others may write Slice + Silence and two-bottom Scale instead,
where that runtime loads them. This prints, per model and runtime, the median forward time (batch 1, after one
warm-up; each runtime's own conversion and loading not timed) of 'any' next to the runtime's own target, so a
profile picks a pattern only where it is measurably faster. Numbers, not pass/fail:

    GLOG_minloglevel=2 MXNET_SUBGRAPH_BACKEND=NONE .venv/bin/python bench/runtimes.py [--repeat 20] [--runtime ...]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

import numpy as np

# resnet50_v1: the stem's pooling crop; se_resnet50_v1 (16) and mobilenetv3_large (8): SE products.
MODELS = [("resnet50_v1", 224), ("se_resnet50_v1", 224), ("mobilenetv3_large", 224)]
RUNTIMES = ["caffe", "opencv", "ncnn", "mnn", "openvino"]


def main() -> None:
    from gluon2caffe import convert, save_model
    from gluon2caffe.converters.context import TARGETS
    from gluon2caffe.zoo.loader import load_zoo_model
    from gluon2caffe.verification.runtimes import Timing, available, forward

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--runtime", action="append", choices=RUNTIMES, help="default: every installed one")
    parser.add_argument("--model", action="append", choices=[m for m, _ in MODELS])
    args = parser.parse_args()
    runtimes = [r for r in args.runtime or RUNTIMES if available(r) is None]
    models = [(m, s) for m, s in MODELS if not args.model or m in args.model]
    rows = [
        "| model | runtime | target any (ms) | own target | own target (ms) | any / own |",
        "|---|---|---|---|---|---|",
    ]
    with tempfile.TemporaryDirectory(prefix="gluon2caffe-bench-") as tmp:
        for model, size in models:
            shape = (1, 3, size, size)
            net = load_zoo_model(model, shape)
            x = np.random.RandomState(0).normal(0, 1, shape).astype(np.float32)
            files = {}
            for target in ["any"] + [r for r in runtimes if TARGETS[r] != TARGETS["any"]]:
                result = convert(net, shape, target=target)
                files[target] = save_model(result.text_net, result.binary_weights, Path(tmp) / f"{model}_{target}")
            outputs = result.graph.outputs
            for runtime in runtimes:
                times = {}
                for target in dict.fromkeys(["any", runtime if runtime in files else "any"]):
                    timing = Timing(args.repeat)
                    forward(runtime, *files[target], {"data": x}, outputs, timing=timing)
                    times[target] = statistics.median(timing.seconds) * 1e3
                own = runtime if runtime in times else "any"
                ratio = times["any"] / times[own]
                rows.append(f"| {model} | {runtime} | {times['any']:.1f} | {own} | {times[own]:.1f} | {ratio:.3f} |")
                print(rows[-1], flush=True)
    print("\n".join(rows))


if __name__ == "__main__":
    main()
