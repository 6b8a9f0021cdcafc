/*
 * mixdir: building an epoch's document: the descriptor set exchange with the
 * peers, signing, collecting k signatures, publishing.  See mixdir.h.
 */
#include "mixdir.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "keyfile.h"
#include "log.h"

/* ------------------------------------------------------------ building */

struct build *build_find(struct mixdir *d, uint64_t epoch)
{
    for (size_t i = 0; i < MAX_BUILDS; i++)
        if (d->builds[i].phase != PH_FREE && d->builds[i].epoch == epoch)
            return &d->builds[i];
    return NULL;
}

void build_clear(struct build *b)
{
    dir_set_clear(&b->set);
    free(b->doc);
    memset(b, 0, sizeof *b);
}

void send_desc_set(struct mixdir *d, struct conn *c, const struct build *b)
{
    struct frame_buf *bufs = calloc(b->set.n ? b->set.n : 1, sizeof *bufs);
    if (bufs == NULL)
        return;
    for (size_t i = 0; i < b->set.n; i++) {
        bufs[i].ptr = b->set.v[i].bytes;
        bufs[i].len = b->set.v[i].len;
    }
    struct mix_frame f;
    memset(&f, 0, sizeof f);
    f.type = FRAME_DESCRIPTOR_SET;
    f.u.desc_set.epoch = b->epoch;
    f.u.desc_set.descs = bufs;
    f.u.desc_set.n_descs = b->set.n;
    if (c != NULL)
        send_frame(d, c, &f);
    else
        broadcast(d, &f);
    free(bufs);
}

/* Vote time for `epoch`: take the snapshot and start the exchange. */
struct build *build_start(struct mixdir *d, uint64_t epoch)
{
    struct build *b = NULL;
    /* A free slot, else the oldest one if it is for a past epoch. */
    for (size_t i = 0; i < MAX_BUILDS; i++)
        if (b == NULL || d->builds[i].phase == PH_FREE ||
            (b->phase != PH_FREE && d->builds[i].epoch < b->epoch))
            b = &d->builds[i];
    if (b->phase != PH_FREE && b->epoch >= cur_epoch(d))
        b = NULL;
    if (b == NULL)
        return NULL;
    build_clear(b);
    b->epoch = epoch;
    b->phase = PH_EXCHANGE;
    b->sign_at = now_s(d) + d->cf->exchange_window_s;
    if (dir_set_copy_for_epoch(&b->set, &d->descs, epoch) < 0) {
        build_clear(b);
        return NULL;
    }
    log_info("epoch %llu: vote started with %zu descriptors", (unsigned long long)epoch, b->set.n);
    send_desc_set(d, NULL, b);
    struct mix_frame f;
    memset(&f, 0, sizeof f);
    f.type = FRAME_DESCRIPTOR_SET_REQUEST;
    f.u.desc_set_req.epoch = epoch;
    broadcast(d, &f);
    return b;
}

static size_t count_sigs(const struct build *b, size_t n_auth)
{
    size_t n = 0;
    for (size_t i = 0; i < n_auth; i++)
        n += b->have[i];
    return n;
}

/* Publish (or republish with more signatures) once k signatures agree. */
static void try_publish(struct mixdir *d, struct build *b)
{
    size_t n = count_sigs(b, d->cf->n_auth);
    struct published *p = pub_find(d, b->epoch);
    if (n < d->cf->threshold || (p != NULL && p->n_sigs >= n))
        return;
    struct pki_sig sigs[DIR_MAX_AUTHORITIES];
    size_t k = 0;
    for (size_t i = 0; i < d->cf->n_auth; i++)
        if (b->have[i])
            sigs[k++] = b->sig[i];
    uint8_t *out = NULL;
    size_t len = 0;
    enum pki_err e = pki_signed_doc_encode(b->doc, b->doc_len, sigs, k, &out, &len);
    if (e == PKI_OK)
        e = verify_doc(d, out, len, b->epoch, 0, NULL); /* self-check, no clock */
    if (e != PKI_OK) {
        log_err("epoch %llu: signed document fails its own check: %s", (unsigned long long)b->epoch,
                pki_strerror(e));
        free(out);
        return;
    }
    if (p == NULL)
        d->ctr.docs_published++; /* once per epoch; later calls add signatures */
    pub_set(d, b->epoch, out, len, k);
    b->phase = PH_DONE;
    log_info("epoch %llu: published document (%zu nodes) signed by %zu of %zu authorities",
             (unsigned long long)b->epoch, b->n_nodes, k, d->cf->n_auth);
}

