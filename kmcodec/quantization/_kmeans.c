/*
 * The compiled parts of kmcodec's k-means (kmcodec.quantization.kmeans): the variance-split
 * seeding and the nearest-centre search. Both are loops that numpy ran as many small calls.
 *
 * split: the loop of split_init, which makes one split per palette entry and in numpy paid a
 * dozen calls per split (a 256-colour palette of a small image spent most of its time in call
 * overhead). The algorithm is the one documented there:
 *
 *   start with one box holding every point; repeatedly take the box with the largest weighted
 *   squared error (ties: the box made first), and cut it along its axis of largest variance at
 *   the position, among 256 equal steps across the box's extent on that axis, that minimises
 *   the two halves' error; the centres are the boxes' weighted means.
 *
 * A box is a range of a permutation of the points; a cut partitions the range stably (each half
 * keeps the points' order), so the sums are taken in the same order on every run.
 *
 * nearest_two: each point's nearest and second-nearest centre, exact (ties to the lower
 * index). The centres are sorted by their projection on a unit axis u (the caller passes the
 * centres' principal axis); since |x - c| >= |u.x - u.c|, a point visits centres outwards from
 * its own projection and stops once the projection gap alone exceeds the second-best distance.
 * In colour data most of the spread is along one axis, so at K = 256 a point looks at a few
 * dozen centres instead of 256.
 *
 * Python API (module kmcodec.quantization._kmeans):
 *   split(points, weights, n, dims, k, out) -> int
 *     points: float64 (n * dims), dims 1-4; weights: float64 (n), >= 0;
 *     out: writable float64 (k * dims). Returns the number of centres written (fewer than k
 *     only when no box can be cut further).
 *   nearest_two(points, n, centers, k, dims, axis, guess, first, second, d1, d2) -> None
 *     points: float64 (n * dims); centers: float64 (k * dims), k >= 1; axis: float64 (dims),
 *     unit length; guess: int64 (n), a centre to try first for each point, or empty; first, second: writable int64 (n); d1, d2: writable float64 (n), squared
 *     distances (second = first and d2 = inf when k == 1).
 * Both release the GIL.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#define STEPS 256
#define DMAX 4

typedef struct {
    Py_ssize_t start, end; /* the box's points: order[start:end] */
    double weight, sums[DMAX], squares[DMAX], error;
    long made;             /* tie-breaker: the order boxes were made in */
    int open;              /* 0 once the box cannot be cut */
} box;

static double box_error(const box *b, int D) {
    double e = 0, s2 = 0;
    for (int d = 0; d < D; d++) {
        e += b->squares[d];
        s2 += b->sums[d] * b->sums[d];
    }
    return b->weight > 0 ? e - s2 / b->weight : 0.0;
}

