/* The direct kernels for one element type, written once: direct_conv.h includes this file twice,
 * with `real` float and TYPE f32, then double and f64 (see direct_conv_types.h for the names
 * they give). Read direct_conv.h first. */

/* The output's size (out_h, out_w) comes from the caller, which has it from the one output-size
 * formula of cnn_ext.geometry; the kernels derive only their own layout from it. */
static conv_geometry TYPED(make_geometry)(ptrdiff_t channels, ptrdiff_t height, ptrdiff_t width,
                                          ptrdiff_t out_channels, ptrdiff_t filter_h,
                                          ptrdiff_t filter_w, ptrdiff_t pad_h, ptrdiff_t pad_w,
                                          ptrdiff_t stride, ptrdiff_t out_h, ptrdiff_t out_w) {
    conv_geometry g;
    g.channels = channels; g.height = height; g.width = width; g.out_channels = out_channels;
    g.filter_h = filter_h; g.filter_w = filter_w; g.pad_h = pad_h; g.pad_w = pad_w;
    g.stride = stride;
    g.phases_h = stride < filter_h ? stride : filter_h;
    g.phases_w = stride < filter_w ? stride : filter_w;
    /* The rows and columns the outputs reach: the padded image with stride 1, a phase plane
     * with a larger stride. */
    g.padded_h = out_h + (filter_h - 1) / stride;
    g.padded_w = out_w + (filter_w - 1) / stride;
    g.plane = g.padded_h * g.padded_w;
    g.out_h = out_h;
    g.out_w = out_w;
    g.positions = g.out_h * g.padded_w;
    g.wide = round_up(g.positions, LANES);
    g.image = channels * g.phases_h * g.phases_w * g.plane;
    g.slack = g.wide - g.positions + filter_w + LANES;
    g.in_step = channels * height * width;
    g.out_step = out_channels * out_h * out_w;
    g.taps = channels * filter_h * filter_w;
    g.oc_padded = round_up(out_channels, FWD_MR);
    g.dw_rows = round_up(out_channels, DW_MR);
    return g;
}

/* Copy image (C, H, W) into its phase planes (stride above 1): plane (p, q) of channel c holds
 * padded row s * i + p, column s * j + q at (i, j); the border, and whatever lies past it, zero.
 * Each plane's columns j0 <= j < j1 come from the image, the rest are zero. */
static void TYPED(phase_image)(const real *image, const conv_geometry *g, real *planes) {
    const ptrdiff_t s = g->stride;
    for (ptrdiff_t q = 0; q < g->phases_w; q++) {
        const ptrdiff_t last = g->width - 1 + g->pad_w - q;  /* the last column's j * s */
        ptrdiff_t j0 = g->pad_w > q ? (g->pad_w - q + s - 1) / s : 0;
        ptrdiff_t j1 = last < 0 ? 0 : last / s + 1;
        if (j1 > g->padded_w) j1 = g->padded_w;
        if (j0 > j1) j0 = j1;
        for (ptrdiff_t c = 0; c < g->channels; c++)
            for (ptrdiff_t p = 0; p < g->phases_h; p++) {
                real *target = planes + ((c * g->phases_h + p) * g->phases_w + q) * g->plane;
                for (ptrdiff_t i = 0; i < g->padded_h; i++, target += g->padded_w) {
                    const ptrdiff_t ih = s * i + p - g->pad_h;
                    if (ih < 0 || ih >= g->height) {
                        for (ptrdiff_t j = 0; j < g->padded_w; j++) target[j] = 0;
                        continue;
                    }
                    const real *row = image + (c * g->height + ih) * g->width + q - g->pad_w;
                    for (ptrdiff_t j = 0; j < j0; j++) target[j] = 0;
                    if (s == 2)  /* a constant step, which the compiler vectorises */
                        for (ptrdiff_t j = j0; j < j1; j++) target[j] = row[2 * j];
                    else
                        for (ptrdiff_t j = j0; j < j1; j++) target[j] = row[s * j];
                    for (ptrdiff_t j = j1; j < g->padded_w; j++) target[j] = 0;
                }
            }
    }
}

/* Copy image (C, H, W) into its padded planes; the border is zero. Rows are short (8 to 28
 * values here), so plain loops, which the compiler vectorises, beat a memcpy call per row.
 * With a stride above 1, its phase planes instead. */
