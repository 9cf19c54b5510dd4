"""The batch-normalization kernels against a float64 reference written with plain loops over the
channels: feature vectors and images, odd sizes, one sample, one channel, a mean far from zero
(where statistics taken naively lose float32's digits), given statistics (inference), the
gradients against finite differences, the split over threads, and the refusal of bad input."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

import cnn_ext
from cnn_ext import batchnorm_backward, batchnorm_forward

SHAPES = [(7, 3), (1, 5), (6, 1), (5, 4, 3, 5), (2, 3, 9, 7), (3, 2, 1, 1), (4, 17, 11, 13)]
# Relative to the result's largest value: float32 rounding over a few thousand values, float64's.
RELATIVE = {np.float32: 2e-6, np.float64: 1e-13}


def reference(x, gamma, beta, eps, dout, mean=None, var=None):
    """out, mean, var, dx, dgamma, dbeta in float64, one channel at a time."""
    x, dout = x.astype(np.float64), dout.astype(np.float64)
    channels = x.shape[1]
    out, dx = np.empty_like(x), np.empty_like(x)
    means, variances, dgamma, dbeta = (np.empty(channels) for _ in range(4))
    for c in range(channels):
        values, gradient = x[:, c].ravel(), dout[:, c].ravel()
        count = values.size
        means[c] = values.sum() / count if mean is None else mean[c]
        variances[c] = ((values - means[c]) ** 2).sum() / count if var is None else var[c]
        std = np.sqrt(variances[c] + eps)
        normalized = (values - means[c]) / std
        out[:, c] = (gamma[c] * normalized + beta[c]).reshape(out[:, c].shape)
        dbeta[c] = gradient.sum()
        dgamma[c] = (gradient * normalized).sum()
        dx[:, c] = (gamma[c] / std * (gradient - dbeta[c] / count - normalized * dgamma[c] / count)
                    ).reshape(dx[:, c].shape)
    return out, means, variances, dx, dgamma, dbeta


def problem(shape, dtype, rng, offset=0.0):
    x = (rng.standard_normal(shape) * 2 + offset).astype(dtype)
    gamma = rng.standard_normal(shape[1]).astype(dtype)
    beta = rng.standard_normal(shape[1]).astype(dtype)
    dout = rng.standard_normal(shape).astype(dtype)
    return x, gamma, beta, dout


def assert_close(got, expected, name, dtype, scale=None, rounded_mean=0.0):
    """Within RELATIVE of ``scale``, the largest term the result is a sum of (by default the
    result's largest value), plus ``rounded_mean`` times the dtype's rounding of the mean."""
    assert got.dtype == dtype and got.shape == expected.shape, name
    scale = max(float(np.abs(expected).max()) if scale is None else scale, 1.0)
    atol = RELATIVE[dtype] * scale + np.finfo(dtype).eps * rounded_mean
    assert_allclose(got, expected, rtol=0, atol=atol, err_msg=name)


@pytest.mark.parametrize("offset", [0.0, 1000.0], ids=["centred", "mean-1000"])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_training_forward_and_backward_equal_the_reference(shape, offset, dtype, rng):
    x, gamma, beta, dout = problem(shape, dtype, rng, offset)
    out, mean, var = batchnorm_forward(x, gamma, beta, 1e-5)
    dx, dgamma, dbeta = batchnorm_backward(dout, x, gamma, mean, var, 1e-5)
    expected = reference(x, gamma, beta, 1e-5, dout)
    # The mean is rounded to the dtype, so x - mean errs by a rounding of the mean, which the
    # normalization divides by the spread (out) and dgamma sums against dout; dx is a difference
    # of terms as large as gamma / std * dout (with one sample per channel they cancel to zero).
    std = np.sqrt(expected[2] + 1e-5)
    mean_over_std = np.abs(expected[1]) / std
    dout_sums = np.abs(dout.sum(axis=(0, 2, 3) if dout.ndim == 4 else 0))
    dx_scale = 3 * float(np.max(np.abs(gamma) / std)) * float(np.abs(dout).max())
    bounds = [(None, 2 * float(np.max(np.abs(gamma) * mean_over_std))), (None, 0), (None, 0),
              (dx_scale, 2 * dx_scale * float(mean_over_std.max())),
              (None, 2 * float(np.max(mean_over_std * dout_sums))), (None, 0)]
    for name, got, want, (scale, rounded_mean) in zip(
            ("out", "mean", "var", "dx", "dgamma", "dbeta"), (out, mean, var, dx, dgamma, dbeta),
            expected, bounds):
        assert_close(got, want, name, dtype, scale, rounded_mean)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_inference_normalizes_by_the_given_statistics(shape, dtype, rng):
    x, gamma, beta, dout = problem(shape, dtype, rng)
    mean = rng.standard_normal(shape[1]).astype(dtype)
    var = rng.uniform(0.5, 2.0, shape[1]).astype(dtype)
    out, used_mean, used_var = batchnorm_forward(x, gamma, beta, 0.01, mean, var)
    assert used_mean is mean or np.array_equal(used_mean, mean)
    np.testing.assert_array_equal(used_var, var)
    assert_close(out, reference(x, gamma, beta, 0.01, dout, mean, var)[0], "out", dtype)


@pytest.mark.parametrize("shape", [(4, 3), (3, 2, 3, 4)], ids=str)
def test_gradients_agree_with_finite_differences(shape, rng):
    x, gamma, beta, dout = problem(shape, np.float64, rng)
    out, mean, var = batchnorm_forward(x, gamma, beta, 1e-3)
    dx, dgamma, dbeta = batchnorm_backward(dout, x, gamma, mean, var, 1e-3)

    def loss(x_, gamma_, beta_):
        return float(np.sum(batchnorm_forward(x_, gamma_, beta_, 1e-3)[0] * dout))

    for name, array, analytic in (("x", x, dx), ("gamma", gamma, dgamma), ("beta", beta, dbeta)):
        numeric = np.zeros_like(array)
        for index in np.ndindex(array.shape):
            saved = array[index]
            array[index] = saved + 1e-6
            above = loss(x, gamma, beta)
            array[index] = saved - 1e-6
            below = loss(x, gamma, beta)
            array[index] = saved
            numeric[index] = (above - below) / 2e-6
        assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-7, err_msg=name)


@pytest.mark.parametrize("threads", [1, 2])
def test_results_do_not_depend_on_the_split_over_threads(threads, dtype, rng):
    x, gamma, beta, dout = problem((8, 9, 30, 30), dtype, rng)
    previous = cnn_ext.get_num_threads()
    try:
        cnn_ext.set_num_threads(threads)
        out, mean, var = batchnorm_forward(x, gamma, beta)
        gradients = batchnorm_backward(dout, x, gamma, mean, var)
    finally:
        cnn_ext.set_num_threads(previous)
    for c in range(9):  # each channel alone gives its slice
        one = slice(c, c + 1)
        alone, alone_mean, alone_var = batchnorm_forward(x[:, one], gamma[one], beta[one])
        np.testing.assert_array_equal(alone, out[:, one])
        np.testing.assert_array_equal(alone_var, var[one])
        alone_gradients = batchnorm_backward(dout[:, one], x[:, one], gamma[one], alone_mean,
                                             alone_var)
        for got, whole in zip(alone_gradients, gradients):
            np.testing.assert_array_equal(got, whole[:, one] if whole.ndim == 4 else whole[one])


def test_a_constant_channel_normalizes_to_beta_and_passes_no_gradient(dtype):
    x = np.full((4, 2, 3, 3), 7.0, dtype)
    gamma, beta = np.array([2.0, 3.0], dtype), np.array([0.5, -1.0], dtype)
    out, mean, var = batchnorm_forward(x, gamma, beta)
    assert np.all(var == 0) and np.all(mean == 7)
    np.testing.assert_array_equal(out[:, 0], 0.5)
    dx, dgamma, _ = batchnorm_backward(np.ones_like(x), x, gamma, mean, var)
    np.testing.assert_array_equal(dx, 0)
    np.testing.assert_array_equal(dgamma, 0)


@pytest.mark.parametrize("call, message", [
    (lambda x, g: batchnorm_forward(x[0], g, g), r"x must be a 2-D array \(N, C\) or a 4-D array"),
    (lambda x, g: batchnorm_forward(x.astype(np.int32), g, g),
     "x must have dtype float32 or float64"),
    (lambda x, g: batchnorm_forward(x, g[:2], g),
     r"gamma must have shape \(3,\) and dtype float64, got shape \(2,\)"),
    (lambda x, g: batchnorm_forward(x, g, g.astype(np.float32)),
     "beta must have shape .* and dtype float64, got .* float32"),
    (lambda x, g: batchnorm_forward(x, g, g, -1.0), "eps must be a finite number >= 0, got -1.0"),
    (lambda x, g: batchnorm_forward(x, g, g, 1e-5, g), "mean and var must be given together"),
    (lambda x, g: batchnorm_forward(x, g, g, 0.0, g, -g * g), "var \\+ eps must be positive"),
    (lambda x, g: batchnorm_backward(x[:1], x, g, g, g),
     r"dout must have the shape \(2, 3, 4, 4\)"),
])
def test_bad_input_is_refused_by_name(call, message):
    x = np.ones((2, 3, 4, 4))
    with pytest.raises((TypeError, ValueError), match=message):
        call(x, np.ones(3))


def test_the_fused_relu_is_the_relu_of_the_output(dtype, rng):
    x, gamma, beta, _ = problem((3, 4, 5, 6), dtype, rng)
    x[0, 1, 2, 3] = np.nan  # a NaN stays NaN through the activation
    for statistics in ((), (np.zeros(4, dtype), np.ones(4, dtype))):
        plain, mean, var = batchnorm_forward(x, gamma, beta, 1e-5, *statistics)
        fused, fused_mean, fused_var = batchnorm_forward(x, gamma, beta, 1e-5, *statistics,
                                                         relu=True)
        np.testing.assert_array_equal(fused, np.where(plain <= 0, 0, plain))
        assert np.isnan(fused).sum() == np.isnan(plain).sum() > 0
        np.testing.assert_array_equal(fused_mean, mean)
        np.testing.assert_array_equal(fused_var, var)
