"""A whole convolution, forward and backward, each thread working through a slice of the batch.

Four engines behind one contract, each splitting the batch over the kernel threads and
allocating nothing of the batch's size besides the results; :func:`choose_engine` routes. The
3x3 float32 convolutions with stride 1 and at least 16 channels on both sides go to Winograd's
F(2x2, 3x3) (``cnn_ext.engines.direct.winograd``; its weight gradient is the direct kernels').
The direct kernels of the instruction set in use (``cnn_ext.engines.direct.engine``, chosen by
``cnn_ext.engines.direct.dispatch``) read the zero-padded images (with a stride, their phase
planes) themselves and keep tiles of outputs in registers. A depthwise convolution (one group
per input channel) goes to the depthwise engine (``cnn_ext.engines.depthwise``), which slides
each channel's filters over it, through the same register tiles where it can. Everything else
(groups, dilation, strides or pads that differ between sides or axes, an input gradient with
stride 1 and a pad of at least the filter size, and the gradients of strided 1x1
convolutions) goes through the unfold engine (``cnn_ext.engines.unfold``): blocks of unfolded
columns in cache and matrix products.
"""

from __future__ import annotations

import os
import warnings
from typing import Optional

import numpy as np

from cnn_ext.engines import depthwise, unfold
from cnn_ext.engines.direct import engine as direct
from cnn_ext.engines.direct import winograd
from cnn_ext._checks import check_float_array
from cnn_ext.geometry import ConvGeometry, conv_geometry
from cnn_ext.kernels import relu as relu_in_place

__all__ = ["conv2d_forward", "conv2d_backward", "choose_engine", "WINOGRAD_ENV_VAR",
           "WINOGRAD_MIN_CHANNELS"]

#: The environment variable that forces Winograd's use: ``auto`` (the default: the rule of
#: :func:`choose_engine`), ``always`` (every convolution it can compute) or ``never``.
WINOGRAD_ENV_VAR = "CNN_EXT_WINOGRAD"
#: Winograd runs when both the input and the output have at least this many channels. Below, its
#: transforms cost more than the products they save: measured on AMD EPYC (Zen 4), batch 100,
#: one thread, 1 -> 16 channels took 2.0x (AVX-512) and 2.8x (AVX2) the direct kernels' time,
#: while 16 -> 16 to 64 -> 64 took 0.68-1.11x and 0.62-1.02x (benchmarks in the performance
#: guide).
WINOGRAD_MIN_CHANNELS = 16


def _winograd_setting() -> str:
    """``CNN_EXT_WINOGRAD`` read once: auto, always or never (anything else warns: auto)."""
    value = os.environ.get(WINOGRAD_ENV_VAR, "").strip().lower() or "auto"
    if value not in ("auto", "always", "never"):
        warnings.warn(f"{WINOGRAD_ENV_VAR}={value!r} is not one of auto, always, never; using auto",
                      RuntimeWarning, stacklevel=2)
        value = "auto"
    return value


_WINOGRAD = _winograd_setting()


def _check_conv_arguments(x, W, stride, pad, dilation, groups):
    """Checked x, W and their :class:`~cnn_ext.geometry.ConvGeometry`."""
    x = check_float_array("x", x, 4, "(N, C, H, W)")
    W = check_float_array("W", W, 4, "(out_channels, in_channels // groups, filter_h, filter_w)")
    if W.dtype != x.dtype:
        raise TypeError(f"W must have the dtype of x ({x.dtype}), got dtype {W.dtype}")
    return x, W, conv_geometry(x.shape, W.shape, stride, pad, dilation, groups)


#: The engines by name, each with ``forward(x, W, b, geometry)`` and
#: ``backward(x, W, dout, geometry, input_grad)`` of checked arrays; the direct and Winograd
#: engines' ``forward`` also take ``relu=True``, which applies the activation as they write.
ENGINES = {"direct": direct, "winograd": winograd, "depthwise": depthwise, "unfold": unfold}
FUSED_RELU = ("direct", "winograd")


def choose_engine(x: np.ndarray, W: np.ndarray, geometry: ConvGeometry,
                  backward: bool = False) -> str:
    """The engine that computes this convolution (``backward``: its gradients): the one place
    that routes.

    - ``"winograd"``: what the direct kernels take below, with float32, 3x3 filters and a pad
      of at most 2, when both sides have at least :data:`WINOGRAD_MIN_CHANNELS` channels
      (``CNN_EXT_WINOGRAD=always``: whatever their number; ``never``: none).
    - ``"direct"``: float32 or float64, one group, no dilation, one pad on every side and one
      stride on both axes. With stride 1, for the gradients also a pad below the filter size,
      since the input gradient pads the output gradient by ``filter - 1 - pad``. With a larger
      stride, the kernels read phase planes of the images, and dx is the unfold engine's; the
      gradients of a strided 1x1 convolution go to the unfold engine instead, whose single
      matrix product took 1.0-1.3x less time than the direct kernels' weight gradient
      (ResNet's shortcuts, AMD EPYC Zen 4; stride-2 3x3 layers took 0.82-0.99x the unfold
      engine's time forward and 0.90-0.99x backward). dW and db take the same route with or
      without dx, so that they do not depend on ``input_grad``.
    - ``"depthwise"``: one group per input channel, of several channels (each channel slides
      its own filters). A single channel in one group is an ordinary convolution, which the
      unfold engine's matrix products compute 5-6 times faster (float64, 30 filters of 5x5).
    - ``"unfold"``: everything else.
    """
    (top, bottom), (left, right) = geometry.pad
    stride_h, stride_w = geometry.stride
    filter_h, filter_w = geometry.filter_h, geometry.filter_w
    if geometry.plain and stride_h == stride_w and top == left:
        if stride_h == 1 and (not backward or top < min(filter_h, filter_w)):
            if (_WINOGRAD != "never" and x.dtype == np.float32
                    and (filter_h, filter_w) == (3, 3) and top <= 2
                    and (_WINOGRAD == "always"
                         or min(x.shape[1], W.shape[0]) >= WINOGRAD_MIN_CHANNELS)):
                return "winograd"
            return "direct"
        if stride_h > 1 and not (backward and filter_h == filter_w == 1):
            return "direct"
    if geometry.groups == x.shape[1] > 1 and W.shape[1] == 1:
        return "depthwise"
    return "unfold"


