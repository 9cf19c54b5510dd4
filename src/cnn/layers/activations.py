"""Element-wise activations. Shape: x (any) -> out (same shape)."""

from __future__ import annotations

import numpy as np

from cnn._checks import check_input
from cnn.layers.base import Layer

ANY_SHAPE = range(1, 33)


class Relu(Layer):
    """``out = max(x, 0)``."""

    def __init__(self) -> None:
        super().__init__()
        self.mask = None

    def forward(self, x: np.ndarray, train: bool = True) -> np.ndarray:
        check_input(self.name, x, ANY_SHAPE, "(N, ...)")
        self.mask = x > 0
        return x * self.mask

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return dout * self.mask


class Sigmoid(Layer):
    """``out = 1 / (1 + exp(-x))``, computed without overflow for large ``|x|``."""

    def __init__(self) -> None:
        super().__init__()
        self.out = None

    def forward(self, x: np.ndarray, train: bool = True) -> np.ndarray:
        check_input(self.name, x, ANY_SHAPE, "(N, ...)")
        decay = np.exp(-np.abs(x))  # never overflows
        self.out = np.where(x >= 0, 1 / (1 + decay), decay / (1 + decay)).astype(x.dtype, copy=False)
        return self.out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return dout * self.out * (1 - self.out)


class Tanh(Layer):
    """``out = tanh(x)``."""

    def __init__(self) -> None:
        super().__init__()
        self.out = None

    def forward(self, x: np.ndarray, train: bool = True) -> np.ndarray:
        check_input(self.name, x, ANY_SHAPE, "(N, ...)")
        self.out = np.tanh(x)
        return self.out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return dout * (1 - self.out ** 2)
