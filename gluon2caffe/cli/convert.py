"""`gluon2caffe convert`: convert a model, print what was done, optionally verify it."""

from __future__ import annotations

import argparse
import json
import logging
import os
import tempfile

from ..card import card_path, expects_lines, model_card, save_card
from ..converters.context import CONSUMER_NOTES, TARGETS
from ..ir.ops import has_rgb_axis
from ..ir.preprocess import PRESETS, preset_name
from .arguments import MODEL_HELP, add_model_source, shape
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


log = logging.getLogger(__name__)

HELP = "convert a model to PREFIX.prototxt + PREFIX.caffemodel"
DESCRIPTION = "Convert a model to PREFIX.prototxt + PREFIX.caffemodel."


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", metavar="MODEL", help=MODEL_HELP)
    p.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="PREFIX",
        help="output prefix (folders are created): PREFIX.prototxt + PREFIX.caffemodel; DIR/ writes DIR/MODEL.*; "
        "a .prototxt/.caffemodel ending is dropped",
    )
    p.add_argument(
        "--input-shape",
        type=shape,
        action="append",
        metavar="[NAME:]N,C,H,W",
        help="input shape, any rank 1-5 batch first (default: a zoo model's own size, as `gluon2caffe models` lists "
        "it: 224, cifar_* 32, inceptionv3 299, ssd_512_... 512, ...; 1,3,224,224 otherwise); repeat it for a model "
        "with several inputs, as NAME:SIZES (an exported model's input names) or in input order",
    )
    p.add_argument(
        "--output-node",
        action="append",
        metavar="NAME",
        help="output this internal tensor instead of the model's outputs, by MXNet's name as "
        "sym.get_internals() lists it (fc1_output, slice0_output1) or a node name; repeat it for several (an "
        "embedding or feature extractor: the layers after it are left out)",
    )
    p.add_argument("--input-name", default="data", help="name of the Caffe input blob (default data)")
    p.add_argument("--no-bgr", action="store_true", help="keep RGB input order (default: the Caffe net takes BGR)")
    p.add_argument("--no-merge-bn", action="store_true", help="keep BatchNorm layers (default: fold them)")
    p.add_argument("--softmax", action="store_true", help="append a Softmax over the class axis")
    p.add_argument(
        "--relu6",
        choices=("exact", "layer", "relu"),
        default="exact",
        help="clip(0,6): exact BVLC layers (default), a ReLU6 layer, or lossy ReLU (warns)",
    )
    p.add_argument(
        "--target",
        choices=tuple(TARGETS),
        default="any",
        help="the runtime the files are for: any (default: layers every runtime and toolchain loads) or one runtime, "
        "for the pattern it runs best (all exact), or one toolchain (tpu-mlir, rknn, onnx: caffe2onnx, paddle: "
        "x2paddle), refusing what it cannot compute with what to do instead (see docs/runtimes.md)",
    )
    p.add_argument(
        "--anchors",
        choices=("exact", "priorbox", "constant"),
        default="exact",
        help="SSD: PriorBox layers where exact, else the anchors as a constant (default); always PriorBox "
        "(portable, warns with the deviation); or always the constant",
    )
    p.add_argument(
        "--no-nms",
        action="store_true",
        help="SSD / YOLOv3: stop before DetectionOutput (SSD outputs mbox_loc, mbox_conf_flatten, mbox_priorbox; "
        "YOLOv3 yolo_boxes, yolo_scores)",
    )
    add_model_source(p)
    pre = p.add_argument_group(
        "preprocessing in the net",
        "the Caffe net takes raw pixels (0-255, BGR unless --no-bgr) and normalizes them itself, in one exact "
        "per-channel Scale layer after its input: (pixel / S - mean) / std. Without these options the summary and "
        "PREFIX.json say which normalization to apply before feeding the net (docs/deploy.md)",
    )
    pre.add_argument(
        "--preprocess",
        choices=tuple(PRESETS),
        help="GluonCV's own (pixel / 255 - mean) / std: imagenet (ImageNet's mean and std: what most zoo models take), "
        "cifar (the cifar_ models': CIFAR-10's), unit (pixel / 255 only: monodepth2's); the convert summary names "
        "the one a zoo model was trained with",
    )
    pre.add_argument("--mean", type=_three, metavar="R,G,B", help="per-channel mean, in units of pixel / S (RGB)")
    pre.add_argument("--std", type=_three, metavar="R,G,B", help="per-channel std (RGB; default 1,1,1)")
    pre.add_argument("--scale", type=float, metavar="S", help="pixels are divided by S first (default 1)")
    p.add_argument("--verify", action="store_true", help="run the result (pycaffe, else OpenCV) against MXNet")


