/*
 * The compiled core of coding 1 (CONTEXT) of the .kmq format: an adaptive context model over
 * the palette indices, driving a binary range coder. spec/kmq.md, section 2.6, is the normative
 * description; this file follows it step by step and uses the spec's names.
 *
 * Python API (module kmcodec._context_coder):
 *   encode(indices: bytes-like, width: int, height: int, colors: int) -> bytes
 *   decode(stream: bytes-like, width: int, height: int, colors: int, out: writable buffer) -> int
 * decode returns 0 on success or a negative error code (see ERR_* below) and releases the GIL
 * while it works.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../_portable.h"

#define ERR_ENDS_EARLY (-1)   /* the range decoder needs a byte past the stream's end */
#define ERR_LEFT_OVER (-2)    /* bytes are left after the last pixel, or the final code is not 0 */
#define ERR_INDEX (-3)        /* a decoded index is >= colors */
#define ERR_NOMEM (-4)

/* ---- model constants (spec 2.6.3) ---- */
#define PROB_ONE 65536u
#define PROB_MIN 32u
#define PROB_MAX (PROB_ONE - 32u)
#define COUNT_LIMIT 255u
#define HASH_MUL 0x9E3779B1u
#define SOURCES 5                      /* match, w, n, ne, nw */
#define AGREE 16                       /* 4 bits: which other sources agree */
#define MSTATES 10                     /* match length class x hit above */
#define HOWS 9                         /* how the left and upper pixels were coded */
#define HASH_BITS_MAX 18
#define MATCH_BITS_MAX 18
#define MIX_INPUTS 5                   /* four counters and a bias */
#define MIX_SETS (SOURCES * MSTATES + 8)
#define MIX_W0 (1 << 14)
#define MIX_SHIFT 12
#define FLAG_CONTEXTS (SOURCES * AGREE * MSTATES)
#define MATCH_LIMIT 65535

/* floor(v / 2^s) for any sign. C leaves >> of a negative value to the implementation; every
 * compiler this builds with (gcc, clang, MSVC) shifts arithmetically, and this checks it. */
#if (-1 >> 1) != -1
#error "this coder needs an arithmetic right shift of negative integers"
#endif
#define floor_shift(v, s) ((v) >> (s))

typedef struct {
    uint16_t q;   /* p XOR 0x8000, p = probability that the bit is 1 in units of 2^-16: */
    uint16_t n;   /* an all-zero counter is a fresh one (p = 1/2, n = 0), so tables come from */
} counter;        /* calloc, which the OS hands out as untouched zero pages */

#define PROB(c) ((uint32_t)((c)->q ^ 0x8000u))

static uint32_t RATE[COUNT_LIMIT + 1];
static int16_t STRETCH[4096];
static const int SQUASH_T[33] = {1, 2, 3, 6, 10, 16, 27, 45, 73, 120, 194, 310, 488, 747, 1101,
    1546, 2047, 2549, 2994, 3348, 3607, 3785, 3901, 3975, 4022, 4050, 4068, 4079, 4085, 4089,
    4092, 4093, 4094};

/* squash(d) = 4096 / (1 + e^-d/256), as a 33-point table with linear interpolation */
static inline int squash(int d) {
    if (d > 2047) return 4095;
    if (d < -2047) return 1;
    int w = d & 127;
    int i = (d >> 7) + 16;
    return (SQUASH_T[i] * (128 - w) + SQUASH_T[i + 1] * w + 64) >> 7;
}

/* squash(d) for every d in -2047..2047, so that a decision looks it up instead of
 * interpolating (the same values) */
static int16_t SQUASHED[4095];

static inline int squash_fast(int d) {
    if (d > 2047) return 4095;
    if (d < -2047) return 1;
    return SQUASHED[d + 2047];
}

