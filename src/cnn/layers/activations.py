"""Element-wise activations. Shape: x (any) -> out (same shape)."""

from __future__ import annotations

import numpy as np

import cnn_ext
from cnn._checks import check_input
from cnn.layers.base import Layer

ANY_SHAPE = range(1, 33)


class Relu(Layer):
    """``out = max(x, 0)`` (NaN stays NaN); backward passes ``dout`` where ``out > 0``.

    Args:
        inplace: overwrite the input with the result (as PyTorch's ``ReLU(inplace=True)``),
            allocating nothing: right after a convolution or an affine layer, whose output
            nothing else reads, it saves a whole activation's memory and a pass over it. The
            library's models use it there. Never set it where the input is still needed (a
            model's input, or an array you keep).

    Example:
        >>> layer = Relu()
        >>> layer.forward(np.array([[-1.0, 2.0]]))
        array([[0., 2.]])
        >>> layer.backward(np.array([[5.0, 5.0]]))
        array([[0., 5.]])
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        if not isinstance(inplace, (bool, np.bool_)):
            raise TypeError(f"inplace must be True or False, got {inplace!r}")
        self.inplace = bool(inplace)
        self.out = None

    def forward(self, x: np.ndarray, train: bool = True) -> np.ndarray:
        check_input(self.name, x, ANY_SHAPE, "(N, ...)")
        out = cnn_ext.relu(x, inplace=self.inplace)
        # The result is the next layer's input anyway: keeping it costs no memory, unlike a mask.
        self.out = out if train else None
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        self._check_dout(dout, self.out.shape)
        return cnn_ext.relu_backward(dout, self.out)

    def config(self) -> dict:
        return {"inplace": self.inplace}

    def __repr__(self) -> str:
        return "Relu(inplace=True)" if self.inplace else "Relu()"


class Sigmoid(Layer):
    """``out = 1 / (1 + exp(-x))``, computed without overflow for large ``|x|``.

    Example:
        >>> Sigmoid().forward(np.array([[-1000.0, 0.0]]))
        array([[0. , 0.5]])
    """

    def __init__(self) -> None:
        super().__init__()
        self.out = None

    def forward(self, x: np.ndarray, train: bool = True) -> np.ndarray:
        check_input(self.name, x, ANY_SHAPE, "(N, ...)")
        decay = np.exp(-np.abs(x))  # never overflows
        out = np.where(x >= 0, 1 / (1 + decay), decay / (1 + decay)).astype(x.dtype, copy=False)
        self.out = out if train else None
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        self._check_dout(dout, self.out.shape)
        return dout * self.out * (1 - self.out)


class Tanh(Layer):
    """``out = tanh(x)``.

    Example:
        >>> Tanh().forward(np.array([[0.0]]))
        array([[0.]])
    """

    def __init__(self) -> None:
        super().__init__()
        self.out = None

    def forward(self, x: np.ndarray, train: bool = True) -> np.ndarray:
        check_input(self.name, x, ANY_SHAPE, "(N, ...)")
        out = np.tanh(x)
        self.out = out if train else None
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        self._check_dout(dout, self.out.shape)
        return dout * (1 - self.out ** 2)
