/* Direct convolution of float32 images with stride 1, for one instruction set.
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
 * Trust: the Cython wrappers pass C-contiguous buffers of the stated shapes and scratch of
 * at least the sizes the *_scratch functions return; nothing is checked here.
 */
#ifndef CNN_EXT_DIRECT_CONV_H
#define CNN_EXT_DIRECT_CONV_H

#include <stddef.h>
#include <string.h>

#if defined(CNN_SIMD_AVX512)
#include <immintrin.h>
#define CNN_SIMD_NAME "avx512"
#define VLEN 16
typedef __m512 vec;
static inline vec vec_load(const float *p) { return _mm512_loadu_ps(p); }
static inline void vec_store(float *p, vec v) { _mm512_storeu_ps(p, v); }
static inline vec vec_set1(float x) { return _mm512_set1_ps(x); }
static inline vec vec_zero(void) { return _mm512_setzero_ps(); }
static inline vec vec_fma(vec a, vec b, vec c) { return _mm512_fmadd_ps(a, b, c); }
static inline float vec_sum(vec v) { return _mm512_reduce_add_ps(v); }
/* 32 vector registers. Forward: 24 accumulators, 6 loaded inputs and a broadcast weight.
 * Weight gradient: 24 accumulators, 4 gradient rows and the loaded input. */
#define FWD_MR 4
#define FWD_NV 6
#define DW_MR 4
#define DW_NT 6

#elif defined(CNN_SIMD_AVX2)
#include <immintrin.h>
#define CNN_SIMD_NAME "avx2"
#define VLEN 8
typedef __m256 vec;
static inline vec vec_load(const float *p) { return _mm256_loadu_ps(p); }
static inline void vec_store(float *p, vec v) { _mm256_storeu_ps(p, v); }
static inline vec vec_set1(float x) { return _mm256_set1_ps(x); }
static inline vec vec_zero(void) { return _mm256_setzero_ps(); }
static inline vec vec_fma(vec a, vec b, vec c) { return _mm256_fmadd_ps(a, b, c); }
static inline float vec_sum(vec v) {
    __m128 half = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    half = _mm_add_ps(half, _mm_movehl_ps(half, half));
    half = _mm_add_ss(half, _mm_shuffle_ps(half, half, 1));
    return _mm_cvtss_f32(half);
}
/* 16 vector registers. Forward: 12 accumulators, 3 loaded inputs and a broadcast weight.
 * Weight gradient: 12 accumulators, 3 gradient rows and the loaded input (with 4 rows the
 * compiler would fold the row loads into the multiply-adds, loading each row once per tap). */
#define FWD_MR 4
#define FWD_NV 3
#define DW_MR 3
#define DW_NT 4

#else
/* Portable C for the platform's baseline. GCC and Clang get a generic vector of 8 floats, which
 * they map onto what the baseline has (two SSE2 registers on x86-64, two NEON registers on
 * arm64); other compilers get a short array they may vectorise. */
#define CNN_SIMD_NAME "baseline"
#define VLEN 8
#if defined(__GNUC__) || defined(__clang__)
typedef float vec __attribute__((vector_size(32)));
static inline vec vec_load(const float *p) { vec v; memcpy(&v, p, sizeof v); return v; }
static inline void vec_store(float *p, vec v) { memcpy(p, &v, sizeof v); }
static inline vec vec_set1(float x) { vec v = {x, x, x, x, x, x, x, x}; return v; }
static inline vec vec_fma(vec a, vec b, vec c) { return a * b + c; }
static inline float vec_sum(vec v) {
    return ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]));
}
#else
typedef struct { float lane[VLEN]; } vec;
static inline vec vec_load(const float *p) { vec v; memcpy(&v, p, sizeof v); return v; }
static inline void vec_store(float *p, vec v) { memcpy(p, &v, sizeof v); }
static inline vec vec_set1(float x) {
    vec v;
    for (int i = 0; i < VLEN; i++) v.lane[i] = x;
    return v;
}
static inline vec vec_fma(vec a, vec b, vec c) {
    for (int i = 0; i < VLEN; i++) c.lane[i] += a.lane[i] * b.lane[i];
    return c;
}
static inline float vec_sum(vec v) {
    float total = 0.0f;
    for (int i = 0; i < VLEN; i++) total += v.lane[i];
    return total;
}
#endif
static inline vec vec_zero(void) { return vec_set1(0.0f); }
/* x86-64's baseline has 16 registers of 4 floats, and a vector here takes two. */
#define FWD_MR 4
#define FWD_NV 1
#define DW_MR 2
#define DW_NT 2
#endif

