"""The book's helpers: unfolding image windows into rows (``im2col``) and back (``col2im``)
on cnn-ext's compiled kernels, a smoothed loss curve, and shuffling a data set."""

from __future__ import annotations

import numpy as np

import cnn_ext
from cnn.book.precision import to_compute

__all__ = ["smooth_curve", "shuffle_dataset", "conv_output_size", "im2col", "col2im"]

#: The window of :func:`smooth_curve`: 11 points of a Kaiser window of beta 2.
SMOOTHING_WINDOW, SMOOTHING_BETA = 11, 2


def smooth_curve(x):
    """A loss curve smoothed for plotting: the mean under a Kaiser window of 11 points, the
    ends mirrored so that the result has ``x``'s length."""
    x = np.asarray(x)
    half = SMOOTHING_WINDOW // 2
    padded = np.r_[x[SMOOTHING_WINDOW - 1:0:-1], x, x[-1:-SMOOTHING_WINDOW:-1]]
    weights = np.kaiser(SMOOTHING_WINDOW, SMOOTHING_BETA)
    smoothed = np.convolve(weights / weights.sum(), padded, mode="valid")
    return smoothed[half:len(smoothed) - half]


def shuffle_dataset(x, t):
    """``(x, t)`` in one random order (drawn with ``np.random.permutation``)."""
    order = np.random.permutation(x.shape[0])
    return x[order], t[order]


def conv_output_size(input_size, filter_size, stride=1, pad=0):
    """``(input_size + 2*pad - filter_size) / stride + 1``, a float as in the book."""
    return (input_size + 2 * pad - filter_size) / stride + 1


def im2col(input_data, filter_h, filter_w, stride=1, pad=0):
    """Unfold every filter window of a batch into one row.

    Shape: input_data (N, C, H, W) -> col (N*out_h*out_w, C*filter_h*filter_w), rows in
    (image, output row, output column) order, columns in (channel, filter row, filter column)
    order, with ``out_h = (H + 2*pad - filter_h) // stride + 1``; float64 as in the book
    (float32 under ``--float32``)."""
    return cnn_ext.im2col(to_compute(input_data), filter_h, filter_w, stride=stride, pad=pad)


def col2im(col, input_shape, filter_h, filter_w, stride=1, pad=0):
    """The reverse of :func:`im2col`: each row's entries added back into its window.

    Shape: col (N*out_h*out_w, C*filter_h*filter_w) -> (N, C, H, W) of ``input_shape``."""
    return cnn_ext.col2im(to_compute(col), tuple(input_shape), filter_h, filter_w,
                          stride=stride, pad=pad)
