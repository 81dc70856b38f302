"""`make readme`: regenerate the generated parts of the README and of docs/*.md.

- The supported-operator table of docs/operators.md, from the converter registry (between
  `<!-- support-table:start -->` and `:end`).
- Every command transcript of the README and docs/*.md (`documents()`, in that order), by running its commands for
  real. A transcript is a code block between
  `<!-- transcript:start -->` (or `<!-- transcript:start SETUP -->`) and `<!-- transcript:end -->`; its `$ gluon2caffe
  ...` lines are the commands. They run in order, in one scratch folder shared by all transcripts, as
  `python -m gluon2caffe` of this checkout; SETUP names a step of SETUPS run first in that folder (the files a
  command reads). A SETUP in RECIPES then runs the document's own ```python recipe just above the transcript, as
  written: what its transcript shows is what that recipe gives. The block is rewritten as each command followed by
  what it printed (stderr's progress and stdout, in the order printed). Long layer tables are cut to their first and
  last rows. Timings vary from run to run.

    .venv/bin/python scripts/sync_readme.py              # the table and every transcript (a few minutes)
    .venv/bin/python scripts/sync_readme.py --table-only
    .venv/bin/python scripts/sync_readme.py --only exported-ssd   # the transcripts of one SETUP (the rest as they are)
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
OPERATORS = ROOT / "docs" / "operators.md"  # holds the generated support table


def documents() -> list[Path]:
    """The documents whose transcripts are generated and whose code blocks the tests run: the README, then
    docs/*.md by name (transcripts run in this order, in one scratch folder)."""
    return [README, *sorted((ROOT / "docs").glob("*.md"))]


TRANSCRIPT = re.compile(
    r"(<!-- transcript:start(?: (?P<setup>[\w-]+))? -->\n```\n)(?P<body>.*?)(```\n<!-- transcript:end -->)", re.S
)

# What a transcript's commands read, made in the scratch folder by a child python (random weights, seeded).
SETUPS = {
    # The weights the export recipe of docs/detectors.md loads: a random-weight ssd_300_mobilenet0.25_voc with
    # BatchNorm statistics as training leaves them (zoo/randomize.py), saved as `save_parameters` writes them; the
    # recipe (RECIPES) runs next and exports ssd-symbol.json + ssd-0000.params.
    "exported-ssd": """
from gluon2caffe.zoo.loader import load_zoo_model
load_zoo_model("ssd_300_mobilenet0.25_voc", (1, 3, 300, 300)).save_parameters("trained.params")
""",
    # Weights of a 3-class ssd_512_mobilenet1.0_custom, as `save_parameters` writes them after training.
    "trained-ssd": """
from gluon2caffe.zoo.loader import load_zoo_model
net = load_zoo_model("ssd_512_mobilenet1.0_custom", (1, 3, 512, 512), classes=["person", "car", "dog"])
net.save_parameters("trained.params")
""",
}

# Setups after which the document's ```python block right above the transcript runs as it is written.
RECIPES = {"exported-ssd"}
RECIPE = re.compile(r"```python\n(?P<code>(?:(?!```).)*)```\n(?:(?!```).)*\Z", re.S)

TABLE_ROW = re.compile(r"^\s+\d+\s{2}\S")  # a row of verify --layers' table: index, layer, blob, shape, errors
KEEP_HEAD, KEEP_TAIL = 3, 2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table-only", action="store_true", help="only the supported-operator table")
    parser.add_argument("--only", metavar="SETUP", help="only the transcripts of this SETUP (and the table)")
    args = parser.parse_args()
    if args.only is not None and args.only not in SETUPS:
        parser.error(f"--only: no setup {args.only!r}; one of {', '.join(SETUPS)}")
    paths = documents()
    bodies = {} if args.table_only else run_transcripts({path: path.read_text() for path in paths}, args.only)
    for path in paths:
        text = path.read_text()  # again: the runs take minutes, and only the generated parts are replaced
        new = sync_table(text) if path == OPERATORS else text
        if bodies.get(path):
            new = replace_transcripts(new, bodies[path], path)
        if new != text:
            path.write_text(new)
            print(f"{path.relative_to(ROOT)} updated")


def sync_table(text: str) -> str:
    sys.path.insert(0, str(ROOT))
    from gluon2caffe.converters import support_table

    return re.sub(
        r"(<!-- support-table:start -->\n).*?(<!-- support-table:end -->)",
        lambda m: m.group(1) + support_table() + m.group(2),
        text,
        flags=re.S,
    )


def commands(body: str) -> list[str]:
    """The `$ gluon2caffe ...` command lines of a transcript block, without the `$ `."""
    return [line[2:] for line in body.splitlines() if line.startswith("$ gluon2caffe ")]


def recipe_above(text: str, position: int, name: str = "README.md") -> str:
    """The code of the last ```python block of `text` (the document `name`) before `position`, with no other block
    in between."""
    match = RECIPE.search(text[:position])
    if match is None:
        raise SystemExit(f"{name}:{text[:position].count(chr(10)) + 1}: no ```python recipe right above")
    return match.group("code")


def run_transcripts(texts: dict[Path, str], only: str | None = None) -> dict[Path, list[str]]:
    """The new body of each transcript block of each document, in order: its commands and what they print (`only`:
    the blocks of that SETUP; the others keep their body). All run in one scratch folder, document after document."""
    bodies: dict[Path, list[str]] = {}
    with tempfile.TemporaryDirectory(prefix="gluon2caffe-readme-") as scratch:
        env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONPATH=str(ROOT), GLOG_minloglevel="2")
        done: set[str] = set()
        for path, text in texts.items():
            for match in TRANSCRIPT.finditer(text):
                setup = match.group("setup")
                if only is not None and setup != only:
                    bodies.setdefault(path, []).append(match.group("body"))
                    continue
                if setup and setup not in done:
                    print(f"setup {setup} ...", file=sys.stderr, flush=True)
                    subprocess.run([sys.executable, "-c", SETUPS[setup]], cwd=scratch, env=env, check=True)
                    if setup in RECIPES:  # the document's recipe, as a user runs it
                        recipe = recipe_above(text, match.start(), path.name)
                        subprocess.run([sys.executable, "-c", recipe], cwd=scratch, env=env, check=True)
                    done.add(setup)
                body = ""
                for command in commands(match.group("body")):
                    print(f"$ {command}", file=sys.stderr, flush=True)
                    body += f"$ {command}\n" + run(command, scratch, env)
                bodies.setdefault(path, []).append(body)
    return bodies


def replace_transcripts(text: str, bodies: list[str], path: Path = README) -> str:
    found = len(TRANSCRIPT.findall(text))
    if found != len(bodies):
        raise SystemExit(f"{path.name} changed while the transcripts ran ({found} blocks, {len(bodies)} runs): again")
    queue = iter(bodies)
    return TRANSCRIPT.sub(lambda m: m.group(1) + next(queue) + m.group(4), text)


def run(command: str, cwd: str, env: dict[str, str]) -> str:
    """What `command` (gluon2caffe ...) prints, stderr and stdout merged in order, long tables cut."""
    argv = shlex.split(command)
    proc = subprocess.run(
        [sys.executable, "-m", "gluon2caffe", *argv[1:]],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    return "".join(line + "\n" for line in cut_tables(proc.stdout.splitlines()))


def cut_tables(lines: list[str]) -> list[str]:
    """Runs of more than KEEP_HEAD + KEEP_TAIL + 1 table rows keep their first and last rows, with `...` between."""
    out: list[str] = []
    run: list[str] = []
    for line in lines + [""]:
        if TABLE_ROW.match(line):
            run.append(line)
            continue
        if len(run) > KEEP_HEAD + KEEP_TAIL + 1:
            run = run[:KEEP_HEAD] + ["   ..."] + run[-KEEP_TAIL:]
        out += run
        run = []
        out.append(line)
    return out[:-1]


if __name__ == "__main__":
    main()
