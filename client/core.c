/*
 * The client's protocol engine; see core.h and docs/spec/client.md.
 *
 * Persistent records (all integers big-endian) live in client/store tables:
 *   OUT    msg id -> out record: REC_OUT_HDR bytes of header, then the message
 *   FSTATE msg id -> count state bytes, then count attempt bytes
 *   SURB   surb id -> SURB record: REC_SURB_HDR bytes of header, then the keys
 *   PMETA/PART     partly received messages; IN complete received messages
 * (byte layouts and codecs: records.h)
 *   RAW    sequence -> a ready reply packet
 * In memory we keep only queues of (message, fragment) references and the
 * in-flight timers; after a restart every fragment not acknowledged is
 * queued again (the recipient drops duplicates).
 */
#include "core_int.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

const char *core_strerror(int err)
{
    switch (err) {
    case CORE_OK: return "ok";
    case CORE_ERR_ADDRESS: return "the recipient's gateway is not in the directory";
    case CORE_ERR_TOO_BIG: return "message too large";
    case CORE_ERR_NO_DOC: return "no verified directory yet";
    case CORE_ERR_STORE: return "local store failed";
    case CORE_ERR_UNKNOWN: return "unknown message id";
    case CORE_ERR_NO_SURB: return "that message cannot be replied to (no unused reply SURB)";
    case CORE_ERR_NOMEM: return "out of memory";
    case CORE_ERR_PATH: return "no usable path in the directory";
    case CORE_ERR_CRYPTO: return "packet construction failed";
    case CORE_ERR_SURB_USED: return "reply block already used";
    }
    return "unknown error";
}

/* ------------------------------------------------------------ queues */

int core_qpush(struct qvec *q, const uint8_t id[CORE_MSG_ID_LEN], uint32_t idx)
{
    if (q->head + q->len == q->cap) {
        if (q->head > 0) {
            memmove(q->v, q->v + q->head, q->len * sizeof(*q->v));
            q->head = 0;
        } else {
            size_t ncap = q->cap ? q->cap * 2 : 64;
            struct qent *n = realloc(q->v, ncap * sizeof(*n));
            if (n == NULL)
                return -1;
            q->v = n;
            q->cap = ncap;
        }
    }
    struct qent *e = &q->v[q->head + q->len++];
    memcpy(e->id, id, CORE_MSG_ID_LEN);
    e->idx = idx;
    return 0;
}

bool core_qpop(struct qvec *q, struct qent *out)
{
    if (q->len == 0)
        return false;
    *out = q->v[q->head++];
    if (--q->len == 0)
        q->head = 0;
    return true;
}

int core_flight_add(struct core *c, const uint8_t id[CORE_MSG_ID_LEN], uint32_t idx,
                    uint64_t deadline, const struct pathrec *path)
{
    if (c->n_fl == c->cap_fl) {
        size_t ncap = c->cap_fl ? c->cap_fl * 2 : 64;
        struct flight *n = realloc(c->fl, ncap * sizeof(*n));
        if (n == NULL)
            return -1;
        c->fl = n;
        c->cap_fl = ncap;
    }
    struct flight *f = &c->fl[c->n_fl++];
    memcpy(f->id, id, CORE_MSG_ID_LEN);
    f->idx = idx;
    f->deadline = deadline;
    f->path = *path;
    return 0;
}

bool core_flight_acked(struct core *c, const uint8_t id[CORE_MSG_ID_LEN], uint32_t idx)
{
    for (size_t i = 0; i < c->n_fl; i++) {
        struct flight *f = &c->fl[i];
        if (f->idx != idx || memcmp(f->id, id, CORE_MSG_ID_LEN) != 0)
            continue;
        for (size_t k = 0; k < f->path.n; k++)
            if (f->path.node[k] < c->n_hl)
                c->hl[f->path.node[k]].strikes = 0;
        c->fl[i] = c->fl[--c->n_fl];
        return true;
    }
    return false;
}

