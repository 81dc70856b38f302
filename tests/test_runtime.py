"""The real Caffe the tests run in: present (a failure otherwise, never a skip) and with the layers we write."""

import os
import subprocess
import sys
from pathlib import Path

import caffe
import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_pycaffe_has_the_layers_we_emit():
    types = set(caffe.layer_type_list())
    needed = {
        "Input",
        "Convolution",
        "BatchNorm",
        "Scale",
        "Bias",
        "ReLU",
        "Sigmoid",
        "TanH",
        "BNLL",
        "Pooling",
        "Eltwise",
        "InnerProduct",
        "Flatten",
        "Concat",
        "Softmax",
        "Reshape",
        "Power",
        "Slice",
        "Silence",
        "Permute",
        "ReLU6",
        "PriorBox",
        "DetectionOutput",
        "Normalize",
    }
    assert needed <= types, f"missing: {sorted(needed - types)}"


# -- GLUON2CAFFE_REQUIRE_CAFFE: a missing runtime is an error, never a skip --------------------------------------------

HIDE = "raise ImportError('hidden by test_runtime')\n"


def _pytest_without(tmp_path, module, require, *args):
    """Run pytest in a subprocess in which `module` does not import (a shadowing module that raises)."""
    (tmp_path / f"{module}.py").write_text(HIDE)
    env = {k: v for k, v in os.environ.items() if k != "GLUON2CAFFE_REQUIRE_CAFFE"}
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), env.get("PYTHONPATH", "")])
    if require:
        env["GLUON2CAFFE_REQUIRE_CAFFE"] = "1"
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("module, named", [("caffe", "pycaffe"), ("cv2", "OpenCV")])
def test_required_runtime_missing_is_an_error(tmp_path, module, named):
    """Under the variable the session does not start: an error naming the runtime, exit code 4 (usage error)."""
    run = _pytest_without(tmp_path, module, True, "tests/test_readme.py::test_support_table_in_sync")
    output = run.stdout + run.stderr
    assert run.returncode == pytest.ExitCode.USAGE_ERROR, output
    assert f"GLUON2CAFFE_REQUIRE_CAFFE=1: {named} is not importable (hidden by test_runtime)" in output, output
    assert "skipped" not in output and "passed" not in output, output


def test_missing_caffe_fails_without_the_variable_too(tmp_path):
    """Without the variable a test that needs pycaffe still fails (collection error), it is never skipped."""
    run = _pytest_without(tmp_path, "caffe", False, "tests/test_runtime.py")
    output = run.stdout + run.stderr
    assert run.returncode == pytest.ExitCode.INTERRUPTED, output  # a collection error interrupts the session
    assert "hidden by test_runtime" in output and "skipped" not in output, output


def test_require_runtimes_in_process(monkeypatch):
    """The check itself: off by default and for '0'; on, it names every missing runtime."""
    from conftest import require_runtimes

    monkeypatch.setitem(sys.modules, "caffe", None)  # `import caffe` now raises ImportError
    monkeypatch.setitem(sys.modules, "cv2", None)
    require_runtimes({})
    require_runtimes({"GLUON2CAFFE_REQUIRE_CAFFE": "0"})
    with pytest.raises(pytest.UsageError, match="pycaffe is not importable.*; OpenCV is not importable"):
        require_runtimes({"GLUON2CAFFE_REQUIRE_CAFFE": "1"})
