"""A second, independent runtime: the converted files load in OpenCV's readNetFromCaffe and give the same outputs."""

import pytest
from gluoncv.model_zoo import get_model
from mxnet.gluon import nn

from gluon2caffe import convert
from gluon2caffe.zoo.randomize import randomize
from gluon2caffe.verification import compare, mxnet_forward, run_converted
from helpers import BGR, check_block, make_input, seq


@pytest.mark.parametrize(
    "name, shape, scale, relu6",
    [
        ("resnet18_v1", (1, 3, 224, 224), 1.0, "exact"),
        ("mobilenetv2_1.0", (1, 3, 224, 224), 3.0, "exact"),
        ("mobilenetv2_1.0", (1, 3, 224, 224), 3.0, "layer"),
        ("squeezenet1.1", (1, 3, 227, 227), 1.0, "exact"),
    ],
)
def test_zoo_model_in_opencv(name, shape, scale, relu6):
    net = get_model(name, pretrained=False)
    net.initialize()
    randomize(net, shape, seed=2)
    result = convert(net, shape, to_bgr=True, relu6=relu6)
    x = make_input(shape, 5, scale)
    outputs = run_converted(result.text_net, result.binary_weights, {"data": x[:, BGR]}, runtime="opencv")
    c = compare(outputs[result.graph.outputs[0]].reshape(-1), mxnet_forward(net, x)[0].reshape(-1))
    print(f"\nOpenCV {name} relu6={relu6}: {c}")
    assert c.ok, c


@pytest.mark.parametrize("target, crop", [("any", "Convolution"), ("opencv", "Slice")])
def test_pooling_crop_in_opencv(target, crop):
    """The crop that drops Caffe's extra pooling row (a one-hot Convolution, or Slice + Silence) runs in OpenCV."""
    block = seq(nn.Conv2D(4, 3), nn.MaxPool2D(3, 2, 1), nn.Conv2D(3, 1))
    checked = check_block(block, (1, 3, 10, 9), runtime="opencv", target=target)
    assert checked.layer_types.count(crop) == 1 + 2 * (crop == "Convolution")


def test_output_written_by_a_folded_convolution_in_opencv():
    """merge_bn folds the last BatchNorm into the convolution before it, which then writes the BatchNorm's blob:
    OpenCV's importer names a Convolution layer after its top, so the runner pins the output by that name (it used
    to ask for the layer `..._conv0_fwd`: `Layer with requested id=-1 not found`)."""
    block = seq(nn.Conv2D(4, 3), nn.BatchNorm(), nn.Activation("relu"), nn.Conv2D(3, 1), nn.BatchNorm())
    checked = check_block(block, (2, 3, 9, 8), runtime="opencv")
    last = checked.result.text_net.layer[-1]
    assert last.type == "Convolution" and last.name != last.top[0], (last.name, list(last.top))


@pytest.mark.op("slice")
@pytest.mark.parametrize("target", ["any", "opencv"])
def test_output_that_is_a_slices_middle_part_in_opencv(target):
    """A Slice's second top is a net output (the kept middle of a 2-D blob): a pin 'layer.1' names no layer in
    OpenCV 4.11 (`Layer with requested id=-1 not found`); the runner reads every output of the writing layer."""
    from helpers import lam

    checked = check_block(lam(lambda F, x: F.slice(x, (None, 1), (None, 3))), (2, 4), init=False, runtime="opencv",
                          target=target)  # fmt: skip
    assert "Slice" in checked.layer_types


def test_opencv_5_is_refused_in_one_line(tmp_path, monkeypatch, capsys):
    """OpenCV 5 removed the Caffe importer: `verify --runtime opencv` with 5.x is one error line saying so and what to
    install (pip install 'opencv-python-headless<5'), never a crash; 4.x runs the same files."""
    import cv2
    import numpy as np

    from gluon2caffe import save_model
    from gluon2caffe.cli import main

    block = seq(nn.Conv2D(2, 1))
    block.initialize()
    shape = (1, 3, 4, 5)
    result = convert(block, shape, to_bgr=False)
    prefix = tmp_path / "m"
    save_model(result.text_net, result.binary_weights, prefix)
    x = make_input(shape, 3)
    reference = tmp_path / "outputs.npz"
    second = mxnet_forward(block, make_input(shape, 4))[0]  # output2: MXNet's output on a second input
    np.savez(reference, **{"input:data": x, "output:out": mxnet_forward(block, x)[0], "output2:out": second})
    command = ["verify", str(prefix), "--reference", str(reference), "--runtime", "opencv", "--no-bgr"]
    assert main(command) == 0, capsys.readouterr()
    capsys.readouterr()
    monkeypatch.setattr(cv2, "__version__", "5.0.0")
    code = main(command)
    captured = capsys.readouterr()
    errors = [line for line in captured.err.splitlines() if line.startswith("error:")]
    assert code != 0 and "Traceback" not in captured.err, captured
    assert len(errors) == 1, captured.err
    assert "OpenCV 5.0.0 has no Caffe importer" in errors[0] and "opencv-python-headless<5" in errors[0], errors[0]
