/* Direct convolution of float32 and float64 images, for one instruction set.
 *
 * One Cython module per instruction set includes this file (through cnn_ext/engines/direct/kernels.pxi),
 * each compiled with its own flags and with CNN_SIMD_AVX512, CNN_SIMD_AVX2 or neither (the
 * portable baseline) defined, so no other code of the package is built with those flags and
 * a CPU without them never runs one of their instructions: cnn_ext/engines/direct/dispatch.py imports a module
 * only where the CPU and the operating system support its instruction set. Every function is
 * static, so each module holds its own copy.
 *
 * The wide grid. Each image (C, H, W) is copied into C zero-bordered planes of
 * padded_h x padded_w values, one after the other. Output pixel (oh, ow) is computed at
 * position q = oh * padded_w + ow of a "wide" output row of out_h * padded_w positions (the
 * positions with ow >= out_w are computed too, and dropped). Then filter tap (c, kh, kw)
 * reads the planes at q + offset, offset = c * plane + kh * padded_w + kw, for every q: runs
 * of consecutive positions read consecutive inputs whatever the image's width, so a vector
 * of positions is one unaligned load. The cost: (filter_w - 1) / padded_w of the positions
 * are thrown away. A slack of zeros after the planes keeps the last vector's reads inside
 * the buffer.
 *
 * Strides. With stride s, each channel is laid out as phase planes instead: plane (p, q) holds
 * the padded image's rows s * i + p and columns s * j + q, padded_h x padded_w of them
 * (out_h + (filter_h - 1) / s rows). Output (oh, ow) at q = oh * padded_w + ow then reads tap
 * (c, kh, kw) in plane (kh % s, kw % s) at row oh + kh / s, column ow + kw / s: consecutive
 * positions read consecutive values again, and every tap is a real one (a stride-2 3x3
 * filter is 9 taps over four planes, none of them zero). Only the phases some tap reads are
 * laid out (one plane for a 1x1 filter). The forward and weight-gradient kernels run unchanged
 * on this layout; the input gradient of a strided convolution is one stride-1 forward
 * convolution per phase (cnn_ext/engines/direct/engine.py).
 *
 * Register tiles. The forward micro-kernel keeps FWD_MR output channels by FWD_NV vectors of
 * positions in registers over the whole reduction (every input channel and tap), with the
 * weights packed once per call as [channel block][tap][FWD_MR], so each tap costs FWD_NV
 * loads and FWD_MR broadcasts for FWD_MR * FWD_NV fused multiply-adds; the bias starts the
 * accumulators. The weight-gradient micro-kernel keeps DW_MR output channels by DW_NT taps,
 * each a vector of partial sums over positions, across a group of images, then reduces them.
 * Smaller tiles of both finish the last channels, taps and positions. The input gradient of a
 * stride-1 convolution is the forward kernel again, on the output gradient padded by
 * filter - 1 - pad, with the filters turned 180 degrees and their two channel axes swapped.
 *
 * Two element types. The kernels are written once, in direct_conv_typed.h, over `real` and a
 * vector of VLEN of them, and included twice below: for float (functions ending in _f32) and
 * for double (_f64). A vector of doubles is as wide in bytes as one of floats, so both types
 * keep the same register tiles, and a double tile does the same number of instructions for
 * half the values.
 *
 * Trust: the Cython wrappers pass C-contiguous buffers of the stated shapes and scratch of
 * at least the sizes the *_scratch functions return; nothing is checked here.
 */
#ifndef CNN_EXT_DIRECT_CONV_H
#define CNN_EXT_DIRECT_CONV_H

#include <stddef.h>
#include <string.h>

/* The vector operations of each element type: f32_* on floats, f64_* on doubles. AVX2's
 * vectors of 8 floats (f32x8_*) are the f32 vectors of the AVX2 path, and on the AVX-512 path
 * the narrow vectors of Winograd's transforms for maps a few tiles wide. */
