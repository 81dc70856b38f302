"""Every code snippet of the README works: each Python block runs as written (in a child process, in an empty
folder), every `gluon2caffe ...` command line parses with the real parser, every `make X` names a Makefile target,
and every transcript (`$ gluon2caffe ...` and its output) is one `make readme` regenerates from a real run."""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from gluon2caffe.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
BLOCK = re.compile(r"^```(\w*)\n(.*?)^```$", re.S | re.M)


def blocks(language: str) -> list[tuple[int, str]]:
    """(line number, body) of the README's fenced blocks in `language` ('' for unlabelled ones)."""
    return [(README[: m.start()].count("\n") + 1, m.group(2)) for m in BLOCK.finditer(README) if m.group(1) == language]


PYTHON = blocks("python")
SHELL = blocks("bash") + blocks("")

# The weights a snippet loads with `net.load_parameters("trained.params")`: the same zoo model with random weights,
# saved in the snippet's folder first (inside a function, so the snippet sees none of its names). Its moving
# variances are positive, as training leaves them: initialize() leaves U(-0.07, 0.07) in those of GluonCV's SSD
# feature expander, which a conversion refuses.
PREPARE = """
def _prepare():
    import gluoncv, mxnet as mx
    net = gluoncv.model_zoo.get_model({name!r}, pretrained=False, pretrained_base=False)
    net.initialize()
    net(mx.nd.zeros({shape!r}))
    for p in net.collect_params(".*(running|moving)_var").values():
        p.set_data(mx.nd.random.uniform(0.5, 1.5, p.shape))
    net.save_parameters("trained.params")
_prepare()
del _prepare
"""


def test_the_readme_has_snippets_of_each_kind():
    assert len(PYTHON) >= 5 and any("gluon2caffe convert" in body for _, body in SHELL)


@pytest.mark.parametrize("line, code", PYTHON, ids=[f"README.md:{line}" for line, _ in PYTHON])
def test_python_snippet_runs(line, code, tmp_path):
    if re.search(r"(?<!from )\bgluoncv\.", code):
        assert re.search(r"^import gluoncv", code, re.M), f"README.md:{line} uses gluoncv without importing it"
    prepare = ""
    if re.search(r'^[^#\n]*load_parameters\("trained.params"\)', code, re.M):  # a call, not a comment
        name = re.search(r'get_model\("([^"]+)"', code).group(1)
        # The parameters' shapes do not depend on the image size: a small forward pass initializes them.
        prepare = PREPARE.format(name=name, shape=(1, 3, 256, 256))
    proc = subprocess.run(
        [sys.executable, "-c", prepare + code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ, PYTHONPATH=str(ROOT), GLOG_minloglevel="2"),
    )
    assert proc.returncode == 0, f"README.md:{line}\n{code}\n{proc.stderr[-3000:]}"


def command_lines() -> list[tuple[int, str]]:
    """(block line, command) for every `gluon2caffe ...` line of the shell blocks: transcripts' `$ ` lines and
    plain command lines; usage synopses (`[--option ...]`) are not commands."""
    found = []
    for line, body in SHELL:
        for text in body.splitlines():
            text = text[2:] if text.startswith("$ ") else text
            if text.startswith("gluon2caffe ") and not re.search(r"\[|\||FILE\.", text):
                found.append((line, text))
    return found


COMMANDS = command_lines()


@pytest.mark.parametrize("line, command", COMMANDS, ids=[c for _, c in COMMANDS])
def test_command_parses(line, command):
    argv = shlex.split(command, comments=True)[1:]
    try:
        build_parser().parse_args(argv)
    except SystemExit as exc:
        pytest.fail(f"README.md:{line}: `{command}` does not parse (exit {exc.code})")


def test_make_targets_exist():
    targets = set(re.findall(r"^([\w-]+):", (ROOT / "Makefile").read_text(), re.M))
    used = {m for _, body in SHELL for m in re.findall(r"^make ([\w-]+)", body, re.M)}
    used |= set(re.findall(r"`make ([\w-]+)", README))  # tpu-mlir: a hyphen is part of the name
    assert used and used <= targets, f"README names make targets the Makefile lacks: {sorted(used - targets)}"


def test_every_transcript_is_generated():
    """A `$ gluon2caffe` block sits between the transcript markers, whose commands scripts/sync_readme.py runs."""
    sys.path.insert(0, str(ROOT / "scripts"))
    import sync_readme

    generated = {m.start(3) for m in sync_readme.TRANSCRIPT.finditer(README)}
    assert generated, "README lacks transcript markers"
    for m in BLOCK.finditer(README):
        if "$ gluon2caffe " in m.group(2):
            assert m.start(2) in generated, f"README.md:{README[: m.start()].count(chr(10)) + 1}: not a transcript"
    for m in sync_readme.TRANSCRIPT.finditer(README):
        assert sync_readme.commands(m.group("body")), "a transcript without a `$ gluon2caffe` command"


def test_operator_notes_are_whole_sentences():
    """The support table's notes (each converter's docstring line) and the refused operators' reasons are not cut
    mid-sentence."""
    table = re.search(r"<!-- support-table:start -->\n(.*?)<!-- support-table:end -->", README, re.S).group(1)
    rows = [row.split(" | ") for row in table.splitlines() if row.startswith("| `")]
    cut = [row[0] for row in rows if not row[-1].rstrip(" |").endswith((".", ")"))]
    assert rows and not cut, f"notes cut mid-sentence: {cut}"


def test_the_exported_detector_recipe_gives_the_transcript_the_readme_shows(tmp_path):
    """The README's exported-SSD recipe, run as written after its setup (the trained weights it loads), then the
    transcript's commands: the output is the README's, line for line, numbers aside (timings vary)."""
    sys.path.insert(0, str(ROOT / "scripts"))
    import sync_readme

    match = next(m for m in sync_readme.TRANSCRIPT.finditer(README) if m.group("setup") == "exported-ssd")
    env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONPATH=str(ROOT), GLOG_minloglevel="2")
    for code in (sync_readme.SETUPS["exported-ssd"], sync_readme.recipe_above(README, match.start())):
        done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-3000:]
    shown = match.group("body")
    ran = "".join(f"$ {c}\n" + sync_readme.run(c, str(tmp_path), env) for c in sync_readme.commands(shown))

    def masked(text: str) -> list[str]:
        return [re.sub(r"\d+(\.\d+)?(e[-+]?\d+)?", "#", line) for line in text.splitlines()]

    assert masked(ran) == masked(shown)
    assert ran.count("status: exact") == 2