static inline ptrdiff_t round_up(ptrdiff_t value, ptrdiff_t multiple) {
    return (value + multiple - 1) / multiple * multiple;
}

/* The sizes of one convolution on the wide grid. */
typedef struct {
    ptrdiff_t channels, height, width, out_channels, filter_h, filter_w, pad_h, pad_w;
    ptrdiff_t padded_h, padded_w, plane;  /* one padded input plane */
    ptrdiff_t out_h, out_w;
    ptrdiff_t positions;   /* out_h * padded_w: the wide output of one channel */
    ptrdiff_t wide;        /* positions rounded up to whole vectors */
    ptrdiff_t image;       /* floats of one padded image: channels * plane */
    ptrdiff_t slack;       /* zeros after the last image for the last vector's reads */
    ptrdiff_t taps;        /* channels * filter_h * filter_w */
    ptrdiff_t oc_padded;   /* out_channels rounded up to whole forward tiles */
    ptrdiff_t dw_rows;     /* out_channels rounded up to whole weight-gradient tiles */
} conv_geometry;

/* The output's size (out_h, out_w) comes from the caller, which has it from the one output-size
 * formula of cnn_ext.geometry; the kernels derive only their own layout from it. */
static conv_geometry make_geometry(ptrdiff_t channels, ptrdiff_t height, ptrdiff_t width,
                                   ptrdiff_t out_channels, ptrdiff_t filter_h, ptrdiff_t filter_w,
                                   ptrdiff_t pad_h, ptrdiff_t pad_w, ptrdiff_t out_h,
                                   ptrdiff_t out_w) {
    conv_geometry g;
    g.channels = channels; g.height = height; g.width = width; g.out_channels = out_channels;
    g.filter_h = filter_h; g.filter_w = filter_w; g.pad_h = pad_h; g.pad_w = pad_w;
    g.padded_h = height + 2 * pad_h;
    g.padded_w = width + 2 * pad_w;
    g.plane = g.padded_h * g.padded_w;
    g.out_h = out_h;
    g.out_w = out_w;
    g.positions = g.out_h * g.padded_w;
    g.wide = round_up(g.positions, VLEN);
    g.image = channels * g.plane;
    g.slack = g.wide - g.positions + filter_w + VLEN;
    g.taps = channels * filter_h * filter_w;
    g.oc_padded = round_up(out_channels, FWD_MR);
    g.dw_rows = round_up(out_channels, DW_MR);
    return g;
}

/* Copy image (C, H, W) into its padded planes; the border is zero. Rows are short (8 to 28
 * values here), so plain loops, which the compiler vectorises, beat a memcpy call per row. */
static void pad_image(const float *image, const conv_geometry *g, float *padded) {
    const ptrdiff_t border = g->pad_h * g->padded_w, right = g->padded_w - g->pad_w - g->width;
    for (ptrdiff_t c = 0; c < g->channels; c++) {
        float *target = padded + c * g->plane;
        for (ptrdiff_t i = 0; i < border; i++) *target++ = 0.0f;
        for (ptrdiff_t ih = 0; ih < g->height; ih++) {
            const float *row = image + (c * g->height + ih) * g->width;
            for (ptrdiff_t i = 0; i < g->pad_w; i++) *target++ = 0.0f;
            for (ptrdiff_t i = 0; i < g->width; i++) *target++ = row[i];
            for (ptrdiff_t i = 0; i < right; i++) *target++ = 0.0f;
        }
        for (ptrdiff_t i = 0; i < border; i++) *target++ = 0.0f;
    }
}

/* offsets[t] for tap t = (c, kh, kw). */
static void tap_offsets(const conv_geometry *g, ptrdiff_t *offsets) {
    ptrdiff_t t = 0;
    for (ptrdiff_t c = 0; c < g->channels; c++)
        for (ptrdiff_t kh = 0; kh < g->filter_h; kh++)
            for (ptrdiff_t kw = 0; kw < g->filter_w; kw++)
                offsets[t++] = c * g->plane + kh * g->padded_w + kw;
}