#if defined(CNN_SIMD_AVX512) || defined(CNN_SIMD_AVX2)
#include <immintrin.h>
typedef __m256 f32x8_vec;
static inline f32x8_vec f32x8_load(const float *p) { return _mm256_loadu_ps(p); }
static inline void f32x8_store(float *p, f32x8_vec v) { _mm256_storeu_ps(p, v); }
static inline f32x8_vec f32x8_set1(float x) { return _mm256_set1_ps(x); }
static inline f32x8_vec f32x8_zero(void) { return _mm256_setzero_ps(); }
static inline f32x8_vec f32x8_fma(f32x8_vec a, f32x8_vec b, f32x8_vec c) {
    return _mm256_fmadd_ps(a, b, c);
}
static inline f32x8_vec f32x8_add(f32x8_vec a, f32x8_vec b) { return _mm256_add_ps(a, b); }
static inline f32x8_vec f32x8_sub(f32x8_vec a, f32x8_vec b) { return _mm256_sub_ps(a, b); }
static inline f32x8_vec f32x8_relu(f32x8_vec v) { return _mm256_max_ps(_mm256_setzero_ps(), v); }
static inline void f32x8_store_first(float *p, f32x8_vec v, ptrdiff_t count) {
    __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)count),
                                      _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    _mm256_maskstore_ps(p, mask, v);
}
static inline f32x8_vec f32x8_load_first(const float *p, ptrdiff_t count) {
    __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)count),
                                      _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    return _mm256_maskload_ps(p, mask);
}
static inline void f32x8_deinterleave(f32x8_vec a, f32x8_vec b, f32x8_vec *even,
                                      f32x8_vec *odd) {
    /* Within 128-bit halves, then the 64-bit pairs put in order. */
    __m256d evens = _mm256_castps_pd(_mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0)));
    __m256d odds = _mm256_castps_pd(_mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1)));
    *even = _mm256_castpd_ps(_mm256_permute4x64_pd(evens, _MM_SHUFFLE(3, 1, 2, 0)));
    *odd = _mm256_castpd_ps(_mm256_permute4x64_pd(odds, _MM_SHUFFLE(3, 1, 2, 0)));
}
static inline void f32x8_interleave(f32x8_vec a, f32x8_vec b, f32x8_vec *low,
                                    f32x8_vec *high) {
    __m256 lows = _mm256_unpacklo_ps(a, b), highs = _mm256_unpackhi_ps(a, b);
    *low = _mm256_permute2f128_ps(lows, highs, 0x20);
    *high = _mm256_permute2f128_ps(lows, highs, 0x31);
}
static inline float f32x8_sum(f32x8_vec v) {
    __m128 half = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    half = _mm_add_ps(half, _mm_movehl_ps(half, half));
    half = _mm_add_ss(half, _mm_shuffle_ps(half, half, 1));
    return _mm_cvtss_f32(half);
}
#endif

