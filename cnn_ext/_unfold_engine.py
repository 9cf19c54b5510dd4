"""The unfold engine: a block of images unfolded into columns in cache, then matrix products.

Each thread walks its slice of the batch a block of images at a time: the block
is unfolded into a scratch buffer that stays in cache (``columns`` (B, K, P),
K = C * filter_h * filter_w, P = out_h * out_w; ``cnn_ext/_conv.pyx``),
multiplied by the weights with the BLAS single-threaded, and the products land
straight in the output. The backward pass unfolds each block again instead of
keeping the forward's columns. It serves every case of ``cnn_ext.convolution``
that the direct kernels do not (float64, strides above 1), and is the second
oracle of the direct kernels' tests. The arguments come checked.
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np

from cnn_ext._blas import single_threaded_blas
from cnn_ext._conv import fold_kernel, unfold_kernel
from cnn_ext._threads import for_image_slices, get_num_threads
from cnn_ext._workspace import scratch

# Bytes of unfolded columns per block. Measured on LeNet (2 MiB of L2 per core): 1 to 2 MiB
# is fastest; 256 KiB costs 35% more (Python work per block), 8 MiB 25% more (cache misses).
BLOCK_BYTES = 3 << 19


def _padded_image(x: np.ndarray, pad: int) -> np.ndarray:
    """This thread's scratch for one image of ``x`` with its zero border."""
    _, channels, height, width = x.shape
    return scratch("padded", (channels * (height + 2 * pad) * (width + 2 * pad),), x.dtype)


def _images_per_block(n_images: int, rows: int, pixels: int, itemsize: int) -> int:
    """Images per block: at most BLOCK_BYTES of columns, and every thread gets a block."""
    fits = max(1, BLOCK_BYTES // (rows * pixels * itemsize))
    return min(fits, math.ceil(n_images / get_num_threads()))


def forward(x: np.ndarray, W: np.ndarray, b: np.ndarray, geometry: tuple) -> np.ndarray:
    """The convolution of checked arrays; ``geometry`` is (filter_h, filter_w, stride, pad,
    out_h, out_w)."""
    filter_h, filter_w, stride, pad, out_h, out_w = geometry
    n_images, out_channels = x.shape[0], W.shape[0]
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


def backward(x: np.ndarray, W: np.ndarray, dout: np.ndarray, geometry: tuple,
             input_grad: bool) -> tuple[Optional[np.ndarray], np.ndarray, np.ndarray]:
    """``(dx, dW, db)`` of checked arrays (dx None without ``input_grad``)."""
    filter_h, filter_w, stride, pad, out_h, out_w = geometry
    n_images, out_channels = x.shape[0], W.shape[0]
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