static void TYPED(pad_image)(const real *image, const conv_geometry *g, real *padded) {
    if (g->stride > 1) {
        TYPED(phase_image)(image, g, padded);
        return;
    }
    const ptrdiff_t border = g->pad_h * g->padded_w, right = g->padded_w - g->pad_w - g->width;
    for (ptrdiff_t c = 0; c < g->channels; c++) {
        real *target = padded + c * g->plane;
        for (ptrdiff_t i = 0; i < border; i++) *target++ = 0;
        for (ptrdiff_t ih = 0; ih < g->height; ih++) {
            const real *row = image + (c * g->height + ih) * g->width;
            for (ptrdiff_t i = 0; i < g->pad_w; i++) *target++ = 0;
            for (ptrdiff_t i = 0; i < g->width; i++) *target++ = row[i];
            for (ptrdiff_t i = 0; i < right; i++) *target++ = 0;
        }
        for (ptrdiff_t i = 0; i < border; i++) *target++ = 0;
    }
}

/* ---- forward ---------------------------------------------------------------------------- */

ROWS_UP_TO(FWD_MR, DEFINE_FORWARD_TILES)

typedef void (*TYPED(forward_tile))(const real *, const ptrdiff_t *, ptrdiff_t, const real *,
                                    const real *, real *, ptrdiff_t);

/* FORWARD_TILES[MR][NV] */
static const TYPED(forward_tile) TYPED(FORWARD_TILES)[FWD_MR + 1][FWD_NV + 1] = {
    {NULL}, ROWS_UP_TO(FWD_MR, FORWARD_TILE_ROW)};

/* Elements of scratch direct_forward needs, and how many offsets. */
static ptrdiff_t TYPED(forward_scratch_size)(const conv_geometry *g) {
    return g->image + g->slack + g->oc_padded * g->wide + g->oc_padded * g->taps + g->oc_padded;
}

/* Weights (OC, taps) packed as [channel block][tap][FWD_MR] (zeros past OC), and the bias
 * (OC,) padded to whole blocks, zeros for none. */
static void TYPED(pack_weights)(const real *weights, const real *bias, const conv_geometry *g,
                                real *packed, real *bias_padded) {
    for (ptrdiff_t block = 0; block < g->oc_padded; block += FWD_MR)
        for (ptrdiff_t t = 0; t < g->taps; t++)
            for (int m = 0; m < FWD_MR; m++)
                packed[block * g->taps + t * FWD_MR + m] =
                    block + m < g->out_channels ? weights[(block + m) * g->taps + t] : 0;
    for (ptrdiff_t oc = 0; oc < g->oc_padded; oc++)
        bias_padded[oc] = bias != NULL && oc < g->out_channels ? bias[oc] : 0;
}

/* One image's outputs (OC, out_h, out_w) into target, from its laid-out planes: register tiles
 * over the wide grid, then the outputs copied off it (max(value, 0) with relu). */
static void TYPED(forward_image)(const real *padded, const conv_geometry *g, const real *packed,
                                 const real *bias_padded, const ptrdiff_t *offsets, int relu,
                                 real *wide_out, real *target) {
    const ptrdiff_t tile = FWD_NV * LANES;
    for (ptrdiff_t block = 0; block < g->out_channels; block += FWD_MR) {
        const real *w = packed + block * g->taps;
        real *rows = wide_out + block * g->wide;
        int channels = g->out_channels - block < FWD_MR ? (int)(g->out_channels - block) : FWD_MR;
        ptrdiff_t q = 0;
        for (; q + tile <= g->wide; q += tile)
            TYPED(FORWARD_TILES)[channels][FWD_NV](padded + q, offsets, g->taps, w,
                                                   bias_padded + block, rows + q, g->wide);
        if (q < g->wide)
            TYPED(FORWARD_TILES)[channels][(g->wide - q) / LANES](
                padded + q, offsets, g->taps, w, bias_padded + block, rows + q, g->wide);
    }
    for (ptrdiff_t oc = 0; oc < g->out_channels; oc++)
        for (ptrdiff_t oh = 0; oh < g->out_h; oh++) {
            const real *row = wide_out + oc * g->wide + oh * g->padded_w;
            if (relu)
                for (ptrdiff_t ow = 0; ow < g->out_w; ow++) {
                    real value = row[ow];
                    *target++ = value <= 0 ? 0 : value;
                }
            else
                for (ptrdiff_t ow = 0; ow < g->out_w; ow++) *target++ = row[ow];
        }
}

