"""A whole convolution, forward and backward, worked through the batch in cache-sized blocks.

Each thread takes a slice of the batch and walks it a block of images at a
time: the block is unfolded into a scratch buffer that stays in cache
(``columns`` (B, K, P), K = C * filter_h * filter_w, P = out_h * out_w),
multiplied by the weights, and the products land straight in the output.
Nothing of the size of the whole batch is allocated besides the results, and
the backward pass unfolds each block again instead of keeping the forward's
columns. While the threads work, the BLAS runs single-threaded on each block.
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np

from cnn_ext._blas import single_threaded_blas
from cnn_ext._checks import check_float_array
from cnn_ext._conv import fold_kernel, unfold_kernel
from cnn_ext._threads import for_image_slices, get_num_threads
from cnn_ext._workspace import scratch
from cnn_ext.kernels import conv_geometry

__all__ = ["conv2d_forward", "conv2d_backward"]

# Bytes of unfolded columns per block. Measured on LeNet (2 MiB of L2 per core): 1 to 2 MiB
# is fastest; 256 KiB costs 35% more (Python work per block), 8 MiB 25% more (cache misses).
BLOCK_BYTES = 3 << 19


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


def _padded_image(x: np.ndarray, pad: int) -> np.ndarray:
    """This thread's scratch for one image of ``x`` with its zero border."""
    _, channels, height, width = x.shape
    return scratch("padded", (channels * (height + 2 * pad) * (width + 2 * pad),), x.dtype)


def _images_per_block(n_images: int, rows: int, pixels: int, itemsize: int) -> int:
    """Images per block: at most BLOCK_BYTES of columns, and every thread gets a block."""
    fits = max(1, BLOCK_BYTES // (rows * pixels * itemsize))
    return min(fits, math.ceil(n_images / get_num_threads()))


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
    n_images = x.shape[0]
    pixels = out_h * out_w
    # The bias rides along as one more weight column, matched by a row of ones in the columns.
    weights = np.concatenate([W.reshape(out_channels, -1), b[:, None]], axis=1)  # (OC, K + 1)
    rows = weights.shape[1]
    out = np.empty((n_images, out_channels, out_h, out_w), dtype=x.dtype)
    products = out.reshape(n_images, out_channels, pixels)
    block = _images_per_block(n_images, rows, pixels, x.dtype.itemsize)

    def work(start: int, stop: int) -> None:
        for first in range(start, stop, block):
            last = min(first + block, stop)
            columns = scratch("columns", (last - first, rows, pixels), x.dtype)
            unfold_kernel(x[first:last], filter_h, filter_w, stride, pad, out_h, out_w, columns,
                          _padded_image(x, pad))
            np.matmul(weights, columns, out=products[first:last])

    with single_threaded_blas():
        for_image_slices(n_images, n_images * rows * pixels, work)
    return out


def conv2d_backward(x, W, dout, stride: int = 1, pad: int = 0,
                    input_grad: bool = True) -> tuple[Optional[np.ndarray], np.ndarray, np.ndarray]:
    """Gradients of :func:`conv2d_forward` with respect to x, W and b.

    Args:
        x: the images given to the forward pass, shape (N, C, H, W).
        W: the filters, shape (OC, C, filter_h, filter_w), the dtype of ``x``.
        dout: gradient of the output, shape (N, OC, out_h, out_w), the dtype of ``x``.
        stride, pad: as given to the forward pass.
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
    pixels = out_h * out_w
    filter_entries = W[0].size
    rows = filter_entries + 1  # the row of ones gives db beside dW
    dout_rows = dout.reshape(n_images, out_channels, pixels)
    weights_t = np.ascontiguousarray(W.reshape(out_channels, -1).T)  # (K, OC)
    dx = np.empty(x.shape, dtype=x.dtype) if input_grad else None
    block = _images_per_block(n_images, rows, pixels, x.dtype.itemsize)

    def work(start: int, stop: int) -> np.ndarray:
        gradient = np.zeros((rows, out_channels), dtype=x.dtype)  # (dW | db) transposed
        for first in range(start, stop, block):
            last = min(first + block, stop)
            columns = scratch("columns", (last - first, rows, pixels), x.dtype)
            unfold_kernel(x[first:last], filter_h, filter_w, stride, pad, out_h, out_w, columns,
                          _padded_image(x, pad))
            per_image = scratch("weights", (last - first, rows, out_channels), x.dtype)
            # columns (K+1, P) @ dout.T (P, OC) measured twice as fast as dout @ columns.T
            np.matmul(columns, dout_rows[first:last].transpose(0, 2, 1), out=per_image)
            gradient += per_image.sum(axis=0)
            if input_grad:
                dcolumns = scratch("columns", (last - first, filter_entries, pixels), x.dtype)
                np.matmul(weights_t, dout_rows[first:last], out=dcolumns)
                fold_kernel(dcolumns, filter_h, filter_w, stride, pad, out_h, out_w, dx[first:last],
                            _padded_image(x, pad))
        return gradient

    with single_threaded_blas():
        gradient = sum(for_image_slices(n_images, n_images * rows * pixels, work))
    dW = np.ascontiguousarray(gradient[:filter_entries].T).reshape(W.shape)
    return dx, dW, gradient[filter_entries].copy()
