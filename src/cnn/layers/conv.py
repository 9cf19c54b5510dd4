"""Convolution through the blocked engine of ``cnn_ext`` (unfolded columns and matrix products)."""

from __future__ import annotations

from typing import Optional, Union

import numpy as np

import cnn_ext
from cnn._checks import check_input, check_int, check_weight_and_bias
from cnn.init import initial_weights
from cnn.layers.base import Layer


class Convolution(Layer):
    """2-D convolution (cross-correlation, as in every deep learning library).

    Args:
        W: filters, shape (out_channels, in_channels, filter_h, filter_w).
        b: biases, shape (out_channels,), same dtype as ``W``.
        stride: step between windows.
        pad: zero padding on every side.

    Shape:
        x (N, in_channels, H, W) -> out (N, out_channels, out_h, out_w) with
        ``out_h = (H + 2*pad - filter_h) // stride + 1``, likewise ``out_w``.

    The work is done by ``cnn_ext.conv2d_forward``/``conv2d_backward``. A forward pass
    with ``train=True`` keeps a reference to ``x`` (not a copy) for ``backward``, so
    ``x`` must not be changed in place in between.
    """

    param_names = ("W", "b")

    def __init__(self, W: np.ndarray, b: np.ndarray, stride: int = 1, pad: int = 0) -> None:
        super().__init__()
        W, b = check_weight_and_bias("Convolution", W, b, 4,
                                     "(out_channels, in_channels, filter_h, filter_w)", bias_axis=0)
        self.stride = check_int("stride", stride, 1)
        self.pad = check_int("pad", pad, 0)
        self.params = [W, b]
        self.grads = [np.zeros_like(W), np.zeros_like(b)]
        self.x = None

    @classmethod
    def create(cls, in_channels: int, out_channels: int, filter_size: Union[int, tuple[int, int]],
               stride: int = 1, pad: int = 0, init: str = "he",
               rng: Optional[Union[int, np.random.Generator]] = None,
               dtype=np.float32) -> "Convolution":
        """A convolution built by size: weights from the initializer ``init`` (see
        :data:`cnn.init.INITIALIZERS`; He by default), zero biases.

        Args:
            in_channels: channels of the input.
            out_channels: channels of the output (the number of filters).
            filter_size: ``k`` for a k x k filter, or ``(filter_h, filter_w)``.
            stride: step between windows, as for the constructor.
            pad: zero padding on every side, as for the constructor.
            init: name of the initializer (see :data:`cnn.init.INITIALIZERS`).
            rng: a ``numpy.random.Generator`` or an int seed for the weights.
            dtype: float32 (default) or float64.

        Example:
            >>> Convolution.create(1, 6, 5, pad=2, rng=0)
            Convolution(1->6, 5x5, stride=1, pad=2)
        """
        in_channels = check_int("in_channels", in_channels, 1)
        out_channels = check_int("out_channels", out_channels, 1)
        filter_h, filter_w = (filter_size, filter_size) if not isinstance(filter_size, tuple) \
            else filter_size
        shape = (out_channels, in_channels, check_int("filter_size", filter_h, 1),
                 check_int("filter_size", filter_w, 1))
        W = initial_weights(shape, init, rng, dtype)
        return cls(W, np.zeros(out_channels, W.dtype), stride=stride, pad=pad)

    def forward(self, x: np.ndarray, train: bool = True) -> np.ndarray:
        W, b = self.params
        in_channels = W.shape[1]
        check_input("Convolution", x, (4,), f"(N, {in_channels}, H, W)", W.dtype)
        if x.shape[1] != in_channels:
            raise ValueError(f"Convolution: expected input of shape (N, {in_channels}, H, W), "
                             f"got shape {x.shape}")
        out = cnn_ext.conv2d_forward(x, W, b, self.stride, self.pad)
        # Training keeps the input (not its unfolded columns): backward unfolds it again,
        # a block of images at a time, which costs less than storing the columns.
        self.x = x if train else None
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return self._gradients(dout, input_grad=True)

    def backward_params(self, dout: np.ndarray) -> None:
        self._gradients(dout, input_grad=False)

    def _gradients(self, dout: np.ndarray, input_grad: bool):
        """Fill dW and db; return dx when ``input_grad``."""
        self._check_dout(dout, (self.x.shape[0], self.params[0].shape[0])
                         + self.output_size(*self.x.shape[2:]))
        dx, dW, db = cnn_ext.conv2d_backward(self.x, self.params[0], dout, self.stride, self.pad,
                                             input_grad=input_grad)
        self.grads[0][...] = dW
        self.grads[1][...] = db
        return dx

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        filter_h, filter_w = self.params[0].shape[2:]
        return (cnn_ext.output_size(height, filter_h, self.stride, self.pad),
                cnn_ext.output_size(width, filter_w, self.stride, self.pad))

    def config(self) -> dict:
        return {"stride": self.stride, "pad": self.pad}

    @classmethod
    def from_config(cls, config: dict, arrays: dict) -> "Convolution":
        return cls(arrays.get("W"), arrays.get("b"), **config)

    def __repr__(self) -> str:
        out_channels, in_channels, filter_h, filter_w = self.params[0].shape
        return (f"Convolution({in_channels}->{out_channels}, {filter_h}x{filter_w}, "
                f"stride={self.stride}, pad={self.pad})")
