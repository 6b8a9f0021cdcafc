/*
 * node_dir: the node's side of the directory.
 *
 * Every poll interval the node dials each authority (a short Noise link,
 * role "node") when it still needs something from it: it uploads its signed
 * descriptor (Sphinx public keys for the current and the next epoch) until
 * that authority accepted it for the current epoch, and asks for the
 * documents of the current and the next epoch while it lacks them.  A
 * document is used only after pki_verify() found k valid signatures of the
 * configured authorities.  Optionally a signed document is also read from a
 * file (directory.document_file), verified exactly the same way.
 *
 * Epochs follow the clock with the network's timing (genesis, epoch length,
 * grace), which only the signed document carries: a node configures the
 * authorities and the threshold, nothing else about the network.  Until it
 * knows the timing (from a copy of the last document kept in data_dir, or
 * from an authority asked for its current document and for epoch 1) the node
 * has no epoch and uploads nothing.  Timing that the configuration states
 * (optional genesis/epoch_length/grace) and a mix layer the network lacks
 * are reported in one warning line.  At a boundary the next document becomes
 * current, the previous one is kept through the grace period (its nodes may
 * still link to us), and the key set rotates (node_keys.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "log.h"
#include "node.h"

const struct pki_descriptor *node_dir_find(struct node *n, const uint8_t id[static PKI_KEY_LEN])
{
    struct pki_doc *docs[3] = { n->doc_cur, n->doc_next, n->doc_prev };
    for (int i = 0; i < 3; i++) {
        const struct pki_descriptor *d = docs[i] ? pki_doc_find(docs[i], id) : NULL;
        if (d)
            return d;
    }
    return NULL;
}

bool node_dir_knows_link_key(struct node *n, const uint8_t key[static PKI_KEY_LEN])
{
    struct pki_doc *docs[3] = { n->doc_cur, n->doc_next, n->doc_prev };
    for (int i = 0; i < 3; i++)
        if (docs[i] && pki_doc_find_link_key(docs[i], key))
            return true;
    return false;
}

/* Make the current document's parameters the node's: geometry, mixing, timing. */
static void apply_current(struct node *n)
{
    const struct pki_params *p = pki_doc_params(n->doc_cur);
    struct sphinx_geometry g = { p->max_hops, p->payload_len,
                                 (enum sphinx_format)p->sphinx_format };
    const char *why = NULL;

    if (!sphinx_geometry_valid(&g, &why)) {
        log_err("document geometry unusable: %s", why ? why : "?");
        return;
    }
    if (!n->keys.have_geom || memcmp(&g, &n->keys.geom, sizeof(g)) != 0) {
        pthread_rwlock_wrlock(&n->keys.lock);
        n->keys.geom = g;
        n->keys.have_geom = true;
        pthread_rwlock_unlock(&n->keys.lock);
        size_t need = sphinx_packet_len(&g) + 64;
        if (need > n->scratch_len) {
            uint8_t *s = realloc(n->scratch, need);
            if (s) {
                n->scratch = s;
                n->scratch_len = need;
            }
        }
        log_info("geometry: %u hops, %u byte payload", g.max_hops, g.payload_len);
    }
    if (memcmp(&p->timing, &n->timing, sizeof(n->timing)) != 0) {
        /* Authorities never change a network's timing; follow the document. */
        log_warn("the network's epoch timing changed (epoch_length %llu s, genesis %llu)",
                 (unsigned long long)p->timing.epoch_len, (unsigned long long)p->timing.genesis);
        n->timing = p->timing;
    }
    if (node_mixq_setup(n, p) < 0)
        log_err("cannot set up the mixing queue from the document");
    bool listed = pki_doc_find(n->doc_cur, n->node_id) != NULL;
    metric_set(&n->metrics.listed, listed);
    metric_set(&n->metrics.have_document, 1);
    if (!listed || !n->in_doc_logged)
        log_info("epoch %llu document: %zu nodes; this node is %s", (unsigned long long)p->epoch,
                 pki_doc_node_count(n->doc_cur), listed ? "listed" : "NOT listed");
    n->in_doc_logged = listed;
}

