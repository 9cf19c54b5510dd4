"""The public kernel API: validate, allocate, then call the compiled loops.

All the functions take float32 or float64 arrays and return arrays of the
same dtype; any array-like is accepted and strided views are copied to
C-contiguous memory first, so a view gives the same result as its copy.
"""

from __future__ import annotations

from typing import Union

import numpy as np

from cnn_ext._checks import (
    check_float_array,
    check_int,
    check_ndim,
    check_shape4,
    describe,
)
from cnn_ext.loops.activations import add_relu_kernel, relu_backward_kernel, relu_kernel
from cnn_ext.geometry import conv_geometry, output_size, pool_geometry
from cnn_ext.loops.im2col import col2im_kernel, im2col_kernel
from cnn_ext.loops.pool import maxpool_backward_kernel, maxpool_forward_kernel
from cnn_ext.runtime.threads import for_image_slices

__all__ = ["im2col", "col2im", "maxpool_forward", "maxpool", "maxpool_backward", "relu",
           "relu_backward", "output_size"]


def _book_window(input_shape, filter_h, filter_w, stride, pad) -> tuple[int, ...]:
    """Checked ``(filter_h, filter_w, stride, pad, out_h, out_w)`` of the book's window: one
    stride for both axes and one pad for every side."""
    filter_h, filter_w = check_int("filter_h", filter_h, 1), check_int("filter_w", filter_w, 1)
    stride, pad = check_int("stride", stride, 1), check_int("pad", pad, 0)
    geometry = conv_geometry(input_shape, (1, input_shape[1], filter_h, filter_w), stride, pad)
    return filter_h, filter_w, stride, pad, geometry.out_h, geometry.out_w


def im2col(x, filter_h: int, filter_w: int, stride: int = 1, pad: int = 0) -> np.ndarray:
    """Unfold every filter window of a batch of images into one row of a matrix.

    Args:
        x: images, shape (N, C, H, W), float32 or float64.
        filter_h: window height (positive).
        filter_w: window width (positive).
        stride: step between windows (positive).
        pad: zero padding added on every side (>= 0).

    Returns:
        col, shape (N * out_h * out_w, C * filter_h * filter_w), C-contiguous, the
        dtype of ``x``. Rows are ordered (n, oh, ow), columns (c, kh, kw), with
        ``out_h = (H + 2 * pad - filter_h) // stride + 1`` and likewise ``out_w``.

    Example:
        >>> x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
        >>> im2col(x, 3, 3).shape
        (4, 9)
    """
    x = check_float_array("x", x, 4, "(N, C, H, W)")
    filter_h, filter_w, stride, pad, out_h, out_w = _book_window(
        x.shape, filter_h, filter_w, stride, pad)
    n_images, channels = x.shape[:2]
    col = np.empty((n_images * out_h * out_w, channels * filter_h * filter_w), dtype=x.dtype)
    rows_per_image = out_h * out_w

    def work(start, stop):
        im2col_kernel(x[start:stop], filter_h, filter_w, stride, pad, out_h, out_w,
                      col[start * rows_per_image:stop * rows_per_image])

    for_image_slices(n_images, col.size, work)
    return col


