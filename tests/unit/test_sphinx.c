/*
 * Sphinx packets and SURBs: round trips, every single-bit flip, replays,
 * unlinkability sanity, error paths, and known-answer vectors.
 *
 * Vectors: tests/vectors/sphinx_kat.txt is compared line by line with what
 * this build produces from fixed seeds.  Regenerate (only on a deliberate
 * format change, with a note in docs/spec/sphinx.md) with
 *   SPHINX_VECTORS_REGEN=1 build/tests/test_sphinx
 * run from the repository root.  tests/vectors/sphinx_spec_check.py, an
 * independent Python implementation of the spec, must agree with the file.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <sodium.h>

#include "lioness.h"
#include "replay.h"
#include "replay_file.h"
#include "sphinx.h"
#include "tap.h"

#define VECTORS "tests/vectors/sphinx_kat.txt"
#define MAXN 10

/* The format the parametric tests run with (main runs them for each). */
static enum sphinx_format fmt = SPHINX_FORMAT_CLASSIC;

static struct sphinx_geometry geo(uint32_t hops, uint32_t payload)
{
    return (struct sphinx_geometry){ hops, payload, fmt };
}

/* A hop's shared secret as the spec defines it (section 8 step 2, 15.3). */
static int hop_secret(enum sphinx_format f, uint8_t s[32], const uint8_t sk[32], const uint8_t *pkt)
{
    const struct sphinx_kem *kem = sphinx_kem_of(f);
    if (kem != NULL)
        return kem->decap(sk, pkt, s);
    return crypto_scalarmult(s, sk, pkt);
}

struct net {
    uint8_t sk[MAXN][32], pk[MAXN][32], id[MAXN][32];
    struct sphinx_hop path[MAXN];
};

static void seed_of(uint8_t seed[32], uint8_t v)
{
    memset(seed, 0, 32);
    seed[0] = v;
}

/* n nodes with keys and ids from seed byte v; hop i has delay 1000*(i+1). */
static void make_net(struct net *n, size_t count, uint8_t v)
{
    uint8_t seed[32];
    seed_of(seed, v);
    struct mix_rng_det d;
    mix_rng_det_init(&d, seed);
    struct mix_rng r = mix_rng_det(&d);
    for (size_t i = 0; i < count; i++) {
        sphinx_keygen(&r, n->sk[i], n->pk[i]);
        mix_rng_bytes(&r, n->id[i], 32);
        memcpy(n->path[i].node_id, n->id[i], 32);
        memcpy(n->path[i].public_key, n->pk[i], 32);
        n->path[i].delay_us = 1000u * (uint32_t)(i + 1);
    }
}

/*
 * Send pkt through nodes 0..nhops-1 and check every hop: FORWARD with the
 * right next id and delay, then DELIVER at the last.  The delivered bytes go
 * to out (packet length).  Returns the final unwrap result.
 */
static enum sphinx_status route(const struct sphinx_geometry *g, const struct net *n, size_t nhops,
                                uint8_t *pkt, uint8_t *out, struct sphinx_result *res)
{
    size_t plen = sphinx_packet_len(g);
    for (size_t i = 0; i < nhops; i++) {
        enum sphinx_status st = sphinx_unwrap(g, n->sk[i], NULL, pkt, plen, out, plen, res);
        if (i + 1 < nhops) {
            if (st != SPHINX_OK_FORWARD)
                return st;
            CHECK(res->cmd == SPHINX_CMD_FORWARD);
            CHECK_EQ_MEM(res->node_id, n->id[i + 1], 32);
            CHECK(res->delay_us == n->path[i].delay_us);
            CHECK(res->out_len == plen);
            memcpy(pkt, out, plen);
        } else {
            if (st == SPHINX_OK_DELIVER)
                CHECK(res->delay_us == n->path[i].delay_us);
            return st;
        }
    }
    return SPHINX_ERR_ARG;
}

static struct mix_rng det_rng(struct mix_rng_det *d, uint8_t v)
{
    uint8_t seed[32];
    seed_of(seed, v);
    mix_rng_det_init(d, seed);
    return mix_rng_det(d);
}

static void test_geometry(void)
{
    struct sphinx_geometry g = sphinx_geometry_default();
    CHECK(g.max_hops == 5 && g.payload_len == 2048);
    CHECK(sphinx_geometry_valid(&g, NULL));
    CHECK(sphinx_header_len(&g) == 393);
    CHECK(sphinx_packet_len(&g) == 2441);
    CHECK(sphinx_plaintext_len(&g) == 2032);
    CHECK(sphinx_surb_len(&g) == 457);
    /* Acknowledgements carry a SURB inside a payload: leave >= 1500 bytes. */
    CHECK(sphinx_plaintext_len(&g) - SPHINX_SURB_LEN(&g) >= 1500);
    const char *why = NULL;
    struct sphinx_geometry bad[] = { { 0, 2048, 0 },
                                     { 11, 2048, 0 },
                                     { 5, 63, 0 },
                                     { 5, 0, 0 },
                                     { 5, SPHINX_MAX_PAYLOAD + 1, 0 },
                                     { 5, 2048, 2 } };
    for (size_t i = 0; i < MIX_ARRAY_LEN(bad); i++) {
        CHECK(!sphinx_geometry_valid(&bad[i], &why));
        CHECK(why != NULL);
        CHECK(sphinx_packet_len(&bad[i]) == 0);
    }
    CHECK(!sphinx_geometry_valid(NULL, NULL));
    struct sphinx_geometry g10 = { 10, 64, SPHINX_FORMAT_CLASSIC };
    CHECK(sphinx_geometry_valid(&g10, NULL));
    CHECK(sphinx_header_len(&g10) == 48 + 690);
    /* KEM: 32 more bytes per hop, the rest as in the classic format. */
    struct sphinx_geometry k = { 5, 2048, SPHINX_FORMAT_KEM_X25519 };
    CHECK(sphinx_geometry_valid(&k, NULL));
    CHECK(sphinx_header_len(&k) == 553);
    CHECK(sphinx_packet_len(&k) == 2601);
    CHECK(sphinx_plaintext_len(&k) == 2032);
    CHECK(sphinx_surb_len(&k) == 617);
    CHECK(sphinx_plaintext_len(&k) - SPHINX_SURB_LEN(&k) >= 1400);
    k.max_hops = 10;
    CHECK(sphinx_header_len(&k) == 48 + 1010);
    /* Formats by name; the KEM behind its interface. */
    enum sphinx_format f = SPHINX_FORMAT_CLASSIC;
    CHECK(sphinx_format_parse("kem-x25519", &f) && f == SPHINX_FORMAT_KEM_X25519);
    CHECK(sphinx_format_parse("classic", &f) && f == SPHINX_FORMAT_CLASSIC);
    CHECK(!sphinx_format_parse("kem", &f) && !sphinx_format_parse(NULL, &f));
    CHECK(sphinx_format_name((enum sphinx_format)7) == NULL);
    CHECK(sphinx_kem_of(SPHINX_FORMAT_CLASSIC) == NULL);
    const struct sphinx_kem *kem = sphinx_kem_of(SPHINX_FORMAT_KEM_X25519);
    CHECK(kem != NULL && kem->ct_len == 32 && kem->ct_len <= SPHINX_KEM_MAX_CT);
    if (kem != NULL) {
        uint8_t sk[32], pk[32], ct[32], s1[32], s2[32], zero[32] = { 0 };
        struct mix_rng sys = mix_rng_system();
        sphinx_keygen(&sys, sk, pk);
        CHECK(kem->encap(&sys, pk, ct, s1) == 0);
        CHECK(kem->decap(sk, ct, s2) == 0);
        CHECK_EQ_MEM(s1, s2, 32);
        CHECK(kem->encap(&sys, zero, ct, s1) == -1);
        CHECK(kem->decap(sk, zero, s2) == -1);
    }
}