static void init_tables(void) {
    for (unsigned n = 0; n <= COUNT_LIMIT; n++) RATE[n] = 131072u / (2u * n + 3u);
    for (int d = -2047; d <= 2047; d++) SQUASHED[d + 2047] = (int16_t)squash(d);
    int pi = 0;
    for (int x = -2047; x <= 2047; x++) {
        int v = squash(x);
        for (int i = pi; i <= v; i++) STRETCH[i] = (int16_t)x;
        pi = v + 1;
    }
    for (int i = pi; i < 4096; i++) STRETCH[i] = 2047;
}

static inline void counter_update(counter *c, int bit) {
    int32_t target = bit ? (int32_t)PROB_ONE : 0;
    int32_t old = (int32_t)PROB(c);
    int64_t delta = (int64_t)(target - old) * (int64_t)RATE[c->n];
    int32_t p = old + (int32_t)floor_shift(delta, 16);
    if (p < (int32_t)PROB_MIN) p = PROB_MIN;
    if (p > (int32_t)PROB_MAX) p = PROB_MAX;
    c->q = (uint16_t)((uint32_t)p ^ 0x8000u);
    if (c->n < COUNT_LIMIT) c->n++;
}

/* ---- binary range coder (spec 2.6.2) ---- */
typedef struct {
    uint64_t low;
    uint32_t range;
    uint8_t cache;
    uint64_t cache_size;
    uint8_t *out;
    size_t len, cap;
    int failed;
} encoder;

static void enc_put(encoder *e, uint8_t b) {
    if (e->len == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 4096;
        uint8_t *p = (uint8_t *)realloc(e->out, cap);
        if (!p) { e->failed = 1; return; }
        e->out = p; e->cap = cap;
    }
    e->out[e->len++] = b;
}

static void enc_shift_low(encoder *e) {
    if ((uint32_t)e->low < 0xFF000000u || (e->low >> 32) != 0) {
        uint8_t carry = (uint8_t)(e->low >> 32);
        uint8_t temp = e->cache;
        do {
            enc_put(e, (uint8_t)(temp + carry));
            temp = 0xFF;
        } while (--e->cache_size != 0);
        e->cache = (uint8_t)((uint32_t)e->low >> 24);
    }
    e->cache_size++;
    e->low = (uint64_t)((uint32_t)e->low << 8);
}

static inline void enc_bit(encoder *e, uint32_t p1, int bit) {
    uint32_t bound = (e->range >> 16) * p1;
    if (bit) {
        e->range = bound;
    } else {
        e->low += bound;
        e->range -= bound;
    }
    while (e->range < (1u << 24)) {
        e->range <<= 8;
        enc_shift_low(e);
    }
}

typedef struct {
    uint32_t range, code;
    const uint8_t *in;
    size_t pos, len;
    int error;
} decoder;

static inline int dec_bit(decoder *d, uint32_t p1) {
    uint32_t bound = (d->range >> 16) * p1;
    int bit;
    if (d->code < bound) {
        d->range = bound;
        bit = 1;
    } else {
        d->code -= bound;
        d->range -= bound;
        bit = 0;
    }
    while (d->range < (1u << 24)) {
        d->range <<= 8;
        if (d->pos < d->len) {
            d->code = (d->code << 8) | d->in[d->pos++];
        } else {
            d->code <<= 8;
            d->error = ERR_ENDS_EARLY;
        }
    }
    return bit;
}

/* ---- the model (spec 2.6.3-2.6.5) ---- */
typedef struct {
    int width, height, colors, index_bits;
    unsigned match_bits, hash_bits;
    uint32_t *match;          /* 2^match_bits entries: 0 = empty, else position + 1 */
    counter *flag;            /* FLAG_CONTEXTS * HOWS counters */
    counter *flag_near;     /* 2^hash_bits counters */
    counter *literal_w;         /* 2^index_bits * colors counters */
    counter *literal_near;  /* 2^hash_bits counters */
    counter *flag_wide;       /* 2^hash_bits counters */
    counter *flag_value;        /* 2^hash_bits counters */
    counter *literal_n;      /* 2^index_bits * colors counters */
    counter *literal_wide;    /* 2^hash_bits counters */
    int32_t weights[MIX_SETS][MIX_INPUTS];
    uint8_t *hist;            /* per column: how the pixel above (before x: to the left) was
                               * coded; one row, each byte replaced as its column is coded */
} model;

