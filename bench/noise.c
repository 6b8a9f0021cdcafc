/*
 * Noise link benchmarks:
 *   noise_handshake_us     a full Noise_IK handshake, both sides, through the
 *                          link layer (msg1 written, read, msg2 written, read,
 *                          split), per handshake
 *   noise_transport_2k_us  encrypt + decrypt of a 2 KiB transport message
 * Each figure is the median of several timed batches.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <sodium.h>

#include "link.h"
#include "noise.h"
#include "rng.h"

#define BATCHES 7

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
    return v[n / 2];
}

/* One handshake between two fresh links; returns false on any failure. */
static bool one_handshake(const uint8_t *isk, const uint8_t *ipk, const uint8_t *rsk,
                          const uint8_t *rpk, const struct mix_rng *rng)
{
    struct link *i = link_new_initiator(isk, ipk, rpk, LINK_ROLE_NODE, 0, rng);
    struct link *r = link_new_responder(rsk, rpk, 0, rng);
    const uint8_t *p;
    size_t len;
    bool ok = i && r && link_start(i) == LINK_OK;
    if (ok) {
        link_output(i, &p, &len);
        ok = link_feed(r, p, len) == LINK_OK;
        link_consume_output(i, len);
    }
    if (ok) {
        link_output(r, &p, &len);
        ok = link_feed(i, p, len) == LINK_OK && link_is_established(i);
        link_consume_output(r, len);
    }
    link_free(i);
    link_free(r);
    return ok;
}

static int bench_handshake(void)
{
    struct mix_rng rng = mix_rng_system();
    uint8_t isk[32], ipk[32], rsk[32], rpk[32];
    double t[BATCHES];
    const int per = 100;
    if (noise_dh_keygen(ipk, isk, &rng) || noise_dh_keygen(rpk, rsk, &rng))
        return 1;
    for (int b = 0; b < BATCHES; b++) {
        double t0 = now_us();
        for (int k = 0; k < per; k++)
            if (!one_handshake(isk, ipk, rsk, rpk, &rng))
                return 1;
        t[b] = (now_us() - t0) / per;
    }
    printf("noise_handshake_us %.1f us\n", median(t, BATCHES));
    return 0;
}

static int bench_transport(void)
{
    uint8_t k[32], pt[2048], ct[2048 + NOISE_TAGLEN], out[2048];
    double t[BATCHES];
    const int per = 20000;
    randombytes_buf(k, sizeof k);
    randombytes_buf(pt, sizeof pt);
    struct noise_cipher *enc = noise_cipher_new(k), *dec = noise_cipher_new(k);
    if (enc == NULL || dec == NULL)
        return 1;
    for (int b = 0; b < BATCHES; b++) {
        double t0 = now_us();
        for (int n = 0; n < per; n++) {
            if (noise_cipher_encrypt(enc, NULL, 0, pt, sizeof pt, ct) != NOISE_OK ||
                noise_cipher_decrypt(dec, NULL, 0, ct, sizeof ct, out) != NOISE_OK)
                return 1;
        }
        t[b] = (now_us() - t0) / per;
    }
    noise_cipher_free(enc);
    noise_cipher_free(dec);
    printf("noise_transport_2k_us %.2f us\n", median(t, BATCHES));
    return 0;
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    if (bench_handshake() != 0 || bench_transport() != 0) {
        fprintf(stderr, "noise bench: failure\n");
        return 1;
    }
    return 0;
}
