/*
 * The receiving half of the client core: what the inbox returns (acks,
 * replies, loops, fragments), reassembly with duplicate suppression, and
 * status queries.
 */
#include "core_int.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* ------------------------------------------------------------ acks */

static void mark_acked(struct core *c, const uint8_t id[CORE_MSG_ID_LEN], uint32_t idx)
{
    (void)core_flight_acked(c, id, idx);
    uint32_t count;
    uint8_t *fs = core_fstate_get(c, id, &count);
    if (fs == NULL || idx >= count || fs[idx] == FS_ACKED) {
        free(fs);
        return;
    }
    fs[idx] = FS_ACKED;
    c->st.acks++;
    struct core_status s;
    core_summarize(fs, count, &s);
    if (cstore_put(c->store, CSTORE_FSTATE, id, CORE_MSG_ID_LEN, fs, 2 * (size_t)count) != 0)
        log_err("client: could not record an acknowledgement");
    if (s.state == CORE_MSG_ACKNOWLEDGED) {
        /* Delivered: keep the header for status, drop the message bytes. */
        size_t len;
        const uint8_t *rec = core_out_get(c, id, &len);
        if (rec != NULL && len > REC_OUT_HDR &&
            cstore_put(c->store, CSTORE_OUT, id, CORE_MSG_ID_LEN, rec, REC_OUT_HDR) != 0)
            log_err("client: could not trim a delivered message");
        core_out_cache_drop(c);
    }
    free(fs);
}

/* ------------------------------------------------------------ inbox jobs */

/*
 * One inbox entry's handling, in two halves (core.h "Inbox jobs"):
 * core_job_run() does the expensive half, which touches only the store and
 * the job (decryption, fragments, reassembly, the store writes and sync of
 * a complete message), on any thread; core_job_done() applies the result
 * to the core (counters, acknowledgements of our packets, handing a message
 * to the application) on the core's thread.
 */
enum job_act { ACT_NONE = 0, ACT_ACKED, ACT_LOOP_ACKED, ACT_DELIVER };

struct core_job {
    /* In: copies, so the job outlives the frame; keys and geometry as they were. */
    struct cstore *store;
    const uint8_t *pk, *sk; /* the core's own (the core outlives its jobs) */
    struct sphinx_geometry g;
    size_t plain_len;
    uint64_t seq, unix_now;
    uint8_t *payload;
    size_t payload_len;
    uint8_t surb_id[SPHINX_SURB_ID_LEN];
    bool has_surb_id;
    /* Out. */
    int ret;              /* 0 handled (acknowledge), -1 fetch again */
    struct core_stats st; /* counted by this entry */
    enum job_act act;
    uint8_t id[CORE_MSG_ID_LEN]; /* ACKED / LOOP_ACKED: ours; DELIVER: the message's */
    uint32_t idx;
    uint8_t *rec; /* DELIVER: the stored IN record */
    size_t surb_len;
};

/*
 * What a stored IN record (header h, then the SURB area at rec + REC_IN_HDR)
 * says about replies: can_reply, is_reply and in_reply_to.
 */
static void in_reply_fields(const struct rec_in *h, const uint8_t *rec, struct core_received *m)
{
    m->can_reply = (h->flags & REC_IN_CAN_REPLY) != 0;
    m->is_reply = (h->flags & REC_IN_IS_REPLY) != 0;
    memset(m->in_reply_to, 0, CORE_MSG_ID_LEN);
    if (m->is_reply && h->surb_len == CORE_MSG_ID_LEN)
        memcpy(m->in_reply_to, rec + REC_IN_HDR, CORE_MSG_ID_LEN);
}

/* An IN record with room for len body bytes after the header and the SURB. */
static uint8_t *in_rec_new(const uint8_t *surb, size_t surb_len, size_t len, bool is_reply,
                           uint64_t unix_now)
{
    uint8_t *rec = malloc(REC_IN_HDR + surb_len + len + 1);
    if (rec == NULL)
        return NULL;
    struct rec_in h = { .flags = (uint8_t)(is_reply   ? REC_IN_IS_REPLY
                                           : surb_len ? REC_IN_CAN_REPLY
                                                      : 0),
                        .surb_len = (uint16_t)surb_len,
                        .received_at = unix_now,
                        .body_len = (uint32_t)len };
    rec_in_pack(&h, rec);
    if (surb_len)
        memcpy(rec + REC_IN_HDR, surb, surb_len);
    return rec;
}

