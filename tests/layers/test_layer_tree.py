"""The layer contract as a tree: arrays registered under their names, one recursive walk for every
name, each layer's output shape and traits, and a model that is itself a layer (a block of a
Residual: forward, backward, gradient check, save and load_model)."""

import re

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import cnn
from cnn.gradcheck import check_gradients
from cnn.layers import (Affine, AvgPooling, BatchNormalization, Convolution, ConvTranspose,
                        Dropout, Flatten,
                        GlobalAveragePooling, GlobalMaxPooling, Layer, LeakyRelu, LogSoftmax,
                        Pooling, PRelu, Relu, Residual, Sigmoid, Softmax, Tanh)
from cnn.models import LeNet, Sequential

RTOL = {np.float32: 1e-5, np.float64: 1e-12}


def image_layers(dtype):
    """A layer of each library kind, with the sample shape each is given (odd sizes, strides,
    padding on one side, dilation and groups included)."""
    return [
        (Convolution.create(3, 4, (3, 2), stride=(2, 1), pad=((1, 0), (2, 1)), rng=0, dtype=dtype), (3, 9, 7)),
        (Convolution.create(4, 4, 3, dilation=2, groups=2, pad=1, rng=1, dtype=dtype), (4, 8, 9)),
        (ConvTranspose.create(4, 6, (3, 2), stride=(2, 3), pad=((1, 0), (0, 1)), output_padding=1,
                              groups=2, rng=7, dtype=dtype), (4, 5, 3)),
        (Pooling(3, 2, stride=(2, 1), pad=1), (2, 7, 5)),
        (AvgPooling(2, 3, pad=((0, 1), (1, 1)), ceil_mode=True), (3, 7, 6)),
        (GlobalAveragePooling(), (5, 3, 4)),
        (GlobalMaxPooling(), (5, 3, 4)),
        (Flatten(), (2, 3, 5)),
        (Affine.create(30, 7, rng=2, dtype=dtype), (2, 3, 5)),
        (BatchNormalization(np.ones(3, dtype), np.zeros(3, dtype)), (3, 4, 5)),
        (BatchNormalization(np.ones(6, dtype), np.zeros(6, dtype)), (6,)),
        (PRelu.create(3, dtype=dtype), (3, 2, 2)),
        (PRelu.create(1, dtype=dtype), (7,)),
        (Relu(), (3, 5, 2)), (LeakyRelu(0.2), (11,)), (Sigmoid(), (2, 3)), (Tanh(), (4, 1, 1)),
        (Softmax(), (5,)), (LogSoftmax(), (5, 2, 3)), (Dropout(0.3, seed=0), (3, 4)),
        (Residual([Convolution.create(3, 3, 3, pad=1, rng=3, dtype=dtype), Relu()]), (3, 5, 6)),
        (Residual([Convolution.create(3, 4, 3, stride=2, pad=1, rng=4, dtype=dtype)],
                  Convolution.create(3, 4, 1, stride=2, rng=5, dtype=dtype)), (3, 7, 6)),
        (Sequential([Convolution.create(2, 3, 3, rng=6, dtype=dtype), Relu(), Flatten()]), (2, 5, 5)),
    ]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_output_shape_is_the_shape_forward_gives(dtype):
    for layer, sample_shape in image_layers(dtype):
        x = np.random.default_rng(0).standard_normal((2, *sample_shape)).astype(dtype)
        assert layer.output_shape(sample_shape) == layer.forward(x, train=False).shape[1:], layer


def test_output_shape_refuses_a_sample_the_layer_cannot_take():
    cases = [(Convolution.create(2, 3, 3, rng=0), (3, 8, 8), "needs (C=2, H, W), gets (3, 8, 8)"),
             (Convolution.create(2, 3, 5, rng=0), (2, 3, 3), "larger than the padded input height 3"),
             (Affine.create(10, 2, rng=0), (3, 3), "needs 10 features"),
             (Pooling(2, 2), (4, 4), "needs (C, H, W)"),
             (BatchNormalization(np.ones(3), np.zeros(3)), (4, 2, 2), "needs 3 channels"),
             (Residual([Convolution.create(3, 4, 3, pad=1, rng=0)]), (3, 5, 5), "the body gives")]
    for layer, shape, words in cases:
        with pytest.raises(ValueError, match=words.replace("(", r"\(").replace(")", r"\)")):
            layer.output_shape(shape)


