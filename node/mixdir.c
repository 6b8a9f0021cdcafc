/*
 * mixdir: a directory authority.
 *
 * It accepts signed node descriptors over Noise links, and for each epoch
 * builds, signs and (with its peer authorities) publishes the directory
 * document.  The protocol with the peers, per epoch N (node/README.md has
 * the timeline):
 *
 *   vote time = start(N) - vote_lead.  Each authority snapshots the
 *   descriptors it holds that carry a Sphinx key for N, sends that set to
 *   every peer (DescriptorSet) and asks for theirs (DescriptorSetRequest).
 *   Sets received until vote time + exchange_window are merged (union of
 *   validly signed descriptors, one per node by dir_desc_better()).
 *
 *   sign time = vote time + exchange_window.  Each builds the canonical
 *   document (lib/pki), signs it and sends the signature (SignatureExchange)
 *   to every peer.  A signature is kept only if it is by a configured
 *   authority and over the very bytes we built.  With k of them the signed
 *   document is published: saved, and served to anyone who asks
 *   (DocumentRequest).  Later signatures are added as they come.
 *
 * An authority that starts in the middle of an epoch with no document for
 * it asks its peers for theirs (adopting one that verifies with k
 * signatures) and otherwise builds one for the current epoch at once.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ev.h>
#include <sodium.h>

#include "conn.h"
#include "dir_conf.h"
#include "dir_fetch.h"
#include "dir_metrics.h"
#include "dir_store.h"
#include "dirlock.h"
#include "frame.h"
#include "keyfile.h"
#include "log.h"
#include "pki.h"

#define MAX_PUBLISHED 4
#define MAX_BUILDS 3
#define TICK_SECONDS 0.25

enum build_phase { PH_FREE = 0, PH_EXCHANGE, PH_SIGNED, PH_DONE };

struct build {
    uint64_t epoch;
    enum build_phase phase;
    uint64_t sign_at;                          /* Unix seconds */
    uint64_t last_push;                        /* our signature last sent */
    struct dir_set set;
    uint8_t *doc;
    size_t doc_len;
    uint8_t hash[PKI_HASH_LEN];
    size_t n_nodes;
    struct pki_sig sig[DIR_MAX_AUTHORITIES];   /* valid signatures over doc */
    bool have[DIR_MAX_AUTHORITIES];
    struct pki_sig early[DIR_MAX_AUTHORITIES]; /* arrived before we signed */
    uint8_t early_hash[DIR_MAX_AUTHORITIES][PKI_HASH_LEN];
    bool have_early[DIR_MAX_AUTHORITIES];
    bool mismatch[DIR_MAX_AUTHORITIES];        /* counted and logged once */
    bool explained[DIR_MAX_AUTHORITIES];       /* its document compared (explain_mismatch) */
};

struct published {
    uint64_t epoch;                            /* 0 = empty slot */
    uint8_t *bytes;
    size_t len;
    size_t n_sigs;
};

/* Everything counted; logged at info when changed (every stats_interval). */
struct counters {
    uint64_t uploads_accepted, uploads_unchanged;
    uint64_t rejected_bad_signature, rejected_malformed, rejected_not_registered;
    uint64_t rejected_stale, rejected_future, rejected_full, rejected_role;
    uint64_t bad_frames, unexpected_frames, send_drops;
    uint64_t doc_requests, doc_not_found, doc_busy;
    uint64_t peer_descs_merged, peer_descs_rejected, peer_sets_late;
    uint64_t sigs_accepted, sigs_bad, sigs_mismatch, sigs_unknown_signer;
    uint64_t docs_built, docs_published, docs_adopted;
};

struct peer {
    struct mixdir *d;
    size_t idx;
};

struct mixdir {
    struct dir_conf *cf;
    struct ev_loop *loop;
    uint8_t *sign_sk;                          /* sodium_malloc, 64 bytes */
    uint8_t sign_pk[PKI_KEY_LEN];
    uint8_t *link_sk;                          /* sodium_malloc, 32 bytes */
    uint8_t link_pk[PKI_KEY_LEN];
    size_t self;
    struct conn_mgr *cm;
    struct conn *peer_conn[DIR_MAX_AUTHORITIES];
    struct peer peer_tag[DIR_MAX_AUTHORITIES];
    struct dir_set descs;
    struct build builds[MAX_BUILDS];
    struct published pub[MAX_PUBLISHED];
    struct counters ctr, logged;
    uint64_t last_stats, last_keepalive;
    ev_timer tick;
    ev_signal sig_int, sig_term, sig_hup;
    const char *config;                        /* re-read on SIGHUP */
    struct dir_metrics *metrics;               /* [mixdir] metrics_listen, or NULL */
    uint64_t start_time, last_metrics;
    int lock_fd;                               /* flock on data_dir, -1 = none */
};

/* ------------------------------------------------------------ helpers */

static uint64_t now_s(const struct mixdir *d)
{
    return (uint64_t)ev_now(d->loop);
}

static uint64_t cur_epoch(const struct mixdir *d)
{
    return pki_epoch_of(&d->cf->timing, now_s(d));
}

static void hex8(const uint8_t *b, char out[17])
{
    for (int i = 0; i < 8; i++)
        snprintf(out + 2 * i, 3, "%02x", b[i]);
}

static void send_frame(struct mixdir *d, struct conn *c, const struct mix_frame *f)
{
    const char *why = NULL;
    size_t len;
    uint8_t *b = frame_encode_alloc(f, &len, &why);
    if (b == NULL) {
        log_warn("cannot encode %s frame: %s", frame_type_name(f->type), why ? why : "?");
        return;
    }
    if (conn_send(c, b, len) != CONN_OK)
        d->ctr.send_drops++;
    free(b);
}

static void send_error(struct mixdir *d, struct conn *c, uint32_t code, const char *reason)
{
    struct mix_frame f;
    memset(&f, 0, sizeof f);
    f.type = FRAME_ERROR;
    f.u.error.code = code;
    f.u.error.reason = reason;
    send_frame(d, c, &f);
}

/* Send to every peer authority over our outbound link to it. */
static void broadcast(struct mixdir *d, const struct mix_frame *f)
{
    for (size_t i = 0; i < d->cf->n_auth; i++)
        if (i != d->self && d->peer_conn[i] != NULL)
            send_frame(d, d->peer_conn[i], f);
}

/* Which peer authority is on this conn, or -1 for anyone else. */
static int peer_index(struct mixdir *d, struct conn *c)
{
    if (!conn_is_inbound(c)) {
        struct peer *p = conn_get_user(c);
        return p != NULL ? (int)p->idx : -1;
    }
    uint8_t k[PKI_KEY_LEN];
    if (!conn_remote_key(c, k))
        return -1;
    for (size_t i = 0; i < d->cf->n_auth; i++)
        if (i != d->self && sodium_memcmp(d->cf->auth[i].link_pk, k, PKI_KEY_LEN) == 0)
            return (int)i;
    return -1;
}

static int auth_index_by_sign_key(const struct mixdir *d, const uint8_t *key)
{
    for (size_t i = 0; i < d->cf->n_auth; i++)
        if (memcmp(d->cf->auth[i].sign_pk, key, PKI_KEY_LEN) == 0)
            return (int)i;
    return -1;
}

