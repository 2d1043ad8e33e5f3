/*
 * Error diffusion (Floyd-Steinberg and kin) for kmcodec's quantiser: the one sequential loop of
 * the remap step, compiled. Each pixel, in serpentine order, takes the palette entry nearest to
 * its colour plus the error diffused to it (scaled by the dither map, clamped); the difference
 * between that colour and the entry, times the strength, is spread to the pixels not yet done.
 *
 * The nearest entry is exact (ties: the lower index) and found without looking at all K
 * entries: a grid over the colour space lists, per cell, the entries that can be nearest to a
 * colour in it (see cell_grid below), built for a cell the first time a pixel lands there.
 *
 * Python API (module kmcodec.quantization._diffuse):
 *   diffuse(pixels, width, height, channels, lut, palette, palette8, colors, weights, kernel,
 *           strength, clamp, out[, scale, edge_start, edge_ramp]) -> int
 *     pixels: uint8 (height * width * channels); lut: float32 (256), each colour channel's
 *     value in the space the error is diffused in, 0-255 scale (alpha is taken as it is);
 *     palette: float32 (colors * channels), already in that space; palette8: the same entries
 *     as stored, uint8 (colors * channels), for the returned sum of squared errors (sRGB
 *     levels, every channel);
 *     weights: float32 (height * width), the dither map, 0..1; or empty, and then scale
 *     (uint8, height * width) with the map's edge_start and edge_ramp: each row's weights are
 *     made as the loop reaches it, the dither map (as maps makes it) times scale / 255, so no
 *     plane of floats is held (4 bytes a pixel); kernel: 0 Floyd-Steinberg, 1 Sierra Lite,
 *     2 Atkinson; out: writable uint8 (height * width). Releases the GIL.
 *   maps(pixels, width, height, channels, edge_start, edge_ramp, noise_half, dmap, noise)
 *       -> None
 *     The dither map (remap.dither_map) into dmap and the palette search's pixel weights
 *     (quantize.importance_counts) into noise, each unless its buffer is empty (not both);
 *     both writable float32 (height * width). The same float32 arithmetic as the numpy these replaced, in the same
 *     order. Releases the GIL.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#include "../_portable.h"

/* Row r of the image (clamped to 0..H-1), with its edge pixels repeated one step outwards:
 * luma (as numpy computed it, in float32: (r * .299 + g * .587) + b * .114) and colour codes. */
static void fill_row(const unsigned char *px, int W, int H, int C, int r, float *luma,
                     uint32_t *code) {
    int sy = r < 0 ? 0 : r >= H ? H - 1 : r;
    for (int x = -1; x <= W; x++) {
        int sx = x < 0 ? 0 : x >= W ? W - 1 : x;
        const unsigned char *q = px + ((size_t)sy * W + sx) * C;
        luma[x + 1] = (float)q[0] * 0.299f + (float)q[1] * 0.587f + (float)q[2] * 0.114f;
        uint32_t c = ((uint32_t)q[0] << 16) | ((uint32_t)q[1] << 8) | q[2];
        code[x + 1] = C == 4 ? (c << 8) | q[3] : c;
    }
}

/* The dither map and the palette search's weights, a row at a time, in order (rows 0, 1, ...):
 * luma and colour codes of three rows (the one above, this one, the one below), with a
 * one-pixel border repeating the image's edge: a ring of rows, not a copy of the image (8
 * bytes a pixel would be 190 MB at 24 MP). Row r (-1..H) lives in slot (r + 1) % 3. */
typedef struct {
    const unsigned char *px;
    int W, H, C;
    float edge_start, edge_ramp, noise_half;
    size_t PW;
    float *luma;
    uint32_t *code;
} map_rows;

static int map_init(map_rows *m, const unsigned char *px, int W, int H, int C, float edge_start,
                    float edge_ramp, float noise_half) {
    m->px = px; m->W = W; m->H = H; m->C = C;
    m->edge_start = edge_start; m->edge_ramp = edge_ramp; m->noise_half = noise_half;
    m->PW = (size_t)W + 2;
    m->luma = (float *)malloc(sizeof(float) * m->PW * 3);
    m->code = (uint32_t *)malloc(sizeof(uint32_t) * m->PW * 3);
    if (!m->luma || !m->code) { free(m->luma); free(m->code); return -1; }
    for (int r = -1; r <= 0; r++)
        fill_row(px, W, H, C, r, m->luma + (size_t)(r + 1) * m->PW, m->code + (size_t)(r + 1) * m->PW);
    return 0;
}

