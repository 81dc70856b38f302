"""Conversions stay byte-identical across refactorings (issue 25): a few of scripts/identical_conversions.py's cases,
with weights drawn by numpy (the same bytes on every machine), against the hashes recorded before the renovation."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BASELINE = ROOT / "tests" / "data" / "identical_conversions_numpy.json"
# The reader's paths: a live and an exported classifier with a renamed input, an exported SSD, a live YOLOv3 and
# CenterNet; every target each.
CASES = ["classifier", "classifier-exported-img", "ssd-exported", "yolo", "centernet"]


def test_representative_conversions_are_byte_identical_to_the_baseline():
    script = ROOT / "scripts" / "identical_conversions.py"
    command = [sys.executable, str(script), "--weights", "numpy", "--check", str(BASELINE), "--only", *CASES]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=1200)
    targets = len(next(iter(json.loads(BASELINE.read_text()).values())))
    expected = f"{len(CASES) * targets} of {len(CASES) * targets} conversions byte-identical"
    assert proc.returncode == 0 and expected in proc.stdout, proc.stdout + proc.stderr[-3000:]


def test_the_check_fails_on_a_changed_byte(tmp_path):
    """The comparison names a case whose hashes differ (a check that cannot fail proves nothing)."""
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        from identical_conversions import compare
    finally:
        sys.path.pop(0)
    expected = json.loads(BASELINE.read_text())
    found = {"yolo": {t: list(pair) for t, pair in expected["yolo"].items()}}
    assert compare(expected, found) == []
    found["yolo"]["caffe"][1] = "0" * 64
    assert compare(expected, found) == ["yolo [caffe]: caffemodel differ"]
    found["yolo"]["ncnn"] = ["ConversionError", "another refusal"]
    assert len(compare(expected, found)) == 2
