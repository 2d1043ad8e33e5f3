/*
 * The compiled parts of kmcodec's k-means (kmcodec.quantization.kmeans): the variance-split
 * seeding, the nearest-centre search, Lloyd's iterations with Hamerly's bounds, and the swap
 * move of refine_by_swaps. All are loops that numpy ran as many small calls (at K = 256 on a
 * small image most of the time went to call overhead and to arrays of every point rebuilt for
 * a few changed ones).
 *
 * split: the loop of split_init, one split per palette entry:
 *
 *   start with one box holding every point; repeatedly take the box with the largest weighted
 *   squared error (ties: the box made first), and cut it along its axis of largest variance at
 *   the position, among 256 equal steps across the box's extent on that axis, that minimises
 *   the two halves' error; the centres are the boxes' weighted means.
 *
 *   A box is a range of a permutation of the points; a cut partitions the range stably (each
 *   half keeps the points' order), so the sums are taken in the same order on every run.
 *
 * The nearest-centre search is exact (ties to the lower index): the centres are sorted by their
 * projection on an axis u (their principal axis, by power iteration; any unit axis would be
 * exact, this one prunes best); since |x - c| >= |u.x - u.c|, a point visits centres outwards
 * from its own projection, after trying the centres it is likely nearest to, and stops once
 * the projection gap alone exceeds its second-best distance. In colour data most of the spread
 * is along one axis, so at K = 256 a point looks at 15-20 centres instead of 256.
 *
 * lloyd: the iterations of kmeans.lloyd on a state (centres, labels, Hamerly's upper bound on
 * each point's distance to its centre and lower bound on its distance to every other centre):
 * weighted means (an empty cluster is re-seeded at the worst-fitted point), bounds loosened by
 * how far centres moved, and only points whose bounds overlap looked at again.
 *
 * move_two: refine_by_swaps' move of two centres, the state kept exact: a point of a moved
 * centre searches again; any other point compares its centre with the two moved ones.
 *
 * cheaper: perceptual.py's choice, for each colour, between two candidate entries by squared
 * sRGB distance plus lam times Oklab distance, and the sums its step moves the entries by.
 *
 * Python API (module kmcodec.quantization._kmeans); arrays are C-contiguous, points float64
 * (n * dims), dims 1-4, centers float64 (k * dims), k >= 1, labels int64 (n), bounds float64:
 *   split(points, weights, n, dims, k, out) -> int
 *     weights >= 0; out: writable (k * dims). Returns the number of centres written (fewer
 *     than k only when no box can be cut further).
 *   nearest_two(points, n, centers, k, dims, guess, first, second, d1, d2) -> None
 *     guess: int64 (n), a centre to try first for each point, or empty; first, second: int64
 *     (n); d1, d2: squared distances (second = first and d2 = inf when k == 1). second and d2
 *     empty: the nearest only (a narrower scan).
 *   lloyd(points, weights, n, centers, k, dims, labels, upper, lower, max_iter, tol) -> int
 *     centers, labels, upper, lower updated in place; returns the iterations run.
 *   move_two(points, n, centers, k, dims, a, b, labels, upper, lower) -> None
 *     centers already holds the new places of centres a and b; the state is updated in place.
 *   distances(points, n, centers, k, dims, labels, out) -> None
 *     out: float64 (n), each point's squared distance to centre labels[i] (< k).
 *   cheaper(points, lab, weights, n, dims, centers, center_lab, k, lam, a, b, chosen, other,
 *           gap, near, count, sums, inv, inv_sums) -> None
 *     dims 3-4 (the first three sRGB), k <= 256; lab float32 (n * 3), center_lab float64
 *     (k * 3): Oklab; a, b: uint8 (n) candidates < k; chosen, other: uint8 (n), written; gap:
 *     float32 (n) or empty, the other's Oklab distance less the chosen one's.
 *     weights empty: the choice only (count, sums, inv, inv_sums may be empty); else count,
 *     inv (k) and sums, inv_sums (k * dims) are written (see cheaper()).
 * All release the GIL.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#include "../_portable.h"

#define STEPS 256
#define MOVERS 8 /* centres a Lloyd iteration looks at exactly when bounds overlap */
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