/* out (n, OC, out_h, out_w) = conv(x (n, C, H, W), weights (OC, C, filter_h, filter_w)) + bias,
 * bias (OC,) or NULL for none; with `relu` nonzero, max(that, 0) instead (a NaN stays NaN), written
 * as the outputs leave the wide grid, so the activation costs no pass of its own. */
static void TYPED(direct_forward)(const real *x, ptrdiff_t n_images, const conv_geometry *g,
                                  const real *weights, const real *bias, int relu, real *out,
                                  real *scratch, ptrdiff_t *offsets) {
    real *padded = scratch;
    real *wide_out = padded + g->image + g->slack;
    real *packed = wide_out + g->oc_padded * g->wide;
    real *bias_padded = packed + g->oc_padded * g->taps;

    memset(padded + g->image, 0, (size_t)g->slack * sizeof(real));
    TYPED(pack_weights)(weights, bias, g, packed, bias_padded);
    tap_offsets(g, offsets);
    for (ptrdiff_t n = 0; n < n_images; n++) {
        TYPED(pad_image)(x + n * g->in_step, g, padded);
        TYPED(forward_image)(padded, g, packed, bias_padded, offsets, relu, wide_out,
                             out + n * g->out_step);
    }
}

/* Elements of scratch direct_grouped_forward needs, g being one group's convolution; it needs
 * g->taps offsets. */
static ptrdiff_t TYPED(grouped_forward_scratch_size)(const conv_geometry *g, ptrdiff_t groups) {
    return g->image + g->slack + g->oc_padded * g->wide
           + groups * (g->oc_padded * g->taps + g->oc_padded);
}

/* A grouped convolution, g being one group's: group k's g->channels channels of x (n, groups *
 * g->channels, H, W) convolved with its g->out_channels filters of weights (groups *
 * g->out_channels, g->channels, filter_h, filter_w) plus bias (or NULL), into its output
 * channels. Every group's weights are packed once; then image by image and group by group, in
 * memory order (a depthwise layer's planes are small: the packing per call of direct_forward
 * made it 1.25 times slower). */
static void TYPED(direct_grouped_forward)(const real *x, ptrdiff_t n_images, ptrdiff_t groups,
                                          const conv_geometry *g, const real *weights,
                                          const real *bias, real *out, real *scratch,
                                          ptrdiff_t *offsets) {
    real *padded = scratch;
    real *wide_out = padded + g->image + g->slack;
    real *packed = wide_out + g->oc_padded * g->wide;
    real *bias_padded = packed + groups * g->oc_padded * g->taps;
    const ptrdiff_t in_group = g->channels * g->height * g->width;
    const ptrdiff_t out_group = g->out_channels * g->out_h * g->out_w;

    memset(padded + g->image, 0, (size_t)g->slack * sizeof(real));
    for (ptrdiff_t k = 0; k < groups; k++)
        TYPED(pack_weights)(weights + k * g->out_channels * g->taps,
                            bias == NULL ? NULL : bias + k * g->out_channels, g,
                            packed + k * g->oc_padded * g->taps, bias_padded + k * g->oc_padded);
    tap_offsets(g, offsets);
    for (ptrdiff_t n = 0; n < n_images; n++)
        for (ptrdiff_t k = 0; k < groups; k++) {
            TYPED(pad_image)(x + (n * groups + k) * in_group, g, padded);
            TYPED(forward_image)(padded, g, packed + k * g->oc_padded * g->taps,
                                 bias_padded + k * g->oc_padded, offsets, 0, wide_out,
                                 out + (n * groups + k) * out_group);
        }
}

/* ---- weight and bias gradients ----------------------------------------------------------- */

static ptrdiff_t TYPED(dw_images_per_block)(const conv_geometry *g, ptrdiff_t n_images) {
    ptrdiff_t per_image = (g->image + g->dw_rows * g->wide) * (ptrdiff_t)sizeof(real);
    ptrdiff_t block = DW_BLOCK_BYTES / per_image;
    if (block < 1) block = 1;
    return block < n_images ? block : n_images;
}

