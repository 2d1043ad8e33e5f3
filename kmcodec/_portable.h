/*
 * What the compiled cores need from the compiler, for gcc, clang and MSVC alike: a forced
 * inline, a prefetch hint, a 64-bit population count and counts of trailing and leading zeros. Other compilers get plain C.
 */
#ifndef KMCODEC_PORTABLE_H
#define KMCODEC_PORTABLE_H

#include <stdint.h>

#if defined(__GNUC__) || defined(__clang__)
#define KMQ_INLINE static inline __attribute__((always_inline))
#define KMQ_PREFETCH(p) __builtin_prefetch(p)
#define KMQ_POPCOUNT64(x) ((int)__builtin_popcountll(x))
#define KMQ_CTZ64(x) ((int)__builtin_ctzll(x)) /* x != 0 */
#define KMQ_CLZ64(x) ((int)__builtin_clzll(x)) /* x != 0 */
#else
#if defined(_MSC_VER)
#define KMQ_INLINE static __forceinline
#else
#define KMQ_INLINE static inline
#endif
#if defined(_MSC_VER) && (defined(_M_X64) || defined(_M_IX86))
#include <xmmintrin.h>
#define KMQ_PREFETCH(p) _mm_prefetch((const char *)(p), _MM_HINT_T0)
#else
#define KMQ_PREFETCH(p) ((void)(p))
#endif
static inline int kmq_popcount64(uint64_t x) {
    x = x - ((x >> 1) & 0x5555555555555555ULL);
    x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
    x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
    return (int)((x * 0x0101010101010101ULL) >> 56);
}
#define KMQ_POPCOUNT64(x) kmq_popcount64(x)
static inline int kmq_ctz64(uint64_t x) { /* x != 0 */
    int n = 0;
    while (!(x & 1)) {
        x >>= 1;
        n++;
    }
    return n;
}
#define KMQ_CTZ64(x) kmq_ctz64(x)
static inline int kmq_clz64(uint64_t x) { /* x != 0 */
    int n = 0;
    while (!(x >> 63)) {
        x <<= 1;
        n++;
    }
    return n;
}
#define KMQ_CLZ64(x) kmq_clz64(x)
#endif

/* 1 where a uint64_t's bytes are in memory least significant first (then a little-endian
 * field can be read with memcpy); 0 where unknown, and the byte-by-byte path is taken */
#if (defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__) || defined(_MSC_VER)
#define KMQ_LITTLE_ENDIAN 1
#else
#define KMQ_LITTLE_ENDIAN 0
#endif

#endif
