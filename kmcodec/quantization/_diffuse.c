/*
 * Error diffusion (Floyd-Steinberg and kin) for kmcodec's quantiser: the one sequential loop of
 * the remap step, compiled. Each pixel, in serpentine order, takes the palette entry nearest to
 * its colour plus the error diffused to it (scaled by the dither map, clamped); the difference
 * between that colour and the entry, times the strength, is spread to the pixels not yet done.
 *
 * The nearest entry is exact and found without looking at all K entries: starting from the
 * entry the previous pixel took, entries are visited in order of their distance to it, and the
 * search stops once that distance exceeds the distance to the best so far plus the distance
 * to the starting entry (by the triangle inequality no later entry can be nearer).
 *
 * Python API (module kmcodec.quantization._diffuse):
 *   diffuse(pixels, width, height, channels, lut, palette, colors, weights, kernel, strength,
 *           clamp, out) -> None
 *     pixels: uint8 (height * width * channels); lut: float32 (256), each colour channel's
 *     value in the space the error is diffused in, 0-255 scale (alpha is taken as it is);
 *     palette: float32 (colors * channels), already in that space;
 *     weights: float32 (height * width), the dither map, 0..1; kernel: 0 Floyd-Steinberg,
 *     1 Sierra Lite, 2 Atkinson; out: writable uint8 (height * width). Releases the GIL.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct { int dx, dy; float w; } tap;

/* Kernels, written for left-to-right rows; a right-to-left row mirrors dx. */
static const tap FLOYD[] = {{1, 0, 7.f / 16}, {-1, 1, 3.f / 16}, {0, 1, 5.f / 16}, {1, 1, 1.f / 16}};
static const tap SIERRA_LITE[] = {{1, 0, 2.f / 4}, {-1, 1, 1.f / 4}, {0, 1, 1.f / 4}};
static const tap ATKINSON[] = {{1, 0, 1.f / 8}, {2, 0, 1.f / 8}, {-1, 1, 1.f / 8},
                               {0, 1, 1.f / 8}, {1, 1, 1.f / 8}, {0, 2, 1.f / 8}};

typedef struct { float d; int j; } neighbour;

static int by_distance(const void *a, const void *b) {
    const neighbour *x = (const neighbour *)a, *y = (const neighbour *)b;
    if (x->d < y->d) return -1;
    if (x->d > y->d) return 1;
    return x->j - y->j;
}

