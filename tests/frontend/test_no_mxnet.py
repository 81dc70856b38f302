"""Where MXNet cannot run (issue 18): Python 3.12 and 3.13 venvs with `pip install '.[opencv]'` and no MXNet
(`make no_mxnet`; conftest.no_mxnet_python finds them, and under GLUON2CAFFE_REQUIRE_CAFFE a missing one stops the
session).

- The exported files of a sample of zoo models (a dozen classifiers covering the operator families, an SSD and a
  YOLOv3), written here by MXNet on 3.11, convert there with the CLI to a prototxt and caffemodel byte-identical to
  the ones this 3.11 + MXNet environment writes from the same files (tests/zoo/test_zoo.py and test_exported*.py prove
  those exact in Caffe).
- `verify --reference` there: the 3.11 conversion against inputs and outputs `gluon2caffe reference` saved here.
- `import gluon2caffe`, `--help`, `ops`, `convert` of an exported model import no MXNet; every command that needs
  MXNet ends with one `error:` line naming the extra (exit 2), there and here with MXNet broken the way it is on
  3.12 (an AttributeError at import) or absent.

The conversion there uses the project's own shape inference (gluon2caffe/frontend/shapes/), since MXNet's is absent.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import NO_MXNET_PYTHONS, ROOT, no_mxnet_python, require_runtimes

CLASSIFIERS = [
    ("resnet50_v1", 224),
    ("resnet18_v2", 224),
    ("se_resnet18_v1", 224),
    ("cifar_resnet20_v1", 32),
    ("mobilenetv2_1.0", 224),
    ("mobilenetv3_large", 224),
    ("densenet121", 224),
    ("inceptionv3", 299),
    ("squeezenet1.1", 224),
    ("nasnet_4_1056", 224),
    ("hrnet_w18_small_v1_c", 224),
    ("resnest50", 224),
]
DETECTORS = [("ssd_300_vgg16_atrous_voc", 300), ("yolo3_mobilenet1.0_coco", 320)]  # 320: a quicker export than 416
VERSIONS = list(NO_MXNET_PYTHONS)
EXTRA = "pip install 'gluon2caffe-*.whl[mxnet]' (or '.[mxnet]' in the source folder)"


def cli(python: str, *args, env: dict | None = None, cwd: str | None = None) -> subprocess.CompletedProcess:
    """`gluon2caffe ARGS` in `python`, on this checkout's sources (the venvs' installed copy may be older)."""
    environment = {**os.environ, "PYTHONPATH": ROOT, **(env or {})}
    command = [python, "-m", "gluon2caffe", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, env=environment, cwd=cwd or ROOT, timeout=900)


def sizes(shape) -> str:
    return ",".join(map(str, shape))


def digest(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """name -> (prefix, input shape): each model exported once, on demand (MXNet, here), with random live weights."""
    folder = tmp_path_factory.mktemp("exported")
    cache: dict[str, tuple[str, tuple[int, ...]]] = {}

    def get(name: str, size: int) -> tuple[str, tuple[int, ...]]:
        if name not in cache:
            import mxnet as mx

            from gluon2caffe.zoo.loader import load_zoo_model

            shape = (1, 3, size, size)
            net = load_zoo_model(name, shape)
            net.hybridize()
            net(mx.nd.zeros(shape))
            prefix = str(folder / name)
            net.export(prefix)
            cache[name] = prefix, shape
        return cache[name]

    yield get
    shutil.rmtree(folder, ignore_errors=True)  # ~0.7 GB: a whole run must fit a small disk


@pytest.fixture(scope="module")
def converted_here(exported, tmp_path_factory):
    """name -> the (prototxt, caffemodel) this 3.11 + MXNet environment's CLI writes from the exported files."""
    folder = tmp_path_factory.mktemp("py311")
    cache: dict[str, tuple[Path, Path]] = {}

    def get(name: str, size: int) -> tuple[Path, Path]:
        if name not in cache:
            prefix, shape = exported(name, size)
            run = cli(sys.executable, "convert", prefix, "-o", folder / name, "--input-shape", sizes(shape))
            assert run.returncode == 0, run.stderr
            cache[name] = folder / f"{name}.prototxt", folder / f"{name}.caffemodel"
        return cache[name]

    yield get
    shutil.rmtree(folder, ignore_errors=True)