static void map_free(map_rows *m) { free(m->luma); free(m->code); }

/* Row y's dither map into dmap (W floats, unless NULL) and weights into noise (unless NULL). */
static void map_row(map_rows *m, int y, float *dmap, float *noise) {
    const unsigned char *px = m->px;
    const int W = m->W, H = m->H, C = m->C;
    const size_t PW = m->PW;
    const float edge_start = m->edge_start, edge_ramp = m->edge_ramp, noise_half = m->noise_half;
    float *luma = m->luma;
    uint32_t *code = m->code;
    int below = (y + 2) % 3;
    fill_row(px, W, H, C, y + 1, luma + (size_t)below * PW, code + (size_t)below * PW);
    const float *l0 = luma + (size_t)(y % 3) * PW, *l1 = luma + (size_t)((y + 1) % 3) * PW,
                *l2 = luma + (size_t)below * PW;
    const uint32_t *c0 = code + (size_t)(y % 3) * PW, *c1 = code + (size_t)((y + 1) % 3) * PW,
                   *c2 = code + (size_t)below * PW;
    for (int x = 0; x < W; x++) {
        size_t p = (size_t)x;
        float v = l1[x + 1];
        /* edges: the largest luma difference to the four neighbours */
        float diff = fabsf(l0[x + 1] - v);
        float d = fabsf(l2[x + 1] - v);
        if (d > diff) diff = d;
        d = fabsf(l1[x] - v);
        if (d > diff) diff = d;
        d = fabsf(l1[x + 2] - v);
        if (d > diff) diff = d;
        float wgt = 1.0f - (diff - edge_start) / edge_ramp;
        wgt = wgt < 0 ? 0 : wgt > 1 ? 1 : wgt;
        /* a flat fill: the pixel and its eight neighbours one colour, */
        uint32_t c = c1[x + 1];
        int flat = (c0[x] == c) & (c0[x + 1] == c) & (c0[x + 2] == c) & (c1[x] == c) &
                   (c1[x + 2] == c) & (c2[x] == c) & (c2[x + 1] == c) & (c2[x + 2] == c);
        /* or the edge between two such fills: two colours in all (text, lines, borders;
         * a photo's gradients and textures hold more) */
        if (!flat) {
            uint32_t other = c;
            const uint32_t ring[8] = {c0[x], c0[x + 1], c0[x + 2], c1[x],
                                      c1[x + 2], c2[x], c2[x + 1], c2[x + 2]};
            int two = 1;
            for (int r = 0; r < 8 && two; r++) {
                if (ring[r] == c || ring[r] == other) continue;
                if (other == c) other = ring[r];
                else two = 0;
            }
            flat = two;
        }
        if (flat) wgt = 0;
        if (dmap) dmap[p] = wgt;
        if (noise) {
            /* the 3x3 sums in the order numpy took them: row by row */
            float s1 = 0, s2 = 0;
            const float *rows[3] = {l0, l1, l2};
            for (int dy = 0; dy < 3; dy++)
                for (int dx = 0; dx < 3; dx++) {
                    float u = rows[dy][x + dx];
                    s1 += u;
                    s2 += u * u;
                }
            float var = s2 / 9 - (s1 / 9) * (s1 / 9);
            if (var < 0) var = 0;
            noise[p] = wgt > 0 ? 1.0f / (1.0f + sqrtf(var) / noise_half) : 1.0f;
        }
    }
}

typedef struct { int dx, dy; float w; } tap;

/* Kernels, written for left-to-right rows; a right-to-left row mirrors dx. */
static const tap FLOYD[] = {{1, 0, 7.f / 16}, {-1, 1, 3.f / 16}, {0, 1, 5.f / 16}, {1, 1, 1.f / 16}};
static const tap SIERRA_LITE[] = {{1, 0, 2.f / 4}, {-1, 1, 1.f / 4}, {0, 1, 1.f / 4}};
static const tap ATKINSON[] = {{1, 0, 1.f / 8}, {2, 0, 1.f / 8}, {-1, 1, 1.f / 8},
                               {0, 1, 1.f / 8}, {1, 1, 1.f / 8}, {0, 2, 1.f / 8}};

