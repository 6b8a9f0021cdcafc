/*
 * Noise: every vector of tests/vectors/noise-25519-chachapoly-blake2b.json
 * (NK, KK, IK, XX from the cacophony set), HMAC/HKDF and REKEY known answers
 * computed with Python's hmac/hashlib and the `cryptography` package, and
 * the error paths.
 */
#include <stdlib.h>
#include <sodium.h>

#include "noise.h"
#include "rng.h"
#include "tap.h"

#define VEC_FILE "tests/vectors/noise-25519-chachapoly-blake2b.json"
#define MAX_VECS 16
#define MAX_MSGS 16
#define MAX_HEX 2048

/* ------------------------------------------- a tiny reader for the JSON */

struct vmsg {
    uint8_t payload[MAX_HEX], ct[MAX_HEX];
    size_t payload_len, ct_len;
};

struct vector {
    char name[80];
    uint8_t init_prologue[64], resp_prologue[64];
    size_t init_prologue_len, resp_prologue_len;
    uint8_t init_static[32], init_ephemeral[32], init_remote_static[32];
    uint8_t resp_static[32], resp_ephemeral[32], resp_remote_static[32];
    bool has_init_static, has_init_rs, has_resp_static, has_resp_rs;
    uint8_t hash[64];
    struct vmsg msgs[MAX_MSGS];
    size_t nmsgs;
};

static struct vector vecs[MAX_VECS];
static size_t nvecs;

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    char *buf = malloc(1 << 20);
    size_t n = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
    fclose(f);
    if (buf)
        buf[n] = 0;
    return buf;
}

static bool hex(const char *s, size_t slen, uint8_t *out, size_t cap, size_t *out_len)
{
    size_t n;
    return sodium_hex2bin(out, cap, s, slen, NULL, &n, NULL) == 0 && (*out_len = n, true);
}

static bool hex_exact(const char *s, size_t slen, uint8_t *out, size_t want)
{
    size_t n;
    return hex(s, slen, out, want, &n) && n == want;
}

/* Assign one "key": "value" pair to the current vector or message. */
static bool assign(struct vector *v, const char *k, const char *val, size_t vl)
{
    size_t n;
    if (strcmp(k, "protocol_name") == 0) {
        if (vl >= sizeof v->name)
            return false;
        memcpy(v->name, val, vl);
        v->name[vl] = 0;
        return true;
    }
    if (strcmp(k, "payload") == 0) {
        if (v->nmsgs == MAX_MSGS)
            return false;
        struct vmsg *m = &v->msgs[v->nmsgs++];
        return hex(val, vl, m->payload, MAX_HEX, &m->payload_len);
    }
    if (strcmp(k, "ciphertext") == 0)
        return v->nmsgs > 0 &&
               hex(val, vl, v->msgs[v->nmsgs - 1].ct, MAX_HEX, &v->msgs[v->nmsgs - 1].ct_len);
    if (strcmp(k, "init_prologue") == 0)
        return hex(val, vl, v->init_prologue, 64, &v->init_prologue_len);
    if (strcmp(k, "resp_prologue") == 0)
        return hex(val, vl, v->resp_prologue, 64, &v->resp_prologue_len);
    if (strcmp(k, "handshake_hash") == 0)
        return hex_exact(val, vl, v->hash, 64);
    if (strcmp(k, "init_ephemeral") == 0)
        return hex_exact(val, vl, v->init_ephemeral, 32);
    if (strcmp(k, "resp_ephemeral") == 0)
        return hex_exact(val, vl, v->resp_ephemeral, 32);
    if (strcmp(k, "init_static") == 0)
        return (v->has_init_static = hex_exact(val, vl, v->init_static, 32));
    if (strcmp(k, "resp_static") == 0)
        return (v->has_resp_static = hex_exact(val, vl, v->resp_static, 32));
    if (strcmp(k, "init_remote_static") == 0)
        return (v->has_init_rs = hex_exact(val, vl, v->init_remote_static, 32));
    if (strcmp(k, "resp_remote_static") == 0)
        return (v->has_resp_rs = hex_exact(val, vl, v->resp_remote_static, 32));
    (void)n;
    printf("# unknown vector field %s\n", k);
    return false;
}

