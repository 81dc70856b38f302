"""The command line through a subprocess: output, files, exit codes."""

import subprocess
import sys

from gluon2caffe.converters import support_table


def run(*args):
    return subprocess.run([sys.executable, "-m", "gluon2caffe", *args], capture_output=True, text=True, timeout=600)


def test_ops_prints_the_registry_table():
    proc = run("ops")
    assert proc.returncode == 0 and proc.stdout == support_table()


def test_convert_and_verify(tmp_path):
    prefix = tmp_path / "sub" / "sq"
    proc = run("convert", "squeezenet1.1", "-o", str(prefix), "--input-shape", "1,3,227,227", "--verify")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "sub" / "sq.prototxt").exists() and (tmp_path / "sub" / "sq.caffemodel").exists()
    assert "verify" in proc.stdout and "(ok)" in proc.stdout


def test_usage_error_exit_2():
    assert run("convert").returncode == 2
    assert run("convert", "resnet18_v1", "-o", "x", "--input-shape", "1,3").returncode == 2
    assert run("nonsense").returncode == 2


def test_unknown_model_exit_1(tmp_path):
    proc = run("convert", "no_such_model", "-o", str(tmp_path / "x"))
    assert proc.returncode == 1 and "no_such_model" in proc.stderr


def test_demo_runs(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "gluon2caffe.demo", "--output", str(tmp_path / "r18")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    assert "OK" in proc.stdout and str(tmp_path / "r18.caffemodel") in proc.stdout
