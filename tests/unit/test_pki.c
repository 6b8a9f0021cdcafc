/*
 * The directory library: epochs, descriptors, canonical documents, k-of-n
 * signatures, look-ups, and every rejection reason.
 *
 * The fixture is built from fixed seeds (mix_rng_det), so its signed
 * document is a known-answer vector: it must equal the committed
 * tests/vectors/pki_signed_document.cbor byte for byte (set
 * PKI_WRITE_VECTORS=1 to write it again after a deliberate format change;
 * tests/integration/pki_vector_python.py checks the same file with Python's
 * cbor2 and cryptography packages).
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pki.h"
#include "rng.h"
#include "sphinx.h"
#include "tap.h"

#define N_NODES 10
#define N_AUTH 3
#define EPOCH 1000
#define GENESIS 1700000000u
#define EPOCH_LEN 1200
#define GRACE 60

struct fixture {
    uint8_t auth_pk[N_AUTH][PKI_KEY_LEN];
    uint8_t auth_sk[N_AUTH][PKI_SECRET_KEY_LEN];
    uint8_t node_sk[N_NODES][PKI_SECRET_KEY_LEN];
    struct pki_descriptor nodes[N_NODES];
    struct pki_params params;
};

static struct fixture fx;

/*
 * Nodes 0-1 are gateway+provider, node 2 a gateway only, node 3 a provider
 * only, nodes 4-9 mixes, two per layer.  Every descriptor encodes to the
 * same length (so tests can swap them inside a document).
 */
static void make_fixture(struct fixture *f)
{
    uint8_t seed[32] = "mixnet pki test fixture seed....";
    struct mix_rng_det det;
    mix_rng_det_init(&det, seed);
    struct mix_rng rng = mix_rng_det(&det);
    memset(f, 0, sizeof *f);
    for (int i = 0; i < N_AUTH; i++) {
        uint8_t s[32];
        mix_rng_bytes(&rng, s, sizeof s);
        crypto_sign_seed_keypair(f->auth_pk[i], f->auth_sk[i], s);
    }
    for (int i = 0; i < N_NODES; i++) {
        struct pki_descriptor *d = &f->nodes[i];
        uint8_t s[32];
        mix_rng_bytes(&rng, s, sizeof s);
        crypto_sign_seed_keypair(d->identity_key, f->node_sk[i], s);
        pki_node_id(d->identity_key, d->id);
        mix_rng_bytes(&rng, d->link_key, PKI_KEY_LEN);
        d->roles = i < 2    ? (PKI_ROLE_GATEWAY | PKI_ROLE_PROVIDER)
                   : i == 2 ? PKI_ROLE_GATEWAY
                   : i == 3 ? PKI_ROLE_PROVIDER
                            : PKI_ROLE_MIX;
        d->layer = i < 4 ? 0 : (uint32_t)(i - 4) / 2 + 1;
        snprintf(d->address, sizeof d->address, "127.0.0.1:%d", 20000 + i);
        d->n_sphinx_keys = 2;
        for (int k = 0; k < 2; k++) {
            d->sphinx_keys[k].epoch = EPOCH + (uint64_t)k;
            mix_rng_bytes(&rng, d->sphinx_keys[k].key, PKI_KEY_LEN);
        }
    }
    struct pki_params *p = &f->params;
    p->epoch = EPOCH;
    p->timing.genesis = GENESIS;
    p->timing.epoch_len = EPOCH_LEN;
    p->timing.grace = GRACE;
    p->max_hops = 5;
    p->payload_len = 2048;
    p->layers = 3;
    p->mean_delay_us = 50000;
    p->max_delay_us = 2000000;
    p->lambda_p_mhz = 2000;
    p->lambda_l_mhz = 500;
    p->lambda_d_mhz = 500;
    p->lambda_m_mhz = 1000;
    p->strategy = PKI_STRATEGY_POISSON;
}

/* Build the fixture document, adding nodes in the order given by perm (or 0..N-1). */
static struct pki_doc *make_doc(const int *perm)
{
    struct pki_doc *doc = pki_doc_new(&fx.params);
    CHECK(doc != NULL);
    for (int i = 0; doc != NULL && i < N_NODES; i++) {
        enum pki_err e = pki_doc_add(doc, &fx.nodes[perm ? perm[i] : i]);
        CHECKF(e == PKI_OK, "add %d: %s", i, pki_strerror(e));
    }
    return doc;
}

static uint8_t *doc_bytes(size_t *len)
{
    struct pki_doc *doc = make_doc(NULL);
    uint8_t *b = NULL;
    CHECK(doc != NULL && pki_doc_encode(doc, &b, len) == PKI_OK);
    pki_doc_free(doc);
    return b;
}

/* Sign doc bytes with the authorities named in `who` (bit i = authority i). */
static uint8_t *sign_doc(const uint8_t *db, size_t dl, unsigned who, size_t *out_len)
{
    struct pki_sig sigs[N_AUTH];
    size_t n = 0;
    for (int i = 0; i < N_AUTH; i++)
        if (who & (1u << i))
            CHECK(pki_doc_sign(db, dl, fx.auth_sk[i], &sigs[n++]) == PKI_OK);
    uint8_t *out = NULL;
    CHECK(pki_signed_doc_encode(db, dl, sigs, n, &out, out_len) == PKI_OK);
    return out;
}

static struct pki_verify_opts opts_k(size_t k, uint64_t now)
{
    struct pki_verify_opts o = { fx.auth_pk, N_AUTH, k, now, 0, 0 };
    return o;
}

