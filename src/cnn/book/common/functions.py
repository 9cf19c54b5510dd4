"""The book's activation and loss functions on NumPy arrays, with its names and constants
(a cross-entropy error of ``-log(y + 1e-7)``, averaged over the batch)."""

from __future__ import annotations

import numpy as np

#: The book's programs reach ``np`` through ``from common.functions import *`` (the book's
#: module has no ``__all__``), so ``np`` is exported too.
__all__ = ["identity_function", "step_function", "sigmoid", "sigmoid_grad", "relu", "relu_grad",
           "softmax", "sum_squared_error", "cross_entropy_error", "softmax_loss", "np"]

#: Added to a probability before its logarithm, so that a zero gives a large loss, not inf.
LOG_EPSILON = 1e-7


def identity_function(x):
    """``x`` unchanged: the output activation of a regression."""
    return x


def step_function(x):
    """1 where ``x > 0``, else 0, as integers."""
    return np.array(x > 0, dtype=int)


def sigmoid(x):
    """``1 / (1 + exp(-x))`` element by element."""
    return 1 / (1 + np.exp(-x))


def sigmoid_grad(x):
    """The derivative of :func:`sigmoid` at ``x``: ``sigmoid(x) * (1 - sigmoid(x))``."""
    s = sigmoid(x)
    return (1.0 - s) * s


def relu(x):
    """``max(x, 0)`` element by element."""
    return np.maximum(0, x)


def relu_grad(x):
    """The derivative of :func:`relu`: 1 where ``x >= 0``, else 0 (the book takes 1 at 0)."""
    return (x >= 0).astype(np.asarray(x).dtype)


def softmax(x):
    """Softmax over the last axis, shifted by the maximum so that ``exp`` cannot overflow.

    Shape: any; each row (the last axis) sums to 1."""
    shifted = x - np.max(x, axis=-1, keepdims=True)
    exponentials = np.exp(shifted)
    return exponentials / np.sum(exponentials, axis=-1, keepdims=True)


def sum_squared_error(y, t):
    """``0.5 * sum((y - t)**2)`` over every entry."""
    return 0.5 * np.sum((y - t) ** 2)


def cross_entropy_error(y, t):
    """Mean over the batch of ``-log(y[label] + 1e-7)``.

    Args:
        y: probabilities, (N, classes) or one sample (classes,).
        t: labels as class indices (N,) or one-hot rows of ``y``'s shape.
    """
    if y.ndim == 1:
        y, t = y.reshape(1, y.size), t.reshape(1, t.size)
    if t.size == y.size:  # one-hot rows: take their indices
        t = t.argmax(axis=1)
    batch_size = y.shape[0]
    return -np.sum(np.log(y[np.arange(batch_size), t] + LOG_EPSILON)) / batch_size


def softmax_loss(X, t):
    """:func:`cross_entropy_error` of the :func:`softmax` of scores ``X``."""
    return cross_entropy_error(softmax(X), t)
