"""Argument checks shared by the kernel wrappers.

Every failure raises ``TypeError`` (wrong kind of value) or ``ValueError``
(right kind, wrong value) with a message that names the argument, says what
was expected and shows what came in.
"""

from __future__ import annotations

import numbers
from typing import Any, Optional

import numpy as np

SUPPORTED_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


# Longest representation of a value quoted in an error message.
MAX_QUOTED = 60


def describe(value: Any) -> str:
    """A short description of ``value`` for error messages: never longer than a line or two,
    however large the value (a list of 60,000 images is summarised, not printed)."""
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    if isinstance(value, (list, tuple)) and len(value) > 4:
        return f"a {type(value).__name__} of {len(value)} items"
    text = repr(value)
    if len(text) > MAX_QUOTED:
        text = text[:MAX_QUOTED - 3] + "..."
    return f"{text} ({type(value).__name__})"


def check_int(name: str, value: Any, minimum: int) -> int:
    """Return ``value`` as an ``int`` after checking it is an integer >= ``minimum``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {describe(value)}")
    if value < minimum:
        expectation = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ValueError(f"{name} must be {expectation}, got {name}={value}")
    return int(value)


def check_float_array(name: str, value: Any, ndim: Optional[int], layout: str) -> np.ndarray:
    """Return ``value`` as a C-contiguous float32 or float64 array of ``ndim`` dimensions
    (any number for ``None``), none of them empty.

    ``layout`` names the axes for the error message, for example ``"(N, C, H, W)"``.
    The dtype is kept: float32 stays float32.
    """
    array = np.asarray(value)
    if array.dtype not in SUPPORTED_DTYPES:
        raise TypeError(
            f"{name} must have dtype float32 or float64, got dtype {array.dtype}"
        )
    check_ndim(name, array, ndim, layout)
    return np.ascontiguousarray(array)


def check_ndim(name: str, array: np.ndarray, ndim: Optional[int], layout: str) -> None:
    """Check that ``array`` has ``ndim`` dimensions (any number for ``None``), none of them empty."""
    if ndim is not None and array.ndim != ndim:
        raise ValueError(
            f"{name} must be a {ndim}-D array {layout}, got an array of shape {array.shape}"
        )
    if array.ndim == 0:
        raise ValueError(f"{name} must be an array {layout}, got a scalar")
    if 0 in array.shape:
        raise ValueError(f"{name} must not have an empty dimension, got shape {array.shape}")


def check_shape4(name: str, value: Any) -> tuple[int, int, int, int]:
    """Return ``value`` as a tuple of four positive ints ``(N, C, H, W)``."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or len(value) != 4:
        raise ValueError(f"{name} must be a sequence of 4 integers (N, C, H, W), got {describe(value)}")
    for size in value:
        if isinstance(size, (bool, np.bool_)) or not isinstance(size, numbers.Integral) or size < 1:
            raise ValueError(
                f"{name} must be a sequence of 4 positive integers (N, C, H, W), got {describe(value)}"
            )
    return tuple(int(size) for size in value)