/* ------------------------------------------------------------ published documents */

static struct published *pub_find(struct mixdir *d, uint64_t epoch)
{
    for (size_t i = 0; i < MAX_PUBLISHED; i++)
        if (d->pub[i].epoch == epoch && epoch != 0)
            return &d->pub[i];
    return NULL;
}

/* Keep `bytes` (taken over) as the published document of `epoch`. */
static void pub_set(struct mixdir *d, uint64_t epoch, uint8_t *bytes, size_t len, size_t n_sigs)
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
static enum pki_err verify_doc(struct mixdir *d, const uint8_t *b, size_t len, uint64_t epoch,
                               uint64_t now, size_t *n_nodes)
{
    uint8_t (*keys)[PKI_KEY_LEN] = calloc(d->cf->n_auth, PKI_KEY_LEN);
    if (keys == NULL)
        return PKI_ERR_NOMEM;
    for (size_t i = 0; i < d->cf->n_auth; i++)
        memcpy(keys[i], d->cf->auth[i].sign_pk, PKI_KEY_LEN);
    struct pki_verify_opts o = {
        .authorities = (const uint8_t (*)[PKI_KEY_LEN])keys, .n_authorities = d->cf->n_auth,
        .threshold = d->cf->threshold, .now = now, .max_ahead = 0, .want_epoch = epoch,
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
#define FIELD(name, fa, fb)                                                                    \
    if ((uint64_t)(fa) != (uint64_t)(fb) && o < len)                                           \
        o += (size_t)snprintf(out + o, len - o, "%s%s %llu (theirs %llu)", o ? ", " : "", name, \
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

static struct build *build_find(struct mixdir *d, uint64_t epoch);

/*
 * A peer signed other bytes than ours for an epoch and sent us its document
 * (signed by itself only): say at warn which [network] parameters differ,
 * or that the descriptor sets do.  Decoded without trusting it: it is only
 * compared, never used.
 */
static void explain_mismatch(struct mixdir *d, size_t idx, uint64_t epoch, const uint8_t *b,
                             size_t len)
{
    struct build *bl = build_find(d, epoch);
    const uint8_t *db;
    size_t dlen, nsig;
    struct pki_sig *sigs = NULL;
    struct pki_doc *theirs = NULL, *ours = NULL;
    char diff[600];
    if (bl == NULL || bl->doc == NULL || !bl->mismatch[idx] || bl->explained[idx])
        return;
    if (pki_signed_doc_parse(b, len, &db, &dlen, &sigs, &nsig) != PKI_OK
        || pki_doc_decode(db, dlen, &theirs) != PKI_OK
        || pki_doc_decode(bl->doc, bl->doc_len, &ours) != PKI_OK)
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
static void adopt_document(struct mixdir *d, uint64_t epoch, const uint8_t *b, size_t len)
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
    log_info("epoch %llu: adopted the document of a peer (%zu nodes)",
             (unsigned long long)epoch, n_nodes);
}

/* ------------------------------------------------------------ descriptors */

/*
 * The checks for a descriptor we store, shared by uploads and peer sets.
 * Returns NULL if accepted, else the reason (and counts it when count).
 */
static const char *check_descriptor(struct mixdir *d, const uint8_t *b, size_t len,
                                    struct pki_descriptor *out, bool count)
{
    struct counters *c = &d->ctr;
    enum pki_err e = pki_descriptor_verify(b, len, out);
    uint64_t cur = cur_epoch(d);
    if (e == PKI_ERR_BAD_SIGNATURE) {
        if (count)
            c->rejected_bad_signature++;
        return "bad signature";
    }
    if (e != PKI_OK) {
        if (count)
            c->rejected_malformed++;
        return pki_strerror(e);
    }
    if (!dir_conf_node_allowed(d->cf, out->identity_key)) {
        if (count)
            c->rejected_not_registered++;
        return "node not registered";
    }
    /*
     * A key is bound to one role and layer: the one its `node =` line
     * names, else the one of the descriptor this authority holds for it
     * (the first accepted, until it expires).  A registered mix cannot
     * turn itself into a gateway or move to another layer.
     */
    uint32_t roles, layer;
    const struct dir_desc *held = dir_set_find(&d->descs, out->id);
    bool bound = dir_conf_node_binding(d->cf, out->identity_key, &roles, &layer);
    if (!bound && held != NULL) {
        roles = held->d.roles;
        layer = held->d.layer;
        bound = true;
    }
    if (bound && (out->roles != roles || out->layer != layer)) {
        if (count) {
            c->rejected_role++;
            char id[17];
            hex8(out->id, id);
            log_warn("node %s: descriptor claims roles %u layer %u, bound to roles %u layer %u: "
                     "refused", id, (unsigned)out->roles, (unsigned)out->layer, (unsigned)roles,
                     (unsigned)layer);
        }
        return "role or layer differs from the registered one";
    }
    if (dir_desc_last_epoch(out) < (cur > 0 ? cur : 1)) {
        if (count)
            c->rejected_stale++;
        return "stale: no Sphinx key for the current or a later epoch";
    }
    if (out->sphinx_keys[0].epoch > cur + d->cf->key_ahead_epochs) {
        if (count)
            c->rejected_future++;
        return "Sphinx keys too far in the future";
    }
    return NULL;
}

/* Store into the main set (and on disk).  Returns what dir_set_put said. */
static int store_descriptor(struct mixdir *d, const uint8_t *b, size_t len,
                            const struct pki_descriptor *pd)
{
    int r = dir_set_put(&d->descs, b, len, pd, d->cf->max_descriptors);
    if (r == 1) {
        const struct dir_desc *e = dir_set_find(&d->descs, pd->id);
        if (e != NULL && dir_store_save_desc(d->cf->data_dir, e) < 0)
            log_warn("cannot save a descriptor: %s", strerror(errno));
    }
    return r;
}

/* Why a descriptor we accept would still be left out of every document
 * (pki_doc_add's rules against our [network]), or NULL. */
static const char *unlistable(const struct mixdir *d, const struct pki_descriptor *pd, char *buf,
                              size_t len)
{
    uint32_t layers = d->cf->params.layers;
    if ((pd->roles & PKI_ROLE_MIX) && (pd->layer == 0 || pd->layer > layers)) {
        snprintf(buf, len, "its layer %u is outside [network] layers = %u", pd->layer, layers);
        return buf;
    }
    return NULL;
}

static void handle_upload(struct mixdir *d, struct conn *c, const struct mix_frame *f)
{
    struct pki_descriptor pd;
    const struct frame_buf *b = &f->u.desc_upload.signed_descriptor;
    const char *why = check_descriptor(d, b->ptr, b->len, &pd, true);
    int r = 0;
    if (why == NULL) {
        r = store_descriptor(d, b->ptr, b->len, &pd);
        if (r < 0) {
            d->ctr.rejected_full++;
            why = "descriptor store full";
        }
    }
    struct mix_frame reply;
    memset(&reply, 0, sizeof reply);
    reply.type = FRAME_DESCRIPTOR_UPLOAD_REPLY;
    reply.u.desc_reply.accepted = why == NULL;
    reply.u.desc_reply.reason = why != NULL ? why : (r == 1 ? "stored" : "unchanged");
    if (why == NULL) {
        char id[KEY_B64_MAX];
        key_to_b64(pd.id, PKI_KEY_LEN, id);
        char why_not[128];
        if (r == 1)
            d->ctr.uploads_accepted++;
        else
            d->ctr.uploads_unchanged++;
        if (r == 1 && unlistable(d, &pd, why_not, sizeof why_not) != NULL)
            log_warn("node %s: descriptor accepted but it cannot be listed: %s", id, why_not);
        log_debug("descriptor of node %s %s (keys to epoch %llu)", id,
                  r == 1 ? "stored" : "unchanged", (unsigned long long)dir_desc_last_epoch(&pd));
    } else {
        log_debug("descriptor upload refused: %s", why);
    }
    send_frame(d, c, &reply);
}

static void load_descriptor_cb(const uint8_t *b, size_t len, void *arg)
{
    struct mixdir *d = arg;
    struct pki_descriptor pd;
    if (check_descriptor(d, b, len, &pd, false) == NULL)
        (void)store_descriptor(d, b, len, &pd);
}

static void expired_cb(const uint8_t id[PKI_KEY_LEN], void *arg)
{
    struct mixdir *d = arg;
    dir_store_remove_desc(d->cf->data_dir, id);
}

/* ------------------------------------------------------------ building */

static struct build *build_find(struct mixdir *d, uint64_t epoch)
{
    for (size_t i = 0; i < MAX_BUILDS; i++)
        if (d->builds[i].phase != PH_FREE && d->builds[i].epoch == epoch)
            return &d->builds[i];
    return NULL;
}

static void build_clear(struct build *b)
{
    dir_set_clear(&b->set);
    free(b->doc);
    memset(b, 0, sizeof *b);
}

static void send_desc_set(struct mixdir *d, struct conn *c, const struct build *b)
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
static struct build *build_start(struct mixdir *d, uint64_t epoch)
{
    struct build *b = NULL;
    /* A free slot, else the oldest one if it is for a past epoch. */
    for (size_t i = 0; i < MAX_BUILDS; i++)
        if (b == NULL || d->builds[i].phase == PH_FREE
            || (b->phase != PH_FREE && d->builds[i].epoch < b->epoch))
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
        log_err("epoch %llu: signed document fails its own check: %s",
                (unsigned long long)b->epoch, pki_strerror(e));
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
                 "for its document to compare", (unsigned long long)b->epoch, idx + 1, theirs,
                 ours);
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

static void send_own_signature(struct mixdir *d, struct conn *c, const struct build *b)
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
                     unlistable(d, &b->set.v[i].d, why_not, sizeof why_not)
                         ? why_not : pki_strerror(e));
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
static void build_sign(struct mixdir *d, struct build *b)
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
    log_info("epoch %llu: signed document %s (%zu nodes, %zu bytes)",
             (unsigned long long)b->epoch, h, b->n_nodes, b->doc_len);
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
    if (b == NULL || b->phase != PH_EXCHANGE) {
        d->ctr.peer_sets_late++;
        return;
    }
    for (size_t i = 0; i < f->u.desc_set.n_descs; i++) {
        const struct frame_buf *fb = &f->u.desc_set.descs[i];
        struct pki_descriptor pd;
        if (check_descriptor(d, fb->ptr, fb->len, &pd, false) != NULL
            || pki_descriptor_sphinx_key(&pd, epoch) == NULL) {
            d->ctr.peer_descs_rejected++;
            continue;
        }
        int r = dir_set_put(&b->set, fb->ptr, fb->len, &pd, d->cf->max_descriptors);
        if (r == 1) {
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

static void handle_peer_frame(struct mixdir *d, struct conn *c, const struct mix_frame *f)
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
    case FRAME_DESCRIPTOR_SET:
        handle_desc_set(d, f);
        break;
    case FRAME_SIGNATURE_REQUEST: {
        struct build *b = build_find(d, f->u.sig_req.epoch);
        if (b != NULL && b->phase >= PH_SIGNED && b->doc != NULL)
            send_own_signature(d, c, b);
        break;
    }
    case FRAME_SIGNATURE_EXCHANGE:
        handle_sig(d, f);
        break;
    default:
        break;
    }
}

/* ------------------------------------------------------------ frames from anyone */

static void handle_doc_request(struct mixdir *d, struct conn *c, const struct mix_frame *f)
{
    uint64_t e = f->u.doc_req.epoch ? f->u.doc_req.epoch : cur_epoch(d);
    struct published *p = pub_find(d, e);
    d->ctr.doc_requests++;
    struct build *b = p == NULL && peer_index(d, c) >= 0 ? build_find(d, e) : NULL;
    if (b != NULL && b->phase >= PH_SIGNED && b->doc != NULL) {
        /* A peer authority comparing documents (explain_mismatch): ours,
         * signed by us alone, which no node would accept for k > 1. */
        uint8_t *out = NULL;
        size_t len = 0;
        if (pki_signed_doc_encode(b->doc, b->doc_len, &b->sig[d->self], 1, &out, &len) == PKI_OK) {
            struct mix_frame r;
            memset(&r, 0, sizeof r);
            r.type = FRAME_DOCUMENT_RESPONSE;
            r.u.doc_resp.epoch = e;
            r.u.doc_resp.signed_document = (struct frame_buf){ out, len };
            send_frame(d, c, &r);
        }
        free(out);
        return;
    }
    if (p == NULL) {
        d->ctr.doc_not_found++;
        send_error(d, c, FRAME_ERR_NOT_FOUND, "no document for that epoch");
        return;
    }
    /* An anonymous link holds at most one document's worth of answers
     * (max_frame + 64 KiB, its output cap): a peer that asks and never reads
     * gets nothing more, whatever it sends. */
    if (conn_out_pending(c) + p->len > d->cf->max_frame + 65536 && peer_index(d, c) < 0) {
        d->ctr.doc_busy++;
        return;
    }
    struct mix_frame r;
    memset(&r, 0, sizeof r);
    r.type = FRAME_DOCUMENT_RESPONSE;
    r.u.doc_resp.epoch = e;
    r.u.doc_resp.signed_document = (struct frame_buf){ p->bytes, p->len };
    send_frame(d, c, &r);
}

static void on_frame(struct conn *c, const uint8_t *bytes, size_t len, void *arg)
{
    struct mixdir *d = arg;
    struct mix_frame *f = NULL;
    const char *why = NULL;
    if (!frame_decode(bytes, len, d->cf->max_frame, &f, &why)) {
        d->ctr.bad_frames++;
        log_debug("conn %llu: bad frame: %s", (unsigned long long)conn_id(c), why);
        conn_close_bad(c);
        return;
    }
    int peer = peer_index(d, c);
    switch (f->type) {
    case FRAME_DESCRIPTOR_UPLOAD:
        handle_upload(d, c, f);
        break;
    case FRAME_DOCUMENT_REQUEST:
        handle_doc_request(d, c, f);
        break;
    case FRAME_DOCUMENT_RESPONSE:
        if (peer >= 0) {
            explain_mismatch(d, (size_t)peer, f->u.doc_resp.epoch,
                             f->u.doc_resp.signed_document.ptr, f->u.doc_resp.signed_document.len);
            adopt_document(d, f->u.doc_resp.epoch, f->u.doc_resp.signed_document.ptr,
                           f->u.doc_resp.signed_document.len);
        }
        else
            d->ctr.unexpected_frames++;
        break;
    case FRAME_DESCRIPTOR_SET_REQUEST:
    case FRAME_DESCRIPTOR_SET:
    case FRAME_SIGNATURE_REQUEST:
    case FRAME_SIGNATURE_EXCHANGE:
        if (peer >= 0) {
            handle_peer_frame(d, c, f);
        } else {
            d->ctr.unexpected_frames++;
            send_error(d, c, FRAME_ERR_UNAUTHORIZED, "authority frames only from authorities");
        }
        break;
    case FRAME_ERROR:
        log_debug("conn %llu: peer error %u: %s", (unsigned long long)conn_id(c),
                  f->u.error.code, f->u.error.reason ? f->u.error.reason : "");
        break;
    default:
        d->ctr.unexpected_frames++;
        send_error(d, c, FRAME_ERR_UNEXPECTED, "frame not served by a directory authority");
        break;
    }
    frame_free(f);
}

static void on_established(struct conn *c, void *arg)
{
    struct mixdir *d = arg;
    if (conn_is_inbound(c))
        return;
    struct peer *p = conn_get_user(c);
    log_info("link to authority %zu up", p->idx + 1);
    /* A fresh link: ask for what we may have missed while it was down. */
    uint64_t cur = cur_epoch(d);
    for (uint64_t e = cur; e <= cur + 1 && cur > 0; e++) {
        struct mix_frame f;
        memset(&f, 0, sizeof f);
        if (pub_find(d, e) == NULL) {
            f.type = FRAME_DOCUMENT_REQUEST;
            f.u.doc_req.epoch = e;
            send_frame(d, c, &f);
        }
        struct build *b = build_find(d, e);
        if (b != NULL && b->phase == PH_EXCHANGE) {
            send_desc_set(d, c, b);
            f.type = FRAME_DESCRIPTOR_SET_REQUEST;
            f.u.desc_set_req.epoch = e;
            send_frame(d, c, &f);
        } else if (b != NULL && b->phase >= PH_SIGNED && b->doc != NULL) {
            send_own_signature(d, c, b);
        }
    }
}

static void on_close(struct conn *c, enum conn_close_reason why, void *arg)
{
    (void)arg;
    if (!conn_is_inbound(c)) {
        struct peer *p = conn_get_user(c);
        log_debug("link to authority %zu down: %s", p->idx + 1, conn_close_reason_str(why));
    }
}

/*
 * Anyone may link to an authority (nodes upload, clients fetch), but a link
 * from a key that is not a peer authority's gets the short
 * anon_idle_timeout and may be closed at max_connections once idle for
 * evict_idle: idle links cannot keep uploads and fetches out.
 */
static bool on_authorize(struct conn *c, const uint8_t remote_pk[static LINK_KEY_LEN],
                         enum link_role role, void *arg)
{
    struct mixdir *d = arg;
    (void)role;
    for (size_t i = 0; i < d->cf->n_auth; i++)
        if (i != d->self && sodium_memcmp(d->cf->auth[i].link_pk, remote_pk, PKI_KEY_LEN) == 0)
            return true;
    /* Output: one document (at most max_frame) and a little more. */
    conn_set_limits(c, d->cf->max_frame + 65536, d->cf->anon_idle_timeout);
    conn_set_evictable(c);
    return true;
}

/* ------------------------------------------------------------ schedule */

/* What the abuse limits did (docs/abuse.md), logged when it changed. */
static void log_limits(struct mixdir *d, const struct conn_stats *cs)
{
    static uint64_t last;
    uint64_t sum = cs->refused_max_conns + cs->refused_per_addr + cs->refused_rate +
                   cs->evicted_half_open + cs->evicted_idle + cs->hs_timeouts +
                   cs->idle_timeouts + d->ctr.doc_busy + d->ctr.rejected_role;
    if (sum == last)
        return;
    last = sum;
    log_info("limits: refused_max_conns=%llu refused_per_addr=%llu refused_rate=%llu "
             "evicted_half_open=%llu evicted_idle=%llu handshake_timeouts=%llu "
             "idle_timeouts=%llu doc_busy=%llu rejected_role=%llu",
             (unsigned long long)cs->refused_max_conns, (unsigned long long)cs->refused_per_addr,
             (unsigned long long)cs->refused_rate, (unsigned long long)cs->evicted_half_open,
             (unsigned long long)cs->evicted_idle, (unsigned long long)cs->hs_timeouts,
             (unsigned long long)cs->idle_timeouts, (unsigned long long)d->ctr.doc_busy,
             (unsigned long long)d->ctr.rejected_role);
}

static void log_counters(struct mixdir *d, bool force)
{
    const struct counters *c = &d->ctr;
    struct conn_stats cs;
    conn_mgr_get_stats(d->cm, &cs);
    log_limits(d, &cs);
    if (!force && memcmp(c, &d->logged, sizeof *c) == 0)
        return;
    d->logged = *c;
    log_info("counters: uploads_accepted=%llu uploads_unchanged=%llu "
             "rejected_bad_signature=%llu rejected_malformed=%llu rejected_not_registered=%llu "
             "rejected_stale=%llu rejected_future=%llu rejected_full=%llu bad_frames=%llu "
             "unexpected_frames=%llu send_drops=%llu doc_requests=%llu doc_not_found=%llu "
             "peer_descs_merged=%llu peer_descs_rejected=%llu peer_sets_late=%llu "
             "sigs_accepted=%llu sigs_bad=%llu sigs_mismatch=%llu sigs_unknown_signer=%llu "
             "docs_built=%llu docs_published=%llu docs_adopted=%llu conns_open=%llu "
             "conns_refused=%llu link_errors=%llu",
             (unsigned long long)c->uploads_accepted, (unsigned long long)c->uploads_unchanged,
             (unsigned long long)c->rejected_bad_signature,
             (unsigned long long)c->rejected_malformed,
             (unsigned long long)c->rejected_not_registered,
             (unsigned long long)c->rejected_stale, (unsigned long long)c->rejected_future,
             (unsigned long long)c->rejected_full, (unsigned long long)c->bad_frames,
             (unsigned long long)c->unexpected_frames, (unsigned long long)c->send_drops,
             (unsigned long long)c->doc_requests, (unsigned long long)c->doc_not_found,
             (unsigned long long)c->peer_descs_merged, (unsigned long long)c->peer_descs_rejected,
             (unsigned long long)c->peer_sets_late, (unsigned long long)c->sigs_accepted,
             (unsigned long long)c->sigs_bad, (unsigned long long)c->sigs_mismatch,
             (unsigned long long)c->sigs_unknown_signer, (unsigned long long)c->docs_built,
             (unsigned long long)c->docs_published, (unsigned long long)c->docs_adopted,
             (unsigned long long)cs.open,
             (unsigned long long)(cs.refused_max_conns + cs.refused_per_addr),
             (unsigned long long)cs.link_errors);
}

/* The counters in Prometheus text, for dir_metrics (I/O thread only). */
static void update_metrics(struct mixdir *d)
{
    const struct counters *c = &d->ctr;
    struct conn_stats cs;
    char buf[8192];
    size_t o = 0;
    uint64_t cur = cur_epoch(d);
    struct published *p = pub_find(d, cur);
    if (d->metrics == NULL)
        return;
    conn_mgr_get_stats(d->cm, &cs);
#define C(name, help, v)                                                                        \
    if (o < sizeof buf)                                                                         \
        o += (size_t)snprintf(buf + o, sizeof buf - o,                                          \
                              "# HELP mixdir_" name " " help "\n# TYPE mixdir_" name          \
                              " counter\nmixdir_" name " %llu\n", (unsigned long long)(v));
#define G(name, help, v)                                                                        \
    if (o < sizeof buf)                                                                         \
        o += (size_t)snprintf(buf + o, sizeof buf - o,                                          \
                              "# HELP mixdir_" name " " help "\n# TYPE mixdir_" name          \
                              " gauge\nmixdir_" name " %llu\n", (unsigned long long)(v));
    C("uploads_accepted_total", "Descriptor uploads stored.", c->uploads_accepted)
    C("uploads_unchanged_total", "Descriptor uploads identical to the stored one.",
      c->uploads_unchanged)
    C("uploads_rejected_bad_signature_total", "Uploads refused: bad signature.",
      c->rejected_bad_signature)
    C("uploads_rejected_malformed_total", "Uploads refused: malformed.", c->rejected_malformed)
    C("uploads_rejected_not_registered_total", "Uploads refused: not in [registration].",
      c->rejected_not_registered)
    C("uploads_rejected_stale_total", "Uploads refused: keys too old.", c->rejected_stale)
    C("uploads_rejected_future_total", "Uploads refused: keys too far ahead.", c->rejected_future)
    C("uploads_rejected_full_total", "Uploads refused: store full.", c->rejected_full)
    C("bad_frames_total", "Frames that did not decode.", c->bad_frames)
    C("unexpected_frames_total", "Frames of a type not served here.", c->unexpected_frames)
    C("document_requests_total", "Document requests.", c->doc_requests)
    C("document_not_found_total", "Document requests for an epoch without a document.",
      c->doc_not_found)
    C("peer_descriptors_merged_total", "Descriptors merged from peer authorities.",
      c->peer_descs_merged)
    C("signatures_accepted_total", "Peer signatures over our document.", c->sigs_accepted)
    C("signatures_mismatch_total", "Peer signatures over another document.", c->sigs_mismatch)
    C("documents_built_total", "Documents built and signed.", c->docs_built)
    C("documents_published_total", "Documents published with the threshold of signatures.",
      c->docs_published)
    C("documents_adopted_total", "Documents taken from a peer.", c->docs_adopted)
    G("connections", "Open connections.", cs.open)
    C("connections_refused_total", "Connections refused by the limits.",
      cs.refused_max_conns + cs.refused_per_addr)
    G("epoch", "Current epoch.", cur)
    G("document_published", "1 if the current epoch's document is published.", p != NULL)
    G("descriptors", "Descriptors held.", d->descs.n)
    G("start_time_seconds", "Unix time the process started.", d->start_time)
#undef C
#undef G
    if (o < sizeof buf)
        o += (size_t)snprintf(buf + o, sizeof buf - o,
                              "# HELP mixdir_build_info The running version.\n"
                              "# TYPE mixdir_build_info gauge\n"
                              "mixdir_build_info{version=\"%s\"} 1\n", MIX_VERSION);
    if (o >= sizeof buf)
        o = sizeof buf - 1;
    dir_metrics_set(d->metrics, buf, o, p != NULL);
}

/* Forget documents and builds older than the previous epoch. */
static void expire_old(struct mixdir *d, uint64_t cur)
{
    for (size_t i = 0; i < MAX_BUILDS; i++)
        if (d->builds[i].phase != PH_FREE && d->builds[i].epoch + 1 < cur)
            build_clear(&d->builds[i]);
    for (size_t i = 0; i < MAX_PUBLISHED; i++)
        if (d->pub[i].epoch != 0 && d->pub[i].epoch + 1 < cur) {
            dir_store_remove_doc(d->cf->data_dir, d->pub[i].epoch);
            free(d->pub[i].bytes);
            memset(&d->pub[i], 0, sizeof d->pub[i]);
        }
    dir_set_expire(&d->descs, cur, expired_cb, d);
}

/*
 * Peer links are quiet between votes, and the peer's idle timeout would
 * close them: a SignatureRequest for epoch 0 (never answered) keeps them up.
 */
static void keepalive(struct mixdir *d, uint64_t now)
{
    uint64_t every = (uint64_t)(d->cf->idle_timeout / 3);
    if (d->cf->idle_timeout <= 0 || now < d->last_keepalive + (every ? every : 1))
        return;
    d->last_keepalive = now;
    struct mix_frame f;
    memset(&f, 0, sizeof f);
    f.type = FRAME_SIGNATURE_REQUEST;
    f.u.sig_req.epoch = 0;
    for (size_t i = 0; i < d->cf->n_auth; i++)
        if (d->peer_conn[i] != NULL && conn_get_state(d->peer_conn[i]) == CONN_STATE_ESTABLISHED)
            send_frame(d, d->peer_conn[i], &f);
}

static void tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct mixdir *d = w->data;
    (void)loop;
    (void)revents;
    uint64_t now = now_s(d), cur = cur_epoch(d);
    const struct dir_conf *cf = d->cf;
    uint64_t next = cur + 1;
    if (cur > 0)
        expire_old(d, cur);
    /* The current epoch, only when we start without its document. */
    if (cur > 0 && pub_find(d, cur) == NULL && build_find(d, cur) == NULL)
        (void)build_start(d, cur);
    if (now + cf->vote_lead_s >= pki_epoch_start(&cf->timing, next) && pub_find(d, next) == NULL
        && build_find(d, next) == NULL)
        (void)build_start(d, next);
    for (size_t i = 0; i < MAX_BUILDS; i++) {
        struct build *b = &d->builds[i];
        if (b->phase == PH_EXCHANGE && now >= b->sign_at) {
            build_sign(d, b);
            b->last_push = now;
        } else if (b->phase == PH_SIGNED && now >= b->last_push + 2) {
            /* Not published yet: a peer may have missed our signature. */
            send_own_signature(d, NULL, b);
            b->last_push = now;
        }
    }
    keepalive(d, now);
    if (now != d->last_metrics) {
        d->last_metrics = now;
        update_metrics(d);
    }
    if (now >= d->last_stats + cf->stats_interval_s) {
        d->last_stats = now;
        log_counters(d, false);
    }
}

static void signal_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
    (void)revents;
    log_info("signal %d: shutting down", w->signum);
    ev_break(loop, EVBREAK_ALL);
}