/*
 * The file is {"source": "...", "vectors": [ {...,"messages":[{...}]} ]}:
 * objects opened at nesting depth 2 are vectors; string pairs below belong
 * to the current one.  Only string values occur, so this suffices.
 */
static bool load_vectors(const char *path)
{
    char *js = read_file(path);
    if (js == NULL)
        return false;
    int depth = 0;
    bool ok = true;
    char key[64] = "";
    for (char *p = js; *p && ok; p++) {
        if (*p == '{' || *p == '[') {
            if (*p == '{' && depth == 2) {
                if (nvecs == MAX_VECS) {
                    ok = false;
                    break;
                }
                memset(&vecs[nvecs++], 0, sizeof vecs[0]);
            }
            depth++;
        } else if (*p == '}' || *p == ']') {
            depth--;
        } else if (*p == '"') {
            char *end = strchr(p + 1, '"');
            if (end == NULL) {
                ok = false;
                break;
            }
            size_t len = (size_t)(end - p - 1);
            char *q = end + 1;
            while (*q == ' ' || *q == '\n' || *q == '\r' || *q == '\t')
                q++;
            if (*q == ':') {
                if (len >= sizeof key) {
                    ok = false;
                    break;
                }
                memcpy(key, p + 1, len);
                key[len] = 0;
            } else if (depth >= 3 && nvecs > 0) {
                ok = assign(&vecs[nvecs - 1], key, p + 1, len);
            }
            p = end;
        }
    }
    free(js);
    return ok && depth == 0;
}

/* ------------------------------------------------------- vector runner */

static const struct vector *find_vector(const char *name)
{
    for (size_t i = 0; i < nvecs; i++)
        if (strcmp(vecs[i].name, name) == 0)
            return &vecs[i];
    return NULL;
}

static int run_transport(const struct vector *v, size_t first, struct noise_cipher *is,
                         struct noise_cipher *ir, struct noise_cipher *rs, struct noise_cipher *rr)
{
    int bad = 0;
    uint8_t ct[MAX_HEX + 16], pt[MAX_HEX];
    for (size_t i = first; i < v->nmsgs; i++) {
        const struct vmsg *m = &v->msgs[i];
        bool from_init = (i % 2) == 0;
        struct noise_cipher *enc = from_init ? is : rs, *dec = from_init ? rr : ir;
        CHECK(noise_cipher_encrypt(enc, NULL, 0, m->payload, m->payload_len, ct) == NOISE_OK);
        CHECKF(m->ct_len == m->payload_len + 16 && memcmp(ct, m->ct, m->ct_len) == 0,
               "%s transport message %zu", v->name, i);
        CHECK(noise_cipher_decrypt(dec, NULL, 0, m->ct, m->ct_len, pt) == NOISE_OK);
        CHECK(memcmp(pt, m->payload, m->payload_len) == 0);
        bad += memcmp(ct, m->ct, m->ct_len) != 0;
    }
    return bad;
}

/*
 * Runs one vector: both sides with the fixed ephemerals, every handshake
 * message compared byte for byte, the handshake hash on both sides, then
 * every transport message (the vectors keep alternating senders).
 */
