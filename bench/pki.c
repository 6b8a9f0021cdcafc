/*
 * Directory benchmarks: a realistic signed document (3 authorities, all
 * three signatures, verifier threshold k = 2, 20 nodes: 4 gateway/providers
 * and 16 mixes over 3 layers, each with 3 Sphinx keys) verified end to end
 * (outer parse, Ed25519 signatures, strict canonical decode, epoch check).
 *
 * Prints: pki_verify_us, pki_doc_encode_us, pki_descriptor_verify_us,
 * pki_document_bytes.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pki.h"
#include "rng.h"

#define N_NODES 20
#define N_AUTH 3

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void make_node(struct pki_descriptor *d, uint8_t sk[PKI_SECRET_KEY_LEN],
                      const struct mix_rng *rng, int i)
{
    uint8_t seed[32];
    memset(d, 0, sizeof *d);
    mix_rng_bytes(rng, seed, sizeof seed);
    crypto_sign_seed_keypair(d->identity_key, sk, seed);
    pki_node_id(d->identity_key, d->id);
    mix_rng_bytes(rng, d->link_key, PKI_KEY_LEN);
    d->roles = i < 4 ? (PKI_ROLE_GATEWAY | PKI_ROLE_PROVIDER) : PKI_ROLE_MIX;
    d->layer = i < 4 ? 0 : (uint32_t)(i % 3) + 1;
    snprintf(d->address, sizeof d->address, "10.0.%d.%d:4%04d", i / 250, i % 250 + 1, i);
    d->n_sphinx_keys = 3;
    for (int k = 0; k < 3; k++) {
        d->sphinx_keys[k].epoch = 100 + (uint64_t)k;
        mix_rng_bytes(rng, d->sphinx_keys[k].key, PKI_KEY_LEN);
    }
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    uint8_t seed[32] = "bench pki";
    struct mix_rng_det det;
    mix_rng_det_init(&det, seed);
    struct mix_rng rng = mix_rng_det(&det);

    struct pki_params p = {
        .epoch = 100,
        .timing = { 1700000000, 1200, 60 },
        .max_hops = 5,
        .payload_len = 2048,
        .layers = 3,
        .mean_delay_us = 50000,
        .max_delay_us = 2000000,
        .lambda_p_mhz = 2000,
        .lambda_l_mhz = 500,
        .lambda_d_mhz = 500,
        .lambda_m_mhz = 1000,
        .strategy = PKI_STRATEGY_POISSON,
    };
    struct pki_doc *doc = pki_doc_new(&p);
    static struct pki_descriptor nodes[N_NODES];
    static uint8_t node_sk[N_NODES][PKI_SECRET_KEY_LEN];
    for (int i = 0; i < N_NODES; i++) {
        make_node(&nodes[i], node_sk[i], &rng, i);
        if (pki_doc_add(doc, &nodes[i]) != PKI_OK)
            return 1;
    }
    uint8_t auth_pk[N_AUTH][PKI_KEY_LEN], auth_sk[N_AUTH][PKI_SECRET_KEY_LEN];
    for (int i = 0; i < N_AUTH; i++) {
        mix_rng_bytes(&rng, seed, sizeof seed);
        crypto_sign_seed_keypair(auth_pk[i], auth_sk[i], seed);
    }

    uint8_t *db = NULL, *signed_doc = NULL;
    size_t dl = 0, sl = 0;
    int iters = 2000;
    double t0 = now_us();
    for (int i = 0; i < iters; i++) {
        free(db);
        if (pki_doc_encode(doc, &db, &dl) != PKI_OK)
            return 1;
    }
    double encode_us = (now_us() - t0) / iters;

    struct pki_sig sigs[N_AUTH];
    for (int i = 0; i < N_AUTH; i++)
        if (pki_doc_sign(db, dl, auth_sk[i], &sigs[i]) != PKI_OK)
            return 1;
    if (pki_signed_doc_encode(db, dl, sigs, N_AUTH, &signed_doc, &sl) != PKI_OK)
        return 1;

    struct pki_verify_opts o = { auth_pk, N_AUTH, 2, p.timing.genesis + 99 * 1200 + 5, 0, 0 };
    iters = 1000;
    t0 = now_us();
    for (int i = 0; i < iters; i++) {
        struct pki_doc *out = NULL;
        if (pki_verify(signed_doc, sl, &o, &out) != PKI_OK)
            return 1;
        pki_doc_free(out);
    }
    double verify_us = (now_us() - t0) / iters;

    uint8_t *sd = NULL;
    size_t sdl = 0;
    if (pki_descriptor_sign(&nodes[5], node_sk[5], &sd, &sdl) != PKI_OK)
        return 1;
    iters = 5000;
    t0 = now_us();
    for (int i = 0; i < iters; i++) {
        struct pki_descriptor d;
        if (pki_descriptor_verify(sd, sdl, &d) != PKI_OK)
            return 1;
    }
    double desc_us = (now_us() - t0) / iters;

    printf("pki_verify_us %.1f us\n", verify_us);
    printf("pki_doc_encode_us %.1f us\n", encode_us);
    printf("pki_descriptor_verify_us %.1f us\n", desc_us);
    printf("pki_document_bytes %zu bytes\n", sl);
    free(sd);
    free(signed_doc);
    free(db);
    pki_doc_free(doc);
    sodium_memzero(auth_sk, sizeof auth_sk);
    sodium_memzero(node_sk, sizeof node_sk);
    return 0;
}
