/*
 * Randomness supplied by the caller.  The core never calls a random source
 * on its own: every function that needs randomness takes a `struct mix_rng`.
 * Daemons pass mix_rng_system() (libsodium's randombytes); unit tests and
 * known-answer vectors pass a deterministic ChaCha20 stream from a seed; the
 * simulator passes a fast non-cryptographic generator of its own.
 */
#ifndef MIX_RNG_H
#define MIX_RNG_H

#include "common.h"

struct mix_rng {
    /* Fill out[0..len) with random bytes. */
    void (*fill)(void *ctx, uint8_t *out, size_t len);
    void *ctx;
};

/* The system CSPRNG (randombytes_buf).  sodium_init() must have been called. */
struct mix_rng mix_rng_system(void);

/*
 * Deterministic generator: the ChaCha20 keystream under a 32-byte seed.
 * The same seed always gives the same bytes; for tests and vectors only.
 */
struct mix_rng_det {
    uint8_t key[32];
    uint64_t block; /* next 64-byte keystream block */
    uint8_t buf[64];
    size_t used; /* bytes of buf already handed out */
};
void mix_rng_det_init(struct mix_rng_det *d, const uint8_t seed[static 32]);
struct mix_rng mix_rng_det(struct mix_rng_det *d);

static inline void mix_rng_bytes(const struct mix_rng *r, void *out, size_t len)
{
    r->fill(r->ctx, (uint8_t *)out, len);
}

uint64_t mix_rng_u64(const struct mix_rng *r);
/* Uniform integer in [0, n), without modulo bias; n > 0. */
uint64_t mix_rng_below(const struct mix_rng *r, uint64_t n);
/* Uniform double in (0, 1]: never 0, so log() of it is finite. */
double mix_rng_unit(const struct mix_rng *r);
/* Exponentially distributed value with the given mean (mean > 0). */
double mix_rng_exp(const struct mix_rng *r, double mean);

#endif