static void run_vector(const char *name)
{
    const struct vector *v = find_vector(name);
    CHECKF(v != NULL, "vector %s not in file", name);
    if (v == NULL)
        return;
    enum noise_pattern pat;
    CHECK(noise_pattern_from_name(v->name, &pat));
    struct mix_rng sys = mix_rng_system();
    struct noise_hs *in = noise_hs_new(pat, true, v->init_prologue, v->init_prologue_len,
                                       v->has_init_static ? v->init_static : NULL, NULL,
                                       v->has_init_rs ? v->init_remote_static : NULL, &sys);
    struct noise_hs *re = noise_hs_new(pat, false, v->resp_prologue, v->resp_prologue_len,
                                       v->has_resp_static ? v->resp_static : NULL, NULL,
                                       v->has_resp_rs ? v->resp_remote_static : NULL, &sys);
    CHECK(in != NULL && re != NULL);
    if (in == NULL || re == NULL)
        goto out;
    CHECK(noise_hs_set_ephemeral(in, v->init_ephemeral) == NOISE_OK);
    CHECK(noise_hs_set_ephemeral(re, v->resp_ephemeral) == NOISE_OK);
    size_t i = 0;
    uint8_t buf[NOISE_MAX_MSG], pl[NOISE_MAX_MSG];
    for (; !noise_hs_is_finished(in) && i < v->nmsgs; i++) {
        const struct vmsg *m = &v->msgs[i];
        struct noise_hs *w = noise_hs_is_my_turn(in) ? in : re, *r = w == in ? re : in;
        size_t blen = 0, plen = 0;
        CHECK(noise_hs_message_len(w, m->payload_len) == m->ct_len);
        CHECK(noise_hs_write_message(w, m->payload, m->payload_len, buf, sizeof buf, &blen) ==
              NOISE_OK);
        CHECKF(blen == m->ct_len && memcmp(buf, m->ct, blen) == 0, "%s handshake message %zu", name,
               i);
        CHECK(noise_hs_read_message(r, m->ct, m->ct_len, pl, sizeof pl, &plen) == NOISE_OK);
        CHECK(plen == m->payload_len && memcmp(pl, m->payload, plen) == 0);
    }
    CHECK(noise_hs_is_finished(in) && noise_hs_is_finished(re));
    uint8_t h1[64], h2[64], k1[32], k2[32];
    noise_hs_handshake_hash(in, h1);
    noise_hs_handshake_hash(re, h2);
    CHECK_EQ_MEM(h1, v->hash, 64);
    CHECK_EQ_MEM(h2, v->hash, 64);
    /* Each side learnt the other's static key where the pattern sends one. */
    if (v->has_init_static) {
        CHECK(noise_hs_remote_static(re, k1));
        CHECK(noise_dh_pubkey(k2, v->init_static) == NOISE_OK);
        CHECK_EQ_MEM(k1, k2, 32);
    }
    struct noise_cipher *is = NULL, *ir = NULL, *rs = NULL, *rr = NULL;
    CHECK(noise_hs_split(in, &is, &ir) == NOISE_OK);
    CHECK(noise_hs_split(re, &rs, &rr) == NOISE_OK);
    if (is && rs)
        CHECK(run_transport(v, i, is, ir, rs, rr) == 0);
    noise_cipher_free(is);
    noise_cipher_free(ir);
    noise_cipher_free(rs);
    noise_cipher_free(rr);
out:
    noise_hs_free(in);
    noise_hs_free(re);
}

static void test_vectors_loaded(void)
{
    const char *top = getenv("TOP");
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", top ? top : ".", VEC_FILE);
    CHECKF(load_vectors(path), "cannot load %s", path);
    CHECK(nvecs == 4);
    /* Every vector in the file must be one we run below. */
    for (size_t i = 0; i < nvecs; i++) {
        enum noise_pattern p;
        CHECKF(noise_pattern_from_name(vecs[i].name, &p), "unhandled vector %s", vecs[i].name);
        CHECK(vecs[i].nmsgs >= 3);
    }
}

static void test_vector_NK(void)
{
    run_vector("Noise_NK_25519_ChaChaPoly_BLAKE2b");
}
static void test_vector_KK(void)
{
    run_vector("Noise_KK_25519_ChaChaPoly_BLAKE2b");
}
static void test_vector_IK(void)
{
    run_vector("Noise_IK_25519_ChaChaPoly_BLAKE2b");
}
static void test_vector_XX(void)
{
    run_vector("Noise_XX_25519_ChaChaPoly_BLAKE2b");
}