def convert_there(version: str, prefix: str, shape, output: Path) -> subprocess.CompletedProcess:
    return cli(no_mxnet_python(version), "convert", prefix, "-o", output, "--input-shape", sizes(shape))


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("name, size", CLASSIFIERS + DETECTORS, ids=[n for n, _ in CLASSIFIERS + DETECTORS])
def test_exported_model_converts_byte_identically(version, name, size, exported, converted_here, tmp_path):
    prefix, shape = exported(name, size)
    run = convert_there(version, prefix, shape, tmp_path / name)
    assert run.returncode == 0, run.stderr
    prototxt, caffemodel = converted_here(name, size)
    assert (tmp_path / f"{name}.prototxt").read_text() == prototxt.read_text()
    assert digest(tmp_path / f"{name}.caffemodel") == digest(caffemodel), f"{name}: caffemodel differs"


@pytest.fixture(scope="module")
def zoo_trained(tmp_path_factory):
    """A save_parameters file of mobilenetv3_small (BatchNorm, hard-swish) and the files this 3.11 environment
    converts from it by building the net in GluonCV (GLUON2CAFFE_ZOO_GRAPHS=0)."""
    import mxnet as mx

    from gluon2caffe.zoo.loader import build_zoo_net

    folder = tmp_path_factory.mktemp("zoo-trained")
    net = build_zoo_net("mobilenetv3_small", (1, 3, 224, 224))
    net(mx.nd.zeros((1, 3, 224, 224)))
    net.save_parameters(str(folder / "trained.params"))
    run = cli(
        sys.executable,
        "convert",
        "mobilenetv3_small",
        "--params",
        folder / "trained.params",
        "-o",
        folder / "built",
        env={"GLUON2CAFFE_ZOO_GRAPHS": "0"},
    )
    assert run.returncode == 0, run.stderr
    return folder


@pytest.mark.parametrize("version", VERSIONS)
def test_zoo_name_with_trained_weights_converts_byte_identically(version, zoo_trained, tmp_path):
    """`convert NAME --params FILE` there reads the shipped graph (zoo/graphs.py): the files of the net GluonCV
    builds here. At another input size it needs GluonCV, and says so in one line."""
    params = zoo_trained / "trained.params"
    run = cli(no_mxnet_python(version), "convert", "mobilenetv3_small", "--params", params, "-o", tmp_path / "m")
    assert run.returncode == 0, run.stderr
    for suffix in (".prototxt", ".caffemodel"):
        assert digest(tmp_path / f"m{suffix}") == digest(zoo_trained / f"built{suffix}"), suffix
    other = cli(
        no_mxnet_python(version),
        "convert",
        "mobilenetv3_small",
        "--params",
        params,
        "--input-shape",
        "1,3,160,160",
        "-o",
        tmp_path / "other",
    )
    assert other.returncode == 2 and EXTRA in _one_error_line(other), other.stderr


@pytest.mark.parametrize("version", VERSIONS)
def test_the_venv_has_no_mxnet_and_the_package_imports_without_it(version):
    """The venv is the Python it claims, cannot import MXNet, and importing the package, --help and ops load none
    of MXNet, GluonCV or pycaffe."""
    probe = (
        "import sys, importlib.util\n"
        "assert importlib.util.find_spec('mxnet') is None, 'mxnet is installed'\n"
        "import gluon2caffe\n"
        "from gluon2caffe.cli import main\n"
        "for argv in (['--help'], ['ops'], ['convert', '--help'], ['verify', '--help']):\n"
        "    assert main(argv) == 0, argv\n"
        "loaded = sorted(m for m in ('mxnet', 'gluoncv', 'caffe') if m in sys.modules)\n"
        "assert not loaded, loaded\n"
        "print(sys.version_info[:2])\n"
    )
    python = no_mxnet_python(version)
    run = subprocess.run([python, "-c", probe], capture_output=True, text=True, env={**os.environ, "PYTHONPATH": ROOT})
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().splitlines()[-1] == str(tuple(int(v) for v in version.split("."))), run.stdout
    console = Path(python).parent / "gluon2caffe"  # the installed entry point
    help_run = subprocess.run([str(console), "--help"], capture_output=True, text=True)
    assert help_run.returncode == 0 and "reference" in help_run.stdout, help_run.stderr


@pytest.fixture(scope="module")
def small_reference(exported, converted_here, tmp_path_factory):
    """squeezenet1.1 exported, converted here, and its input + MXNet outputs saved here (`gluon2caffe reference`)."""
    prefix, shape = exported("squeezenet1.1", 224)
    prototxt, _ = converted_here("squeezenet1.1", 224)
    npz = tmp_path_factory.mktemp("reference") / "squeezenet.npz"
    run = cli(sys.executable, "reference", prefix, "-o", npz, "--input-shape", sizes(shape))
    assert run.returncode == 0, run.stderr
    return str(prototxt)[: -len(".prototxt")], npz


