/*
 * mix: the mixing queue (lib/mixq, strategy from the document); packets
 * leave it through send.c (next-hop links).
 *
 * Every packet a node sends, forwards and SURB-acks alike, passes through
 * the one mixing queue, so batch strategies mix acknowledgements with the
 * rest.  Loop cover packets (cover.c) are new packets: they leave at once.
 */
#include <errno.h>
#include <math.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "log.h"
#include "node.h"

#define POP_BATCH 256

static enum mixq_strategy strategy_of(uint32_t s)
{
    return s == PKI_STRATEGY_TIMED_POOL  ? MIXQ_TIMED_POOL
           : s == PKI_STRATEGY_THRESHOLD ? MIXQ_THRESHOLD
                                         : MIXQ_POISSON;
}

static void drain_cb(void *item, void *arg)
{
    send_job(arg, item);
}

int node_mixq_setup(struct node *n, const struct pki_params *p)
{
    struct mixq_params q;
    const char *why = NULL;

    memset(&q, 0, sizeof(q));
    q.strategy = strategy_of(p->strategy);
    q.max_delay_us =
        p->max_delay_us < n->conf.max_delay_us ? p->max_delay_us : n->conf.max_delay_us;
    q.period_us = p->pool_interval_us;
    q.pool_keep = p->pool_keep;
    q.threshold = p->threshold_n;
    q.capacity = n->conf.total_queue;
    /* Per-inbox admission by default: twice what a client's own payload and
     * loop streams bring back to it (acks, loops), plus 10 a second. */
    atomic_store(&n->admit_auto, 2 * (p->lambda_p_mhz + p->lambda_l_mhz) / 1000 + 10);
    if (n->mq && memcmp(&q, &n->mqp, sizeof(q)) == 0)
        return 0;
    if (!mixq_params_valid(&q, &why)) {
        log_err("document mixing parameters unusable: %s", why ? why : "?");
        return -1;
    }
    struct mixq *mq = mixq_new(&q, n->rng);
    if (!mq)
        return -1;
    struct mixq *old = n->mq;
    n->mq = mq;
    n->mqp = q;
    log_info("mixing strategy %s (max delay %llu us, T %llu us, keep %u, threshold %u)",
             mixq_strategy_name(q.strategy), (unsigned long long)q.max_delay_us,
             (unsigned long long)q.period_us, q.pool_keep, q.threshold);
    /* Packets held under the old parameters leave now rather than being lost. */
    if (old) {
        mixq_drain(old, drain_cb, n);
        mixq_free(old);
    }
    return 0;
}

/*
 * The mixing queue's wake-up is a timerfd watched by libev rather than an
 * ev_timer: libev's epoll backend rounds timeouts up to whole milliseconds,
 * which would add up to 1 ms to every held packet; a timerfd fires at the
 * deadline to the microsecond.
 */
