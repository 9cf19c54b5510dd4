"""Typed loops behind ``cnn_ext.im2col`` and ``cnn_ext.col2im``.

These kernels trust their arguments: shapes, dtypes and contiguity are checked
and the outputs are allocated by the Python wrappers in ``cnn_ext.kernels``.
A column row ``(n, oh, ow)`` holds the window whose top-left corner sits at
``(oh * stride - pad, ow * stride - pad)`` of image ``n``, ordered ``(c, kh, kw)``.
"""

from cython cimport floating


cdef inline void window_columns(Py_ssize_t left, Py_ssize_t filter_w, Py_ssize_t width,
                                Py_ssize_t *kw_start, Py_ssize_t *kw_stop) noexcept nogil:
    """The range of kernel columns ``kw`` whose input column ``left + kw`` lies inside the image."""
    kw_start[0] = min(max(-left, 0), filter_w)
    kw_stop[0] = max(min(width - left, filter_w), kw_start[0])


def im2col_kernel(
    const floating[:, :, :, ::1] x,  # IN (N, C, H, W)
    Py_ssize_t filter_h,
    Py_ssize_t filter_w,
    Py_ssize_t stride,
    Py_ssize_t pad,
    Py_ssize_t out_h,
    Py_ssize_t out_w,
    floating[:, ::1] col,  # OUT (N * out_h * out_w, C * filter_h * filter_w)
):
    cdef Py_ssize_t n_images = x.shape[0]
    cdef Py_ssize_t channels = x.shape[1]
    cdef Py_ssize_t height = x.shape[2]
    cdef Py_ssize_t width = x.shape[3]
    cdef Py_ssize_t n, oh, ow, c, kh, kw, row, column, top, left, ih, kw_start, kw_stop

    with nogil:
        for n in range(n_images):
            for oh in range(out_h):
                top = oh * stride - pad
                for ow in range(out_w):
                    left = ow * stride - pad
                    window_columns(left, filter_w, width, &kw_start, &kw_stop)
                    row = (n * out_h + oh) * out_w + ow
                    column = 0
                    for c in range(channels):
                        for kh in range(filter_h):
                            ih = top + kh
                            if ih < 0 or ih >= height:
                                for kw in range(filter_w):
                                    col[row, column + kw] = 0
                            else:
                                for kw in range(kw_start):
                                    col[row, column + kw] = 0
                                for kw in range(kw_start, kw_stop):
                                    col[row, column + kw] = x[n, c, ih, left + kw]
                                for kw in range(kw_stop, filter_w):
                                    col[row, column + kw] = 0
                            column += filter_w


def col2im_kernel(
    const floating[:, ::1] col,  # IN (N * out_h * out_w, C * filter_h * filter_w)
    Py_ssize_t filter_h,
    Py_ssize_t filter_w,
    Py_ssize_t stride,
    Py_ssize_t pad,
    Py_ssize_t out_h,
    Py_ssize_t out_w,
    floating[:, :, :, ::1] x,  # INOUT (N, C, H, W), zero on entry
):
    cdef Py_ssize_t n_images = x.shape[0]
    cdef Py_ssize_t channels = x.shape[1]
    cdef Py_ssize_t height = x.shape[2]
    cdef Py_ssize_t width = x.shape[3]
    cdef Py_ssize_t n, oh, ow, c, kh, kw, row, column, top, left, ih, kw_start, kw_stop

    with nogil:
        for n in range(n_images):
            for oh in range(out_h):
                top = oh * stride - pad
                for ow in range(out_w):
                    left = ow * stride - pad
                    window_columns(left, filter_w, width, &kw_start, &kw_stop)
                    row = (n * out_h + oh) * out_w + ow
                    column = 0
                    for c in range(channels):
                        for kh in range(filter_h):
                            ih = top + kh
                            if 0 <= ih < height:
                                for kw in range(kw_start, kw_stop):
                                    x[n, c, ih, left + kw] += col[row, column + kw]
                            column += filter_w
