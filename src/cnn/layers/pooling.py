"""Max and average pooling: two kinds of window pooling, siblings of one base."""

from __future__ import annotations

from typing import Union

import numpy as np

import cnn_ext
from cnn._checks import check_input, check_int
from cnn.layers.base import Layer
from cnn_ext.geometry import (PoolGeometry, check_pool_pad, compact, compact_pad, pair, pool_geometry,
                              pool_strides, reach, side_pads)

__all__ = ["WindowPooling", "Pooling", "AvgPooling"]

Stride = Union[int, tuple[int, int], None]
Pad = Union[int, tuple[int, int], tuple[tuple[int, int], tuple[int, int]]]


class WindowPooling(Layer):
    """What max and average pooling share: the window, its stride and padding, the shapes.

    Args:
        pool_h: window height.
        pool_w: window width.
        stride: step between windows, an int or a pair ``(stride_h, stride_w)``; ``None``
            (default) means the window size. Kept in its shortest form as ``stride`` (an int,
            or a pair where the axes differ) and in full as the pair ``strides``, as
            :class:`~cnn.layers.Convolution` keeps it.
        pad: padding: an int for every side, a pair (rows, columns) for both sides of each axis,
            or ``((top, bottom), (left, right))``. Kept in its shortest form as ``pad``, and in
            full as ``pads``.
        ceil_mode: round the output size up, so that a last window that hangs past the bottom
            or right edge counts too (unless it would start in the end padding), as PyTorch
            and ONNX do; the hanging part holds no pixels.
        dilation: spacing between window entries, an int or a pair (1: none).

    Shape:
        x (N, C, H, W) -> out (N, C, out_h, out_w) with
        ``out_h = (H + top + bottom - pool_h) // stride_h + 1`` (rounded up with
        ``ceil_mode``), likewise ``out_w``.
    """

    #: Whether a padded cell takes part in a window (as a zero), or never (max pooling).
    padding_counts = True

    def __init__(self, pool_h: int, pool_w: int, stride: Stride = None, pad: Pad = 0,
                 ceil_mode: bool = False, dilation: Union[int, tuple[int, int]] = 1) -> None:
        super().__init__()
        self.pool_h = check_int("pool_h", pool_h, 1)
        self.pool_w = check_int("pool_w", pool_w, 1)
        self.strides = pool_strides(self.pool_h, self.pool_w, stride)
        self.stride = compact(self.strides)
        self.pads = side_pads(pad)
        self.pad = compact_pad(self.pads)
        self.dilations = pair("dilation", dilation, 1)
        if not isinstance(ceil_mode, (bool, np.bool_)):
            raise TypeError(f"ceil_mode must be True or False, got {ceil_mode!r}")
        self.ceil_mode = bool(ceil_mode)
        self.x_shape = None

    def geometry(self, height: int, width: int) -> PoolGeometry:
        """The checked geometry of this window on images of ``height`` x ``width``."""
        return pool_geometry((1, 1, height, width), self.pool_h, self.pool_w, self.strides,
                             self.pads, self.dilations, self.ceil_mode,
                             padding_wins=self.padding_counts)

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        geometry = self.geometry(height, width)
        return geometry.out_h, geometry.out_w

    def output_shape(self, sample_shape: tuple[int, ...]) -> tuple[int, ...]:
        """``(C, out_h, out_w)`` for a sample ``(C, H, W)``."""
        if len(sample_shape) != 3:
            raise ValueError(f"{self.name} needs (C, H, W), gets {tuple(sample_shape)}")
        return (sample_shape[0],) + self.output_size(*sample_shape[1:])

    def _check_pooled_dout(self, dout: np.ndarray) -> None:
        self._check_dout(dout, self.x_shape[:2] + self.output_size(*self.x_shape[2:]))

    def config(self) -> dict:
        return {"pool_h": self.pool_h, "pool_w": self.pool_w, "stride": list(self.strides),
                "pad": self.pad, "ceil_mode": self.ceil_mode}

    def _settings(self) -> str:
        """The repr's settings beyond the window: the defaults are left out past ``pad``."""
        text = f"stride={self.stride}, pad={self.pad}"
        return text + (", ceil_mode=True" if self.ceil_mode else "")

    def __repr__(self) -> str:
        return f"{self.name}({self.pool_h}x{self.pool_w}, {self._settings()})"


class Pooling(WindowPooling):
    """Max pooling, as the book names it; in training the position of each maximum is kept
    for ``backward``. Padding never wins the maximum, so no side pads more than
    ``(pool - 1) * dilation``: every window holds a pixel. Shapes: see :class:`WindowPooling`.

    Args:
        pool_h: window height.
        pool_w: window width.
        stride: step between windows, an int or a pair; ``None`` (default): the window size.
        pad: padding, an int, a pair (rows, columns) or ``((top, bottom), (left, right))``.
        ceil_mode: round the output size up (see :class:`WindowPooling`).
        dilation: spacing between window entries, an int or a pair (1: none); the window then
            reaches ``dilation * (pool - 1) + 1`` pixels.

    Example:
        >>> Pooling(2, 2).forward(np.arange(16.0).reshape(1, 1, 4, 4))[0, 0]
        array([[ 5.,  7.],
               [13., 15.]])
    """

    padding_counts = False

    def __init__(self, pool_h: int, pool_w: int, stride: Stride = None, pad: Pad = 0,
                 ceil_mode: bool = False, dilation: Union[int, tuple[int, int]] = 1) -> None:
        super().__init__(pool_h, pool_w, stride, pad, ceil_mode, dilation)
        check_pool_pad(self.pool_h, self.pool_w, self.pads, self.dilations)
        self.dilation = compact(self.dilations)
        self.argmax = None

    def _window(self) -> tuple:
        return (self.pool_h, self.pool_w, self.strides, self.pads, self.dilations, self.ceil_mode)

    def forward(self, x: np.ndarray, train: bool = True) -> np.ndarray:
        check_input(self.name, x, (4,), "(N, C, H, W)")
        if train:
            out, argmax = cnn_ext.maxpool_forward(x, *self._window())
        else:  # inference keeps no positions for a backward pass
            out, argmax = cnn_ext.maxpool(x, *self._window()), None
        self.x_shape, self.argmax = (x.shape if train else None), argmax
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        self._check_pooled_dout(dout)
        return cnn_ext.maxpool_backward(dout, self.argmax, self.x_shape, *self._window())

    def config(self) -> dict:
        return {**super().config(), "dilation": self.dilation}

    def _settings(self) -> str:
        text = super()._settings()
        return text + (f", dilation={self.dilation}" if self.dilations != (1, 1) else "")


