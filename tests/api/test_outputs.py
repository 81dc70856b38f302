"""A converted net has exactly the model's inputs and outputs, with names that map back to MXNet nodes."""

import numpy as np
from mxnet.gluon import HybridBlock, nn

from gluon2caffe.verification import net_outputs
from helpers import check_block


class TwoHeads(HybridBlock):
    def __init__(self):
        super().__init__()
        with self.name_scope():
            self.body = nn.Conv2D(6, 3, padding=1)
            self.a = nn.Conv2D(4, 1)
            self.b = nn.Dense(5)

    def hybrid_forward(self, F, x):
        y = F.relu(self.body(x))
        return self.a(y), self.b(y)


class OutputAlsoConsumed(HybridBlock):
    """Returns a tensor that another output is computed from."""

    def __init__(self):
        super().__init__()
        with self.name_scope():
            self.a = nn.Conv2D(4, 3)
            self.b = nn.Conv2D(3, 1)

    def hybrid_forward(self, F, x):
        y = self.a(x)
        return y, self.b(F.relu(y))


def test_multiple_outputs():
    checked = check_block(TwoHeads(), (2, 3, 6, 7))
    # Caffe lists outputs in layer order; the names say which is which.
    assert sorted(checked.caffe_outputs) == sorted(checked.result.graph.outputs)
    assert len(checked.result.graph.outputs) == 2


def test_output_that_is_also_consumed():
    checked = check_block(OutputAlsoConsumed(), (1, 3, 7, 6))
    assert sorted(checked.caffe_outputs) == sorted(checked.result.graph.outputs)
    assert net_outputs(checked.result.text_net) == checked.result.graph.outputs


def test_layer_names_map_back_to_mxnet_nodes():
    checked = check_block(TwoHeads(), (1, 3, 5, 5), merge_bn=False)
    node_names = {n.name for n in checked.result.graph.nodes}
    for layer in checked.result.text_net.layer[1:]:
        assert any(layer.name.startswith(n) for n in node_names), layer.name


def test_input_name_and_shape():
    import numpy as np

    from gluon2caffe import convert
    from gluon2caffe.verification import compare, mxnet_forward, run_converted

    net = TwoHeads()
    net.initialize()
    result = convert(net, (2, 3, 5, 6), to_bgr=False, input_name="image")
    first = result.text_net.layer[0]
    assert (first.type, first.name, list(first.top)) == ("Input", "image", ["image"])
    assert list(first.input_param.shape[0].dim) == [2, 3, 5, 6]
    x = np.random.RandomState(0).normal(size=(2, 3, 5, 6)).astype(np.float32)
    outputs = run_converted(result.text_net, result.binary_weights, {"image": x})
    for name, ref in zip(result.graph.outputs, mxnet_forward(net, x)):
        assert compare(outputs[name], ref).ok


def test_repeated_mxnet_node_names():
    """MXNet allows two nodes with one name (GluonCV's dla34 has them); blobs must still be unique and right."""
    import mxnet as mx

    from helpers import symbol_block

    data = mx.sym.var("data")
    a = mx.sym.Activation(
        mx.sym.Convolution(data, kernel=(3, 3), num_filter=4, name="conv"), act_type="relu", name="act"
    )
    b = mx.sym.Activation(mx.sym.Convolution(a, kernel=(1, 1), num_filter=4, name="conv2"), act_type="tanh", name="act")
    rng = np.random.RandomState(0)
    params = {
        "conv_weight": rng.normal(size=(4, 3, 3, 3)),
        "conv_bias": rng.normal(size=4),
        "conv2_weight": rng.normal(size=(4, 4, 1, 1)),
        "conv2_bias": rng.normal(size=4),
    }
    checked = check_block(symbol_block(mx.sym.elemwise_add(a, b, name="sum"), params), (1, 3, 6, 7), init=False)
    tops = [t for layer in checked.result.text_net.layer for t in layer.top]
    assert len(tops) == len(set(tops)) and "act_1" in tops
