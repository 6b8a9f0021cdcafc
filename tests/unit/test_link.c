/*
 * Links: handshake and frames both ways over an in-memory pipe cut at random
 * points, every fatal error path (truncated or corrupted handshake, bad
 * payloads, wrong responder key, bad MAC, oversized frame), the output cap,
 * and the rekey rule (periodic and on demand).
 */
#include <stdlib.h>
#include <sodium.h>

#include "link.h"
#include "noise.h"
#include "rng.h"
#include "tap.h"
#include "../fuzz/noise_fuzz_keys.h"

static struct mix_rng_det det;
static struct mix_rng rng;

struct peers {
    uint8_t isk[32], ipk[32], rsk[32], rpk[32];
    struct link *i, *r;
};

static void keys(struct peers *p)
{
    if (noise_dh_keygen(p->ipk, p->isk, &rng) || noise_dh_keygen(p->rpk, p->rsk, &rng))
        printf("# keygen failed\n");
}

static bool peers_new(struct peers *p, size_t imax, size_t rmax)
{
    keys(p);
    p->i = link_new_initiator(p->isk, p->ipk, p->rpk, LINK_ROLE_NODE, imax, &rng);
    p->r = link_new_responder(p->rsk, p->rpk, rmax, &rng);
    return p->i && p->r;
}

static void peers_free(struct peers *p)
{
    link_free(p->i);
    link_free(p->r);
    p->i = p->r = NULL;
}

/*
 * Move all pending output of `from` into `to`, fed in random pieces of 1 to
 * max_piece bytes.  Returns the first link_feed() error, or LINK_OK.
 */
static int pump(struct link *from, struct link *to, size_t max_piece)
{
    const uint8_t *p;
    size_t len;
    link_output(from, &p, &len);
    while (len > 0) {
        size_t n = 1 + (size_t)mix_rng_below(&rng, max_piece);
        if (n > len)
            n = len;
        int rc = link_feed(to, p, n);
        link_consume_output(from, n);
        if (rc != LINK_OK)
            return rc;
        link_output(from, &p, &len);
    }
    return LINK_OK;
}

static bool handshake(struct peers *p, size_t max_piece)
{
    return link_start(p->i) == LINK_OK && link_start(p->r) == LINK_OK &&
           pump(p->i, p->r, max_piece) == LINK_OK && pump(p->r, p->i, max_piece) == LINK_OK &&
           link_is_established(p->i) && link_is_established(p->r);
}

static void fill(uint8_t *b, size_t n, uint32_t tag)
{
    for (size_t k = 0; k < n; k++)
        b[k] = (uint8_t)(k * 31 + tag);
}

static bool check_fill(const uint8_t *b, size_t n, uint32_t tag)
{
    for (size_t k = 0; k < n; k++)
        if (b[k] != (uint8_t)(k * 31 + tag))
            return false;
    return true;
}

/* Send frames of the given sizes from a to b and check each arrives intact. */
static bool exchange(struct link *a, struct link *b, const size_t *sizes, size_t n,
                     size_t max_piece)
{
    uint8_t *buf = malloc(LINK_DEFAULT_MAX_FRAME);
    bool ok = buf != NULL;
    for (size_t k = 0; ok && k < n; k++) {
        fill(buf, sizes[k], (uint32_t)k);
        ok = link_send_frame(a, buf, sizes[k]) == LINK_OK;
    }
    ok = ok && pump(a, b, max_piece) == LINK_OK;
    const uint8_t *f;
    size_t flen;
    for (size_t k = 0; ok && k < n; k++) {
        ok = link_next_frame(b, &f, &flen) == 1 && flen == sizes[k] &&
             check_fill(f, flen, (uint32_t)k);
        if (!ok)
            printf("# frame %zu (size %zu) wrong\n", k, sizes[k]);
    }
    ok = ok && link_next_frame(b, &f, &flen) == 0;
    free(buf);
    return ok;
}

static const size_t sizes[] = {
    0,
    1,
    100,
    LINK_MAX_CHUNK - 4,
    LINK_MAX_CHUNK - 3,
    LINK_MAX_CHUNK,
    2 * LINK_MAX_CHUNK - 4,
    200000,
    7,
    LINK_DEFAULT_MAX_FRAME,
    3,
};