/* The nearest entry through a grid of cells over the colour space, each cell (a box) holding,
 * once a pixel lands in it, the entries that can be nearest to some colour in it. Cells are
 * equal steps of each channel's 0-255; 16 coarse cells per channel (4 with
 * alpha) hold the candidates of the fine cells inside them (32 or 64 per channel, 16 with
 * alpha), so that making a fine cell's list looks at a few dozen entries, not all K: a
 * dithered photo touches tens of thousands of fine cells, and building them from all K was
 * half of the loop's time at K = 256. */
typedef struct {
    int C, K, levels, coarse;      /* cells per channel: fine, coarse (coarse divides fine) */
    float step;                    /* a fine cell's width: 256 / levels, a power of two */
    const float *pal;
    int32_t *start;      /* per fine cell: offset of its entries in pool, -1 until needed */
    uint16_t *count;
    int32_t *cstart;     /* the same per coarse cell */
    uint16_t *ccount;
    uint8_t *pool;
    size_t len, cap;
} cell_grid;

static int grid_init(cell_grid *g, const float *pal, int K, int C) {
    memset(g, 0, sizeof(*g));
    g->C = C; g->K = K; g->pal = pal;
    g->levels = C == 3 ? (K > 64 ? 64 : 32) : 16;
    g->coarse = C == 3 ? 16 : 4;
    const int L = g->levels;
    g->step = 256.0f / (float)L;
    size_t cells = 1, ccells = 1;
    for (int c = 0; c < C; c++) { cells *= (size_t)L; ccells *= (size_t)g->coarse; }
    g->start = (int32_t *)malloc(sizeof(int32_t) * cells);
    g->count = (uint16_t *)malloc(sizeof(uint16_t) * cells);
    g->cstart = (int32_t *)malloc(sizeof(int32_t) * ccells);
    g->ccount = (uint16_t *)malloc(sizeof(uint16_t) * ccells);
    if (!g->start || !g->count || !g->cstart || !g->ccount) return -1;
    for (size_t i = 0; i < cells; i++) g->start[i] = -1;
    for (size_t i = 0; i < ccells; i++) g->cstart[i] = -1;
    return 0;
}

static void grid_free(cell_grid *g) {
    free(g->start); free(g->count); free(g->cstart); free(g->ccount); free(g->pool);
}

/* Append to the pool the entries (of the n at pool offset `from`, or all K if `all`) that can
 * be nearest to a colour in the box lo..hi; return their offset (count in *out_n), or -1 when
 * out of memory. With U the smallest, over the entries, of an entry's largest distance to the
 * box, a colour in the box has its nearest entry within U, so only entries whose smallest
 * distance to the box is at most U can be nearest. A box keeps every entry that a box inside
 * it keeps (its U is no smaller, its smallest distances no larger), so a fine cell needs to
 * look only at its coarse cell's entries. */
KMQ_INLINE int32_t
grid_build(cell_grid *g, const int C, const float *lo, const float *hi, size_t from, int n,
           int all, int *out_n) {
    float mind[256], upper = INFINITY;
    if (g->len + (size_t)n > g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 65536;
        while (cap < g->len + (size_t)n) cap *= 2;
        uint8_t *pool = (uint8_t *)realloc(g->pool, cap);
        if (!pool) return -1;
        g->pool = pool; g->cap = cap;
    }
    for (int i = 0; i < n; i++) {
        int j = all ? i : g->pool[from + (size_t)i];
        float dmin = 0, dmax = 0;
        for (int c = 0; c < C; c++) {
            float v = g->pal[j * C + c];
            float below = lo[c] - v, above = v - hi[c];
            float out = below > 0 ? below : above > 0 ? above : 0;
            float a = v - lo[c], b = hi[c] - v;
            float far = a > b ? a : b;
            dmin += out * out;
            dmax += far * far;
        }
        mind[i] = dmin;
        if (dmax < upper) upper = dmax;
    }
    float limit = upper * (1 + 1e-4f) + 1e-3f;  /* the margin covers float rounding */
    int count = 0;
    for (int i = 0; i < n; i++)
        if (mind[i] <= limit)
            g->pool[g->len + (size_t)count++] = all ? (uint8_t)i : g->pool[from + (size_t)i];
    int32_t at = (int32_t)g->len;
    g->len += (size_t)count;
    *out_n = count;
    return at;
}

