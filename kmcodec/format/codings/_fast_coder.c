/*
 * The compiled core of coding 2 (FAST) of the .kmq format: a static (two-pass) context model
 * over the palette indices -- a token "equal to the left / upper / upper-right / upper-left
 * neighbour, or a literal" per pixel, flat spans copied from the row above -- and a rANS coder
 * whose tables are sent once, so that decoding is a table look-up and a multiply per symbol.
 * spec/kmq.md, section 2.7, is the normative description; this file uses the spec's names.
 *
 * Python API (module kmcodec.format.codings._fast_coder):
 *   encode(indices, width, height, colors, part_rows) -> (table_bytes, [part_bytes, ...])
 *   parse_tables(table_bytes, colors) -> bytes (the decoder's tables) or int (an error code)
 *   decode_part(tables, part_bytes, width, rows, colors, out) -> 0 or a negative error code
 * decode_part releases the GIL, so that parts decode on several threads.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../_portable.h"

#define ERR_ENDS_EARLY (-1)   /* the rANS decoder needs bytes past the part's end */
#define ERR_LEFT_OVER (-2)    /* bytes left after the part's last pixel, or final state != L */
#define ERR_INDEX (-3)        /* a literal is >= colors */
#define ERR_NOMEM (-4)
#define ERR_TABLE_SUM (-5)    /* a table's frequencies do not sum to its total */
#define ERR_SYMBOL (-6)       /* a table holds a symbol outside its alphabet */
#define ERR_TABLE (-7)        /* a table section is malformed (ends early, bad code, padding) */
#define ERR_EMPTY (-8)        /* a symbol is read from a table that holds none */
#define ERR_SPAN (-9)         /* a span is longer than the row above's run */
#define ERR_STATE (-10)       /* a part's initial state is below L */

/* ---- the model's sizes (spec 2.7.3) ---- */
#define PATTERNS 28                       /* q = 16 l_N + 4 l_NE + l_NW */
#define HOW 3                             /* 0: equal to W (or in a span), 1: other match, 2: literal */
#define TOKEN_CTX (PATTERNS * HOW * HOW)  /* 252 token contexts, then 28 after a span */
#define TOKEN_TABLES (TOKEN_CTX + PATTERNS)
#define SPAN_TABLES 16                    /* by min(floor(log2 R), 15) */
#define SPAN_ALPHABET 65                  /* 0 = the whole run, 1 + hybrid token of n */
#define LIT_ALPHABET 256
#define SPAN_BASE TOKEN_TABLES
#define LIT_BASE (SPAN_BASE + SPAN_TABLES)
#define MAX_TABLES (LIT_BASE + 256)
#define TOKEN_BITS 12                     /* token tables: frequencies sum to 2^12 */
#define LUT_BITS 10                       /* span and literal tables: 2^10, decoded by look-up */
#define RANS_L (1u << 16)
#define EG_MAX_ZEROS 24

static uint8_t Q_OF[64];       /* equality mask of (W, N, NE, NW) -> pattern q */
static uint8_t D_OF[64];       /* -> number of distinct values d */
static uint8_t SRC_OF[64][4];  /* -> which neighbour (0 W, 1 N, 2 NE, 3 NW) is distinct value t */
static double LOG2[4097];
/* floor(log2(u)) for the u = v + 2^k of the table search (v < 2^12, k < 8): a look-up, as a
 * bit scan (bsr where the compiler may not assume lzcnt) is slow on some processors and the
 * search takes eight a symbol */
static uint8_t FLOOR_LOG2[1u << 13];

static int table_alphabet(int id) {
    if (id < TOKEN_TABLES) {
        int q = id < TOKEN_CTX ? id / (HOW * HOW) : id - TOKEN_CTX;
        int a = q >> 4, b = (q >> 2) & 3, c = q & 3;
        int m = a > b ? a : b;
        m = m > c ? m : c;
        return m + 2; /* d = 1 + max label, and LIT */
    }
    return id < LIT_BASE ? SPAN_ALPHABET : LIT_ALPHABET;
}

static int table_bits(int id) { return id < TOKEN_TABLES ? TOKEN_BITS : LUT_BITS; }

static inline int eq_mask(int w, int n, int ne, int nw) {
    return (n == w) | ((ne == w) << 1) | ((ne == n) << 2) | ((nw == w) << 3) | ((nw == n) << 4) |
           ((nw == ne) << 5);
}

static void init_tables(void) {
    for (int v = 0; v < 256; v++) {
        int nb[4] = {v & 3, (v >> 2) & 3, (v >> 4) & 3, (v >> 6) & 3};
        int dist[4], d = 0, lab[4];
        for (int i = 0; i < 4; i++) {
            int j = 0;
            while (j < d && dist[j] != nb[i]) j++;
            if (j == d) {
                dist[d] = nb[i];
                d++;
            }
            lab[i] = j;
        }
        int m = eq_mask(nb[0], nb[1], nb[2], nb[3]);
        Q_OF[m] = (uint8_t)(16 * lab[1] + 4 * lab[2] + lab[3]);
        D_OF[m] = (uint8_t)d;
        for (int t = 0; t < 4; t++) {
            int i = 0;
            while (i < 4 && lab[i] != t) i++;
            SRC_OF[m][t] = (uint8_t)(i < 4 ? i : 0);
        }
    }
    LOG2[0] = 0;
    for (int i = 1; i <= 4096; i++) LOG2[i] = log2((double)i);
    for (uint32_t u = 2; u < (1u << 13); u++) FLOOR_LOG2[u] = (uint8_t)(FLOOR_LOG2[u / 2] + 1);
}

static inline int floor_log2(uint32_t v) { /* v >= 1 */
    return 63 - KMQ_CLZ64((uint64_t)v);
}

static inline uint64_t load64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* the first i in [from, to) with p[i] != c, or to: eight bytes at a time (runs in screen
 * recordings and flat graphics are thousands of pixels long) */
static inline int run_end(const uint8_t *p, int from, int to, int c) {
    const uint64_t pattern = 0x0101010101010101ULL * (uint8_t)c;
    int i = from;
    while (i + 8 <= to && load64(p + i) == pattern) i += 8;
    while (i < to && p[i] == c) i++;
    return i;
}

static inline int span_bucket(int r) {
    int b = floor_log2((uint32_t)r);
    return b < SPAN_TABLES ? b : SPAN_TABLES - 1;
}

/* n -> hybrid token, with the extra bits and their count (spec 2.7.4) */
static inline int hybrid_token(uint32_t n, uint32_t *extra, int *nbits) {
    if (n < 16) {
        *nbits = 0;
        *extra = 0;
        return (int)n;
    }
    int e = floor_log2(n);
    *nbits = e - 1;
    *extra = n & ((1u << (e - 1)) - 1);
    return 16 + 2 * (e - 4) + (int)((n >> (e - 1)) & 1);
}

/* ======================================================================================
 * The model walk, shared by the encoder's two passes. `sink` receives (table, symbol) and
 * raw bits; the decoder has its own copy of the walk, specialised for speed.
 * ==================================================================================== */

typedef struct {
    uint16_t table; /* table id, or RAW_BASE + nbits */
    uint16_t sym;
} event;

#define RAW_BASE 1000
/* the encoder walks images up to this many pixels once, keeping the events (py_encode) */
#define RECORD_PIXELS (1u << 22)

typedef struct {
    uint32_t *counts; /* every table's counts, table `id` at off[id] (count_offsets), or NULL */
    const uint32_t *off;
    event *ev;        /* growable list, or NULL */
    size_t n, cap;
    int nomem;
    int record; /* keep the events in `ev` */
} sink;

static inline void emit(sink *s, int table, int sym) {
    if (s->counts && table < RAW_BASE) s->counts[s->off[table] + sym]++; /* raw bits: no table */
    if (s->record) {
        if (s->n == s->cap) {
            size_t cap = s->cap ? 2 * s->cap : 4096;
            event *ev = (event *)realloc(s->ev, cap * sizeof(event));
            if (!ev) {
                s->nomem = 1;
                return;
            }
            s->ev = ev;
            s->cap = cap;
        }
        s->ev[s->n].table = (uint16_t)table;
        s->ev[s->n].sym = (uint16_t)sym;
        s->n++;
    }
}

static inline void emit_raw(sink *s, uint32_t v, int nbits) {
    if (s->record && nbits > 16) {
        emit(s, RAW_BASE + 16, (int)(v & 0xffff));
        emit(s, RAW_BASE + nbits - 16, (int)(v >> 16));
    } else if (s->record && nbits) {
        emit(s, RAW_BASE + nbits, (int)v);
    }
}

/* one pixel coded by a token (and a literal): its how class */
static inline int walk_pixel(sink *s, int ctx, int m, const int *nb, int v) {
    int d = D_OF[m];
    int t = 0;
    while (t < d && nb[SRC_OF[m][t]] != v) t++;
    emit(s, ctx, t);
    if (t == d) {
        emit(s, LIT_BASE + nb[0], v);
        return 2;
    }
    return t ? 1 : 0;
}

