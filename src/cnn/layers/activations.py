"""Activations: element-wise ones (ReLU and its leaky and learned kins, sigmoid, tanh) and the
softmax over axis 1. Shape: x (any) -> out (same shape)."""

from __future__ import annotations

import math

import numpy as np

import cnn_ext
from cnn._checks import check_float, check_input, check_int, check_weight
from cnn.functions import log_softmax, softmax
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

    activation = True
    per_position = True

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        if not isinstance(inplace, (bool, np.bool_)):
            raise TypeError(f"inplace must be True or False, got {inplace!r}")
        self.inplace = bool(inplace)
        self.out = None

    def forward(self, x: np.ndarray, train: bool = True, applied: bool = False) -> np.ndarray:
        """``max(x, 0)``; with ``applied``, ``x`` is that already (the layer before computed it
        as it wrote its output, see :mod:`cnn.layers.fusion`) and is kept as the result."""
        check_input(self.name, x, ANY_SHAPE, "(N, ...)")
        out = x if applied else cnn_ext.relu(x, inplace=self.inplace)
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

    activation = True
    per_position = True

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

    activation = True
    per_position = True

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


class LeakyRelu(Layer):
    """``out = x`` where ``x > 0``, else ``alpha * x``: a ReLU that lets a little through.

    Args:
        alpha: the slope for negative inputs, a finite number (default 0.01, as PyTorch's).

    Shape: x (any) -> out (same shape).

    Example:
        >>> LeakyRelu(0.1).forward(np.array([[-2.0, 3.0]]))
        array([[-0.2,  3. ]])
    """

    activation = True
    per_position = True

    def __init__(self, alpha: float = 0.01) -> None:
        super().__init__()
        self.alpha = check_float("alpha", alpha, -math.inf)
        self.x = None

    def forward(self, x: np.ndarray, train: bool = True) -> np.ndarray:
        check_input(self.name, x, ANY_SHAPE, "(N, ...)")
        self.x = x if train else None
        return np.where(x > 0, x, x * x.dtype.type(self.alpha))

    def backward(self, dout: np.ndarray) -> np.ndarray:
        self._check_dout(dout, self.x.shape)
        return np.where(self.x > 0, dout, dout * dout.dtype.type(self.alpha))

    def config(self) -> dict:
        return {"alpha": self.alpha}

    def __repr__(self) -> str:
        return f"LeakyRelu(alpha={self.alpha:g})"


class PRelu(Layer):
    """A leaky ReLU whose negative slope is learned: one per channel, or one for all.

    Args:
        alpha: the slopes, shape (C,) for one per channel of an input (N, C, ...), or (1,)
            for one shared by every element.

    Shape: x (N, C, ...) -> out (same shape).

    Example:
        >>> layer = PRelu.create(2, init=0.5, dtype=np.float64)
        >>> layer.forward(np.array([[-2.0, -4.0]]))
        array([[-1., -2.]])
    """

    activation = True
    per_position = True

    def __init__(self, alpha: np.ndarray) -> None:
        super().__init__()
        alpha = check_weight("PRelu", "alpha", alpha, 1, "(channels,) or (1,)")
        self.add_param("alpha", alpha)
        self.x = None

    @classmethod
    def create(cls, channels: int = 1, init: float = 0.25, dtype=np.float32) -> "PRelu":
        """A PRelu of ``channels`` slopes (1: one shared), each starting at ``init`` (0.25, as
        PyTorch's).

        Args:
            channels: the input's channels, or 1 for one slope shared by all.
            init: the slopes' first value.
            dtype: float32 (default) or float64.
        """
        channels = check_int("channels", channels, 1)
        return cls(np.full(channels, check_float("init", init, -math.inf), np.dtype(dtype)))

    def _slopes(self, x: np.ndarray) -> np.ndarray:
        """The slopes, shaped to broadcast over ``x`` (N, C, ...)."""
        alpha = self.params[0]
        if alpha.shape[0] == 1:
            return alpha.reshape((1,) * x.ndim)
        return alpha.reshape((1, -1) + (1,) * (x.ndim - 2))

    def forward(self, x: np.ndarray, train: bool = True) -> np.ndarray:
        alpha = self.params[0]
        check_input(self.name, x, range(2, 33), f"(N, {alpha.shape[0]}, ...)", alpha.dtype)
        if alpha.shape[0] != 1 and x.shape[1] != alpha.shape[0]:
            raise ValueError(f"PRelu: expected input of shape (N, {alpha.shape[0]}, ...), got "
                             f"shape {x.shape}")
        self.x = x if train else None
        return np.where(x > 0, x, x * self._slopes(x))

    def backward(self, dout: np.ndarray) -> np.ndarray:
        self._check_dout(dout, self.x.shape)
        negative = np.where(self.x > 0, 0, self.x * dout)
        axes = tuple(range(dout.ndim)) if self.params[0].shape[0] == 1 else \
            (0,) + tuple(range(2, dout.ndim))
        self.grads[0][...] = negative.sum(axis=axes).reshape(self.params[0].shape)
        return np.where(self.x > 0, dout, dout * self._slopes(self.x))

    def output_shape(self, sample_shape: tuple[int, ...]) -> tuple[int, ...]:
        """The sample's own shape, whose first axis holds the slopes' channels (any, for one)."""
        channels = self.params[0].shape[0]
        if not sample_shape or (channels != 1 and sample_shape[0] != channels):
            raise ValueError(f"PRelu needs {channels} channels, ({channels}, ...), gets "
                             f"{tuple(sample_shape)}")
        return tuple(sample_shape)

    @classmethod
    def from_config(cls, config: dict, arrays: dict) -> "PRelu":
        return cls(arrays.get("alpha"), **config)

    def __repr__(self) -> str:
        return f"PRelu({self.params[0].shape[0]})"


class _OverAxisOne(Layer):
    """What Softmax and LogSoftmax share: an input (N, K, ...) mapped along axis 1, the output
    kept for the backward pass."""

    per_position = True

    def __init__(self) -> None:
        super().__init__()
        self.out = None

    def _map(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def forward(self, x: np.ndarray, train: bool = True) -> np.ndarray:
        check_input(self.name, x, range(2, 33), "(N, K, ...)")
        out = self._map(x)
        self.out = out if train else None
        return out


class Softmax(_OverAxisOne):
    """Probabilities over axis 1, for a model whose output should be them (an imported graph
    that ends in Softmax): ``predict`` then returns probabilities. To train, end the layers
    with the scores and let :class:`~cnn.losses.SoftmaxWithLoss` apply the softmax.

    Shape: x (N, K, ...) -> out (same shape), summing to 1 along axis 1.

    Example:
        >>> Softmax().forward(np.log(np.array([[1.0, 3.0]])))
        array([[0.25, 0.75]])
    """

    def _map(self, x: np.ndarray) -> np.ndarray:
        return softmax(x, axis=1)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        self._check_dout(dout, self.out.shape)
        return self.out * (dout - (dout * self.out).sum(axis=1, keepdims=True))


class LogSoftmax(_OverAxisOne):
    """The logarithm of :class:`Softmax`, computed without overflow: log-probabilities over axis 1.

    Shape: x (N, K, ...) -> out (same shape).

    Example:
        >>> np.exp(LogSoftmax().forward(np.log(np.array([[1.0, 3.0]]))))
        array([[0.25, 0.75]])
    """

    def _map(self, x: np.ndarray) -> np.ndarray:
        return log_softmax(x, axis=1)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        self._check_dout(dout, self.out.shape)
        return dout - np.exp(self.out) * dout.sum(axis=1, keepdims=True)
