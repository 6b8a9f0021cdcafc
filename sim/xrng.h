/*
 * xoshiro256** (Blackman and Vigna, public domain algorithm), the
 * simulator's fast non-cryptographic PRNG.  Never use it for keys: the
 * simulator only needs speed and reproducibility from a 64-bit seed.
 */
#ifndef SIM_XRNG_H
#define SIM_XRNG_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "rng.h"

struct xrng {
    uint64_t s[4];
};

static inline uint64_t xrng_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/* Seed through splitmix64 so that nearby seeds give unrelated streams. */
static inline void xrng_seed(struct xrng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++) {
        uint64_t z = (seed += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        r->s[i] = z ^ (z >> 31);
    }
}

static inline uint64_t xrng_next(struct xrng *r)
{
    uint64_t *s = r->s;
    uint64_t result = xrng_rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = xrng_rotl(s[3], 45);
    return result;
}

/* Uniform in (0, 1]: never 0, so log() is finite. */
static inline double xrng_unit(struct xrng *r)
{
    return ((double)(xrng_next(r) >> 11) + 1.0) * (1.0 / 9007199254740992.0);
}

/* Uniform integer in [0, n) (Lemire's multiply-shift; bias < n / 2^64). */
static inline uint32_t xrng_below(struct xrng *r, uint32_t n)
{
    return (uint32_t)(((xrng_next(r) >> 32) * (uint64_t)n) >> 32);
}

static inline double xrng_exp(struct xrng *r, double mean)
{
    return -log(xrng_unit(r)) * mean;
}

/* lib/rng.h adapter so lib/mixq draws from the same seeded stream. */
static inline void xrng_fill(void *ctx, uint8_t *out, size_t len)
{
    struct xrng *r = ctx;
    while (len > 0) {
        uint64_t v = xrng_next(r);
        size_t n = len < 8 ? len : 8;
        memcpy(out, &v, n);
        out += n;
        len -= n;
    }
}

static inline struct mix_rng xrng_as_mix_rng(struct xrng *r)
{
    return (struct mix_rng){ .fill = xrng_fill, .ctx = r };
}

#endif