static int walk_part(const uint8_t *plane, int width, int rows, sink *s, uint8_t *how) {
    for (int y = 0; y < rows; y++) {
        const uint8_t *row = plane + (size_t)y * width;
        const uint8_t *up = y ? row - width : NULL;
        uint8_t *hrow = how + (size_t)(y & 1) * width;
        const uint8_t *hup = how + (size_t)((y & 1) ^ 1) * width;
        int last_end = 0;
        int x = 0;
        while (x < width) {
            int nb[4];
            nb[0] = x ? row[x - 1] : (up ? up[x] : 0);
            if (up) {
                nb[1] = up[x];
                nb[3] = x ? up[x - 1] : nb[1];
                nb[2] = x + 1 < width ? up[x + 1] : nb[1];
            } else {
                nb[1] = nb[2] = nb[3] = nb[0];
            }
            int m = eq_mask(nb[0], nb[1], nb[2], nb[3]);
            int q = Q_OF[m];
            if (q == 0 && up) {
                int c = nb[0];
                if (x >= last_end) last_end = run_end(up, x + 1, width, c);
                int r = last_end - x;
                int n = run_end(row, x, x + r, c) - x;
                memset(hrow + x, 0, (size_t)n);
                int b = span_bucket(r);
                if (n == r) {
                    emit(s, SPAN_BASE + b, 0);
                    x += n;
                    continue;
                }
                uint32_t extra;
                int nbits;
                int tok = hybrid_token((uint32_t)n, &extra, &nbits);
                emit(s, SPAN_BASE + b, 1 + tok);
                emit_raw(s, extra, nbits);
                x += n;
                /* the pixel that ends the span: its neighbours again, after-span context */
                nb[0] = x ? row[x - 1] : up[x];
                nb[1] = up[x];
                nb[3] = x ? up[x - 1] : nb[1];
                nb[2] = x + 1 < width ? up[x + 1] : nb[1];
                m = eq_mask(nb[0], nb[1], nb[2], nb[3]);
                hrow[x] = (uint8_t)walk_pixel(s, TOKEN_CTX + Q_OF[m], m, nb, row[x]);
                x++;
                continue;
            }
            int hw = x ? hrow[x - 1] : 0;
            int hn = up ? hup[x] : 0;
            hrow[x] = (uint8_t)walk_pixel(s, (q * HOW + hw) * HOW + hn, m, nb, row[x]);
            x++;
        }
        if (s->nomem) return ERR_NOMEM;
    }
    return 0;
}

/* ======================================================================================
 * Tables: the encoder's choice of precision, and the bit code both sides share.
 * ==================================================================================== */

typedef struct {
    uint8_t *buf;
    size_t len, cap;
    uint64_t acc;
    int nacc;
    int nomem;
} bitwriter;

static void bw_put(bitwriter *w, uint32_t v, int n) { /* n <= 32, LSB first */
    for (int i = 0; i < n; i++) {
        w->acc |= (uint64_t)((v >> i) & 1) << w->nacc;
        if (++w->nacc == 8) {
            if (w->len == w->cap) {
                size_t cap = w->cap ? 2 * w->cap : 1024;
                uint8_t *b = (uint8_t *)realloc(w->buf, cap);
                if (!b) {
                    w->nomem = 1;
                    w->nacc = 0;
                    w->acc = 0;
                    return;
                }
                w->buf = b;
                w->cap = cap;
            }
            w->buf[w->len++] = (uint8_t)w->acc;
            w->acc = 0;
            w->nacc = 0;
        }
    }
}

static void bw_eg(bitwriter *w, uint32_t v, int k) {
    uint32_t u = v + (1u << k);
    int n = floor_log2(u);
    bw_put(w, 0, n - k);
    bw_put(w, 1, 1);
    bw_put(w, u - (1u << n), n);
}

static inline int eg_bits(uint32_t v, int k) {
    int n = FLOOR_LOG2[v + (1u << k)];
    return 2 * n - k + 1;
}

/* Where each table's counts, frequencies and starts are kept, one array for all tables: table
 * `id` at off[id], with room for the symbols it can hold in an image of `colors` colours (a
 * literal is below colors, a token below 8). Sized to the image, not 256 a table, so that a
 * small layer of an animation does not clear and scan half a megabyte a call. */
static size_t count_offsets(int ntables, int colors, uint32_t *off) {
    size_t at = 0;
    for (int id = 0; id < ntables; id++) {
        off[id] = (uint32_t)at;
        at += id < TOKEN_TABLES ? 8 : id < LIT_BASE ? SPAN_ALPHABET : (size_t)colors;
    }
    off[ntables] = (uint32_t)at;
    return at;
}

/* The encoder's view of the tables: frequencies (already scaled to 2^bits) and starts, of the
 * symbols that occur, at count_offsets. */
typedef struct {
    uint16_t *freq, *start;
    const uint32_t *off;
} enc_tables;

/* counts c[0 .. nz - 1] (all nonzero) -> frequencies summing to t, each >= 1 (nz <= t) */
static void quantise(const uint32_t *c, int nz, uint64_t total, uint32_t t, uint32_t *f) {
    uint64_t sum = 0;
    int big = 0;
    for (int i = 0; i < nz; i++) {
        f[i] = 1 + (uint32_t)(((uint64_t)c[i] * (t - nz)) / total);
        sum += f[i];
        if (c[i] > c[big]) big = i;
    }
    f[big] += (uint32_t)(t - sum);
}

/* Choose the table's shift and Exp-Golomb order by total cost, write it, and fill its
 * frequencies and starts (freq, start_of: indexed by symbol). */
static void write_table(bitwriter *w, const uint32_t *counts, int a, int bits, uint16_t *freq,
                        uint16_t *start_of) {
    /* the symbols that occur, increasing, and their counts: the search below looks at these
     * only (a literal table has 256 symbols, most of them absent) */
    uint32_t c[256];
    int sym[256];
    int nz = 0;
    uint64_t total = 0;
    for (int i = 0; i < a; i++) {
        if (counts[i]) {
            sym[nz] = i;
            c[nz++] = counts[i];
            total += counts[i];
        }
    }
    bw_eg(w, (uint32_t)nz, 0);
    if (!nz) return;
    int prev = -1;
    for (int j = 0; j < nz; j++) {
        bw_eg(w, (uint32_t)(sym[j] - prev - 1), 0);
        prev = sym[j];
    }
    if (nz == 1) {
        freq[sym[0]] = (uint16_t)(1u << bits);
        return;
    }
    uint32_t f[256], best_f[256];
    double best = -1;
    int best_s = 0, best_k = 0;
    for (int s = 0; s <= bits; s++) {
        uint32_t t = 1u << (bits - s);
        if (t < (uint32_t)nz) break;
        quantise(c, nz, total, t, f);
        double data = 0;
        for (int j = 0; j < nz; j++) data += (double)c[j] * (LOG2[t] - LOG2[f[j]]);
        /* the table's bits at each Exp-Golomb order k, summed in integers (exact, as the
         * doubles they were summed in before; one pass over the symbols for the 8 orders) */
        int64_t eg[8] = {0};
        for (int j = 0; j + 1 < nz; j++)
            for (int k = 0; k < 8; k++) eg[k] += eg_bits(f[j] - 1, k);
        for (int k = 0; k < 8; k++) {
            double tb = 7 + (double)eg[k];
            if (best < 0 || data + tb < best) {
                best = data + tb;
                best_s = s;
                best_k = k;
                memcpy(best_f, f, (size_t)nz * sizeof(uint32_t));
            }
        }
    }
    bw_put(w, (uint32_t)best_s, 4);
    bw_put(w, (uint32_t)best_k, 3);
    uint32_t start = 0;
    for (int j = 0; j < nz; j++) {
        if (j + 1 < nz) bw_eg(w, best_f[j] - 1, best_k);
        freq[sym[j]] = (uint16_t)(best_f[j] << best_s);
        start_of[sym[j]] = (uint16_t)start;
        start += freq[sym[j]];
    }
}

/* ======================================================================================
 * rANS (spec 2.7.5): 32-bit state in [2^16, 2^32), 16-bit renormalisation.
 * ==================================================================================== */

typedef struct {
    uint16_t *words; /* written from the end backwards */
    size_t n, cap;
} rans_out;

static int encode_events(const event *ev, size_t n, const enc_tables *tables, rans_out *o) {
    uint32_t x = RANS_L;
    for (size_t i = n; i-- > 0;) {
        uint32_t f, start;
        int bits;
        if (ev[i].table >= RAW_BASE) {
            bits = ev[i].table - RAW_BASE;
            f = 1;
            start = ev[i].sym;
        } else {
            uint32_t at = tables->off[ev[i].table] + ev[i].sym;
            bits = table_bits(ev[i].table);
            f = tables->freq[at];
            start = tables->start[at];
        }
        uint64_t x_max = (uint64_t)f << (32 - bits);
        if (x >= x_max) {
            if (o->n == o->cap) {
                size_t cap = o->cap ? 2 * o->cap : 4096;
                uint16_t *w = (uint16_t *)realloc(o->words, cap * sizeof(uint16_t));
                if (!w) return ERR_NOMEM;
                o->words = w;
                o->cap = cap;
            }
            o->words[o->n++] = (uint16_t)(x & 0xffff);
            x >>= 16;
        }
        x = ((x / f) << bits) + (x % f) + start;
    }
    /* the final state, then the words in the order the decoder reads them */
    if (o->n + 2 > o->cap) {
        uint16_t *w = (uint16_t *)realloc(o->words, (o->n + 2) * sizeof(uint16_t));
        if (!w) return ERR_NOMEM;
        o->words = w;
        o->cap = o->n + 2;
    }
    o->words[o->n++] = (uint16_t)(x >> 16);
    o->words[o->n++] = (uint16_t)(x & 0xffff);
    return 0;
}

