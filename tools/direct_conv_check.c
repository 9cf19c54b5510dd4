/* The direct-convolution kernels of cnn_ext/engines/direct/direct_conv.h against plain loops, as a C
 * program: tools/cross_check.sh builds it for another architecture (arm64) and runs it under
 * qemu, where no Python of that architecture is at hand. Exit status 0: every case agreed. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "direct_conv.h"

static float uniform(unsigned *state) {
    *state = *state * 1103515245u + 12345u;
    return (float)((*state >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static float *random_floats(size_t count, unsigned *state) {
    float *values = malloc(count * sizeof(float));
    for (size_t i = 0; i < count; i++) values[i] = uniform(state);
    return values;
}

/* x (n, C, H, W) at (c, row, col), zero outside the image. */
static float pixel(const float *x, const conv_geometry *g, ptrdiff_t n, ptrdiff_t c, ptrdiff_t row,
                   ptrdiff_t col) {
    if (row < 0 || row >= g->height || col < 0 || col >= g->width) return 0.0f;
    return x[((n * g->channels + c) * g->height + row) * g->width + col];
}

static double worst_error(const float *got, const double *want, size_t count) {
    double worst = 0.0;
    for (size_t i = 0; i < count; i++) {
        double error = fabs(got[i] - want[i]) / (1.0 + fabs(want[i]));
        if (error > worst) worst = error;
    }
    return worst;
}

/* One shape: forward and the weight and bias gradients. Returns 1 when both agree. */
static int check(ptrdiff_t n_images, ptrdiff_t channels, ptrdiff_t height, ptrdiff_t width,
                 ptrdiff_t out_channels, ptrdiff_t filter, ptrdiff_t pad, ptrdiff_t stride,
                 unsigned seed) {
    /* The output's size by the formula cnn_ext.geometry gives the kernels. */
    ptrdiff_t out_h = (height + 2 * pad - filter) / stride + 1;
    ptrdiff_t out_w = (width + 2 * pad - filter) / stride + 1;
    conv_geometry g = make_geometry_f32(channels, height, width, out_channels, filter, filter, pad, pad,
                                        stride, out_h, out_w);
    ptrdiff_t taps = g.taps, outputs = n_images * out_channels * g.out_h * g.out_w;
    unsigned state = seed;
    float *x = random_floats((size_t)(n_images * channels * height * width), &state);
    float *weights = random_floats((size_t)(out_channels * taps), &state);
    float *bias = random_floats((size_t)out_channels, &state);
    float *dout = random_floats((size_t)outputs, &state);
    float *out = calloc((size_t)outputs, sizeof(float));
    float *dweights = calloc((size_t)(out_channels * taps), sizeof(float));
    float *dbias = calloc((size_t)out_channels, sizeof(float));
    double *want_out = calloc((size_t)outputs, sizeof(double));
    double *want_dweights = calloc((size_t)(out_channels * taps), sizeof(double));
    double *want_dbias = calloc((size_t)out_channels, sizeof(double));
    ptrdiff_t block = dw_images_per_block_f32(&g, n_images);
    ptrdiff_t floats = forward_scratch_size_f32(&g), backward = backward_scratch_size_f32(&g, block);
    float *scratch = malloc((size_t)(floats > backward ? floats : backward) * sizeof(float));
    ptrdiff_t *offsets = malloc((size_t)taps * sizeof(ptrdiff_t));

    for (ptrdiff_t n = 0; n < n_images; n++)
        for (ptrdiff_t o = 0; o < out_channels; o++)
            for (ptrdiff_t i = 0; i < g.out_h; i++)
                for (ptrdiff_t j = 0; j < g.out_w; j++) {
                    ptrdiff_t at = ((n * out_channels + o) * g.out_h + i) * g.out_w + j;
                    double sum = bias[o];
                    for (ptrdiff_t c = 0; c < channels; c++)
                        for (ptrdiff_t a = 0; a < filter; a++)
                            for (ptrdiff_t b = 0; b < filter; b++) {
                                ptrdiff_t tap = (c * filter + a) * filter + b;
                                float value = pixel(x, &g, n, c, i * stride + a - pad,
                                                    j * stride + b - pad);
                                sum += (double)weights[o * taps + tap] * value;
                                want_dweights[o * taps + tap] += (double)dout[at] * value;
                            }
                    want_out[at] = sum;
                    want_dbias[o] += dout[at];
                }
    direct_forward_f32(x, n_images, &g, weights, bias, 0, out, scratch, offsets);
    direct_weight_gradient_f32(x, dout, n_images, &g, dweights, dbias, scratch, offsets);
    double forward_error = worst_error(out, want_out, (size_t)outputs);
    double gradient_error = worst_error(dweights, want_dweights, (size_t)(out_channels * taps));
    double bias_error = worst_error(dbias, want_dbias, (size_t)out_channels);
    int agreed = forward_error < 1e-4 && gradient_error < 1e-4 && bias_error < 1e-4;
    printf("%s n=%td c=%td %tdx%td oc=%td %tdx%td pad %td stride %td: forward %.1e, dW %.1e, "
           "db %.1e\n", agreed ? "ok  " : "FAIL", n_images, channels, height, width, out_channels,
           filter, filter, pad, stride, forward_error, gradient_error, bias_error);
    free(x); free(weights); free(bias); free(dout); free(out); free(dweights); free(dbias);
    free(want_out); free(want_dweights); free(want_dbias); free(scratch); free(offsets);
    return agreed;
}

int main(void) {
    static const ptrdiff_t cases[][8] = {
        /* n, channels, height, width, out_channels, filter, pad, stride */
        {1, 1, 28, 28, 6, 5, 2, 1}, {3, 6, 14, 14, 16, 5, 2, 1}, {2, 16, 28, 28, 16, 3, 1, 1},
        {2, 32, 14, 14, 32, 3, 2, 1}, {1, 3, 7, 9, 5, 3, 0, 1}, {4, 5, 11, 6, 7, 1, 0, 1},
        {2, 2, 9, 13, 3, 7, 3, 1}, {1, 64, 8, 8, 64, 3, 1, 1}, {5, 1, 3, 3, 1, 3, 2, 1},
        {2, 16, 28, 28, 32, 3, 1, 2}, {2, 32, 14, 14, 64, 1, 0, 2}, {3, 3, 11, 9, 5, 3, 1, 3}};
    int failures = 0;
    printf("direct kernels: %s\n", CNN_SIMD_NAME);
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
        failures += !check(cases[k][0], cases[k][1], cases[k][2], cases[k][3], cases[k][4],
                           cases[k][5], cases[k][6], cases[k][7], 1234u + (unsigned)k);
    printf("%d of %zu shapes disagreed\n", failures, sizeof cases / sizeof cases[0]);
    return failures != 0;
}
