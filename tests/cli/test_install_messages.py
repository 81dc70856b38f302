"""Messages a pip user sees (issue 28 item 8): installed as a package (no Makefile beside it), no runtime's install
hint and no error names a make target; in the source checkout the make target is named."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHOW = (
    "from gluon2caffe.verification.runtimes import RUNTIMES, pycaffe_hint\n"
    "for name, runtime in RUNTIMES.items(): print(name, '|', runtime.install)\n"
    "print('pycaffe |', pycaffe_hint())\n"
)


def installs(package_parent: Path) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(package_parent))
    proc = subprocess.run([sys.executable, "-c", SHOW], capture_output=True, text=True, env=env, cwd=package_parent)
    assert proc.returncode == 0, proc.stderr
    return dict(line.split(" | ", 1) for line in proc.stdout.splitlines() if " | " in line)


def test_a_pip_installed_package_names_no_make_target(tmp_path):
    shutil.copytree(ROOT / "gluon2caffe", tmp_path / "gluon2caffe", ignore=shutil.ignore_patterns("__pycache__"))
    hints = installs(tmp_path)
    assert set(hints) >= {"caffe", "opencv", "mnn", "ncnn", "openvino", "tpu-mlir", "rknn", "onnx", "paddle"}
    assert not [f"{name}: {text}" for name, text in hints.items() if "make " in text or "checkout" in text]
    assert "Python bindings" in hints["pycaffe"] and "--runtime opencv" in hints["pycaffe"]
    assert "$GLUON2CAFFE_CAFFE2NCNN" in hints["ncnn"] and "$GLUON2CAFFE_OPENVINO_PYTHON" in hints["openvino"]


def test_the_checkout_names_its_make_targets():
    hints = installs(ROOT)
    assert "`make caffe`" in hints["caffe"] and "`make openvino`" in hints["openvino"]
    assert "`make caffe2ncnn NCNN_TOOL_SRC=DIR`" in hints["ncnn"]


def test_the_wheel_holds_what_a_pip_user_needs(tmp_path):
    """`make dist`'s wheel (python -m build): the package with its proto, the zoo notes and the shipped zoo graphs,
    the console script, and nothing of the tests or the developers' tooling."""
    import zipfile

    proc = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    (wheel,) = tmp_path.glob("gluon2caffe-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "gluon2caffe/caffe/caffe.proto" in names and "gluon2caffe/zoo/shipped_graphs/index.json" in names
    assert any(n.startswith("gluon2caffe/zoo/shipped_graphs/") and n.endswith(".json.gz") for n in names)
    assert "gluon2caffe/zoo/runtimes_notes.md" in names
    assert not [n for n in names if n.startswith(("tests/", "scripts/", "bench/"))]
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "gluon2caffe = " in zipfile.ZipFile(wheel).read(entry_points).decode()
