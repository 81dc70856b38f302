"""`gluon2caffe convert`: convert a model, print what was done, optionally verify it."""

from __future__ import annotations

import argparse
import time

from ..errors import Gluon2CaffeError
from .common import (
    EXIT_FAILURE,
    EXIT_OK,
    PASSING,
    classes_from,
    describe_classes,
    input_shape_option,
    print_detector_check,
)


def run(args: argparse.Namespace) -> int:
    from ..api import ConvertOptions, convert_with, save_model
    from ..detectors import DetectorOptions, detector_for
    from ..tools.models import default_input_shape, load_model

    classes = classes_from(args)
    start = time.perf_counter()
    shape = input_shape_option(args.input_shape) or default_input_shape(args.model) or (1, 3, 224, 224)
    # A zoo model has one input (an exported one reads no shape here): give it the first.
    first = shape if isinstance(shape, tuple) else next(iter(shape.values() if isinstance(shape, dict) else shape))
    model, description = load_model(args.model, first, args.params, args.epoch, classes)
    family = detector_for(model)
    _check_detector_flags(args, family)
    options = ConvertOptions(
        shape, args.softmax, not args.no_bgr, not args.no_merge_bn, args.input_name, args.relu6, args.target
    )
    detector = DetectorOptions(anchors=args.anchors, nms=not args.no_nms) if family is not None else None
    result = convert_with(model, options, detector, family)
    prototxt, caffemodel = save_model(result.text_net, result.binary_weights, args.output)
    labels = _write_labels(result.head.classes, args.output) if family is not None else None
    _print_conversion(args, description, result, prototxt, caffemodel, start, labels)
    if args.verify and family is not None:
        return print_detector_check(family, model, result.head, prototxt, caffemodel, None, not args.no_bgr, "scene", 0)
    if args.verify:
        return _verify_conversion(prototxt, caffemodel, model, not args.no_bgr)
    return EXIT_OK


def _check_detector_flags(args: argparse.Namespace, family) -> None:
    """--anchors / --no-nms only for the detectors that take them; --softmax for no detector."""
    if family is None:
        for flag, value in (("--anchors", args.anchors != "exact"), ("--no-nms", args.no_nms)):
            if value:
                raise Gluon2CaffeError(f"{flag} applies to SSD / YOLOv3 detectors only; {args.model} is not one")
        return
    if args.softmax:
        raise Gluon2CaffeError(f"--softmax does not apply to a {family.kind} (its DetectionOutput scores the classes)")
    if args.anchors != "exact" and "anchors" not in family.options:
        raise Gluon2CaffeError(f"--anchors does not apply to a {family.kind}")


def _write_labels(classes, prefix: str) -> tuple[str, list[str]] | None:
    """PREFIX.labels.txt: line N is the name of Caffe label N (0 is background, then GluonCV's classes in order)."""
    if not classes:
        return None
    path = f"{prefix}.labels.txt"
    with open(path, "w", encoding="utf-8") as f:
        f.write("".join(f"{name}\n" for name in ["background", *classes]))
    return path, list(classes)


def _print_conversion(
    args: argparse.Namespace, description: str, result, prototxt: str, caffemodel: str, start, labels
) -> None:
    from ..tools.models import describe_size

    r = result.report
    print(f"{description}")
    print(
        f"  {result.source_nodes} MXNet nodes -> {len(result.text_net.layer)} Caffe layers, "
        f"{result.num_parameters / 1e6:.2f}M parameters"
    )
    swap = ", ".join(r.bgr_swapped) if r.bgr_swapped else "off"
    if r.bgr_skipped:
        swap += f" (inputs left as they are, no 3-channel axis 1: {', '.join(r.bgr_skipped)})"
    print(
        f"  BatchNorm folded: {r.bn_folded}, kept: {r.bn_kept}; identities removed: {r.identities_removed}; "
        f"BGR swap: {swap}; "
        f"{'BGR->RGB permutation before: ' + ', '.join(r.bgr_permuted) + '; ' if r.bgr_permuted else ''}"
        f"softmax appended: {'yes' if r.softmax_appended else 'no'}; relu6: {args.relu6}; target: {args.target}"
    )
    if result.detector is not None:
        for line in result.detector.summary(result.head, result.detection, not args.no_nms):
            print(f"  {line}")
    if labels is not None:
        print(f"  classes: {describe_classes(labels[1])}")
    print(f"  converted in {result.seconds:.2f} s, {time.perf_counter() - start:.2f} s in all")
    print(f"  wrote {prototxt} ({describe_size(prototxt)})")
    print(f"        {caffemodel} ({describe_size(caffemodel)})")
    if labels is not None:
        print(f"        {labels[0]} (Caffe label N on line N, 0 = background)")


def _verify_conversion(prototxt: str, caffemodel: str, model, to_bgr: bool) -> int:
    from ..verification import default_runtime, verify

    runtime = default_runtime()
    v = verify(prototxt, caffemodel, model, to_bgr=to_bgr, layers="local" if runtime == "caffe" else False)
    for name, c in v.outputs.items():
        print(f"  verify ({v.runtime}) {name}: {c}")
    if v.local is not None:
        print(f"  layer-local check: {v.local.distribution()}")
    print(f"  status: {v.status}")
    return EXIT_OK if v.status in PASSING else EXIT_FAILURE