/* Keep a peer's signature if it is over our bytes and verifies. */
static void take_signature(struct mixdir *d, struct build *b, size_t idx, const struct pki_sig *s,
                           const uint8_t hash[PKI_HASH_LEN])
{
    if (b->have[idx])
        return;
    if (sodium_memcmp(hash, b->hash, PKI_HASH_LEN) != 0) {
        char ours[17], theirs[17];
        if (b->mismatch[idx])
            return; /* the peer re-sends until it publishes: say it once */
        b->mismatch[idx] = true;
        hex8(b->hash, ours);
        hex8(hash, theirs);
        d->ctr.sigs_mismatch++;
        log_warn("epoch %llu: authority %zu signed another document (%s, ours %s); asking it "
                 "for its document to compare",
                 (unsigned long long)b->epoch, idx + 1, theirs, ours);
        if (d->peer_conn[idx] != NULL) {
            struct mix_frame f;
            memset(&f, 0, sizeof f);
            f.type = FRAME_DOCUMENT_REQUEST;
            f.u.doc_req.epoch = b->epoch;
            send_frame(d, d->peer_conn[idx], &f);
        }
        return;
    }
    if (!pki_sig_valid(b->doc, b->doc_len, s)) {
        d->ctr.sigs_bad++;
        return;
    }
    b->sig[idx] = *s;
    b->have[idx] = true;
    d->ctr.sigs_accepted++;
    try_publish(d, b);
}

void send_own_signature(struct mixdir *d, struct conn *c, const struct build *b)
{
    struct mix_frame f;
    memset(&f, 0, sizeof f);
    f.type = FRAME_SIGNATURE_EXCHANGE;
    f.u.sig.epoch = b->epoch;
    f.u.sig.document_hash = (struct frame_buf){ b->hash, PKI_HASH_LEN };
    f.u.sig.signature = (struct frame_buf){ b->sig[d->self].sig, PKI_SIG_LEN };
    f.u.sig.authority_key = (struct frame_buf){ d->sign_pk, PKI_KEY_LEN };
    if (c != NULL)
        send_frame(d, c, &f);
    else
        broadcast(d, &f);
}

/* Encode the canonical document of a build.  0 or -1. */
static int build_document(struct mixdir *d, struct build *b)
{
    struct pki_params p = d->cf->params;
    p.epoch = b->epoch;
    p.timing = d->cf->timing;
    struct pki_doc *doc = pki_doc_new(&p);
    if (doc == NULL)
        return -1;
    for (size_t i = 0; i < b->set.n; i++) {
        if (!dir_conf_node_allowed(d->cf, b->set.v[i].d.identity_key)) {
            char id[KEY_B64_MAX];
            key_to_b64(b->set.v[i].d.id, PKI_KEY_LEN, id);
            log_warn("epoch %llu: node %s left out: no longer in [registration]",
                     (unsigned long long)b->epoch, id);
            continue;
        }
        enum pki_err e = pki_doc_add(doc, &b->set.v[i].d);
        if (e != PKI_OK) {
            char id[KEY_B64_MAX];
            key_to_b64(b->set.v[i].d.id, PKI_KEY_LEN, id);
            char why_not[128];
            log_warn("epoch %llu: node %s left out: %s", (unsigned long long)b->epoch, id,
                     unlistable(d, &b->set.v[i].d, why_not, sizeof why_not) ? why_not
                                                                            : pki_strerror(e));
        }
    }
    b->n_nodes = pki_doc_node_count(doc);
    enum pki_err e = pki_doc_encode(doc, &b->doc, &b->doc_len);
    pki_doc_free(doc);
    if (e != PKI_OK) {
        log_err("epoch %llu: cannot encode document: %s", (unsigned long long)b->epoch,
                pki_strerror(e));
        return -1;
    }
    pki_doc_hash(b->doc, b->doc_len, b->hash);
    return 0;
}

