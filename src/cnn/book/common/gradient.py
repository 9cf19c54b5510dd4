"""Numerical gradients by central differences, as the book checks its backward passes."""

from __future__ import annotations

import numpy as np

__all__ = ["numerical_gradient", "numerical_gradient_2d"]

#: The step of the central difference ``(f(x + h) - f(x - h)) / 2h``.
STEP = 1e-4


def _central_difference(f, x, index):
    """``df/dx[index]`` by a central difference, leaving ``x[index]`` as it was."""
    kept = x[index]
    x[index] = kept + STEP
    above = f(x)
    x[index] = kept - STEP
    below = f(x)
    x[index] = kept
    return (above - below) / (2 * STEP)


def numerical_gradient(f, x):
    """The gradient of the scalar ``f(x)`` with respect to every entry of ``x``.

    ``x`` is changed in place, one entry at a time, and restored: ``f`` may ignore its
    argument and read ``x`` (a network's weights) itself, as the book's networks do.

    Shape: x any -> grad of x's shape and dtype."""
    grad = np.zeros_like(x)
    for index in np.ndindex(*x.shape):
        grad[index] = _central_difference(f, x, index)
    return grad


def numerical_gradient_2d(f, X):
    """:func:`numerical_gradient` of ``f`` at each row of ``X`` in turn (one row: at ``X``)."""
    if X.ndim == 1:
        return numerical_gradient(f, X)
    grad = np.zeros_like(X)
    for row, x in enumerate(X):
        grad[row] = numerical_gradient(f, x)
    return grad