static void test_epochs(void)
{
    struct pki_timing t = { 1000, 100, 10 };
    uint64_t acc[2];
    CHECK(pki_epoch_of(&t, 999) == 0);
    CHECK(pki_epoch_of(&t, 1000) == 1);
    CHECK(pki_epoch_of(&t, 1099) == 1);
    CHECK(pki_epoch_of(&t, 1100) == 2);
    CHECK(pki_epoch_start(&t, 1) == 1000 && pki_epoch_end(&t, 1) == 1100);
    CHECK(pki_epoch_start(&t, 7) == 1600 && pki_epoch_end(&t, 7) == 1700);
    CHECK(!pki_in_grace(&t, 1005)); /* epoch 1 has no predecessor */
    CHECK(pki_in_grace(&t, 1100) && pki_in_grace(&t, 1109) && !pki_in_grace(&t, 1110));
    CHECK(pki_accepted_epochs(&t, 500, acc) == 0);
    CHECK(pki_accepted_epochs(&t, 1105, acc) == 2 && acc[0] == 2 && acc[1] == 1);
    CHECK(pki_accepted_epochs(&t, 1110, acc) == 1 && acc[0] == 2);
    struct pki_timing zero = { 0, 0, 0 };
    CHECK(pki_epoch_of(&zero, 5) == 0);
}

static void test_descriptor_roundtrip(void)
{
    uint8_t *b = NULL;
    size_t n = 0;
    struct pki_descriptor out;
    for (int i = 0; i < N_NODES; i++) {
        CHECK(pki_descriptor_check(&fx.nodes[i]) == PKI_OK);
        CHECK(pki_descriptor_sign(&fx.nodes[i], fx.node_sk[i], &b, &n) == PKI_OK);
        CHECK(n <= PKI_MAX_DESCRIPTOR_LEN);
        enum pki_err e = pki_descriptor_verify(b, n, &out);
        CHECKF(e == PKI_OK, "%s", pki_strerror(e));
        CHECK(memcmp(&out.id, fx.nodes[i].id, PKI_KEY_LEN) == 0);
        CHECK(strcmp(out.address, fx.nodes[i].address) == 0 && out.roles == fx.nodes[i].roles);
        CHECK(out.layer == fx.nodes[i].layer && out.n_sphinx_keys == 2);
        CHECK(memcmp(pki_descriptor_sphinx_key(&out, EPOCH + 1), fx.nodes[i].sphinx_keys[1].key,
                     PKI_KEY_LEN) == 0);
        CHECK(pki_descriptor_sphinx_key(&out, EPOCH + 2) == NULL);
        /* Every strict prefix fails without a crash. */
        for (size_t cut = 0; cut < n; cut++)
            CHECK(pki_descriptor_verify(b, cut, &out) != PKI_OK);
        free(b);
    }
    /* Signing with someone else's key is refused. */
    CHECK(pki_descriptor_sign(&fx.nodes[0], fx.node_sk[1], &b, &n) == PKI_ERR_INVALID_ARG);
}

static void test_descriptor_rejects(void)
{
    struct pki_descriptor d = fx.nodes[4], out;
    uint8_t *b = NULL;
    size_t n = 0;

    d.layer = 0; /* a mix needs a layer */
    CHECK(pki_descriptor_check(&d) == PKI_ERR_BAD_VALUE);
    d = fx.nodes[4];
    d.roles = PKI_ROLE_MIX | PKI_ROLE_GATEWAY; /* mix is exclusive */
    CHECK(pki_descriptor_check(&d) == PKI_ERR_BAD_VALUE);
    d = fx.nodes[0];
    d.layer = 1; /* gateways have no layer */
    CHECK(pki_descriptor_check(&d) == PKI_ERR_BAD_VALUE);
    d = fx.nodes[0];
    d.roles = 8;
    CHECK(pki_descriptor_check(&d) == PKI_ERR_BAD_VALUE);
    d = fx.nodes[0];
    d.id[0] ^= 1; /* id must be H(identity key) */
    CHECK(pki_descriptor_check(&d) == PKI_ERR_BAD_VALUE);
    d = fx.nodes[0];
    strcpy(d.address, "no port here");
    CHECK(pki_descriptor_check(&d) == PKI_ERR_BAD_VALUE);
    d = fx.nodes[0];
    d.sphinx_keys[1].epoch = d.sphinx_keys[0].epoch; /* epochs strictly increasing */
    CHECK(pki_descriptor_check(&d) == PKI_ERR_BAD_VALUE);
    d = fx.nodes[0];
    d.n_sphinx_keys = 0;
    CHECK(pki_descriptor_check(&d) == PKI_ERR_BAD_VALUE);

    /* A flipped byte in the body breaks the self-signature (or the id check). */
    CHECK(pki_descriptor_sign(&fx.nodes[0], fx.node_sk[0], &b, &n) == PKI_OK);
    uint8_t *addr = memmem(b, n, "127.0.0.1", 9);
    CHECK(addr != NULL);
    if (addr) {
        addr[0] = '2';
        CHECK(pki_descriptor_verify(b, n, &out) == PKI_ERR_BAD_SIGNATURE);
        addr[0] = '1';
    }
    b[n - 1] ^= 0x80; /* the signature itself */
    CHECK(pki_descriptor_verify(b, n, &out) == PKI_ERR_BAD_SIGNATURE);
    b[n - 1] ^= 0x80;
    CHECK(pki_descriptor_verify(b, n, &out) == PKI_OK);
    /* Trailing bytes after the signed pair. */
    uint8_t *longer = malloc(n + 1);
    memcpy(longer, b, n);
    longer[n] = 0;
    CHECK(pki_descriptor_verify(longer, n + 1, &out) == PKI_ERR_MALFORMED);
    free(longer);
    free(b);
}

