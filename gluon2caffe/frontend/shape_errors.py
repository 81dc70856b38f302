"""Input shapes a model's shape rules refuse, said in one line: the node whose rule failed, its op, the reason, and
where a batch axis of 1 in front makes every shape known, that shape ("did you forget the batch axis?").

MXNet's own inference (live blocks; exported files where MXNet imports) and ours (frontend/shapes) both end here.
"""

from __future__ import annotations

import re
from typing import Callable

from ..errors import InputShapeError

Shapes = dict[str, tuple[int, ...]]
MAX_RANK = 5  # the largest input rank a conversion takes (api.MAX_INPUT_RANK)

_OPERATOR = re.compile(r"Error in operator (?P<node>[^:\s]+): (?P<rest>.*)")
_LOG_PREFIX = re.compile(r"^\[[\d:]+\] \S+:\d+: ")
_CHECK = re.compile(r"Check failed: (?P<expr>.*?)(?: \((?P<values>[^()]* vs\. [^()]*)\))? ?: (?P<text>\S.*)$")


def batch_variants(shapes: Shapes) -> list[Shapes]:
    """`shapes` with a batch axis of 1 put in front: of every input at once, then (several inputs) of each alone."""
    grown = [name for name, shape in shapes.items() if len(shape) < MAX_RANK]
    variants = []
    for names in [grown] + ([[name] for name in grown] if len(grown) > 1 else []):
        if names:
            variants.append({k: ((1,) + s if k in names else s) for k, s in shapes.items()})
    return variants


def explain(
    shapes: Shapes,
    node: str | None,
    op: str | None,
    reads: list[str],
    cause: str,
    works: Callable[[Shapes], bool],
) -> InputShapeError:
    """The error for `shapes`, refused by `node` (`op`, reading the inputs `reads` directly) because of `cause`.
    `works(shapes)` runs the same inference on other shapes: whether it knows every shape then."""
    for variant in batch_variants(shapes):
        if not works(variant):
            continue
        changed = [name for name in shapes if variant[name] != shapes[name]]
        name = next((n for n in changed if n in reads), changed[0])
        rank = len(variant[name])
        has = f"input '{name}' has shape {shapes[name]}"
        if node is not None and name in reads:
            reason = f"{has} but node '{node}' ({op}), which reads it, takes a {rank}-D input"
        elif node is not None:
            reason = f"{has} but the model takes a {rank}-D input (node '{node}' ({op}) refuses it: {cause})"
        else:
            reason = f"{has} but the model takes a {rank}-D input ({cause})"
        return InputShapeError(shapes, reason, node, op, suggestion=variant)
    return InputShapeError(shapes, cause, node, op)


def mxnet_failure(message: str) -> tuple[str | None, str]:
    """(the node whose shape rule failed, why) from an MXNetError of infer_shape: 'Error in operator conv0: [time]
    file.cc:151: Check failed: dshp.ndim() == 4U (3 vs. 4) : Input data should be 4D ...' gives ('conv0', 'Input data
    should be 4D ... (3 vs. 4)')."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    for line in lines:
        match = _OPERATOR.search(line)
        if match:
            return match.group("node"), _cause(match.group("rest"))
    informative = [line for line in lines if "Check failed" in line or line.startswith("MXNetError")]
    text = (informative or lines or ["MXNet's shape inference failed"])[0]
    return None, _cause(re.sub(r"^MXNetError:\s*", "", text))


def _cause(text: str) -> str:
    text = _LOG_PREFIX.sub("", text.strip())
    check = _CHECK.search(text)
    if check is None:
        return text
    values = f" ({check.group('values')})" if check.group("values") else ""
    return f"{check.group('text').strip()}{values}"
