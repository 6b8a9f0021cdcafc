/*
 * mixdir's descriptor sets (deterministic merge whatever the arrival order,
 * epoch filters, expiry, limits), its data directory, and its config parser
 * (values, defaults, and errors with clear reasons).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "dir_conf.h"
#include "dir_store.h"
#include "keyfile.h"
#include "log.h"
#include "sphinx.h"
#include "tap.h"

struct signed_desc {
    uint8_t *bytes;
    size_t len;
    struct pki_descriptor d;
};

/* A signed descriptor of the node with secret key sk, keys for [first, first+n). */
static void make_desc(const uint8_t sk[64], uint64_t first, size_t n, struct signed_desc *out)
{
    struct pki_descriptor d;
    memset(&d, 0, sizeof d);
    memcpy(d.identity_key, sk + 32, 32);
    pki_node_id(d.identity_key, d.id);
    randombytes_buf(d.link_key, 32);
    d.roles = PKI_ROLE_MIX;
    d.layer = 1;
    snprintf(d.address, sizeof d.address, "127.0.0.1:9000");
    d.n_sphinx_keys = n;
    for (size_t i = 0; i < n; i++) {
        d.sphinx_keys[i].epoch = first + i;
        randombytes_buf(d.sphinx_keys[i].key, 32);
    }
    out->bytes = NULL;
    CHECK(pki_descriptor_sign(&d, sk, &out->bytes, &out->len) == PKI_OK);
    CHECK(out->bytes != NULL && pki_descriptor_verify(out->bytes, out->len, &out->d) == PKI_OK);
}

static void test_better_order(void)
{
    uint8_t pk[32], sk[64];
    crypto_sign_keypair(pk, sk);
    struct signed_desc a, b, c;
    make_desc(sk, 5, 2, &a); /* keys to epoch 6 */
    make_desc(sk, 5, 3, &b); /* keys to epoch 7: wins */
    make_desc(sk, 5, 2, &c); /* same epochs as a: bytes decide */
    CHECK(dir_desc_last_epoch(&b.d) == 7);
    CHECK(dir_desc_better(b.bytes, b.len, &b.d, a.bytes, a.len, &a.d));
    CHECK(!dir_desc_better(a.bytes, a.len, &a.d, b.bytes, b.len, &b.d));
    bool ac = dir_desc_better(a.bytes, a.len, &a.d, c.bytes, c.len, &c.d);
    bool ca = dir_desc_better(c.bytes, c.len, &c.d, a.bytes, a.len, &a.d);
    CHECK(ac != ca); /* a strict total order */
    CHECK(!dir_desc_better(a.bytes, a.len, &a.d, a.bytes, a.len, &a.d));
    free(a.bytes);
    free(b.bytes);
    free(c.bytes);
}

static void test_merge_converges(void)
{
    enum { NODES = 5, VERS = 3 };
    struct signed_desc v[NODES][VERS];
    for (int n = 0; n < NODES; n++) {
        uint8_t pk[32], sk[64];
        crypto_sign_keypair(pk, sk);
        for (int k = 0; k < VERS; k++)
            make_desc(sk, 3, (size_t)(1 + (k % 2)), &v[n][k]);
    }
    /* Two authorities receive the same descriptors in opposite orders. */
    struct dir_set s1, s2;
    dir_set_init(&s1);
    dir_set_init(&s2);
    for (int n = 0; n < NODES; n++)
        for (int k = 0; k < VERS; k++) {
            const struct signed_desc *x = &v[n][k], *y = &v[NODES - 1 - n][VERS - 1 - k];
            CHECK(dir_set_put(&s1, x->bytes, x->len, &x->d, 100) >= 0);
            CHECK(dir_set_put(&s2, y->bytes, y->len, &y->d, 100) >= 0);
        }
    CHECK(s1.n == NODES && s2.n == NODES);
    for (size_t i = 0; i < s1.n && i < s2.n; i++) {
        CHECK(s1.v[i].len == s2.v[i].len && memcmp(s1.v[i].bytes, s2.v[i].bytes, s1.v[i].len) == 0);
        if (i > 0)
            CHECK(memcmp(s1.v[i - 1].d.id, s1.v[i].d.id, 32) < 0);
    }
    /* Re-putting the winner changes nothing. */
    CHECK(dir_set_put(&s1, s2.v[0].bytes, s2.v[0].len, &s2.v[0].d, 100) == 0);
    /* Epoch filter: versions 1 and 3 have a key only for epoch 3, version 2 also for 4. */
    struct dir_set f;
    dir_set_init(&f);
    CHECK(dir_set_copy_for_epoch(&f, &s1, 4) == 0);
    CHECK(f.n == NODES); /* the winner has keys to epoch 4 */
    CHECK(dir_set_copy_for_epoch(&f, &s1, 9) == 0 && f.n == 0);
    /* Limit: a full set refuses a new node, never crashes. */
    struct dir_set small;
    dir_set_init(&small);
    CHECK(dir_set_put(&small, v[0][0].bytes, v[0][0].len, &v[0][0].d, 1) == 1);
    CHECK(dir_set_put(&small, v[1][0].bytes, v[1][0].len, &v[1][0].d, 1) == -1);
    /* Expiry drops descriptors without keys for the epoch or later. */
    int dropped = 0;
    dir_set_expire(&s1, 5, NULL, NULL);
    CHECK(s1.n == 0);
    dir_set_expire(&s2, 4, NULL, &dropped);
    CHECK(s2.n == NODES);
    dir_set_clear(&f);
    dir_set_clear(&small);
    dir_set_clear(&s1);
    dir_set_clear(&s2);
    for (int n = 0; n < NODES; n++)
        for (int k = 0; k < VERS; k++)
            free(v[n][k].bytes);
}

