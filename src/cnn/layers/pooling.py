"""Max and average pooling: two kinds of window pooling, siblings of one base."""

from __future__ import annotations

from typing import Union

import numpy as np

import cnn_ext
from cnn._checks import check_input, check_int
from cnn.layers.base import Layer
from cnn_ext._checks import check_pool_pad, pool_strides

__all__ = ["WindowPooling", "Pooling", "AvgPooling"]

Stride = Union[int, tuple[int, int], None]


class WindowPooling(Layer):
    """What max and average pooling share: the window, its stride and padding, the shapes.

    Args:
        pool_h: window height.
        pool_w: window width.
        stride: step between windows, an int or a pair ``(stride_h, stride_w)``; ``None``
            (default) means the window size. Kept as the pair ``stride``.
        pad: padding on every side.

    Shape:
        x (N, C, H, W) -> out (N, C, out_h, out_w) with
        ``out_h = (H + 2*pad - pool_h) // stride_h + 1``, likewise ``out_w``.
    """

    def __init__(self, pool_h: int, pool_w: int, stride: Stride = None, pad: int = 0) -> None:
        super().__init__()
        self.pool_h = check_int("pool_h", pool_h, 1)
        self.pool_w = check_int("pool_w", pool_w, 1)
        self.stride = pool_strides(self.pool_h, self.pool_w, stride)
        self.pad = check_int("pad", pad, 0)
        self.x_shape = None

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        stride_h, stride_w = self.stride
        return (cnn_ext.output_size(height, self.pool_h, stride_h, self.pad),
                cnn_ext.output_size(width, self.pool_w, stride_w, self.pad))

    def _check_pooled_dout(self, dout: np.ndarray) -> None:
        self._check_dout(dout, self.x_shape[:2] + self.output_size(*self.x_shape[2:]))

    def config(self) -> dict:
        return {"pool_h": self.pool_h, "pool_w": self.pool_w, "stride": list(self.stride),
                "pad": self.pad}

    def __repr__(self) -> str:
        stride_h, stride_w = self.stride
        stride = stride_h if stride_h == stride_w else self.stride
        return f"{self.name}({self.pool_h}x{self.pool_w}, stride={stride}, pad={self.pad})"


class Pooling(WindowPooling):
    """Max pooling, as the book names it; in training the position of each maximum is kept
    for ``backward``. Padding never wins the maximum, so ``pad`` is at most half the window.
    Arguments and shapes: see :class:`WindowPooling`.

    Example:
        >>> Pooling(2, 2).forward(np.arange(16.0).reshape(1, 1, 4, 4))[0, 0]
        array([[ 5.,  7.],
               [13., 15.]])
    """

    def __init__(self, pool_h: int, pool_w: int, stride: Stride = None, pad: int = 0) -> None:
        super().__init__(pool_h, pool_w, stride, pad)
        self.pad = check_pool_pad(self.pool_h, self.pool_w, pad)
        self.argmax = None

    def forward(self, x: np.ndarray, train: bool = True) -> np.ndarray:
        check_input(self.name, x, (4,), "(N, C, H, W)")
        if train:
            out, argmax = cnn_ext.maxpool_forward(x, self.pool_h, self.pool_w, self.stride, self.pad)
        else:  # inference keeps no positions for a backward pass
            out, argmax = cnn_ext.maxpool(x, self.pool_h, self.pool_w, self.stride, self.pad), None
        self.x_shape, self.argmax = (x.shape if train else None), argmax
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        self._check_pooled_dout(dout)
        return cnn_ext.maxpool_backward(dout, self.argmax, self.x_shape, self.pool_h, self.pool_w,
                                        self.stride, self.pad)


class AvgPooling(WindowPooling):
    """Average pooling; padded cells count as zeros in the average (like PyTorch's default).

    Arguments and shapes: see :class:`WindowPooling`, except that the stride must be the
    same on both axes (a non-square window needs an explicit one). Each channel is pooled
    as a one-channel image through ``cnn_ext.im2col``.

    Example:
        >>> AvgPooling(2, 2).forward(np.arange(16.0).reshape(1, 1, 4, 4))[0, 0]
        array([[ 2.5,  4.5],
               [10.5, 12.5]])
    """

    def __init__(self, pool_h: int, pool_w: int, stride: Stride = None, pad: int = 0) -> None:
        super().__init__(pool_h, pool_w, stride, pad)
        stride_h, stride_w = self.stride
        if stride_h != stride_w:
            given = "stride=None" if stride is None else f"stride={stride!r}"
            raise ValueError(f"AvgPooling: a {self.pool_h}x{self.pool_w} window needs one stride "
                             f"for both axes, got {given}; pass stride=k")

    def forward(self, x: np.ndarray, train: bool = True) -> np.ndarray:
        check_input(self.name, x, (4,), "(N, C, H, W)")
        n_images, channels, height, width = x.shape
        planes = x.reshape(n_images * channels, 1, height, width)
        stride = self.stride[0]
        col = cnn_ext.im2col(planes, self.pool_h, self.pool_w, stride, self.pad)  # (N*C*out_h*out_w, ph*pw)
        out_h, out_w = self.output_size(height, width)
        self.x_shape = x.shape if train else None
        return col.mean(axis=1).reshape(n_images, channels, out_h, out_w)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        self._check_pooled_dout(dout)
        n_images, channels, height, width = self.x_shape
        window = self.pool_h * self.pool_w
        dcol = np.repeat(dout.reshape(-1, 1) / window, window, axis=1)  # (N*C*out_h*out_w, ph*pw)
        dx = cnn_ext.col2im(dcol, (n_images * channels, 1, height, width),
                            self.pool_h, self.pool_w, self.stride[0], self.pad)
        return dx.reshape(self.x_shape)