static PyObject *words_to_bytes(const rans_out *o) {
    PyObject *b = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(2 * o->n));
    if (!b) return NULL;
    uint8_t *p = (uint8_t *)PyBytes_AS_STRING(b);
    for (size_t i = 0; i < o->n; i++) {
        uint16_t v = o->words[o->n - 1 - i];
        p[2 * i] = (uint8_t)(v & 0xff);
        p[2 * i + 1] = (uint8_t)(v >> 8);
    }
    return b;
}

static PyObject *py_encode(PyObject *Py_UNUSED(self), PyObject *args) {
    Py_buffer buf;
    int width, height, colors, part_rows;
    if (!PyArg_ParseTuple(args, "y*iiii", &buf, &width, &height, &colors, &part_rows))
        return NULL;
    if (width < 1 || height < 1 || colors < 1 || colors > 256 || part_rows < 1 ||
        buf.len != (Py_ssize_t)width * height) {
        PyBuffer_Release(&buf);
        PyErr_SetString(PyExc_ValueError, "indices do not match width * height, or bad sizes");
        return NULL;
    }
    const uint8_t *plane = (const uint8_t *)buf.buf;
    for (Py_ssize_t i = 0; i < buf.len; i++) {
        if (plane[i] >= colors) {
            PyBuffer_Release(&buf);
            PyErr_SetString(PyExc_ValueError, "an index is >= colors");
            return NULL;
        }
    }
    int ntables = LIT_BASE + colors;
    uint32_t off[MAX_TABLES + 1];
    size_t nslots = count_offsets(ntables, colors, off);
    uint32_t *counts = (uint32_t *)calloc(nslots, sizeof(uint32_t));
    uint8_t *how = (uint8_t *)calloc(2 * (size_t)width, 1);
    uint16_t *freq = (uint16_t *)calloc(2 * nslots, sizeof(uint16_t));
    enc_tables tables = {freq, freq + nslots, off};
    bitwriter bw = {0};
    PyObject *parts = NULL, *result = NULL, *tb = NULL;
    int rc = 0;
    if (!counts || !how || !freq) {
        rc = ERR_NOMEM;
        goto done;
    }
    /* Images up to RECORD_PIXELS are walked once: the events are counted and kept, 4 bytes
     * each (about one a pixel); larger ones are walked again, part by part, to code them. */
    int record = (size_t)width * height <= RECORD_PIXELS;
    int nparts = (height + part_rows - 1) / part_rows;
    size_t *ends = (size_t *)malloc((size_t)nparts * sizeof(size_t)); /* events of parts */
    sink all = {counts, off, NULL, 0, 0, 0, record};
    if (!ends) {
        rc = ERR_NOMEM;
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    for (int i = 0; i < nparts && !rc; i++) {
        int y0 = i * part_rows;
        int rows = height - y0 < part_rows ? height - y0 : part_rows;
        rc = walk_part(plane + (size_t)y0 * width, width, rows, &all, how);
        ends[i] = all.n;
    }
    for (int id = 0; id < ntables && !rc; id++) {
        int a = table_alphabet(id); /* the symbols it can hold in this image */
        int room = (int)(off[id + 1] - off[id]);
        write_table(&bw, counts + off[id], a < room ? a : room, table_bits(id), freq + off[id],
                    tables.start + off[id]);
    }
    if (bw.nacc) bw_put(&bw, 0, 8 - bw.nacc);
    if (bw.nomem) rc = ERR_NOMEM;
    Py_END_ALLOW_THREADS
    if (rc) goto done_events;
    tb = PyBytes_FromStringAndSize((const char *)bw.buf, (Py_ssize_t)bw.len);
    parts = PyList_New(0);
    if (!tb || !parts) goto done_events;
    for (int i = 0; i < nparts; i++) {
        int y0 = i * part_rows;
        int rows = height - y0 < part_rows ? height - y0 : part_rows;
        sink s = {NULL, off, NULL, 0, 0, 0, 1};
        rans_out o = {NULL, 0, 0};
        Py_BEGIN_ALLOW_THREADS
        if (record) {
            size_t begin = i ? ends[i - 1] : 0;
            rc = encode_events(all.ev + begin, ends[i] - begin, &tables, &o);
        } else {
            rc = walk_part(plane + (size_t)y0 * width, width, rows, &s, how);
            if (!rc) rc = encode_events(s.ev, s.n, &tables, &o);
        }
        Py_END_ALLOW_THREADS
        free(s.ev);
        if (rc) {
            free(o.words);
            goto done_events;
        }
        PyObject *pb = words_to_bytes(&o);
        free(o.words);
        if (!pb || PyList_Append(parts, pb)) {
            Py_XDECREF(pb);
            goto done_events;
        }
        Py_DECREF(pb);
    }
    result = PyTuple_Pack(2, tb, parts);
done_events:
    free(ends);
    free(all.ev);
done:
    PyBuffer_Release(&buf);
    free(counts);
    free(how);
    free(freq);
    free(bw.buf);
    Py_XDECREF(tb);
    Py_XDECREF(parts);
    if (rc == ERR_NOMEM) return PyErr_NoMemory();
    return result;
}

/* ======================================================================================
 * The decoder's tables, parsed once and shared by every part (and thread).
 * ==================================================================================== */

typedef struct {
    /* The token table of each context, by the decoder's own index of it: (mask << 4 | hw << 2
     * | hn) for the equality mask of the neighbours and the how classes, 1024 + mask after a
     * span. [0..5] cumulative frequencies, [6] = 1 if the table holds a symbol. */
    uint16_t cum[1024 + 64][8];
    uint32_t lut_at[SPAN_TABLES + 256]; /* entry offset in lut[], or UINT32_MAX if empty */
    uint32_t nluts, nlits; /* non-empty span tables, non-empty literal tables */
    uint32_t lut[]; /* span tables: (sym << 20) | ((freq - 1) << 10) | (slot - start) */
    /* after the nluts span tables of lut[] (1024 entries each; lut_at = table * 1024): the
     * literal tables, as nlits x 1024 symbols (uint8; lut_at = table * 1024, entry i of table
     * at lut_at + i), then nlits x 256 (freq << 16 | start) (uint32, at lut_at / 4) */
} dec_tables;

/* the blob's bytes of a span table, and of a literal table */
#define SPAN_LUT_BYTES ((1u << LUT_BITS) * 4)
#define LIT_LUT_BYTES ((1u << LUT_BITS) + 256 * 4)

static inline uint8_t *lut_symbols(const dec_tables *dt) {
    return (uint8_t *)(dt->lut + (size_t)dt->nluts * (1u << LUT_BITS));
}

static inline uint32_t *lut_starts(const dec_tables *dt) {
    return (uint32_t *)(lut_symbols(dt) + (size_t)dt->nlits * (1u << LUT_BITS));
}

typedef struct {
    const uint8_t *p;
    size_t len, pos; /* pos in bits */
} bitreader;

/* the next 57 bits or more from pos (LSB first), zeros past the end */
static inline uint64_t br_peek(const bitreader *r) {
    size_t at = r->pos >> 3;
    uint64_t v = 0;
    if (at + 8 <= r->len) {
#if KMQ_LITTLE_ENDIAN
        memcpy(&v, r->p + at, 8);
#else
        uint8_t b[8];
        memcpy(b, r->p + at, 8);
        for (int i = 0; i < 8; i++) v |= (uint64_t)b[i] << (8 * i);
#endif
    } else {
        for (size_t i = 0; at + i < r->len; i++) v |= (uint64_t)r->p[at + i] << (8 * i);
    }
    return v >> (r->pos & 7);
}

/* n <= 32 bits; reading past the end is ERR_TABLE */
static inline uint32_t br_bits(bitreader *r, int n, int *err) {
    if (*err) return 0;
    if (r->pos + (size_t)n > 8 * r->len) {
        *err = ERR_TABLE;
        return 0;
    }
    uint32_t v = n ? (uint32_t)(br_peek(r) & ((~0ull) >> (64 - n))) : 0;
    r->pos += (size_t)n;
    return v;
}

static inline int br_bit(bitreader *r, int *err) { return (int)br_bits(r, 1, err); }

/* Exp-Golomb of order k: z zero bits, a one, then z + k bits (more than EG_MAX_ZEROS zeros, or
 * the end inside the code, is ERR_TABLE) */
KMQ_INLINE uint32_t br_eg(bitreader *r, int k, int *err) {
    if (*err) return 0;
    uint64_t w = br_peek(r); /* 57 bits or more: the longest code, 2 * 24 + 1 + 7, fits */
    int z = w ? KMQ_CTZ64(w) : 64;
    int n = 2 * z + 1 + k;
    if (z > EG_MAX_ZEROS || r->pos + (size_t)n > 8 * r->len) {
        *err = ERR_TABLE;
        return 0;
    }
    r->pos += (size_t)n;
    uint64_t m = (w >> (z + 1)) & ((1ull << (z + k)) - 1);
    return (uint32_t)(((1ull << (z + k)) | m) - (1ull << k));
}

/* read one table's frequencies (scaled to 2^bits) into freq[0 .. a - 1], the only entries a
 * reader of the table looks at; return its symbol count or an error */
static int read_table(bitreader *r, int a, int bits, uint32_t *freq) {
    int err = 0;
    if (a <= 5) { /* a token table: its 5 slots (freq_offset), five stores, not a memset */
        freq[0] = freq[1] = freq[2] = freq[3] = freq[4] = 0;
    } else {
        memset(freq, 0, (size_t)a * sizeof(uint32_t));
    }
    uint32_t nz = br_eg(r, 0, &err);
    if (err) return err;
    if (nz > (uint32_t)a) return ERR_SYMBOL;
    if (!nz) return 0;
    int syms[256];
    int prev = -1;
    for (uint32_t i = 0; i < nz; i++) {
        uint32_t gap = br_eg(r, 0, &err);
        if (err) return err;
        if (gap >= (uint32_t)(a - prev - 1)) return ERR_SYMBOL;
        prev += 1 + (int)gap;
        syms[i] = prev;
    }
    if (nz == 1) {
        freq[syms[0]] = 1u << bits;
        return 1;
    }
    uint32_t s = br_bits(r, 4, &err);
    uint32_t k = br_bits(r, 3, &err);
    if (err) return err;
    if (s > (uint32_t)bits) return ERR_TABLE;
    uint32_t t = 1u << (bits - s), sum = 0;
    for (uint32_t i = 0; i + 1 < nz; i++) {
        uint32_t f = br_eg(r, (int)k, &err);
        if (err) return err;
        if (f >= t) return ERR_TABLE_SUM;
        sum += f + 1;
        if (sum >= t) return ERR_TABLE_SUM;
        freq[syms[i]] = (f + 1) << s;
    }
    freq[syms[nz - 1]] = (t - sum) << s;
    return (int)nz;
}

/* where table id's frequencies start in parse_tables' compact array: each table takes its
 * alphabet's entries only (a small animation layer parses its tables in microseconds, where
 * 256 entries a table touched half a megabyte) */
static size_t freq_offset(int id) {
    if (id < TOKEN_TABLES) return (size_t)id * 5;
    if (id < LIT_BASE) return (size_t)TOKEN_TABLES * 5 + (size_t)(id - SPAN_BASE) * SPAN_ALPHABET;
    return (size_t)TOKEN_TABLES * 5 + (size_t)SPAN_TABLES * SPAN_ALPHABET +
           (size_t)(id - LIT_BASE) * LIT_ALPHABET;
}

static PyObject *py_parse_tables(PyObject *Py_UNUSED(self), PyObject *args) {
    Py_buffer buf;
    int colors;
    if (!PyArg_ParseTuple(args, "y*i", &buf, &colors)) return NULL;
    if (colors < 1 || colors > 256) {
        PyBuffer_Release(&buf);
        PyErr_SetString(PyExc_ValueError, "bad colors");
        return NULL;
    }
    int ntables = LIT_BASE + colors;
    /* first pass: validate and count the look-up tables */
    bitreader r = {(const uint8_t *)buf.buf, (size_t)buf.len, 0};
    uint32_t *freqs = (uint32_t *)malloc(freq_offset(ntables) * sizeof(uint32_t));
    int *nzs = (int *)malloc((size_t)ntables * sizeof(int));
    if (!freqs || !nzs) {
        free(freqs);
        free(nzs);
        PyBuffer_Release(&buf);
        return PyErr_NoMemory();
    }
    int rc = 0;
    uint32_t nluts = 0, nlits = 0;
    for (int id = 0; id < ntables && !rc; id++) {
        int nz = read_table(&r, table_alphabet(id), table_bits(id), freqs + freq_offset(id));
        if (nz < 0) rc = nz;
        else {
            nzs[id] = nz;
            if (id >= SPAN_BASE && nz) {
                if (id < LIT_BASE) nluts++;
                else nlits++;
            }
        }
    }
    /* what follows the last table: zero bits to the byte's end, and nothing more */
    if (!rc) {
        if ((r.pos + 7) / 8 != (size_t)buf.len) rc = ERR_TABLE;
        else
            while (!rc && r.pos < 8 * (size_t)buf.len)
                if (br_bit(&r, &rc)) rc = ERR_TABLE;
    }
    PyBuffer_Release(&buf);
    if (rc) {
        free(freqs);
        free(nzs);
        return PyLong_FromLong(rc);
    }
    size_t size = sizeof(dec_tables) + (size_t)nluts * SPAN_LUT_BYTES + (size_t)nlits * LIT_LUT_BYTES;
    PyObject *blob = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)size);
    if (!blob) {
        free(freqs);
        free(nzs);
        return NULL;
    }
    dec_tables *dt = (dec_tables *)PyBytes_AS_STRING(blob);
    dt->nluts = nluts;
    dt->nlits = nlits;
    /* the token tables: each table's cumulative frequencies, then copied to every decoder
     * index (mask, hw, hn) whose pattern is the table's; a mask that is no pattern (the
     * equalities contradict each other) never occurs and keeps zeros */
    uint16_t cums[TOKEN_TABLES][8];
    for (int id = 0; id < TOKEN_TABLES; id++) {
        const uint32_t *f = freqs + freq_offset(id);
        int a = table_alphabet(id);
        uint32_t c = 0;
        for (int t = 0; t <= 5; t++) {
            cums[id][t] = (uint16_t)(t <= a ? c : 4096);
            if (t < a) c += f[t];
        }
        cums[id][6] = (uint16_t)(nzs[id] ? 1 : 0);
        cums[id][7] = 0;
    }
    for (int m = 0; m < 64; m++) {
        int q = Q_OF[m];
        if (q == 0 && m != 63) { /* not a pattern */
            memset(dt->cum[m << 4], 0, 16 * sizeof(dt->cum[0]));
            memset(dt->cum[1024 + m], 0, sizeof(dt->cum[0]));
            continue;
        }
        for (int hw = 0; hw < 4; hw++) /* the (hw, hn) slots of no class keep zeros */
            for (int hn = 0; hn < 4; hn++)
                if (hw == HOW || hn == HOW)
                    memset(dt->cum[(m << 4) | (hw << 2) | hn], 0, sizeof(dt->cum[0]));
        for (int hw = 0; hw < HOW; hw++)
            for (int hn = 0; hn < HOW; hn++)
                memcpy(dt->cum[(m << 4) | (hw << 2) | hn], cums[(q * HOW + hw) * HOW + hn],
                       sizeof(cums[0]));
        memcpy(dt->cum[1024 + m], cums[TOKEN_CTX + q], sizeof(cums[0]));
    }
    uint32_t span_at = 0, lit_at = 0;
    for (int id = SPAN_BASE; id < TOKEN_TABLES + SPAN_TABLES + 256; id++) {
        const uint32_t *f = id < ntables ? freqs + freq_offset(id) : NULL;
        int li = id - SPAN_BASE;
        if (!f || !nzs[id]) {
            dt->lut_at[li] = UINT32_MAX;
            continue;
        }
        uint32_t at = id < LIT_BASE ? span_at : lit_at;
        dt->lut_at[li] = at;
        uint32_t start = 0;
        if (id < LIT_BASE) { /* a span table: full entries */
            span_at += 1u << LUT_BITS;
            uint32_t *lut = dt->lut + at;
            for (int sym = 0; sym < SPAN_ALPHABET; sym++) {
                /* in locals: the stores could alias f, and the compiler reloaded it a slot */
                const uint32_t fs = f[sym], entry = ((uint32_t)sym << 20) | ((fs - 1) << 10);
                uint32_t *slot = lut + start;
                for (uint32_t j = 0; j < fs; j++) slot[j] = entry | j;
                start += fs;
            }
        } else { /* a literal table: its symbols and (freq, start) */
            lit_at += 1u << LUT_BITS;
            uint8_t *sym8 = lut_symbols(dt) + at;
            uint32_t *fc = lut_starts(dt) + at / 4;
            for (int sym = 0; sym < 256; sym++) {
                if (f[sym] >= 16 || (f[sym] && start + 16 > (1u << LUT_BITS))) {
                    memset(sym8 + start, sym, f[sym]);
                } else if (f[sym]) {
                    /* 16 bytes, the last ones rewritten by the next symbol (or never read):
                     * most symbols of a literal table have a small frequency */
                    uint64_t pattern = 0x0101010101010101ULL * (uint8_t)sym;
                    memcpy(sym8 + start, &pattern, 8);
                    memcpy(sym8 + start + 8, &pattern, 8);
                }
                fc[sym] = (f[sym] << 16) | start;
                start += f[sym];
            }
        }
    }
    free(freqs);
    free(nzs);
    return blob;
}

