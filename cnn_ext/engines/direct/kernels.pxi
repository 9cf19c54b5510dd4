# The Cython side of the direct convolution kernels (direct_conv.h beside this file), included by
# one module per instruction set: kernels_baseline.pyx, kernels_avx2.pyx, kernels_avx512.pyx.
# Each is compiled with that instruction set's flags (setup.py) and imported by
# cnn_ext.engines.direct.dispatch only where the CPU supports it. The functions take float32 or
# float64 arrays (all of one dtype) and call that type's kernels. They trust their arguments:
# cnn_ext.convolution checks shapes and dtypes, cnn_ext.geometry gives the output's size, and
# every buffer is allocated before the call; they release the GIL, and one call works through a
# whole slice of the batch.

from cython cimport floating
from libc.stddef cimport ptrdiff_t

cdef extern from "direct_conv.h" nogil:
    ctypedef struct conv_geometry:
        ptrdiff_t channels, height, width, out_channels, filter_h, filter_w, pad_h, pad_w, stride
        ptrdiff_t out_h, out_w, in_step, out_step, taps
    const char *CNN_SIMD_NAME
    int winograd_weight_gradient_setting "WINOGRAD_WEIGHT_GRADIENT"
    conv_geometry make_geometry_f32(ptrdiff_t channels, ptrdiff_t height, ptrdiff_t width,
                                    ptrdiff_t out_channels, ptrdiff_t filter_h,
                                    ptrdiff_t filter_w, ptrdiff_t pad_h, ptrdiff_t pad_w,
                                    ptrdiff_t stride, ptrdiff_t out_h,
                                    ptrdiff_t out_w)
    conv_geometry make_geometry_f64(ptrdiff_t channels, ptrdiff_t height, ptrdiff_t width,
                                    ptrdiff_t out_channels, ptrdiff_t filter_h,
                                    ptrdiff_t filter_w, ptrdiff_t pad_h, ptrdiff_t pad_w,
                                    ptrdiff_t stride, ptrdiff_t out_h,
                                    ptrdiff_t out_w)
    ptrdiff_t forward_scratch_size_f32(const conv_geometry *g)
    ptrdiff_t forward_scratch_size_f64(const conv_geometry *g)
    ptrdiff_t backward_scratch_size_f32(const conv_geometry *g, ptrdiff_t block)
    ptrdiff_t backward_scratch_size_f64(const conv_geometry *g, ptrdiff_t block)
    ptrdiff_t dw_images_per_block_f32(const conv_geometry *g, ptrdiff_t n_images)
    ptrdiff_t dw_images_per_block_f64(const conv_geometry *g, ptrdiff_t n_images)
    void direct_forward_f32(const float *x, ptrdiff_t n_images, const conv_geometry *g,
                            const float *weights, const float *bias, int relu, float *out,
                            float *scratch, ptrdiff_t *offsets)
    void direct_forward_f64(const double *x, ptrdiff_t n_images, const conv_geometry *g,
                            const double *weights, const double *bias, int relu, double *out,
                            double *scratch, ptrdiff_t *offsets)
    ptrdiff_t grouped_forward_scratch_size_f32(const conv_geometry *g, ptrdiff_t groups)
    ptrdiff_t grouped_forward_scratch_size_f64(const conv_geometry *g, ptrdiff_t groups)
    void direct_grouped_forward_f32(const float *x, ptrdiff_t n_images, ptrdiff_t groups,
                                    const conv_geometry *g, const float *weights,
                                    const float *bias, float *out, float *scratch,
                                    ptrdiff_t *offsets)
    void direct_grouped_forward_f64(const double *x, ptrdiff_t n_images, ptrdiff_t groups,
                                    const conv_geometry *g, const double *weights,
                                    const double *bias, double *out, double *scratch,
                                    ptrdiff_t *offsets)
    void direct_weight_gradient_f32(const float *x, const float *dout, ptrdiff_t n_images,
                                    const conv_geometry *g, float *dweights, float *dbias,
                                    float *scratch, ptrdiff_t *offsets)
    void direct_weight_gradient_f64(const double *x, const double *dout, ptrdiff_t n_images,
                                    const conv_geometry *g, double *dweights, double *dbias,
                                    double *scratch, ptrdiff_t *offsets)
    ctypedef struct winograd_geometry:
        pass
    winograd_geometry make_winograd_geometry(ptrdiff_t channels, ptrdiff_t height,
                                             ptrdiff_t width, ptrdiff_t out_channels,
                                             ptrdiff_t pad, ptrdiff_t out_h, ptrdiff_t out_w,
                                             ptrdiff_t n_images, int gradient)
    ptrdiff_t winograd_scratch_floats(const winograd_geometry *g)
    void winograd_forward(const float *x, ptrdiff_t n_images, const winograd_geometry *g,
                          const float *weights, const float *bias, int relu, float *out,
                          float *scratch, ptrdiff_t *offsets)
    ptrdiff_t winograd_gradient_scratch_floats(const winograd_geometry *g)
    void winograd_weight_gradient(const float *x, const float *dout, ptrdiff_t n_images,
                                  const winograd_geometry *g, float *dweights, float *dbias,
                                  float *scratch, ptrdiff_t *offsets)