uint16_t core_health_index(struct core *c, const uint8_t id[MIX_NODE_ID_LEN])
{
    for (size_t i = 0; i < c->n_hl; i++)
        if (memcmp(c->hl[i].id, id, MIX_NODE_ID_LEN) == 0)
            return (uint16_t)i;
    if (c->n_hl >= PKI_MAX_NODES)
        return UINT16_MAX;
    if (c->n_hl == c->cap_hl) {
        size_t ncap = c->cap_hl ? c->cap_hl * 2 : 32;
        struct health *n = realloc(c->hl, ncap * sizeof(*n));
        if (n == NULL)
            return UINT16_MAX;
        c->hl = n;
        c->cap_hl = ncap;
    }
    memcpy(c->hl[c->n_hl].id, id, MIX_NODE_ID_LEN);
    c->hl[c->n_hl].strikes = 0;
    return (uint16_t)c->n_hl++;
}

/* ------------------------------------------------------------ records */

uint8_t *core_fstate_get(struct core *c, const uint8_t id[CORE_MSG_ID_LEN], uint32_t *count)
{
    uint8_t *v;
    size_t len;
    if (cstore_get(c->store, CSTORE_FSTATE, id, CORE_MSG_ID_LEN, &v, &len) != 1)
        return NULL;
    if (len == 0 || len % 2 != 0) {
        free(v);
        return NULL;
    }
    *count = (uint32_t)(len / 2);
    return v;
}

void core_summarize(const uint8_t *fs, uint32_t count, struct core_status *s)
{
    uint32_t acked = 0, failed = 0, sent = 0;
    for (uint32_t i = 0; i < count; i++) {
        acked += fs[i] == FS_ACKED;
        failed += fs[i] == FS_FAILED;
        sent += fs[i] == FS_SENT || fs[i] == FS_ACKED || fs[count + i] > 0;
    }
    s->fragments = count;
    s->acked = acked;
    if (acked == count)
        s->state = CORE_MSG_ACKNOWLEDGED;
    else if (failed > 0)
        s->state = CORE_MSG_FAILED;
    else if (sent > 0)
        s->state = CORE_MSG_SENT;
    else
        s->state = CORE_MSG_QUEUED;
}

/* The out record of a message, from the cache or the store. */
const uint8_t *core_out_get(struct core *c, const uint8_t id[CORE_MSG_ID_LEN], size_t *len)
{
    if (c->cache != NULL && memcmp(c->cache_id, id, CORE_MSG_ID_LEN) == 0) {
        *len = c->cache_len;
        return c->cache;
    }
    free(c->cache);
    c->cache = NULL;
    uint8_t *v;
    if (cstore_get(c->store, CSTORE_OUT, id, CORE_MSG_ID_LEN, &v, len) != 1)
        return NULL;
    if (*len < REC_OUT_HDR) {
        free(v);
        return NULL;
    }
    memcpy(c->cache_id, id, CORE_MSG_ID_LEN);
    c->cache = v;
    c->cache_len = *len;
    return v;
}

/* ------------------------------------------------------------ setup */

struct load_ctx {
    struct core *c;
    int err;
};

static int load_one(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
    struct load_ctx *l = ctx;
    if (klen != CORE_MSG_ID_LEN || vlen == 0 || vlen % 2 != 0)
        return 0;
    uint32_t count = (uint32_t)(vlen / 2), first_new = count;
    for (uint32_t i = 0; i < count; i++) {
        /*
         * A fragment in flight when we stopped may be lost, and one waiting to
         * be sent again was sent before: both go to retx.  Fragments never
         * sent are the message's one entry in the fair queue.
         */
        bool fresh = val[i] == FS_QUEUED && val[count + i] == 0;
        if (fresh) {
            l->c->queue_frags++;
            if (first_new == count)
                first_new = i;
        } else if ((val[i] == FS_QUEUED || val[i] == FS_SENT) &&
                   core_qpush(&l->c->retx, key, i) != 0) {
            l->err = -1;
            return 1;
        }
    }
    if (first_new < count && core_qpush(&l->c->queue, key, first_new) != 0) {
        l->err = -1;
        return 1;
    }
    return 0;
}

