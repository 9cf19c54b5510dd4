/* Winograd's F(2x2, 3x3) convolution of float32 images with stride 1 (Lavin and Gray 2016).
 *
 * Included by direct_conv.h after the float kernels, whose vector operations and register tiles
 * it reuses: the same instruction set, the same module. Read direct_conv.h first.
 *
 * The outputs are cut into tiles of 2x2; each reads a 4x4 patch d of the zero-padded image,
 * overlapping its neighbours by two rows and columns. With the 3x3 filter g,
 *
 *     y = A^T [ (G g G^T) * (B^T d B) ] A          (* is the elementwise product of 4x4 arrays)
 *
 *     B^T = | 1  0 -1  0 |     G = |  1    0    0  |     A^T = | 1  1  1  0 |
 *           | 0  1  1  0 |         | 1/2  1/2  1/2 |           | 0  1 -1 -1 |
 *           | 0 -1  1  0 |         | 1/2 -1/2  1/2 |
 *           | 0  1  0 -1 |         |  0    0    1  |
 *
 * so 4 outputs cost 16 multiplications per input channel instead of 36. Summed over the input
 * channels, each of the 16 positions xi of the 4x4 arrays is a matrix product:
 * M[xi] (OC x tiles) = U[xi] (OC x C) . V[xi] (C x tiles), with U the transformed filters and V
 * the transformed patches. A call works through its images a chunk at a time (as many images
 * as keep V and M within WINOGRAD_CHUNK_BYTES), in three stages:
 *
 * 1. input transform, one channel plane at a time: each row of the plane is split into its
 *    even and odd columns (in its zero-padded place), so that tile (th, tw) finds its four
 *    columns at even[tw], odd[tw], even[tw + 1] and odd[tw + 1]: B^T d B is computed by vectors
 *    over the tiles of a row (winograd_transforms.h; on AVX-512, vectors of 8 for maps at most 8
 *    tiles wide). V[xi][c] holds the chunk's tiles in order (image, tile row, tile column); a
 *    vector that runs past the end of a tile row writes lanes the next row overwrites (the
 *    last into slack);
 * 2. the 16 products, by the forward register tiles of direct_conv.h: "taps" are the input
 *    channels, at offsets c * stride into V[xi], the filters packed as
 *    [xi][channel block][c][FWD_MR];
 * 3. output transform, A^T M A, vectorised over the tiles of a row, with the bias (and ReLU),
 *    written into the output rows (the last row and column of tiles may be cut by an odd size).
 *
 * Rounding: the transforms have entries 0, +-1/2 and +-1, so each transformed value is a sum of
 * at most 4 (input, and output per half) or 9 (filter) terms: float32's error stays within a
 * small constant factor of direct convolution's, which the tests bound.
 *
 * Trust: as for the direct kernels, the Cython wrappers pass C-contiguous buffers and scratch of
 * at least winograd_scratch_floats() floats; nothing is checked here.
 */

/* Bytes of V and M for all 16 positions (forward), and of V and D for one position (weight
 * gradient, whose products reduce over the chunk's tiles: a longer chunk reduces its vector
 * sums less often, and one position's rows are what stays in L2 while they are read). */
#define WINOGRAD_CHUNK_BYTES (512 << 10)
#define WINOGRAD_GRADIENT_CHUNK_BYTES (256 << 10)

/* The layout of one Winograd convolution (3x3 filters, one pad on every side). */
typedef struct {
    ptrdiff_t channels, height, width, out_channels, pad, out_h, out_w;
    ptrdiff_t tiles_h, tiles_w, tiles;  /* rows and columns of 2x2 tiles, tiles per image */
    ptrdiff_t padded_h;                 /* rows of the zero-padded plane: 2 * tiles_h + 2 */
    ptrdiff_t half;                     /* floats of an even or odd half row, with slack */
    ptrdiff_t images;                   /* images per chunk */
    ptrdiff_t stride;                   /* floats between V's (and M's) channel rows */
    ptrdiff_t oc_padded;                /* out_channels rounded up to whole forward tiles */
} winograd_geometry;