def col2im(col, input_shape, filter_h: int, filter_w: int, stride: int = 1,
           pad: int = 0) -> np.ndarray:
    """Fold a column matrix back into images: the adjoint of :func:`im2col`.

    Each column entry is added to the pixel it was copied from; entries that
    came from the padding are dropped. So for all ``x`` and ``c``,
    ``np.sum(im2col(x, ...) * c) == np.sum(x * col2im(c, x.shape, ...))``.

    Args:
        col: shape (N * out_h * out_w, C * filter_h * filter_w), float32 or float64.
        input_shape: (N, C, H, W) of the images that im2col unfolded.
        filter_h: window height, as given to :func:`im2col`.
        filter_w: window width, likewise.
        stride: step between windows, likewise.
        pad: zero padding on every side, likewise.

    Returns:
        x, shape ``input_shape``, C-contiguous, the dtype of ``col``.

    Example:
        >>> col = np.ones((4, 9), np.float32)  # the four 3x3 windows of a 4x4 image
        >>> col2im(col, (1, 1, 4, 4), 3, 3)[0, 0]  # how many windows cover each pixel
        array([[1., 2., 2., 1.],
               [2., 4., 4., 2.],
               [2., 4., 4., 2.],
               [1., 2., 2., 1.]], dtype=float32)
    """
    col = check_float_array("col", col, 2, "(N * out_h * out_w, C * filter_h * filter_w)")
    input_shape = check_shape4("input_shape", input_shape)
    filter_h, filter_w, stride, pad, out_h, out_w = _book_window(
        input_shape, filter_h, filter_w, stride, pad)
    n_images, channels = input_shape[:2]
    expected = (n_images * out_h * out_w, channels * filter_h * filter_w)
    if col.shape != expected:
        raise ValueError(
            f"col must have shape {expected} for input_shape={input_shape}, "
            f"filter {filter_h}x{filter_w}, stride={stride}, pad={pad}; got shape {col.shape}"
        )
    x = np.zeros(input_shape, dtype=col.dtype)
    rows_per_image = out_h * out_w

    def work(start, stop):
        col2im_kernel(col[start * rows_per_image:stop * rows_per_image], filter_h, filter_w,
                      stride, pad, out_h, out_w, x[start:stop])

    for_image_slices(n_images, col.size, work)
    return x