static int loaded;
static void count_cb(const uint8_t *b, size_t len, void *arg)
{
    struct pki_descriptor d;
    (void)arg;
    if (pki_descriptor_verify(b, len, &d) == PKI_OK)
        loaded++;
}

static void test_files(void)
{
    char dir[] = "/tmp/test_mixdir_store.XXXXXX", err[256], sub[300];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(sub, sizeof sub, "%s/data", dir);
    CHECK(dir_store_init(sub, err, sizeof err) == 0);
    CHECK(dir_store_init(sub, err, sizeof err) == 0); /* idempotent */
    uint8_t pk[32], sk[64];
    crypto_sign_keypair(pk, sk);
    struct signed_desc a;
    make_desc(sk, 1, 2, &a);
    struct dir_desc e = { a.bytes, a.len, a.d };
    CHECK(dir_store_save_desc(sub, &e) == 0);
    loaded = 0;
    CHECK(dir_store_load_descs(sub, count_cb, NULL) == 1 && loaded == 1);
    dir_store_remove_desc(sub, a.d.id);
    CHECK(dir_store_load_descs(sub, count_cb, NULL) == 0);
    uint8_t *b = NULL;
    size_t len = 0;
    CHECK(dir_store_save_doc(sub, 7, (const uint8_t *)"doc", 3) == 0);
    CHECK(dir_store_load_doc(sub, 7, &b, &len) == 0 && len == 3 && memcmp(b, "doc", 3) == 0);
    free(b);
    CHECK(dir_store_load_doc(sub, 8, &b, &len) == -1);
    dir_store_remove_doc(sub, 7);
    CHECK(dir_store_load_doc(sub, 7, &b, &len) == -1);
    CHECK(dir_store_init("/proc/nonexistent/x", err, sizeof err) == -1 && strstr(err, "data_dir"));
    free(a.bytes);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
}

static char AUTH1[300], AUTH2[300];

static struct dir_conf *parse(const char *extra_network, char *err, size_t errlen)
{
    char text[2048];
    snprintf(text, sizeof text,
             "[mixdir]\nlisten = 127.0.0.1:7000\ndata_dir = /tmp/x\n"
             "[network]\n%s\n%s\nepoch_length = 60s\n%s\n[registration]\nopen = yes\n",
             AUTH1, AUTH2, extra_network);
    return dir_conf_parse(text, err, errlen);
}

