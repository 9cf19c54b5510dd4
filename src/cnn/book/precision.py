"""The dtype :mod:`cnn.book`'s layers compute in.

The book computes in float64: its weights are float64 arrays, so every product of a float32
image and a weight is float64. That is the default here too, so that a seeded run of a book
program follows the book's own run. ``python -m cnn.book --float32`` (or
:func:`set_compute_dtype`) makes the layers compute in float32 instead, on copies: the book's
float64 arrays stay the master copy that its optimizer updates, and the gradients handed back
are float64 again.
"""

from __future__ import annotations

import numpy as np

__all__ = ["compute_dtype", "set_compute_dtype", "to_compute", "to_master"]

_COMPUTE = {"dtype": np.dtype(np.float64)}


def compute_dtype() -> np.dtype:
    """The dtype the layers compute in: float64 (the book's) unless set otherwise."""
    return _COMPUTE["dtype"]


def set_compute_dtype(dtype) -> None:
    """Compute in ``dtype``, float64 (the book's arithmetic) or float32 (faster)."""
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    _COMPUTE["dtype"] = dtype


def to_compute(array) -> np.ndarray:
    """``array`` in the compute dtype (itself when it is already), C-contiguous."""
    return np.ascontiguousarray(array, dtype=compute_dtype())


def to_master(gradient: np.ndarray, master: np.ndarray) -> np.ndarray:
    """A gradient in the dtype of the parameter it belongs to (the book's float64 arrays)."""
    return gradient if gradient.dtype == master.dtype else gradient.astype(master.dtype)
