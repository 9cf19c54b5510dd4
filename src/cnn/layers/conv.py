"""Convolution through the engines of ``cnn_ext`` (direct kernels, or unfolded columns and matrix
products), with strides, padding per side, dilation and groups."""

from __future__ import annotations

from typing import Optional, Union

import numpy as np

import cnn_ext
from cnn._checks import check_input, check_int, check_weight_and_bias
from cnn.init import initial_weights
from cnn.layers.base import SkippableInputGradient
from cnn_ext.geometry import compact, compact_pad, conv_geometry, pair, reach, side_pads

Pair = Union[int, tuple[int, int]]
Pad = Union[int, tuple[int, int], tuple[tuple[int, int], tuple[int, int]], str]


class Convolution(SkippableInputGradient):
    """2-D convolution (cross-correlation, as in every deep learning library).

    Args:
        W: filters, shape (out_channels, in_channels // groups, filter_h, filter_w), as in
            PyTorch.
        b: biases, shape (out_channels,), same dtype as ``W``.
        stride: step between windows, an int or a pair (rows, columns).
        pad: zero padding: an int for every side, a pair (rows, columns) for both sides of each
            axis, ``((top, bottom), (left, right))``, or ``"same"`` (stride 1 only: the output
            has the input's size; an odd total puts the extra row or column at the bottom or
            right, as PyTorch and ONNX's ``SAME_UPPER`` do).
        dilation: spacing between filter entries, an int or a pair (1: none).
        groups: split the channels into this many groups, each convolved with its own
            ``out_channels // groups`` filters; ``groups == in_channels`` is a depthwise
            convolution, with ``out_channels // in_channels`` filters per channel.

    Shape:
        x (N, in_channels, H, W) -> out (N, out_channels, out_h, out_w) with
        ``out_h = (H + top + bottom - dilation_h * (filter_h - 1) - 1) // stride_h + 1``,
        likewise ``out_w``; ``(H + 2*pad - filter_h) // stride + 1`` for the book's case.

    The settings are kept resolved, each in its shortest form (``stride`` and ``dilation`` an
    int, or a pair where the axes differ; ``pad`` an int, a pair (rows, columns), or the sides
    where they differ; ``"same"`` resolved to numbers), and in full as ``strides``, ``pads``
    ((top, bottom), (left, right)) and ``dilations``. The work is
    done by ``cnn_ext.conv2d_forward``/``conv2d_backward``. A forward pass with ``train=True``
    keeps a reference to ``x`` (not a copy) for ``backward``, so ``x`` must not be changed in
    place in between.
    """

    fuses_relu = True  # forward(relu=True): see cnn.layers.fusion

    def __init__(self, W: np.ndarray, b: np.ndarray, stride: Pair = 1, pad: Pad = 0,
                 dilation: Pair = 1, groups: int = 1) -> None:
        super().__init__()
        W, b = check_weight_and_bias("Convolution", W, b, 4,
                                     "(out_channels, in_channels // groups, filter_h, filter_w)",
                                     bias_axis=0)
        self.strides = pair("stride", stride, 1)
        self.dilations = pair("dilation", dilation, 1)
        self.groups = check_int("groups", groups, 1)
        if W.shape[0] % self.groups:
            raise ValueError(f"Convolution: groups={self.groups} must divide the output channels "
                             f"W.shape[0] = {W.shape[0]}")
        self.pads = self._resolved_pad(pad, W.shape[2:])
        self.stride, self.dilation = compact(self.strides), compact(self.dilations)
        self.pad = compact_pad(self.pads)
        self.add_param("W", W)
        self.add_param("b", b)
        self.x = None

    def _resolved_pad(self, pad: Pad, window: tuple[int, int]):
        if not isinstance(pad, str):
            return side_pads(pad)
        if pad != "same":
            raise ValueError(f"pad must be an integer, a pair, ((top, bottom), (left, right)) or "
                             f"'same', got {pad!r}")
        if self.strides != (1, 1):
            raise ValueError(f"pad='same' needs stride 1, got stride={self.strides}")
        totals = [reach(size, spread) - 1 for size, spread in zip(window, self.dilations)]
        return tuple((total // 2, total - total // 2) for total in totals)

    @property
    def in_channels(self) -> int:
        """Channels of the input: ``W.shape[1] * groups``."""
        return self.params[0].shape[1] * self.groups

    @classmethod
    def create(cls, in_channels: int, out_channels: int, filter_size: Union[int, tuple[int, int]],
               stride: Pair = 1, pad: Pad = 0, dilation: Pair = 1, groups: int = 1,
               init: str = "he", rng: Optional[Union[int, np.random.Generator]] = None,
               dtype=np.float32) -> "Convolution":
        """A convolution built by size: weights from the initializer ``init`` (see
        :data:`cnn.init.INITIALIZERS`; He by default, whose fan-in is one group's
        ``in_channels // groups * filter_h * filter_w``), zero biases.

        Args:
            in_channels: channels of the input.
            out_channels: channels of the output (the number of filters).
            filter_size: ``k`` for a k x k filter, or ``(filter_h, filter_w)``.
            stride: step between windows, as for the constructor.
            pad: zero padding, as for the constructor.
            dilation: spacing between filter entries, as for the constructor.
            groups: channel groups, as for the constructor; ``groups=in_channels`` with
                ``out_channels = k * in_channels`` is a depthwise convolution of multiplier k.
            init: name of the initializer (see :data:`cnn.init.INITIALIZERS`).
            rng: a ``numpy.random.Generator`` or an int seed for the weights.
            dtype: float32 (default) or float64.

        Example:
            >>> Convolution.create(1, 6, 5, pad=2, rng=0)
            Convolution(1->6, 5x5, stride=1, pad=2)
            >>> Convolution.create(32, 32, 3, pad="same", groups=32, rng=0)  # depthwise
            Convolution(32->32, 3x3, stride=1, pad=1, groups=32)
        """
        in_channels = check_int("in_channels", in_channels, 1)
        out_channels = check_int("out_channels", out_channels, 1)
        groups = check_int("groups", groups, 1)
        if in_channels % groups:
            raise ValueError(f"groups={groups} must divide in_channels={in_channels}")
        filter_h, filter_w = (filter_size, filter_size) if not isinstance(filter_size, tuple) \
            else filter_size
        shape = (out_channels, in_channels // groups, check_int("filter_size", filter_h, 1),
                 check_int("filter_size", filter_w, 1))
        W = initial_weights(shape, init, rng, dtype)
        return cls(W, np.zeros(out_channels, W.dtype), stride=stride, pad=pad, dilation=dilation,
                   groups=groups)

    def forward(self, x: np.ndarray, train: bool = True, relu: bool = False) -> np.ndarray:
        """The convolution of x (N, C, H, W); with ``relu``, ``max(that, 0)`` computed as the
        kernels write it (what a model asks for when a Relu follows, see
        :mod:`cnn.layers.fusion`)."""
        W, b = self.params
        in_channels = self.in_channels
        check_input("Convolution", x, (4,), f"(N, {in_channels}, H, W)", W.dtype)
        if x.shape[1] != in_channels:
            raise ValueError(f"Convolution: expected input of shape (N, {in_channels}, H, W), "
                             f"got shape {x.shape}")
        out = cnn_ext.conv2d_forward(x, W, b, self.strides, self.pads, self.dilations, self.groups,
                                     relu=relu)
        # Training keeps the input (not its unfolded columns): backward unfolds it again,
        # a block of images at a time, which costs less than storing the columns.
        self.x = x if train else None
        return out

    def _gradients(self, dout: np.ndarray, input_grad: bool):
        """Fill dW and db; return dx when ``input_grad``."""
        self._check_dout(dout, (self.x.shape[0], self.params[0].shape[0])
                         + self.output_size(*self.x.shape[2:]))
        dx, dW, db = cnn_ext.conv2d_backward(self.x, self.params[0], dout, self.strides, self.pads,
                                             self.dilations, self.groups, input_grad=input_grad)
        self.grads[0][...] = dW
        self.grads[1][...] = db
        return dx

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        """``(out_h, out_w)`` for an input of ``height`` x ``width``; ``ValueError`` when the
        (dilated) window does not fit in the padded input."""
        geometry = conv_geometry((1, self.in_channels, height, width), self.params[0].shape,
                                 self.strides, self.pads, self.dilations, self.groups)
        return geometry.out_h, geometry.out_w

    def output_shape(self, sample_shape: tuple[int, ...]) -> tuple[int, ...]:
        """``(out_channels, out_h, out_w)`` for a sample ``(in_channels, H, W)``."""
        if len(sample_shape) != 3 or sample_shape[0] != self.in_channels:
            raise ValueError(f"Convolution needs (C={self.in_channels}, H, W), gets "
                             f"{tuple(sample_shape)}")
        return (self.params[0].shape[0],) + self.output_size(*sample_shape[1:])

    def config(self) -> dict:
        return {"stride": self.stride, "pad": self.pad, "dilation": self.dilation,
                "groups": self.groups}

    @classmethod
    def from_config(cls, config: dict, arrays: dict) -> "Convolution":
        return cls(arrays.get("W"), arrays.get("b"), **config)

    def __repr__(self) -> str:
        out_channels, _, filter_h, filter_w = self.params[0].shape
        text = (f"Convolution({self.in_channels}->{out_channels}, {filter_h}x{filter_w}, "
                f"stride={self.stride}, pad={self.pad}")
        if self.dilations != (1, 1):
            text += f", dilation={self.dilation}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        return text + ")"