static void test_conf(void)
{
    uint8_t k[32];
    char e1[KEY_B64_MAX], x1[KEY_B64_MAX], err[256];
    randombytes_buf(k, 32);
    key_to_b64(k, 32, e1);
    randombytes_buf(k, 32);
    key_to_b64(k, 32, x1);
    snprintf(AUTH1, sizeof AUTH1, "authority = 127.0.0.1:7000 %s %s", e1, x1);
    randombytes_buf(k, 32);
    key_to_b64(k, 32, e1);
    randombytes_buf(k, 32);
    key_to_b64(k, 32, x1);
    snprintf(AUTH2, sizeof AUTH2, "authority = [::1]:7001 %s %s", e1, x1);

    struct dir_conf *c = parse("lambda_p = 2.5\nmean_delay = 20ms", err, sizeof err);
    CHECKF(c != NULL, "%s", err);
    if (c != NULL) {
        CHECK(c->n_auth == 2 && c->threshold == 2);
        CHECK(strcmp(c->auth[1].addr, "[::1]:7001") == 0);
        CHECK(c->timing.epoch_len == 60 && c->timing.grace == 6);
        CHECK(c->vote_lead_s == 15 && c->exchange_window_s == 5);
        CHECK(c->params.lambda_p_mhz == 2500 && c->params.mean_delay_us == 20000);
        CHECK(c->params.layers == 3 && c->params.strategy == PKI_STRATEGY_POISSON);
        CHECK(strcmp(c->identity_key_path, "/tmp/x/identity.key") == 0);
        CHECK(c->open_registration && dir_conf_node_allowed(c, k));
        CHECK(c->params.sphinx_format == SPHINX_FORMAT_CLASSIC);
    }
    dir_conf_free(c);
    dir_conf_free(NULL);
    c = parse("sphinx_format = kem-x25519", err, sizeof err);
    CHECKF(c != NULL && c->params.sphinx_format == SPHINX_FORMAT_KEM_X25519, "%s", err);
    dir_conf_free(c);

    static const struct {
        const char *extra, *want;
    } bad[] = {
        { "threshold = 3", "threshold" },
        { "typo = 1", "typo" },
        { "vote_lead = 60s", "vote_lead" },
        { "exchange_window = 20s", "exchange_window" },
        { "grace = 60s", "grace" },
        { "strategy = lifo", "strategy" },
        { "sphinx_format = kem", "sphinx_format" },
        { "layers = 0", "layers" },
        { "authority = 127.0.0.1:1 AAAA BBBB", "Ed25519" },
        { "epoch_length = 1500ms", "epoch_length" },
        { "lambda_m = -1", "lambda_m" },
    };
    for (size_t i = 0; i < MIX_ARRAY_LEN(bad); i++) {
        err[0] = '\0';
        c = parse(bad[i].extra, err, sizeof err);
        CHECKF(c == NULL && strstr(err, bad[i].want) != NULL, "%s -> %s", bad[i].extra, err);
        dir_conf_free(c);
    }
    /* A repeated authority key is an error too. */
    c = dir_conf_parse("[mixdir]\nlisten = 127.0.0.1:1\ndata_dir = /tmp/x\n[network]\n"
                       "authority = 127.0.0.1:1 AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA "
                       "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n"
                       "authority = 127.0.0.1:2 AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA "
                       "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n",
                       err, sizeof err);
    CHECKF(c == NULL && strstr(err, "repeats"), "%s", err);
    dir_conf_free(c);
    c = dir_conf_parse("[mixdir]\ndata_dir = /tmp/x\n", err, sizeof err);
    CHECK(c == NULL && strstr(err, "listen"));
    dir_conf_free(c);
}

static void test_authority_line(void)
{
    struct authority a;
    char err[256], ok[300], ed[KEY_B64_MAX];
    uint8_t k[32];
    randombytes_buf(k, 32);
    key_to_b64(k, 32, ed);
    snprintf(ok, sizeof ok, "host.example:7000 %s %s", ed, ed);
    CHECK(authority_parse_line(ok, &a, err, sizeof err) && memcmp(a.sign_pk, k, 32) == 0);
    snprintf(ok, sizeof ok, "host.example:7000 %s %s extra", ed, ed);
    CHECK(!authority_parse_line(ok, &a, err, sizeof err));
    snprintf(ok, sizeof ok, "host.example %s %s", ed, ed);
    CHECK(!authority_parse_line(ok, &a, err, sizeof err) && strstr(err, "address"));
    snprintf(ok, sizeof ok, "host.example:0 %s %s", ed, ed);
    CHECK(!authority_parse_line(ok, &a, err, sizeof err));
    snprintf(ok, sizeof ok, "h:1 %s %.20s", ed, ed);
    CHECK(!authority_parse_line(ok, &a, err, sizeof err) && strstr(err, "X25519"));
    CHECK(!authority_parse_line("", &a, err, sizeof err));
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    mix_log_init("test_mixdir_store", MIX_LOG_ERR, false);
    RUN(test_better_order);
    RUN(test_merge_converges);
    RUN(test_files);
    RUN(test_conf);
    RUN(test_authority_line);
    return tap_done();
}
