"""The unfold engine: a block of images unfolded into columns in cache, then matrix products.

Each thread walks its slice of the batch a block of images at a time: the block
is unfolded into a scratch buffer that stays in cache (``columns`` (B, K, P),
K = C * filter_h * filter_w, P = out_h * out_w; ``cnn_ext/engines/unfold_loops.pyx``),
multiplied by the weights with the BLAS single-threaded, and the products land
straight in the output. The backward pass unfolds each block again instead of
keeping the forward's columns. It serves every case of ``cnn_ext.convolution``
that the direct kernels do not (float64, strides above 1, groups, dilation, pads that
differ between sides), and is the second oracle of the direct kernels' tests. With groups,
each group's filters multiply their own band of the columns, all groups in one batched
product. The arguments come checked.
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np

from cnn_ext.runtime.blas import single_threaded_blas
from cnn_ext.engines.unfold_loops import fold_kernel, unfold_kernel
from cnn_ext.geometry import ConvGeometry
from cnn_ext.runtime.threads import for_image_slices, get_num_threads
from cnn_ext.runtime.workspace import scratch

# Bytes of unfolded columns per block. Measured on LeNet (2 MiB of L2 per core): 1 to 2 MiB
# is fastest; 256 KiB costs 35% more (Python work per block), 8 MiB 25% more (cache misses).
BLOCK_BYTES = 3 << 19


def _padded_image(x: np.ndarray, geometry: ConvGeometry) -> np.ndarray:
    """This thread's scratch for one image of ``x`` with its zero border."""
    _, channels, height, width = x.shape
    rows, columns = geometry.padded_shape
    return scratch("padded", (channels * (height + rows) * (width + columns),), x.dtype)


def _window(geometry: ConvGeometry) -> tuple:
    """The arguments of the kernels that describe the window, in their order."""
    (top, bottom), (left, right) = geometry.pad
    return (geometry.filter_h, geometry.filter_w, *geometry.stride, top, bottom, left, right,
            *geometry.dilation, geometry.out_h, geometry.out_w)