void node_dir_disagreement(const struct node_conf *c, const struct pki_params *p, char *out,
                           size_t len)
{
    size_t o = 0;
    out[0] = 0;
#define SAY(...) (o += (size_t)snprintf(out + o, o < len ? len - o : 0, __VA_ARGS__))
    if ((c->expect & NODE_EXPECT_GENESIS) && c->timing.genesis != p->timing.genesis)
        SAY("%s[directory] genesis = %llu but the network's is %llu", o ? "; " : "",
            (unsigned long long)c->timing.genesis, (unsigned long long)p->timing.genesis);
    if ((c->expect & NODE_EXPECT_EPOCH_LEN) && c->timing.epoch_len != p->timing.epoch_len)
        SAY("%s[directory] epoch_length = %llus but the network's is %llus", o ? "; " : "",
            (unsigned long long)c->timing.epoch_len, (unsigned long long)p->timing.epoch_len);
    if ((c->expect & NODE_EXPECT_GRACE) && c->timing.grace != p->timing.grace)
        SAY("%s[directory] grace = %llus but the network's is %llus", o ? "; " : "",
            (unsigned long long)c->timing.grace, (unsigned long long)p->timing.grace);
    if ((c->roles & PKI_ROLE_MIX) && c->layer > p->layers)
        SAY("%s[node] layer = %u but the network has %u layers: the authorities will not list "
            "this node",
            o ? "; " : "", c->layer, p->layers);
#undef SAY
    if (o >= len && len > 4)
        memcpy(out + len - 4, "...", 4);
}

/* Take the network's timing from a signed document of any epoch (k valid
 * signatures of the configured authorities; its age does not matter, the
 * timing of a network never changes).  0, or -1 if it does not verify. */
static int learn_timing(struct node *n, const uint8_t *buf, size_t len, bool quiet)
{
    struct pki_verify_opts o;
    struct pki_doc *doc = NULL;
    char why[512];

    memset(&o, 0, sizeof(o));
    o.authorities = (const uint8_t(*)[PKI_KEY_LEN])n->auth_keys;
    o.n_authorities = n->conf.n_auth;
    o.threshold = n->conf.threshold;
    enum pki_err rc = pki_verify(buf, len, &o, &doc);
    if (rc != PKI_OK) {
        if (!quiet) {
            metric_inc(&n->metrics.docs_rejected);
            log_warn("directory document rejected: %s", pki_strerror(rc));
        }
        return -1;
    }
    const struct pki_params *p = pki_doc_params(doc);
    n->timing = p->timing;
    n->have_timing = true;
    log_info("network timing from the signed document: genesis %llu, epoch_length %llus, "
             "grace %llus",
             (unsigned long long)p->timing.genesis, (unsigned long long)p->timing.epoch_len,
             (unsigned long long)p->timing.grace);
    node_dir_disagreement(&n->conf, p, why, sizeof(why));
    if (why[0])
        log_warn("this node disagrees with the network: %s", why);
    pki_doc_free(doc);
    return 0;
}

static void saved_path(const struct node *n, char *out, size_t len)
{
    snprintf(out, len, "%s/network.doc", n->conf.data_dir);
}

/* Keep a copy of the current document: its timing at the next start. */
void node_dir_save_document(struct node *n, const uint8_t *buf, size_t len)
{
    char path[NODE_PATH_MAX + 32];
    saved_path(n, path, sizeof(path));
    if (fileio_write_atomic(path, buf, len, 0600) != 0)
        log_debug("cannot save the document in %s: %s", path, strerror(errno));
}

void node_dir_load_saved(struct node *n)
{
    char path[NODE_PATH_MAX + 32];
    uint8_t *buf = NULL;
    size_t len = 0;
    saved_path(n, path, sizeof(path));
    if (fileio_read_file(path, PKI_MAX_DOCUMENT_LEN, &buf, &len) != FILEIO_OK)
        return;
    if (len > 0 && learn_timing(n, buf, len, true) < 0)
        log_info("%s does not verify with the configured authorities; asking them", path);
    free(buf);
}

