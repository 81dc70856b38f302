"""The zoo catalog: every name of GluonCV 0.10.5's model zoo (332), as a typed `ZooEntry` (name, task, family,
input), or, for the models Caffe cannot express, with the reason (`outside`). Every "which kind of model is this"
question asked from a name, before a model is built, is answered here (after loading, the detector registry
answers: `detectors.detector_for`); nothing else in the package tests model-name prefixes.

A `Task` knows its check (dense outputs against MXNet, or a detector's detections against GluonCV) and the error
columns of its rows in docs/model_zoo.md; its `detector` names the detector family a conversion dispatches to (the
registry's `Detector.kind`), with the conversion options that family takes (the CLI refuses the others from the
name alone).

The lists below hold (name, family, input): an int s is (1, 3, s, s); a tuple is the whole shape, (N, C, H, W) or,
for 3-D action models, (N, C, T, H, W).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..ir.preprocess import CIFAR, IMAGENET, UNIT, Preprocess

# -- the rows, task by task ---------------------------------------------------------------------------------------

# The GluonCV classification models that build offline (gluoncv 0.10.5.post0), with their family and the input size
# they are checked at (their default: 224, or 32 for CIFAR, 299 for Inception/Xception, ...).
_CLASSIFICATION_ROWS: list[tuple[str, str, int]] = [
    ("alexnet", "alexnet", 224),
    ("cifar_residualattentionnet452", "cifar_residualattention", 32),
    ("cifar_residualattentionnet56", "cifar_residualattention", 32),
    ("cifar_residualattentionnet92", "cifar_residualattention", 32),
    ("cifar_resnet110_v1", "cifar_resnet", 32),
    ("cifar_resnet110_v2", "cifar_resnet", 32),
    ("cifar_resnet20_v1", "cifar_resnet", 32),
    ("cifar_resnet20_v2", "cifar_resnet", 32),
    ("cifar_resnet56_v1", "cifar_resnet", 32),
    ("cifar_resnet56_v2", "cifar_resnet", 32),
    ("cifar_resnext29_16x64d", "cifar_resnext", 32),
    ("cifar_resnext29_32x4d", "cifar_resnext", 32),
    ("cifar_wideresnet16_10", "cifar_wideresnet", 32),
    ("cifar_wideresnet28_10", "cifar_wideresnet", 32),
    ("cifar_wideresnet40_8", "cifar_wideresnet", 32),
    ("darknet53", "darknet53", 224),
    ("densenet121", "densenet", 224),
    ("densenet161", "densenet", 224),
    ("densenet169", "densenet", 224),
    ("densenet201", "densenet", 224),
    ("dla34", "dla34", 224),
    ("googlenet", "googlenet", 224),
    ("hrnet_w18_c", "hrnet", 224),
    ("hrnet_w18_small_v1_c", "hrnet", 224),
    ("hrnet_w18_small_v2_c", "hrnet", 224),
    ("hrnet_w30_c", "hrnet", 224),
    ("hrnet_w32_c", "hrnet", 224),
    ("hrnet_w40_c", "hrnet", 224),
    ("hrnet_w44_c", "hrnet", 224),
    ("hrnet_w48_c", "hrnet", 224),
    ("hrnet_w64_c", "hrnet", 224),
    ("inceptionv3", "inceptionv3", 299),
    ("mobilenet0.25", "mobilenet", 224),
    ("mobilenet0.5", "mobilenet", 224),
    ("mobilenet0.75", "mobilenet", 224),
    ("mobilenet1.0", "mobilenet", 224),
    ("mobilenetv2_0.25", "mobilenetv2", 224),
    ("mobilenetv2_0.5", "mobilenetv2", 224),
    ("mobilenetv2_0.75", "mobilenetv2", 224),
    ("mobilenetv2_1.0", "mobilenetv2", 224),
    ("mobilenetv3_large", "mobilenetv3", 224),
    ("mobilenetv3_small", "mobilenetv3", 224),
    ("nasnet_4_1056", "nasnet", 224),
    ("nasnet_5_1538", "nasnet", 224),
    ("nasnet_6_4032", "nasnet", 331),
    ("nasnet_7_1920", "nasnet", 224),
    ("residualattentionnet128", "residualattention", 224),
    ("residualattentionnet164", "residualattention", 224),
    ("residualattentionnet200", "residualattention", 224),
    ("residualattentionnet236", "residualattention", 224),
    ("residualattentionnet452", "residualattention", 224),
    ("residualattentionnet56", "residualattention", 224),
    ("residualattentionnet92", "residualattention", 224),
    ("resnest101", "resnest", 224),
    ("resnest14", "resnest", 224),
    ("resnest200", "resnest", 320),
    ("resnest26", "resnest", 224),
    ("resnest269", "resnest", 416),
    ("resnest50", "resnest", 224),
    ("resnet101_v1", "resnet_v1", 224),
    ("resnet152_v1", "resnet_v1", 224),
    ("resnet18_v1", "resnet_v1", 224),
    ("resnet34_v1", "resnet_v1", 224),
    ("resnet50_v1", "resnet_v1", 224),
    ("resnet101_v1b", "resnet_v1b/c/d/e/s", 224),
    ("resnet101_v1c", "resnet_v1b/c/d/e/s", 224),
    ("resnet101_v1d", "resnet_v1b/c/d/e/s", 224),
    ("resnet101_v1e", "resnet_v1b/c/d/e/s", 224),
    ("resnet101_v1s", "resnet_v1b/c/d/e/s", 224),
    ("resnet152_v1b", "resnet_v1b/c/d/e/s", 224),
    ("resnet152_v1c", "resnet_v1b/c/d/e/s", 224),
    ("resnet152_v1d", "resnet_v1b/c/d/e/s", 224),
    ("resnet152_v1e", "resnet_v1b/c/d/e/s", 224),
    ("resnet152_v1s", "resnet_v1b/c/d/e/s", 224),
    ("resnet18_v1b", "resnet_v1b/c/d/e/s", 224),
    ("resnet34_v1b", "resnet_v1b/c/d/e/s", 224),
    ("resnet50_v1b", "resnet_v1b/c/d/e/s", 224),
    ("resnet50_v1c", "resnet_v1b/c/d/e/s", 224),
    ("resnet50_v1d", "resnet_v1b/c/d/e/s", 224),
    ("resnet50_v1e", "resnet_v1b/c/d/e/s", 224),
    ("resnet50_v1s", "resnet_v1b/c/d/e/s", 224),
    ("resnet101_v1d_0.73", "resnet_v1b/d pruned", 224),
    ("resnet101_v1d_0.76", "resnet_v1b/d pruned", 224),
    ("resnet18_v1b_0.89", "resnet_v1b/d pruned", 224),
    ("resnet50_v1d_0.11", "resnet_v1b/d pruned", 224),
    ("resnet50_v1d_0.37", "resnet_v1b/d pruned", 224),
    ("resnet50_v1d_0.48", "resnet_v1b/d pruned", 224),
    ("resnet50_v1d_0.86", "resnet_v1b/d pruned", 224),
    ("resnet101_v2", "resnet_v2", 224),
    ("resnet152_v2", "resnet_v2", 224),
    ("resnet18_v2", "resnet_v2", 224),
    ("resnet34_v2", "resnet_v2", 224),
    ("resnet50_v2", "resnet_v2", 224),
    ("resnext101_32x4d", "resnext", 224),
    ("resnext101_64x4d", "resnext", 224),
    ("resnext101e_64x4d", "resnext", 224),
    ("resnext50_32x4d", "resnext", 224),
    ("se_resnet101_v1", "se_resnet", 224),
    ("se_resnet101_v2", "se_resnet", 224),
    ("se_resnet152_v1", "se_resnet", 224),
    ("se_resnet152_v2", "se_resnet", 224),
    ("se_resnet18_v1", "se_resnet", 224),
    ("se_resnet18_v2", "se_resnet", 224),
    ("se_resnet34_v1", "se_resnet", 224),
    ("se_resnet34_v2", "se_resnet", 224),
    ("se_resnet50_v1", "se_resnet", 224),
    ("se_resnet50_v2", "se_resnet", 224),
    ("se_resnext101_32x4d", "se_resnext", 224),
    ("se_resnext101_64x4d", "se_resnext", 224),
    ("se_resnext101e_64x4d", "se_resnext", 224),
    ("se_resnext50_32x4d", "se_resnext", 224),
    ("senet_154", "senet", 224),
    ("senet_154e", "senet", 224),
    ("shufflenet_v1", "shufflenet", 224),
    ("shufflenet_v2", "shufflenet", 224),
    ("squeezenet1.0", "squeezenet", 224),
    ("squeezenet1.1", "squeezenet", 224),
    ("vgg11", "vgg", 224),
    ("vgg11_bn", "vgg", 224),
    ("vgg13", "vgg", 224),
    ("vgg13_bn", "vgg", 224),
    ("vgg16", "vgg", 224),
    ("vgg16_bn", "vgg", 224),
    ("vgg19", "vgg", 224),
    ("vgg19_bn", "vgg", 224),
    ("xception", "xception", 299),
    ("xception71", "xception", 299),
]

# Not in the list: resnet50_v1b_gn / resnet101_v1b_gn cannot be hybridized in gluoncv 0.10.5 (a GroupNorm bug:
# Reshape with keep_highest=-1 is rejected by MXNet 1.9.1), and the *_int8 models are quantized MKL-DNN graphs.

# The GluonCV SSD detectors that build offline (pretrained_base=False), with their input size.
_SSD_ROWS: list[tuple[str, str, int]] = [
    ("ssd_300_mobilenet0.25_coco", "ssd_mobilenet", 300),
    ("ssd_300_mobilenet0.25_custom", "ssd_mobilenet", 300),
    ("ssd_300_mobilenet0.25_voc", "ssd_mobilenet", 300),
    ("ssd_300_mobilenet1.0_lite_coco", "ssd_mobilenet", 300),
    ("ssd_512_mobilenet1.0_coco", "ssd_mobilenet", 512),
    ("ssd_512_mobilenet1.0_custom", "ssd_mobilenet", 512),
    ("ssd_512_mobilenet1.0_voc", "ssd_mobilenet", 512),
    ("ssd_300_resnet34_v1b_coco", "ssd_resnet", 300),
    ("ssd_300_resnet34_v1b_custom", "ssd_resnet", 300),
    ("ssd_300_resnet34_v1b_voc", "ssd_resnet", 300),
    ("ssd_512_resnet101_v2_voc", "ssd_resnet", 512),
    ("ssd_512_resnet152_v2_voc", "ssd_resnet", 512),
    ("ssd_512_resnet18_v1_coco", "ssd_resnet", 512),
    ("ssd_512_resnet18_v1_voc", "ssd_resnet", 512),
    ("ssd_512_resnet50_v1_coco", "ssd_resnet", 512),
    ("ssd_512_resnet50_v1_custom", "ssd_resnet", 512),
    ("ssd_512_resnet50_v1_voc", "ssd_resnet", 512),
    ("ssd_300_vgg16_atrous_coco", "ssd_vgg16", 300),
    ("ssd_300_vgg16_atrous_custom", "ssd_vgg16", 300),
    ("ssd_300_vgg16_atrous_voc", "ssd_vgg16", 300),
    ("ssd_512_vgg16_atrous_coco", "ssd_vgg16", 512),
    ("ssd_512_vgg16_atrous_custom", "ssd_vgg16", 512),
    ("ssd_512_vgg16_atrous_voc", "ssd_vgg16", 512),
]
# Classes given to the *_custom models (GluonCV requires a list); trained weights must have as many.
CUSTOM_CLASSES = ("person", "car", "dog")

# The GluonCV YOLOv3 detectors that build offline (pretrained_base=False), with their input size.
_YOLO_ROWS: list[tuple[str, str, int]] = [
    ("yolo3_darknet53_coco", "yolo3_darknet", 416),
    ("yolo3_darknet53_custom", "yolo3_darknet", 416),
    ("yolo3_darknet53_voc", "yolo3_darknet", 416),
    ("yolo3_mobilenet0.25_coco", "yolo3_mobilenet", 416),
    ("yolo3_mobilenet0.25_custom", "yolo3_mobilenet", 416),
    ("yolo3_mobilenet0.25_voc", "yolo3_mobilenet", 416),
    ("yolo3_mobilenet1.0_coco", "yolo3_mobilenet", 416),
    ("yolo3_mobilenet1.0_custom", "yolo3_mobilenet", 416),
    ("yolo3_mobilenet1.0_voc", "yolo3_mobilenet", 416),
]

# -- the rest of the zoo: dense-output families ------------------------------------------------------------------

# Semantic segmentation at the crop size each getter builds the net for (its upsampling sizes are fixed at
# construction from crop_size, so another input size needs crop_size=... at build time: load_zoo_model passes it).
# The HRNet segmentation nets have no crop size (their upsampling follows the input): 512x1024, Cityscapes' 1:2.
_SEGMENTATION_ROWS: list[tuple[str, str, int | tuple[int, ...]]] = [
    ("deeplab_resnest101_ade", "deeplab", 480),
    ("deeplab_resnest200_ade", "deeplab", 480),
    ("deeplab_resnest269_ade", "deeplab", 480),
    ("deeplab_resnest50_ade", "deeplab", 480),
    ("deeplab_resnet101_ade", "deeplab", 480),
    ("deeplab_resnet101_citys", "deeplab", 480),
    ("deeplab_resnet101_coco", "deeplab", 480),
    ("deeplab_resnet101_voc", "deeplab", 480),
    ("deeplab_resnet152_coco", "deeplab", 480),
    ("deeplab_resnet152_voc", "deeplab", 480),
    ("deeplab_resnet50_ade", "deeplab", 480),
    ("deeplab_resnet50_citys", "deeplab", 480),
    ("deeplab_v3b_plus_wideresnet_citys", "deeplab_v3b_plus", 480),
    ("fastscnn_citys", "fastscnn", 1024),
    ("fcn_resnet101_ade", "fcn", 480),
    ("fcn_resnet101_coco", "fcn", 480),
    ("fcn_resnet101_voc", "fcn", 480),
    ("fcn_resnet50_ade", "fcn", 480),
    ("fcn_resnet50_voc", "fcn", 480),
    ("hrnet_w18_small_v1_s", "hrnet_seg", (1, 3, 512, 1024)),
    ("hrnet_w18_small_v2_s", "hrnet_seg", (1, 3, 512, 1024)),
    ("hrnet_w48_s", "hrnet_seg", (1, 3, 512, 1024)),
    ("icnet_resnet50_citys", "icnet", 480),
    ("icnet_resnet50_mhpv1", "icnet", 480),
    ("psp_resnet101_ade", "psp", 480),
    ("psp_resnet101_citys", "psp", 480),
    ("psp_resnet101_coco", "psp", 480),
    ("psp_resnet101_voc", "psp", 480),
    ("psp_resnet50_ade", "psp", 480),
]

_POSE_CROP = (1, 3, 256, 192)  # the top-down pose estimators' person crop (height x width)
_POSE_ROWS: list[tuple[str, str, int | tuple[int, ...]]] = [
    ("alpha_pose_resnet101_v1b_coco", "alpha_pose", _POSE_CROP),
    ("mobile_pose_mobilenet1.0", "mobile_pose", _POSE_CROP),
    ("mobile_pose_mobilenetv2_1.0", "mobile_pose", _POSE_CROP),
    ("mobile_pose_mobilenetv3_large", "mobile_pose", _POSE_CROP),
    ("mobile_pose_mobilenetv3_small", "mobile_pose", _POSE_CROP),
    ("mobile_pose_resnet18_v1b", "mobile_pose", _POSE_CROP),
    ("mobile_pose_resnet50_v1b", "mobile_pose", _POSE_CROP),
    ("simple_pose_resnet101_v1b", "simple_pose", _POSE_CROP),
    ("simple_pose_resnet101_v1d", "simple_pose", _POSE_CROP),
    ("simple_pose_resnet152_v1b", "simple_pose", _POSE_CROP),
    ("simple_pose_resnet152_v1d", "simple_pose", _POSE_CROP),
    ("simple_pose_resnet18_v1b", "simple_pose", _POSE_CROP),
    ("simple_pose_resnet50_v1b", "simple_pose", _POSE_CROP),
    ("simple_pose_resnet50_v1d", "simple_pose", _POSE_CROP),
]

# TSN-style 2-D action recognition: one frame per segment (num_segments=1), an image classifier + segment consensus.
_ACTION_2D_ROWS: list[tuple[str, str, int | tuple[int, ...]]] = [
    *[(f"inceptionv1_{d}", "tsn_inceptionv1", 224) for d in ("hmdb51", "kinetics400", "sthsthv2", "ucf101")],
    *[(f"inceptionv3_{d}", "tsn_inceptionv3", 299) for d in ("hmdb51", "kinetics400", "sthsthv2", "ucf101")],
    *[
        (f"resnet{depth}_v1b_{d}", "tsn_resnet_v1b", 224)
        for depth, datasets in (
            ("101", ("kinetics400", "sthsthv2")),
            ("152", ("kinetics400", "sthsthv2")),
            ("18", ("custom", "kinetics400", "sthsthv2")),
            ("34", ("kinetics400", "sthsthv2")),
            ("50", ("custom", "hmdb51", "kinetics400", "sthsthv2", "ucf101")),
        )
        for d in datasets
    ],
    *[(f"vgg16_{d}", "tsn_vgg16", 224) for d in ("hmdb51", "kinetics400", "sthsthv2", "ucf101")],
]

# 3-D action recognition: (N, C, T, H, W) clips, T and H x W as each model was trained. SlowFast takes its fast
# frames then its slow frames stacked on the time axis (fast 32 + slow 4 = 36 for 4x16, 32 + 8 for 8x8, 64 + 16).
_ACTION_3D_ROWS: list[tuple[str, str, int | tuple[int, ...]]] = [
    ("c3d_kinetics400", "c3d", (1, 3, 16, 112, 112)),
    ("i3d_inceptionv1_kinetics400", "i3d", (1, 3, 32, 224, 224)),
    ("i3d_inceptionv3_kinetics400", "i3d", (1, 3, 32, 224, 224)),
    ("i3d_resnet101_v1_kinetics400", "i3d", (1, 3, 32, 224, 224)),
    ("i3d_resnet50_v1_custom", "i3d", (1, 3, 32, 224, 224)),
    ("i3d_resnet50_v1_hmdb51", "i3d", (1, 3, 32, 224, 224)),
    ("i3d_resnet50_v1_kinetics400", "i3d", (1, 3, 32, 224, 224)),
    ("i3d_resnet50_v1_sthsthv2", "i3d", (1, 3, 32, 224, 224)),
    ("i3d_resnet50_v1_ucf101", "i3d", (1, 3, 32, 224, 224)),
    ("i3d_slow_resnet101_f16s4_kinetics700", "i3d_slow", (1, 3, 16, 224, 224)),
    ("p3d_resnet101_kinetics400", "p3d", (1, 3, 16, 224, 224)),
    ("p3d_resnet50_kinetics400", "p3d", (1, 3, 16, 224, 224)),
    *[(f"r2plus1d_resnet{d}_kinetics400", "r2plus1d", (1, 3, 16, 112, 112)) for d in ("101", "152", "18", "34", "50")],
    ("slowfast_16x8_resnet101_50_50_kinetics400", "slowfast", (1, 3, 80, 224, 224)),
    ("slowfast_16x8_resnet101_kinetics400", "slowfast", (1, 3, 80, 224, 224)),
    ("slowfast_4x16_resnet101_kinetics400", "slowfast", (1, 3, 36, 224, 224)),
    ("slowfast_4x16_resnet50_custom", "slowfast", (1, 3, 36, 224, 224)),
    ("slowfast_4x16_resnet50_kinetics400", "slowfast", (1, 3, 36, 224, 224)),
    ("slowfast_8x8_resnet101_kinetics400", "slowfast", (1, 3, 40, 224, 224)),
    ("slowfast_8x8_resnet50_kinetics400", "slowfast", (1, 3, 40, 224, 224)),
]

# monodepth2 on KITTI's 192x640 frames; the pose networks take two frames stacked on the channel axis (6 channels).
_DEPTH_ROWS: list[tuple[str, str, int | tuple[int, ...]]] = [
    *[(f"monodepth2_resnet18_kitti_{d}_640x192", "monodepth2", (1, 3, 192, 640)) for d in ("mono", "mono_stereo")],
    ("monodepth2_resnet18_kitti_stereo_640x192", "monodepth2", (1, 3, 192, 640)),
    *[
        (f"monodepth2_resnet18_posenet_kitti_{d}_640x192", "monodepth2_posenet", (1, 6, 192, 640))
        for d in ("mono", "mono_stereo")
    ],
]

# CenterNet without deformable convolution, converted up to its decoder's inputs (detectors/centernet/).
_CENTERNET_ROWS: list[tuple[str, str, int | tuple[int, ...]]] = [
    (f"center_net_{base}_{d}", family, 512)
    for base, family in (
        ("dla34", "centernet_dla"),
        ("mobilenetv3_large_duc", "centernet_mobilenetv3"),
        ("mobilenetv3_small_duc", "centernet_mobilenetv3"),
        ("resnet101_v1b", "centernet_resnet"),
        ("resnet18_v1b", "centernet_resnet"),
        ("resnet50_v1b", "centernet_resnet"),
    )
    for d in ("coco", "voc")
]

# -- the models that cannot be Caffe models: (name, family, why), one precise reason each ------------------------
_RCNN = (
    "ROIAlign crops at data-dependent boxes after NMS (box_nms, data-dependent shapes); this Caffe has no ROIAlign "
    "and no layer whose output shape depends on the data"
)
_DCN = (
    "modulated deformable convolution (_contrib_ModulatedDeformableConvolution) samples at offsets computed from "
    "the input; no Caffe layer samples at data-dependent positions"
)
_INT8 = (
    "a quantized MKL-DNN graph (_sg_mkldnn_conv, quantize_v2 / dequantize, int8 pooling): Caffe computes in float; "
    "convert the float model it was calibrated from"
)
_NONLOCAL = (
    "non-local blocks multiply two activations (batch_dot, an attention map of (T*H*W)^2); Caffe has no "
    "activation x activation MatMul layer"
)
_OUTSIDE_ROWS: list[tuple[str, str, str]] = [
    *[
        (name, "faster_rcnn", _RCNN)
        for name in (
            "custom_faster_rcnn_fpn",
            "doublehead_rcnn_resnet50_v1b_voc",
            "faster_rcnn_fpn_resnet101_v1d_coco",
            "faster_rcnn_fpn_resnet50_v1b_coco",
            "faster_rcnn_fpn_syncbn_resnest101_coco",
            "faster_rcnn_fpn_syncbn_resnest269_coco",
            "faster_rcnn_fpn_syncbn_resnest50_coco",
            "faster_rcnn_fpn_syncbn_resnet101_v1d_coco",
            "faster_rcnn_fpn_syncbn_resnet50_v1b_coco",
            "faster_rcnn_resnet101_v1d_coco",
            "faster_rcnn_resnet101_v1d_custom",
            "faster_rcnn_resnet101_v1d_voc",
            "faster_rcnn_resnet50_v1b_coco",
            "faster_rcnn_resnet50_v1b_custom",
            "faster_rcnn_resnet50_v1b_voc",
        )
    ],
    *[
        (name, "mask_rcnn", _RCNN + "; the mask head gathers per-detection ROIs (argsort, gather_nd)")
        for name in (
            "custom_mask_rcnn_fpn",
            "mask_rcnn_fpn_resnet101_v1d_coco",
            "mask_rcnn_fpn_resnet18_v1b_coco",
            "mask_rcnn_fpn_resnet50_v1b_coco",
            "mask_rcnn_fpn_syncbn_mobilenet1_0_coco",
            "mask_rcnn_fpn_syncbn_resnet18_v1b_coco",
            "mask_rcnn_resnet101_v1d_coco",
            "mask_rcnn_resnet18_v1b_coco",
            "mask_rcnn_resnet50_v1b_coco",
        )
    ],
    *[
        (f"center_net_{base}_dcnv2_{d}", "centernet_dcnv2", _DCN)
        for base in ("dla34", "resnet101_v1b", "resnet18_v1b", "resnet50_v1b")
        for d in ("coco", "voc")
    ],
    *[
        (
            f"danet_resnet{d}_citys",
            "danet",
            "position and channel attention multiply two activations (batch_dot; the position map is (H*W)^2 = "
            "3600x3600 at 480x480); Caffe has no activation x activation MatMul layer",
        )
        for d in ("101", "50")
    ],
    *[(f"i3d_nl{k}_resnet{d}_v1_kinetics400", "i3d_nonlocal", _NONLOCAL) for k in ("10", "5") for d in ("101", "50")],
    (
        "siamrpn_alexnet_v2_otb15",
        "siamrpn",
        "its RPN head correlates the search image with kernels computed from a second input (the template "
        "branch); Caffe convolution weights are parameters, so it can only be two nets with the kernels copied "
        "between them per target",
    ),
    *[
        (
            f"resnet{d}_v1b_gn",
            "resnet_v1b_gn",
            "GluonCV's GroupNorm writes Reshape(keep_highest=-1), which MXNet 1.9.1 rejects: the model cannot be "
            "traced (nor hybridized) at all",
        )
        for d in ("101", "50")
    ],
    *[
        (name, "int8", _INT8)
        for name in (
            "deeplab_resnet101_coco_int8",
            "deeplab_resnet101_voc_int8",
            "fcn_resnet101_coco_int8",
            "fcn_resnet101_voc_int8",
            "inceptionv3_kinetics400_int8",
            "inceptionv3_ucf101_int8",
            "mobilenet1.0_int8",
            "psp_resnet101_coco_int8",
            "psp_resnet101_voc_int8",
            "resnet18_v1b_kinetics400_int8",
            "resnet50_v1_int8",
            "resnet50_v1b_kinetics400_int8",
            "simple_pose_resnet101_v1b_int8",
            "simple_pose_resnet101_v1d_int8",
            "simple_pose_resnet18_v1b_int8",
            "simple_pose_resnet50_v1b_int8",
            "simple_pose_resnet50_v1d_int8",
            "ssd_300_vgg16_atrous_voc_int8",
            "ssd_512_mobilenet1.0_voc_int8",
            "ssd_512_resnet50_v1_voc_int8",
            "ssd_512_vgg16_atrous_voc_int8",
            "vgg16_ucf101_int8",
        )
    ],
]


# -- the typed catalog ---------------------------------------------------------------------------------------------

DENSE = "dense"  # every output compared with MXNet's (class scores, maps, heatmaps, depth, a decoder's inputs)
DETECTIONS = "detections"  # the tensors before NMS and the detections (as sets) compared with GluonCV's


@dataclass(frozen=True)
class Task:
    """A task family of the zoo: its name (`--task`), its section title, its check and its rows' error columns."""

    name: str  # classification, ssd, yolo3, segmentation, pose, action-2d, action-3d, depth, centernet
    title: str  # its section in docs/model_zoo.md
    check: str = DENSE
    # The error columns of its rows (docs/model_zoo.md): dense rows the worst output's; detector rows the family's
    # pre-NMS comparisons in order (SSD loc, conf, priors, decoded; YOLOv3 boxes, scores in loc, conf).
    columns: tuple[str, ...] = ("max_abs", "relative")
    detector: str | None = None  # the detector family a conversion dispatches to (its Detector.kind), if any
    detector_options: tuple[str, ...] = ()  # the DetectorOptions fields (convert flags) that family takes
    classes: bool = False  # a detector whose class names --classes can give (a *_custom model is built with them)

    @property
    def label(self) -> str:
        """What `gluon2caffe models` appends to a family: '' for a classifier, ' (SSD)', ' (segmentation)', ..."""
        if self.name == "classification":
            return ""
        return f" ({self.detector if self.check == DETECTIONS else self.name})"


