"""The GluonCV classification models that build offline (gluoncv 0.10.5.post0), with their family and the
input size they are checked at (their default: 224, or 32 for CIFAR, 299 for Inception/Xception, ...)."""

CLASSIFICATION_MODELS: list[tuple[str, str, int]] = [
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
SSD_MODELS: list[tuple[str, str, int]] = [
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
YOLO_MODELS: list[tuple[str, str, int]] = [
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
# An entry's third field is its input: an int s is (1, 3, s, s); a tuple is the whole shape, (N, C, H, W) or, for
# 3-D action models, (N, C, T, H, W). `input_shape` / `size_text` read both.

# Semantic segmentation at the crop size each getter builds the net for (its upsampling sizes are fixed at
# construction from crop_size, so another input size needs crop_size=... at build time: load_zoo_model passes it).
# The HRNet segmentation nets have no crop size (their upsampling follows the input): 512x1024, Cityscapes' 1:2.
SEGMENTATION_MODELS: list[tuple[str, str, int | tuple[int, ...]]] = [
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

POSE = (1, 3, 256, 192)  # the top-down pose estimators' person crop (height x width)
POSE_MODELS: list[tuple[str, str, int | tuple[int, ...]]] = [
    ("alpha_pose_resnet101_v1b_coco", "alpha_pose", POSE),
    ("mobile_pose_mobilenet1.0", "mobile_pose", POSE),
    ("mobile_pose_mobilenetv2_1.0", "mobile_pose", POSE),
    ("mobile_pose_mobilenetv3_large", "mobile_pose", POSE),
    ("mobile_pose_mobilenetv3_small", "mobile_pose", POSE),
    ("mobile_pose_resnet18_v1b", "mobile_pose", POSE),
    ("mobile_pose_resnet50_v1b", "mobile_pose", POSE),
    ("simple_pose_resnet101_v1b", "simple_pose", POSE),
    ("simple_pose_resnet101_v1d", "simple_pose", POSE),
    ("simple_pose_resnet152_v1b", "simple_pose", POSE),
    ("simple_pose_resnet152_v1d", "simple_pose", POSE),
    ("simple_pose_resnet18_v1b", "simple_pose", POSE),
    ("simple_pose_resnet50_v1b", "simple_pose", POSE),
    ("simple_pose_resnet50_v1d", "simple_pose", POSE),
]

# TSN-style 2-D action recognition: one frame per segment (num_segments=1), an image classifier + segment consensus.
ACTION_2D_MODELS: list[tuple[str, str, int | tuple[int, ...]]] = [
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
ACTION_3D_MODELS: list[tuple[str, str, int | tuple[int, ...]]] = [
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
DEPTH_MODELS: list[tuple[str, str, int | tuple[int, ...]]] = [
    *[(f"monodepth2_resnet18_kitti_{d}_640x192", "monodepth2", (1, 3, 192, 640)) for d in ("mono", "mono_stereo")],
    ("monodepth2_resnet18_kitti_stereo_640x192", "monodepth2", (1, 3, 192, 640)),
    *[
        (f"monodepth2_resnet18_posenet_kitti_{d}_640x192", "monodepth2_posenet", (1, 6, 192, 640))
        for d in ("mono", "mono_stereo")
    ],
]

# CenterNet without deformable convolution, converted up to its decoder's inputs (detectors/centernet.py).
CENTERNET_MODELS: list[tuple[str, str, int | tuple[int, ...]]] = [
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

# Task sections of docs/model_zoo.md and `gluon2caffe models`: (title, kind, models). The kind names the check:
# dense outputs against MXNet (classification and the rest) or a detector's check.
TASKS: list[tuple[str, str, list]] = [
    ("Classification", "classification", CLASSIFICATION_MODELS),
    ("SSD detectors", "ssd", SSD_MODELS),
    ("YOLOv3 detectors", "yolo3", YOLO_MODELS),
    ("Semantic segmentation", "segmentation", SEGMENTATION_MODELS),
    ("Pose estimation", "pose", POSE_MODELS),
    ("Action recognition, 2-D (TSN)", "action-2d", ACTION_2D_MODELS),
    ("Action recognition, 3-D", "action-3d", ACTION_3D_MODELS),
    ("Depth (monodepth2)", "depth", DEPTH_MODELS),
    ("CenterNet up to its decoder", "centernet", CENTERNET_MODELS),
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
OUTSIDE_MODELS: list[tuple[str, str, str]] = [
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


def input_shape(size: int | tuple[int, ...] | list[int]) -> tuple[int, ...]:
    """The input shape of a list entry: an int s is (1, 3, s, s), a tuple (or a JSON list) the shape itself."""
    return (1, 3, size, size) if isinstance(size, int) else tuple(size)


def size_text(size: int | tuple[int, ...] | list[int]) -> str:
    """'224x224', '256x192', '6x192x640' (channels shown when not 3), '3x16x112x112' (a 3-D clip: C x T x H x W)."""
    shape = input_shape(size)
    spatial = "x".join(str(d) for d in shape[2:])
    return spatial if len(shape) == 4 and shape[1] == 3 else f"{shape[1]}x{spatial}"