/* The candidate entries of the cell holding col (in index order), or NULL when out of memory.
 * col is in 0..255 in every channel. */
KMQ_INLINE const uint8_t *
grid_cell(cell_grid *g, const int C, const float *col, int *n) {
    const int L = g->levels, sub = g->levels / g->coarse;
    size_t ci = 0;
    int idx[4];
    for (int c = 0; c < C; c++) {
        int v = (int)(col[c] / g->step);  /* col is 0..255: v is 0..L-1 */
        idx[c] = v < 0 ? 0 : v >= L ? L - 1 : v;
        ci = ci * (size_t)L + (size_t)idx[c];
    }
    if (g->start[ci] < 0) {
        float lo[4], hi[4];
        size_t cc = 0;
        for (int c = 0; c < C; c++) {
            int first = idx[c] / sub * sub;
            lo[c] = (float)first * g->step;
            hi[c] = (float)(first + sub) * g->step;
            cc = cc * (size_t)g->coarse + (size_t)(idx[c] / sub);
        }
        if (g->cstart[cc] < 0) {
            int cn;
            int32_t at = grid_build(g, C, lo, hi, 0, g->K, 1, &cn);
            if (at < 0) return NULL;
            g->cstart[cc] = at;
            g->ccount[cc] = (uint16_t)cn;
        }
        for (int c = 0; c < C; c++) {
            lo[c] = (float)idx[c] * g->step;
            hi[c] = (float)(idx[c] + 1) * g->step;
        }
        int fn;
        int32_t at = grid_build(g, C, lo, hi, (size_t)g->cstart[cc], g->ccount[cc], 0, &fn);
        if (at < 0) return NULL;
        g->start[ci] = at;
        g->count[ci] = (uint16_t)fn;
    }
    *n = g->count[ci];
    return g->pool + g->start[ci];
}

