"""Typed loops behind ``cnn_ext.batchnorm_forward`` and ``cnn_ext.batchnorm_backward``.

The arrays are seen as (N, C, S): N samples, C channels (features) and S positions per channel
(H * W for images, 1 for feature vectors). Each loop handles the channels ``start`` to ``stop``,
so that threads can share the channels out; each channel's values are N runs of S consecutive
elements. Sums are taken per run in eight independent lanes of the array's own type (which the
compiler turns into vector adds, and which keep each lane's sum short), and the runs' sums are
added in double. The statistics are taken about a shift, the channel's first value, so that
the variance loses nothing to cancellation when the mean is large against the spread.

These kernels trust their arguments: the wrappers in ``cnn_ext.batchnorm`` check shapes and
dtypes and allocate every output.
"""

from cython cimport floating

cdef enum:
    LANES = 8


cdef inline void centred_sums(const floating *values, floating shift, Py_ssize_t length,
                              double *total, double *squares) noexcept nogil:
    """Add the sum of ``values - shift`` over one run to ``total``, and of its squares to
    ``squares``."""
    cdef floating lane_total[LANES]
    cdef floating lane_squares[LANES]
    cdef floating value
    cdef Py_ssize_t block, i, lane, whole = length - length % LANES
    for lane in range(LANES):
        lane_total[lane] = 0
        lane_squares[lane] = 0
    for block in range(whole // LANES):
        i = block * LANES
        for lane in range(LANES):
            value = values[i + lane] - shift
            lane_total[lane] += value
            lane_squares[lane] += value * value
    for i in range(whole, length):
        value = values[i] - shift
        lane_total[0] += value
        lane_squares[0] += value * value
    for lane in range(LANES):
        total[0] += lane_total[lane]
        squares[0] += lane_squares[lane]


cdef inline void gradient_run_sums(const floating *dout, const floating *x, floating mean,
                                   Py_ssize_t length, double *total,
                                   double *products) noexcept nogil:
    """Add the sum of ``dout`` over one run to ``total``, and of ``dout * (x - mean)`` to
    ``products``."""
    cdef floating lane_total[LANES]
    cdef floating lane_products[LANES]
    cdef Py_ssize_t block, i, lane, whole = length - length % LANES
    for lane in range(LANES):
        lane_total[lane] = 0
        lane_products[lane] = 0
    for block in range(whole // LANES):
        i = block * LANES
        for lane in range(LANES):
            lane_total[lane] += dout[i + lane]
            lane_products[lane] += dout[i + lane] * (x[i + lane] - mean)
    for i in range(whole, length):
        lane_total[0] += dout[i]
        lane_products[0] += dout[i] * (x[i] - mean)
    for lane in range(LANES):
        total[0] += lane_total[lane]
        products[0] += lane_products[lane]


def channel_statistics(
    const floating[:, :, ::1] x,  # IN (N, C, S)
    double[::1] mean,  # OUT (C,): the mean of each channel over N and S
    double[::1] var,  # OUT (C,): the biased variance of each channel
    Py_ssize_t start,
    Py_ssize_t stop,
):
    """Mean and variance of the channels ``start`` to ``stop``."""
    cdef Py_ssize_t n, c, count = x.shape[0] * x.shape[2]
    cdef double total, squares, centre
    cdef floating shift
    with nogil:
        for c in range(start, stop):
            shift = x[0, c, 0]
            total = 0
            squares = 0
            for n in range(x.shape[0]):
                centred_sums(&x[n, c, 0], shift, x.shape[2], &total, &squares)
            centre = total / count
            mean[c] = shift + centre
            var[c] = max(squares / count - centre * centre, 0.0)


def normalize(
    const floating[:, :, ::1] x,  # IN (N, C, S)
    const floating[::1] mean,  # IN (C,)
    const floating[::1] scale,  # IN (C,)
    const floating[::1] shift,  # IN (C,)
    bint relu,
    floating[:, :, ::1] out,  # OUT (N, C, S)
    Py_ssize_t start,
    Py_ssize_t stop,
):
    """``out = (x - mean[c]) * scale[c] + shift[c]`` over the channels ``start`` to ``stop``;
    with ``relu``, ``max(that, 0)`` (a NaN stays NaN)."""
    cdef Py_ssize_t n, c, i
    cdef floating centre, factor, offset, value
    cdef const floating *source
    cdef floating *target
    with nogil:
        for n in range(x.shape[0]):
            for c in range(start, stop):
                centre = mean[c]
                factor = scale[c]
                offset = shift[c]
                source = &x[n, c, 0]
                target = &out[n, c, 0]
                if relu:
                    for i in range(x.shape[2]):
                        value = (source[i] - centre) * factor + offset
                        target[i] = 0 if value <= 0 else value
                else:
                    for i in range(x.shape[2]):
                        target[i] = (source[i] - centre) * factor + offset


def gradient_sums(
    const floating[:, :, ::1] dout,  # IN (N, C, S)
    const floating[:, :, ::1] x,  # IN (N, C, S): the forward pass's input
    const floating[::1] mean,  # IN (C,): the forward pass's batch mean
    double[::1] dout_sum,  # OUT (C,): the sum of dout over N and S
    double[::1] dout_centred,  # OUT (C,): the sum of dout * (x - mean)
    Py_ssize_t start,
    Py_ssize_t stop,
):
    """The two per-channel sums of the backward pass, for the channels ``start`` to ``stop``."""
    cdef Py_ssize_t n, c
    cdef double total, products
    with nogil:
        for c in range(start, stop):
            total = 0
            products = 0
            for n in range(x.shape[0]):
                gradient_run_sums(&dout[n, c, 0], &x[n, c, 0], mean[c], x.shape[2], &total,
                                  &products)
            dout_sum[c] = total
            dout_centred[c] = products


def input_gradient(
    const floating[:, :, ::1] dout,  # IN (N, C, S)
    const floating[:, :, ::1] x,  # IN (N, C, S)
    const floating[::1] mean,  # IN (C,)
    const floating[::1] dout_scale,  # IN (C,)
    const floating[::1] x_scale,  # IN (C,)
    const floating[::1] offset,  # IN (C,)
    floating[:, :, ::1] dx,  # OUT (N, C, S)
    Py_ssize_t start,
    Py_ssize_t stop,
):
    """``dx = dout * dout_scale[c] + (x - mean[c]) * x_scale[c] + offset[c]`` over the channels
    ``start`` to ``stop``: the input gradient, whose per-channel factors the wrapper derives."""
    cdef Py_ssize_t n, c, i
    cdef floating centre, a, b, d
    cdef const floating *gradient
    cdef const floating *source
    cdef floating *target
    with nogil:
        for n in range(x.shape[0]):
            for c in range(start, stop):
                centre = mean[c]
                a = dout_scale[c]
                b = x_scale[c]
                d = offset[c]
                gradient = &dout[n, c, 0]
                source = &x[n, c, 0]
                target = &dx[n, c, 0]
                for i in range(x.shape[2]):
                    target[i] = gradient[i] * a + (source[i] - centre) * b + d
