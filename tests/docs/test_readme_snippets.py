"""Every code snippet of the README and of docs/*.md works: each Python block runs as written (in a child process,
in an empty folder), every `gluon2caffe ...` command line parses with the real parser, every `make X` names a
Makefile target, and every transcript (`$ gluon2caffe ...` and its output) is one `make readme` regenerates from a
real run. The documents are scripts/sync_readme.py's `documents()`: the README, then docs/*.md."""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from gluon2caffe.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import sync_readme  # noqa: E402

# {"README.md": text, "docs/cli.md": text, ...}
DOCUMENTS = {str(path.relative_to(ROOT)): path.read_text() for path in sync_readme.documents()}
README = DOCUMENTS["README.md"]
BLOCK = re.compile(r"^```(\w*)\n(.*?)^```$", re.S | re.M)


def line_of(text: str, position: int) -> int:
    return text[:position].count("\n") + 1


def blocks(language: str) -> list[tuple[str, str]]:
    """("FILE:LINE", body) of the documents' fenced blocks in `language` ('' for unlabelled ones)."""
    return [
        (f"{name}:{line_of(text, m.start())}", m.group(2))
        for name, text in DOCUMENTS.items()
        for m in BLOCK.finditer(text)
        if m.group(1) == language
    ]


# Documents whose Python blocks need files a user has (converted models, an image): their own test runs them on
# such files, every block of them (test_deploy_snippets.py checks the count), not this generic runner.
OWN_RUNNERS = {"docs/deploy.md": "tests/docs/test_deploy_snippets.py"}
PYTHON = [(at, body) for at, body in blocks("python") if at.split(":")[0] not in OWN_RUNNERS]
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


def test_the_documents_have_snippets_of_each_kind():
    """The README (the user guide) and the reference in docs/ both have runnable Python and command lines."""
    for where in ("README.md", "docs/"):
        assert len([1 for at, _ in PYTHON if at.startswith(where)]) >= 2, f"{where}: fewer than 2 Python snippets"
        assert any("gluon2caffe convert" in body for at, body in SHELL if at.startswith(where)), where
    assert len(PYTHON) >= 5 and set(DOCUMENTS) >= {"README.md", "docs/cli.md", "docs/operators.md"}


@pytest.mark.parametrize("line, code", PYTHON, ids=[line for line, _ in PYTHON])
def test_python_snippet_runs(line, code, tmp_path):
    if re.search(r"(?<!from )\bgluoncv\.", code):
        assert re.search(r"^import gluoncv", code, re.M), f"{line} uses gluoncv without importing it"
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
    assert proc.returncode == 0, f"{line}\n{code}\n{proc.stderr[-3000:]}"


def command_lines() -> list[tuple[str, str]]:
    """("FILE:LINE" of the block, command) for every `gluon2caffe ...` line of the shell blocks: transcripts' `$ `
    lines and plain command lines; usage synopses (`[--option ...]`) are not commands."""
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
        pytest.fail(f"{line}: `{command}` does not parse (exit {exc.code})")


def test_make_targets_exist():
    targets = set(re.findall(r"^([\w-]+):", (ROOT / "Makefile").read_text(), re.M))
    used = {m for _, body in SHELL for m in re.findall(r"^make ([\w-]+)", body, re.M)}
    for text in DOCUMENTS.values():
        used |= set(re.findall(r"`make ([\w-]+)", text))  # tpu-mlir: a hyphen is part of the name
    assert used and used <= targets, f"the docs name make targets the Makefile lacks: {sorted(used - targets)}"


def test_every_transcript_is_generated():
    """A `$ gluon2caffe` block sits between the transcript markers, whose commands scripts/sync_readme.py runs."""
    found = 0
    for name, text in DOCUMENTS.items():
        generated = {m.start(3) for m in sync_readme.TRANSCRIPT.finditer(text)}
        found += len(generated)
        for m in BLOCK.finditer(text):
            if "$ gluon2caffe " in m.group(2):
                assert m.start(2) in generated, f"{name}:{line_of(text, m.start())}: not a transcript"
        for m in sync_readme.TRANSCRIPT.finditer(text):
            assert sync_readme.commands(m.group("body")), f"{name}: a transcript without a `$ gluon2caffe` command"
    assert found, "no document has transcript markers"


def test_operator_notes_are_whole_sentences():
    """The support table's notes (each converter's docstring line) and the refused operators' reasons are not cut
    mid-sentence."""
    operators = DOCUMENTS["docs/operators.md"]
    table = re.search(r"<!-- support-table:start -->\n(.*?)<!-- support-table:end -->", operators, re.S).group(1)
    rows = [row.split(" | ") for row in table.splitlines() if row.startswith("| `")]
    cut = [row[0] for row in rows if not row[-1].rstrip(" |").endswith((".", ")"))]
    assert rows and not cut, f"notes cut mid-sentence: {cut}"


def test_the_exported_detector_recipe_gives_the_transcript_the_docs_show(tmp_path):
    """The exported-SSD recipe (docs/detectors.md), run as written after its setup (the trained weights it loads),
    then the transcript's commands: the output is the document's, line for line, numbers aside (timings vary)."""
    text = DOCUMENTS["docs/detectors.md"]
    match = next(m for m in sync_readme.TRANSCRIPT.finditer(text) if m.group("setup") == "exported-ssd")
    env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONPATH=str(ROOT), GLOG_minloglevel="2")
    for code in (sync_readme.SETUPS["exported-ssd"], sync_readme.recipe_above(text, match.start(), "detectors.md")):
        done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-3000:]
    shown = match.group("body")
    ran = "".join(f"$ {c}\n" + sync_readme.run(c, str(tmp_path), env) for c in sync_readme.commands(shown))

    def masked(text: str) -> list[str]:
        return [re.sub(r"\d+(\.\d+)?(e[-+]?\d+)?", "#", line) for line in text.splitlines()]

    assert masked(ran) == masked(shown)
    assert ran.count("status: exact") == 2


LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def anchors(text: str) -> set[str]:
    """GitHub's anchors of a document's headings: lower case, punctuation dropped, spaces as hyphens."""
    found = set()
    for heading in re.findall(r"^#+ (.+)$", BLOCK.sub("", text), re.M):
        found.add(re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-"))
    return found


def test_every_link_between_the_documents_resolves():
    """Each relative link of the README and docs/*.md names a file that exists and, with `#anchor`, a heading there:
    the README links every reference page, and a moved section breaks no link."""
    broken = []
    for name, text in DOCUMENTS.items():
        for target in LINK.findall(BLOCK.sub("", text)):
            if re.match(r"[a-z]+:", target):
                continue
            path, _, anchor = target.partition("#")
            file = (ROOT / name).parent / path if path else ROOT / name
            if not file.exists():
                broken.append(f"{name}: {target} (no file)")
            elif anchor and file.suffix == ".md" and anchor not in anchors(file.read_text()):
                broken.append(f"{name}: {target} (no heading)")
    assert not broken, broken
    linked = {target.partition("#")[0] for target in LINK.findall(README)}
    pages = {f"docs/{path.name}" for path in (ROOT / "docs").glob("*.md")}
    assert pages <= linked, f"reference pages the README does not link: {sorted(pages - linked)}"
