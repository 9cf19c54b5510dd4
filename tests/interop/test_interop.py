"""ONNX export and import, PyTorch exchange: round trips over every layer kind, PyTorch's own export,
and every refusal. onnxruntime and PyTorch serve as two independent oracles of the layers.

These tests need onnx, onnxruntime and torch. Where they are missing the tests are skipped, except
with CNN_EXT_REQUIRE_EXTRAS=1 (set by .ci/run), where a missing package fails the run."""

import sys
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose

from cnn.interop import from_onnx, from_torch, to_onnx, to_torch
from cnn.interop.torch_exchange import residual_block_class
from cnn.layers import (Affine, AvgPooling, BatchNormalization, Convolution, Dropout, Flatten,
                        GlobalAveragePooling, GlobalMaxPooling, Layer, LeakyRelu, LogSoftmax, Pooling,
                        PRelu, Relu, Residual, Sigmoid, Softmax, Tanh)
from cnn.models import DeepConvNet, LeNet, ResNet, Sequential
from extras import optional

INSTALL = 'pip install ".[onnx]" torch'
onnx = optional("onnx", INSTALL)
onnxruntime = optional("onnxruntime", INSTALL)
torch = optional("torch", INSTALL)
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

CLOSE = dict(rtol=1e-4, atol=2e-5)


def batch_norm(features, rng):
    layer = BatchNormalization((1 + 0.2 * rng.standard_normal(features)).astype(np.float32),
                               (0.1 * rng.standard_normal(features)).astype(np.float32), momentum=0.8,
                               eps=1e-3)
    layer.buffers[0][...] = 0.3 * rng.standard_normal(features)
    layer.buffers[1][...] = rng.uniform(0.5, 2.0, features)
    return layer


def every_layer_kind(seed=0):
    """Convolutions with stride and pad, both poolings with padding, every activation, dropout,
    batch norm over channels and over features, Flatten and an Affine that flattens by itself."""
    rng = np.random.default_rng(seed)
    return Sequential([
        Convolution.create(2, 5, 3, stride=2, pad=1, rng=rng), batch_norm(5, rng), Relu(),
        Pooling(3, 3, stride=1, pad=1),
        AvgPooling(2, 2, stride=1, pad=1), Sigmoid(),
        Convolution.create(5, 4, (3, 2), rng=rng), Tanh(), Dropout(0.3),
        Flatten(), Affine.create(4 * 7 * 9, 12, rng=rng), batch_norm(12, rng), Relu(),
        Affine.create(12, 6, rng=rng),
    ], input_shape=(2, 15, 17))


def modern_convolutions(seed=5):
    """Strides, pads and dilations per axis and per side, a depthwise convolution ("same"), one
    with a channel multiplier of 2 and a grouped 1x1 convolution."""
    rng = np.random.default_rng(seed)
    return Sequential([
        Convolution.create(4, 8, 3, stride=(1, 2), pad=((0, 2), (1, 0)), dilation=(2, 1), rng=rng),
        Relu(), Convolution.create(8, 8, 3, pad="same", groups=8, rng=rng),
        Convolution.create(8, 16, 3, pad=1, dilation=1, groups=8, rng=rng), Tanh(),
        Convolution.create(16, 8, 1, groups=4, rng=rng),
        Flatten(), Affine.create(8 * 11 * 7, 5, rng=rng),
    ], input_shape=(4, 13, 14))


def modern_activations(seed=6):
    """PRelu per channel of images and shared on vectors, LeakyRelu, global max pooling, a
    log-softmax at the end."""
    rng = np.random.default_rng(seed)
    return Sequential([
        Convolution.create(3, 6, 3, pad=1, rng=rng), PRelu(rng.uniform(-0.5, 0.5, 6).astype(np.float32)),
        LeakyRelu(0.1), Convolution.create(6, 8, 3, rng=rng), GlobalMaxPooling(),
        Affine.create(8, 7, rng=rng), PRelu(np.array([0.3], np.float32)), Affine.create(7, 4, rng=rng),
        LogSoftmax(),
    ], input_shape=(3, 9, 10))