/* ---- forward ---------------------------------------------------------------------------- */

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
    static void forward_tile_##MR##_##NV(const float *x, const ptrdiff_t *offsets,             \
                                         ptrdiff_t taps, const float *weights,                 \
                                         const float *bias, float *out, ptrdiff_t out_stride) { \
        vec acc[MR][NV];                                                                       \
        for (int m = 0; m < MR; m++) {                                                         \
            vec start = vec_set1(bias[m]);                                                     \
            for (int r = 0; r < NV; r++) acc[m][r] = start;                                    \
        }                                                                                      \
        for (ptrdiff_t t = 0; t < taps; t++) {                                                 \
            const float *source = x + offsets[t];                                              \
            const float *w = weights + t * FWD_MR;                                             \
            vec in[NV];                                                                        \
            for (int r = 0; r < NV; r++) in[r] = vec_load(source + r * VLEN);                  \
            for (int m = 0; m < MR; m++) {                                                     \
                vec weight = vec_set1(w[m]);                                                   \
                for (int r = 0; r < NV; r++) acc[m][r] = vec_fma(weight, in[r], acc[m][r]);    \
            }                                                                                  \
        }                                                                                      \
        for (int m = 0; m < MR; m++)                                                           \
            for (int r = 0; r < NV; r++) vec_store(out + m * out_stride + r * VLEN, acc[m][r]); \
    }
#define DEFINE_FORWARD_TILES(MR) UP_TO(FWD_NV, DEFINE_FORWARD_TILE, MR)
ROWS_UP_TO(FWD_MR, DEFINE_FORWARD_TILES)

typedef void (*forward_tile)(const float *, const ptrdiff_t *, ptrdiff_t, const float *,
                             const float *, float *, ptrdiff_t);

#define FORWARD_ENTRY(MR, NV) forward_tile_##MR##_##NV,
#define FORWARD_TILE_ROW(MR) {NULL, UP_TO(FWD_NV, FORWARD_ENTRY, MR)},
/* FORWARD_TILES[MR][NV] */
static const forward_tile FORWARD_TILES[FWD_MR + 1][FWD_NV + 1] = {
    {NULL}, ROWS_UP_TO(FWD_MR, FORWARD_TILE_ROW)};

/* Floats of scratch direct_forward needs, and how many offsets. */
static ptrdiff_t forward_scratch_floats(const conv_geometry *g) {
    return g->image + g->slack + g->oc_padded * g->wide + g->oc_padded * g->taps + g->oc_padded;
}

static ptrdiff_t forward_offsets(const conv_geometry *g) { return g->taps; }

/* out (n, OC, out_h, out_w) = conv(x (n, C, H, W), weights (OC, C, filter_h, filter_w)) + bias,
 * bias (OC,) or NULL for none. */
static void direct_forward(const float *x, ptrdiff_t n_images, const conv_geometry *g,
                           const float *weights, const float *bias, float *out,
                           float *scratch, ptrdiff_t *offsets) {
    float *padded = scratch;
    float *wide_out = padded + g->image + g->slack;
    float *packed = wide_out + g->oc_padded * g->wide;
    float *bias_padded = packed + g->oc_padded * g->taps;
    const ptrdiff_t tile = FWD_NV * VLEN;

    memset(padded + g->image, 0, (size_t)g->slack * sizeof(float));
    for (ptrdiff_t block = 0; block < g->oc_padded; block += FWD_MR)
        for (ptrdiff_t t = 0; t < g->taps; t++)
            for (int m = 0; m < FWD_MR; m++)
                packed[block * g->taps + t * FWD_MR + m] =
                    block + m < g->out_channels ? weights[(block + m) * g->taps + t] : 0.0f;
    for (ptrdiff_t oc = 0; oc < g->oc_padded; oc++)
        bias_padded[oc] = bias != NULL && oc < g->out_channels ? bias[oc] : 0.0f;
    tap_offsets(g, offsets);

    for (ptrdiff_t n = 0; n < n_images; n++) {
        pad_image(x + n * g->channels * g->height * g->width, g, padded);
        for (ptrdiff_t block = 0; block < g->out_channels; block += FWD_MR) {
            const float *w = packed + block * g->taps;
            float *rows = wide_out + block * g->wide;
            int channels = g->out_channels - block < FWD_MR ? (int)(g->out_channels - block) : FWD_MR;
            ptrdiff_t q = 0;
            for (; q + tile <= g->wide; q += tile)
                FORWARD_TILES[channels][FWD_NV](padded + q, offsets, g->taps, w,
                                                bias_padded + block, rows + q, g->wide);
            if (q < g->wide)
                FORWARD_TILES[channels][(g->wide - q) / VLEN](padded + q, offsets, g->taps, w,
                                                              bias_padded + block, rows + q, g->wide);
        }
        float *target = out + n * g->out_channels * g->out_h * g->out_w;
        for (ptrdiff_t oc = 0; oc < g->out_channels; oc++)
            for (ptrdiff_t oh = 0; oh < g->out_h; oh++) {
                const float *row = wide_out + oc * g->wide + oh * g->padded_w;
                for (ptrdiff_t ow = 0; ow < g->out_w; ow++) *target++ = row[ow];
            }
    }
}