static const char *const level_names[] = { "error", "warn", "info", "debug" };

static void limits_of(const struct dir_conf *cf, struct conn_limits *lim)
{
    memset(lim, 0, sizeof *lim);
    lim->max_conns = cf->max_connections;
    lim->max_per_addr = cf->max_per_address;
    lim->max_frame = cf->max_frame;
    lim->handshake_timeout = cf->handshake_timeout;
    lim->idle_timeout = cf->idle_timeout;
    lim->evict_idle = cf->evict_idle;
    lim->accept_rate = (double)cf->accept_rate;
    lim->accept_burst = (double)cf->accept_burst;
    lim->backoff_min = 0.25;
    lim->backoff_max = 5.0;
}

/* What a reload cannot change: the network every authority must agree on,
 * the address and the keys.  NULL if unchanged, else the first section. */
static const char *fixed_change(const struct dir_conf *a, const struct dir_conf *b)
{
    if (strcmp(a->listen, b->listen) != 0 || strcmp(a->data_dir, b->data_dir) != 0
        || strcmp(a->identity_key_path, b->identity_key_path) != 0
        || strcmp(a->link_key_path, b->link_key_path) != 0 || strcmp(a->log_file, b->log_file) != 0
        || a->use_syslog != b->use_syslog)
        return "[mixdir] listen, data_dir, keys or log sink";
    if (a->n_auth != b->n_auth || a->threshold != b->threshold
        || memcmp(a->auth, b->auth, a->n_auth * sizeof a->auth[0]) != 0
        || memcmp(&a->timing, &b->timing, sizeof a->timing) != 0
        || a->vote_lead_s != b->vote_lead_s || a->exchange_window_s != b->exchange_window_s
        || a->key_ahead_epochs != b->key_ahead_epochs
        || memcmp(&a->params, &b->params, sizeof a->params) != 0)
        return "[network]";
    return NULL;
}

