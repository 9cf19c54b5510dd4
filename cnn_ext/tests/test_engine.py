"""The convolution engine, inference max-pool and ReLU kernels against independent references:
direct loops, the NumPy im2col reference, finite differences and the existing kernels."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hypothesis_numpy
from numpy.testing import assert_allclose, assert_array_equal

import cnn_ext
import cnn_ext.engines.unfold
from cnn_ext import reference
from cnn_ext.engines.unfold_loops import fold_kernel, unfold_kernel
from cnn_ext.tests.naive import cross_correlation_loops, out_size
from cnn_ext.tests.test_kernels import CONV_CASES, POOL_CASES, conv_id, pool_id

TOLERANCE = {np.float32: dict(rtol=2e-5, atol=2e-5), np.float64: dict(rtol=1e-11, atol=1e-11)}
OUT_CHANNELS = 3


def reference_conv(x, W, b, stride, pad):
    """Forward and the three gradients through ``reference.im2col``/``col2im`` and matrix products."""
    n_images, channels, height, width = x.shape
    out_channels, _, filter_h, filter_w = W.shape
    out_h, out_w = out_size(height, filter_h, stride, pad), out_size(width, filter_w, stride, pad)
    col = reference.im2col(x, filter_h, filter_w, stride, pad)  # (N*P, K)
    weights = W.reshape(out_channels, -1)
    out = (col @ weights.T + b).reshape(n_images, out_h, out_w, out_channels).transpose(0, 3, 1, 2)

    def gradients(dout):
        rows = dout.transpose(0, 2, 3, 1).reshape(-1, out_channels)  # (N*P, OC)
        dx = reference.col2im(rows @ weights, x.shape, filter_h, filter_w, stride, pad)
        return dx, (rows.T @ col).reshape(W.shape), rows.sum(axis=0)

    return out, gradients


def conv_problem(case, dtype, rng):
    n, c, h, w, filter_h, filter_w, stride, pad = case
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    W = rng.standard_normal((OUT_CHANNELS, c, filter_h, filter_w)).astype(dtype)
    b = rng.standard_normal(OUT_CHANNELS).astype(dtype)
    return x, W, b, stride, pad


@pytest.fixture(params=[None, 1], ids=["default-blocks", "one-image-blocks"])
def block_bytes(request, monkeypatch):
    """Run with the default block size, and with blocks of a single image (many blocks a thread)."""
    if request.param is not None:
        monkeypatch.setattr(cnn_ext.engines.unfold, "BLOCK_BYTES", request.param)


@pytest.fixture(params=[1, 2], ids=["1-thread", "2-threads"])
def threads(request):
    previous = cnn_ext.get_num_threads()
    cnn_ext.set_num_threads(request.param)
    yield request.param
    cnn_ext.set_num_threads(previous)


@pytest.mark.parametrize("case", CONV_CASES, ids=conv_id)
def test_conv2d_forward_and_backward_equal_reference(case, dtype, rng, block_bytes):
    x, W, b, stride, pad = conv_problem(case, dtype, rng)
    expected_out, gradients = reference_conv(x, W, b, stride, pad)
    out = cnn_ext.conv2d_forward(x, W, b, stride, pad)
    assert out.dtype == dtype and out.flags.c_contiguous
    assert_allclose(out, expected_out, **TOLERANCE[dtype])
    dout = rng.standard_normal(out.shape).astype(dtype)
    dx, dW, db = cnn_ext.conv2d_backward(x, W, dout, stride, pad)
    for got, expected in zip((dx, dW, db), gradients(dout)):
        assert got.dtype == dtype and got.shape == expected.shape
        assert_allclose(got, expected, **TOLERANCE[dtype])
    no_dx, dW_only, db_only = cnn_ext.conv2d_backward(x, W, dout, stride, pad, input_grad=False)
    assert no_dx is None
    assert_array_equal(dW_only, dW)
    assert_array_equal(db_only, db)


@pytest.mark.parametrize("shape, out_channels, filter_h, filter_w, stride, pad", [
    ((2, 2, 5, 6), 3, 3, 3, 1, 1),
    ((1, 3, 7, 5), 2, 2, 4, 2, 0),
    ((3, 1, 4, 4), 4, 5, 5, 1, 2),
])
def test_conv2d_forward_equals_direct_loops(shape, out_channels, filter_h, filter_w, stride, pad, rng):
    x = rng.standard_normal(shape)
    W = rng.standard_normal((out_channels, shape[1], filter_h, filter_w))
    b = rng.standard_normal(out_channels)
    assert_allclose(cnn_ext.conv2d_forward(x, W, b, stride, pad),
                    cross_correlation_loops(x, W, b, stride, pad), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("n_images", [1, 2, 7, 64])
def test_conv2d_results_do_not_depend_on_threads_or_batch_split(n_images, threads, rng):
    x, W, b, stride, pad = conv_problem((n_images, 6, 14, 14, 5, 5, 1, 2), np.float64, rng)
    out = cnn_ext.conv2d_forward(x, W, b, stride, pad)
    dout = rng.standard_normal(out.shape)
    dx, dW, db = cnn_ext.conv2d_backward(x, W, dout, stride, pad)
    # Image by image: every image alone gives its own slice of the batch result.
    for n in range(n_images):
        assert_allclose(cnn_ext.conv2d_forward(x[n:n + 1], W, b, stride, pad), out[n:n + 1],
                        rtol=1e-12, atol=1e-12)
        assert_allclose(cnn_ext.conv2d_backward(x[n:n + 1], W, dout[n:n + 1], stride, pad)[0],
                        dx[n:n + 1], rtol=1e-12, atol=1e-12)
    _, expected_dW, expected_db = reference_conv(x, W, b, stride, pad)[1](dout)
    assert_allclose(dW, expected_dW, rtol=1e-11, atol=1e-11)
    assert_allclose(db, expected_db, rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize("stride, pad", [(1, 0), (2, 1), (1, 3)])
def test_conv2d_gradients_match_finite_differences(stride, pad):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 2, 5, 6))
    W = rng.standard_normal((3, 2, 3, 2))
    b = rng.standard_normal(3)
    projection = rng.standard_normal(cnn_ext.conv2d_forward(x, W, b, stride, pad).shape)
    dx, dW, db = cnn_ext.conv2d_backward(x, W, projection, stride, pad)
    arguments = {"x": x, "W": W, "b": b}
    for name, analytic in (("x", dx), ("W", dW), ("b", db)):
        array = arguments[name]
        numeric = np.zeros_like(array)
        for index in np.ndindex(*array.shape):
            saved = array[index]
            values = []
            for step in (1e-6, -1e-6):
                array[index] = saved + step
                values.append(np.sum(cnn_ext.conv2d_forward(x, W, b, stride, pad) * projection))
            array[index] = saved
            numeric[index] = (values[0] - values[1]) / 2e-6
        assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-7, err_msg=name)


@pytest.mark.parametrize("case", CONV_CASES, ids=conv_id)
def test_unfold_is_the_transposed_im2col_and_fold_its_adjoint(case, dtype, rng):
    n, c, h, w, filter_h, filter_w, stride, pad = case
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    out_h, out_w = out_size(h, filter_h, stride, pad), out_size(w, filter_w, stride, pad)
    entries, pixels = c * filter_h * filter_w, out_h * out_w
    padded = np.empty(c * (h + 2 * pad) * (w + 2 * pad), dtype)
    columns = np.full((n, entries + 1, pixels), np.nan, dtype)
    window = (filter_h, filter_w, stride, stride, pad, pad, pad, pad, 1, 1, out_h, out_w)
    unfold_kernel(x, *window, columns, padded)
    expected = reference.im2col(x, filter_h, filter_w, stride, pad).reshape(n, pixels, entries)
    assert_array_equal(columns[:, :entries], expected.transpose(0, 2, 1))
    assert_array_equal(columns[:, entries], 1)  # the row that carries the bias
    direction = rng.standard_normal((n, entries, pixels)).astype(dtype)
    folded = np.full(x.shape, np.nan, dtype)
    fold_kernel(direction, *window, folded, padded)
    assert_allclose(np.sum(columns[:, :entries] * direction, dtype=np.float64),
                    np.sum(x * folded, dtype=np.float64), **TOLERANCE[dtype])


@st.composite
def conv_engine_problems(draw):
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    n, c, out_channels = draw(st.integers(1, 5)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    h, w = draw(st.integers(1, 12)), draw(st.integers(1, 12))
    pad = draw(st.integers(0, 4))
    filter_h = draw(st.integers(1, h + 2 * pad))
    filter_w = draw(st.integers(1, w + 2 * pad))
    stride = draw(st.integers(1, 4))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    W = rng.standard_normal((out_channels, c, filter_h, filter_w)).astype(dtype)
    b = rng.standard_normal(out_channels).astype(dtype)
    return x, W, b, stride, pad, rng


@settings(max_examples=150, deadline=None)
@given(conv_engine_problems(), st.sampled_from([1, 300, 1 << 20]))
def test_conv2d_engine_property(problem, block_bytes):
    x, W, b, stride, pad, rng = problem
    previous = cnn_ext.engines.unfold.BLOCK_BYTES
    cnn_ext.engines.unfold.BLOCK_BYTES = block_bytes
    try:
        out = cnn_ext.conv2d_forward(x, W, b, stride, pad)
        dout = rng.standard_normal(out.shape).astype(x.dtype)
        got = cnn_ext.conv2d_backward(x, W, dout, stride, pad)
    finally:
        cnn_ext.engines.unfold.BLOCK_BYTES = previous
    expected_out, gradients = reference_conv(x, W, b, stride, pad)
    tolerance = TOLERANCE[x.dtype.type]
    assert_allclose(out, expected_out, **tolerance)
    for value, expected in zip(got, gradients(dout)):
        assert_allclose(value, expected, **tolerance)


def test_conv2d_accepts_views_and_array_likes(rng):
    x = rng.standard_normal((3, 2, 9, 8))[:, :, ::2, ::-1]
    W = rng.standard_normal((4, 2, 3, 3)).transpose(0, 1, 3, 2)
    b = list(rng.standard_normal(4))
    assert_allclose(cnn_ext.conv2d_forward(x, W, b, 1, 1),
                    cnn_ext.conv2d_forward(x.copy(), W.copy(), np.array(b), 1, 1), rtol=0, atol=0)


@pytest.mark.parametrize("case", POOL_CASES, ids=pool_id)
def test_inference_maxpool_equals_maxpool_forward(case, dtype, rng):
    n, c, h, w, pool_h, pool_w, stride, pad = case
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    x[0, 0, 0, :2] = np.nan  # NaN wins, in both the 2x2 fast path and the general loop
    x[-1, -1, -2:, -2:] = 1.5  # ties
    out = cnn_ext.maxpool(x, pool_h, pool_w, stride, pad)
    expected, _ = reference.maxpool_forward(x, pool_h, pool_w, stride, pad)
    assert out.dtype == dtype
    assert_array_equal(out, expected)
    assert_array_equal(out, cnn_ext.maxpool_forward(x, pool_h, pool_w, stride, pad)[0])


def test_two_by_two_maxpool_ties_and_nans_pick_the_first_position():
    # one 2x2 window per channel: ties, NaNs in every position, -inf, a lone maximum last
    windows = np.array([[1, 7, 7, 5], [1, np.nan, np.nan, 5], [np.nan, 2, 3, 4], [1, 2, 3, np.nan],
                        [-np.inf, -np.inf, -np.inf, -np.inf], [0, 0, 0, 9]], dtype=np.float32)
    x = windows.reshape(1, 6, 2, 2)
    out, argmax = cnn_ext.maxpool_forward(x, 2, 2)
    expected_out, expected_argmax = reference.maxpool_forward(x, 2, 2)
    assert_array_equal(out, expected_out)
    assert_array_equal(argmax, expected_argmax)
    assert_array_equal(argmax.ravel(), [1, 1, 0, 3, 0, 3])


@pytest.mark.parametrize("shape", [(7,), (3, 5), (2, 3, 4, 5), (1, 1, 1, 1, 1, 2)])
def test_relu_and_its_backward_equal_numpy(shape, dtype, rng):
    x = rng.standard_normal(shape).astype(dtype)
    x.flat[0] = np.nan
    x.flat[-1] = -np.inf
    out = cnn_ext.relu(x)
    expected = np.where(np.isnan(x), np.nan, np.where(x > 0, x, 0)).astype(dtype)
    assert out.dtype == dtype and out.shape == shape
    assert_array_equal(out, expected)
    dout = rng.standard_normal(shape).astype(dtype)
    assert_array_equal(cnn_ext.relu_backward(dout, out), np.where(out > 0, dout, 0).astype(dtype))
    strided = rng.standard_normal((4, 6)).astype(dtype)[:, ::-2]
    assert_array_equal(cnn_ext.relu(strided), np.maximum(strided, 0))


@pytest.mark.parametrize("shape", [(7,), (2, 3, 4, 5), (1, 1, 1, 1, 1, 2)])
def test_add_relu_is_the_relu_of_the_sum(shape, dtype, rng):
    a = rng.standard_normal(shape).astype(dtype)
    b = rng.standard_normal(shape).astype(dtype)
    a.flat[0], b.flat[-1] = np.nan, -np.inf
    out = cnn_ext.add_relu(a, b)
    total = a + b
    assert out.dtype == dtype and out.shape == shape and out.flags.c_contiguous
    assert_array_equal(out, np.where(np.isnan(total) | (total > 0), total, 0).astype(dtype))
    assert np.isnan(out.flat[0]) and out.flat[-1] == 0
    strided = rng.standard_normal((4, 6)).astype(dtype)[:, ::-2]
    assert_array_equal(cnn_ext.add_relu(strided, strided), np.maximum(2 * strided, 0))


@settings(max_examples=150, deadline=None)
@given(hypothesis_numpy.arrays(st.sampled_from([np.float32, np.float64]),
                               hypothesis_numpy.array_shapes(min_dims=1, max_dims=5, max_side=9)))
def test_relu_property(x):
    """Any values, infinities and NaN included: the kernels agree with NumPy's select."""
    out = cnn_ext.relu(x)
    assert_array_equal(out, np.where(np.isnan(x) | (x > 0), x, 0).astype(x.dtype))
    dout = np.arange(x.size, dtype=x.dtype).reshape(x.shape)
    assert_array_equal(cnn_ext.relu_backward(dout, out), np.where(out > 0, dout, 0).astype(x.dtype))
