"""Typed loops behind the convolution engine (``cnn_ext.conv2d_forward`` and ``conv2d_backward``).

These kernels trust their arguments: shapes, dtypes and contiguity are checked
and every buffer is allocated by the Python code in ``cnn_ext.convolution``,
which calls them on disjoint blocks of images from several threads.

They work in the channel-major unfolded layout: ``columns[n, k, p]`` holds,
for image ``n`` and output pixel ``p = oh * out_w + ow``, the input value under
filter entry ``k = (c, kh, kw)``, that is ``x[n, c, oh * stride - pad + kh,
ow * stride - pad + kw]`` (zero in the padding). One filter entry's values for
one output row come from one input row, so the copies run along image rows,
and ``W (OC, K) @ columns[n] (K, P)`` is already image ``n``'s output (OC, P).
"""

from cython cimport floating
from libc.string cimport memset


cdef inline void valid_outputs(Py_ssize_t offset, Py_ssize_t stride, Py_ssize_t size,
                               Py_ssize_t out_size, Py_ssize_t *start,
                               Py_ssize_t *stop) noexcept nogil:
    """The range of output positions ``o`` whose input ``o * stride + offset`` lies in ``[0, size)``."""
    if offset >= 0:
        start[0] = 0
    else:
        start[0] = min((-offset + stride - 1) // stride, out_size)
    if size - 1 - offset < 0:
        stop[0] = start[0]
    else:
        stop[0] = max(min((size - 1 - offset) // stride + 1, out_size), start[0])


def unfold_kernel(
    const floating[:, :, :, ::1] x,  # IN (B, C, H, W)
    Py_ssize_t filter_h,
    Py_ssize_t filter_w,
    Py_ssize_t stride,
    Py_ssize_t pad,
    Py_ssize_t out_h,
    Py_ssize_t out_w,
    floating[:, :, ::1] columns,  # OUT (B, C * filter_h * filter_w [+ 1], out_h * out_w)
):
    """Fill ``columns``; a row past the ``C * filter_h * filter_w`` filter entries is set to ones,
    so that a bias stored as the last column of the weights is added by the matrix product."""
    cdef Py_ssize_t n_images = x.shape[0]
    cdef Py_ssize_t channels = x.shape[1]
    cdef Py_ssize_t height = x.shape[2]
    cdef Py_ssize_t width = x.shape[3]
    cdef Py_ssize_t pixels = out_h * out_w
    cdef bint ones_row = columns.shape[1] > channels * filter_h * filter_w
    cdef Py_ssize_t n, c, kh, kw, oh, ow, ih, ow_start, ow_stop, offset
    cdef const floating *plane
    cdef const floating *source
    cdef floating *out

    with nogil:
        for n in range(n_images):
            out = &columns[n, 0, 0]
            for c in range(channels):
                plane = &x[n, c, 0, 0]
                for kh in range(filter_h):
                    for kw in range(filter_w):
                        offset = kw - pad
                        valid_outputs(offset, stride, width, out_w, &ow_start, &ow_stop)
                        for oh in range(out_h):
                            ih = oh * stride - pad + kh
                            if ih < 0 or ih >= height:
                                memset(out, 0, out_w * sizeof(floating))
                            else:
                                source = plane + ih * width
                                for ow in range(ow_start):
                                    out[ow] = 0
                                if stride == 1:
                                    for ow in range(ow_start, ow_stop):
                                        out[ow] = source[ow + offset]
                                else:
                                    for ow in range(ow_start, ow_stop):
                                        out[ow] = source[ow * stride + offset]
                                for ow in range(ow_stop, out_w):
                                    out[ow] = 0
                            out += out_w
            if ones_row:
                for ow in range(pixels):
                    out[ow] = 1


def fold_kernel(
    const floating[:, :, ::1] columns,  # IN (B, >= C * filter_h * filter_w, out_h * out_w)
    Py_ssize_t filter_h,
    Py_ssize_t filter_w,
    Py_ssize_t stride,
    Py_ssize_t pad,
    Py_ssize_t out_h,
    Py_ssize_t out_w,
    floating[:, :, :, ::1] dx,  # OUT (B, C, H, W), overwritten
):
    """The adjoint of ``unfold_kernel``: zero ``dx``, then add every filter entry's value
    back into the pixel it was read from (entries that came from the padding are dropped)."""
    cdef Py_ssize_t n_images = dx.shape[0]
    cdef Py_ssize_t channels = dx.shape[1]
    cdef Py_ssize_t height = dx.shape[2]
    cdef Py_ssize_t width = dx.shape[3]
    cdef Py_ssize_t n, c, kh, kw, oh, ow, ih, ow_start, ow_stop, offset
    cdef const floating *entries
    cdef floating *plane
    cdef floating *target

    with nogil:
        memset(&dx[0, 0, 0, 0], 0, n_images * channels * height * width * sizeof(floating))
        for n in range(n_images):
            entries = &columns[n, 0, 0]
            for c in range(channels):
                plane = &dx[n, c, 0, 0]
                for kh in range(filter_h):
                    for kw in range(filter_w):
                        offset = kw - pad
                        valid_outputs(offset, stride, width, out_w, &ow_start, &ow_stop)
                        for oh in range(out_h):
                            ih = oh * stride - pad + kh
                            if 0 <= ih < height:
                                target = plane + ih * width
                                if stride == 1:
                                    for ow in range(ow_start, ow_stop):
                                        target[ow + offset] += entries[ow]
                                else:
                                    for ow in range(ow_start, ow_stop):
                                        target[ow * stride + offset] += entries[ow]
                            entries += out_w
