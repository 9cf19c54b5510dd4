"""Typed loops of the depthwise convolution (``groups`` equal to the input channels): each
channel convolved with its own ``multiplier`` filters, one image plane at a time.

These kernels trust their arguments: the engine in ``cnn_ext.engines.depthwise`` checks and
allocates everything and calls them on disjoint slices of the batch from several threads.
Filter ``f = c * multiplier + j`` reads channel ``c``; entry ``(kh, kw)`` of output
``(oh, ow)`` reads the padded plane at ``(oh * stride_h + kh * dilation_h,
ow * stride_w + kw * dilation_w)``. Each plane is first copied into a zeroed scratch with its
border, so the inner loops, along an output row, have no bounds to test and vectorise.
"""

from cython cimport floating
from libc.string cimport memcpy, memset


cdef inline void pad_plane(const floating *plane, Py_ssize_t height, Py_ssize_t width,
                           Py_ssize_t top, Py_ssize_t left, Py_ssize_t padded_height,
                           Py_ssize_t padded_width, floating *padded) noexcept nogil:
    cdef Py_ssize_t ih
    memset(padded, 0, padded_height * padded_width * sizeof(floating))
    for ih in range(height):
        memcpy(padded + (ih + top) * padded_width + left, plane + ih * width,
               width * sizeof(floating))


def depthwise_forward_kernel(
    const floating[:, :, :, ::1] x,  # IN (B, C, H, W)
    const floating[:, :, ::1] W,  # IN (C * multiplier, filter_h, filter_w)
    const floating[::1] b,  # IN (C * multiplier,)
    Py_ssize_t stride_h, Py_ssize_t stride_w, Py_ssize_t top, Py_ssize_t left,
    Py_ssize_t padded_height, Py_ssize_t padded_width, Py_ssize_t dilation_h, Py_ssize_t dilation_w,
    floating[:, :, :, ::1] out,  # OUT (B, C * multiplier, out_h, out_w)
    floating[::1] padded,  # SCRATCH (>= padded_height * padded_width)
):
    cdef Py_ssize_t n_images = x.shape[0], channels = x.shape[1]
    cdef Py_ssize_t height = x.shape[2], width = x.shape[3]
    cdef Py_ssize_t multiplier = W.shape[0] // channels
    cdef Py_ssize_t filter_h = W.shape[1], filter_w = W.shape[2]
    cdef Py_ssize_t out_h = out.shape[2], out_w = out.shape[3]
    cdef Py_ssize_t n, c, j, f, kh, kw, oh, ow
    cdef floating weight
    cdef floating *target
    cdef const floating *source
    cdef floating *scratch = &padded[0]

    with nogil:
        for n in range(n_images):
            for c in range(channels):
                pad_plane(&x[n, c, 0, 0], height, width, top, left, padded_height, padded_width,
                          scratch)
                for j in range(multiplier):
                    f = c * multiplier + j
                    target = &out[n, f, 0, 0]
                    for ow in range(out_h * out_w):
                        target[ow] = b[f]
                    for kh in range(filter_h):
                        for kw in range(filter_w):
                            weight = W[f, kh, kw]
                            for oh in range(out_h):
                                source = scratch + (oh * stride_h + kh * dilation_h) * padded_width \
                                    + kw * dilation_w
                                if stride_w == 1:
                                    for ow in range(out_w):
                                        target[oh * out_w + ow] += weight * source[ow]
                                else:
                                    for ow in range(out_w):
                                        target[oh * out_w + ow] += weight * source[ow * stride_w]


def depthwise_backward_kernel(
    const floating[:, :, :, ::1] x,  # IN (B, C, H, W)
    const floating[:, :, ::1] W,  # IN (C * multiplier, filter_h, filter_w)
    const floating[:, :, :, ::1] dout,  # IN (B, C * multiplier, out_h, out_w)
    Py_ssize_t stride_h, Py_ssize_t stride_w, Py_ssize_t top, Py_ssize_t left,
    Py_ssize_t padded_height, Py_ssize_t padded_width, Py_ssize_t dilation_h, Py_ssize_t dilation_w,
    floating[:, :, ::1] dW,  # INOUT (C * multiplier, filter_h, filter_w), added to
    floating[::1] db,  # INOUT (C * multiplier,), added to
    floating[:, :, :, ::1] dx,  # OUT (B, C, H, W), or None for no input gradient
    floating[::1] padded,  # SCRATCH (>= 2 * padded_height * padded_width)
):
    cdef Py_ssize_t n_images = x.shape[0], channels = x.shape[1]
    cdef Py_ssize_t height = x.shape[2], width = x.shape[3]
    cdef Py_ssize_t multiplier = W.shape[0] // channels
    cdef Py_ssize_t filter_h = W.shape[1], filter_w = W.shape[2]
    cdef Py_ssize_t out_h = dout.shape[2], out_w = dout.shape[3]
    cdef Py_ssize_t plane = padded_height * padded_width
    cdef Py_ssize_t n, c, j, f, kh, kw, oh, ow, ih
    cdef floating weight, total
    cdef const floating *gradient
    cdef const floating *source
    cdef floating *sink
    cdef floating *image = &padded[0]
    cdef floating *sums = &padded[0] + plane
    cdef bint input_grad = dx is not None

    with nogil:
        for n in range(n_images):
            for c in range(channels):
                pad_plane(&x[n, c, 0, 0], height, width, top, left, padded_height, padded_width,
                          image)
                if input_grad:
                    memset(sums, 0, plane * sizeof(floating))
                for j in range(multiplier):
                    f = c * multiplier + j
                    gradient = &dout[n, f, 0, 0]
                    total = 0
                    for ow in range(out_h * out_w):
                        total = total + gradient[ow]
                    db[f] += total
                    for kh in range(filter_h):
                        for kw in range(filter_w):
                            weight = W[f, kh, kw]
                            total = 0
                            for oh in range(out_h):
                                source = image + (oh * stride_h + kh * dilation_h) * padded_width \
                                    + kw * dilation_w
                                sink = sums + (source - image)
                                for ow in range(out_w):
                                    total = total + gradient[oh * out_w + ow] * source[ow * stride_w]
                                if input_grad:
                                    for ow in range(out_w):
                                        sink[ow * stride_w] += weight * gradient[oh * out_w + ow]
                            dW[f, kh, kw] += total
                if input_grad:
                    for ih in range(height):
                        memcpy(&dx[n, c, ih, 0], sums + (ih + top) * padded_width + left,
                               width * sizeof(floating))
