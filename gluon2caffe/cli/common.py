"""What the commands share: exit codes, the one-line failure messages, the verdicts that pass, the output paths,
the zoo names' defaults and the printing of checks."""

from __future__ import annotations

import os
import re
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from ..errors import Gluon2CaffeError, InputShapeError, MXNetUnavailableError

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED, EXIT_TERMINATED = 130, 143  # 128 + SIGINT, 128 + SIGTERM, as a shell reports them


class UsageError(Gluon2CaffeError):
    """Options that cannot go together, or a model name that does not exist: exit 2, found before any model is built."""


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C's KeyboardInterrupt so every `finally` (temporary files) runs on the way out."""


# The command-line flag of each API argument value a library message names (errors.Option, carried as data by the
# error's `options` or the log record's): the terminal user needs the flags.
FLAGS = {
    ("to_bgr", False): "--no-bgr",
    ("merge_bn", False): "--no-merge-bn",
    ("anchors", "exact"): "--anchors exact",
    ("anchors", "priorbox"): "--anchors priorbox",
    ("anchors", "constant"): "--anchors constant",
    ("relu6", "relu"): "--relu6 relu",
    ("relu6", "layer"): "--relu6 layer",
    ("relu6", "exact"): "--relu6 exact",
}


def with_flags(text: str, options) -> str:
    """`text` with each API argument it names (`options`, errors.Option) written as its command-line flag."""
    for option in options:
        flag = FLAGS.get((option.name, option.value))
        if flag is not None:
            text = text.replace(option, flag)
    return text


def failure_message(exc: BaseException) -> tuple[str, int]:
    """(the `error:` text, the exit code) for anything that ends a command; the traceback is for -v only."""
    from ..zoo.loader import ClassesError, UnknownModelError

    if isinstance(exc, InputShapeError):  # --input-shape does not fit the model: said with the flag
        return exc.describe(cli=True), EXIT_USAGE
    if isinstance(exc, Gluon2CaffeError):
        usage = (UsageError, ClassesError, UnknownModelError, MXNetUnavailableError)
        return with_flags(str(exc), exc.options), EXIT_USAGE if isinstance(exc, usage) else EXIT_FAILURE
    module = _failed_import(exc)
    if module is not None:  # an MXNet import extras.py does not guard: the same one line
        return str(MXNetUnavailableError("this command", _first_line(exc), module)), EXIT_USAGE
    if _is_mxnet_error(exc):
        return f"MXNet failed: {_mxnet_cause(str(exc))} (is --input-shape right for this model?)", EXIT_FAILURE
    if _is_download_error(exc):
        return (
            f"a download was attempted and failed ({_first_line(exc)}); gluon2caffe builds zoo models offline with "
            "random weights: give trained weights with --params FILE",
            EXIT_FAILURE,
        )
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if exc.filename else ""
        return f"{where}{exc.strerror or _first_line(exc)} (check the path, its permissions and free space)", 1
    if isinstance(exc, MemoryError):
        return "out of memory (try a smaller --input-shape)", EXIT_FAILURE
    return f"{type(exc).__name__}: {_first_line(exc)} (run with -v for the traceback)", EXIT_FAILURE


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def _failed_import(exc: BaseException) -> str | None:
    """ "MXNet" / "GluonCV" when `exc` is their import failing (not installed; on Python 3.12+ MXNet's own
    AttributeError on numpy >= 1.24), else None."""
    if isinstance(exc, ModuleNotFoundError) and exc.name in ("mxnet", "gluoncv"):
        return "MXNet" if exc.name == "mxnet" else "GluonCV"
    if not isinstance(exc, (ImportError, AttributeError, OSError)):
        return None
    files, tb = [], exc.__traceback__
    while tb is not None:
        files.append(tb.tb_frame.f_code.co_filename.replace(os.sep, "/"))
        tb = tb.tb_next
    if not any("importlib._bootstrap" in f for f in files):
        return None
    for package, module in (("/mxnet/", "MXNet"), ("/gluoncv/", "GluonCV")):
        if any(package in f for f in files):
            return module
    return None


def _is_mxnet_error(exc: BaseException) -> bool:
    return any(cls.__name__ == "MXNetError" for cls in type(exc).__mro__)