#: The instruction set these kernels were compiled for.
INSTRUCTION_SET = CNN_SIMD_NAME.decode()
#: Whether the Winograd engine takes its weight gradient by Winograd too on this instruction set
#: (where that measured faster than the direct kernels; see direct_conv.h).
WINOGRAD_WEIGHT_GRADIENT = bool(winograd_weight_gradient_setting)


cdef conv_geometry geometry(bint double, ptrdiff_t channels, ptrdiff_t height, ptrdiff_t width,
                            ptrdiff_t out_channels, ptrdiff_t filter_h, ptrdiff_t filter_w,
                            ptrdiff_t pad_h, ptrdiff_t pad_w, ptrdiff_t stride, ptrdiff_t out_h,
                            ptrdiff_t out_w) noexcept nogil:
    """The kernels' layout of one convolution, for float64 (``double``) or float32 elements."""
    if double:
        return make_geometry_f64(channels, height, width, out_channels, filter_h, filter_w,
                                 pad_h, pad_w, stride, out_h, out_w)
    return make_geometry_f32(channels, height, width, out_channels, filter_h, filter_w, pad_h,
                             pad_w, stride, out_h, out_w)


cdef conv_geometry transposed_geometry(bint double, const conv_geometry *g) noexcept nogil:
    """The input gradient's convolution: the output gradient (OC, out_h, out_w), padded by
    filter - 1 - pad, with the C filters of the turned weights; its output is the input's
    (C, H, W)."""
    return geometry(double, g.out_channels, g.out_h, g.out_w, g.channels, g.filter_h, g.filter_w,
                    g.filter_h - 1 - g.pad_h, g.filter_w - 1 - g.pad_w, 1, g.height, g.width)


cdef ptrdiff_t forward_scratch_size(bint double, const conv_geometry *g) noexcept nogil:
    return forward_scratch_size_f64(g) if double else forward_scratch_size_f32(g)


def forward_scratch(bint double, Py_ssize_t channels, Py_ssize_t height, Py_ssize_t width,
                    Py_ssize_t out_channels, Py_ssize_t filter_h, Py_ssize_t filter_w,
                    Py_ssize_t pad_h, Py_ssize_t pad_w, Py_ssize_t stride, Py_ssize_t out_h,
                    Py_ssize_t out_w):
    """``(elements, offsets)``: the scratch :func:`forward` needs (of the images' dtype, float64
    when ``double``, and of np.intp)."""
    cdef conv_geometry g = geometry(double, channels, height, width, out_channels, filter_h,
                                    filter_w, pad_h, pad_w, stride, out_h, out_w)
    return forward_scratch_size(double, &g), g.taps


def winograd_scratch(Py_ssize_t channels, Py_ssize_t height, Py_ssize_t width,
                     Py_ssize_t out_channels, Py_ssize_t pad, Py_ssize_t out_h, Py_ssize_t out_w,
                     Py_ssize_t n_images):
    """``(floats, offsets)``: the scratch :func:`winograd` needs for ``n_images`` images."""
    cdef winograd_geometry g = make_winograd_geometry(channels, height, width, out_channels, pad,
                                                      out_h, out_w, n_images, False)
    return winograd_scratch_floats(&g), channels