# The classes of the datasets the zoo's detectors are trained on (PASCAL VOC, MS COCO): a name's last part.
DATASET_CLASSES = {"voc": 20, "coco": 80}


@dataclass(frozen=True)
class ZooEntry:
    """One zoo name: its task, family and the input it is built and checked at (`input_size`: an int s is
    (1, 3, s, s), else the whole shape, as the zoo rows record it); `outside`: why it cannot be a Caffe model (then
    `task` and `input_size` are None)."""

    name: str
    task: Task | None
    family: str
    input_size: int | tuple[int, ...] | None
    outside: str | None = None
    # SSD: the anchors PriorBox layers can express (not a lite head's: its anchors are not min square,
    # sqrt(min*max) square, then ratios of the min size); --anchors priorbox is refused for the others.
    priorbox: bool = True

    @property
    def input_shape(self) -> tuple[int, ...] | None:
        return None if self.input_size is None else input_shape(self.input_size)

    @property
    def size_text(self) -> str:
        return "-" if self.input_size is None else size_text(self.input_size)

    @property
    def normalization(self) -> Preprocess:
        """The input normalization GluonCV trained it with: ImageNet's mean and std, CIFAR's for the cifar_ models,
        pixel / 255 for monodepth2 (its encoder normalizes inside the network)."""
        if self.family.startswith("cifar"):
            return CIFAR
        return UNIT if self.family.startswith("monodepth2") else IMAGENET

    @property
    def detector(self) -> str | None:
        """The detector family its conversion dispatches to (SSD, YOLOv3, CenterNet), None for the others."""
        return None if self.task is None else self.task.detector

    @property
    def checks_detections(self) -> bool:
        """Its check compares detections with GluonCV's (SSD, YOLOv3; CenterNet is compared at its decoder's
        inputs, like a dense model)."""
        return self.task is not None and self.task.check == DETECTIONS

    @property
    def takes_classes(self) -> bool:
        return self.task is not None and self.task.classes

    @property
    def fixed_classes(self) -> int | None:
        """How many classes a dataset detector's weights hold, from its dataset (voc 20, coco 80); None for a
        *_custom one (built with the names given) and for the models that take no class names."""
        if not self.takes_classes:
            return None
        return DATASET_CLASSES.get(self.name.rsplit("_", 1)[-1])

    @property
    def custom(self) -> bool:
        """A *_custom detector: built with the class names given (default CUSTOM_CLASSES)."""
        return self.takes_classes and self.name.endswith("_custom")