@pytest.mark.parametrize("version", VERSIONS)
def test_verify_against_a_saved_reference_without_mxnet(version, small_reference, tmp_path):
    """The 3.11 conversion, verified there (OpenCV) against the outputs saved here: exact; a saved output moved by
    1e-3 is a mismatch (exit 1); the per-layer options are refused (exit 2)."""
    prefix, npz = small_reference
    python = no_mxnet_python(version)
    run = cli(python, "verify", prefix, "--reference", npz)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "runtime: opencv" in run.stdout and "status: exact" in run.stdout, run.stdout
    with np.load(npz, allow_pickle=False) as saved:
        arrays = dict(saved)
    (output,) = [name for name in arrays if name.startswith("output:")]
    arrays[output] = arrays[output] + np.float32(1e-3) * float(np.abs(arrays[output]).max())
    moved = tmp_path / "moved.npz"
    np.savez(moved, **arrays)
    run = cli(python, "verify", prefix, "--reference", moved)
    assert run.returncode == 1 and "status: mismatch" in run.stdout, run.stdout + run.stderr
    run = cli(python, "verify", prefix, "--reference", npz, "--local")
    assert run.returncode == 2 and "--local do not apply to --reference" in run.stderr, run.stderr


def _one_error_line(run: subprocess.CompletedProcess) -> str:
    errors = [line for line in run.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in run.stderr, run.stderr
    return errors[0]


def _commands_needing_mxnet(prefix: str, converted: str, tmp: Path) -> list[list[str]]:
    return [
        ["convert", "resnet18_v1", "-o", tmp / "zoo"],
        ["convert", prefix, "-o", tmp / "verified", "--verify", "--input-shape", "1,3,224,224"],
        ["verify", converted, "--against", prefix],
        ["verify", converted, "--against", "squeezenet1.1"],
        ["reference", prefix, "-o", tmp / "r.npz", "--input-shape", "1,3,224,224"],
        ["zoo", "--models", "resnet18_v1", "--output", tmp / "zoo.md"],
        ["demo", "--output", tmp / "demo"],
    ]


@pytest.mark.parametrize("version", VERSIONS)
def test_every_command_that_needs_mxnet_says_so_in_one_line(version, small_reference, exported, tmp_path):
    prefix, _ = exported("squeezenet1.1", 224)
    converted, _ = small_reference
    for argv in _commands_needing_mxnet(prefix, converted, tmp_path):
        run = cli(no_mxnet_python(version), *argv)
        line = _one_error_line(run)
        assert run.returncode == 2, (argv, run.stderr)
        assert EXTRA in line and "Python <= 3.11" in line and "No module named 'mxnet'" in line, (argv, line)
    assert not any(tmp_path.iterdir()), "a refused command wrote a file"


@pytest.fixture(scope="module")
def broken_mxnet(tmp_path_factory):
    """PYTHONPATH folders whose `mxnet` fails to import as on Python 3.12 (AttributeError) or is absent."""
    folders = {}
    for kind, body in (
        ("attribute", "raise AttributeError(\"module 'numpy' has no attribute 'bool'\")\n"),
        ("absent", "raise ModuleNotFoundError(\"No module named 'mxnet'\", name='mxnet')\n"),
    ):
        folder = tmp_path_factory.mktemp(f"mxnet-{kind}")
        (folder / "mxnet").mkdir()
        (folder / "mxnet" / "__init__.py").write_text(body)
        folders[kind] = str(folder)
    return folders


@pytest.mark.parametrize("kind", ["attribute", "absent"])
def test_broken_mxnet_here_gives_the_same_one_line(kind, broken_mxnet, small_reference, exported, tmp_path):
    """In this 3.11 venv with `import mxnet` failing: the commands that need it say so in one line (exit 2); the
    package, ops and verify --reference work and never try it."""
    prefix, _ = exported("squeezenet1.1", 224)
    converted, npz = small_reference
    env = {"PYTHONPATH": os.pathsep.join([broken_mxnet[kind], ROOT])}
    for argv in _commands_needing_mxnet(prefix, converted, tmp_path):
        run = cli(sys.executable, *argv, env=env)
        line = _one_error_line(run)
        assert run.returncode == 2 and EXTRA in line, (argv, run.stderr)
        assert ("AttributeError: module 'numpy' has no attribute 'bool'" if kind == "attribute" else "mxnet") in line
    run = cli(sys.executable, "verify", converted, "--reference", npz, env=env)
    assert run.returncode == 0 and "status: exact" in run.stdout, run.stdout + run.stderr
    probe = "import sys, gluon2caffe.cli as c; c.main(['ops']); assert 'mxnet' not in sys.modules"
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env={**os.environ, **env})
    assert run.returncode == 0, run.stderr


