"""Plain-loop references written for the tests of cnn.book: the book's max pooling (a padded
zero can win) and a numerical gradient, slow and obvious. (The convolution by loops is
``cnn_ext.tests.naive.cross_correlation_loops``.)"""

import numpy as np


def max_pool(x, size_h, size_w, stride, pad):
    """Max over each window of the zero-padded images (a padded zero can win)."""
    x = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    count, channels, height, width = x.shape
    out_h, out_w = (height - size_h) // stride + 1, (width - size_w) // stride + 1
    out = np.empty((count, channels, out_h, out_w))
    for i in range(out_h):
        for j in range(out_w):
            window = x[:, :, i * stride:i * stride + size_h, j * stride:j * stride + size_w]
            out[:, :, i, j] = window.max(axis=(2, 3))
    return out


def numeric_gradient(objective, array, step=1e-6):
    """d objective() / d array by central differences, changing ``array`` in place."""
    grad = np.zeros_like(array, dtype=np.float64)
    for index in np.ndindex(*array.shape):
        kept = array[index]
        array[index] = kept + step
        above = objective()
        array[index] = kept - step
        below = objective()
        array[index] = kept
        grad[index] = (above - below) / (2 * step)
    return grad