/*
 * Store a complete received message durably (rec from in_rec_new, body
 * filled in); core_job_done() then tells the application.  Takes rec.
 */
static int store_received(struct core_job *j, const uint8_t id[CORE_MSG_ID_LEN], uint8_t *rec)
{
    struct rec_in h;
    if (!rec_in_unpack(rec, REC_IN_HDR, &h)) {
        free(rec);
        return -1;
    }
    size_t surb_len = h.surb_len, len = h.body_len;
    if (cstore_put(j->store, CSTORE_IN, id, CORE_MSG_ID_LEN, rec, REC_IN_HDR + surb_len + len) !=
            0 ||
        cstore_sync(j->store) != 0) {
        free(rec);
        return -1;
    }
    j->act = ACT_DELIVER;
    memcpy(j->id, id, CORE_MSG_ID_LEN);
    j->rec = rec;
    j->surb_len = surb_len;
    return 0;
}

struct gather {
    uint8_t *buf;
    size_t len, cap;
    uint32_t n;
    bool bad;
};

static int gather_part(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
    struct gather *g = ctx;
    /* Keys are id || BE32 index, so the cursor visits the fragments in order. */
    if (klen != CORE_MSG_ID_LEN + 4 || mix_get_be32(key + CORE_MSG_ID_LEN) != g->n ||
        vlen > g->cap - g->len) {
        g->bad = true;
        return 1;
    }
    memcpy(g->buf + g->len, val, vlen);
    g->len += vlen;
    g->n++;
    return 0;
}

/* All fragments are in: join them, store the message, drop the parts. */
static int assemble(struct core_job *j, const uint8_t id[CORE_MSG_ID_LEN], const uint8_t *meta,
                    size_t mlen)
{
    struct rec_pmeta h;
    if (!rec_pmeta_unpack(meta, mlen, &h))
        return -1;
    uint32_t count = h.count, total = h.total;
    size_t surb_len = h.surb_len;
    if (mlen < REC_PMETA_HDR + surb_len)
        return -1;
    uint8_t *rec = in_rec_new(meta + REC_PMETA_HDR, surb_len, total, false, j->unix_now);
    if (rec == NULL)
        return -1;
    struct gather g = { rec + REC_IN_HDR + surb_len, 0, total, 0, false };
    if (cstore_iter(j->store, CSTORE_PART, id, CORE_MSG_ID_LEN, gather_part, &g) != 0) {
        free(rec);
        return -1;
    }
    if (g.bad || g.n != count || g.len != total) {
        /* Fragments that do not add up (a broken sender): drop them all. */
        j->st.bad_in++;
        free(rec);
    } else if (store_received(j, id, rec) != 0) {
        return -1;
    }
    if (cstore_del_prefix(j->store, CSTORE_PART, id, CORE_MSG_ID_LEN) != 0 ||
        cstore_del(j->store, CSTORE_PMETA, id, CORE_MSG_ID_LEN) != 0)
        log_err("client: could not clean up a reassembled message");
    return 0;
}

/*
 * A fragment of message id that we have stored already.  If every fragment
 * is in, storing the message failed when the last one came (so it was not
 * acknowledged and came again): assemble now, rather than acknowledge it
 * and leave the parts to core_gc().
 */
static int on_dup_part(struct core_job *j, const uint8_t id[CORE_MSG_ID_LEN])
{
    uint8_t *meta = NULL;
    size_t mlen;
    struct rec_pmeta h;
    int got = cstore_get(j->store, CSTORE_PMETA, id, CORE_MSG_ID_LEN, &meta, &mlen);
    if (got < 0)
        return -1;
    int ret = got == 1 && rec_pmeta_unpack(meta, mlen, &h) && h.got == h.count
                  ? assemble(j, id, meta, mlen)
                  : 0;
    free(meta);
    if (ret == 0)
        j->st.duplicates++;
    return ret;
}