def _mxnet_cause(text: str) -> str:
    """The line of an MXNet error that says what failed (its C++ traceback and file lines dropped)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    causes = [line for line in lines if "Check failed" in line or line.startswith(("MXNetError:", "Error in"))]
    cause = (causes or lines or ["unknown error"])[-1]
    return re.sub(r"^MXNetError:\s*", "", cause)


def _is_download_error(exc: BaseException) -> bool:
    from urllib.error import URLError

    names = {cls.__name__ for cls in type(exc).__mro__}
    return isinstance(exc, (ConnectionError, URLError)) or bool(names & {"RequestException", "ConnectionError"})


def output_prefix(output: str, model: str) -> str:
    """The -o PREFIX a user means: `DIR/` (or an existing folder) -> DIR/<model>; `x.prototxt` / `x.caffemodel` -> x.

    Refused before anything is built when it cannot be written (an ancestor is a file, a folder is read-only)."""
    if output.endswith(("/", os.sep)) or os.path.isdir(output):
        name = Path(model.rstrip("/")).name
        for suffix in ("-symbol.json", ".json"):
            name = name[: -len(suffix)] if name.endswith(suffix) else name
        output = str(Path(output) / name)
    for suffix in (".prototxt", ".caffemodel"):
        if output.endswith(suffix):
            output = output[: -len(suffix)]
    _check_writable(Path(output).parent)
    return output


def _check_writable(folder: Path) -> None:
    existing = folder if str(folder) else Path(".")
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise UsageError(f"-o: {existing} is a file, not a folder; choose another output path")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UsageError(f"-o: cannot write in {existing} (read-only or no permission); choose another output path")


# `exact by layer` passes: every layer is proven on MXNet's own inputs, and the end-to-end difference is float32
# rounding the network amplifies (the output says so with both numbers).
PASSING = ("exact", "exact by layer", "within fp16")  # within fp16: a float16 runtime's pass (rknn)


def check_named_files(args) -> None:
    """Every file an option or argument names exists and is readable, checked before anything is imported or built:
    a UsageError (exit 2) naming the option. The model argument: a zoo name, or an exported model whose
    PREFIX-symbol.json (and PREFIX-EPOCH.params, unless --params) exist; verify's PREFIX: its two files."""
    from ..frontend.exported import resolve_paths
    from ..zoo.catalog import is_zoo_name

    named = [
        ("--params", getattr(args, "params", None)),
        ("--classes-file", getattr(args, "classes_file", None)),
        ("--reference", getattr(args, "reference", None)),
    ]
    given_input = getattr(args, "input", None)
    if given_input is not None and given_input not in ("random", "scene"):
        named.append(("--input", given_input))
    for option, path in named:
        if path is not None:
            _readable(path, option)
    for option, spec in (("MODEL", getattr(args, "model", None)), ("--against", getattr(args, "against", None))):
        if spec is None or is_zoo_name(spec) or not _looks_exported(spec):
            continue  # an unknown plain name is the loader's "unknown model" (with the closest names)
        _, symbol, params = resolve_paths(spec, getattr(args, "epoch", 0), getattr(args, "params", None))
        if not os.path.isfile(symbol):
            raise UsageError(f"{option} {spec}: no such exported model ({symbol} does not exist)")
        _readable(symbol, option)
        if getattr(args, "params", None) is None:  # a --params file was checked with the named files above
            _readable(params, f"{option} {spec}'s weights")


def _looks_exported(spec: str) -> bool:
    """A path-like model argument (a folder in it, a .json ending) or a prefix whose -symbol.json is there."""
    return "/" in spec or os.sep in spec or spec.endswith((".json", ".params")) or os.path.isfile(f"{spec}-symbol.json")


def _readable(path: str, option: str) -> None:
    if not os.path.exists(path):
        raise UsageError(f"{option} {path}: no such file")
    if os.path.isdir(path):
        raise UsageError(f"{option} {path}: is a folder, not a file")
    if not os.access(path, os.R_OK):
        raise UsageError(f"{option} {path}: not readable (permission denied)")


def classes_from(args) -> list[str] | None:
    """The class names of --classes / --classes-file, validated (a ClassesError, exit 2, before any model is built)."""
    from ..zoo.catalog import is_zoo_name
    from ..zoo.loader import check_classes_apply, parse_classes, read_classes_file

    if args.classes is not None:
        classes = parse_classes(args.classes.split(","), "--classes")
    elif args.classes_file is not None:
        classes = read_classes_file(args.classes_file)
    else:
        return None
    model = getattr(args, "model", None) or args.against
    if is_zoo_name(model):
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
    constant = len(local.constant)
    if constant:
        print(
            f"  {constant} segment{'s' if constant > 1 else ''} constant on MXNet's inputs: not conclusive (a wrong "
            "layer would write the same values; counted, not failed)"
        )
    bad = local.first_failure
    if bad is None:
        print(f"every segment ({len(local.segments)}) is within the tolerance on MXNet's inputs")
    else:
        print(
            f"first segment beyond the tolerance: layer {bad.layers[0]} ({bad.op} {bad.node}), "
            f"relative error {bad.comparison.relative:.3g}"
        )


