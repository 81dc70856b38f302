"""Shared test set-up.

Runtimes: tests that need Caffe fail (never skip) when pycaffe is missing. Under GLUON2CAFFE_REQUIRE_CAFFE=1 (set
by `make test` and `make fuzz`) the session does not start at all unless both runtimes the tests use, pycaffe and
OpenCV, import: a usage error naming what is missing, never a skip.

Op coverage: `@pytest.mark.op("Convolution", ...)` (on a test, or on one of its `pytest.param`s) declares the MXNet
ops the test covers; tests/test_readme.py checks every registered op is declared by some test. A marked test fails
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

sys.path.insert(0, os.path.dirname(__file__))

REQUIRE_CAFFE = "GLUON2CAFFE_REQUIRE_CAFFE"


def missing_runtimes() -> list[str]:
    """The test runtimes that do not import, each with the reason and the fix."""
    missing = []
    try:
        import caffe  # noqa: F401
    except ImportError as exc:
        missing.append(f"pycaffe is not importable ({exc}); run `make caffe`")
    try:
        import cv2  # noqa: F401
    except ImportError as exc:
        missing.append(f"OpenCV is not importable ({exc}); `make setup` installs opencv-python-headless")
    return missing


def require_runtimes(environ: Mapping[str, str] = os.environ) -> None:
    """Under GLUON2CAFFE_REQUIRE_CAFFE (any value but '' or '0'), a missing runtime is an error."""
    if environ.get(REQUIRE_CAFFE, "") in ("", "0"):
        return
    missing = missing_runtimes()
    if missing:
        raise pytest.UsageError(f"{REQUIRE_CAFFE}={environ[REQUIRE_CAFFE]}: " + "; ".join(missing))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "op(*names): the registered MXNet ops this test converts (see conftest.py)")
    require_runtimes()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    if call.when == "call":
        item.g2c_call_failed = outcome.get_result().failed


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
