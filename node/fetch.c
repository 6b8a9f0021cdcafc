/*
 * fetch: the provider's side of a client's inbox, on its client link.  A
 * FetchRequest creates the link's inbox at its first use (client_inbox),
 * within the fetch cadence (client_fetch_allowed); its acknowledgements are
 * deleted by a store thread in one transaction with every other request
 * queued since its last commit, and the I/O thread answers each request,
 * padded to a full answer's size, once that commit is done.  receive.c
 * decides which frames a client link may send and calls in here.
 */
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "log.h"
#include "node.h"

/* The largest FetchResponse this gateway sends (padded to fetch_max messages). */
size_t fetch_response_max(struct node *n)
{
    pthread_rwlock_rdlock(&n->keys.lock);
    size_t payload_len = n->keys.have_geom ? n->keys.geom.payload_len : SPHINX_DEFAULT_PAYLOAD;
    pthread_rwlock_unlock(&n->keys.lock);
    return frame_fetch_response_padded_len((uint32_t)n->conf.fetch_max, payload_len);
}

static bool bucket_take(struct node_bucket *b, uint64_t now, uint64_t per_min, uint64_t burst)
{
    if (b->at_us == 0)
        b->tokens = (double)burst;
    else
        b->tokens += (double)(now - b->at_us) * (double)per_min / 60e6;
    b->at_us = now;
    if (b->tokens > (double)burst)
        b->tokens = (double)burst;
    if (b->tokens < 1.0)
        return false;
    b->tokens -= 1.0;
    return true;
}

/*
 * The client's inbox, created at the link's first fetch (an explicit step;
 * neither the handshake nor a packet creates one), within two token buckets: per
 * source address prefix (IPv4 /24, IPv6 /48) and for the whole gateway,
 * then max_inboxes.  An existing inbox is only marked used.  false: the
 * inbox does not exist (refusal counted).
 */
static bool client_inbox(struct node *n, struct peer *p)
{
    if (p->inbox_ok || !(n->conf.roles & PKI_ROLE_PROVIDER))
        return true;
    uint64_t now = node_now_us();
    if (!inbox_exists(n->inbox, p->inbox_id)) {
        struct node_bucket *pb = &n->create_prefix[p->prefix % MIX_ARRAY_LEN(n->create_prefix)];
        if (!bucket_take(pb, now, n->conf.create_per_min_prefix, n->conf.create_burst_prefix) ||
            !bucket_take(&n->create_all, now, n->conf.create_per_min, n->conf.create_burst)) {
            metric_inc(&n->metrics.inbox_creates_refused);
            return false;
        }
        uint64_t reclaimed = inbox_reclaimed(n->inbox);
        int rc = inbox_create(n->inbox, p->inbox_id, node_wall_s());
        atomic_fetch_add(&n->metrics.inboxes_reclaimed, inbox_reclaimed(n->inbox) - reclaimed);
        if (rc != INBOX_OK) {
            metric_inc(&n->metrics.inbox_creates_refused);
            metric_inc(&n->metrics.limit_hits);
            log_debug("inbox not created: %s", inbox_strerror(rc));
            return false;
        }
        metric_inc(&n->metrics.inboxes_created);
    } else if (inbox_create(n->inbox, p->inbox_id, node_wall_s()) != INBOX_OK) {
        return false;
    }
    p->inbox_ok = true;
    return true;
}

void node_clients_touch(struct node *n)
{
    if (!n->inbox)
        return;
    for (struct peer *q = n->clients; q; q = q->cl_next)
        if (q->inbox_ok && inbox_create(n->inbox, q->inbox_id, node_wall_s()) != INBOX_OK)
            q->inbox_ok = false;
}

/*
 * A fetch is answered only at the link's fetch cadence (token bucket) and
 * once the previous answer has left the process: a client that asks and
 * never reads holds one answer here and its socket buffer in the kernel,
 * whatever it sends.  Refusals are counted; a client that reads is told.
 */
static bool client_fetch_allowed(struct node *n, struct peer *p)
{
    uint64_t now = node_now_us();
    p->fetch_tokens += (double)(now - p->fetch_at_us) * (double)n->conf.fetch_rate / 1e6;
    p->fetch_at_us = now;
    if (p->fetch_tokens > (double)n->conf.fetch_burst)
        p->fetch_tokens = (double)n->conf.fetch_burst;
    bool unread = p->fetch_waiting || (p->c && conn_out_pending(p->c) > 0);
    if (!unread && p->fetch_tokens >= 1.0) {
        p->fetch_tokens -= 1.0;
        return true;
    }
    metric_inc(&n->metrics.fetches_refused);
    if (!unread)
        send_error(n, p, FRAME_ERR_RATE_LIMITED, "fetch over the rate limit");
    return false;
}