/* ======================================================================================
 * The decoder of one part.
 * ==================================================================================== */

/* One rANS state and its input. The part's bytes are copied into a buffer with PAD zero bytes
 * after them, so that the renormalisation can read a 16-bit word without a branch on the (hard
 * to predict) condition; a pixel (or a span) reads at most 5 words, and the decoder checks
 * that it has not gone past the part's end every CHECK_EVERY pixels and at the end of every
 * row, so it never reads past the padding, whose size does not depend on the image's width
 * (a padding of a row's reads took 10 bytes a column: 160 MB for an image 16 M pixels wide). */
typedef struct {
    uint32_t x;
    const uint8_t *p, *end;
} rans_in;

#define CHECK_EVERY 4096
#define PAD (10 * CHECK_EVERY + 32)

#define RENORM(d)                                                                           \
    do {                                                                                    \
        uint32_t need_ = (d).x < RANS_L;                                                    \
        uint32_t keep_ = need_ - 1u; /* all ones when no word is read */                    \
        uint32_t w_ = (uint32_t)(d).p[0] | ((uint32_t)(d).p[1] << 8);                       \
        uint32_t y_ = ((d).x << 16) | w_;                                                   \
        (d).x = (y_ & ~keep_) | ((d).x & keep_);                                            \
        (d).p += 2 * need_;                                                                 \
    } while (0)