KMQ_INLINE int
run_channels(const unsigned char *px, int W, int H, const int C, const float *lut,
             const float *pal, const unsigned char *pal8, int K, const float *weights,
             map_rows *rows_map, const unsigned char *scale, int kernel, float strength,
             float clamp, unsigned char *out, unsigned long long *sse) {
    unsigned long long total = 0;
    const tap *taps = kernel == 1 ? SIERRA_LITE : kernel == 2 ? ATKINSON : FLOYD;
    int ntaps = kernel == 1 ? 3 : kernel == 2 ? 6 : 4;
    int rows = kernel == 2 ? 3 : 2;
    const int PAD = 2;
    size_t stride = (size_t)(W + 2 * PAD) * C;
    float *err = (float *)calloc(stride * rows, sizeof(float));
    float *palf = (float *)malloc(sizeof(float) * K * C);
    /* Without weights, each row's are made as it comes: its dither map times scale / 255. */
    float *wrow = weights ? NULL : (float *)malloc(sizeof(float) * (size_t)W);
    float share[256];
    for (int i = 0; i < 256; i++) share[i] = (float)i / 255.0f;
    cell_grid grid;
    int grid_rc = grid_init(&grid, pal, K, C);
    if (!err || !palf || grid_rc || (!weights && !wrow)) {
        free(err); free(palf); free(wrow); grid_free(&grid); return -1;
    }
    for (int i = 0; i < K * C; i++) palf[i] = pal[i];
    float col[4], e[4];
    for (int y = 0; y < H; y++) {
        float *cur = err + (size_t)(y % rows) * stride;
        int left_to_right = (y % 2) == 0;
        if (!weights) {
            map_row(rows_map, y, wrow, NULL);
            const unsigned char *srow = scale + (size_t)y * W;
            for (int x = 0; x < W; x++) wrow[x] *= share[srow[x]];
        }
        for (int i = 0; i < W; i++) {
            int x = left_to_right ? i : W - 1 - i;
            size_t p = (size_t)y * W + x;
            float w = weights ? weights[p] : wrow[x];
            float *ein = cur + (size_t)(x + PAD) * C;
            for (int c = 0; c < C; c++) {
                float v = ein[c];
                if (v > clamp) v = clamp;
                if (v < -clamp) v = -clamp;
                v = (c < 3 ? lut[px[p * C + c]] : (float)px[p * C + c]) + w * v;
                col[c] = v < 0 ? 0 : v > 255 ? 255 : v;
                ein[c] = 0;  /* this row's slot is reused three rows on */
            }
            /* the nearest entry among the cell's candidates (ties: the lower index) */
            int ncand;
            const uint8_t *cand = grid_cell(&grid, C, col, &ncand);
            if (!cand) { free(err); free(palf); free(wrow); grid_free(&grid); return -1; }
            int best = cand[0];
            float bestd = INFINITY;
            for (int n = 0; n < ncand; n++) {
                int j = cand[n];
                float d = 0;
                for (int c = 0; c < C; c++) {
                    float t = col[c] - palf[j * C + c];
                    d += t * t;
                }
                if (d < bestd) { bestd = d; best = j; }
            }
            out[p] = (unsigned char)best;
            for (int c = 0; c < C; c++) { /* the stored error, in sRGB levels */
                int d = (int)px[p * C + c] - (int)pal8[best * C + c];
                total += (unsigned long long)(d * d);
            }
            for (int c = 0; c < C; c++) e[c] = (col[c] - palf[best * C + c]) * strength;
            for (int t = 0; t < ntaps; t++) {
                int dx = left_to_right ? taps[t].dx : -taps[t].dx;
                int xx = x + dx;
                if (xx < -PAD || xx >= W + PAD) continue;
                float *dst = err + (size_t)((y + taps[t].dy) % rows) * stride + (size_t)(xx + PAD) * C;
                for (int c = 0; c < C; c++) dst[c] += e[c] * taps[t].w;
            }
        }
    }
    free(err); free(palf); free(wrow); grid_free(&grid);
    *sse = total;
    return 0;
}

/* The loop with the channel count a constant (3 or 4), so that the compiler unrolls the
 * per-channel loops. */
static int run(const unsigned char *px, int W, int H, int C, const float *lut, const float *pal,
               const unsigned char *pal8, int K, const float *weights, map_rows *rows_map,
               const unsigned char *scale, int kernel, float strength, float clamp,
               unsigned char *out, unsigned long long *sse) {
    if (C == 3)
        return run_channels(px, W, H, 3, lut, pal, pal8, K, weights, rows_map, scale, kernel,
                            strength, clamp, out, sse);
    return run_channels(px, W, H, 4, lut, pal, pal8, K, weights, rows_map, scale, kernel,
                        strength, clamp, out, sse);
}

static int maps(const unsigned char *px, int W, int H, int C, float edge_start, float edge_ramp,
                float noise_half, float *dmap, float *noise) {
    map_rows m;
    if (map_init(&m, px, W, H, C, edge_start, edge_ramp, noise_half)) return -1;
    for (int y = 0; y < H; y++)
        map_row(&m, y, dmap ? dmap + (size_t)y * W : NULL, noise ? noise + (size_t)y * W : NULL);
    map_free(&m);
    return 0;
}

static PyObject *py_maps(PyObject *Py_UNUSED(self), PyObject *args) {
    Py_buffer px, dm, nz;
    int W, H, C;
    float edge_start, edge_ramp, noise_half;
    if (!PyArg_ParseTuple(args, "y*iiifffw*w*", &px, &W, &H, &C, &edge_start, &edge_ramp,
                          &noise_half, &dm, &nz))
        return NULL;
    /* Either map may be left out (an empty buffer), not both. */
    const Py_ssize_t plane = (Py_ssize_t)W * H * (Py_ssize_t)sizeof(float);
    int ok = W > 0 && H > 0 && (C == 3 || C == 4) && px.len == (Py_ssize_t)W * H * C &&
             (dm.len == plane || dm.len == 0) && (nz.len == plane || nz.len == 0) &&
             dm.len + nz.len > 0 && edge_ramp > 0 && noise_half > 0;
    int rc = 0;
    if (ok) {
        Py_BEGIN_ALLOW_THREADS
        rc = maps((const unsigned char *)px.buf, W, H, C, edge_start, edge_ramp, noise_half,
                  dm.len ? (float *)dm.buf : NULL, nz.len ? (float *)nz.buf : NULL);
        Py_END_ALLOW_THREADS
    }
    PyBuffer_Release(&px); PyBuffer_Release(&dm); PyBuffer_Release(&nz);
    if (!ok) {
        PyErr_SetString(PyExc_ValueError, "maps: buffer sizes do not match");
        return NULL;
    }
    if (rc) return PyErr_NoMemory();
    Py_RETURN_NONE;
}