static void test_handshake_and_frames(void)
{
    size_t pieces[] = { 1, 3, 97, 1500, 70000 };
    for (size_t k = 0; k < MIX_ARRAY_LEN(pieces); k++) {
        struct peers p = { 0 };
        CHECK(peers_new(&p, 0, 0));
        CHECK(link_state(p.i) == LINK_STATE_NEW && link_state(p.r) == LINK_STATE_HANDSHAKE);
        CHECK(handshake(&p, pieces[k]));
        uint8_t key[32], h1[64], h2[64];
        CHECK(link_remote_static(p.r, key) && memcmp(key, p.ipk, 32) == 0);
        CHECK(link_remote_static(p.i, key) && memcmp(key, p.rpk, 32) == 0);
        CHECK(link_remote_role(p.r) == LINK_ROLE_NODE);
        CHECK(link_handshake_hash(p.i, h1) && link_handshake_hash(p.r, h2));
        CHECK_EQ_MEM(h1, h2, 64);
        CHECKF(exchange(p.i, p.r, sizes, MIX_ARRAY_LEN(sizes), pieces[k]), "i->r piece %zu",
               pieces[k]);
        CHECKF(exchange(p.r, p.i, sizes, MIX_ARRAY_LEN(sizes), pieces[k]), "r->i piece %zu",
               pieces[k]);
        struct link_stats st;
        link_get_stats(p.r, &st);
        CHECK(st.frames_in == MIX_ARRAY_LEN(sizes) && st.frames_out == MIX_ARRAY_LEN(sizes));
        CHECK(st.msgs_in > MIX_ARRAY_LEN(sizes) && st.rekeys_in == 0);
        CHECK(link_error_reason(p.i) == NULL && link_error_reason(p.r) == NULL);
        peers_free(&p);
    }
}

static void test_roles_and_sizes(void)
{
    struct peers p = { 0 };
    keys(&p);
    p.i = link_new_initiator(p.isk, p.ipk, p.rpk, LINK_ROLE_CLIENT, 1000, &rng);
    p.r = link_new_responder(p.rsk, p.rpk, 1000, &rng);
    CHECK(handshake(&p, 50));
    CHECK(link_remote_role(p.r) == LINK_ROLE_CLIENT);
    CHECK(link_is_initiator(p.i) && !link_is_initiator(p.r));
    const uint8_t *o;
    size_t olen;
    link_output(p.i, &o, &olen);
    CHECK(olen == 0);
    uint8_t big[1001] = { 0 };
    CHECK(link_send_frame(p.i, big, 1001) == LINK_ERR_TOO_BIG); /* not fatal */
    CHECK(link_send_frame(p.i, big, 1000) == LINK_OK);
    CHECK(link_output_pending(p.i) == 2 + 4 + 1000 + 16);
    CHECK(pump(p.i, p.r, 10) == LINK_OK);
    peers_free(&p);
    /* Bad constructor arguments. */
    CHECK(link_new_initiator(p.isk, p.ipk, p.rpk, LINK_ROLE_NONE, 0, &rng) == NULL);
    CHECK(link_new_initiator(p.isk, p.ipk, p.rpk, (enum link_role)4, 0, &rng) == NULL);
    CHECK(link_new_responder(p.rsk, p.rpk, 0, NULL) == NULL);
    link_free(NULL);
}

static void test_state_errors(void)
{
    struct peers p = { 0 };
    uint8_t x[4] = { 0 };
    CHECK(peers_new(&p, 0, 0));
    CHECK(link_send_frame(p.i, x, 4) == LINK_ERR_STATE);
    CHECK(link_rekey(p.r) == LINK_ERR_STATE);
    CHECK(link_feed(p.i, x, 4) == LINK_ERR_STATE); /* data before link_start */
    CHECK(link_state(p.i) == LINK_STATE_FAILED);
    CHECK(link_error_reason(p.i) != NULL);
    CHECK(link_feed(p.i, x, 4) == LINK_ERR_FAILED);
    CHECK(link_start(p.i) == LINK_ERR_FAILED);
    CHECK(link_send_frame(p.i, x, 4) == LINK_ERR_FAILED);
    CHECK(strcmp(link_strerror(LINK_ERR_OVERSIZED), "peer announced an oversized frame") == 0);
    peers_free(&p);
    CHECK(peers_new(&p, 0, 0));
    CHECK(link_start(p.i) == LINK_OK);
    CHECK(link_start(p.i) == LINK_ERR_STATE);
    peers_free(&p);
}