def maxpool_forward(x, pool_h: int, pool_w: int, stride: Union[int, tuple[int, int], None] = None,
                    pad=0, dilation=1, ceil_mode: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Max pooling with the position of every maximum.

    Padded positions never win (they act as -inf). Ties go to the first
    maximum in row-major window order, and a NaN wins over numbers, as with
    ``np.argmax``.

    Args:
        x: images, shape (N, C, H, W), float32 or float64.
        pool_h: window height (positive).
        pool_w: window width (positive).
        stride: step between windows, an int or a pair ``(stride_h, stride_w)``; ``None``
            (default) means the pool size.
        pad: padding: an int for every side, a pair (rows, columns), or ``((top, bottom),
            (left, right))``; at most ``(pool - 1) * dilation`` on a side, so that every window
            holds a pixel.
        dilation: spacing between window entries, an int or a pair (1: none).
        ceil_mode: round the output size up, so that a last window hanging past the bottom or
            right edge counts (unless it would start in the end padding), as PyTorch and ONNX do.

    Returns:
        ``(out, argmax)``, both of shape (N, C, out_h, out_w), with
        ``out_h = (H + top + bottom - dilation_h * (pool_h - 1) - 1) // stride_h + 1`` (rounded
        up with ``ceil_mode``), likewise ``out_w``. ``out`` has the
        dtype of ``x``. ``argmax`` is ``np.intp``: ``argmax[n, c, i, j]`` is the
        flat index ``ih * W + iw`` of the maximum in the unpadded (H, W) plane
        of image ``n``, channel ``c`` (the convention of PyTorch's
        ``return_indices``).

    Example:
        >>> x = np.array([[1, 3], [4, 2]], np.float32).reshape(1, 1, 2, 2)
        >>> out, argmax = maxpool_forward(x, 2, 2)
        >>> float(out[0, 0, 0, 0]), int(argmax[0, 0, 0, 0])  # 4 at row 1, column 0: 1 * 2 + 0
        (4.0, 2)
    """
    return _maxpool(x, pool_h, pool_w, stride, pad, dilation, ceil_mode, with_argmax=True)


def maxpool(x, pool_h: int, pool_w: int, stride: Union[int, tuple[int, int], None] = None, pad=0,
            dilation=1, ceil_mode: bool = False) -> np.ndarray:
    """Max pooling for inference: the maxima of :func:`maxpool_forward`, without their positions.

    Same arguments and values as :func:`maxpool_forward`; it neither computes nor
    stores ``argmax``, so it is the faster choice when no backward pass follows.

    Example:
        >>> x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
        >>> maxpool(x, 2, 2)[0, 0]
        array([[ 5.,  7.],
               [13., 15.]], dtype=float32)
    """
    return _maxpool(x, pool_h, pool_w, stride, pad, dilation, ceil_mode, with_argmax=False)


def _maxpool(x, pool_h, pool_w, stride, pad, dilation, ceil_mode, with_argmax: bool):
    """The shared body of :func:`maxpool_forward` and :func:`maxpool`."""
    x = check_float_array("x", x, 4, "(N, C, H, W)")
    geometry = pool_geometry(x.shape, pool_h, pool_w, stride, pad, dilation, ceil_mode)
    out_shape = x.shape[:2] + (geometry.out_h, geometry.out_w)
    out = np.empty(out_shape, dtype=x.dtype)
    argmax = np.empty(out_shape, dtype=np.intp) if with_argmax else None
    (top, _), (left, _) = geometry.pad

    def work(start, stop):
        maxpool_forward_kernel(x[start:stop], geometry.pool_h, geometry.pool_w, *geometry.stride,
                               top, left, *geometry.dilation, out[start:stop],
                               None if argmax is None else argmax[start:stop])

    for_image_slices(x.shape[0], x.size, work)
    return (out, argmax) if with_argmax else out


def maxpool_backward(dout, argmax, input_shape, pool_h: int, pool_w: int,
                     stride: Union[int, tuple[int, int], None] = None, pad=0, dilation=1,
                     ceil_mode: bool = False) -> np.ndarray:
    """Gradient of max pooling: route each ``dout`` entry to its window's maximum.

    Where windows overlap (stride < pool size) the contributions add up.

    Args:
        dout: gradient of the pooled output, shape (N, C, out_h, out_w), float32 or float64.
        argmax: the second result of :func:`maxpool_forward`, same shape as ``dout``.
        input_shape: (N, C, H, W) of the pooled images.
        pool_h: window height, as given to :func:`maxpool_forward`.
        pool_w: window width, likewise.
        stride: step between windows, likewise.
        pad: padding, likewise.
        dilation: spacing between window entries, likewise.
        ceil_mode: the output size rounded up, likewise.

    Returns:
        dx, shape ``input_shape``, the dtype of ``dout``.

    Example:
        >>> x = np.array([[1, 3], [4, 2]], np.float32).reshape(1, 1, 2, 2)
        >>> out, argmax = maxpool_forward(x, 2, 2)
        >>> maxpool_backward(np.ones_like(out), argmax, x.shape, 2, 2)[0, 0]  # to the maximum only
        array([[0., 0.],
               [1., 0.]], dtype=float32)
    """
    dout = check_float_array("dout", dout, 4, "(N, C, out_h, out_w)")
    input_shape = check_shape4("input_shape", input_shape)
    geometry = pool_geometry(input_shape, pool_h, pool_w, stride, pad, dilation, ceil_mode)
    expected = input_shape[:2] + (geometry.out_h, geometry.out_w)
    if dout.shape != expected:
        raise ValueError(
            f"dout must have shape {expected} for input_shape={input_shape} and this pooling, "
            f"got shape {dout.shape}"
        )
    argmax = _check_argmax(argmax, expected, input_shape[2] * input_shape[3])
    n_images, channels, height, width = input_shape
    dx = np.zeros((n_images, channels, height * width), dtype=dout.dtype)

    def work(start, stop):
        maxpool_backward_kernel(dout[start:stop], argmax[start:stop], dx[start:stop])

    for_image_slices(n_images, dx.size, work)
    return dx.reshape(input_shape)


def _check_argmax(argmax, expected_shape, plane_size: int) -> np.ndarray:
    """Return ``argmax`` as C-contiguous ``np.intp`` after checking its shape and range."""
    if not isinstance(argmax, np.ndarray) or not np.issubdtype(argmax.dtype, np.integer):
        raise TypeError(
            f"argmax must be an integer array from maxpool_forward, got {describe(argmax)}"
        )
    check_ndim("argmax", argmax, 4, "(N, C, out_h, out_w)")
    if argmax.shape != expected_shape:
        raise ValueError(f"argmax must have shape {expected_shape}, got shape {argmax.shape}")
    low, high = argmax.min(), argmax.max()
    if low < 0 or high >= plane_size:
        raise ValueError(
            f"argmax values must be flat indices in [0, H * W) = [0, {plane_size}), "
            f"got values from {low} to {high}"
        )
    return np.ascontiguousarray(argmax, dtype=np.intp)


def relu(x, inplace: bool = False) -> np.ndarray:
    """``max(x, 0)`` element by element, in one pass; NaN stays NaN and -inf gives 0.

    Args:
        x: any shape (no empty axis), float32 or float64.
        inplace: overwrite ``x`` with the result and return it, allocating nothing, when ``x``
            is a writable C-contiguous float array (otherwise a new array, as by default).

    Returns:
        out, the shape and dtype of ``x``, C-contiguous.

    Example:
        >>> relu(np.array([-2.0, 0.0, 3.0]))
        array([0., 0., 3.])
        >>> y = np.array([-1.0, 4.0]); relu(y, inplace=True) is y
        True
    """
    in_place = inplace and isinstance(x, np.ndarray) and x.flags.c_contiguous and x.flags.writeable
    x = check_float_array("x", x, None, "of any shape")
    out = x if in_place else np.empty_like(x)
    relu_kernel(x.reshape(-1), out.reshape(-1))
    return out


def add_relu(a, b) -> np.ndarray:
    """``max(a + b, 0)`` element by element, in one pass (where a residual block's two branches
    meet a ReLU); a NaN sum stays NaN.

    Args:
        a: any shape (no empty axis), float32 or float64.
        b: the shape and dtype of ``a``.

    Returns:
        out, a new C-contiguous array of that shape and dtype.

    Example:
        >>> add_relu(np.array([1.0, -3.0]), np.array([2.0, 1.0]))
        array([3., 0.])
    """
    return _elementwise(add_relu_kernel, ("a", a), ("b", b))


def relu_backward(dout, out) -> np.ndarray:
    """Gradient of :func:`relu`: ``dout`` where the forward result ``out`` is positive, else 0.

    Args:
        dout: gradient of the result, float32 or float64.
        out: the result of :func:`relu`, the shape and dtype of ``dout``.

    Returns:
        dx, the shape and dtype of ``dout``.

    Example:
        >>> relu_backward(np.array([5.0, 5.0]), relu(np.array([-1.0, 2.0])))
        array([0., 5.])
    """
    return _elementwise(relu_backward_kernel, ("dout", dout), ("out", out))


def _elementwise(kernel, first: tuple[str, object], second: tuple[str, object]) -> np.ndarray:
    """``kernel(first, second, result)`` over the flat views of two float arrays, each given
    with its argument's name and checked (the second of the first's shape and dtype), into a
    new array of that shape and dtype."""
    (first_name, x), (second_name, y) = first, second
    x = check_float_array(first_name, x, None, "of any shape")
    y = check_float_array(second_name, y, None, "of any shape")
    if y.shape != x.shape or y.dtype != x.dtype:
        raise ValueError(f"{second_name} must have the shape and dtype of {first_name}, "
                         f"{x.shape} {x.dtype}, got shape {y.shape} and dtype {y.dtype}")
    result = np.empty_like(x)
    kernel(x.reshape(-1), y.reshape(-1), result.reshape(-1))
    return result