def _three(text: str) -> tuple[float, float, float]:
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected three numbers R,G,B, got {text!r}") from None
    if len(values) != 3:
        raise argparse.ArgumentTypeError(f"expected three numbers R,G,B, got {text!r}")
    return values  # type: ignore[return-value]


def preprocess_option(args: argparse.Namespace):
    """--preprocess / --mean / --std / --scale as convert's preprocess= (None: the net takes normalized input)."""
    from ..ir.preprocess import Preprocess

    custom = [flag for flag, value in (("--mean", args.mean), ("--std", args.std), ("--scale", args.scale)) if value]
    if args.preprocess and custom:
        raise UsageError(f"--preprocess {args.preprocess} sets the numbers itself; drop {', '.join(custom)}")
    if args.preprocess:
        return args.preprocess
    if not custom:
        return None
    if args.scale is not None and args.scale <= 0:
        raise UsageError(f"--scale must be positive, got {args.scale:g}")
    if args.std is not None and min(args.std) <= 0:
        raise UsageError(f"--std must be positive, got {','.join(f'{v:g}' for v in args.std)}")
    return Preprocess(args.mean or (0.0, 0.0, 0.0), args.std or (1.0, 1.0, 1.0), args.scale or 1.0)


def run(args: argparse.Namespace) -> int:
    from ..api import ConvertOptions, convert_with, save_model, with_outputs
    from ..detectors import DetectorOptions, detector_for
    from ..frontend.shapes import mxnet_available
    from ..zoo.loader import check_zoo_name, default_input_shape, load_model
    from ..zoo.graphs import record_for

    progress = Progress(getattr(args, "quiet", False))
    preprocess = preprocess_option(args)
    classes = classes_from(args)
    prefix = output_prefix(args.output, args.model)
    zoo = check_zoo_options(args)
    given = input_shape_option(args.input_shape)
    shape = given or default_input_shape(args.model) or DEFAULT_SHAPE
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
    options = ConvertOptions(
        shape,
        args.softmax,
        not args.no_bgr,
        not args.no_merge_bn,
        args.input_name,
        args.relu6,
        args.target,
        tuple(args.output_node or ()),
        preprocess=preprocess,
    )
    if not options.outputs:
        _prefix_names_a_node(args.output, model)
    if options.outputs:  # the model cut at --output-node (a live one traced): converted and verified so
        with progress.step("cut"):
            model, options = with_outputs(model, options)
    family = detector_for(model)
    _check_detector_flags(args, family)
    if given is None and not zoo:
        _default_shape(family, args.model)
    detector = DetectorOptions(anchors=args.anchors, nms=not args.no_nms) if family is not None else None
    with progress.step("convert"):
        result = convert_with(model, options, detector, family)
    nms = not args.no_nms
    with progress.step("write"):
        labels = _labels(result, model, prefix, nms)
        card = _card(args, result, prefix, labels)
        prototxt, caffemodel = save_model(result.text_net, result.binary_weights, prefix, card=card)
        card_file = card_path(prefix)
        if labels is not None:
            _write_atomically(labels[0], labels[4])
    _print_conversion(args, description, result, prototxt, caffemodel, progress, labels, card)
    print(f"        {card_file} (model card: inputs, outputs, labels, options)")
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
                preprocess=result.options.preprocess,
            )
            runtime = args_runtime()
        else:
            code, runtime = _verify_conversion(
                prototxt, caffemodel, model, not args.no_bgr, args.relu6, result.options.preprocess
            )
    print(f"  verified in {progress.seconds['verify']:.2f} s")
    if code == EXIT_OK:  # the card records where the files were proven
        card["verified_in"][runtime] = "passed"
        save_card(card, prefix)
    return code