/* ------------------------------------------------ building blocks, KATs */

static void unhex(uint8_t *out, size_t n, const char *s)
{
    size_t got = 0;
    if (sodium_hex2bin(out, n, s, strlen(s), NULL, &got, NULL) != 0 || got != n)
        memset(out, 0, n);
}

static void test_hmac_kat(void)
{
    /* Python: hmac.new(key, b"mixnet hmac test", hashlib.blake2b). */
    uint8_t key[200], out[64], want[64];
    const uint8_t *msg = (const uint8_t *)"mixnet hmac test";
    for (int i = 0; i < 200; i++)
        key[i] = (uint8_t)i;
    noise_hmac_blake2b(out, key, 64, msg, 16);
    unhex(want, 64,
          "16e134a1aede5868cc083098fc16f5278a7f1ca31a1065740d5cad4fec57d813"
          "61b6c95144d75196d2e2b4453b5964da338bf26774d98c32c8c27038990524c2");
    CHECK_EQ_MEM(out, want, 64);
    /* A key longer than the 128-byte block is hashed first. */
    noise_hmac_blake2b(out, key, 200, msg, 16);
    unhex(want, 64,
          "80615d87255e171cc23795e50c475669282e04c8bcaaa83fe1f4caee8c5cbab9"
          "b1a15c1129a439c7232c32d1b30b9ed3772b546b0e281e8552296d299af1dbd1");
    CHECK_EQ_MEM(out, want, 64);
}

static void test_hkdf_structure(void)
{
    /* HKDF outputs chain: o2 = HMAC(temp, o1 || 2), o3 = HMAC(temp, o2 || 3). */
    uint8_t ck[64] = { 9 }, ikm[32] = { 4 }, o1[64], o2[64], o3[64], t[64], b[65], x[64];
    noise_hkdf(ck, ikm, 32, 3, o1, o2, o3);
    noise_hmac_blake2b(t, ck, 64, ikm, 32);
    b[0] = 1;
    noise_hmac_blake2b(x, t, 64, b, 1);
    CHECK_EQ_MEM(x, o1, 64);
    memcpy(b, o1, 64);
    b[64] = 2;
    noise_hmac_blake2b(x, t, 64, b, 65);
    CHECK_EQ_MEM(x, o2, 64);
    memcpy(b, o2, 64);
    b[64] = 3;
    noise_hmac_blake2b(x, t, 64, b, 65);
    CHECK_EQ_MEM(x, o3, 64);
}

static void test_rekey_kat(void)
{
    /* Python cryptography: ChaCha20Poly1305(k).encrypt(0^4 || ff^8, 0^32, b"")[:32]. */
    uint8_t k[32], want[32], pt[5] = "hello", a[21], b[21];
    for (int i = 0; i < 32; i++)
        k[i] = (uint8_t)i;
    unhex(want, 32, "50835543a205b22c9323f2022bc4f67d838f90e61d5ccf33c4513e01f85b5042");
    struct noise_cipher *c = noise_cipher_new(k), *d = noise_cipher_new(want);
    CHECK(c && d);
    if (!c || !d)
        goto out;
    noise_cipher_set_nonce(c, 7);
    noise_cipher_set_nonce(d, 7);
    CHECK(noise_cipher_rekey(c) == NOISE_OK);
    CHECK(noise_cipher_nonce(c) == 7); /* REKEY leaves n alone */
    CHECK(noise_cipher_encrypt(c, NULL, 0, pt, 5, a) == NOISE_OK);
    CHECK(noise_cipher_encrypt(d, NULL, 0, pt, 5, b) == NOISE_OK);
    CHECK_EQ_MEM(a, b, 21);
out:
    noise_cipher_free(c);
    noise_cipher_free(d);
}