static void test_doc_canonical_order(void)
{
    static const int perms[3][N_NODES] = {
        { 9, 8, 7, 6, 5, 4, 3, 2, 1, 0 },
        { 3, 7, 0, 9, 1, 5, 2, 8, 6, 4 },
        { 5, 0, 6, 1, 7, 2, 8, 3, 9, 4 },
    };
    size_t ref_len = 0, len = 0;
    uint8_t *ref = doc_bytes(&ref_len);
    CHECK(ref != NULL && ref_len > 0);
    for (int p = 0; p < 3; p++) {
        struct pki_doc *doc = make_doc(perms[p]);
        uint8_t *b = NULL;
        CHECK(doc != NULL && pki_doc_encode(doc, &b, &len) == PKI_OK);
        CHECK(len == ref_len && b != NULL && memcmp(b, ref, len) == 0);
        free(b);
        pki_doc_free(doc);
    }
    /* Decode and re-encode: the same bytes. */
    struct pki_doc *doc = NULL;
    enum pki_err e = pki_doc_decode(ref, ref_len, &doc);
    CHECKF(e == PKI_OK, "%s", pki_strerror(e));
    uint8_t *again = NULL;
    CHECK(doc != NULL && pki_doc_encode(doc, &again, &len) == PKI_OK);
    CHECK(again != NULL && len == ref_len && memcmp(again, ref, len) == 0);
    CHECK(doc != NULL && memcmp(pki_doc_params(doc), &fx.params, sizeof fx.params) == 0);
    free(again);
    pki_doc_free(doc);
    /* Adding a node twice, or one without a key for the epoch, fails. */
    doc = make_doc(NULL);
    CHECK(pki_doc_add(doc, &fx.nodes[3]) == PKI_ERR_DUPLICATE);
    struct pki_doc *empty = pki_doc_new(&fx.params);
    struct pki_descriptor d = fx.nodes[0];
    d.sphinx_keys[0].epoch = EPOCH + 5;
    d.sphinx_keys[1].epoch = EPOCH + 6;
    CHECK(pki_doc_add(empty, &d) == PKI_ERR_BAD_VALUE);
    d = fx.nodes[4];
    d.layer = 4; /* above params.layers */
    pki_node_id(d.identity_key, d.id);
    CHECK(pki_doc_add(empty, &d) == PKI_ERR_BAD_VALUE);
    pki_doc_free(empty);
    pki_doc_free(doc);
    free(ref);
}

static void test_doc_params_check(void)
{
    struct pki_params p = fx.params;
    CHECK(pki_params_check(&p) == PKI_OK);
    p.timing.grace = p.timing.epoch_len;
    CHECK(pki_params_check(&p) == PKI_ERR_BAD_VALUE);
    p = fx.params;
    p.max_hops = 4; /* 3 layers need 5 hops */
    CHECK(pki_params_check(&p) == PKI_ERR_BAD_VALUE);
    p = fx.params;
    p.strategy = PKI_STRATEGY_TIMED_POOL; /* needs T */
    CHECK(pki_params_check(&p) == PKI_ERR_BAD_VALUE);
    p.pool_interval_us = 1000000;
    p.pool_keep = 3;
    CHECK(pki_params_check(&p) == PKI_OK);
    p.strategy = PKI_STRATEGY_THRESHOLD;
    CHECK(pki_params_check(&p) == PKI_ERR_BAD_VALUE);
    p.threshold_n = 10;
    CHECK(pki_params_check(&p) == PKI_OK);
    p.strategy = 3;
    CHECK(pki_params_check(&p) == PKI_ERR_BAD_VALUE);
    p = fx.params;
    p.epoch = 0;
    CHECK(pki_params_check(&p) == PKI_ERR_BAD_VALUE);
    CHECK(pki_doc_new(&p) == NULL);
    p = fx.params;
    p.timing.genesis = UINT64_MAX - 10; /* epoch end overflows */
    CHECK(pki_params_check(&p) == PKI_ERR_BAD_VALUE);
    p = fx.params;
    p.max_delay_us = p.mean_delay_us - 1;
    CHECK(pki_params_check(&p) == PKI_ERR_BAD_VALUE);
    /* A geometry no node can use is refused (found by the spec review). */
    p = fx.params;
    p.max_hops = 11; /* > SPHINX_MAX_HOPS_LIMIT */
    CHECK(pki_params_check(&p) == PKI_ERR_BAD_VALUE);
    p = fx.params;
    p.payload_len = 63; /* < SPHINX_MIN_PAYLOAD */
    CHECK(pki_params_check(&p) == PKI_ERR_BAD_VALUE);
    p.payload_len = 64;
    CHECK(pki_params_check(&p) == PKI_OK);
}