/* One data fragment for us: store it unless we have it, assemble when complete. */
static int on_fragment(struct core_job *j, const struct payload_frag *f)
{
    uint8_t key[CORE_MSG_ID_LEN + 4], *meta = NULL;
    size_t mlen;
    memcpy(key, f->msg_id, CORE_MSG_ID_LEN);
    mix_put_be32(key + CORE_MSG_ID_LEN, f->index);
    int have = cstore_has(j->store, CSTORE_IN, f->msg_id, CORE_MSG_ID_LEN);
    int part = have == 0 ? cstore_has(j->store, CSTORE_PART, key, sizeof(key)) : have;
    if (have < 0 || part < 0)
        return -1;
    if (part == 1 && have == 0)
        return on_dup_part(j, f->msg_id);
    if (have == 1) {
        j->st.duplicates++;
        return 0;
    }
    int got = cstore_get(j->store, CSTORE_PMETA, f->msg_id, CORE_MSG_ID_LEN, &meta, &mlen);
    if (got < 0)
        return -1;
    struct rec_pmeta h;
    if (got == 0 || !rec_pmeta_unpack(meta, mlen, &h)) {
        free(meta);
        mlen = REC_PMETA_HDR;
        meta = calloc(1, REC_PMETA_HDR + CORE_SURB_MAX);
        if (meta == NULL)
            return -1;
        h = (struct rec_pmeta){ .count = f->count,
                                .total = f->total_len,
                                .first_seen = j->unix_now };
    }
    int ret = 0;
    if (h.count != f->count || h.total != f->total_len || f->surb_len > CORE_SURB_MAX) {
        j->st.bad_in++;
        goto out;
    }
    if (f->surb_len) {
        uint8_t *n = realloc(meta, REC_PMETA_HDR + f->surb_len);
        if (n == NULL) {
            ret = -1;
            goto out;
        }
        meta = n;
        h.surb_len = (uint16_t)f->surb_len;
        memcpy(meta + REC_PMETA_HDR, f->surb, f->surb_len);
        mlen = REC_PMETA_HDR + f->surb_len;
    }
    h.got++;
    rec_pmeta_pack(&h, meta);
    j->st.received_frags++;
    ret = -1;
    if (cstore_put(j->store, CSTORE_PART, key, sizeof(key), f->data, f->data_len) != 0 ||
        cstore_put(j->store, CSTORE_PMETA, f->msg_id, CORE_MSG_ID_LEN, meta, mlen) != 0)
        goto out;
    ret = h.got == f->count ? assemble(j, f->msg_id, meta, mlen) : 0;
out:
    free(meta);
    return ret;
}

/* A payload that came back through one of our SURBs. */
static int on_surb_reply(struct core_job *j)
{
    uint8_t *rec = NULL, *plain = NULL;
    size_t rlen;
    int ret = 0;
    int got = cstore_get(j->store, CSTORE_SURB, j->surb_id, SPHINX_SURB_ID_LEN, &rec, &rlen);
    if (got < 0)
        return -1;
    struct rec_surb h;
    if (got == 0 || rlen != SREC_LEN || !rec_surb_unpack(rec, rlen, &h) ||
        j->payload_len != j->g.payload_len) {
        j->st.bad_in++; /* unknown, used already, or another geometry */
        goto out;
    }
    plain = malloc(j->plain_len);
    if (plain == NULL) {
        ret = -1;
        goto out;
    }
    if (sphinx_surb_open(&j->g, rec + REC_SURB_HDR, j->payload, j->payload_len, plain) !=
        SPHINX_OK) {
        j->st.bad_in++;
        goto out;
    }
    struct payload_frag f;
    switch (h.kind) {
    case SK_ACK:
        j->act = ACT_ACKED;
        memcpy(j->id, h.msg_id, CORE_MSG_ID_LEN);
        j->idx = h.index;
        break;
    case SK_LOOP_ACK:
        j->act = ACT_LOOP_ACKED;
        memcpy(j->id, h.msg_id, CORE_MSG_ID_LEN);
        j->st.loop_acks++;
        break;
    case SK_COVER_ACK:
        /* The SURB-ack of payload-stream drop cover: it only had to travel. */
        j->st.cover_acks++;
        break;
    case SK_REPLY:
        if (payload_frag_parse(plain, j->plain_len, &f) != PAYLOAD_OK ||
            f.kind != PAYLOAD_FRAG_REPLY) {
            j->st.bad_in++;
            break;
        }
        if (cstore_has(j->store, CSTORE_IN, f.msg_id, CORE_MSG_ID_LEN) == 1) {
            j->st.duplicates++;
            break;
        }
        /* The record keeps the id of our message it answers where a SURB would be. */
        uint8_t *in = in_rec_new(h.msg_id, CORE_MSG_ID_LEN, f.data_len, true, j->unix_now);
        if (in != NULL && f.data_len)
            memcpy(in + REC_IN_HDR + CORE_MSG_ID_LEN, f.data, f.data_len);
        if (in == NULL || store_received(j, f.msg_id, in) != 0) {
            ret = -1;
            goto out;
        }
        j->st.replies_received++;
        break;
    default: j->st.bad_in++;
    }
    /* A SURB is single use: forget its keys once its answer is handled. */
    if (cstore_del(j->store, CSTORE_SURB, j->surb_id, SPHINX_SURB_ID_LEN) != 0)
        ret = -1;
out:
    if (plain != NULL) {
        sodium_memzero(plain, j->plain_len);
        free(plain);
    }
    if (rec != NULL) {
        sodium_memzero(rec, rlen);
        free(rec);
    }
    return ret;
}

