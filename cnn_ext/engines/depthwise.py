"""The depthwise engine: a convolution whose groups are its input channels, each channel's
filters slid over it directly, with no unfolded columns. Unfolding costs nine copies of the
input for a 3x3 filter and the products are one row deep, so the unfold engine spends most of
its time moving data; here each image plane and its output stay in cache. Each channel is a
one-channel convolution with its multiplier's filters, run by the direct kernels' register
tiles (``grouped_forward``, ``grouped_weight_gradient``): for 32 channels of 28x28 at batch 100
(AVX-512, 2 threads) 1.0-1.1 ms forward and 3.7 ms backward, where plain loops took 2.7 and
about 11. Passes with dilation, uneven strides or
pads, and the gradients of strided ones run the plain loops of
``cnn_ext/engines/depthwise_loops.pyx``. Each thread works through a slice of the batch; the
arguments come checked."""

from __future__ import annotations

from typing import Optional

import numpy as np

from cnn_ext.engines.depthwise_loops import depthwise_backward_kernel, depthwise_forward_kernel
from cnn_ext.engines.direct import dispatch
from cnn_ext.geometry import ConvGeometry
from cnn_ext.runtime.threads import for_image_slices
from cnn_ext.runtime.workspace import scratch


def _window(x: np.ndarray, geometry: ConvGeometry) -> tuple:
    (top, bottom), (left, right) = geometry.pad
    return (*geometry.stride, top, left, x.shape[2] + top + bottom, x.shape[3] + left + right,
            *geometry.dilation)


def _tiled(geometry: ConvGeometry, backward: bool = False) -> bool:
    """Whether the direct kernels' register tiles compute this pass: no dilation, one stride on
    both axes, one pad on every side; for the gradients also stride 1 and a pad below the
    filter size (dx is then a forward convolution of the output gradient)."""
    (top, bottom), (left, right) = geometry.pad
    tiled = (geometry.dilation == (1, 1) and geometry.stride[0] == geometry.stride[1]
             and top == bottom == left == right)
    if backward:
        return (tiled and geometry.stride == (1, 1)
                and top < min(geometry.filter_h, geometry.filter_w))
    return tiled


def forward(x: np.ndarray, W: np.ndarray, b: np.ndarray, geometry: ConvGeometry,
            kernels=None) -> np.ndarray:
    """The depthwise convolution of checked arrays (``kernels``: the direct kernels' module of
    an instruction set, default: the one in use)."""
    out = np.empty((x.shape[0], W.shape[0], geometry.out_h, geometry.out_w), dtype=x.dtype)
    if _tiled(geometry):
        kernels = kernels or dispatch.kernels
        pad, stride = geometry.pad[0][0], geometry.stride[0]
        elements, offsets = kernels.grouped_forward_scratch(
            x.dtype == np.float64, x.shape[1], 1, x.shape[2], x.shape[3],
            W.shape[0] // x.shape[1], geometry.filter_h, geometry.filter_w, pad, pad, stride,
            geometry.out_h, geometry.out_w)

        def work(start: int, stop: int) -> None:
            kernels.grouped_forward(x[start:stop], W, b, x.shape[1], pad, pad, stride,
                                    out[start:stop], scratch("direct", (elements,), x.dtype),
                                    scratch("direct offsets", (offsets,), np.intp))
    else:
        window = _window(x, geometry)
        filters = np.ascontiguousarray(W.reshape(W.shape[0], *W.shape[2:]))

        def work(start: int, stop: int) -> None:
            depthwise_forward_kernel(x[start:stop], filters, b, *window, out[start:stop],
                                     scratch("depthwise", (window[4] * window[5],), x.dtype))

    for_image_slices(x.shape[0], out.size * W[0].size, work)
    return out


def backward(x: np.ndarray, W: np.ndarray, dout: np.ndarray, geometry: ConvGeometry,
             input_grad: bool, kernels=None) -> tuple[Optional[np.ndarray], np.ndarray,
                                                      np.ndarray]:
    """``(dx, dW, db)`` of checked arrays (dx None without ``input_grad``); the weight and bias
    gradients are summed per thread, then over threads."""
    if _tiled(geometry, backward=True):
        return _tiled_backward(x, W, dout, geometry, input_grad, kernels or dispatch.kernels)
    window = _window(x, geometry)
    filters = np.ascontiguousarray(W.reshape(W.shape[0], *W.shape[2:]))
    dx = np.empty(x.shape, dtype=x.dtype) if input_grad else None

    def work(start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        dW = np.zeros(filters.shape, dtype=x.dtype)
        db = np.zeros(W.shape[0], dtype=x.dtype)
        depthwise_backward_kernel(x[start:stop], filters, dout[start:stop], *window, dW, db,
                                  None if dx is None else dx[start:stop],
                                  scratch("depthwise", (2 * window[4] * window[5],), x.dtype))
        return dW, db

    partials = for_image_slices(x.shape[0], dout.size * W[0].size, work)
    dW = sum(dW for dW, _ in partials).reshape(W.shape)
    return dx, dW, sum(db for _, db in partials)


def _tiled_backward(x: np.ndarray, W: np.ndarray, dout: np.ndarray, geometry: ConvGeometry,
                    input_grad: bool, kernels) -> tuple[Optional[np.ndarray], np.ndarray,
                                                        np.ndarray]:
    """The gradients by the direct kernels, one channel (group) at a time: dW and db by the
    weight-gradient tiles of each one-channel convolution; dx of channel c by the forward tiles,
    a convolution of its multiplier's output-gradient channels, padded by filter - 1 - pad,
    with their filters turned 180 degrees."""
    channels, (filter_h, filter_w) = x.shape[1], W.shape[2:]
    multiplier, pad = W.shape[0] // channels, geometry.pad[0][0]
    double = x.dtype == np.float64
    # (C, multiplier, fh, fw): channel c's filters turned, as the input gradient's weights.
    turned = np.ascontiguousarray(W[:, 0, ::-1, ::-1]).reshape(channels, multiplier, filter_h,
                                                               filter_w) if input_grad else None
    dx = np.empty(x.shape, dtype=x.dtype) if input_grad else None

    def work(start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        dW = np.zeros((W.shape[0], filter_h * filter_w), dtype=x.dtype)
        db = np.zeros(W.shape[0], dtype=x.dtype)
        elements, offsets = kernels.backward_scratch(
            double, 1, x.shape[2], x.shape[3], multiplier, filter_h, filter_w, pad, pad, 1,
            geometry.out_h, geometry.out_w, stop - start, False)
        kernels.grouped_weight_gradient(x[start:stop], dout[start:stop], channels, filter_h,
                                        filter_w, pad, pad, 1, dW, db,
                                        scratch("direct", (elements,), x.dtype),
                                        scratch("direct offsets", (offsets,), np.intp))
        if input_grad:
            elements, offsets = kernels.grouped_forward_scratch(
                double, channels, multiplier, geometry.out_h, geometry.out_w, 1, filter_h,
                filter_w, filter_h - 1 - pad, filter_w - 1 - pad, 1, x.shape[2], x.shape[3])
            kernels.grouped_forward(dout[start:stop], turned, None, channels, filter_h - 1 - pad,
                                    filter_w - 1 - pad, 1, dx[start:stop],
                                    scratch("direct", (elements,), x.dtype),
                                    scratch("direct offsets", (offsets,), np.intp))
        return dW, db

    partials = for_image_slices(x.shape[0], dout.size * W[0].size, work)
    dW = sum(dW for dW, _ in partials).reshape(W.shape)
    return dx, dW, sum(db for _, db in partials)
