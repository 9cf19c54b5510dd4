"""Global pooling: one number per channel, the mean or the maximum over the whole image."""

from __future__ import annotations

import numpy as np

from cnn._checks import check_input
from cnn.layers.base import Layer

__all__ = ["GlobalAveragePooling", "GlobalMaxPooling"]


class _OverEachPlane(Layer):
    """What the global poolings share: an image (N, C, H, W) pooled to one value per channel."""

    flattens = True

    def output_shape(self, sample_shape: tuple[int, ...]) -> tuple[int, ...]:
        """``(C,)`` for a sample ``(C, H, W)``."""
        if len(sample_shape) != 3:
            raise ValueError(f"{self.name} needs (C, H, W), gets {tuple(sample_shape)}")
        return tuple(sample_shape[:1])


class GlobalAveragePooling(_OverEachPlane):
    """The mean of each channel over its H x W pixels, as a ResNet ends its convolutions.

    Shape: x (N, C, H, W) -> out (N, C).

    Example:
        >>> GlobalAveragePooling().forward(np.arange(8.0).reshape(1, 2, 2, 2))
        array([[1.5, 5.5]])
    """

    def __init__(self) -> None:
        super().__init__()
        self.x_shape = None

    def forward(self, x: np.ndarray, train: bool = True) -> np.ndarray:
        check_input(self.name, x, (4,), "(N, C, H, W)")
        self.x_shape = x.shape if train else None
        return x.mean(axis=(2, 3))

    def backward(self, dout: np.ndarray) -> np.ndarray:
        self._check_dout(dout, self.x_shape[:2])
        n_images, channels, height, width = self.x_shape
        share = dout / dout.dtype.type(height * width)
        return np.broadcast_to(share[:, :, None, None], self.x_shape).copy()


class GlobalMaxPooling(_OverEachPlane):
    """The maximum of each channel over its H x W pixels; the gradient goes to the first
    position of each maximum, as in max pooling.

    Shape: x (N, C, H, W) -> out (N, C).

    Example:
        >>> GlobalMaxPooling().forward(np.arange(8.0).reshape(1, 2, 2, 2))
        array([[3., 7.]])
    """

    def __init__(self) -> None:
        super().__init__()
        self.x_shape = None
        self.argmax = None

    def forward(self, x: np.ndarray, train: bool = True) -> np.ndarray:
        check_input(self.name, x, (4,), "(N, C, H, W)")
        planes = x.reshape(x.shape[0], x.shape[1], -1)
        argmax = planes.argmax(axis=2)
        self.x_shape, self.argmax = (x.shape, argmax) if train else (None, None)
        return np.take_along_axis(planes, argmax[:, :, None], axis=2)[:, :, 0]

    def backward(self, dout: np.ndarray) -> np.ndarray:
        self._check_dout(dout, self.x_shape[:2])
        n_images, channels, height, width = self.x_shape
        dx = np.zeros((n_images, channels, height * width), dtype=dout.dtype)
        np.put_along_axis(dx, self.argmax[:, :, None], dout[:, :, None], axis=2)
        return dx.reshape(self.x_shape)
