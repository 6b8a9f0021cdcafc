/*
 * unwrap: the crypto worker pool and what happens to one packet.
 *
 * The I/O thread copies each received packet into a job and queues it
 * (bounded by limits.work_queue).  A worker unwraps it with the current
 * epoch's Sphinx key (and, during the grace period, the previous one),
 * which also checks and records the replay tag.  A forward result goes back
 * to the I/O thread for mixing; at the exit the worker stores the payload in
 * the inbox, and only after LMDB has committed builds the SURB-ack packet,
 * which goes back to the I/O thread like any forward.  Workers share no
 * state with the I/O thread except through the two locked lists, the key
 * set's rwlock and atomics.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "node.h"
#include "payload.h"
#include "sched_hint.h"

/* Plaintext prefix of our own loop cover packets (mix.c builds them). */
#define NODE_LOOP_MAGIC "mixnet-mixloop-v1"

uint64_t node_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t node_wall_s(void)
{
    return (uint64_t)time(NULL);
}

/*
 * Jobs are allocated and freed only on the I/O thread, so a plain free list
 * (no lock) saves a large malloc/free pair per packet.
 */
#define JOB_POOL_MAX 4096

struct job *node_job_alloc(struct node *n, size_t plen)
{
    struct job *j = n->job_pool;
    if (j && j->pkt_len == plen) {
        n->job_pool = j->next;
        n->job_pool_len--;
    } else {
        j = malloc(sizeof(*j) + 2 * plen);
        if (!j)
            return NULL;
    }
    memset(j, 0, sizeof(*j));
    j->pkt_len = plen;
    return j;
}

void node_job_free(struct node *n, struct job *j)
{
    if (!j)
        return;
    if (n && n->job_pool_len < JOB_POOL_MAX &&
        (!n->job_pool || n->job_pool->pkt_len == j->pkt_len)) {
        j->next = n->job_pool;
        n->job_pool = j;
        n->job_pool_len++;
        return;
    }
    free(j);
}

void node_job_pool_free(struct node *n)
{
    while (n->job_pool) {
        struct job *j = n->job_pool;
        n->job_pool = j->next;
        free(j);
    }
    n->job_pool_len = 0;
}

static struct node_key_slot *find_slot(struct node_keys *k, uint64_t e)
{
    for (int i = 0; e && i < NODE_KEY_SLOTS; i++)
        if (k->slot[i].epoch == e)
            return &k->slot[i];
    return NULL;
}

static enum metric_drop drop_of(enum sphinx_status st)
{
    switch (st) {
    case SPHINX_ERR_LENGTH: return DROP_LENGTH;
    case SPHINX_ERR_MAC: return DROP_MAC;
    case SPHINX_ERR_REPLAY: return DROP_REPLAY;
    case SPHINX_ERR_INTEGRITY: return DROP_INTEGRITY;
    case SPHINX_ERR_COMMAND: return DROP_COMMAND;
    case SPHINX_ERR_KEY: return DROP_KEY;
    default: return DROP_BAD_FRAME;
    }
}

static void job_drop(struct node *n, struct job *j, enum metric_drop d)
{
    metric_drop(&n->metrics, d);
    j->kind = JOB_DROP;
}

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