/*
 * SIGHUP: read the configuration again.  The registration list, the limits,
 * the log level and stats interval apply at once (a node taken off the list
 * is left out of the next documents), the log is reopened; a change to
 * [network] or to the address and keys is reported and waits for a
 * restart.  A configuration that no longer loads changes nothing.
 */
static void hup_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
    struct mixdir *d = w->data;
    char err[4096];
    (void)loop;
    (void)revents;
    if (mix_log_reopen(err, sizeof err) < 0)
        log_err("SIGHUP: %s", err);
    struct dir_conf *nc = dir_conf_load(d->config, err, sizeof err);
    if (nc == NULL) {
        log_err("SIGHUP: %s; the running configuration stays", err);
        return;
    }
    struct dir_conf *cf = d->cf;
    const char *fixed = fixed_change(cf, nc);
    if (fixed != NULL)
        log_warn("SIGHUP: %s changed in %s: that takes a restart (and the same change at every "
                 "authority); applying the rest", fixed, d->config);
    /* The list and its bindings change together (the old pair is freed with nc). */
    uint8_t (*old)[PKI_KEY_LEN] = cf->allowed;
    struct dir_binding *old_binding = cf->binding;
    cf->allowed = nc->allowed;
    cf->binding = nc->binding;
    cf->n_allowed = nc->n_allowed;
    cf->open_registration = nc->open_registration;
    nc->allowed = old;
    nc->binding = old_binding;
    cf->max_connections = nc->max_connections;
    cf->max_per_address = nc->max_per_address;
    cf->max_frame = nc->max_frame;
    cf->max_descriptors = nc->max_descriptors;
    cf->handshake_timeout = nc->handshake_timeout;
    cf->idle_timeout = nc->idle_timeout;
    cf->anon_idle_timeout = nc->anon_idle_timeout;
    cf->evict_idle = nc->evict_idle;
    cf->accept_rate = nc->accept_rate;
    cf->accept_burst = nc->accept_burst;
    cf->log_level = nc->log_level;
    cf->stats_interval_s = nc->stats_interval_s;
    dir_conf_free(nc);
    struct conn_limits lim;
    limits_of(cf, &lim);
    conn_mgr_set_limits(d->cm, &lim);
    /* The line is written at info whatever the new level is. */
    mix_log_set_level(MIX_LOG_INFO > cf->log_level ? MIX_LOG_INFO : cf->log_level);
    log_info("SIGHUP: %s reloaded: registration %s (%zu nodes listed), limits "
             "max_connections=%llu max_per_address=%llu max_descriptors=%llu, log level %s",
             d->config, cf->open_registration ? "open" : "by list", cf->n_allowed,
             (unsigned long long)cf->max_connections, (unsigned long long)cf->max_per_address,
             (unsigned long long)cf->max_descriptors, level_names[cf->log_level]);
    mix_log_set_level((enum mix_log_level)cf->log_level);
}