static void test_truncated_handshake(void)
{
    struct peers p = { 0 };
    const uint8_t *o;
    size_t olen;
    CHECK(peers_new(&p, 0, 0));
    CHECK(link_start(p.i) == LINK_OK);
    link_output(p.i, &o, &olen);
    CHECK(olen == 2 + 32 + 48 + 2 + 16);
    /* All but the last byte: the responder waits. */
    CHECK(link_feed(p.r, o, olen - 1) == LINK_OK);
    CHECK(!link_is_established(p.r) && link_output_pending(p.r) == 0);
    peers_free(&p);
    /* A message whose length prefix cuts it short is a handshake failure. */
    for (size_t cut = 0; cut < 98; cut += 13) {
        CHECK(peers_new(&p, 0, 0));
        CHECK(link_start(p.i) == LINK_OK);
        link_output(p.i, &o, &olen);
        uint8_t m[100];
        memcpy(m, o, olen);
        mix_put_be16(m, (uint16_t)cut);
        CHECKF(link_feed(p.r, m, 2 + cut) == LINK_ERR_HANDSHAKE, "cut %zu", cut);
        CHECK(link_output_pending(p.r) == 0);
        peers_free(&p);
    }
    /* A truncated msg2 fails the initiator. */
    CHECK(peers_new(&p, 0, 0));
    CHECK(link_start(p.i) == LINK_OK && pump(p.i, p.r, 1000) == LINK_OK);
    link_output(p.r, &o, &olen);
    uint8_t m2[64];
    CHECK(olen == 2 + 32 + 1 + 16);
    memcpy(m2, o, olen);
    mix_put_be16(m2, 40);
    CHECK(link_feed(p.i, m2, 42) == LINK_ERR_HANDSHAKE);
    peers_free(&p);
}

static void test_corrupt_bytes(void)
{
    const uint8_t *o;
    size_t olen;
    /* Every byte of msg1 after the length prefix is authenticated. */
    for (size_t pos = 2; pos < 100; pos += 3) {
        struct peers p = { 0 };
        CHECK(peers_new(&p, 0, 0));
        CHECK(link_start(p.i) == LINK_OK);
        link_output(p.i, &o, &olen);
        uint8_t m[100];
        memcpy(m, o, olen);
        m[pos] ^= 0x01;
        CHECKF(link_feed(p.r, m, olen) == LINK_ERR_HANDSHAKE, "pos %zu", pos);
        peers_free(&p);
    }
    /* And every byte of a transport message. */
    for (size_t pos = 2; pos < 2 + 4 + 10 + 16; pos++) {
        struct peers p = { 0 };
        CHECK(peers_new(&p, 0, 0));
        CHECK(handshake(&p, 1000));
        uint8_t f[10] = "0123456789", m[64];
        CHECK(link_send_frame(p.i, f, 10) == LINK_OK);
        link_output(p.i, &o, &olen);
        memcpy(m, o, olen);
        m[pos] ^= 0x80;
        CHECKF(link_feed(p.r, m, olen) == LINK_ERR_MAC, "pos %zu", pos);
        const uint8_t *fp;
        size_t fl;
        CHECK(link_next_frame(p.r, &fp, &fl) == 0);
        peers_free(&p);
    }
    /* A transport message shorter than its tag. */
    struct peers p = { 0 };
    CHECK(peers_new(&p, 0, 0));
    CHECK(handshake(&p, 1000));
    uint8_t shortmsg[2 + 15] = { 0, 15 };
    CHECK(link_feed(p.r, shortmsg, sizeof shortmsg) == LINK_ERR_MAC);
    peers_free(&p);
}

/* Build msg1 by hand with the given payload, as a foreign initiator would. */
static size_t craft_msg1(const struct peers *p, const uint8_t *payload, size_t plen,
                         const char *prologue, uint8_t out[200])
{
    struct noise_hs *hs = noise_hs_new(NOISE_PATTERN_IK, true, (const uint8_t *)prologue,
                                       strlen(prologue), p->isk, NULL, p->rpk, &rng);
    size_t n = 0;
    if (hs == NULL || noise_hs_write_message(hs, payload, plen, out + 2, 198, &n) != NOISE_OK)
        n = 0;
    mix_put_be16(out, (uint16_t)n);
    noise_hs_free(hs);
    return n + 2;
}

