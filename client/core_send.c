/*
 * The sending half of the client core: accepting messages, building data,
 * loop and drop packets, replies through SURBs, and retransmission.
 */
#include "core_int.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* A path as Sphinx hops, with the sum of the delays chosen and the nodes' health indices. */
struct route {
    struct sphinx_hop hops[SPHINX_MAX_HOPS_LIMIT];
    uint16_t hidx[SPHINX_MAX_HOPS_LIMIT];
    size_t n;
    uint64_t delay_sum;
};

/*
 * The epoch whose Sphinx keys to use: the one the clock says (a second late,
 * so a packet built right at a boundary still uses the old key, which nodes
 * accept during the grace period), when the document's descriptors carry it
 * (they list coming epochs' keys), so packets stay valid across an epoch
 * change before the next document is fetched.  A document fetched just as its
 * epoch starts does not move packets to its keys before the clock does: a
 * node switches at its own epoch timer and refuses a key it does not hold
 * yet (make_route falls back to the document's epoch for a hop whose
 * descriptor lacks the clock's).
 */
static uint64_t core_key_epoch(const struct core *c)
{
    const struct pki_params *p = pki_doc_params(c->doc);
    uint64_t e = c->unix_now > 1 ? pki_epoch_of(&p->timing, c->unix_now - 1) : 0;
    return e > 0 ? e : pki_doc_epoch(c->doc);
}

/* Per-hop delay from Exp(mean), capped as every node caps it. */
static uint32_t draw_delay(const struct core *c)
{
    const struct pki_params *p = pki_doc_params(c->doc);
    double d = mix_rng_exp(&c->rng, (double)p->mean_delay_us);
    if (d > (double)p->max_delay_us)
        d = (double)p->max_delay_us;
    if (d > (double)UINT32_MAX)
        d = (double)UINT32_MAX;
    return (uint32_t)d;
}

/*
 * Suspicion of a candidate path: the strikes of its mixes (the fixed end
 * points excluded).  Summing rather than counting suspects matters: a
 * timeout strikes the innocent nodes of a path too, and the dead node
 * quickly has far more strikes than any of them.
 */
static uint64_t suspicion(struct core *c, const struct pki_descriptor *const *d, int n)
{
    uint64_t sum = 0;
    for (int i = 1; i < n - 1; i++) {
        uint16_t h = core_health_index(c, d[i]->id);
        if (h != UINT16_MAX && c->hl[h].strikes >= CORE_SUSPECT_STRIKES)
            sum += c->hl[h].strikes;
    }
    return sum;
}

/*
 * A fresh random route entry -> one mix per layer -> dest (NULL = random
 * gateway/provider).  skip_entry drops the first hop (entry NULL: a route
 * starting at a layer-1 mix).  SURB-acks and reply SURBs start at the gateway
 * where they enter, so that gateway holds them for a delay we drew.  With
 * avoid, up to 16 draws are made and the least suspect one is kept.
 */
static int make_route(struct core *c, const uint8_t *entry, const uint8_t *dest, bool skip_entry,
                      bool avoid, struct route *r)
{
    const struct pki_descriptor *d[SPHINX_MAX_HOPS_LIMIT], *best[SPHINX_MAX_HOPS_LIMIT];
    int n = -1;
    uint64_t best_bad = UINT64_MAX;
    for (int tries = 0; tries < (avoid ? 16 : 1); tries++) {
        int m = pki_random_path(c->doc, &c->rng, entry, dest, d, MIX_ARRAY_LEN(d));
        if (m < 2)
            return CORE_ERR_PATH;
        uint64_t bad = avoid ? suspicion(c, d, m) : 0;
        if (bad < best_bad) {
            memcpy(best, d, (size_t)m * sizeof(d[0]));
            n = m;
            best_bad = bad;
        }
        if (bad == 0)
            break;
    }
    uint64_t epoch = core_key_epoch(c);
    size_t from = skip_entry ? 1 : 0;
    r->n = 0;
    r->delay_sum = 0;
    for (size_t i = from; i < (size_t)n; i++) {
        const uint8_t *k = pki_descriptor_sphinx_key(best[i], epoch);
        if (k == NULL)
            k = pki_descriptor_sphinx_key(best[i], pki_doc_epoch(c->doc));
        if (k == NULL)
            return CORE_ERR_PATH;
        r->hidx[r->n] = core_health_index(c, best[i]->id);
        struct sphinx_hop *h = &r->hops[r->n++];
        memcpy(h->node_id, best[i]->id, MIX_NODE_ID_LEN);
        memcpy(h->public_key, k, SPHINX_KEY_LEN);
        h->delay_us = draw_delay(c);
        r->delay_sum += h->delay_us;
    }
    return CORE_OK;
}