CLASSIFICATION = Task("classification", "Classification")
SSD = Task(
    "ssd",
    "SSD detectors",
    DETECTIONS,
    ("anchors", "loc", "conf", "priors", "decoded"),
    detector="SSD",
    detector_options=("anchors", "nms"),
    classes=True,
)
YOLO3 = Task(
    "yolo3", "YOLOv3 detectors", DETECTIONS, ("loc", "conf"), detector="YOLOv3", detector_options=("nms",), classes=True
)
SEGMENTATION = Task("segmentation", "Semantic segmentation")
POSE = Task("pose", "Pose estimation")
ACTION_2D = Task("action-2d", "Action recognition, 2-D (TSN)")
ACTION_3D = Task("action-3d", "Action recognition, 3-D")
DEPTH = Task("depth", "Depth (monodepth2)")
CENTERNET = Task("centernet", "CenterNet up to its decoder", detector="CenterNet")


# The SSD models whose anchors PriorBox cannot express (their lite heads).
_NOT_PRIORBOX = {"ssd_300_mobilenet1.0_lite_coco"}


def _entries(task: Task, rows: list) -> list[ZooEntry]:
    return [ZooEntry(name, task, family, size, priorbox=name not in _NOT_PRIORBOX) for name, family, size in rows]


CLASSIFICATION_MODELS = _entries(CLASSIFICATION, _CLASSIFICATION_ROWS)
SSD_MODELS = _entries(SSD, _SSD_ROWS)
YOLO_MODELS = _entries(YOLO3, _YOLO_ROWS)
SEGMENTATION_MODELS = _entries(SEGMENTATION, _SEGMENTATION_ROWS)
POSE_MODELS = _entries(POSE, _POSE_ROWS)
ACTION_2D_MODELS = _entries(ACTION_2D, _ACTION_2D_ROWS)
ACTION_3D_MODELS = _entries(ACTION_3D, _ACTION_3D_ROWS)
DEPTH_MODELS = _entries(DEPTH, _DEPTH_ROWS)
CENTERNET_MODELS = _entries(CENTERNET, _CENTERNET_ROWS)
OUTSIDE_MODELS = [ZooEntry(name, None, family, None, why) for name, family, why in _OUTSIDE_ROWS]

