"""MXNet and GluonCV are optional (the `mxnet` extra): converting exported files and comparing with saved reference
outputs need neither. Everything that does need them imports them here, so their absence is one error line that
names the extra, never an ImportError deep in a traceback.

"Cannot be imported" is wider than "not installed": on Python 3.12+ pip gives MXNet 1.9.1 a numpy >= 1.24, and
`import mxnet` raises AttributeError (np.bool); a missing libgomp is an OSError. Every failure of the import counts.
"""

from __future__ import annotations

from types import ModuleType

from .errors import MXNetUnavailableError


def import_mxnet(purpose: str) -> ModuleType:
    """`import mxnet`, or an MXNetUnavailableError saying that `purpose` ("verify against MXNet") needs it."""
    try:
        import mxnet
    except Exception as exc:  # noqa: BLE001 - ImportError, AttributeError (numpy >= 1.24), OSError (libgomp), ...
        raise MXNetUnavailableError(purpose, _cause(exc)) from None
    return mxnet


def import_gluoncv(purpose: str) -> ModuleType:
    """`import gluoncv` (after MXNet, which it needs), or an MXNetUnavailableError naming the extra."""
    import_mxnet(purpose)
    try:
        import gluoncv
    except Exception as exc:  # noqa: BLE001 - as import_mxnet
        raise MXNetUnavailableError(purpose, _cause(exc), module="GluonCV") from None
    return gluoncv


def _cause(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return f"{type(exc).__name__}: {lines[0] if lines else 'no message'}"[:200]
