"""`gluon2caffe convert`: convert a model, print what was done, optionally verify it."""

from __future__ import annotations

import argparse

from .common import (
    EXIT_FAILURE,
    EXIT_OK,
    PASSING,
    Progress,
    UsageError,
    classes_from,
    describe_classes,
    input_shape_option,
    output_prefix,
    print_dependence,
    print_detector_check,
    relu6_verdict,
)


def run(args: argparse.Namespace) -> int:
    from ..api import ConvertOptions, convert_with, save_model
    from ..detectors import DetectorOptions, detector_for
    from ..frontend.shapes import mxnet_available
    from ..tools.models import check_zoo_name, default_input_shape, load_model
    from ..tools.zoo_graphs import record_for

    progress = Progress(getattr(args, "quiet", False))
    classes = classes_from(args)
    prefix = output_prefix(args.output, args.model)
    zoo = check_zoo_options(args)
    shape = input_shape_option(args.input_shape) or default_input_shape(args.model) or (1, 3, 224, 224)
    # A zoo model has one input (an exported one reads no shape here): give it the first.
    first = shape if isinstance(shape, tuple) else next(iter(shape.values() if isinstance(shape, dict) else shape))
    # A listed zoo name with trained weights and no --verify converts from its shipped graph: no MXNet, no GluonCV.
    shipped = zoo and record_for(args.model, first, args.params, classes, live=args.verify) is not None
    if zoo and not shipped:  # an exported model converts without MXNet; --verify runs it in MXNet
        progress.imports(f"the zoo name {args.model!r} (no exported {args.model}-symbol.json here)")
    elif args.verify:
        progress.imports("convert --verify (it runs the model in MXNet; `verify --reference` needs no MXNet)", False)
    elif not zoo:  # exported files convert without MXNet where it does not import (our own shape inference)
        with progress.step("import"):
            mxnet_available()
    if zoo:
        check_zoo_name(args.model)  # GluonCV's list, for a name outside the tested lists
    # Without --verify nothing runs the model: trained weights can go from the file to the Caffe files directly.
    model, description = load_model(
        args.model, first, args.params, args.epoch, classes, progress.step, live=args.verify
    )
    family = detector_for(model)
    _check_detector_flags(args, family)
    options = ConvertOptions(
        shape, args.softmax, not args.no_bgr, not args.no_merge_bn, args.input_name, args.relu6, args.target
    )
    detector = DetectorOptions(anchors=args.anchors, nms=not args.no_nms) if family is not None else None
    with progress.step("convert"):
        result = convert_with(model, options, detector, family)
    with progress.step("write"):
        prototxt, caffemodel = save_model(result.text_net, result.binary_weights, prefix)
        labels = _write_labels(result.head.classes, prefix, result.detector) if family is not None else None
    _print_conversion(args, description, result, prototxt, caffemodel, progress, labels)
    if not args.verify:
        return EXIT_OK
    with progress.step("verify"):
        if family is not None:
            head = result.head
            code = print_detector_check(
                family,
                model,
                head,
                prototxt,
                caffemodel,
                None,
                not args.no_bgr,
                "scene",
                0,
            )
        else:
            code = _verify_conversion(prototxt, caffemodel, model, not args.no_bgr, args.relu6)
    print(f"  verified in {progress.seconds['verify']:.2f} s")
    return code


def check_zoo_options(args: argparse.Namespace) -> bool:
    """The option combinations a zoo name rules out, refused from the name alone, before anything is built (exit 2).

    An exported model's family is known once it is read: `_check_detector_flags` checks it then. True for a zoo name.
    """
    from ..tools.models import is_exported_model

    model = args.model
    if is_exported_model(model) or "/" in model or model.endswith((".json", ".params")):
        return False
    kind = "SSD" if model.startswith("ssd_") else "YOLOv3" if model.startswith("yolo3_") else None
    _check_flags(args, kind, ("anchors", "nms") if kind == "SSD" else ("nms",))
    if kind == "SSD" and args.anchors == "priorbox" and "_lite_" in model:
        raise UsageError(
            f"--anchors priorbox: PriorBox cannot express the anchors of {model} (its lite head's anchors are not "
            "min square, sqrt(min*max) square, then ratios of the min size); use --anchors exact (the default)"
        )
    return True


def _check_detector_flags(args: argparse.Namespace, family) -> None:
    """--anchors / --no-nms only for the detectors that take them; --softmax for no detector."""
    _check_flags(args, None if family is None else family.kind, () if family is None else family.options)


def _check_flags(args: argparse.Namespace, kind: str | None, options) -> None:
    if kind is None:
        for flag, value in (("--anchors", args.anchors != "exact"), ("--no-nms", args.no_nms)):
            if value:
                raise UsageError(f"{flag} applies to SSD / YOLOv3 detectors only; {args.model} is not one")
        return
    if args.softmax:
        why = "its DetectionOutput scores the classes"
        raise UsageError(f"--softmax does not apply to {_article(kind)} {kind} ({why}); drop --softmax")
    if args.anchors != "exact" and "anchors" not in options:
        why = "its anchors are part of its decoding"
        raise UsageError(f"--anchors does not apply to {_article(kind)} {kind} ({why}); drop --anchors")


def _article(kind: str) -> str:
    return "an" if kind[0] in "AEFHILMNORSX" else "a"  # an SSD, a YOLOv3


def _write_labels(classes, prefix: str, family=None) -> tuple[str, list[str], str] | None:
    """PREFIX.labels.txt: line N is the name of Caffe label N (0 is background, then GluonCV's classes in order);
    for a family without a background label (CenterNet: heatmap channel N), line N + 1 names class N."""
    if not classes:
        return None
    background = getattr(family, "background_label", True)
    path = f"{prefix}.labels.txt"
    with open(path, "w", encoding="utf-8") as f:
        f.write("".join(f"{name}\n" for name in (["background"] if background else []) + list(classes)))
    meaning = "Caffe label N on line N, 0 = background" if background else "heatmap channel N on line N + 1"
    return path, list(classes), meaning


def _print_conversion(
    args: argparse.Namespace, description: str, result, prototxt: str, caffemodel: str, progress: Progress, labels
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
    print(f"  converted in {result.seconds:.2f} s; {progress.summary()}")
    print(f"  wrote {prototxt} ({describe_size(prototxt)})")
    print(f"        {caffemodel} ({describe_size(caffemodel)})")
    if labels is not None:
        print(f"        {labels[0]} ({labels[2]})")


def _verify_conversion(prototxt: str, caffemodel: str, model, to_bgr: bool, relu6: str) -> int:
    from ..verification import default_runtime, verify

    runtime = default_runtime()
    v = verify(prototxt, caffemodel, model, to_bgr=to_bgr, layers="local" if runtime == "caffe" else False)
    for name, c in v.outputs.items():
        print(f"  verify ({v.runtime}) {name}: {c}")
    print_dependence(v.dependence)
    if v.local is not None:
        print(f"  layer-local check: {v.local.distribution()}")
    approximate = relu6_verdict(v, asked=relu6 == "relu")
    print(f"  status: {approximate or v.verdict}")
    return EXIT_OK if v.status in PASSING or approximate else EXIT_FAILURE
