"""The compiled kernels against the NumPy reference, over shapes, strides, pads and dtypes."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import cnn_ext
from cnn_ext import reference

# (N, C, H, W, filter_h, filter_w, stride, pad)
CONV_CASES = [
    (1, 1, 5, 5, 3, 3, 1, 0),
    (2, 3, 7, 9, 3, 4, 1, 1),
    (3, 2, 8, 6, 2, 5, 2, 2),
    (1, 4, 9, 9, 3, 3, 3, 1),
    (2, 1, 6, 10, 5, 5, 1, 2),
    (4, 3, 5, 7, 5, 7, 1, 0),  # filter equal to the input: one output pixel
    (2, 2, 3, 3, 5, 5, 1, 1),  # filter equal to the padded input
    (1, 2, 11, 4, 1, 1, 2, 0),
    (2, 6, 14, 14, 5, 5, 1, 2),  # LeNet conv2
    (1, 2, 5, 8, 4, 2, 3, 2),
    (1, 1, 1, 1, 1, 1, 1, 2),  # padding wider than the filter: whole windows of zeros
    (2, 1, 2, 3, 2, 1, 1, 2),
]

# (N, C, H, W, pool_h, pool_w, stride, pad); stride None means the pool size
POOL_CASES = [
    (1, 1, 4, 4, 2, 2, None, 0),
    (2, 3, 7, 9, 2, 2, None, 0),  # odd sizes: the last row and column are dropped
    (2, 2, 8, 8, 3, 3, 2, 1),  # overlapping windows with padding
    (1, 3, 6, 7, 3, 2, 1, 1),  # stride 1: heavy overlap, non-square window
    (3, 2, 9, 5, 3, 3, 3, 0),
    (2, 6, 28, 28, 2, 2, 2, 0),  # LeNet pool1
    (1, 1, 5, 5, 5, 5, None, 2),  # window equal to the input, padding around it
    (2, 2, 10, 7, 4, 3, None, 1),
]


def conv_id(case):
    n, c, h, w, fh, fw, s, p = case
    return f"x{n}x{c}x{h}x{w}-f{fh}x{fw}-s{s}-p{p}"


def pool_id(case):
    n, c, h, w, ph, pw, s, p = case
    return f"x{n}x{c}x{h}x{w}-k{ph}x{pw}-s{s}-p{p}"


@pytest.mark.parametrize("case", CONV_CASES, ids=conv_id)
def test_im2col_equals_reference(case, dtype, rng):
    n, c, h, w, fh, fw, stride, pad = case
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    col = cnn_ext.im2col(x, fh, fw, stride, pad)
    assert col.dtype == dtype
    assert col.flags.c_contiguous
    assert_array_equal(col, reference.im2col(x, fh, fw, stride, pad))


@pytest.mark.parametrize("case", CONV_CASES, ids=conv_id)
def test_col2im_equals_reference(case, dtype, rng, tol):
    n, c, h, w, fh, fw, stride, pad = case
    col_shape = cnn_ext.im2col(np.zeros((n, c, h, w), dtype), fh, fw, stride, pad).shape
    col = rng.standard_normal(col_shape).astype(dtype)
    x = cnn_ext.col2im(col, (n, c, h, w), fh, fw, stride, pad)
    assert x.dtype == dtype
    assert x.shape == (n, c, h, w)
    assert x.flags.c_contiguous
    assert_allclose(x, reference.col2im(col, (n, c, h, w), fh, fw, stride, pad), **tol)


@pytest.mark.parametrize("case", CONV_CASES, ids=conv_id)
def test_col2im_is_the_adjoint_of_im2col(case, dtype, rng, tol):
    n, c, h, w, fh, fw, stride, pad = case
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    col = cnn_ext.im2col(x, fh, fw, stride, pad)
    direction = rng.standard_normal(col.shape).astype(dtype)
    lhs = np.sum(col.astype(np.float64) * direction)
    rhs = np.sum(x.astype(np.float64) * cnn_ext.col2im(direction, x.shape, fh, fw, stride, pad))
    assert_allclose(lhs, rhs, **tol)


def test_col2im_sums_overlapping_windows(dtype):
    # A 3x3 filter with stride 1 over a 4x4 image: each pixel is covered by as many
    # windows as the overlap count, so folding a matrix of ones counts the windows.
    ones = np.ones(cnn_ext.im2col(np.zeros((1, 1, 4, 4), dtype), 3, 3).shape, dtype)
    counts = cnn_ext.col2im(ones, (1, 1, 4, 4), 3, 3)
    expected = np.array([[1, 2, 2, 1], [2, 4, 4, 2], [2, 4, 4, 2], [1, 2, 2, 1]], dtype)
    assert_array_equal(counts[0, 0], expected)


@pytest.mark.parametrize("case", POOL_CASES, ids=pool_id)
def test_maxpool_forward_equals_reference(case, dtype, rng):
    n, c, h, w, ph, pw, stride, pad = case
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    out, argmax = cnn_ext.maxpool_forward(x, ph, pw, stride, pad)
    expected_out, expected_argmax = reference.maxpool_forward(x, ph, pw, stride, pad)
    assert out.dtype == dtype
    assert argmax.dtype == np.intp
    assert out.flags.c_contiguous and argmax.flags.c_contiguous
    assert_array_equal(out, expected_out)
    assert_array_equal(argmax, expected_argmax)


@pytest.mark.parametrize("case", POOL_CASES, ids=pool_id)
def test_maxpool_backward_equals_reference(case, dtype, rng, tol):
    n, c, h, w, ph, pw, stride, pad = case
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    out, argmax = cnn_ext.maxpool_forward(x, ph, pw, stride, pad)
    dout = rng.standard_normal(out.shape).astype(dtype)
    dx = cnn_ext.maxpool_backward(dout, argmax, x.shape, ph, pw, stride, pad)
    assert dx.dtype == dtype
    assert dx.shape == x.shape
    assert_allclose(dx, reference.maxpool_backward(dout, argmax, x.shape, ph, pw, stride, pad), **tol)


def test_maxpool_backward_adds_overlapping_contributions(dtype):
    # One large pixel wins all four overlapping 2x2 windows (stride 1) around it.
    x = np.zeros((1, 1, 3, 3), dtype)
    x[0, 0, 1, 1] = 5
    out, argmax = cnn_ext.maxpool_forward(x, 2, 2, stride=1)
    assert_array_equal(argmax, np.full((1, 1, 2, 2), 4))
    dout = np.array([[[[1, 2], [3, 4]]]], dtype)
    dx = cnn_ext.maxpool_backward(dout, argmax, x.shape, 2, 2, stride=1)
    expected = np.zeros((1, 1, 3, 3), dtype)
    expected[0, 0, 1, 1] = 10
    assert_array_equal(dx, expected)


def test_maxpool_padding_never_wins_on_negative_input(dtype, rng):
    x = -1 - rng.random((2, 3, 5, 5)).astype(dtype)
    out, argmax = cnn_ext.maxpool_forward(x, 3, 3, stride=2, pad=1)
    assert np.all(out < 0)
    assert_array_equal(out, reference.maxpool_forward(x, 3, 3, 2, 1)[0])
    # The winners are real pixels: reading them back through argmax gives out.
    planes = x.reshape(2, 3, 25)
    assert_array_equal(np.take_along_axis(planes, argmax.reshape(2, 3, -1), -1).reshape(out.shape), out)


def test_maxpool_ties_go_to_the_first_maximum(dtype):
    x = np.ones((1, 1, 4, 4), dtype)
    _, argmax = cnn_ext.maxpool_forward(x, 2, 2)
    assert_array_equal(argmax[0, 0], [[0, 2], [8, 10]])


def test_maxpool_all_minus_infinity_window_picks_a_real_pixel(dtype):
    x = np.full((1, 1, 3, 3), -np.inf, dtype)
    out, argmax = cnn_ext.maxpool_forward(x, 2, 2, stride=2, pad=1)
    assert np.all(out == -np.inf)
    assert_array_equal(argmax[0, 0], [[0, 1], [3, 4]])
    assert_array_equal(argmax, reference.maxpool_forward(x, 2, 2, 2, 1)[1])


def test_maxpool_nan_wins_like_numpy_argmax(dtype):
    x = np.array([[[[1.0, np.nan], [np.nan, 3.0]]]], dtype)
    out, argmax = cnn_ext.maxpool_forward(x, 2, 2)
    assert np.isnan(out[0, 0, 0, 0])
    assert argmax[0, 0, 0, 0] == np.argmax(x.ravel()) == 1


@pytest.mark.parametrize("make_view", [
    lambda a: a[:, :, ::2, ::3],
    lambda a: a.transpose(0, 1, 3, 2),
    lambda a: a[::-1, :, :, ::-1],
], ids=["strided", "transposed", "reversed"])
def test_non_contiguous_input_gives_the_result_of_its_copy(make_view, dtype, rng):
    view = make_view(rng.standard_normal((2, 3, 12, 12)).astype(dtype))
    assert not view.flags.c_contiguous
    copy = np.ascontiguousarray(view)
    assert_array_equal(cnn_ext.im2col(view, 3, 2, 1, 1), cnn_ext.im2col(copy, 3, 2, 1, 1))
    out_view, argmax_view = cnn_ext.maxpool_forward(view, 2, 2)
    out_copy, argmax_copy = cnn_ext.maxpool_forward(copy, 2, 2)
    assert_array_equal(out_view, out_copy)
    assert_array_equal(argmax_view, argmax_copy)
    col = cnn_ext.im2col(copy, 3, 2, 1, 1)
    col_view = np.asfortranarray(col)
    assert_array_equal(cnn_ext.col2im(col_view, copy.shape, 3, 2, 1, 1),
                       cnn_ext.col2im(col, copy.shape, 3, 2, 1, 1))
    dout = rng.standard_normal(out_copy.shape).astype(dtype)
    assert_array_equal(
        cnn_ext.maxpool_backward(dout[..., ::-1].copy()[..., ::-1], argmax_copy, copy.shape, 2, 2),
        cnn_ext.maxpool_backward(dout, argmax_copy, copy.shape, 2, 2),
    )


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_results_do_not_depend_on_the_thread_count(threads, dtype, rng, tol):
    # Large enough that every kernel splits the 9 images between the threads.
    x = rng.standard_normal((9, 4, 64, 64)).astype(dtype)
    col = cnn_ext.im2col(x, 5, 5, 1, 2)
    out, argmax = cnn_ext.maxpool_forward(x, 3, 3, 2, 1)
    dout = rng.standard_normal(out.shape).astype(dtype)
    previous = cnn_ext.get_num_threads()
    cnn_ext.set_num_threads(threads)
    try:
        assert_array_equal(cnn_ext.im2col(x, 5, 5, 1, 2), reference.im2col(x, 5, 5, 1, 2))
        assert_allclose(cnn_ext.col2im(col, x.shape, 5, 5, 1, 2),
                        reference.col2im(col, x.shape, 5, 5, 1, 2), **tol)
        threaded_out, threaded_argmax = cnn_ext.maxpool_forward(x, 3, 3, 2, 1)
        assert_array_equal(threaded_out, out)
        assert_array_equal(threaded_argmax, argmax)
        assert_allclose(cnn_ext.maxpool_backward(dout, argmax, x.shape, 3, 3, 2, 1),
                        reference.maxpool_backward(dout, argmax, x.shape, 3, 3, 2, 1), **tol)
    finally:
        cnn_ext.set_num_threads(previous)


def test_set_num_threads_checks_its_argument():
    with pytest.raises(ValueError, match="threads"):
        cnn_ext.set_num_threads(0)
    with pytest.raises(TypeError, match="threads"):
        cnn_ext.set_num_threads(2.0)
