"""What several commands' arguments share: the MODEL argument's help, the --input-shape type, the model source
options (--params, --epoch, --classes / --classes-file). Each command module declares its own arguments
(`add_arguments`) next to its `run`."""

from __future__ import annotations

import argparse


MODEL_HELP = (
    "a GluonCV model-zoo name (e.g. resnet18_v1; random weights unless --params), or an exported model: "
    "PREFIX (reads PREFIX-symbol.json + PREFIX-EPOCH.params) or a -symbol.json path"
)


def shape(text: str) -> tuple[str | None, tuple[int, ...]]:
    """`N,C,H,W` (any rank 1-5) or `NAME:N,C,H,W` -> (name or None, shape)."""
    name, _, sizes = text.rpartition(":")
    try:
        shape = tuple(int(part) for part in sizes.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers like 1,3,224,224 (or NAME:1,3,224,224), got {text!r}"
        ) from None
    if not 1 <= len(shape) <= 5 or min(shape) <= 0:
        raise argparse.ArgumentTypeError(f"expected 1 to 5 positive sizes (batch first), got {text!r}")
    if ":" in text and not name:
        raise argparse.ArgumentTypeError(f"expected NAME:SIZES, got {text!r}")
    return name or None, shape


def add_model_source(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--params",
        metavar="FILE",
        help="weights: the .params of an exported model, or trained weights (save_parameters) for a zoo model",
    )
    p.add_argument("--epoch", type=int, default=0, metavar="N", help="epoch of PREFIX-N.params (default 0)")
    names = p.add_mutually_exclusive_group()
    names.add_argument(
        "--classes",
        metavar="A,B,C",
        help="SSD / YOLOv3: the class names, in training order; a *_custom zoo model is built with them (as many as "
        "its trained --params has), another zoo detector only takes new names for as many classes as it has",
    )
    names.add_argument("--classes-file", metavar="FILE", help="the class names, one per line (like --classes)")
