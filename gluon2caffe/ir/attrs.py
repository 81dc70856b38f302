"""Typed readers for MXNet attribute strings.

MXNet stores every operator attribute as a string ("(3, 3)", "True", "1e-05", "None"). They are parsed here by
type, never evaluated: model files are untrusted input. A value that does not parse raises InvalidAttributeError
naming the node, the op and the attribute.
"""

from __future__ import annotations

import math
import re
from typing import Any

from ..errors import InvalidAttributeError

_REQUIRED: Any = object()
_TUPLE_RE = re.compile(r"^\s*[\(\[]?(.*?)[\)\]]?\s*$", re.S)
_TRUE = {"true", "1"}
_FALSE = {"false", "0"}
_NONE = {"none", ""}


class Attrs:
    """The attributes of one node, with typed getters. `default=REQUIRED` makes an attribute mandatory."""

    REQUIRED = _REQUIRED

    def __init__(self, node: str, op: str, raw: dict[str, str] | None = None):
        self.node, self.op = node, op
        self.raw: dict[str, str] = {str(k): str(v) for k, v in (raw or {}).items()}
        self.typed: dict[str, Any] = {}  # values a pass set (see `set`), ahead of `raw`

    def __contains__(self, key: str) -> bool:
        return key in self.typed or key in self.raw

    def __repr__(self) -> str:
        return f"Attrs({self.raw}, typed={self.typed})" if self.typed else f"Attrs({self.raw})"

    def error(self, attr: str, message: str) -> InvalidAttributeError:
        return InvalidAttributeError(message, node=self.node, op=self.op, attr=attr)

    def _get(self, key: str, default: Any) -> str | Any:
        if key in self.typed:
            return self.typed[key]
        if key in self.raw:
            return self.raw[key]
        if default is _REQUIRED:
            raise self.error(key, "is required but missing")
        return default

    def set(self, key: str, value: Any) -> None:
        """A pass's rewrite: a typed value (int, float, bool, tuple of ints) the getters return as it is.

        Never an MXNet attribute string: `raw` keeps what the model file said."""
        self.typed[key] = value

    def str(self, key: str, default: Any = _REQUIRED, choices: tuple[str, ...] | None = None) -> str | Any:
        value = self._get(key, default)
        if isinstance(value, str) and choices is not None and value not in choices:
            raise self.error(key, f"is {value!r}; expected one of {', '.join(map(repr, choices))}")
        return value

    def int(self, key: str, default: Any = _REQUIRED) -> int | Any:
        value = self._get(key, default)
        if not isinstance(value, str):
            return value
        return self._parse_int(key, value)

    def float(self, key: str, default: Any = _REQUIRED) -> float | Any:
        value = self._get(key, default)
        if not isinstance(value, str):
            return value
        text = value.strip()
        if text.lower() in _NONE:
            return default if default is not _REQUIRED else None
        try:
            parsed = float(text)
        except ValueError:
            raise self.error(key, f"is {value!r}, not a number") from None
        if math.isnan(parsed):
            raise self.error(key, "is NaN")
        return parsed

    def bool(self, key: str, default: Any = _REQUIRED) -> bool | Any:
        value = self._get(key, default)
        if not isinstance(value, str):
            return value
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        if text in _NONE:
            return default if default is not _REQUIRED else None
        raise self.error(key, f"is {value!r}, not a boolean")

    def int_tuple(self, key: str, default: Any = _REQUIRED) -> tuple[int, ...] | Any:
        """'(3, 3)', '[3,3]', '3', '()' -> tuples of ints. 'None' -> the default."""
        value = self._get(key, default)
        if not isinstance(value, str):
            return value
        if value.strip().lower() == "none":
            return default if default is not _REQUIRED else None
        body = _TUPLE_RE.match(value).group(1)  # type: ignore[union-attr]
        items = [item.strip() for item in body.split(",")]
        if items and items[-1] == "":
            items.pop()  # "(3,)"
        return tuple(self._parse_int(key, item, whole=value) for item in items)

    def _parse_int(self, key: str, text: str, whole: str | None = None) -> int:
        text = text.strip()
        if text.endswith("L"):  # python2-era exports wrote longs as "3L"
            text = text[:-1]
        try:
            return int(text)
        except ValueError:
            pass
        try:  # "3.0" is an integer written by a float formatter
            as_float = float(text)
        except ValueError:
            as_float = math.nan
        if as_float.is_integer():
            return int(as_float)
        raise self.error(key, f"is {whole if whole is not None else text!r}, not an integer")
