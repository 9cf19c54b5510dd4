/* Winograd's transforms (winograd.h), written once over a vector: winograd.h includes this file
 * with TYPE f32, the float vectors of the instruction set, and on AVX-512 again with f32x8,
 * vectors of 8 floats for maps at most 8 tiles wide, where 16 lanes would mostly hold nothing
 * (direct_conv_types.h gives the names: VEC, LANES, V(op), TYPED(name)). */

/* Stage 1 for one image of the chunk (the chunk's image `member`) and every channel. Each image
 * row is split into its even and odd columns straight into the halves of its padded row
 * (halves[row][0] and [1]), shifted by the pad (an odd pad swaps the halves); the pad's places
 * are never written, so they stay zero, and lanes past the row's end load as zero. Then tile
 * (th, tw) reads columns 2tw..2tw+3 of rows 2th..2th+3, which are even[tw], odd[tw],
 * even[tw + 1] and odd[tw + 1]: vectors over the tiles of a row. */
static void TYPED(winograd_input)(const float *image, ptrdiff_t member,
                               const winograd_geometry *g, float *V, float *halves) {
    const ptrdiff_t next = g->channels * g->stride;   /* V[xi + 1] */
    /* Image column 2k lands in padded column 2k + pad, image column 2k + 1 in 2k + 1 + pad. */
    const ptrdiff_t even_into = g->pad % 2, even_shift = g->pad / 2;
    const ptrdiff_t odd_shift = (g->pad + 1) / 2;
    for (ptrdiff_t c = 0; c < g->channels; c++) {
        for (ptrdiff_t ih = 0; ih < g->height; ih++) {
            const float *row = image + (c * g->height + ih) * g->width;
            float *padded = halves + (ih + g->pad) * 2 * g->half;
            float *evens = padded + even_into * g->half + even_shift;
            float *odds = padded + (1 - even_into) * g->half + odd_shift;
            for (ptrdiff_t k = 0; 2 * k * LANES < g->width; k++) {
                ptrdiff_t at = 2 * k * LANES, left = g->width - at;
                VEC a = V(load_first)(row + at, left < LANES ? left : LANES);
                left -= LANES;
                VEC b = left <= 0 ? V(zero)()
                                   : V(load_first)(row + at + LANES, left < LANES ? left : LANES);
                VEC e, o;
                V(deinterleave)(a, b, &e, &o);
                V(store)(evens + k * LANES, e);
                V(store)(odds + k * LANES, o);
            }
        }
        for (ptrdiff_t th = 0; th < g->tiles_h; th++) {
            float *first = V + c * g->stride + member * g->tiles + th * g->tiles_w;
            for (ptrdiff_t tw = 0; tw < g->tiles_w; tw += LANES) {
                VEC h[4][4];  /* d B, row by row */
                for (int r = 0; r < 4; r++) {
                    const float *even = halves + (2 * th + r) * 2 * g->half + tw;
                    const float *odd = even + g->half;
                    VEC e0 = V(load)(even), e1 = V(load)(even + 1);
                    VEC o0 = V(load)(odd), o1 = V(load)(odd + 1);
                    h[r][0] = V(sub)(e0, e1);
                    h[r][1] = V(add)(o0, e1);
                    h[r][2] = V(sub)(e1, o0);
                    h[r][3] = V(sub)(o0, o1);
                }
                float *out = first + tw;
                for (int j = 0; j < 4; j++) {  /* B^T (d B) */
                    V(store)(out + j * next, V(sub)(h[0][j], h[2][j]));
                    V(store)(out + (4 + j) * next, V(add)(h[1][j], h[2][j]));
                    V(store)(out + (8 + j) * next, V(sub)(h[2][j], h[1][j]));
                    V(store)(out + (12 + j) * next, V(sub)(h[1][j], h[3][j]));
                }
            }
        }
    }
}

/* Stage 3 for one image of the chunk: out (OC, out_h, out_w) of that image. The two outputs
 * of a tile row's tiles are interleaved into the output row; a last tile cut by an odd width
 * writes one. */