static int run(const unsigned char *px, int W, int H, int C, const float *lut, const float *pal,
               int K,
               const float *weights, int kernel, float strength, float clamp,
               unsigned char *out) {
    const tap *taps = kernel == 1 ? SIERRA_LITE : kernel == 2 ? ATKINSON : FLOYD;
    int ntaps = kernel == 1 ? 3 : kernel == 2 ? 6 : 4;
    int rows = kernel == 2 ? 3 : 2;
    const int PAD = 2;
    size_t stride = (size_t)(W + 2 * PAD) * C;
    float *err = (float *)calloc(stride * rows, sizeof(float));
    float *palf = (float *)malloc(sizeof(float) * K * C);
    neighbour *order = (neighbour *)malloc(sizeof(neighbour) * (size_t)K * K);
    if (!err || !palf || !order) { free(err); free(palf); free(order); return -1; }
    for (int i = 0; i < K * C; i++) palf[i] = pal[i];
    /* For each entry, every entry by increasing distance (squared distances). */
    for (int a = 0; a < K; a++) {
        for (int b = 0; b < K; b++) {
            float d = 0;
            for (int c = 0; c < C; c++) {
                float t = palf[a * C + c] - palf[b * C + c];
                d += t * t;
            }
            order[(size_t)a * K + b].d = d;
            order[(size_t)a * K + b].j = b;
        }
        qsort(order + (size_t)a * K, K, sizeof(neighbour), by_distance);
    }
    int guess = 0;
    float col[4], e[4];
    for (int y = 0; y < H; y++) {
        float *cur = err + (size_t)(y % rows) * stride;
        int left_to_right = (y % 2) == 0;
        for (int i = 0; i < W; i++) {
            int x = left_to_right ? i : W - 1 - i;
            size_t p = (size_t)y * W + x;
            float w = weights[p];
            float *ein = cur + (size_t)(x + PAD) * C;
            for (int c = 0; c < C; c++) {
                float v = ein[c];
                if (v > clamp) v = clamp;
                if (v < -clamp) v = -clamp;
                v = (c < 3 ? lut[px[p * C + c]] : (float)px[p * C + c]) + w * v;
                col[c] = v < 0 ? 0 : v > 255 ? 255 : v;
                ein[c] = 0;  /* this row's slot is reused three rows on */
            }
            /* nearest entry, searched outwards from the previous pixel's */
            const neighbour *nb = order + (size_t)guess * K;
            int best = guess;
            float bestd = 0;
            for (int c = 0; c < C; c++) {
                float t = col[c] - palf[guess * C + c];
                bestd += t * t;
            }
            /* An entry j can only beat the best b if |g - j| < |col - b| + |col - g|; the
             * entries come by |g - j|, so the first beyond that bound ends the search. */
            float rg = sqrtf(bestd), bound = 4 * bestd;
            for (int n = 1; n < K; n++) {
                if (nb[n].d > bound) break;
                int j = nb[n].j;
                float d = 0;
                for (int c = 0; c < C && d <= bestd; c++) {  /* past bestd: not nearer */
                    float t = col[c] - palf[j * C + c];
                    d += t * t;
                }
                if (d < bestd || (d == bestd && j < best)) {
                    bestd = d;
                    best = j;
                    float r = sqrtf(bestd) + rg;
                    bound = r * r;
                }
            }
            out[p] = (unsigned char)best;
            guess = best;
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
    free(err); free(palf); free(order);
    return 0;
}

static PyObject *py_diffuse(PyObject *self, PyObject *args) {
    Py_buffer px, lut, pal, wt, out;
    int W, H, C, K, kernel;
    float strength, clamp;
    if (!PyArg_ParseTuple(args, "y*iiiy*y*iy*iffw*", &px, &W, &H, &C, &lut, &pal, &K, &wt,
                          &kernel, &strength, &clamp, &out))
        return NULL;
    int ok = W > 0 && H > 0 && (C == 3 || C == 4) && K >= 1 && K <= 256 &&
             px.len == (Py_ssize_t)W * H * C &&
             lut.len == 256 * (Py_ssize_t)sizeof(float) &&
             pal.len == (Py_ssize_t)K * C * (Py_ssize_t)sizeof(float) &&
             wt.len == (Py_ssize_t)W * H * (Py_ssize_t)sizeof(float) &&
             out.len == (Py_ssize_t)W * H && kernel >= 0 && kernel <= 2;
    int rc = 0;
    if (ok) {
        Py_BEGIN_ALLOW_THREADS
        rc = run((const unsigned char *)px.buf, W, H, C, (const float *)lut.buf,
                 (const float *)pal.buf, K,
                 (const float *)wt.buf, kernel, strength, clamp, (unsigned char *)out.buf);
        Py_END_ALLOW_THREADS
    }
    PyBuffer_Release(&px); PyBuffer_Release(&lut); PyBuffer_Release(&pal); PyBuffer_Release(&wt); PyBuffer_Release(&out);
    if (!ok) {
        PyErr_SetString(PyExc_ValueError, "diffuse: buffer sizes do not match");
        return NULL;
    }
    if (rc) return PyErr_NoMemory();
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"diffuse", py_diffuse, METH_VARARGS,
     "diffuse(pixels, width, height, channels, lut, palette, colors, weights, kernel,"
     " strength, clamp, out) -> None"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_diffuse", "Compiled error diffusion of kmcodec's quantiser.", -1,
    methods,
};

PyMODINIT_FUNC PyInit__diffuse(void) { return PyModule_Create(&module); }