class Doubler(Layer):
    """A user layer with no output_shape of its own: the base class runs a zero sample."""

    def forward(self, x, train=True):
        self.seen = x.shape
        return np.concatenate([x, x], axis=1)

    def backward(self, dout):
        half = dout.shape[1] // 2
        return dout[:, :half] + dout[:, half:]


def test_a_user_layer_gets_its_output_shape_from_a_forward_pass_of_a_copy():
    layer = Doubler()
    layer.forward(np.ones((4, 3)), train=True)
    assert layer.output_shape((3, 2)) == (6, 2)
    assert layer.seen == (4, 3)  # the copy ran, the layer's own state for backward is left alone


def test_traits_are_what_the_tools_read():
    flattening = {type(layer) for layer, _ in image_layers(np.float32) if layer.flattens}
    assert flattening == {Flatten, Affine, GlobalAveragePooling, GlobalMaxPooling}
    activations = {type(layer) for layer, _ in image_layers(np.float32) if layer.activation}
    assert activations == {Relu, LeakyRelu, PRelu, Sigmoid, Tanh}
    for layer, sample_shape in image_layers(np.float32):
        if layer.per_position:  # keeps the shape, and the base class knows it without a pass
            assert Layer.output_shape(layer, sample_shape) == sample_shape, layer


class Gain(Layer):
    """Registers its arrays by name."""

    def __init__(self, features):
        super().__init__()
        self.add_param("gain", np.ones(features))
        self.add_param("shift", np.zeros(features))
        self.add_buffer("calls", np.zeros(1))


def test_add_param_fills_params_grads_and_the_name_together():
    layer = Gain(3)
    assert [array.shape for array in layer.params] == [(3,), (3,)]
    assert [grad.shape for grad in layer.grads] == [(3,), (3,)]
    assert list(layer.named_params()) == ["gain", "shift"]
    assert list(layer.named_grads()) == ["gain", "shift"]
    assert list(layer.named_buffers()) == ["calls"]
    assert layer.named_params()["gain"] is layer.params[0]
    assert not layer.grads[0].any() and layer.grads[0] is not layer.params[0]


@pytest.mark.parametrize("name, value, error, words", [
    ("gain", np.ones(2), ValueError, ["'gain'", "registered already"]),
    ("not a name", np.ones(2), ValueError, ["'not a name'", "identifier"]),
    ("scale", [1.0, 2.0], TypeError, ["scale", "numpy array", "list"]),
], ids=["twice", "not-an-identifier", "not-an-array"])
def test_add_param_refuses_a_name_twice_a_bad_name_and_a_non_array(name, value, error, words):
    layer = Gain(2)
    with pytest.raises(error) as raised:
        layer.add_param(name, value)
    for word in words:
        assert word in str(raised.value)


def block_model(dtype=np.float64):
    """A model whose second layer is a Residual holding a model (a Sequential) as its body."""
    inner = Sequential([Convolution.create(3, 3, 3, pad=1, rng=1, dtype=dtype), Tanh(),
                        Convolution.create(3, 3, 3, pad=1, rng=2, dtype=dtype)])
    return Sequential([Convolution.create(2, 3, 3, pad=1, rng=0, dtype=dtype),
                       Residual([inner]), Flatten(), Affine.create(3 * 5 * 4, 4, rng=3, dtype=dtype)],
                      input_shape=(2, 5, 4))


def batch(dtype=np.float64, n=6):
    rng = np.random.default_rng(7)
    return rng.standard_normal((n, 2, 5, 4)).astype(dtype), rng.integers(0, 4, n)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_a_model_as_a_residual_block_agrees_with_its_layers_called_by_hand(dtype):
    model = block_model(dtype)
    x, t = batch(dtype)
    first, block, flatten, affine = model.layers
    inner = block.body[0]
    h = first.forward(x, train=False)
    expected = h
    for layer in inner.layers:
        expected = layer.forward(expected, train=False)
    expected = affine.forward(flatten.forward(expected + h, train=False), train=False)
    assert_allclose(model.predict(x), expected, rtol=RTOL[dtype], atol=RTOL[dtype])


