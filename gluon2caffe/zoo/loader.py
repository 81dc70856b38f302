"""Where the CLI's MODEL argument comes from: a GluonCV model-zoo name or an exported model."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
import warnings
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from ..errors import Gluon2CaffeError, InvalidCallError, ModelFileError
from ..extras import import_gluoncv
from ..frontend.exported import (
    ExportedModel,
    check_parameters,
    is_exported_model,
    load_exported,
    parse_symbol_json,
    strip_prefixes,
)
from ..frontend.mxnet_graph import infer_shape_quietly, infer_shapes, trace_symbol
from ..frontend.ndarray_file import load_params
from .catalog import CUSTOM_CLASSES, SEGMENTATION, lookup
from .graphs import exported_from_record, record_for

Step = Callable[[str], AbstractContextManager]  # step("build") wraps a stage the CLI times and announces

RANDOM_SEED = 0


class ClassesError(InvalidCallError):
    """Class names that cannot apply: empty, duplicated, unreadable, or not fitting the model (a usage error)."""


class UnknownModelError(InvalidCallError):
    """A zoo name GluonCV does not know (a usage error); the message suggests the closest names."""


def release_memory() -> None:
    """Give the memory of the nets a process no longer holds back to the system.

    After a model is dropped, glibc keeps most of its freed memory in its per-thread arenas (MXNet's operator threads
    allocate in many), so a process that builds one zoo model after another grows by hundreds of MB per model
    (measured: vgg16 leaves 1021 MB resident, 296 MB after a trim) until the machine runs out (a pytest worker was
    OOM-killed at 17 GB). A garbage collection and malloc_trim(0) return it; a no-op where libc has no malloc_trim.
    """
    gc.collect()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """libc's malloc_trim, looked up once (find_library runs ldconfig; release_memory runs after every test)."""
    libc = ctypes.util.find_library("c")
    return getattr(ctypes.CDLL(libc), "malloc_trim", None) if libc else None


def zoo_names() -> list[str]:
    """Every name GluonCV's model zoo builds (lower case, as get_model reads them)."""
    import_gluoncv("GluonCV's list of model-zoo names")
    from gluoncv.model_zoo import get_model_list

    return sorted(get_model_list())


def check_zoo_name(name: str) -> None:
    """Refuse a name GluonCV does not know, suggesting the closest ones (before anything is built)."""
    import difflib

    if lookup(name) is not None:
        return
    names = zoo_names()
    if name.lower() in names:
        return
    close = difflib.get_close_matches(name.lower(), names, n=3, cutoff=0.6)
    hint = f"; did you mean: {', '.join(close)}?" if close else ""
    raise UnknownModelError(f"unknown model {name!r}{hint} (`gluon2caffe models` lists the names)")


def load_model(
    spec: str,
    input_shape: tuple[int, ...],
    params: str | None = None,
    epoch: int = 0,
    classes: list[str] | None = None,
    step: Step | None = None,
    live: bool = True,
) -> tuple[Any, str]:
    """(model, description): an ExportedModel for a prefix / -symbol.json, else a GluonCV zoo model.

    `classes` (names, validated by `parse_classes`) are passed on: see load_zoo_model; an exported model carries
    them as `model.classes`. `step(name)` wraps each stage that takes time (the CLI's progress and timings).
    live=False: a zoo model with `params` may come as its exported form (see load_zoo_model).
    """
    step = step or _no_step
    if is_exported_model(spec):
        with step("load"):
            model = load_exported(spec, epoch=epoch, params=params)
        model.classes = classes
        return model, f"exported {model.symbol_path} + {model.params_path}"
    if "/" in spec or spec.endswith((".json", ".params")):
        raise ModelFileError(spec, "no such exported model (expected PREFIX-symbol.json beside it)")
    model = load_zoo_model(spec, input_shape, params, classes, step, live)
    return model, f"{spec} ({'weights from ' + params if params else 'random weights'})"


def _no_step(name: str) -> AbstractContextManager:
    return nullcontext()