/* Forward round trips for every path length in several geometries. */
static void test_roundtrip(void)
{
    struct sphinx_geometry geoms[] = { geo(5, 2048), geo(1, 64), geo(3, 100), geo(10, 512) };
    struct net n;
    make_net(&n, MAXN, 1);
    uint8_t rcpt[32];
    memset(rcpt, 0xab, sizeof rcpt);
    for (size_t gi = 0; gi < MIX_ARRAY_LEN(geoms); gi++) {
        const struct sphinx_geometry *g = &geoms[gi];
        size_t plen = sphinx_packet_len(g), tlen = sphinx_plaintext_len(g);
        uint8_t *pkt = malloc(plen), *out = malloc(plen), *msg = malloc(tlen);
        struct mix_rng_det d;
        struct mix_rng r = det_rng(&d, 2);
        for (size_t nh = 1; nh <= g->max_hops; nh++) {
            mix_rng_bytes(&r, msg, tlen);
            /* Full-length and short plaintexts (short ones are zero padded). */
            size_t len = (nh % 2) ? tlen : tlen / 3;
            CHECK(sphinx_create(g, &r, n.path, nh, rcpt, msg, len, pkt) == SPHINX_OK);
            struct sphinx_result res;
            enum sphinx_status st = route(g, &n, nh, pkt, out, &res);
            CHECKF(st == SPHINX_OK_DELIVER, "geom %zu hops %zu: %s", gi, nh, sphinx_strerror(st));
            CHECK(res.cmd == SPHINX_CMD_DELIVER && !res.is_reply);
            CHECK(res.out_len == tlen);
            CHECK_EQ_MEM(res.node_id, rcpt, 32);
            CHECK(sodium_is_zero(res.surb_id, 16));
            CHECK_EQ_MEM(out, msg, len);
            CHECK(sodium_is_zero(out + len, tlen - len));
        }
        free(pkt);
        free(out);
        free(msg);
    }
}

/*
 * Linear creation (spec section 5.1) agrees with every node's own
 * X25519(y, alpha) on fresh random keys and paths: each packet takes both
 * signs of the clamped representative about as often, so 64 ten-hop
 * packets cover both branches many times.
 */
static void test_linear_creation(void)
{
    struct sphinx_geometry g = { 10, 64, SPHINX_FORMAT_CLASSIC };
    size_t plen = sphinx_packet_len(&g);
    uint8_t *pkt = malloc(plen), *out = malloc(plen), rcpt[32] = { 7 }, msg[] = "linear";
    struct mix_rng sys = mix_rng_system();
    for (int k = 0; k < 64; k++) {
        struct net n;
        for (size_t i = 0; i < MAXN; i++) {
            sphinx_keygen(&sys, n.sk[i], n.pk[i]);
            mix_rng_bytes(&sys, n.id[i], 32);
            memcpy(n.path[i].node_id, n.id[i], 32);
            memcpy(n.path[i].public_key, n.pk[i], 32);
            n.path[i].delay_us = (uint32_t)i;
        }
        CHECK(sphinx_create(&g, &sys, n.path, MAXN, rcpt, msg, sizeof msg, pkt) == SPHINX_OK);
        struct sphinx_result res;
        CHECK(route(&g, &n, MAXN, pkt, out, &res) == SPHINX_OK_DELIVER);
        CHECK_EQ_MEM(out, msg, sizeof msg);
    }
    free(pkt);
    free(out);
}

/* Unwrapping in place (out == pkt) gives the same result. */
static void test_in_place(void)
{
    struct sphinx_geometry g = geo(5, 2048);
    size_t plen = sphinx_packet_len(&g);
    struct net n;
    make_net(&n, 5, 1);
    uint8_t rcpt[32] = { 9 }, msg[] = "in place";
    uint8_t *a = malloc(plen), *b = malloc(plen), *out = malloc(plen);
    struct mix_rng_det d;
    struct mix_rng r = det_rng(&d, 3);
    CHECK(sphinx_create(&g, &r, n.path, 5, rcpt, msg, sizeof msg, a) == SPHINX_OK);
    memcpy(b, a, plen);
    struct sphinx_result ra, rb;
    for (size_t i = 0; i < 5; i++) {
        enum sphinx_status sa = sphinx_unwrap(&g, n.sk[i], NULL, a, plen, out, plen, &ra);
        enum sphinx_status sb = sphinx_unwrap(&g, n.sk[i], NULL, b, plen, b, plen, &rb);
        CHECK(sa == sb);
        CHECK_EQ_MEM(out, b, ra.out_len);
        memcpy(a, out, plen);
    }
    CHECK(memcmp(b, msg, sizeof msg) == 0);
    free(a);
    free(b);
    free(out);
}

