"""Byte-identical conversions across a refactoring: sha256 of the .prototxt and .caffemodel of a representative model
per task family, converted for every target (converters.context.TARGETS), with fixed random weights.

    python scripts/identical_conversions.py --write FILE     # record (before the change)
    python scripts/identical_conversions.py --check FILE     # compare (after); exit 1 on any difference
    python scripts/identical_conversions.py --check FILE --only classifier ssd ...

Every model is built under a fresh MXNet name scope, so its layer names (and the bytes) do not depend on which
models were built before it: `--only` gives the same hashes as the whole run. Small input sizes keep the run to a
few minutes.

--weights zoo (default): the project's random live weights (zoo.loader.load_zoo_model: LSUV and BatchNorm
statistics measured by MXNet forward passes, so float rounding of this machine's kernels enters the bytes).
--weights numpy: every trainable parameter and BatchNorm statistic drawn by numpy's RandomState (the same on every
machine), constants (anchors, grid offsets) as the model defines them: what tests/api/test_identical_conversions.py
checks against tests/data/identical_conversions_numpy.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
from pathlib import Path

# (key, zoo name, input shape, conversion keywords, exported): one per task family, plus the reader's variants
# (an exported plain network, an exported detector pair, a renamed input, detector options).
CASES: list[tuple[str, str, tuple[int, ...], dict, bool]] = [
    ("classifier", "mobilenetv3_small", (1, 3, 64, 64), {}, False),
    (
        "classifier-img-softmax-rgb",
        "mobilenetv3_small",
        (1, 3, 64, 64),
        dict(input_name="img", softmax=True, to_bgr=False),
        False,
    ),
    ("classifier-exported", "mobilenetv3_small", (1, 3, 64, 64), {}, True),
    ("classifier-exported-img", "mobilenetv3_small", (1, 3, 64, 64), dict(input_name="img"), True),
    ("ssd", "ssd_300_mobilenet0.25_voc", (1, 3, 128, 128), {}, False),
    (
        "ssd-constant-nonms-img",
        "ssd_300_mobilenet0.25_voc",
        (1, 3, 128, 128),
        dict(input_name="img", anchors="constant", nms=False),
        False,
    ),
    ("ssd-exported", "ssd_300_mobilenet0.25_voc", (1, 3, 128, 128), {}, True),
    ("yolo", "yolo3_mobilenet0.25_voc", (1, 3, 128, 128), {}, False),
    ("yolo-exported-img", "yolo3_mobilenet0.25_voc", (1, 3, 128, 128), dict(input_name="img"), True),
    ("segmentation", "fcn_resnet50_voc", (1, 3, 64, 64), {}, False),
    ("pose-pixelshuffle", "mobile_pose_mobilenetv3_small", (1, 3, 128, 96), {}, False),
    ("action-3d", "r2plus1d_resnet18_kinetics400", (1, 3, 8, 56, 56), {}, False),
    ("depth-monodepth2", "monodepth2_resnet18_kitti_stereo_640x192", (1, 3, 64, 96), {}, False),
    ("centernet", "center_net_mobilenetv3_small_duc_voc", (1, 3, 64, 64), {}, False),
    ("centernet-exported", "center_net_mobilenetv3_small_duc_voc", (1, 3, 64, 64), {}, True),
]

DETECTOR_KEYWORDS = ("anchors", "nms")


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _convert(net, shape, keywords, target):
    from gluon2caffe import api
    from gluon2caffe.detectors import SSD_DETECTOR, YOLO_DETECTOR, detector_for

    detector = {k: v for k, v in keywords.items() if k in DETECTOR_KEYWORDS}
    plain = {k: v for k, v in keywords.items() if k not in DETECTOR_KEYWORDS}
    if not detector:
        return api.convert_model(net, shape, target=target, **plain)
    family = detector_for(net)
    function = {SSD_DETECTOR.kind: api.convert_ssd_model, YOLO_DETECTOR.kind: api.convert_yolo_model}[family.kind]
    return function(net, shape, target=target, **plain, **detector)


def numpy_weights(net, shape: tuple[int, ...], seed: int = 0) -> None:
    """Every parameter a layer learns drawn by numpy (normal, std 0.1; BatchNorm variances uniform in [0.5, 1.5]):
    the same bytes on every machine. Constants (grad_req null and not a running statistic) keep their values."""
    import mxnet as mx
    import numpy as np

    net(mx.nd.zeros(shape))  # finish deferred initialization
    rng = np.random.RandomState(seed)
    for name, param in sorted(net.collect_params().items()):
        statistic = name.endswith(("running_mean", "running_var", "moving_mean", "moving_var"))
        if param.grad_req == "null" and not statistic:
            continue
        if name.endswith(("running_var", "moving_var")):
            value = rng.uniform(0.5, 1.5, param.shape)
        else:
            value = rng.normal(0, 0.1, param.shape)
        param.set_data(mx.nd.array(value.astype(np.float32)))


def hashes(only: list[str] | None = None, weights: str = "zoo") -> dict[str, dict[str, list[str]]]:
    """{case: {target: [sha256 of prototxt, sha256 of caffemodel]}}; a target that refuses the model: [error class,
    message]."""
    import mxnet as mx

    from gluon2caffe.api import save_model
    from gluon2caffe.converters.context import TARGETS
    from gluon2caffe.errors import Gluon2CaffeError
    from gluon2caffe.frontend.exported import load_exported
    from gluon2caffe.zoo.loader import build_zoo_net, load_zoo_model

    built: dict[tuple[str, tuple[int, ...]], object] = {}
    found: dict[str, dict[str, list[str]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for key, name, shape, keywords, exported in CASES:
            if only and key not in only:
                continue
            if (name, shape) not in built:
                with mx.name.NameManager():  # names from 0: independent of the models built before
                    if weights == "numpy":
                        net = build_zoo_net(name, shape)
                        numpy_weights(net, shape)
                    else:
                        net = load_zoo_model(name, shape)
                built[(name, shape)] = net
            net = built[(name, shape)]
            if exported:
                prefix = Path(tmp) / f"{key}-export" / "model"
                prefix.parent.mkdir()
                net.hybridize()
                net(mx.nd.zeros(shape))
                net.export(str(prefix))
                net.hybridize(False)
                net = load_exported(str(prefix))
            found[key] = {}
            for target in TARGETS:
                try:
                    text_net, weights = _convert(net, shape, keywords, target)
                except Gluon2CaffeError as exc:  # a refusal must stay the same refusal
                    found[key][target] = [type(exc).__name__, str(exc)]
                    continue
                files = save_model(text_net, weights, Path(tmp) / key / target)
                found[key][target] = [_sha256(files[0]), _sha256(files[1])]
            print(f"{key}: {len(found[key])} targets", file=sys.stderr, flush=True)
    return found


def compare(expected: dict, found: dict) -> list[str]:
    """The differences, one line each (a case or target missing on either side counts)."""
    lines = []
    for key in sorted(found):
        if key not in expected:
            lines.append(f"{key}: not in the baseline")
            continue
        for target, pair in sorted(found[key].items()):
            want = expected[key].get(target)
            if want is None:
                lines.append(f"{key} [{target}]: not in the baseline")
            elif want != pair:
                if want[0].endswith("Error") or pair[0].endswith("Error"):
                    lines.append(f"{key} [{target}]: {want[0]} {want[1][:80]!r} became {pair[0]} {pair[1][:80]!r}")
                    continue
                which = [part for part, a, b in zip(("prototxt", "caffemodel"), want, pair) if a != b]
                lines.append(f"{key} [{target}]: {' and '.join(which)} differ")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", metavar="FILE", help="record the hashes in FILE (JSON)")
    mode.add_argument("--check", metavar="FILE", help="compare with the hashes in FILE")
    parser.add_argument("--weights", choices=("zoo", "numpy"), default="zoo", help="see the module docstring")
    parser.add_argument("--only", nargs="+", metavar="CASE", help="only these cases: " + ", ".join(c[0] for c in CASES))
    args = parser.parse_args(argv)
    unknown = set(args.only or ()) - {c[0] for c in CASES}
    if unknown:
        parser.error(f"unknown case(s) {sorted(unknown)}")
    found = hashes(args.only, args.weights)
    if args.write:
        Path(args.write).parent.mkdir(parents=True, exist_ok=True)
        Path(args.write).write_text(json.dumps(found, indent=1, sort_keys=True) + "\n")
        print(f"wrote {sum(len(t) for t in found.values())} conversions to {args.write}")
        return 0
    expected = json.loads(Path(args.check).read_text())
    differences = compare(expected, found)
    for line in differences:
        print(line)
    total = sum(len(t) for t in found.values())
    print(f"{total - len(differences)} of {total} conversions byte-identical")
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main())