def parse_classes(names: list[str], source: str) -> list[str]:
    """Class names with surrounding whitespace and blank entries dropped; none at all or a duplicate is refused."""
    classes = [name.strip() for name in names if name.strip()]
    if not classes:
        raise ClassesError(f"{source} gives no class names")
    duplicates = sorted({name for name in classes if classes.count(name) > 1})
    if duplicates:
        raise ClassesError(f"{source} names a class more than once: {', '.join(duplicates)}")
    return classes


def read_classes_file(path: str) -> list[str]:
    """One class name per line (blank lines and surrounding whitespace ignored), validated by parse_classes."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ClassesError(f"cannot read the classes file {path}: {getattr(exc, 'strerror', None) or exc}") from None
    return parse_classes(text.splitlines(), f"the classes file {path}")


def check_classes_apply(name: str, classes: list[str] | None) -> None:
    """Refuse class names for a zoo name that is not a detector (before anything is built)."""
    entry = lookup(name)
    if classes is None or entry is None or entry.outside is not None:
        return
    if not entry.takes_classes:
        raise ClassesError(f"--classes applies to SSD / YOLOv3 detectors only; {name} is not one")
    if entry.fixed_classes is not None and len(classes) != entry.fixed_classes:
        _refuse_class_count(name, entry.fixed_classes, len(classes))


def load_zoo_model(
    name: str,
    input_shape: tuple[int, ...],
    params: str | None = None,
    classes: list[str] | None = None,
    step: Step | None = None,
    live: bool = True,
) -> Any:
    """A GluonCV zoo model with `params` loaded, or with random live weights (seeded: the same every time).

    The one way to build a random zoo model: the CLI, the zoo sweep (docs/model_zoo.md) and the tests use it.

    No pretrained weights can be downloaded; `params` is a file written by `save_parameters` (or `export`).
    `classes`: a *_custom detector is built with them (default CUSTOM_CLASSES); any other detector keeps its
    dataset's class count and only takes the names when there are as many; a classifier takes none.
    live=False (a conversion that runs no reference): with `params`, the model as its export() files would hold it
    (`as_exported`: the weights go from the file to the Caffe files without passing through MXNet).
    """
    step = step or _no_step
    check_classes_apply(name, classes)
    check_zoo_name(name)
    entry = lookup(name)
    if entry is not None and entry.outside is not None:
        raise OutsideCaffeError(f"{name} cannot be a Caffe model: {entry.outside}")
    record = record_for(name, input_shape, params, classes, live)
    if record is not None:  # no MXNet, no GluonCV: zoo/graphs.py
        with step("load params"):
            return exported_from_record(record, params)
    import_gluoncv(f"the GluonCV zoo model {name}")
    from .randomize import randomize

    with step("build"):
        net = build_zoo_net(name, input_shape, classes)
        check_input_shape(net, input_shape)
    if params:
        with step("load params"):
            exported = None if live else as_exported(net, params, input_shape)
            if exported is not None:
                return exported
            set_parameters(net, params, input_shape)
    else:
        detector = entry is not None and entry.checks_detections
        # Detectors: statistics over more scenes (random scenes vary; few of them leave some scenes saturating).
        # Classifiers: two noise images, as the zoo table was measured with.
        with step("random weights"):
            randomize(net, input_shape, seed=RANDOM_SEED, images=detector, stats_batch=8 if detector else 2)
            if entry is not None and entry.family == "monodepth2_posenet":
                _undo_pose_scale(net)
    return net


def check_input_shape(net: Any, input_shape: tuple[int, ...]) -> None:
    """InputShapeError (one line naming the node whose shape rule fails) for a shape `net` cannot take, found by
    MXNet's symbolic inference before any forward pass: that pass would print MXNet's argument dump on stdout and
    raise "Deferred initialization failed". A net that does not trace is left to its conversion to report."""
    try:
        symbol = trace_symbol(net, ["data"])
    except Gluon2CaffeError:
        return
    infer_shapes(symbol, {"data": tuple(input_shape)}, None)


def build_zoo_net(name: str, input_shape: tuple[int, ...], classes: list[str] | None = None) -> Any:
    """The GluonCV zoo net `name` built offline for `input_shape` and initialized (MXNet's default initializers,
    seeded), before any weights are set; `classes` as load_zoo_model takes them."""
    import_gluoncv(f"the GluonCV zoo model {name}")
    import mxnet as mx
    from gluoncv.model_zoo import get_model

    entry = lookup(name)
    custom = entry is not None and entry.custom
    # Every family that builds on a base network would download it otherwise (detectors, segmentation, pose, ...).
    kwargs: dict[str, Any] = {"pretrained_base": False}
    if custom:
        kwargs["classes"] = list(classes or CUSTOM_CLASSES)
    kwargs.update(_getter_kwargs(name, input_shape))
    with offline_getters():
        try:
            net = get_model(name, pretrained=False, **kwargs)
        except (TypeError, Warning):  # darknet53 raises a Warning for any keyword it does not know
            # A getter without a base network passes its **kwargs to the block, which refuses pretrained_base in
            # its own way; without it, the getter's own error (if any) is the one to report.
            del kwargs["pretrained_base"]
            net = get_model(name, pretrained=False, **kwargs)
    if classes is not None and not custom:
        _rename_classes(net, name, classes)
    mx.random.seed(RANDOM_SEED)
    with warnings.catch_warnings():  # some getters (segmentation heads) initialize parts of the net themselves
        warnings.filterwarnings("ignore", message=".*is already initialized, ignoring.*")
        net.initialize()
    return net


def _undo_pose_scale(net: Any) -> None:
    """monodepth2's pose decoder returns 0.01 x the spatial mean of its last convolution (a trained net's small
    rotations and translations). With random weights that leaves outputs of ~0.01, where the tolerance of the time
    (1e-4 x max(1, max|output|), with a floor of 1) was 1% of the values: no test. The rule has no floor now (it
    scales with the output), but the zoo rows keep these weights: the last convolution's weights and bias times 100
    give outputs of ~1 (weights are arbitrary here)."""
    for suffix in ("_weight", "_bias"):
        (param,) = [p for n, p in net.collect_params().items() if n.split("_", 1)[1] == "conv3" + suffix]
        param.set_data(param.data() * 100)


class OutsideCaffeError(InvalidCallError):
    """A zoo model whose computation Caffe cannot express (zoo/catalog.OUTSIDE_MODELS says why)."""


class DownloadRefusedError(InvalidCallError):
    """A GluonCV getter tried to download weights (there is no network here, and the tooling never downloads)."""


@contextmanager
def offline_getters() -> Iterator[None]:
    """Build GluonCV 0.10.5 zoo models offline, working around its getter bugs (documented in docs/model_zoo.md):

    - every TSN action getter (inceptionv1_kinetics400, resnet50_v1b_ucf101, vgg16_sthsthv2, ...) ends with
      `model.collect_params().reset_ctx(ctx)`, which raises on the parameters a pretrained_base=False backbone
      leaves uninitialized: reset_ctx is a no-op while building (everything is built on the CPU anyway);
    - the `resnet*_v1b_<dataset>` getters do not pass pretrained_base on to ActionRecResNetV1b (its default True
      downloads the ImageNet ResNet): the class is given pretrained_base=False while building;
    - the action getters for small datasets (*_custom, i3d_resnet50_v1_hmdb51 / _ucf101) load the Kinetics-400
      model's weights unless use_kinetics_pretrain=False (_getter_kwargs passes it);
    - any other download attempt (GluonCV's or MXNet's model store) raises DownloadRefusedError at once instead of
      waiting on the network.
    """
    from unittest import mock

    import mxnet as mx
    from gluoncv.model_zoo import model_store
    from mxnet.gluon.model_zoo import model_store as mxnet_model_store
    from gluoncv.model_zoo.action_recognition import actionrec_resnetv1b

    def refuse_download(url: str, *args: Any, **kwargs: Any) -> None:
        raise DownloadRefusedError(f"GluonCV tried to download {url}; zoo models are built offline with random weights")

    action_resnet = actionrec_resnetv1b.ActionRecResNetV1b
    original_init = action_resnet.__init__

    @functools.wraps(original_init)
    def init_without_base(self: Any, *args: Any, pretrained_base: Any = False, **kwargs: Any) -> None:
        original_init(self, *args, pretrained_base=pretrained_base, **kwargs)

    with (
        mock.patch.object(mx.gluon.ParameterDict, "reset_ctx", lambda self, ctx: None),
        mock.patch.object(action_resnet, "__init__", init_without_base),
        mock.patch.object(model_store, "download", refuse_download),
        mock.patch.object(mxnet_model_store, "download", refuse_download),  # MXNet's own zoo, for completeness
    ):
        yield


def _getter_kwargs(name: str, input_shape: tuple[int, ...]) -> dict[str, Any]:
    """Getter arguments for an offline build at `input_shape`. Segmentation nets fix their upsampling sizes at
    construction from crop_size (480 by default): another input size builds the net for it (square inputs; HRNet's
    segmentation nets follow any input and take none)."""
    import inspect

    from gluoncv.model_zoo.model_zoo import _models

    entry = lookup(name)
    getter = _models.get(name.lower())
    if getter is not None and "use_kinetics_pretrain" in inspect.signature(getter).parameters:
        # Action getters for small datasets (*_custom, i3d_resnet50_v1_hmdb51 / _ucf101) start from the Kinetics-400
        # model's trained weights (a download) unless told not to; random weights replace them anyway.
        return {"use_kinetics_pretrain": False}
    if (
        entry is None
        or entry.task is not SEGMENTATION
        or not isinstance(entry.input_size, int)
        or len(input_shape) != 4
    ):
        return {}
    height, width = input_shape[2:]
    if height != width:
        raise InvalidCallError(f"{name} is built for square crops (crop_size); got {height}x{width}")
    return {} if height == entry.input_size else {"crop_size": height}


def _refuse_class_count(name: str, own: int, given: int) -> None:
    custom = f"{name.rsplit('_', 1)[0]}_custom"
    other = lookup(custom)
    hint = f" (e.g. {custom})" if other is not None and other.custom else ""
    raise ClassesError(
        f"{name} has {own} classes, --classes gives {given}; for another number of classes use a *_custom model{hint}"
    )


def _rename_classes(net: Any, name: str, classes: list[str]) -> None:
    """Give a dataset detector (voc, coco) other names for its classes; their number is fixed by the weights."""
    own = list(net.classes)
    if len(classes) != len(own):
        _refuse_class_count(name, len(own), len(classes))
    try:
        net.classes = list(classes)  # SSD: a plain attribute
    except AttributeError:
        net._classes = list(classes)  # YOLOv3: a read-only property over _classes


def default_input_shape(name: str) -> tuple[int, ...] | None:
    """The input shape a listed zoo model is built for (zoo/catalog.py: cifar_* 32, inceptionv3 299,
    ssd_512_... 512, yolo3_... 416, segmentation at its crop size, pose 1x3x256x192, 3-D action clips (N, C, T, H,
    W), monodepth2 1x3x192x640 (its pose nets two frames: 6 channels), CenterNet 512, ...), None for a name not in
    the lists."""
    entry = lookup(name)
    return None if entry is None else entry.input_shape


def set_parameters(net: Any, path: str, input_shape: tuple[int, ...]) -> None:
    """Load a .params file into `net` with our own bounds-checked reader (structured or full parameter names).

    The network's parameter shapes come from symbolic shape inference at `input_shape` (no forward pass: for vgg16
    that pass took longer than everything else); a net that cannot be called symbolically runs one zero input."""
    import mxnet as mx

    traced = traced_symbol(net, input_shape)
    shapes = traced[1] if traced is not None else _shapes_by_forward(net, input_shape)
    for param, value in _trained_values(net, path, shapes).items():
        param._load_init(mx.nd.array(value, dtype=param.dtype), None)  # also finishes a deferred initialization


def as_exported(net: Any, path: str, input_shape: tuple[int, ...]) -> ExportedModel | None:
    """`net` with the trained values of `path` as its export() files would hold it: the traced symbol and the values
    straight from the file (views of its bytes, checked as set_parameters checks them), no MXNet array made.

    For a conversion without a reference run: the live way copies every weight into MXNet and back out (vgg16's
    528 MB three times, 2.6 s of a 9 s command), and the exported reading gives byte-identical files (a test
    checks). None for a net that cannot be traced symbolically or whose graph has variables that are not its
    parameters: load it live."""
    traced = parameter_trace(net, input_shape)
    if traced is None:
        return None
    symbol, shapes = traced
    symbol_json = symbol.tojson()
    try:
        parse_symbol_json(symbol_json)
    except ModelFileError:  # a graph export() cannot give either (dla34: two nodes named pool0_fwd)
        return None
    values = {
        param.name: value if value.dtype == np.dtype(param.dtype) else value.astype(param.dtype)
        for param, value in _trained_values(net, path, shapes).items()
        if param.name in shapes
    }
    name = net_name(net)
    model = ExportedModel(name, f"{name} (traced)", path, symbol_json, values)
    model.classes = class_names(net)
    return model


def parameter_trace(net: Any, input_shape: tuple[int, ...]) -> tuple[Any, dict[str, tuple[int, ...]]] | None:
    """`traced_symbol`, for a graph whose one input is `data` and whose other variables are all parameters of `net`
    (what an export() file would hold); None otherwise."""
    traced = traced_symbol(net, input_shape)
    if traced is None:
        return None
    symbol, _shapes = traced
    by_name = {p.name for p in net.collect_params().values()}
    variables = symbol.list_arguments() + symbol.list_auxiliary_states()
    if variables.count("data") != 1 or any(v not in by_name for v in variables if v != "data"):
        return None
    return traced


def net_name(net: Any) -> str:
    """The name a traced net's model carries (its block prefix name, e.g. vgg0)."""
    return getattr(net, "name", None) or type(net).__name__