def winograd(
    const float[:, :, :, ::1] x,  # IN (B, C, H, W)
    const float[:, :, :, ::1] weights,  # IN (OC, C, 3, 3)
    const float[::1] bias,  # IN (OC,), or None for none
    Py_ssize_t pad,
    bint relu,
    float[:, :, :, ::1] out,  # OUT (B, OC, out_h, out_w)
    float[::1] scratch,  # SCRATCH (winograd_scratch()[0],)
    Py_ssize_t[::1] offsets,  # SCRATCH (winograd_scratch()[1],)
):
    """:func:`forward` of 3x3 filters by Winograd's F(2x2, 3x3) (float32 only)."""
    cdef winograd_geometry g = make_winograd_geometry(x.shape[1], x.shape[2], x.shape[3],
                                                      weights.shape[0], pad, out.shape[2],
                                                      out.shape[3], x.shape[0], False)
    cdef const float *bias_data = NULL
    if bias is not None:
        bias_data = &bias[0]
    with nogil:
        winograd_forward(&x[0, 0, 0, 0], x.shape[0], &g, &weights[0, 0, 0, 0], bias_data, relu,
                         &out[0, 0, 0, 0], &scratch[0], <ptrdiff_t *>&offsets[0])


def winograd_gradient_scratch(Py_ssize_t channels, Py_ssize_t height, Py_ssize_t width,
                              Py_ssize_t out_channels, Py_ssize_t pad, Py_ssize_t out_h,
                              Py_ssize_t out_w, Py_ssize_t n_images):
    """``(floats, offsets)``: the scratch :func:`winograd_gradient` needs for ``n_images``."""
    cdef winograd_geometry g = make_winograd_geometry(channels, height, width, out_channels, pad,
                                                      out_h, out_w, n_images, True)
    return winograd_gradient_scratch_floats(&g), channels


def winograd_gradient(
    const float[:, :, :, ::1] x,  # IN (B, C, H, W)
    const float[:, :, :, ::1] dout,  # IN (B, OC, out_h, out_w)
    Py_ssize_t pad,
    float[:, ::1] dweights,  # INOUT (OC, C * 9): the gradient is added
    float[::1] dbias,  # INOUT (OC,): the gradient is added
    float[::1] scratch,  # SCRATCH (winograd_gradient_scratch()[0],)
    Py_ssize_t[::1] offsets,  # SCRATCH (winograd_gradient_scratch()[1],)
):
    """Add the weight and bias gradients of these images of a 3x3 convolution, by Winograd's
    F(2x2, 3x3) (float32 only)."""
    cdef winograd_geometry g = make_winograd_geometry(x.shape[1], x.shape[2], x.shape[3],
                                                      dout.shape[1], pad, dout.shape[2],
                                                      dout.shape[3], x.shape[0], True)
    with nogil:
        winograd_weight_gradient(&x[0, 0, 0, 0], &dout[0, 0, 0, 0], x.shape[0], &g,
                                 &dweights[0, 0], &dbias[0], &scratch[0],
                                 <ptrdiff_t *>&offsets[0])


def grouped_forward_scratch(bint double, Py_ssize_t groups, Py_ssize_t channels,
                            Py_ssize_t height, Py_ssize_t width, Py_ssize_t out_channels,
                            Py_ssize_t filter_h, Py_ssize_t filter_w, Py_ssize_t pad_h,
                            Py_ssize_t pad_w, Py_ssize_t stride, Py_ssize_t out_h,
                            Py_ssize_t out_w):
    """``(elements, offsets)``: the scratch :func:`grouped_forward` needs, for ``groups``
    groups of ``channels`` input and ``out_channels`` output channels each."""
    cdef conv_geometry g = geometry(double, channels, height, width, out_channels, filter_h,
                                    filter_w, pad_h, pad_w, stride, out_h, out_w)
    if double:
        return grouped_forward_scratch_size_f64(&g, groups), g.taps
    return grouped_forward_scratch_size_f32(&g, groups), g.taps


def grouped_forward(
    const floating[:, :, :, ::1] x,  # IN (B, C, H, W)
    const floating[:, :, :, ::1] weights,  # IN (OC, C // groups, filter_h, filter_w)
    const floating[::1] bias,  # IN (OC,), or None for none
    Py_ssize_t groups,
    Py_ssize_t pad_h,
    Py_ssize_t pad_w,
    Py_ssize_t stride,
    floating[:, :, :, ::1] out,  # OUT (B, OC, out_h, out_w)
    floating[::1] scratch,  # SCRATCH (grouped_forward_scratch()[0],)
    Py_ssize_t[::1] offsets,  # SCRATCH (grouped_forward_scratch()[1],)
):
    """:func:`forward` of a grouped convolution: group k's C // groups channels convolved with
    its OC // groups filters into its OC // groups output channels."""
    cdef conv_geometry g = geometry(floating is double, x.shape[1] // groups, x.shape[2],
                                    x.shape[3], out.shape[1] // groups, weights.shape[2],
                                    weights.shape[3], pad_h, pad_w, stride, out.shape[2],
                                    out.shape[3])
    cdef const floating *bias_data = NULL
    if bias is not None:
        bias_data = &bias[0]
    with nogil:
        if floating is double:
            direct_grouped_forward_f64(&x[0, 0, 0, 0], x.shape[0], groups, &g,
                                       &weights[0, 0, 0, 0], bias_data, &out[0, 0, 0, 0],
                                       &scratch[0], <ptrdiff_t *>&offsets[0])
        else:
            direct_grouped_forward_f32(&x[0, 0, 0, 0], x.shape[0], groups, &g,
                                       &weights[0, 0, 0, 0], bias_data, &out[0, 0, 0, 0],
                                       &scratch[0], <ptrdiff_t *>&offsets[0])