static void client_fetch(struct node *n, struct peer *p, uint32_t want)
{
    struct inbox_msg *msgs = NULL;
    struct frame_inbox_msg *fm = NULL;
    size_t cnt = 0, max = want && want < n->conf.fetch_max ? want : n->conf.fetch_max;
    uint32_t remaining = 0;
    struct mix_frame f;

    int rc = inbox_fetch(n->inbox, p->inbox_id, max, &msgs, &cnt, &remaining);
    if (rc != INBOX_OK && rc != INBOX_NO_INBOX) {
        send_error(n, p, FRAME_ERR_INTERNAL, "inbox unavailable");
        return;
    }
    if (cnt && !(fm = calloc(cnt, sizeof(*fm)))) {
        inbox_msgs_free(msgs, cnt);
        send_error(n, p, FRAME_ERR_INTERNAL, "out of memory");
        return;
    }
    for (size_t i = 0; i < cnt; i++) {
        fm[i].seq = msgs[i].seq;
        fm[i].payload.ptr = msgs[i].payload;
        fm[i].payload.len = msgs[i].payload_len;
        fm[i].is_reply = msgs[i].is_reply;
        if (msgs[i].is_reply) {
            fm[i].surb_id.ptr = msgs[i].surb_id;
            fm[i].surb_id.len = INBOX_SURB_ID_LEN;
        }
    }
    memset(&f, 0, sizeof(f));
    f.type = FRAME_FETCH_RESPONSE;
    f.u.fetch_resp.msgs = fm;
    f.u.fetch_resp.n_msgs = cnt;
    f.u.fetch_resp.remaining = remaining;
    /*
     * Pad to the size of a full answer to this request, so the response's
     * size on the link says nothing about how many messages the client had.
     * A stored payload is at most the Sphinx payload length.
     */
    pthread_rwlock_rdlock(&n->keys.lock);
    size_t payload_len = n->keys.have_geom ? n->keys.geom.payload_len : SPHINX_DEFAULT_PAYLOAD;
    pthread_rwlock_unlock(&n->keys.lock);
    f.u.fetch_resp.pad_to = frame_fetch_response_padded_len((uint32_t)max, payload_len);
    if (!node_send_frame(n, p, &f))
        metric_inc(&n->metrics.limit_hits);
    metric_inc(&n->metrics.fetches);
    atomic_fetch_add(&n->metrics.fetched_msgs, cnt);
    free(fm);
    inbox_msgs_free(msgs, cnt);
}

/*
 * Group commit of fetch acknowledgements, off the I/O thread: every
 * FetchRequest is queued (fetch_q); a store thread deletes the
 * acknowledged messages of every queued request in one transaction, and the
 * I/O thread answers each request once that commit is done.  Requests that
 * arrive during a commit go into the next one, so the I/O thread never waits
 * for the disk and a slow sync is paid once per group.
 */
static void *fetch_thread_main(void *arg)
{
    struct node *n = arg;
    for (;;) {
        pthread_mutex_lock(&n->fetch_mu);
        while (!n->fetch_go && !n->fetch_stop)
            pthread_cond_wait(&n->fetch_cv, &n->fetch_mu);
        if (!n->fetch_go) {
            pthread_mutex_unlock(&n->fetch_mu);
            return NULL;
        }
        n->fetch_go = false;
        pthread_mutex_unlock(&n->fetch_mu);
        /* fetch_run is ours until fetch_done; the I/O thread touches only .p. */
        size_t k = n->fetch_run_len;
        struct inbox_ack_req *r = calloc(k, sizeof(*r));
        if (r) {
            for (size_t i = 0; i < k; i++) {
                r[i].id = n->fetch_run[i].inbox_id;
                r[i].seqs = n->fetch_run[i].acks;
                r[i].n = n->fetch_run[i].n_acks;
            }
            (void)inbox_ack_many(n->inbox, r, k);
            size_t with_seqs = 0;
            for (size_t i = 0; i < k; i++)
                with_seqs += r[i].n > 0;
            if (with_seqs)
                metric_inc(&n->metrics.ack_commits);
            else if (k > 0 && inbox_commit_marker(n->inbox) == INBOX_OK)
                metric_inc(&n->metrics.marker_commits); /* the same wait without acks */
        }
        for (size_t i = 0; i < k; i++) {
            n->fetch_run[i].rc = r ? r[i].rc : INBOX_ERR_IO;
            n->fetch_run[i].deleted = r ? r[i].deleted : 0;
        }
        free(r);
        pthread_mutex_lock(&n->fetch_mu);
        n->fetch_done = true;
        pthread_mutex_unlock(&n->fetch_mu);
        ev_async_send(n->loop, &n->fetch_async);
    }
}

