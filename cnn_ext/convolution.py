"""A whole convolution, forward and backward, each thread working through a slice of the batch.

Two engines behind one contract, both splitting the batch over the kernel threads and
allocating nothing of the batch's size besides the results. For float32 with stride 1,
the direct kernels of the instruction set in use (``cnn_ext._direct_engine``, chosen by
``cnn_ext._simd``) read the zero-padded images themselves and keep tiles of outputs in
registers. Everything else (float64, strides above 1, and an input gradient with a pad of
at least the filter size) goes through the unfold engine (``cnn_ext._unfold_engine``):
blocks of unfolded columns in cache and matrix products.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from cnn_ext import _direct_engine, _simd, _unfold_engine
from cnn_ext._checks import check_float_array
from cnn_ext.kernels import conv_geometry

__all__ = ["conv2d_forward", "conv2d_backward"]


def _check_conv_arguments(x, W, stride, pad):
    """Checked x, W and ``(filter_h, filter_w, stride, pad, out_h, out_w)``."""
    x = check_float_array("x", x, 4, "(N, C, H, W)")
    W = check_float_array("W", W, 4, "(out_channels, in_channels, filter_h, filter_w)")
    if W.dtype != x.dtype:
        raise TypeError(f"W must have the dtype of x ({x.dtype}), got dtype {W.dtype}")
    if W.shape[1] != x.shape[1]:
        raise ValueError(f"W must have {x.shape[1]} input channels (x.shape[1]) in "
                         f"W.shape[1], got W of shape {W.shape}")
    geometry = conv_geometry(x.shape, W.shape[2], W.shape[3], stride, pad)
    return x, W, geometry


def conv2d_forward(x, W, b, stride: int = 1, pad: int = 0) -> np.ndarray:
    """Convolution (cross-correlation) of a batch of images, bias included.

    Args:
        x: images, shape (N, C, H, W), float32 or float64.
        W: filters, shape (OC, C, filter_h, filter_w), the dtype of ``x``.
        b: biases, shape (OC,), the dtype of ``x``.
        stride: step between windows (positive).
        pad: zero padding on every side (>= 0).

    Returns:
        out, shape (N, OC, out_h, out_w), C-contiguous, with
        ``out_h = (H + 2 * pad - filter_h) // stride + 1`` and likewise ``out_w``;
        equal, up to rounding, to ``im2col(x, ...) @ W.reshape(OC, -1).T + b``
        arranged as (N, OC, out_h, out_w).

    Example:
        >>> x = np.ones((2, 1, 5, 5), dtype=np.float32)
        >>> W = np.ones((4, 1, 3, 3), dtype=np.float32)
        >>> float(conv2d_forward(x, W, np.zeros(4, np.float32), pad=1)[0, 0, 2, 2])
        9.0
    """
    x, W, (filter_h, filter_w, stride, pad, out_h, out_w) = _check_conv_arguments(x, W, stride, pad)
    out_channels = W.shape[0]
    b = check_float_array("b", b, 1, f"({out_channels},)")
    if b.dtype != x.dtype or b.shape != (out_channels,):
        raise ValueError(f"b must have shape ({out_channels},) and dtype {x.dtype}, "
                         f"got shape {b.shape} and dtype {b.dtype}")
    if _direct_engine.covers(x, W, stride, pad):
        return _direct_engine.forward(_simd.kernels, x, W, b, pad)
    return _unfold_engine.forward(x, W, b, (filter_h, filter_w, stride, pad, out_h, out_w))


def conv2d_backward(x, W, dout, stride: int = 1, pad: int = 0,
                    input_grad: bool = True) -> tuple[Optional[np.ndarray], np.ndarray, np.ndarray]:
    """Gradients of :func:`conv2d_forward` with respect to x, W and b.

    Args:
        x: the images given to the forward pass, shape (N, C, H, W).
        W: the filters, shape (OC, C, filter_h, filter_w), the dtype of ``x``.
        dout: gradient of the output, shape (N, OC, out_h, out_w), the dtype of ``x``.
        stride: step between windows, as given to the forward pass.
        pad: zero padding on every side, as given to the forward pass.
        input_grad: compute dx; ``False`` skips it (a first layer needs none).

    Returns:
        ``(dx, dW, db)`` with the shapes of x, W and (OC,); dx is ``None`` when
        ``input_grad`` is false.

    Example:
        >>> x = np.ones((2, 1, 5, 5), dtype=np.float32)
        >>> W = np.ones((4, 1, 3, 3), dtype=np.float32)
        >>> dx, dW, db = conv2d_backward(x, W, np.ones((2, 4, 3, 3), np.float32))
        >>> dx.shape, dW.shape, db.tolist()  # db: the sum of dout over images and pixels
        ((2, 1, 5, 5), (4, 1, 3, 3), [18.0, 18.0, 18.0, 18.0])
    """
    x, W, (filter_h, filter_w, stride, pad, out_h, out_w) = _check_conv_arguments(x, W, stride, pad)
    n_images = x.shape[0]
    out_channels = W.shape[0]
    expected = (n_images, out_channels, out_h, out_w)
    dout = check_float_array("dout", dout, 4, "(N, OC, out_h, out_w)")
    if dout.shape != expected or dout.dtype != x.dtype:
        raise ValueError(f"dout must have shape {expected} and dtype {x.dtype} for x of shape "
                         f"{x.shape} and W of shape {W.shape}, got shape {dout.shape} and "
                         f"dtype {dout.dtype}")
    if _direct_engine.covers(x, W, stride, pad, backward=True):
        return _direct_engine.backward(_simd.kernels, x, W, dout, pad, input_grad)
    return _unfold_engine.backward(x, W, dout, (filter_h, filter_w, stride, pad, out_h, out_w),
                                   input_grad)
