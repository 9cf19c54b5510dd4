"""Each layer's forward pass against an independent loop or NumPy computation."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from cnn.layers import (Affine, AvgPooling, BatchNormalization, Convolution, Dropout, Flatten,
                        Pooling, Relu, Sigmoid, SoftmaxWithLoss, Tanh)
from cnn_ext.tests.naive import avgpool_loops, cross_correlation_loops, maxpool_loops

LAYER_TOLERANCE = {np.float32: dict(rtol=1e-4, atol=1e-5), np.float64: dict(rtol=1e-10, atol=1e-12)}


@pytest.mark.parametrize("x_shape, w_shape, stride, pad", [
    ((2, 1, 8, 8), (3, 1, 3, 3), 1, 0),
    ((2, 3, 7, 9), (4, 3, 3, 2), 1, 1),
    ((1, 2, 9, 8), (5, 2, 5, 5), 2, 2),
    ((3, 4, 6, 6), (2, 4, 1, 1), 3, 0),
    ((2, 6, 14, 14), (16, 6, 5, 5), 1, 2),
])
def test_convolution_equals_direct_cross_correlation(x_shape, w_shape, stride, pad, dtype, rng):
    x = rng.standard_normal(x_shape).astype(dtype)
    W = rng.standard_normal(w_shape).astype(dtype)
    b = rng.standard_normal(w_shape[0]).astype(dtype)
    out = Convolution(W, b, stride, pad).forward(x)
    assert out.dtype == dtype
    assert_allclose(out, cross_correlation_loops(x, W, b, stride, pad), **LAYER_TOLERANCE[dtype])


def test_convolution_keeps_channels_apart(dtype):
    # A filter that copies input channel c into output channel c exposes any mixed-up layout.
    x = np.arange(2 * 3 * 4 * 4, dtype=dtype).reshape(2, 3, 4, 4)
    W = np.zeros((3, 3, 1, 1), dtype)
    for channel in range(3):
        W[channel, channel] = 1
    assert_array_equal(Convolution(W, np.zeros(3, dtype)).forward(x), x)


@pytest.mark.parametrize("pool, stride, pad", [((2, 2), None, 0), ((3, 3), 2, 1), ((3, 2), 1, 1)])
def test_pooling_equals_loops(pool, stride, pad, dtype, rng):
    x = rng.standard_normal((2, 3, 7, 8)).astype(dtype)
    stride_h, stride_w = pool if stride is None else (stride, stride)
    expected, _ = maxpool_loops(x, *pool, stride_h, stride_w, pad)
    assert_array_equal(Pooling(*pool, stride, pad).forward(x), expected)


@pytest.mark.parametrize("pool, stride, pad", [((2, 2), None, 0), ((3, 3), 2, 1), ((3, 2), 1, 1)])
def test_avg_pooling_equals_loops(pool, stride, pad, dtype, rng):
    x = rng.standard_normal((2, 3, 7, 8)).astype(dtype)
    out = AvgPooling(*pool, stride, pad).forward(x)
    assert out.dtype == dtype
    assert_allclose(out, avgpool_loops(x, *pool, stride or pool[0], pad), **LAYER_TOLERANCE[dtype])


def test_flatten_and_affine(dtype, rng):
    x = rng.standard_normal((4, 2, 3, 5)).astype(dtype)
    W = rng.standard_normal((30, 7)).astype(dtype)
    b = rng.standard_normal(7).astype(dtype)
    flat = Flatten().forward(x)
    assert flat.shape == (4, 30)
    expected = np.array([[sum(flat[n, i] * W[i, j] for i in range(30)) + b[j] for j in range(7)]
                         for n in range(4)])
    assert_allclose(Affine(W, b).forward(x), expected, **LAYER_TOLERANCE[dtype])


def test_activations(dtype):
    x = np.array([[-800.0, -2.0, 0.0, 0.5, 800.0]], dtype)
    assert_array_equal(Relu().forward(x), [[0, 0, 0, 0.5, 800]])
    with np.errstate(over="raise"):
        sigmoid = Sigmoid().forward(x)
    assert sigmoid.dtype == dtype
    assert_allclose(sigmoid, [[0, 1 / (1 + np.exp(2)), 0.5, 1 / (1 + np.exp(-0.5)), 1]],
                    **LAYER_TOLERANCE[dtype])
    assert_allclose(Tanh().forward(x), np.tanh(x.astype(np.float64)), **LAYER_TOLERANCE[dtype])


def test_dropout_drops_the_ratio_and_keeps_the_mean(dtype):
    x = np.ones((200, 500), dtype)
    layer = Dropout(0.3, seed=0)
    out = layer.forward(x, train=True)
    assert out.dtype == dtype
    assert abs(np.mean(out == 0) - 0.3) < 0.01
    assert abs(out.mean() - 1) < 0.02
    assert_array_equal(layer.forward(x, train=False), x)


@pytest.mark.parametrize("shape", [(16, 5), (6, 3, 4, 5)], ids=["NxD", "NxCxHxW"])
def test_batch_normalization(shape, dtype, rng):
    x = (rng.standard_normal(shape) * 3 + 2).astype(dtype)
    features = shape[1]
    gamma = rng.standard_normal(features).astype(dtype)
    beta = rng.standard_normal(features).astype(dtype)
    layer = BatchNormalization(gamma, beta, momentum=0.9, eps=1e-5)
    axes = (0,) if len(shape) == 2 else (0, 2, 3)
    param_shape = (1, features) + (1,) * (len(shape) - 2)
    mean = x.astype(np.float64).mean(axis=axes)
    var = x.astype(np.float64).var(axis=axes)
    expected = ((x - mean.reshape(param_shape)) / np.sqrt(var.reshape(param_shape) + 1e-5)
                * gamma.reshape(param_shape) + beta.reshape(param_shape))
    assert_allclose(layer.forward(x, train=True), expected, **LAYER_TOLERANCE[dtype])
    running_mean, running_var = layer.buffers
    assert_allclose(running_mean, 0.1 * mean, **LAYER_TOLERANCE[dtype])
    assert_allclose(running_var, 0.9 + 0.1 * var, **LAYER_TOLERANCE[dtype])
    inference = ((x - running_mean.reshape(param_shape)) / np.sqrt(running_var.reshape(param_shape) + 1e-5)
                 * gamma.reshape(param_shape) + beta.reshape(param_shape))
    assert_allclose(layer.forward(x, train=False), inference, **LAYER_TOLERANCE[dtype])


def test_softmax_with_loss_takes_integer_or_one_hot_labels(dtype):
    scores = np.array([[1.0, 2.0, 3.0], [1000.0, 0.0, -1000.0]], dtype)
    labels = np.array([2, 1])
    expected = -np.mean([np.log(np.exp(3) / (np.exp(1) + np.exp(2) + np.exp(3))), -1000.0])
    layer = SoftmaxWithLoss()
    assert np.isclose(layer.forward(scores, labels), expected, rtol=1e-6)
    assert np.isclose(layer.forward(scores, np.eye(3)[labels]), expected, rtol=1e-6)
    dx = layer.backward()
    assert dx.dtype == dtype
    probabilities = np.array([[np.exp(1), np.exp(2), np.exp(3)] / (np.exp(1) + np.exp(2) + np.exp(3)),
                              [1, 0, 0]])
    assert_allclose(dx, (probabilities - np.eye(3)[labels]) / 2, **LAYER_TOLERANCE[dtype])


def test_relu_of_minus_infinity_is_zero_and_nan_stays_nan():
    out = Relu().forward(np.array([[-np.inf, 1.0, np.nan, -2.0]]))  # x * mask gave [[nan, ...]]
    np.testing.assert_array_equal(out, [[0.0, 1.0, np.nan, 0.0]])


def test_an_in_place_relu_overwrites_its_input_and_backpropagates_alike(rng):
    from cnn.layers import Relu
    x = rng.standard_normal((4, 3, 5, 5))
    keep = x.copy()
    plain, in_place = Relu(), Relu(inplace=True)
    expected = plain.forward(keep.copy())
    out = in_place.forward(x)
    assert out is x  # no new array
    np.testing.assert_array_equal(out, expected)
    dout = rng.standard_normal(x.shape)
    np.testing.assert_array_equal(in_place.backward(dout), plain.backward(dout))
    view = keep[:, :, ::2]  # not contiguous: a new array, the input left alone
    before = view.copy()
    np.testing.assert_array_equal(Relu(inplace=True).forward(view), np.maximum(before, 0))
    np.testing.assert_array_equal(view, before)
    with pytest.raises(TypeError, match="inplace must be True or False"):
        Relu(inplace="yes")


def test_batch_norm_backward_keeps_float32_past_65535_positions():
    """NumPy 1.x promoted float32 / (a Python int past 65535) to float64 (run beside NumPy 1.26)."""
    norm = BatchNormalization(np.ones(2, np.float32), np.zeros(2, np.float32))
    x = np.random.default_rng(0).standard_normal((90, 2, 28, 28)).astype(np.float32)  # 70,560 rows
    norm.forward(x)
    assert norm.backward(np.ones_like(x)).dtype == np.float32
