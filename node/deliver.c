/*
 * deliver: the exit hop, on the crypto workers.  A packet unwrapped for
 * this node is drop cover (all-zero recipient: nothing stored, its
 * SURB-ack sent like a real fragment's), one of our own loop cover packets
 * back home, or, at a provider within the per-inbox admission rate, a
 * payload to store.  The payloads of a worker's batch are stored in one
 * LMDB transaction once their replay tags are durable (node_store_jobs(),
 * group commit), and only after that commit are their SURB-acks built.
 * unwrap.c unwraps the packet and calls exit_hop().
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "node.h"
#include "payload.h"
/* Plaintext prefix of our own loop cover packets (mix.c builds them). */
#define NODE_LOOP_MAGIC "mixnet-mixloop-v1"

static bool all_zero(const uint8_t *p, size_t len)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < len; i++)
        acc |= p[i];
    return acc == 0;
}

static void count_store_error(struct node *n, struct job *j, int rc)
{
    if (rc == INBOX_FULL || rc == INBOX_STORE_FULL) {
        /* Counted and summed up once a second: junk must not flood the log. */
        metric_inc(&n->metrics.limit_hits);
        log_debug("inbox limit reached (%s); packet dropped", inbox_strerror(rc));
        job_drop(n, j, DROP_INBOX_FULL);
    } else if (rc == INBOX_NO_INBOX) {
        job_drop(n, j, DROP_NO_INBOX);
    } else {
        job_drop(n, j, DROP_STORE_ERROR);
    }
}

/*
 * A SURB-ack whose first hop is this node: its creator put us first so that it
 * chose how long we hold the ack, like any hop's delay (client.md "Payload
 * envelope").  Unwrap our own layer now, as if the packet had arrived, and
 * forward the result after that delay.  j->data holds the packed packet; the
 * result goes to the second half of the job's buffer.
 */
static void ack_own_hop(struct node *n, struct job *j, const struct sphinx_geometry *g)
{
    struct sphinx_result res;
    uint8_t *out = j->data + j->pkt_len;
    enum sphinx_status st = SPHINX_ERR_MAC;
    pthread_rwlock_rdlock(&n->keys.lock);
    struct node_key_slot *cur = find_slot(&n->keys, n->keys.cur_epoch);
    struct node_key_slot *old = find_slot(&n->keys, n->keys.grace_epoch);
    if (cur)
        st = sphinx_unwrap(g, cur->sk, cur->replay, j->data, j->pkt_len, out, j->pkt_len, &res);
    if (st == SPHINX_ERR_MAC && old)
        st = sphinx_unwrap(g, old->sk, old->replay, j->data, j->pkt_len, out, j->pkt_len, &res);
    pthread_rwlock_unlock(&n->keys.lock);
    if (st != SPHINX_OK_FORWARD) {
        log_debug("exit: SURB-ack through this node refused: %s", sphinx_strerror(st));
        job_drop(n, j, st == SPHINX_ERR_REPLAY ? DROP_REPLAY : DROP_BAD_PAYLOAD);
        sodium_memzero(&res, sizeof(res));
        return;
    }
    memcpy(j->hop, res.node_id, MIX_NODE_ID_LEN);
    j->delay_us = res.delay_us;
    j->buf = out;
    sodium_memzero(&res, sizeof(res));
}

/* Turn the job into the SURB-ack packet built from v's SURB (j->data, first hop j->hop). */
static void send_surb_ack(struct node *n, struct job *j, const struct sphinx_geometry *g,
                          const struct payload_view *v)
{
    static const char ack[] = PAYLOAD_ACK_MAGIC;
    enum sphinx_status st = sphinx_surb_pack(g, v->surb_ack, v->surb_ack_len, (const uint8_t *)ack,
                                             sizeof(ack) - 1, j->data, j->hop);
    if (st != SPHINX_OK) {
        log_debug("exit: SURB-ack refused: %s", sphinx_strerror(st));
        job_drop(n, j, DROP_BAD_PAYLOAD);
        return;
    }
    j->kind = JOB_FORWARD;
    j->buf = j->data;
    j->delay_us = 0;
    /* A SURB that does not start here (older clients) leaves at once. */
    if (sodium_memcmp(j->hop, n->node_id, MIX_NODE_ID_LEN) == 0)
        ack_own_hop(n, j, g);
    if (j->kind == JOB_FORWARD)
        metric_inc(&n->metrics.acks_sent);
}

