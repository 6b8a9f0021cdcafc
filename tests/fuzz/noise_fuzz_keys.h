/*
 * The fixed responder identity of tests/fuzz/fuzz_noise_responder.c, shared
 * with tests/tools/noise_peer.c (fuzz-seeds), which writes corpus seeds
 * whose transport messages decrypt under exactly this responder.
 */
#ifndef MIX_NOISE_FUZZ_KEYS_H
#define MIX_NOISE_FUZZ_KEYS_H

#include <string.h>
#include <sodium.h>

/* Frames above this are oversized for the fuzzed responder. */
#define NOISE_FUZZ_MAX_FRAME 100000

static inline void noise_fuzz_keys(uint8_t sk[32], uint8_t pk[32], uint8_t rng_seed[32])
{
    for (int i = 0; i < 32; i++)
        sk[i] = (uint8_t)(i + 1);
    crypto_scalarmult_base(pk, sk);
    memset(rng_seed, 0x5a, 32);
}

#endif