/* Wrong key, wrong length, low order alpha, bad arguments. */
static void test_errors(void)
{
    struct sphinx_geometry g = geo(5, 2048);
    size_t plen = sphinx_packet_len(&g);
    struct net n;
    make_net(&n, 6, 1);
    uint8_t rcpt[32] = { 1 };
    uint8_t *pkt = malloc(plen + 1), *out = malloc(plen);
    struct mix_rng_det d;
    struct mix_rng r = det_rng(&d, 4);
    struct sphinx_result res;
    CHECK(sphinx_create(&g, &r, n.path, 3, rcpt, NULL, 0, pkt) == SPHINX_OK);
    /* Early errors leave out alone (a node retries with the previous key). */
    memset(out, 0xaa, plen);
    CHECK(sphinx_unwrap(&g, n.sk[5], NULL, pkt, plen, out, plen, &res) == SPHINX_ERR_MAC);
    CHECK(sphinx_unwrap(&g, n.sk[1], NULL, pkt, plen, out, plen, &res) == SPHINX_ERR_MAC);
    size_t touched = 0;
    for (size_t i = 0; i < plen; i++)
        touched += out[i] != 0xaa;
    CHECK(touched == 0);
    CHECK(sodium_is_zero(res.replay_tag, SPHINX_TAG_LEN));
    CHECK(sphinx_unwrap(&g, n.sk[0], NULL, pkt, plen - 1, out, plen, &res) == SPHINX_ERR_LENGTH);
    CHECK(sphinx_unwrap(&g, n.sk[0], NULL, pkt, plen + 1, out, plen, &res) == SPHINX_ERR_LENGTH);
    CHECK(sphinx_unwrap(&g, n.sk[0], NULL, pkt, 0, out, plen, &res) == SPHINX_ERR_LENGTH);
    CHECK(sphinx_unwrap(&g, n.sk[0], NULL, NULL, plen, out, plen, &res) == SPHINX_ERR_LENGTH);
    CHECK(sphinx_unwrap(&g, n.sk[0], NULL, pkt, plen, out, plen - 1, &res) == SPHINX_ERR_ARG);
    struct sphinx_geometry other = geo(4, 2048);
    CHECK(sphinx_unwrap(&other, n.sk[0], NULL, pkt, plen, out, plen, &res) == SPHINX_ERR_LENGTH);
    /* A low order alpha (here 0 and 1) gives an all-zero shared secret. */
    uint8_t *bad = malloc(plen);
    memcpy(bad, pkt, plen);
    memset(bad, 0, 32);
    CHECK(sphinx_unwrap(&g, n.sk[0], NULL, bad, plen, out, plen, &res) == SPHINX_ERR_KEY);
    bad[0] = 1;
    CHECK(sphinx_unwrap(&g, n.sk[0], NULL, bad, plen, out, plen, &res) == SPHINX_ERR_KEY);
    free(bad);
    /* Creation arguments. */
    uint8_t big[4096] = { 0 };
    CHECK(sphinx_create(&g, &r, n.path, 0, rcpt, NULL, 0, pkt) == SPHINX_ERR_ARG);
    CHECK(sphinx_create(&g, &r, n.path, 6, rcpt, NULL, 0, pkt) == SPHINX_ERR_ARG);
    CHECK(sphinx_create(&g, &r, n.path, 2, rcpt, big, 2033, pkt) == SPHINX_ERR_ARG);
    CHECK(sphinx_create(&g, &r, n.path, 2, rcpt, big, 2032, pkt) == SPHINX_OK);
    CHECK(sphinx_create(&other, &r, NULL, 2, rcpt, NULL, 0, pkt) == SPHINX_ERR_ARG);
    struct sphinx_hop lo[2];
    memcpy(lo, n.path, sizeof lo);
    memset(lo[1].public_key, 0, 32);
    CHECK(sphinx_create(&g, &r, lo, 2, rcpt, NULL, 0, pkt) == SPHINX_ERR_KEY);
    CHECK(strcmp(sphinx_strerror(SPHINX_ERR_MAC), "header MAC mismatch") == 0);
    CHECK(sphinx_strerror((enum sphinx_status)99) != NULL);
    free(pkt);
    free(out);
}

/*
 * Flip every bit of a whole 5-hop packet: a header bit fails the MAC at the
 * first hop, a payload bit passes the mixes and fails integrity at the exit.
 * Then flip sampled bits of the packet between hops 2 and 3.
 */