DEFAULT_SHAPE = (1, 3, 224, 224)


def _default_shape(family, model: str) -> None:
    """An exported model read without --input-shape: nothing in its files says the size it was trained for. A
    detector is refused (its anchors are sized for the input); anything else converts at 1,3,224,224 with a
    warning, since segmentation, pose and any net whose outputs follow the input size depend on it."""
    default = ",".join(str(d) for d in DEFAULT_SHAPE)
    if family is not None:
        raise UsageError(
            f"{model} is an exported {family.kind}: give the input size it was exported for with --input-shape "
            f"(e.g. --input-shape 1,3,512,512); its anchors are sized for it, a default {default} would give other "
            "boxes"
        )
    log.warning(
        "no --input-shape: converting %s at the default %s (its files do not say the size it was trained for); "
        "a segmentation, pose or any net whose outputs follow the input size depends on it: give --input-shape",
        model,
        default,
    )


def _prefix_names_a_node(output: str, model) -> None:
    """-o/--output is the files' prefix. Where its last part is an internal tensor of an exported model (fc0_output),
    the user most likely meant to cut the model there (--output-node): say so, since the whole model is written."""
    from ..frontend.exported import ExportedModel

    if not isinstance(model, ExportedModel):
        return
    name = os.path.basename(output.rstrip("/" + os.sep))
    for ending in (".prototxt", ".caffemodel"):
        name = name[: -len(ending)] if name.endswith(ending) else name
    nodes = {n["name"] for n in json.loads(model.symbol_json)["nodes"] if n["op"] != "null"}
    base = name[: name.rfind("_output")] if "_output" in name else None
    if base in nodes:
        log.warning(
            "-o/--output %s is where the files go (the whole model is written); %s is also an internal tensor of "
            "the model: to output it instead, give --output-node %s",
            output,
            name,
            name,
        )


def args_runtime() -> str:
    from ..verification import default_runtime

    return default_runtime()


def _card(args: argparse.Namespace, result, prefix: str, labels) -> dict:
    from ..zoo.catalog import lookup

    entry = lookup(args.model)
    task = entry.task.name if entry is not None and entry.task is not None else None
    extra = {"anchors": args.anchors, "nms": not args.no_nms} if result.detector is not None else {}
    card_labels = None
    if labels is not None:
        card_labels = {"file": os.path.basename(labels[0]), "indexes": labels[3], "numbering": labels[2]}
    trained = entry.normalization if entry is not None and entry.task is not None else None
    chosen, image = result.options.preprocess, has_rgb_axis(next(iter(result.graph.inputs.values())))
    if trained is not None and chosen is not None and chosen != trained and image:
        log.warning(
            "%s was trained with %s; the net now normalizes with %s (--preprocess %s gives the model's own)",
            args.model,
            trained.describe(),
            chosen.describe(),
            preset_name(trained),
        )
    task = _card_task(entry, task)
    return model_card(result, prefix, model=args.model, task=task, labels=card_labels, options=extra, trained=trained)


def _card_task(entry, task: str | None) -> str | None:
    """The task the card names: the catalog's, except monodepth2's pose network (listed under depth), whose outputs
    are the camera's motion."""
    return "camera-pose" if entry is not None and entry.family == "monodepth2_posenet" else task