def probabilities(seed=7):
    """Global average pooling and an output of probabilities."""
    rng = np.random.default_rng(seed)
    return Sequential([Convolution.create(2, 5, 3, rng=rng), Relu(), GlobalAveragePooling(),
                       Affine.create(5, 3, rng=rng), Softmax()], input_shape=(2, 8, 8))


def modern_pooling(seed=8):
    """Max pooling dilated and in ceil mode, average pooling over the pixels only, strides per
    axis."""
    rng = np.random.default_rng(seed)
    return Sequential([
        Convolution.create(2, 4, 3, pad=1, rng=rng), Relu(),
        Pooling(3, 3, stride=2, pad=1, ceil_mode=True, dilation=(1, 2)),
        AvgPooling(3, 2, stride=(2, 1), pad=(1, 1), ceil_mode=True, count_include_pad=False),
        AvgPooling(2, 2, stride=1, ceil_mode=True), Flatten(), Affine.create(40, 3, rng=rng),
    ], input_shape=(2, 9, 11))


def image_affine(seed=1):
    rng = np.random.default_rng(seed)
    return Sequential([Pooling(2, 2), Affine.create(3 * 4 * 4, 5, rng=rng)], input_shape=(3, 8, 9))


def vectors(seed=2):
    rng = np.random.default_rng(seed)
    return Sequential([Affine.create(7, 9, rng=rng), Tanh(), Dropout(0.5), batch_norm(9, rng),
                       Affine.create(9, 3, rng=rng)], input_shape=(7,))


MODELS = {"every-layer-kind": every_layer_kind, "modern-convolutions": modern_convolutions,
          "modern-activations": modern_activations, "probabilities": probabilities,
          "modern-pooling": modern_pooling, "resnet": lambda: trained_a_little(ResNet(seed=9)),
          "affine-on-images": image_affine,
          "vectors": vectors, "lenet": lambda: LeNet(seed=3),
          "deepconvnet": lambda: DeepConvNet(seed=4)}


def trained_a_little(model):
    """``model`` after one short epoch, so that its batch norms' running statistics have moved."""
    from cnn.optim import Adam
    from cnn.trainer import Trainer
    x = np.random.default_rng(0).standard_normal((8,) + model.input_shape).astype(np.float32)
    Trainer(model, Adam(lr=0.01), batch_size=4, log=None).fit(x, np.arange(8) % 10, epochs=1)
    return model


def inputs(model, batch):
    return np.random.default_rng(batch).standard_normal((batch,) + model.input_shape).astype(np.float32)


def run_onnx(path, x):
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x})[0]


def run_torch(module, x):
    module.eval()
    with torch.no_grad():
        return module(torch.from_numpy(x)).numpy()


@pytest.mark.parametrize("name", list(MODELS))
def test_onnx_round_trip_and_onnxruntime_agree_with_predict(name, tmp_path):
    model = MODELS[name]()
    path = tmp_path / "model.onnx"
    to_onnx(model, path)
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    restored = from_onnx(path)
    assert restored.input_shape == model.input_shape
    for batch in (1, 33):  # the batch axis is dynamic
        x = inputs(model, batch)
        expected = model.predict(x)
        assert_allclose(run_onnx(path, x), expected, **CLOSE)
        assert_allclose(restored.predict(x), expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", list(MODELS))
def test_torch_round_trip_and_pytorch_agree_with_predict(name):
    model = MODELS[name]()
    module = to_torch(model)
    restored = from_torch(module, input_shape=model.input_shape)
    for batch in (1, 33):
        x = inputs(model, batch)
        expected = model.predict(x)
        assert_allclose(run_torch(module, x), expected, **CLOSE)
        assert_allclose(restored.predict(x), expected, rtol=1e-6, atol=1e-6)
    for original, copy in zip(model.state_dict().values(), restored.state_dict().values()):
        assert_allclose(copy, original, rtol=0, atol=0)


def test_torch_momentum_and_weights_layout():
    model = every_layer_kind()
    module = to_torch(model)
    assert module[1].momentum == pytest.approx(1 - 0.8)  # torch weighs the new batch by momentum
    linear = [child for child in module if isinstance(child, torch.nn.Linear)][0]
    assert linear.weight.shape == (12, 4 * 7 * 9)  # (out, in): cnn's Affine weight transposed
    assert from_torch(module).layers[1].momentum == pytest.approx(0.8)
    assert isinstance(to_torch(image_affine())[1], torch.nn.Flatten)  # put before a Linear on images
    double = to_torch(LeNet(seed=0, dtype=np.float64))
    assert double[0].weight.dtype == torch.float64
    assert from_torch(double).dtype == np.float64


def torch_lenet():
    nn = torch.nn
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(784, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, 10)).eval()


