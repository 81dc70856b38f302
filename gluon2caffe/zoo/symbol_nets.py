"""Symbol-API networks as their authors define them: builders of the MXNet image-classification example symbols
(MXNet 1.9.1 example/image-classification/symbols/), insightface's face-recognition backbones
(recognition/arcface_mxnet/symbol: fresnet's "IR" units, fmobilefacenet; read at deepinsight/insightface 7fadd420) and
a RetinaFace-style detector (detection/retinaface/rcnn/symbol).

Developer tooling, not API: the symbol-model sweep (zoo/symbol_sweep.py, `make symbols`, docs/symbol_models.md) and
its tests build these networks with random weights and convert them as exported checkpoints. Each builder writes the
same operators with the same attributes (pooling conventions, fix_gamma, eps, workspace-free) as the source named in
its catalog row, written here from that source's structure, not copied. Networks are built at the width and depth
the source defines; the input size is the smallest the architecture accepts where the source allows (the row says).

`head`: 'softmax' ends a classifier with softmax over the classes (what the training symbol's SoftmaxOutput computes
at inference); 'train' with SoftmaxOutput as the authors' training symbol does (a label input `softmax_label`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

__all__ = ["SymbolNet", "SYMBOL_NETS", "symbol_net"]


def _mx():
    import mxnet as mx

    return mx


def _head(logits: Any, head: str) -> Any:
    mx = _mx()
    if head == "train":
        return mx.sym.SoftmaxOutput(data=logits, name="softmax")
    if head == "logits":
        return logits
    return mx.sym.softmax(logits, axis=1, name="softmax")


def _conv_bn_act(x, name, filters, kernel, stride=(1, 1), pad=(0, 0), group=1, act="relu", fix_gamma=False, eps=2e-5):
    mx = _mx()
    x = mx.sym.Convolution(
        x, num_filter=filters, kernel=kernel, stride=stride, pad=pad, num_group=group, no_bias=True, name=f"{name}_conv"
    )
    x = mx.sym.BatchNorm(x, fix_gamma=fix_gamma, eps=eps, momentum=0.9, name=f"{name}_bn")
    if act == "relu":
        return mx.sym.Activation(x, act_type="relu", name=f"{name}_relu")
    if act == "prelu":
        return mx.sym.LeakyReLU(x, act_type="prelu", name=f"{name}_prelu")
    return x


# --------------------------------------------------------------------------------------- image classification


def alexnet(num_classes: int = 1000, head: str = "softmax") -> Any:
    """AlexNet with LRN after the first two convolutions (alexnet.py)."""
    mx = _mx()
    x = mx.sym.var("data")
    x = mx.sym.Convolution(x, kernel=(11, 11), stride=(4, 4), num_filter=96, name="conv1")
    x = mx.sym.Activation(x, act_type="relu", name="relu1")
    x = mx.sym.LRN(x, alpha=0.0001, beta=0.75, knorm=2, nsize=5, name="lrn1")
    x = mx.sym.Pooling(x, kernel=(3, 3), stride=(2, 2), pool_type="max", name="pool1")
    x = mx.sym.Convolution(x, kernel=(5, 5), pad=(2, 2), num_filter=256, name="conv2")
    x = mx.sym.Activation(x, act_type="relu", name="relu2")
    x = mx.sym.LRN(x, alpha=0.0001, beta=0.75, knorm=2, nsize=5, name="lrn2")
    x = mx.sym.Pooling(x, kernel=(3, 3), stride=(2, 2), pool_type="max", name="pool2")
    for i, filters in ((3, 384), (4, 384), (5, 256)):
        x = mx.sym.Convolution(x, kernel=(3, 3), pad=(1, 1), num_filter=filters, name=f"conv{i}")
        x = mx.sym.Activation(x, act_type="relu", name=f"relu{i}")
    x = mx.sym.Pooling(x, kernel=(3, 3), stride=(2, 2), pool_type="max", name="pool3")
    x = mx.sym.Flatten(x, name="flatten")
    for i in (1, 2):
        x = mx.sym.FullyConnected(x, num_hidden=4096, name=f"fc{i}")
        x = mx.sym.Activation(x, act_type="relu", name=f"relu{5 + i}")
        x = mx.sym.Dropout(x, p=0.5, name=f"dropout{i}")
    return _head(mx.sym.FullyConnected(x, num_hidden=num_classes, name="fc3"), head)


VGG_LAYERS = {11: (1, 1, 2, 2, 2), 13: (2, 2, 2, 2, 2), 16: (2, 2, 3, 3, 3), 19: (2, 2, 4, 4, 4)}


def vgg(num_layers: int = 11, batch_norm: bool = False, num_classes: int = 1000, head: str = "softmax") -> Any:
    """VGG-11/13/16/19, optionally with BatchNorm after each convolution (vgg.py)."""
    mx = _mx()
    x = mx.sym.var("data")
    for stage, (count, filters) in enumerate(zip(VGG_LAYERS[num_layers], (64, 128, 256, 512, 512)), 1):
        for j in range(1, count + 1):
            x = mx.sym.Convolution(x, kernel=(3, 3), pad=(1, 1), num_filter=filters, name=f"conv{stage}_{j}")
            if batch_norm:
                x = mx.sym.BatchNorm(x, name=f"bn{stage}_{j}")  # the symbol API's defaults: fix_gamma, eps 1e-3
            x = mx.sym.Activation(x, act_type="relu", name=f"relu{stage}_{j}")
        x = mx.sym.Pooling(x, pool_type="max", kernel=(2, 2), stride=(2, 2), name=f"pool{stage}")
    x = mx.sym.Flatten(x, name="flatten")
    for i in (6, 7):
        x = mx.sym.FullyConnected(x, num_hidden=4096, name=f"fc{i}")
        x = mx.sym.Activation(x, act_type="relu", name=f"relu{i}")
        x = mx.sym.Dropout(x, p=0.5, name=f"drop{i}")
    return _head(mx.sym.FullyConnected(x, num_hidden=num_classes, name="fc8"), head)


def _conv_relu(x, name, filters, kernel=(1, 1), stride=(1, 1), pad=(0, 0)):
    mx = _mx()
    x = mx.sym.Convolution(x, num_filter=filters, kernel=kernel, stride=stride, pad=pad, name=f"conv_{name}")
    return mx.sym.Activation(x, act_type="relu", name=f"relu_{name}")


def _googlenet_inception(x, name, c1, c3r, c3, c5r, c5, proj):
    mx = _mx()
    a = _conv_relu(x, f"{name}_1x1", c1)
    b = _conv_relu(_conv_relu(x, f"{name}_3x3_reduce", c3r), f"{name}_3x3", c3, (3, 3), pad=(1, 1))
    c = _conv_relu(_conv_relu(x, f"{name}_5x5_reduce", c5r), f"{name}_5x5", c5, (5, 5), pad=(2, 2))
    d = mx.sym.Pooling(x, kernel=(3, 3), stride=(1, 1), pad=(1, 1), pool_type="max", name=f"max_pool_{name}_pool")
    d = _conv_relu(d, f"{name}_proj", proj)
    return mx.sym.Concat(a, b, c, d, name=f"ch_concat_{name}_chconcat")


def googlenet(num_classes: int = 1000, head: str = "softmax") -> Any:
    """GoogLeNet (Inception v1) without BatchNorm, valid-convention max pools between stages (googlenet.py)."""
    mx = _mx()
    x = _conv_relu(mx.sym.var("data"), "conv1", 64, (7, 7), (2, 2), (3, 3))
    x = mx.sym.Pooling(x, kernel=(3, 3), stride=(2, 2), pool_type="max", name="pool1")
    x = _conv_relu(x, "conv2", 64)
    x = _conv_relu(x, "conv3", 192, (3, 3), pad=(1, 1))
    x = mx.sym.Pooling(x, kernel=(3, 3), stride=(2, 2), pool_type="max", name="pool3")
    x = _googlenet_inception(x, "in3a", 64, 96, 128, 16, 32, 32)
    x = _googlenet_inception(x, "in3b", 128, 128, 192, 32, 96, 64)
    x = mx.sym.Pooling(x, kernel=(3, 3), stride=(2, 2), pool_type="max", name="pool4")
    for name, spec in (
        ("in4a", (192, 96, 208, 16, 48, 64)),
        ("in4b", (160, 112, 224, 24, 64, 64)),
        ("in4c", (128, 128, 256, 24, 64, 64)),
        ("in4d", (112, 144, 288, 32, 64, 64)),
        ("in4e", (256, 160, 320, 32, 128, 128)),
    ):
        x = _googlenet_inception(x, name, *spec)
    x = mx.sym.Pooling(x, kernel=(3, 3), stride=(2, 2), pool_type="max", name="pool5")
    x = _googlenet_inception(x, "in5a", 256, 160, 320, 32, 128, 128)
    x = _googlenet_inception(x, "in5b", 384, 192, 384, 48, 128, 128)
    x = mx.sym.Pooling(x, kernel=(7, 7), stride=(1, 1), global_pool=True, pool_type="avg", name="pool6")
    x = mx.sym.Flatten(x, name="flatten")
    return _head(mx.sym.FullyConnected(x, num_hidden=num_classes, name="fc1"), head)


def _cbr(x, name, filters, kernel=(1, 1), stride=(1, 1), pad=(0, 0), fix_gamma=False, eps=1e-5):
    """Convolution (with bias, as the examples' ConvFactory) -> BatchNorm -> ReLU."""
    mx = _mx()
    x = mx.sym.Convolution(x, num_filter=filters, kernel=kernel, stride=stride, pad=pad, name=f"conv_{name}")
    x = mx.sym.BatchNorm(x, fix_gamma=fix_gamma, eps=eps, momentum=0.9, name=f"bn_{name}")
    return mx.sym.Activation(x, act_type="relu", name=f"relu_{name}")


def _inception_bn_a(x, name, c1, c3r, c3, d3r, d3, pool, proj):
    mx = _mx()
    a = _cbr(x, f"{name}_1x1", c1)
    b = _cbr(_cbr(x, f"{name}_3x3_reduce", c3r), f"{name}_3x3", c3, (3, 3), pad=(1, 1))
    c = _cbr(x, f"{name}_double_3x3_reduce", d3r)
    c = _cbr(c, f"{name}_double_3x3_0", d3, (3, 3), pad=(1, 1))
    c = _cbr(c, f"{name}_double_3x3_1", d3, (3, 3), pad=(1, 1))
    d = mx.sym.Pooling(x, kernel=(3, 3), stride=(1, 1), pad=(1, 1), pool_type=pool, name=f"{pool}_pool_{name}_pool")
    d = _cbr(d, f"{name}_proj", proj)
    return mx.sym.Concat(a, b, c, d, name=f"ch_concat_{name}_chconcat")


def _inception_bn_b(x, name, c3r, c3, d3r, d3):
    mx = _mx()
    b = _cbr(_cbr(x, f"{name}_3x3_reduce", c3r), f"{name}_3x3", c3, (3, 3), (2, 2), (1, 1))
    c = _cbr(x, f"{name}_double_3x3_reduce", d3r)
    c = _cbr(c, f"{name}_double_3x3_0", d3, (3, 3), pad=(1, 1))
    c = _cbr(c, f"{name}_double_3x3_1", d3, (3, 3), (2, 2), (1, 1))
    d = mx.sym.Pooling(x, kernel=(3, 3), stride=(2, 2), pad=(1, 1), pool_type="max", name=f"max_pool_{name}_pool")
    return mx.sym.Concat(b, c, d, name=f"ch_concat_{name}_chconcat")


def inception_bn(num_classes: int = 1000, head: str = "softmax") -> Any:
    """Inception-BN (BN-Inception) for ImageNet-size inputs, fix_gamma=False, eps 1e-5 (inception-bn.py)."""
    mx = _mx()
    x = _cbr(mx.sym.var("data"), "1", 64, (7, 7), (2, 2), (3, 3))
    x = mx.sym.Pooling(x, kernel=(3, 3), stride=(2, 2), pool_type="max", name="pool_1")
    x = _cbr(x, "2_red", 64)
    x = _cbr(x, "2", 192, (3, 3), pad=(1, 1))
    x = mx.sym.Pooling(x, kernel=(3, 3), stride=(2, 2), pool_type="max", name="pool_2")
    x = _inception_bn_a(x, "3a", 64, 64, 64, 64, 96, "avg", 32)
    x = _inception_bn_a(x, "3b", 64, 64, 96, 64, 96, "avg", 64)
    x = _inception_bn_b(x, "3c", 128, 160, 64, 96)
    x = _inception_bn_a(x, "4a", 224, 64, 96, 96, 128, "avg", 128)
    x = _inception_bn_a(x, "4b", 192, 96, 128, 96, 128, "avg", 128)
    x = _inception_bn_a(x, "4c", 160, 128, 160, 128, 160, "avg", 128)
    x = _inception_bn_a(x, "4d", 96, 128, 192, 160, 192, "avg", 128)
    x = _inception_bn_b(x, "4e", 128, 192, 192, 256)
    x = _inception_bn_a(x, "5a", 352, 192, 320, 160, 224, "avg", 128)
    x = _inception_bn_a(x, "5b", 352, 192, 320, 192, 224, "max", 128)
    x = mx.sym.Pooling(x, kernel=(7, 7), stride=(1, 1), pool_type="avg", name="global_pool")
    x = mx.sym.Flatten(x, name="flatten")
    return _head(mx.sym.FullyConnected(x, num_hidden=num_classes, name="fc1"), head)


def _v3_conv(x, name, filters, kernel=(1, 1), stride=(1, 1), pad=(0, 0)):
    """inception-v3/v4's Conv: no bias, BatchNorm with fix_gamma=True (the symbol API's default eps), ReLU."""
    mx = _mx()
    x = mx.sym.Convolution(
        x, num_filter=filters, kernel=kernel, stride=stride, pad=pad, no_bias=True, name=f"{name}_conv2d"
    )
    x = mx.sym.BatchNorm(x, fix_gamma=True, name=f"{name}_batchnorm")
    return mx.sym.Activation(x, act_type="relu", name=f"{name}_relu")


def _pool(x, name, kind, stride=1, pad=1):
    return _mx().sym.Pooling(
        x, kernel=(3, 3), stride=(stride, stride), pad=(pad, pad), pool_type=kind, name=f"{kind}_pool_{name}_pool"
    )


def inception_v3(num_classes: int = 1000, head: str = "softmax") -> Any:
    """Inception v3 at 299x299 (inception-v3.py): the 7x7 factorized (1x7, 7x1) and the expanded 8x8 blocks."""
    mx = _mx()
    c = _v3_conv
    x = c(mx.sym.var("data"), "conv", 32, (3, 3), (2, 2))
    x = c(x, "conv_1", 32, (3, 3))
    x = c(x, "conv_2", 64, (3, 3), pad=(1, 1))
    x = mx.sym.Pooling(x, kernel=(3, 3), stride=(2, 2), pool_type="max", name="pool")
    x = c(x, "conv_3", 80)
    x = c(x, "conv_4", 192, (3, 3))
    x = mx.sym.Pooling(x, kernel=(3, 3), stride=(2, 2), pool_type="max", name="pool1")
    for name, proj in (("mixed", 32), ("mixed_1", 64), ("mixed_2", 64)):  # 35x35
        a = c(x, f"{name}_conv", 64)
        b = c(c(x, f"{name}_tower_conv", 48), f"{name}_tower_conv_1", 64, (5, 5), pad=(2, 2))
        d = c(x, f"{name}_tower_1_conv", 64)
        d = c(d, f"{name}_tower_1_conv_1", 96, (3, 3), pad=(1, 1))
        d = c(d, f"{name}_tower_1_conv_2", 96, (3, 3), pad=(1, 1))
        e = c(_pool(x, name, "avg"), f"{name}_tower_2_conv", proj)
        x = mx.sym.Concat(a, b, d, e, name=f"ch_concat_{name}_chconcat")
    a = c(x, "mixed_3_conv", 384, (3, 3), (2, 2))  # 35 -> 17
    d = c(x, "mixed_3_tower_conv", 64)
    d = c(d, "mixed_3_tower_conv_1", 96, (3, 3), pad=(1, 1))
    d = c(d, "mixed_3_tower_conv_2", 96, (3, 3), (2, 2))
    x = mx.sym.Concat(a, d, _pool(x, "mixed_3", "max", 2, 0), name="ch_concat_mixed_3_chconcat")
    for name, mid in (("mixed_4", 128), ("mixed_5", 160), ("mixed_6", 160), ("mixed_7", 192)):  # 17x17
        a = c(x, f"{name}_conv", 192)
        b = c(x, f"{name}_tower_conv", mid)
        b = c(b, f"{name}_tower_conv_1", mid, (1, 7), pad=(0, 3))
        b = c(b, f"{name}_tower_conv_2", 192, (7, 1), pad=(3, 0))
        d = c(x, f"{name}_tower_1_conv", mid)
        d = c(d, f"{name}_tower_1_conv_1", mid, (7, 1), pad=(3, 0))
        d = c(d, f"{name}_tower_1_conv_2", mid, (1, 7), pad=(0, 3))
        d = c(d, f"{name}_tower_1_conv_3", mid, (7, 1), pad=(3, 0))
        d = c(d, f"{name}_tower_1_conv_4", 192, (1, 7), pad=(0, 3))
        e = c(_pool(x, name, "avg"), f"{name}_tower_2_conv", 192)
        x = mx.sym.Concat(a, b, d, e, name=f"ch_concat_{name}_chconcat")
    a = c(c(x, "mixed_8_tower_conv", 192), "mixed_8_tower_conv_1", 320, (3, 3), (2, 2))  # 17 -> 8
    b = c(x, "mixed_8_tower_1_conv", 192)
    b = c(b, "mixed_8_tower_1_conv_1", 192, (1, 7), pad=(0, 3))
    b = c(b, "mixed_8_tower_1_conv_2", 192, (7, 1), pad=(3, 0))
    b = c(b, "mixed_8_tower_1_conv_3", 192, (3, 3), (2, 2))
    x = mx.sym.Concat(a, b, _pool(x, "mixed_8", "max", 2, 0), name="ch_concat_mixed_8_chconcat")
    for name, pool in (("mixed_9", "avg"), ("mixed_10", "max")):  # 8x8
        a = c(x, f"{name}_conv", 320)
        b = c(x, f"{name}_tower_conv", 384)
        b1 = c(b, f"{name}_tower_mixed_conv", 384, (1, 3), pad=(0, 1))
        b2 = c(b, f"{name}_tower_mixed_conv_1", 384, (3, 1), pad=(1, 0))
        d = c(c(x, f"{name}_tower_1_conv", 448), f"{name}_tower_1_conv_1", 384, (3, 3), pad=(1, 1))
        d1 = c(d, f"{name}_tower_1_mixed_conv", 384, (1, 3), pad=(0, 1))
        d2 = c(d, f"{name}_tower_1_mixed_conv_1", 384, (3, 1), pad=(1, 0))
        e = c(_pool(x, name, pool), f"{name}_tower_2_conv", 192)
        x = mx.sym.Concat(a, b1, b2, d1, d2, e, name=f"ch_concat_{name}_chconcat")
    x = mx.sym.Pooling(x, kernel=(8, 8), stride=(1, 1), pool_type="avg", name="global_pool")
    x = mx.sym.Flatten(x, name="flatten")
    return _head(mx.sym.FullyConnected(x, num_hidden=num_classes, name="fc1"), head)


def _v4_stem(x):
    mx = _mx()
    c = _v3_conv
    x = c(x, "stem_1", 32, (3, 3), (2, 2))
    x = c(x, "stem_2", 32, (3, 3))
    x = c(x, "stem_3", 64, (3, 3), pad=(1, 1))
    p = mx.sym.Pooling(x, kernel=(3, 3), stride=(2, 2), pool_type="max", name="stem_maxpool_1")
    x = mx.sym.Concat(p, c(x, "stem_4", 96, (3, 3), (2, 2)), name="stem_concat_1")
    a = c(c(x, "stem_5a", 64), "stem_5b", 96, (3, 3))
    b = c(x, "stem_6a", 64)
    b = c(b, "stem_6b", 64, (7, 1), pad=(3, 0))
    b = c(b, "stem_6c", 64, (1, 7), pad=(0, 3))
    b = c(b, "stem_6d", 96, (3, 3))
    x = mx.sym.Concat(a, b, name="stem_concat_2")
    p = mx.sym.Pooling(x, kernel=(3, 3), stride=(2, 2), pool_type="max", name="stem_maxpool_2")
    return mx.sym.Concat(c(x, "stem_7", 192, (3, 3), (2, 2)), p, name="stem_concat_3")


def _v4_a(x, name):
    mx = _mx()
    c = _v3_conv
    p = mx.sym.Pooling(x, kernel=(3, 3), pad=(1, 1), pool_type="avg", name=f"{name}_avgpool_1")
    a = c(p, f"{name}_1", 96)
    b = c(x, f"{name}_2", 96)
    d = c(c(x, f"{name}_3a", 64), f"{name}_3b", 96, (3, 3), pad=(1, 1))
    e = c(x, f"{name}_4a", 64)
    e = c(e, f"{name}_4b", 96, (3, 3), pad=(1, 1))
    e = c(e, f"{name}_4c", 96, (3, 3), pad=(1, 1))
    return mx.sym.Concat(a, b, d, e, name=f"{name}_concat")


def _v4_reduction_a(x, name, k, l_, m, n):
    mx = _mx()
    c = _v3_conv
    p = mx.sym.Pooling(x, kernel=(3, 3), stride=(2, 2), pool_type="max", name=f"{name}_maxpool_1")
    a = c(x, f"{name}_1", n, (3, 3), (2, 2))
    b = c(x, f"{name}_2a", k)
    b = c(b, f"{name}_2b", l_, (3, 3), pad=(1, 1))
    b = c(b, f"{name}_2c", m, (3, 3), (2, 2))
    return mx.sym.Concat(p, a, b, name=f"{name}_concat")


def _v4_b(x, name):
    mx = _mx()
    c = _v3_conv
    p = mx.sym.Pooling(x, kernel=(3, 3), pad=(1, 1), pool_type="avg", name=f"{name}_avgpool_1")
    a = c(p, f"{name}_1", 128)
    b = c(x, f"{name}_2", 384)
    d = c(x, f"{name}_3a", 192)
    d = c(d, f"{name}_3b", 224, (1, 7), pad=(0, 3))
    d = c(d, f"{name}_3c", 256, (7, 1), pad=(3, 0))
    e = c(x, f"{name}_4a", 192)
    e = c(e, f"{name}_4b", 192, (1, 7), pad=(0, 3))
    e = c(e, f"{name}_4c", 224, (7, 1), pad=(3, 0))
    e = c(e, f"{name}_4d", 224, (1, 7), pad=(0, 3))
    e = c(e, f"{name}_4e", 256, (7, 1), pad=(3, 0))
    return mx.sym.Concat(a, b, d, e, name=f"{name}_concat")


def _v4_reduction_b(x, name):
    mx = _mx()
    c = _v3_conv
    p = mx.sym.Pooling(x, kernel=(3, 3), stride=(2, 2), pool_type="max", name=f"{name}_maxpool_1")
    a = c(c(x, f"{name}_1a", 192), f"{name}_1b", 192, (3, 3), (2, 2))
    b = c(x, f"{name}_2a", 256)
    b = c(b, f"{name}_2b", 256, (1, 7), pad=(0, 3))
    b = c(b, f"{name}_2c", 320, (7, 1), pad=(3, 0))
    b = c(b, f"{name}_2d", 320, (3, 3), (2, 2))
    return mx.sym.Concat(p, a, b, name=f"{name}_concat")


def _v4_c(x, name):
    mx = _mx()
    c = _v3_conv
    p = mx.sym.Pooling(x, kernel=(3, 3), pad=(1, 1), pool_type="avg", name=f"{name}_avgpool_1")
    a = c(p, f"{name}_1", 256)
    b = c(x, f"{name}_2", 256)
    d = c(x, f"{name}_3a", 384)
    d1 = c(d, f"{name}_3b", 256, (1, 3), pad=(0, 1))
    d2 = c(d, f"{name}_3c", 256, (3, 1), pad=(1, 0))
    e = c(x, f"{name}_4a", 384)
    e = c(e, f"{name}_4b", 448, (1, 3), pad=(0, 1))
    e = c(e, f"{name}_4c", 512, (3, 1), pad=(1, 0))
    e1 = c(e, f"{name}_4d", 256, (3, 1), pad=(1, 0))
    e2 = c(e, f"{name}_4e", 256, (1, 3), pad=(0, 1))
    return mx.sym.Concat(a, b, d1, d2, e1, e2, name=f"{name}_concat")


def inception_v4(num_classes: int = 1000, head: str = "softmax") -> Any:
    """Inception v4 at 299x299 (inception-v4.py): stem, 4 A, reduction A, 7 B, reduction B, 3 C, an 8x8 average
    pool with pad 1 (MXNet's full convention window past the edge, counted in the divisor)."""
    mx = _mx()
    x = _v4_stem(mx.sym.var("data"))
    for i in range(4):
        x = _v4_a(x, f"in{i + 1}A")
    x = _v4_reduction_a(x, "re1A", 192, 224, 256, 384)
    for i in range(7):
        x = _v4_b(x, f"in{i + 1}B")
    x = _v4_reduction_b(x, "re1B")
    for i in range(3):
        x = _v4_c(x, f"in{i + 1}C")
    x = mx.sym.Pooling(x, kernel=(8, 8), pad=(1, 1), pool_type="avg", name="global_avgpool")
    x = mx.sym.Flatten(x, name="flatten")
    x = mx.sym.Dropout(x, p=0.2, name="dropout")
    return _head(mx.sym.FullyConnected(x, num_hidden=num_classes, name="fc1"), head)


class _Namer:
    """Names for a definition that leaves its operators unnamed (MXNet would number them per process)."""

    def __init__(self, prefix: str) -> None:
        self.prefix, self.count = prefix, 0

    def __call__(self, kind: str) -> str:
        self.count += 1
        return f"{self.prefix}{kind}{self.count}"


def inception_resnet_v2(num_classes: int = 1000, head: str = "softmax") -> Any:
    """Inception-ResNet v2 at 299x299 (inception-resnet-v2.py): Conv (with bias) -> BatchNorm (the symbol API's
    defaults: fix_gamma, eps 1e-3) -> ReLU; residual blocks x + scale * tower (0.17, 0.1, 0.2); block17's factorized
    7x7 pads as the source writes them (1x7 with pad (1, 2), 7x1 with pad (2, 1): each changes both sides) and its
    129-channel reduction; a last block8 without activation."""
    mx = _mx()
    name = _Namer("irv2_")

    def conv(x, filters, kernel, stride=(1, 1), pad=(0, 0), act=True):
        x = mx.sym.Convolution(x, num_filter=filters, kernel=kernel, stride=stride, pad=pad, name=name("conv"))
        x = mx.sym.BatchNorm(x, name=name("bn"))
        return mx.sym.Activation(x, act_type="relu", name=name("relu")) if act else x

    def residual(x, towers, channels, scale, act=True):
        mixed = mx.sym.Concat(*towers, name=name("concat"))
        x = x + scale * conv(mixed, channels, (1, 1), act=False)
        return mx.sym.Activation(x, act_type="relu", name=name("relu")) if act else x

    def block35(x):
        a = conv(x, 32, (1, 1))
        b = conv(conv(x, 32, (1, 1)), 32, (3, 3), pad=(1, 1))
        c = conv(conv(conv(x, 32, (1, 1)), 48, (3, 3), pad=(1, 1)), 64, (3, 3), pad=(1, 1))
        return residual(x, (a, b, c), 320, 0.17)

    def block17(x):
        b = conv(conv(conv(x, 129, (1, 1)), 160, (1, 7), pad=(1, 2)), 192, (7, 1), pad=(2, 1))
        return residual(x, (conv(x, 192, (1, 1)), b), 1088, 0.1)

    def block8(x, scale=0.2, act=True):
        b = conv(conv(conv(x, 192, (1, 1)), 224, (1, 3), pad=(0, 1)), 256, (3, 1), pad=(1, 0))
        return residual(x, (conv(x, 192, (1, 1)), b), 2080, scale, act)

    def max_pool(x):
        return mx.sym.Pooling(x, kernel=(3, 3), stride=(2, 2), pool_type="max", name=name("pool"))

    x = conv(mx.sym.var("data"), 32, (3, 3), (2, 2))
    x = conv(x, 32, (3, 3))
    x = max_pool(conv(x, 64, (3, 3), pad=(1, 1)))
    x = max_pool(conv(conv(x, 80, (1, 1)), 192, (3, 3)))
    a = conv(x, 96, (1, 1))
    b = conv(conv(x, 48, (1, 1)), 64, (5, 5), pad=(2, 2))
    c = conv(conv(conv(x, 64, (1, 1)), 96, (3, 3), pad=(1, 1)), 96, (3, 3), pad=(1, 1))
    d = mx.sym.Pooling(x, kernel=(3, 3), stride=(1, 1), pad=(1, 1), pool_type="avg", name=name("pool"))
    x = mx.sym.Concat(a, b, c, conv(d, 64, (1, 1)), name=name("concat"))
    for _ in range(10):
        x = block35(x)
    a = conv(x, 384, (3, 3), (2, 2))
    b = conv(conv(conv(x, 256, (1, 1)), 256, (3, 3), pad=(1, 1)), 384, (3, 3), (2, 2))
    x = mx.sym.Concat(a, b, max_pool(x), name=name("concat"))
    for _ in range(20):
        x = block17(x)
    a = conv(conv(x, 256, (1, 1)), 384, (3, 3), (2, 2))
    b = conv(conv(x, 256, (1, 1)), 288, (3, 3), (2, 2))
    c = conv(conv(conv(x, 256, (1, 1)), 288, (3, 3), pad=(1, 1)), 320, (3, 3), (2, 2))
    x = mx.sym.Concat(a, b, c, max_pool(x), name=name("concat"))
    for _ in range(9):
        x = block8(x)
    x = block8(x, scale=1.0, act=False)
    x = conv(x, 1536, (1, 1))
    x = mx.sym.Pooling(x, kernel=(1, 1), global_pool=True, stride=(2, 2), pool_type="avg", name=name("pool"))
    x = mx.sym.Dropout(mx.sym.Flatten(x, name=name("flatten")), p=0.2, name=name("dropout"))
    return _head(mx.sym.FullyConnected(x, num_hidden=num_classes, name=name("fc")), head)


RESNET_UNITS = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3), 50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}