static ptrdiff_t TYPED(backward_scratch_size)(const conv_geometry *g, ptrdiff_t block) {
    return block * (g->image + g->dw_rows * g->wide) + g->slack;
}

/* The output gradient of one image on the wide grid (zero at the dropped positions and in the
 * padded channels), and its sum per channel added to dbias. */
static void TYPED(widen_gradient)(const real *dout, const conv_geometry *g, real *wide,
                                  real *dbias) {
    const ptrdiff_t dropped = g->padded_w - g->out_w;
    for (ptrdiff_t oc = 0; oc < g->dw_rows; oc++) {
        real *target = wide + oc * g->wide;
        real total = 0;
        for (ptrdiff_t oh = 0; oh < g->out_h && oc < g->out_channels; oh++) {
            const real *row = dout + (oc * g->out_h + oh) * g->out_w;
            for (ptrdiff_t ow = 0; ow < g->out_w; ow++) {
                total += row[ow];
                *target++ = row[ow];
            }
            for (ptrdiff_t i = 0; i < dropped; i++) *target++ = 0;
        }
        for (real *end = wide + (oc + 1) * g->wide; target < end;) *target++ = 0;
        if (oc < g->out_channels) dbias[oc] += total;
    }
}

ROWS_UP_TO(DW_MR, DEFINE_WEIGHT_GRADIENT_TILES)

typedef void (*TYPED(weight_gradient_tile))(const real *, const real *, ptrdiff_t,
                                            const conv_geometry *, const ptrdiff_t *, ptrdiff_t,
                                            ptrdiff_t, real *);

/* WEIGHT_GRADIENT_TILES[MR][NT] */
static const TYPED(weight_gradient_tile) TYPED(WEIGHT_GRADIENT_TILES)[DW_MR + 1][DW_NT + 1] = {
    {NULL}, ROWS_UP_TO(DW_MR, WEIGHT_GRADIENT_TILE_ROW)};

/* dweights (OC, C * filter_h * filter_w) and dbias (OC,) += the gradients over these images.
 * Blocks of images are padded and widened into scratch (a block stays in the L2 cache);
 * within a block, groups of images keep a channel tile's gradient rows in L1 while every tap
 * block reads them, and each tile's vector sums are reduced once per group. */
static void TYPED(direct_weight_gradient)(const real *x, const real *dout, ptrdiff_t n_images,
                                          const conv_geometry *g, real *dweights, real *dbias,
                                          real *scratch, ptrdiff_t *offsets) {
    ptrdiff_t block = TYPED(dw_images_per_block)(g, n_images);
    ptrdiff_t group = DW_GROUP_BYTES / (DW_MR * g->wide * (ptrdiff_t)sizeof(real));
    real *padded = scratch;                          /* block images, then the slack */
    real *wide = padded + block * g->image + g->slack;
    if (group < 1) group = 1;
    tap_offsets(g, offsets);
    for (ptrdiff_t first = 0; first < n_images; first += block) {
        ptrdiff_t count = n_images - first < block ? n_images - first : block;
        for (ptrdiff_t b = 0; b < count; b++) {
            ptrdiff_t n = first + b;
            TYPED(pad_image)(x + n * g->in_step, g, padded + b * g->image);
            TYPED(widen_gradient)(dout + n * g->out_step, g,
                                  wide + b * g->dw_rows * g->wide, dbias);
        }
        memset(padded + count * g->image, 0, (size_t)g->slack * sizeof(real));
        for (ptrdiff_t start = 0; start < count; start += group) {
            ptrdiff_t members = count - start < group ? count - start : group;
            for (ptrdiff_t oc0 = 0; oc0 < g->out_channels; oc0 += DW_MR) {
                ptrdiff_t rows = g->out_channels - oc0 < DW_MR ? g->out_channels - oc0 : DW_MR;
                for (ptrdiff_t t0 = 0; t0 < g->taps; t0 += DW_NT) {
                    ptrdiff_t taps = g->taps - t0 < DW_NT ? g->taps - t0 : DW_NT;
                    TYPED(WEIGHT_GRADIENT_TILES)[rows][taps](
                        padded + start * g->image, wide + start * g->dw_rows * g->wide, members,
                        g, offsets, oc0, t0, dweights);
                }
            }
        }
    }
}

#undef real
#undef TYPE