/* Returns the number of boxes made, or -1 when memory runs out. */
static Py_ssize_t run(const double *x, const double *w, Py_ssize_t n, int D, int k,
                      double *out) {
    Py_ssize_t *order = (Py_ssize_t *)malloc(sizeof(Py_ssize_t) * (size_t)n);
    Py_ssize_t *tmp = (Py_ssize_t *)malloc(sizeof(Py_ssize_t) * (size_t)n);
    unsigned char *bin = (unsigned char *)malloc((size_t)n);
    box *boxes = (box *)calloc((size_t)k, sizeof(box));
    if (!order || !tmp || !bin || !boxes) {
        free(order); free(tmp); free(bin); free(boxes);
        return -1;
    }
    box *b0 = &boxes[0];
    b0->start = 0; b0->end = n; b0->open = 1;
    for (Py_ssize_t i = 0; i < n; i++) {
        order[i] = i;
        b0->weight += w[i];
        for (int d = 0; d < D; d++) {
            double wx = w[i] * x[i * D + d];
            b0->sums[d] += wx;
            b0->squares[d] += wx * x[i * D + d];
        }
    }
    b0->error = box_error(b0, D);
    int count = 1;
    long made = 1;
    double cw[STEPS], cs[DMAX][STEPS], cq[DMAX][STEPS];
    while (count < k) {
        int pick = -1;
        for (int i = 0; i < count; i++) {
            box *b = &boxes[i];
            if (!b->open) continue;
            if (pick < 0 || b->error > boxes[pick].error ||
                (b->error == boxes[pick].error && b->made < boxes[pick].made))
                pick = i;
        }
        if (pick < 0) break;
        box *b = &boxes[pick];
        if (!(b->error > 0)) { b->open = 0; continue; }
        int axis = 0;
        double best_var = -INFINITY;
        for (int d = 0; d < D; d++) {
            double v = b->squares[d] - b->sums[d] * b->sums[d] / b->weight;
            if (v > best_var) { best_var = v; axis = d; }
        }
        double low = INFINITY, high = -INFINITY;
        for (Py_ssize_t j = b->start; j < b->end; j++) {
            double v = x[order[j] * D + axis];
            if (v < low) low = v;
            if (v > high) high = v;
        }
        if (!(high > low)) { b->open = 0; continue; }
        double scale = STEPS / (high - low);
        memset(cw, 0, sizeof cw); memset(cs, 0, sizeof cs); memset(cq, 0, sizeof cq);
        for (Py_ssize_t j = b->start; j < b->end; j++) {
            Py_ssize_t i = order[j];
            long s = (long)((x[i * D + axis] - low) * scale);
            if (s > STEPS - 1) s = STEPS - 1;
            bin[i] = (unsigned char)s;
            cw[s] += w[i];
            for (int d = 0; d < D; d++) {
                double wx = w[i] * x[i * D + d];
                cs[d][s] += wx;
                cq[d][s] += wx * x[i * D + d];
            }
        }
        for (int s = 1; s < STEPS; s++) {
            cw[s] += cw[s - 1];
            for (int d = 0; d < D; d++) { cs[d][s] += cs[d][s - 1]; cq[d][s] += cq[d][s - 1]; }
        }
        int cut = -1;
        double best = -INFINITY;
        for (int s = 0; s < STEPS; s++) {
            double right = b->weight - cw[s];
            if (!(cw[s] > 0) || !(right > 0)) continue;
            double l2 = 0, r2 = 0;
            for (int d = 0; d < D; d++) {
                double r = b->sums[d] - cs[d][s];
                l2 += cs[d][s] * cs[d][s];
                r2 += r * r;
            }
            double score = l2 / cw[s] + r2 / right;
            if (score > best) { best = score; cut = s; }
        }
        if (cut < 0) { b->open = 0; continue; }
        /* stable partition: steps <= cut first */
        Py_ssize_t m = b->start, t = 0;
        for (Py_ssize_t j = b->start; j < b->end; j++) {
            Py_ssize_t i = order[j];
            if (bin[i] <= cut) order[m++] = i; else tmp[t++] = i;
        }
        memcpy(order + m, tmp, sizeof(Py_ssize_t) * (size_t)t);
        b->made = made++; /* the lower half is made first */
        box *r = &boxes[count++];
        r->start = m; r->end = b->end; r->open = 1; r->made = made++;
        r->weight = b->weight - cw[cut];
        for (int d = 0; d < D; d++) {
            r->sums[d] = b->sums[d] - cs[d][cut];
            r->squares[d] = b->squares[d] - cq[d][cut];
        }
        r->error = box_error(r, D);
        b->end = m;
        b->weight = cw[cut];
        for (int d = 0; d < D; d++) { b->sums[d] = cs[d][cut]; b->squares[d] = cq[d][cut]; }
        b->error = box_error(b, D);
    }
    for (int i = 0; i < count; i++)
        for (int d = 0; d < D; d++) out[i * D + d] = boxes[i].sums[d] / boxes[i].weight;
    free(order); free(tmp); free(bin); free(boxes);
    return count;
}