#if defined(CNN_SIMD_AVX512)
#define CNN_SIMD_NAME "avx512"
#define F32_VLEN 16
typedef __m512 f32_vec;
static inline f32_vec f32_load(const float *p) { return _mm512_loadu_ps(p); }
static inline void f32_store(float *p, f32_vec v) { _mm512_storeu_ps(p, v); }
static inline f32_vec f32_set1(float x) { return _mm512_set1_ps(x); }
static inline f32_vec f32_zero(void) { return _mm512_setzero_ps(); }
static inline f32_vec f32_fma(f32_vec a, f32_vec b, f32_vec c) { return _mm512_fmadd_ps(a, b, c); }
static inline f32_vec f32_add(f32_vec a, f32_vec b) { return _mm512_add_ps(a, b); }
static inline f32_vec f32_sub(f32_vec a, f32_vec b) { return _mm512_sub_ps(a, b); }
static inline float f32_sum(f32_vec v) { return _mm512_reduce_add_ps(v); }
static inline f32_vec f32_relu(f32_vec v) { return _mm512_max_ps(_mm512_setzero_ps(), v); }
static inline void f32_store_first(float *p, f32_vec v, ptrdiff_t count) {
    _mm512_mask_storeu_ps(p, (__mmask16)((1u << count) - 1u), v);
}
static inline f32_vec f32_load_first(const float *p, ptrdiff_t count) {
    return _mm512_maskz_loadu_ps((__mmask16)((1u << count) - 1u), p);
}
static inline void f32_deinterleave(f32_vec a, f32_vec b, f32_vec *even, f32_vec *odd) {
    const __m512i evens = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26,
                                            28, 30);
    *even = _mm512_permutex2var_ps(a, evens, b);
    *odd = _mm512_permutex2var_ps(a, _mm512_add_epi32(evens, _mm512_set1_epi32(1)), b);
}
static inline void f32_interleave(f32_vec a, f32_vec b, f32_vec *low, f32_vec *high) {
    const __m512i lows = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    *low = _mm512_permutex2var_ps(a, lows, b);
    *high = _mm512_permutex2var_ps(a, _mm512_add_epi32(lows, _mm512_set1_epi32(8)), b);
}
#define F64_VLEN 8
typedef __m512d f64_vec;
static inline f64_vec f64_load(const double *p) { return _mm512_loadu_pd(p); }
static inline void f64_store(double *p, f64_vec v) { _mm512_storeu_pd(p, v); }
static inline f64_vec f64_set1(double x) { return _mm512_set1_pd(x); }
static inline f64_vec f64_zero(void) { return _mm512_setzero_pd(); }
static inline f64_vec f64_fma(f64_vec a, f64_vec b, f64_vec c) { return _mm512_fmadd_pd(a, b, c); }
static inline double f64_sum(f64_vec v) { return _mm512_reduce_add_pd(v); }
/* 32 vector registers. Forward: 24 accumulators, 6 loaded inputs and a broadcast weight.
 * Weight gradient: 24 accumulators, 4 gradient rows and the loaded input. */
#define FWD_MR 4
#define FWD_NV 6
#define DW_MR 4
#define DW_NT 6
/* Winograd's transforms of maps at most 8 tiles wide (16 pixels) run on 8-lane vectors. */
#define WINOGRAD_NARROW 1
/* Winograd's weight gradient (winograd.h) measured 1.02-1.41x the direct kernels' time here
 * (AMD EPYC Zen 4, one thread, batch 100, 16-64 channels). */
#define WINOGRAD_WEIGHT_GRADIENT 0

#elif defined(CNN_SIMD_AVX2)
#define CNN_SIMD_NAME "avx2"
#define F32_VLEN 8
typedef f32x8_vec f32_vec;
#define f32_load f32x8_load
#define f32_store f32x8_store
#define f32_set1 f32x8_set1
#define f32_zero f32x8_zero
#define f32_fma f32x8_fma
#define f32_add f32x8_add
#define f32_sub f32x8_sub
#define f32_relu f32x8_relu
#define f32_store_first f32x8_store_first
#define f32_load_first f32x8_load_first
#define f32_deinterleave f32x8_deinterleave
#define f32_interleave f32x8_interleave
#define f32_sum f32x8_sum
#define F64_VLEN 4
typedef __m256d f64_vec;
static inline f64_vec f64_load(const double *p) { return _mm256_loadu_pd(p); }
static inline void f64_store(double *p, f64_vec v) { _mm256_storeu_pd(p, v); }
static inline f64_vec f64_set1(double x) { return _mm256_set1_pd(x); }
static inline f64_vec f64_zero(void) { return _mm256_setzero_pd(); }
static inline f64_vec f64_fma(f64_vec a, f64_vec b, f64_vec c) { return _mm256_fmadd_pd(a, b, c); }
static inline double f64_sum(f64_vec v) {
    __m128d half = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    half = _mm_add_sd(half, _mm_unpackhi_pd(half, half));
    return _mm_cvtsd_f64(half);
}
/* 16 vector registers. Forward: 12 accumulators, 3 loaded inputs and a broadcast weight.
 * Weight gradient: 12 accumulators, 3 gradient rows and the loaded input (with 4 rows the
 * compiler would fold the row loads into the multiply-adds, loading each row once per tap). */