static unsigned ceil_log2(uint64_t v) {
    unsigned b = 0;
    while (((uint64_t)1 << b) < v) b++;
    return b;
}

static void model_free(model *m) {
    free(m->match); free(m->flag); free(m->flag_near); free(m->literal_w);
    free(m->literal_near); free(m->hist);
    free(m->flag_wide); free(m->literal_wide); free(m->flag_value); free(m->literal_n);
}

static int model_init(model *m, int width, int height, int colors) {
    memset(m, 0, sizeof(*m));
    m->width = width; m->height = height; m->colors = colors;
    m->index_bits = (int)ceil_log2((uint64_t)colors);
    uint64_t pixels = (uint64_t)width * (uint64_t)height;
    unsigned pb = ceil_log2(pixels);
    m->match_bits = pb < 8 ? 8 : (pb > MATCH_BITS_MAX ? MATCH_BITS_MAX : pb);
    m->hash_bits = pb + 1 < 10 ? 10 : (pb + 1 > HASH_BITS_MAX ? HASH_BITS_MAX : pb + 1);
    size_t nlit = ((size_t)1 << m->index_bits) * (size_t)colors;
    m->match = (uint32_t *)calloc((size_t)1 << m->match_bits, sizeof(uint32_t));
    m->flag = (counter *)calloc(FLAG_CONTEXTS * HOWS, sizeof(counter));
    m->flag_near = (counter *)calloc((size_t)1 << m->hash_bits, sizeof(counter));
    m->literal_w = (counter *)calloc(nlit, sizeof(counter));
    m->literal_near = (counter *)calloc((size_t)1 << m->hash_bits, sizeof(counter));
    m->flag_wide = (counter *)calloc((size_t)1 << m->hash_bits, sizeof(counter));
    m->literal_wide = (counter *)calloc((size_t)1 << m->hash_bits, sizeof(counter));
    m->flag_value = (counter *)calloc((size_t)1 << m->hash_bits, sizeof(counter));
    m->literal_n = (counter *)calloc(nlit, sizeof(counter));
    for (int i = 0; i < MIX_SETS; i++)
        for (int j = 0; j < MIX_INPUTS; j++) m->weights[i][j] = MIX_W0;
    m->hist = (uint8_t *)calloc((size_t)width, 1);
    if (!m->match || !m->flag || !m->flag_near || !m->literal_w || !m->literal_near ||
        !m->flag_wide || !m->literal_wide || !m->flag_value || !m->literal_n ||
        !m->hist) {
        model_free(m);
        return ERR_NOMEM;
    }
    return 0;
}

static inline uint32_t hash_step(uint32_t h, uint32_t v) {
    return (h + v + 1u) * HASH_MUL;
}

/* One binary decision (spec 2.6.3): four counters' probabilities mixed in the logistic domain
 * by the weight set `set`, then the weights and the counters learn the bit. */
KMQ_INLINE int
decide(model *m, int set, counter *c1, counter *c2, counter *c3, counter *c4, int bit, const int ENCODING,
       encoder *enc, decoder *dec) {
    int x[MIX_INPUTS];
    x[0] = STRETCH[PROB(c1) >> 4];
    x[1] = STRETCH[PROB(c2) >> 4];
    x[2] = STRETCH[PROB(c3) >> 4];
    x[3] = STRETCH[PROB(c4) >> 4];
    x[4] = 256;
    int32_t *w = m->weights[set];
    int64_t dot = 0;
    for (int i = 0; i < MIX_INPUTS; i++) dot += (int64_t)w[i] * x[i];
    int64_t d = floor_shift(dot, 16);
    int p12 = squash_fast(d > 4095 ? 4095 : d < -4095 ? -4095 : (int)d);
    uint32_t p16 = (uint32_t)p12 << 4;
    if (ENCODING) enc_bit(enc, p16, bit);
    else bit = dec_bit(dec, p16);
    int err = (bit << 12) - p12;
    for (int i = 0; i < MIX_INPUTS; i++)
        w[i] += floor_shift(x[i] * err + (1 << (MIX_SHIFT - 1)), MIX_SHIFT); /* |x * err| < 2^24 */
    counter_update(c1, bit);
    counter_update(c2, bit);
    counter_update(c3, bit);
    counter_update(c4, bit);
    return bit;
}