static void test_nonce_exhaustion(void)
{
    uint8_t k[32] = { 1 }, pt[4] = { 1, 2, 3, 4 }, ct[20], out[4];
    struct noise_cipher *c = noise_cipher_new(k), *d = noise_cipher_new(k);
    CHECK(c && d);
    if (!c || !d)
        goto out;
    noise_cipher_set_nonce(c, UINT64_MAX - 1);
    noise_cipher_set_nonce(d, UINT64_MAX - 1);
    CHECK(noise_cipher_encrypt(c, NULL, 0, pt, 4, ct) == NOISE_OK);
    CHECK(noise_cipher_encrypt(c, NULL, 0, pt, 4, ct) == NOISE_ERR_NONCE);
    CHECK(noise_cipher_decrypt(d, NULL, 0, ct, 20, out) == NOISE_OK);
    CHECK(noise_cipher_decrypt(d, NULL, 0, ct, 20, out) == NOISE_ERR_NONCE);
    CHECK(strcmp(noise_strerror(NOISE_ERR_NONCE), "nonce exhausted") == 0);
out:
    noise_cipher_free(c);
    noise_cipher_free(d);
}

static void test_cipher_errors(void)
{
    uint8_t k[32] = { 2 }, pt[8] = "abcdefg", ct[24], out[8];
    struct noise_cipher *c = noise_cipher_new(k), *d = noise_cipher_new(k);
    CHECK(c && d);
    if (!c || !d)
        goto out;
    CHECK(noise_cipher_encrypt(c, NULL, 0, pt, 8, ct) == NOISE_OK);
    ct[3] ^= 1;
    CHECK(noise_cipher_decrypt(d, NULL, 0, ct, 24, out) == NOISE_ERR_DECRYPT);
    CHECK(noise_cipher_nonce(d) == 0); /* a failed decrypt does not consume a nonce */
    ct[3] ^= 1;
    CHECK(noise_cipher_decrypt(d, NULL, 0, ct, 15, out) == NOISE_ERR_LENGTH);
    CHECK(noise_cipher_decrypt(d, NULL, 0, ct, 24, out) == NOISE_OK);
    CHECK_EQ_MEM(out, pt, 8);
    /* In place. */
    memcpy(ct, pt, 8);
    CHECK(noise_cipher_encrypt(c, NULL, 0, ct, 8, ct) == NOISE_OK);
    CHECK(noise_cipher_decrypt(d, NULL, 0, ct, 24, ct) == NOISE_OK);
    CHECK_EQ_MEM(ct, pt, 8);
    noise_cipher_free(NULL);
out:
    noise_cipher_free(c);
    noise_cipher_free(d);
}

/* ------------------------------------------------------ handshake errors */

struct pair {
    uint8_t isk[32], ipk[32], rsk[32], rpk[32];
    struct noise_hs *in, *re;
    uint8_t m1[256];
    size_t m1_len;
};

static bool ik_pair(struct pair *p, const struct mix_rng *rng)
{
    if (noise_dh_keygen(p->ipk, p->isk, rng) || noise_dh_keygen(p->rpk, p->rsk, rng))
        return false;
    p->in = noise_hs_new(NOISE_PATTERN_IK, true, (const uint8_t *)"pro", 3, p->isk, p->ipk, p->rpk,
                         rng);
    p->re =
        noise_hs_new(NOISE_PATTERN_IK, false, (const uint8_t *)"pro", 3, p->rsk, NULL, NULL, rng);
    return p->in && p->re &&
           noise_hs_write_message(p->in, (const uint8_t *)"hi", 2, p->m1, sizeof p->m1,
                                  &p->m1_len) == NOISE_OK;
}

static void pair_free(struct pair *p)
{
    noise_hs_free(p->in);
    noise_hs_free(p->re);
}