def test_a_model_as_a_residual_block_names_its_arrays_through_the_tree():
    model = block_model()
    assert list(model.named_params()) == [
        "layers.0.W", "layers.0.b", "layers.1.body.0.layers.0.W", "layers.1.body.0.layers.0.b",
        "layers.1.body.0.layers.2.W", "layers.1.body.0.layers.2.b", "layers.3.W", "layers.3.b"]
    assert [id(a) for a in model.params] == [id(a) for a in model.named_params().values()]
    assert [id(a) for a in model.grads] == [id(a) for a in model.named_grads().values()]
    assert model.num_params() == sum(array.size for array in model.params)


def test_a_model_as_a_residual_block_passes_the_gradient_check_under_the_state_names():
    model = block_model()
    x, t = batch()
    errors = check_gradients(model, x, t)
    assert set(errors) == set(model.named_params()) | {"x"}
    assert set(errors) - {"x"} == set(model.state_dict()) - {"format_version"}
    assert max(errors.values()) < 1e-6, errors


def test_a_model_as_a_residual_block_is_saved_and_loaded_without_code(tmp_path):
    model = block_model()
    x, t = batch()
    for _ in range(3):  # move the weights off their initial values
        model.forward(x, t)
        model.backward()
        for param, grad in zip(model.params, model.grads):
            param -= 0.1 * grad
    model.save(tmp_path / "model.npz")
    restored = cnn.load_model(tmp_path / "model.npz")
    assert type(restored.layers[1].body[0]) is Sequential
    assert_array_equal(restored.predict(x), model.predict(x))
    for name, array in model.state_dict().items():
        assert_array_equal(restored.state_dict()[name], array)


def test_a_ready_model_as_a_block_comes_back_as_its_class(tmp_path):
    lenet = LeNet(seed=0)
    model = Sequential([Residual([lenet], Affine.create(784, 10, rng=0))], input_shape=(1, 28, 28))
    model.save(tmp_path / "model.npz")
    restored = cnn.load_model(tmp_path / "model.npz")
    assert type(restored.layers[0].body[0]) is LeNet
    x = np.random.default_rng(0).random((2, 1, 28, 28), np.float32)
    assert_array_equal(restored.predict(x), model.predict(x))


def test_the_summary_lists_a_block_model_under_its_residual():
    lines = []
    block_model().summary(print_fn=lines.append)
    table = lines[0]
    assert re.search(r"\n  body\.0 Sequential\(3 layers\) +\(None, 3, 5, 4\) +168\n", table), table
    assert f"Total params: {block_model().num_params():,}" in table


def test_a_model_called_as_a_layer_gives_scores_and_takes_their_gradient():
    model = block_model()
    x, t = batch()
    scores = model.forward(x, train=True)
    assert scores.shape == (6, 4)
    dx = model.backward(np.ones_like(scores))
    reference = block_model()
    reference.forward(x, train=True)
    assert_allclose(dx, reference.layers[0].backward(reference.layers[1].backward(
        reference.layers[2].backward(reference.layers[3].backward(np.ones_like(scores))))))


def test_a_mode_given_where_the_labels_go_is_refused_by_name():
    with pytest.raises(TypeError, match=r"t must be the labels, got True; .*forward\(x, train=True\)"):
        block_model().forward(batch()[0], True)


def test_layers_of_two_dtypes_are_refused_naming_both():
    with pytest.raises(TypeError) as error:
        Sequential([Convolution.create(1, 2, 3, rng=0), Flatten(),
                    Affine.create(2, 2, rng=0, dtype=np.float64)])
    for word in ["layers[0]", "Convolution(1->2", "float32", "layers[2]", "Affine(2->2)", "float64"]:
        assert word in str(error.value)
