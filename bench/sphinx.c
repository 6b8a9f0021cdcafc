/*
 * Sphinx benchmark: medians of many timed runs (CLOCK_MONOTONIC), one
 * "<name> <value> <unit>" line each.  The unwrap target from issue 2 is
 * sphinx_unwrap_us <= 1.15 x (2 x x25519_us + lioness_2k_us), printed as
 * sphinx_unwrap_target_ratio (the quotient; at most 1.15 passes).  Unwrap,
 * X25519 and Lioness are timed interleaved in one loop, so the load of a
 * shared machine falls on all three alike and the ratio stays meaningful.
 * The KEM format (docs/spec/sphinx.md section 15) is timed the same way;
 * its target (issue 19) is sphinx_kem_unwrap_us <= 1.15 x (x25519_us +
 * lioness_2k_us), printed as sphinx_kem_unwrap_target_ratio.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sodium.h>

#include "lioness.h"
#include "replay.h"
#include "sphinx.h"

#define RUNS 1000

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static double t[RUNS], tx[RUNS], tl[RUNS];

/* One X25519 and one 2 KiB Lioness, timed separately. */
static int time_primitives(int i, uint8_t sk[32], uint8_t pk[32], uint8_t *buf)
{
    uint8_t key[LIONESS_KEY_LEN] = { 1 }, out[32];
    double t0 = now_us();
    if (crypto_scalarmult(out, sk, pk) != 0)
        return -1;
    double t1 = now_us();
    if (lioness_encrypt(key, buf, 2048) != 0)
        return -1;
    double t2 = now_us();
    tx[i] = t1 - t0;
    tl[i] = t2 - t1;
    sk[0] ^= out[0]; /* depend on the result */
    return 0;
}

struct kem_figures {
    double create, unwrap, surb_create;
};