static void test_bad_payloads(void)
{
    static const struct {
        uint8_t pl[3];
        size_t len;
    } cases[] = {
        { { 2, 1 }, 2 },    /* unknown version */
        { { 1, 0 }, 2 },    /* role none */
        { { 1, 4 }, 2 },    /* unknown role */
        { { 1 }, 1 },       /* too short */
        { { 1, 1, 0 }, 3 }, /* too long */
        { { 0 }, 0 },       /* empty */
    };
    uint8_t m[200];
    for (size_t k = 0; k < MIX_ARRAY_LEN(cases); k++) {
        struct peers p = { 0 };
        CHECK(peers_new(&p, 0, 0));
        size_t n = craft_msg1(&p, cases[k].pl, cases[k].len, LINK_PROLOGUE, m);
        CHECKF(link_feed(p.r, m, n) == LINK_ERR_PAYLOAD, "case %zu", k);
        CHECK(link_output_pending(p.r) == 0 && !link_is_established(p.r));
        peers_free(&p);
    }
    /* The right payload by hand works, a wrong prologue does not. */
    struct peers p = { 0 };
    CHECK(peers_new(&p, 0, 0));
    size_t n = craft_msg1(&p, (const uint8_t *)"\x01\x03", 2, LINK_PROLOGUE, m);
    CHECK(link_feed(p.r, m, n) == LINK_OK && link_remote_role(p.r) == LINK_ROLE_AUTHORITY);
    peers_free(&p);
    CHECK(peers_new(&p, 0, 0));
    n = craft_msg1(&p, (const uint8_t *)"\x01\x03", 2, "mixnet-link-v2", m);
    CHECK(link_feed(p.r, m, n) == LINK_ERR_HANDSHAKE);
    peers_free(&p);
    /* msg2 with a wrong version byte fails the initiator. */
    CHECK(peers_new(&p, 0, 0));
    CHECK(link_start(p.i) == LINK_OK);
    const uint8_t *o;
    size_t olen, plen;
    link_output(p.i, &o, &olen);
    struct noise_hs *hs = noise_hs_new(NOISE_PATTERN_IK, false, (const uint8_t *)LINK_PROLOGUE,
                                       strlen(LINK_PROLOGUE), p.rsk, NULL, NULL, &rng);
    uint8_t pl[100];
    CHECK(hs && noise_hs_read_message(hs, o + 2, olen - 2, pl, sizeof pl, &plen) == NOISE_OK);
    CHECK(noise_hs_write_message(hs, (const uint8_t *)"\x07", 1, m + 2, 198, &n) == NOISE_OK);
    mix_put_be16(m, (uint16_t)n);
    CHECK(link_feed(p.i, m, n + 2) == LINK_ERR_PAYLOAD);
    noise_hs_free(hs);
    peers_free(&p);
}

static void test_wrong_responder_key(void)
{
    struct peers p = { 0 };
    uint8_t wsk[32], wpk[32];
    keys(&p);
    CHECK(noise_dh_keygen(wpk, wsk, &rng) == NOISE_OK);
    p.i = link_new_initiator(p.isk, p.ipk, wpk, LINK_ROLE_CLIENT, 0, &rng);
    p.r = link_new_responder(p.rsk, p.rpk, 0, &rng);
    CHECK(p.i && p.r && link_start(p.i) == LINK_OK);
    CHECK(pump(p.i, p.r, 1000) == LINK_ERR_HANDSHAKE);
    CHECK(!link_is_established(p.i) && !link_is_established(p.r));
    CHECK(link_output_pending(p.r) == 0); /* nothing to answer with */
    peers_free(&p);
    /* A responder holding another key cannot answer either: msg2 made by an
     * impostor that knows only the public key is rejected by the initiator. */
    CHECK(peers_new(&p, 0, 0));
    struct link *imp = link_new_responder(wsk, p.rpk, 0, &rng);
    CHECK(imp && link_start(p.i) == LINK_OK);
    CHECK(pump(p.i, imp, 1000) == LINK_ERR_HANDSHAKE);
    link_free(imp);
    peers_free(&p);
}

