"""Fuzzing the kernels: random shapes at the edges (1x1 images, one-pixel outputs, large strides
and pads, windows equal to the padded input), both dtypes, and strided or reversed views."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

import cnn_ext
from cnn_ext import reference

FUZZ_EXAMPLES = 300
TOLERANCE = {np.float32: dict(rtol=1e-5, atol=1e-5), np.float64: dict(rtol=1e-12, atol=1e-12)}


@st.composite
def views(draw, max_side=9):
    """A float array (N, C, H, W), often a strided, transposed or reversed view of a larger one."""
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    shape = (draw(st.integers(1, 3)), draw(st.integers(1, 3)),
             draw(st.integers(1, max_side)), draw(st.integers(1, max_side)))
    steps = [draw(st.sampled_from([1, 2, -1, -2])) for _ in range(4)]
    base_shape = tuple(size * abs(step) for size, step in zip(shape, steps))
    seed = draw(st.integers(0, 2**32 - 1))
    base = np.random.default_rng(seed).standard_normal(base_shape).astype(dtype)
    view = base[tuple(slice(None, None, step) for step in steps)]
    if draw(st.booleans()) and shape[2] == shape[3]:
        view = view.transpose(0, 1, 3, 2)
    return view


@st.composite
def conv_problems(draw):
    x = draw(views())
    height, width = x.shape[2:]
    pad = draw(st.integers(0, 6))
    # Windows from 1x1 up to the whole padded input; strides up to larger than the input.
    filter_h = draw(st.integers(1, height + 2 * pad))
    filter_w = draw(st.integers(1, width + 2 * pad))
    stride = draw(st.integers(1, 12))
    return x, filter_h, filter_w, stride, pad


@st.composite
def pool_problems(draw):
    x = draw(views())
    height, width = x.shape[2:]
    pool_h = draw(st.integers(1, height + 2))
    pool_w = draw(st.integers(1, width + 2))
    pad = draw(st.integers(0, min(pool_h, pool_w) // 2))
    pool_h, pool_w = min(pool_h, height + 2 * pad), min(pool_w, width + 2 * pad)
    stride = draw(st.one_of(st.none(), st.integers(1, 12)))
    return x, pool_h, pool_w, stride, pad


@settings(max_examples=FUZZ_EXAMPLES, deadline=None)
@given(conv_problems())
def test_fuzz_im2col_col2im(problem):
    x, filter_h, filter_w, stride, pad = problem
    col = cnn_ext.im2col(x, filter_h, filter_w, stride, pad)
    assert_array_equal(col, reference.im2col(np.ascontiguousarray(x), filter_h, filter_w, stride, pad))
    direction = np.random.default_rng(0).standard_normal(col.shape).astype(x.dtype)
    folded = cnn_ext.col2im(np.asfortranarray(direction), x.shape, filter_h, filter_w, stride, pad)
    assert_allclose(folded, reference.col2im(direction, x.shape, filter_h, filter_w, stride, pad),
                    **TOLERANCE[x.dtype.type])


@settings(max_examples=FUZZ_EXAMPLES, deadline=None)
@given(pool_problems())
def test_fuzz_maxpool(problem):
    x, pool_h, pool_w, stride, pad = problem
    out, argmax = cnn_ext.maxpool_forward(x, pool_h, pool_w, stride, pad)
    expected_out, expected_argmax = reference.maxpool_forward(np.ascontiguousarray(x), pool_h, pool_w,
                                                              stride, pad)
    assert_array_equal(out, expected_out)
    assert_array_equal(argmax, expected_argmax)
    dout = np.random.default_rng(1).standard_normal(out.shape).astype(x.dtype)[..., ::-1]
    assert_allclose(cnn_ext.maxpool_backward(dout, argmax, x.shape, pool_h, pool_w, stride, pad),
                    reference.maxpool_backward(dout, argmax, x.shape, pool_h, pool_w, stride, pad),
                    **TOLERANCE[x.dtype.type])