static void exit_hop(struct node *n, struct job *j, const struct sphinx_geometry *g,
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

void node_process_job(struct node *n, struct job *j)
{
    struct sphinx_result res;
    struct sphinx_geometry g;
    uint8_t *in = j->data, *out = j->data + j->pkt_len;
    enum sphinx_status st;

    uint64_t t0 = now_ns();
    pthread_rwlock_rdlock(&n->keys.lock);
    g = n->keys.geom;
    struct node_key_slot *cur = find_slot(&n->keys, n->keys.cur_epoch);
    struct node_key_slot *old = find_slot(&n->keys, n->keys.grace_epoch);
    if (!cur) {
        pthread_rwlock_unlock(&n->keys.lock);
        job_drop(n, j, DROP_NO_KEY);
        return;
    }
    (void)node_journal_last_seq(); /* this packet's record, if any, comes next */
    st = sphinx_unwrap(&g, cur->sk, cur->replay, in, j->pkt_len, out, j->pkt_len, &res);
    /* A packet built just before the epoch boundary carries the previous key. */
    if (st == SPHINX_ERR_MAC && old)
        st = sphinx_unwrap(&g, old->sk, old->replay, in, j->pkt_len, out, j->pkt_len, &res);
    pthread_rwlock_unlock(&n->keys.lock);
    j->jseq = node_journal_last_seq();
    metrics_observe_unwrap(&n->metrics, now_ns() - t0);

    if (st == SPHINX_OK_FORWARD) {
        j->kind = JOB_FORWARD;
        memcpy(j->hop, res.node_id, MIX_NODE_ID_LEN);
        j->delay_us = res.delay_us;
        j->buf = out;
    } else if (st == SPHINX_OK_DELIVER && j->src == SRC_CLIENT) {
        /* A real path enters at the gateway and goes on to a layer-1 mix:
         * a client may not drop a packet straight into an inbox here. */
        job_drop(n, j, DROP_CLIENT_HOP);
        sodium_memzero(out, j->pkt_len);
    } else if (st == SPHINX_OK_DELIVER) {
        exit_hop(n, j, &g, &res, out);
        if (j->kind != JOB_FORWARD && !j->store)
            sodium_memzero(out, j->pkt_len);
    } else {
        if (st == SPHINX_ERR_REPLAY)
            metric_inc(&n->metrics.replay_hits);
        log_debug("packet dropped: %s", sphinx_strerror(st));
        job_drop(n, j, drop_of(st));
    }
    sodium_memzero(&res, sizeof(res));
}

/*
 * Backpressure: packets from one kind of link (client or node) queued to or
 * held by the workers, per worker, at which the I/O thread stops reading the
 * links of that kind, until they are down to half.  Each kind has its own
 * quota: a node link delivering into a slow store pauses the node links, not
 * the clients, whose fetches and packets go on (and the other way round).
 */
#define PAUSE_PER_WORKER 64

static size_t pause_mark(const struct node *n)
{
    size_t m = (size_t)PAUSE_PER_WORKER * (n->n_threads ? n->n_threads : 1);
    return m < n->conf.work_queue ? m : (size_t)n->conf.work_queue;
}

static enum link_role src_role(enum metric_src src)
{
    return src == SRC_CLIENT ? LINK_ROLE_CLIENT : LINK_ROLE_NODE;
}

/*
 * Whether some kind of link is paused, where the workers look (worker_main:
 * while it is, they wake the I/O thread for results that may let reads
 * resume).  Only the I/O thread writes it, under work_mu.
 */
static void set_reads_paused(struct node *n, bool on)
{
    pthread_mutex_lock(&n->work_mu);
    n->reads_paused = on;
    pthread_mutex_unlock(&n->work_mu);
}

/* One more packet of src with the workers: pause its links at the mark. */
static void backpressure_add(struct node *n, enum metric_src src)
{
    if (src != SRC_CLIENT && src != SRC_NODE)
        return;
    if (++n->queued_src[src] < pause_mark(n) || n->paused_src[src])
        return;
    /* Stop reading: TCP pushes back on the senders rather than the queue
     * (and the time packets wait in it) growing without bound. */
    n->paused_src[src] = true;
    set_reads_paused(n, true);
    metric_inc(&n->metrics.read_pauses);
    if (src == SRC_NODE)
        metric_inc(&n->metrics.node_read_pauses);
    conn_mgr_pause_role(n->cm, src_role(src), true);
}

/* A packet of src back from the workers (node_drain_done). */
static void backpressure_done(struct node *n, enum metric_src src)
{
    if ((src == SRC_CLIENT || src == SRC_NODE) && n->queued_src[src] > 0)
        n->queued_src[src]--;
}

static void backpressure_resume(struct node *n)
{
    for (int src = SRC_CLIENT; src <= SRC_NODE; src++) {
        if (n->paused_src[src] && n->queued_src[src] <= pause_mark(n) / 2) {
            n->paused_src[src] = false;
            conn_mgr_pause_role(n->cm, src_role((enum metric_src)src), false);
        }
    }
    if (n->reads_paused && !n->paused_src[SRC_CLIENT] && !n->paused_src[SRC_NODE])
        set_reads_paused(n, false);
}

void node_submit_packet(struct node *n, const uint8_t *pkt, size_t len, enum metric_src src,
                        uint64_t arrival_us)
{
    metric_inc(&n->metrics.packets_in[src]);
    if (!n->keys.have_geom) {
        metric_drop(&n->metrics, DROP_NO_DOCUMENT);
        return;
    }
    size_t plen = sphinx_packet_len(&n->keys.geom);
    if (len != plen) {
        metric_drop(&n->metrics, DROP_LENGTH);
        return;
    }
    struct job *j = node_job_alloc(n, plen);
    if (!j) {
        metric_drop(&n->metrics, DROP_WORK_QUEUE);
        return;
    }
    j->src = src;
    uint64_t now = node_now_us();
    j->arrival_us = arrival_us && arrival_us <= now ? arrival_us : now;
    memcpy(j->data, pkt, plen);
    node_queue_job(n, j);
}

void node_run_job_now(struct node *n, struct job *j)
{
    if (j->build_hops)
        node_build_loop(n, j);
    else
        node_process_job(n, j);
    j->next = NULL;
    node_store_jobs(n, j);
    node_job_done(n, j);
}

void node_queue_job(struct node *n, struct job *j)
{
    n->ops->queue(n, j);
}

/* The daemon's queue operation: to the workers' queue, or at once without workers. */
static void queue_to_workers(struct node *n, struct job *j)
{
    if (n->n_threads == 0) {
        node_run_job_now(n, j);
        return;
    }
    pthread_mutex_lock(&n->work_mu);
    if (n->work_len >= n->conf.work_queue) {
        pthread_mutex_unlock(&n->work_mu);
        metric_drop(&n->metrics, DROP_WORK_QUEUE);
        metric_inc(&n->metrics.limit_hits);
        node_job_free(n, j);
        return;
    }
    enum metric_src src = j->src; /* j belongs to the workers once queued */
    if (n->work_tail)
        n->work_tail->next = j;
    else
        n->work_head = j;
    n->work_tail = j;
    size_t depth = ++n->work_len;
    metric_set(&n->metrics.work_queue_depth, depth);
    pthread_cond_signal(&n->work_cv);
    pthread_mutex_unlock(&n->work_mu);
    backpressure_add(n, src);
}

/* Jobs a worker takes per lock round: fewer lock and wake-up round trips under load. */
#define WORKER_BATCH 32
/* Under load, work (us) after which a worker hands its finished jobs back. */
#define RETURN_CHUNK_US 1000

/*
 * Append finished jobs [head .. tail] to the done list for the I/O thread,
 * and wake it, once until it drains the whole list, unless the journal will:
 * a packet whose replay tag is not durable yet cannot leave before the
 * syncer's next round (replay_journal.c), and that round's wake-up drains the
 * done list too (mixnode.c on_journal), so waking the I/O thread now would only
 * cost two context switches and move nothing.  The check comes after the
 * append: a round that makes `seq` durable after it sees these jobs.
 * `urgent`: something in the chunk must not wait for the journal (a job
 * without a tag, or the work queue running low while reads may be paused).
 */
static void hand_back(struct node *n, struct job *head, struct job *tail, uint64_t seq, bool urgent)
{
    pthread_mutex_lock(&n->done_mu);
    if (n->done_tail)
        n->done_tail->next = head;
    else
        n->done_head = head;
    n->done_tail = tail;
    bool wake = !n->done_woken && (urgent || node_journal_durable(n, seq));
    if (wake)
        n->done_woken = true;
    pthread_mutex_unlock(&n->done_mu);
    if (wake)
        ev_async_send(n->loop, &n->async);
}

static void *worker_main(void *arg)
{
    struct node *n = arg;
    (void)mix_sched_default_slice();
    for (;;) {
        struct job *batch = NULL, *last = NULL;
        pthread_mutex_lock(&n->work_mu);
        while (!n->work_head && !n->stopping)
            pthread_cond_wait(&n->work_cv, &n->work_mu);
        if (n->stopping) {
            pthread_mutex_unlock(&n->work_mu);
            break;
        }
        /* Take a fair share: at most WORKER_BATCH, and leave work for the others. */
        size_t take = n->work_len / n->n_threads;
        if (take < 1)
            take = 1;
        if (take > WORKER_BATCH)
            take = WORKER_BATCH;
        batch = n->work_head;
        for (size_t i = 0; i < take && n->work_head; i++) {
            last = n->work_head;
            n->work_head = last->next;
            n->work_len--;
        }
        if (!n->work_head)
            n->work_tail = NULL;
        last->next = NULL;
        /* Light load (little left waiting): every result goes back at once.
         * Heavy load: in chunks, so the I/O thread is not woken for each. */
        uint64_t chunk_ns = n->work_len <= n->n_threads ? 0 : RETURN_CHUNK_US * 1000u;
        /* Reads paused and the queue at or below the mark where they
         * resume: the I/O thread must hear of every chunk (node_drain_done
         * resumes them). */
        bool low = n->reads_paused && n->work_len <= pause_mark(n) / 2;
        pthread_mutex_unlock(&n->work_mu);

        /* Results go back one by one or in chunks of about RETURN_CHUNK_US
         * of work: a packet does not wait for the rest of a long batch (32
         * unwraps are ~3 ms), and under load the I/O thread is not woken for
         * every single one (on a shared CPU each wake-up costs two context
         * switches, about a tenth of an unwrap). */
        struct job *chunk = NULL, *chunk_tail = NULL, *stores = NULL, *stores_tail = NULL;
        uint64_t chunk_t0 = now_ns(), chunk_seq = 0, stores_seq = 0;
        bool urgent = low, stores_urgent = low;
        for (struct job *j = batch, *next; j; j = next) {
            next = j->next;
            j->next = NULL;
            if (j->build_hops)
                node_build_loop(n, j);
            else
                node_process_job(n, j);
            /* Group commit: payloads to store wait for the end of the batch
             * (at most WORKER_BATCH unwraps, a few ms) and go into one store
             * transaction; their SURB-acks are built after it.  Sequence
             * numbers grow: a list's last tag is its largest. */
            bool st = j->store;
            struct job **head = st ? &stores : &chunk;
            struct job **tail = st ? &stores_tail : &chunk_tail;
            uint64_t *seq = st ? &stores_seq : &chunk_seq;
            if (j->jseq > *seq)
                *seq = j->jseq;
            if (j->jseq == 0)
                *(st ? &stores_urgent : &urgent) = true;
            if (*tail)
                (*tail)->next = j;
            else
                *head = j;
            *tail = j;
            if (next && now_ns() - chunk_t0 < chunk_ns)
                continue;
            if (chunk)
                hand_back(n, chunk, chunk_tail, chunk_seq, urgent);
            chunk = chunk_tail = NULL;
            chunk_t0 = now_ns();
            chunk_seq = 0;
            urgent = low;
        }
        if (stores) {
            node_store_jobs(n, stores);
            hand_back(n, stores, stores_tail, stores_seq, stores_urgent);
        }
    }
    return NULL;
}

void node_drain_done(struct node *n)
{
    pthread_mutex_lock(&n->done_mu);
    struct job *j = n->done_head;
    n->done_head = n->done_tail = NULL;
    n->done_woken = false;
    pthread_mutex_unlock(&n->done_mu);
    while (j) {
        struct job *next = j->next;
        j->next = NULL;
        backpressure_done(n, j->src);
        node_job_done(n, j);
        j = next;
    }
    backpressure_resume(n);
}

int node_workers_start(struct node *n, char *err, size_t errlen)
{
    unsigned want = n->conf.workers;
    if (want == 0) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        want = c > 0 ? (unsigned)c : 1;
    }
    pthread_mutex_init(&n->work_mu, NULL);
    pthread_cond_init(&n->work_cv, NULL);
    pthread_mutex_init(&n->done_mu, NULL);
    n->threads = calloc(want, sizeof(*n->threads));
    if (!n->threads) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (unsigned i = 0; i < want; i++) {
        if (pthread_create(&n->threads[i], NULL, worker_main, n) != 0) {
            snprintf(err, errlen, "cannot start worker thread %u", i);
            return -1;
        }
        n->n_threads++;
    }
    log_info("%u crypto worker threads", n->n_threads);
    return 0;
}