/* The four counters and the weight set of the flag for source s (spec 2.6.5 steps 2-4). */
KMQ_INLINE void
flag_counters(model *m, const int *src, int s, int w, int n, int nw, int ne, int ww, int nn,
              uint32_t far, int mstate, int how, int K, unsigned hshift, counter **out,
              uint32_t *set) {
    int v = src[s];
    int agree = 0;
    for (int t = 0, j = 0; t < SOURCES; t++) {
        if (t == s) continue;
        agree |= (src[t] == v) << j;
        j++;
    }
    uint32_t ctx = (uint32_t)((s * AGREE + agree) * MSTATES + mstate);
    uint32_t h = hash_step(hash_step(hash_step(hash_step(0, ctx), (uint32_t)w), (uint32_t)n),
                           (uint32_t)(K <= 16 ? nw * 16 + ne : 0));
    uint32_t h3 = hash_step(hash_step(hash_step(hash_step(hash_step(h, (uint32_t)nw),
                            (uint32_t)ne), (uint32_t)ww), (uint32_t)nn), far);
    uint32_t h4 = hash_step(hash_step(hash_step(0x1234, ctx), (uint32_t)w), (uint32_t)v);
    out[0] = &m->flag[ctx * HOWS + (uint32_t)how];
    out[1] = &m->flag_near[h >> hshift];
    out[2] = &m->flag_wide[h3 >> hshift];
    out[3] = &m->flag_value[h4 >> hshift];
    KMQ_PREFETCH(out[1]);
    KMQ_PREFETCH(out[2]);
    KMQ_PREFETCH(out[3]);
    *set = (uint32_t)(s * MSTATES + mstate);
}

/*
 * Code every pixel in raster order. When ENCODING, `plane` holds the indices; otherwise it is
 * filled. Both directions share this one function so that they cannot disagree.
 */
