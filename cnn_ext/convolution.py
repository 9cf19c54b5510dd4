"""A whole convolution, forward and backward, each thread working through a slice of the batch.

Three engines behind one contract, each splitting the batch over the kernel threads and
allocating nothing of the batch's size besides the results; :func:`choose_engine` routes. With
stride 1, the direct kernels of the instruction set in use
(``cnn_ext.engines.direct.engine``, chosen by ``cnn_ext.engines.direct.dispatch``) read the zero-padded images themselves
and keep tiles of outputs in registers. A depthwise convolution (one group per input channel)
goes to the depthwise kernels (``cnn_ext.engines.depthwise``), which slide each channel's filters
over it. Everything else (strides above 1, groups, dilation, pads that differ between sides or
axes, and an input gradient with a pad of at least the filter size) goes through the
unfold engine (``cnn_ext.engines.unfold``): blocks of unfolded columns in cache and matrix
products.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from cnn_ext.engines import depthwise, unfold
from cnn_ext.engines.direct import engine as direct
from cnn_ext._checks import check_float_array
from cnn_ext.geometry import ConvGeometry, conv_geometry

__all__ = ["conv2d_forward", "conv2d_backward", "choose_engine"]


def _check_conv_arguments(x, W, stride, pad, dilation, groups):
    """Checked x, W and their :class:`~cnn_ext.geometry.ConvGeometry`."""
    x = check_float_array("x", x, 4, "(N, C, H, W)")
    W = check_float_array("W", W, 4, "(out_channels, in_channels // groups, filter_h, filter_w)")
    if W.dtype != x.dtype:
        raise TypeError(f"W must have the dtype of x ({x.dtype}), got dtype {W.dtype}")
    return x, W, conv_geometry(x.shape, W.shape, stride, pad, dilation, groups)


#: The engines by name, each with ``forward(x, W, b, geometry)`` and
#: ``backward(x, W, dout, geometry, input_grad)`` of checked arrays.
ENGINES = {"direct": direct, "depthwise": depthwise, "unfold": unfold}


def choose_engine(x: np.ndarray, W: np.ndarray, geometry: ConvGeometry,
                  backward: bool = False) -> str:
    """The engine that computes this convolution (``backward``: its gradients): the one place
    that routes.

    - ``"direct"``: float32 or float64, stride 1, one group, no dilation, one pad on every side; for the
      gradients also a pad below the filter size, since the input gradient pads the output
      gradient by ``filter - 1 - pad``. dW and db take the same route with or without dx, so
      that they do not depend on ``input_grad``.
    - ``"depthwise"``: one group per input channel, of several channels (each channel slides
      its own filters). A single channel in one group is an ordinary convolution, which the
      unfold engine's matrix products compute 5-6 times faster (float64, 30 filters of 5x5).
    - ``"unfold"``: everything else.
    """
    (top, bottom), (left, right) = geometry.pad
    if (geometry.plain and geometry.stride == (1, 1)
            and top == bottom == left == right
            and (not backward or top < min(geometry.filter_h, geometry.filter_w))):
        return "direct"
    if geometry.groups == x.shape[1] > 1 and W.shape[1] == 1:
        return "depthwise"
    return "unfold"


def conv2d_forward(x, W, b, stride=1, pad=0, dilation=1, groups: int = 1) -> np.ndarray:
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
    return ENGINES[choose_engine(x, W, geometry)].forward(x, W, b, geometry)


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