# The task sections of docs/model_zoo.md and `gluon2caffe models`, in order, with their models.
TASKS: list[tuple[Task, list[ZooEntry]]] = [
    (CLASSIFICATION, CLASSIFICATION_MODELS),
    (SSD, SSD_MODELS),
    (YOLO3, YOLO_MODELS),
    (SEGMENTATION, SEGMENTATION_MODELS),
    (POSE, POSE_MODELS),
    (ACTION_2D, ACTION_2D_MODELS),
    (ACTION_3D, ACTION_3D_MODELS),
    (DEPTH, DEPTH_MODELS),
    (CENTERNET, CENTERNET_MODELS),
]
TASK_NAMES = tuple(task.name for task, _ in TASKS)
# Every model the sweep runs, task by task; OUTSIDE_MODELS are listed in the table, not run.
RUNNABLE: list[ZooEntry] = [entry for _task, models in TASKS for entry in models]
ZOO_SIZE = len(RUNNABLE) + len(OUTSIDE_MODELS)  # every name of gluoncv.model_zoo.get_model_list() (332)
_BY_NAME = {entry.name: entry for entry in RUNNABLE + OUTSIDE_MODELS}


def lookup(name: str) -> ZooEntry | None:
    """The catalog's entry of a zoo name (runnable or outside Caffe), None for a name it does not list."""
    return _BY_NAME.get(name)


def is_zoo_name(model: str) -> bool:
    """A MODEL argument that names a zoo model rather than an exported one (PREFIX with PREFIX-symbol.json beside
    it, a path, a -symbol.json or .params file). The name may still be unknown (loader.check_zoo_name says)."""
    from ..frontend.exported import is_exported_model

    return not (is_exported_model(model) or "/" in model or model.endswith((".json", ".params")))


def input_shape(size: int | tuple[int, ...] | list[int]) -> tuple[int, ...]:
    """The input shape of a list entry: an int s is (1, 3, s, s), a tuple (or a JSON list) the shape itself."""
    return (1, 3, size, size) if isinstance(size, int) else tuple(size)


def size_text(size: int | tuple[int, ...] | list[int]) -> str:
    """'224x224', '256x192', '6x192x640' (channels shown when not 3), '3x16x112x112' (a 3-D clip: C x T x H x W)."""
    shape = input_shape(size)
    spatial = "x".join(str(d) for d in shape[2:])
    return spatial if len(shape) == 4 and shape[1] == 3 else f"{shape[1]}x{spatial}"