/* Open a sealed body; the gateway stores the envelope body (or, tolerated, the whole envelope). */
static uint8_t *open_body(const struct core_job *j, const uint8_t *p, size_t len, size_t *out_len)
{
    struct payload_view v;
    if (payload_parse(p, len, &v) == PAYLOAD_OK && v.body_len > crypto_box_SEALBYTES) {
        p = v.body;
        len = v.body_len;
    }
    if (len <= crypto_box_SEALBYTES)
        return NULL;
    uint8_t *out = malloc(len - crypto_box_SEALBYTES);
    if (out == NULL)
        return NULL;
    if (crypto_box_seal_open(out, p, len, j->pk, j->sk) != 0) {
        free(out);
        return NULL;
    }
    *out_len = len - crypto_box_SEALBYTES;
    return out;
}

struct core_job *core_inbox_job(struct core *c, const struct frame_inbox_msg *m, uint64_t unix_now)
{
    if (c->doc == NULL)
        return NULL;
    struct core_job *j = calloc(1, sizeof(*j));
    if (j == NULL || (j->payload = malloc(m->payload.len ? m->payload.len : 1)) == NULL) {
        free(j);
        return NULL;
    }
    j->store = c->store;
    j->pk = c->pk;
    j->sk = c->cfg.sk;
    j->g = c->g;
    j->plain_len = c->plain_len;
    j->seq = m->seq;
    j->unix_now = unix_now;
    memcpy(j->payload, m->payload.ptr, m->payload.len);
    j->payload_len = m->payload.len;
    j->has_surb_id = m->surb_id.len == SPHINX_SURB_ID_LEN;
    if (j->has_surb_id)
        memcpy(j->surb_id, m->surb_id.ptr, SPHINX_SURB_ID_LEN);
    j->ret = -1;
    return j;
}

void core_job_run(struct core_job *j)
{
    if (j->has_surb_id) {
        j->ret = on_surb_reply(j);
        return;
    }
    size_t len = 0;
    uint8_t *plain = open_body(j, j->payload, j->payload_len, &len);
    struct payload_frag f;
    j->ret = 0;
    if (plain == NULL || payload_frag_parse(plain, len, &f) != PAYLOAD_OK) {
        j->st.bad_in++;
    } else if (f.kind == PAYLOAD_FRAG_LOOP) {
        j->st.loops_back++;
    } else if (f.kind == PAYLOAD_FRAG_DATA) {
        j->ret = on_fragment(j, &f);
    } else {
        j->st.bad_in++;
    }
    if (plain != NULL) {
        sodium_memzero(plain, len);
        free(plain);
    }
}

uint64_t core_job_seq(const struct core_job *j)
{
    return j->seq;
}

void core_job_free(struct core_job *j)
{
    if (j == NULL)
        return;
    free(j->payload);
    free(j->rec);
    free(j);
}

