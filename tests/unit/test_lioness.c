/*
 * Lioness: known answer, an independent reading of the spec, round trips,
 * tamper detection through a zero block, and bad lengths.
 */
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "lioness.h"
#include "rng.h"
#include "tap.h"

/* docs/spec/sphinx.md section 10, written out with libsodium calls. */
static void spec_encrypt(const uint8_t k[32], uint8_t *buf, size_t len)
{
    static const uint8_t nonce[8] = { 0 };
    uint8_t K[4][32], t[32];
    char label[32];
    for (int j = 0; j < 4; j++) {
        snprintf(label, sizeof label, "mixnet-lioness-v1 round %d", j + 1);
        crypto_generichash(K[j], 32, (const uint8_t *)label, strlen(label), k, 32);
    }
    uint8_t *L = buf, *R = buf + 32;
    size_t rl = len - 32;
    for (int round = 0; round < 2; round++) {
        crypto_generichash(t, 32, L, 32, K[2 * round], 32);
        crypto_stream_chacha20_xor(R, R, rl, nonce, t);
        crypto_generichash(t, 32, R, rl, K[2 * round + 1], 32);
        for (int i = 0; i < 32; i++)
            L[i] ^= t[i];
    }
}

static void test_known_answer(void)
{
    uint8_t key[32], buf[100], want[100];
    for (size_t i = 0; i < 32; i++)
        key[i] = (uint8_t)i;
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)(i * 7);
    CHECK(sodium_hex2bin(want, sizeof want,
                         "7d4a23c96bddb1fff006abb057247d820cb23be65cb09bd58d3f533560165f0c"
                         "e3ac3d0be4d36a90cea9bab6d3dcfd1c37f1299908d23febce5b0bf1be4435bc"
                         "33ec28c9cf57be1810b001606311cbdeff98efa2ebeb500dcac34b7fe2929833"
                         "a1089d65",
                         200, NULL, NULL, NULL) == 0);
    CHECK(lioness_encrypt(key, buf, sizeof buf) == 0);
    CHECK_EQ_MEM(buf, want, sizeof buf);
    CHECK(lioness_decrypt(key, buf, sizeof buf) == 0);
    for (size_t i = 0; i < sizeof buf; i++)
        CHECK(buf[i] == (uint8_t)(i * 7));
}

static void test_matches_spec(void)
{
    size_t lens[] = { 64, 65, 97, 1000, 2048, 4099 };
    uint8_t seed[32] = { 42 }, key[32];
    struct mix_rng_det d;
    mix_rng_det_init(&d, seed);
    struct mix_rng r = mix_rng_det(&d);
    for (size_t i = 0; i < MIX_ARRAY_LEN(lens); i++) {
        uint8_t *a = malloc(lens[i]), *b = malloc(lens[i]), *orig = malloc(lens[i]);
        mix_rng_bytes(&r, key, sizeof key);
        mix_rng_bytes(&r, orig, lens[i]);
        memcpy(a, orig, lens[i]);
        memcpy(b, orig, lens[i]);
        CHECK(lioness_encrypt(key, a, lens[i]) == 0);
        spec_encrypt(key, b, lens[i]);
        CHECKF(memcmp(a, b, lens[i]) == 0, "len %zu", lens[i]);
        CHECK(memcmp(a, orig, lens[i]) != 0);
        CHECK(lioness_decrypt(key, a, lens[i]) == 0);
        CHECK_EQ_MEM(a, orig, lens[i]);
        /* The wrong key does not decrypt. */
        key[0] ^= 1;
        CHECK(lioness_decrypt(key, b, lens[i]) == 0);
        CHECK(memcmp(b, orig, lens[i]) != 0);
        free(a);
        free(b);
        free(orig);
    }
}

/* Any single-bit change of the ciphertext garbles the whole plaintext,
 * so a leading zero block catches it. */
static void test_tamper(void)
{
    uint8_t key[32] = { 7 }, pt[256] = { 0 }, ct[256], buf[256];
    for (size_t i = 16; i < sizeof pt; i++)
        pt[i] = (uint8_t)i;
    memcpy(ct, pt, sizeof pt);
    CHECK(lioness_encrypt(key, ct, sizeof ct) == 0);
    size_t missed = 0, tail_same = 0;
    for (size_t bit = 0; bit < sizeof ct * 8; bit++) {
        memcpy(buf, ct, sizeof ct);
        buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        CHECK(lioness_decrypt(key, buf, sizeof buf) == 0);
        if (sodium_is_zero(buf, 16))
            missed++;
        if (memcmp(buf + 240, pt + 240, 16) == 0)
            tail_same++;
    }
    CHECKF(missed == 0, "%zu flips kept the zero block", missed);
    CHECKF(tail_same == 0, "%zu flips left the tail intact", tail_same);
}

static void test_bad_length(void)
{
    uint8_t key[32] = { 0 }, buf[64] = { 0 };
    CHECK(lioness_encrypt(key, buf, 63) == -1);
    CHECK(lioness_decrypt(key, buf, 63) == -1);
    CHECK(lioness_encrypt(key, buf, 0) == -1);
    CHECK(lioness_encrypt(key, NULL, 64) == -1);
    CHECK(sodium_is_zero(buf, sizeof buf));
    CHECK(lioness_encrypt(key, buf, 64) == 0);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    RUN(test_known_answer);
    RUN(test_matches_spec);
    RUN(test_tamper);
    RUN(test_bad_length);
    return tap_done();
}