static void test_lookups_and_path(void)
{
    struct pki_doc *doc = make_doc(NULL);
    if (doc == NULL)
        return;
    CHECK(pki_doc_node_count(doc) == N_NODES);
    for (size_t i = 1; i < N_NODES; i++)
        CHECK(memcmp(pki_doc_node(doc, i - 1)->id, pki_doc_node(doc, i)->id, PKI_KEY_LEN) < 0);
    CHECK(pki_doc_node(doc, N_NODES) == NULL);
    CHECK(pki_doc_gateway_count(doc) == 3 && pki_doc_provider_count(doc) == 3);
    for (size_t i = 0; i < 3; i++) {
        CHECK(pki_doc_gateway(doc, i)->roles & PKI_ROLE_GATEWAY);
        CHECK(pki_doc_provider(doc, i)->roles & PKI_ROLE_PROVIDER);
    }
    for (uint32_t l = 1; l <= 3; l++) {
        CHECK(pki_doc_layer_count(doc, l) == 2);
        CHECK(pki_doc_layer_node(doc, l, 1)->layer == l);
        CHECK(pki_doc_layer_node(doc, l, 2) == NULL);
    }
    CHECK(pki_doc_layer_count(doc, 0) == 0 && pki_doc_layer_count(doc, 4) == 0);
    for (int i = 0; i < N_NODES; i++) {
        const struct pki_descriptor *d = pki_doc_find(doc, fx.nodes[i].id);
        CHECK(d != NULL && strcmp(d->address, fx.nodes[i].address) == 0);
        CHECK(pki_doc_find_link_key(doc, fx.nodes[i].link_key) == d);
        const uint8_t *k = pki_doc_sphinx_key(doc, fx.nodes[i].id, EPOCH);
        CHECK(k != NULL && memcmp(k, fx.nodes[i].sphinx_keys[0].key, PKI_KEY_LEN) == 0);
        CHECK(pki_doc_sphinx_key(doc, fx.nodes[i].id, EPOCH - 1) == NULL);
    }
    uint8_t nobody[PKI_KEY_LEN] = { 0 };
    CHECK(pki_doc_find(doc, nobody) == NULL && pki_doc_find_link_key(doc, nobody) == NULL);
    CHECK(pki_doc_valid_from(doc) == GENESIS + (EPOCH - 1) * (uint64_t)EPOCH_LEN);
    CHECK(pki_doc_valid_until(doc) == pki_doc_valid_from(doc) + EPOCH_LEN);

    uint8_t seed[32] = { 7 };
    struct mix_rng_det det;
    mix_rng_det_init(&det, seed);
    struct mix_rng rng = mix_rng_det(&det);
    const struct pki_descriptor *path[8];
    int seen_entry[N_NODES] = { 0 };
    for (int it = 0; it < 200; it++) {
        int n = pki_random_path(doc, &rng, NULL, NULL, path, 8);
        CHECK(n == 5);
        if (n != 5)
            break;
        CHECK(path[0]->roles & PKI_ROLE_GATEWAY);
        CHECK(path[1]->layer == 1 && path[2]->layer == 2 && path[3]->layer == 3);
        CHECK(path[4]->roles & PKI_ROLE_PROVIDER);
        seen_entry[path[0] - pki_doc_node(doc, 0)]++;
    }
    int distinct = 0;
    for (int i = 0; i < N_NODES; i++)
        distinct += seen_entry[i] > 0;
    CHECK(distinct == 3); /* every gateway gets used */
    /* Fixed entry and destination. */
    CHECK(pki_random_path(doc, &rng, fx.nodes[2].id, fx.nodes[3].id, path, 5) == 5);
    CHECK(path[0] == pki_doc_find(doc, fx.nodes[2].id) &&
          path[4] == pki_doc_find(doc, fx.nodes[3].id));
    CHECK(pki_random_path(doc, &rng, fx.nodes[3].id, NULL, path, 5) == -1); /* not a gateway */
    CHECK(pki_random_path(doc, &rng, NULL, fx.nodes[2].id, path, 5) == -1); /* not a provider */
    CHECK(pki_random_path(doc, &rng, NULL, NULL, path, 4) == -1);           /* cap too small */
    pki_doc_free(doc);

    /* A document with an empty layer has no path. */
    struct pki_doc *partial = pki_doc_new(&fx.params);
    for (int i = 0; i < 6; i++)
        CHECK(pki_doc_add(partial, &fx.nodes[i]) == PKI_OK);
    CHECK(pki_random_path(partial, &rng, NULL, NULL, path, 8) == -1);
    pki_doc_free(partial);
}

static void test_verify_signatures(void)
{
    size_t dl, sl;
    uint8_t *db = doc_bytes(&dl);
    struct pki_doc *doc = NULL;
    uint64_t now = GENESIS + (EPOCH - 1) * (uint64_t)EPOCH_LEN + 10;
    struct pki_verify_opts o = opts_k(2, now);

    uint8_t *s = sign_doc(db, dl, 0x3, &sl); /* authorities 0 and 1 */
    enum pki_err e = pki_verify(s, sl, &o, &doc);
    CHECKF(e == PKI_OK, "%s", pki_strerror(e));
    CHECK(doc != NULL && pki_doc_epoch(doc) == EPOCH && pki_doc_node_count(doc) == N_NODES);
    pki_doc_free(doc);
    /* Only the signature part of a signed document differs between signers. */
    const uint8_t *inner;
    size_t inner_len, n_sigs;
    struct pki_sig *sigs = NULL;
    CHECK(pki_signed_doc_parse(s, sl, &inner, &inner_len, &sigs, &n_sigs) == PKI_OK);
    CHECK(inner_len == dl && memcmp(inner, db, dl) == 0 && n_sigs == 2);
    CHECK(sigs != NULL && pki_sig_valid(db, dl, &sigs[0]) && pki_sig_valid(db, dl, &sigs[1]));
    free(sigs);
    free(s);

    s = sign_doc(db, dl, 0x7, &sl); /* all three */
    CHECK(pki_verify(s, sl, &o, NULL) == PKI_OK);
    o.threshold = 3;
    CHECK(pki_verify(s, sl, &o, NULL) == PKI_OK);
    free(s);

    s = sign_doc(db, dl, 0x4, &sl); /* one of k=2 */
    o.threshold = 2;
    CHECK(pki_verify(s, sl, &o, &doc) == PKI_ERR_TOO_FEW_SIGNATURES && doc == NULL);
    o.threshold = 1;
    CHECK(pki_verify(s, sl, &o, NULL) == PKI_OK);
    free(s);
    s = sign_doc(db, dl, 0x0, &sl); /* none */
    CHECK(pki_verify(s, sl, &o, NULL) == PKI_ERR_TOO_FEW_SIGNATURES);
    free(s);

    /* One corrupted signature by a configured authority rejects the document. */
    s = sign_doc(db, dl, 0x7, &sl);
    s[sl - 1] ^= 1;
    o.threshold = 2;
    CHECK(pki_verify(s, sl, &o, NULL) == PKI_ERR_BAD_SIGNATURE);
    free(s);

    /* A signature over other bytes (document changed after signing). */
    struct pki_sig two[2];
    CHECK(pki_doc_sign(db, dl, fx.auth_sk[0], &two[0]) == PKI_OK);
    db[dl - 1] ^= 1;
    CHECK(pki_doc_sign(db, dl, fx.auth_sk[1], &two[1]) == PKI_OK);
    db[dl - 1] ^= 1;
    CHECK(pki_signed_doc_encode(db, dl, two, 2, &s, &sl) == PKI_OK);
    CHECK(pki_verify(s, sl, &o, NULL) == PKI_ERR_BAD_SIGNATURE);
    free(s);

    /* Signers the verifier does not know: ignored, and named when k is missed. */
    uint8_t opk[PKI_KEY_LEN], osk[PKI_SECRET_KEY_LEN];
    crypto_sign_keypair(opk, osk);
    CHECK(pki_doc_sign(db, dl, fx.auth_sk[0], &two[0]) == PKI_OK);
    CHECK(pki_doc_sign(db, dl, osk, &two[1]) == PKI_OK);
    CHECK(pki_signed_doc_encode(db, dl, two, 2, &s, &sl) == PKI_OK);
    CHECK(pki_verify(s, sl, &o, NULL) == PKI_ERR_UNKNOWN_SIGNER);
    o.threshold = 1;
    CHECK(pki_verify(s, sl, &o, NULL) == PKI_OK);
    free(s);

    /* The same signer twice cannot be encoded, nor parsed. */
    two[1] = two[0];
    CHECK(pki_signed_doc_encode(db, dl, two, 2, &s, &sl) == PKI_ERR_DUPLICATE);

    /* Bad options. */
    o.threshold = 0;
    s = sign_doc(db, dl, 0x7, &sl);
    CHECK(pki_verify(s, sl, &o, NULL) == PKI_ERR_INVALID_ARG);
    o.threshold = 4;
    CHECK(pki_verify(s, sl, &o, NULL) == PKI_ERR_INVALID_ARG);
    free(s);
    free(db);
}

