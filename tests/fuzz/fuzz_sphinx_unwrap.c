/*
 * Fuzz target: sphinx_unwrap() (and the SURB parsers) on arbitrary bytes.
 *
 * The first input byte picks a mode; the rest is the packet:
 *   0: the bytes as they are, default geometry (mostly wrong lengths);
 *   1: fitted (truncated / zero padded) to the default packet length;
 *   2: fitted to a small geometry (3 hops, 64-byte payload);
 *   3: the bytes as a SURB reply payload for sphinx_surb_open, and as a SURB
 *      for sphinx_surb_pack (small geometry).
 * Every node of the seed packets uses the same fixed key, so a packet that
 * unwraps is unwrapped again, hop after hop, through a small replay cache.
 *
 * Seeds: build with -DSPHINX_FUZZ_GEN and run with a directory argument to
 * write real packets (forward and SURB replies, 1..max hops) as seeds:
 *   cc -DSPHINX_FUZZ_GEN -D_GNU_SOURCE -Ilib tests/fuzz/fuzz_sphinx_unwrap.c \
 *      build/libmix.a -lsodium -o /tmp/gen && /tmp/gen tests/fuzz/corpus/sphinx_unwrap
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "sphinx.h"

/* fuzz_sphinx_kem_unwrap.c includes this file with the KEM format. */
#ifndef SPHINX_FUZZ_FORMAT
#define SPHINX_FUZZ_FORMAT SPHINX_FORMAT_CLASSIC
#endif
static const struct sphinx_geometry geom_default = { 5, 2048, SPHINX_FUZZ_FORMAT };
static const struct sphinx_geometry geom_small = { 3, 64, SPHINX_FUZZ_FORMAT };

static void node_key(uint8_t sk[32])
{
    memset(sk, 0x42, 32);
}

/* Unwrap hop after hop while the packet keeps forwarding. */
static void run_unwrap(const struct sphinx_geometry *g, const uint8_t *pkt, size_t len)
{
    uint8_t sk[32];
    node_key(sk);
    size_t plen = sphinx_packet_len(g);
    uint8_t *cur = malloc(plen), *out = malloc(plen);
    struct replay_cache *cache = replay_cache_new(16, NULL);
    if (cur == NULL || out == NULL || cache == NULL)
        goto done;
    struct sphinx_result res;
    enum sphinx_status st = sphinx_unwrap(g, sk, cache, pkt, len, out, plen, &res);
    for (int hop = 0; st == SPHINX_OK_FORWARD && hop < 12; hop++) {
        memcpy(cur, out, plen);
        st = sphinx_unwrap(g, sk, cache, cur, plen, out, plen, &res);
    }
    if (st == SPHINX_OK_DELIVER && res.out_len > plen)
        abort();
    (void)sphinx_strerror(st);
done:
    replay_cache_free(cache);
    free(cur);
    free(out);
}

static void run_fitted(const struct sphinx_geometry *g, const uint8_t *data, size_t len)
{
    size_t plen = sphinx_packet_len(g);
    uint8_t *pkt = calloc(1, plen);
    if (pkt == NULL)
        return;
    memcpy(pkt, data, len < plen ? len : plen);
    run_unwrap(g, pkt, plen);
    free(pkt);
}

