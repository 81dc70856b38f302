"""Measure what `--anchors priorbox` does to the detections of the zoo SSDs (the tolerance of its verdict).

For each SSD whose anchors PriorBox cannot reproduce exactly in caffe-ssd (the 512 models: fractional sizes cast to
int), on random live weights and synthetic scenes: every GluonCV detection's best-overlapping Caffe row of the same
label and score (within 1e-4) whatever its shift, its IoU and corner shift in pixels, and how many detections have
no such row (and how many are found within the verdict's PRIORBOX_SHIFT_PX).
Prints one line per model and scene and the worst case over all; docs/cli.md (verify) quotes the result.

    GLOG_minloglevel=2 MXNET_SUBGRAPH_BACKEND=NONE .venv/bin/python scripts/measure_priorbox.py [NAME ...] [--seeds 3]
"""

import argparse
import tempfile

import numpy as np

from gluon2caffe import convert_ssd_model, save_model
from gluon2caffe.detectors.common import DETECTIONS
from gluon2caffe.zoo.loader import load_zoo_model
from gluon2caffe.zoo.catalog import SSD_MODELS
from gluon2caffe.verification import make_input
from gluon2caffe.detectors.ssd.check import gluoncv_reference, run_caffe_ssd
from gluon2caffe.verification.detectors import PRIORBOX_SHIFT_PX, match_moved_boxes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", help="default: every 512x512 zoo SSD")
    parser.add_argument("--seeds", type=int, default=3, help="synthetic scenes per model (default 3)")
    args = parser.parse_args()
    names = args.models or [e.name for e in SSD_MODELS if e.input_size == 512]
    worst_iou, found, total, worst_shift = 1.0, 0, 0, 0.0
    from gluon2caffe.api import read_detector_head

    for name in names:
        size = next((e.input_size for e in SSD_MODELS if e.name == name), 512)
        shape = (1, 3, size, size)
        net = load_zoo_model(name, shape)
        head = read_detector_head(net, shape)
        with tempfile.TemporaryDirectory() as tmp:
            prototxt, caffemodel = save_model(*convert_ssd_model(net, shape, anchors="priorbox"), f"{tmp}/m")
            for seed in range(args.seeds):
                x, _ = make_input("scene", shape, seed)
                ref = gluoncv_reference(net, head, x)
                rows = run_caffe_ssd(prototxt, caffemodel, np.ascontiguousarray(x[:, ::-1]))[DETECTIONS]
                m = match_moved_boxes(ref, rows, head, max_shift_px=np.inf)
                within = match_moved_boxes(ref, rows, head)
                print(
                    f"{name} scene {seed}: {m.matched}/{m.gluoncv} found ({within.matched} within "
                    f"{PRIORBOX_SHIFT_PX:g} px), "
                    f"min IoU {m.min_iou:.4f}, max corner shift {m.max_shift_px:.3f} px, {m.caffe} Caffe rows",
                    flush=True,
                )
                worst_iou, worst_shift = min(worst_iou, m.min_iou), max(worst_shift, m.max_shift_px)
                found, total = found + m.matched, total + m.gluoncv
    print(f"all: {found}/{total} found; min IoU {worst_iou:.4f}; max corner shift {worst_shift:.3f} px")


if __name__ == "__main__":
    main()
