"""The runtimes the tests run in: the real Caffe present (a failure otherwise, never a skip) and with the layers we
write; MNN, OpenVINO and ncnn present and computing a converted net; what a missing one does to the session."""

import os
import subprocess
import sys
from pathlib import Path

import caffe
import pytest
from mxnet.gluon import nn

from helpers import check_block, seq

ROOT = Path(__file__).resolve().parents[2]


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


@pytest.mark.parametrize("runtime", ["mnn", "ncnn", "openvino"])
def test_deployment_runtime_computes_a_converted_net(runtime):
    """Installed (`make setup`, `make openvino`, `make caffe2ncnn`) and working: a small net (folded BatchNorm, even
    pooling: no Silence, which OpenVINO rejects), batch 2, within the tolerance of MXNet. Without caffe2ncnn the ncnn
    case skips (check_block calls runtime_or_skip), and the session's banner counts it."""
    net = seq(nn.Conv2D(4, 3, padding=1), nn.BatchNorm(), nn.Activation("relu"), nn.MaxPool2D(2), nn.Conv2D(3, 1))
    checked = check_block(net, (2, 3, 8, 8), runtime=runtime)
    assert checked.layer_types.count("Convolution") == 2 and "Silence" not in checked.layer_types


# -- GLUON2CAFFE_REQUIRE_CAFFE / _NCNN: a missing runtime is an error; only ncnn, not required, skips (loudly) ---------

HIDE = "raise ImportError('hidden by test_runtime')\n"
REQUIRE_VARIABLES = ("GLUON2CAFFE_REQUIRE_CAFFE", "GLUON2CAFFE_REQUIRE_NCNN")


def _pytest(tmp_path, *args, hide=(), require=(), quiet=True, **environ):
    """Run pytest in a subprocess in which the modules `hide` do not import (shadowing modules that raise), the
    variables `require` are 1 and `environ` is set (CI's own GLUON2CAFFE_REQUIRE_* are not passed on). `quiet`: -q,
    which also drops the session header."""
    for module in hide:
        (tmp_path / f"{module}.py").write_text(HIDE)
    env = {k: v for k, v in os.environ.items() if k not in REQUIRE_VARIABLES}
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), env.get("PYTHONPATH", "")])
    env.update({variable: "1" for variable in require}, **environ)
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *(["-q"] if quiet else []), *args]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def _pytest_without(tmp_path, module, require, *args):
    return _pytest(tmp_path, *args, hide=[module], require=["GLUON2CAFFE_REQUIRE_CAFFE"] if require else [])


def _without_caffe2ncnn(tmp_path) -> dict[str, str]:
    """$GLUON2CAFFE_CAFFE2NCNN naming a file that is not executable: ncnn is unavailable, whatever is installed."""
    (tmp_path / "caffe2ncnn").write_text("")
    return {"GLUON2CAFFE_CAFFE2NCNN": str(tmp_path / "caffe2ncnn")}


@pytest.mark.parametrize("module, named", [("caffe", "pycaffe"), ("cv2", "OpenCV"), ("MNN", "MNN")])
def test_required_runtime_missing_is_an_error(tmp_path, module, named):
    """Under the variable the session does not start: an error naming the runtime, exit code 4 (usage error)."""
    run = _pytest_without(tmp_path, module, True, "tests/docs/test_readme.py::test_support_table_in_sync")
    output = run.stdout + run.stderr
    assert run.returncode == pytest.ExitCode.USAGE_ERROR, output
    assert "GLUON2CAFFE_REQUIRE_CAFFE=1, but:" in output, output
    line = next(line.strip() for line in output.splitlines() if "hidden by test_runtime" in line)
    assert line.startswith(named) and f"{module} is not importable (hidden by test_runtime)" in line, output
    assert "skipped" not in output and "passed" not in output, output


def test_required_openvino_missing_is_an_error(tmp_path):
    run = _pytest(
        tmp_path,
        "tests/docs/test_readme.py::test_support_table_in_sync",
        require=["GLUON2CAFFE_REQUIRE_CAFFE"],
        GLUON2CAFFE_OPENVINO_PYTHON=str(tmp_path / "no-python"),
    )
    output = run.stdout + run.stderr
    assert run.returncode == pytest.ExitCode.USAGE_ERROR, output
    assert "\n  OpenVINO: $GLUON2CAFFE_OPENVINO_PYTHON is" in output and "`make openvino`" in output, output


def test_missing_ncnn_skips_and_says_so_at_both_ends(tmp_path):
    """Not required, a missing caffe2ncnn skips the ncnn tests: the header says they will not run, the closing
    banner that they did not, with the reason, the make target and the count; the session still passes."""
    ncnn_test = "tests/verification/test_runtimes_present.py::test_deployment_runtime_computes_a_converted_net[ncnn]"
    readme_test = "tests/docs/test_readme.py::test_support_table_in_sync"
    run = _pytest(tmp_path, ncnn_test, readme_test, quiet=False, **_without_caffe2ncnn(tmp_path))
    output = run.stdout + run.stderr
    assert run.returncode == pytest.ExitCode.OK, output
    header, _, summary = output.partition("collected 2 items")
    assert "ncnn checks WILL NOT RUN: $GLUON2CAFFE_CAFFE2NCNN is" in header, output
    assert "ncnn MISSING" in header, output
    banner = summary[summary.index("ncnn checks DID NOT RUN") :]
    assert "$GLUON2CAFFE_CAFFE2NCNN is" in banner and "make caffe2ncnn NCNN_TOOL_SRC=DIR" in banner, output
    assert "1 test that needs ncnn skipped" in banner, output
    assert "1 passed, 1 skipped" in output, output


