"""Transposed convolution (PyTorch's ``ConvTranspose2d``): the adjoint of a convolution, built on
the convolution kernels of ``cnn_ext``."""

from __future__ import annotations

from typing import Optional, Union

import numpy as np

import cnn_ext
from cnn._checks import check_input, check_int, check_weight
from cnn.init import initial_weights
from cnn.layers.base import SkippableInputGradient
from cnn_ext.geometry import compact, compact_pad, pair, reach, side_pads

Pair = Union[int, tuple[int, int]]
Pad = Union[int, tuple[int, int], tuple[tuple[int, int], tuple[int, int]]]


class ConvTranspose(SkippableInputGradient):
    """Transposed convolution, the gradient of a convolution with respect to its input: each
    input pixel scatters its filter-weighted values over a window of the output (an upsampling
    that is learned).

    Its forward pass is the input gradient of the convolution with the same weights and
    settings that maps its output back to its input, and its input gradient is that convolution;
    both run on ``cnn_ext.conv2d_forward``/``conv2d_backward``.

    Args:
        W: filters, shape (in_channels, out_channels // groups, filter_h, filter_w), as in
            PyTorch's ``ConvTranspose2d``.
        b: biases, shape (out_channels,), the dtype of ``W``.
        stride: step between the windows an input pixel writes, an int or a pair.
        pad: rows and columns cut from the output's borders: an int, a pair (rows, columns), or
            ``((top, bottom), (left, right))``.
        output_padding: rows and columns added at the bottom and right, to reach an output size
            a stride leaves ambiguous; each below the stride or the dilation.
        dilation: spacing between filter entries, an int or a pair.
        groups: the channels split into this many groups, each with its own filters.

    Shape:
        x (N, in_channels, H, W) -> out (N, out_channels, out_h, out_w) with
        ``out_h = (H - 1) * stride_h - top - bottom + dilation_h * (filter_h - 1)
        + output_padding_h + 1``, likewise ``out_w``.

    Example:
        >>> layer = ConvTranspose.create(2, 3, 3, stride=2, pad=1, output_padding=1, rng=0)
        >>> layer.forward(np.ones((4, 2, 5, 5), np.float32)).shape
        (4, 3, 10, 10)
    """

    def __init__(self, W: np.ndarray, b: np.ndarray, stride: Pair = 1, pad: Pad = 0,
                 output_padding: Pair = 0, dilation: Pair = 1, groups: int = 1) -> None:
        super().__init__()
        W = check_weight("ConvTranspose", "W", W, 4,
                         "(in_channels, out_channels // groups, filter_h, filter_w)")
        b = check_weight("ConvTranspose", "b", b, 1, "(out_channels,)")
        self.strides = pair("stride", stride, 1)
        self.dilations = pair("dilation", dilation, 1)
        self.pads = side_pads(pad)
        self.output_paddings = pair("output_padding", output_padding, 0)
        self.groups = check_int("groups", groups, 1)
        if W.shape[0] % self.groups:
            raise ValueError(f"ConvTranspose: groups={self.groups} must divide the input channels "
                             f"W.shape[0] = {W.shape[0]}")
        if b.shape != (W.shape[1] * self.groups,) or b.dtype != W.dtype:
            raise ValueError(f"ConvTranspose: b must have shape ({W.shape[1] * self.groups},) (one "
                             f"bias per output channel, W.shape[1] * groups) and dtype {W.dtype}, "
                             f"got shape {b.shape} and dtype {b.dtype}")
        for axis, extra, step, spread in zip(("rows", "columns"), self.output_paddings,
                                             self.strides, self.dilations):
            if extra >= max(step, spread):
                raise ValueError(f"output_padding must be below the stride or the dilation, got "
                                 f"output_padding={compact(self.output_paddings)} for {axis} "
                                 f"with stride {step} and dilation {spread}")
        self.stride, self.dilation = compact(self.strides), compact(self.dilations)
        self.pad, self.output_padding = compact_pad(self.pads), compact(self.output_paddings)
        self.add_param("W", W)
        self.add_param("b", b)
        self.x = None

    @classmethod
    def create(cls, in_channels: int, out_channels: int, filter_size: Union[int, tuple[int, int]],
               stride: Pair = 1, pad: Pad = 0, output_padding: Pair = 0, dilation: Pair = 1,
               groups: int = 1, init: str = "he",
               rng: Optional[Union[int, np.random.Generator]] = None,
               dtype=np.float32) -> "ConvTranspose":
        """A transposed convolution built by size: weights (in_channels, out_channels // groups,
        filter_h, filter_w) from the initializer ``init`` (He by default, with the fan-in taken
        from that shape as PyTorch's ``ConvTranspose2d`` takes it, ``out_channels // groups *
        filter_h * filter_w``), zero biases. The other arguments are the constructor's."""
        in_channels = check_int("in_channels", in_channels, 1)
        out_channels = check_int("out_channels", out_channels, 1)
        groups = check_int("groups", groups, 1)
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"groups={groups} must divide in_channels={in_channels} and "
                             f"out_channels={out_channels}")
        filter_h, filter_w = pair("filter_size", filter_size, 1)
        W = initial_weights((in_channels, out_channels // groups, filter_h, filter_w), init, rng, dtype)
        return cls(W, np.zeros(out_channels, W.dtype), stride, pad, output_padding, dilation, groups)

    @property
    def out_channels(self) -> int:
        """Channels of the output: ``W.shape[1] * groups``."""
        return self.params[0].shape[1] * self.groups

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        """``(out_h, out_w)`` for an input of ``height`` x ``width``; ``ValueError`` when the
        padding cuts away the whole output."""
        sizes = []
        for axis, size, window, step, (before, after), spread, extra in zip(
                ("height", "width"), (height, width), self.params[0].shape[2:], self.strides,
                self.pads, self.dilations, self.output_paddings):
            out = (size - 1) * step - before - after + reach(window, spread) + extra
            if out < 1:
                raise ValueError(f"ConvTranspose: pad={self.pad} cuts the whole output {axis} "
                                 f"away for an input {axis} of {size}")
            sizes.append(out)
        return sizes[0], sizes[1]

    def output_shape(self, sample_shape: tuple[int, ...]) -> tuple[int, ...]:
        """``(out_channels, out_h, out_w)`` for a sample ``(in_channels, H, W)``."""
        in_channels = self.params[0].shape[0]
        if len(sample_shape) != 3 or sample_shape[0] != in_channels:
            raise ValueError(f"ConvTranspose needs (C={in_channels}, H, W), gets "
                             f"{tuple(sample_shape)}")
        return (self.out_channels,) + self.output_size(*sample_shape[1:])

    def forward(self, x: np.ndarray, train: bool = True) -> np.ndarray:
        W, b = self.params
        check_input("ConvTranspose", x, (4,), f"(N, {W.shape[0]}, H, W)", W.dtype)
        out_shape = (x.shape[0],) + self.output_shape(x.shape[1:])
        # The output is the input gradient of the convolution of an image of the output's
        # shape; the kernels compute that gradient from the images' shape, not their values
        # (and check that this convolution maps the output back to the input's size).
        image = np.zeros(out_shape, x.dtype)
        out, _, _ = cnn_ext.conv2d_backward(image, W, x, self.strides, self.pads, self.dilations,
                                            self.groups)
        out += b.reshape(1, -1, 1, 1)
        self.x = x if train else None
        return out

    def _gradients(self, dout: np.ndarray, input_grad: bool) -> Optional[np.ndarray]:
        """Fill dW and db; return dx (the convolution of ``dout``) when ``input_grad``."""
        W = self.params[0]
        self._check_dout(dout, (self.x.shape[0],) + self.output_shape(self.x.shape[1:]))
        # dW: the convolution's weight gradient, with dout as its input and x as its output's.
        _, dW, _ = cnn_ext.conv2d_backward(dout, W, self.x, self.strides, self.pads,
                                           self.dilations, self.groups, input_grad=False)
        self.grads[0][...] = dW
        self.grads[1][...] = dout.sum(axis=(0, 2, 3))
        if not input_grad:
            return None
        return cnn_ext.conv2d_forward(dout, W, np.zeros(W.shape[0], W.dtype), self.strides,
                                      self.pads, self.dilations, self.groups)

    def config(self) -> dict:
        return {"stride": self.stride, "pad": self.pad, "output_padding": self.output_padding,
                "dilation": self.dilation, "groups": self.groups}

    @classmethod
    def from_config(cls, config: dict, arrays: dict) -> "ConvTranspose":
        return cls(arrays.get("W"), arrays.get("b"), **config)

    def __repr__(self) -> str:
        in_channels, _, filter_h, filter_w = self.params[0].shape
        text = (f"ConvTranspose({in_channels}->{self.out_channels}, {filter_h}x{filter_w}, "
                f"stride={self.stride}, pad={self.pad}")
        for name, value, plain in (("output_padding", self.output_padding, 0),
                                   ("dilation", self.dilation, 1), ("groups", self.groups, 1)):
            if value != plain:
                text += f", {name}={value}"
        return text + ")"