static void add_stats(struct core_stats *to, const struct core_stats *d)
{
    to->acks += d->acks;
    to->loop_acks += d->loop_acks;
    to->loops_back += d->loops_back;
    to->cover_acks += d->cover_acks;
    to->received_frags += d->received_frags;
    to->duplicates += d->duplicates;
    to->received_msgs += d->received_msgs;
    to->replies_received += d->replies_received;
    to->bad_in += d->bad_in;
}

int core_job_done(struct core *c, struct core_job *j)
{
    int ret = j->ret;
    add_stats(&c->st, &j->st);
    if (ret == 0 && j->act == ACT_ACKED) {
        mark_acked(c, j->id, j->idx);
    } else if (ret == 0 && j->act == ACT_LOOP_ACKED) {
        (void)core_flight_acked(c, j->id, CORE_LOOP_IDX);
    } else if (ret == 0 && j->act == ACT_DELIVER) {
        const uint8_t *rec = j->rec;
        struct rec_in h;
        c->st.received_msgs++;
        if (c->recv_fn != NULL && rec_in_unpack(rec, REC_IN_HDR, &h)) {
            struct core_received m = { .body = rec + REC_IN_HDR + h.surb_len,
                                       .len = h.body_len,
                                       .received_at = h.received_at };
            in_reply_fields(&h, rec, &m);
            memcpy(m.id, j->id, CORE_MSG_ID_LEN);
            c->recv_fn(c->recv_ctx, &m);
        }
    }
    core_job_free(j);
    return ret;
}

int core_on_inbox(struct core *c, const struct frame_inbox_msg *m, uint64_t unix_now)
{
    struct core_job *j = core_inbox_job(c, m, unix_now);
    if (j == NULL)
        return -1;
    core_job_run(j);
    return core_job_done(c, j);
}

/* ------------------------------------------------------------ status */

/* Time, size and recipient of an outgoing message, from its out record. */
static void out_details(struct core *c, struct core_status *s)
{
    uint8_t *rec;
    size_t rlen;
    s->incoming = false;
    if (cstore_get(c->store, CSTORE_OUT, s->id, CORE_MSG_ID_LEN, &rec, &rlen) != 1)
        return;
    struct rec_out h;
    if (rec_out_unpack(rec, rlen, &h)) {
        s->time = h.created;
        s->size = h.total;
        s->have_peer = true;
        memcpy(s->peer.gateway_id, h.gateway_id, MIX_NODE_ID_LEN);
        memcpy(s->peer.public_key, h.public_key, ADDRESS_KEY_LEN);
    }
    free(rec);
}

/* An incoming message: from its PMETA record (partial) or IN record (complete). */
static bool in_status(const uint8_t *id, const uint8_t *val, size_t vlen, bool partial,
                      struct core_status *s)
{
    memset(s, 0, sizeof(*s));
    memcpy(s->id, id, CORE_MSG_ID_LEN);
    s->incoming = true;
    if (partial) {
        struct rec_pmeta h;
        if (!rec_pmeta_unpack(val, vlen, &h))
            return false;
        s->state = CORE_MSG_RECEIVING;
        s->fragments = h.count;
        s->size = h.total;
        s->acked = h.got;
        if (s->acked > s->fragments)
            s->acked = s->fragments;
        s->time = h.first_seen;
        return true;
    }
    struct rec_in h;
    if (!rec_in_unpack(val, vlen, &h))
        return false;
    s->state = CORE_MSG_RECEIVED;
    s->fragments = s->acked = 1;
    s->time = h.received_at;
    s->size = h.body_len;
    return true;
}

int core_status(struct core *c, const uint8_t id[static CORE_MSG_ID_LEN], struct core_status *out)
{
    uint32_t count;
    uint8_t *fs = core_fstate_get(c, id, &count), *v;
    size_t vlen;
    memset(out, 0, sizeof(*out));
    if (fs == NULL) {
        int got = cstore_get(c->store, CSTORE_IN, id, CORE_MSG_ID_LEN, &v, &vlen);
        bool partial = got != 1;
        if (partial)
            got = cstore_get(c->store, CSTORE_PMETA, id, CORE_MSG_ID_LEN, &v, &vlen);
        if (got != 1)
            return got < 0 ? CORE_ERR_STORE : CORE_ERR_UNKNOWN;
        bool ok = in_status(id, v, vlen, partial, out);
        free(v);
        return ok ? CORE_OK : CORE_ERR_UNKNOWN;
    }
    memcpy(out->id, id, CORE_MSG_ID_LEN);
    core_summarize(fs, count, out);
    free(fs);
    out_details(c, out);
    return CORE_OK;
}