static void test_verify_epochs(void)
{
    size_t dl, sl;
    uint8_t *db = doc_bytes(&dl);
    uint8_t *s = sign_doc(db, dl, 0x7, &sl);
    uint64_t from = GENESIS + (EPOCH - 1) * (uint64_t)EPOCH_LEN, until = from + EPOCH_LEN;
    struct pki_verify_opts o = opts_k(2, from);

    CHECK(pki_verify(s, sl, &o, NULL) == PKI_OK);
    o.now = until + GRACE - 1; /* still in the grace period */
    CHECK(pki_verify(s, sl, &o, NULL) == PKI_OK);
    o.now = until + GRACE;
    CHECK(pki_verify(s, sl, &o, NULL) == PKI_ERR_STALE_EPOCH);
    o.now = from - EPOCH_LEN; /* published one epoch ahead: fine */
    CHECK(pki_verify(s, sl, &o, NULL) == PKI_OK);
    o.now = from - EPOCH_LEN - 1;
    CHECK(pki_verify(s, sl, &o, NULL) == PKI_ERR_FUTURE_EPOCH);
    o.max_ahead = 2 * EPOCH_LEN;
    CHECK(pki_verify(s, sl, &o, NULL) == PKI_OK);
    o.now = 0; /* no time check */
    CHECK(pki_verify(s, sl, &o, NULL) == PKI_OK);
    o.want_epoch = EPOCH + 1;
    CHECK(pki_verify(s, sl, &o, NULL) == PKI_ERR_WRONG_EPOCH);
    o.want_epoch = EPOCH;
    CHECK(pki_verify(s, sl, &o, NULL) == PKI_OK);
    free(s);
    free(db);
}

/* Replace n_old bytes at off with new bytes; returns a new buffer. */
static uint8_t *splice(const uint8_t *b, size_t len, size_t off, size_t n_old, const uint8_t *nb,
                       size_t n_new, size_t *out_len)
{
    uint8_t *o = malloc(len - n_old + n_new + 1);
    memcpy(o, b, off);
    memcpy(o + off, nb, n_new);
    memcpy(o + off + n_new, b + off + n_old, len - off - n_old);
    *out_len = len - n_old + n_new;
    return o;
}

/* Decode doc bytes directly, and signed by all three through pki_verify(). */
static enum pki_err decode_both(const uint8_t *b, size_t n)
{
    struct pki_doc *doc = NULL;
    enum pki_err e = pki_doc_decode(b, n, &doc);
    pki_doc_free(doc);
    size_t sl;
    uint8_t *s = sign_doc(b, n, 0x7, &sl);
    struct pki_verify_opts o = opts_k(2, 0);
    enum pki_err e2 = pki_verify(s, sl, &o, NULL);
    free(s);
    CHECKF(e == e2, "decode says %s, verify says %s", pki_strerror(e), pki_strerror(e2));
    return e;
}

/* The KEM packet format: one more key, the same document otherwise. */
static void test_doc_sphinx_format(void)
{
    size_t cl = 0, kl = 0, len = 0;
    uint8_t *classic = doc_bytes(&cl), *kem = NULL, *again = NULL;
    fx.params.sphinx_format = SPHINX_FORMAT_KEM_X25519;
    struct pki_doc *doc = make_doc(NULL), *back = NULL;
    CHECK(doc != NULL && pki_doc_encode(doc, &kem, &kl) == PKI_OK);
    CHECK(kem != NULL && kl == cl + 4);
    if (kem != NULL && classic != NULL && kl == cl + 4) {
        CHECK(kem[0] == 0xb8 && kem[1] == 0x18); /* map(24) */
        CHECK(memcmp(kem + 2, classic + 1, cl - 1) == 0);
        CHECK(kem[kl - 3] == 0x18 && kem[kl - 2] == 0x18 && kem[kl - 1] == 0x01);
        CHECK(pki_doc_decode(kem, kl, &back) == PKI_OK);
        CHECK(back != NULL && pki_doc_params(back)->sphinx_format == SPHINX_FORMAT_KEM_X25519);
        CHECK(back != NULL && pki_doc_encode(back, &again, &len) == PKI_OK);
        CHECK(again != NULL && len == kl && memcmp(again, kem, kl) == 0);
        CHECK(decode_both(kem, kl) == PKI_OK);
    }
    struct pki_params p = fx.params;
    p.sphinx_format = SPHINX_FORMAT_LAST + 1;
    CHECK(pki_params_check(&p) == PKI_ERR_BAD_VALUE);
    fx.params.sphinx_format = SPHINX_FORMAT_CLASSIC;
    pki_doc_free(doc);
    pki_doc_free(back);
    free(classic);
    free(kem);
    free(again);
}