def _preact_unit(x, name, filters, stride, dim_match, bottleneck):
    """resnet.py's pre-activation residual unit (BN -> ReLU -> Conv), shortcut from the first activation."""
    mx = _mx()

    def bn_relu(t, i):
        t = mx.sym.BatchNorm(t, fix_gamma=False, eps=2e-5, momentum=0.9, name=f"{name}_bn{i}")
        return mx.sym.Activation(t, act_type="relu", name=f"{name}_relu{i}")

    act1 = bn_relu(x, 1)
    if bottleneck:
        specs = (
            (filters // 4, (1, 1), (1, 1), (0, 0)),
            (filters // 4, (3, 3), stride, (1, 1)),
            (filters, (1, 1), (1, 1), (0, 0)),
        )
    else:
        specs = ((filters, (3, 3), stride, (1, 1)), (filters, (3, 3), (1, 1), (1, 1)))
    t = act1
    for i, (f, k, s, p) in enumerate(specs, 1):
        if i > 1:
            t = bn_relu(t, i)
        t = mx.sym.Convolution(t, num_filter=f, kernel=k, stride=s, pad=p, no_bias=True, name=f"{name}_conv{i}")
    if dim_match:
        shortcut = x
    else:
        shortcut = mx.sym.Convolution(
            act1, num_filter=filters, kernel=(1, 1), stride=stride, no_bias=True, name=f"{name}_sc"
        )
    return t + shortcut


def resnet(num_layers: int = 18, num_classes: int = 1000, head: str = "softmax", small: bool = False) -> Any:
    """Pre-activation ResNet (resnet.py): identity and BN on the data (fix_gamma); ImageNet inputs: 7x7/2 stem,
    3x3/2 max pool, four stages, bottleneck units from 50 layers; small (inputs of at most 28 rows, CIFAR-style): a
    3x3 stem and three stages of (num_layers - 2) / 6 basic units of 16, 32, 64 filters. BN -> ReLU -> global
    average pool."""
    mx = _mx()
    bottleneck = num_layers >= 50 and not small
    filters = (64, 256, 512, 1024, 2048) if bottleneck else (64, 64, 128, 256, 512)
    stages = RESNET_UNITS.get(num_layers, ())
    if small:
        filters, stages = (16, 16, 32, 64), ((num_layers - 2) // 6,) * 3
    x = mx.sym.identity(mx.sym.var("data"), name="id")
    x = mx.sym.BatchNorm(x, fix_gamma=True, eps=2e-5, momentum=0.9, name="bn_data")
    if small:
        x = mx.sym.Convolution(x, num_filter=filters[0], kernel=(3, 3), pad=(1, 1), no_bias=True, name="conv0")
    else:
        x = mx.sym.Convolution(
            x, num_filter=filters[0], kernel=(7, 7), stride=(2, 2), pad=(3, 3), no_bias=True, name="conv0"
        )
        x = mx.sym.BatchNorm(x, fix_gamma=False, eps=2e-5, momentum=0.9, name="bn0")
        x = mx.sym.Activation(x, act_type="relu", name="relu0")
        x = mx.sym.Pooling(x, kernel=(3, 3), stride=(2, 2), pad=(1, 1), pool_type="max", name="pool0")
    for stage, units in enumerate(stages):
        stride = (1, 1) if stage == 0 else (2, 2)
        x = _preact_unit(x, f"stage{stage + 1}_unit1", filters[stage + 1], stride, False, bottleneck)
        for u in range(2, units + 1):
            x = _preact_unit(x, f"stage{stage + 1}_unit{u}", filters[stage + 1], (1, 1), True, bottleneck)
    x = mx.sym.BatchNorm(x, fix_gamma=False, eps=2e-5, momentum=0.9, name="bn1")
    x = mx.sym.Activation(x, act_type="relu", name="relu1")
    x = mx.sym.Pooling(x, global_pool=True, kernel=(7, 7), pool_type="avg", name="pool1")
    x = mx.sym.Flatten(x, name="flat1")
    return _head(mx.sym.FullyConnected(x, num_hidden=num_classes, name="fc1"), head)


def _resnext_unit(x, name, filters, stride, dim_match, groups):
    """resnext.py's post-activation bottleneck: 1x1 -> grouped 3x3 -> 1x1 (each Conv -> BN), ReLU after the sum."""
    mx = _mx()
    width = filters // 2
    t = x
    for i, (f, k, s, p, g) in enumerate(
        (
            (width, (1, 1), (1, 1), (0, 0), 1),
            (width, (3, 3), stride, (1, 1), groups),
            (filters, (1, 1), (1, 1), (0, 0), 1),
        ),
        1,
    ):
        t = mx.sym.Convolution(
            t, num_filter=f, kernel=k, stride=s, pad=p, num_group=g, no_bias=True, name=f"{name}_conv{i}"
        )
        t = mx.sym.BatchNorm(t, fix_gamma=False, eps=2e-5, momentum=0.9, name=f"{name}_bn{i}")
        if i < 3:
            t = mx.sym.Activation(t, act_type="relu", name=f"{name}_relu{i}")
    if dim_match:
        shortcut = x
    else:
        shortcut = mx.sym.Convolution(
            x, num_filter=filters, kernel=(1, 1), stride=stride, no_bias=True, name=f"{name}_sc"
        )
        shortcut = mx.sym.BatchNorm(shortcut, fix_gamma=False, eps=2e-5, momentum=0.9, name=f"{name}_sc_bn")
    return mx.sym.Activation(t + shortcut, act_type="relu", name=f"{name}_relu")


def resnext(num_layers: int = 50, num_group: int = 32, num_classes: int = 1000, head: str = "softmax") -> Any:
    """ResNeXt-50/101 (32x4d) for ImageNet inputs (resnext.py)."""
    mx = _mx()
    filters = (64, 256, 512, 1024, 2048)
    x = mx.sym.identity(mx.sym.var("data"), name="id")
    x = mx.sym.BatchNorm(x, fix_gamma=True, eps=2e-5, momentum=0.9, name="bn_data")
    x = mx.sym.Convolution(x, num_filter=64, kernel=(7, 7), stride=(2, 2), pad=(3, 3), no_bias=True, name="conv0")
    x = mx.sym.BatchNorm(x, fix_gamma=False, eps=2e-5, momentum=0.9, name="bn0")
    x = mx.sym.Activation(x, act_type="relu", name="relu0")
    x = mx.sym.Pooling(x, kernel=(3, 3), stride=(2, 2), pad=(1, 1), pool_type="max", name="pool0")
    for stage, units in enumerate(RESNET_UNITS[num_layers]):
        stride = (1, 1) if stage == 0 else (2, 2)
        x = _resnext_unit(x, f"stage{stage + 1}_unit1", filters[stage + 1], stride, False, num_group)
        for u in range(2, units + 1):
            x = _resnext_unit(x, f"stage{stage + 1}_unit{u}", filters[stage + 1], (1, 1), True, num_group)
    x = mx.sym.Pooling(x, global_pool=True, kernel=(7, 7), pool_type="avg", name="pool1")
    x = mx.sym.Flatten(x, name="flat1")
    return _head(mx.sym.FullyConnected(x, num_hidden=num_classes, name="fc1"), head)


MOBILENET_V1 = (  # (filters, stride) of each depthwise-separable unit after the 32-channel stem
    (64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
    (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1),
)  # fmt: skip


def mobilenet(alpha: float = 1.0, resolution: int = 224, num_classes: int = 1000, head: str = "softmax") -> Any:
    """MobileNet v1 (mobilenet.py): Conv (no bias) -> BN (fix_gamma=True) -> ReLU, depthwise as grouped convolution,
    an average pool of the final map's size."""
    mx = _mx()
    x = _conv_bn_act(mx.sym.var("data"), "conv_1", int(32 * alpha), (3, 3), (2, 2), (1, 1), fix_gamma=True, eps=1e-3)
    channels = int(32 * alpha)
    for i, (filters, stride) in enumerate(MOBILENET_V1, 2):
        x = _conv_bn_act(
            x, f"conv_{i}_dw", channels, (3, 3), (stride, stride), (1, 1), channels, fix_gamma=True, eps=1e-3
        )
        channels = int(filters * alpha)
        x = _conv_bn_act(x, f"conv_{i}", channels, (1, 1), fix_gamma=True, eps=1e-3)
    size = resolution // 32
    x = mx.sym.Pooling(x, kernel=(size, size), stride=(1, 1), pool_type="avg", name="global_pool")
    x = mx.sym.Flatten(x, name="flatten")
    return _head(mx.sym.FullyConnected(x, num_hidden=num_classes, name="fc"), head)


MOBILENET_V2 = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)


def _relu6(x, name):
    return _mx().sym.clip(x, 0, 6, name=f"{name}_relu6")


def mobilenet_v2(multiplier: float = 1.0, num_classes: int = 1000, head: str = "softmax") -> Any:
    """MobileNet v2 (mobilenetv2.py): inverted residuals with ReLU6 as clip(0, 6), BN fix_gamma=False eps 1e-5,
    a global average pool and a 1x1 convolution as the classifier, flattened."""
    mx = _mx()

    def cbn(x, name, filters, kernel=(1, 1), stride=(1, 1), pad=(0, 0), group=1, act=True):
        x = _conv_bn_act(x, name, filters, kernel, stride, pad, group, act=None, eps=1e-5)
        return _relu6(x, name) if act else x

    x = cbn(mx.sym.var("data"), "conv1", int(32 * multiplier), (3, 3), (2, 2), (1, 1))
    channels = int(32 * multiplier)
    for stage, (t, c, n, s) in enumerate(MOBILENET_V2):
        out = int(c * multiplier)
        for i in range(n):
            stride = s if i == 0 else 1
            name = f"bottleneck{stage}_{i}"
            y = cbn(x, f"{name}_expand", channels * t) if t != 1 else x
            y = cbn(y, f"{name}_dw", channels * t, (3, 3), (stride, stride), (1, 1), channels * t)
            y = cbn(y, f"{name}_project", out, act=False)
            x = x + y if stride == 1 and channels == out else y
            channels = out
    last = int(1280 * multiplier) if multiplier > 1.0 else 1280
    x = cbn(x, "conv_last", last)
    x = mx.sym.Pooling(x, kernel=(7, 7), stride=(1, 1), pool_type="avg", global_pool=True, name="global_pool")
    x = mx.sym.Convolution(x, num_filter=num_classes, kernel=(1, 1), name="fc")
    return _head(mx.sym.Flatten(x, name="flatten"), head)


# ------------------------------------------------------------------------------------------- face recognition

FRESNET_UNITS = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3), 50: (3, 4, 14, 3), 100: (3, 13, 30, 3)}


def _ir_unit(x, name, filters, stride, dim_match, se=False):
    """insightface fresnet's "IR" unit (residual_unit_v3): BN -> 3x3 conv -> BN -> PReLU -> 3x3 conv (stride) -> BN,
    plus the shortcut (1x1 conv + BN where the shape changes). fix_gamma=False, eps 2e-5."""
    mx = _mx()

    def bn(t, i):
        return mx.sym.BatchNorm(t, fix_gamma=False, eps=2e-5, momentum=0.9, name=f"{name}_bn{i}")

    t = bn(x, 1)
    t = mx.sym.Convolution(t, num_filter=filters, kernel=(3, 3), pad=(1, 1), no_bias=True, name=f"{name}_conv1")
    t = mx.sym.LeakyReLU(bn(t, 2), act_type="prelu", name=f"{name}_relu1")
    t = mx.sym.Convolution(
        t, num_filter=filters, kernel=(3, 3), stride=stride, pad=(1, 1), no_bias=True, name=f"{name}_conv2"
    )
    t = bn(t, 3)
    if se:  # net_se=1: squeeze-excitation on the residual branch, PReLU inside, sigmoid gate
        g = mx.sym.Pooling(t, global_pool=True, kernel=(7, 7), pool_type="avg", name=f"{name}_se_pool1")
        g = mx.sym.Convolution(g, num_filter=filters // 16, kernel=(1, 1), name=f"{name}_se_conv1")
        g = mx.sym.LeakyReLU(g, act_type="prelu", name=f"{name}_se_relu1")
        g = mx.sym.Convolution(g, num_filter=filters, kernel=(1, 1), name=f"{name}_se_conv2")
        g = mx.sym.Activation(g, act_type="sigmoid", name=f"{name}_se_sigmoid")
        t = mx.sym.broadcast_mul(t, g, name=f"{name}_se_mul")
    if dim_match:
        return t + x
    sc = mx.sym.Convolution(x, num_filter=filters, kernel=(1, 1), stride=stride, no_bias=True, name=f"{name}_conv1sc")
    return t + mx.sym.BatchNorm(sc, fix_gamma=False, eps=2e-5, momentum=0.9, name=f"{name}_sc")


def _embedding_e(x, emb_size):
    """fresnet/fmobilefacenet's output "E": BN -> Dropout -> FullyConnected -> BN (fix_gamma=True): the embedding
    `fc1`, the output deployed (sym.get_internals()['fc1_output'])."""
    mx = _mx()
    x = mx.sym.BatchNorm(x, fix_gamma=False, eps=2e-5, momentum=0.9, name="bn1")
    x = mx.sym.Dropout(x, p=0.4, name="dropout")
    x = mx.sym.FullyConnected(x, num_hidden=emb_size, name="pre_fc1")
    return mx.sym.BatchNorm(x, fix_gamma=True, eps=2e-5, momentum=0.9, name="fc1")


def face_resnet_ir(num_layers: int = 50, emb_size: int = 512, se: bool = False) -> Any:
    """insightface ResNet "IR" backbone (fresnet.py, version_input=1, version_unit=3, version_output=E): a 3x3 stem
    with PReLU on 112x112 faces, four stages of IR units (stride 2 first), BN before the 512-d embedding."""
    mx = _mx()
    x = mx.sym.identity(mx.sym.var("data"), name="id")
    x = (x - 127.5) * 0.0078125  # version_input=1: the raw pixels normalized inside the symbol
    x = mx.sym.Convolution(x, num_filter=64, kernel=(3, 3), pad=(1, 1), no_bias=True, name="conv0")
    x = mx.sym.BatchNorm(x, fix_gamma=False, eps=2e-5, momentum=0.9, name="bn0")
    x = mx.sym.LeakyReLU(x, act_type="prelu", name="relu0")
    for stage, (units, filters) in enumerate(zip(FRESNET_UNITS[num_layers], (64, 128, 256, 512)), 1):
        x = _ir_unit(x, f"stage{stage}_unit1", filters, (2, 2), False, se)
        for u in range(2, units + 1):
            x = _ir_unit(x, f"stage{stage}_unit{u}", filters, (1, 1), True, se)
    return _embedding_e(x, emb_size)


MOBILEFACENET = ((64, 1, 2), (128, 2, 4), (128, 1, 2))  # (channels, stride 2 first?, repeats) after the stem


def mobilefacenet(emb_size: int = 128) -> Any:
    """MobileFaceNet (fmobilefacenet.py, net_blocks [1, 4, 6, 2], output GDC): Conv -> BN (the symbol API's eps) ->
    PReLU units, depthwise residual bottlenecks, a global 7x7
    depthwise convolution ("GDC", linear) and the embedding: 1x1 conv -> BN -> FullyConnected -> BN."""
    mx = _mx()

    def unit(x, name, filters, kernel=(1, 1), stride=(1, 1), pad=(0, 0), group=1, act=True):
        return _conv_bn_act(x, name, filters, kernel, stride, pad, group, act="prelu" if act else None, eps=1e-3)

    def depthwise(x, name, out, stride, group):
        t = unit(x, f"{name}_conv_sep", group)
        t = unit(t, f"{name}_conv_dw", group, (3, 3), stride, (1, 1), group)
        return unit(t, f"{name}_conv_proj", out, act=False)

    def residual(x, name, channels, group, repeats):
        for i in range(repeats):
            x = x + depthwise(x, f"{name}_block{i}", channels, (1, 1), group)
        return x

    x = (mx.sym.var("data") - 127.5) * 0.0078125  # the raw pixels normalized inside the symbol
    x = unit(x, "conv_1", 64, (3, 3), (2, 2), (1, 1))
    x = unit(x, "conv_2_dw", 64, (3, 3), (1, 1), (1, 1), 64)
    x = depthwise(x, "dconv_23", 64, (2, 2), 128)
    x = residual(x, "res_3", 64, 128, 4)
    x = depthwise(x, "dconv_34", 128, (2, 2), 256)
    x = residual(x, "res_4", 128, 256, 6)
    x = depthwise(x, "dconv_45", 128, (2, 2), 512)
    x = residual(x, "res_5", 128, 256, 2)
    x = unit(x, "conv_6sep", 512)
    x = unit(x, "conv_6dw7_7", 512, (7, 7), group=512, act=False)
    x = mx.sym.FullyConnected(x, num_hidden=emb_size, name="pre_fc1")
    return mx.sym.BatchNorm(x, fix_gamma=True, eps=2e-5, momentum=0.9, name="fc1")


# ----------------------------------------------------------------------------------------------- face detection


def retinaface(head: str = "deploy") -> Any:
    """A RetinaFace-style face detector (insightface detection/retinaface/rcnn/symbol/symbol_common.py, the
    MobileNet-0.25 deploy symbol): a MobileNet-0.25 backbone (Conv -> BN -> ReLU), an FPN whose upper levels are
    UpSampling(nearest, 2) and Crop(crop_like) to the lateral's size, SSH context modules, and per level the class
    scores as a channel softmax over the (bg, face) pair: Reshape (0, 2, -1, 0) -> SoftmaxActivation(mode=channel) ->
    Reshape back (as train.py's save_model writes the deploy symbol), plus box and landmark regressions. Outputs are
    the nine head tensors (stride 32, 16, 8). At an input whose sides are no multiple of 32 the Crops really cut."""
    mx = _mx()

    def cbr(x, name, filters, kernel=(1, 1), stride=(1, 1), pad=(0, 0), group=1, act=True):
        x = mx.sym.Convolution(
            x, num_filter=filters, kernel=kernel, stride=stride, pad=pad, num_group=group, no_bias=True, name=name
        )
        x = mx.sym.BatchNorm(x, fix_gamma=False, eps=2e-5, momentum=0.9, name=f"{name}_bn")
        return mx.sym.Activation(x, act_type="relu", name=f"{name}_relu") if act else x

    x = cbr(mx.sym.var("data"), "mobilenet0_conv0", 8, (3, 3), (2, 2), (1, 1))
    channels, stages = 8, []
    for i, (filters, stride) in enumerate(MOBILENET_V1, 1):
        x = cbr(x, f"mobilenet0_conv{2 * i - 1}", channels, (3, 3), (stride, stride), (1, 1), channels)
        channels = filters // 4
        x = cbr(x, f"mobilenet0_conv{2 * i}", channels)
        if 2 * i in (10, 22, 26):  # the stride-8, 16 and 32 feature maps
            stages.append(x)
    c3, c4, c5 = stages
    out = 64
    p5 = cbr(c5, "rf_c3_lateral", out)
    up = mx.sym.UpSampling(p5, scale=2, sample_type="nearest", num_args=1, name="rf_c3_upsampling")
    p4 = cbr(c4, "rf_c2_lateral", out)
    up = mx.sym.Crop(up, p4, num_args=2, name="rf_c3_crop")
    p4 = cbr(p4 + up, "rf_c2_aggr", out, (3, 3), pad=(1, 1))
    up = mx.sym.UpSampling(p4, scale=2, sample_type="nearest", num_args=1, name="rf_c2_upsampling")
    p3 = cbr(c3, "rf_c1_red_conv", out)
    up = mx.sym.Crop(up, p3, num_args=2, name="rf_c2_crop")
    p3 = cbr(p3 + up, "rf_c1_aggr", out, (3, 3), pad=(1, 1))

    def ssh(x, name):
        half, quarter = out // 2, out // 4
        a = cbr(x, f"{name}_conv1", half, (3, 3), pad=(1, 1), act=False)
        ctx = cbr(x, f"{name}_context_conv1", quarter, (3, 3), pad=(1, 1))
        b = cbr(ctx, f"{name}_context_conv2", quarter, (3, 3), pad=(1, 1), act=False)
        c = cbr(ctx, f"{name}_context_conv3_1", quarter, (3, 3), pad=(1, 1))
        c = cbr(c, f"{name}_context_conv3_2", quarter, (3, 3), pad=(1, 1), act=False)
        y = mx.sym.Concat(a, b, c, dim=1, name=f"{name}_concat")
        return mx.sym.Activation(y, act_type="relu", name=f"{name}_concat_relu")

    outputs, anchors = [], 2
    for stride, feature in ((32, cbr(c5, "rf_c3_det", out)), (16, p4), (8, p3)):
        y = ssh(feature, f"ssh_m{stride}_det") if stride != 32 else ssh(feature, "ssh_c3")
        score = mx.sym.Convolution(y, kernel=(1, 1), num_filter=2 * anchors, name=f"face_rpn_cls_score_stride{stride}")
        score = mx.sym.Reshape(score, shape=(0, 2, -1, 0), name=f"face_rpn_cls_score_reshape_stride{stride}")
        prob = mx.sym.SoftmaxActivation(score, mode="channel", name=f"face_rpn_cls_prob_stride{stride}")
        prob = mx.sym.Reshape(prob, shape=(0, 2 * anchors, -1, 0), name=f"face_rpn_cls_prob_reshape_stride{stride}")
        bbox = mx.sym.Convolution(y, kernel=(1, 1), num_filter=4 * anchors, name=f"face_rpn_bbox_pred_stride{stride}")
        landmark = mx.sym.Convolution(
            y, kernel=(1, 1), num_filter=10 * anchors, name=f"face_rpn_landmark_pred_stride{stride}"
        )
        outputs += [prob, bbox, landmark]
    return mx.sym.Group(outputs)


# --------------------------------------------------------------------------------------------------- catalog

MXNET_EXAMPLES = "MXNet 1.9.1 example/image-classification/symbols/"
INSIGHTFACE = "deepinsight/insightface "


@dataclass(frozen=True)
class SymbolNet:
    """A named symbol-API network: its builder, the input it is checked at, where its definition comes from."""

    name: str
    family: str
    build: Callable[[], Any]
    input_shape: tuple[int, ...]
    source: str
    note: str = ""  # why this input size, what differs from the source's default
    pixels: bool = False  # fed raw 0-255 pixels (the symbol normalizes them itself), else both-sign noise


def _row(name, family, build, size, source, note="", pixels=False):
    shape = (1, 3, size, size) if isinstance(size, int) else size
    return SymbolNet(name, family, build, shape, source, note, pixels)


SYMBOL_NETS: tuple[SymbolNet, ...] = (
    _row("alexnet", "alexnet", alexnet, 227, MXNET_EXAMPLES + "alexnet.py", "LRN x2; 227 so conv1's 11x11/4 tiles"),
    _row("vgg11", "vgg", lambda: vgg(11), 224, MXNET_EXAMPLES + "vgg.py"),
    _row("vgg16", "vgg", lambda: vgg(16), 224, MXNET_EXAMPLES + "vgg.py"),
    _row("vgg19", "vgg", lambda: vgg(19), 224, MXNET_EXAMPLES + "vgg.py"),
    _row("vgg16_bn", "vgg", lambda: vgg(16, batch_norm=True), 224, MXNET_EXAMPLES + "vgg.py", "batch_norm=True"),
    _row("googlenet", "googlenet", googlenet, 224, MXNET_EXAMPLES + "googlenet.py"),
    _row("inception-bn", "inception-bn", inception_bn, 224, MXNET_EXAMPLES + "inception-bn.py"),
    _row("inception-v3", "inception-v3", inception_v3, 299, MXNET_EXAMPLES + "inception-v3.py"),
    _row("inception-v4", "inception-v4", inception_v4, 299, MXNET_EXAMPLES + "inception-v4.py"),
    _row(
        "inception-resnet-v2",
        "inception-resnet-v2",
        inception_resnet_v2,
        299,
        MXNET_EXAMPLES + "inception-resnet-v2.py",
    ),
    _row("resnet-18", "resnet", lambda: resnet(18), 224, MXNET_EXAMPLES + "resnet.py"),
    _row(
        "resnet-20-small",
        "resnet",
        lambda: resnet(20, num_classes=10, small=True),
        28,
        MXNET_EXAMPLES + "resnet.py",
        "the small-image branch (28x28 inputs, as the source's CIFAR-10 crops): 3x3 stem, three stages",
    ),
    _row("resnet-34", "resnet", lambda: resnet(34), 224, MXNET_EXAMPLES + "resnet.py"),
    _row("resnet-50", "resnet", lambda: resnet(50), 224, MXNET_EXAMPLES + "resnet.py"),
    _row("resnet-101", "resnet", lambda: resnet(101), 224, MXNET_EXAMPLES + "resnet.py"),
    _row("resnet-152", "resnet", lambda: resnet(152), 224, MXNET_EXAMPLES + "resnet.py"),
    _row(
        "resnet-18-train",
        "resnet",
        lambda: resnet(18, head="train"),
        224,
        MXNET_EXAMPLES + "resnet.py",
        "the training symbol as saved: SoftmaxOutput head with its softmax_label input",
    ),
    _row("resnext-50", "resnext", lambda: resnext(50), 224, MXNET_EXAMPLES + "resnext.py", "32x4d"),
    _row("resnext-101", "resnext", lambda: resnext(101), 224, MXNET_EXAMPLES + "resnext.py", "32x4d"),
    _row("mobilenet", "mobilenet", mobilenet, 224, MXNET_EXAMPLES + "mobilenet.py", "alpha 1.0"),
    _row(
        "mobilenet-0.25",
        "mobilenet",
        lambda: mobilenet(alpha=0.25, resolution=160),
        160,
        MXNET_EXAMPLES + "mobilenet.py",
        "alpha 0.25 at resolution 160",
    ),
    _row("mobilenetv2", "mobilenet", mobilenet_v2, 224, MXNET_EXAMPLES + "mobilenetv2.py", "multiplier 1.0"),
    _row(
        "face-resnet50-ir",
        "face-recognition",
        lambda: face_resnet_ir(50),
        112,
        INSIGHTFACE + "recognition/arcface_mxnet/symbol/fresnet.py",
        "LResNet50E-IR: 112x112 faces, 512-d embedding fc1",
        pixels=True,
    ),
    _row(
        "face-resnet100-ir",
        "face-recognition",
        lambda: face_resnet_ir(100),
        112,
        INSIGHTFACE + "recognition/arcface_mxnet/symbol/fresnet.py",
        "LResNet100E-IR (the released ArcFace model's architecture)",
        pixels=True,
    ),
    _row(
        "face-resnet50-ir-se",
        "face-recognition",
        lambda: face_resnet_ir(50, se=True),
        112,
        INSIGHTFACE + "recognition/arcface_mxnet/symbol/fresnet.py",
        "net_se=1: squeeze-excitation in every IR unit (broadcast_mul by a sigmoid gate)",
        pixels=True,
    ),
    _row(
        "face-resnet18-ir",
        "face-recognition",
        lambda: face_resnet_ir(18),
        112,
        INSIGHTFACE + "recognition/arcface_mxnet/symbol/fresnet.py",
        "the 18-layer IR variant",
        pixels=True,
    ),
    _row(
        "mobilefacenet",
        "face-recognition",
        mobilefacenet,
        112,
        INSIGHTFACE + "recognition/arcface_mxnet/symbol/fmobilefacenet.py",
        "128-d embedding, GDC head",
        pixels=True,
    ),
    _row(
        "retinaface-mnet025",
        "face-detection",
        retinaface,
        (1, 3, 144, 200),
        INSIGHTFACE + "detection/retinaface/rcnn/symbol/symbol_common.py + train.py (the deploy head)",
        "MobileNet-0.25 backbone, the nine head tensors before the anchor decoding (done in Python by the source)",
    ),
)


def symbol_net(name: str) -> SymbolNet:
    for net in SYMBOL_NETS:
        if net.name == name:
            return net
    raise KeyError(name)
