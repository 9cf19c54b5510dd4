"""Element-by-element loop versions of the kernels, written for the tests only.

They are slow and obviously right; they check ``cnn_ext.reference`` (which in
turn checks the compiled kernels on many more shapes).
"""

import numpy as np


def out_size(size, window, stride, pad):
    return (size + 2 * pad - window) // stride + 1


def im2col_loops(x, filter_h, filter_w, stride, pad):
    n_images, channels, height, width = x.shape
    out_h = out_size(height, filter_h, stride, pad)
    out_w = out_size(width, filter_w, stride, pad)
    col = np.zeros((n_images * out_h * out_w, channels * filter_h * filter_w), dtype=x.dtype)
    for n in range(n_images):
        for oh in range(out_h):
            for ow in range(out_w):
                row = (n * out_h + oh) * out_w + ow
                for c in range(channels):
                    for kh in range(filter_h):
                        for kw in range(filter_w):
                            ih = oh * stride - pad + kh
                            iw = ow * stride - pad + kw
                            if 0 <= ih < height and 0 <= iw < width:
                                col[row, (c * filter_h + kh) * filter_w + kw] = x[n, c, ih, iw]
    return col


def maxpool_loops(x, pool_h, pool_w, stride_h, stride_w, pad):
    n_images, channels, height, width = x.shape
    out_h = out_size(height, pool_h, stride_h, pad)
    out_w = out_size(width, pool_w, stride_w, pad)
    out = np.zeros((n_images, channels, out_h, out_w), dtype=x.dtype)
    argmax = np.zeros((n_images, channels, out_h, out_w), dtype=np.intp)
    for n in range(n_images):
        for c in range(channels):
            for oh in range(out_h):
                for ow in range(out_w):
                    best = None
                    for kh in range(pool_h):
                        for kw in range(pool_w):
                            ih = oh * stride_h - pad + kh
                            iw = ow * stride_w - pad + kw
                            if 0 <= ih < height and 0 <= iw < width:
                                if best is None or x[n, c, ih, iw] > best:
                                    best = x[n, c, ih, iw]
                                    argmax[n, c, oh, ow] = ih * width + iw
                    out[n, c, oh, ow] = best
    return out, argmax


def maxpool_backward_loops(dout, argmax, input_shape):
    n_images, channels, height, width = input_shape
    dx = np.zeros(input_shape, dtype=dout.dtype)
    for n, c, oh, ow in np.ndindex(*dout.shape):
        index = argmax[n, c, oh, ow]
        dx[n, c, index // width, index % width] += dout[n, c, oh, ow]
    return dx


def cross_correlation_loops(x, W, b, stride, pad):
    """Direct convolution (cross-correlation) of x (N, C, H, W) with W (F, C, fh, fw) plus b (F,)."""
    n_images, channels, height, width = x.shape
    filters, _, filter_h, filter_w = W.shape
    out_h = out_size(height, filter_h, stride, pad)
    out_w = out_size(width, filter_w, stride, pad)
    padded = np.pad(x, [(0, 0), (0, 0), (pad, pad), (pad, pad)])
    out = np.zeros((n_images, filters, out_h, out_w), dtype=np.float64)
    for n in range(n_images):
        for f in range(filters):
            for oh in range(out_h):
                for ow in range(out_w):
                    window = padded[n, :, oh * stride:oh * stride + filter_h, ow * stride:ow * stride + filter_w]
                    out[n, f, oh, ow] = np.sum(window * W[f]) + b[f]
    return out


def grouped_conv_loops(x, W, b, stride, pads, dilation, groups):
    """Convolution of x (N, C, H, W) with W (F, C // groups, fh, fw) plus b (F,), strides
    (sh, sw), pads ((top, bottom), (left, right)), dilation (dh, dw), one window at a time;
    returns ``(out, gradients)``, ``gradients(dout) -> (dx, dW, db)`` by the same loops."""
    n_images, channels, height, width = x.shape
    filters, group_channels, filter_h, filter_w = W.shape
    (sh, sw), ((top, bottom), (left, right)), (dh, dw) = stride, pads, dilation
    padded = np.pad(x, [(0, 0), (0, 0), (top, bottom), (left, right)])
    out_h = (height + top + bottom - dh * (filter_h - 1) - 1) // sh + 1
    out_w = (width + left + right - dw * (filter_w - 1) - 1) // sw + 1
    per_group = filters // groups

    def window(n, f, oh, ow):
        first = (f // per_group) * group_channels
        return (n, slice(first, first + group_channels),
                slice(oh * sh, oh * sh + dh * (filter_h - 1) + 1, dh),
                slice(ow * sw, ow * sw + dw * (filter_w - 1) + 1, dw))

    positions = [(n, f, oh, ow) for n in range(n_images) for f in range(filters)
                 for oh in range(out_h) for ow in range(out_w)]
    out = np.zeros((n_images, filters, out_h, out_w))
    for n, f, oh, ow in positions:
        out[n, f, oh, ow] = np.sum(padded[window(n, f, oh, ow)] * W[f]) + b[f]

    def gradients(dout):
        dpadded, dW = np.zeros(padded.shape), np.zeros(W.shape)
        for n, f, oh, ow in positions:
            dW[f] += dout[n, f, oh, ow] * padded[window(n, f, oh, ow)]
            dpadded[window(n, f, oh, ow)] += dout[n, f, oh, ow] * W[f]
        dx = dpadded[:, :, top:top + height, left:left + width]
        return dx, dW, dout.sum(axis=(0, 2, 3))

    return out, gradients


def avgpool_loops(x, pool_h, pool_w, stride, pad):
    """Average pooling with zero padding counted in the window (count_include_pad)."""
    n_images, channels, height, width = x.shape
    out_h = out_size(height, pool_h, stride, pad)
    out_w = out_size(width, pool_w, stride, pad)
    padded = np.pad(x, [(0, 0), (0, 0), (pad, pad), (pad, pad)])
    out = np.zeros((n_images, channels, out_h, out_w), dtype=x.dtype)
    for oh in range(out_h):
        for ow in range(out_w):
            window = padded[:, :, oh * stride:oh * stride + pool_h, ow * stride:ow * stride + pool_w]
            out[:, :, oh, ow] = window.mean(axis=(2, 3))
    return out