KMQ_INLINE int
run_model(model *m, uint8_t *plane, const int ENCODING, encoder *enc, decoder *dec) {
    const int W = m->width, H = m->height, K = m->colors, B = m->index_bits;
    const unsigned mshift = 32u - m->match_bits, hshift = 32u - m->hash_bits;
    size_t mptr = 0;
    unsigned mlen = 0;
    for (int y = 0; y < H; y++) {
        uint8_t *row = plane + (size_t)y * W;
        const uint8_t *up = y > 0 ? row - W : NULL;
        const uint8_t *up2 = y > 1 ? row - 2 * (size_t)W : NULL;
        for (int x = 0; x < W; x++) {
            /* 2.6.4 neighbours */
            int w = x > 0 ? row[x - 1] : (y > 0 ? up[0] : 0);
            int n = y > 0 ? up[x] : w;
            int nw = (y > 0 && x > 0) ? up[x - 1] : n;
            int ne = (y > 0 && x + 1 < W) ? up[x + 1] : n;
            int ww = x > 1 ? row[x - 2] : w;
            int nn = y > 1 ? up2[x] : n;
            int nww = (y > 0 && x > 1) ? up[x - 2] : nw;
            int nee = (y > 0 && x + 2 < W) ? up[x + 2] : ne;
            int nnw = (y > 1 && x > 0) ? up2[x - 1] : nn;
            int nne = (y > 1 && x + 1 < W) ? up2[x + 1] : nn;
            uint32_t far = hash_step(hash_step(hash_step(hash_step(0, (uint32_t)nww),
                                                         (uint32_t)nee), (uint32_t)nnw), (uint32_t)nne);
            uint32_t key = hash_step(hash_step(hash_step(hash_step(hash_step(
                hash_step(0, (uint32_t)w), (uint32_t)n), (uint32_t)nw), (uint32_t)ne),
                (uint32_t)ww), (uint32_t)nn);
            uint32_t *slot = &m->match[key >> mshift];
            size_t pos = (size_t)y * W + (size_t)x;
            if (ENCODING) {
                /* The encoder knows every index, so it fetches ahead what the pixel may need:
                 * the literal's counter blocks, and the next pixel's match slot. The
                 * decoder cannot; the coded bits are the same either way. */
                int v = row[x];
                uint32_t h = hash_step(hash_step(hash_step(0xFFFFu, 1u), (uint32_t)w), (uint32_t)n);
                uint32_t h3 = hash_step(hash_step(h, (uint32_t)nw), (uint32_t)ne);
                KMQ_PREFETCH(&m->literal_near[(size_t)(h >> (hshift + 4)) << 4]);
                KMQ_PREFETCH(&m->literal_wide[(size_t)(h3 >> (hshift + 4)) << 4]);
                if (B > 4) {
                    uint32_t node2 = (1u << 4) | (uint32_t)(v >> (B - 4));
                    h = hash_step(hash_step(hash_step(0xFFFFu, node2), (uint32_t)w), (uint32_t)n);
                    h3 = hash_step(hash_step(h, (uint32_t)nw), (uint32_t)ne);
                    KMQ_PREFETCH(&m->literal_near[(size_t)(h >> (hshift + 4)) << 4]);
                    KMQ_PREFETCH(&m->literal_wide[(size_t)(h3 >> (hshift + 4)) << 4]);
                }
                if (x + 1 < W) {
                    int n1 = y > 0 ? up[x + 1] : v;
                    int nw1 = y > 0 ? up[x] : n1;
                    int ne1 = (y > 0 && x + 2 < W) ? up[x + 2] : n1;
                    int ww1 = x > 0 ? row[x - 1] : v;
                    int nn1 = y > 1 ? up2[x + 1] : n1;
                    uint32_t key1 = hash_step(hash_step(hash_step(hash_step(hash_step(
                        hash_step(0, (uint32_t)v), (uint32_t)n1), (uint32_t)nw1), (uint32_t)ne1),
                        (uint32_t)ww1), (uint32_t)nn1);
                    KMQ_PREFETCH(&m->match[key1 >> mshift]);
                }
            }
            if (mlen == 0) mptr = *slot;  /* 0: none, else position + 1 */
            int src[SOURCES];
            src[0] = mptr ? plane[mptr - 1] : -1;  /* -1: no prediction */
            src[1] = w; src[2] = n; src[3] = ne; src[4] = nw;
            int lenq = !mptr ? 0 : mlen == 0 ? 1 : mlen < 4 ? 2 : mlen < 16 ? 3 : 4;
            int mstate = lenq * 2 + (y > 0 ? (m->hist[x] & 1) : 0);
            int how = 3 * (x > 0 ? m->hist[x - 1] >> 1 : 2) + (y > 0 ? m->hist[x] >> 1 : 2);
            int how_here = 2;
            int value = ENCODING ? row[x] : -1;
            int decided = -1;
            int excluded = 0;
            uint32_t excluded_set[8] = {0};
            /* The flags to code are known before any is decoded: the sources that are
             * present and differ from every earlier one. Their counters are found (and fetched
             * from memory) first, so that the cache misses overlap. */
            /* The flags to code are known before any is decoded: the sources that are
             * present and differ from every earlier one. */
            int ncand = 0, cand_s[SOURCES];
            for (int s = 0; s < SOURCES; s++) {
                int v = src[s];
                if (v < 0) continue;
                int dup = 0;
                for (int t = 0; t < s; t++) dup |= src[t] == v;
                if (!dup) cand_s[ncand++] = s;
            }
            counter *cc[SOURCES][4];
            uint32_t cset[SOURCES];
            /* A flag's counters are found one flag ahead, so that fetching them from memory
             * overlaps with the decision before. */
            for (int i = 0; i < ncand && i < 2; i++)
                flag_counters(m, src, cand_s[i], w, n, nw, ne, ww, nn, far, mstate, how, K,
                              hshift, cc[i], &cset[i]);
            for (int i = 0; i < ncand && excluded < K - 1; i++) {
                if (i + 2 < ncand)
                    flag_counters(m, src, cand_s[i + 2], w, n, nw, ne, ww, nn, far, mstate, how,
                                  K, hshift, cc[i + 2], &cset[i + 2]);
                int v = src[cand_s[i]];
                int bit = decide(m, cset[i], cc[i][0], cc[i][1], cc[i][2], cc[i][3],
                                 value == v, ENCODING, enc, dec);
                if (bit) { decided = v; how_here = i == 0 ? 0 : 1; break; }
                excluded_set[v >> 5] |= 1u << (v & 31);
                excluded++;
            }
            if (decided < 0 && excluded == K - 1) {
                for (int v = 0; v < K; v++)
                    if (!(excluded_set[v >> 5] >> (v & 31) & 1u)) { decided = v; break; }
            }
            if (decided < 0) {
                /* The literal's bits, most significant first, in groups of up to 4: the
                 * hashed counters of a group's 15 tree nodes share one 64-byte block. */
                unsigned node = 1;
                const counter *lw = m->literal_w + ((size_t)w << B);
                const counter *ln = m->literal_n + ((size_t)n << B);
                for (int done = 0; done < B;) {
                    int nb = B - done < 4 ? B - done : 4;
                    uint32_t h = hash_step(hash_step(hash_step(0xFFFFu, node), (uint32_t)w), (uint32_t)n);
                    uint32_t h3 = hash_step(hash_step(h, (uint32_t)nw), (uint32_t)ne);
                    counter *b2 = &m->literal_near[(size_t)(h >> (hshift + 4)) << 4];
                    counter *b3 = &m->literal_wide[(size_t)(h3 >> (hshift + 4)) << 4];
                    unsigned sub = 1;
                    for (int i = 0; i < nb; i++) {
                        int b = B - 1 - done - i;
                        int bit = decide(m, SOURCES * MSTATES + (B - 1 - b),
                                         (counter *)&lw[node], &b2[sub], &b3[sub], (counter *)&ln[node],
                                         (value >> b) & 1, ENCODING, enc, dec);
                        node = node * 2 + (unsigned)bit;
                        sub = sub * 2 + (unsigned)bit;
                    }
                    done += nb;
                }
                decided = (int)(node - (1u << B));
                if (decided >= K) return ERR_INDEX;
            }
            if (!ENCODING) row[x] = (uint8_t)decided;
            m->hist[x] = (uint8_t)((src[0] == decided) | (how_here << 1));
            if (src[0] == decided) {
                mptr++;
                if (mlen < MATCH_LIMIT) mlen++;
            } else {
                mptr = 0;
                mlen = 0;
            }
            *slot = (uint32_t)(pos + 1);
            /* Past the end of the stream: stop now rather than decode zeros to the end (with
             * probabilities >= 1/4096 a byte is read at least every ~23,000 decisions). */
            if (!ENCODING && dec->error) return dec->error;
        }
    }
    return 0;
}