class AvgPooling(WindowPooling):
    """Average pooling. Shapes: see :class:`WindowPooling`.

    Args:
        pool_h: window height.
        pool_w: window width.
        stride: step between windows, an int or a pair; ``None`` (default): the window size.
        pad: padding, an int, a pair (rows, columns) or ``((top, bottom), (left, right))``.
        ceil_mode: round the output size up (see :class:`WindowPooling`).
        count_include_pad: divide by the whole window, padded cells counted as zeros (True, the
            default, as PyTorch's), or by the pixels of the image it covers (False). A window's
            part that ``ceil_mode`` makes hang past the padding is never counted, as in PyTorch.
        dilation: spacing between window entries, an int or a pair (1: none; ONNX's
            AveragePool has it from opset 19).

    The sums are a convolution of each channel with a window of ones (the engine of
    ``cnn_ext.conv2d_forward``), divided by each window's count.

    Example:
        >>> AvgPooling(2, 2).forward(np.arange(16.0).reshape(1, 1, 4, 4))[0, 0]
        array([[ 2.5,  4.5],
               [10.5, 12.5]])
    """

    def __init__(self, pool_h: int, pool_w: int, stride: Stride = None, pad: Pad = 0,
                 ceil_mode: bool = False, count_include_pad: bool = True,
                 dilation: Union[int, tuple[int, int]] = 1) -> None:
        super().__init__(pool_h, pool_w, stride, pad, ceil_mode, dilation)
        self.dilation = compact(self.dilations)
        if not isinstance(count_include_pad, (bool, np.bool_)):
            raise TypeError(f"count_include_pad must be True or False, got {count_include_pad!r}")
        self.count_include_pad = bool(count_include_pad)
        self.padding_counts = self.count_include_pad
        if not self.count_include_pad:  # every window divides by a count of at least one pixel
            check_pool_pad(self.pool_h, self.pool_w, self.pads, self.dilations)

    def _plan(self, x_shape: tuple[int, ...], dtype: np.dtype):
        """The window of ones, the pads that make every window fit (the ceil overhang added at
        the bottom and right), and the count each output divides by, (out_h, out_w)."""
        height, width = x_shape[2:]
        geometry = self.geometry(height, width)
        pads, counts = [], []
        for size, window, step, (before, after), spread, out in (
                (height, self.pool_h, self.strides[0], self.pads[0], self.dilations[0], geometry.out_h),
                (width, self.pool_w, self.strides[1], self.pads[1], self.dilations[1], geometry.out_w)):
            entries = (np.arange(out) * step - before)[:, None] + spread * np.arange(window)
            low, high = (-before, size + after) if self.count_include_pad else (0, size)
            counts.append(((entries >= low) & (entries < high)).sum(axis=1))
            pads.append((before, max(after, (out - 1) * step + reach(window, spread) - size - before)))
        ones = np.ones((1, 1, self.pool_h, self.pool_w), dtype)
        return ones, tuple(pads), np.outer(*counts).astype(dtype)

    def forward(self, x: np.ndarray, train: bool = True) -> np.ndarray:
        check_input(self.name, x, (4,), "(N, C, H, W)")
        n_images, channels, height, width = x.shape
        ones, pads, counts = self._plan(x.shape, x.dtype)
        planes = x.reshape(n_images * channels, 1, height, width)
        sums = cnn_ext.conv2d_forward(planes, ones, np.zeros(1, x.dtype), self.strides, pads,
                                      self.dilations)
        self.x_shape = x.shape if train else None
        return (sums / counts).reshape(n_images, channels, *counts.shape)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        self._check_pooled_dout(dout)
        n_images, channels, height, width = self.x_shape
        ones, pads, counts = self._plan(self.x_shape, dout.dtype)
        shares = np.ascontiguousarray((dout / counts).reshape(n_images * channels, 1, *counts.shape))
        planes = np.zeros((n_images * channels, 1, height, width), dout.dtype)
        dx, _, _ = cnn_ext.conv2d_backward(planes, ones, shares, self.strides, pads, self.dilations)
        return dx.reshape(self.x_shape)

    def config(self) -> dict:
        return {**super().config(), "count_include_pad": self.count_include_pad,
                "dilation": self.dilation}

    def _settings(self) -> str:
        text = super()._settings()
        text += "" if self.count_include_pad else ", count_include_pad=False"
        return text + (f", dilation={self.dilation}" if self.dilations != (1, 1) else "")
