"""Plain NumPy versions of the four kernels, written to be read.

They follow *Deep Learning from Scratch* (slice the padded image once per
filter offset) and are the oracle the tests compare the compiled kernels
against and the baseline the benchmarks time. They do no argument checking:
call them with arguments that the kernels in :mod:`cnn_ext.kernels` accept.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from cnn_ext.geometry import output_size, pool_strides

__all__ = ["im2col", "col2im", "maxpool_forward", "maxpool_backward"]


def _windows(x, window_h, window_w, stride_h, stride_w, pad, fill):
    """All windows of ``x`` (N, C, H, W) padded with ``fill``: shape (N, C, out_h, out_w, window_h * window_w)."""
    n_images, channels, height, width = x.shape
    out_h = output_size(height, window_h, stride_h, pad)
    out_w = output_size(width, window_w, stride_w, pad)
    padded = np.pad(x, [(0, 0), (0, 0), (pad, pad), (pad, pad)], constant_values=fill)
    windows = np.empty((n_images, channels, out_h, out_w, window_h * window_w), dtype=x.dtype)
    for kh in range(window_h):
        rows = slice(kh, kh + stride_h * out_h, stride_h)
        for kw in range(window_w):
            cols = slice(kw, kw + stride_w * out_w, stride_w)
            windows[..., kh * window_w + kw] = padded[:, :, rows, cols]
    return windows


def im2col(x, filter_h: int, filter_w: int, stride: int = 1, pad: int = 0) -> np.ndarray:
    """Reference of :func:`cnn_ext.im2col`: (N, C, H, W) -> (N*out_h*out_w, C*filter_h*filter_w)."""
    n_images, channels = x.shape[:2]
    windows = _windows(x, filter_h, filter_w, stride, stride, pad, 0)
    out_h, out_w = windows.shape[2:4]
    # (N, C, out_h, out_w, kh*kw) -> (N, out_h, out_w, C, kh*kw)
    col = windows.transpose(0, 2, 3, 1, 4)
    return np.ascontiguousarray(col.reshape(n_images * out_h * out_w, -1))


def col2im(col, input_shape, filter_h: int, filter_w: int, stride: int = 1,
           pad: int = 0) -> np.ndarray:
    """Reference of :func:`cnn_ext.col2im`: sum every column entry back into its pixel."""
    n_images, channels, height, width = input_shape
    out_h = output_size(height, filter_h, stride, pad)
    out_w = output_size(width, filter_w, stride, pad)
    col = col.reshape(n_images, out_h, out_w, channels, filter_h, filter_w)
    padded = np.zeros((n_images, channels, height + 2 * pad, width + 2 * pad), dtype=col.dtype)
    for kh in range(filter_h):
        rows = slice(kh, kh + stride * out_h, stride)
        for kw in range(filter_w):
            cols = slice(kw, kw + stride * out_w, stride)
            padded[:, :, rows, cols] += col[:, :, :, :, kh, kw].transpose(0, 3, 1, 2)
    return padded[:, :, pad:pad + height, pad:pad + width].copy()


def maxpool_forward(x, pool_h: int, pool_w: int, stride: Optional[int] = None,
                    pad: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Reference of :func:`cnn_ext.maxpool_forward`: ``(out, argmax)`` with flat (H, W) indices."""
    stride_h, stride_w = pool_strides(pool_h, pool_w, stride)
    n_images, channels, height, width = x.shape
    values = _windows(x, pool_h, pool_w, stride_h, stride_w, pad, -np.inf)
    plane_index = np.arange(height * width).reshape(1, 1, height, width)
    indices = _windows(plane_index, pool_h, pool_w, stride_h, stride_w, pad, -1)
    choice = np.argmax(values, axis=-1)[..., None]
    # A padding cell can only tie with a window of -inf pixels: take the first pixel instead.
    picked_padding = np.take_along_axis(np.broadcast_to(indices, values.shape), choice, -1) < 0
    first_pixel = np.argmax(indices >= 0, axis=-1)[..., None]
    choice = np.where(picked_padding, first_pixel, choice)
    out = np.take_along_axis(values, choice, -1)[..., 0]
    argmax = np.take_along_axis(np.broadcast_to(indices, values.shape), choice, -1)[..., 0]
    return out, argmax.astype(np.intp)


def maxpool_backward(dout, argmax, input_shape, pool_h: int, pool_w: int,
                     stride: Optional[int] = None, pad: int = 0) -> np.ndarray:
    """Reference of :func:`cnn_ext.maxpool_backward`: scatter-add ``dout`` at ``argmax``."""
    n_images, channels, height, width = input_shape
    dx = np.zeros((n_images, channels, height * width), dtype=dout.dtype)
    image = np.arange(n_images).reshape(-1, 1, 1, 1)
    channel = np.arange(channels).reshape(1, -1, 1, 1)
    np.add.at(dx, (image, channel, argmax), dout)
    return dx.reshape(input_shape)