def conv2d_forward(x, W, b, stride=1, pad=0, dilation=1, groups: int = 1,
                   relu: bool = False) -> np.ndarray:
    """Convolution (cross-correlation) of a batch of images, bias included.

    Args:
        x: images, shape (N, C, H, W), float32 or float64.
        W: filters, shape (OC, C // groups, filter_h, filter_w), the dtype of ``x``.
        b: biases, shape (OC,), the dtype of ``x``.
        stride: step between windows (positive), an int or a pair (rows, columns).
        pad: zero padding (>= 0): an int for every side, a pair (rows, columns) for both
            sides of each axis, or ``((top, bottom), (left, right))``.
        dilation: spacing between filter entries (positive), an int or a pair; 1 is the
            ordinary convolution.
        groups: the channels split into this many groups, each convolved with its own
            ``OC // groups`` filters; ``groups == C`` is a depthwise convolution (with
            ``OC // C`` filters per channel, the channel multiplier).
        relu: return ``max(out, 0)`` instead (a NaN stays NaN), computed as the direct and
            Winograd kernels write their outputs (a pass over memory saved); the other engines
            apply it after.

    Returns:
        out, shape (N, OC, out_h, out_w), C-contiguous, with
        ``out_h = (H + top + bottom - dilation_h * (filter_h - 1) - 1) // stride_h + 1`` and
        likewise ``out_w``; for one group, equal up to rounding to
        ``im2col(x, ...) @ W.reshape(OC, -1).T + b`` arranged as (N, OC, out_h, out_w).

    Example:
        >>> x = np.ones((2, 1, 5, 5), dtype=np.float32)
        >>> W = np.ones((4, 1, 3, 3), dtype=np.float32)
        >>> float(conv2d_forward(x, W, np.zeros(4, np.float32), pad=1)[0, 0, 2, 2])
        9.0
    """
    x, W, geometry = _check_conv_arguments(x, W, stride, pad, dilation, groups)
    out_channels = W.shape[0]
    b = check_float_array("b", b, 1, f"({out_channels},)")
    if b.dtype != x.dtype or b.shape != (out_channels,):
        raise ValueError(f"b must have shape ({out_channels},) and dtype {x.dtype}, "
                         f"got shape {b.shape} and dtype {b.dtype}")
    name = choose_engine(x, W, geometry)
    if name in FUSED_RELU:
        return ENGINES[name].forward(x, W, b, geometry, relu=bool(relu))
    out = ENGINES[name].forward(x, W, b, geometry)
    return relu_in_place(out, inplace=True) if relu else out


def conv2d_backward(x, W, dout, stride=1, pad=0, dilation=1, groups: int = 1,
                    input_grad: bool = True) -> tuple[Optional[np.ndarray], np.ndarray, np.ndarray]:
    """Gradients of :func:`conv2d_forward` with respect to x, W and b.

    Args:
        x: the images given to the forward pass, shape (N, C, H, W).
        W: the filters, shape (OC, C // groups, filter_h, filter_w), the dtype of ``x``.
        dout: gradient of the output, shape (N, OC, out_h, out_w), the dtype of ``x``.
        stride: step between windows, as given to the forward pass.
        pad: zero padding, as given to the forward pass.
        dilation: spacing between filter entries, as given to the forward pass.
        groups: channel groups, as given to the forward pass.
        input_grad: compute dx; ``False`` skips it (a first layer needs none).

    Returns:
        ``(dx, dW, db)`` with the shapes of x, W and (OC,); dx is ``None`` when
        ``input_grad`` is false.

    Example:
        >>> x = np.ones((2, 1, 5, 5), dtype=np.float32)
        >>> W = np.ones((4, 1, 3, 3), dtype=np.float32)
        >>> dx, dW, db = conv2d_backward(x, W, np.ones((2, 4, 3, 3), np.float32))
        >>> dx.shape, dW.shape, db.tolist()  # db: the sum of dout over images and pixels
        ((2, 1, 5, 5), (4, 1, 3, 3), [18.0, 18.0, 18.0, 18.0])
    """
    x, W, geometry = _check_conv_arguments(x, W, stride, pad, dilation, groups)
    expected = (x.shape[0], W.shape[0], geometry.out_h, geometry.out_w)
    dout = check_float_array("dout", dout, 4, "(N, OC, out_h, out_w)")
    if dout.shape != expected or dout.dtype != x.dtype:
        raise ValueError(f"dout must have shape {expected} and dtype {x.dtype} for x of shape "
                         f"{x.shape} and W of shape {W.shape}, got shape {dout.shape} and "
                         f"dtype {dout.dtype}")
    engine = ENGINES[choose_engine(x, W, geometry, backward=True)]
    return engine.backward(x, W, dout, geometry, input_grad)