/*
 * Exit hop for a forward message: the body is stored by the group commit
 * (node_store_jobs()), which builds the SURB-ack only after that commit.
 */
static void exit_deliver(struct node *n, struct job *j, const struct sphinx_result *res,
                         const uint8_t *plain)
{
    struct payload_view v;
    enum payload_err pe = payload_parse(plain, res->out_len, &v);
    if (pe != PAYLOAD_OK || v.body_len == 0) {
        log_debug("exit: payload envelope refused: %s", payload_strerror(pe));
        job_drop(n, j, DROP_BAD_PAYLOAD);
        return;
    }
    j->kind = JOB_DROP;
    j->store = true;
    memcpy(j->hop, res->node_id, MIX_NODE_ID_LEN);
    j->store_len = res->out_len;
    j->store_reply = false;
}

/*
 * Drop cover (all-zero recipient): nothing is stored.  Cover from a client's
 * payload stream carries a SURB-ack like a real fragment, sent back the same
 * way, so that real sending and cover cause the same traffic downstream
 * (client.md "Payload envelope").  Random bytes (no envelope) are plain drops.
 */
static void exit_drop_cover(struct node *n, struct job *j, const struct sphinx_geometry *g,
                            const struct sphinx_result *res, const uint8_t *plain)
{
    struct payload_view v;
    metric_inc(&n->metrics.drop_cover);
    if (res->is_reply || payload_parse(plain, res->out_len, &v) != PAYLOAD_OK || !v.surb_ack) {
        j->kind = JOB_DROP;
        return;
    }
    send_surb_ack(n, j, g, &v);
    if (j->kind == JOB_FORWARD)
        metric_inc(&n->metrics.cover_acks_sent);
}

/*
 * Per-inbox admission: a token bucket per inbox (hashed into a fixed table:
 * two inboxes sharing a bucket share its rate), inbox.admit_rate a second
 * (0: from the document, see node_mixq_setup), burst inbox.admit_burst (at
 * least one second's worth).  Set below what a recipient drains per fetch interval,
 * it keeps an online recipient's inbox from filling up with junk, so junk
 * delays real messages at most but cannot push them out.
 */
static bool inbox_admit(struct node *n, const uint8_t id[static MIX_NODE_ID_LEN])
{
    uint64_t rate = n->conf.admit_rate ? n->conf.admit_rate : atomic_load(&n->admit_auto);
    if (rate == 0)
        return true;
    uint64_t h = 0, now = node_now_us();
    memcpy(&h, id, sizeof(h)); /* the id is a BLAKE2b output: its bytes are uniform */
    struct node_bucket *b = &n->admit[h % MIX_ARRAY_LEN(n->admit)];
    double burst = (double)(n->conf.admit_burst > rate ? n->conf.admit_burst : rate);
    bool ok;
    while (atomic_flag_test_and_set_explicit(&n->admit_lock, memory_order_acquire))
        ;
    if (b->at_us == 0)
        b->tokens = burst;
    else
        b->tokens += (double)(now - b->at_us) * (double)rate / 1e6;
    if (b->tokens > burst)
        b->tokens = burst;
    b->at_us = now;
    ok = b->tokens >= 1.0;
    if (ok)
        b->tokens -= 1.0;
    atomic_flag_clear_explicit(&n->admit_lock, memory_order_release);
    return ok;
}