#define FWD_MR 4
#define FWD_NV 3
#define DW_MR 3
#define DW_NT 4
/* Winograd's weight gradient measured 0.64-0.93x the direct kernels' time (same layers). */
#define WINOGRAD_WEIGHT_GRADIENT 1

#else
/* Portable C for the platform's baseline. GCC and Clang get generic vectors of 32 bytes (8 floats,
 * 4 doubles), which they map onto what the baseline has (two SSE2 registers on x86-64, two NEON
 * registers on arm64); other compilers get short arrays they may vectorise. */
#define CNN_SIMD_NAME "baseline"
#define F32_VLEN 8
#define F64_VLEN 4
#if defined(__GNUC__) || defined(__clang__)
typedef float f32_vec __attribute__((vector_size(32)));
typedef double f64_vec __attribute__((vector_size(32)));
#define DEFINE_GENERIC_VECTOR(T, real, VLEN)                                                   \
    static inline T##_vec T##_load(const real *p) {                                           \
        T##_vec v;                                                                             \
        memcpy(&v, p, sizeof v);                                                               \
        return v;                                                                              \
    }                                                                                          \
    static inline void T##_store(real *p, T##_vec v) { memcpy(p, &v, sizeof v); }             \
    static inline T##_vec T##_set1(real x) { return (T##_vec){0} + x; }                       \
    static inline T##_vec T##_fma(T##_vec a, T##_vec b, T##_vec c) { return a * b + c; }      \
    static inline T##_vec T##_add(T##_vec a, T##_vec b) { return a + b; }                    \
    static inline T##_vec T##_sub(T##_vec a, T##_vec b) { return a - b; }                    \
    static inline real T##_sum(T##_vec v) {                                                    \
        real total = 0;                                                                        \
        for (int i = 0; i < VLEN; i++) total += v[i];                                          \
        return total;                                                                          \
    }
#else
typedef struct { float lane[F32_VLEN]; } f32_vec;
typedef struct { double lane[F64_VLEN]; } f64_vec;
#define DEFINE_GENERIC_VECTOR(T, real, VLEN)                                                   \
    static inline T##_vec T##_load(const real *p) {                                           \
        T##_vec v;                                                                             \
        memcpy(&v, p, sizeof v);                                                               \
        return v;                                                                              \
    }                                                                                          \
    static inline void T##_store(real *p, T##_vec v) { memcpy(p, &v, sizeof v); }             \
    static inline T##_vec T##_set1(real x) {                                                   \
        T##_vec v;                                                                             \
        for (int i = 0; i < VLEN; i++) v.lane[i] = x;                                          \
        return v;                                                                              \
    }                                                                                          \
    static inline T##_vec T##_fma(T##_vec a, T##_vec b, T##_vec c) {                          \
        for (int i = 0; i < VLEN; i++) c.lane[i] += a.lane[i] * b.lane[i];                     \
        return c;                                                                              \
    }                                                                                          \
    static inline T##_vec T##_add(T##_vec a, T##_vec b) {                                     \
        for (int i = 0; i < VLEN; i++) a.lane[i] += b.lane[i];                                 \
        return a;                                                                              \
    }                                                                                          \
    static inline T##_vec T##_sub(T##_vec a, T##_vec b) {                                     \
        for (int i = 0; i < VLEN; i++) a.lane[i] -= b.lane[i];                                 \
        return a;                                                                              \
    }                                                                                          \
    static inline real T##_sum(T##_vec v) {                                                    \
        real total = 0;                                                                        \
        for (int i = 0; i < VLEN; i++) total += v.lane[i];                                     \
        return total;                                                                          \
    }
