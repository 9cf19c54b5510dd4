"""Numerical gradients by central differences, as the book checks its backward passes."""

from __future__ import annotations

import numpy as np

from cnn.gradcheck import numerical_gradient as central_differences

__all__ = ["numerical_gradient", "numerical_gradient_2d"]

#: The step of the central difference ``(f(x + h) - f(x - h)) / 2h``.
STEP = 1e-4


def numerical_gradient(f, x):
    """The gradient of the scalar ``f(x)`` with respect to every entry of ``x``, by central
    differences of step 1e-4 (:func:`cnn.gradcheck.numerical_gradient` with the book's step).

    ``x`` is changed in place, one entry at a time, and restored: ``f`` may ignore its
    argument and read ``x`` (a network's weights) itself, as the book's networks do.

    Shape: x any -> grad of x's shape and dtype."""
    return central_differences(f, x, eps=STEP)


def numerical_gradient_2d(f, X):
    """:func:`numerical_gradient` of ``f`` at each row of ``X`` in turn (one row: at ``X``)."""
    if X.ndim == 1:
        return numerical_gradient(f, X)
    grad = np.zeros_like(X)
    for row, x in enumerate(X):
        grad[row] = numerical_gradient(f, x)
    return grad
