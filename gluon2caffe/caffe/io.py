"""Reading and writing Caffe files: save_model (atomic, the caffemodel streamed) and read_prototxt."""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from google.protobuf import text_format

from ..errors import InvalidCallError
from . import caffe_pb2 as pb
from .caffemodel import CaffeModel

log = logging.getLogger(__name__)


def save_model(
    text_net: pb.NetParameter,
    binary_weights: CaffeModel | pb.NetParameter,
    prefix: str | os.PathLike,
    *,
    timings: dict[str, float] | None = None,
    sync: bool = False,
    card: dict[str, Any] | None = None,
) -> tuple[str, str]:
    """Write PREFIX.prototxt and PREFIX.caffemodel, creating folders; both files are written atomically.
    `card` (gluon2caffe.model_card(result, prefix)) also writes the model card PREFIX.json, the same way.

    Both files are written to temporary files first and only then moved into place, so a failure (an error, Ctrl-C,
    SIGTERM, a killed process) leaves no half-written file and does not clobber a previous good pair. The caffemodel
    is streamed from the weight arrays (binary_weights is a CaffeModel; a plain NetParameter is serialized).
    Returns the two paths.

    sync=True also fsyncs each file before its rename, so the pair survives a crash of the machine itself. Off by
    default, as for any file a program writes: the files can always be converted again, and the fsync of vgg16's
    528 MB took 0.7-1.0 s on a busy disk, more than the whole conversion (the test suite, the zoo sweep and
    `verify` write to temporary folders). `timings`, if given, receives the seconds spent on each file ("prototxt":
    text format + write; "weights": the caffemodel streamed to disk), for the benchmark.
    """
    timings = {} if timings is None else timings
    prefix = Path(prefix)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    prototxt = prefix.parent / (prefix.name + ".prototxt")
    caffemodel = prefix.parent / (prefix.name + ".caffemodel")
    t = time.perf_counter()
    text = text_format.MessageToString(text_net).encode()
    temps = []
    sizes = []
    mode = 0o666 & ~_umask()  # what open() would give a new file; mkstemp's own 0600 would hide it from others
    files = [(text, prototxt), (binary_weights, caffemodel)]
    if card is not None:
        files.append(((json.dumps(card, indent=2) + "\n").encode(), prefix.parent / (prefix.name + ".json")))
    try:
        for data, final in files:
            if len(temps) == 1:  # the prototxt is written: the weights' time starts
                timings["prototxt"] = time.perf_counter() - t
                t = time.perf_counter()
            fd, tmp = tempfile.mkstemp(dir=prefix.parent, prefix=f".{final.name}.", suffix=".tmp")
            temps.append(tmp)
            os.fchmod(fd, mode)
            try:
                with os.fdopen(fd, "wb") as f:
                    if isinstance(data, CaffeModel):
                        sizes.append(data.write_to(f))
                    else:
                        data = data if isinstance(data, bytes) else data.SerializeToString()
                        f.write(data)
                        sizes.append(len(data))
                    if sync:
                        f.flush()
                        os.fsync(f.fileno())
            except OSError as exc:  # a full disk: name the file being written, not an anonymous descriptor
                if exc.filename is None and exc.errno is not None:  # (an errno-less OSError would lose its text)
                    exc.filename = str(final)
                raise
        for tmp, (_, final) in zip(temps, files):
            os.replace(tmp, final)
        timings["weights"] = time.perf_counter() - t
    finally:
        for tmp in temps:
            if os.path.exists(tmp):
                os.unlink(tmp)
    log.info("saved %s (%d bytes) and %s (%d bytes)", prototxt, sizes[0], caffemodel, sizes[1])
    return str(prototxt), str(caffemodel)


def _umask() -> int:
    mask = os.umask(0o022)  # reading the umask means setting it: put it straight back
    os.umask(mask)
    return mask


def read_prototxt(path: str) -> Any:
    """The NetParameter of a .prototxt (unknown fields allowed); InvalidCallError naming the file otherwise."""
    try:
        with open(path) as f:
            return text_format.Parse(f.read(), pb.NetParameter(), allow_unknown_field=True)
    except OSError as exc:
        raise InvalidCallError(f"cannot read {path}: {exc.strerror or exc}") from None
    except text_format.ParseError as exc:
        raise InvalidCallError(f"{path} is not a Caffe prototxt: {exc}") from None