static int encode_plane(const uint8_t *plane, int width, int height, int colors, encoder *e) {
    model m;
    memset(e, 0, sizeof(*e));
    e->range = 0xFFFFFFFFu;
    e->cache_size = 1;
    int rc = 0;
    if (colors > 1) {  /* one colour: nothing to code, only the coder's flush */
        if (model_init(&m, width, height, colors)) return ERR_NOMEM;
        rc = run_model(&m, (uint8_t *)plane, 1, e, NULL);
        model_free(&m);
    }
    for (int i = 0; i < 5; i++) enc_shift_low(e);
    if (e->failed) return ERR_NOMEM;
    return rc;
}

static int decode_plane(const uint8_t *in, size_t len, int width, int height, int colors,
                        uint8_t *plane) {
    model m;
    decoder d;
    memset(&d, 0, sizeof(d));
    d.in = in; d.len = len; d.range = 0xFFFFFFFFu;
    if (len < 4) return ERR_ENDS_EARLY;
    d.code = ((uint32_t)in[0] << 24) | ((uint32_t)in[1] << 16) | ((uint32_t)in[2] << 8) | in[3];
    d.pos = 4;
    if (colors == 1) {
        /* One colour: no decision is coded (spec 2.6.5), so the model need not run; the
         * range decoder's four bytes must still be its whole, finished stream. */
        memset(plane, 0, (size_t)width * (size_t)height);
        return (len == 4 && d.code == 0) ? 0 : ERR_LEFT_OVER;
    }
    if (model_init(&m, width, height, colors)) return ERR_NOMEM;
    int rc = run_model(&m, plane, 0, NULL, &d);
    model_free(&m);
    if (rc) return rc;
    if (d.error) return d.error;
    if (d.pos != d.len || d.code != 0) return ERR_LEFT_OVER;
    return 0;
}