static void test_bitflips(void)
{
    struct sphinx_geometry g = geo(5, 2048);
    size_t plen = sphinx_packet_len(&g), hlen = sphinx_header_len(&g);
    struct net n;
    make_net(&n, 5, 1);
    uint8_t rcpt[32] = { 2 }, msg[100];
    memset(msg, 'm', sizeof msg);
    uint8_t *orig = malloc(plen), *pkt = malloc(plen), *out = malloc(plen);
    struct mix_rng_det d;
    struct mix_rng r = det_rng(&d, 5);
    CHECK(sphinx_create(&g, &r, n.path, 5, rcpt, msg, sizeof msg, orig) == SPHINX_OK);
    size_t bad_header = 0, bad_payload = 0;
    struct sphinx_result res;
    for (size_t bit = 0; bit < plen * 8; bit++) {
        memcpy(pkt, orig, plen);
        pkt[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        enum sphinx_status st;
        if (bit / 8 < hlen) {
            st = sphinx_unwrap(&g, n.sk[0], NULL, pkt, plen, out, plen, &res);
            if (st != SPHINX_ERR_MAC && st != SPHINX_ERR_KEY)
                bad_header++;
        } else {
            size_t i;
            for (i = 0; i < 4; i++) {
                st = sphinx_unwrap(&g, n.sk[i], NULL, pkt, plen, out, plen, &res);
                if (st != SPHINX_OK_FORWARD)
                    break;
                memcpy(pkt, out, plen);
            }
            st = sphinx_unwrap(&g, n.sk[4], NULL, pkt, plen, out, plen, &res);
            if (i != 4 || st != SPHINX_ERR_INTEGRITY)
                bad_payload++;
        }
    }
    CHECKF(bad_header == 0, "%zu header flips accepted", bad_header);
    CHECKF(bad_payload == 0, "%zu payload flips accepted", bad_payload);

    /* Flips after two hops: caught at the third hop's MAC or at the exit. */
    uint8_t *mid = malloc(plen);
    memcpy(pkt, orig, plen);
    for (size_t i = 0; i < 2; i++) {
        CHECK(sphinx_unwrap(&g, n.sk[i], NULL, pkt, plen, out, plen, &res) == SPHINX_OK_FORWARD);
        memcpy(pkt, out, plen);
    }
    memcpy(mid, pkt, plen);
    size_t accepted = 0;
    for (size_t bit = 0; bit < plen * 8; bit += 29) {
        memcpy(pkt, mid, plen);
        pkt[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        struct net tail;
        memcpy(&tail, &n, sizeof tail);
        for (size_t i = 0; i < 3; i++) {
            memcpy(tail.sk[i], n.sk[i + 2], 32);
            memcpy(tail.id[i], n.id[i + 2], 32);
            tail.path[i] = n.path[i + 2];
        }
        enum sphinx_status st = route(&g, &tail, 3, pkt, out, &res);
        if (st >= 0)
            accepted++;
    }
    CHECKF(accepted == 0, "%zu flips accepted after two hops", accepted);
    free(mid);
    free(orig);
    free(pkt);
    free(out);
}

static int cmp16(const void *a, const void *b)
{
    return memcmp(*(const uint8_t *const *)a, *(const uint8_t *const *)b, 16);
}

/* Whether a and b share any 16-byte window (at any offsets). */
static bool share_window(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    size_t nw = alen - 15;
    const uint8_t **w = malloc(nw * sizeof *w);
    for (size_t i = 0; i < nw; i++)
        w[i] = a + i;
    qsort(w, nw, sizeof *w, cmp16);
    bool found = false;
    for (size_t j = 0; j + 16 <= blen && !found; j++) {
        const uint8_t *key = b + j;
        found = bsearch(&key, w, nw, sizeof *w, cmp16) != NULL;
    }
    free(w);
    return found;
}

static void test_unlinkable_bytes(void)
{
    struct sphinx_geometry g = geo(5, 2048);
    size_t plen = sphinx_packet_len(&g);
    struct net n;
    make_net(&n, 5, 1);
    uint8_t rcpt[32] = { 3 }, msg[300];
    memset(msg, 0x5a, sizeof msg);
    uint8_t *pkt = malloc(plen), *out = malloc(plen);
    struct mix_rng_det d;
    struct mix_rng r = det_rng(&d, 6);
    CHECK(sphinx_create(&g, &r, n.path, 5, rcpt, msg, sizeof msg, pkt) == SPHINX_OK);
    struct sphinx_result res;
    for (size_t i = 0; i < 5; i++) {
        enum sphinx_status st = sphinx_unwrap(&g, n.sk[i], NULL, pkt, plen, out, plen, &res);
        CHECK(st == (i < 4 ? SPHINX_OK_FORWARD : SPHINX_OK_DELIVER));
        CHECKF(!share_window(pkt, plen, out, res.out_len), "hop %zu shares a window", i);
        memcpy(pkt, out, plen);
    }
    free(pkt);
    free(out);
}

/* A replay is rejected, also after the cache is saved and loaded. */
static void test_replay(void)
{
    struct sphinx_geometry g = geo(5, 2048);
    size_t plen = sphinx_packet_len(&g);
    struct net n;
    make_net(&n, 5, 1);
    uint8_t rcpt[32] = { 4 }, kid[32];
    sphinx_key_id(n.pk[0], kid);
    uint8_t *pkt = malloc(plen), *out = malloc(plen), *other = malloc(plen);
    struct mix_rng_det d;
    struct mix_rng r = det_rng(&d, 7);
    CHECK(sphinx_create(&g, &r, n.path, 3, rcpt, NULL, 0, pkt) == SPHINX_OK);
    CHECK(sphinx_create(&g, &r, n.path, 3, rcpt, NULL, 0, other) == SPHINX_OK);
    struct replay_cache *c = replay_cache_new(100, kid);
    struct sphinx_result res, res2;
    CHECK(sphinx_unwrap(&g, n.sk[0], c, pkt, plen, out, plen, &res) == SPHINX_OK_FORWARD);
    CHECK(sphinx_unwrap(&g, n.sk[0], c, pkt, plen, out, plen, &res2) == SPHINX_ERR_REPLAY);
    CHECK_EQ_MEM(res.replay_tag, res2.replay_tag, SPHINX_TAG_LEN);
    /* A packet failing the MAC never touches the cache. */
    CHECK(sphinx_unwrap(&g, n.sk[1], c, pkt, plen, out, plen, &res2) == SPHINX_ERR_MAC);
    CHECK(replay_cache_size(c) == 1);
    CHECK(replay_cache_hits(c) == 1);

    char dir[] = "/tmp/test_sphinx_XXXXXX", path[64];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/replay", dir);
    CHECK(replay_cache_save(c, path) == REPLAY_IO_OK);
    replay_cache_free(c);
    c = NULL;
    CHECK(replay_cache_load(path, kid, 100, &c) == REPLAY_IO_OK);
    CHECK(c != NULL);
    if (c != NULL) {
        CHECK(sphinx_unwrap(&g, n.sk[0], c, pkt, plen, out, plen, &res2) == SPHINX_ERR_REPLAY);
        CHECK(sphinx_unwrap(&g, n.sk[0], c, other, plen, out, plen, &res2) == SPHINX_OK_FORWARD);
    }
    replay_cache_free(c);
    /* Cache-less unwrap gives the tag for a separate check. */
    struct replay_cache *c2 = replay_cache_new(10, kid);
    CHECK(sphinx_unwrap(&g, n.sk[0], NULL, pkt, plen, out, plen, &res2) == SPHINX_OK_FORWARD);
    CHECK(replay_cache_insert(c2, res2.replay_tag) == REPLAY_FRESH);
    CHECK(replay_cache_insert(c2, res.replay_tag) == REPLAY_SEEN);
    replay_cache_free(c2);
    unlink(path);
    rmdir(dir);
    free(pkt);
    free(out);
    free(other);
}

struct unwrap_job {
    const struct sphinx_geometry *g;
    const uint8_t *sk, *pkts;
    size_t count;
    struct replay_cache *cache;
    size_t forwarded, replays, other;
};

static void *unwrap_worker(void *arg)
{
    struct unwrap_job *j = arg;
    size_t plen = sphinx_packet_len(j->g);
    uint8_t *out = malloc(plen);
    for (size_t i = 0; i < j->count; i++) {
        struct sphinx_result res;
        enum sphinx_status st =
            sphinx_unwrap(j->g, j->sk, j->cache, j->pkts + i * plen, plen, out, plen, &res);
        if (st == SPHINX_OK_FORWARD)
            j->forwarded++;
        else if (st == SPHINX_ERR_REPLAY)
            j->replays++;
        else
            j->other++;
    }
    free(out);
    return NULL;
}

/* Worker threads sharing one cache: each packet is forwarded exactly once. */
static void test_threads(void)
{
    struct sphinx_geometry g = geo(5, 2048);
    size_t plen = sphinx_packet_len(&g), count = 40;
    struct net n;
    make_net(&n, 5, 1);
    uint8_t rcpt[32] = { 8 };
    uint8_t *pkts = malloc(count * plen);
    struct mix_rng_det d;
    struct mix_rng r = det_rng(&d, 10);
    for (size_t i = 0; i < count; i++)
        CHECK(sphinx_create(&g, &r, n.path, 5, rcpt, NULL, 0, pkts + i * plen) == SPHINX_OK);
    struct replay_cache *c = replay_cache_new(1000, NULL);
    struct unwrap_job jobs[3];
    pthread_t th[3];
    for (int t = 0; t < 3; t++) {
        jobs[t] = (struct unwrap_job){ &g, n.sk[0], pkts, count, c, 0, 0, 0 };
        CHECK(pthread_create(&th[t], NULL, unwrap_worker, &jobs[t]) == 0);
    }
    size_t fwd = 0, rep = 0, other = 0;
    for (int t = 0; t < 3; t++) {
        pthread_join(th[t], NULL);
        fwd += jobs[t].forwarded;
        rep += jobs[t].replays;
        other += jobs[t].other;
    }
    CHECKF(fwd == count && rep == 2 * count && other == 0, "fwd %zu rep %zu other %zu", fwd, rep,
           other);
    replay_cache_free(c);
    free(pkts);
}

/* SURB round trips for 1..5 hops; only the creator can open the reply. */
static void test_surb(void)
{
    struct sphinx_geometry g = geo(5, 2048);
    size_t plen = sphinx_packet_len(&g), tlen = sphinx_plaintext_len(&g);
    size_t slen = sphinx_surb_len(&g);
    struct net n;
    make_net(&n, 5, 1);
    uint8_t inbox[32] = { 5 }, sid[16], first[32], keys[SPHINX_SURB_KEYS_LEN], kid[16];
    uint8_t *surb = malloc(slen), *pkt = malloc(plen), *out = malloc(plen);
    uint8_t *msg = malloc(tlen), *plain = malloc(tlen), *keep = malloc(g.payload_len);
    struct mix_rng_det d;
    struct mix_rng r = det_rng(&d, 8);
    for (size_t nh = 1; nh <= 5; nh++) {
        mix_rng_bytes(&r, sid, sizeof sid);
        mix_rng_bytes(&r, msg, tlen);
        CHECK(sphinx_surb_create(&g, &r, n.path, nh, inbox, sid, surb, keys) == SPHINX_OK);
        sphinx_surb_keys_id(keys, kid);
        CHECK_EQ_MEM(kid, sid, 16);
        CHECK(sphinx_surb_pack(&g, surb, slen, msg, tlen, pkt, first) == SPHINX_OK);
        CHECK_EQ_MEM(first, n.id[0], 32);
        struct sphinx_result res;
        enum sphinx_status st = route(&g, &n, nh, pkt, out, &res);
        CHECKF(st == SPHINX_OK_DELIVER, "hops %zu: %s", nh, sphinx_strerror(st));
        CHECK(res.cmd == SPHINX_CMD_REPLY && res.is_reply);
        CHECK(res.out_len == g.payload_len);
        CHECK_EQ_MEM(res.node_id, inbox, 32);
        CHECK_EQ_MEM(res.surb_id, sid, 16);
        memcpy(keep, out, g.payload_len);
        CHECK(sphinx_surb_open(&g, keys, out, g.payload_len, plain) == SPHINX_OK);
        CHECK_EQ_MEM(plain, msg, tlen);
        /* Tampered reply, wrong length, and another SURB's keys all fail. */
        keep[g.payload_len - 1] ^= 1;
        CHECK(sphinx_surb_open(&g, keys, keep, g.payload_len, plain) == SPHINX_ERR_INTEGRITY);
        keep[g.payload_len - 1] ^= 1;
        CHECK(sphinx_surb_open(&g, keys, keep, g.payload_len - 1, plain) == SPHINX_ERR_LENGTH);
        uint8_t keys2[SPHINX_SURB_KEYS_LEN];
        CHECK(sphinx_surb_create(&g, &r, n.path, nh, inbox, sid, surb, keys2) == SPHINX_OK);
        CHECK(sphinx_surb_open(&g, keys2, keep, g.payload_len, plain) == SPHINX_ERR_INTEGRITY);
        keys2[0] = 9;
        CHECK(sphinx_surb_open(&g, keys2, keep, g.payload_len, plain) == SPHINX_ERR_ARG);
    }
    /* A short reply is zero padded; a wrong-size SURB is refused. */
    CHECK(sphinx_surb_create(&g, &r, n.path, 5, inbox, sid, surb, keys) == SPHINX_OK);
    CHECK(sphinx_surb_pack(&g, surb, slen - 1, msg, 10, pkt, first) == SPHINX_ERR_LENGTH);
    CHECK(sphinx_surb_pack(&g, surb, slen, msg, tlen + 1, pkt, first) == SPHINX_ERR_ARG);
    CHECK(sphinx_surb_pack(&g, surb, slen, msg, 10, pkt, first) == SPHINX_OK);
    struct sphinx_result res;
    CHECK(route(&g, &n, 5, pkt, out, &res) == SPHINX_OK_DELIVER);
    CHECK(sphinx_surb_open(&g, keys, out, g.payload_len, plain) == SPHINX_OK);
    CHECK_EQ_MEM(plain, msg, 10);
    CHECK(sodium_is_zero(plain + 10, tlen - 10));
    /* A SURB is single use: its second reply is a replay at the first hop. */
    struct replay_cache *c = replay_cache_new(10, NULL);
    CHECK(sphinx_surb_pack(&g, surb, slen, msg, 10, pkt, first) == SPHINX_OK);
    CHECK(sphinx_unwrap(&g, n.sk[0], c, pkt, plen, out, plen, &res) == SPHINX_OK_FORWARD);
    CHECK(sphinx_surb_pack(&g, surb, slen, msg + 10, 20, pkt, first) == SPHINX_OK);
    CHECK(sphinx_unwrap(&g, n.sk[0], c, pkt, plen, out, plen, &res) == SPHINX_ERR_REPLAY);
    replay_cache_free(c);
    /* Every payload bit flip of a reply is caught by the creator. */
    size_t accepted = 0;
    CHECK(sphinx_surb_pack(&g, surb, slen, msg, 10, pkt, first) == SPHINX_OK);
    uint8_t *orig = malloc(plen);
    memcpy(orig, pkt, plen);
    for (size_t bit = sphinx_header_len(&g) * 8; bit < plen * 8; bit += 41) {
        memcpy(pkt, orig, plen);
        pkt[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        if (route(&g, &n, 5, pkt, out, &res) != SPHINX_OK_DELIVER ||
            sphinx_surb_open(&g, keys, out, g.payload_len, plain) == SPHINX_OK)
            accepted++;
    }
    CHECKF(accepted == 0, "%zu reply flips accepted", accepted);
    free(orig);
    free(surb);
    free(pkt);
    free(out);
    free(msg);
    free(plain);
    free(keep);
}

/*
 * An independent reading of docs/spec/sphinx.md: re-encrypt a hop's routing
 * slot with a different command and a fresh MAC, as only the sender could.
 * The node must then report SPHINX_ERR_COMMAND (after recording the tag).
 */
static void spec_kdf(uint8_t *out, size_t outlen, const uint8_t s[32], const char *label)
{
    crypto_generichash(out, outlen, (const uint8_t *)label, strlen(label), s, 32);
}

static void test_bad_command(void)
{
    struct sphinx_geometry g = geo(5, 2048);
    size_t plen = sphinx_packet_len(&g), slot = fmt == SPHINX_FORMAT_CLASSIC ? 69 : 101;
    size_t blen = 5 * slot;
    struct net n;
    make_net(&n, 5, 1);
    uint8_t rcpt[32] = { 6 };
    uint8_t *pkt = malloc(plen), *out = malloc(plen);
    struct mix_rng_det d;
    struct mix_rng r = det_rng(&d, 9);
    CHECK(sphinx_create(&g, &r, n.path, 2, rcpt, NULL, 0, pkt) == SPHINX_OK);
    uint8_t s[32], ks[32], km[32], rho[6 * 101];
    static const uint8_t nonce[8] = { 0 };
    CHECK(hop_secret(fmt, s, n.sk[0], pkt) == 0);
    spec_kdf(ks, 32, s, "mixnet-sphinx-v1 header-stream");
    spec_kdf(km, 32, s, "mixnet-sphinx-v1 header-mac");
    crypto_stream_chacha20(rho, blen, nonce, ks);
    /* beta ^ rho gives the slot in clear: command FORWARD to node 1. */
    uint8_t *beta = pkt + 48;
    CHECK((beta[0] ^ rho[0]) == SPHINX_CMD_FORWARD);
    CHECK(((beta[1] ^ rho[1]) == n.id[1][0]));
    uint8_t cmds[] = { 0, 4, 0xff };
    struct replay_cache *c = replay_cache_new(10, NULL);
    for (size_t i = 0; i < sizeof cmds; i++) {
        beta[0] = (uint8_t)(cmds[i] ^ rho[0]);
        crypto_generichash_state st;
        crypto_generichash_init(&st, km, 32, 16);
        crypto_generichash_update(&st, pkt, 32);
        crypto_generichash_update(&st, beta, blen);
        crypto_generichash_final(&st, pkt + 32, 16);
        struct sphinx_result res;
        enum sphinx_status e = sphinx_unwrap(&g, n.sk[0], c, pkt, plen, out, plen, &res);
        CHECKF(e == (i == 0 ? SPHINX_ERR_COMMAND : SPHINX_ERR_REPLAY), "cmd %u: %s", cmds[i],
               sphinx_strerror(e));
        e = sphinx_unwrap(&g, n.sk[0], NULL, pkt, plen, out, plen, &res);
        CHECK(e == SPHINX_ERR_COMMAND);
    }
    CHECK(replay_cache_size(c) == 1);
    replay_cache_free(c);
    free(pkt);
    free(out);
}

/* ------------------------------------------------------------ vectors */

struct sb {
    char *p;
    size_t len, cap;
};

static void sb_add(struct sb *b, const char *s)
{
    size_t n = strlen(s);
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->len, s, n + 1);
    b->len += n;
}

static void sb_hex(struct sb *b, const char *name, const uint8_t *data, size_t len)
{
    char *h = malloc(len * 2 + 1);
    sodium_bin2hex(h, len * 2 + 1, data, len);
    sb_add(b, name);
    sb_add(b, " ");
    sb_add(b, h);
    sb_add(b, "\n");
    free(h);
}

static void sb_num(struct sb *b, const char *name, unsigned long v)
{
    char line[128];
    snprintf(line, sizeof line, "%s %lu\n", name, v);
    sb_add(b, line);
}

/*
 * A hop's intermediate values, recomputed from the spec (sections 4 and 8)
 * for implementers to debug against: alpha, s, subkeys, decrypted slot.
 */
static void vec_hop_secrets(struct sb *b, enum sphinx_format f, const uint8_t sk[32],
                            const uint8_t *pkt, size_t i)
{
    static const uint8_t nonce[8] = { 0 };
    uint8_t s[32], k[32], slot[101], rho[101];
    size_t slen = f == SPHINX_FORMAT_CLASSIC ? 69 : 101;
    char name[40];
    snprintf(name, sizeof name, "hop%zu_alpha", i);
    sb_hex(b, name, pkt, 32);
    if (hop_secret(f, s, sk, pkt) != 0)
        return;
    snprintf(name, sizeof name, "hop%zu_shared_secret", i);
    sb_hex(b, name, s, 32);
    static const char *const labels[][2] = {
        { "stream_key", "mixnet-sphinx-v1 header-stream" },
        { "mac_key", "mixnet-sphinx-v1 header-mac" },
        { "payload_key", "mixnet-sphinx-v1 payload" },
    };
    for (size_t j = 0; j < MIX_ARRAY_LEN(labels); j++) {
        spec_kdf(k, 32, s, labels[j][1]);
        snprintf(name, sizeof name, "hop%zu_%s", i, labels[j][0]);
        sb_hex(b, name, k, 32);
    }
    if (f == SPHINX_FORMAT_CLASSIC) {
        crypto_generichash_state st;
        crypto_generichash_init(&st, s, 32, 32);
        crypto_generichash_update(&st, (const uint8_t *)"mixnet-sphinx-v1 blinding", 25);
        crypto_generichash_update(&st, pkt, 32);
        crypto_generichash_final(&st, k, 32);
        snprintf(name, sizeof name, "hop%zu_blinding", i);
        sb_hex(b, name, k, 32);
    }
    spec_kdf(k, 32, s, "mixnet-sphinx-v1 header-stream");
    crypto_stream_chacha20(rho, slen, nonce, k);
    memcpy(slot, pkt + 48, slen);
    for (size_t j = 0; j < slen; j++)
        slot[j] ^= rho[j];
    snprintf(name, sizeof name, "hop%zu_routing_slot", i);
    sb_hex(b, name, slot, slen);
}

/* Route pkt through n's first nhops nodes, logging every hop's output. */
static void vec_route(struct sb *b, const struct sphinx_geometry *g, const struct net *n,
                      size_t nhops, uint8_t *pkt)
{
    size_t plen = sphinx_packet_len(g);
    uint8_t *out = malloc(plen);
    char name[32];
    for (size_t i = 0; i < nhops; i++) {
        vec_hop_secrets(b, g->format, n->sk[i], pkt, i);
        struct sphinx_result res;
        enum sphinx_status st = sphinx_unwrap(g, n->sk[i], NULL, pkt, plen, out, plen, &res);
        snprintf(name, sizeof name, "hop%zu_status", i);
        sb_num(b, name, (unsigned long)(st < 0 ? 0 : st));
        if (st < 0)
            break;
        snprintf(name, sizeof name, "hop%zu_cmd", i);
        sb_num(b, name, (unsigned long)res.cmd);
        snprintf(name, sizeof name, "hop%zu_delay_us", i);
        sb_num(b, name, (unsigned long)res.delay_us);
        snprintf(name, sizeof name, "hop%zu_node_id", i);
        sb_hex(b, name, res.node_id, 32);
        snprintf(name, sizeof name, "hop%zu_surb_id", i);
        sb_hex(b, name, res.surb_id, 16);
        snprintf(name, sizeof name, "hop%zu_replay_tag", i);
        sb_hex(b, name, res.replay_tag, 16);
        snprintf(name, sizeof name, "hop%zu_out", i);
        sb_hex(b, name, out, res.out_len);
        memcpy(pkt, out, plen);
    }
    free(out);
}

static void vec_nodes(struct sb *b, const struct net *n, size_t count)
{
    char name[32];
    for (size_t i = 0; i < count; i++) {
        snprintf(name, sizeof name, "node%zu_sk", i);
        sb_hex(b, name, n->sk[i], 32);
        snprintf(name, sizeof name, "node%zu_pk", i);
        sb_hex(b, name, n->pk[i], 32);
        snprintf(name, sizeof name, "node%zu_id", i);
        sb_hex(b, name, n->id[i], 32);
        snprintf(name, sizeof name, "node%zu_delay_us", i);
        sb_num(b, name, (unsigned long)n->path[i].delay_us);
    }
}

/* One forward packet: geometry, path length, rng seed byte. */
static void vec_forward(struct sb *b, enum sphinx_format f, uint32_t hops, uint32_t payload,
                        size_t nhops, uint8_t seed)
{
    struct sphinx_geometry g = { hops, payload, f };
    size_t plen = sphinx_packet_len(&g);
    struct net n;
    make_net(&n, nhops, 0x10);
    uint8_t rcpt[32], rs[32];
    memset(rcpt, 0xee, sizeof rcpt);
    static const char msg[] = "The quick brown fox jumps over the lazy dog";
    sb_add(b, f == SPHINX_FORMAT_CLASSIC ? "\n[forward]\n" : "\n[kem_forward]\n");
    sb_num(b, "max_hops", hops);
    sb_num(b, "payload_len", payload);
    sb_num(b, "nhops", nhops);
    vec_nodes(b, &n, nhops);
    seed_of(rs, seed);
    sb_hex(b, "rng_seed", rs, 32);
    sb_hex(b, "recipient", rcpt, 32);
    sb_hex(b, "plaintext", (const uint8_t *)msg, sizeof msg - 1);
    uint8_t *pkt = malloc(plen);
    struct mix_rng_det d;
    struct mix_rng r = det_rng(&d, seed);
    if (sphinx_create(&g, &r, n.path, nhops, rcpt, (const uint8_t *)msg, sizeof msg - 1, pkt) ==
        SPHINX_OK) {
        sb_hex(b, "packet", pkt, plen);
        vec_route(b, &g, &n, nhops, pkt);
    }
    free(pkt);
}

static void vec_surb(struct sb *b, enum sphinx_format f, uint32_t hops, uint32_t payload,
                     size_t nhops, uint8_t seed)
{
    struct sphinx_geometry g = { hops, payload, f };
    size_t plen = sphinx_packet_len(&g), slen = sphinx_surb_len(&g);
    struct net n;
    make_net(&n, nhops, 0x20);
    uint8_t inbox[32], sid[16], rs[32], first[32], keys[SPHINX_SURB_KEYS_LEN];
    memset(inbox, 0xcc, sizeof inbox);
    memset(sid, 0x5d, sizeof sid);
    static const char msg[] = "reply: acknowledged";
    sb_add(b, f == SPHINX_FORMAT_CLASSIC ? "\n[surb]\n" : "\n[kem_surb]\n");
    sb_num(b, "max_hops", hops);
    sb_num(b, "payload_len", payload);
    sb_num(b, "nhops", nhops);
    vec_nodes(b, &n, nhops);
    seed_of(rs, seed);
    sb_hex(b, "rng_seed", rs, 32);
    sb_hex(b, "recipient", inbox, 32);
    sb_hex(b, "surb_id", sid, 16);
    sb_hex(b, "plaintext", (const uint8_t *)msg, sizeof msg - 1);
    uint8_t *surb = malloc(slen), *pkt = malloc(plen), *plain = malloc(payload);
    struct mix_rng_det d;
    struct mix_rng r = det_rng(&d, seed);
    if (sphinx_surb_create(&g, &r, n.path, nhops, inbox, sid, surb, keys) == SPHINX_OK &&
        sphinx_surb_pack(&g, surb, slen, (const uint8_t *)msg, sizeof msg - 1, pkt, first) ==
            SPHINX_OK) {
        sb_hex(b, "surb", surb, slen);
        sb_hex(b, "surb_keys", keys, sizeof keys);
        sb_hex(b, "packet", pkt, plen);
        vec_route(b, &g, &n, nhops, pkt);
        /* vec_route left the delivered payload at the start of pkt. */
        if (sphinx_surb_open(&g, keys, pkt, payload, plain) == SPHINX_OK)
            sb_hex(b, "opened", plain, sphinx_plaintext_len(&g));
    }
    free(surb);
    free(pkt);
    free(plain);
}

static void vec_lioness(struct sb *b)
{
    uint8_t key[32], buf[100];
    for (size_t i = 0; i < sizeof key; i++)
        key[i] = (uint8_t)i;
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)(i * 7);
    sb_add(b, "\n[lioness]\n");
    sb_hex(b, "key", key, sizeof key);
    sb_hex(b, "plaintext", buf, sizeof buf);
    if (lioness_encrypt(key, buf, sizeof buf) == 0)
        sb_hex(b, "ciphertext", buf, sizeof buf);
}

static void make_vectors(struct sb *b)
{
    sb_add(b, "# Sphinx known-answer vectors (docs/spec/sphinx.md).  Generated by\n"
              "# tests/unit/test_sphinx.c with SPHINX_VECTORS_REGEN=1; all hex.\n"
              "# node*_sk/pk/id: node keys (X25519) and ids; rng_seed: the 32-byte\n"
              "# ChaCha20 (IETF) seed of the sender's deterministic RNG (lib/rng.c).\n"
              "# hopN_out: what unwrap at node N wrote: the next packet (FORWARD),\n"
              "# the plaintext (DELIVER) or the still-encrypted payload (REPLY).\n"
              "# hopN_alpha .. hopN_routing_slot: node N's intermediate values\n"
              "# (spec sections 4 and 8), to debug a new implementation step by step.\n");
    vec_lioness(b);
    vec_forward(b, SPHINX_FORMAT_CLASSIC, 3, 64, 3, 0x31);
    vec_forward(b, SPHINX_FORMAT_CLASSIC, 5, 2048, 2, 0x32);
    vec_forward(b, SPHINX_FORMAT_CLASSIC, 5, 2048, 5, 0x33);
    vec_surb(b, SPHINX_FORMAT_CLASSIC, 3, 64, 3, 0x34);
    vec_surb(b, SPHINX_FORMAT_CLASSIC, 5, 2048, 4, 0x35);
    /* The KEM format (spec section 15), appended so the classic lines stay put. */
    vec_forward(b, SPHINX_FORMAT_KEM_X25519, 3, 64, 3, 0x41);
    vec_forward(b, SPHINX_FORMAT_KEM_X25519, 5, 2048, 2, 0x42);
    vec_forward(b, SPHINX_FORMAT_KEM_X25519, 5, 2048, 5, 0x43);
    vec_surb(b, SPHINX_FORMAT_KEM_X25519, 3, 64, 3, 0x44);
    vec_surb(b, SPHINX_FORMAT_KEM_X25519, 5, 2048, 4, 0x45);
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    struct sb b = { 0 };
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk - 1, f)) > 0) {
        chunk[n] = '\0';
        sb_add(&b, chunk);
    }
    fclose(f);
    return b.p;
}