#endif
DEFINE_GENERIC_VECTOR(f32, float, F32_VLEN)
DEFINE_GENERIC_VECTOR(f64, double, F64_VLEN)
static inline f32_vec f32_zero(void) { return f32_set1(0.0f); }
static inline f64_vec f64_zero(void) { return f64_set1(0.0); }
/* Lane shuffles and partial stores, through memory: the compiler picks the instructions. */
static inline f32_vec f32_relu(f32_vec v) {
    float lanes[F32_VLEN];
    f32_store(lanes, v);
    for (int i = 0; i < F32_VLEN; i++) lanes[i] = lanes[i] < 0 ? 0.0f : lanes[i];
    return f32_load(lanes);
}
static inline void f32_store_first(float *p, f32_vec v, ptrdiff_t count) {
    memcpy(p, &v, (size_t)count * sizeof(float));
}
static inline f32_vec f32_load_first(const float *p, ptrdiff_t count) {
    float lanes[F32_VLEN] = {0};
    memcpy(lanes, p, (size_t)count * sizeof(float));
    return f32_load(lanes);
}
static inline void f32_deinterleave(f32_vec a, f32_vec b, f32_vec *even, f32_vec *odd) {
    float lanes[2 * F32_VLEN], evens[F32_VLEN], odds[F32_VLEN];
    f32_store(lanes, a);
    f32_store(lanes + F32_VLEN, b);
    for (int i = 0; i < F32_VLEN; i++) {
        evens[i] = lanes[2 * i];
        odds[i] = lanes[2 * i + 1];
    }
    *even = f32_load(evens);
    *odd = f32_load(odds);
}
static inline void f32_interleave(f32_vec a, f32_vec b, f32_vec *low, f32_vec *high) {
    float first[F32_VLEN], second[F32_VLEN], lanes[2 * F32_VLEN];
    f32_store(first, a);
    f32_store(second, b);
    for (int i = 0; i < F32_VLEN; i++) {
        lanes[2 * i] = first[i];
        lanes[2 * i + 1] = second[i];
    }
    *low = f32_load(lanes);
    *high = f32_load(lanes + F32_VLEN);
}
/* x86-64's baseline has 16 registers of 16 bytes, and a vector here takes two. */
#define FWD_MR 4
#define FWD_NV 1
#define DW_MR 2
#define DW_NT 2
/* Winograd's weight gradient measured 0.51-0.79x the direct kernels' time (same layers). */
#define WINOGRAD_WEIGHT_GRADIENT 1
#endif

/* The lanes of each vector, by the names direct_conv_types.h builds. */
#define f32_lanes F32_VLEN
#define f64_lanes F64_VLEN
#define f32x8_lanes 8

static inline ptrdiff_t round_up(ptrdiff_t value, ptrdiff_t multiple) {
    return (value + multiple - 1) / multiple * multiple;
}

/* The sizes of one convolution on the wide grid, in elements of its type. */
typedef struct {
    ptrdiff_t channels, height, width, out_channels, filter_h, filter_w, pad_h, pad_w, stride;
    ptrdiff_t phases_h, phases_w;         /* planes per channel: 1 x 1 with stride 1 */
    ptrdiff_t padded_h, padded_w, plane;  /* one padded input plane (or phase plane) */
    ptrdiff_t out_h, out_w;
    ptrdiff_t in_step, out_step;  /* elements from one image to the next, in x and in out: a
                                   * group's channels of a grouped convolution step over the
                                   * others */
    ptrdiff_t positions;   /* out_h * padded_w: the wide output of one channel */
    ptrdiff_t wide;        /* positions rounded up to whole vectors */
    ptrdiff_t image;       /* elements of one laid-out image: channels * phases * plane */
    ptrdiff_t slack;       /* zeros after the last image for the last vector's reads */
    ptrdiff_t taps;        /* channels * filter_h * filter_w: also the offsets a call needs */
    ptrdiff_t oc_padded;   /* out_channels rounded up to whole forward tiles */
    ptrdiff_t dw_rows;     /* out_channels rounded up to whole weight-gradient tiles */
} conv_geometry;

