"""GluonCV models on random live weights, converted with merge_bn on and off, compared in the real Caffe."""

import gc
import json
import os

import pytest
from gluoncv.model_zoo import get_model

from gluon2caffe import convert
from gluon2caffe.zoo.randomize import randomize
from gluon2caffe.verification import compare, input_dependence, mxnet_forward, run_converted
from helpers import BGR, make_input

# model: (input shape, input scale). Scale > 1 drives activations past 6 in ReLU6 nets.
MODELS = {
    "resnet18_v1": ((1, 3, 224, 224), 1.0),
    "resnet18_v2": ((2, 3, 193, 225), 1.0),
    "mobilenetv2_1.0": ((1, 3, 224, 224), 3.0),
    "squeezenet1.1": ((1, 3, 227, 227), 1.0),
    "vgg11_bn": ((1, 3, 224, 224), 1.0),
    "densenet121": ((1, 3, 224, 224), 1.0),
    "inceptionv3": ((1, 3, 299, 299), 1.0),
}
RESULTS = os.environ.get("GLUON2CAFFE_MODEL_RESULTS")  # optional JSON file that collects the measured errors


@pytest.fixture(scope="module", params=sorted(MODELS))
def model(request):
    name = request.param
    shape, scale = MODELS[name]
    net = get_model(name, pretrained=False)
    net.initialize()
    randomize(net, shape, seed=1)
    # Convert (both ways) before MXNet's forward can overwrite a fix_gamma gamma.
    results = {merge: convert(net, shape, to_bgr=True, merge_bn=merge) for merge in (True, False)}
    x = make_input(shape, 11, scale)
    reference = mxnet_forward(net, x)
    other = mxnet_forward(net, make_input(shape, 12, scale))
    yield name, net, shape, scale, results, x, reference, other
    del net, results
    gc.collect()


@pytest.mark.parametrize("merge_bn", [True, False], ids=["merge", "nomerge"])
def test_model_matches_mxnet_in_caffe(model, merge_bn):
    name, net, shape, scale, results, x, reference, other = model
    result = results[merge_bn]
    outputs = run_converted(result.text_net, result.binary_weights, {"data": x[:, BGR]})
    assert list(outputs) == result.graph.outputs  # exactly the model's outputs, nothing dangling
    c = compare(outputs[result.graph.outputs[0]], reference[0])
    print(f"\n{name} merge_bn={merge_bn}: {c}")
    _record(name, merge_bn, c)
    assert c.ok, f"{name}: {c}"
    # The comparison means something only if the output follows the input.
    dependence = input_dependence({"y": reference[0]}, {"y": other[0]}, {"y": c}, "seed 12")
    assert dependence.ok, f"{name}: {dependence.reason(remedy=False)}"
    if merge_bn:
        assert result.report.bn_folded > 0 or "BatchNorm" not in [n.op for n in result.graph.nodes]
    else:
        assert result.report.bn_folded == 0


def test_relu6_nets_really_exceed_six():
    """The lossy clip->ReLU conversion must visibly fail on mobilenetv2, or the ReLU6 part of its test is vacuous."""
    shape, scale = MODELS["mobilenetv2_1.0"]
    net = get_model("mobilenetv2_1.0", pretrained=False)
    net.initialize()
    randomize(net, shape, seed=1)
    result = convert(net, shape, to_bgr=False, relu6="relu")
    x = make_input(shape, 11, scale)
    outputs = run_converted(result.text_net, result.binary_weights, {"data": x})
    assert not compare(outputs[result.graph.outputs[0]], mxnet_forward(net, x)[0]).ok


def _record(name, merge_bn, c):
    if not RESULTS:
        return
    data = json.load(open(RESULTS)) if os.path.exists(RESULTS) else {}
    data[f"{name} merge_bn={merge_bn}"] = {"max_abs": c.max_abs, "relative": c.relative}
    json.dump(data, open(RESULTS, "w"), indent=1, sort_keys=True)