/* ------------------------------------------------------------ start and stop */

static int load_keys(struct mixdir *d, char *err, size_t errlen)
{
    d->sign_sk = sodium_malloc(PKI_SECRET_KEY_LEN);
    d->link_sk = sodium_malloc(PKI_KEY_LEN);
    if (d->sign_sk == NULL || d->link_sk == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (keyfile_read(d->cf->identity_key_path, KEYFILE_ED25519_SECRET, d->sign_sk, err,
                     errlen) < 0
        || keyfile_read(d->cf->link_key_path, KEYFILE_X25519_SECRET, d->link_sk, err, errlen) < 0)
        return -1;
    memcpy(d->sign_pk, d->sign_sk + 32, PKI_KEY_LEN);
    if (crypto_scalarmult_base(d->link_pk, d->link_sk) != 0) {
        snprintf(err, errlen, "%.300s: invalid X25519 key", d->cf->link_key_path);
        return -1;
    }
    int idx = auth_index_by_sign_key(d, d->sign_pk);
    if (idx < 0) {
        snprintf(err, errlen, "this authority's signing key (%.300s) is not in the "
                 "[network] authority lines", d->cf->identity_key_path);
        return -1;
    }
    if (memcmp(d->cf->auth[idx].link_pk, d->link_pk, PKI_KEY_LEN) != 0) {
        snprintf(err, errlen, "the authority line of this authority names another link key "
                 "than %.300s", d->cf->link_key_path);
        return -1;
    }
    d->self = (size_t)idx;
    return 0;
}

static void mixdir_free(struct mixdir *d)
{
    if (d == NULL)
        return;
    dir_metrics_stop(d->metrics);
    conn_mgr_free(d->cm);
    if (d->lock_fd >= 0)
        close(d->lock_fd);
    for (size_t i = 0; i < MAX_BUILDS; i++)
        build_clear(&d->builds[i]);
    for (size_t i = 0; i < MAX_PUBLISHED; i++)
        free(d->pub[i].bytes);
    dir_set_clear(&d->descs);
    sodium_free(d->sign_sk);
    sodium_free(d->link_sk);
    dir_conf_free(d->cf);
    free(d);
}

/* Load config and keys; with check_only stop there.  NULL with err. */
static struct mixdir *mixdir_new(const char *path, char *err, size_t errlen)
{
    struct mixdir *d = calloc(1, sizeof *d);
    if (d == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    d->lock_fd = -1;
    dir_set_init(&d->descs);
    d->cf = dir_conf_load(path, err, errlen);
    if (d->cf == NULL || load_keys(d, err, errlen) < 0) {
        mixdir_free(d);
        return NULL;
    }
    return d;
}

static void load_state(struct mixdir *d)
{
    uint64_t cur = cur_epoch(d);
    size_t n = dir_store_load_descs(d->cf->data_dir, load_descriptor_cb, d);
    log_info("loaded %zu of %zu stored descriptors", d->descs.n, n);
    for (uint64_t e = cur; e <= cur + 1 && cur > 0; e++) {
        uint8_t *b;
        size_t len, nodes = 0;
        if (dir_store_load_doc(d->cf->data_dir, e, &b, &len) < 0)
            continue;
        if (verify_doc(d, b, len, e, now_s(d), &nodes) == PKI_OK) {
            pub_set(d, e, b, len, 0);
            log_info("epoch %llu: loaded the stored document (%zu nodes)", (unsigned long long)e,
                     nodes);
        } else {
            free(b);
        }
    }
}

static int mixdir_start(struct mixdir *d, char *err, size_t errlen)
{
    const struct dir_conf *cf = d->cf;
    struct conn_limits lim;
    limits_of(cf, &lim);
    struct conn_callbacks cb = { on_authorize, on_established, on_frame, on_close };
    d->cm = conn_mgr_new(d->loop, d->link_sk, d->link_pk, &lim, &cb, d);
    if (d->cm == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (conn_listen(d->cm, cf->listen, NULL, err, errlen) < 0)
        return -1;
    d->start_time = now_s(d);
    if (cf->metrics_listen[0] && !(d->metrics = dir_metrics_start(cf->metrics_listen, err, errlen)))
        return -1;
    load_state(d);
    for (size_t i = 0; i < cf->n_auth; i++) {
        if (i == d->self)
            continue;
        d->peer_tag[i] = (struct peer){ d, i };
        d->peer_conn[i] = conn_dial(d->cm, cf->auth[i].addr, cf->auth[i].link_pk,
                                    LINK_ROLE_AUTHORITY, true, &d->peer_tag[i]);
        if (d->peer_conn[i] == NULL) {
            snprintf(err, errlen, "cannot dial authority %zu at %s", i + 1, cf->auth[i].addr);
            return -1;
        }
    }
    ev_timer_init(&d->tick, tick_cb, TICK_SECONDS, TICK_SECONDS);
    d->tick.data = d;
    ev_timer_start(d->loop, &d->tick);
    ev_signal_init(&d->sig_int, signal_cb, SIGINT);
    ev_signal_init(&d->sig_term, signal_cb, SIGTERM);
    ev_signal_start(d->loop, &d->sig_int);
    ev_signal_start(d->loop, &d->sig_term);
    ev_signal_init(&d->sig_hup, hup_cb, SIGHUP);
    d->sig_hup.data = d;
    ev_signal_start(d->loop, &d->sig_hup);
    return 0;
}

/* ------------------------------------------------------------ keygen and main */

static int keygen(const char *dir, const char *addr)
{
    char path[1200], err[256], ed[KEY_B64_MAX], x[KEY_B64_MAX];
    uint8_t *sk = sodium_malloc(crypto_sign_SECRETKEYBYTES), pk[crypto_sign_PUBLICKEYBYTES];
    uint8_t *xsk = sodium_malloc(32), xpk[32];
    int rc = 1;
    if (sk == NULL || xsk == NULL)
        goto out;
    if (keyfile_mkdirs(dir, err, sizeof err) < 0) {
        fprintf(stderr, "mixdir: %s\n", err);
        goto out;
    }
    crypto_sign_keypair(pk, sk);
    crypto_box_keypair(xpk, xsk);
    snprintf(path, sizeof path, "%s/identity.key", dir);
    if (keyfile_write(path, KEYFILE_ED25519_SECRET, sk, false, err, sizeof err) < 0) {
        fprintf(stderr, "mixdir: %s\n", err);
        goto out;
    }
    snprintf(path, sizeof path, "%s/link.key", dir);
    if (keyfile_write(path, KEYFILE_X25519_SECRET, xsk, false, err, sizeof err) < 0) {
        fprintf(stderr, "mixdir: %s\n", err);
        goto out;
    }
    key_to_b64(pk, sizeof pk, ed);
    key_to_b64(xpk, sizeof xpk, x);
    printf("authority = %s %s %s\n", addr ? addr : "HOST:PORT", ed, x);
    rc = 0;
out:
    sodium_free(sk);
    sodium_free(xsk);
    return rc;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: mixdir -c FILE          run the directory authority\n"
            "       mixdir -n -c FILE       check the configuration and keys, then exit\n"
            "       mixdir keygen -d DIR [-a HOST:PORT]\n"
            "                               create identity.key and link.key in DIR and print\n"
            "                               the `authority =` line for the configs\n"
            "       mixdir pubkey -d DIR [-a HOST:PORT] | -c FILE\n"
            "                               print the `authority =` line again from the key\n"
            "                               files (fingerprint is the same command)\n"
            "       mixdir fetch -c FILE [-A HOST:PORT] [-e EPOCH] [-o FILE] [-v]\n"
            "                               fetch and verify the document the authorities serve\n"
            "                               (FILE: a mixdir, mixnode or mixclient configuration)\n"
            "options: -c, --config FILE   -n, --check   -h, --help   -V, --version\n"
            "See mixdir(8) and mixdir.conf(5).\n");
}

/* The authority line of the keys in dir (identity.key, link.key). */
static int pubkey_dir(const char *dir, const char *addr)
{
    char path[1200], err[1300], ed[KEY_B64_MAX], x[KEY_B64_MAX];
    uint8_t *sk = sodium_malloc(crypto_sign_SECRETKEYBYTES + 32), xpk[32];
    int rc = 1;
    if (sk == NULL)
        return 1;
    snprintf(path, sizeof path, "%s/identity.key", dir);
    if (keyfile_read(path, KEYFILE_ED25519_SECRET, sk, err, sizeof err) < 0)
        goto out;
    snprintf(path, sizeof path, "%s/link.key", dir);
    if (keyfile_read(path, KEYFILE_X25519_SECRET, sk + crypto_sign_SECRETKEYBYTES, err,
                     sizeof err) < 0)
        goto out;
    crypto_scalarmult_base(xpk, sk + crypto_sign_SECRETKEYBYTES);
    key_to_b64(sk + 32, PKI_KEY_LEN, ed);
    key_to_b64(xpk, sizeof xpk, x);
    printf("authority = %s %s %s\n", addr ? addr : "HOST:PORT", ed, x);
    rc = 0;
out:
    if (rc)
        fprintf(stderr, "mixdir: %s\n", err);
    sodium_free(sk);
    return rc;
}

static struct mixdir *mixdir_new(const char *path, char *err, size_t errlen);
static void mixdir_free(struct mixdir *d);

/* pubkey (fingerprint) -d DIR [-a HOST:PORT] | -c FILE: with a configuration,
 * its own `authority =` line, exactly as the others must list it. */
static int pubkey_main(int argc, char **argv)
{
    const char *dir = NULL, *addr = NULL, *config = NULL;
    int ch;
    optind = 1;
    while ((ch = getopt(argc, argv, "d:a:c:h")) != -1) {
        switch (ch) {
        case 'd': dir = optarg; break;
        case 'a': addr = optarg; break;
        case 'c': config = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if ((dir == NULL) == (config == NULL) || optind != argc) {
        usage(stderr);
        return 2;
    }
    if (dir != NULL)
        return pubkey_dir(dir, addr);
    char err[4096], ed[KEY_B64_MAX], x[KEY_B64_MAX];
    struct mixdir *d = mixdir_new(config, err, sizeof err);
    if (d == NULL) {
        fprintf(stderr, "mixdir: %s\n", err);
        return 1;
    }
    const struct authority *a = &d->cf->auth[d->self];
    key_to_b64(a->sign_pk, PKI_KEY_LEN, ed);
    key_to_b64(a->link_pk, PKI_KEY_LEN, x);
    printf("authority = %s %s %s\n", a->addr, ed, x);
    mixdir_free(d);
    return 0;
}

static int keygen_main(int argc, char **argv)
{
    const char *dir = NULL, *addr = NULL;
    int ch;
    optind = 1;
    while ((ch = getopt(argc, argv, "d:a:h")) != -1) {
        switch (ch) {
        case 'd': dir = optarg; break;
        case 'a': addr = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (dir == NULL || optind != argc) {
        usage(stderr);
        return 2;
    }
    char host[PKI_ADDR_MAX + 1];
    uint16_t port;
    if (addr != NULL && !conn_parse_hostport(addr, host, sizeof host, &port)) {
        fprintf(stderr, "mixdir: bad address \"%s\" (want HOST:PORT)\n", addr);
        return 2;
    }
    return keygen(dir, addr);
}

/*
 * A digest of everything every authority must agree on: the authority lines,
 * the threshold, and the parameters as the canonical document encodes them
 * (epoch 1, no nodes).  Equal digests mean the authorities will sign the
 * same documents; `mixdir -n` prints it to compare before starting.
 */
static void network_digest(const struct dir_conf *cf, char out[33])
{
    crypto_generichash_state st;
    uint8_t h[16], thr[8];
    struct pki_params p = cf->params;
    uint8_t *doc = NULL;
    size_t len = 0;
    p.epoch = 1;
    p.timing = cf->timing;
    crypto_generichash_init(&st, NULL, 0, sizeof h);
    struct pki_doc *d = pki_doc_new(&p);
    if (d != NULL && pki_doc_encode(d, &doc, &len) == PKI_OK)
        crypto_generichash_update(&st, doc, len);
    free(doc);
    pki_doc_free(d);
    for (size_t i = 0; i < cf->n_auth; i++) {
        crypto_generichash_update(&st, (const uint8_t *)cf->auth[i].addr,
                                  strlen(cf->auth[i].addr) + 1);
        crypto_generichash_update(&st, cf->auth[i].sign_pk, PKI_KEY_LEN);
        crypto_generichash_update(&st, cf->auth[i].link_pk, PKI_KEY_LEN);
    }
    for (int i = 0; i < 8; i++)
        thr[i] = (uint8_t)((uint64_t)cf->threshold >> (8 * i));
    crypto_generichash_update(&st, thr, sizeof thr);
    crypto_generichash_final(&st, h, sizeof h);
    sodium_bin2hex(out, 33, h, sizeof h);
}

static int run(const char *config, bool check_only)
{
    char err[4096];
    struct mixdir *d = mixdir_new(config, err, sizeof err);
    if (d == NULL) {
        /* One line per problem, each with FILE:LINE (sys/conf.h). */
        for (char *l = strtok(err, "\n"); l; l = strtok(NULL, "\n"))
            fprintf(stderr, "mixdir: %s\n", l);
        return 1;
    }
    char digest[33];
    network_digest(d->cf, digest);
    if (check_only) {
        const struct pki_params *p = &d->cf->params;
        static const char *const strat[] = { "poisson", "timed_pool", "threshold" };
        printf("mixdir: %s: configuration OK (authority %zu of %zu, threshold %zu, "
               "epoch %llus)\n", config, d->self + 1, d->cf->n_auth, d->cf->threshold,
               (unsigned long long)d->cf->timing.epoch_len);
        printf("network digest %s (must be the same at every authority)\n", digest);
        printf("  authorities %zu threshold %zu genesis %llu epoch_length %llus grace %llus\n"
               "  layers %u max_hops %u payload_len %u mean_delay %lluus max_delay %lluus\n"
               "  lambda_p %.3f lambda_l %.3f lambda_d %.3f lambda_m %.3f strategy %s\n",
               d->cf->n_auth, d->cf->threshold, (unsigned long long)d->cf->timing.genesis,
               (unsigned long long)d->cf->timing.epoch_len,
               (unsigned long long)d->cf->timing.grace, p->layers, p->max_hops, p->payload_len,
               (unsigned long long)p->mean_delay_us, (unsigned long long)p->max_delay_us,
               p->lambda_p_mhz / 1000.0, p->lambda_l_mhz / 1000.0, p->lambda_d_mhz / 1000.0,
               p->lambda_m_mhz / 1000.0, p->strategy < 3 ? strat[p->strategy] : "?");
        mixdir_free(d);
        return 0;
    }
    d->config = config;
    /* Before the log moves to a file: a refusal must reach the terminal. */
    if (dir_store_init(d->cf->data_dir, err, sizeof err) < 0
        || (d->lock_fd = mix_dir_lock(d->cf->data_dir, "mixdir", err, sizeof err)) < 0) {
        fprintf(stderr, "mixdir: %s\n", err);
        mixdir_free(d);
        return 1;
    }
    if (d->cf->log_file[0] && mix_log_set_file(d->cf->log_file, err, sizeof err) < 0) {
        fprintf(stderr, "mixdir: %s\n", err);
        mixdir_free(d);
        return 1;
    }
    mix_log_init("mixdir", (enum mix_log_level)d->cf->log_level, d->cf->use_syslog);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGHUP, SIG_IGN); /* until the loop handles it (hup_cb) */
    d->loop = ev_default_loop(EVFLAG_AUTO);
    if (mixdir_start(d, err, sizeof err) < 0) {
        log_err("%s", err);
        mixdir_free(d);
        return 1;
    }
    log_info("authority %zu of %zu listening on %s (epoch %llu, threshold %zu, network digest "
             "%s)", d->self + 1, d->cf->n_auth, d->cf->listen, (unsigned long long)cur_epoch(d),
             d->cf->threshold, digest);
    ev_run(d->loop, 0);
    log_counters(d, true);
    mixdir_free(d); /* descriptors and documents are saved as they change */
    log_info("stopped");
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' }, { "check", no_argument, NULL, 'n' },
        { "help", no_argument, NULL, 'h' },         { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    const char *config = NULL;
    bool check = false;
    int ch;
    if (sodium_init() < 0) {
        fprintf(stderr, "mixdir: libsodium failed to initialise\n");
        return 1;
    }
    mix_log_init("mixdir", MIX_LOG_INFO, false);
    if (argc > 1 && strcmp(argv[1], "keygen") == 0)
        return keygen_main(argc - 1, argv + 1);
    if (argc > 1 && (strcmp(argv[1], "pubkey") == 0 || strcmp(argv[1], "fingerprint") == 0))
        return pubkey_main(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "fetch") == 0)
        return dir_fetch_main(argc - 1, argv + 1);
    while ((ch = getopt_long(argc, argv, "c:nhV", opts, NULL)) != -1) {
        switch (ch) {
        case 'c': config = optarg; break;
        case 'n': check = true; break;
        case 'h': usage(stdout); return 0;
        case 'V': printf("mixdir %s\n", MIX_VERSION); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (config == NULL || optind != argc) {
        usage(stderr);
        return 2;
    }
    return run(config, check);
}
