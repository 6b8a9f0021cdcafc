/*
 * unwrap: the crypto worker pool and what happens to one packet.
 *
 * The I/O thread copies each received packet into a job and queues it
 * (bounded by limits.work_queue).  A worker unwraps it with the current
 * epoch's Sphinx key (and, during the grace period, the previous one),
 * which also checks and records the replay tag.  A forward result goes back
 * to the I/O thread for mixing; at the exit (deliver.c) the worker stores the
 * payload in the inbox, and only after LMDB has committed builds the SURB-ack packet,
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
#include "sched_hint.h"

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

struct node_key_slot *find_slot(struct node_keys *k, uint64_t e)
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

void job_drop(struct node *n, struct job *j, enum metric_drop d)
{
    metric_drop(&n->metrics, d);
    j->kind = JOB_DROP;
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
