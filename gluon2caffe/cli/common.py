"""What the commands share: exit codes, the verdicts that pass, and the printing of checks."""

from __future__ import annotations

from ..errors import Gluon2CaffeError

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2

# `exact by layer` passes: every layer is proven on MXNet's own inputs, and the end-to-end difference is float32
# rounding the network amplifies (the output says so with both numbers).
PASSING = ("exact", "exact by layer")


def classes_from(args) -> list[str] | None:
    """The class names of --classes / --classes-file, validated (a ClassesError, exit 2, before any model is built)."""
    from ..tools.models import check_classes_apply, is_exported_model, parse_classes, read_classes_file

    if args.classes is not None:
        classes = parse_classes(args.classes.split(","), "--classes")
    elif args.classes_file is not None:
        classes = read_classes_file(args.classes_file)
    else:
        return None
    model = getattr(args, "model", None) or args.against
    if not is_exported_model(model) and "/" not in model and not model.endswith((".json", ".params")):
        check_classes_apply(model, classes)  # a zoo name; an exported model carries the names on
    return classes


def describe_classes(classes, shown: int = 10) -> str:
    """`person, car, dog` or the first `shown` names and how many more."""
    names = ", ".join(list(classes)[:shown])
    return names + (f", ... ({len(classes) - shown} more)" if len(classes) > shown else "")


def input_shape_option(values: list[tuple[str | None, tuple[int, ...]]] | None):
    """The repeated --input-shape as convert's input_shape: None (not given), one shape, {name: shape} (every one
    named) or a list of shapes (none named: a live block's data0, data1, ...; an exported model's inputs in order)."""
    if not values:
        return None
    names = [name for name, _ in values]
    if len(values) == 1 and names[0] is None:
        return values[0][1]
    if all(name is None for name in names):
        return [shape for _, shape in values]
    if any(name is None for name in names) or len(set(names)) != len(names):
        raise Gluon2CaffeError("--input-shape: name every input (NAME:SIZES), each once, or none of them")
    return dict(values)


def print_local(local, every: bool) -> None:
    print(f"layer-local check ({local.distribution()}):")
    print(local.table(None if every else 20))
    if len(local.segments) > 20 and not every:
        print(f"  ... {len(local.segments) - 20} more segments (--all lists every one)")
    if local.unchecked:
        print(f"  {len(local.unchecked)} layers lead to no MXNet tensor and are checked end to end only")
    bad = local.first_failure
    if bad is None:
        print(f"every segment ({len(local.segments)}) is within the tolerance on MXNet's inputs")
    else:
        print(
            f"first segment beyond the tolerance: layer {bad.layers[0]} ({bad.op} {bad.node}), "
            f"relative error {bad.comparison.relative:.3g}"
        )


def print_detector_check(
    family,
    model,
    head,
    prototxt: str,
    caffemodel: str,
    runtime: str | None,
    to_bgr: bool,
    source: str,
    seed: int,
    show_local: bool = False,
) -> int:
    from ..verification import default_runtime, make_input

    runtime = runtime or default_runtime()
    if show_local and runtime != "caffe":
        raise Gluon2CaffeError("--local needs the caffe runtime (OpenCV does not expose every blob)")
    x, input_description = make_input(source, (1, 3) + tuple(head.image_size), seed)
    check = family.check(model, head, prototxt, caffemodel, x, to_bgr=to_bgr, runtime=runtime)
    print(f"  runtime: {runtime}; input: {input_description}; {'BGR' if to_bgr else 'RGB'} fed to Caffe")
    for name, c in check.pre_nms.items():
        print(f"  before NMS, {name}: {c}")
    if check.detections is not None:
        print(f"  detections: {check.detections}")
    if check.local is not None:
        if show_local:
            print_local(check.local, False)
        else:
            print(f"  layer-local check: {check.local.distribution()}")
    if check.float64 is not None:
        print(
            f"  against MXNet in float64: Caffe {check.float64[0]:.3g}, MXNet float32 {check.float64[1]:.3g} "
            "(how much the network amplifies float32 rounding)"
        )
    print(f"  status: {check.status}")
    return EXIT_OK if check.status in PASSING else EXIT_FAILURE