static int load_raw(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
    struct core *c = ctx;
    (void)val;
    (void)vlen;
    if (klen == 8) {
        c->n_raw++;
        uint64_t s = mix_get_be64(key);
        if (s >= c->raw_seq)
            c->raw_seq = s + 1;
    }
    return 0;
}

struct core *core_new(const struct core_config *cfg, struct cstore *store,
                      const struct mix_rng *rng)
{
    struct core *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->cfg = *cfg;
    if (c->cfg.max_attempts == 0)
        c->cfg.max_attempts = 1;
    crypto_scalarmult_base(c->pk, c->cfg.sk);
    payload_inbox_id(c->inbox_id, c->pk);
    c->store = store;
    c->rng = *rng;
    struct load_ctx l = { c, 0 };
    if (cstore_iter(store, CSTORE_FSTATE, NULL, 0, load_one, &l) != 0 || l.err != 0 ||
        cstore_iter(store, CSTORE_RAW, NULL, 0, load_raw, c) != 0) {
        core_free(c);
        return NULL;
    }
    return c;
}

void core_free(struct core *c)
{
    if (c == NULL)
        return;
    pki_doc_free(c->doc);
    free(c->retx.v);
    free(c->queue.v);
    free(c->fl);
    free(c->hl);
    free(c->cache);
    sodium_memzero(c, sizeof(*c));
    free(c);
}

void core_set_doc(struct core *c, struct pki_doc *doc)
{
    const struct pki_params *p = pki_doc_params(doc);
    struct sphinx_geometry g = { p->max_hops, p->payload_len,
                                 (enum sphinx_format)p->sphinx_format };
    if (!sphinx_geometry_valid(&g, NULL) || p->layers + 2 > p->max_hops) {
        log_warn("directory geometry unusable for clients; keeping the previous one");
        pki_doc_free(doc);
        return;
    }
    pki_doc_free(c->doc);
    c->doc = doc;
    c->g = g;
    c->layers = p->layers;
    c->plain_len = sphinx_plaintext_len(&g);
    c->surb_len = sphinx_surb_len(&g);
    c->pkt_len = sphinx_packet_len(&g);
}

const struct pki_doc *core_doc(const struct core *c)
{
    return c->doc;
}

void core_set_recv_cb(struct core *c, core_recv_fn fn, void *ctx)
{
    c->recv_fn = fn;
    c->recv_ctx = ctx;
}

void core_address(const struct core *c, struct mix_address *out)
{
    memcpy(out->gateway_id, c->cfg.gateway_id, MIX_NODE_ID_LEN);
    memcpy(out->public_key, c->pk, ADDRESS_KEY_LEN);
}

size_t core_max_message(void)
{
    return PAYLOAD_MAX_MESSAGE;
}

size_t core_packet_len(const struct core *c)
{
    return c->doc ? c->pkt_len : 0;
}

size_t core_fragment_capacity(const struct core *c)
{
    return c->doc ? core_frag_len(c) - PAYLOAD_FRAG_HDR_LEN : 0;
}

void core_set_clock(struct core *c, uint64_t unix_now)
{
    c->clock = unix_now;
}

size_t core_queue_len(const struct core *c)
{
    return c->queue_frags + c->retx.len + c->n_raw;
}

void core_get_stats(const struct core *c, struct core_stats *out)
{
    *out = c->st;
}

/* Data bytes in one fragment: what is left of the plaintext after the envelope, SURB-ack, seal. */
size_t core_frag_len(const struct core *c)
{
    size_t cap = payload_body_cap(c->plain_len, c->surb_len);
    return cap > crypto_box_SEALBYTES ? cap - crypto_box_SEALBYTES : 0;
}

size_t core_reply_cap(const struct core *c)
{
    return c->doc && c->plain_len > PAYLOAD_FRAG_HDR_LEN ? c->plain_len - PAYLOAD_FRAG_HDR_LEN : 0;
}

void core_out_cache_drop(struct core *c)
{
    free(c->cache);
    c->cache = NULL;
}