static void test_doc_rejects(void)
{
    size_t dl, nl;
    uint8_t *db = doc_bytes(&dl), *nb;
    /* The document starts: map(23), 1: 1 (version), 2: 1000 (epoch) ... */
    static const uint8_t start[] = { 0xb7, 0x01, 0x01, 0x02, 0x19, 0x03, 0xe8 };
    CHECK(dl > sizeof start && memcmp(db, start, sizeof start) == 0);
    CHECK(decode_both(db, dl) == PKI_OK);

    static const uint8_t long_one[] = { 0x18, 0x01 }; /* 1 in two bytes */
    nb = splice(db, dl, 2, 1, long_one, 2, &nl);
    CHECK(decode_both(nb, nl) == PKI_ERR_NONCANONICAL);
    free(nb);

    static const uint8_t swapped[] = { 0x02, 0x19, 0x03, 0xe8, 0x01, 0x01 };
    nb = splice(db, dl, 1, 6, swapped, 6, &nl); /* keys out of order */
    CHECK(decode_both(nb, nl) == PKI_ERR_NONCANONICAL);
    free(nb);

    static const uint8_t indef[] = { 0xbf }; /* indefinite-length map */
    nb = splice(db, dl, 0, 1, indef, 1, &nl);
    nb[nl++] = 0xff;
    CHECK(decode_both(nb, nl) == PKI_ERR_NONCANONICAL);
    free(nb);

    /* Key 24 (sphinx_format) is written only when not 0 (classic). */
    static const uint8_t map24[] = { 0xb8, 0x18 }; /* one more entry: key 24 */
    nb = splice(db, dl, 0, 1, map24, 2, &nl);
    uint8_t *nb2 = realloc(nb, nl + 3);
    nb = nb2;
    nb[nl++] = 0x18, nb[nl++] = 0x18, nb[nl++] = 0x00;
    CHECK(decode_both(nb, nl) == PKI_ERR_NONCANONICAL);
    nb[nl - 1] = 0x02; /* no such format */
    CHECK(decode_both(nb, nl) == PKI_ERR_BAD_VALUE);
    nb[nl - 1] = 0x01;
    CHECK(decode_both(nb, nl) == PKI_OK);
    nb[nl - 2] = 0x19; /* key 25: unknown */
    CHECK(decode_both(nb, nl) == PKI_ERR_UNKNOWN_FIELD);
    free(nb);

    static const uint8_t map22[] = { 0xb6 }; /* without the providers list */
    size_t prov_len = 1 + 1 + 3 * (2 + PKI_KEY_LEN);
    nb = splice(db, dl, 0, 1, map22, 1, &nl);
    CHECK(nb[nl - prov_len] == 0x17);
    CHECK(decode_both(nb, nl - prov_len) == PKI_ERR_MISSING_FIELD);
    free(nb);

    static const uint8_t half_float[] = { 0xf9, 0x3c, 0x00 }; /* version 1.0 as a float */
    nb = splice(db, dl, 2, 1, half_float, 3, &nl);
    CHECK(decode_both(nb, nl) == PKI_ERR_MALFORMED);
    free(nb);

    static const uint8_t version2[] = { 0x02 };
    nb = splice(db, dl, 2, 1, version2, 1, &nl);
    CHECK(decode_both(nb, nl) == PKI_ERR_BAD_VALUE);
    free(nb);

    static const uint8_t tag[] = { 0xc0 }; /* a tagged document */
    nb = splice(db, dl, 0, 0, tag, 1, &nl);
    CHECK(decode_both(nb, nl) == PKI_ERR_MALFORMED);
    free(nb);

    nb = splice(db, dl, dl, 0, (const uint8_t *)"", 1, &nl); /* a trailing zero byte */
    CHECK(decode_both(nb, nl) == PKI_ERR_MALFORMED);
    free(nb);

    /* A node count far beyond the bytes present is refused before allocating. */
    static const uint8_t nodes10[] = { 0x15, 0x8a };
    static const uint8_t nodes5000[] = { 0x15, 0x99, 0x13, 0x88 };
    uint8_t *at = memmem(db, dl, nodes10, 2);
    CHECK(at != NULL);
    if (at != NULL) {
        nb = splice(db, dl, (size_t)(at - db), 2, nodes5000, 4, &nl);
        CHECK(decode_both(nb, nl) == PKI_ERR_MALFORMED);
        free(nb);
    }

    /* Oversized inputs. */
    size_t big_len = PKI_MAX_DOCUMENT_LEN + 64 * 1024;
    uint8_t *big = calloc(1, big_len);
    struct pki_doc *doc = NULL;
    struct pki_descriptor desc;
    struct pki_verify_opts o = opts_k(2, 0);
    CHECK(pki_doc_decode(big, PKI_MAX_DOCUMENT_LEN + 1, &doc) == PKI_ERR_TOO_LARGE);
    CHECK(pki_verify(big, big_len, &o, NULL) == PKI_ERR_TOO_LARGE);
    CHECK(pki_descriptor_verify(big, PKI_MAX_DESCRIPTOR_LEN + 1, &desc) == PKI_ERR_TOO_LARGE);
    free(big);

    /* Truncation anywhere. */
    for (size_t cut = 0; cut < dl; cut++) {
        enum pki_err e = pki_doc_decode(db, cut, &doc);
        CHECKF(e != PKI_OK && doc == NULL, "prefix %zu: %s", cut, pki_strerror(e));
        if (e == PKI_OK)
            pki_doc_free(doc);
    }
    free(db);
}