def test_a_lenet_exported_by_pytorch_imports_and_predicts_as_pytorch(tmp_path):
    module = torch_lenet()
    x = inputs(LeNet(), 5)
    path = tmp_path / "torch_lenet.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript-based exporter announces its deprecation
        torch.onnx.export(module, (torch.from_numpy(x),), str(path), dynamo=False, input_names=["x"],
                          output_names=["scores"], dynamic_axes={"x": {0: "N"}, "scores": {0: "N"}})
    ops = [node.op_type for node in onnx.load(str(path)).graph.node]
    assert "Gemm" in ops and "MaxPool" in ops
    model = from_onnx(path)
    assert model.num_params() == 107_786
    for batch in (1, 33):
        x = inputs(model, batch)
        assert_allclose(model.predict(x), run_torch(module, x), **CLOSE)


def chain_model(nodes, initializers, input_shape=(None, 4), output="y"):
    graph = helper.make_graph(nodes, "test", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(input_shape))],
                              [helper.make_tensor_value_info(output, TensorProto.FLOAT, None)],
                              initializer=[numpy_helper.from_array(value, name)
                                           for name, value in initializers.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_matmul_add_and_reshape_as_other_exporters_write_them(tmp_path):
    rng = np.random.default_rng(0)
    W = rng.standard_normal((12, 3)).astype(np.float32)
    b = rng.standard_normal(3).astype(np.float32)
    nodes = [helper.make_node("Reshape", ["x", "shape"], ["flat"]),
             helper.make_node("MatMul", ["flat", "W"], ["product"]),
             helper.make_node("Add", ["product", "b"], ["y"])]
    model = chain_model(nodes, {"shape": np.array([-1, 12]), "W": W, "b": b}, (None, 3, 2, 2))
    onnx.save(model, str(tmp_path / "m.onnx"))
    imported = from_onnx(tmp_path / "m.onnx")
    assert [type(layer).__name__ for layer in imported.layers] == ["Flatten", "Affine"]
    x = rng.standard_normal((4, 3, 2, 2)).astype(np.float32)
    assert_allclose(imported.predict(x), x.reshape(4, 12) @ W + b, rtol=1e-6, atol=1e-6)


def conv_node(**attributes):
    return helper.make_node("Conv", ["x", "W"], ["y"], name="the_conv", **attributes)


ONNX_REFUSALS = [
    ([conv_node(dilations=[0, 2])], ["node 0 (Conv 'the_conv')", "dilations=[0, 2]"]),
    ([conv_node(group=3)], ["the_conv", "groups=3", "output channels"]),
    ([conv_node(group=2)], ["layers[0]", "groups=2", "needs (C=2, H, W), gets (1, 6, 6)"]),
    ([conv_node(auto_pad="EVERYWHERE")], ["the_conv", "auto_pad='EVERYWHERE'"]),
    ([conv_node(pads=[4, 0, 1, 0])], ["the_conv", "pads=[4, 0, 1, 0]", "wider than the 3x3 window"]),
    ([helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[2, 2], strides=[2, 2], ceil_mode=2)],
     ["MaxPool", "ceil_mode=2"]),
    ([helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[2, 2], pads=[2, 0, 0, 0])],
     ["MaxPool", "pad must be at most (pool_h - 1) * dilation = 1"]),
    ([helper.make_node("AveragePool", ["x"], ["y"], kernel_shape=[3, 3], count_include_pad=2)],
     ["AveragePool", "count_include_pad=2"]),
    ([helper.make_node("Softmax", ["x"], ["y"], name="probabilities")],
     ["node 0 (Softmax 'probabilities')", "axis=-1", "axis 1"]),
    ([helper.make_node("LRN", ["x"], ["y"], size=3)], ["node 0 (LRN)", "operator LRN"]),
    ([helper.make_node("GlobalAveragePool", ["x"], ["a"]), helper.make_node("Relu", ["a"], ["y"])],
     ["GlobalAveragePool", "goes on to node 1 (Relu)", "followed by Flatten"]),
    ([helper.make_node("PRelu", ["x", "x"], ["y"])], ["PRelu", "does not continue a chain"]),
    ([helper.make_node("Pad", ["x"], ["y"])], ["node 0 (Pad)", "only when a Conv follows"]),
    ([helper.make_node("Relu", ["x"], ["a"]), helper.make_node("Add", ["a", "a"], ["y"])],
     ["node 1 (Add)", "does not continue a chain"]),
    ([helper.make_node("Relu", ["x"], ["a"]), helper.make_node("Tanh", ["x"], ["b"]),
      helper.make_node("Sigmoid", ["x"], ["c"]), helper.make_node("Add", ["a", "b"], ["y"])],
     ["goes to 3 nodes", "two branches"]),
    ([helper.make_node("Flatten", ["x"], ["y"], axis=2)], ["Flatten", "axis=2"]),
]