static void path_add(struct pathrec *p, const struct route *r)
{
    for (size_t i = 0; i < r->n && p->n < CORE_PATH_MAX; i++)
        if (r->hidx[i] != UINT16_MAX)
            p->node[p->n++] = r->hidx[i];
}

/* Create a SURB back to our own inbox and remember its keys under a fresh id. */
static int make_surb(struct core *c, int kind, const uint8_t *entry, const uint8_t *msg_id,
                     uint32_t idx, uint64_t unix_now, bool avoid, uint8_t *surb_out,
                     struct route *route_out)
{
    struct route r;
    uint8_t rec[SREC_LEN], surb_id[SPHINX_SURB_ID_LEN];
    int e = make_route(c, entry, c->cfg.gateway_id, entry == NULL, avoid, &r);
    if (e != CORE_OK)
        return e;
    struct rec_surb h = { .kind = (uint8_t)kind, .index = idx, .created = unix_now };
    mix_rng_bytes(&c->rng, surb_id, sizeof(surb_id));
    if (msg_id != NULL)
        memcpy(h.msg_id, msg_id, CORE_MSG_ID_LEN);
    rec_surb_pack(&h, rec);
    if (sphinx_surb_create(&c->g, &c->rng, r.hops, r.n, c->inbox_id, surb_id, surb_out,
                           rec + REC_SURB_HDR) != SPHINX_OK)
        return CORE_ERR_CRYPTO;
    e = cstore_put(c->store, CSTORE_SURB, surb_id, sizeof(surb_id), rec, sizeof(rec));
    sodium_memzero(rec, sizeof(rec));
    if (route_out != NULL)
        *route_out = r;
    return e == 0 ? CORE_OK : CORE_ERR_STORE;
}

/* What one end-to-end packet carries. */
struct e2e {
    const uint8_t *to_gw, *to_pk;
    struct payload_frag frag;
    int ack_kind; /* SK_ACK or SK_LOOP_ACK */
    bool avoid;   /* steer clear of suspect nodes */
};

/*
 * Build a packet: fragment sealed to the recipient, inside an envelope with
 * a SURB-ack, through a fresh route.  *wait_us gets the retransmit timeout.
 */
