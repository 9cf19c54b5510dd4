"""cnn.book's layers and helpers against plain loops written for the test, against cnn-ext's
own layers, and against numerical gradients; with the book's dtypes and randomness."""

import numpy as np
import pytest

import cnn.layers
from cnn.book import compute_dtype, set_compute_dtype
from cnn.book.common import functions, layers, util
from cnn.book.common.gradient import numerical_gradient
from cnn_ext.tests.naive import cross_correlation_loops as convolve
from references import max_pool, numeric_gradient


@pytest.fixture
def float32_compute():
    set_compute_dtype(np.float32)
    yield
    set_compute_dtype(np.float64)


def gradient_of(layer, x, upstream, *arrays):
    """Numerical gradients of ``sum(layer.forward(x) * upstream)`` for x and ``arrays``."""
    objective = lambda: float(np.sum(layer.forward(x) * upstream))  # noqa: E731
    return [numeric_gradient(objective, array) for array in (x, *arrays)]


CONV_CASES = [((2, 1, 7, 7), (3, 1, 3, 3), 1, 0), ((2, 3, 9, 8), (4, 3, 3, 3), 2, 1),
              ((1, 2, 6, 5), (2, 2, 2, 3), 3, 2), ((3, 2, 5, 5), (5, 2, 5, 5), 1, 2)]


@pytest.mark.parametrize("x_dtype", [np.float32, np.float64])
@pytest.mark.parametrize("x_shape, w_shape, stride, pad", CONV_CASES)
def test_convolution_matches_loops_and_its_gradients_match_differences(rng, x_dtype, x_shape,
                                                                         w_shape, stride, pad):
    x = rng.standard_normal(x_shape).astype(x_dtype)
    W, b = rng.standard_normal(w_shape), rng.standard_normal(w_shape[0])
    layer = layers.Convolution(W, b, stride, pad)
    out = layer.forward(x)
    assert out.dtype == np.float64  # float32 images times float64 weights, as in the book
    np.testing.assert_allclose(out, convolve(x, W, b, stride, pad), rtol=1e-10, atol=1e-10)
    upstream = rng.standard_normal(out.shape)
    x64 = x.astype(np.float64)
    layer.forward(x64)
    dx = layer.backward(upstream)
    expected = gradient_of(layer, x64, upstream, W, b)
    for got, want in zip((dx, layer.dW, layer.db), expected):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("x_dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape, size, stride, pad", [
    ((2, 3, 6, 6), (2, 2), 2, 0), ((1, 2, 7, 5), (3, 2), 1, 0), ((2, 1, 5, 7), (2, 3), 2, 1),
    ((1, 2, 9, 9), (3, 3), 3, 0)])
def test_pooling_matches_loops_with_the_books_stride_and_zero_padding(rng, x_dtype, shape, size,
                                                                       stride, pad):
    x = rng.standard_normal(shape).astype(x_dtype)
    layer = layers.Pooling(*size, stride=stride, pad=pad)
    out = layer.forward(x)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, max_pool(x, *size, stride, pad))
    upstream = rng.standard_normal(out.shape)
    x64 = x.astype(np.float64)
    layer.forward(x64)
    dx = layer.backward(upstream)
    np.testing.assert_allclose(dx, gradient_of(layer, x64, upstream)[0], atol=1e-6)


def test_pooling_strides_by_two_unless_told_as_in_the_book(rng):
    x = rng.standard_normal((2, 3, 9, 9))
    assert layers.Pooling(3, 3).forward(x).shape == (2, 3, 4, 4)
    np.testing.assert_array_equal(layers.Pooling(2, 2).forward(x),
                                  cnn.layers.Pooling(2, 2, stride=2).forward(x, train=False))


