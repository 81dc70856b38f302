"""Trained weights for a zoo model without MXNet arrays: `convert NAME --params FILE` (no --verify) reads the weights
straight from the file into the graph (zoo.loader.as_exported); the files must be the very bytes of the live way."""

import mxnet as mx
import pytest
from gluoncv.model_zoo import get_model

from gluon2caffe.api import ConvertOptions, convert_with
from gluon2caffe.frontend.exported import ExportedModel
from gluon2caffe.zoo.catalog import lookup
from gluon2caffe.zoo.loader import as_exported, load_zoo_model, set_parameters

# a classifier with BatchNorm (folded from the read-only values of the file), a YOLOv3 and an SSD (heads read from
# the graph, class names carried over)
MODELS = [
    ("cifar_resnet20_v1", (1, 3, 32, 32)),
    ("yolo3_mobilenet0.25_voc", (1, 3, 160, 160)),
    ("ssd_300_mobilenet0.25_voc", (1, 3, 300, 300)),
]


def trained(name, path):
    net = get_model(name, pretrained=False, **({} if name.startswith("cifar") else {"pretrained_base": False}))
    net.initialize(mx.init.Normal(0.3))
    net(mx.nd.zeros((1, 3, 64, 64)))
    for param in net.collect_params().values():  # BatchNorm statistics that fold to something
        if param.name.endswith(("running_var", "moving_var")):
            param.set_data(mx.nd.random.uniform(0.5, 1.5, param.shape))
    net.save_parameters(str(path))


@pytest.mark.parametrize("name, shape", MODELS, ids=[m for m, _ in MODELS])
def test_exported_form_gives_the_live_files(tmp_path, name, shape):
    path = str(tmp_path / "trained.params")
    trained(name, path)
    net = get_model(name, pretrained=False, **({} if name.startswith("cifar") else {"pretrained_base": False}))
    net.initialize()
    fast = as_exported(net, path, shape)  # one block for both: every name carries the block's numbered prefix
    set_parameters(net, path, shape)
    assert all(not value.flags.writeable for value in fast.params.values())  # views of the file's bytes
    expected, got = (convert_with(model, ConvertOptions(shape)) for model in (net, fast))
    assert got.report.bn_folded == expected.report.bn_folded > 0
    assert str(got.text_net) == str(expected.text_net)
    assert got.binary_weights.SerializeToString() == expected.binary_weights.SerializeToString()
    if lookup(name).checks_detections:
        assert got.head.classes == expected.head.classes == list(net.classes)


def test_zoo_model_comes_as_its_exported_form_only_when_nothing_runs_it(tmp_path):
    name, shape = MODELS[0]
    trained(name, tmp_path / "trained.params")
    assert isinstance(load_zoo_model(name, shape, str(tmp_path / "trained.params"), live=False), ExportedModel)
    assert not isinstance(load_zoo_model(name, shape, str(tmp_path / "trained.params")), ExportedModel)
    assert not isinstance(load_zoo_model(name, shape, live=False), ExportedModel)  # random weights are made live
