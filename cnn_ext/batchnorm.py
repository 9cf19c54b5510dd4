"""Batch normalization of each channel (feature) over the batch and, for images, the spatial
axes: validate, allocate, then call the compiled loops (``cnn_ext/loops/batchnorm.pyx``), the
threads sharing the channels out.

Training normalizes by the batch's statistics, inference by given ones; the backward pass
needs only the input and the statistics, so a layer keeps no normalized copy of its input.
"""

from __future__ import annotations

import numpy as np

from cnn_ext._checks import check_float_array
from cnn_ext.loops import batchnorm as loops
from cnn_ext.runtime.threads import for_image_slices

__all__ = ["batchnorm_forward", "batchnorm_backward"]


def _as_channels(name: str, x) -> np.ndarray:
    """``x`` checked and seen as (N, C, S): S = H * W for images, 1 for feature vectors."""
    x = check_float_array(name, x, None, "(N, C) or (N, C, H, W)")
    if x.ndim not in (2, 4):
        raise ValueError(f"{name} must be a 2-D array (N, C) or a 4-D array (N, C, H, W), got "
                         f"an array of shape {x.shape}")
    return x.reshape(x.shape[0], x.shape[1], -1)


def _per_channel(name: str, value, channels: int, dtype: np.dtype) -> np.ndarray:
    """``value`` checked to be a vector of ``channels`` values of ``dtype``."""
    array = check_float_array(name, value, 1, f"({channels},)")
    if array.shape != (channels,) or array.dtype != dtype:
        raise ValueError(f"{name} must have shape ({channels},) and dtype {dtype}, got shape "
                         f"{array.shape} and dtype {array.dtype}")
    return array


def _check_eps(eps) -> float:
    if isinstance(eps, bool) or not isinstance(eps, (int, float, np.floating, np.integer)) \
            or not eps >= 0 or not np.isfinite(eps):
        raise ValueError(f"eps must be a finite number >= 0, got {eps!r}")
    return float(eps)


def _over_channels(channels: int, elements: int, work) -> None:
    """``work(start, stop)`` over slices of the channels, in parallel where it pays."""
    for_image_slices(channels, elements, work)