/* Hand the queued requests to the store thread (I/O thread, not busy). */
static void fetch_submit(struct node *n)
{
    struct fetch_wait *q = n->fetch_run;
    size_t cap = n->fetch_run_cap;
    n->fetch_run = n->fetch_q;
    n->fetch_run_cap = n->fetch_q_cap;
    n->fetch_run_len = n->fetch_q_len;
    n->fetch_q = q;
    n->fetch_q_cap = cap;
    n->fetch_q_len = 0;
    n->fetch_busy = true;
    pthread_mutex_lock(&n->fetch_mu);
    n->fetch_go = true;
    pthread_cond_signal(&n->fetch_cv);
    pthread_mutex_unlock(&n->fetch_mu);
}

/* The store thread committed fetch_run: answer each request, then submit the next group. */
static void fetch_done_cb(struct ev_loop *loop, ev_async *w, int revents)
{
    struct node *n = w->data;
    (void)loop;
    (void)revents;
    pthread_mutex_lock(&n->fetch_mu);
    bool done = n->fetch_done;
    n->fetch_done = false;
    pthread_mutex_unlock(&n->fetch_mu);
    if (!done)
        return;
    n->fetch_busy = false;
    for (size_t i = 0; i < n->fetch_run_len; i++) {
        struct fetch_wait *e = &n->fetch_run[i];
        struct peer *p = e->p;
        free(e->acks);
        e->acks = NULL;
        if (!p)
            continue;
        p->fetch_waiting = false;
        if (e->rc != INBOX_OK && e->rc != INBOX_NO_INBOX) {
            send_error(n, p, FRAME_ERR_INTERNAL, "inbox unavailable");
            continue;
        }
        atomic_fetch_add(&n->metrics.acked_msgs, e->deleted);
        client_fetch(n, p, e->want);
    }
    n->fetch_run_len = 0;
    if (n->fetch_q_len > 0)
        fetch_submit(n);
}

static bool fetch_thread_start(struct node *n)
{
    pthread_mutex_init(&n->fetch_mu, NULL);
    pthread_cond_init(&n->fetch_cv, NULL);
    n->fetch_go = n->fetch_done = n->fetch_stop = false;
    if (pthread_create(&n->fetch_thread, NULL, fetch_thread_main, n) != 0) {
        pthread_mutex_destroy(&n->fetch_mu);
        pthread_cond_destroy(&n->fetch_cv);
        return false;
    }
    ev_async_init(&n->fetch_async, fetch_done_cb);
    n->fetch_async.data = n;
    ev_async_start(n->loop, &n->fetch_async);
    n->fetch_thread_on = true;
    return true;
}

/* Queue a FetchRequest for the store thread; false: answer it now. */
static bool fetch_defer(struct node *n, struct peer *p, const struct mix_frame *f)
{
    if (!n->loop || !n->inbox || (!n->fetch_thread_on && !fetch_thread_start(n)))
        return false;
    if (n->fetch_q_len == n->fetch_q_cap) {
        size_t cap = n->fetch_q_cap ? 2 * n->fetch_q_cap : 64;
        struct fetch_wait *q = realloc(n->fetch_q, cap * sizeof(*q));
        if (!q)
            return false;
        n->fetch_q = q;
        n->fetch_q_cap = cap;
    }
    uint64_t *acks = NULL;
    if (f->u.fetch_req.n_acks > 0) {
        if (!(acks = malloc(f->u.fetch_req.n_acks * sizeof(*acks))))
            return false;
        memcpy(acks, f->u.fetch_req.acks, f->u.fetch_req.n_acks * sizeof(*acks));
    }
    struct fetch_wait *e = &n->fetch_q[n->fetch_q_len++];
    memset(e, 0, sizeof(*e));
    e->p = p;
    e->want = f->u.fetch_req.max_messages;
    memcpy(e->inbox_id, p->inbox_id, INBOX_ID_LEN);
    e->acks = acks;
    e->n_acks = f->u.fetch_req.n_acks;
    p->fetch_waiting = true;
    if (!n->fetch_busy)
        fetch_submit(n);
    return true;
}