int node_dir_install(struct node *n, const uint8_t *buf, size_t len, uint64_t want_epoch)
{
    struct pki_verify_opts o;
    struct pki_doc *doc = NULL;
    uint8_t h[PKI_HASH_LEN];

    if (!n->have_timing) {
        if (learn_timing(n, buf, len, false) < 0)
            return -1;
        /* Now the node has an epoch: keys, then the documents it needs. */
        n->ops->dir_tick(n);
    }

    memset(&o, 0, sizeof(o));
    o.authorities = (const uint8_t(*)[PKI_KEY_LEN])n->auth_keys;
    o.n_authorities = n->conf.n_auth;
    o.threshold = n->conf.threshold;
    o.now = n->ops->wall_s();
    o.want_epoch = want_epoch;
    enum pki_err rc = pki_verify(buf, len, &o, &doc);
    if (rc != PKI_OK) {
        metric_inc(&n->metrics.docs_rejected);
        log_warn("directory document rejected: %s", pki_strerror(rc));
        return -1;
    }
    const struct pki_timing *dt = &pki_doc_params(doc)->timing;
    if (memcmp(dt, &n->timing, sizeof(*dt)) != 0) {
        /* A current document (pki_verify checked its age) with other timing
         * than the saved copy gave: the network was set up again.  Follow it. */
        log_warn("the network's epoch timing is now genesis %llu, epoch_length %llus, grace "
                 "%llus; following the document",
                 (unsigned long long)dt->genesis, (unsigned long long)dt->epoch_len,
                 (unsigned long long)dt->grace);
        n->timing = *dt;
        n->ops->dir_tick(n);
    }
    pki_doc_hash(buf, len, h);
    uint64_t e = pki_doc_epoch(doc);
    if (e == n->epoch || (n->epoch == 0 && !n->doc_cur)) {
        if (n->doc_cur && memcmp(h, n->doc_cur_hash, sizeof(h)) == 0) {
            pki_doc_free(doc);
            return 0;
        }
        pki_doc_free(n->doc_cur);
        n->doc_cur = doc;
        memcpy(n->doc_cur_hash, h, sizeof(h));
        metric_inc(&n->metrics.docs_accepted);
        n->ops->save_doc(n, buf, len);
        apply_current(n);
        node_loop_schedule(n);
    } else if (e == n->epoch + 1) {
        if (n->doc_next && memcmp(h, n->doc_next_hash, sizeof(h)) == 0) {
            pki_doc_free(doc);
            return 0;
        }
        pki_doc_free(n->doc_next);
        n->doc_next = doc;
        memcpy(n->doc_next_hash, h, sizeof(h));
        metric_inc(&n->metrics.docs_accepted);
        log_info("received the document of the next epoch %llu", (unsigned long long)e);
    } else {
        pki_doc_free(doc);
    }
    return 0;
}

static void read_document_file(struct node *n)
{
    const char *path = n->conf.document_file;
    FILE *f = fopen(path, "rb");
    if (!f) {
        log_warn("document file %s: %s", path, strerror(errno));
        return;
    }
    uint8_t *buf = malloc(PKI_MAX_DOCUMENT_LEN);
    size_t len = buf ? fread(buf, 1, PKI_MAX_DOCUMENT_LEN, f) : 0;
    fclose(f);
    if (len > 0)
        (void)node_dir_install(n, buf, len, 0);
    free(buf);
}