/* ---- weight and bias gradients ----------------------------------------------------------- */

/* Bytes of one image's padded planes and wide output gradient: images per block are chosen so
 * that a block stays in a core's L2 cache. */
#define DW_BLOCK_BYTES (1 << 20)

static ptrdiff_t dw_images_per_block(const conv_geometry *g, ptrdiff_t n_images) {
    ptrdiff_t per_image = (g->image + g->dw_rows * g->wide) * (ptrdiff_t)sizeof(float);
    ptrdiff_t block = DW_BLOCK_BYTES / per_image;
    if (block < 1) block = 1;
    return block < n_images ? block : n_images;
}

static ptrdiff_t backward_scratch_floats(const conv_geometry *g, ptrdiff_t block) {
    return block * (g->image + g->dw_rows * g->wide) + g->slack;
}

static ptrdiff_t backward_offsets(const conv_geometry *g) { return g->taps; }

/* The output gradient of one image on the wide grid (zero at the dropped positions and in the
 * padded channels), and its sum per channel added to dbias. */
static void widen_gradient(const float *dout, const conv_geometry *g, float *wide, float *dbias) {
    const ptrdiff_t dropped = g->padded_w - g->out_w;
    for (ptrdiff_t oc = 0; oc < g->dw_rows; oc++) {
        float *target = wide + oc * g->wide;
        float total = 0.0f;
        for (ptrdiff_t oh = 0; oh < g->out_h && oc < g->out_channels; oh++) {
            const float *row = dout + (oc * g->out_h + oh) * g->out_w;
            for (ptrdiff_t ow = 0; ow < g->out_w; ow++) {
                total += row[ow];
                *target++ = row[ow];
            }
            for (ptrdiff_t i = 0; i < dropped; i++) *target++ = 0.0f;
        }
        for (float *end = wide + (oc + 1) * g->wide; target < end;) *target++ = 0.0f;
        if (oc < g->out_channels) dbias[oc] += total;
    }
}

/* Output-gradient rows of one channel tile (DW_MR x wide floats per image) kept near the core
 * while every tap block passes over them: as many images as fit in this many bytes go together,
 * so that a tile's sums are reduced once per group (which matters for 8x8 images, whose rows
 * are a few vectors long). */
#define DW_GROUP_BYTES (32 << 10)

/* One tile: dweights[oc0 + m][t0 + t] += the sum over `group` images and their positions, for
 * MR channels and NT taps (every size up to DW_MR x DW_NT, as for the forward tiles). */