def grouped_weight_gradient(
    const floating[:, :, :, ::1] x,  # IN (B, C, H, W)
    const floating[:, :, :, ::1] dout,  # IN (B, OC, out_h, out_w)
    Py_ssize_t groups,
    Py_ssize_t filter_h,
    Py_ssize_t filter_w,
    Py_ssize_t pad_h,
    Py_ssize_t pad_w,
    Py_ssize_t stride,
    floating[:, ::1] dweights,  # INOUT (OC, C // groups * filter_h * filter_w): added to
    floating[::1] dbias,  # INOUT (OC,): added to
    floating[::1] scratch,  # SCRATCH backward_scratch()[0] of one group's convolution
    Py_ssize_t[::1] offsets,  # SCRATCH backward_scratch()[1] of one group's convolution
):
    """Add the weight and bias gradients of a grouped convolution over these images, one group
    at a time."""
    cdef bint double = floating is double
    cdef Py_ssize_t k, in_channels = x.shape[1] // groups, out_channels = dout.shape[1] // groups
    cdef conv_geometry g = geometry(double, in_channels, x.shape[2], x.shape[3], out_channels,
                                    filter_h, filter_w, pad_h, pad_w, stride, dout.shape[2],
                                    dout.shape[3])
    cdef Py_ssize_t in_group = in_channels * x.shape[2] * x.shape[3]
    cdef Py_ssize_t out_group = out_channels * dout.shape[2] * dout.shape[3]
    g.in_step, g.out_step = groups * in_group, groups * out_group
    with nogil:
        for k in range(groups):
            if floating is double:
                direct_weight_gradient_f64(&x[0, 0, 0, 0] + k * in_group,
                                           &dout[0, 0, 0, 0] + k * out_group, x.shape[0], &g,
                                           &dweights[k * out_channels, 0],
                                           &dbias[k * out_channels], &scratch[0],
                                           <ptrdiff_t *>&offsets[0])
            else:
                direct_weight_gradient_f32(&x[0, 0, 0, 0] + k * in_group,
                                           &dout[0, 0, 0, 0] + k * out_group, x.shape[0], &g,
                                           &dweights[k * out_channels, 0],
                                           &dbias[k * out_channels], &scratch[0],
                                           <ptrdiff_t *>&offsets[0])


def backward_scratch(bint double, Py_ssize_t channels, Py_ssize_t height, Py_ssize_t width,
                     Py_ssize_t out_channels, Py_ssize_t filter_h, Py_ssize_t filter_w,
                     Py_ssize_t pad_h, Py_ssize_t pad_w, Py_ssize_t stride, Py_ssize_t out_h,
                     Py_ssize_t out_w, Py_ssize_t n_images, bint input_grad):
    """``(elements, offsets)``: the scratch :func:`backward` needs for ``n_images`` images
    (with the input gradient by direct convolution, stride 1 only)."""
    cdef conv_geometry g = geometry(double, channels, height, width, out_channels, filter_h,
                                    filter_w, pad_h, pad_w, stride, out_h, out_w)
    cdef conv_geometry t
    cdef Py_ssize_t elements, offsets = g.taps
    if double:
        elements = backward_scratch_size_f64(&g, dw_images_per_block_f64(&g, n_images))
    else:
        elements = backward_scratch_size_f32(&g, dw_images_per_block_f32(&g, n_images))
    if input_grad:
        t = transposed_geometry(double, &g)
        elements = max(elements, forward_scratch_size(double, &t))
        offsets = max(offsets, t.taps)
    return elements, offsets