static void TYPED(winograd_output)(const float *M, ptrdiff_t member, const winograd_geometry *g,
                                const float *bias, int relu, float *out) {
    const ptrdiff_t next = g->oc_padded * g->stride;  /* M[xi + 1] */
    for (ptrdiff_t oc = 0; oc < g->out_channels; oc++) {
        VEC start = V(set1)(bias != NULL ? bias[oc] : 0.0f);
        for (ptrdiff_t th = 0; th < g->tiles_h; th++) {
            const float *first = M + oc * g->stride + member * g->tiles + th * g->tiles_w;
            float *top_row = out + (oc * g->out_h + 2 * th) * g->out_w;
            int rows = 2 * th + 1 < g->out_h ? 2 : 1;
            for (ptrdiff_t tw = 0; tw < g->tiles_w; tw += LANES) {
                VEC m[16], p[4][2], y[2][2];
                for (int xi = 0; xi < 16; xi++) m[xi] = V(load)(first + xi * next + tw);
                for (int i = 0; i < 4; i++) {  /* M A */
                    p[i][0] = V(add)(V(add)(m[4 * i], m[4 * i + 1]), m[4 * i + 2]);
                    p[i][1] = V(sub)(V(sub)(m[4 * i + 1], m[4 * i + 2]), m[4 * i + 3]);
                }
                for (int j = 0; j < 2; j++) {  /* A^T (M A), plus the bias */
                    y[0][j] = V(add)(V(add)(start, p[0][j]), V(add)(p[1][j], p[2][j]));
                    y[1][j] = V(sub)(V(add)(start, p[1][j]), V(add)(p[2][j], p[3][j]));
                }
                ptrdiff_t values = g->out_w - 2 * tw;  /* left in the row */
                if (values > 2 * LANES) values = 2 * LANES;
                for (int r = 0; r < rows; r++) {
                    VEC low, high;
                    V(interleave)(y[r][0], y[r][1], &low, &high);
                    if (relu) {
                        low = V(relu)(low);
                        high = V(relu)(high);
                    }
                    float *target = top_row + r * g->out_w + 2 * tw;
                    if (values >= LANES) {
                        V(store)(target, low);
                        V(store_first)(target + LANES, high, values - LANES);
                    } else {
                        V(store_first)(target, low, values);
                    }
                }
            }
        }
    }
}

/* D of one image of the chunk (its image `member`), and each channel's sum of dy added to
 * dbias. dy's two rows of a tile row are split into even and odd columns (lanes past the row,
 * and a row past the map, are zero), then D = A dy A^T by vectors over the row's tiles. */
static void TYPED(winograd_output_gradient)(const float *dout, ptrdiff_t member,
                                         const winograd_geometry *g, float *D, float *dbias,
                                         float *halves) {
    const ptrdiff_t next = g->oc_padded * g->stride;  /* D[xi + 1] */
    const ptrdiff_t pieces = (g->out_w + 2 * LANES - 1) / (2 * LANES);
    for (ptrdiff_t oc = 0; oc < g->out_channels; oc++) {
        VEC total = V(zero)();
        for (ptrdiff_t th = 0; th < g->tiles_h; th++) {
            for (int r = 0; r < 2; r++) {
                float *even = halves + 2 * r * g->half, *odd = even + g->half;
                ptrdiff_t oh = 2 * th + r;
                for (ptrdiff_t k = 0; k < pieces; k++) {
                    VEC a = V(zero)(), b = V(zero)();
                    if (oh < g->out_h) {
                        const float *row = dout + (oc * g->out_h + oh) * g->out_w;
                        ptrdiff_t at = 2 * k * LANES, left = g->out_w - at;
                        a = V(load_first)(row + at, left < LANES ? left : LANES);
                        left -= LANES;
                        if (left > 0)
                            b = V(load_first)(row + at + LANES, left < LANES ? left : LANES);
                        total = V(add)(total, V(add)(a, b));
                    }
                    VEC e, o;
                    V(deinterleave)(a, b, &e, &o);
                    V(store)(even + k * LANES, e);
                    V(store)(odd + k * LANES, o);
                }
            }
            float *first = D + oc * g->stride + member * g->tiles + th * g->tiles_w;
            for (ptrdiff_t tw = 0; tw < g->tiles_w; tw += LANES) {
                VEC e0 = V(load)(halves + tw), o0 = V(load)(halves + g->half + tw);
                VEC e1 = V(load)(halves + 2 * g->half + tw);
                VEC o1 = V(load)(halves + 3 * g->half + tw);
                VEC zero = V(zero)();
                VEC u[4] = {e0, V(add)(e0, e1), V(sub)(e0, e1), V(sub)(zero, e1)};
                VEC v[4] = {o0, V(add)(o0, o1), V(sub)(o0, o1), V(sub)(zero, o1)};
                float *out = first + tw;
                for (int i = 0; i < 4; i++) {  /* (A dy) A^T, row by row */
                    V(store)(out + (4 * i) * next, u[i]);
                    V(store)(out + (4 * i + 1) * next, V(add)(u[i], v[i]));
                    V(store)(out + (4 * i + 2) * next, V(sub)(u[i], v[i]));
                    V(store)(out + (4 * i + 3) * next, V(sub)(zero, v[i]));
                }
            }
        }
        dbias[oc] += V(sum)(total);
    }
}

#undef TYPE
