"""docs/deploy.md's snippets run: each runtime's snippet (after the shared preamble) runs as written in a child
process, on files converted with and without --preprocess and a generated image, and prints the top-5 classes
`gluon2caffe run` finds in that runtime (predict.predict)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import runtime_or_skip
from gluon2caffe.predict import predict
from gluon2caffe.verification import TOLERANCE
from helpers import scene_png

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = (ROOT / "docs" / "deploy.md").read_text()
BLOCKS = [m.group(1) for m in re.finditer(r"^```python\n(.*?)^```$", DEPLOY, re.S | re.M)]
PREAMBLE, SNIPPETS = BLOCKS[0], dict(zip(("caffe", "opencv", "ncnn", "mnn"), BLOCKS[1:]))
MODEL = "resnet18_v1"


def test_deploy_has_a_snippet_per_runtime():
    assert len(BLOCKS) == 5 and "import caffe" in SNIPPETS["caffe"] and "cv2.dnn" in SNIPPETS["opencv"]
    assert "import ncnn" in SNIPPETS["ncnn"] and "import MNN" in SNIPPETS["mnn"]


@pytest.fixture(scope="module", params=["preprocess", "plain"])
def folder(request, tmp_path_factory):
    """A folder with out/resnet18_v1.* (converted with --preprocess imagenet, or without) and img.png."""
    folder = tmp_path_factory.mktemp(request.param)
    options = ["--preprocess", "imagenet"] if request.param == "preprocess" else []
    command = [sys.executable, "-m", "gluon2caffe", "convert", MODEL, "-o", str(folder / "out") + "/", *options]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr
    scene_png(folder / "img.png", 240, 320, seed=5)
    return folder


@pytest.mark.parametrize("runtime", ["caffe", "opencv", "ncnn", "mnn"])
def test_snippet_prints_what_run_finds(folder, runtime):
    runtime_or_skip(runtime)
    env = dict(os.environ, PYTHONPATH=str(ROOT), GLOG_minloglevel="2")
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")  # caffe2ncnn beside python
    proc = subprocess.run(
        [sys.executable, "-c", PREAMBLE + SNIPPETS[runtime]],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    printed = re.search(r"^top-5: \[([\d, ]+)\]$", proc.stdout, re.M)
    assert printed, proc.stdout
    (expected,) = predict(str(folder / "out" / MODEL), [str(folder / "img.png")], runtime, top=6)
    scores = [score for _, score, _ in expected.top]
    gaps = [a - b for a, b in zip(scores, scores[1:])]
    assert min(gaps) > 10 * TOLERANCE * max(map(abs, scores)), f"top scores too close to order: {scores}"
    expected.top = expected.top[:5]
    assert [int(i) for i in printed.group(1).split(",")] == [index for index, _, _ in expected.top]