static void test_hs_errors(void)
{
    uint8_t seed[32] = { 3 }, pl[256], buf[256];
    size_t plen, blen;
    struct mix_rng_det det;
    mix_rng_det_init(&det, seed);
    struct mix_rng rng = mix_rng_det(&det);
    struct pair p = { 0 };

    /* Missing keys are refused at creation. */
    CHECK(noise_hs_new(NOISE_PATTERN_IK, true, NULL, 0, NULL, NULL, NULL, &rng) == NULL);
    CHECK(noise_hs_new((enum noise_pattern)42, true, NULL, 0, p.isk, NULL, p.rpk, &rng) == NULL);
    enum noise_pattern pat;
    CHECK(!noise_pattern_from_name("Noise_IK_25519_AESGCM_SHA256", &pat));
    CHECK(!noise_pattern_from_name("Noise_IKpsk2_25519_ChaChaPoly_BLAKE2b", &pat));

    /* Truncated msg1. */
    CHECK(ik_pair(&p, &rng));
    CHECK(p.m1_len == 32 + 48 + 2 + 16);
    CHECK(noise_hs_read_message(p.re, p.m1, p.m1_len - 1, pl, sizeof pl, &plen) ==
          NOISE_ERR_DECRYPT);
    pair_free(&p);
    CHECK(ik_pair(&p, &rng));
    CHECK(noise_hs_read_message(p.re, p.m1, 60, pl, sizeof pl, &plen) == NOISE_ERR_LENGTH);
    /* Once failed, nothing more works. */
    CHECK(noise_hs_read_message(p.re, p.m1, p.m1_len, pl, sizeof pl, &plen) == NOISE_ERR_STATE);
    pair_free(&p);

    /* Each corrupted byte of msg1 is caught. */
    for (size_t i = 0; i < 98; i += 7) {
        CHECK(ik_pair(&p, &rng));
        p.m1[i] ^= 0x40;
        int rc = noise_hs_read_message(p.re, p.m1, p.m1_len, pl, sizeof pl, &plen);
        CHECKF(rc == NOISE_ERR_DECRYPT || rc == NOISE_ERR_BAD_KEY, "byte %zu rc %d", i, rc);
        pair_free(&p);
    }

    /* A low-order (all-zero) ephemeral is an invalid public key. */
    CHECK(ik_pair(&p, &rng));
    memset(p.m1, 0, 32);
    CHECK(noise_hs_read_message(p.re, p.m1, p.m1_len, pl, sizeof pl, &plen) == NOISE_ERR_BAD_KEY);
    pair_free(&p);

    /* Turn order, payload buffer, finished pattern, split too early. */
    CHECK(ik_pair(&p, &rng));
    struct noise_cipher *a = NULL, *b = NULL;
    CHECK(noise_hs_split(p.in, &a, &b) == NOISE_ERR_FINISHED);
    CHECK(noise_hs_write_message(p.in, NULL, 0, buf, sizeof buf, &blen) == NOISE_ERR_STATE);
    CHECK(noise_hs_read_message(p.re, p.m1, p.m1_len, pl, 1, &plen) == NOISE_ERR_LENGTH);
    pair_free(&p);
    CHECK(ik_pair(&p, &rng));
    CHECK(noise_hs_write_message(p.re, NULL, 0, buf, 10, &blen) == NOISE_ERR_STATE);
    CHECK(noise_hs_read_message(p.re, p.m1, p.m1_len, pl, sizeof pl, &plen) == NOISE_OK);
    CHECK(plen == 2 && memcmp(pl, "hi", 2) == 0);
    uint8_t rk[32];
    CHECK(noise_hs_remote_static(p.re, rk)); /* known right after IK msg1 */
    CHECK_EQ_MEM(rk, p.ipk, 32);
    CHECK(noise_hs_write_message(p.re, NULL, 0, buf, 10, &blen) == NOISE_ERR_LENGTH);
    CHECK(noise_hs_write_message(p.re, NULL, 0, buf, sizeof buf, &blen) == NOISE_OK);
    CHECK(blen == 48);
    CHECK(noise_hs_write_message(p.re, NULL, 0, buf, sizeof buf, &blen) == NOISE_ERR_FINISHED);
    CHECK(noise_hs_read_message(p.in, buf, 48, pl, sizeof pl, &plen) == NOISE_OK && plen == 0);
    CHECK(noise_hs_read_message(p.in, buf, 48, pl, sizeof pl, &plen) == NOISE_ERR_FINISHED);
    CHECK(noise_hs_split(p.in, &a, &b) == NOISE_OK);
    noise_cipher_free(a);
    noise_cipher_free(b);
    CHECK(noise_hs_split(p.in, &a, &b) == NOISE_ERR_STATE);
    pair_free(&p);
    noise_hs_free(NULL);
}