def test_missing_ncnn_is_an_error_when_required(tmp_path):
    run = _pytest(
        tmp_path,
        "tests/docs/test_readme.py::test_support_table_in_sync",
        require=["GLUON2CAFFE_REQUIRE_NCNN"],
        **_without_caffe2ncnn(tmp_path),
    )
    output = run.stdout + run.stderr
    assert run.returncode == pytest.ExitCode.USAGE_ERROR, output
    assert "GLUON2CAFFE_REQUIRE_NCNN=1, but:\n  ncnn: $GLUON2CAFFE_CAFFE2NCNN is" in output, output
    assert "skipped" not in output and "passed" not in output, output


def test_missing_caffe_fails_without_the_variable_too(tmp_path):
    """Without the variable a test that needs pycaffe still fails (collection error), it is never skipped."""
    run = _pytest_without(tmp_path, "caffe", False, "tests/verification/test_runtimes_present.py")
    output = run.stdout + run.stderr
    assert run.returncode == pytest.ExitCode.INTERRUPTED, output  # a collection error interrupts the session
    assert "hidden by test_runtime" in output and "skipped" not in output, output


# The runtimes in venvs of their own (verification/venv_runtime.py), hidden by naming a python that does not exist.
VENV_VARIABLES = (
    "GLUON2CAFFE_OPENVINO_PYTHON",
    "GLUON2CAFFE_TPU_MLIR_PYTHON",
    "GLUON2CAFFE_RKNN_PYTHON",
    "GLUON2CAFFE_ONNX_PYTHON",
    "GLUON2CAFFE_PADDLE_PYTHON",
)
REQUIRED = {  # conftest.REQUIRED_RUNTIMES as its error names them, and the make target it names
    "caffe": ("pycaffe", "make caffe"),
    "opencv": ("OpenCV", "make setup"),
    "mnn": ("MNN", "make setup"),
    "openvino": ("OpenVINO", "make openvino"),
    "tpu-mlir": ("TPU-MLIR", "make tpu-mlir"),
    "tpu-mlir-bm1684x": ("TPU-MLIR BM1684X", "make tpu-mlir"),
    "rknn": ("rknn-toolkit2", "make rknn"),
    "onnx": ("caffe2onnx + ONNX Runtime", "make onnx"),
    "paddle": ("x2paddle + Paddle", "make paddle"),
}


def _hide_every_runtime(monkeypatch, tmp_path):
    for module in ("caffe", "cv2", "MNN", "ncnn"):
        monkeypatch.setitem(sys.modules, module, None)  # `import caffe` now raises ImportError
    for variable in VENV_VARIABLES:
        monkeypatch.setenv(variable, str(tmp_path / "no-python"))


def test_require_runtimes_in_process(monkeypatch, tmp_path):
    """The check itself: off by default and for '0'; on, it names every missing runtime and what provides it;
    ncnn only under its own variable."""
    from conftest import require_runtimes

    _hide_every_runtime(monkeypatch, tmp_path)
    require_runtimes({})
    require_runtimes({"GLUON2CAFFE_REQUIRE_CAFFE": "0", "GLUON2CAFFE_REQUIRE_NCNN": "0"})
    with pytest.raises(pytest.UsageError) as caught:
        require_runtimes({"GLUON2CAFFE_REQUIRE_CAFFE": "1"})
    lines = str(caught.value).splitlines()
    assert lines[0] == "GLUON2CAFFE_REQUIRE_CAFFE=1, but:"
    assert len(lines) == 1 + len(REQUIRED), lines
    for line, (name, target) in zip(lines[1:], REQUIRED.values()):
        assert line.startswith(f"  {name}") and f"`{target}`" in line, line
    with pytest.raises(pytest.UsageError) as caught:
        require_runtimes({"GLUON2CAFFE_REQUIRE_NCNN": "1"})
    assert str(caught.value).startswith("GLUON2CAFFE_REQUIRE_NCNN=1, but:\n  ncnn is not importable")
    assert "make caffe2ncnn NCNN_TOOL_SRC=DIR" in str(caught.value)


def test_runtime_or_skip_skips_only_ncnn(monkeypatch, tmp_path):
    """A missing runtime fails the test that needs it, with or without the variables; only ncnn, not required, skips
    (with the reason the closing banner counts)."""
    from conftest import NCNN_SKIPPED, runtime_or_skip

    runtime_or_skip("caffe")  # here: present, so it returns
    _hide_every_runtime(monkeypatch, tmp_path)
    for runtime in REQUIRED:
        for environ in ({}, {"GLUON2CAFFE_REQUIRE_CAFFE": "1"}, {"GLUON2CAFFE_REQUIRE_NCNN": "1"}):
            with pytest.raises(pytest.fail.Exception):
                runtime_or_skip(runtime, environ)
    with pytest.raises(pytest.skip.Exception, match=f"^{NCNN_SKIPPED}ncnn is not importable"):
        runtime_or_skip("ncnn", {"GLUON2CAFFE_REQUIRE_CAFFE": "1"})
    with pytest.raises(pytest.fail.Exception, match="^ncnn is not importable"):
        runtime_or_skip("ncnn", {"GLUON2CAFFE_REQUIRE_NCNN": "1"})