static int build_e2e(struct core *c, const struct e2e *m, uint64_t unix_now, uint8_t *out,
                     uint64_t *wait_us, struct pathrec *path)
{
    size_t flen = core_frag_len(c), body_len = flen + crypto_box_SEALBYTES;
    uint8_t *buf = malloc(flen + body_len + c->surb_len + c->plain_len);
    uint8_t rcpt[PAYLOAD_INBOX_ID_LEN];
    struct route r, ack;
    int e = CORE_ERR_NOMEM;
    if (buf == NULL)
        return e;
    uint8_t *frag = buf, *body = frag + flen, *surb = body + body_len, *plain = surb + c->surb_len;
    if ((e = make_route(c, c->cfg.gateway_id, m->to_gw, false, m->avoid, &r)) != CORE_OK)
        goto out;
    /* The SURB-ack starts at the exit gateway, which holds it for the first delay we chose. */
    e = make_surb(c, m->ack_kind, m->to_gw, m->frag.msg_id, m->frag.index, unix_now, m->avoid, surb,
                  &ack);
    if (e != CORE_OK)
        goto out;
    e = CORE_ERR_CRYPTO;
    if (payload_frag_build(frag, flen, &m->frag) != PAYLOAD_OK ||
        crypto_box_seal(body, frag, flen, m->to_pk) != 0 ||
        payload_build(plain, c->plain_len, surb, c->surb_len, body, body_len) != PAYLOAD_OK)
        goto out;
    payload_inbox_id(rcpt, m->to_pk);
    if (sphinx_create(&c->g, &c->rng, r.hops, r.n, rcpt, plain, c->plain_len, out) != SPHINX_OK)
        goto out;
    /* Why this timeout: the delays we chose, plus twice the mean for every hop
     * of both paths (queueing, links), plus two fetch rounds and a slack. */
    const struct pki_params *p = pki_doc_params(c->doc);
    *wait_us = r.delay_sum + ack.delay_sum + 2 * (uint64_t)(r.n + ack.n + 1) * p->mean_delay_us +
               2 * c->cfg.fetch_interval_us + c->cfg.timeout_slack_us;
    path->n = 0;
    path_add(path, &r);
    path_add(path, &ack);
    e = CORE_OK;
out:
    sodium_memzero(buf, flen + body_len);
    free(buf);
    return e;
}

/* ------------------------------------------------------------ accepting */

static void put_out_header(uint8_t *rec, const struct mix_address *to, bool reply, uint64_t now,
                           uint32_t total, uint32_t count, uint32_t cap0, uint32_t cap)
{
    struct rec_out h = { .version = 1,
                         .reply = reply,
                         .created = now,
                         .total = total,
                         .count = count,
                         .cap0 = cap0,
                         .cap = cap };
    memcpy(h.gateway_id, to->gateway_id, MIX_NODE_ID_LEN);
    memcpy(h.public_key, to->public_key, ADDRESS_KEY_LEN);
    rec_out_pack(&h, rec);
}

int core_send(struct core *c, const struct mix_address *to, const uint8_t *msg, size_t len,
              uint32_t reply_surbs, uint8_t id_out[static CORE_MSG_ID_LEN])
{
    if (c->doc == NULL)
        return CORE_ERR_NO_DOC;
    if (len > PAYLOAD_MAX_MESSAGE)
        return CORE_ERR_TOO_BIG;
    const struct pki_descriptor *gw = pki_doc_find(c->doc, to->gateway_id);
    if (gw == NULL || (gw->roles & PKI_ROLE_PROVIDER) == 0)
        return CORE_ERR_ADDRESS;
    size_t cap = core_frag_len(c) - PAYLOAD_FRAG_HDR_LEN;
    size_t cap0 = reply_surbs ? cap - c->surb_len : cap;
    if (core_frag_len(c) <= PAYLOAD_FRAG_HDR_LEN + c->surb_len)
        return CORE_ERR_PATH;
    uint32_t count = len <= cap0 ? 1 : 1 + payload_frag_count(len - cap0, cap);
    uint8_t *rec = malloc(REC_OUT_HDR + len + 1);
    uint8_t *fs = calloc(2, count);
    int e = CORE_ERR_NOMEM;
    if (rec == NULL || fs == NULL)
        goto out;
    mix_rng_bytes(&c->rng, id_out, CORE_MSG_ID_LEN);
    put_out_header(rec, to, reply_surbs > 0, c->clock, (uint32_t)len, count, (uint32_t)cap0,
                   (uint32_t)cap);
    memcpy(rec + REC_OUT_HDR, msg, len);
    e = CORE_ERR_STORE;
    if (cstore_put(c->store, CSTORE_OUT, id_out, CORE_MSG_ID_LEN, rec, REC_OUT_HDR + len) != 0 ||
        cstore_put(c->store, CSTORE_FSTATE, id_out, CORE_MSG_ID_LEN, fs, 2 * (size_t)count) != 0 ||
        cstore_sync(c->store) != 0)
        goto out;
    /* One entry for the whole message: fragments are taken in turn with the others'. */
    if (core_qpush(&c->queue, id_out, 0) != 0)
        log_err("client: queue memory exhausted; the message resumes after a restart");
    else
        c->queue_frags += count;
    e = CORE_OK;
out:
    free(rec);
    free(fs);
    return e;
}

