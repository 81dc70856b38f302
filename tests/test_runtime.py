"""The real Caffe the tests run in: present (a failure otherwise, never a skip) and with the layers we write."""

import caffe


def test_pycaffe_has_the_layers_we_emit():
    types = set(caffe.layer_type_list())
    needed = {
        "Input",
        "Convolution",
        "BatchNorm",
        "Scale",
        "Bias",
        "ReLU",
        "Sigmoid",
        "TanH",
        "BNLL",
        "Pooling",
        "Eltwise",
        "InnerProduct",
        "Flatten",
        "Concat",
        "Softmax",
        "Reshape",
        "Power",
        "Slice",
        "Silence",
        "Permute",
        "ReLU6",
        "PriorBox",
        "DetectionOutput",
        "Normalize",
    }
    assert needed <= types, f"missing: {sorted(needed - types)}"
