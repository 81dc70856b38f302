"""Errors raised by gluon2caffe. Every message names what is wrong and, where it can, what to do."""

from __future__ import annotations


class Gluon2CaffeError(Exception):
    """Base class of every error gluon2caffe raises on purpose."""


class UnsupportedOperatorError(Gluon2CaffeError):
    """The graph uses operators that have no converter; all of them are listed at once."""

    def __init__(self, unsupported: dict[str, list[str]]):
        self.unsupported = dict(sorted(unsupported.items()))
        lines = []
        for op, nodes in self.unsupported.items():
            shown = ", ".join(nodes[:5]) + (f", ... ({len(nodes) - 5} more)" if len(nodes) > 5 else "")
            lines.append(f"  {op} x{len(nodes)}: {shown}")
        total = sum(len(n) for n in self.unsupported.values())
        super().__init__(
            f"{len(self.unsupported)} unsupported operator type(s) in {total} node(s); nothing was converted:\n"
            + "\n".join(lines)
            + "\nRun `gluon2caffe ops` (or see the README) for the supported operators."
        )


class ConversionError(Gluon2CaffeError):
    """A node cannot be converted exactly (bad or unsupported attribute value, impossible geometry, ...)."""

    def __init__(self, message: str, node: str | None = None, op: str | None = None, attr: str | None = None):
        self.node, self.op, self.attr = node, op, attr
        where = []
        if node is not None:
            where.append(f"node '{node}'")
        if op is not None:
            where.append(f"op {op}")
        if attr is not None:
            where.append(f"attribute '{attr}'")
        super().__init__(f"{' '.join(where)}: {message}" if where else message)


class InvalidAttributeError(ConversionError):
    """An attribute string that does not parse as the type the operator expects."""


class InvalidCallError(Gluon2CaffeError, ValueError):
    """The API was called with arguments that cannot work (wrong block type, bad input shape, ...)."""


class ModelFileError(Gluon2CaffeError):
    """An exported model file (symbol JSON or .params) that is malformed, truncated or does not match."""

    def __init__(self, path: object, message: str):
        self.path = str(path)
        super().__init__(f"{self.path}: {message}")


MXNET_EXTRA = "pip install 'gluon2caffe[mxnet]'"


class MXNetUnavailableError(Gluon2CaffeError):
    """Something that needs MXNet (or GluonCV) where it cannot be imported: one line naming the extra (exit 2)."""

    def __init__(self, purpose: str, cause: str, module: str = "MXNet"):
        self.purpose, self.cause, self.module = purpose, cause, module
        needs = "MXNet and GluonCV" if module == "GluonCV" else "MXNet"
        super().__init__(
            f"{purpose} needs {needs}, and {module} cannot be imported here ({cause}): {MXNET_EXTRA} "
            "(MXNet 1.9.1, its last release, runs on Python <= 3.11 with numpy < 1.24); converting exported files "
            "and `verify --reference` need neither"
        )
