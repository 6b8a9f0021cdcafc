/*
 * client_packets_per_s: Sphinx packets the client core builds per second,
 * with the Loopix mix of streams (payload stream carrying real fragments of a
 * queued message, loop cover, drop cover in the proportions 10:1:1), in the
 * default geometry (5 hops, 2048-byte payload) against a synthetic directory
 * of one gateway and two mixes per layer.  Median of 5 runs of 2000 packets.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core.h"
#include "pki.h"
#include "sphinx.h"
#include "store.h"

static struct pki_doc *make_doc(const struct mix_rng *rng, uint8_t gw_id[32])
{
    struct pki_params p;
    memset(&p, 0, sizeof(p));
    p.epoch = 1;
    p.timing.genesis = 1000;
    p.timing.epoch_len = 3600;
    p.timing.grace = 60;
    p.max_hops = 5;
    p.payload_len = 2048;
    p.layers = 3;
    p.mean_delay_us = 50000;
    p.max_delay_us = 500000;
    p.lambda_p_mhz = p.lambda_l_mhz = p.lambda_d_mhz = p.lambda_m_mhz = 1000;
    struct pki_doc *doc = pki_doc_new(&p);
    for (int i = 0; i < 7 && doc; i++) {
        struct pki_descriptor d;
        uint8_t esk[64], ssk[32];
        memset(&d, 0, sizeof(d));
        crypto_sign_keypair(d.identity_key, esk);
        pki_node_id(d.identity_key, d.id);
        randombytes_buf(d.link_key, 32);
        d.roles = i == 0 ? (PKI_ROLE_GATEWAY | PKI_ROLE_PROVIDER) : PKI_ROLE_MIX;
        d.layer = i == 0 ? 0 : (uint32_t)(1 + (i - 1) / 2);
        snprintf(d.address, sizeof(d.address), "127.0.0.1:%d", 20000 + i);
        d.n_sphinx_keys = 1;
        d.sphinx_keys[0].epoch = 1;
        sphinx_keygen(rng, ssk, d.sphinx_keys[0].key);
        if (i == 0)
            memcpy(gw_id, d.id, 32);
        if (pki_doc_add(doc, &d) != PKI_OK) {
            pki_doc_free(doc);
            return NULL;
        }
    }
    return doc;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(void)
{
    char dir[] = "/tmp/bench_client_XXXXXX", err[256], cmd[128];
    uint8_t gw[32];
    if (sodium_init() < 0 || mkdtemp(dir) == NULL)
        return 1;
    struct mix_rng rng = mix_rng_system();
    struct pki_doc *doc = make_doc(&rng, gw);
    struct cstore *st = cstore_open(dir, 2048, err, sizeof(err));
    if (doc == NULL || st == NULL) {
        fprintf(stderr, "client_packets: setup failed: %s\n", err);
        return 1;
    }
    struct core_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    randombytes_buf(cfg.sk, 32);
    memcpy(cfg.gateway_id, gw, 32);
    cfg.max_attempts = 5;
    cfg.fetch_interval_us = 1000000;
    struct core *c = core_new(&cfg, st, &rng);
    core_set_doc(c, doc);
    struct mix_address to;
    core_address(c, &to);
    size_t mlen = 4u << 20;
    uint8_t *msg = calloc(1, mlen), *pkt = malloc(core_packet_len(c)), id[16];
    double rates[5];
    int rc = 0;
    for (int run = 0; run < 5 && rc == 0; run++) {
        if (core_send(c, &to, msg, mlen, 0, id) != CORE_OK) {
            rc = 1;
            break;
        }
        double t0 = now_s();
        int n;
        for (n = 0; n < 2000; n++) {
            enum core_stream s = n % 12 == 10   ? CORE_STREAM_LOOP
                                 : n % 12 == 11 ? CORE_STREAM_DROP
                                                : CORE_STREAM_PAYLOAD;
            if (core_next_packet(c, s, (uint64_t)n, 1000, pkt) < 0) {
                rc = 1;
                break;
            }
        }
        rates[run] = n / (now_s() - t0);
    }
    qsort(rates, 5, sizeof(rates[0]), cmp_d);
    if (rc == 0)
        printf("client_packets_per_s %.0f packets/s\n", rates[2]);
    free(msg);
    free(pkt);
    core_free(c);
    cstore_close(st);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        rc = 1;
    return rc;
}