def class_names(net: Any) -> list[str] | None:
    """A detector's class names (`net.classes`); None for a net without a list of them (some GluonCV nets have a
    `classes` attribute that is not one: a segmentation net's is a property object)."""
    classes = getattr(net, "classes", None)
    return [str(c) for c in classes] if isinstance(classes, (list, tuple)) else None


def _trained_values(net: Any, path: str, shapes: dict[str, tuple[int, ...]]) -> dict[Any, np.ndarray]:
    """{parameter of `net`: its value in `path`}, every parameter present with the shape the network needs."""
    values = strip_prefixes(load_params(path), path)
    structured = net._collect_params_with_prefix()
    by_name = {p.name: p for p in net.collect_params().values()}
    table = structured if set(values) & set(structured) else by_name
    check_parameters(values, {key: shapes.get(p.name, p.shape) for key, p in table.items()}, path)
    return {param: values[key] for key, param in table.items()}


def traced_symbol(net: Any, input_shape: tuple[int, ...]) -> tuple[Any, dict[str, tuple[int, ...]]] | None:
    """(symbol, {variable name: shape}) of `net` at `input_shape` from MXNet's symbolic shape inference (no forward
    pass: for vgg16 that pass took longer than everything else); None for a net that cannot run on a symbol."""
    try:
        symbol = trace_symbol(net, ["data"])
        args, _, aux = infer_shape_quietly(symbol, {"data": tuple(input_shape)})
    except Exception:  # a block that cannot run on a symbol
        return None
    if args is None:  # shapes left unknown
        return None
    names = symbol.list_arguments() + symbol.list_auxiliary_states()
    return symbol, dict(zip(names, [tuple(s) for s in args + aux]))


def _shapes_by_forward(net: Any, input_shape: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
    """Parameter shapes the slow way: one zero input finishes the deferred initialization."""
    import mxnet as mx

    net(mx.nd.zeros(input_shape))
    return {p.name: tuple(p.shape) for p in net.collect_params().values()}


def describe_size(path: str) -> str:
    size = Path(path).stat().st_size
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return ""  # unreachable