/* decode a symbol of a look-up table (span or literal): its symbol */
#define LUT_DECODE(d, lut, sym)                                                             \
    do {                                                                                    \
        uint32_t e_ = (lut)[(d).x & ((1u << LUT_BITS) - 1)];                                \
        (d).x = (((e_ >> 10) & 1023) + 1) * ((d).x >> LUT_BITS) + (e_ & 1023);              \
        RENORM(d);                                                                          \
        (sym) = (int)(e_ >> 20);                                                            \
    } while (0)

/* decode a literal of the table at `at`: by its byte table of symbols (a quarter of the cache
 * lines of full entries: at K = 256 the literal tables are what the decoder's cache holds) and
 * the symbol's (frequency, start) */
#define LIT_DECODE(d, at, sym)                                                              \
    do {                                                                                    \
        uint32_t slot_ = (d).x & ((1u << LUT_BITS) - 1);                                    \
        (sym) = symbols[(at) + slot_];                                                      \
        uint32_t fs_ = starts[(at) / 4 + (sym)];                                            \
        (d).x = (fs_ >> 16) * ((d).x >> LUT_BITS) + slot_ - (fs_ & 0xffff);                 \
        RENORM(d);                                                                          \
    } while (0)

/* decode a token of the table `cum`: t */
#define TOKEN_DECODE(d, cum, t)                                                             \
    do {                                                                                    \
        uint32_t slot_ = (d).x & ((1u << TOKEN_BITS) - 1);                                  \
        uint32_t c1_ = (cum)[1], c2_ = (cum)[2], c3_ = (cum)[3], c4_ = (cum)[4];            \
        (t) = (slot_ >= c1_) + (slot_ >= c2_) + (slot_ >= c3_) + (slot_ >= c4_);            \
        uint32_t lo_ = (cum)[(t)], hi_ = (cum)[(t) + 1];                                    \
        (d).x = (hi_ - lo_) * ((d).x >> TOKEN_BITS) + slot_ - lo_;                          \
        RENORM(d);                                                                          \
    } while (0)

/* SRC4[mask]: for t = 0..3, bits 2t..2t+1 say which neighbour (0 W, 1 N, 2 NE, 3 NW) holds
 * distinct value t; D_OF[mask] is how many there are. */
static uint8_t SRC4[64];

static void init_decoder_tables(void) {
    for (int m = 0; m < 64; m++) {
        SRC4[m] = (uint8_t)(SRC_OF[m][0] | (SRC_OF[m][1] << 2) | (SRC_OF[m][2] << 4) |
                            (SRC_OF[m][3] << 6));
    }
}

/* 0x01 in each byte of x that is 0, else 0x00 (exact: no carry crosses a byte) */
static inline uint64_t zero_bytes(uint64_t x) {
    const uint64_t low7 = 0x7f7f7f7f7f7f7f7fULL;
    return (~(((x & low7) + low7) | x) >> 7) & 0x0101010101010101ULL;
}

/* A[i]: the equalities among N, NE and NW of pixel i (mask bits 2, 4, 5) from the padded row
 * above U, eight pixels at a time in a 64-bit word (the bytes stay in their lanes, whatever
 * the machine's byte order). Written as a loop of compares, it compiled to branches,
 * mispredicted on photos. */
static void upper_pattern(const uint8_t *U, uint8_t *A, int width) {
    int i = 0;
    for (; i + 8 <= width; i += 8) {
        uint64_t a = load64(U + i), b = load64(U + i + 1), c = load64(U + i + 2);
        uint64_t out = (zero_bytes(b ^ c) << 2) | (zero_bytes(a ^ b) << 4) |
                       (zero_bytes(a ^ c) << 5);
        memcpy(A + i, &out, 8);
    }
    for (; i < width; i++) {
        uint32_t a = U[i], b = U[i + 1], c = U[i + 2];
        A[i] = (uint8_t)(((b == c) << 2) | ((a == b) << 4) | ((a == c) << 5));
    }
}

/* What every part's decoding shares: the tables, and the literal table after w (its offset in
 * lut_symbols, in lut_starts a quarter of it; UINT32_MAX if empty). */
typedef struct {
    const dec_tables *dt;
    const uint8_t *symbols;
    const uint32_t *starts;
    uint32_t lit_at[256];
    int width, colors;
} dec_shared;

/* One part being decoded: its coder, its planes, and where it is. A lane is a local of the
 * function that decodes it and its address never escapes the inlined code, so the compiler
 * keeps its fields in registers; two lanes decoded in turn give the processor two independent
 * chains of dependent look-ups to overlap (decode_pair). */
typedef struct {
    rans_in d;
    uint8_t *out, *how, *U, *A; /* the part's plane; two rows of how classes; scratch */
    uint8_t *row, *hrow;
    const uint8_t *up, *hup;
    int rows, y, x, w, hw, last_end, budget;
} lane;

/* An error found in a pixel whose decoding read past the part's end (into the padding) is
 * reported as the part ending early, as a decoder that stops at the end would report it. */
#define FAIL(code) return L->d.p > L->d.end ? ERR_ENDS_EARLY : (code)

/* the coder's start and row 0 of the part: no row above, so every neighbour is w and the
 * pattern is q = 0. src has PAD zero bytes after its len bytes; scratch has 4 * width + 2. */
KMQ_INLINE int lane_start(lane *L, const dec_shared *c, const uint8_t *src, size_t len, int rows,
                          uint8_t *out, uint8_t *scratch) {
    const int width = c->width;
    if (len < 4) return ERR_ENDS_EARLY;
    L->d.x = (uint32_t)src[0] | ((uint32_t)src[1] << 8) | ((uint32_t)src[2] << 16) |
             ((uint32_t)src[3] << 24);
    L->d.p = src + 4;
    L->d.end = src + len;
    if (L->d.x < RANS_L) return ERR_STATE;
    L->out = out;
    L->how = scratch;
    L->U = scratch + 2 * (size_t)width;
    L->A = L->U + width + 2;
    L->rows = rows;
    L->y = 0;
    int w = 0, hw = 0;
    for (int x = 0; x < width; x++) {
        const uint16_t *cum = c->dt->cum[(63 << 4) | (hw << 2)];
        if (!cum[6]) FAIL(ERR_EMPTY);
        int t;
        TOKEN_DECODE(L->d, cum, t);
        if (t) {
            uint32_t at = c->lit_at[w];
            if (at == UINT32_MAX) FAIL(ERR_EMPTY);
            uint32_t v;
            const uint8_t *symbols = c->symbols;
            const uint32_t *starts = c->starts;
            LIT_DECODE(L->d, at, v);
            if (v >= (uint32_t)c->colors) FAIL(ERR_INDEX);
            w = (int)v;
            hw = 2;
        } else {
            hw = 0;
        }
        out[x] = (uint8_t)w;
        L->how[x] = (uint8_t)hw;
        if ((x & (CHECK_EVERY - 1)) == CHECK_EVERY - 1 && L->d.p > L->d.end) return ERR_ENDS_EARLY;
    }
    if (L->d.p > L->d.end) return ERR_ENDS_EARLY;
    return 0;
}

/* the next row: U is the row above with its edges repeated (U[0] = up[0], U[1 + x] = up[x],
 * U[width + 1] = up[width - 1]), so that NW and NE need no test at the image's edges, and A[x]
 * holds the three equalities among N, NE and NW (mask bits 2, 4, 5), computed for the whole
 * row at once; a pixel then compares W with its three upper neighbours only. */
KMQ_INLINE void lane_row(lane *L, int width) {
    int y = ++L->y;
    L->row = L->out + (size_t)y * width;
    L->up = L->row - width;
    L->hrow = L->how + (size_t)(y & 1) * width;
    L->hup = L->how + (size_t)((y & 1) ^ 1) * width;
    memcpy(L->U + 1, L->up, (size_t)width);
    L->U[0] = L->up[0];
    L->U[width + 1] = L->up[width - 1];
    upper_pattern(L->U, L->A, width);
    L->last_end = 0;
    L->x = 0;
    L->hw = 0;
    L->w = L->up[0];
    L->budget = CHECK_EVERY; /* pixels or spans until the next check of the end */
}

