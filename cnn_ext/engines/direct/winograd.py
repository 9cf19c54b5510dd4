"""The Winograd engine: float32 3x3 convolutions with stride 1 by F(2x2, 3x3).

The kernels live beside the direct ones (``cnn_ext/engines/direct/winograd.h``, compiled into the
same per-instruction-set modules, whose register tiles do its matrix products). The forward pass
and the input gradient (a 3x3 convolution of the output gradient, padded by ``2 - pad``, with the
filters turned and their channel axes swapped) run by Winograd; the weight and bias gradients by
Winograd where the instruction set's kernels say it pays (``WINOGRAD_WEIGHT_GRADIENT``: the
baseline and AVX2 paths), else by the direct kernels. :func:`cnn_ext.convolution.choose_engine`
sends only what this covers.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from cnn_ext.engines.direct import dispatch
from cnn_ext.engines.direct.engine import turned_filters
from cnn_ext.geometry import ConvGeometry
from cnn_ext.runtime.threads import for_image_slices
from cnn_ext.runtime.workspace import scratch


def _winograd(kernels, x: np.ndarray, W: np.ndarray, b: Optional[np.ndarray], pad: int,
              relu: bool, out: np.ndarray) -> None:
    """``out = conv(x, W) + b`` (ReLU'd with ``relu``) of one thread's images, in place."""
    n_images, channels, height, width = x.shape
    floats, offsets = kernels.winograd_scratch(channels, height, width, W.shape[0], pad,
                                               out.shape[2], out.shape[3], n_images)
    kernels.winograd(x, W, b, pad, relu, out, scratch("winograd", (floats,), np.float32),
                     scratch("winograd offsets", (offsets,), np.intp))


def forward(x: np.ndarray, W: np.ndarray, b: np.ndarray, geometry: ConvGeometry,
            kernels=None, relu: bool = False) -> np.ndarray:
    """``conv2d_forward`` of checked float32 arrays, 3x3 filters, stride 1, one pad on every
    side; with ``relu``, ``max(that, 0)``."""
    kernels = kernels or dispatch.kernels
    pad = geometry.pad[0][0]
    out = np.empty((x.shape[0], W.shape[0], geometry.out_h, geometry.out_w), dtype=np.float32)

    def work(start: int, stop: int) -> None:
        _winograd(kernels, x[start:stop], W, b, pad, relu, out[start:stop])

    for_image_slices(x.shape[0], out.size * W[0].size, work)
    return out


def backward(x: np.ndarray, W: np.ndarray, dout: np.ndarray, geometry: ConvGeometry,
             input_grad: bool, kernels=None) -> tuple[Optional[np.ndarray], np.ndarray, np.ndarray]:
    """``conv2d_backward`` of checked float32 arrays, 3x3 filters, stride 1, one pad of at most
    2 on every side: dx by Winograd, dW and db as the module's ``WINOGRAD_WEIGHT_GRADIENT``
    says."""
    kernels = kernels or dispatch.kernels
    pad = geometry.pad[0][0]
    n_images, channels, height, width = x.shape
    out_channels = W.shape[0]
    turned = turned_filters(W) if input_grad else None
    dx = np.empty(x.shape, dtype=np.float32) if input_grad else None

    def work(start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        dweights = np.zeros((out_channels, W[0].size), dtype=np.float32)
        dbias = np.zeros(out_channels, dtype=np.float32)
        if kernels.WINOGRAD_WEIGHT_GRADIENT:
            floats, offsets = kernels.winograd_gradient_scratch(
                channels, height, width, out_channels, pad, geometry.out_h, geometry.out_w,
                stop - start)
            kernels.winograd_gradient(x[start:stop], dout[start:stop], pad, dweights, dbias,
                                      scratch("winograd", (floats,), np.float32),
                                      scratch("winograd offsets", (offsets,), np.intp))
        else:
            floats, offsets = kernels.backward_scratch(
                False, channels, height, width, out_channels, 3, 3, pad, pad, 1, geometry.out_h,
                geometry.out_w, stop - start, False)
            kernels.backward(x[start:stop], dout[start:stop], 3, 3, pad, pad, 1, dweights, dbias,
                             None, None, scratch("direct", (floats,), np.float32),
                             scratch("direct offsets", (offsets,), np.intp))
        if input_grad:
            _winograd(kernels, dout[start:stop], turned, None, 2 - pad, False, dx[start:stop])
        return dweights, dbias

    partials = for_image_slices(n_images, dout.size * W[0].size, work)
    dW = sum(dweights for dweights, _ in partials).reshape(W.shape)
    return dx, dW, sum(dbias for _, dbias in partials)