/* ------------------------------------------------------------ packets */

/*
 * Drop cover: a packet to a random gateway for the all-zero recipient, which
 * the gateway discards.  With ack (drop cover in the payload stream), it
 * carries a SURB-ack exactly like a real fragment's (envelope, random body of
 * a sealed fragment's length): the exit gateway sends it back and we discard
 * it (SK_COVER_ACK), so a real fragment and its cover cause the same traffic
 * downstream.  Drop cover of the drop stream (lambda_D) carries none.
 */
static int drop_packet(struct core *c, bool with_ack, uint64_t unix_now, uint8_t *out)
{
    static const uint8_t zero_id[MIX_NODE_ID_LEN];
    struct route r;
    int e = make_route(c, c->cfg.gateway_id, NULL, false, false, &r);
    if (e != CORE_OK)
        return e;
    size_t body_len = core_frag_len(c) + crypto_box_SEALBYTES;
    uint8_t *plain = malloc(c->plain_len + c->surb_len + body_len);
    if (plain == NULL)
        return CORE_ERR_NOMEM;
    uint8_t *surb = plain + c->plain_len, *body = surb + c->surb_len;
    if (!with_ack) {
        mix_rng_bytes(&c->rng, plain, c->plain_len);
    } else {
        uint8_t msg_id[CORE_MSG_ID_LEN];
        mix_rng_bytes(&c->rng, msg_id, sizeof(msg_id));
        mix_rng_bytes(&c->rng, body, body_len);
        e = make_surb(c, SK_COVER_ACK, r.hops[r.n - 1].node_id, msg_id, 0, unix_now, false, surb,
                      NULL);
        if (e == CORE_OK &&
            payload_build(plain, c->plain_len, surb, c->surb_len, body, body_len) != PAYLOAD_OK)
            e = CORE_ERR_CRYPTO;
    }
    if (e == CORE_OK)
        e = sphinx_create(&c->g, &c->rng, r.hops, r.n, zero_id, plain, c->plain_len, out) ==
                    SPHINX_OK
                ? CORE_OK
                : CORE_ERR_CRYPTO;
    free(plain);
    c->st.drop_sent += e == CORE_OK;
    return e;
}

static int loop_packet(struct core *c, uint64_t now_us, uint64_t unix_now, uint8_t *out)
{
    struct e2e m;
    struct pathrec path;
    uint64_t wait;
    memset(&m, 0, sizeof(m));
    m.to_gw = c->cfg.gateway_id;
    m.to_pk = c->pk;
    m.ack_kind = SK_LOOP_ACK;
    m.frag.kind = PAYLOAD_FRAG_LOOP;
    m.frag.count = 1;
    mix_rng_bytes(&c->rng, m.frag.msg_id, CORE_MSG_ID_LEN);
    int e = build_e2e(c, &m, unix_now, out, &wait, &path);
    /* Loops are probes: their timers only feed path health. */
    if (e == CORE_OK && core_flight_add(c, m.frag.msg_id, CORE_LOOP_IDX, now_us + wait, &path) != 0)
        log_err("client: out of memory for a loop timer");
    c->st.loop_sent += e == CORE_OK;
    return e;
}

/* The next queued reply packet, if any: 1 sent, 0 none. */
static int raw_first(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
    uint8_t **p = ctx;
    (void)vlen;
    (void)val;
    if (klen == 8) {
        memcpy(*p, key, 8);
        *p = NULL;
    }
    return 1;
}