/* Find the encoded body of node i's descriptor inside the document bytes. */
static uint8_t *find_descriptor(uint8_t *db, size_t dl, int i, size_t *len)
{
    uint8_t *sd = NULL;
    size_t sn = 0;
    CHECK(pki_descriptor_sign(&fx.nodes[i], fx.node_sk[i], &sd, &sn) == PKI_OK);
    /* [bstr body, bstr sig]: 0x82, a 2- or 3-byte bstr head, the body, 0x58 0x40 sig. */
    size_t head = sd[1] == 0x58 ? 2 : 3;
    *len = sn - 1 - head - 2 - PKI_SIG_LEN;
    uint8_t *at = memmem(db, dl, sd + 1 + head, *len);
    free(sd);
    return at;
}

static void test_doc_rejects_nodes(void)
{
    size_t dl, l0, l1;
    uint8_t *db = doc_bytes(&dl);
    struct pki_doc *doc = make_doc(NULL);
    /* The first two descriptors in the document (sorted order). */
    int a = -1, b = -1;
    for (int i = 0; i < N_NODES; i++) {
        if (memcmp(fx.nodes[i].id, pki_doc_node(doc, 0)->id, PKI_KEY_LEN) == 0)
            a = i;
        if (memcmp(fx.nodes[i].id, pki_doc_node(doc, 1)->id, PKI_KEY_LEN) == 0)
            b = i;
    }
    pki_doc_free(doc);
    CHECK(a >= 0 && b >= 0);
    if (a < 0 || b < 0)
        return;
    uint8_t *pa = find_descriptor(db, dl, a, &l0), *pb = find_descriptor(db, dl, b, &l1);
    CHECK(pa != NULL && pb != NULL && l0 == l1 && pb == pa + l0);
    if (pa == NULL || pb == NULL || l0 != l1) {
        free(db);
        return;
    }
    uint8_t *tmp = malloc(l0);
    /* Swapped: out of id order. */
    memcpy(tmp, pa, l0);
    memcpy(pa, pb, l0);
    memcpy(pb, tmp, l0);
    CHECK(decode_both(db, dl) == PKI_ERR_NONCANONICAL);
    memcpy(pb, pa, l0);
    memcpy(pa, tmp, l0);
    /* The same node twice. */
    memcpy(pb, pa, l0);
    CHECK(decode_both(db, dl) == PKI_ERR_DUPLICATE);
    free(tmp);
    free(db);

    /* Unknown descriptor key: bump the map size and append key 8 after the sphinx keys. */
    db = doc_bytes(&dl);
    pa = find_descriptor(db, dl, a, &l0);
    CHECK(pa != NULL && pa[0] == 0xa7);
    if (pa != NULL) {
        size_t off = (size_t)(pa - db), nl;
        static const uint8_t extra[] = { 0x08, 0x00 };
        uint8_t *nb = splice(db, dl, off + l0, 0, extra, 2, &nl);
        nb[off] = 0xa8;
        CHECK(decode_both(nb, nl) == PKI_ERR_UNKNOWN_FIELD);
        free(nb);
        /* A sphinx key of 31 bytes. */
        static const uint8_t shorter[] = { 0x58, 0x1f };
        uint8_t *k = memmem(db, dl, fx.nodes[a].sphinx_keys[0].key, PKI_KEY_LEN);
        CHECK(k != NULL && k[-2] == 0x58 && k[-1] == 0x20);
        if (k != NULL) {
            nb = splice(db, dl, (size_t)(k - db) - 2, 3, shorter, 2, &nl);
            CHECK(decode_both(nb, nl) == PKI_ERR_BAD_VALUE);
            free(nb);
        }
    }
    free(db);
}

static void test_signed_doc_rejects(void)
{
    size_t dl, sl;
    uint8_t *db = doc_bytes(&dl);
    uint8_t *s = sign_doc(db, dl, 0x7, &sl);
    struct pki_verify_opts o = opts_k(2, 0);
    /* Truncation anywhere in the signed document. */
    for (size_t cut = 0; cut < sl; cut++)
        CHECK(pki_verify(s, cut, &o, NULL) != PKI_OK);
    /* Signatures out of key order: swap the first two entries (each 1+34+66 bytes). */
    size_t entry = 1 + 2 + PKI_KEY_LEN + 2 + PKI_SIG_LEN;
    uint8_t *first = s + sl - 3 * entry;
    CHECK(first[-1] == 0x83);
    uint8_t tmp[1 + 2 + PKI_KEY_LEN + 2 + PKI_SIG_LEN];
    memcpy(tmp, first, entry);
    memcpy(first, first + entry, entry);
    memcpy(first + entry, tmp, entry);
    CHECK(pki_verify(s, sl, &o, NULL) == PKI_ERR_NONCANONICAL);
    /* The same signer twice. */
    memcpy(first, first + entry, entry);
    CHECK(pki_verify(s, sl, &o, NULL) == PKI_ERR_DUPLICATE);
    free(s);
    /* Not an array / wrong arity. */
    static const uint8_t three[] = { 0x83, 0x40, 0x80, 0x80 };
    CHECK(pki_verify(three, sizeof three, &o, NULL) == PKI_ERR_MALFORMED);
    static const uint8_t map[] = { 0xa0 };
    CHECK(pki_verify(map, sizeof map, &o, NULL) == PKI_ERR_MALFORMED);
    static const uint8_t indef[] = { 0x9f, 0x40, 0x80, 0xff };
    CHECK(pki_verify(indef, sizeof indef, &o, NULL) == PKI_ERR_NONCANONICAL);
    /* An empty document with no signatures. */
    static const uint8_t empty[] = { 0x82, 0x40, 0x80 };
    CHECK(pki_verify(empty, sizeof empty, &o, NULL) == PKI_ERR_TOO_FEW_SIGNATURES);
    free(db);
}

