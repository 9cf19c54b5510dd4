"""Max and average pooling: two kinds of window pooling, siblings of one base."""

from __future__ import annotations

from typing import Optional

import numpy as np

import cnn_ext
from cnn._checks import check_input, check_int
from cnn.layers.base import Layer

__all__ = ["WindowPooling", "Pooling", "AvgPooling"]


class WindowPooling(Layer):
    """What max and average pooling share: the window, its stride and padding, the shapes.

    Args:
        pool_h, pool_w: window size.
        stride: step, ``None`` for the window size.
        pad: padding on every side.

    Shape:
        x (N, C, H, W) -> out (N, C, out_h, out_w) with
        ``out_h = (H + 2*pad - pool_h) // stride + 1``, likewise ``out_w``.
    """

    def __init__(self, pool_h: int, pool_w: int, stride: Optional[int] = None, pad: int = 0) -> None:
        super().__init__()
        self.pool_h = check_int("pool_h", pool_h, 1)
        self.pool_w = check_int("pool_w", pool_w, 1)
        self.stride = None if stride is None else check_int("stride", stride, 1)
        self.pad = check_int("pad", pad, 0)
        self.x_shape = None

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        stride_h, stride_w = (self.pool_h, self.pool_w) if self.stride is None else (self.stride,) * 2
        return (cnn_ext.output_size(height, self.pool_h, stride_h, self.pad),
                cnn_ext.output_size(width, self.pool_w, stride_w, self.pad))

    def _check_pooled_dout(self, dout: np.ndarray, forward_state) -> None:
        expected = None
        if self.x_shape is not None:
            expected = self.x_shape[:2] + self.output_size(*self.x_shape[2:])
        self._check_dout(dout, forward_state, expected)

    def __repr__(self) -> str:
        return f"{self.name}({self.pool_h}x{self.pool_w}, stride={self.stride}, pad={self.pad})"


class Pooling(WindowPooling):
    """Max pooling, as the book names it; in training the position of each maximum is kept
    for ``backward``. Padding never wins the maximum. Arguments and shapes: see
    :class:`WindowPooling`.

    Example:
        >>> Pooling(2, 2).forward(np.arange(16.0).reshape(1, 1, 4, 4))[0, 0]
        array([[ 5.,  7.],
               [13., 15.]])
    """

    def __init__(self, pool_h: int, pool_w: int, stride: Optional[int] = None, pad: int = 0) -> None:
        super().__init__(pool_h, pool_w, stride, pad)
        self.argmax = None

    def forward(self, x: np.ndarray, train: bool = True) -> np.ndarray:
        check_input(self.name, x, (4,), "(N, C, H, W)")
        if train:
            out, argmax = cnn_ext.maxpool_forward(x, self.pool_h, self.pool_w, self.stride, self.pad)
        else:  # inference keeps no positions for a backward pass
            out, argmax = cnn_ext.maxpool(x, self.pool_h, self.pool_w, self.stride, self.pad), None
        self.x_shape, self.argmax = x.shape, argmax
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        self._check_pooled_dout(dout, self.argmax)
        return cnn_ext.maxpool_backward(dout, self.argmax, self.x_shape, self.pool_h, self.pool_w,
                                        self.stride, self.pad)


class AvgPooling(WindowPooling):
    """Average pooling; padded cells count as zeros in the average (like PyTorch's default).

    Arguments and shapes: see :class:`WindowPooling`, except that a non-square
    window needs an explicit ``stride``. Each channel is pooled as a one-channel
    image through ``cnn_ext.im2col``.

    Example:
        >>> AvgPooling(2, 2).forward(np.arange(16.0).reshape(1, 1, 4, 4))[0, 0]
        array([[ 2.5,  4.5],
               [10.5, 12.5]])
    """

    def __init__(self, pool_h: int, pool_w: int, stride: Optional[int] = None, pad: int = 0) -> None:
        super().__init__(pool_h, pool_w, stride, pad)
        if stride is None and self.pool_h != self.pool_w:
            raise ValueError(f"AvgPooling: a {self.pool_h}x{self.pool_w} window needs an explicit "
                             f"stride, got stride=None")
        self.stride = self.pool_h if stride is None else self.stride

    def forward(self, x: np.ndarray, train: bool = True) -> np.ndarray:
        check_input(self.name, x, (4,), "(N, C, H, W)")
        n_images, channels, height, width = x.shape
        planes = x.reshape(n_images * channels, 1, height, width)
        col = cnn_ext.im2col(planes, self.pool_h, self.pool_w, self.stride, self.pad)  # (N*C*out_h*out_w, ph*pw)
        out_h, out_w = self.output_size(height, width)
        self.x_shape = x.shape
        return col.mean(axis=1).reshape(n_images, channels, out_h, out_w)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        self._check_pooled_dout(dout, self.x_shape)
        n_images, channels, height, width = self.x_shape
        window = self.pool_h * self.pool_w
        dcol = np.repeat(dout.reshape(-1, 1) / window, window, axis=1)  # (N*C*out_h*out_w, ph*pw)
        dx = cnn_ext.col2im(dcol, (n_images * channels, 1, height, width),
                            self.pool_h, self.pool_w, self.stride, self.pad)
        return dx.reshape(self.x_shape)