@pytest.mark.parametrize("nodes, words", ONNX_REFUSALS, ids=[words[-1] for _, words in ONNX_REFUSALS])
def test_from_onnx_refuses_what_it_cannot_map(nodes, words, tmp_path):
    weights = {"W": np.ones((2, 1, 3, 3), np.float32)} if nodes[0].op_type == "Conv" else {}
    onnx.save(chain_model(nodes, weights, (None, 1, 6, 6)), str(tmp_path / "m.onnx"))
    with pytest.raises(ValueError) as error:
        from_onnx(tmp_path / "m.onnx")
    for word in words:
        assert word in str(error.value), str(error.value)


@pytest.mark.parametrize("auto_pad", ["SAME_UPPER", "SAME_LOWER"])
def test_a_pad_and_same_padding_with_a_stride_agree_with_onnxruntime(auto_pad, tmp_path):
    rng = np.random.default_rng(0)
    W = rng.standard_normal((3, 2, 3, 2)).astype(np.float32)
    nodes = [helper.make_node("Pad", ["x", "pads"], ["padded"]),
             helper.make_node("Conv", ["padded", "W"], ["y"], auto_pad=auto_pad, strides=[2, 3])]
    pads = np.array([0, 0, 1, 0, 0, 0, 0, 2], np.int64)  # top 1, right 2
    onnx.save(chain_model(nodes, {"pads": pads, "W": W}, (None, 2, 9, 10)), str(tmp_path / "m.onnx"))
    imported = from_onnx(tmp_path / "m.onnx")
    assert len(imported.layers) == 1 and isinstance(imported.layers[0], Convolution)
    x = rng.standard_normal((2, 2, 9, 10)).astype(np.float32)
    assert_allclose(imported.predict(x), run_onnx(tmp_path / "m.onnx", x), **CLOSE)


class Doubling(Layer):
    def forward(self, x, train=True):
        return 2 * x


def test_a_layer_of_ones_own_is_refused_naming_it(tmp_path):
    model = Sequential([Affine.create(3, 2, rng=0), Doubling()])
    with pytest.raises(ValueError, match=r"to_onnx: layers\[1\] \(Doubling\(\)\) has no ONNX"):
        to_onnx(model, tmp_path / "m.onnx")
    with pytest.raises(ValueError, match=r"to_torch: layers\[1\] \(Doubling\(\)\) has no PyTorch"):
        to_torch(model)


