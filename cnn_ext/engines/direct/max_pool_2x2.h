/* Max pooling of one plane over 2x2 windows with stride 2 and no padding, the common case, for
 * float (_f32) and double (_f64): cnn_ext/loops/pool.pyx runs it on whole batches, and the
 * convolution kernels (direct_conv.h) on each output plane as it leaves them, while it is still
 * in cache, when a model fuses a Relu and a Pooling into the convolution before them.
 *
 * out (out_h, out_w) holds each window's maximum: the first NaN wins, ties keep the first
 * value in row-major window order (as np.argmax). argmax (out_h, out_w), unless NULL, holds
 * the flat index ih * width + iw of that value in the plane. Both passes over a row are free of
 * branches, so the compiler vectorises them. */
#ifndef CNN_EXT_MAX_POOL_2X2_H
#define CNN_EXT_MAX_POOL_2X2_H

#include <stddef.h>

#define DEFINE_MAX_POOL_2X2(T, real)                                                           \
    /* The running maximum after `value`: the first NaN stays, ties keep `best`. */            \
    static inline real max_pool_larger_##T(real best, real value) {                            \
        return (best >= value || best != best) ? best : value;                                 \
    }                                                                                          \
    /* 1 where `value` is the window's maximum `best` (a NaN matches a NaN maximum). */        \
    static inline ptrdiff_t max_pool_is_winner_##T(real value, real best) {                    \
        return (value == best) | (value != value);                                             \
    }                                                                                          \
    static void max_pool_2x2_##T(const real *plane, ptrdiff_t width, ptrdiff_t out_h,          \
                                 ptrdiff_t out_w, real *out, ptrdiff_t *argmax) {              \
        for (ptrdiff_t oh = 0; oh < out_h; oh++) {                                             \
            const real *upper = plane + 2 * oh * width, *lower = upper + width;                \
            real *row = out + oh * out_w;                                                      \
            for (ptrdiff_t ow = 0; ow < out_w; ow++) {                                         \
                real best = max_pool_larger_##T(upper[2 * ow], upper[2 * ow + 1]);             \
                best = max_pool_larger_##T(best, lower[2 * ow]);                               \
                row[ow] = max_pool_larger_##T(best, lower[2 * ow + 1]);                        \
            }                                                                                  \
            if (argmax == NULL) continue;                                                      \
            for (ptrdiff_t ow = 0; ow < out_w; ow++) {                                         \
                real best = row[ow];                                                           \
                ptrdiff_t first = max_pool_is_winner_##T(upper[2 * ow], best);                 \
                ptrdiff_t second = max_pool_is_winner_##T(upper[2 * ow + 1], best);            \
                ptrdiff_t third = max_pool_is_winner_##T(lower[2 * ow], best);                 \
                /* offset 0, 1, width or width + 1 within the window, of the first winner */   \
                argmax[oh * out_w + ow] = 2 * oh * width + 2 * ow                              \
                    + (1 - first) * (second + (1 - second) * (width + 1 - third));             \
            }                                                                                  \
        }                                                                                      \
    }

DEFINE_MAX_POOL_2X2(f32, float)
DEFINE_MAX_POOL_2X2(f64, double)

#endif
