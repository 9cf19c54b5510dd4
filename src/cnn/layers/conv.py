"""Convolution by im2col and one matrix product."""

from __future__ import annotations

import numpy as np

import cnn_ext
from cnn._checks import check_input, check_int, check_weight_and_bias
from cnn.layers.base import Layer


class Convolution(Layer):
    """2-D convolution (cross-correlation, as in every deep learning library).

    Args:
        W: filters, shape (out_channels, in_channels, filter_h, filter_w).
        b: biases, shape (out_channels,), same dtype as ``W``.
        stride: step between windows. pad: zero padding on every side.

    Shape:
        x (N, in_channels, H, W) -> out (N, out_channels, out_h, out_w) with
        ``out_h = (H + 2*pad - filter_h) // stride + 1``, likewise ``out_w``.
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
        self.x_shape = None
        self.col = None

    def forward(self, x: np.ndarray, train: bool = True) -> np.ndarray:
        W, b = self.params
        out_channels, in_channels, filter_h, filter_w = W.shape
        check_input("Convolution", x, (4,), f"(N, {in_channels}, H, W)", W.dtype)
        if x.shape[1] != in_channels:
            raise ValueError(f"Convolution: expected input of shape (N, {in_channels}, H, W), "
                             f"got shape {x.shape}")
        n_images = x.shape[0]
        col = cnn_ext.im2col(x, filter_h, filter_w, self.stride, self.pad)  # (N*out_h*out_w, C*fh*fw)
        out = col @ W.reshape(out_channels, -1).T                           # (N*out_h*out_w, out_channels)
        out_h, out_w = self.output_size(x.shape[2], x.shape[3])
        self.x_shape, self.col = x.shape, col
        # Rows are ordered (n, oh, ow): reshape to (N, out_h, out_w, C_out), then move channels
        # forward. The copy to contiguous memory keeps the element-wise layers after it fast.
        out = np.ascontiguousarray(out.reshape(n_images, out_h, out_w, out_channels).transpose(0, 3, 1, 2))
        out += b.reshape(1, out_channels, 1, 1)
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        W, _ = self.params
        out_channels, _, filter_h, filter_w = W.shape
        dout = self._param_grads(dout)
        dcol = dout @ W.reshape(out_channels, -1)  # (N*out_h*out_w, C*fh*fw)
        return cnn_ext.col2im(dcol, self.x_shape, filter_h, filter_w, self.stride, self.pad)

    def backward_params(self, dout: np.ndarray) -> None:
        self._param_grads(dout)

    def _param_grads(self, dout: np.ndarray) -> np.ndarray:
        """Fill dW and db; return dout as rows (N*out_h*out_w, C_out)."""
        self.grads[1][...] = dout.sum(axis=(0, 2, 3))
        dout = dout.transpose(0, 2, 3, 1).reshape(-1, self.params[0].shape[0])
        self.grads[0][...] = (dout.T @ self.col).reshape(self.params[0].shape)
        return dout

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        filter_h, filter_w = self.params[0].shape[2:]
        return ((height + 2 * self.pad - filter_h) // self.stride + 1,
                (width + 2 * self.pad - filter_w) // self.stride + 1)

    def __repr__(self) -> str:
        out_channels, in_channels, filter_h, filter_w = self.params[0].shape
        return (f"Convolution({in_channels}->{out_channels}, {filter_h}x{filter_w}, "
                f"stride={self.stride}, pad={self.pad})")
