"""Typed loops behind ``cnn_ext.maxpool_forward`` and ``cnn_ext.maxpool_backward``.

These kernels trust their arguments: the Python wrappers in ``cnn_ext.kernels``
check shapes, dtypes and the range of ``argmax`` and allocate every output.
``argmax[n, c, oh, ow]`` is the flat index ``ih * W + iw`` of the winning pixel
in the unpadded (H, W) plane of image ``n``, channel ``c``.
"""

from cython cimport floating


def maxpool_forward_kernel(
    const floating[:, :, :, ::1] x,  # IN (N, C, H, W)
    Py_ssize_t pool_h,
    Py_ssize_t pool_w,
    Py_ssize_t stride_h,
    Py_ssize_t stride_w,
    Py_ssize_t pad,
    floating[:, :, :, ::1] out,  # OUT (N, C, out_h, out_w)
    Py_ssize_t[:, :, :, ::1] argmax,  # OUT (N, C, out_h, out_w)
):
    cdef Py_ssize_t n_images = x.shape[0]
    cdef Py_ssize_t channels = x.shape[1]
    cdef Py_ssize_t height = x.shape[2]
    cdef Py_ssize_t width = x.shape[3]
    cdef Py_ssize_t out_h = out.shape[2]
    cdef Py_ssize_t out_w = out.shape[3]
    cdef Py_ssize_t n, c, oh, ow, ih, iw, h_start, h_stop, w_start, w_stop, best_index
    cdef floating value, best

    with nogil:
        for n in range(n_images):
            for c in range(channels):
                for oh in range(out_h):
                    h_start = oh * stride_h - pad
                    h_stop = min(h_start + pool_h, height)
                    h_start = max(h_start, 0)
                    for ow in range(out_w):
                        w_start = ow * stride_w - pad
                        w_stop = min(w_start + pool_w, width)
                        w_start = max(w_start, 0)
                        # Padding never wins: only pixels inside the image are compared.
                        best = x[n, c, h_start, w_start]
                        best_index = h_start * width + w_start
                        for ih in range(h_start, h_stop):
                            for iw in range(w_start, w_stop):
                                value = x[n, c, ih, iw]
                                # The first NaN wins, as with np.argmax.
                                if value > best or (value != value and best == best):
                                    best = value
                                    best_index = ih * width + iw
                        out[n, c, oh, ow] = best
                        argmax[n, c, oh, ow] = best_index


def maxpool_backward_kernel(
    const floating[:, :, :, ::1] dout,  # IN (N, C, out_h, out_w)
    const Py_ssize_t[:, :, :, ::1] argmax,  # IN (N, C, out_h, out_w), values in [0, H * W)
    floating[:, :, ::1] dx,  # INOUT (N, C, H * W), zero on entry
):
    cdef Py_ssize_t n_images = dout.shape[0]
    cdef Py_ssize_t channels = dout.shape[1]
    cdef Py_ssize_t out_h = dout.shape[2]
    cdef Py_ssize_t out_w = dout.shape[3]
    cdef Py_ssize_t n, c, oh, ow

    with nogil:
        for n in range(n_images):
            for c in range(channels):
                for oh in range(out_h):
                    for ow in range(out_w):
                        dx[n, c, argmax[n, c, oh, ow]] += dout[n, c, oh, ow]