/* Our signed descriptor for the current and next epochs (malloc()ed). */
static uint8_t *build_descriptor(struct node *n, size_t *len)
{
    struct pki_descriptor d;
    uint8_t *out = NULL;

    memset(&d, 0, sizeof(d));
    memcpy(d.id, n->node_id, PKI_KEY_LEN);
    memcpy(d.identity_key, n->id_pk, PKI_KEY_LEN);
    memcpy(d.link_key, n->link_pk, PKI_KEY_LEN);
    d.roles = n->conf.roles;
    d.layer = n->conf.layer;
    snprintf(d.address, sizeof(d.address), "%s", n->conf.address);
    for (uint64_t e = n->epoch; e <= n->epoch + 1; e++)
        if (node_keys_public(n, e, d.sphinx_keys[d.n_sphinx_keys].key))
            d.sphinx_keys[d.n_sphinx_keys++].epoch = e;
    if (d.n_sphinx_keys == 0)
        return NULL;
    enum pki_err rc = pki_descriptor_sign(&d, n->id_sk, &out, len);
    if (rc != PKI_OK) {
        log_err("cannot sign our descriptor: %s", pki_strerror(rc));
        return NULL;
    }
    return out;
}

static bool send_doc_request(struct node *n, struct peer *p, uint64_t epoch)
{
    struct mix_frame f;
    memset(&f, 0, sizeof(f));
    f.type = FRAME_DOCUMENT_REQUEST;
    f.u.doc_req.epoch = epoch;
    return node_send_frame(n, p, &f);
}

void node_dir_on_established(struct node *n, struct peer *p)
{
    struct mix_frame f;
    size_t len = 0;

    p->pending = 0;
    if (!n->have_timing) {
        /* The authority's current document, and epoch 1's (it exists from
         * shortly before genesis on): either gives the network's timing. */
        if (send_doc_request(n, p, 0))
            p->pending++;
        if (send_doc_request(n, p, 1))
            p->pending++;
        if (p->pending == 0)
            conn_close(p->c);
        return;
    }
    if (n->auth_uploaded[p->auth_idx] != n->epoch) {
        uint8_t *desc = build_descriptor(n, &len);
        if (desc) {
            memset(&f, 0, sizeof(f));
            f.type = FRAME_DESCRIPTOR_UPLOAD;
            f.u.desc_upload.signed_descriptor.ptr = desc;
            f.u.desc_upload.signed_descriptor.len = len;
            if (node_send_frame(n, p, &f))
                p->pending++;
            free(desc);
        }
    }
    if (!n->doc_cur && send_doc_request(n, p, n->epoch))
        p->pending++;
    /* Also the authority's own current one: if the network was set up again
     * since the saved copy, its timing differs and only this finds it. */
    if (!n->doc_cur && send_doc_request(n, p, 0))
        p->pending++;
    if (!n->doc_next && send_doc_request(n, p, n->epoch + 1))
        p->pending++;
    if (p->pending == 0)
        conn_close(p->c);
}

void node_dir_on_frame(struct node *n, struct peer *p, const struct mix_frame *f)
{
    switch (f->type) {
    case FRAME_DESCRIPTOR_UPLOAD_REPLY:
        if (f->u.desc_reply.accepted) {
            metric_inc(&n->metrics.uploads_ok);
            if (n->auth_uploaded[p->auth_idx] != n->epoch)
                log_info("authority %zu accepted our descriptor", p->auth_idx + 1);
            n->auth_uploaded[p->auth_idx] = n->epoch;
        } else {
            metric_inc(&n->metrics.uploads_failed);
            log_warn("authority %zu refused our descriptor: %s", p->auth_idx + 1,
                     f->u.desc_reply.reason ? f->u.desc_reply.reason : "?");
        }
        break;
    case FRAME_DOCUMENT_RESPONSE:
        (void)node_dir_install(n, f->u.doc_resp.signed_document.ptr,
                               f->u.doc_resp.signed_document.len, f->u.doc_resp.epoch);
        break;
    case FRAME_ERROR:
        log_debug("authority %zu: error %u: %s", p->auth_idx + 1, f->u.error.code,
                  f->u.error.reason ? f->u.error.reason : "");
        break;
    default:
        log_debug("authority %zu sent an unexpected %s frame", p->auth_idx + 1,
                  frame_type_name(f->type));
        break;
    }
    if (p->pending)
        p->pending--;
    if (p->pending == 0 && p->c)
        conn_close(p->c);
}