/* Statuses gathered during one store iteration (no store reads inside it). */
struct status_list {
    struct core_status *v;
    size_t n, cap;
    bool partial;
};

static struct core_status *status_slot(struct status_list *l)
{
    if (l->n == l->cap) {
        size_t ncap = l->cap ? 2 * l->cap : 32;
        struct core_status *nv = realloc(l->v, ncap * sizeof(*nv));
        if (nv == NULL)
            return NULL;
        l->v = nv;
        l->cap = ncap;
    }
    return &l->v[l->n];
}

static int status_out(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
    struct status_list *l = ctx;
    struct core_status *s;
    if (klen != CORE_MSG_ID_LEN || vlen == 0 || vlen % 2 != 0)
        return 0;
    if ((s = status_slot(l)) == NULL)
        return 1;
    memset(s, 0, sizeof(*s));
    memcpy(s->id, key, CORE_MSG_ID_LEN);
    core_summarize(val, (uint32_t)(vlen / 2), s);
    l->n++;
    return 0;
}

static int status_in(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
    struct status_list *l = ctx;
    struct core_status *s;
    if (klen != CORE_MSG_ID_LEN)
        return 0;
    if ((s = status_slot(l)) == NULL)
        return 1;
    if (in_status(key, val, vlen, l->partial, s))
        l->n++;
    return 0;
}

void core_status_all(struct core *c, void (*fn)(void *ctx, const struct core_status *s), void *ctx)
{
    struct status_list l = { NULL, 0, 0, false };
    if (cstore_iter(c->store, CSTORE_FSTATE, NULL, 0, status_out, &l) != 0)
        log_err("client: status listing failed");
    size_t n_out = l.n;
    l.partial = true;
    if (cstore_iter(c->store, CSTORE_PMETA, NULL, 0, status_in, &l) != 0)
        log_err("client: status listing failed");
    l.partial = false;
    if (cstore_iter(c->store, CSTORE_IN, NULL, 0, status_in, &l) != 0)
        log_err("client: status listing failed");
    for (size_t i = 0; i < l.n; i++) {
        if (i < n_out)
            out_details(c, &l.v[i]);
        fn(ctx, &l.v[i]);
    }
    free(l.v);
}

struct pending {
    uint8_t (*ids)[CORE_MSG_ID_LEN];
    size_t n, cap;
};

static int collect_undelivered(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val,
                               size_t vlen)
{
    struct pending *p = ctx;
    struct rec_in h;
    if (klen != CORE_MSG_ID_LEN || !rec_in_unpack(val, vlen, &h) || (h.flags & REC_IN_DELIVERED))
        return 0;
    if (p->n == p->cap) {
        size_t ncap = p->cap ? p->cap * 2 : 16;
        void *n = realloc(p->ids, ncap * CORE_MSG_ID_LEN);
        if (n == NULL)
            return 1;
        p->ids = n;
        p->cap = ncap;
    }
    memcpy(p->ids[p->n++], key, CORE_MSG_ID_LEN);
    return 0;
}

size_t core_take_received(struct core *c, size_t max, core_recv_fn fn, void *ctx, size_t *remaining)
{
    struct pending p = { NULL, 0, 0 };
    size_t done = 0;
    if (cstore_iter(c->store, CSTORE_IN, NULL, 0, collect_undelivered, &p) != 0)
        p.n = 0;
    for (size_t i = 0; i < p.n && (max == 0 || done < max); i++) {
        uint8_t *rec;
        size_t rlen;
        if (cstore_get(c->store, CSTORE_IN, p.ids[i], CORE_MSG_ID_LEN, &rec, &rlen) != 1)
            continue;
        struct rec_in h;
        if (rec_in_unpack(rec, rlen, &h) && rlen >= REC_IN_HDR + (size_t)h.surb_len + h.body_len) {
            size_t surb_len = h.surb_len;
            struct core_received m = { .body = rec + REC_IN_HDR + surb_len,
                                       .len = h.body_len,
                                       .received_at = h.received_at };
            in_reply_fields(&h, rec, &m);
            memcpy(m.id, p.ids[i], CORE_MSG_ID_LEN);
            fn(ctx, &m);
            done++;
            /* Delivered: keep a small tombstone (for duplicates and replies), drop the body. */
            h.flags |= REC_IN_DELIVERED; /* body_len stays: status shows the size */
            rec_in_pack(&h, rec);
            if (cstore_put(c->store, CSTORE_IN, p.ids[i], CORE_MSG_ID_LEN, rec,
                           REC_IN_HDR + surb_len) != 0)
                log_err("client: could not mark a message delivered");
        }
        free(rec);
    }
    if (remaining != NULL)
        *remaining = p.n - done;
    free(p.ids);
    if (cstore_sync(c->store) != 0)
        log_err("client: store sync failed");
    return done;
}

