/*
 * Lioness wide-block cipher from ChaCha20 and keyed BLAKE2b.  See lioness.h
 * and docs/spec/sphinx.md ("Lioness").
 */
#include "lioness.h"

#include <string.h>
#include <sodium.h>

#define LIONESS_L 32 /* left half: one BLAKE2b-256 output / one ChaCha20 key */

/* Round keys K1..K4 from the 32-byte key, one BLAKE2b label each. */
struct lioness_rounds {
    uint8_t k[4][32];
};

static void lioness_expand(const uint8_t key[LIONESS_KEY_LEN], struct lioness_rounds *rk)
{
    static const char *const labels[4] = {
        "mixnet-lioness-v1 round 1",
        "mixnet-lioness-v1 round 2",
        "mixnet-lioness-v1 round 3",
        "mixnet-lioness-v1 round 4",
    };
    for (int i = 0; i < 4; i++)
        crypto_generichash(rk->k[i], 32, (const uint8_t *)labels[i], strlen(labels[i]), key,
                           LIONESS_KEY_LEN);
}

/* R ^= ChaCha20(key = BLAKE2b-256(key rk, L), nonce 0, counter 0). */
static void stream_round(const uint8_t rk[32], const uint8_t *l, uint8_t *r, size_t rlen)
{
    static const uint8_t nonce[crypto_stream_chacha20_NONCEBYTES] = { 0 };
    uint8_t sk[crypto_stream_chacha20_KEYBYTES];
    crypto_generichash(sk, sizeof sk, l, LIONESS_L, rk, 32);
    crypto_stream_chacha20_xor(r, r, rlen, nonce, sk);
    sodium_memzero(sk, sizeof sk);
}

/* L ^= BLAKE2b-256(key rk, R). */
static void hash_round(const uint8_t rk[32], uint8_t *l, const uint8_t *r, size_t rlen)
{
    uint8_t h[LIONESS_L];
    crypto_generichash(h, sizeof h, r, rlen, rk, 32);
    for (size_t i = 0; i < LIONESS_L; i++)
        l[i] ^= h[i];
    sodium_memzero(h, sizeof h);
}

int lioness_encrypt(const uint8_t key[static LIONESS_KEY_LEN], uint8_t *buf, size_t len)
{
    if (buf == NULL || len < LIONESS_MIN_LEN)
        return -1;
    struct lioness_rounds rk;
    lioness_expand(key, &rk);
    uint8_t *l = buf, *r = buf + LIONESS_L;
    size_t rlen = len - LIONESS_L;
    stream_round(rk.k[0], l, r, rlen);
    hash_round(rk.k[1], l, r, rlen);
    stream_round(rk.k[2], l, r, rlen);
    hash_round(rk.k[3], l, r, rlen);
    sodium_memzero(&rk, sizeof rk);
    return 0;
}

int lioness_decrypt(const uint8_t key[static LIONESS_KEY_LEN], uint8_t *buf, size_t len)
{
    if (buf == NULL || len < LIONESS_MIN_LEN)
        return -1;
    struct lioness_rounds rk;
    lioness_expand(key, &rk);
    uint8_t *l = buf, *r = buf + LIONESS_L;
    size_t rlen = len - LIONESS_L;
    hash_round(rk.k[3], l, r, rlen);
    stream_round(rk.k[2], l, r, rlen);
    hash_round(rk.k[1], l, r, rlen);
    stream_round(rk.k[0], l, r, rlen);
    sodium_memzero(&rk, sizeof rk);
    return 0;
}
