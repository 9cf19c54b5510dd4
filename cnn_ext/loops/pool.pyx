"""Typed loops behind ``cnn_ext.maxpool_forward`` and ``cnn_ext.maxpool_backward``.

These kernels trust their arguments: the Python wrappers in ``cnn_ext.kernels``
check shapes, dtypes and the range of ``argmax`` and allocate every output.
``argmax[n, c, oh, ow]`` is the flat index ``ih * W + iw`` of the winning pixel
in the unpadded (H, W) plane of image ``n``, channel ``c``.
"""

from cython cimport floating


cdef inline bint wins(floating value, floating best) noexcept nogil:
    """Whether ``value`` replaces the running maximum: larger, or the first NaN (as np.argmax).

    Written without short-circuits so that the compiler can use conditional moves:
    on real activations the comparisons are unpredictable branches."""
    return (value > best) | ((value != value) & (best == best))


cdef inline floating larger(floating best, floating value) noexcept nogil:
    """The running maximum after ``value``: the first NaN stays, ties keep ``best``."""
    return best if (best >= value or best != best) else value


cdef inline Py_ssize_t is_winner(floating value, floating best) noexcept nogil:
    """1 where ``value`` is the window's maximum ``best`` (a NaN matches a NaN maximum)."""
    return (value == best) | (value != value)


cdef inline void pool_2x2_plane(const floating *plane, Py_ssize_t width, Py_ssize_t out_h,
                                Py_ssize_t out_w, floating *out_plane,
                                Py_ssize_t *argmax_plane) noexcept nogil:
    """2x2 windows with stride 2 and no padding, the common case, without the general loop.

    Both passes over a row are free of branches, so the compiler vectorises them:
    first the maxima, then (unless ``argmax_plane`` is NULL, as in inference) the
    position of the first value equal to each maximum."""
    cdef Py_ssize_t oh, ow, first, second, third
    cdef floating best
    cdef const floating *upper
    cdef const floating *lower
    cdef floating *out_row
    for oh in range(out_h):
        upper = plane + 2 * oh * width
        lower = upper + width
        out_row = out_plane + oh * out_w
        for ow in range(out_w):
            best = larger(upper[2 * ow], upper[2 * ow + 1])
            best = larger(best, lower[2 * ow])
            out_row[ow] = larger(best, lower[2 * ow + 1])
        if argmax_plane == NULL:
            continue
        for ow in range(out_w):
            best = out_row[ow]
            first = is_winner(upper[2 * ow], best)
            second = is_winner(upper[2 * ow + 1], best)
            third = is_winner(lower[2 * ow], best)
            # offset 0, 1, width or width + 1 within the window, for the first winner
            argmax_plane[oh * out_w + ow] = (2 * oh * width + 2 * ow
                                             + (1 - first) * (second + (1 - second) * (width + 1 - third)))


cdef inline Py_ssize_t first_entry(Py_ssize_t start, Py_ssize_t spread) noexcept nogil:
    """The index ``j`` of the first window entry ``start + j * spread`` that is not before 0."""
    return 0 if start >= 0 else (-start + spread - 1) // spread


cdef inline Py_ssize_t stop_entry(Py_ssize_t start, Py_ssize_t spread, Py_ssize_t window,
                                  Py_ssize_t size) noexcept nogil:
    """One past the index of the last window entry ``start + j * spread`` before ``size``."""
    return min(window, (size - start + spread - 1) // spread)


def maxpool_forward_kernel(
    const floating[:, :, :, ::1] x,  # IN (N, C, H, W)
    Py_ssize_t pool_h,
    Py_ssize_t pool_w,
    Py_ssize_t stride_h,
    Py_ssize_t stride_w,
    Py_ssize_t top,
    Py_ssize_t left,
    Py_ssize_t dilation_h,
    Py_ssize_t dilation_w,
    floating[:, :, :, ::1] out,  # OUT (N, C, out_h, out_w)
    Py_ssize_t[:, :, :, ::1] argmax,  # OUT (N, C, out_h, out_w), or None to keep no positions
):
    """Every window's maximum over the pixels of the image it covers (the padding and a window's
    overhang past the image never win); each window covers at least one pixel (checked by the
    wrapper). Entry ``(kh, kw)`` of window ``(oh, ow)`` reads pixel
    ``(oh * stride_h - top + kh * dilation_h, ow * stride_w - left + kw * dilation_w)``."""
    cdef Py_ssize_t n_images = x.shape[0]
    cdef Py_ssize_t channels = x.shape[1]
    cdef Py_ssize_t height = x.shape[2]
    cdef Py_ssize_t width = x.shape[3]
    cdef Py_ssize_t out_h = out.shape[2]
    cdef Py_ssize_t out_w = out.shape[3]
    cdef Py_ssize_t n, c, oh, ow, kh, kw, h_start, w_start, kh_first, kh_stop, kw_first, kw_stop
    cdef Py_ssize_t index, best_index
    cdef floating value, best
    cdef const floating *plane
    cdef floating *out_plane
    cdef Py_ssize_t *argmax_plane = NULL
    cdef bint with_argmax = argmax is not None
    cdef bint two_by_two = (pool_h == 2 and pool_w == 2 and stride_h == 2 and stride_w == 2
                            and top == 0 and left == 0 and dilation_h == 1 and dilation_w == 1
                            and out_h * 2 <= height and out_w * 2 <= width)

    with nogil:
        for n in range(n_images):
            for c in range(channels):
                plane = &x[n, c, 0, 0]
                out_plane = &out[n, c, 0, 0]
                if with_argmax:
                    argmax_plane = &argmax[n, c, 0, 0]
                if two_by_two:
                    pool_2x2_plane(plane, width, out_h, out_w, out_plane, argmax_plane)
                    continue
                for oh in range(out_h):
                    h_start = oh * stride_h - top
                    kh_first = first_entry(h_start, dilation_h)
                    kh_stop = stop_entry(h_start, dilation_h, pool_h, height)
                    for ow in range(out_w):
                        w_start = ow * stride_w - left
                        kw_first = first_entry(w_start, dilation_w)
                        kw_stop = stop_entry(w_start, dilation_w, pool_w, width)
                        # Padding never wins: only pixels inside the image are compared.
                        best_index = ((h_start + kh_first * dilation_h) * width
                                      + w_start + kw_first * dilation_w)
                        best = plane[best_index]
                        for kh in range(kh_first, kh_stop):
                            for kw in range(kw_first, kw_stop):
                                index = (h_start + kh * dilation_h) * width + w_start + kw * dilation_w
                                value = plane[index]
                                if wins(value, best):
                                    best = value
                                    best_index = index
                        out_plane[oh * out_w + ow] = best
                        if with_argmax:
                            argmax_plane[oh * out_w + ow] = best_index


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
