"""Property tests: random shapes, strides and pads, compiled kernels against the reference."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

import cnn_ext
from cnn_ext import reference

TOLERANCE = {np.float32: dict(rtol=1e-5, atol=1e-5), np.float64: dict(rtol=1e-12, atol=1e-12)}


@st.composite
def conv_problems(draw):
    """Images plus a window geometry that fits: (x, filter_h, filter_w, stride, pad)."""
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    n, c = draw(st.integers(1, 3)), draw(st.integers(1, 4))
    h, w = draw(st.integers(1, 12)), draw(st.integers(1, 12))
    pad = draw(st.integers(0, 3))
    filter_h = draw(st.integers(1, h + 2 * pad))
    filter_w = draw(st.integers(1, w + 2 * pad))
    stride = draw(st.integers(1, 4))
    seed = draw(st.integers(0, 2**32 - 1))
    x = np.random.default_rng(seed).standard_normal((n, c, h, w)).astype(dtype)
    return x, filter_h, filter_w, stride, pad


@st.composite
def pool_problems(draw):
    """Images plus a pooling geometry that fits: (x, pool_h, pool_w, stride, pad)."""
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    n, c = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    h, w = draw(st.integers(1, 12)), draw(st.integers(1, 12))
    pool_h = draw(st.integers(1, min(h + 2, 5)))
    pool_w = draw(st.integers(1, min(w + 2, 5)))
    pad = draw(st.integers(0, min(pool_h, pool_w) // 2))
    pool_h, pool_w = min(pool_h, h + 2 * pad), min(pool_w, w + 2 * pad)
    stride = draw(st.one_of(st.none(), st.integers(1, 4)))
    seed = draw(st.integers(0, 2**32 - 1))
    x = np.random.default_rng(seed).standard_normal((n, c, h, w)).astype(dtype)
    # Small integers make ties common, so the tie-breaking rule is exercised too.
    if draw(st.booleans()):
        x = np.round(x * 2).astype(dtype)
    return x, pool_h, pool_w, stride, pad


@settings(max_examples=150, deadline=None)
@given(conv_problems())
def test_im2col_and_col2im_match_reference(problem):
    x, filter_h, filter_w, stride, pad = problem
    col = cnn_ext.im2col(x, filter_h, filter_w, stride, pad)
    assert_array_equal(col, reference.im2col(x, filter_h, filter_w, stride, pad))
    direction = np.random.default_rng(0).standard_normal(col.shape).astype(x.dtype)
    folded = cnn_ext.col2im(direction, x.shape, filter_h, filter_w, stride, pad)
    assert_allclose(folded, reference.col2im(direction, x.shape, filter_h, filter_w, stride, pad),
                    **TOLERANCE[x.dtype.type])


@settings(max_examples=150, deadline=None)
@given(pool_problems())
def test_maxpool_matches_reference(problem):
    x, pool_h, pool_w, stride, pad = problem
    out, argmax = cnn_ext.maxpool_forward(x, pool_h, pool_w, stride, pad)
    expected_out, expected_argmax = reference.maxpool_forward(x, pool_h, pool_w, stride, pad)
    assert_array_equal(out, expected_out)
    assert_array_equal(argmax, expected_argmax)
    assert_array_equal(cnn_ext.maxpool(x, pool_h, pool_w, stride, pad), expected_out)
    dout = np.random.default_rng(1).standard_normal(out.shape).astype(x.dtype)
    assert_allclose(cnn_ext.maxpool_backward(dout, argmax, x.shape, pool_h, pool_w, stride, pad),
                    reference.maxpool_backward(dout, argmax, x.shape, pool_h, pool_w, stride, pad),
                    **TOLERANCE[x.dtype.type])