/* The KEM format: creation, then unwrap interleaved with its primitives. */
static int bench_kem(const struct sphinx_geometry *g, const struct sphinx_hop *path,
                     const uint8_t sk0[32], struct kem_figures *f, double *x, double *l)
{
    size_t plen = sphinx_packet_len(g), slen = sphinx_surb_len(g);
    struct mix_rng rng = mix_rng_system();
    uint8_t rcpt[32] = { 1 }, msg[100] = { 2 }, sid[16] = { 3 }, keys[SPHINX_SURB_KEYS_LEN];
    uint8_t *pkts = malloc((size_t)RUNS * plen), *out = malloc(plen), *surb = malloc(slen);
    struct replay_cache *cache = replay_cache_new(4 * RUNS, NULL);
    int rc = -1;
    if (pkts == NULL || out == NULL || surb == NULL || cache == NULL)
        goto done;
    for (int i = 0; i < RUNS; i++) {
        double t0 = now_us();
        if (sphinx_create(g, &rng, path, 5, rcpt, msg, sizeof msg, pkts + i * plen) != SPHINX_OK)
            goto done;
        t[i] = now_us() - t0;
    }
    f->create = median(t, RUNS);
    uint8_t xsk[32], xpk[32], lbuf[2048] = { 0 };
    randombytes_buf(xsk, sizeof xsk);
    crypto_scalarmult_base(xpk, xsk);
    for (int i = 0; i < RUNS; i++) {
        struct sphinx_result res;
        if (time_primitives(i, xsk, xpk, lbuf) != 0)
            goto done;
        double t0 = now_us();
        enum sphinx_status st =
            sphinx_unwrap(g, sk0, cache, pkts + i * plen, plen, out, plen, &res);
        t[i] = now_us() - t0;
        if (st != SPHINX_OK_FORWARD)
            goto done;
    }
    *x = median(tx, RUNS);
    *l = median(tl, RUNS);
    f->unwrap = median(t, RUNS);
    for (int i = 0; i < RUNS; i++) {
        double t0 = now_us();
        if (sphinx_surb_create(g, &rng, path, 5, rcpt, sid, surb, keys) != SPHINX_OK)
            goto done;
        t[i] = now_us() - t0;
    }
    f->surb_create = median(t, RUNS);
    rc = 0;
done:
    replay_cache_free(cache);
    free(pkts);
    free(out);
    free(surb);
    return rc;
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    struct sphinx_geometry g = sphinx_geometry_default();
    size_t plen = sphinx_packet_len(&g), slen = sphinx_surb_len(&g);
    struct mix_rng rng = mix_rng_system();
    uint8_t sk[5][32], rcpt[32] = { 1 }, msg[100] = { 2 }, sid[16] = { 3 };
    uint8_t keys[SPHINX_SURB_KEYS_LEN];
    struct sphinx_hop path[5];
    for (int i = 0; i < 5; i++) {
        sphinx_keygen(&rng, sk[i], path[i].public_key);
        randombytes_buf(path[i].node_id, 32);
        path[i].delay_us = 1000;
    }
    uint8_t *pkts = malloc((size_t)RUNS * plen), *out = malloc(plen), *surb = malloc(slen);
    struct replay_cache *cache = replay_cache_new(4 * RUNS, NULL);
    if (pkts == NULL || out == NULL || surb == NULL || cache == NULL)
        return 1;

    /* Creation of 5-hop packets; they are then unwrapped once each. */
    for (int i = 0; i < RUNS; i++) {
        double t0 = now_us();
        if (sphinx_create(&g, &rng, path, 5, rcpt, msg, sizeof msg, pkts + i * plen) != SPHINX_OK)
            return 1;
        t[i] = now_us() - t0;
    }
    double create = median(t, RUNS);
    /*
     * Unwrap and its primitives interleaved, so that the load of a shared
     * machine falls on all three alike and their ratio stays meaningful.
     */
    uint8_t xsk[32], xpk[32], lbuf[2048] = { 0 };
    randombytes_buf(xsk, sizeof xsk);
    crypto_scalarmult_base(xpk, xsk);
    for (int i = 0; i < RUNS; i++) {
        struct sphinx_result res;
        if (time_primitives(i, xsk, xpk, lbuf) != 0)
            return 1;
        double t0 = now_us();
        enum sphinx_status st =
            sphinx_unwrap(&g, sk[0], cache, pkts + i * plen, plen, out, plen, &res);
        t[i] = now_us() - t0;
        if (st != SPHINX_OK_FORWARD)
            return 1;
    }
    double x = median(tx, RUNS), l = median(tl, RUNS);
    double unwrap = median(t, RUNS);
    for (int i = 0; i < RUNS; i++) {
        double t0 = now_us();
        if (sphinx_surb_create(&g, &rng, path, 5, rcpt, sid, surb, keys) != SPHINX_OK)
            return 1;
        t[i] = now_us() - t0;
    }
    double surb_create = median(t, RUNS);

    printf("sphinx_create_us %.1f us\n", create);
    printf("sphinx_unwrap_us %.1f us\n", unwrap);
    printf("surb_create_us %.1f us\n", surb_create);
    printf("lioness_2k_us %.1f us\n", l);
    printf("x25519_us %.1f us\n", x);
    printf("sphinx_unwrap_target_ratio %.3f x\n", unwrap / (2 * x + l));
    struct sphinx_geometry kg = g;
    kg.format = SPHINX_FORMAT_KEM_X25519;
    double kx, kl;
    struct kem_figures kf;
    if (bench_kem(&kg, path, sk[0], &kf, &kx, &kl) != 0)
        return 1;
    printf("sphinx_kem_create_us %.1f us\n", kf.create);
    printf("sphinx_kem_unwrap_us %.1f us\n", kf.unwrap);
    printf("sphinx_kem_surb_create_us %.1f us\n", kf.surb_create);
    printf("sphinx_kem_unwrap_target_ratio %.3f x\n", kf.unwrap / (kx + kl));
    printf("sphinx_kem_packet_bytes %zu bytes\n", sphinx_packet_len(&kg));
    printf("sphinx_packet_bytes %zu bytes\n", plen);
    replay_cache_free(cache);
    free(pkts);
    free(out);
    free(surb);
    return 0;
}