static int send_raw(struct core *c, uint8_t *out)
{
    uint8_t key[8], *kp = key, *v;
    size_t vlen;
    if (c->n_raw == 0 || cstore_iter(c->store, CSTORE_RAW, NULL, 0, raw_first, &kp) != 0 ||
        kp != NULL)
        return 0;
    int got = cstore_get(c->store, CSTORE_RAW, key, 8, &v, &vlen);
    if (got != 1 || vlen != c->pkt_len) {
        /* A reply built for another geometry cannot be sent any more. */
        if (got == 1)
            free(v);
        if (cstore_del(c->store, CSTORE_RAW, key, 8) == 0 && c->n_raw > 0)
            c->n_raw--;
        return 0;
    }
    memcpy(out, v, vlen);
    free(v);
    if (cstore_del(c->store, CSTORE_RAW, key, 8) != 0)
        return 0;
    c->n_raw--;
    c->st.reply_sent++;
    return 1;
}

/*
 * Fragment (id, idx) of an outgoing message: 1 built, 0 skip it, <0 error.
 * fresh: only a fragment never sent (the fair queue's); else one to send
 * again.  *count_out gets the message's fragment count (0 if it is gone).
 */
static int send_fragment(struct core *c, const struct qent *q, bool fresh, uint64_t now_us,
                         uint64_t unix_now, uint8_t *out, uint32_t *count_out)
{
    size_t rlen;
    uint32_t count = 0;
    uint8_t *fs = core_fstate_get(c, q->id, &count);
    const uint8_t *rec = fs ? core_out_get(c, q->id, &rlen) : NULL;
    struct rec_out h;
    int ret = 0;
    *count_out = rec != NULL ? count : 0;
    /* SENT here means it was in flight when the daemon stopped (queued again at load). */
    if (rec == NULL || !rec_out_unpack(rec, rlen, &h) || q->idx >= count ||
        (fs[q->idx] != FS_QUEUED && fs[q->idx] != FS_SENT))
        goto out;
    if (fresh && (fs[q->idx] != FS_QUEUED || fs[count + q->idx] != 0))
        goto out;
    uint32_t total = h.total, cap0 = h.cap0, cap = h.cap;
    size_t off = q->idx == 0 ? 0 : cap0 + (size_t)(q->idx - 1) * cap;
    size_t want = q->idx == 0 ? cap0 : cap;
    if (rlen < REC_OUT_HDR + (size_t)total || off > total)
        goto out;
    struct e2e m;
    memset(&m, 0, sizeof(m));
    m.to_gw = h.gateway_id;
    m.to_pk = h.public_key;
    m.ack_kind = SK_ACK;
    m.avoid = true;
    m.frag.kind = PAYLOAD_FRAG_DATA;
    memcpy(m.frag.msg_id, q->id, CORE_MSG_ID_LEN);
    m.frag.index = q->idx;
    m.frag.count = count;
    m.frag.total_len = total;
    m.frag.data = rec + REC_OUT_HDR + off;
    m.frag.data_len = total - off < want ? total - off : want;
    uint8_t surb[CORE_SURB_MAX];
    if (q->idx == 0 && h.reply) {
        /* The reply SURB's first hop is the recipient's gateway, where it enters. */
        int e = make_surb(c, SK_REPLY, m.to_gw, q->id, 0, unix_now, true, surb, NULL);
        if (e != CORE_OK) {
            ret = e;
            goto out;
        }
        m.frag.flags = PAYLOAD_FRAG_FLAG_SURB;
        m.frag.surb = surb;
        m.frag.surb_len = c->surb_len;
    }
    uint64_t wait;
    struct pathrec path;
    if ((ret = build_e2e(c, &m, unix_now, out, &wait, &path)) != CORE_OK)
        goto out;
    fs[q->idx] = FS_SENT;
    if (fs[count + q->idx] < 255)
        fs[count + q->idx]++;
    if (cstore_put(c->store, CSTORE_FSTATE, q->id, CORE_MSG_ID_LEN, fs, 2 * (size_t)count) != 0 ||
        core_flight_add(c, q->id, q->idx, now_us + wait, &path) != 0) {
        ret = CORE_ERR_STORE;
        goto out;
    }
    c->st.real_sent++;
    ret = 1;
out:
    free(fs);
    return ret;
}