def _images_per_block(n_images: int, rows: int, pixels: int, itemsize: int) -> int:
    """Images per block: at most BLOCK_BYTES of columns, and every thread gets a block."""
    fits = max(1, BLOCK_BYTES // (rows * pixels * itemsize))
    return min(fits, math.ceil(n_images / get_num_threads()))


def forward(x: np.ndarray, W: np.ndarray, b: np.ndarray, geometry: ConvGeometry) -> np.ndarray:
    """The convolution of checked arrays."""
    n_images, out_channels, groups = x.shape[0], W.shape[0], geometry.groups
    pixels = geometry.out_h * geometry.out_w
    window = _window(geometry)
    if groups == 1:
        # The bias rides along as one more weight column, matched by a row of ones in the columns.
        weights = np.concatenate([W.reshape(out_channels, -1), b[:, None]], axis=1)  # (OC, K + 1)
        rows = weights.shape[1]
    else:
        weights = W.reshape(groups, out_channels // groups, -1)  # (G, OC / G, K / G)
        rows = groups * weights.shape[2]
    out = np.empty((n_images, out_channels, geometry.out_h, geometry.out_w), dtype=x.dtype)
    products = out.reshape(n_images, groups, out_channels // groups, pixels)
    block = _images_per_block(n_images, rows, pixels, x.dtype.itemsize)

    def work(start: int, stop: int) -> None:
        for first in range(start, stop, block):
            last = min(first + block, stop)
            columns = scratch("columns", (last - first, rows, pixels), x.dtype)
            unfold_kernel(x[first:last], *window, columns, _padded_image(x, geometry))
            if groups == 1:
                np.matmul(weights, columns, out=products[first:last, 0])
            else:
                np.matmul(weights, columns.reshape(last - first, groups, -1, pixels),
                          out=products[first:last])
                out[first:last] += b[:, None, None]

    with single_threaded_blas():
        for_image_slices(n_images, n_images * rows * pixels, work)
    return out


def _fold_input_gradient(weights_t: np.ndarray, dout_rows: np.ndarray, geometry: ConvGeometry,
                         dx: np.ndarray) -> None:
    """dx of a block of images: the columns' gradient (transposed weights times the output
    gradient, ``dout_rows`` (B, G, OC / G, P)) folded back onto the images."""
    count, groups, _, pixels = dout_rows.shape
    dcolumns = scratch("columns", (count, groups * weights_t.shape[1], pixels), dx.dtype)
    np.matmul(weights_t, dout_rows, out=dcolumns.reshape(count, groups, -1, pixels))
    fold_kernel(dcolumns, *_window(geometry), dx, _padded_image(dx, geometry))


def transposed_weights(W: np.ndarray, groups: int) -> np.ndarray:
    """(G, K / G, OC / G): each group's filters, transposed, for dx's columns."""
    return np.ascontiguousarray(W.reshape(groups, W.shape[0] // groups, -1).transpose(0, 2, 1))


def input_gradient(weights_t: np.ndarray, dout: np.ndarray, geometry: ConvGeometry,
                   dx: np.ndarray) -> None:
    """dx of a slice of the batch, by blocks of images in this thread, of checked arrays:
    ``weights_t`` from :func:`transposed_weights`; the caller holds the BLAS single-threaded."""
    n_images, out_channels = dout.shape[:2]
    groups, pixels = geometry.groups, geometry.out_h * geometry.out_w
    dout_rows = dout.reshape(n_images, groups, out_channels // groups, pixels)
    block = _images_per_block(n_images, weights_t.shape[0] * weights_t.shape[1], pixels,
                              dout.dtype.itemsize)
    for first in range(0, n_images, block):
        last = min(first + block, n_images)
        _fold_input_gradient(weights_t, dout_rows[first:last], geometry, dx[first:last])


def backward(x: np.ndarray, W: np.ndarray, dout: np.ndarray, geometry: ConvGeometry,
             input_grad: bool) -> tuple[Optional[np.ndarray], np.ndarray, np.ndarray]:
    """``(dx, dW, db)`` of checked arrays (dx None without ``input_grad``)."""
    n_images, out_channels, groups = x.shape[0], W.shape[0], geometry.groups
    pixels = geometry.out_h * geometry.out_w
    window = _window(geometry)
    group_entries = W[0].size  # K / G: the filter entries of one output channel
    # One row of ones gives db beside dW (one group; with groups db is summed from dout).
    rows = group_entries + 1 if groups == 1 else groups * group_entries
    group_rows = rows // groups
    dout_rows = dout.reshape(n_images, groups, out_channels // groups, pixels)
    weights_t = transposed_weights(W, groups)
    dx = np.empty(x.shape, dtype=x.dtype) if input_grad else None
    block = _images_per_block(n_images, rows, pixels, x.dtype.itemsize)

    def work(start: int, stop: int) -> np.ndarray:
        gradient = np.zeros((groups, group_rows, out_channels // groups), dtype=x.dtype)
        for first in range(start, stop, block):
            last = min(first + block, stop)
            count = last - first
            columns = scratch("columns", (count, rows, pixels), x.dtype)
            unfold_kernel(x[first:last], *window, columns, _padded_image(x, geometry))
            per_image = scratch("weights", (count, groups, group_rows, out_channels // groups),
                                x.dtype)
            # columns (K+1, P) @ dout.T (P, OC) measured twice as fast as dout @ columns.T
            np.matmul(columns.reshape(count, groups, group_rows, pixels),
                      dout_rows[first:last].transpose(0, 1, 3, 2), out=per_image)
            gradient += per_image.sum(axis=0)
            if input_grad:
                _fold_input_gradient(weights_t, dout_rows[first:last], geometry, dx[first:last])
        return gradient

    with single_threaded_blas():
        gradient = sum(for_image_slices(n_images, n_images * rows * pixels, work))
    # gradient[g, k, o]: dW of output channel g * OC / G + o, entry k (db in row K / G, one group)
    dW = np.ascontiguousarray(gradient[:, :group_entries].transpose(0, 2, 1)).reshape(W.shape)
    db = gradient[0, group_entries].copy() if groups == 1 else dout.sum(axis=(0, 2, 3))
    return dx, dW, db