void node_dir_on_close(struct node *n, struct peer *p)
{
    if (p->auth_idx < NODE_MAX_AUTH && n->auth_peer[p->auth_idx] == p)
        n->auth_peer[p->auth_idx] = NULL;
}

void node_dir_poll(struct node *n)
{
    if (n->conf.document_file[0])
        read_document_file(n);
    if (!n->cm || (n->have_timing && n->epoch == 0))
        return;
    uint64_t now = node_now_us();
    for (size_t i = 0; i < n->conf.n_auth; i++) {
        bool need = n->auth_uploaded[i] != n->epoch || !n->doc_cur || !n->doc_next;
        struct peer *old = n->auth_peer[i];
        /* An authority that never answered: give up on that link and redial. */
        if (old && now - old->dialled_us > 3 * n->conf.poll_us + 10000000u && old->c) {
            log_info("authority %zu did not answer; dialling again", i + 1);
            conn_close(old->c);
            n->auth_peer[i] = NULL;
        }
        if (!need || n->auth_peer[i])
            continue;
        struct peer *p = calloc(1, sizeof(*p));
        if (!p)
            return;
        p->kind = PEER_AUTHORITY;
        p->auth_idx = i;
        p->dialled_us = now;
        p->c = conn_dial(n->cm, n->conf.auth[i].addr, n->conf.auth[i].link_pk, LINK_ROLE_NODE,
                         false, p);
        if (!p->c) {
            free(p);
            continue;
        }
        n->auth_peer[i] = p;
    }
}

void node_dir_tick(struct node *n, uint64_t now_s)
{
    if (!n->have_timing)
        return;
    uint64_t cur = pki_epoch_of(&n->timing, now_s);

    if (cur != n->epoch) {
        if (n->epoch)
            log_info("epoch %llu begins", (unsigned long long)cur);
        pki_doc_free(n->doc_prev);
        n->doc_prev = NULL;
        struct pki_doc *now_cur = NULL;
        if (n->doc_cur && pki_doc_epoch(n->doc_cur) == cur) {
            /* Just after the timing became known: already cur's document. */
            now_cur = n->doc_cur;
            n->doc_cur = NULL;
        } else if (n->doc_next && pki_doc_epoch(n->doc_next) == cur) {
            now_cur = n->doc_next;
            n->doc_next = NULL;
            memcpy(n->doc_cur_hash, n->doc_next_hash, PKI_HASH_LEN);
        }
        if (n->doc_cur && pki_doc_epoch(n->doc_cur) + 1 == cur)
            n->doc_prev = n->doc_cur;
        else
            pki_doc_free(n->doc_cur);
        pki_doc_free(n->doc_next);
        n->doc_cur = now_cur;
        if (!now_cur) {
            metric_set(&n->metrics.listed, 0);
            metric_set(&n->metrics.have_document, 0);
        }
        n->doc_next = NULL;
        n->epoch = cur;
        metric_set(&n->metrics.epoch, cur);
        if (node_keys_rotate(n, now_s) < 0)
            log_err("cannot prepare the Sphinx keys of epoch %llu", (unsigned long long)cur);
        if (n->doc_cur)
            apply_current(n);
        node_out_prune(n);
        node_dir_poll(n);
        return;
    }
    if (n->doc_prev && !pki_in_grace(&n->timing, now_s)) {
        pki_doc_free(n->doc_prev);
        n->doc_prev = NULL;
    }
    if (node_keys_rotate(n, now_s) < 0)
        log_err("cannot prepare the Sphinx keys of epoch %llu", (unsigned long long)cur);
}

void node_dir_free(struct node *n)
{
    for (size_t i = 0; i < NODE_MAX_AUTH; i++)
        if (n->auth_peer[i] && n->auth_peer[i]->c)
            conn_close(n->auth_peer[i]->c);
    pki_doc_free(n->doc_prev);
    pki_doc_free(n->doc_cur);
    pki_doc_free(n->doc_next);
    n->doc_prev = n->doc_cur = n->doc_next = NULL;
}