/* A fragment to send again: 1 built, 0 none (or kept for later after an error). */
static int next_retx(struct core *c, uint64_t now_us, uint64_t unix_now, uint8_t *out)
{
    struct qent q;
    uint32_t count;
    while (core_qpop(&c->retx, &q)) {
        int r = send_fragment(c, &q, false, now_us, unix_now, out, &count);
        if (r == 1)
            return 1;
        if (r < 0) {
            /* Keep it for later (e.g. an empty layer right now); send cover instead. */
            if (core_qpush(&c->retx, q.id, q.idx) != 0)
                log_err("client: queue memory exhausted");
            return 0;
        }
    }
    return 0;
}

/*
 * The next real fragment: a retransmission, or the next new fragment of the
 * message at the head of the fair queue, which then goes to the tail
 * (round-robin over messages).  When both wait they take turns, so a file's
 * retransmissions on a lossy network cannot hold a short message back
 * either.  1 built, 0 nothing to send.
 */
static int next_fragment(struct core *c, uint64_t now_us, uint64_t unix_now, uint8_t *out)
{
    struct qent q;
    uint32_t count;
    bool retx_first = c->retx_turn || c->queue.len == 0;
    c->retx_turn = !c->retx_turn;
    if (retx_first && c->retx.len > 0) {
        int r = next_retx(c, now_us, unix_now, out);
        /* Sent, or kept after an error; else every entry was stale: new ones then. */
        if (r == 1 || c->retx.len > 0)
            return r;
    }
    while (core_qpop(&c->queue, &q)) {
        int r = send_fragment(c, &q, true, now_us, unix_now, out, &count);
        if (r < 0) {
            /* Its turn comes again; cover fills this slot. */
            if (core_qpush(&c->queue, q.id, q.idx) != 0)
                log_err("client: queue memory exhausted; the message resumes after a restart");
            return 0;
        }
        if (r == 1 && c->queue_frags > 0)
            c->queue_frags--;
        if (q.idx + 1 < count && core_qpush(&c->queue, q.id, q.idx + 1) != 0)
            log_err("client: queue memory exhausted; the message resumes after a restart");
        if (r == 1)
            return 1;
    }
    /* Nothing new to send after all: a retransmission then. */
    return next_retx(c, now_us, unix_now, out);
}

int core_next_packet(struct core *c, enum core_stream s, uint64_t now_us, uint64_t unix_now,
                     uint8_t *out)
{
    if (c->doc == NULL)
        return CORE_ERR_NO_DOC;
    c->unix_now = unix_now;
    if (s == CORE_STREAM_LOOP)
        return loop_packet(c, now_us, unix_now, out);
    if (s == CORE_STREAM_PAYLOAD) {
        if (send_raw(c, out) == 1)
            return 1;
        /*
         * Which real fragment fills this slot is all that is decided here:
         * the slot itself (the Poisson timer) and the packet's size are the
         * same whatever is queued, so fairness changes nothing an observer sees.
         */
        int r = next_fragment(c, now_us, unix_now, out);
        if (r == 1)
            return 1;
    }
    int e = drop_packet(c, s == CORE_STREAM_PAYLOAD, unix_now, out);
    return e == CORE_OK ? 0 : e;
}

/* ------------------------------------------------------------ replies */

