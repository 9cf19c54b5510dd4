"""Fully connected layer and flattening."""

from __future__ import annotations

import math
from typing import Optional, Union

import numpy as np

from cnn._checks import check_input, check_int, check_weight_and_bias
from cnn.init import initial_weights
from cnn.layers.base import Layer


class Flatten(Layer):
    """Shape: x (N, ...) -> out (N, product of the other axes).

    Example:
        >>> Flatten().forward(np.zeros((2, 16, 7, 7))).shape
        (2, 784)
    """

    flattens = True

    def __init__(self) -> None:
        super().__init__()
        self.x_shape = None

    def output_shape(self, sample_shape: tuple[int, ...]) -> tuple[int, ...]:
        return (math.prod(sample_shape),)

    def forward(self, x: np.ndarray, train: bool = True) -> np.ndarray:
        check_input(self.name, x, range(2, 33), "(N, ...)")
        self.x_shape = x.shape if train else None
        return x.reshape(x.shape[0], -1)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        self._check_dout(dout, (self.x_shape[0], math.prod(self.x_shape[1:])))
        return dout.reshape(self.x_shape)


class Affine(Layer):
    """``out = x @ W + b``; an input of more than two axes is flattened first.

    Args:
        W: weights, shape (in_features, out_features).
        b: biases, shape (out_features,), the dtype of ``W``.

    Shape:
        x (N, in_features) or (N, ...) with in_features elements per sample -> out (N, out_features).
    """

    flattens = True

    def __init__(self, W: np.ndarray, b: np.ndarray) -> None:
        super().__init__()
        W, b = check_weight_and_bias("Affine", W, b, 2, "(in_features, out_features)", bias_axis=1)
        self.add_param("W", W)
        self.add_param("b", b)
        self.x_shape = None
        self.x = None

    @classmethod
    def create(cls, in_features: int, out_features: int, init: str = "he",
               rng: Optional[Union[int, np.random.Generator]] = None,
               dtype=np.float32) -> "Affine":
        """An affine layer built by size: weights (in_features, out_features) from the
        initializer ``init`` (see :data:`cnn.init.INITIALIZERS`; He by default), zero biases.

        Args:
            in_features: inputs of each unit.
            out_features: units (outputs per sample).
            init: name of the initializer.
            rng: a ``numpy.random.Generator`` or an int seed for the weights.
            dtype: float32 (default) or float64.

        Example:
            >>> Affine.create(784, 120, rng=0)
            Affine(784->120)
        """
        shape = (check_int("in_features", in_features, 1), check_int("out_features", out_features, 1))
        W = initial_weights(shape, init, rng, dtype)
        return cls(W, np.zeros(shape[1], W.dtype))

    def forward(self, x: np.ndarray, train: bool = True) -> np.ndarray:
        W, b = self.params
        in_features = W.shape[0]
        check_input("Affine", x, range(2, 33), f"(N, {in_features}) or (N, ...) with {in_features} "
                    "features per sample", W.dtype)
        flat = x.reshape(x.shape[0], -1)
        if flat.shape[1] != in_features:
            raise ValueError(f"Affine: expected {in_features} features per sample, got input of "
                             f"shape {x.shape} ({flat.shape[1]} features)")
        self.x_shape, self.x = (x.shape, flat) if train else (None, None)
        return flat @ W + b

    def backward(self, dout: np.ndarray) -> np.ndarray:
        self.backward_params(dout)
        return (dout @ self.params[0].T).reshape(self.x_shape)

    def backward_params(self, dout: np.ndarray) -> None:
        self._check_dout(dout, (self.x.shape[0], self.params[0].shape[1]))
        self.grads[0][...] = self.x.T @ dout
        self.grads[1][...] = dout.sum(axis=0)

    def output_shape(self, sample_shape: tuple[int, ...]) -> tuple[int, ...]:
        """``(out_features,)`` for a sample of ``in_features`` values, whatever its shape."""
        in_features, out_features = self.params[0].shape
        if math.prod(sample_shape) != in_features:
            raise ValueError(f"Affine needs {in_features} features, gets samples of shape "
                             f"{tuple(sample_shape)} ({math.prod(sample_shape)} features)")
        return (out_features,)

    @classmethod
    def from_config(cls, config: dict, arrays: dict) -> "Affine":
        return cls(arrays.get("W"), arrays.get("b"), **config)

    def __repr__(self) -> str:
        return f"Affine({self.params[0].shape[0]}->{self.params[0].shape[1]})"
