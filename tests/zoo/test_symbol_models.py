"""Symbol-API networks built from their authors' definitions (zoo/symbol_nets.py), one per family, in the real Caffe:
the check of `make symbols` (zoo/symbol_sweep.check_symbol_net: live random weights saved as a classic checkpoint
with arg:/aux: names, converted from the files with both shape inferences, the same bytes from our own shape rules,
both-sign input, the output must move with the input, exact end to end and every segment exact layer-locally), at
small inputs where the architecture allows (docs/symbol_models.md runs every network at its own size).
"""

import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import NO_MXNET_PYTHONS, ROOT, no_mxnet_python

from gluon2caffe.converters.registry import REGISTRY
from gluon2caffe.verification import TOLERANCE
from gluon2caffe.zoo import symbol_nets as nets
from gluon2caffe.zoo.symbol_nets import SYMBOL_NETS, SymbolNet, symbol_net
from gluon2caffe.zoo.symbol_sweep import check_symbol_net, random_checkpoint

CLASSIFIER = ("Convolution", "Activation", "Pooling", "Flatten", "FullyConnected", "softmax")


def _small(name: str, shape: tuple[int, ...], build=None) -> SymbolNet:
    net = symbol_net(name)
    return replace(net, input_shape=shape, build=build or net.build)


# One network per family at a small input; an odd size where the architecture allows (valid-convention pools).
FAMILY_NETS = [
    pytest.param(
        _small("alexnet", (1, 3, 131, 131)), id="alexnet", marks=pytest.mark.op(*CLASSIFIER, "LRN", "Dropout")
    ),
    pytest.param(
        _small("vgg16_bn", (1, 3, 64, 64)), id="vgg16_bn", marks=pytest.mark.op(*CLASSIFIER, "BatchNorm", "Dropout")
    ),
    pytest.param(_small("googlenet", (1, 3, 99, 99)), id="googlenet", marks=pytest.mark.op(*CLASSIFIER, "Concat")),
    pytest.param(
        _small("inception-bn", (1, 3, 224, 224)),
        id="inception-bn",
        marks=pytest.mark.op(*CLASSIFIER, "BatchNorm", "Concat"),
    ),
    pytest.param(
        _small("resnet-18", (1, 3, 67, 67)), id="resnet", marks=pytest.mark.op(*CLASSIFIER, "BatchNorm", "elemwise_add")
    ),
    pytest.param(
        _small("resnext-50", (1, 3, 64, 64)),
        id="resnext",
        marks=pytest.mark.op(*CLASSIFIER, "BatchNorm", "elemwise_add"),
    ),
    pytest.param(
        _small("mobilenet", (1, 3, 96, 96), lambda: nets.mobilenet(resolution=96)),
        id="mobilenet",
        marks=pytest.mark.op(*CLASSIFIER, "BatchNorm"),
    ),
    pytest.param(
        _small("mobilenetv2", (1, 3, 96, 96)),
        id="mobilenetv2",
        marks=pytest.mark.op("Convolution", "BatchNorm", "Pooling", "Flatten", "softmax", "clip", "elemwise_add"),
    ),
    pytest.param(
        _small("face-resnet18-ir", (1, 3, 112, 112)),
        id="face-resnet-ir",
        marks=pytest.mark.op("Convolution", "BatchNorm", "LeakyReLU", "elemwise_add", "Dropout", "FullyConnected"),
    ),
    pytest.param(
        _small("mobilefacenet", (1, 3, 112, 112)),
        id="mobilefacenet",
        marks=pytest.mark.op("Convolution", "BatchNorm", "LeakyReLU", "elemwise_add", "FullyConnected"),
    ),
]


@pytest.mark.parametrize("net", FAMILY_NETS)
def test_family_representative_is_exact_in_caffe(net):
    result = check_symbol_net(net)
    assert result.status == "exact", f"{net.name}: {result.status}: {result.message}"
    assert result.local is not None and result.local <= TOLERANCE and result.local_segments, result
    assert result.relative is not None and 0 < result.relative <= TOLERANCE, result  # compared, not MXNet to itself
    assert result.own_shapes_identical, "our own shape rules wrote other bytes than MXNet's shape inference"


# Networks that need the legacy symbol-API ops of issue 26 section 1 (another branch): (name, those ops, what the
# refusal names until they convert). Once they are registered, the network must be exact like the others.
LEGACY = [
    # RetinaFace's FPN (nearest UpSampling + Crop to the lateral's size: 144x200 is no multiple of 32, so the Crops
    # cut) and its channel softmax (Reshape -> SoftmaxActivation(mode=channel) -> Reshape).
    ("retinaface-mnet025", ("Crop", "SoftmaxActivation"), ("Crop", "SoftmaxActivation")),
    # The training symbol as saved: SoftmaxOutput with its label input.
    ("resnet-18-train", ("SoftmaxOutput",), ("softmax_label",)),
]


