"""Errors raised by gluon2caffe. Every message names what is wrong and, where it can, what to do."""

from __future__ import annotations


class Option(str):
    """An API argument and value as a message names it (`to_bgr=False`), kept as data: an error's `options` (and a
    log record's, `extra={"options": ...}`) say which arguments its text names, so the command line can name its
    flags instead (cli/common.py FLAGS)."""

    name: str
    value: object

    def __new__(cls, name: str, value: object) -> Option:
        option = super().__new__(cls, f"{name}={value!r}")
        option.name, option.value = name, value
        return option


class Gluon2CaffeError(Exception):
    """Base class of every error gluon2caffe raises on purpose."""

    options: tuple[Option, ...] = ()  # the API arguments the message names (see Option)

    def naming(self, *options: Option) -> Gluon2CaffeError:
        """This error, recording the API arguments its message names (`raise Error(...).naming(option)`)."""
        self.options = self.options + options
        return self


class UnsupportedOperatorError(Gluon2CaffeError):
    """The graph uses operators that have no converter; all of them are listed at once, each with the reason where
    Caffe cannot compute it (`reasons`: op -> why)."""

    def __init__(self, unsupported: dict[str, list[str]], reasons: dict[str, str] | None = None):
        self.unsupported = dict(sorted(unsupported.items()))
        self.reasons = {op: reason for op, reason in (reasons or {}).items() if op in self.unsupported}
        lines = []
        for op, nodes in self.unsupported.items():
            shown = ", ".join(nodes[:5]) + (f", ... ({len(nodes) - 5} more)" if len(nodes) > 5 else "")
            why = f" ({self.reasons[op]})" if op in self.reasons else ""
            lines.append(f"  {op} x{len(nodes)}: {shown}{why}")
        total = sum(len(n) for n in self.unsupported.values())
        super().__init__(
            f"{len(self.unsupported)} unsupported operator type(s) in {total} node(s); nothing was converted:\n"
            + "\n".join(lines)
            + "\nRun `gluon2caffe ops` (or see docs/operators.md) for the supported operators."
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


class InvalidWeightsError(ConversionError):
    """Parameters no runtime can compute with (NaN or infinite values, a BatchNorm whose moving_var + eps is not
    positive): every offending node listed at once, before anything is written. `problems` holds one
    (node, op, parameter, what is wrong) per offending parameter."""

    DETAILED, NAMED = 3, 12  # problems described in full, then further nodes named

    def __init__(self, problems: list[tuple[str | None, str | None, str, str]], remedy: str):
        self.problems = list(problems)
        described = [
            (f"node '{node}' ({op}): " if node is not None else "") + what
            for node, op, _parameter, what in self.problems[: self.DETAILED]
        ]
        rest = [f"'{node or parameter}'" for node, _op, parameter, _what in self.problems[self.DETAILED :]]
        also = ""
        if rest:
            more = len(rest) - self.NAMED
            also = f"; also {', '.join(rest[: self.NAMED])}{f' and {more} more' if more > 0 else ''}"
        nodes = len({node or parameter for node, _op, parameter, _what in self.problems})
        Gluon2CaffeError.__init__(
            self,
            f"{nodes} node(s) have weights no runtime can compute with; nothing was converted: "
            f"{'; '.join(described)}{also}. {remedy}",
        )
        self.node, self.op, self.attr = self.problems[0][0], self.problems[0][1], None


class InvalidCallError(Gluon2CaffeError, ValueError):
    """The API was called with arguments that cannot work (wrong block type, bad input shape, ...)."""


class InputShapeError(InvalidCallError):
    """Input shapes the model's shape rules refuse: names the node whose rule failed, the op and MXNet's (or our
    shape inference's) reason; where the batch axis looks forgotten, the shapes that work (`suggestion`). The message
    names `input_shape=`; the command line shows the same with `describe(cli=True)` (--input-shape)."""

    def __init__(
        self,
        shapes: dict[str, tuple[int, ...]],
        reason: str,
        node: str | None = None,
        op: str | None = None,
        suggestion: dict[str, tuple[int, ...]] | None = None,
    ):
        self.shapes = {name: tuple(shape) for name, shape in shapes.items()}
        self.reason, self.node, self.op = reason, node, op
        self.suggestion = None if suggestion is None else {name: tuple(s) for name, s in suggestion.items()}
        super().__init__(self.describe())

    def describe(self, cli: bool = False) -> str:
        where = f"node '{self.node}' ({self.op}): " if self.node is not None else ""
        if self.suggestion is None:
            return f"{_shapes_text(self.shapes, cli)} does not fit the model: {where}{self.reason}"
        return f"{self.reason}: did you forget the batch axis? e.g. {_shapes_text(self.suggestion, cli)}"


def _shapes_text(shapes: dict[str, tuple[int, ...]], cli: bool) -> str:
    """How a user gives these shapes: `input_shape=(1, 3, 224, 224)` or `--input-shape 1,3,224,224`."""
    if cli:
        if len(shapes) == 1:
            return "--input-shape " + ",".join(map(str, next(iter(shapes.values()))))
        return " ".join(f"--input-shape {name}:{','.join(map(str, s))}" for name, s in shapes.items())
    if len(shapes) == 1:
        return f"input_shape={next(iter(shapes.values()))}"
    return f"input_shape={shapes}"


class UntraceableBlockError(InvalidCallError):
    """A HybridBlock whose hybrid_forward cannot run on MXNet symbols (it reads x.shape, calls asnumpy(), branches on
    values): names the block's class, the line of the user's code that failed, and what to do."""

    def __init__(self, block: str, location: str | None, cause: str):
        self.block, self.location, self.cause = block, location, cause
        at = f" at {location}" if location else ""
        super().__init__(
            f"{block} cannot be traced symbolically{at}: {cause}. A live block converts when it is hybridizable "
            "(net.hybridize(); net(x) runs): compute with the F operators only (no x.shape, asnumpy() or Python "
            "branches on values; reshape codes 0/-1, F.slice_like, F.shape_array instead); net.export() needs the "
            "same, and its files then convert"
        )


class ModelFileError(Gluon2CaffeError):
    """An exported model file (symbol JSON or .params) that is malformed, truncated or does not match."""

    def __init__(self, path: object, message: str):
        self.path = str(path)
        super().__init__(f"{self.path}: {message}")


# No package is published: the wheel (`make dist` builds it) or the source folder carries the extra.
MXNET_EXTRA = "pip install 'gluon2caffe-*.whl[mxnet]' (or '.[mxnet]' in the source folder)"


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
