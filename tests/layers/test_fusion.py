"""A Relu fused into the convolution, batch norm or residual block before it: the same outputs and
gradients as running every layer on its own, for every engine the convolution may take, and only
where the layers allow it."""

import copy

import numpy as np
import pytest

from cnn.layers import (Affine, BatchNormalization, Convolution, Flatten, Pooling, Relu,
                        Residual)
from cnn.layers.base import Layer
from cnn.layers.fusion import forward_layers, fuses_relu
from cnn.models import Sequential


def one_by_one(layers, x, train):
    for layer in layers:
        x = layer.forward(x, train=train)
    return x


def backward(layers, dout):
    for layer in reversed(layers):
        dout = layer.backward(dout)
    return dout


def stack(rng, dtype, channels, x, **conv):
    """conv, relu, conv, batch norm, relu, pool, flatten, affine, for the input ``x``."""
    layers = [Convolution.create(1, channels, 3, rng=rng, dtype=dtype, **conv), Relu(),
              Convolution.create(channels, channels, 3, pad=1, rng=rng, dtype=dtype),
              BatchNormalization(np.ones(channels, dtype), np.zeros(channels, dtype)),
              Relu(inplace=True), Pooling(2, 2), Flatten()]
    features = one_by_one(copy.deepcopy(layers), x, False).shape[1]
    return layers + [Affine.create(features, 3, rng=rng, dtype=dtype)]


@pytest.mark.parametrize("channels, conv", [(4, dict(pad=1)), (16, dict(pad=1)),
                                            (4, dict(stride=2, pad=1)),
                                            (4, dict(dilation=2, pad=1)),
                                            (4, dict(pad=((1, 0), (1, 1))))],
                         ids=["direct", "winograd", "strided", "unfold", "uneven-pad"])
@pytest.mark.parametrize("train", [True, False])
def test_fused_layers_give_the_outputs_and_gradients_of_the_layers_one_by_one(channels, conv, train,
                                                                             dtype, rng):
    x = rng.standard_normal((3, 1, 12, 12)).astype(dtype)
    layers = stack(rng, dtype, channels, x, **conv)
    alone = copy.deepcopy(layers)
    fused_out = forward_layers(layers, x, train)
    expected = one_by_one(alone, x, train)
    np.testing.assert_array_equal(fused_out, expected)
    if train:
        dout = rng.standard_normal(expected.shape).astype(dtype)
        np.testing.assert_array_equal(backward(layers, dout), backward(alone, dout))
        for fused_layer, layer in zip(layers, alone):
            for got, want in zip(fused_layer.grads, layer.grads):
                np.testing.assert_array_equal(got, want)


def test_the_relu_keeps_the_fused_output_and_only_exact_layer_classes_fuse(rng):
    calls = []

    class LoggingConvolution(Convolution):
        def forward(self, x, train=True):  # a subclass without the relu option is not fused
            calls.append(train)
            return super().forward(x, train)

    conv = Convolution.create(1, 4, 3, pad=1, rng=rng, dtype=np.float32)
    logging_conv = LoggingConvolution(conv.params[0].copy(), conv.params[1].copy(), pad=1)
    relu, other_relu = Relu(), Relu()
    x = rng.standard_normal((2, 1, 6, 6)).astype(np.float32)
    out = forward_layers([conv, relu], x, True)
    assert relu.out is out and out.min() >= 0
    np.testing.assert_array_equal(forward_layers([logging_conv, other_relu], x, True), out)
    assert calls == [True]


def test_the_class_that_defines_forward_says_whether_it_fuses(rng):
    class Renamed(Convolution):  # forward inherited: it takes relu=True
        pass

    class Overridden(BatchNormalization):
        def forward(self, x, train=True):
            return super().forward(x, train)

    conv = Convolution.create(1, 4, 3, rng=rng)
    block = Residual([Convolution.create(4, 4, 3, pad=1, rng=rng)])
    norm = BatchNormalization(np.ones(4), np.zeros(4))
    assert [fuses_relu(layer) for layer in (conv, block, norm, Relu(), Flatten())] == \
        [True, True, True, False, False]
    assert fuses_relu(Renamed(conv.params[0], conv.params[1]))
    assert not fuses_relu(Overridden(np.ones(4), np.zeros(4)))


@pytest.mark.parametrize("shortcut", [False, True], ids=["identity", "projection"])
def test_a_residual_block_adds_and_applies_relu_in_one_pass(shortcut, dtype, rng):
    body = [Convolution.create(3, 4, 3, stride=2 if shortcut else 1, pad=1, rng=rng, dtype=dtype),
            BatchNormalization(np.ones(4, dtype), np.zeros(4, dtype))]
    if not shortcut:
        body[0] = Convolution.create(4, 4, 3, pad=1, rng=rng, dtype=dtype)
    short = [Convolution.create(3, 4, 1, stride=2, rng=rng, dtype=dtype)] if shortcut else None
    block, relu = Residual(body, short), Relu()
    twin = copy.deepcopy([block, relu])
    x = rng.standard_normal((2, 3 if shortcut else 4, 7, 7)).astype(dtype)
    x[0, 0, 3, 3] = np.nan
    out = forward_layers([block, relu], x, True)
    expected = one_by_one(twin, x, True)
    assert out.dtype == dtype and relu.out is out
    np.testing.assert_array_equal(out, expected)
    assert np.isnan(out).sum() == np.isnan(expected).sum() > 0
    dout = rng.standard_normal(out.shape).astype(dtype)
    np.testing.assert_array_equal(backward([block, relu], dout), backward(twin, dout))
    for got, want in zip(block.grads, twin[0].grads):
        np.testing.assert_array_equal(got, want)


def test_a_residual_block_whose_branches_differ_in_dtype_fuses_to_their_sum(rng):
    class ToFloat64(Layer):
        def forward(self, x, train=True):
            return x.astype(np.float64)

        def backward(self, dout):
            return dout.astype(np.float32)

    block = Residual([Relu()], shortcut=ToFloat64())
    x = rng.standard_normal((2, 3, 4, 4)).astype(np.float32)
    out = forward_layers([block, Relu()], x, False)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, np.maximum(np.maximum(x, 0) + x.astype(np.float64), 0))


def test_a_residual_block_and_a_model_run_fused(rng):
    block = Residual([Convolution.create(16, 16, 3, pad=1, rng=rng, dtype=np.float32),
                      BatchNormalization(np.ones(16, np.float32), np.zeros(16, np.float32)),
                      Relu(inplace=True),
                      Convolution.create(16, 16, 3, pad=1, rng=rng, dtype=np.float32)])
    model = Sequential([Convolution.create(1, 16, 3, pad=1, rng=rng, dtype=np.float32), Relu(),
                        block, Relu(), Flatten(),
                        Affine.create(16 * 36, 10, rng=rng, dtype=np.float32)],
                       input_shape=(1, 6, 6))
    x = rng.standard_normal((4, 1, 6, 6)).astype(np.float32)
    twin = copy.deepcopy(model)
    loss, scores = model.train_step(x, np.arange(4))
    expected = one_by_one(twin.layers, x, True)
    np.testing.assert_array_equal(scores, expected)
    twin.loss.forward(expected, np.arange(4))
    backward(twin.layers, twin.loss.backward(1.0))
    for got, want in zip(model.grads, twin.grads):
        np.testing.assert_array_equal(got, want)