int core_reply(struct core *c, const uint8_t id[static CORE_MSG_ID_LEN], const uint8_t *body,
               size_t len, uint8_t *id_out)
{
    uint8_t *rec, first[MIX_NODE_ID_LEN], key[8];
    size_t rlen;
    if (c->doc == NULL)
        return CORE_ERR_NO_DOC;
    if (len > core_reply_cap(c))
        return CORE_ERR_TOO_BIG;
    int got = cstore_get(c->store, CSTORE_IN, id, CORE_MSG_ID_LEN, &rec, &rlen);
    if (got != 1)
        return got == 0 ? CORE_ERR_UNKNOWN : CORE_ERR_STORE;
    struct rec_in in;
    int e = CORE_ERR_NO_SURB;
    if (!rec_in_unpack(rec, rlen, &in))
        goto out_rec;
    size_t surb_len = in.surb_len;
    uint8_t *buf = malloc(c->plain_len + c->pkt_len);
    if (buf == NULL) {
        e = CORE_ERR_NOMEM;
        goto out;
    }
    /* A SURB works once: its bytes stay in the record, the flag says it is spent.
     * (A reply's record holds the id it answers there instead: no SURB.) */
    if (rlen >= REC_IN_HDR + surb_len && surb_len > 0 &&
        !(in.flags & (REC_IN_CAN_REPLY | REC_IN_IS_REPLY)))
        e = CORE_ERR_SURB_USED;
    if (rlen < REC_IN_HDR + surb_len || !(in.flags & REC_IN_CAN_REPLY) || surb_len != c->surb_len)
        goto out;
    struct payload_frag f;
    memset(&f, 0, sizeof(f));
    f.kind = PAYLOAD_FRAG_REPLY;
    mix_rng_bytes(&c->rng, f.msg_id, CORE_MSG_ID_LEN);
    f.count = 1;
    f.total_len = (uint32_t)len;
    f.data = body;
    f.data_len = len;
    e = CORE_ERR_CRYPTO;
    if (payload_frag_build(buf, c->plain_len, &f) != PAYLOAD_OK ||
        sphinx_surb_pack(&c->g, rec + REC_IN_HDR, surb_len, buf, c->plain_len, buf + c->plain_len,
                         first) != SPHINX_OK)
        goto out;
    /* We can only hand a packet to our own gateway. */
    if (sodium_memcmp(first, c->cfg.gateway_id, MIX_NODE_ID_LEN) != 0) {
        e = CORE_ERR_PATH;
        goto out;
    }
    mix_put_be64(key, c->raw_seq++);
    in.flags &= (uint8_t)~REC_IN_CAN_REPLY;
    rec_in_pack(&in, rec);
    e = CORE_ERR_STORE;
    if (cstore_put(c->store, CSTORE_RAW, key, 8, buf + c->plain_len, c->pkt_len) != 0 ||
        cstore_put(c->store, CSTORE_IN, id, CORE_MSG_ID_LEN, rec, rlen) != 0 ||
        cstore_sync(c->store) != 0)
        goto out;
    c->n_raw++;
    if (id_out != NULL)
        memcpy(id_out, f.msg_id, CORE_MSG_ID_LEN);
    e = CORE_OK;
out:
    free(buf);
out_rec:
    free(rec);
    return e;
}

/* ------------------------------------------------------------ timers */

/* A fragment's timer ran out: queue it again, or fail the message. */
static void expire(struct core *c, const struct flight *f)
{
    for (size_t k = 0; k < f->path.n; k++)
        if (f->path.node[k] < c->n_hl)
            c->hl[f->path.node[k]].strikes++;
    if (f->idx == CORE_LOOP_IDX)
        return;
    uint32_t count;
    uint8_t *fs = core_fstate_get(c, f->id, &count);
    if (fs == NULL || f->idx >= count || fs[f->idx] != FS_SENT) {
        free(fs);
        return;
    }
    if (fs[count + f->idx] < c->cfg.max_attempts) {
        fs[f->idx] = FS_QUEUED;
        if (core_qpush(&c->retx, f->id, f->idx) != 0)
            log_err("client: queue memory exhausted");
        c->st.retransmits++;
    } else {
        struct core_status before, after;
        core_summarize(fs, count, &before);
        fs[f->idx] = FS_FAILED;
        core_summarize(fs, count, &after);
        if (before.state != CORE_MSG_FAILED && after.state == CORE_MSG_FAILED)
            c->st.failed_msgs++;
    }
    if (cstore_put(c->store, CSTORE_FSTATE, f->id, CORE_MSG_ID_LEN, fs, 2 * (size_t)count) != 0)
        log_err("client: could not record a retransmission");
    free(fs);
}

void core_tick(struct core *c, uint64_t now_us)
{
    size_t j = 0;
    for (size_t i = 0; i < c->n_fl; i++) {
        if (c->fl[i].deadline <= now_us)
            expire(c, &c->fl[i]);
        else
            c->fl[j++] = c->fl[i];
    }
    c->n_fl = j;
}