static winograd_geometry make_winograd_geometry(ptrdiff_t channels, ptrdiff_t height,
                                                ptrdiff_t width, ptrdiff_t out_channels,
                                                ptrdiff_t pad, ptrdiff_t out_h, ptrdiff_t out_w,
                                                ptrdiff_t n_images, int gradient) {
    winograd_geometry g;
    g.channels = channels; g.height = height; g.width = width; g.out_channels = out_channels;
    g.pad = pad; g.out_h = out_h; g.out_w = out_w;
    g.tiles_h = (out_h + 1) / 2;
    g.tiles_w = (out_w + 1) / 2;
    g.tiles = g.tiles_h * g.tiles_w;
    g.padded_h = 2 * g.tiles_h + 2;
    g.half = round_up(g.tiles_w + 1 + pad, F32_VLEN) + F32_VLEN;
    g.oc_padded = round_up(out_channels, FWD_MR);
    ptrdiff_t per_image = (channels + g.oc_padded) * g.tiles * (ptrdiff_t)sizeof(float);
    g.images = gradient ? WINOGRAD_GRADIENT_CHUNK_BYTES / per_image
                        : WINOGRAD_CHUNK_BYTES / (16 * per_image);
    if (g.images < 1) g.images = 1;
    if (g.images > n_images) g.images = n_images;
    g.stride = round_up(g.images * g.tiles, F32_VLEN) + F32_VLEN;
    return g;
}

/* Floats of scratch a call needs, and of its parts, in this order. */
static ptrdiff_t winograd_filters_floats(const winograd_geometry *g) {
    return 16 * g->oc_padded * g->channels;
}
static ptrdiff_t winograd_plane_floats(const winograd_geometry *g) {
    return g->padded_h * 2 * g->half;
}
static ptrdiff_t winograd_scratch_floats(const winograd_geometry *g) {
    return winograd_filters_floats(g) + 16 * (g->channels + g->oc_padded) * g->stride +
           winograd_plane_floats(g) + FWD_MR;
}

/* U = G g G^T of every filter, packed as [xi][channel block][c][FWD_MR] (zero past the last
 * output channel). */
static void winograd_filters(const float *weights, const winograd_geometry *g, float *packed) {
    for (ptrdiff_t oc = 0; oc < g->oc_padded; oc++)
        for (ptrdiff_t c = 0; c < g->channels; c++) {
            float u[4][4] = {{0}};
            if (oc < g->out_channels) {
                const float *f = weights + (oc * g->channels + c) * 9;
                float a[4][3];  /* G g */
                for (int j = 0; j < 3; j++) {
                    a[0][j] = f[j];
                    a[1][j] = 0.5f * (f[j] + f[3 + j] + f[6 + j]);
                    a[2][j] = 0.5f * (f[j] - f[3 + j] + f[6 + j]);
                    a[3][j] = f[6 + j];
                }
                for (int i = 0; i < 4; i++) {  /* (G g) G^T */
                    u[i][0] = a[i][0];
                    u[i][1] = 0.5f * (a[i][0] + a[i][1] + a[i][2]);
                    u[i][2] = 0.5f * (a[i][0] - a[i][1] + a[i][2]);
                    u[i][3] = a[i][2];
                }
            }
            ptrdiff_t block = oc / FWD_MR * FWD_MR, m = oc % FWD_MR;
            for (int xi = 0; xi < 16; xi++)
                packed[(xi * g->oc_padded + block) * g->channels + c * FWD_MR + m] =
                    u[xi / 4][xi % 4];
        }
}

#ifndef WINOGRAD_NARROW
#define WINOGRAD_NARROW 0
#endif

#define TYPE f32
#include "winograd_transforms.h"
#if WINOGRAD_NARROW
#define TYPE f32x8
#include "winograd_transforms.h"
#endif

/* The transforms of one call: on 8-lane vectors for maps at most 8 tiles wide where the
 * instruction set has wider ones (WINOGRAD_NARROW), else on its own. */
typedef struct {
    void (*input)(const float *, ptrdiff_t, const winograd_geometry *, float *, float *);
    void (*output)(const float *, ptrdiff_t, const winograd_geometry *, const float *, int,
                   float *);
    void (*output_gradient)(const float *, ptrdiff_t, const winograd_geometry *, float *, float *,
                            float *);
} winograd_transforms;