def print_dependence(dependence) -> None:
    """The input-dependence line (verification.input_dependence), when it holds (otherwise the status says why)."""
    if dependence is not None and dependence.ok:
        print(f"  input dependence: {dependence}")


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
    preprocess=None,
) -> int:
    from ..verification import NOT_CONCLUSIVE, default_runtime, make_input, second_inputs
    from ..verification.detectors import DetectorRun, priorbox_verdict
    from ..verification.precision import FLOAT16, precision_of

    runtime = runtime or default_runtime()
    if show_local and runtime != "caffe":
        raise Gluon2CaffeError("--local needs the caffe runtime (OpenCV does not expose every blob)")
    if precision_of(runtime) == FLOAT16:
        raise Gluon2CaffeError(
            f"{runtime} computes in float16: a detector's check compares its detections with GluonCV's exactly, "
            "which float16 cannot meet; check the detector in a float32 runtime (the classifier check runs here, "
            "under the float16 rule)"
        )
    x, input_description = make_input(source, (1, 3) + tuple(head.image_size), seed)
    x2, second = second_inputs(source, {"data": x}, seed)
    run = DetectorRun(model, head, (prototxt, caffemodel), x, runtime, to_bgr, x2=x2["data"], preprocess=preprocess)
    check = family.check(run)
    fed = ("raw pixels, " if preprocess is not None else "") + ("BGR" if to_bgr else "RGB")
    print(f"  runtime: {runtime}; input: {input_description}; {fed} fed to Caffe")
    for name, c in check.pre_nms.items():
        print(f"  {family.compared_at}, {name}: {c}")
    if check.detections is not None:
        print(f"  detections: {check.detections}")
    if check.dependence is not None:
        check.dependence.second_input = second  # the check was given x2: say how it was made
    print_dependence(check.dependence)
    # PriorBox layers in the files: anchors that may not be GluonCV's (--anchors priorbox), judged as such.
    approximate = None
    if check.status not in PASSING and writes_layer(prototxt, "PriorBox"):
        approximate = priorbox_verdict(check)
        if check.moved is not None:
            print(f"  detections, boxes moved by PriorBox: {check.moved}")
    if check.local is not None:
        if show_local:
            print_local(check.local, False)
        else:
            print(f"  layer-local check: {check.local.distribution()}")
    if check.float64 is not None and approximate is None:
        print(
            f"  against MXNet in float64: Caffe {check.float64[0]:.3g}, MXNet float32 {check.float64[1]:.3g} "
            "(how much the network amplifies float32 rounding)"
        )
    reason = check.reason if check.status in (NOT_CONCLUSIVE, "mismatch") and check.reason else ""
    print(f"  status: {approximate or check.status}" + (f": {reason}" if reason and not approximate else ""))
    return EXIT_OK if check.status in PASSING or approximate else EXIT_FAILURE


def writes_layer(prototxt: str, layer_type: str) -> bool:
    from ..caffe.io import read_prototxt

    return any(layer.type == layer_type for layer in read_prototxt(prototxt).layer)


def relu6_verdict(v, asked: bool = False) -> str | None:
    """verification.verdicts.relu6_verdict (imported when a check runs)."""
    from ..verification.verdicts import relu6_verdict as verdict

    return verdict(v, asked)


class Progress:
    """Announces each slow step on stderr as it starts (silent with -q) and keeps its wall time for the summary."""

    LABELS = {
        "import": "loading MXNet and GluonCV",
        "load": "loading the exported model",
        "build": "building the model",
        "random weights": "random live weights",
        "load params": "loading the weights",
        "cut": "cutting the model at --output-node",
        "convert": "tracing and converting",
        "write": "writing the files",
        "verify": "verifying",
        "run": "running the model in MXNet",
    }

    def __init__(self, quiet: bool = False):
        self.quiet = quiet
        self.seconds: dict[str, float] = {}
        self.start = time.perf_counter()

    def imports(self, purpose: str = "this command", gluoncv: bool = True) -> None:
        """MXNet (and GluonCV) take seconds to import: a step of its own, so the times add up. Where they cannot be
        imported, the one error line says that `purpose` needs them and names the extra (exit 2)."""
        from ..extras import import_gluoncv, import_mxnet

        with self.step("import"):
            (import_gluoncv if gluoncv else import_mxnet)(purpose)

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        if not self.quiet:
            print(f"{self.LABELS.get(name, name)} ...", file=sys.stderr, flush=True)
        t = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - t

    def summary(self) -> str:
        """`build 1.10 s, random weights 2.31 s, convert 0.21 s, write 0.02 s; 3.70 s in all`"""
        steps = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in self.seconds.items())
        return f"{steps}; {time.perf_counter() - self.start:.2f} s in all"
