"""Argument checks for the layers, models and optimizers.

Messages name the argument (and the layer), say what was expected and show
what came in. The integer and description helpers are shared with the kernels.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Optional, Sequence

import numpy as np

from cnn_ext._checks import check_int, describe

__all__ = ["check_int", "describe", "check_instance", "check_float", "check_weight", "check_weight_and_bias",
           "check_input", "check_labels", "check_samples"]

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))

_INTEGER_HINT = "; scale integer images to floats, for example {name}.astype(np.float32) / 255"


def check_instance(name: str, value: Any, kind: type, what: str) -> Any:
    """``value`` if it is a ``kind`` (called ``what`` in the message), else ``TypeError``."""
    if not isinstance(value, kind):
        raise TypeError(f"{name} must be a {what}, got {describe(value)}")
    return value


def check_float(name: str, value: Any, low: float = 0.0, high: float = math.inf,
                low_inclusive: bool = False, high_inclusive: bool = False) -> float:
    """Return ``value`` as a finite ``float`` inside the interval from ``low`` to ``high``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {describe(value)}")
    value = float(value)
    above = value >= low if low_inclusive else value > low
    below = value <= high if high_inclusive else value < high
    if not (math.isfinite(value) and above and below):
        interval = f"{'[' if low_inclusive else '('}{low}, {high}{']' if high_inclusive else ')'}"
        raise ValueError(f"{name} must be a finite number in {interval}, got {name}={value}")
    return value


def check_weight(layer: str, name: str, value: Any, ndim: int, layout: str) -> np.ndarray:
    """Return a weight array after checking its dtype (float32/float64) and ndim."""
    if not isinstance(value, np.ndarray):
        raise TypeError(f"{layer}: {name} must be a numpy array {layout}, got {describe(value)}")
    if value.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{layer}: {name} must have dtype float32 or float64, got {value.dtype}")
    if value.ndim != ndim or 0 in value.shape:
        raise ValueError(f"{layer}: {name} must be a non-empty {ndim}-D array {layout}, "
                         f"got shape {value.shape}")
    return value


def check_weight_and_bias(layer: str, W: Any, b: Any, ndim: int, layout: str,
                          bias_axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Check a weight of ``ndim`` dimensions and its bias: 1-D, one entry per ``W.shape[bias_axis]``,
    of ``W``'s dtype. Returns ``(W, b)``."""
    W = check_weight(layer, "W", W, ndim, layout)
    b = check_weight(layer, "b", b, 1, f"({W.shape[bias_axis]},)")
    if b.shape != (W.shape[bias_axis],) or b.dtype != W.dtype:
        raise ValueError(f"{layer}: b must have shape ({W.shape[bias_axis]},) and dtype {W.dtype}, "
                         f"got shape {b.shape} and dtype {b.dtype}")
    return W, b


def check_input(layer: str, x: Any, ndims: Sequence[int], expected: str,
                dtype: Optional[np.dtype] = None) -> np.ndarray:
    """Check a layer input: a float ndarray with one of ``ndims`` dimensions and no empty axis.

    ``expected`` describes the shape for the message, for example ``"(N, 3, H, W)"``.
    With ``dtype`` the input must have exactly that dtype (no silent casts).
    """
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{layer}: x must be a numpy array of shape {expected}, got {describe(x)}")
    if x.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{layer}: x must have dtype float32 or float64, got {x.dtype}"
                        + (_INTEGER_HINT.format(name="x") if np.issubdtype(x.dtype, np.integer) else ""))
    if dtype is not None and x.dtype != dtype:
        raise TypeError(f"{layer}: x has dtype {x.dtype} but the weights are {dtype}; "
                        f"convert it with x.astype(np.{dtype})")
    if x.ndim not in ndims:
        raise ValueError(f"{layer}: expected input of shape {expected}, got shape {x.shape}")
    if 0 in x.shape:
        raise ValueError(f"{layer}: expected input of shape {expected} with no empty axis, got "
                         f"shape {x.shape}")
    return x