static void test_wrong_responder_key(void)
{
    struct mix_rng rng = mix_rng_system();
    struct pair p = { 0 };
    uint8_t other_sk[32], other_pk[32], m1[256], pl[256];
    size_t m1_len, plen;
    CHECK(ik_pair(&p, &rng));
    CHECK(noise_dh_keygen(other_pk, other_sk, &rng) == NOISE_OK);
    struct noise_hs *in = noise_hs_new(NOISE_PATTERN_IK, true, (const uint8_t *)"pro", 3, p.isk,
                                       p.ipk, other_pk, &rng);
    CHECK(in != NULL);
    if (in) {
        CHECK(noise_hs_write_message(in, NULL, 0, m1, sizeof m1, &m1_len) == NOISE_OK);
        CHECK(noise_hs_read_message(p.re, m1, m1_len, pl, sizeof pl, &plen) == NOISE_ERR_DECRYPT);
    }
    noise_hs_free(in);
    pair_free(&p);
    /* A different prologue also fails. */
    CHECK(ik_pair(&p, &rng));
    struct noise_hs *re2 =
        noise_hs_new(NOISE_PATTERN_IK, false, (const uint8_t *)"prx", 3, p.rsk, NULL, NULL, &rng);
    CHECK(re2 &&
          noise_hs_read_message(re2, p.m1, p.m1_len, pl, sizeof pl, &plen) == NOISE_ERR_DECRYPT);
    noise_hs_free(re2);
    pair_free(&p);
}

static void test_max_message(void)
{
    struct mix_rng rng = mix_rng_system();
    struct pair p = { 0 };
    CHECK(ik_pair(&p, &rng));
    uint8_t *pl = calloc(1, NOISE_MAX_MSG), *buf = malloc(NOISE_MAX_MSG + 100);
    size_t blen, plen;
    CHECK(pl && buf);
    if (pl && buf) {
        CHECK(noise_hs_read_message(p.re, p.m1, p.m1_len, pl, NOISE_MAX_MSG, &plen) == NOISE_OK);
        size_t maxp = NOISE_MAX_MSG - 48; /* msg2 is e (32) + payload + tag */
        CHECK(noise_hs_write_message(p.re, pl, maxp + 1, buf, NOISE_MAX_MSG + 100, &blen) ==
              NOISE_ERR_LENGTH);
        CHECK(noise_hs_write_message(p.re, pl, maxp, buf, NOISE_MAX_MSG + 100, &blen) == NOISE_OK);
        CHECK(blen == NOISE_MAX_MSG);
        CHECK(noise_hs_read_message(p.in, buf, blen, pl, NOISE_MAX_MSG, &plen) == NOISE_OK);
        CHECK(plen == maxp);
        CHECK(noise_hs_read_message(p.in, buf, NOISE_MAX_MSG + 1, pl, NOISE_MAX_MSG, &plen) ==
              NOISE_ERR_FINISHED);
    }
    free(pl);
    free(buf);
    pair_free(&p);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    RUN(test_vectors_loaded);
    RUN(test_vector_NK);
    RUN(test_vector_KK);
    RUN(test_vector_IK);
    RUN(test_vector_XX);
    RUN(test_hmac_kat);
    RUN(test_hkdf_structure);
    RUN(test_rekey_kat);
    RUN(test_nonce_exhaustion);
    RUN(test_cipher_errors);
    RUN(test_hs_errors);
    RUN(test_wrong_responder_key);
    RUN(test_max_message);
    return tap_done();
}
