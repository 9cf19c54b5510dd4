"""The book's ``load_mnist``, reading cnn-ext's copy of MNIST (see
:func:`cnn.datasets.data_root`: ``$CNN_EXT_DATA``, the user cache, or a clone's ``data/mnist``)
and returning the book's dtypes: float32 images (uint8 without ``normalize``), uint8 labels,
float64 one-hot rows."""

from __future__ import annotations

import numpy as np

from cnn.datasets import load_mnist as load_cnn_mnist

__all__ = ["load_mnist"]


def load_mnist(normalize=True, flatten=True, one_hot_label=False):
    """MNIST as ``((x_train, t_train), (x_test, t_test))``, as the book's ``load_mnist``.

    Args:
        normalize: images as float32 in [0, 1]; else uint8 in 0..255.
        flatten: images of shape (N, 784); else (N, 1, 28, 28).
        one_hot_label: labels as float64 one-hot rows (N, 10); else uint8 class indices (N,).
    """
    (x_train, t_train), (x_test, t_test) = load_cnn_mnist(normalize=normalize, flatten=flatten)
    labels = []
    for t in (t_train, t_test):
        t = t.astype(np.uint8)
        labels.append(np.eye(10)[t] if one_hot_label else t)
    return (x_train, labels[0]), (x_test, labels[1])