def torch_refusals():
    nn = torch.nn
    return [
        (nn.Sequential(nn.Conv2d(1, 2, 3, padding=1, padding_mode="reflect")), ["'0' (Conv2d)", "padding_mode='reflect'"]),
        (nn.Sequential(nn.ZeroPad2d(1), nn.ReLU()), ["'0' (ZeroPad2d)", "no Conv2d follows"]),
        (nn.Sequential(nn.Conv2d(1, 2, 3), nn.ZeroPad2d((1, 0, 0, 1))), ["'1' (ZeroPad2d)", "no Conv2d follows"]),
        (nn.Sequential(nn.ConstantPad2d(1, 2.0), nn.Conv2d(1, 2, 3)), ["ConstantPad2d", "value=2.0", "zeros"]),
        (nn.Sequential(nn.ZeroPad2d(1), nn.Conv2d(1, 2, 3, padding=1)), ["'1' (Conv2d)", "pads already"]),
        (nn.Sequential(nn.AvgPool2d(3, padding=1, divisor_override=2)), ["AvgPool2d", "divisor_override=2"]),
        (nn.Sequential(nn.MaxPool2d(2, return_indices=True)), ["MaxPool2d", "return_indices=True"]),
        (nn.Sequential(nn.BatchNorm1d(3, momentum=None)), ["BatchNorm1d", "momentum=None"]),
        (nn.Sequential(nn.BatchNorm2d(3, track_running_stats=False)), ["track_running_stats=False"]),
        (nn.Sequential(nn.Linear(3, 3), nn.Sequential(nn.GELU())), ["'1.0' (GELU) has no cnn layer"]),
    ]


def test_from_torch_refuses_what_it_cannot_map():
    for module, words in torch_refusals():
        with pytest.raises(ValueError) as error:
            from_torch(module)
        for word in words:
            assert word in str(error.value), str(error.value)
    with pytest.raises(TypeError, match="torch.nn.Sequential, got Linear"):
        from_torch(torch.nn.Linear(2, 2))


@pytest.mark.parametrize("package, call", [
    ("onnx", lambda tmp: to_onnx(LeNet(seed=0), tmp / "m.onnx")),
    ("onnx", lambda tmp: from_onnx(tmp / "m.onnx")),
    ("torch", lambda tmp: to_torch(LeNet(seed=0))),
])
def test_a_missing_package_names_what_to_install(package, call, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, package, None)  # "import onnx" now raises ImportError
    with pytest.raises(ImportError) as error:
        call(tmp_path)
    hint = 'pip install "cnn-ext[onnx]"' if package == "onnx" else "pip install torch"
    assert f"{package} is needed for this conversion: {hint}" in str(error.value)


def test_what_the_other_side_cannot_hold_is_refused_naming_the_layer(tmp_path):
    dilated = Sequential([AvgPooling(2, 2, dilation=2), Flatten()], input_shape=(1, 6, 6))
    with pytest.raises(ValueError, match=r"to_onnx: layers\[0\] .*dilated AveragePool needs opset 19"):
        to_onnx(dilated, tmp_path / "m.onnx")
    to_onnx(dilated, tmp_path / "m.onnx", opset=19)
    x = np.random.default_rng(0).standard_normal((2, 1, 6, 6)).astype(np.float32)
    assert_allclose(from_onnx(tmp_path / "m.onnx").predict(x), dilated.predict(x), rtol=1e-6)
    with pytest.raises(ValueError, match=r"to_torch: layers\[0\] .*AvgPool2d has no dilation"):
        to_torch(dilated)
    with pytest.raises(ValueError, match=r"to_torch: layers\[0\] .*same padding on both sides"):
        to_torch(Sequential([Pooling(3, 3, pad=((1, 0), (1, 1)))]))


def torch_resnet_block():
    """A residual network built in PyTorch with the module to_torch writes for a Residual."""
    nn = torch.nn
    torch.manual_seed(0)
    block = residual_block_class(nn)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(),
        block(nn.Sequential(nn.Conv2d(4, 8, 3, stride=2, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                            nn.Conv2d(8, 8, 3, padding=1)),
              nn.Sequential(nn.Conv2d(4, 8, 1, stride=2), nn.BatchNorm2d(8))),
        nn.ReLU(), block(nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.Tanh())),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 5)).eval()


def test_a_residual_network_exported_by_pytorch_imports_and_predicts_as_pytorch(tmp_path):
    module = torch_resnet_block()
    x = np.random.default_rng(3).standard_normal((4, 1, 12, 12)).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (torch.from_numpy(x),), str(tmp_path / "m.onnx"), input_names=["x"],
                          output_names=["scores"], dynamo=False)
    imported = from_onnx(tmp_path / "m.onnx")
    assert sum(isinstance(layer, Residual) for layer in imported.layers) == 2
    assert_allclose(imported.predict(x), run_torch(module, x), **CLOSE)
    from_module = from_torch(module, input_shape=(1, 12, 12))
    assert_allclose(from_module.predict(x), run_torch(module, x), **CLOSE)