/* offsets[t] for tap t = (c, kh, kw): into phase plane (kh % stride, kw % stride) of channel c,
 * kh / stride rows and kw / stride columns on (with stride 1, the channel's padded plane). */
static void tap_offsets(const conv_geometry *g, ptrdiff_t *offsets) {
    const ptrdiff_t s = g->stride, phases = g->phases_h * g->phases_w;
    ptrdiff_t t = 0;
    for (ptrdiff_t c = 0; c < g->channels; c++)
        for (ptrdiff_t kh = 0; kh < g->filter_h; kh++)
            for (ptrdiff_t kw = 0; kw < g->filter_w; kw++)
                offsets[t++] = (c * phases + kh % s * g->phases_w + kw % s) * g->plane
                               + kh / s * g->padded_w + kw / s;
}

/* ---- register tiles, instantiated per type in direct_conv_typed.h ---------------------- */

/* Tile sizes are loops of the preprocessor: UP_TO(N, F, M) is F(M, 1) ... F(M, N) and
 * ROWS_UP_TO(N, F) is F(1) ... F(N), for N up to 6 (each family its own paste, so that the two
 * nest). They define, and the tables list, only the tiles a register tile can reach. */
#define PASTE_COLUMNS(a, b) PASTE_COLUMNS_(a, b)
#define PASTE_COLUMNS_(a, b) a##b
#define UP_TO_1(F, M) F(M, 1)
#define UP_TO_2(F, M) UP_TO_1(F, M) F(M, 2)
#define UP_TO_3(F, M) UP_TO_2(F, M) F(M, 3)
#define UP_TO_4(F, M) UP_TO_3(F, M) F(M, 4)
#define UP_TO_5(F, M) UP_TO_4(F, M) F(M, 5)
#define UP_TO_6(F, M) UP_TO_5(F, M) F(M, 6)
#define UP_TO(N, F, M) PASTE_COLUMNS(UP_TO_, N)(F, M)
#define PASTE_ROWS(a, b) PASTE_ROWS_(a, b)
#define PASTE_ROWS_(a, b) a##b
#define ROWS_UP_TO_1(F) F(1)
#define ROWS_UP_TO_2(F) ROWS_UP_TO_1(F) F(2)
#define ROWS_UP_TO_3(F) ROWS_UP_TO_2(F) F(3)
#define ROWS_UP_TO_4(F) ROWS_UP_TO_3(F) F(4)
#define ROWS_UP_TO(N, F) PASTE_ROWS(ROWS_UP_TO_, N)(F)

/* Tiles come in every size up to the register tile, so that the last output channels and the
 * last positions of a row cost no more than they hold: MR channels by NV vectors of positions
 * (the weights are packed FWD_MR to a tap whatever MR is). */
#define DEFINE_FORWARD_TILE(MR, NV)                                                            \
    static void TYPED(forward_tile_##MR##_##NV)(const real *x, const ptrdiff_t *offsets,      \
                                                ptrdiff_t taps, const real *weights,          \
                                                const real *bias, real *out,                  \
                                                ptrdiff_t out_stride) {                       \
        VEC acc[MR][NV];                                                                       \
        for (int m = 0; m < MR; m++) {                                                         \
            VEC start = V(set1)(bias[m]);                                                     \
            for (int r = 0; r < NV; r++) acc[m][r] = start;                                    \
        }                                                                                      \
        for (ptrdiff_t t = 0; t < taps; t++) {                                                 \
            const real *source = x + offsets[t];                                              \
            const real *w = weights + t * FWD_MR;                                             \
            VEC in[NV];                                                                        \
            for (int r = 0; r < NV; r++) in[r] = V(load)(source + r * LANES);                  \
            for (int m = 0; m < MR; m++) {                                                     \
                VEC weight = V(set1)(w[m]);                                                   \
                for (int r = 0; r < NV; r++) acc[m][r] = V(fma)(weight, in[r], acc[m][r]);    \
            }                                                                                  \
        }                                                                                      \
        for (int m = 0; m < MR; m++)                                                           \
            for (int r = 0; r < NV; r++) V(store)(out + m * out_stride + r * LANES, acc[m][r]); \
    }