def test_convolution_agrees_with_cnn_exts_own_layer(rng):
    x = rng.standard_normal((4, 3, 11, 11))
    W, b = rng.standard_normal((5, 3, 3, 3)), rng.standard_normal(5)
    ours = cnn.layers.Convolution(W.copy(), b.copy(), stride=2, pad=1)
    np.testing.assert_allclose(layers.Convolution(W, b, 2, 1).forward(x),
                               ours.forward(x, train=False), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shape", [(5, 7), (3, 2, 4, 3)])
def test_affine_flattens_each_sample_and_its_gradients_match(rng, shape):
    features = int(np.prod(shape[1:]))
    x = rng.standard_normal(shape).astype(np.float32)
    W, b = rng.standard_normal((features, 4)), rng.standard_normal(4)
    layer = layers.Affine(W, b)
    out = layer.forward(x)
    np.testing.assert_allclose(out, x.reshape(shape[0], -1).astype(np.float64) @ W + b, rtol=1e-12)
    upstream = rng.standard_normal(out.shape)
    x64 = x.astype(np.float64)
    layer.forward(x64)
    dx = layer.backward(upstream)
    assert dx.shape == shape
    for got, want in zip((dx, layer.dW, layer.db), gradient_of(layer, x64, upstream, W, b)):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


def test_relu_and_sigmoid_forward_and_backward(rng):
    x = rng.standard_normal((4, 6))
    relu, sigmoid = layers.Relu(), layers.Sigmoid()
    np.testing.assert_array_equal(relu.forward(x), np.where(x > 0, x, 0))
    np.testing.assert_array_equal(relu.mask, x <= 0)
    np.testing.assert_array_equal(relu.backward(np.ones_like(x)), (x > 0).astype(float))
    np.testing.assert_allclose(sigmoid.forward(x), 1 / (1 + np.exp(-x)))
    upstream = rng.standard_normal(x.shape)
    np.testing.assert_allclose(sigmoid.backward(upstream),
                               gradient_of(sigmoid, x.copy(), upstream)[0], rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("one_hot", [False, True])
def test_softmax_with_loss_is_the_books_cross_entropy_and_its_gradient(rng, one_hot):
    scores, labels = rng.standard_normal((5, 4)), np.array([0, 3, 1, 1, 2])
    t = np.eye(4)[labels] if one_hot else labels
    layer = layers.SoftmaxWithLoss()
    probabilities = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
    expected = -np.mean(np.log(probabilities[np.arange(5), labels] + 1e-7))
    assert layer.forward(scores, t) == pytest.approx(expected, rel=1e-12)
    gradient = numeric_gradient(lambda: layer.forward(scores, t), scores)
    layer.forward(scores, t)
    # (y - t) / N leaves out the 1e-7 inside the logarithm: about 1e-5 relative
    np.testing.assert_allclose(layer.backward(), gradient, rtol=1e-4, atol=1e-8)


def test_dropout_is_the_books_drawing_from_np_random_and_scaling_at_test_time():
    x = np.arange(1.0, 13.0).reshape(3, 4)
    layer = layers.Dropout(0.4)
    np.random.seed(7)
    kept = np.random.rand(3, 4) > 0.4
    np.random.seed(7)
    np.testing.assert_array_equal(layer.forward(x), x * kept)  # not rescaled in training
    np.testing.assert_array_equal(layer.backward(np.ones_like(x)), kept.astype(float))
    np.testing.assert_allclose(layer.forward(x, train_flg=False), x * 0.6)


@pytest.mark.parametrize("shape", [(6, 5), (4, 2, 3, 3)])
def test_batch_normalization_normalizes_each_feature_and_its_gradients_match(rng, shape):
    features = int(np.prod(shape[1:]))
    x = rng.standard_normal(shape) * 3 + 1
    gamma, beta = rng.standard_normal(features), rng.standard_normal(features)
    layer = layers.BatchNormalization(gamma, beta)
    out = layer.forward(x)
    flat = x.reshape(shape[0], -1)
    expected = gamma * (flat - flat.mean(0)) / np.sqrt(flat.var(0) + 10e-7) + beta
    np.testing.assert_allclose(out.reshape(shape[0], -1), expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.running_mean, 0.1 * flat.mean(0))
    upstream = rng.standard_normal(shape)
    dx = layer.backward(upstream)
    numeric = gradient_of(layer, x, upstream, gamma, beta)
    for got, want in zip((dx, layer.dgamma, layer.dbeta), numeric):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    test_time = layers.BatchNormalization(gamma, beta, running_mean=np.ones(features),
                                          running_var=np.full(features, 4.0))
    np.testing.assert_allclose(test_time.forward(x, train_flg=False).reshape(shape[0], -1),
                               gamma * (flat - 1) / np.sqrt(4 + 10e-7) + beta)


def test_layers_compute_with_the_arrays_they_were_given_as_updated_in_place(rng):
    x = rng.standard_normal((2, 1, 5, 5))
    W, b = rng.standard_normal((2, 1, 3, 3)), np.zeros(2)
    layer = layers.Convolution(W, b)
    before = layer.forward(x)
    W -= 0.5  # what the book's optimizers do to params['W1']
    np.testing.assert_allclose(layer.forward(x), convolve(x, W, b, 1, 0), atol=1e-12)
    assert not np.allclose(layer.forward(x), before)
    layer.W = np.zeros_like(W)  # what the book's load_params does
    np.testing.assert_array_equal(layer.forward(x), 0)


def test_float32_computes_in_float32_and_hands_back_float64_gradients(rng, float32_compute):
    assert compute_dtype() == np.float32
    W, b = rng.standard_normal((3, 2, 3, 3)), rng.standard_normal(3)
    x = rng.standard_normal((2, 2, 6, 6))
    layer = layers.Convolution(W, b, 1, 1)
    out = layer.forward(x)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, convolve(x, W, b, 1, 1), rtol=1e-4, atol=1e-4)
    layer.backward(np.ones_like(out))
    assert layer.dW.dtype == np.float64 and layer.db.dtype == np.float64
    affine = layers.Affine(rng.standard_normal((8, 2)), np.zeros(2))
    assert affine.forward(x[:, :, :2, :2]).dtype == np.float32


def test_set_compute_dtype_refuses_other_dtypes():
    with pytest.raises(ValueError, match="float32 or float64, got int32"):
        set_compute_dtype(np.int32)


@pytest.mark.parametrize("shape, filter_size, stride, pad", [
    ((2, 3, 7, 6), (3, 2), 1, 0), ((1, 2, 8, 8), (3, 3), 2, 1), ((2, 1, 5, 9), (2, 4), 3, 2)])
def test_im2col_and_col2im_match_loops(rng, shape, filter_size, stride, pad):
    x = rng.standard_normal(shape).astype(np.float32)
    fh, fw = filter_size
    col = util.im2col(x, fh, fw, stride, pad)
    padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad))).astype(np.float64)
    out_h, out_w = (padded.shape[2] - fh) // stride + 1, (padded.shape[3] - fw) // stride + 1
    rows = [padded[n, :, i * stride:i * stride + fh, j * stride:j * stride + fw].ravel()
            for n in range(shape[0]) for i in range(out_h) for j in range(out_w)]
    assert col.dtype == np.float64
    np.testing.assert_array_equal(col, np.array(rows))
    weights = rng.standard_normal(col.shape)
    image = np.zeros(padded.shape)
    for row, (n, i, j) in enumerate(np.ndindex(shape[0], out_h, out_w)):
        image[n, :, i * stride:i * stride + fh, j * stride:j * stride + fw] += \
            weights[row].reshape(shape[1], fh, fw)
    np.testing.assert_allclose(util.col2im(weights, shape, fh, fw, stride, pad),
                               image[:, :, pad:pad + shape[2], pad:pad + shape[3]], atol=1e-12)


def test_the_books_functions_and_numerical_gradient():
    np.testing.assert_allclose(functions.softmax(np.array([[1.0, 2.0], [1000.0, 1000.0]])),
                               [[1 / (1 + np.e), np.e / (1 + np.e)], [0.5, 0.5]])
    np.testing.assert_array_equal(functions.step_function(np.array([-1.0, 0.0, 2.0])), [0, 0, 1])
    np.testing.assert_array_equal(functions.relu_grad(np.array([-1.0, 0.0, 2.0])), [0, 1, 1])
    assert functions.cross_entropy_error(np.array([0.1, 0.9]), np.array([0, 1])) == \
        pytest.approx(-np.log(0.9 + 1e-7))
    x = np.array([[3.0, -4.0], [0.5, 2.0]])
    np.testing.assert_allclose(numerical_gradient(lambda v: np.sum(v ** 3), x), 3 * x ** 2,
                               rtol=1e-7)
    np.testing.assert_array_equal(x, [[3.0, -4.0], [0.5, 2.0]])  # restored
    curve = np.r_[np.zeros(20), np.ones(20)]
    smoothed = util.smooth_curve(curve)
    assert smoothed.shape == curve.shape and 0 < smoothed[20] < 1