@pytest.mark.parametrize("kind", ["attribute", "absent"])
def test_exported_model_converts_here_with_mxnet_broken(kind, broken_mxnet, exported, converted_here, tmp_path):
    """The same conversion with MXNet installed but not importable: the files of the working MXNet."""
    prefix, shape = exported("squeezenet1.1", 224)
    env = {"PYTHONPATH": os.pathsep.join([broken_mxnet[kind], ROOT])}
    run = cli(sys.executable, "convert", prefix, "-o", tmp_path / "s", "--input-shape", "1,3,224,224", env=env)
    assert run.returncode == 0, run.stderr
    prototxt, caffemodel = converted_here("squeezenet1.1", 224)
    assert digest(tmp_path / "s.prototxt") == digest(prototxt)
    assert digest(tmp_path / "s.caffemodel") == digest(caffemodel)


def test_missing_python_without_mxnet_stops_the_session(monkeypatch):
    """Under GLUON2CAFFE_REQUIRE_CAFFE a missing 3.12 / 3.13 venv is a usage error naming it and `make no_mxnet`."""
    with pytest.raises(pytest.UsageError) as caught:
        require_runtimes(
            {**os.environ, "GLUON2CAFFE_REQUIRE_CAFFE": "1", "GLUON2CAFFE_PY313": "/nonexistent/python3.13"}
        )
    message = str(caught.value)
    assert "Python 3.13 without MXNet: /nonexistent/python3.13 does not exist; `make no_mxnet`" in message, message
    assert "Python 3.12" not in message, message


def test_reference_files_read_by_hand_and_refused_when_wrong(small_reference, tmp_path):
    """An .npz written by hand (one input, one output, any names) verifies like the CLI's; a file that is not an
    .npz, lacks the arrays, or holds a pickle is refused with the path (InvalidCallError), never unpickled."""
    from gluon2caffe import load_reference, verify
    from gluon2caffe.errors import InvalidCallError

    prefix, npz = small_reference
    saved = load_reference(npz)
    assert saved.meta["format"] == "gluon2caffe-reference" and saved.meta["mxnet"].startswith("1.9")
    (x,), (y,), (y2,) = saved.inputs.values(), saved.outputs.values(), saved.second_outputs.values()
    assert saved.meta["second_input"] == "random normal (seed 1)"
    by_hand = tmp_path / "by_hand.npz"
    np.savez(by_hand, **{"input:image": x, "output:scores": y, "output2:scores": y2})
    result = verify(f"{prefix}.prototxt", f"{prefix}.caffemodel", load_reference(by_hand))
    assert result.status == "exact" and result.dependence.ok, result.outputs
    # Without MXNet's outputs for a second input, nothing says the outputs depend on the input: not conclusive.
    np.savez(by_hand, **{"input:image": x, "output:scores": y})
    result = verify(f"{prefix}.prototxt", f"{prefix}.caffemodel", load_reference(by_hand))
    assert result.status == "not conclusive" and "output2:NAME" in result.reason, result.reason
    np.savez(by_hand, **{"input:image": x, "output:scores": y, "output2:scores": y})  # the same output twice
    result = verify(f"{prefix}.prototxt", f"{prefix}.caffemodel", load_reference(by_hand))
    assert result.status == "not conclusive" and "does not depend on the input" in result.reason, result.reason
    not_npz, empty, pickled = tmp_path / "x.npz", tmp_path / "empty.npz", tmp_path / "pickled.npz"
    not_npz.write_text("not a zip")
    np.savez(empty, something=x)
    np.savez(pickled, **{"input:data": x, "output:out": np.array([{"a": 1}], dtype=object)})
    for path, expected in (
        (tmp_path / "missing.npz", "no such file"),
        (not_npz, "not a readable .npz"),
        (empty, "expected arrays named input:NAME and output:NAME"),
        (pickled, "not a readable .npz"),
    ):
        with pytest.raises(InvalidCallError, match=expected) as caught:
            load_reference(path)
        assert str(path) in str(caught.value)
