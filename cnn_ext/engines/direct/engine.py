"""The direct engine: float32 and float64 convolutions by the kernels of one instruction set.

One call into compiled code per thread and pass (``cnn_ext/engines/direct/kernels.pxi`` over
``cnn_ext/engines/direct/direct_conv.h``): it pads the thread's images itself, computes
register tiles of outputs over the whole reduction, and writes the results
(see the header for the layout; with a stride, the images are laid out as phase planes). With
stride 1 the input gradient is the same forward kernel on the padded output gradient, with
the filters turned 180 degrees and their channel axes swapped; with a larger stride it is the
unfold engine's product and fold, in the same thread. The weight and bias gradients are
summed per thread, then over threads.
``kernels`` is one of the modules of ``cnn_ext.engines.direct.dispatch`` (default: the one in use); the arguments
come checked, and :func:`cnn_ext.convolution.choose_engine` sends only what these kernels cover.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from cnn_ext.engines import unfold
from cnn_ext.engines.direct import dispatch
from cnn_ext.runtime.blas import single_threaded_blas
from cnn_ext.runtime.threads import for_image_slices
from cnn_ext.runtime.workspace import scratch
from cnn_ext.geometry import ConvGeometry


def turned_filters(W: np.ndarray) -> np.ndarray:
    """The filters of the input gradient, a forward convolution of the padded output gradient:
    ``W`` (OC, C, fh, fw) turned 180 degrees with its channel axes swapped, (C, OC, fh, fw)."""
    return np.ascontiguousarray(W[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))


def forward(x: np.ndarray, W: np.ndarray, b: np.ndarray, geometry: ConvGeometry,
            kernels=None, relu: bool = False) -> np.ndarray:
    """``conv2d_forward`` of checked float32 or float64 arrays with one stride on both axes and
    one pad on every side; with ``relu``, ``max(that, 0)``."""
    kernels = kernels or dispatch.kernels
    pad, stride = geometry.pad[0][0], geometry.stride[0]
    n_images, channels, height, width = x.shape
    out_channels, _, filter_h, filter_w = W.shape
    out = np.empty((n_images, out_channels, geometry.out_h, geometry.out_w), dtype=x.dtype)
    elements, offsets = kernels.forward_scratch(x.dtype == np.float64, channels, height, width,
                                                out_channels, filter_h, filter_w, pad, pad,
                                                stride, geometry.out_h, geometry.out_w)

    def work(start: int, stop: int) -> None:
        kernels.forward(x[start:stop], W, b, pad, pad, stride, relu, out[start:stop],
                        scratch("direct", (elements,), x.dtype),
                        scratch("direct offsets", (offsets,), np.intp))

    for_image_slices(n_images, out.size * W[0].size, work)
    return out


def backward(x: np.ndarray, W: np.ndarray, dout: np.ndarray, geometry: ConvGeometry,
             input_grad: bool, kernels=None) -> tuple[Optional[np.ndarray], np.ndarray, np.ndarray]:
    """``conv2d_backward`` of checked float32 or float64 arrays with one stride on both axes and
    one pad on every side (below the filter size with stride 1). With a stride above 1, dx is
    the unfold engine's (a product and a fold), which measured faster than the direct kernels'
    per-phase convolutions of the output gradient (see the performance guide)."""
    kernels = kernels or dispatch.kernels
    pad, stride = geometry.pad[0][0], geometry.stride[0]
    n_images, channels, height, width = x.shape
    out_channels, _, filter_h, filter_w = W.shape
    in_kernel = input_grad and stride == 1
    turned = turned_filters(W) if in_kernel else None
    weights_t = unfold.transposed_weights(W, 1) if input_grad and not in_kernel else None
    dx = np.empty(x.shape, dtype=x.dtype) if input_grad else None

    def work(start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        dweights = np.zeros((out_channels, W[0].size), dtype=x.dtype)
        dbias = np.zeros(out_channels, dtype=x.dtype)
        elements, offsets = kernels.backward_scratch(
            x.dtype == np.float64, channels, height, width, out_channels, filter_h, filter_w, pad,
            pad, stride, geometry.out_h, geometry.out_w, stop - start, in_kernel)
        kernels.backward(x[start:stop], dout[start:stop], filter_h, filter_w, pad, pad, stride,
                         dweights, dbias, turned, dx[start:stop] if in_kernel else None,
                         scratch("direct", (elements,), x.dtype),
                         scratch("direct offsets", (offsets,), np.intp))
        if weights_t is not None:
            unfold.input_gradient(weights_t, dout[start:stop], geometry, dx[start:stop])
        return dweights, dbias

    with single_threaded_blas():
        partials = for_image_slices(n_images, dout.size * W[0].size, work)
    dW = sum(dweights for dweights, _ in partials).reshape(W.shape)
    return dx, dW, sum(dbias for _, dbias in partials)
