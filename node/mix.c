/*
 * mix: the mixing queue (lib/mixq, strategy from the document), the
 * links to next hops, and mix loop cover.
 *
 * Every packet a node sends, forwards and SURB-acks alike, passes through
 * the one mixing queue, so batch strategies mix acknowledgements with the
 * rest.  Loop cover packets are new packets: they leave at once, at the
 * Poisson rate lambda_M, over a full path (entry gateway, one mix per
 * layer) that ends at this node, which recognises them by the plaintext it
 * put in and counts them per first hop.
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

#define NODE_LOOP_MAGIC "mixnet-mixloop-v1"
#define POP_BATCH 256

static enum mixq_strategy strategy_of(uint32_t s)
{
    return s == PKI_STRATEGY_TIMED_POOL  ? MIXQ_TIMED_POOL
           : s == PKI_STRATEGY_THRESHOLD ? MIXQ_THRESHOLD
                                         : MIXQ_POISSON;
}

static void send_job(struct node *n, struct job *j);

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

/* The outbound link to node id, dialled on first use. */
struct peer *node_out_peer(struct node *n, const uint8_t id[static MIX_NODE_ID_LEN])
{
    for (size_t i = 0; i < n->n_out; i++)
        if (memcmp(n->out[i]->node_id, id, MIX_NODE_ID_LEN) == 0)
            return n->out[i];
    const struct pki_descriptor *d = node_dir_find(n, id);
    if (!d || !n->cm)
        return NULL;
    if (n->n_out == n->cap_out) {
        size_t nc = n->cap_out ? n->cap_out * 2 : 16;
        struct peer **np = realloc(n->out, nc * sizeof(*np));
        if (!np)
            return NULL;
        n->out = np;
        n->cap_out = nc;
    }
    struct peer *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->kind = PEER_NODE_OUT;
    memcpy(p->node_id, id, MIX_NODE_ID_LEN);
    p->c = conn_dial(n->cm, d->address, d->link_key, LINK_ROLE_NODE, true, p);
    if (!p->c) {
        metric_inc(&n->metrics.limit_hits);
        free(p);
        return NULL;
    }
    n->out[n->n_out++] = p;
    metric_set(&n->metrics.links_out, n->n_out);
    return p;
}