/* one pixel, or a span and the pixel that ends it, at L->x of a row below the first */
KMQ_INLINE int lane_pixel(lane *L, const dec_shared *c) {
    const dec_tables *dt = c->dt;
    const int width = c->width;
    const uint8_t *U = L->U, *A = L->A;
    int x = L->x, w = L->w;
    if (--L->budget == 0) {
        if (L->d.p > L->d.end) return ERR_ENDS_EARLY;
        L->budget = CHECK_EVERY;
    }
    int n = U[x + 1], ne = U[x + 2], nw = U[x];
    int m = A[x] | (n == w) | ((ne == w) << 1) | ((nw == w) << 3);
    const uint16_t *cum;
    if (m == 63) {
        /* a span: the row above's run of w, from x */
        if (x >= L->last_end) L->last_end = run_end(L->up, x + 1, width, w);
        int r = L->last_end - x;
        uint32_t at = dt->lut_at[span_bucket(r)];
        if (at == UINT32_MAX) FAIL(ERR_EMPTY);
        int s;
        LUT_DECODE(L->d, dt->lut + at, s);
        if (s == 0) {
            memset(L->row + x, w, (size_t)r);
            memset(L->hrow + x, 0, (size_t)r);
            L->x = x + r;
            L->hw = 0;
            return 0;
        }
        int tok = s - 1;
        int k;
        if (tok < 16) {
            k = tok;
        } else {
            int ex = 4 + (tok - 16) / 2, nbits = ex - 1;
            uint32_t extra = 0;
            if (nbits > 16) {
                extra = L->d.x & 0xffff;
                L->d.x >>= 16;
                RENORM(L->d);
                nbits -= 16;
                extra |= (L->d.x & ((1u << nbits) - 1)) << 16;
            } else {
                extra = L->d.x & ((1u << nbits) - 1);
            }
            L->d.x >>= nbits;
            RENORM(L->d);
            k = (1 << ex) | ((tok & 1) << (ex - 1)) | (int)extra;
        }
        if (k >= r) FAIL(ERR_SPAN);
        memset(L->row + x, w, (size_t)k);
        memset(L->hrow + x, 0, (size_t)k);
        x += k;
        n = U[x + 1];
        ne = U[x + 2];
        nw = U[x];
        m = A[x] | (n == w) | ((ne == w) << 1) | ((nw == w) << 3);
        cum = dt->cum[1024 + m];
    } else {
        cum = dt->cum[(m << 4) | (L->hw << 2) | L->hup[x]];
    }
    if (!cum[6]) FAIL(ERR_EMPTY);
    int t;
    TOKEN_DECODE(L->d, cum, t);
    uint32_t v;
    int hw;
    if (t < D_OF[m]) {
        uint32_t nbv = (uint32_t)w | ((uint32_t)n << 8) | ((uint32_t)ne << 16) |
                       ((uint32_t)nw << 24);
        v = (nbv >> (8 * ((SRC4[m] >> (2 * t)) & 3))) & 0xff;
        hw = t ? 1 : 0;
    } else {
        uint32_t at = c->lit_at[w];
        if (at == UINT32_MAX) FAIL(ERR_EMPTY);
        const uint8_t *symbols = c->symbols;
        const uint32_t *starts = c->starts;
        LIT_DECODE(L->d, at, v);
        if (v >= (uint32_t)c->colors) FAIL(ERR_INDEX);
        hw = 2;
    }
    L->row[x] = (uint8_t)v;
    L->hrow[x] = (uint8_t)hw;
    L->hw = hw;
    L->w = (int)v;
    L->x = x + 1;
    return 0;
}

/* the rest of the current row */
KMQ_INLINE int lane_finish_row(lane *L, const dec_shared *c) {
    while (L->x < c->width) {
        int rc = lane_pixel(L, c);
        if (rc) return rc;
    }
    /* (an error found inside the padding is reported by FAIL as the part ending early) */
    if (L->d.p > L->d.end) return ERR_ENDS_EARLY;
    return 0;
}

KMQ_INLINE int lane_end(const lane *L) {
    if (L->d.p != L->d.end) return ERR_LEFT_OVER;
    if (L->d.x != RANS_L) return ERR_LEFT_OVER;
    return 0;
}

static void shared_init(dec_shared *c, const dec_tables *dt, int width, int colors) {
    c->dt = dt;
    c->symbols = lut_symbols(dt);
    c->starts = lut_starts(dt);
    c->width = width;
    c->colors = colors;
    for (int v = 0; v < 256; v++)
        c->lit_at[v] = v < colors ? dt->lut_at[SPAN_TABLES + v] : UINT32_MAX;
}

/* one part: 0 or its error */
static int decode_rows(const dec_shared *c, const uint8_t *src, size_t len, int rows,
                       uint8_t *out, uint8_t *scratch) {
    lane l, *L = &l;
    int rc = lane_start(L, c, src, len, rows, out, scratch);
    while (!rc && L->y + 1 < rows) {
        lane_row(L, c->width);
        rc = lane_finish_row(L, c);
    }
    return rc ? rc : lane_end(L);
}

/* two parts on one thread, a pixel of each in turn while both have one: 0 if both decode, 1
 * at the first error of either (the caller decodes them one by one to tell which, and why) */
static int decode_pair(const dec_shared *c, const uint8_t *src0, size_t len0, int rows0,
                       uint8_t *out0, uint8_t *scratch0, const uint8_t *src1, size_t len1,
                       int rows1, uint8_t *out1, uint8_t *scratch1) {
    lane l0, l1;
    if (lane_start(&l0, c, src0, len0, rows0, out0, scratch0) ||
        lane_start(&l1, c, src1, len1, rows1, out1, scratch1))
        return 1;
    const int width = c->width;
    while (l0.y + 1 < rows0 && l1.y + 1 < rows1) {
        lane_row(&l0, width);
        lane_row(&l1, width);
        while (l0.x < width && l1.x < width) {
            if (lane_pixel(&l0, c) | lane_pixel(&l1, c)) return 1;
        }
        if (lane_finish_row(&l0, c) || lane_finish_row(&l1, c)) return 1;
    }
    while (l0.y + 1 < rows0) {
        lane_row(&l0, width);
        if (lane_finish_row(&l0, c)) return 1;
    }
    while (l1.y + 1 < rows1) {
        lane_row(&l1, width);
        if (lane_finish_row(&l1, c)) return 1;
    }
    return lane_end(&l0) || lane_end(&l1);
}

/* the checks of decode_part and decode_pair: 0, or -1 with the exception set */
static int check_tables(const Py_buffer *tb) {
    const dec_tables *dt = (const dec_tables *)tb->buf;
    if (tb->len < (Py_ssize_t)sizeof(dec_tables) || ((uintptr_t)tb->buf & 3) ||
        (size_t)tb->len != sizeof(dec_tables) + (size_t)dt->nluts * SPAN_LUT_BYTES +
                               (size_t)dt->nlits * LIT_LUT_BYTES) {
        PyErr_SetString(PyExc_ValueError, "tables are not parse_tables' result");
        return -1;
    }
    return 0;
}

static int check_part(int width, int rows, int colors, const Py_buffer *out) {
    if (width < 1 || rows < 1 || colors < 1 || colors > 256 ||
        out->len != (Py_ssize_t)width * rows) {
        PyErr_SetString(PyExc_ValueError, "the output does not match the part");
        return -1;
    }
    return 0;
}

/* a part's bytes followed by PAD zero bytes, or NULL */
static uint8_t *padded(const Py_buffer *in) {
    uint8_t *src = (uint8_t *)malloc((size_t)in->len + PAD);
    if (src) {
        memcpy(src, in->buf, (size_t)in->len);
        memset(src + in->len, 0, PAD);
    }
    return src;
}

static PyObject *py_decode_part(PyObject *Py_UNUSED(self), PyObject *args) {
    Py_buffer tb, in, out;
    int width, rows, colors;
    if (!PyArg_ParseTuple(args, "y*y*iiiw*", &tb, &in, &width, &rows, &colors, &out))
        return NULL;
    int rc = 0;
    if (check_tables(&tb) || check_part(width, rows, colors, &out)) {
        rc = -100;
    } else {
        Py_BEGIN_ALLOW_THREADS
        dec_shared *c = (dec_shared *)malloc(sizeof(dec_shared));
        uint8_t *scratch = (uint8_t *)malloc(4 * (size_t)width + 2);
        uint8_t *src = padded(&in);
        if (!c || !scratch || !src) {
            rc = ERR_NOMEM;
        } else {
            shared_init(c, (const dec_tables *)tb.buf, width, colors);
            rc = decode_rows(c, src, (size_t)in.len, rows, (uint8_t *)out.buf, scratch);
        }
        free(c);
        free(scratch);
        free(src);
        Py_END_ALLOW_THREADS
    }
    PyBuffer_Release(&tb);
    PyBuffer_Release(&in);
    PyBuffer_Release(&out);
    if (rc == -100) return NULL;
    if (rc == ERR_NOMEM) return PyErr_NoMemory();
    return PyLong_FromLong(rc);
}

static PyObject *py_decode_pair(PyObject *Py_UNUSED(self), PyObject *args) {
    Py_buffer tb, in0, in1, out0, out1;
    int width, rows0, rows1, colors;
    if (!PyArg_ParseTuple(args, "y*y*y*iiiiw*w*", &tb, &in0, &in1, &width, &rows0, &rows1,
                          &colors, &out0, &out1))
        return NULL;
    int rc = 0;
    if (check_tables(&tb) || check_part(width, rows0, colors, &out0) ||
        check_part(width, rows1, colors, &out1)) {
        rc = -100;
    } else {
        Py_BEGIN_ALLOW_THREADS
        dec_shared *c = (dec_shared *)malloc(sizeof(dec_shared));
        uint8_t *scratch = (uint8_t *)malloc(8 * (size_t)width + 4);
        uint8_t *src0 = padded(&in0), *src1 = padded(&in1);
        if (!c || !scratch || !src0 || !src1) {
            rc = ERR_NOMEM;
        } else {
            shared_init(c, (const dec_tables *)tb.buf, width, colors);
            rc = decode_pair(c, src0, (size_t)in0.len, rows0, (uint8_t *)out0.buf, scratch, src1,
                             (size_t)in1.len, rows1, (uint8_t *)out1.buf,
                             scratch + 4 * (size_t)width + 2);
        }
        free(c);
        free(scratch);
        free(src0);
        free(src1);
        Py_END_ALLOW_THREADS
    }
    PyBuffer_Release(&tb);
    PyBuffer_Release(&in0);
    PyBuffer_Release(&in1);
    PyBuffer_Release(&out0);
    PyBuffer_Release(&out1);
    if (rc == -100) return NULL;
    if (rc == ERR_NOMEM) return PyErr_NoMemory();
    return PyLong_FromLong(rc);
}