#define DEFINE_FORWARD_TILES(MR) UP_TO(FWD_NV, DEFINE_FORWARD_TILE, MR)
#define FORWARD_ENTRY(MR, NV) TYPED(forward_tile_##MR##_##NV),
#define FORWARD_TILE_ROW(MR) {NULL, UP_TO(FWD_NV, FORWARD_ENTRY, MR)},

/* Bytes of one image's padded planes and wide output gradient: images per block are chosen so
 * that a block stays in a core's L2 cache. */
#define DW_BLOCK_BYTES (1 << 20)

/* Output-gradient rows of one channel tile (DW_MR x wide elements per image) kept near the core
 * while every tap block passes over them: as many images as fit in this many bytes go together,
 * so that a tile's sums are reduced once per group (which matters for 8x8 images, whose rows
 * are a few vectors long). */
#define DW_GROUP_BYTES (32 << 10)

/* One tile: dweights[oc0 + m][t0 + t] += the sum over `group` images and their positions, for
 * MR channels and NT taps (every size up to DW_MR x DW_NT, as for the forward tiles). */
#define DEFINE_WEIGHT_GRADIENT_TILE(MR, NT)                                                    \
    static void TYPED(weight_gradient_tile_##MR##_##NT)(                                       \
            const real *padded, const real *wide,  ptrdiff_t group, const conv_geometry *g,   \
            const ptrdiff_t *offsets, ptrdiff_t oc0, ptrdiff_t t0, real *dweights) {           \
        VEC acc[MR][NT];                                                                       \
        for (int m = 0; m < MR; m++)                                                           \
            for (int t = 0; t < NT; t++) acc[m][t] = V(zero)();                               \
        for (ptrdiff_t b = 0; b < group; b++) {                                                \
            const real *x = padded + b * g->image;                                            \
            const real *d = wide + (b * g->dw_rows + oc0) * g->wide;                          \
            for (ptrdiff_t q = 0; q < g->wide; q += LANES) {                                    \
                VEC grad[MR];                                                                  \
                for (int m = 0; m < MR; m++) grad[m] = V(load)(d + m * g->wide + q);          \
                for (int t = 0; t < NT; t++) {                                                 \
                    VEC in = V(load)(x + offsets[t0 + t] + q);                                \
                    for (int m = 0; m < MR; m++) acc[m][t] = V(fma)(grad[m], in, acc[m][t]);  \
                }                                                                              \
            }                                                                                  \
        }                                                                                      \
        for (int m = 0; m < MR; m++)                                                           \
            for (int t = 0; t < NT; t++)                                                       \
                dweights[(oc0 + m) * g->taps + t0 + t] += V(sum)(acc[m][t]);                  \
    }

#define DEFINE_WEIGHT_GRADIENT_TILES(MR) UP_TO(DW_NT, DEFINE_WEIGHT_GRADIENT_TILE, MR)
#define WEIGHT_GRADIENT_ENTRY(MR, NT) TYPED(weight_gradient_tile_##MR##_##NT),
#define WEIGHT_GRADIENT_TILE_ROW(MR) {NULL, UP_TO(DW_NT, WEIGHT_GRADIENT_ENTRY, MR)},

/* The kernels of each type: direct_conv_typed.h with `real` the element type and TYPE the
 * prefix of its vector operations (f32_load, ...), which also suffixes each function's name
 * (direct_forward_f32, ...). */
#include "direct_conv_types.h"
#define real float
#define TYPE f32
#include "direct_conv_typed.h"
#define real double
#define TYPE f64
#include "direct_conv_typed.h"

#include "winograd.h"

#endif
