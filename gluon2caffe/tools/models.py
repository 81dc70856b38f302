"""Where the CLI's MODEL argument comes from: a GluonCV model-zoo name or an exported model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import Gluon2CaffeError, ModelFileError
from ..frontend.exported import is_exported_model, load_exported, strip_prefixes
from ..frontend.ndarray_file import load_params

RANDOM_SEED = 0


def load_model(spec: str, input_shape: tuple[int, ...], params: str | None = None, epoch: int = 0) -> tuple[Any, str]:
    """(model, description): an ExportedModel for a prefix / -symbol.json, else a GluonCV zoo model."""
    if is_exported_model(spec):
        model = load_exported(spec, epoch=epoch, params=params)
        return model, f"exported {model.symbol_path} + {model.params_path}"
    if "/" in spec or spec.endswith((".json", ".params")):
        raise ModelFileError(spec, "no such exported model (expected PREFIX-symbol.json beside it)")
    return load_zoo_model(
        spec, input_shape, params
    ), f"{spec} ({'weights from ' + params if params else 'random weights'})"


def load_zoo_model(name: str, input_shape: tuple[int, ...], params: str | None = None) -> Any:
    """A GluonCV zoo model with `params` loaded, or with random live weights (seeded: the same every time).

    The one way to build a random zoo model: the CLI, the zoo sweep (docs/model_zoo.md) and the tests use it.

    No pretrained weights can be downloaded; `params` is a file written by `save_parameters` (or `export`).
    """
    import mxnet as mx
    from gluoncv.model_zoo import get_model

    from .randomize import randomize

    from .zoo_models import CUSTOM_CLASSES

    kwargs: dict[str, Any] = {}
    if name.startswith(("ssd_", "yolo3_")):  # detectors would download their base network otherwise
        kwargs["pretrained_base"] = False
        if name.endswith("_custom"):
            kwargs["classes"] = CUSTOM_CLASSES
    try:
        net = get_model(name, pretrained=False, **kwargs)
    except (ValueError, KeyError) as exc:
        raise Gluon2CaffeError(f"unknown GluonCV model {name!r}: {str(exc).strip().splitlines()[0]}") from None
    mx.random.seed(RANDOM_SEED)
    net.initialize()
    if params:
        set_parameters(net, params, input_shape)
    else:
        detector = "pretrained_base" in kwargs
        # Detectors: statistics over more scenes (random scenes vary; few of them leave some scenes saturating).
        # Classifiers: two noise images, as the zoo table was measured with.
        randomize(net, input_shape, seed=RANDOM_SEED, images=detector, stats_batch=8 if detector else 2)
    return net


def default_input_shape(name: str) -> tuple[int, ...] | None:
    """The input shape a zoo detector is built for (ssd_512_... -> 1,3,512,512; yolo3_... 416), None for others."""
    from .zoo_models import SSD_MODELS, YOLO_MODELS

    for model, _, size in SSD_MODELS + YOLO_MODELS:
        if model == name:
            return (1, 3, size, size)
    return None


def set_parameters(net: Any, path: str, input_shape: tuple[int, ...]) -> None:
    """Load a .params file into `net` with our own bounds-checked reader (structured or full parameter names)."""
    import mxnet as mx

    values = strip_prefixes(load_params(path), path)
    net(mx.nd.zeros(input_shape))  # finish deferred initialization so shapes can be checked
    structured = net._collect_params_with_prefix()
    by_name = {p.name: p for p in net.collect_params().values()}
    table = structured if set(values) & set(structured) else by_name
    missing = sorted(set(table) - set(values))
    if missing:
        raise ModelFileError(path, f"{len(missing)} parameter(s) of the network are missing, e.g. {missing[:3]}")
    for key, param in table.items():
        value = values[key]
        if tuple(value.shape) != tuple(param.shape):
            raise ModelFileError(path, f"{key} has shape {value.shape}, the network needs {param.shape}")
        param.set_data(mx.nd.array(value, dtype=param.dtype))


def describe_size(path: str) -> str:
    size = Path(path).stat().st_size
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return ""  # unreachable