void node_workers_stop(struct node *n)
{
    if (!n->threads)
        return;
    pthread_mutex_lock(&n->work_mu);
    n->stopping = true;
    pthread_cond_broadcast(&n->work_cv);
    pthread_mutex_unlock(&n->work_mu);
    for (unsigned i = 0; i < n->n_threads; i++)
        pthread_join(n->threads[i], NULL);
    free(n->threads);
    n->threads = NULL;
    n->n_threads = 0;
    /* Jobs never processed, or processed but not yet collected, are dropped. */
    for (struct job *j = n->work_head, *nx; j; j = nx) {
        nx = j->next;
        metric_drop(&n->metrics, DROP_SHUTDOWN);
        node_job_free(n, j);
    }
    n->work_head = n->work_tail = NULL;
    n->work_len = 0;
    for (struct job *j = n->done_head, *nx; j; j = nx) {
        nx = j->next;
        node_job_free(n, j);
    }
    n->done_head = n->done_tail = NULL;
    pthread_mutex_destroy(&n->work_mu);
    pthread_cond_destroy(&n->work_cv);
    pthread_mutex_destroy(&n->done_mu);
}

static void daemon_dir_tick(struct node *n)
{
    node_dir_tick(n, node_wall_s());
}

const struct node_ops node_daemon_ops = {
    .wall_s = node_wall_s,
    .next_hop = node_out_peer,
    .send = node_link_send,
    .queue = queue_to_workers,
    .arm_mixq = node_mixq_arm,
    .schedule_loop = node_loop_arm,
    .dir_tick = daemon_dir_tick,
    .save_doc = node_dir_save_document,
};