static PyObject *py_split(PyObject *self, PyObject *args) {
    Py_buffer px, wt, out;
    Py_ssize_t n;
    int D, k;
    if (!PyArg_ParseTuple(args, "y*y*niiw*", &px, &wt, &n, &D, &k, &out)) return NULL;
    int ok = n >= 1 && D >= 1 && D <= DMAX && k >= 1 && k <= n &&
             px.len == n * D * (Py_ssize_t)sizeof(double) &&
             wt.len == n * (Py_ssize_t)sizeof(double) &&
             out.len == (Py_ssize_t)k * D * (Py_ssize_t)sizeof(double);
    Py_ssize_t made = 0;
    if (ok) {
        Py_BEGIN_ALLOW_THREADS
        made = run((const double *)px.buf, (const double *)wt.buf, n, D, k, (double *)out.buf);
        Py_END_ALLOW_THREADS
    }
    PyBuffer_Release(&px); PyBuffer_Release(&wt); PyBuffer_Release(&out);
    if (!ok) {
        PyErr_SetString(PyExc_ValueError, "split: buffer sizes do not match");
        return NULL;
    }
    if (made < 0) return PyErr_NoMemory();
    return PyLong_FromSsize_t(made);
}

typedef struct { double p; double c[DMAX]; int j; } projected; /* a centre and its projection */

static int by_projection(const void *a, const void *b) {
    const projected *x = (const projected *)a, *y = (const projected *)b;
    if (x->p < y->p) return -1;
    if (x->p > y->p) return 1;
    return x->j - y->j;
}

/* Offer centre j at squared distance d: keep the two nearest, ties to the lower index. */
#define OFFER(d, j)                                                        \
    do {                                                                   \
        if ((j) != j1 && (j) != j2) {                                      \
            if ((d) < b1 || ((d) == b1 && (j) < j1)) {                     \
                b2 = b1; j2 = j1; b1 = (d); j1 = (j);                      \
            } else if ((d) < b2 || ((d) == b2 && (j) < j2)) {              \
                b2 = (d); j2 = (j);                                        \
            }                                                              \
        }                                                                  \
    } while (0)

static inline __attribute__((always_inline)) double sqdist(const double *a, const double *b,
                                                          const int D) {
    double d = 0;
    for (int t = 0; t < D; t++) {
        double v = a[t] - b[t];
        d += v * v;
    }
    return d;
}

/* The search for points of D dimensions; called with D a constant, so that the distance
 * loops unroll. */
static inline __attribute__((always_inline)) void search(
    const double *x, Py_ssize_t n, const double *cen, const projected *e, int K, const int D,
    const double *u, const int64_t *guess, int64_t *first, int64_t *second, double *d1,
    double *d2) {
    int pos = 0; /* the first rank whose projection is >= q; points come in histogram order,
                    so it moves little from one point to the next */
    for (Py_ssize_t i = 0; i < n; i++) {
        const double *xi = x + i * D;
        double q = 0;
        for (int t = 0; t < D; t++) q += u[t] * xi[t];
        while (pos < K && e[pos].p < q) pos++;
        while (pos > 0 && e[pos - 1].p >= q) pos--;
        double b1 = INFINITY, b2 = INFINITY;
        int j1 = K, j2 = K;
        /* Good bounds from the start narrow the scan: the guess (a point's previous centre),
         * and the previous point's two centres (neighbours in the histogram are similar). */
        if (guess && guess[i] >= 0 && guess[i] < K) {
            int g = (int)guess[i];
            OFFER(sqdist(xi, cen + (size_t)g * D, D), g);
        }
        if (i > 0) {
            int g = (int)first[i - 1];
            OFFER(sqdist(xi, cen + (size_t)g * D, D), g);
            g = (int)second[i - 1];
            OFFER(sqdist(xi, cen + (size_t)g * D, D), g);
        }
        /* |x - c| >= |u.x - u.c|; the margin covers the rounding of the projections */
        for (int r = pos; r < K; r++) {
            double gap = e[r].p - q;
            if (gap * gap > b2 * (1 + 1e-9) + 1e-9) break;
            OFFER(sqdist(xi, e[r].c, D), e[r].j);
        }
        for (int r = pos - 1; r >= 0; r--) {
            double gap = q - e[r].p;
            if (gap * gap > b2 * (1 + 1e-9) + 1e-9) break;
            OFFER(sqdist(xi, e[r].c, D), e[r].j);
        }
        first[i] = j1; d1[i] = b1;
        if (K == 1) { second[i] = j1; d2[i] = INFINITY; }
        else { second[i] = j2; d2[i] = b2; }
    }
}