def check_labels(t: Any, n_samples: int, n_classes: int, name: str = "t") -> np.ndarray:
    """Return labels as integer class indices of shape (N,); one-hot (N, K) labels are converted.

    Any array-like is accepted (a list of ints, for example)."""
    t = np.asarray(t)
    if t.ndim == 2:
        if t.shape != (n_samples, n_classes):
            raise ValueError(f"{name}: one-hot labels must have shape ({n_samples}, {n_classes}), "
                             f"got shape {t.shape}")
        if not np.all((t == 0) | (t == 1)) or not np.all(t.sum(axis=1) == 1):
            raise ValueError(f"{name}: one-hot labels must hold a single 1 per row and 0 elsewhere")
        return t.argmax(axis=1)
    if t.ndim != 1 or t.shape[0] != n_samples:
        raise ValueError(f"{name}: labels must hold one label per sample, shape ({n_samples},) or "
                         f"({n_samples}, {n_classes}) one-hot, got shape {t.shape}")
    if not np.issubdtype(t.dtype, np.integer):
        raise TypeError(f"{name}: class labels must be integers, got dtype {t.dtype}")
    if t.size and (t.min() < 0 or t.max() >= n_classes):
        raise ValueError(f"{name}: class labels must lie in [0, {n_classes}), "
                         f"got values from {t.min()} to {t.max()}")
    return t


def check_samples(name: str, x: Any, dtype: Optional[np.dtype] = None) -> np.ndarray:
    """Check a data set before it is fed to a model: a non-empty float array (N, ...) of finite
    values, of ``dtype`` when given. Run once per call, not per batch."""
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a numpy array of samples (N, ...), got {describe(x)}")
    if x.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name} must have dtype float32 or float64, got {x.dtype}"
                        + (_INTEGER_HINT.format(name=name) if np.issubdtype(x.dtype, np.integer) else ""))
    if dtype is not None and x.dtype != dtype:
        raise TypeError(f"{name} has dtype {x.dtype} but the model is {dtype}; convert it with "
                        f"{name}.astype(np.{dtype})")
    if x.ndim < 2:
        raise ValueError(f"{name} must be an array of samples (N, ...), got shape {x.shape}; "
                         f"one sample needs the batch axis: {name}[None]")
    if x.shape[0] == 0:
        raise ValueError(f"{name} must hold at least one sample, got an empty batch of shape "
                         f"{x.shape}")
    finite = np.isfinite(x)
    if not finite.all():
        bad = int(x.size - np.count_nonzero(finite))
        first = int(np.argmin(finite.reshape(x.shape[0], -1).all(axis=1)))
        raise ValueError(f"{name} holds {bad} NaN or infinite values (the first in sample "
                         f"{first}); inputs must be finite")
    return x


#: The bit generators whose saved state a Generator may be rebuilt from.
BIT_GENERATORS = ("PCG64", "PCG64DXSM", "Philox", "SFC64", "MT19937")


def generator_from_state(state: Any, name: str = "rng_state") -> np.random.Generator:
    """A ``numpy.random.Generator`` in the saved ``state`` (a ``bit_generator.state`` dict).

    Raises ``ValueError`` naming ``name`` for a state that is not one of :data:`BIT_GENERATORS`'
    or is damaged."""
    kind = state.get("bit_generator") if isinstance(state, dict) else None
    if kind not in BIT_GENERATORS:
        raise ValueError(f"{name} must be the state of a NumPy bit generator "
                         f"({', '.join(BIT_GENERATORS)}), got {describe(state)}")
    bit_generator = getattr(np.random, kind)()
    try:
        bit_generator.state = state
    except (TypeError, ValueError, KeyError, OverflowError) as error:
        raise ValueError(f"{name} holds a damaged {kind} state ({error!r})") from None
    return np.random.Generator(bit_generator)