#define DEFINE_WEIGHT_GRADIENT_TILE(MR, NT)                                                    \
    static void weight_gradient_tile_##MR##_##NT(                                              \
            const float *padded, const float *wide, ptrdiff_t group, const conv_geometry *g,   \
            const ptrdiff_t *offsets, ptrdiff_t oc0, ptrdiff_t t0, float *dweights) {          \
        vec acc[MR][NT];                                                                       \
        for (int m = 0; m < MR; m++)                                                           \
            for (int t = 0; t < NT; t++) acc[m][t] = vec_zero();                               \
        for (ptrdiff_t b = 0; b < group; b++) {                                                \
            const float *x = padded + b * g->image;                                            \
            const float *d = wide + (b * g->dw_rows + oc0) * g->wide;                          \
            for (ptrdiff_t q = 0; q < g->wide; q += VLEN) {                                    \
                vec grad[MR];                                                                  \
                for (int m = 0; m < MR; m++) grad[m] = vec_load(d + m * g->wide + q);          \
                for (int t = 0; t < NT; t++) {                                                 \
                    vec in = vec_load(x + offsets[t0 + t] + q);                                \
                    for (int m = 0; m < MR; m++) acc[m][t] = vec_fma(grad[m], in, acc[m][t]);  \
                }                                                                              \
            }                                                                                  \
        }                                                                                      \
        for (int m = 0; m < MR; m++)                                                           \
            for (int t = 0; t < NT; t++)                                                       \
                dweights[(oc0 + m) * g->taps + t0 + t] += vec_sum(acc[m][t]);                  \
    }

#define DEFINE_WEIGHT_GRADIENT_TILES(MR) UP_TO(DW_NT, DEFINE_WEIGHT_GRADIENT_TILE, MR)
ROWS_UP_TO(DW_MR, DEFINE_WEIGHT_GRADIENT_TILES)

typedef void (*weight_gradient_tile)(const float *, const float *, ptrdiff_t, const conv_geometry *,
                                     const ptrdiff_t *, ptrdiff_t, ptrdiff_t, float *);

#define WEIGHT_GRADIENT_ENTRY(MR, NT) weight_gradient_tile_##MR##_##NT,
#define WEIGHT_GRADIENT_TILE_ROW(MR) {NULL, UP_TO(DW_NT, WEIGHT_GRADIENT_ENTRY, MR)},
/* WEIGHT_GRADIENT_TILES[MR][NT] */
static const weight_gradient_tile WEIGHT_GRADIENT_TILES[DW_MR + 1][DW_NT + 1] = {
    {NULL}, ROWS_UP_TO(DW_MR, WEIGHT_GRADIENT_TILE_ROW)};

/* dweights (OC, C * filter_h * filter_w) and dbias (OC,) += the gradients over these images.
 * Blocks of images are padded and widened into scratch (a block stays in the L2 cache);
 * within a block, groups of images keep a channel tile's gradient rows in L1 while every tap
 * block reads them, and each tile's vector sums are reduced once per group. */
static void direct_weight_gradient(const float *x, const float *dout, ptrdiff_t n_images,
                                   const conv_geometry *g, float *dweights, float *dbias,
                                   float *scratch, ptrdiff_t *offsets) {
    ptrdiff_t block = dw_images_per_block(g, n_images);
    ptrdiff_t group = DW_GROUP_BYTES / (DW_MR * g->wide * (ptrdiff_t)sizeof(float));
    float *padded = scratch;                          /* block images, then the slack */
    float *wide = padded + block * g->image + g->slack;
    if (group < 1) group = 1;
    tap_offsets(g, offsets);
    for (ptrdiff_t first = 0; first < n_images; first += block) {
        ptrdiff_t count = n_images - first < block ? n_images - first : block;
        for (ptrdiff_t b = 0; b < count; b++) {
            ptrdiff_t n = first + b;
            pad_image(x + n * g->channels * g->height * g->width, g, padded + b * g->image);
            widen_gradient(dout + n * g->out_channels * g->out_h * g->out_w, g,
                           wide + b * g->dw_rows * g->wide, dbias);
        }
        memset(padded + count * g->image, 0, (size_t)g->slack * sizeof(float));
        for (ptrdiff_t start = 0; start < count; start += group) {
            ptrdiff_t members = count - start < group ? count - start : group;
            for (ptrdiff_t oc0 = 0; oc0 < g->out_channels; oc0 += DW_MR) {
                ptrdiff_t rows = g->out_channels - oc0 < DW_MR ? g->out_channels - oc0 : DW_MR;
                for (ptrdiff_t t0 = 0; t0 < g->taps; t0 += DW_NT) {
                    ptrdiff_t taps = g->taps - t0 < DW_NT ? g->taps - t0 : DW_NT;
                    WEIGHT_GRADIENT_TILES[rows][taps](padded + start * g->image,
                                                      wide + start * g->dw_rows * g->wide, members,
                                                      g, offsets, oc0, t0, dweights);
                }
            }
        }
    }
}

#endif