/* paint(canvas, canvas_width, canvas_height, item, plane, bits, x, y, w, h, lut, delta) -> 0 or
   -1: an animation layer's symbols (spec section 2.8.2) onto a canvas of uint8 (item 1) or
   uint16 (item 2) palette indices: canvas[y + j][x + i] = lut[s], or kept where delta and
   s == 0. The plane is h rows of w symbols packed at `bits` (1, 2, 4 or 8) bits a symbol, the
   first in a byte's high bits, each row starting on a byte (coding 0's rows, unpacked here
   rather than by numpy's passes; coding 1's and 2's planes at 8). lut holds uint16 entries;
   -1, with nothing painted, if a symbol has none. Not coding 2's, but the one loop over
   pixels an animation's reader has. */
static PyObject *py_paint(PyObject *Py_UNUSED(self), PyObject *args) {
    Py_buffer canvas, plane, lut;
    int cw, ch, item, bits, x, y, w, h, delta;
    if (!PyArg_ParseTuple(args, "w*iiiy*iiiiiy*i", &canvas, &cw, &ch, &item, &plane, &bits, &x,
                          &y, &w, &h, &lut, &delta))
        return NULL;
    int ok = (item == 1 || item == 2) && cw > 0 && ch > 0 && w > 0 && h > 0 && x >= 0 &&
             y >= 0 && (int64_t)x + w <= cw && (int64_t)y + h <= ch &&
             canvas.len == (Py_ssize_t)cw * ch * item &&
             (bits == 1 || bits == 2 || bits == 4 || bits == 8) &&
             plane.len == (Py_ssize_t)h * (((Py_ssize_t)w * bits + 7) / 8) && lut.len % 2 == 0 &&
             lut.len > 0;
    if (!ok) {
        PyBuffer_Release(&canvas);
        PyBuffer_Release(&plane);
        PyBuffer_Release(&lut);
        PyErr_SetString(PyExc_ValueError, "the layer does not fit the canvas");
        return NULL;
    }
    uint8_t *unpacked = NULL;
    if (bits != 8) {
        unpacked = (uint8_t *)PyMem_RawMalloc((size_t)w * h);
        if (!unpacked) {
            PyBuffer_Release(&canvas);
            PyBuffer_Release(&plane);
            PyBuffer_Release(&lut);
            return PyErr_NoMemory();
        }
    }
    const uint16_t *map = (const uint16_t *)lut.buf;
    const int n = (int)(lut.len / 2);
    int rc = 0;
    Py_BEGIN_ALLOW_THREADS
    const uint8_t *sym = (const uint8_t *)plane.buf;
    if (unpacked) {
        /* each byte to its 8 / bits symbols, high bits first, by a table of 256 x 8 */
        const int per = 8 / bits;
        const size_t stride = ((size_t)w * bits + 7) / 8;
        uint8_t table[256][8];
        for (int v = 0; v < 256; v++)
            for (int k = 0; k < per; k++)
                table[v][k] = (uint8_t)((v >> (8 - bits * (k + 1))) & ((1 << bits) - 1));
/* whole bytes of a row (a copy of a constant size: one store a byte), then the last part */
#define UNPACK_ROW(PER)                                                                    \
    for (; i + (PER) <= w; i += (PER), b++) memcpy(out + i, table[in[b]], (PER));
        for (int j = 0; j < h; j++) {
            const uint8_t *in = sym + (size_t)j * stride;
            uint8_t *out = unpacked + (size_t)j * w;
            int i = 0;
            size_t b = 0;
            if (per == 8) {
                UNPACK_ROW(8)
            } else if (per == 4) {
                UNPACK_ROW(4)
            } else {
                UNPACK_ROW(2)
            }
            for (int k = 0; i < w; i++, k++) out[i] = table[in[b]][k];
        }
#undef UNPACK_ROW
        sym = unpacked;
    }
    const Py_ssize_t count = (Py_ssize_t)w * h;
    uint16_t full[256] = {0}; /* every symbol has an entry: no test in the loops */
    uint8_t full8[256];
    for (int s = 0; s < 256; s++) {
        full[s] = s < n ? map[s] : 0;
        full8[s] = (uint8_t)full[s];
    }
    /* the largest symbol first (a loop the compiler vectorises), then the paint without
     * branches on the symbols (a DELTA layer's zeros and changes are mixed as the picture is) */
    uint8_t top = 0;
    for (Py_ssize_t i = 0; i < count; i++) top = sym[i] > top ? sym[i] : top;
    unsigned bad = top >= (unsigned)n;
    for (int j = 0; j < h && !bad; j++) {
        const uint8_t *row = sym + (size_t)j * w;
        size_t at = ((size_t)(y + j)) * cw + x;
        if (item == 1) {
            uint8_t *out = (uint8_t *)canvas.buf + at;
            if (delta) {
                /* eight pixels a word: none painted where all eight symbols are 0 (unchanged
                 * runs), else one masked store of the eight looked-up entries */
                int i = 0;
                for (; i + 8 <= w; i += 8) {
                    uint64_t s8 = load64(row + i);
                    if (!s8) continue;
                    uint64_t m = 0;
                    for (int k = 0; k < 8; k++)
                        m |= (uint64_t)full8[(s8 >> (8 * k)) & 0xff] << (8 * k);
                    uint64_t keep = zero_bytes(s8) * 0xff; /* 0xff in bytes where s == 0 */
                    uint64_t o8 = load64(out + i);
                    o8 = (o8 & keep) | (m & ~keep);
                    memcpy(out + i, &o8, 8);
                }
                for (; i < w; i++) {
                    unsigned s = row[i];
                    uint8_t keep = (uint8_t)(0u - (s == 0)); /* 0xff where s == 0 */
                    out[i] = (uint8_t)((out[i] & keep) | (full8[s] & ~keep));
                }
            } else {
                int i = 0;
                for (; i + 8 <= w; i += 8) {
                    uint64_t s8 = load64(row + i), m = 0;
                    for (int k = 0; k < 8; k++)
                        m |= (uint64_t)full8[(s8 >> (8 * k)) & 0xff] << (8 * k);
                    memcpy(out + i, &m, 8);
                }
                for (; i < w; i++) out[i] = full8[row[i]];
            }
        } else {
            uint16_t *out = (uint16_t *)canvas.buf + at;
            if (delta) {
                int i = 0;
                for (; i + 8 <= w; i += 8) { /* as above, eight symbols a word */
                    uint64_t s8 = load64(row + i);
                    if (!s8) continue;
                    for (int k = 0; k < 8; k++) {
                        unsigned s = (unsigned)(s8 >> (8 * k)) & 0xff;
                        uint16_t keep = (uint16_t)(0u - (s == 0));
                        out[i + k] = (uint16_t)((out[i + k] & keep) | (full[s] & ~keep));
                    }
                }
                for (; i < w; i++) {
                    unsigned s = row[i];
                    uint16_t keep = (uint16_t)(0u - (s == 0));
                    out[i] = (uint16_t)((out[i] & keep) | (full[s] & ~keep));
                }
            } else {
                for (int i = 0; i < w; i++) out[i] = full[row[i]];
            }
        }
    }
    if (bad) rc = -1;
    Py_END_ALLOW_THREADS
    PyMem_RawFree(unpacked);
    PyBuffer_Release(&canvas);
    PyBuffer_Release(&plane);
    PyBuffer_Release(&lut);
    return PyLong_FromLong(rc);
}

/* lookup(canvas, cw, ch, item, words, pixels, x, y, w, h): pixels[y:y+h, x:x+w] =
 * words[canvas[y:y+h, x:x+w]] -- a painted box's colours, as palette words (RGBA) -- for a
 * canvas of uint8 (item 1) or uint16 (item 2) indices; -1 (nothing written past the first bad
 * pixel's row) if an index has no word. */
static PyObject *py_lookup(PyObject *Py_UNUSED(self), PyObject *args) {
    Py_buffer canvas, words, pixels;
    int cw, ch, item, x, y, w, h;
    if (!PyArg_ParseTuple(args, "y*iiiy*w*iiii", &canvas, &cw, &ch, &item, &words, &pixels, &x,
                          &y, &w, &h))
        return NULL;
    int ok = (item == 1 || item == 2) && cw > 0 && ch > 0 && w > 0 && h > 0 && x >= 0 &&
             y >= 0 && (int64_t)x + w <= cw && (int64_t)y + h <= ch &&
             canvas.len == (Py_ssize_t)cw * ch * item && pixels.len == (Py_ssize_t)cw * ch * 4 &&
             words.len % 4 == 0 && words.len > 0;
    if (!ok) {
        PyBuffer_Release(&canvas);
        PyBuffer_Release(&words);
        PyBuffer_Release(&pixels);
        PyErr_SetString(PyExc_ValueError, "the box does not fit the canvas and its pixels");
        return NULL;
    }
    const uint32_t *word = (const uint32_t *)words.buf;
    const uint32_t n = (uint32_t)(words.len / 4);
    int rc = 0;
    Py_BEGIN_ALLOW_THREADS
    for (int j = 0; j < h && !rc; j++) {
        size_t at = ((size_t)(y + j)) * cw + x;
        uint32_t *out = (uint32_t *)pixels.buf + at;
        uint32_t top = 0;
        if (item == 1) {
            const uint8_t *in = (const uint8_t *)canvas.buf + at;
            for (int i = 0; i < w; i++) top = in[i] > top ? in[i] : top;
            if (top >= n) rc = -1;
            else for (int i = 0; i < w; i++) out[i] = word[in[i]];
        } else {
            const uint16_t *in = (const uint16_t *)canvas.buf + at;
            for (int i = 0; i < w; i++) top = in[i] > top ? in[i] : top;
            if (top >= n) rc = -1;
            else for (int i = 0; i < w; i++) out[i] = word[in[i]];
        }
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&canvas);
    PyBuffer_Release(&words);
    PyBuffer_Release(&pixels);
    return PyLong_FromLong(rc);
}