void exit_hop(struct node *n, struct job *j, const struct sphinx_geometry *g,
              const struct sphinx_result *res, const uint8_t *plain)
{
    if (all_zero(res->node_id, MIX_NODE_ID_LEN)) {
        exit_drop_cover(n, j, g, res, plain);
        return;
    }
    if (sodium_memcmp(res->node_id, n->node_id, MIX_NODE_ID_LEN) == 0) {
        size_t ml = sizeof(NODE_LOOP_MAGIC) - 1;
        if (res->is_reply || res->out_len < ml + MIX_NODE_ID_LEN ||
            memcmp(plain, NODE_LOOP_MAGIC, ml) != 0) {
            job_drop(n, j, DROP_BAD_PAYLOAD);
            return;
        }
        memcpy(j->hop, plain + ml, MIX_NODE_ID_LEN);
        j->kind = JOB_LOOP_RETURNED;
        return;
    }
    if (!(n->conf.roles & PKI_ROLE_PROVIDER)) {
        job_drop(n, j, DROP_NOT_PROVIDER);
        return;
    }
    if (!inbox_admit(n, res->node_id)) {
        job_drop(n, j, DROP_INBOX_RATE);
        return;
    }
    /* Stored only once its replay tag is durable (a few ms, replay_journal.c):
     * node_store_jobs() waits for that, once for the whole group. */
    if (!res->is_reply) {
        exit_deliver(n, j, res, plain);
        return;
    }
    /* A SURB reply: stored still encrypted, tagged with its SURB id for the creator. */
    j->kind = JOB_DROP;
    j->store = true;
    memcpy(j->hop, res->node_id, MIX_NODE_ID_LEN);
    j->store_len = res->out_len;
    j->store_reply = true;
    memcpy(j->store_surb_id, res->surb_id, INBOX_SURB_ID_LEN);
}

/* Jobs stored per transaction at most (a worker's batch, WORKER_BATCH, fits). */
#define STORE_GROUP_MAX 64

/* One stored (or refused) job: count it, and build its SURB-ack if it has one. */
static void store_done(struct node *n, struct job *j, const struct sphinx_geometry *g, int rc)
{
    uint8_t *plain = j->data + j->pkt_len;
    struct payload_view v;

    if (rc != INBOX_OK) {
        count_store_error(n, j, rc);
    } else if (j->store_reply) {
        metric_inc(&n->metrics.replies_stored);
        j->kind = JOB_DROP;
    } else {
        metric_inc(&n->metrics.delivered);
        j->kind = JOB_DROP;
        /* The commit holding it is durable: only now may the sender learn it arrived. */
        if (payload_parse(plain, j->store_len, &v) == PAYLOAD_OK && v.surb_ack)
            send_surb_ack(n, j, g, &v);
    }
    if (j->kind != JOB_FORWARD)
        sodium_memzero(plain, j->pkt_len);
}

/* Store up to STORE_GROUP_MAX marked jobs from *cursor on; *cursor moves past them. */
static void store_group(struct node *n, struct job **cursor, const struct sphinx_geometry *g)
{
    struct inbox_put_req req[STORE_GROUP_MAX];
    struct job *jobs[STORE_GROUP_MAX];
    struct payload_view v;
    size_t k = 0;
    uint64_t now = node_wall_s();
    struct job *j = *cursor;
    uint64_t jseq = 0;

    for (; j && k < STORE_GROUP_MAX; j = j->next) {
        if (!j->store)
            continue;
        j->store = false;
        if (j->jseq > jseq)
            jseq = j->jseq;
        uint8_t *plain = j->data + j->pkt_len;
        memset(&req[k], 0, sizeof(req[k]));
        req[k].id = j->hop;
        req[k].now = now;
        req[k].is_reply = j->store_reply;
        if (j->store_reply) {
            req[k].payload = plain;
            req[k].len = j->store_len;
            req[k].surb_id = j->store_surb_id;
        } else {
            if (payload_parse(plain, j->store_len, &v) != PAYLOAD_OK)
                v.body = NULL, v.body_len = 0; /* parsed before: cannot happen */
            req[k].payload = v.body;
            req[k].len = v.body_len;
        }
        jobs[k++] = j;
    }
    *cursor = j;
    if (k == 0)
        return;
    /* One wait for the group's replay tags (the journal syncs every few ms):
     * per packet, it bounded a worker to a few hundred stores a second. */
    node_journal_wait(n, jseq);
    (void)inbox_put_many(n->inbox, req, k);
    metric_inc(&n->metrics.store_commits);
    for (size_t i = 0; i < k; i++)
        store_done(n, jobs[i], g, req[i].rc);
}

void node_store_jobs(struct node *n, struct job *head)
{
    struct sphinx_geometry g;
    bool any = false;

    for (struct job *j = head; j && !any; j = j->next)
        any = j->store;
    if (!any)
        return;
    pthread_rwlock_rdlock(&n->keys.lock);
    g = n->keys.geom;
    pthread_rwlock_unlock(&n->keys.lock);
    while (head)
        store_group(n, &head, &g);
}
