"""preprocess= on every detector family: the Scale on the input reaches the anchors' image size unchanged and the
check (Caffe fed the scene's raw pixels, GluonCV the normalized scene) is exact, detections equal."""

import pytest

from gluon2caffe.zoo.loader import load_zoo_model
from helpers import assert_detector_ok, convert_and_check_detector


@pytest.mark.parametrize(
    "name, shape",
    [
        ("yolo3_mobilenet0.25_voc", (1, 3, 128, 128)),
        ("center_net_mobilenetv3_small_duc_voc", (1, 3, 64, 64)),
    ],
    ids=["yolo", "centernet"],
)
def test_detector_with_preprocess_is_exact(name, shape, tmp_path):
    net = load_zoo_model(name, shape)
    result, check = convert_and_check_detector(net, shape, tmp_path, preprocess="imagenet")
    assert result.text_net.layer[1].type == "Scale" and list(result.text_net.layer[1].bottom) == ["data"]
    assert check.runtime == "caffe"
    assert_detector_ok(check)
