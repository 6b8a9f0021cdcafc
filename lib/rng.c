#include "rng.h"

#include <math.h>
#include <string.h>
#include <sodium.h>

static void system_fill(void *ctx, uint8_t *out, size_t len)
{
    (void)ctx;
    randombytes_buf(out, len);
}

struct mix_rng mix_rng_system(void)
{
    return (struct mix_rng){ .fill = system_fill, .ctx = NULL };
}

void mix_rng_det_init(struct mix_rng_det *d, const uint8_t seed[static 32])
{
    memcpy(d->key, seed, 32);
    d->block = 0;
    d->used = sizeof d->buf;
}

static void det_fill(void *ctx, uint8_t *out, size_t len)
{
    static const uint8_t nonce[crypto_stream_chacha20_ietf_NONCEBYTES] = { 0 };
    struct mix_rng_det *d = ctx;
    while (len > 0) {
        if (d->used == sizeof d->buf) {
            memset(d->buf, 0, sizeof d->buf);
            crypto_stream_chacha20_ietf_xor_ic(d->buf, d->buf, sizeof d->buf, nonce,
                                               (uint32_t)d->block, d->key);
            d->block++;
            d->used = 0;
        }
        size_t n = sizeof d->buf - d->used;
        if (n > len)
            n = len;
        memcpy(out, d->buf + d->used, n);
        d->used += n;
        out += n;
        len -= n;
    }
}

struct mix_rng mix_rng_det(struct mix_rng_det *d)
{
    return (struct mix_rng){ .fill = det_fill, .ctx = d };
}

uint64_t mix_rng_u64(const struct mix_rng *r)
{
    uint8_t b[8];
    r->fill(r->ctx, b, sizeof b);
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | b[i];
    return v;
}

uint64_t mix_rng_below(const struct mix_rng *r, uint64_t n)
{
    /* Reject the top partial range so every value is equally likely. */
    uint64_t limit = UINT64_MAX - (UINT64_MAX % n);
    uint64_t v;
    do {
        v = mix_rng_u64(r);
    } while (v >= limit);
    return v % n;
}

double mix_rng_unit(const struct mix_rng *r)
{
    /* 53 random bits, shifted into (0, 1]. */
    return ((double)(mix_rng_u64(r) >> 11) + 1.0) * (1.0 / 9007199254740992.0);
}

double mix_rng_exp(const struct mix_rng *r, double mean)
{
    return -log(mix_rng_unit(r)) * mean;
}