static const char *vector_path(char *buf, size_t cap)
{
    const char *top = getenv("TOP");
    snprintf(buf, cap, "%s/tests/vectors/pki_signed_document.cbor", top ? top : ".");
    return buf;
}

/* The authority keys and expectations beside the vector, for independent verifiers. */
static void write_vector_json(const char *cbor_path, const char *hash_hex)
{
    char path[4096], hex[2 * PKI_KEY_LEN + 1];
    snprintf(path, sizeof path, "%.*s.json", (int)(strlen(cbor_path) - 5), cbor_path);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f == NULL)
        return;
    fprintf(f, "{\n  \"authorities\": [");
    for (int i = 0; i < N_AUTH; i++) {
        sodium_bin2hex(hex, sizeof hex, fx.auth_pk[i], PKI_KEY_LEN);
        fprintf(f, "%s\"%s\"", i ? ", " : "", hex);
    }
    fprintf(f,
            "],\n  \"threshold\": 2,\n  \"signers\": [0, 2],\n  \"epoch\": %d,\n"
            "  \"nodes\": %d,\n  \"document_hash\": \"%s\"\n}\n",
            EPOCH, N_NODES, hash_hex);
    CHECK(fclose(f) == 0);
}

/* The fixture's signed document (authorities 0 and 2) is a committed known answer. */
static void test_known_answer(void)
{
    size_t dl, sl;
    uint8_t *db = doc_bytes(&dl);
    uint8_t *s = sign_doc(db, dl, 0x5, &sl);
    char path[4096];
    vector_path(path, sizeof path);
    uint8_t h[PKI_HASH_LEN];
    char hex[2 * PKI_HASH_LEN + 1];
    pki_doc_hash(db, dl, h);
    sodium_bin2hex(hex, sizeof hex, h, sizeof h);
    if (getenv("PKI_WRITE_VECTORS") != NULL) {
        FILE *f = fopen(path, "wb");
        CHECK(f != NULL && fwrite(s, 1, sl, f) == sl && fclose(f) == 0);
        printf("# wrote %s (%zu bytes)\n", path, sl);
        write_vector_json(path, hex);
    }
    FILE *f = fopen(path, "rb");
    CHECKF(f != NULL, "cannot open %s", path);
    if (f != NULL) {
        uint8_t *want = malloc(sl + 1);
        size_t got = fread(want, 1, sl + 1, f);
        fclose(f);
        CHECKF(got == sl && memcmp(want, s, sl) == 0, "%s differs (%zu vs %zu bytes)", path, got,
               sl);
        free(want);
    }
    printf("# document %zu bytes, signed %zu bytes, hash %s\n", dl, sl, hex);
    struct pki_verify_opts o = opts_k(2, 0);
    CHECK(pki_verify(s, sl, &o, NULL) == PKI_OK);
    free(s);
    free(db);
}

static void write_file(const char *dir, const char *name, const uint8_t *b, size_t n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL && fwrite(b, 1, n, f) == n && fclose(f) == 0);
}

/* PKI_WRITE_CORPUS=DIR writes fuzz seeds: documents, signed documents, descriptors. */
static void test_write_corpus(void)
{
    const char *dir = getenv("PKI_WRITE_CORPUS");
    if (dir == NULL)
        return;
    size_t dl, sl, n;
    uint8_t *db = doc_bytes(&dl), *s, *b;
    write_file(dir, "seed_document", db, dl);
    s = sign_doc(db, dl, 0x7, &sl);
    write_file(dir, "seed_signed_3of3", s, sl);
    free(s);
    s = sign_doc(db, dl, 0x2, &sl);
    write_file(dir, "seed_signed_1of3", s, sl);
    free(s);
    for (int i = 0; i < N_NODES; i += 4) {
        char name[64];
        CHECK(pki_descriptor_sign(&fx.nodes[i], fx.node_sk[i], &b, &n) == PKI_OK);
        snprintf(name, sizeof name, "seed_descriptor_%d", i);
        write_file(dir, name, b, n);
        free(b);
    }
    /* A small timed-pool document with two nodes. */
    struct pki_params p = fx.params;
    p.strategy = PKI_STRATEGY_TIMED_POOL;
    p.pool_interval_us = 500000;
    p.pool_keep = 2;
    struct pki_doc *doc = pki_doc_new(&p);
    CHECK(pki_doc_add(doc, &fx.nodes[0]) == PKI_OK && pki_doc_add(doc, &fx.nodes[5]) == PKI_OK);
    CHECK(pki_doc_encode(doc, &b, &n) == PKI_OK);
    write_file(dir, "seed_small_document", b, n);
    s = sign_doc(b, n, 0x3, &sl);
    write_file(dir, "seed_small_signed", s, sl);
    free(s);
    free(b);
    pki_doc_free(doc);
    free(db);
}

static void test_strerror(void)
{
    for (int e = PKI_OK; e <= PKI_ERR_NOMEM; e++)
        CHECK(strcmp(pki_strerror((enum pki_err)e), "unknown error") != 0);
    CHECK(strcmp(pki_strerror(PKI_ERR_STALE_EPOCH), "stale epoch") == 0);
    pki_doc_free(NULL);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    make_fixture(&fx);
    RUN(test_epochs);
    RUN(test_descriptor_roundtrip);
    RUN(test_descriptor_rejects);
    RUN(test_doc_canonical_order);
    RUN(test_doc_params_check);
    RUN(test_doc_sphinx_format);
    RUN(test_lookups_and_path);
    RUN(test_verify_signatures);
    RUN(test_verify_epochs);
    RUN(test_doc_rejects);
    RUN(test_doc_rejects_nodes);
    RUN(test_signed_doc_rejects);
    RUN(test_known_answer);
    RUN(test_strerror);
    RUN(test_write_corpus);
    return tap_done();
}