static void send_job(struct node *n, struct job *j)
{
    /* Its replay tag must be durable before the packet leaves: else a
     * replay after a crash would be forwarded again (replay_journal.c). */
    if (!node_journal_durable(n, j->jseq)) {
        j->next = NULL;
        if (n->held_tail)
            n->held_tail->next = j;
        else
            n->held_head = j;
        n->held_tail = j;
        return;
    }
    if (sodium_memcmp(j->hop, n->node_id, MIX_NODE_ID_LEN) == 0) {
        /* We are our own next hop (a SURB or loop through this node). */
        node_submit_packet(n, j->buf, j->pkt_len, SRC_LOCAL, 0);
        node_job_free(n, j);
        return;
    }
    struct peer *p = n->ops->next_hop(n, j->hop);
    if (!p) {
        metric_drop(&n->metrics, DROP_UNKNOWN_HOP);
        node_job_free(n, j);
        return;
    }
    /* The Sphinx frame encoded directly (frame.h), not through protobuf-c;
     * a packet larger than the scratch buffer takes the general way. */
    size_t flen = 0;
    bool sent;
    if (frame_sphinx_encode(j->buf, j->pkt_len, n->scratch, n->scratch_len, &flen)) {
        sent = n->ops->send(n, p, n->scratch, flen);
    } else {
        struct mix_frame f;
        memset(&f, 0, sizeof(f));
        f.type = FRAME_SPHINX_PACKET;
        f.u.sphinx.packet.ptr = j->buf;
        f.u.sphinx.packet.len = j->pkt_len;
        sent = node_send_frame(n, p, &f);
    }
    if (sent) {
        metric_inc(&n->metrics.packets_out);
        uint64_t now = node_now_us(), due = j->arrival_us + j->delay_us;
        metrics_observe_overhead(&n->metrics, now > due ? (now - due) * 1000 : 0);
    } else {
        metric_drop(&n->metrics, DROP_PEER_QUEUE);
        metric_inc(&n->metrics.limit_hits);
    }
    node_job_free(n, j);
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

/*
 * One loop cover packet over a path back to us that uses only the links, in
 * the directions, that real packets use (gateway -> layer 1 -> ... -> layer L
 * -> gateway): from a layer-i mix, one mix of each layer i+1..L, a provider,
 * one mix of each layer 1..i-1, then this mix; from a gateway, one mix of
 * each layer then this gateway.  The I/O thread picks
 * the path and delays (it owns the document); a crypto worker builds the
 * packet, which costs several X25519 operations per hop and would otherwise
 * hold up every packet waiting on the I/O thread.  The job carries the hops
 * and the plaintext in its output half.
 */
struct loop_build {
    struct sphinx_hop hops[SPHINX_MAX_HOPS_LIMIT];
    uint8_t plain[sizeof(NODE_LOOP_MAGIC) - 1 + MIX_NODE_ID_LEN];
};

int node_loop_path(const struct pki_doc *doc, const struct mix_rng *rng,
                   const uint8_t self_id[static MIX_NODE_ID_LEN], const struct pki_descriptor **out,
                   size_t cap)
{
    const struct pki_descriptor *self = pki_doc_find(doc, self_id);
    uint32_t layers = pki_doc_params(doc)->layers;
    if (self == NULL || cap < (size_t)layers + 1)
        return -1;
    /* A gateway is "layer 0": its loop is L1..L_L then itself. */
    uint32_t mine = (self->roles & PKI_ROLE_MIX) ? self->layer : 0;
    if (mine > layers)
        return -1;
    size_t h = 0;
    for (uint32_t l = mine + 1; l <= layers; l++) {
        size_t k = pki_doc_layer_count(doc, l);
        if (k == 0)
            return -1;
        out[h++] = pki_doc_layer_node(doc, l, mix_rng_below(rng, k));
    }
    if (mine > 0) {
        size_t k = pki_doc_provider_count(doc);
        if (k == 0)
            return -1;
        out[h++] = pki_doc_provider(doc, mix_rng_below(rng, k));
        for (uint32_t l = 1; l < mine; l++) {
            size_t m = pki_doc_layer_count(doc, l);
            if (m == 0)
                return -1;
            out[h++] = pki_doc_layer_node(doc, l, mix_rng_below(rng, m));
        }
    }
    out[h++] = self;
    return (int)h;
}

static void send_loop(struct node *n)
{
    const struct pki_descriptor *path[PKI_MAX_LAYERS + 2];
    struct loop_build lb;
    struct pki_doc *doc = n->doc_cur;

    if (!doc || !n->keys.have_geom)
        return;
    const struct pki_params *pp = pki_doc_params(doc);
    uint64_t e = pki_doc_epoch(doc);
    int h = node_loop_path(doc, &n->rng, n->node_id, path, MIX_ARRAY_LEN(path));
    if (h < 2 || (uint32_t)h > n->keys.geom.max_hops || h > SPHINX_MAX_HOPS_LIMIT)
        return;
    /* The last hop is this node: the loop is delivered to ourselves. */
    const uint8_t *self_key = pki_doc_sphinx_key(doc, n->node_id, e);
    if (!self_key)
        return;
    memset(&lb, 0, sizeof(lb));
    for (int i = 0; i < h; i++) {
        const uint8_t *id = i == h - 1 ? n->node_id : path[i]->id;
        const uint8_t *k = i == h - 1 ? self_key : pki_doc_sphinx_key(doc, id, e);
        if (!k)
            return;
        memcpy(lb.hops[i].node_id, id, MIX_NODE_ID_LEN);
        memcpy(lb.hops[i].public_key, k, SPHINX_KEY_LEN);
        double d = mix_rng_exp(&n->rng, (double)pp->mean_delay_us);
        lb.hops[i].delay_us =
            d > (double)pp->max_delay_us ? (uint32_t)pp->max_delay_us : (uint32_t)d;
    }
    size_t ml = sizeof(NODE_LOOP_MAGIC) - 1;
    memcpy(lb.plain, NODE_LOOP_MAGIC, ml);
    memcpy(lb.plain + ml, path[0]->id, MIX_NODE_ID_LEN);
    size_t plen = sphinx_packet_len(&n->keys.geom);
    if (plen < sizeof(lb))
        return;
    struct job *j = node_job_alloc(n, plen);
    if (!j)
        return;
    j->src = SRC_LOCAL;
    j->arrival_us = node_now_us();
    j->build_hops = (uint8_t)h;
    j->direct = true;
    memcpy(j->hop, path[0]->id, MIX_NODE_ID_LEN);
    memcpy(j->data + plen, &lb, sizeof(lb));
    metrics_loop_sent(&n->metrics, path[0]->id);
    node_queue_job(n, j);
}

void node_build_loop(struct node *n, struct job *j)
{
    struct loop_build lb;
    struct sphinx_geometry g;
    struct mix_rng rng = mix_rng_system();

    memcpy(&lb, j->data + j->pkt_len, sizeof(lb));
    pthread_rwlock_rdlock(&n->keys.lock);
    g = n->keys.geom;
    pthread_rwlock_unlock(&n->keys.lock);
    j->kind = JOB_DROP;
    /* The geometry may have changed since the path was chosen: then drop it. */
    if (sphinx_packet_len(&g) != j->pkt_len || j->build_hops > g.max_hops ||
        sphinx_create(&g, &rng, lb.hops, j->build_hops, n->node_id, lb.plain, sizeof(lb.plain),
                      j->data) != SPHINX_OK)
        return;
    sodium_memzero(j->data + j->pkt_len, j->pkt_len);
    j->kind = JOB_FORWARD;
    j->buf = j->data;
    j->delay_us = 0;
}

static void loop_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct node *n = w->data;
    (void)loop;
    (void)revents;
    if (n->conf.mix_loops && n->doc_cur && pki_doc_params(n->doc_cur)->lambda_m_mhz)
        send_loop(n);
    node_loop_schedule(n);
}