void node_fetch_queue_free(struct node *n)
{
    if (n->fetch_thread_on) {
        /* A group being committed is finished first; nothing is answered now. */
        pthread_mutex_lock(&n->fetch_mu);
        n->fetch_stop = true;
        pthread_cond_signal(&n->fetch_cv);
        pthread_mutex_unlock(&n->fetch_mu);
        pthread_join(n->fetch_thread, NULL);
        ev_async_stop(n->loop, &n->fetch_async);
        pthread_mutex_destroy(&n->fetch_mu);
        pthread_cond_destroy(&n->fetch_cv);
        n->fetch_thread_on = false;
    }
    for (size_t i = 0; i < n->fetch_q_len; i++) {
        if (n->fetch_q[i].p)
            n->fetch_q[i].p->fetch_waiting = false;
        free(n->fetch_q[i].acks);
    }
    for (size_t i = 0; i < n->fetch_run_len; i++) {
        if (n->fetch_run[i].p)
            n->fetch_run[i].p->fetch_waiting = false;
        free(n->fetch_run[i].acks);
    }
    free(n->fetch_q);
    free(n->fetch_run);
    n->fetch_q = n->fetch_run = NULL;
    n->fetch_q_len = n->fetch_q_cap = n->fetch_run_len = n->fetch_run_cap = 0;
    n->fetch_busy = false;
}

/* A FetchRequest on a client link (client_frame, receive.c).  false: close the link. */
bool node_fetch_request(struct node *n, struct peer *p, const struct mix_frame *f)
{
    size_t deleted = 0;

    if (!(n->conf.roles & PKI_ROLE_PROVIDER)) {
        send_error(n, p, FRAME_ERR_UNEXPECTED, "this gateway keeps no inboxes");
        return true;
    }
    /* A request beyond the cadence is refused whole, its acknowledgements too: they
     * cost store writes, and the messages stay until a later request acknowledges
     * them (the client drops what it has already seen). */
    if (!client_fetch_allowed(n, p))
        return true;
    if (!client_inbox(n, p)) {
        send_error(n, p, FRAME_ERR_RATE_LIMITED, "inbox not created (limits), try later");
        return true;
    }
    /* The seqs the client handled since its last request: deleted before answering
     * (with other links' in one commit, by the store thread).  A request without
     * acks takes the same way, so that its answer's timing does not say whether
     * it carried any. */
    if (fetch_defer(n, p, f))
        return true;
    if (f->u.fetch_req.n_acks > 0) {
        int rc =
            inbox_ack(n->inbox, p->inbox_id, f->u.fetch_req.acks, f->u.fetch_req.n_acks, &deleted);
        metric_inc(&n->metrics.ack_commits);
        if (rc != INBOX_OK && rc != INBOX_NO_INBOX) {
            send_error(n, p, FRAME_ERR_INTERNAL, "inbox unavailable");
            return true;
        }
        atomic_fetch_add(&n->metrics.acked_msgs, deleted);
    }
    client_fetch(n, p, f->u.fetch_req.max_messages);
    return true;
}

/* A FetchAck on a client link (client_frame, receive.c).  false: close the link. */
bool node_fetch_ack(struct node *n, struct peer *p, const struct mix_frame *f)
{
    size_t deleted = 0;

    /* Deprecated (clients now acknowledge in FetchRequest); kept for old clients.
     * An empty ack is the client's cover for "nothing arrived": no store work. */
    metric_inc(&n->metrics.fetch_ack_frames);
    if (!(n->conf.roles & PKI_ROLE_PROVIDER) || f->u.fetch_ack.n_seqs == 0)
        return true;
    int rc = inbox_ack(n->inbox, p->inbox_id, f->u.fetch_ack.seqs, f->u.fetch_ack.n_seqs, &deleted);
    if (rc != INBOX_OK && rc != INBOX_NO_INBOX)
        send_error(n, p, FRAME_ERR_INTERNAL, "inbox unavailable");
    atomic_fetch_add(&n->metrics.acked_msgs, deleted);
    return true;
}
