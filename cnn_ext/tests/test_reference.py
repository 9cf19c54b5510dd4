"""The NumPy reference against element-by-element loops, so the oracle is checked too."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from cnn_ext import reference
from cnn_ext.tests.naive import im2col_loops, maxpool_backward_loops, maxpool_loops


@pytest.mark.parametrize("shape, filter_h, filter_w, stride, pad", [
    ((2, 3, 6, 7), 3, 2, 1, 1),
    ((1, 2, 5, 5), 5, 5, 1, 0),
    ((2, 1, 9, 8), 3, 3, 2, 2),
    ((1, 2, 4, 6), 2, 4, 3, 1),
])
def test_reference_im2col_and_col2im_match_loops(shape, filter_h, filter_w, stride, pad, dtype, rng, tol):
    x = rng.standard_normal(shape).astype(dtype)
    col = reference.im2col(x, filter_h, filter_w, stride, pad)
    assert_array_equal(col, im2col_loops(x, filter_h, filter_w, stride, pad))
    # col2im is the transpose of the linear map im2col: <im2col(x), c> == <x, col2im(c)>.
    direction = rng.standard_normal(col.shape).astype(dtype)
    folded = reference.col2im(direction, shape, filter_h, filter_w, stride, pad)
    assert_allclose(np.sum(col * direction, dtype=np.float64),
                    np.sum(x * folded, dtype=np.float64), **tol)


@pytest.mark.parametrize("shape, pool_h, pool_w, stride, pad", [
    ((2, 2, 6, 7), 2, 2, None, 0),
    ((1, 3, 7, 7), 3, 3, 2, 1),
    ((2, 1, 5, 6), 3, 2, 1, 1),
])
def test_reference_maxpool_matches_loops(shape, pool_h, pool_w, stride, pad, dtype, rng, tol):
    x = rng.standard_normal(shape).astype(dtype) - 3
    out, argmax = reference.maxpool_forward(x, pool_h, pool_w, stride, pad)
    stride_h, stride_w = (pool_h, pool_w) if stride is None else (stride, stride)
    expected_out, expected_argmax = maxpool_loops(x, pool_h, pool_w, stride_h, stride_w, pad)
    assert_array_equal(out, expected_out)
    assert_array_equal(argmax, expected_argmax)
    dout = rng.standard_normal(out.shape).astype(dtype)
    assert_allclose(reference.maxpool_backward(dout, argmax, shape, pool_h, pool_w, stride, pad),
                    maxpool_backward_loops(dout, argmax, shape), **tol)