static void run_surb(const uint8_t *data, size_t len)
{
    const struct sphinx_geometry *g = &geom_small;
    uint8_t keys[SPHINX_SURB_KEYS_LEN] = { 0 }, first[32];
    size_t slen = sphinx_surb_len(g), plen = sphinx_packet_len(g);
    uint8_t *surb = calloc(1, slen), *pkt = malloc(plen), *plain = malloc(g->payload_len);
    if (surb == NULL || pkt == NULL || plain == NULL)
        goto done;
    memcpy(keys, data, len < sizeof keys ? len : sizeof keys);
    memcpy(surb, data, len < slen ? len : slen);
    enum sphinx_status st;
    if (len >= g->payload_len) {
        st = sphinx_surb_open(g, keys, data + len - g->payload_len, g->payload_len, plain);
        (void)sphinx_strerror(st);
    }
    st = sphinx_surb_open(g, keys, data, len, plain);
    (void)sphinx_strerror(st);
    if (sphinx_surb_pack(g, surb, slen, data, len < 48 ? len : 48, pkt, first) == SPHINX_OK)
        run_unwrap(g, pkt, plen);
    st = sphinx_surb_pack(g, data, len, NULL, 0, pkt, first);
    if (st == SPHINX_OK && len != slen)
        abort(); /* a SURB of the wrong length must be refused */
done:
    free(surb);
    free(pkt);
    free(plain);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
    if (!init) {
        if (sodium_init() < 0)
            abort();
        init = 1;
    }
    if (size == 0)
        return 0;
    switch (data[0] & 3) {
    case 0: run_unwrap(&geom_default, data + 1, size - 1); break;
    case 1: run_fitted(&geom_default, data + 1, size - 1); break;
    case 2: run_fitted(&geom_small, data + 1, size - 1); break;
    default: run_surb(data + 1, size - 1); break;
    }
    return 0;
}

#ifdef SPHINX_FUZZ_GEN
static void write_seed(const char *dir, const char *name, uint8_t mode, const uint8_t *p,
                       size_t len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/seed-%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(&mode, 1, 1, f) != 1 || fwrite(p, 1, len, f) != len)
        exit(1);
    fclose(f);
}

int main(int argc, char **argv)
{
    if (argc != 2 || sodium_init() < 0)
        return 2;
    uint8_t sk[32], seed[32] = { 9 }, rcpt[32] = { 7 }, sid[16] = { 5 }, first[32];
    uint8_t keys[SPHINX_SURB_KEYS_LEN], msg[] = "fuzz seed";
    node_key(sk);
    struct mix_rng_det d;
    mix_rng_det_init(&d, seed);
    struct mix_rng r = mix_rng_det(&d);
    const struct sphinx_geometry *gs[2] = { &geom_default, &geom_small };
    for (int gi = 0; gi < 2; gi++) {
        const struct sphinx_geometry *g = gs[gi];
        struct sphinx_hop path[5];
        for (size_t i = 0; i < g->max_hops; i++) {
            sphinx_public_key(sk, path[i].public_key);
            memset(path[i].node_id, (int)i + 1, 32);
            path[i].delay_us = 100 * (uint32_t)i;
        }
        size_t plen = sphinx_packet_len(g), slen = sphinx_surb_len(g);
        uint8_t *pkt = malloc(plen), *surb = malloc(slen);
        char name[64];
        for (size_t nh = 1; nh <= g->max_hops; nh++) {
            if (sphinx_create(g, &r, path, nh, rcpt, msg, sizeof msg, pkt) != SPHINX_OK)
                return 1;
            snprintf(name, sizeof name, "g%d-fwd-%zu", gi, nh);
            write_seed(argv[1], name, (uint8_t)(1 + gi), pkt, plen);
            if (sphinx_surb_create(g, &r, path, nh, rcpt, sid, surb, keys) != SPHINX_OK ||
                sphinx_surb_pack(g, surb, slen, msg, sizeof msg, pkt, first) != SPHINX_OK)
                return 1;
            snprintf(name, sizeof name, "g%d-reply-%zu", gi, nh);
            write_seed(argv[1], name, (uint8_t)(1 + gi), pkt, plen);
            if (gi == 1) {
                snprintf(name, sizeof name, "surb-%zu", nh);
                write_seed(argv[1], name, 3, surb, slen);
            }
        }
        if (gi == 0)
            write_seed(argv[1], "raw-short", 0, pkt, 100);
        free(pkt);
        free(surb);
    }
    return 0;
}
#endif