/* a slot of the table of before's lines: a hash, how many lines have it, the last of them
   (the others follow through `next`) */
typedef struct { uint64_t h; int32_t count, last; } line_slot;

#define MIX(h, v) ((h) = ((h) ^ (v)) * 0xFF51AFD7ED558CCDull, (h) ^= (h) >> 29)
#define HASH_LINE(T)                                                                       \
    const T *p = (const T *)base;                                                         \
    int k = 0;                                                                            \
    for (; k + 4 <= m; k += 4) {                                                          \
        MIX(h0, p[first + (size_t)pos[k] * step]);                                        \
        MIX(h1, p[first + (size_t)pos[k + 1] * step]);                                    \
        MIX(h2, p[first + (size_t)pos[k + 2] * step]);                                    \
        MIX(h3, p[first + (size_t)pos[k + 3] * step]);                                    \
    }                                                                                     \
    for (; k < m; k++) MIX(h0, p[first + (size_t)pos[k] * step]);

/* hash of line `line` (a row for axis 0, a column for axis 1) at the m positions `pos`, in
   four independent chains (the multiplies overlap) */
static uint64_t hash_line(const uint8_t *base, int item, int width, int axis, int line,
                          const int *pos, int m) {
    uint64_t h0 = 0x9E3779B97F4A7C15ull, h1 = 1, h2 = 2, h3 = 3;
    size_t first = axis == 0 ? (size_t)line * width : (size_t)line;
    size_t step = axis == 0 ? 1 : (size_t)width;
    if (item == 1) {
        HASH_LINE(uint8_t)
    } else if (item == 2) {
        HASH_LINE(uint16_t)
    } else {
        HASH_LINE(uint32_t)
    }
    return ((h0 * 31 + h1) * 31 + h2) * 0xC4CEB9FE1A85EC53ull + h3;
}

/* shift_votes(before, after, width, height, item, x0, y0, x1, y1, axis, repeats) -> (d, votes)
   or None: the encoder's search for a scroll (axis 0) or a pan (axis 1) between two canvases of
   width x height values of item bytes (1, 2 or 4), both contiguous. Axis 0: each row y0..y1-1
   of `after` (its columns x0..x1-1) is looked up among every row of `before` (the same
   columns); axis 1: each column x0..x1-1 of `after` (rows y0..y1-1) among every column of
   `before`. A line is compared by a 64-bit hash of at most 64 evenly spaced values; every
   pair of equal hashes votes for its offset d (before's line - after's line, d != 0), except
   for lines found more than `repeats` times in `before`. Returns the offset with the most
   votes (the smallest d of a tie). Not coding 2's, but an animation encoder's one loop over
   the pixels of a frame. */
static PyObject *py_shift_votes(PyObject *Py_UNUSED(self), PyObject *args) {
    Py_buffer before, after;
    int width, height, item, x0, y0, x1, y1, axis, repeats;
    if (!PyArg_ParseTuple(args, "y*y*iiiiiiiii", &before, &after, &width, &height, &item, &x0,
                          &y0, &x1, &y1, &axis, &repeats))
        return NULL;
    int ok = (item == 1 || item == 2 || item == 4) && width > 0 && height > 0 && x0 >= 0 &&
             y0 >= 0 && x0 < x1 && y0 < y1 && x1 <= width && y1 <= height &&
             (axis == 0 || axis == 1) && before.len == (Py_ssize_t)width * height * item &&
             after.len == before.len;
    if (!ok) {
        PyBuffer_Release(&before);
        PyBuffer_Release(&after);
        PyErr_SetString(PyExc_ValueError, "the box does not fit the canvases");
        return NULL;
    }
    /* lines of before: all rows (axis 0) or all columns; of after: the box's */
    int nb = axis == 0 ? height : width;
    int first = axis == 0 ? y0 : x0, na = axis == 0 ? y1 - y0 : x1 - x0;
    int lo = axis == 0 ? x0 : y0, hi = axis == 0 ? x1 : y1;
    size_t slots = 1;
    while (slots < 2 * (size_t)nb) slots <<= 1;
    line_slot *table = calloc(slots, sizeof(line_slot));
    int32_t *next = malloc(sizeof(int32_t) * (size_t)nb);
    uint32_t *votes = calloc((size_t)2 * nb, sizeof(uint32_t));
    if (!table || !next || !votes) {
        free(table);
        free(next);
        free(votes);
        PyBuffer_Release(&before);
        PyBuffer_Release(&after);
        return PyErr_NoMemory();
    }
    int64_t best = -1;
    uint32_t most = 0;
    int pos[64], n = hi - lo, m = n < 64 ? n : 64; /* evenly spaced, the first and last */
    for (int k = 0; k < m; k++)
        pos[k] = lo + (m > 1 ? (int)(((int64_t)k * (n - 1)) / (m - 1)) : 0);
    Py_BEGIN_ALLOW_THREADS
    const uint8_t *b = before.buf, *a = after.buf;
    for (int i = 0; i < nb; i++) { /* a slot's count 0 is empty: hashes may be 0 */
        uint64_t h = hash_line(b, item, width, axis, i, pos, m);
        size_t at = (size_t)(h >> 7) & (slots - 1);
        while (table[at].count && table[at].h != h) at = (at + 1) & (slots - 1);
        next[i] = table[at].count ? table[at].last : -1;
        table[at].h = h;
        table[at].count++;
        table[at].last = i;
    }
    for (int i = 0; i < na; i++) {
        int line = first + i;
        uint64_t h = hash_line(a, item, width, axis, line, pos, m);
        size_t at = (size_t)(h >> 7) & (slots - 1);
        while (table[at].count && table[at].h != h) at = (at + 1) & (slots - 1);
        if (!table[at].count || table[at].count > repeats) continue;
        for (int32_t k = table[at].last; k >= 0; k = next[k])
            if (k != line) votes[(int64_t)k - line + nb]++;
    }
    for (int64_t k = 0; k < 2 * (int64_t)nb; k++)
        if (votes[k] > most) most = votes[k], best = k;
    Py_END_ALLOW_THREADS
    free(table);
    free(next);
    free(votes);
    PyBuffer_Release(&before);
    PyBuffer_Release(&after);
    if (best < 0) Py_RETURN_NONE;
    return Py_BuildValue("(LI)", (long long)(best - nb), (unsigned int)most);
}

static PyMethodDef methods[] = {
    {"encode", py_encode, METH_VARARGS,
     "encode(indices, width, height, colors, part_rows) -> (table_bytes, [part_bytes])"},
    {"parse_tables", py_parse_tables, METH_VARARGS,
     "parse_tables(table_bytes, colors) -> decoder tables (bytes) or a negative error code"},
    {"decode_part", py_decode_part, METH_VARARGS,
     "decode_part(tables, part_bytes, width, rows, colors, out) -> 0 or a negative error code"},
    {"decode_pair", py_decode_pair, METH_VARARGS,
     "decode_pair(tables, part0, part1, width, rows0, rows1, colors, out0, out1) -> 0, or 1 if "
     "either part fails (decode_part then tells which and why)"},
    {"lookup", py_lookup, METH_VARARGS,
     "lookup(canvas, cw, ch, item, words, pixels, x, y, w, h) -> 0, or -1 for an index with no"
     " word"},
    {"shift_votes", py_shift_votes, METH_VARARGS,
     "shift_votes(before, after, width, height, item, x0, y0, x1, y1, axis, repeats) -> (d, "
     "votes) or None"},
    {"paint", py_paint, METH_VARARGS,
     "paint(canvas, width, height, item, plane, bits, x, y, w, h, lut, delta) -> 0 or -1"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_fast_coder",
    "Compiled core of the .kmq fast coding (coding 2).", -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__fast_coder(void) {
    init_tables();
    init_decoder_tables();
    PyObject *mod = PyModule_Create(&module);
    if (!mod) return NULL;
    PyModule_AddIntConstant(mod, "ERR_ENDS_EARLY", ERR_ENDS_EARLY);
    PyModule_AddIntConstant(mod, "ERR_LEFT_OVER", ERR_LEFT_OVER);
    PyModule_AddIntConstant(mod, "ERR_INDEX", ERR_INDEX);
    PyModule_AddIntConstant(mod, "ERR_TABLE_SUM", ERR_TABLE_SUM);
    PyModule_AddIntConstant(mod, "ERR_SYMBOL", ERR_SYMBOL);
    PyModule_AddIntConstant(mod, "ERR_TABLE", ERR_TABLE);
    PyModule_AddIntConstant(mod, "ERR_EMPTY", ERR_EMPTY);
    PyModule_AddIntConstant(mod, "ERR_SPAN", ERR_SPAN);
    PyModule_AddIntConstant(mod, "ERR_STATE", ERR_STATE);
    return mod;
}