void node_loop_schedule(struct node *n)
{
    n->ops->schedule_loop(n);
}

void node_loop_arm(struct node *n)
{
    double after = 1.0; /* look again later when loops are off or no document yet */
    if (n->conf.mix_loops && n->doc_cur) {
        uint64_t mhz = pki_doc_params(n->doc_cur)->lambda_m_mhz;
        if (mhz)
            after = mix_rng_exp(&n->rng, 1000.0 / (double)mhz);
    }
    ev_timer_stop(n->loop, &n->loop_timer);
    ev_timer_init(&n->loop_timer, loop_timer_cb, after, 0.);
    n->loop_timer.data = n;
    ev_timer_start(n->loop, &n->loop_timer);
}

void node_out_closed(struct node *n, struct peer *p)
{
    for (size_t i = 0; i < n->n_out; i++) {
        if (n->out[i] == p) {
            n->out[i] = n->out[--n->n_out];
            break;
        }
    }
    metric_set(&n->metrics.links_out, n->n_out);
    free(p);
}

void node_out_prune(struct node *n)
{
    /* Backwards: closing one moves the last entry into its place. */
    for (size_t i = n->n_out; i-- > 0;) {
        struct peer *p = n->out[i];
        if (node_dir_find(n, p->node_id))
            continue;
        /* Detach first so on_close does not free p behind our back. */
        if (p->c) {
            conn_set_user(p->c, NULL);
            conn_close(p->c);
        }
        node_out_closed(n, p);
    }
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
