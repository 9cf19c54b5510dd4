/* Winograd's transforms (winograd.h), written once over a vector: winograd.h includes this file
 * with WVEC the f32 vectors of the instruction set and, on AVX-512, again with vectors of 8
 * floats for maps at most 8 tiles wide, where 16 lanes would mostly hold nothing. W(op) names
 * that vector's operation, WLEN its lanes, WT(name) the function's name for it. */

/* Stage 1 for one image of the chunk (the chunk's image `member`) and every channel. Each image
 * row is split into its even and odd columns straight into the halves of its padded row
 * (halves[row][0] and [1]), shifted by the pad (an odd pad swaps the halves); the pad's places
 * are never written, so they stay zero, and lanes past the row's end load as zero. Then tile
 * (th, tw) reads columns 2tw..2tw+3 of rows 2th..2th+3, which are even[tw], odd[tw],
 * even[tw + 1] and odd[tw + 1]: vectors over the tiles of a row. */
static void WT(winograd_input)(const float *image, ptrdiff_t member,
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
            for (ptrdiff_t k = 0; 2 * k * WLEN < g->width; k++) {
                ptrdiff_t at = 2 * k * WLEN, left = g->width - at;
                WVEC a = W(load_first)(row + at, left < WLEN ? left : WLEN);
                left -= WLEN;
                WVEC b = left <= 0 ? W(zero)()
                                   : W(load_first)(row + at + WLEN, left < WLEN ? left : WLEN);
                WVEC e, o;
                W(deinterleave)(a, b, &e, &o);
                W(store)(evens + k * WLEN, e);
                W(store)(odds + k * WLEN, o);
            }
        }
        for (ptrdiff_t th = 0; th < g->tiles_h; th++) {
            float *first = V + c * g->stride + member * g->tiles + th * g->tiles_w;
            for (ptrdiff_t tw = 0; tw < g->tiles_w; tw += WLEN) {
                WVEC h[4][4];  /* d B, row by row */
                for (int r = 0; r < 4; r++) {
                    const float *even = halves + (2 * th + r) * 2 * g->half + tw;
                    const float *odd = even + g->half;
                    WVEC e0 = W(load)(even), e1 = W(load)(even + 1);
                    WVEC o0 = W(load)(odd), o1 = W(load)(odd + 1);
                    h[r][0] = W(sub)(e0, e1);
                    h[r][1] = W(add)(o0, e1);
                    h[r][2] = W(sub)(e1, o0);
                    h[r][3] = W(sub)(o0, o1);
                }
                float *out = first + tw;
                for (int j = 0; j < 4; j++) {  /* B^T (d B) */
                    W(store)(out + j * next, W(sub)(h[0][j], h[2][j]));
                    W(store)(out + (4 + j) * next, W(add)(h[1][j], h[2][j]));
                    W(store)(out + (8 + j) * next, W(sub)(h[2][j], h[1][j]));
                    W(store)(out + (12 + j) * next, W(sub)(h[1][j], h[3][j]));
                }
            }
        }
    }
}

/* Stage 3 for one image of the chunk: out (OC, out_h, out_w) of that image. The two outputs
 * of a tile row's tiles are interleaved into the output row; a last tile cut by an odd width
 * writes one. */