static void test_oversized_frame(void)
{
    struct peers p = { 0 };
    CHECK(peers_new(&p, 2 * LINK_DEFAULT_MAX_FRAME, 0));
    CHECK(handshake(&p, 1000));
    uint8_t *big = calloc(1, LINK_DEFAULT_MAX_FRAME + 1);
    CHECK(big != NULL);
    if (big == NULL)
        return;
    CHECK(link_send_frame(p.i, big, LINK_DEFAULT_MAX_FRAME + 1) == LINK_OK);
    const uint8_t *o;
    size_t olen;
    link_output(p.i, &o, &olen);
    /* The first transport message alone is enough to refuse the frame. */
    CHECK(link_feed(p.r, o, 2 + NOISE_MAX_MSG) == LINK_ERR_OVERSIZED);
    CHECK(strcmp(link_error_reason(p.r), "frame length above the maximum") == 0);
    free(big);
    peers_free(&p);
}

static void test_output_cap(void)
{
    struct peers p = { 0 };
    CHECK(peers_new(&p, 0, 0));
    CHECK(handshake(&p, 1000));
    link_set_output_cap(p.i, 100);
    uint8_t f[100] = { 0 };
    CHECK(link_send_frame(p.i, f, 60) == LINK_OK); /* 2 + 4 + 60 + 16 = 82 */
    CHECK(link_send_frame(p.i, f, 10) == LINK_ERR_FULL);
    CHECK(link_send_frame(p.i, f, 90) == LINK_ERR_FULL);
    struct link_stats st;
    link_get_stats(p.i, &st);
    CHECK(st.drops_full == 2 && st.frames_out == 1);
    CHECK(link_is_established(p.i)); /* FULL is not fatal */
    CHECK(pump(p.i, p.r, 1000) == LINK_OK);
    CHECK(link_send_frame(p.i, f, 10) == LINK_OK);
    CHECK(pump(p.i, p.r, 7) == LINK_OK);
    const uint8_t *fp;
    size_t fl;
    CHECK(link_next_frame(p.r, &fp, &fl) == 1 && fl == 60);
    CHECK(link_next_frame(p.r, &fp, &fl) == 1 && fl == 10);
    link_get_stats(p.i, &st);
    CHECK(st.bytes_out == 100 + 82 + 32); /* msg1, then the two frames */
    peers_free(&p);
}

static void test_rekey(void)
{
    struct peers p = { 0 };
    CHECK(peers_new(&p, 0, 0));
    link_set_rekey_interval(p.i, 3);
    link_set_rekey_interval(p.r, 3);
    CHECK(handshake(&p, 1000));
    size_t many[20];
    for (size_t k = 0; k < 20; k++)
        many[k] = 10 + k * 5000; /* some frames span two messages */
    CHECK(exchange(p.i, p.r, many, 20, 3000));
    CHECK(exchange(p.r, p.i, many, 20, 3000));
    CHECK(link_rekey(p.i) == LINK_OK && link_rekey(p.i) == LINK_OK); /* on demand */
    CHECK(exchange(p.i, p.r, many, 20, 3000));
    struct link_stats si, sr;
    link_get_stats(p.i, &si);
    link_get_stats(p.r, &sr);
    CHECK(si.msgs_out == sr.msgs_in && si.msgs_out > 40);
    CHECK(si.rekeys_out == sr.rekeys_in && si.rekeys_out == si.msgs_out / 3 + 2);
    CHECK(sr.rekeys_out == si.rekeys_in && sr.rekeys_out > 0);
    peers_free(&p);

    /* Rekeying really changes the key: a receiver that skips it fails. */
    CHECK(peers_new(&p, 0, 0));
    link_set_rekey_interval(p.i, 2);
    link_set_rekey_interval(p.r, 0);
    CHECK(handshake(&p, 1000));
    uint8_t f[5] = "abcde";
    CHECK(link_send_frame(p.i, f, 5) == LINK_OK && link_send_frame(p.i, f, 5) == LINK_OK);
    CHECK(pump(p.i, p.r, 1000) == LINK_OK);
    CHECK(link_send_frame(p.i, f, 5) == LINK_OK);
    CHECK(pump(p.i, p.r, 1000) == LINK_ERR_MAC);
    peers_free(&p);
    /* The same for the on-demand signal with the periodic rule off. */
    CHECK(peers_new(&p, 0, 0));
    link_set_rekey_interval(p.i, 0);
    link_set_rekey_interval(p.r, 0);
    CHECK(handshake(&p, 1000));
    CHECK(link_rekey(p.r) == LINK_OK);
    CHECK(link_send_frame(p.r, f, 5) == LINK_OK);
    CHECK(pump(p.r, p.i, 1000) == LINK_OK);
    const uint8_t *fp;
    size_t fl;
    CHECK(link_next_frame(p.i, &fp, &fl) == 1 && fl == 5 && memcmp(fp, f, 5) == 0);
    peers_free(&p);
}