def batchnorm_forward(x, gamma, beta, eps: float = 1e-5, mean=None, var=None,
                      relu: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Normalize each channel of ``x``, then scale by ``gamma`` and shift by ``beta``.

    Args:
        x: features (N, C) or images (N, C, H, W), float32 or float64.
        gamma: the scale, shape (C,), the dtype of ``x``.
        beta: the shift, shape (C,), the dtype of ``x``.
        eps: added to the variance before its square root (>= 0).
        mean: the mean to normalize by, shape (C,), the dtype of ``x``; give ``mean`` and ``var``
            together (inference), or neither, to use the batch's own statistics (training).
        var: the variance to normalize by, likewise.
        relu: return ``max(out, 0)`` instead (a NaN stays NaN), computed as it is written.

    Returns:
        ``(out, mean, var)``: ``out = gamma * (x - mean) / sqrt(var + eps) + beta``, the shape
        and dtype of ``x``, with the statistics it used, shape (C,), the dtype of ``x``; the
        batch's are taken over N (and H, W), the variance the biased one.

    Example:
        >>> x = np.array([[1.0, 10.0], [3.0, 30.0]])
        >>> out, mean, var = batchnorm_forward(x, np.ones(2), np.zeros(2), eps=0.0)
        >>> out.tolist(), mean.tolist(), var.tolist()
        ([[-1.0, -1.0], [1.0, 1.0]], [2.0, 20.0], [1.0, 100.0])
    """
    shape = np.shape(x)
    x = _as_channels("x", x)
    channels, dtype = x.shape[1], x.dtype
    gamma = _per_channel("gamma", gamma, channels, dtype)
    beta = _per_channel("beta", beta, channels, dtype)
    eps = _check_eps(eps)
    if (mean is None) != (var is None):
        raise ValueError("mean and var must be given together (inference) or both be None "
                         f"(training), got mean {'None' if mean is None else 'given'} and var "
                         f"{'None' if var is None else 'given'}")
    if mean is None:
        batch_mean, batch_var = np.empty(channels), np.empty(channels)
        _over_channels(channels, x.size, lambda start, stop: loops.channel_statistics(
            x, batch_mean, batch_var, start, stop))
        mean, var = batch_mean.astype(dtype), batch_var.astype(dtype)
    else:
        mean = _per_channel("mean", mean, channels, dtype)
        var = _per_channel("var", var, channels, dtype)
        bad = np.flatnonzero(~(var + eps > 0))
        if bad.size:
            raise ValueError(f"var + eps must be positive in every channel, got var[{bad[0]}] = "
                             f"{var[bad[0]]} with eps={eps} ({bad.size} such channels)")
    scale = (gamma / np.sqrt(var + dtype.type(eps))).astype(dtype)
    out = np.empty_like(x)
    _over_channels(channels, x.size, lambda start, stop: loops.normalize(
        x, mean, scale, beta, bool(relu), out, start, stop))
    return out.reshape(shape), mean, var


def batchnorm_backward(dout, x, gamma, mean, var,
                       eps: float = 1e-5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of a training :func:`batchnorm_forward` with respect to x, gamma and beta.

    Args:
        dout: gradient of the output, the shape and dtype of ``x``.
        x: the input of the forward pass, (N, C) or (N, C, H, W).
        gamma: the scale, shape (C,).
        mean: the batch mean the forward pass returned, shape (C,).
        var: the batch variance the forward pass returned, shape (C,).
        eps: as given to the forward pass.

    Returns:
        ``(dx, dgamma, dbeta)``: dx the shape of ``x``, the others (C,), all of ``x``'s dtype.
        With ``M`` values per channel and ``x̂ = (x - mean) / sqrt(var + eps)``:
        ``dbeta = Σ dout``, ``dgamma = Σ dout·x̂`` and
        ``dx = gamma / sqrt(var + eps) · (dout - dbeta / M - x̂ · dgamma / M)``.

    Example:
        >>> x = np.array([[1.0], [3.0]])
        >>> out, mean, var = batchnorm_forward(x, np.ones(1), np.zeros(1), eps=0.0)
        >>> dout = np.array([[1.0], [1.0]])
        >>> dx, dgamma, dbeta = batchnorm_backward(dout, x, np.ones(1), mean, var, eps=0.0)
        >>> dx.tolist(), dgamma.tolist(), dbeta.tolist()  # a shift of every value changes nothing
        ([[0.0], [0.0]], [0.0], [2.0])
    """
    shape = np.shape(x)
    x = _as_channels("x", x)
    channels, dtype = x.shape[1], x.dtype
    dout = check_float_array("dout", dout, None, "the shape of x")
    if dout.shape != shape or dout.dtype != dtype:
        raise ValueError(f"dout must have the shape {shape} and dtype {dtype} of x, got shape "
                         f"{dout.shape} and dtype {dout.dtype}")
    dout = dout.reshape(x.shape)
    gamma = _per_channel("gamma", gamma, channels, dtype)
    mean = _per_channel("mean", mean, channels, dtype)
    var = _per_channel("var", var, channels, dtype)
    eps = _check_eps(eps)
    dout_sum, dout_centred = np.empty(channels), np.empty(channels)
    _over_channels(channels, x.size, lambda start, stop: loops.gradient_sums(
        dout, x, mean, dout_sum, dout_centred, start, stop))
    count = x.shape[0] * x.shape[2]
    inv_std = 1.0 / np.sqrt(var.astype(np.float64) + eps)
    dgamma = dout_centred * inv_std
    dout_scale = gamma * inv_std
    x_scale = -dout_scale * inv_std * dgamma / count
    offset = -dout_scale * dout_sum / count
    factors = [factor.astype(dtype) for factor in (dout_scale, x_scale, offset)]
    dx = np.empty_like(x)
    _over_channels(channels, x.size, lambda start, stop: loops.input_gradient(
        dout, x, mean, *factors, dx, start, stop))
    return dx.reshape(shape), dgamma.astype(dtype), dout_sum.astype(dtype)