/* Sign time: build, sign, send our signature, use those that came early. */
void build_sign(struct mixdir *d, struct build *b)
{
    if (pub_find(d, b->epoch) != NULL && count_sigs(b, d->cf->n_auth) == 0) {
        b->phase = PH_DONE; /* adopted from a peer meanwhile */
        return;
    }
    if (build_document(d, b) < 0) {
        build_clear(b);
        return;
    }
    struct pki_sig own;
    if (pki_doc_sign(b->doc, b->doc_len, d->sign_sk, &own) != PKI_OK) {
        log_err("epoch %llu: signing failed", (unsigned long long)b->epoch);
        build_clear(b);
        return;
    }
    b->sig[d->self] = own;
    b->have[d->self] = true;
    b->phase = PH_SIGNED;
    d->ctr.docs_built++;
    char h[17];
    hex8(b->hash, h);
    log_info("epoch %llu: signed document %s (%zu nodes, %zu bytes)", (unsigned long long)b->epoch,
             h, b->n_nodes, b->doc_len);
    send_own_signature(d, NULL, b);
    struct mix_frame f;
    memset(&f, 0, sizeof f);
    f.type = FRAME_SIGNATURE_REQUEST;
    f.u.sig_req.epoch = b->epoch;
    broadcast(d, &f);
    for (size_t i = 0; i < d->cf->n_auth; i++)
        if (b->have_early[i]) {
            b->have_early[i] = false;
            take_signature(d, b, i, &b->early[i], b->early_hash[i]);
        }
    try_publish(d, b);
}

/* ------------------------------------------------------------ peer frames */

static bool epoch_open(struct mixdir *d, uint64_t epoch)
{
    uint64_t cur = cur_epoch(d);
    return epoch != 0 && (epoch == cur || epoch == cur + 1);
}

static void handle_desc_set(struct mixdir *d, const struct mix_frame *f)
{
    uint64_t epoch = f->u.desc_set.epoch;
    struct build *b = build_find(d, epoch);
    if (b == NULL && epoch_open(d, epoch) && pub_find(d, epoch) == NULL)
        b = build_start(d, epoch);
    /* A set that comes after our vote is too late for it, but its descriptors are still kept
       (and stored on disk): a peer's valid upload is not lost to us because the exchange window
       closed first, and a restart reloads it. */
    bool late = b == NULL || b->phase != PH_EXCHANGE;
    if (late)
        d->ctr.peer_sets_late++;
    for (size_t i = 0; i < f->u.desc_set.n_descs; i++) {
        const struct frame_buf *fb = &f->u.desc_set.descs[i];
        struct pki_descriptor pd;
        if (check_descriptor(d, fb->ptr, fb->len, &pd, false) != NULL ||
            pki_descriptor_sphinx_key(&pd, epoch) == NULL) {
            d->ctr.peer_descs_rejected++;
            continue;
        }
        if (late) {
            if (store_descriptor(d, fb->ptr, fb->len, &pd) == 1)
                d->ctr.peer_descs_kept_late++;
        } else if (dir_set_put(&b->set, fb->ptr, fb->len, &pd, d->cf->max_descriptors) == 1) {
            d->ctr.peer_descs_merged++;
            (void)store_descriptor(d, fb->ptr, fb->len, &pd);
        }
    }
}

static void handle_sig(struct mixdir *d, const struct mix_frame *f)
{
    struct pki_sig s;
    int idx = auth_index_by_sign_key(d, f->u.sig.authority_key.ptr);
    if (idx < 0 || (size_t)idx == d->self) {
        d->ctr.sigs_unknown_signer++;
        return;
    }
    memcpy(s.key, f->u.sig.authority_key.ptr, PKI_KEY_LEN);
    memcpy(s.sig, f->u.sig.signature.ptr, PKI_SIG_LEN);
    struct build *b = build_find(d, f->u.sig.epoch);
    if (b == NULL)
        return; /* no vote yet: the peer resends when we ask at sign time */
    if (b->phase >= PH_SIGNED && b->doc != NULL) {
        take_signature(d, b, (size_t)idx, &s, f->u.sig.document_hash.ptr);
    } else if (b->phase == PH_EXCHANGE) {
        b->early[idx] = s;
        memcpy(b->early_hash[idx], f->u.sig.document_hash.ptr, PKI_HASH_LEN);
        b->have_early[idx] = true;
    }
}

void handle_peer_frame(struct mixdir *d, struct conn *c, const struct mix_frame *f)
{
    switch (f->type) {
    case FRAME_DESCRIPTOR_SET_REQUEST: {
        uint64_t e = f->u.desc_set_req.epoch;
        struct build *b = build_find(d, e);
        if (b == NULL && epoch_open(d, e) && pub_find(d, e) == NULL)
            b = build_start(d, e);
        if (b != NULL)
            send_desc_set(d, c, b);
        break;
    }
    case FRAME_DESCRIPTOR_SET: handle_desc_set(d, f); break;
    case FRAME_SIGNATURE_REQUEST: {
        struct build *b = build_find(d, f->u.sig_req.epoch);
        if (b != NULL && b->phase >= PH_SIGNED && b->doc != NULL)
            send_own_signature(d, c, b);
        break;
    }
    case FRAME_SIGNATURE_EXCHANGE: handle_sig(d, f); break;
    default: break;
    }
}
