"""The terminal's stderr without MXNet's bind-time notice.

MXNet logs "MXNET_SUBGRAPH_BACKEND=NONE is detected, subgraph backend is not in use" from C++ (dmlc LOG(INFO), no
level to turn it off) every time an executor is bound with the setting the verification needs, which is the only
one that gives MXNet's plain outputs (an empty value falls back to MKL-DNN). So the CLI drops exactly those lines
from file descriptor 2 and passes everything else on, in order, as it comes.
"""

from __future__ import annotations

import os
import re
import sys
import threading
from contextlib import contextmanager
from typing import Iterator

NOISE = re.compile(rb"^\[[0-9:]+\] \S*graph_executor\.cc:\d+: MXNET_SUBGRAPH_BACKEND=NONE is detected")


@contextmanager
def without_mxnet_notices() -> Iterator[None]:
    """Filter fd 2 through a pipe for the duration (only when stderr is the process's own, not a test's capture)."""
    if sys.stderr is not sys.__stderr__ or sys.__stderr__ is None:
        yield
        return
    sys.stderr.flush()
    original = os.dup(2)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)
    forwarder = threading.Thread(target=_forward, args=(read_end, original), daemon=True)
    forwarder.start()
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(original, 2)  # closes the pipe's last write end: the forwarder drains it and stops
        forwarder.join(timeout=5)
        os.close(original)


def _forward(read_end: int, target: int) -> None:
    pending = b""
    with os.fdopen(read_end, "rb", buffering=0) as pipe:
        while chunk := pipe.read(65536):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            out = b"".join(line + b"\n" for line in lines if not NOISE.match(line))
            if pending and not pending.startswith(b"["):  # a progress bar's partial line: show it now
                out, pending = out + pending, b""
            if out:
                os.write(target, out)
    if pending and not NOISE.match(pending):
        os.write(target, pending)