static void test_vectors(void)
{
    struct sb b = { 0 };
    make_vectors(&b);
    const char *regen = getenv("SPHINX_VECTORS_REGEN");
    if (regen != NULL && *regen == '1') {
        FILE *f = fopen(VECTORS, "wb");
        CHECK(f != NULL);
        if (f != NULL) {
            CHECK(fwrite(b.p, 1, b.len, f) == b.len);
            CHECK(fclose(f) == 0);
            printf("# wrote %s\n", VECTORS);
        }
    }
    char *want = read_text(VECTORS);
    CHECKF(want != NULL, "cannot read %s (run from the repository root)", VECTORS);
    if (want != NULL) {
        /* Report the first line that differs. */
        size_t line = 1, i = 0;
        while (want[i] != '\0' && want[i] == b.p[i]) {
            if (want[i] == '\n')
                line++;
            i++;
        }
        CHECKF(want[i] == b.p[i], "%s differs at line %zu", VECTORS, line);
    }
    free(want);
    free(b.p);
}

/*
 * The independent Python implementation of docs/spec/sphinx.md must agree
 * with every vector.  Exit 77 (no python3 cryptography package) is a skip.
 */
static void test_spec_python(void)
{
    const char *cmd = "/usr/bin/python3 tests/vectors/sphinx_spec_check.py " VECTORS;
    if (access("/usr/bin/python3", X_OK) != 0) {
        printf("# skip: no /usr/bin/python3\n");
        return;
    }
    int rc = system(cmd);
    CHECKF(rc != -1 && WIFEXITED(rc), "cannot run %s", cmd);
    if (rc != -1 && WIFEXITED(rc) && WEXITSTATUS(rc) == 77)
        printf("# skip: python3 cryptography package missing\n");
    else
        CHECKF(rc != -1 && WIFEXITED(rc) && WEXITSTATUS(rc) == 0, "%s failed", cmd);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    RUN(test_geometry);
    RUN(test_roundtrip);
    RUN(test_linear_creation);
    /* Every format through the same tests. */
    for (int f = 0; f <= SPHINX_FORMAT_LAST; f++) {
        fmt = (enum sphinx_format)f;
        printf("# format %s\n", sphinx_format_name(fmt));
        if (fmt != SPHINX_FORMAT_CLASSIC)
            RUN(test_roundtrip);
        RUN(test_in_place);
        RUN(test_errors);
        RUN(test_bad_command);
        RUN(test_replay);
        RUN(test_threads);
        RUN(test_surb);
        RUN(test_unlinkable_bytes);
        RUN(test_bitflips);
    }
    RUN(test_vectors);
    RUN(test_spec_python);
    return tap_done();
}
