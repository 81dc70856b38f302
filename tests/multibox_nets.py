"""MXNet's older SSD (symbol API, MXNet 1.9.1 example/ssd/symbol/) built for the tests, with random live weights.

The builders follow the example's symbol construction (vgg16_reduced.py, resnet.py, common.py's multi_layer_feature
and multibox_layer, symbol_builder.py's get_symbol / get_symbol_train, symbol_factory.py's settings), written anew
here: the same ops with the same attributes in the same order, so the graph is what the example's deploy.py writes.
The ResNet is the example's resnet.py at 18 layers (basic blocks, units 2-2-2-2; the factory's resnet50 layout:
features after stage 3 and stage 4, then four extra layers) to keep the tests fast.
"""

from __future__ import annotations

import mxnet as mx
import numpy as np

from gluon2caffe.zoo.randomize import randomize

VOC_LIKE_CLASSES = 4  # few classes keep the tests fast; the head is the same for 20


# -- backbones ---------------------------------------------------------------------------------------------------------


def vgg16_reduced(data: mx.sym.Symbol) -> dict[str, mx.sym.Symbol]:
    """vgg16_reduced.py's body up to relu7 (fc6 as a dilated 3x3 convolution, fc7 as 1x1); the outputs by name."""
    out, x = {}, data
    for stage, (repeat, filters) in enumerate(((2, 64), (2, 128), (3, 256), (3, 512), (3, 512)), start=1):
        for i in range(1, repeat + 1):
            x = mx.sym.Convolution(x, kernel=(3, 3), pad=(1, 1), num_filter=filters, name=f"conv{stage}_{i}")
            x = mx.sym.Activation(x, act_type="relu", name=f"relu{stage}_{i}")
            out[f"relu{stage}_{i}"] = x
        if stage == 3:  # the example's only 'full' pooling (75 -> 38 at 300)
            x = mx.sym.Pooling(
                x, pool_type="max", kernel=(2, 2), stride=(2, 2), pooling_convention="full", name="pool3"
            )
        elif stage == 5:
            x = mx.sym.Pooling(x, pool_type="max", kernel=(3, 3), stride=(1, 1), pad=(1, 1), name="pool5")
        else:
            x = mx.sym.Pooling(x, pool_type="max", kernel=(2, 2), stride=(2, 2), name=f"pool{stage}")
    x = mx.sym.Convolution(x, kernel=(3, 3), pad=(6, 6), dilate=(6, 6), num_filter=1024, name="fc6")
    x = mx.sym.Activation(x, act_type="relu", name="relu6")
    x = mx.sym.Convolution(x, kernel=(1, 1), pad=(0, 0), num_filter=1024, name="fc7")
    out["relu7"] = mx.sym.Activation(x, act_type="relu", name="relu7")
    return out


def _residual_unit(data, num_filter: int, stride: int, dim_match: bool, name: str) -> mx.sym.Symbol:
    """resnet.py's pre-activation basic unit (bottle_neck=False)."""
    bn1 = mx.sym.BatchNorm(data, fix_gamma=False, momentum=0.9, eps=2e-5, name=name + "_bn1")
    act1 = mx.sym.Activation(bn1, act_type="relu", name=name + "_relu1")
    conv1 = mx.sym.Convolution(
        act1,
        num_filter=num_filter,
        kernel=(3, 3),
        stride=(stride, stride),
        pad=(1, 1),
        no_bias=True,
        name=name + "_conv1",
    )
    bn2 = mx.sym.BatchNorm(conv1, fix_gamma=False, momentum=0.9, eps=2e-5, name=name + "_bn2")
    act2 = mx.sym.Activation(bn2, act_type="relu", name=name + "_relu2")
    conv2 = mx.sym.Convolution(
        act2, num_filter=num_filter, kernel=(3, 3), stride=(1, 1), pad=(1, 1), no_bias=True, name=name + "_conv2"
    )
    if dim_match:
        shortcut = data
    else:
        shortcut = mx.sym.Convolution(
            act1, num_filter=num_filter, kernel=(1, 1), stride=(stride, stride), no_bias=True, name=name + "_sc"
        )
    return conv2 + shortcut


