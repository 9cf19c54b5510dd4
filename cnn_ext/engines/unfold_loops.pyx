"""Typed loops behind the unfold engine (``cnn_ext.engines.unfold``) of ``conv2d_forward`` and
``conv2d_backward``.

These kernels trust their arguments: shapes, dtypes and contiguity are checked
and every buffer is allocated by the Python code in ``cnn_ext.convolution`` and
the engine, which calls them on disjoint blocks of images from several threads.

They work in the channel-major unfolded layout: ``columns[n, k, p]`` holds,
for image ``n`` and output pixel ``p = oh * out_w + ow``, the input value under
filter entry ``k = (c, kh, kw)``, that is ``x[n, c, oh * stride_h - top + kh * dilation_h,
ow * stride_w - left + kw * dilation_w]`` (zero in the padding). One filter entry's values
for one output row come from one row of the padded image, so the copies run along rows,
and ``W (OC, K) @ columns[n] (K, P)`` is already image ``n``'s output (OC, P). With groups,
the rows of group ``g`` (its channels' entries) are one contiguous band of ``columns``.
"""

from cython cimport floating
from libc.string cimport memcpy, memset

cdef enum:
    # Rows at least this long are copied faster by memcpy than by a loop (measured: 14 and 28).
    LONG_ROW = 24


cdef inline void pad_image(const floating *image, Py_ssize_t channels, Py_ssize_t height,
                           Py_ssize_t width, Py_ssize_t top, Py_ssize_t bottom, Py_ssize_t left,
                           Py_ssize_t right, floating *padded) noexcept nogil:
    """Copy one image (C, H, W) into ``padded`` (C, top + H + bottom, left + W + right) with a
    zero border."""
    cdef Py_ssize_t padded_height = top + height + bottom
    cdef Py_ssize_t padded_width = left + width + right
    cdef Py_ssize_t c, ih
    cdef floating *row
    memset(padded, 0, channels * padded_height * padded_width * sizeof(floating))
    for c in range(channels):
        for ih in range(height):
            row = padded + (c * padded_height + ih + top) * padded_width + left
            memcpy(row, image + (c * height + ih) * width, width * sizeof(floating))


def unfold_kernel(
    const floating[:, :, :, ::1] x,  # IN (B, C, H, W)
    Py_ssize_t filter_h,
    Py_ssize_t filter_w,
    Py_ssize_t stride_h,
    Py_ssize_t stride_w,
    Py_ssize_t top,
    Py_ssize_t bottom,
    Py_ssize_t left,
    Py_ssize_t right,
    Py_ssize_t dilation_h,
    Py_ssize_t dilation_w,
    Py_ssize_t out_h,
    Py_ssize_t out_w,
    floating[:, :, ::1] columns,  # OUT (B, C * filter_h * filter_w [+ 1], out_h * out_w)
    floating[::1] padded,  # SCRATCH (>= C * (top + H + bottom) * (left + W + right)), unused unpadded
):
    """Fill ``columns``; a row past the ``C * filter_h * filter_w`` filter entries is set to ones,
    so that a bias stored as the last column of the weights is added by the matrix product.

    Each image is first copied into ``padded`` with its zero border, so that every
    run of ``out_w`` values is a plain copy with no bounds to test."""
    cdef Py_ssize_t n_images = x.shape[0]
    cdef Py_ssize_t channels = x.shape[1]
    cdef Py_ssize_t height = x.shape[2]
    cdef Py_ssize_t width = x.shape[3]
    cdef Py_ssize_t padded_height = top + height + bottom
    cdef Py_ssize_t padded_width = left + width + right
    cdef Py_ssize_t pixels = out_h * out_w
    cdef bint ones_row = columns.shape[1] > channels * filter_h * filter_w
    cdef bint is_padded = top > 0 or bottom > 0 or left > 0 or right > 0
    cdef Py_ssize_t n, c, kh, kw, oh, ow
    cdef const floating *image
    cdef const floating *source
    cdef floating *out

    with nogil:
        for n in range(n_images):
            image = &x[n, 0, 0, 0]
            if is_padded:
                pad_image(image, channels, height, width, top, bottom, left, right, &padded[0])
                image = &padded[0]
            out = &columns[n, 0, 0]
            for c in range(channels):
                for kh in range(filter_h):
                    for kw in range(filter_w):
                        for oh in range(out_h):
                            source = image + (c * padded_height + oh * stride_h + kh * dilation_h) \
                                * padded_width + kw * dilation_w
                            if stride_w == 1 and out_w >= LONG_ROW:
                                memcpy(out, source, out_w * sizeof(floating))
                            elif stride_w == 1:
                                for ow in range(out_w):
                                    out[ow] = source[ow]
                            else:
                                for ow in range(out_w):
                                    out[ow] = source[ow * stride_w]
                            out += out_w
            if ones_row:
                for ow in range(pixels):
                    out[ow] = 1


def fold_kernel(
    const floating[:, :, ::1] columns,  # IN (B, >= C * filter_h * filter_w, out_h * out_w)
    Py_ssize_t filter_h,
    Py_ssize_t filter_w,
    Py_ssize_t stride_h,
    Py_ssize_t stride_w,
    Py_ssize_t top,
    Py_ssize_t bottom,
    Py_ssize_t left,
    Py_ssize_t right,
    Py_ssize_t dilation_h,
    Py_ssize_t dilation_w,
    Py_ssize_t out_h,
    Py_ssize_t out_w,
    floating[:, :, :, ::1] dx,  # OUT (B, C, H, W), overwritten
    floating[::1] padded,  # SCRATCH (>= C * (top + H + bottom) * (left + W + right))
):
    """The adjoint of ``unfold_kernel``: add every filter entry's value back into the pixel
    it was read from, in a zeroed padded image, then copy the image without its border
    (the entries that came from the padding are dropped) into ``dx``."""
    cdef Py_ssize_t n_images = dx.shape[0]
    cdef Py_ssize_t channels = dx.shape[1]
    cdef Py_ssize_t height = dx.shape[2]
    cdef Py_ssize_t width = dx.shape[3]
    cdef Py_ssize_t padded_height = top + height + bottom
    cdef Py_ssize_t padded_width = left + width + right
    cdef Py_ssize_t n, c, kh, kw, oh, ow, ih
    cdef const floating *entries
    cdef floating *sums = &padded[0]
    cdef floating *target

    with nogil:
        for n in range(n_images):
            memset(sums, 0, channels * padded_height * padded_width * sizeof(floating))
            entries = &columns[n, 0, 0]
            for c in range(channels):
                for kh in range(filter_h):
                    for kw in range(filter_w):
                        for oh in range(out_h):
                            target = sums + (c * padded_height + oh * stride_h + kh * dilation_h) \
                                * padded_width + kw * dilation_w
                            if stride_w == 1:
                                for ow in range(out_w):
                                    target[ow] += entries[ow]
                            else:
                                for ow in range(out_w):
                                    target[ow * stride_w] += entries[ow]
                            entries += out_w
            for c in range(channels):
                for ih in range(height):
                    memcpy(&dx[n, c, ih, 0],
                           sums + (c * padded_height + ih + top) * padded_width + left,
                           width * sizeof(floating))
