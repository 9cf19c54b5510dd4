"""Weight initialisation: He (Kaiming) and Glorot (Xavier), normal and uniform.

Every function takes the weight ``shape`` in the layout of the layers
(Affine: (in_features, out_features); Convolution: (out_channels,
in_channels, filter_h, filter_w)), a ``numpy.random.Generator`` and a dtype.
The scale depends only on the layer's fan-in (and fan-out), never on the
data set: that is what keeps activations at a steady size through the network.
"""

from __future__ import annotations

from typing import Optional, Union

import numpy as np

from cnn._checks import describe

__all__ = ["fans", "he_normal", "he_uniform", "glorot_normal", "glorot_uniform", "INITIALIZERS",
           "initial_weights"]


def fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight: the inputs and outputs each unit connects to."""
    if len(shape) == 2:
        return shape[0], shape[1]
    if len(shape) == 4:
        out_channels, in_channels, filter_h, filter_w = shape
        return in_channels * filter_h * filter_w, out_channels * filter_h * filter_w
    raise ValueError(f"shape must be (in, out) or (out_channels, in_channels, filter_h, filter_w), "
                     f"got {shape!r}")


def _check_rng(rng) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {describe(rng)}")
    return rng


def he_normal(shape, rng: np.random.Generator, dtype=np.float32) -> np.ndarray:
    """Normal with standard deviation ``sqrt(2 / fan_in)``: keeps the variance through ReLUs."""
    fan_in, _ = fans(tuple(shape))
    return (_check_rng(rng).standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(dtype)


def he_uniform(shape, rng: np.random.Generator, dtype=np.float32) -> np.ndarray:
    """Uniform on ``[-a, a]`` with ``a = sqrt(6 / fan_in)`` (the variance of :func:`he_normal`)."""
    fan_in, _ = fans(tuple(shape))
    limit = np.sqrt(6.0 / fan_in)
    return _check_rng(rng).uniform(-limit, limit, shape).astype(dtype)


def glorot_normal(shape, rng: np.random.Generator, dtype=np.float32) -> np.ndarray:
    """Normal with standard deviation ``sqrt(2 / (fan_in + fan_out))``: for tanh and sigmoid."""
    fan_in, fan_out = fans(tuple(shape))
    return (_check_rng(rng).standard_normal(shape) * np.sqrt(2.0 / (fan_in + fan_out))).astype(dtype)


def glorot_uniform(shape, rng: np.random.Generator, dtype=np.float32) -> np.ndarray:
    """Uniform on ``[-a, a]`` with ``a = sqrt(6 / (fan_in + fan_out))``."""
    fan_in, fan_out = fans(tuple(shape))
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return _check_rng(rng).uniform(-limit, limit, shape).astype(dtype)


#: The initializers by the names ``init=`` takes (``Convolution.create``, ``Affine.create``).
INITIALIZERS = {"he": he_normal, "he_uniform": he_uniform, "glorot": glorot_normal,
                "glorot_uniform": glorot_uniform}


def initial_weights(shape, init: str = "he",
                    rng: Optional[Union[int, np.random.Generator]] = None,
                    dtype=np.float32) -> np.ndarray:
    """Weights of ``shape`` drawn by the initializer named ``init`` (a key of ``INITIALIZERS``).

    ``rng`` is a ``numpy.random.Generator`` or an int seed (None: fresh entropy).

    Example:
        >>> round(float(initial_weights((784, 120), "he", rng=0).std()), 2)  # sqrt(2 / 784)
        0.05
    """
    if init not in INITIALIZERS:
        raise ValueError(f"init must be one of {sorted(INITIALIZERS)}, got init={init!r}")
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"dtype must be float32 or float64, got {dtype}")
    if not isinstance(rng, np.random.Generator):
        rng = np.random.default_rng(rng)
    return INITIALIZERS[init](shape, rng, dtype)
