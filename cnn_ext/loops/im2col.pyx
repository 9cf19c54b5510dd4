"""Typed loops behind ``cnn_ext.im2col`` and ``cnn_ext.col2im``.

These kernels trust their arguments: shapes, dtypes and contiguity are checked
and the outputs are allocated by the Python wrappers in ``cnn_ext.kernels``,
which may call them on disjoint slices of the batch from several threads.
A column row ``(n, oh, ow)`` holds the window whose top-left corner sits at
``(oh * stride - pad, ow * stride - pad)`` of image ``n``, ordered ``(c, kh, kw)``.
"""

from cython cimport floating


cdef inline void window_columns(Py_ssize_t left, Py_ssize_t filter_w, Py_ssize_t width,
                                Py_ssize_t *kw_start, Py_ssize_t *kw_stop) noexcept nogil:
    """The range of kernel columns ``kw`` whose input column ``left + kw`` lies inside the image."""
    kw_start[0] = min(max(-left, 0), filter_w)
    kw_stop[0] = max(min(width - left, filter_w), kw_start[0])


cdef inline void copy_run(floating *out, const floating *source, Py_ssize_t length) noexcept nogil:
    """Copy ``length`` contiguous values; the common filter widths get unrolled copies."""
    cdef Py_ssize_t k
    if length == 5:
        out[0] = source[0]; out[1] = source[1]; out[2] = source[2]; out[3] = source[3]; out[4] = source[4]
    elif length == 3:
        out[0] = source[0]; out[1] = source[1]; out[2] = source[2]
    else:
        for k in range(length):
            out[k] = source[k]


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
    cdef Py_ssize_t n, oh, ow, c, kh, kw, top, left, ih, kw_start, kw_stop
    cdef const floating *plane
    cdef const floating *source
    cdef floating *out

    with nogil:
        out = &col[0, 0]
        for n in range(n_images):
            for oh in range(out_h):
                top = oh * stride - pad
                for ow in range(out_w):
                    left = ow * stride - pad
                    window_columns(left, filter_w, width, &kw_start, &kw_stop)
                    # `out` walks through the row (n, oh, ow) filter_w entries at a time.
                    for c in range(channels):
                        plane = &x[n, c, 0, 0]
                        for kh in range(filter_h):
                            ih = top + kh
                            if ih < 0 or ih >= height:
                                for kw in range(filter_w):
                                    out[kw] = 0
                            else:
                                # The row's start, not plane + ih * width + left: with left < 0
                                # that pointer would lie before the buffer (undefined in C).
                                source = plane + ih * width
                                if kw_start == 0 and kw_stop == filter_w:
                                    copy_run(out, source + left, filter_w)
                                else:
                                    for kw in range(kw_start):
                                        out[kw] = 0
                                    for kw in range(kw_start, kw_stop):
                                        out[kw] = source[left + kw]
                                    for kw in range(kw_stop, filter_w):
                                        out[kw] = 0
                            out += filter_w


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
    cdef Py_ssize_t n, oh, ow, c, kh, kw, top, left, ih, kw_start, kw_stop
    cdef const floating *entries
    cdef floating *plane
    cdef floating *target

    with nogil:
        entries = &col[0, 0]
        for n in range(n_images):
            for oh in range(out_h):
                top = oh * stride - pad
                for ow in range(out_w):
                    left = ow * stride - pad
                    window_columns(left, filter_w, width, &kw_start, &kw_stop)
                    for c in range(channels):
                        plane = &x[n, c, 0, 0]
                        for kh in range(filter_h):
                            ih = top + kh
                            if 0 <= ih < height:
                                target = plane + ih * width
                                for kw in range(kw_start, kw_stop):
                                    target[left + kw] += entries[kw]
                            entries += filter_w
