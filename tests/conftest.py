"""Shared test set-up.

Runtimes: tests that need Caffe fail (never skip) when pycaffe is missing. Under GLUON2CAFFE_REQUIRE_CAFFE=1 (set
by `make test` and `make fuzz`) the session does not start at all unless the runtimes the tests use, pycaffe, OpenCV,
MNN, OpenVINO (`make openvino`) and the NPU toolchains and format bridges (TPU-MLIR, rknn-toolkit2, caffe2onnx + ONNX
Runtime, x2paddle + Paddle: `make tpu-mlir rknn onnx paddle`), are there: a usage error naming what is missing,
never a skip. ncnn needs
caffe2ncnn built from source (`make caffe2ncnn NCNN_TOOL_SRC=DIR`): without it the tests that need ncnn skip, and
the session says so in its header and in a banner at the end; under GLUON2CAFFE_REQUIRE_NCNN=1 (CI) a missing ncnn
is a usage error too. A test that runs in a runtime calls `runtime_or_skip(name)` (check_block does).

Op coverage: `@pytest.mark.op("Convolution", ...)` (on a test, or on one of its `pytest.param`s) declares the MXNet
ops the test covers; tests/docs/test_readme.py checks every registered op is declared by some test. A marked test fails
unless it really converts a graph that contains each op it declares.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

import pytest

os.environ.setdefault("GLOG_minloglevel", "2")
# Binding internal outputs next to the final one gives wrong numbers under MXNet's subgraph backend (see notes).
os.environ.setdefault("MXNET_SUBGRAPH_BACKEND", "NONE")

# helpers.py and the other shared modules of tests/ import by name from every folder (blocks and tools that tests in
# several folders use live there, not in a test module).
sys.path.insert(0, os.path.dirname(__file__))

REQUIRE_CAFFE = "GLUON2CAFFE_REQUIRE_CAFFE"
REQUIRE_NCNN = "GLUON2CAFFE_REQUIRE_NCNN"
# The runtimes the tests use (gluon2caffe.verification.runtimes' names), as messages call them.
RUNTIME_NAMES = {
    "caffe": "pycaffe",
    "opencv": "OpenCV",
    "mnn": "MNN",
    "openvino": "OpenVINO",
    "ncnn": "ncnn",
    "tpu-mlir": "TPU-MLIR",
    "tpu-mlir-bm1684x": "TPU-MLIR BM1684X",
    "rknn": "rknn-toolkit2",
    "onnx": "caffe2onnx + ONNX Runtime",
    "paddle": "x2paddle + Paddle",
}
# Under REQUIRE_CAFFE; ncnn only under REQUIRE_NCNN. The NPU toolchains and format bridges each live in a venv of
# their own (make tpu-mlir, rknn, onnx, paddle: `make test` builds them).
REQUIRED_RUNTIMES = ("caffe", "opencv", "mnn", "openvino", "tpu-mlir", "tpu-mlir-bm1684x", "rknn", "onnx", "paddle")
# The make target that provides each runtime, added to a reason that does not name it already.
MAKE_TARGETS = {
    "caffe": ("make caffe", "builds it"),
    "opencv": ("make setup", "installs it"),
    "mnn": ("make setup", "installs it"),
    "openvino": ("make openvino", "builds it"),
    "tpu-mlir": ("make tpu-mlir", "builds it"),
    "tpu-mlir-bm1684x": ("make tpu-mlir", "builds it"),
    "rknn": ("make rknn", "builds it"),
    "onnx": ("make onnx", "builds it"),
    "paddle": ("make paddle", "builds it"),
    "ncnn": ("make caffe2ncnn NCNN_TOOL_SRC=DIR", "builds caffe2ncnn (DIR: ncnn's tools/caffe)"),
}
NCNN_SKIPPED = "ncnn checks did not run: "  # how a skipped ncnn test's reason begins (counted for the banner)
# Pythons where MXNet cannot run (issue 18): a venv each with `pip install '.[opencv]'` and no MXNet (`make no_mxnet`);
# these variables name other pythons. frontend/test_no_mxnet.py converts in them; under REQUIRE_CAFFE they must exist.
NO_MXNET_PYTHONS = {"3.12": "GLUON2CAFFE_PY312", "3.13": "GLUON2CAFFE_PY313"}
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def enabled(environ: Mapping[str, str], variable: str) -> bool:
    return environ.get(variable, "") not in ("", "0")


def unavailable(runtime: str) -> str | None:
    """None when `runtime` can run here, else what is missing and how to get it."""
    from gluon2caffe.verification import runtimes

    reason = runtimes.available(runtime)
    target, does = MAKE_TARGETS[runtime]
    if reason is not None and target not in reason:
        reason += f"; `{target}` {does}"
    return reason


def named(runtime: str, reason: str) -> str:
    """The reason, starting with the runtime's name (some reasons already do)."""
    name = RUNTIME_NAMES[runtime]
    return reason if reason.startswith((f"{name} ", f"{name}:")) else f"{name}: {reason}"


def missing_runtimes(names: tuple[str, ...] = REQUIRED_RUNTIMES) -> list[str]:
    """The runtimes among `names` that cannot run here, each named, with the reason and the fix."""
    return [named(name, reason) for name in names if (reason := unavailable(name)) is not None]


