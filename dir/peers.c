/*
 * mixdir: links and frames: sending to one conn or every peer, which conn is a
 * peer, the conn callbacks and the dispatch of every frame.  See mixdir.h.
 */
#include "mixdir.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "log.h"

/* ------------------------------------------------------------ helpers */

uint64_t now_s(const struct mixdir *d)
{
    return (uint64_t)ev_now(d->loop);
}

uint64_t cur_epoch(const struct mixdir *d)
{
    return pki_epoch_of(&d->cf->timing, now_s(d));
}

void hex8(const uint8_t *b, char out[17])
{
    for (int i = 0; i < 8; i++)
        snprintf(out + 2 * i, 3, "%02x", b[i]);
}

void send_frame(struct mixdir *d, struct conn *c, const struct mix_frame *f)
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
void broadcast(struct mixdir *d, const struct mix_frame *f)
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

int auth_index_by_sign_key(const struct mixdir *d, const uint8_t *key)
{
    for (size_t i = 0; i < d->cf->n_auth; i++)
        if (memcmp(d->cf->auth[i].sign_pk, key, PKI_KEY_LEN) == 0)
            return (int)i;
    return -1;
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

void on_frame(struct conn *c, const uint8_t *bytes, size_t len, void *arg)
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
    case FRAME_DESCRIPTOR_UPLOAD: handle_upload(d, c, f); break;
    case FRAME_DOCUMENT_REQUEST: handle_doc_request(d, c, f); break;
    case FRAME_DOCUMENT_RESPONSE:
        if (peer >= 0) {
            explain_mismatch(d, (size_t)peer, f->u.doc_resp.epoch,
                             f->u.doc_resp.signed_document.ptr, f->u.doc_resp.signed_document.len);
            adopt_document(d, f->u.doc_resp.epoch, f->u.doc_resp.signed_document.ptr,
                           f->u.doc_resp.signed_document.len);
        } else
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
        log_debug("conn %llu: peer error %u: %s", (unsigned long long)conn_id(c), f->u.error.code,
                  f->u.error.reason ? f->u.error.reason : "");
        break;
    default:
        d->ctr.unexpected_frames++;
        send_error(d, c, FRAME_ERR_UNEXPECTED, "frame not served by a directory authority");
        break;
    }
    frame_free(f);
}

void on_established(struct conn *c, void *arg)
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

void on_close(struct conn *c, enum conn_close_reason why, void *arg)
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
bool on_authorize(struct conn *c, const uint8_t remote_pk[static LINK_KEY_LEN], enum link_role role,
                  void *arg)
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