static PyObject *py_split(PyObject *Py_UNUSED(self), PyObject *args) {
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

/* The centres sorted by projection, and a cursor: the first rank at or above the last point's
 * projection (points come in histogram order, so it moves little from one to the next). */
typedef struct {
    int K, D, pos;
    double u[DMAX];
    const double *cen;
    projected *e;
} sorted_centres;

/* The principal axis of the centres, by power iteration on their covariance. */
static void principal_axis(const double *cen, int K, int D, double *u) {
    double mean[DMAX] = {0}, cov[DMAX][DMAX] = {{0}};
    for (int j = 0; j < K; j++)
        for (int t = 0; t < D; t++) mean[t] += cen[j * D + t] / K;
    for (int j = 0; j < K; j++)
        for (int a = 0; a < D; a++)
            for (int b = 0; b < D; b++)
                cov[a][b] += (cen[j * D + a] - mean[a]) * (cen[j * D + b] - mean[b]);
    double v[DMAX];
    for (int t = 0; t < D; t++) v[t] = 1.0 + 0.01 * t; /* not orthogonal to a grey axis */
    for (int it = 0; it < 32; it++) {
        double nv[DMAX] = {0}, norm = 0;
        for (int a = 0; a < D; a++)
            for (int b = 0; b < D; b++) nv[a] += cov[a][b] * v[b];
        for (int t = 0; t < D; t++) norm += nv[t] * nv[t];
        if (!(norm > 1e-300) || !isfinite(norm)) break; /* no spread: keep the last axis */
        norm = sqrt(norm);
        for (int t = 0; t < D; t++) v[t] = nv[t] / norm;
    }
    double norm = 0;
    for (int t = 0; t < D; t++) norm += v[t] * v[t];
    norm = sqrt(norm);
    for (int t = 0; t < D; t++) u[t] = v[t] / norm;
}

static int sorted_build(sorted_centres *s, const double *cen, int K, int D) {
    s->K = K; s->D = D; s->pos = 0; s->cen = cen;
    s->e = (projected *)calloc((size_t)K, sizeof(projected));
    if (!s->e) return -1;
    principal_axis(cen, K, D, s->u);
    for (int j = 0; j < K; j++) {
        for (int t = 0; t < D; t++) {
            s->e[j].c[t] = cen[j * D + t];
            s->e[j].p += s->u[t] * cen[j * D + t];
        }
        s->e[j].j = j;
    }
    qsort(s->e, (size_t)K, sizeof(projected), by_projection);
    return 0;
}

KMQ_INLINE double sqdist(const double *a, const double *b,
                                                          const int D) {
    double d = 0;
    for (int t = 0; t < D; t++) {
        double v = a[t] - b[t];
        d += v * v;
    }
    return d;
}

/* Offer centre j at squared distance d: keep the two nearest, ties to the lower index. */
#define OFFER(d, j)                                                        \
    do {                                                                   \
        if ((j) != *j1 && (j) != *j2) {                                    \
            if ((d) < *b1 || ((d) == *b1 && (j) < *j1)) {                  \
                *b2 = *b1; *j2 = *j1; *b1 = (d); *j1 = (j);                \
            } else if ((d) < *b2 || ((d) == *b2 && (j) < *j2)) {           \
                *b2 = (d); *j2 = (j);                                      \
            }                                                              \
        }                                                                  \
    } while (0)

/* The two nearest centres of one point, trying the hints (centre indices, -1: none) first. */
KMQ_INLINE void find_two(sorted_centres *s, const double *xi,
                                                          const int D, int h0, int h1, int h2,
                                                          int *j1, double *b1, int *j2,
                                                          double *b2) {
    const int K = s->K;
    const projected *e = s->e;
    *b1 = INFINITY; *b2 = INFINITY; *j1 = K; *j2 = K;
    int hints[3] = {h0, h1, h2};
    for (int h = 0; h < 3; h++) {
        int g = hints[h];
        if (g >= 0 && g < K) OFFER(sqdist(xi, s->cen + (size_t)g * D, D), g);
    }
    double q = 0;
    for (int t = 0; t < D; t++) q += s->u[t] * xi[t];
    int pos = s->pos;
    while (pos < K && e[pos].p < q) pos++;
    while (pos > 0 && e[pos - 1].p >= q) pos--;
    s->pos = pos;
    /* |x - c| >= |u.x - u.c|; the margin covers the rounding of the projections */
    for (int r = pos; r < K; r++) {
        double gap = e[r].p - q;
        if (gap * gap > *b2 * (1 + 1e-9) + 1e-9) break;
        OFFER(sqdist(xi, e[r].c, D), e[r].j);
    }
    for (int r = pos - 1; r >= 0; r--) {
        double gap = q - e[r].p;
        if (gap * gap > *b2 * (1 + 1e-9) + 1e-9) break;
        OFFER(sqdist(xi, e[r].c, D), e[r].j);
    }
    if (K == 1) { *j2 = *j1; *b2 = INFINITY; }
}

/* Call body(D) with D a compile-time constant where it is 3 or 4 (the distance loops unroll). */
#define BY_DIMS(D, body)             \
    do {                             \
        if ((D) == 3) { body(3) }          \
        else if ((D) == 4) { body(4) }     \
        else { body(D) }                   \
    } while (0)

static int nearest(const double *x, Py_ssize_t n, const double *cen, int K, int D,
                   const int64_t *guess, int64_t *first, int64_t *second, double *d1,
                   double *d2) {
    sorted_centres s;
    if (sorted_build(&s, cen, K, D)) return -1;
#define NEAREST_BODY(DD)                                                                  \
    for (Py_ssize_t i = 0; i < n; i++) {                                                  \
        int j1, j2;                                                                       \
        double b1, b2;                                                                    \
        find_two(&s, x + i * (DD), (DD), guess ? (int)guess[i] : -1,                      \
                 i > 0 ? (int)first[i - 1] : -1, i > 0 ? (int)second[i - 1] : -1,         \
                 &j1, &b1, &j2, &b2);                                                      \
        first[i] = j1; d1[i] = b1; second[i] = j2; d2[i] = b2;                            \
    }
    BY_DIMS(D, NEAREST_BODY);
#undef NEAREST_BODY
    free(s.e);
    return 0;
}

/* Lloyd's iterations on a Hamerly state; returns the iterations run, or -1 (no memory). */
static int lloyd(const double *x, const double *w, Py_ssize_t n, double *cen, int K, int D,
                 int64_t *labels, double *upper, double *lower, int max_iter, double tol) {
    double *weight = (double *)malloc(sizeof(double) * (size_t)K);
    double *sums = (double *)malloc(sizeof(double) * (size_t)K * D);
    double *old = (double *)malloc(sizeof(double) * (size_t)K * D);
    double *delta = (double *)malloc(sizeof(double) * (size_t)K);
    char *picked = NULL;
    if (!weight || !sums || !old || !delta) {
        free(weight); free(sums); free(old); free(delta);
        return -1;
    }
    int it = 0;
    while (it < max_iter) {
        it++;
        memset(weight, 0, sizeof(double) * (size_t)K);
        memset(sums, 0, sizeof(double) * (size_t)K * D);
        for (Py_ssize_t i = 0; i < n; i++) {
            int64_t k = labels[i];
            weight[k] += w[i];
            for (int t = 0; t < D; t++) sums[k * D + t] += w[i] * x[i * D + t];
        }
        /* Re-seed each empty cluster (in index order) at one of the worst-fitted points (the
         * largest weighted error, ties to the lower index), taking that point's weight away
         * from the cluster it leaves. */
        for (int k = 0; k < K; k++) {
            if (weight[k] != 0) continue;
            if (!picked) {
                picked = (char *)calloc((size_t)n, 1);
                if (!picked) { it = -1; goto done; }
            }
            Py_ssize_t worst = -1;
            double worst_err = -INFINITY;
            for (Py_ssize_t i = 0; i < n; i++) {
                if (picked[i]) continue;
                double err = w[i] * sqdist(x + i * D, cen + labels[i] * D, D);
                if (err > worst_err) { worst_err = err; worst = i; }
            }
            if (worst < 0) break;
            picked[worst] = 1;
            int64_t from = labels[worst];
            weight[from] -= w[worst];
            for (int t = 0; t < D; t++) sums[from * D + t] -= w[worst] * x[worst * D + t];
            weight[k] = w[worst];
            for (int t = 0; t < D; t++) sums[k * D + t] = w[worst] * x[worst * D + t];
        }
        if (picked) memset(picked, 0, (size_t)n);
        memcpy(old, cen, sizeof(double) * (size_t)K * D);
        /* The centres that moved most ("movers", up to MOVERS of them) are looked at by their
         * exact distance when a point's bounds overlap; the others by how far they moved: a
         * point's distance to any of them is at least its old lower bound less the largest
         * movement among them. */
        int movers[MOVERS + 2];
        int nm = K < MOVERS + 2 ? K : MOVERS + 2;
        for (int r = 0; r < nm; r++) movers[r] = -1;
        double max1 = 0;
        for (int k = 0; k < K; k++) {
            if (weight[k] > 0)
                for (int t = 0; t < D; t++) cen[k * D + t] = sums[k * D + t] / weight[k];
            delta[k] = sqrt(sqdist(cen + k * D, old + k * D, D));
            if (delta[k] > max1) max1 = delta[k];
            for (int r = 0; r < nm; r++) { /* the nm largest movements, largest first */
                if (movers[r] < 0 || delta[k] > delta[movers[r]]) {
                    for (int q = nm - 1; q > r; q--) movers[q] = movers[q - 1];
                    movers[r] = k;
                    break;
                }
            }
        }
        /* the largest and second largest movement; past the first MOVERS (when there are more
         * centres), the largest and second largest of the rest */
        int top = movers[0];
        double m1 = delta[movers[0]], m2 = nm > 1 ? delta[movers[1]] : 0;
        int nb = K > MOVERS + 2 ? MOVERS : 0; /* movers looked at exactly */
        int rest_top = nb ? movers[nb] : -1;
        double r1 = nb ? delta[movers[nb]] : 0, r2 = nb ? delta[movers[nb + 1]] : 0;
        sorted_centres s;
        if (sorted_build(&s, cen, K, D)) { it = -1; goto done; }
#define LLOYD_BODY(DD)                                                                      \
        for (Py_ssize_t i = 0; i < n; i++) {                                                \
            int64_t k = labels[i];                                                          \
            upper[i] += delta[k];                                                           \
            double old_lower = lower[i];                                                    \
            if (K > 1) lower[i] -= (k == top) ? m2 : m1;                                    \
            if (!(upper[i] > lower[i])) continue;                                           \
            const double *xi = x + i * (DD);                                                \
            upper[i] = sqrt(sqdist(xi, cen + k * (DD), (DD)));                              \
            if (!(upper[i] > lower[i])) continue;                                           \
            if (nb) { /* the movers exactly, the rest by their movement */                  \
                double lb = old_lower - ((k == rest_top) ? r2 : r1);                        \
                for (int r = 0; r < nb; r++) {                                              \
                    int j = movers[r];                                                      \
                    if (j == k) continue;                                                   \
                    double d = sqrt(sqdist(xi, cen + (size_t)j * (DD), (DD)));              \
                    if (d < lb) lb = d;                                                     \
                }                                                                           \
                if (lb > lower[i]) lower[i] = lb;                                           \
                if (!(upper[i] > lower[i])) continue;                                       \
            }                                                                               \
            int j1, j2;                                                                     \
            double b1, b2;                                                                  \
            find_two(&s, xi, (DD), (int)k, -1, -1, &j1, &b1, &j2, &b2);                     \
            labels[i] = j1; upper[i] = sqrt(b1); lower[i] = sqrt(b2);                       \
        }
        BY_DIMS(D, LLOYD_BODY);
#undef LLOYD_BODY
        free(s.e);
        if (max1 <= tol) break;
    }
done:
    free(weight); free(sums); free(old); free(delta); free(picked);
    return it;
}

/* Centres a and b have moved (cen holds their new places); keep labels and bounds exact. */
static int move_two(const double *x, Py_ssize_t n, const double *cen, int K, int D, int a, int b,
                    int64_t *labels, double *upper, double *lower) {
    sorted_centres s;
    if (sorted_build(&s, cen, K, D)) return -1;
#define MOVE_BODY(DD)                                                                       \
    for (Py_ssize_t i = 0; i < n; i++) {                                                    \
        const double *xi = x + i * (DD);                                                    \
        int64_t k = labels[i];                                                              \
        if (k == a || k == b) { /* its centre left: search again */                         \
            int j1, j2;                                                                     \
            double b1, b2;                                                                  \
            find_two(&s, xi, (DD), -1, -1, -1, &j1, &b1, &j2, &b2);                         \
            labels[i] = j1; upper[i] = sqrt(b1); lower[i] = sqrt(b2);                       \
            continue;                                                                       \
        }                                                                                   \
        /* Its centre stays: it keeps it unless a moved one is now nearer (the other        \
         * unchanged centres were farther before and still are). Ties: own, then a, b. */   \
        double own = sqrt(sqdist(xi, cen + k * (DD), (DD)));                                \
        double da = sqrt(sqdist(xi, cen + (size_t)a * (DD), (DD)));                         \
        double db = sqrt(sqdist(xi, cen + (size_t)b * (DD), (DD)));                         \
        double best = own;                                                                  \
        int64_t lab = k;                                                                    \
        if (da < best) { best = da; lab = a; }                                              \
        if (db < best) { best = db; lab = b; }                                              \
        double second = fmax(fmin(own, da), fmin(fmax(own, da), db)); /* the middle */      \
        labels[i] = lab; upper[i] = best;                                                   \
        if (second < lower[i]) lower[i] = second;                                           \
    }
    BY_DIMS(D, MOVE_BODY);
#undef MOVE_BODY
    free(s.e);
    return 0;
}

/* ---- cheaper: perceptual.py's choice between two candidate centres ---- */

/* For each point, of centres a[i] and b[i] the one of lower mixed cost
 * |x - c|^2 + lam |lab_x - lab_c| (ties: a[i]) into chosen[i], the other into other[i], and (if
 * gap) how much farther the other is in Oklab into gap[i]. With
 * weights, also each centre's sums over the points that chose it: of w, of w x, of w / d and of
 * w x / d, d the Oklab distance (at least near) -- what refine's step is made of. */
static void cheaper(const double *x, const float *lab, const double *w, Py_ssize_t n, int D,
                    const double *cen, const double *clab, double lam, const uint8_t *a,
                    const uint8_t *b, uint8_t *chosen, uint8_t *other, float *gap, double near,
                    double *count, double *sums, double *inv, double *inv_sums, int K) {
    if (w) {
        memset(count, 0, (size_t)K * sizeof(double));
        memset(inv, 0, (size_t)K * sizeof(double));
        memset(sums, 0, (size_t)K * D * sizeof(double));
        memset(inv_sums, 0, (size_t)K * D * sizeof(double));
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        const double *xi = x + i * D;
        const float *li = lab + i * 3;
        int ja = a[i], jb = b[i];
        const double *ca = cen + ja * D, *cb = cen + jb * D;
        const double *la = clab + ja * 3, *lb = clab + jb * 3;
        double sa = 0, sb = 0, oa = 0, ob = 0;
        for (int d = 0; d < D; d++) {
            double u = xi[d] - ca[d], v = xi[d] - cb[d];
            sa += u * u; sb += v * v;
        }
        for (int d = 0; d < 3; d++) {
            double u = li[d] - la[d], v = li[d] - lb[d];
            oa += u * u; ob += v * v;
        }
        oa = sqrt(oa); ob = sqrt(ob);
        int take_b = sb + lam * ob < sa + lam * oa;
        int j = take_b ? jb : ja;
        chosen[i] = (uint8_t)j; other[i] = (uint8_t)(take_b ? ja : jb);
        if (gap) gap[i] = (float)(take_b ? oa - ob : ob - oa);
        if (w) {
            double dist = take_b ? ob : oa;
            double q = w[i] / (dist > near ? dist : near);
            count[j] += w[i]; inv[j] += q;
            for (int d = 0; d < D; d++) {
                sums[j * D + d] += w[i] * xi[d];
                inv_sums[j * D + d] += q * xi[d];
            }
        }
    }
}

/* ---- Python bindings ---- */

static PyObject *py_nearest_two(PyObject *Py_UNUSED(self), PyObject *args) {
    Py_buffer px, cen, gs, f, s, e1, e2;
    Py_ssize_t n;
    int K, D;
    if (!PyArg_ParseTuple(args, "y*ny*iiy*w*w*w*w*", &px, &n, &cen, &K, &D, &gs, &f, &s, &e1,
                          &e2))
        return NULL;
    int ok = n >= 0 && D >= 1 && D <= DMAX && K >= 1 &&
             px.len == n * D * (Py_ssize_t)sizeof(double) &&
             cen.len == (Py_ssize_t)K * D * (Py_ssize_t)sizeof(double) &&
             (gs.len == 0 || gs.len == n * (Py_ssize_t)sizeof(int64_t)) &&
             f.len == n * (Py_ssize_t)sizeof(int64_t) && s.len == f.len &&
             e1.len == n * (Py_ssize_t)sizeof(double) && e2.len == e1.len;
    int rc = 0;
    if (ok) {
        Py_BEGIN_ALLOW_THREADS
        rc = nearest((const double *)px.buf, n, (const double *)cen.buf, K, D,
                     gs.len ? (const int64_t *)gs.buf : NULL, (int64_t *)f.buf,
                     (int64_t *)s.buf, (double *)e1.buf, (double *)e2.buf);
        Py_END_ALLOW_THREADS
    }
    PyBuffer_Release(&px); PyBuffer_Release(&cen); PyBuffer_Release(&gs);
    PyBuffer_Release(&f); PyBuffer_Release(&s); PyBuffer_Release(&e1); PyBuffer_Release(&e2);
    if (!ok) {
        PyErr_SetString(PyExc_ValueError, "nearest_two: buffer sizes do not match");
        return NULL;
    }
    if (rc) return PyErr_NoMemory();
    Py_RETURN_NONE;
}

/* Checks the Hamerly state's buffers; labels must all be < K. */
static int state_ok(Py_ssize_t n, int K, int D, Py_buffer *px, Py_buffer *cen, Py_buffer *lab,
                    Py_buffer *up, Py_buffer *lo) {
    if (!(n >= 1 && D >= 1 && D <= DMAX && K >= 1 &&
          px->len == n * D * (Py_ssize_t)sizeof(double) &&
          cen->len == (Py_ssize_t)K * D * (Py_ssize_t)sizeof(double) &&
          lab->len == n * (Py_ssize_t)sizeof(int64_t) &&
          up->len == n * (Py_ssize_t)sizeof(double) && lo->len == up->len))
        return 0;
    const int64_t *l = (const int64_t *)lab->buf;
    for (Py_ssize_t i = 0; i < n; i++)
        if (l[i] < 0 || l[i] >= K) return 0;
    return 1;
}

static PyObject *py_lloyd(PyObject *Py_UNUSED(self), PyObject *args) {
    Py_buffer px, wt, cen, lab, up, lo;
    Py_ssize_t n;
    int K, D, max_iter;
    double tol;
    if (!PyArg_ParseTuple(args, "y*y*nw*iiw*w*w*id", &px, &wt, &n, &cen, &K, &D, &lab, &up, &lo,
                          &max_iter, &tol))
        return NULL;
    int ok = state_ok(n, K, D, &px, &cen, &lab, &up, &lo) &&
             wt.len == n * (Py_ssize_t)sizeof(double);
    int it = 0;
    if (ok) {
        Py_BEGIN_ALLOW_THREADS
        it = lloyd((const double *)px.buf, (const double *)wt.buf, n, (double *)cen.buf, K, D,
                   (int64_t *)lab.buf, (double *)up.buf, (double *)lo.buf, max_iter, tol);
        Py_END_ALLOW_THREADS
    }
    PyBuffer_Release(&px); PyBuffer_Release(&wt); PyBuffer_Release(&cen);
    PyBuffer_Release(&lab); PyBuffer_Release(&up); PyBuffer_Release(&lo);
    if (!ok) {
        PyErr_SetString(PyExc_ValueError, "lloyd: buffer sizes or labels do not match");
        return NULL;
    }
    if (it < 0) return PyErr_NoMemory();
    return PyLong_FromLong(it);
}

static PyObject *py_move_two(PyObject *Py_UNUSED(self), PyObject *args) {
    Py_buffer px, cen, lab, up, lo;
    Py_ssize_t n;
    int K, D, a, b;
    if (!PyArg_ParseTuple(args, "y*ny*iiiiw*w*w*", &px, &n, &cen, &K, &D, &a, &b, &lab, &up,
                          &lo))
        return NULL;
    int ok = state_ok(n, K, D, &px, &cen, &lab, &up, &lo) && a >= 0 && a < K && b >= 0 &&
             b < K && a != b;
    int rc = 0;
    if (ok) {
        Py_BEGIN_ALLOW_THREADS
        rc = move_two((const double *)px.buf, n, (const double *)cen.buf, K, D, a, b,
                      (int64_t *)lab.buf, (double *)up.buf, (double *)lo.buf);
        Py_END_ALLOW_THREADS
    }
    PyBuffer_Release(&px); PyBuffer_Release(&cen);
    PyBuffer_Release(&lab); PyBuffer_Release(&up); PyBuffer_Release(&lo);
    if (!ok) {
        PyErr_SetString(PyExc_ValueError, "move_two: buffer sizes, labels or centres do not match");
        return NULL;
    }
    if (rc) return PyErr_NoMemory();
    Py_RETURN_NONE;
}

static PyObject *py_distances(PyObject *Py_UNUSED(self), PyObject *args) {
    Py_buffer px, cen, lab, out;
    Py_ssize_t n;
    int K, D;
    if (!PyArg_ParseTuple(args, "y*ny*iiy*w*", &px, &n, &cen, &K, &D, &lab, &out)) return NULL;
    int ok = n >= 0 && D >= 1 && D <= DMAX && K >= 1 &&
             px.len == n * D * (Py_ssize_t)sizeof(double) &&
             cen.len == (Py_ssize_t)K * D * (Py_ssize_t)sizeof(double) &&
             lab.len == n * (Py_ssize_t)sizeof(int64_t) && out.len == n * (Py_ssize_t)sizeof(double);
    const int64_t *l = (const int64_t *)lab.buf;
    for (Py_ssize_t i = 0; ok && i < n; i++) ok = l[i] >= 0 && l[i] < K;
    if (ok) {
        const double *x = (const double *)px.buf, *c = (const double *)cen.buf;
        double *o = (double *)out.buf;
        Py_BEGIN_ALLOW_THREADS
        for (Py_ssize_t i = 0; i < n; i++) o[i] = sqdist(x + i * D, c + l[i] * D, D);
        Py_END_ALLOW_THREADS
    }
    PyBuffer_Release(&px); PyBuffer_Release(&cen); PyBuffer_Release(&lab); PyBuffer_Release(&out);
    if (!ok) {
        PyErr_SetString(PyExc_ValueError, "distances: buffer sizes or labels do not match");
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *py_cheaper(PyObject *Py_UNUSED(self), PyObject *args) {
    Py_buffer px, lb, wt, cen, cl, a, b, ch, ot, gp, cnt, sm, iv, ivs;
    Py_ssize_t n;
    int K, D;
    double lam, near;
    if (!PyArg_ParseTuple(args, "y*y*y*niy*y*idy*y*w*w*w*dw*w*w*w*", &px, &lb, &wt, &n, &D,
                          &cen, &cl, &K, &lam, &a, &b, &ch, &ot, &gp, &near, &cnt, &sm, &iv,
                          &ivs))
        return NULL;
    Py_ssize_t dsz = (Py_ssize_t)sizeof(double), fsz = (Py_ssize_t)sizeof(float);
    int weighted = wt.len != 0;
    int ok = n >= 0 && D >= 3 && D <= DMAX && K >= 1 && K <= 256 && px.len == n * D * dsz &&
             lb.len == n * 3 * fsz && cen.len == (Py_ssize_t)K * D * dsz &&
             cl.len == (Py_ssize_t)K * 3 * dsz && a.len == n && b.len == n && ch.len == n &&
             ot.len == n && (gp.len == 0 || gp.len == n * fsz) &&
             (!weighted || (wt.len == n * dsz && cnt.len == K * dsz && iv.len == cnt.len &&
                            sm.len == (Py_ssize_t)K * D * dsz && ivs.len == sm.len));
    if (ok) {
        const uint8_t *aa = (const uint8_t *)a.buf, *bb = (const uint8_t *)b.buf;
        for (Py_ssize_t i = 0; i < n && ok; i++) ok = aa[i] < K && bb[i] < K;
    }
    if (ok) {
        Py_BEGIN_ALLOW_THREADS
        cheaper((const double *)px.buf, (const float *)lb.buf,
                weighted ? (const double *)wt.buf : NULL, n, D, (const double *)cen.buf,
                (const double *)cl.buf, lam, (const uint8_t *)a.buf, (const uint8_t *)b.buf,
                (uint8_t *)ch.buf, (uint8_t *)ot.buf, gp.len ? (float *)gp.buf : NULL, near,
                (double *)cnt.buf,
                (double *)sm.buf, (double *)iv.buf, (double *)ivs.buf, K);
        Py_END_ALLOW_THREADS
    }
    PyBuffer_Release(&px); PyBuffer_Release(&lb); PyBuffer_Release(&wt);
    PyBuffer_Release(&cen); PyBuffer_Release(&cl); PyBuffer_Release(&a); PyBuffer_Release(&b);
    PyBuffer_Release(&ch); PyBuffer_Release(&ot); PyBuffer_Release(&gp);
    PyBuffer_Release(&cnt); PyBuffer_Release(&sm);
    PyBuffer_Release(&iv); PyBuffer_Release(&ivs);
    if (!ok) {
        PyErr_SetString(PyExc_ValueError, "cheaper: buffer sizes or candidates do not match");
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"distances", py_distances, METH_VARARGS,
     "distances(points, n, centers, k, dims, labels, out) -> None"},
    {"cheaper", py_cheaper, METH_VARARGS,
     "cheaper(points, lab, weights, n, dims, centers, center_lab, k, lam, a, b, chosen, other,"
     " gap, near, count, sums, inv, inv_sums) -> None"},
    {"split", py_split, METH_VARARGS, "split(points, weights, n, dims, k, out) -> int"},
    {"nearest_two", py_nearest_two, METH_VARARGS,
     "nearest_two(points, n, centers, k, dims, guess, first, second, d1, d2) -> None"},
    {"lloyd", py_lloyd, METH_VARARGS,
     "lloyd(points, weights, n, centers, k, dims, labels, upper, lower, max_iter, tol) -> int"},
    {"move_two", py_move_two, METH_VARARGS,
     "move_two(points, n, centers, k, dims, a, b, labels, upper, lower) -> None"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_kmeans", "Compiled parts of kmcodec's k-means.", -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__kmeans(void) { return PyModule_Create(&module); }
