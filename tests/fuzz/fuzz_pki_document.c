/*
 * Fuzz target: the directory parsers on arbitrary bytes.
 *
 * The input is tried as an unsigned document (pki_doc_decode), as a signed
 * document (pki_verify against the authority keys of the test fixture, so
 * the committed vector verifies and mutations reach every check), as the
 * document inside a signed document, and as a signed descriptor.
 * Properties: no crash or leak; anything accepted re-encodes to exactly the
 * input bytes (the decoder accepts only the canonical encoding).
 */
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pki.h"
#include "rng.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t auth_pk[3][PKI_KEY_LEN];
static bool ready;

/* The same authority keys as tests/unit/test_pki.c's fixture. */
static void setup(void)
{
    uint8_t seed[32] = "mixnet pki test fixture seed....";
    uint8_t sk[PKI_SECRET_KEY_LEN], s[32];
    struct mix_rng_det det;
    if (sodium_init() < 0)
        abort();
    mix_rng_det_init(&det, seed);
    struct mix_rng rng = mix_rng_det(&det);
    for (int i = 0; i < 3; i++) {
        mix_rng_bytes(&rng, s, sizeof s);
        crypto_sign_seed_keypair(auth_pk[i], sk, s);
    }
    sodium_memzero(sk, sizeof sk);
    ready = true;
}

/* Decode as an unsigned document; if accepted, the encoding must round-trip. */
static void try_doc(const uint8_t *data, size_t size)
{
    struct pki_doc *doc = NULL;
    if (pki_doc_decode(data, size, &doc) != PKI_OK) {
        if (doc != NULL)
            abort();
        return;
    }
    uint8_t *again = NULL;
    size_t len = 0;
    if (pki_doc_encode(doc, &again, &len) != PKI_OK || len != size || memcmp(again, data, size))
        abort();
    /* Look-ups over whatever was accepted must be safe. */
    for (size_t i = 0; i < pki_doc_node_count(doc); i++)
        if (pki_doc_find(doc, pki_doc_node(doc, i)->id) != pki_doc_node(doc, i))
            abort();
    free(again);
    pki_doc_free(doc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ready)
        setup();
    try_doc(data, size);

    struct pki_verify_opts o = { auth_pk, 3, 2, 0, 0, 0 };
    struct pki_doc *doc = NULL;
    enum pki_err e = pki_verify(data, size, &o, &doc);
    if ((e == PKI_OK) != (doc != NULL) || pki_strerror(e) == NULL)
        abort();
    pki_doc_free(doc);

    const uint8_t *inner;
    size_t inner_len, n_sigs;
    struct pki_sig *sigs = NULL;
    if (pki_signed_doc_parse(data, size, &inner, &inner_len, &sigs, &n_sigs) == PKI_OK) {
        try_doc(inner, inner_len);
        free(sigs);
    }

    struct pki_descriptor d;
    if (pki_descriptor_verify(data, size, &d) == PKI_OK && pki_descriptor_check(&d) != PKI_OK)
        abort();
    return 0;
}