def check_zoo_options(args: argparse.Namespace) -> bool:
    """The option combinations a zoo name rules out, refused from the name alone, before anything is built (exit 2).

    An exported model's family is known once it is read: `_check_detector_flags` checks it then. True for a zoo name.
    """
    from ..zoo.catalog import is_zoo_name, lookup

    model = args.model
    if not is_zoo_name(model):
        return False
    entry = lookup(model)
    # Before loading, the catalog says which detector a zoo name is (SSD, YOLOv3 take detector flags here).
    detector = entry is not None and entry.checks_detections
    _check_flags(args, entry.detector if detector else None, entry.task.detector_options if detector else ())
    if detector and args.anchors == "priorbox" and not entry.priorbox:
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


def _labels(result, model, prefix: str, nms: bool) -> tuple[str, list[str], str, str, str] | None:
    """PREFIX.labels.txt, one numbering everywhere: line N (counted from 0) names index N of the output it indexes.
    A detector's DetectionOutput label / SSD's score column 0 is the background (line 0 says `background`, then
    GluonCV's classes); YOLOv3's scores without NMS, CenterNet's heatmap channels and a segmentation's class maps
    have no background index of their own (line N is class N). Returns (path, classes, numbering, what it indexes)
    or None without class names, and the file's text (written after the Caffe files, atomically like them)."""
    from ..detectors.base import classes_of

    family = result.detector
    classes = result.head.classes if family is not None else classes_of(model)
    if not classes:
        return None
    background = family.labels_background(nms) if family is not None else False
    outputs = list(result.output_shapes)
    if family is None:
        indexes = f"{outputs[0]} axis 1"
    elif nms and family.background_label:
        indexes = f"{outputs[0]} label column"
    else:
        indexes = f"{outputs[family.scores_output]} classes"
    text = "".join(f"{name}\n" for name in (["background"] if background else []) + list(classes))
    numbering = "line N (from 0) names index N" + ("; line 0 is the background label" if background else "")
    return f"{prefix}.labels.txt", list(classes), numbering, indexes, text


def _write_atomically(path: str, text: str) -> None:
    folder = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        mask = os.umask(0o022)  # what open() would give a new file (mkstemp's 0600 would hide it), as save_model
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _print_conversion(
    args: argparse.Namespace,
    description: str,
    result,
    prototxt: str,
    caffemodel: str,
    progress: Progress,
    labels,
    card: dict,
) -> None:
    from ..zoo.loader import describe_size

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
    types = {layer.type for layer in result.text_net.layer}
    for kind, note in CONSUMER_NOTES.get(args.target, {}).items():
        if kind in types:
            print(f"  {args.target}: {note}")
    if labels is not None:
        print(f"  classes: {describe_classes(labels[1])}")
    for feed in card["inputs"]:
        for line in expects_lines(feed):
            print(f"  {line}")
    print(f"  converted in {result.seconds:.2f} s; {progress.summary()}")
    print(f"  wrote {prototxt} ({describe_size(prototxt)})")
    print(f"        {caffemodel} ({describe_size(caffemodel)})")
    if labels is not None:
        print(f"        {labels[0]} ({labels[3]}: {labels[2]})")


def _verify_conversion(prototxt: str, caffemodel: str, model, to_bgr: bool, relu6: str, preprocess) -> tuple[int, str]:
    from ..verification import default_runtime, verify

    runtime = default_runtime()
    layers = "local" if runtime == "caffe" else False
    v = verify(prototxt, caffemodel, model, to_bgr=to_bgr, layers=layers, preprocess=preprocess)
    for name, c in v.outputs.items():
        print(f"  verify ({v.runtime}) {name}: {c}")
    print_dependence(v.dependence)
    if v.local is not None:
        print(f"  layer-local check: {v.local.distribution()}")
    approximate = relu6_verdict(v, asked=relu6 == "relu")
    print(f"  status: {approximate or v.verdict}")
    return (EXIT_OK if v.status in PASSING or approximate else EXIT_FAILURE), v.runtime