/* ---- Python bindings ---- */
static PyObject *py_encode(PyObject *Py_UNUSED(self), PyObject *args) {
    Py_buffer buf;
    int width, height, colors;
    if (!PyArg_ParseTuple(args, "y*iii", &buf, &width, &height, &colors)) return NULL;
    if (width < 1 || height < 1 || colors < 1 || colors > 256 ||
        buf.len != (Py_ssize_t)width * height) {
        PyBuffer_Release(&buf);
        PyErr_SetString(PyExc_ValueError, "indices do not match width * height, or bad colors");
        return NULL;
    }
    const uint8_t *p = (const uint8_t *)buf.buf;
    for (Py_ssize_t i = 0; i < buf.len; i++) {
        if (p[i] >= colors) {
            PyBuffer_Release(&buf);
            PyErr_SetString(PyExc_ValueError, "an index is >= colors");
            return NULL;
        }
    }
    encoder e;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = encode_plane(p, width, height, colors, &e);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&buf);
    if (rc) {
        free(e.out);
        return PyErr_NoMemory();
    }
    /* The range coder's first byte is always 0 (spec 2.6.2): it is not stored. */
    PyObject *res = PyBytes_FromStringAndSize((const char *)e.out + 1, (Py_ssize_t)e.len - 1);
    free(e.out);
    return res;
}

static PyObject *py_decode(PyObject *Py_UNUSED(self), PyObject *args) {
    Py_buffer in, out;
    int width, height, colors;
    if (!PyArg_ParseTuple(args, "y*iiiw*", &in, &width, &height, &colors, &out)) return NULL;
    if (width < 1 || height < 1 || colors < 1 || colors > 256 ||
        out.len != (Py_ssize_t)width * height) {
        PyBuffer_Release(&in);
        PyBuffer_Release(&out);
        PyErr_SetString(PyExc_ValueError, "output buffer does not match width * height");
        return NULL;
    }
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = decode_plane((const uint8_t *)in.buf, (size_t)in.len, width, height, colors,
                      (uint8_t *)out.buf);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&in);
    PyBuffer_Release(&out);
    if (rc == ERR_NOMEM) return PyErr_NoMemory();
    return PyLong_FromLong(rc);
}

static PyMethodDef methods[] = {
    {"encode", py_encode, METH_VARARGS, "encode(indices, width, height, colors) -> bytes"},
    {"decode", py_decode, METH_VARARGS,
     "decode(stream, width, height, colors, out) -> 0 or a negative error code"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_context_coder",
    "Compiled core of the .kmq context coding (coding 1).", -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__context_coder(void) {
    init_tables();
    PyObject *mod = PyModule_Create(&module);
    if (!mod) return NULL;
    PyModule_AddIntConstant(mod, "ERR_ENDS_EARLY", ERR_ENDS_EARLY);
    PyModule_AddIntConstant(mod, "ERR_LEFT_OVER", ERR_LEFT_OVER);
    PyModule_AddIntConstant(mod, "ERR_INDEX", ERR_INDEX);
    return mod;
}