static void WT(winograd_output)(const float *M, ptrdiff_t member, const winograd_geometry *g,
                                const float *bias, int relu, float *out) {
    const ptrdiff_t next = g->oc_padded * g->stride;  /* M[xi + 1] */
    for (ptrdiff_t oc = 0; oc < g->out_channels; oc++) {
        WVEC start = W(set1)(bias != NULL ? bias[oc] : 0.0f);
        for (ptrdiff_t th = 0; th < g->tiles_h; th++) {
            const float *first = M + oc * g->stride + member * g->tiles + th * g->tiles_w;
            float *top_row = out + (oc * g->out_h + 2 * th) * g->out_w;
            int rows = 2 * th + 1 < g->out_h ? 2 : 1;
            for (ptrdiff_t tw = 0; tw < g->tiles_w; tw += WLEN) {
                WVEC m[16], p[4][2], y[2][2];
                for (int xi = 0; xi < 16; xi++) m[xi] = W(load)(first + xi * next + tw);
                for (int i = 0; i < 4; i++) {  /* M A */
                    p[i][0] = W(add)(W(add)(m[4 * i], m[4 * i + 1]), m[4 * i + 2]);
                    p[i][1] = W(sub)(W(sub)(m[4 * i + 1], m[4 * i + 2]), m[4 * i + 3]);
                }
                for (int j = 0; j < 2; j++) {  /* A^T (M A), plus the bias */
                    y[0][j] = W(add)(W(add)(start, p[0][j]), W(add)(p[1][j], p[2][j]));
                    y[1][j] = W(sub)(W(add)(start, p[1][j]), W(add)(p[2][j], p[3][j]));
                }
                ptrdiff_t values = g->out_w - 2 * tw;  /* left in the row */
                if (values > 2 * WLEN) values = 2 * WLEN;
                for (int r = 0; r < rows; r++) {
                    WVEC low, high;
                    W(interleave)(y[r][0], y[r][1], &low, &high);
                    if (relu) {
                        low = W(relu)(low);
                        high = W(relu)(high);
                    }
                    float *target = top_row + r * g->out_w + 2 * tw;
                    if (values >= WLEN) {
                        W(store)(target, low);
                        W(store_first)(target + WLEN, high, values - WLEN);
                    } else {
                        W(store_first)(target, low, values);
                    }
                }
            }
        }
    }
}

/* D of one image of the chunk (its image `member`), and each channel's sum of dy added to
 * dbias. dy's two rows of a tile row are split into even and odd columns (lanes past the row,
 * and a row past the map, are zero), then D = A dy A^T by vectors over the row's tiles. */
static void WT(winograd_output_gradient)(const float *dout, ptrdiff_t member,
                                         const winograd_geometry *g, float *D, float *dbias,
                                         float *halves) {
    const ptrdiff_t next = g->oc_padded * g->stride;  /* D[xi + 1] */
    const ptrdiff_t pieces = (g->out_w + 2 * WLEN - 1) / (2 * WLEN);
    for (ptrdiff_t oc = 0; oc < g->out_channels; oc++) {
        WVEC total = W(zero)();
        for (ptrdiff_t th = 0; th < g->tiles_h; th++) {
            for (int r = 0; r < 2; r++) {
                float *even = halves + 2 * r * g->half, *odd = even + g->half;
                ptrdiff_t oh = 2 * th + r;
                for (ptrdiff_t k = 0; k < pieces; k++) {
                    WVEC a = W(zero)(), b = W(zero)();
                    if (oh < g->out_h) {
                        const float *row = dout + (oc * g->out_h + oh) * g->out_w;
                        ptrdiff_t at = 2 * k * WLEN, left = g->out_w - at;
                        a = W(load_first)(row + at, left < WLEN ? left : WLEN);
                        left -= WLEN;
                        if (left > 0)
                            b = W(load_first)(row + at + WLEN, left < WLEN ? left : WLEN);
                        total = W(add)(total, W(add)(a, b));
                    }
                    WVEC e, o;
                    W(deinterleave)(a, b, &e, &o);
                    W(store)(even + k * WLEN, e);
                    W(store)(odd + k * WLEN, o);
                }
            }
            float *first = D + oc * g->stride + member * g->tiles + th * g->tiles_w;
            for (ptrdiff_t tw = 0; tw < g->tiles_w; tw += WLEN) {
                WVEC e0 = W(load)(halves + tw), o0 = W(load)(halves + g->half + tw);
                WVEC e1 = W(load)(halves + 2 * g->half + tw);
                WVEC o1 = W(load)(halves + 3 * g->half + tw);
                WVEC zero = W(zero)();
                WVEC u[4] = {e0, W(add)(e0, e1), W(sub)(e0, e1), W(sub)(zero, e1)};
                WVEC v[4] = {o0, W(add)(o0, o1), W(sub)(o0, o1), W(sub)(zero, o1)};
                float *out = first + tw;
                for (int i = 0; i < 4; i++) {  /* (A dy) A^T, row by row */
                    W(store)(out + (4 * i) * next, u[i]);
                    W(store)(out + (4 * i + 1) * next, W(add)(u[i], v[i]));
                    W(store)(out + (4 * i + 2) * next, W(sub)(u[i], v[i]));
                    W(store)(out + (4 * i + 3) * next, W(sub)(zero, v[i]));
                }
            }
        }
        dbias[oc] += W(sum)(total);
    }
}