static int nearest(const double *x, Py_ssize_t n, const double *cen, int K, int D,
                   const double *u, const int64_t *guess, int64_t *first, int64_t *second,
                   double *d1, double *d2) {
    projected *e = (projected *)calloc((size_t)K, sizeof(projected));
    if (!e) return -1;
    for (int j = 0; j < K; j++) {
        for (int t = 0; t < D; t++) {
            e[j].c[t] = cen[j * D + t];
            e[j].p += u[t] * cen[j * D + t];
        }
        e[j].j = j;
    }
    qsort(e, (size_t)K, sizeof(projected), by_projection);
    if (D == 3) search(x, n, cen, e, K, 3, u, guess, first, second, d1, d2);
    else if (D == 4) search(x, n, cen, e, K, 4, u, guess, first, second, d1, d2);
    else search(x, n, cen, e, K, D, u, guess, first, second, d1, d2);
    free(e);
    return 0;
}

static PyObject *py_nearest_two(PyObject *self, PyObject *args) {
    Py_buffer px, cen, ax, gs, f, s, e1, e2;
    Py_ssize_t n;
    int K, D;
    if (!PyArg_ParseTuple(args, "y*ny*iiy*y*w*w*w*w*", &px, &n, &cen, &K, &D, &ax, &gs, &f, &s,
                          &e1, &e2))
        return NULL;
    int ok = n >= 0 && D >= 1 && D <= DMAX && K >= 1 &&
             px.len == n * D * (Py_ssize_t)sizeof(double) &&
             cen.len == (Py_ssize_t)K * D * (Py_ssize_t)sizeof(double) &&
             ax.len == D * (Py_ssize_t)sizeof(double) &&
             (gs.len == 0 || gs.len == n * (Py_ssize_t)sizeof(int64_t)) &&
             f.len == n * (Py_ssize_t)sizeof(int64_t) && s.len == f.len &&
             e1.len == n * (Py_ssize_t)sizeof(double) && e2.len == e1.len;
    int rc = 0;
    if (ok) {
        Py_BEGIN_ALLOW_THREADS
        rc = nearest((const double *)px.buf, n, (const double *)cen.buf, K, D,
                     (const double *)ax.buf, gs.len ? (const int64_t *)gs.buf : NULL,
                     (int64_t *)f.buf, (int64_t *)s.buf,
                     (double *)e1.buf, (double *)e2.buf);
        Py_END_ALLOW_THREADS
    }
    PyBuffer_Release(&px); PyBuffer_Release(&cen); PyBuffer_Release(&ax); PyBuffer_Release(&gs);
    PyBuffer_Release(&f); PyBuffer_Release(&s); PyBuffer_Release(&e1); PyBuffer_Release(&e2);
    if (!ok) {
        PyErr_SetString(PyExc_ValueError, "nearest_two: buffer sizes do not match");
        return NULL;
    }
    if (rc) return PyErr_NoMemory();
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"split", py_split, METH_VARARGS, "split(points, weights, n, dims, k, out) -> int"},
    {"nearest_two", py_nearest_two, METH_VARARGS,
     "nearest_two(points, n, centers, k, dims, axis, guess, first, second, d1, d2) -> None"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_kmeans", "Compiled seeding and nearest-centre search of kmcodec's k-means.", -1,
    methods,
};

PyMODINIT_FUNC PyInit__kmeans(void) { return PyModule_Create(&module); }