/* ------------------------------------------------------------ garbage */

_Static_assert(CORE_MSG_ID_LEN == SPHINX_SURB_ID_LEN, "gc_ctx holds both kinds of id");

struct gc_ctx {
    uint64_t cutoff;
    size_t id_len;
    uint8_t (*ids)[SPHINX_SURB_ID_LEN];
    size_t n, cap;
};

/* Collect a key whose record has no readable timestamp (!have_ts) or one older than the cutoff. */
static int gc_collect(struct gc_ctx *g, const uint8_t *key, size_t klen, bool have_ts, uint64_t ts)
{
    if (klen != g->id_len || (have_ts && ts >= g->cutoff))
        return 0;
    if (g->n == g->cap) {
        size_t ncap = g->cap ? g->cap * 2 : 64;
        void *n = realloc(g->ids, ncap * SPHINX_SURB_ID_LEN);
        if (n == NULL)
            return 1;
        g->ids = n;
        g->cap = ncap;
    }
    memcpy(g->ids[g->n++], key, SPHINX_SURB_ID_LEN);
    return 0;
}

static int gc_surb(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
    struct rec_surb h;
    bool ok = vlen >= SREC_LEN && rec_surb_unpack(val, vlen, &h);
    return gc_collect(ctx, key, klen, ok, ok ? h.created : 0);
}

static int gc_partial(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
    struct rec_pmeta h;
    bool ok = rec_pmeta_unpack(val, vlen, &h);
    return gc_collect(ctx, key, klen, ok, ok ? h.first_seen : 0);
}

/* Partly received messages whose sender gave up long ago: drop their parts. */
static size_t gc_partials(struct core *c, uint64_t unix_now)
{
    struct gc_ctx g = { unix_now > CORE_PARTIAL_MAX_AGE ? unix_now - CORE_PARTIAL_MAX_AGE : 0,
                        CORE_MSG_ID_LEN, NULL, 0, 0 };
    if (g.cutoff == 0 || cstore_iter(c->store, CSTORE_PMETA, NULL, 0, gc_partial, &g) != 0)
        g.n = 0;
    for (size_t i = 0; i < g.n; i++)
        if (cstore_del_prefix(c->store, CSTORE_PART, g.ids[i], CORE_MSG_ID_LEN) != 0 ||
            cstore_del(c->store, CSTORE_PMETA, g.ids[i], CORE_MSG_ID_LEN) != 0)
            break;
    free(g.ids);
    return g.n;
}

size_t core_gc(struct core *c, uint64_t unix_now)
{
    if (c->doc == NULL)
        return 0;
    /* A SURB is useless once the Sphinx keys of its epoch expired: keep two epochs. */
    uint64_t age = 2 * pki_doc_params(c->doc)->timing.epoch_len;
    if (age < 600)
        age = 600;
    struct gc_ctx g = { unix_now > age ? unix_now - age : 0, SPHINX_SURB_ID_LEN, NULL, 0, 0 };
    if (g.cutoff == 0 || cstore_iter(c->store, CSTORE_SURB, NULL, 0, gc_surb, &g) != 0)
        g.n = 0;
    for (size_t i = 0; i < g.n; i++)
        if (cstore_del(c->store, CSTORE_SURB, g.ids[i], SPHINX_SURB_ID_LEN) != 0)
            break;
    free(g.ids);
    return g.n + gc_partials(c, unix_now);
}