static void test_default_rekey_interval(void)
{
    /* The default interval is the documented 2^20 (the rule itself is
     * exercised with small intervals above); short links never rekey. */
    CHECK(LINK_REKEY_INTERVAL == (UINT64_C(1) << 20));
    struct peers p = { 0 };
    CHECK(peers_new(&p, 0, 0));
    CHECK(handshake(&p, 1000));
    size_t zero[64] = { 0 };
    CHECK(exchange(p.i, p.r, zero, 64, 1000));
    struct link_stats st;
    link_get_stats(p.r, &st);
    CHECK(st.rekeys_in == 0 && st.frames_in == 64);
    peers_free(&p);
}

static void test_deterministic(void)
{
    /* The same RNG seed gives the same msg1: fuzz seeds are reproducible. */
    uint8_t seed[32] = { 42 }, out[2][200];
    size_t len[2];
    for (int k = 0; k < 2; k++) {
        struct mix_rng_det d;
        mix_rng_det_init(&d, seed);
        struct mix_rng r = mix_rng_det(&d);
        uint8_t isk[32], ipk[32], rsk[32], rpk[32];
        CHECK(noise_dh_keygen(ipk, isk, &r) == NOISE_OK &&
              noise_dh_keygen(rpk, rsk, &r) == NOISE_OK);
        struct link *l = link_new_initiator(isk, ipk, rpk, LINK_ROLE_NODE, 0, &r);
        CHECK(l && link_start(l) == LINK_OK);
        const uint8_t *o;
        link_output(l, &o, &len[k]);
        memcpy(out[k], o, len[k]);
        link_free(l);
    }
    CHECK(len[0] == len[1] && memcmp(out[0], out[1], len[0]) == 0);
}

/*
 * The committed fuzz seeds must keep reaching the transport: "session"
 * carries five frames and one on-demand rekey, "oversized" ends in an
 * oversized frame.  (Regenerate with noise_peer fuzz-seeds if the link
 * format changes.)
 */
static int feed_seed(const char *name, struct link_stats *st)
{
    const char *top = getenv("TOP");
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/fuzz/corpus/noise_responder/%s", top ? top : ".", name);
    FILE *f = fopen(path, "rb");
    uint8_t *buf = malloc(400000);
    size_t n = (f && buf) ? fread(buf, 1, 400000, f) : 0;
    if (f)
        fclose(f);
    uint8_t sk[32], pk[32], seed[32];
    noise_fuzz_keys(sk, pk, seed);
    struct mix_rng_det d;
    mix_rng_det_init(&d, seed);
    struct mix_rng r = mix_rng_det(&d);
    struct link *l = link_new_responder(sk, pk, NOISE_FUZZ_MAX_FRAME, &r);
    int rc = (l && n > 1) ? link_feed(l, buf + 1, n - 1) : -100;
    if (l)
        link_get_stats(l, st);
    link_free(l);
    free(buf);
    return rc;
}

static void test_fuzz_seeds(void)
{
    struct link_stats st;
    CHECK(feed_seed("session", &st) == LINK_OK);
    CHECK(st.frames_in == 5 && st.rekeys_in == 1);
    CHECK(feed_seed("oversized", &st) == LINK_ERR_OVERSIZED);
    CHECK(st.frames_in == 5);
    CHECK(feed_seed("msg1", &st) == LINK_OK);
}

int main(void)
{
    uint8_t seed[32] = { 0x11 };
    if (sodium_init() < 0)
        return 1;
    mix_rng_det_init(&det, seed);
    rng = mix_rng_det(&det);
    RUN(test_handshake_and_frames);
    RUN(test_roles_and_sizes);
    RUN(test_state_errors);
    RUN(test_truncated_handshake);
    RUN(test_corrupt_bytes);
    RUN(test_bad_payloads);
    RUN(test_wrong_responder_key);
    RUN(test_oversized_frame);
    RUN(test_output_cap);
    RUN(test_rekey);
    RUN(test_default_rekey_interval);
    RUN(test_deterministic);
    RUN(test_fuzz_seeds);
    return tap_done();
}