def no_mxnet_python(version: str, environ: Mapping[str, str] = os.environ) -> str:
    """The python of the venv for `version` ("3.12"): $GLUON2CAFFE_PY312, else .venv-py312/bin/python."""
    default = os.path.join(ROOT, f".venv-py{version.replace('.', '')}", "bin", "python")
    return environ.get(NO_MXNET_PYTHONS[version]) or default


def missing_no_mxnet_pythons(environ: Mapping[str, str] = os.environ) -> list[str]:
    """The no-MXNet pythons that are not there, each with the fix."""
    return [
        f"Python {version} without MXNet: {path} does not exist; `make no_mxnet` builds it (or set {variable})"
        for version, variable in NO_MXNET_PYTHONS.items()
        if not os.access(path := no_mxnet_python(version, environ), os.X_OK)
    ]


def require_runtimes(environ: Mapping[str, str] = os.environ) -> None:
    """Under GLUON2CAFFE_REQUIRE_CAFFE (any value but '' or '0') a missing pycaffe, OpenCV, MNN, OpenVINO or NPU
    toolchain / format bridge (REQUIRED_RUNTIMES) is an error; under GLUON2CAFFE_REQUIRE_NCNN a missing ncnn is."""
    errors = []
    for variable, names in ((REQUIRE_CAFFE, REQUIRED_RUNTIMES), (REQUIRE_NCNN, ("ncnn",))):
        missing = missing_runtimes(names) if enabled(environ, variable) else []
        if variable == REQUIRE_CAFFE and enabled(environ, variable):
            missing += missing_no_mxnet_pythons(environ)
        if missing:
            errors.append(f"{variable}={environ[variable]}, but:\n  " + "\n  ".join(missing))
    if errors:
        raise pytest.UsageError("\n".join(errors))


def runtime_or_skip(runtime: str, environ: Mapping[str, str] = os.environ) -> None:
    """For a test that runs in `runtime`: returns when it can run here. Any missing runtime but ncnn fails the test,
    never a skip. A missing ncnn (caffe2ncnn is built from source) skips it, counted in the session's
    closing banner, unless GLUON2CAFFE_REQUIRE_NCNN: then it fails too."""
    reason = unavailable(runtime)
    if reason is None:
        return
    if runtime == "ncnn" and not enabled(environ, REQUIRE_NCNN):
        pytest.skip(NCNN_SKIPPED + reason)
    pytest.fail(named(runtime, reason), pytrace=False)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "op(*names): the registered MXNet ops this test converts (see conftest.py)")
    require_runtimes()


def pytest_report_header(config: pytest.Config) -> list[str]:
    reasons = {name: unavailable(name) for name in RUNTIME_NAMES}
    lines = [
        "runtimes: " + ", ".join(f"{RUNTIME_NAMES[n]} {'ok' if r is None else 'MISSING'}" for n, r in reasons.items())
    ]
    pythons = {version: os.access(no_mxnet_python(version), os.X_OK) for version in NO_MXNET_PYTHONS}
    lines.append("pythons without MXNet: " + ", ".join(f"{v} {'ok' if ok else 'MISSING'}" for v, ok in pythons.items()))
    if reasons["ncnn"] is not None:
        lines.append(f"ncnn checks WILL NOT RUN: {reasons['ncnn']}")
    return lines


def skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    return longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    """A missing caffe2ncnn must not pass unnoticed: a banner with the reason and how many ncnn tests skipped."""
    skipped = [r for r in terminalreporter.stats.get("skipped", []) if NCNN_SKIPPED in skip_reason(r)]
    reason = unavailable("ncnn")
    if reason is None and not skipped:
        return
    if reason is None:  # caffe2ncnn appeared during the session: the reason the tests skipped
        reason = skip_reason(skipped[0]).split(NCNN_SKIPPED, 1)[1]
    terminalreporter.write_sep("!", "ncnn checks DID NOT RUN", red=True, bold=True)
    terminalreporter.write_line(f"ncnn checks DID NOT RUN: {reason}", red=True, bold=True)
    count = f"{len(skipped)} test{'' if len(skipped) == 1 else 's'} that need{'s' if len(skipped) == 1 else ''} ncnn"
    terminalreporter.write_line(
        f"{count} skipped. Under {REQUIRE_NCNN}=1 (as in CI: .ci/run builds caffe2ncnn) this is an error.",
        red=True,
        bold=True,
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    if call.when == "call":
        item.g2c_call_failed = outcome.get_result().failed


@pytest.fixture(autouse=True)
def _release_memory():
    """Each test's nets go back to the system when it ends: a worker runs hundreds of tests (zoo models among them),
    and without this glibc kept their freed memory until the worker was OOM-killed (zoo.loader.release_memory)."""
    yield
    from gluon2caffe.zoo.loader import release_memory

    release_memory()


@pytest.fixture(autouse=True)
def _declared_ops_are_converted(request, monkeypatch):
    """A test marked op(...) must convert a graph containing each declared op (seen before the passes run)."""
    declared = {name for marker in request.node.iter_markers("op") for name in marker.args}
    if not declared:
        yield
        return
    import gluon2caffe.api as api

    seen: set[str] = set()
    run_passes = api.run_passes

    def recording(graph, *args, **kwargs):
        seen.update(node.op for node in graph.nodes)
        return run_passes(graph, *args, **kwargs)

    monkeypatch.setattr(api, "run_passes", recording)
    yield
    if not getattr(request.node, "g2c_call_failed", False):
        missing = declared - seen
        assert not missing, f"marked op{tuple(sorted(declared))} but never converted {sorted(missing)}"
