# The Cython side of the direct convolution kernels (direct_conv.h beside this file), included by
# one module per instruction set: kernels_baseline.pyx, kernels_avx2.pyx, kernels_avx512.pyx.
# Each is compiled with that instruction set's flags (setup.py) and imported by
# cnn_ext.engines.direct.dispatch only where the CPU supports it. The functions trust their
# arguments: cnn_ext.convolution checks shapes and dtypes, cnn_ext.geometry gives the output's
# size, and every buffer is allocated before the call; they release the GIL, and one call works
# through a whole slice of the batch.

from libc.stddef cimport ptrdiff_t

cdef extern from "direct_conv.h" nogil:
    ctypedef struct conv_geometry:
        ptrdiff_t channels, height, width, out_channels, filter_h, filter_w, pad_h, pad_w
        ptrdiff_t out_h, out_w
    const char *CNN_SIMD_NAME
    conv_geometry make_geometry(ptrdiff_t channels, ptrdiff_t height, ptrdiff_t width,
                                ptrdiff_t out_channels, ptrdiff_t filter_h, ptrdiff_t filter_w,
                                ptrdiff_t pad_h, ptrdiff_t pad_w, ptrdiff_t out_h,
                                ptrdiff_t out_w)
    ptrdiff_t forward_scratch_floats(const conv_geometry *g)
    ptrdiff_t forward_offsets(const conv_geometry *g)
    void direct_forward(const float *x, ptrdiff_t n_images, const conv_geometry *g,
                        const float *weights, const float *bias, float *out, float *scratch,
                        ptrdiff_t *offsets)
    ptrdiff_t dw_images_per_block(const conv_geometry *g, ptrdiff_t n_images)
    ptrdiff_t backward_scratch_floats(const conv_geometry *g, ptrdiff_t block)
    ptrdiff_t backward_offsets(const conv_geometry *g)
    void direct_weight_gradient(const float *x, const float *dout, ptrdiff_t n_images,
                                const conv_geometry *g, float *dweights, float *dbias,
                                float *scratch, ptrdiff_t *offsets)

#: The instruction set these kernels were compiled for.
INSTRUCTION_SET = CNN_SIMD_NAME.decode()


def forward_scratch(Py_ssize_t channels, Py_ssize_t height, Py_ssize_t width,
                    Py_ssize_t out_channels, Py_ssize_t filter_h, Py_ssize_t filter_w,
                    Py_ssize_t pad_h, Py_ssize_t pad_w, Py_ssize_t out_h, Py_ssize_t out_w):
    """``(floats, offsets)``: the scratch :func:`forward` needs (float32 and np.intp elements)."""
    cdef conv_geometry g = make_geometry(channels, height, width, out_channels, filter_h,
                                         filter_w, pad_h, pad_w, out_h, out_w)
    return forward_scratch_floats(&g), forward_offsets(&g)


def backward_scratch(Py_ssize_t channels, Py_ssize_t height, Py_ssize_t width,
                     Py_ssize_t out_channels, Py_ssize_t filter_h, Py_ssize_t filter_w,
                     Py_ssize_t pad_h, Py_ssize_t pad_w, Py_ssize_t out_h, Py_ssize_t out_w,
                     Py_ssize_t n_images, bint input_grad):
    """``(floats, offsets)``: the scratch :func:`backward` needs for ``n_images`` images."""
    cdef conv_geometry g = make_geometry(channels, height, width, out_channels, filter_h,
                                         filter_w, pad_h, pad_w, out_h, out_w)
    cdef conv_geometry t
    cdef Py_ssize_t floats = backward_scratch_floats(&g, dw_images_per_block(&g, n_images))
    cdef Py_ssize_t offsets = backward_offsets(&g)
    if input_grad:
        t = transposed_geometry(&g)
        floats = max(floats, forward_scratch_floats(&t))
        offsets = max(offsets, forward_offsets(&t))
    return floats, offsets


cdef conv_geometry transposed_geometry(const conv_geometry *g) noexcept nogil:
    """The input gradient's convolution: the output gradient (OC, out_h, out_w), padded by
    filter - 1 - pad, with the C filters of the turned weights; its output is the input's
    (C, H, W)."""
    return make_geometry(g.out_channels, g.out_h, g.out_w, g.channels, g.filter_h, g.filter_w,
                         g.filter_h - 1 - g.pad_h, g.filter_w - 1 - g.pad_w, g.height, g.width)


def forward(
    const float[:, :, :, ::1] x,  # IN (B, C, H, W)
    const float[:, :, :, ::1] weights,  # IN (OC, C, filter_h, filter_w)
    const float[::1] bias,  # IN (OC,), or None for none
    Py_ssize_t pad_h,
    Py_ssize_t pad_w,
    float[:, :, :, ::1] out,  # OUT (B, OC, out_h, out_w)
    float[::1] scratch,  # SCRATCH (forward_scratch()[0],)
    Py_ssize_t[::1] offsets,  # SCRATCH (forward_scratch()[1],)
):
    """``out = conv(x, weights) + bias`` with stride 1 and zero padding ``pad_h``, ``pad_w``."""
    cdef conv_geometry g = make_geometry(x.shape[1], x.shape[2], x.shape[3], weights.shape[0],
                                         weights.shape[2], weights.shape[3], pad_h, pad_w,
                                         out.shape[2], out.shape[3])
    cdef const float *bias_data = NULL if bias is None else &bias[0]
    with nogil:
        direct_forward(&x[0, 0, 0, 0], x.shape[0], &g, &weights[0, 0, 0, 0], bias_data,
                       &out[0, 0, 0, 0], &scratch[0], <ptrdiff_t *>&offsets[0])


def backward(
    const float[:, :, :, ::1] x,  # IN (B, C, H, W)
    const float[:, :, :, ::1] dout,  # IN (B, OC, out_h, out_w)
    Py_ssize_t filter_h,
    Py_ssize_t filter_w,
    Py_ssize_t pad_h,
    Py_ssize_t pad_w,
    float[:, ::1] dweights,  # INOUT (OC, C * filter_h * filter_w): the gradient is added
    float[::1] dbias,  # INOUT (OC,): the gradient is added
    const float[:, :, :, ::1] turned,  # IN (C, OC, filter_h, filter_w), or None without dx
    float[:, :, :, ::1] dx,  # OUT (B, C, H, W), or None
    float[::1] scratch,  # SCRATCH (backward_scratch()[0],)
    Py_ssize_t[::1] offsets,  # SCRATCH (backward_scratch()[1],)
):
    """Add the weight and bias gradients of these images; with ``turned`` (the weights turned
    180 degrees, channel axes swapped) also compute ``dx``. Needs pad <= filter - 1 for dx."""
    cdef conv_geometry g = make_geometry(x.shape[1], x.shape[2], x.shape[3], dout.shape[1],
                                         filter_h, filter_w, pad_h, pad_w, dout.shape[2],
                                         dout.shape[3])
    cdef conv_geometry t
    cdef bint input_grad = turned is not None
    with nogil:
        direct_weight_gradient(&x[0, 0, 0, 0], &dout[0, 0, 0, 0], x.shape[0], &g,
                               &dweights[0, 0], &dbias[0], &scratch[0], <ptrdiff_t *>&offsets[0])
        if input_grad:
            t = transposed_geometry(&g)
            direct_forward(&dout[0, 0, 0, 0], x.shape[0], &t, &turned[0, 0, 0, 0], NULL,
                           &dx[0, 0, 0, 0], &scratch[0], <ptrdiff_t *>&offsets[0])