static winograd_transforms transforms_for(const winograd_geometry *g) {
    (void)g;  /* read only where there are narrow vectors */
#if WINOGRAD_NARROW
    if (g->tiles_w <= 8) {
        winograd_transforms narrow = {winograd_input_f32x8, winograd_output_f32x8,
                                      winograd_output_gradient_f32x8};
        return narrow;
    }
#endif
    winograd_transforms own = {winograd_input_f32, winograd_output_f32,
                               winograd_output_gradient_f32};
    return own;
}

/* out (n, OC, out_h, out_w) = conv(x (n, C, H, W), weights (OC, C, 3, 3)) + bias (or NULL),
 * with `relu` nonzero max(that, 0); the three stages above, a chunk of images at a time. */
static void winograd_forward(const float *x, ptrdiff_t n_images, const winograd_geometry *g,
                             const float *weights, const float *bias, int relu, float *out,
                             float *scratch, ptrdiff_t *offsets) {
    float *packed = scratch;
    float *V = packed + winograd_filters_floats(g);
    float *M = V + 16 * g->channels * g->stride;
    float *work = M + 16 * g->oc_padded * g->stride;
    float *zeros = work + winograd_plane_floats(g);
    const ptrdiff_t tile = FWD_NV * F32_VLEN, image = g->channels * g->height * g->width;

    const winograd_transforms transforms = transforms_for(g);
    winograd_filters(weights, g, packed);
    /* Lanes past the last tile are computed too, and must hold numbers (not denormal noise). */
    memset(V, 0, (size_t)(16 * (g->channels + g->oc_padded) * g->stride) * sizeof(float));
    memset(work, 0, (size_t)winograd_plane_floats(g) * sizeof(float));
    for (int m = 0; m < FWD_MR; m++) zeros[m] = 0;
    for (ptrdiff_t c = 0; c < g->channels; c++) offsets[c] = c * g->stride;

    for (ptrdiff_t first = 0; first < n_images; first += g->images) {
        ptrdiff_t count = n_images - first < g->images ? n_images - first : g->images;
        for (ptrdiff_t b = 0; b < count; b++)
            transforms.input(x + (first + b) * image, b, g, V, work);
        ptrdiff_t positions = round_up(count * g->tiles, F32_VLEN);
        for (int xi = 0; xi < 16; xi++) {
            const float *v = V + xi * g->channels * g->stride;
            for (ptrdiff_t block = 0; block < g->out_channels; block += FWD_MR) {
                const float *w = packed + (xi * g->oc_padded + block) * g->channels;
                float *rows = M + (xi * g->oc_padded + block) * g->stride;
                int channels = g->out_channels - block < FWD_MR ? (int)(g->out_channels - block)
                                                                 : FWD_MR;
                ptrdiff_t q = 0;
                for (; q + tile <= positions; q += tile)
                    FORWARD_TILES_f32[channels][FWD_NV](v + q, offsets, g->channels, w, zeros,
                                                        rows + q, g->stride);
                if (q < positions)
                    FORWARD_TILES_f32[channels][(positions - q) / F32_VLEN](
                        v + q, offsets, g->channels, w, zeros, rows + q, g->stride);
            }
        }
        for (ptrdiff_t b = 0; b < count; b++)
            transforms.output(M, b, g, bias, relu,
                              out + (first + b) * g->out_channels * g->out_h * g->out_w);
    }
}

/* ---- the weight gradient ------------------------------------------------------------------
 *
 * With D = A dy A^T the output gradient of a tile taken to 4x4 (A = (A^T)^T, 4x2), the loss
 * sum(dy * y) over a tile is sum(D * U * V), so the gradient of the filter g is
 *
 *     dg = G^T [ sum over tiles of D[k] * V[c] ] G,
 *
 * and the sum over tiles is, for each of the 16 positions xi, a product of D[xi] (OC x tiles)
 * and V[xi]^T (tiles x C): the direct kernels' weight-gradient tiles compute it, the tiles playing
 * the positions and the input channels the taps. V is the forward pass's input transform; the
 * 16 sums (OC x C each) gather over every chunk, and G^T . G takes them to 3x3 at the end. */

static ptrdiff_t winograd_gradient_scratch_floats(const winograd_geometry *g) {
    return 16 * (g->channels + g->oc_padded) * g->stride + 16 * g->oc_padded * g->channels +
           winograd_plane_floats(g) + 4 * g->half;
}