def forward(
    const floating[:, :, :, ::1] x,  # IN (B, C, H, W)
    const floating[:, :, :, ::1] weights,  # IN (OC, C, filter_h, filter_w)
    const floating[::1] bias,  # IN (OC,), or None for none
    Py_ssize_t pad_h,
    Py_ssize_t pad_w,
    Py_ssize_t stride,
    bint relu,
    floating[:, :, :, ::1] out,  # OUT (B, OC, out_h, out_w)
    floating[::1] scratch,  # SCRATCH (forward_scratch()[0],)
    Py_ssize_t[::1] offsets,  # SCRATCH (forward_scratch()[1],)
):
    """``out = conv(x, weights) + bias`` with ``stride`` on both axes and zero padding
    ``pad_h``, ``pad_w``; with ``relu``, ``max(that, 0)``."""
    cdef bint double = floating is double
    cdef conv_geometry g = geometry(double, x.shape[1], x.shape[2], x.shape[3], weights.shape[0],
                                    weights.shape[2], weights.shape[3], pad_h, pad_w, stride,
                                    out.shape[2], out.shape[3])
    cdef const floating *bias_data = NULL
    if bias is not None:
        bias_data = &bias[0]
    with nogil:
        if floating is double:
            direct_forward_f64(&x[0, 0, 0, 0], x.shape[0], &g, &weights[0, 0, 0, 0], bias_data,
                               relu, &out[0, 0, 0, 0], &scratch[0], <ptrdiff_t *>&offsets[0])
        else:
            direct_forward_f32(&x[0, 0, 0, 0], x.shape[0], &g, &weights[0, 0, 0, 0], bias_data,
                               relu, &out[0, 0, 0, 0], &scratch[0], <ptrdiff_t *>&offsets[0])


def backward(
    const floating[:, :, :, ::1] x,  # IN (B, C, H, W)
    const floating[:, :, :, ::1] dout,  # IN (B, OC, out_h, out_w)
    Py_ssize_t filter_h,
    Py_ssize_t filter_w,
    Py_ssize_t pad_h,
    Py_ssize_t pad_w,
    Py_ssize_t stride,
    floating[:, ::1] dweights,  # INOUT (OC, C * filter_h * filter_w): the gradient is added
    floating[::1] dbias,  # INOUT (OC,): the gradient is added
    const floating[:, :, :, ::1] turned,  # IN (C, OC, filter_h, filter_w), or None without dx
    floating[:, :, :, ::1] dx,  # OUT (B, C, H, W), or None
    floating[::1] scratch,  # SCRATCH (backward_scratch()[0],)
    Py_ssize_t[::1] offsets,  # SCRATCH (backward_scratch()[1],)
):
    """Add the weight and bias gradients of these images; with ``turned`` (the weights turned
    180 degrees, channel axes swapped) also compute ``dx``. Needs pad <= filter - 1 and stride 1
    for dx."""
    cdef bint double = floating is double
    cdef conv_geometry g = geometry(double, x.shape[1], x.shape[2], x.shape[3], dout.shape[1],
                                    filter_h, filter_w, pad_h, pad_w, stride, dout.shape[2],
                                    dout.shape[3])
    cdef conv_geometry t
    cdef bint input_grad = turned is not None
    if input_grad and stride != 1:
        raise ValueError(f"turned must be None with stride {stride}: the kernels' input "
                         f"gradient is the stride-1 one")
    with nogil:
        if floating is double:
            direct_weight_gradient_f64(&x[0, 0, 0, 0], &dout[0, 0, 0, 0], x.shape[0], &g,
                                       &dweights[0, 0], &dbias[0], &scratch[0],
                                       <ptrdiff_t *>&offsets[0])
        else:
            direct_weight_gradient_f32(&x[0, 0, 0, 0], &dout[0, 0, 0, 0], x.shape[0], &g,
                                       &dweights[0, 0], &dbias[0], &scratch[0],
                                       <ptrdiff_t *>&offsets[0])
        if input_grad:
            t = transposed_geometry(double, &g)
            if floating is double:
                direct_forward_f64(&dout[0, 0, 0, 0], x.shape[0], &t, &turned[0, 0, 0, 0], NULL,
                                   0, &dx[0, 0, 0, 0], &scratch[0], <ptrdiff_t *>&offsets[0])
            else:
                direct_forward_f32(&dout[0, 0, 0, 0], x.shape[0], &t, &turned[0, 0, 0, 0], NULL,
                                   0, &dx[0, 0, 0, 0], &scratch[0], <ptrdiff_t *>&offsets[0])