@pytest.mark.parametrize("name, ops, named", LEGACY, ids=[n for n, _, _ in LEGACY])
def test_network_needing_legacy_ops_is_exact_or_refused_naming_them(name, ops, named):
    result = check_symbol_net(symbol_net(name))
    if not all(op in REGISTRY for op in ops):
        assert result.status == "refused", result
        assert all(word in result.message for word in named), result.message
        return
    assert result.status == "exact", f"{result.status}: {result.message}"
    assert result.local is not None and result.local <= TOLERANCE and result.local_segments, result
    assert result.relative is not None and 0 < result.relative <= TOLERANCE, result
    assert result.own_shapes_identical


def test_random_checkpoint_is_a_module_checkpoint(tmp_path):
    """The saved files are what Module.save_checkpoint writes: arg:/aux: names, every fix_gamma gamma != 1, and
    MXNet's Module loads them back."""
    import mxnet as mx
    import numpy as np

    net = _small("resnet-18", (1, 3, 64, 64))
    prefix = random_checkpoint(net, str(tmp_path / "r18"))
    symbol, args, aux = mx.model.load_checkpoint(prefix, 0)
    assert set(args) == set(symbol.list_arguments()) - {"data"}
    assert set(aux) == set(symbol.list_auxiliary_states()) and aux
    assert not np.allclose(args["bn_data_gamma"].asnumpy(), 1)  # fix_gamma=True: ignoring it would show


def test_catalog_names_are_unique_and_sourced():
    names = [n.name for n in SYMBOL_NETS]
    assert len(names) == len(set(names))
    assert all(".py" in n.source and len(n.input_shape) == 4 for n in SYMBOL_NETS)
    families = {n.family for n in SYMBOL_NETS}
    assert {
        "alexnet",
        "vgg",
        "googlenet",
        "inception-bn",
        "inception-v3",
        "inception-v4",
        "resnet",
        "resnext",
    } <= families
    assert {"mobilenet", "face-recognition", "face-detection"} <= families


def test_checkpoint_converts_from_the_command_line(tmp_path):
    """A saved symbol network through `gluon2caffe convert PREFIX --input-shape ... --verify`, batch 2: exit 0,
    verified exact (the verdict line), the Caffe files written."""
    net = symbol_net("mobilenet-0.25")
    prefix = random_checkpoint(net, str(tmp_path / "mnet"))
    out = tmp_path / "caffe" / "mnet"
    proc = subprocess.run(
        [sys.executable, "-m", "gluon2caffe", "convert", prefix, "-o", out, "--input-shape", "2,3,160,160", "--verify"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    assert "exact" in proc.stdout and "(ok)" in proc.stdout, proc.stdout
    assert (tmp_path / "caffe" / "mnet.prototxt").exists() and (tmp_path / "caffe" / "mnet.caffemodel").exists()


# Symbol networks whose conversion must not depend on MXNet's shape inference: LRN, asymmetric pads, scaled
# residuals, the SE gate (broadcast_mul), MobileFaceNet's in-graph normalization and GDC head.
NO_MXNET_NETS = [
    ("alexnet", (1, 3, 131, 131)),
    ("inception-resnet-v2", (1, 3, 139, 139)),
    ("face-resnet50-ir-se", (1, 3, 112, 112)),
    ("mobilefacenet", (1, 3, 112, 112)),
]


@pytest.fixture(scope="module")
def converted_here(tmp_path_factory):
    """name -> (checkpoint prefix, input shape, the folder where this 3.11 + MXNet environment's CLI wrote here.*),
    each built once, on demand."""
    folder = tmp_path_factory.mktemp("symbol-checkpoints")
    cache = {}

    def get(name: str):
        if name not in cache:
            shape = dict(NO_MXNET_NETS)[name]
            prefix = random_checkpoint(_small(name, shape), str(folder / name))
            run = _convert_cli(sys.executable, prefix, shape, folder / f"{name}-here")
            assert run.returncode == 0, run.stderr
            cache[name] = prefix, shape, folder / f"{name}-here"
        return cache[name]

    yield get
    shutil.rmtree(folder, ignore_errors=True)  # ~1 GB: a whole run must fit a small disk


def _convert_cli(python: str, prefix: str, shape, output) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PYTHONPATH": ROOT}
    command = [python, "-m", "gluon2caffe", "convert", prefix, "-o", str(output), "--input-shape"]
    command.append(",".join(map(str, shape)))
    return subprocess.run(command, capture_output=True, text=True, env=environment, cwd=ROOT, timeout=900)


@pytest.mark.parametrize("version", list(NO_MXNET_PYTHONS))
@pytest.mark.parametrize("name", [n for n, _ in NO_MXNET_NETS])
def test_checkpoint_converts_byte_identically_without_mxnet(version, name, converted_here, tmp_path):
    """Python 3.12 / 3.13 (no MXNet: our own shape rules) write the bytes this 3.11 + MXNet environment writes."""
    prefix, shape, here = converted_here(name)
    there = _convert_cli(no_mxnet_python(version), prefix, shape, tmp_path / "there")
    assert there.returncode == 0, there.stderr
    for suffix in (".prototxt", ".caffemodel"):
        mine, theirs = Path(f"{here}{suffix}"), tmp_path / f"there{suffix}"
        assert mine.read_bytes() == theirs.read_bytes(), f"{name}: {suffix} differs on Python {version}"
