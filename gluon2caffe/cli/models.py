"""`gluon2caffe models [FILTER]`: the zoo names, their family and the input convert gives them by default."""

from __future__ import annotations

import argparse

from .common import EXIT_FAILURE, EXIT_OK

UNTESTED = "(not in the tested lists)"
OUTSIDE = "(outside Caffe)"


def rows(pattern: str = "", others: bool = True) -> list[tuple[str, str, str]]:
    """(name, family, default input) of every zoo name containing `pattern`: the tested lists of
    zoo/catalog.py first, task by task in their order, then the names that cannot be Caffe models (marked
    "outside Caffe": `convert` refuses them with the reason), then (`others`) any other name GluonCV knows (input
    224, the CLI's fallback), which needs GluonCV."""
    from ..zoo.loader import zoo_names
    from ..zoo.catalog import OUTSIDE_MODELS, TASKS

    listed = []
    for task, models in TASKS:
        listed += [(e.name, e.family + task.label, _shape(e.input_shape)) for e in models]
    listed += [(e.name, f"{e.family} {OUTSIDE}", "-") for e in OUTSIDE_MODELS]
    known = {name for name, _, _ in listed}
    if others:
        listed += [(name, UNTESTED, "1,3,224,224 (fallback)") for name in zoo_names() if name not in known]
    return [row for row in listed if pattern.lower() in row[0].lower()]


def _shape(shape: tuple[int, ...]) -> str:
    return ",".join(str(d) for d in shape)


HELP = "list the zoo names with their family and default input"
DESCRIPTION = (
    "List GluonCV model-zoo names with their family and the input size convert uses by default. Names outside"
    " the project's tested lists (zoo/catalog.py) are marked as such."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("filter", nargs="?", default="", metavar="FILTER", help="only names containing FILTER")


def run(args: argparse.Namespace) -> int:
    from ..errors import MXNetUnavailableError

    try:
        found, missing = rows(args.filter), None
    except MXNetUnavailableError as exc:  # the tested lists need no GluonCV; its other names do
        found, missing = rows(args.filter, others=False), exc
    if not found:
        print(f"no zoo name contains {args.filter!r}")
        return EXIT_FAILURE
    width = max(len(name) for name, _, _ in found) + 2
    family_width = max(len(family) for _, family, _ in found) + 2
    print(f"{'NAME':<{width}}{'FAMILY':<{family_width}}DEFAULT INPUT")
    for name, family, shape in found:
        print(f"{name:<{width}}{family:<{family_width}}{shape}")
    untested = sum(family == UNTESTED for _, family, _ in found)
    outside = sum(family.endswith(OUTSIDE) for _, family, _ in found)
    print(
        f"{len(found)} names; {outside} {OUTSIDE} (`gluon2caffe convert NAME` says why); {untested} {UNTESTED}: "
        "they may convert, or stop at an unsupported operator"
    )
    if missing is not None:
        print(f"GluonCV's other names are not listed: {missing}")
    return EXIT_OK
