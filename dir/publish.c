/*
 * mixdir: published documents: kept per epoch, verified, adopted from a peer,
 * and a peer's different document explained.  See mixdir.h.
 */
#include "mixdir.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "log.h"

/* ------------------------------------------------------------ published documents */

struct published *pub_find(struct mixdir *d, uint64_t epoch)
{
    for (size_t i = 0; i < MAX_PUBLISHED; i++)
        if (d->pub[i].epoch == epoch && epoch != 0)
            return &d->pub[i];
    return NULL;
}

/* Keep `bytes` (taken over) as the published document of `epoch`. */
void pub_set(struct mixdir *d, uint64_t epoch, uint8_t *bytes, size_t len, size_t n_sigs)
{
    struct published *p = pub_find(d, epoch);
    if (p == NULL) {
        p = &d->pub[0];
        for (size_t i = 0; i < MAX_PUBLISHED; i++)
            if (d->pub[i].epoch < p->epoch)
                p = &d->pub[i];
        if (p->epoch != 0)
            dir_store_remove_doc(d->cf->data_dir, p->epoch);
    }
    free(p->bytes);
    p->epoch = epoch;
    p->bytes = bytes;
    p->len = len;
    p->n_sigs = n_sigs;
    if (dir_store_save_doc(d->cf->data_dir, epoch, bytes, len) < 0)
        log_warn("cannot save document of epoch %llu: %s", (unsigned long long)epoch,
                 strerror(errno));
}

/* Verify a signed document against our authority set. */
enum pki_err verify_doc(struct mixdir *d, const uint8_t *b, size_t len, uint64_t epoch,
                        uint64_t now, size_t *n_nodes)
{
    uint8_t(*keys)[PKI_KEY_LEN] = calloc(d->cf->n_auth, PKI_KEY_LEN);
    if (keys == NULL)
        return PKI_ERR_NOMEM;
    for (size_t i = 0; i < d->cf->n_auth; i++)
        memcpy(keys[i], d->cf->auth[i].sign_pk, PKI_KEY_LEN);
    struct pki_verify_opts o = {
        .authorities = (const uint8_t(*)[PKI_KEY_LEN])keys,
        .n_authorities = d->cf->n_auth,
        .threshold = d->cf->threshold,
        .now = now,
        .max_ahead = 0,
        .want_epoch = epoch,
    };
    struct pki_doc *doc = NULL;
    enum pki_err e = pki_verify(b, len, &o, &doc);
    if (e == PKI_OK && n_nodes != NULL)
        *n_nodes = pki_doc_node_count(doc);
    pki_doc_free(doc);
    free(keys);
    return e;
}

/* The [network] fields in which two documents' parameters differ, as
 * "name ours/theirs" items; "" when they agree. */
static void params_diff(const struct pki_params *a, const struct pki_params *b, char *out,
                        size_t len)
{
    size_t o = 0;
    out[0] = 0;
#define FIELD(name, fa, fb)                                                                        \
    if ((uint64_t)(fa) != (uint64_t)(fb) && o < len)                                               \
        o += (size_t)snprintf(out + o, len - o, "%s%s %llu (theirs %llu)", o ? ", " : "", name,    \
                              (unsigned long long)(fa), (unsigned long long)(fb));
    FIELD("genesis", a->timing.genesis, b->timing.genesis)
    FIELD("epoch_length", a->timing.epoch_len, b->timing.epoch_len)
    FIELD("grace", a->timing.grace, b->timing.grace)
    FIELD("max_hops", a->max_hops, b->max_hops)
    FIELD("payload_len", a->payload_len, b->payload_len)
    FIELD("layers", a->layers, b->layers)
    FIELD("mean_delay_us", a->mean_delay_us, b->mean_delay_us)
    FIELD("max_delay_us", a->max_delay_us, b->max_delay_us)
    FIELD("lambda_p_mHz", a->lambda_p_mhz, b->lambda_p_mhz)
    FIELD("lambda_l_mHz", a->lambda_l_mhz, b->lambda_l_mhz)
    FIELD("lambda_d_mHz", a->lambda_d_mhz, b->lambda_d_mhz)
    FIELD("lambda_m_mHz", a->lambda_m_mhz, b->lambda_m_mhz)
    FIELD("strategy", a->strategy, b->strategy)
    FIELD("pool_interval_us", a->pool_interval_us, b->pool_interval_us)
    FIELD("pool_keep", a->pool_keep, b->pool_keep)
    FIELD("threshold_n", a->threshold_n, b->threshold_n)
#undef FIELD
}

/*
 * A peer signed other bytes than ours for an epoch and sent us its document
 * (signed by itself only): say at warn which [network] parameters differ,
 * or that the descriptor sets do.  Decoded without trusting it: it is only
 * compared, never used.
 */
void explain_mismatch(struct mixdir *d, size_t idx, uint64_t epoch, const uint8_t *b, size_t len)
{
    struct build *bl = build_find(d, epoch);
    const uint8_t *db;
    size_t dlen, nsig;
    struct pki_sig *sigs = NULL;
    struct pki_doc *theirs = NULL, *ours = NULL;
    char diff[600];
    if (bl == NULL || bl->doc == NULL || !bl->mismatch[idx] || bl->explained[idx])
        return;
    if (pki_signed_doc_parse(b, len, &db, &dlen, &sigs, &nsig) != PKI_OK ||
        pki_doc_decode(db, dlen, &theirs) != PKI_OK ||
        pki_doc_decode(bl->doc, bl->doc_len, &ours) != PKI_OK)
        goto out;
    bl->explained[idx] = true;
    params_diff(pki_doc_params(ours), pki_doc_params(theirs), diff, sizeof diff);
    if (diff[0])
        log_warn("epoch %llu: authority %zu has other [network] parameters: %s",
                 (unsigned long long)epoch, idx + 1, diff);
    else
        log_warn("epoch %llu: authority %zu has the same [network] parameters but another "
                 "descriptor set (%zu nodes, ours %zu): check [registration] at both",
                 (unsigned long long)epoch, idx + 1, pki_doc_node_count(theirs),
                 pki_doc_node_count(ours));
out:
    free(sigs);
    pki_doc_free(theirs);
    pki_doc_free(ours);
}

/* A peer's document (answer to our DocumentRequest): adopt it if it verifies. */
void adopt_document(struct mixdir *d, uint64_t epoch, const uint8_t *b, size_t len)
{
    uint64_t cur = cur_epoch(d);
    struct published *p = pub_find(d, epoch);
    if (epoch < cur || epoch > cur + 1 || p != NULL)
        return;
    size_t n_nodes = 0;
    enum pki_err e = verify_doc(d, b, len, epoch, now_s(d), &n_nodes);
    if (e != PKI_OK) {
        log_info("peer document for epoch %llu refused: %s", (unsigned long long)epoch,
                 pki_strerror(e));
        return;
    }
    uint8_t *copy = malloc(len);
    if (copy == NULL)
        return;
    memcpy(copy, b, len);
    pub_set(d, epoch, copy, len, 0);
    d->ctr.docs_adopted++;
    log_info("epoch %llu: adopted the document of a peer (%zu nodes)", (unsigned long long)epoch,
             n_nodes);
}