static PyObject *py_diffuse(PyObject *Py_UNUSED(self), PyObject *args) {
    Py_buffer px, lut, pal, pal8, wt, out, scale = {0};
    int W, H, C, K, kernel;
    float strength, clamp, edge_start = 0, edge_ramp = 0;
    if (!PyArg_ParseTuple(args, "y*iiiy*y*y*iy*iffw*|y*ff", &px, &W, &H, &C, &lut, &pal, &pal8,
                          &K, &wt, &kernel, &strength, &clamp, &out, &scale, &edge_start,
                          &edge_ramp))
        return NULL;
    /* weights (W * H floats), or none and scale (W * H bytes) with the map's edge settings */
    int inline_map = wt.len == 0;
    int ok = W > 0 && H > 0 && (C == 3 || C == 4) && K >= 1 && K <= 256 &&
             px.len == (Py_ssize_t)W * H * C &&
             lut.len == 256 * (Py_ssize_t)sizeof(float) &&
             pal.len == (Py_ssize_t)K * C * (Py_ssize_t)sizeof(float) &&
             pal8.len == (Py_ssize_t)K * C &&
             (inline_map ? scale.buf != NULL && scale.len == (Py_ssize_t)W * H && edge_ramp > 0
                         : wt.len == (Py_ssize_t)W * H * (Py_ssize_t)sizeof(float)) &&
             out.len == (Py_ssize_t)W * H && kernel >= 0 && kernel <= 2;
    int rc = 0;
    unsigned long long sse = 0;
    if (ok) {
        Py_BEGIN_ALLOW_THREADS
        map_rows m;
        if (inline_map && map_init(&m, (const unsigned char *)px.buf, W, H, C, edge_start,
                                   edge_ramp, 1.0f))
            rc = -1;
        else {
            rc = run((const unsigned char *)px.buf, W, H, C, (const float *)lut.buf,
                     (const float *)pal.buf, (const unsigned char *)pal8.buf, K,
                     inline_map ? NULL : (const float *)wt.buf, inline_map ? &m : NULL,
                     inline_map ? (const unsigned char *)scale.buf : NULL, kernel, strength,
                     clamp, (unsigned char *)out.buf, &sse);
            if (inline_map) map_free(&m);
        }
        Py_END_ALLOW_THREADS
    }
    PyBuffer_Release(&px); PyBuffer_Release(&lut); PyBuffer_Release(&pal);
    PyBuffer_Release(&pal8); PyBuffer_Release(&wt); PyBuffer_Release(&out);
    if (scale.buf) PyBuffer_Release(&scale);
    if (!ok) {
        PyErr_SetString(PyExc_ValueError, "diffuse: buffer sizes do not match");
        return NULL;
    }
    if (rc) return PyErr_NoMemory();
    return PyLong_FromUnsignedLongLong(sse);
}

static PyMethodDef methods[] = {
    {"diffuse", py_diffuse, METH_VARARGS,
     "diffuse(pixels, width, height, channels, lut, palette, palette8, colors, weights, kernel,"
     " strength, clamp, out[, scale, edge_start, edge_ramp]) -> sse"},
    {"maps", py_maps, METH_VARARGS,
     "maps(pixels, width, height, channels, edge_start, edge_ramp, noise_half, dmap, noise)"
     " -> None"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_diffuse", "Compiled error diffusion of kmcodec's quantiser.", -1,
    methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__diffuse(void) { return PyModule_Create(&module); }