/* dweights (OC, C, 3, 3) and dbias (OC,) += the gradients over these images. */
static void winograd_weight_gradient(const float *x, const float *dout, ptrdiff_t n_images,
                                     const winograd_geometry *g, float *dweights, float *dbias,
                                     float *scratch, ptrdiff_t *offsets) {
    float *V = scratch;
    float *D = V + 16 * g->channels * g->stride;
    float *sums = D + 16 * g->oc_padded * g->stride;  /* [xi][oc][c] */
    float *work = sums + 16 * g->oc_padded * g->channels;
    float *dout_halves = work + winograd_plane_floats(g);
    const ptrdiff_t image = g->channels * g->height * g->width;
    const ptrdiff_t gradient = g->out_channels * g->out_h * g->out_w;
    /* The products' shape for the weight-gradient tiles: positions are the chunk's tiles (the
     * whole stride, zero past the last), "taps" are the input channels. */
    conv_geometry products;
    memset(&products, 0, sizeof products);
    products.wide = g->stride;
    products.taps = g->channels;
    products.dw_rows = g->oc_padded;

    const winograd_transforms transforms = transforms_for(g);
    /* The sums and the zero-padded halves start at zero; V and D are written chunk by chunk. */
    memset(sums, 0, (size_t)(16 * g->oc_padded * g->channels + winograd_plane_floats(g) +
                             4 * g->half) * sizeof(float));
    for (ptrdiff_t c = 0; c < g->channels; c++) offsets[c] = c * g->stride;
    for (ptrdiff_t first = 0; first < n_images; first += g->images) {
        ptrdiff_t count = n_images - first < g->images ? n_images - first : g->images;
        for (ptrdiff_t b = 0; b < count; b++) {
            transforms.input(x + (first + b) * image, b, g, V, work);
            transforms.output_gradient(dout + (first + b) * gradient, b, g, D, dbias, dout_halves);
        }
        /* The products sum over every position of a row: past the chunk's tiles, V and D hold
         * a vector's spill, an earlier chunk's values or whatever the scratch held; zero. */
        for (ptrdiff_t row = 0; row < 16 * (g->channels + g->oc_padded); row++)
            memset(V + row * g->stride + count * g->tiles, 0,
                   (size_t)(g->stride - count * g->tiles) * sizeof(float));
        for (int xi = 0; xi < 16; xi++) {
            const float *v = V + xi * g->channels * g->stride;
            const float *d = D + xi * g->oc_padded * g->stride;
            float *sum = sums + xi * g->oc_padded * g->channels;
            for (ptrdiff_t oc0 = 0; oc0 < g->out_channels; oc0 += DW_MR) {
                ptrdiff_t block = g->out_channels - oc0 < DW_MR ? g->out_channels - oc0 : DW_MR;
                for (ptrdiff_t c0 = 0; c0 < g->channels; c0 += DW_NT) {
                    ptrdiff_t taps = g->channels - c0 < DW_NT ? g->channels - c0 : DW_NT;
                    WEIGHT_GRADIENT_TILES_f32[block][taps](v, d, 1, &products, offsets, oc0, c0,
                                                           sum);
                }
            }
        }
    }
    for (ptrdiff_t oc = 0; oc < g->out_channels; oc++)
        for (ptrdiff_t c = 0; c < g->channels; c++) {
            float m[4][4], t[3][4];
            for (int xi = 0; xi < 16; xi++)
                m[xi / 4][xi % 4] = sums[(xi * g->oc_padded + oc) * g->channels + c];
            for (int j = 0; j < 4; j++) {  /* G^T m */
                t[0][j] = m[0][j] + 0.5f * (m[1][j] + m[2][j]);
                t[1][j] = 0.5f * (m[1][j] - m[2][j]);
                t[2][j] = 0.5f * (m[1][j] + m[2][j]) + m[3][j];
            }
            float *w = dweights + (oc * g->channels + c) * 9;
            for (int i = 0; i < 3; i++) {  /* (G^T m) G */
                w[3 * i] += t[i][0] + 0.5f * (t[i][1] + t[i][2]);
                w[3 * i + 1] += 0.5f * (t[i][1] - t[i][2]);
                w[3 * i + 2] += 0.5f * (t[i][1] + t[i][2]) + t[i][3];
            }
        }
}