def resnet18(data: mx.sym.Symbol) -> dict[str, mx.sym.Symbol]:
    """resnet.py's body at 18 layers (image > 32: 7x7/2 conv, BN, ReLU, 3x3/2 max pool); stage outputs by name."""
    filters = (64, 64, 128, 256, 512)
    x = mx.sym.identity(data, name="id")
    x = mx.sym.BatchNorm(x, fix_gamma=True, eps=2e-5, momentum=0.9, name="bn_data")
    x = mx.sym.Convolution(
        x, num_filter=filters[0], kernel=(7, 7), stride=(2, 2), pad=(3, 3), no_bias=True, name="conv0"
    )
    x = mx.sym.BatchNorm(x, fix_gamma=False, eps=2e-5, momentum=0.9, name="bn0")
    x = mx.sym.Activation(x, act_type="relu", name="relu0")
    x = mx.sym.Pooling(x, kernel=(3, 3), stride=(2, 2), pad=(1, 1), pool_type="max")
    out = {}
    for i, units in enumerate((2, 2, 2, 2)):
        stride = 1 if i == 0 else 2
        x = _residual_unit(x, filters[i + 1], stride, False, f"stage{i + 1}_unit1")
        for j in range(units - 1):
            x = _residual_unit(x, filters[i + 1], 1, True, f"stage{i + 1}_unit{j + 2}")
        out[f"stage{i + 1}"] = x
    return out


# -- the SSD parts (common.py) -----------------------------------------------------------------------------------------


def _conv_act(x, name: str, num_filter: int, kernel: int, pad: int, stride: int) -> mx.sym.Symbol:
    conv = mx.sym.Convolution(
        x, kernel=(kernel, kernel), pad=(pad, pad), stride=(stride, stride), num_filter=num_filter, name=f"{name}_conv"
    )
    return mx.sym.Activation(conv, act_type="relu", name=f"{name}_relu")


