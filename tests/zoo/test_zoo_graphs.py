"""Shipped zoo graphs (gluon2caffe/zoo/shipped_graphs/, zoo/graphs.py): `convert NAME --params FILE` without
--verify takes the zoo model's traced graph from the package instead of building it in GluonCV, so neither MXNet nor
GluonCV is imported (issue 16: vgg16 under 5 s; without MXNet on Python 3.12+: tests/frontend/test_no_mxnet.py).

- The files are byte-identical to the ones of the GluonCV-built path (GLUON2CAFFE_ZOO_GRAPHS=0), in a process where
  importing mxnet or gluoncv fails: a classifier with BatchNorm, a CIFAR net, an SSD and a YOLOv3 (whose files the
  exported-detector tests prove exact in Caffe).
- Records on disk equal a fresh trace (the full comparison: scripts/zoo_graphs.py --check, in `make zoo_graphs`).
- Every listed model has a record or, in zoo_graphs/index.json, the reason it stays on the GluonCV-built path.
- A params file that does not fit is refused naming the file, as on the live path; another input shape or --classes
  builds the net in GluonCV.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

from gluon2caffe.errors import ModelFileError
from gluon2caffe.zoo.graphs import INDEX, _read, exported_from_record, record_path, shipped_record, trace_record
from gluon2caffe.zoo.catalog import RUNNABLE, input_shape

SAMPLE = [
    ("resnet18_v1", 224),
    ("cifar_resnet20_v1", 32),
    ("ssd_300_mobilenet0.25_voc", 300),
    ("yolo3_mobilenet0.25_voc", 416),
]


def cli(*args, env: dict | None = None) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PYTHONPATH": ROOT, **(env or {})}
    command = [sys.executable, "-m", "gluon2caffe", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, env=environment, cwd=ROOT, timeout=600)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """name -> a params file of the zoo model (save_parameters of a default-initialized net; its moving variances
    positive, as training leaves them: initialize() leaves U(-0.07, 0.07) in those of GluonCV's SSD feature expander,
    which a conversion refuses)."""
    folder = tmp_path_factory.mktemp("trained")

    def get(name: str, size: int) -> Path:
        path = folder / f"{name}.params"
        if not path.exists():
            import mxnet as mx

            from gluon2caffe.zoo.loader import build_zoo_net

            shape = input_shape(size)
            net = build_zoo_net(name, shape)
            net(mx.nd.zeros(shape))
            for p in net.collect_params(".*(running|moving)_var").values():
                p.set_data(mx.nd.random.uniform(0.5, 1.5, p.shape))
            net.save_parameters(str(path))
        return path

    return get


@pytest.fixture(scope="module")
def no_mxnet(tmp_path_factory) -> str:
    """A PYTHONPATH folder where `import mxnet` and `import gluoncv` fail."""
    folder = tmp_path_factory.mktemp("blocked")
    for package in ("mxnet", "gluoncv"):
        (folder / package).mkdir()
        (folder / package / "__init__.py").write_text(f"raise ImportError('{package} is blocked by the test')\n")
    return str(folder)


@pytest.mark.parametrize("name, size", SAMPLE, ids=[name for name, _ in SAMPLE])
def test_shipped_graph_gives_the_files_of_the_gluoncv_path_without_mxnet(name, size, trained, no_mxnet, tmp_path):
    params = trained(name, size)
    shipped = cli(
        "convert",
        name,
        "--params",
        params,
        "-o",
        tmp_path / "shipped",
        env={"PYTHONPATH": no_mxnet + os.pathsep + ROOT},
    )
    assert shipped.returncode == 0, shipped.stderr
    assert "loading MXNet" not in shipped.stderr
    built = cli(
        "convert", name, "--params", params, "-o", tmp_path / "built", "-q", env={"GLUON2CAFFE_ZOO_GRAPHS": "0"}
    )
    assert built.returncode == 0, built.stderr
    for suffix in (".prototxt", ".caffemodel", ".labels.txt"):
        if (tmp_path / f"built{suffix}").exists() or (tmp_path / f"shipped{suffix}").exists():
            assert (tmp_path / f"shipped{suffix}").read_bytes() == (tmp_path / f"built{suffix}").read_bytes(), suffix


@pytest.mark.parametrize("name, size", SAMPLE, ids=[name for name, _ in SAMPLE])
def test_record_equals_a_fresh_trace(name, size):
    assert _read(record_path(name)) == trace_record(name, input_shape(size))


def test_every_listed_model_has_a_record_or_a_reason_in_the_index():
    listed = {entry.name for entry in RUNNABLE}
    index = json.loads(INDEX.read_text())
    assert set(index) == listed
    with_record = {p.name[: -len(".json.gz")] for p in INDEX.parent.glob("*.json.gz")}
    assert with_record == {name for name, entry in index.items() if entry == "record"}
    assert "dla34" not in with_record and "vgg16" in with_record


def test_a_params_file_that_does_not_fit_is_refused_naming_it(trained, tmp_path):
    import mxnet as mx

    record = shipped_record("resnet18_v1", (1, 3, 224, 224))
    values = mx.nd.load(str(trained("resnet18_v1", 224)))
    missing = tmp_path / "missing.params"
    mx.nd.save(str(missing), {k: v for k, v in values.items() if not k.endswith("running_var")})
    with pytest.raises(ModelFileError, match=r"missing\.params.*parameter\(s\) of the network are missing"):
        exported_from_record(record, str(missing))
    key = next(k for k in values if k.endswith("weight"))
    wrong = tmp_path / "wrong.params"
    mx.nd.save(str(wrong), {**values, key: mx.nd.zeros((3, 3))})
    with pytest.raises(ModelFileError, match=rf"wrong\.params.*{key} has shape \(3, 3\), the network needs"):
        exported_from_record(record, str(wrong))
    run = cli("convert", "resnet18_v1", "--params", wrong, "-o", tmp_path / "x")
    assert run.returncode != 0 and "Traceback" not in run.stderr and "wrong.params" in run.stderr
    assert not list(tmp_path.glob("x*"))


def test_another_input_shape_or_records_off_builds_the_net(monkeypatch):
    assert shipped_record("resnet18_v1", (1, 3, 224, 224)) is not None
    assert shipped_record("resnet18_v1", (1, 3, 160, 160)) is None
    assert shipped_record("../resnet18_v1", (1, 3, 224, 224)) is None
    monkeypatch.setenv("GLUON2CAFFE_ZOO_GRAPHS", "0")
    assert shipped_record("resnet18_v1", (1, 3, 224, 224)) is None


def test_a_model_without_a_record_converts_trained_weights_the_live_way(trained, tmp_path):
    """dla34's traced graph has two nodes named pool0_fwd: no record, and the traced-files shortcut (as_exported)
    steps aside too; the weights go through the GluonCV-built net."""
    run = cli("convert", "dla34", "--params", trained("dla34", 224), "-o", tmp_path / "d", "-q")
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "d.caffemodel").stat().st_size > 0