static void mq_timer_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct node *n = w->data;
    uint64_t expirations;
    (void)loop;
    (void)revents;
    if (read(n->mq_tfd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
        log_debug("timerfd read: %s", strerror(errno));
    n->mq_armed = false;
    node_mixq_run(n);
}

static int mq_timer_open(struct node *n)
{
    n->mq_tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (n->mq_tfd < 0) {
        log_err("timerfd_create: %s", strerror(errno));
        return -1;
    }
    ev_io_init(&n->mq_io, mq_timer_cb, n->mq_tfd, EV_READ);
    n->mq_io.data = n;
    ev_io_start(n->loop, &n->mq_io);
    return 0;
}

/* Arm for the absolute monotonic time at_us (UINT64_MAX disarms). */
static void mq_timer_arm(struct node *n, uint64_t at_us)
{
    struct itimerspec its;
    memset(&its, 0, sizeof(its));
    if (at_us != UINT64_MAX) {
        its.it_value.tv_sec = (time_t)(at_us / 1000000u);
        its.it_value.tv_nsec = (long)(at_us % 1000000u) * 1000;
        if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
            its.it_value.tv_nsec = 1; /* zero would disarm */
    }
    if (timerfd_settime(n->mq_tfd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
        log_err("timerfd_settime: %s", strerror(errno));
    n->mq_armed = at_us != UINT64_MAX;
    n->mq_timer_at = at_us;
}

void node_mixq_run(struct node *n)
{
    void *out[POP_BATCH];
    size_t k;

    if (!n->mq)
        return;
    uint64_t now = node_now_us();
    do {
        k = mixq_pop_ready(n->mq, now, out, POP_BATCH);
        for (size_t i = 0; i < k; i++)
            send_job(n, out[i]);
    } while (k == POP_BATCH);
    metric_set(&n->metrics.queue_depth, mixq_len(n->mq));
    n->ops->arm_mixq(n);
}

void node_mixq_arm(struct node *n)
{
    if (n->mq_tfd < 0 && mq_timer_open(n) < 0)
        return;
    uint64_t next = mixq_next_deadline(n->mq);
    /* Re-arm only when the earliest deadline moved. */
    if (n->mq_armed == (next != UINT64_MAX) && next == n->mq_timer_at)
        return;
    mq_timer_arm(n, next);
}

/* A packet from a client link may go on only to a layer-1 mix (the first hop of a real path). */
static bool client_hop_ok(struct node *n, const uint8_t hop[static MIX_NODE_ID_LEN])
{
    const struct pki_descriptor *d = node_dir_find(n, hop);
    return d && (d->roles & PKI_ROLE_MIX) && d->layer == 1;
}

void node_job_done(struct node *n, struct job *j)
{
    switch (j->kind) {
    case JOB_FORWARD:
        if (j->direct) {
            send_job(n, j); /* our own loop: it leaves now */
            return;
        }
        if (!n->mq) {
            metric_drop(&n->metrics, DROP_NO_DOCUMENT);
            break;
        }
        if (j->src == SRC_CLIENT && !client_hop_ok(n, j->hop)) {
            metric_drop(&n->metrics, DROP_CLIENT_HOP);
            break;
        }
        if (n->mqp.max_delay_us && j->delay_us > n->mqp.max_delay_us)
            j->delay_us = n->mqp.max_delay_us;
        /* A Poisson hold counts from the packet's arrival: the time spent in
         * the work queue and in the unwrap is part of the delay the sender
         * chose, not added to it.  Batch strategies count rounds from now. */
        if (mixq_push(n->mq, n->mqp.strategy == MIXQ_POISSON ? j->arrival_us : node_now_us(),
                      j->delay_us, j) != MIXQ_OK) {
            metric_drop(&n->metrics, DROP_MIX_QUEUE);
            metric_inc(&n->metrics.limit_hits);
            break;
        }
        /* Only the push that makes something due sooner needs the timer moved. */
        node_mixq_run(n);
        return;
    case JOB_LOOP_RETURNED: metrics_loop_returned(&n->metrics, j->hop); break;
    case JOB_DROP: break;
    }
    node_job_free(n, j);
}

static void drop_cb(void *item, void *arg)
{
    struct node *n = arg;
    metric_drop(&n->metrics, DROP_SHUTDOWN);
    node_job_free(n, item);
}

void node_fwd_release(struct node *n)
{
    /* In order: records become durable in sequence. */
    while (n->held_head && node_journal_durable(n, n->held_head->jseq)) {
        struct job *j = n->held_head;
        n->held_head = j->next;
        if (!n->held_head)
            n->held_tail = NULL;
        j->next = NULL;
        send_job(n, j);
    }
}

void node_fwd_stop(struct node *n)
{
    while (n->held_head) {
        struct job *j = n->held_head;
        n->held_head = j->next;
        metric_drop(&n->metrics, DROP_SHUTDOWN);
        node_job_free(n, j);
    }
    n->held_tail = NULL;
    if (n->loop) {
        ev_io_stop(n->loop, &n->mq_io);
        if (n->mq_tfd >= 0)
            close(n->mq_tfd);
        n->mq_tfd = -1;
        ev_timer_stop(n->loop, &n->loop_timer);
    }
    if (n->mq) {
        mixq_drain(n->mq, drop_cb, n);
        mixq_free(n->mq);
        n->mq = NULL;
    }
    while (n->n_out) {
        struct peer *p = n->out[n->n_out - 1];
        /* Detach first so on_close does not free p behind our back. */
        if (p->c) {
            conn_set_user(p->c, NULL);
            conn_close(p->c);
        }
        node_out_closed(n, p);
    }
    free(n->out);
    n->out = NULL;
    n->cap_out = 0;
}