def multi_layer_feature(
    body: dict, from_layers: list[str], num_filters: list[int], strides: list[int], pads: list[int], min_filter=128
) -> list[mx.sym.Symbol]:
    """The backbone's named outputs, then extra layers (1x1 conv + 3x3 conv, each with ReLU) on the last one."""
    layers = []
    for k, (name, num_filter, s, p) in enumerate(zip(from_layers, num_filters, strides, pads)):
        if name:
            layers.append(body[name])
            continue
        c1 = _conv_act(layers[-1], f"multi_feat_{k}_conv_1x1", max(min_filter, num_filter // 2), 1, 0, 1)
        layers.append(_conv_act(c1, f"multi_feat_{k}_conv_3x3", num_filter, 3, p, s))
    return layers


def multibox_layer(
    layers: list[mx.sym.Symbol],
    num_classes: int,
    sizes: list[list[float]],
    ratios: list[list[float]],
    normalization: list[int],
    num_channels: list[int],
    steps: list[float],
    clip: bool = False,
) -> tuple[mx.sym.Symbol, mx.sym.Symbol, mx.sym.Symbol]:
    """(loc_preds (B, N*4), cls_preds (B, C+1, N), anchors (1, N, 4)) as common.py's multibox_layer builds them."""
    locs, clss, anchors = [], [], []
    channels = list(num_channels)
    for k, x in enumerate(layers):
        name = x.name
        if normalization[k] > 0:
            x = mx.sym.L2Normalization(x, mode="channel", name=f"{name}_norm")
            scale = mx.sym.Variable(
                f"{name}_scale", shape=(1, channels[k], 1, 1), init=mx.init.Constant(normalization[k])
            )
            x = mx.sym.broadcast_mul(lhs=scale, rhs=x)
        per_cell = len(sizes[k]) - 1 + len(ratios[k])
        for kind, outputs, store in (("loc", per_cell * 4, locs), ("cls", per_cell * (num_classes + 1), clss)):
            bias = mx.sym.Variable(f"{name}_{kind}_pred_conv_bias", init=mx.init.Constant(0.0))
            pred = mx.sym.Convolution(
                x,
                bias=bias,
                kernel=(3, 3),
                stride=(1, 1),
                pad=(1, 1),
                num_filter=outputs,
                name=f"{name}_{kind}_pred_conv",
            )
            store.append(mx.sym.Flatten(mx.sym.transpose(pred, axes=(0, 2, 3, 1))))
        step = (steps[k], steps[k]) if steps else "(-1.0, -1.0)"
        prior = mx.sym.contrib.MultiBoxPrior(
            x,
            sizes="(" + ",".join(str(v) for v in sizes[k]) + ")",
            ratios="(" + ",".join(str(v) for v in ratios[k]) + ")",
            clip=clip,
            name=f"{name}_anchors",
            steps=step,
        )
        anchors.append(mx.sym.Flatten(prior))
    loc = mx.sym.Concat(*locs, num_args=len(locs), dim=1, name="multibox_loc_pred")
    cls = mx.sym.Concat(*clss, num_args=len(clss), dim=1)
    cls = mx.sym.Reshape(cls, shape=(0, -1, num_classes + 1))
    cls = mx.sym.transpose(cls, axes=(0, 2, 1), name="multibox_cls_pred")
    anchor = mx.sym.Concat(*anchors, num_args=len(anchors), dim=1)
    anchor = mx.sym.Reshape(anchor, shape=(0, -1, 4), name="multibox_anchors")
    return loc, cls, anchor


# -- symbol_factory.py's settings --------------------------------------------------------------------------------------

_RATIOS_6 = [
    [1, 2, 0.5],
    [1, 2, 0.5, 3, 1.0 / 3],
    [1, 2, 0.5, 3, 1.0 / 3],
    [1, 2, 0.5, 3, 1.0 / 3],
    [1, 2, 0.5],
    [1, 2, 0.5],
]
_SIZES_6 = [[0.1, 0.141], [0.2, 0.272], [0.37, 0.447], [0.54, 0.619], [0.71, 0.79], [0.88, 0.961]]

SETTINGS = {
    # vgg16_reduced below 448: the 300 model (steps given at 300)
    "vgg16_reduced": dict(
        body=vgg16_reduced,
        from_layers=["relu4_3", "relu7", "", "", "", ""],
        num_filters=[512, -1, 512, 256, 256, 256],
        strides=[-1, -1, 2, 2, 1, 1],
        pads=[-1, -1, 1, 1, 0, 0],
        sizes=_SIZES_6,
        ratios=_RATIOS_6,
        normalizations=[20, -1, -1, -1, -1, -1],
        steps=[x / 300.0 for x in [8, 16, 32, 64, 100, 300]],
        size=300,
    ),
    # resnet50's layout (stage 3 and 4, four extra layers, no steps: -1), on the 18-layer body
    "resnet18": dict(
        body=resnet18,
        from_layers=["stage3", "stage4", "", "", "", ""],
        num_filters=[-1, -1, 512, 256, 256, 128],
        strides=[-1, -1, 2, 2, 2, 2],
        pads=[-1, -1, 1, 1, 1, 1],
        sizes=_SIZES_6,
        ratios=_RATIOS_6,
        normalizations=[-1] * 6,
        steps=[],
        size=256,
    ),
}


def _heads(network: str, num_classes: int, data: mx.sym.Symbol, sizes: list | None = None):
    s = dict(SETTINGS[network], **({"sizes": sizes} if sizes is not None else {}))
    body = s["body"](data)
    layers = multi_layer_feature(body, s["from_layers"], s["num_filters"], s["strides"], s["pads"])
    return multibox_layer(
        layers, num_classes, s["sizes"], s["ratios"], s["normalizations"], s["num_filters"], s["steps"], clip=False
    )


def deploy_symbol(
    network: str,
    num_classes: int = VOC_LIKE_CLASSES,
    nms_thresh: float = 0.45,
    force_suppress: bool = False,
    nms_topk: int = 400,
    sizes: list | None = None,
    channel_softmax: bool = False,
    **detection: object,
) -> mx.sym.Symbol:
    """symbol_builder.get_symbol: the class softmax over axis 1 and MultiBoxDetection (threshold and clip: MXNet's
    defaults unless given); `sizes`: the anchor sizes per map instead of the factory's; `channel_softmax`: the
    class softmax as older deploy symbols wrote it, SoftmaxActivation(mode='channel')."""
    with mx.name.NameManager():
        loc, cls, anchors = _heads(network, num_classes, mx.sym.var("data"), sizes)
        if channel_softmax:
            prob = mx.sym.SoftmaxActivation(data=cls, mode="channel", name="cls_prob")
        else:
            prob = mx.sym.softmax(data=cls, axis=1, name="cls_prob")
        return mx.sym.contrib.MultiBoxDetection(
            *[prob, loc, anchors],
            name="detection",
            nms_threshold=nms_thresh,
            force_suppress=force_suppress,
            variances=(0.1, 0.1, 0.2, 0.2),
            nms_topk=nms_topk,
            **detection,
        )


def train_symbol(network: str, num_classes: int = VOC_LIKE_CLASSES, nms_topk: int = 400) -> mx.sym.Symbol:
    """symbol_builder.get_symbol_train: MultiBoxTarget, the losses, and the detection behind a MakeLoss."""
    with mx.name.NameManager():
        label = mx.sym.var("label")
        loc, cls, anchors = _heads(network, num_classes, mx.sym.var("data"))
        target = mx.sym.contrib.MultiBoxTarget(
            *[anchors, label, cls],
            overlap_threshold=0.5,
            ignore_label=-1,
            negative_mining_ratio=3,
            minimum_negative_samples=0,
            negative_mining_thresh=0.5,
            variances=(0.1, 0.1, 0.2, 0.2),
            name="multibox_target",
        )
        loc_target, loc_mask, cls_target = target[0], target[1], target[2]
        prob = mx.sym.SoftmaxOutput(
            data=cls,
            label=cls_target,
            ignore_label=-1,
            use_ignore=True,
            grad_scale=1.0,
            multi_output=True,
            normalization="valid",
            name="cls_prob",
        )
        loc_diff = loc_mask * (loc - loc_target)
        loc_loss = mx.sym.MakeLoss(
            mx.sym.smooth_l1(name="loc_loss_", data=loc_diff, scalar=1.0),
            grad_scale=1.0,
            normalization="valid",
            name="loc_loss",
        )
        cls_label = mx.sym.MakeLoss(data=cls_target, grad_scale=0, name="cls_label")
        det = mx.sym.contrib.MultiBoxDetection(
            *[prob, loc, anchors],
            name="detection",
            nms_threshold=0.45,
            force_suppress=False,
            variances=(0.1, 0.1, 0.2, 0.2),
            nms_topk=nms_topk,
        )
        det = mx.sym.MakeLoss(data=det, grad_scale=0, name="det_out")
        return mx.sym.Group([prob, loc_loss, cls_label, det])


def live_weights(symbol: mx.sym.Symbol, shape: tuple[int, ...], seed: int = 0, cls_gain: float = 1.0) -> dict:
    """Random weights that keep the net alive (gluon2caffe.zoo.randomize on the symbol as a SymbolBlock: He-normal
    weights, BatchNorm statistics from the net's own activations on synthetic scenes, perturbed), with the class
    predictors scaled by `cls_gain` (larger: more confident scores, so a high threshold still leaves detections).
    Returns {name: array} (arguments and auxiliary states)."""
    block = mx.gluon.SymbolBlock(symbol, mx.sym.var("data"))
    block.initialize(mx.init.Normal(0.01))
    randomize(block, shape, seed=seed, images=True)
    params = {name: p.data().asnumpy() for name, p in block.collect_params().items()}
    rng = np.random.RandomState(seed + 7)
    for name in params:
        if name.endswith("_scale") and params[name].ndim == 4:  # L2Normalization's scale (init 20 in the example)
            params[name] = rng.uniform(10, 30, params[name].shape).astype(np.float32)
        if "_cls_pred_conv_weight" in name:
            params[name] = params[name] * cls_gain
        if "_loc_pred_conv_weight" in name:
            params[name] = params[name] * 0.5  # boxes near their anchors: overlapping, so NMS has work to do
    return params


def save_exported(symbol: mx.sym.Symbol, params: dict, prefix: str, aux: set[str] | None = None) -> str:
    """The files deploy.py / Module.save_checkpoint write: PREFIX-symbol.json and PREFIX-0000.params."""
    symbol.save(f"{prefix}-symbol.json")
    aux = set(symbol.list_auxiliary_states()) if aux is None else aux
    mx.nd.save(
        f"{prefix}-0000.params",
        {("aux:" if k in aux else "arg:") + k: mx.nd.array(v) for k, v in params.items()},
    )
    return prefix
