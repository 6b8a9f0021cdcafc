/*
 * libmixclient: the mixclient object, its libev timers (Loopix streams,
 * fetches, retransmissions, directory refresh) and its two kinds of link
 * (authority for the directory, gateway for everything else).  The protocol
 * itself is in core*.c; this file only moves frames and keeps time.
 */
#include "client_int.h"

#include <ev.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "frame.h"
#include "keyfile.h"

const char *mixclient_version(void)
{
    return MIX_VERSION;
}

const char *mixclient_strerror(int err)
{
    switch (err) {
    case MIXCLIENT_OK: return "ok";
    case MIXCLIENT_E_ADDRESS: return "bad address";
    case MIXCLIENT_E_TOO_BIG: return "message too large";
    case MIXCLIENT_E_NO_DIRECTORY: return "no verified directory yet (authorities unreachable?)";
    case MIXCLIENT_E_UNKNOWN_GATEWAY: return "the address's gateway is not in the directory";
    case MIXCLIENT_E_STORE: return "local store failed";
    case MIXCLIENT_E_UNKNOWN_ID: return "unknown message id";
    case MIXCLIENT_E_NO_SURB: return "that message cannot be replied to";
    case MIXCLIENT_E_CONFIG: return "configuration error";
    case MIXCLIENT_E_NETWORK: return "directory or gateway unreachable";
    case MIXCLIENT_E_INTERNAL: return "internal error";
    case MIXCLIENT_E_SURB_USED: return "reply block already used";
    case MIXCLIENT_E_PATH: return "no usable path in the directory";
    }
    return "unknown error";
}

int mc_err_from_core(int e)
{
    switch (e) {
    case CORE_OK: return MIXCLIENT_OK;
    case CORE_ERR_ADDRESS: return MIXCLIENT_E_UNKNOWN_GATEWAY;
    case CORE_ERR_TOO_BIG: return MIXCLIENT_E_TOO_BIG;
    case CORE_ERR_NO_DOC: return MIXCLIENT_E_NO_DIRECTORY;
    case CORE_ERR_STORE: return MIXCLIENT_E_STORE;
    case CORE_ERR_UNKNOWN: return MIXCLIENT_E_UNKNOWN_ID;
    case CORE_ERR_NO_SURB: return MIXCLIENT_E_NO_SURB;
    case CORE_ERR_SURB_USED: return MIXCLIENT_E_SURB_USED;
    case CORE_ERR_PATH: return MIXCLIENT_E_PATH;
    default: return MIXCLIENT_E_INTERNAL;
    }
}

/* ------------------------------------------------------------ library setup */

/*
 * The application's log options.  libmix logs through one process-wide
 * sink, so these are process-wide too (mixclient.h says so): the trampoline
 * below is the sink from the first library call on, and passes lines on
 * only while an object's options ask for them.
 */
static struct {
    mixclient_log_fn fn;
    void *ctx;
    const struct mixclient *owner;
    bool installed;
} g_log;

static void log_tramp(void *ctx, enum mix_log_level level, const char *line)
{
    (void)ctx;
    if (g_log.fn != NULL)
        g_log.fn(g_log.ctx, (enum mixclient_log_level)(level + 1), line);
}

int mc_lib_setup(char *err, size_t errlen)
{
    /* Safe to call more than once, and from the application as well. */
    if (sodium_init() < 0) {
        snprintf(err, errlen, "libsodium failed to initialise");
        return -1;
    }
    if (!g_log.installed) {
        g_log.installed = true;
        mix_log_set_sink(log_tramp, NULL);
    }
    return 0;
}

static void set_log(const struct mixclient *mc, const struct mixclient_options *o)
{
    bool on = o->log_fn != NULL && o->log_level > MIXCLIENT_LOG_QUIET;
    g_log.fn = on ? o->log_fn : NULL;
    g_log.ctx = o->log_ctx;
    g_log.owner = mc;
    int lvl = on ? (int)o->log_level - 1 : MIX_LOG_ERR;
    mix_log_set_level((enum mix_log_level)(lvl > MIX_LOG_DEBUG ? MIX_LOG_DEBUG : lvl));
}

/* Record why a call on mc failed (mixclient_errmsg) and return its code. */
static int mc_fail(struct mixclient *mc, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int mc_fail(struct mixclient *mc, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(mc->errmsg, sizeof(mc->errmsg), fmt, ap);
    va_end(ap);
    return code;
}

const char *mixclient_errmsg(const struct mixclient *mc)
{
    return mc->errmsg;
}

uint64_t mc_unix_now(void)
{
    return (uint64_t)time(NULL);
}

uint64_t mc_mono_us(struct mixclient *mc)
{
    return (uint64_t)(ev_now(mc->loop) * 1e6);
}

/*
 * Send one frame on the gateway link; false if the link is not up.  real:
 * it carries a real payload packet (test builds record its send time).
 */
static bool gw_send(struct mixclient *mc, const struct mix_frame *f, bool real)
{
    size_t len;
    const char *why;
    uint8_t *buf = frame_encode_alloc(f, &len, &why);
    if (buf == NULL) {
        log_err("client: cannot encode %s: %s", frame_type_name(f->type), why);
        return false;
    }
    bool ok = (real ? cconn_send_real(mc->gw, buf, len) : cconn_send(mc->gw, buf, len)) == 0;
    free(buf);
    return ok;
}

/* ------------------------------------------------------------ streams */

/* Mean interval of a rate given in millihertz, in seconds; 0 = stream off. */
static double stream_mean_s(uint64_t mhz)
{
    return mhz ? 1000.0 / (double)mhz : 0;
}

static enum core_stream stream_of(const struct mixclient *mc, const ev_timer *t)
{
    return t == &mc->t_payload ? CORE_STREAM_PAYLOAD
           : t == &mc->t_loop  ? CORE_STREAM_LOOP
                               : CORE_STREAM_DROP;
}

static void arm_stream(struct mixclient *mc, ev_timer *t, uint64_t mhz)
{
    double mean = stream_mean_s(mhz);
    ev_timer_stop(mc->loop, t);
    if (mean <= 0)
        return;
    /* Poisson process: exponential gaps. */
    double gap = mix_rng_exp(&mc->rng, mean);
    mc->due[stream_of(mc, t)] = ev_now(mc->loop) + gap;
    ev_timer_set(t, gap, 0.);
    ev_timer_start(mc->loop, t);
}

static void stream_fire(struct mixclient *mc, enum core_stream s)
{
    if (!cconn_is_up(mc->gw) || core_doc(mc->core) == NULL)
        return;
    size_t plen = core_packet_len(mc->core);
    uint8_t *pkt = malloc(plen);
    if (pkt == NULL)
        return;
    int r = core_next_packet(mc->core, s, mc_mono_us(mc), mc_unix_now(), pkt);
    if (r >= 0) {
        struct mix_frame f = { .type = FRAME_SPHINX_PACKET };
        f.u.sphinx.packet.ptr = pkt;
        f.u.sphinx.packet.len = plen;
        if (!gw_send(mc, &f, r == 1))
            mc->stats_send_fail++;
    } else {
        log_debug("client: no packet this round: %s", core_strerror(r));
    }
    free(pkt);
}

static void on_stream(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct mixclient *mc = w->data;
    (void)loop;
    (void)revents;
    /* How late this packet leaves (the stats line shows the worst): what the
     * loop thread did when it fell due delays it by that much. */
    double late = ev_time() - mc->due[stream_of(mc, w)];
    if (late > 0 && late * 1e6 > (double)mc->late_max_us)
        mc->late_max_us = (uint64_t)(late * 1e6);
    const struct pki_params *p = core_doc(mc->core) ? pki_doc_params(core_doc(mc->core)) : NULL;
    if (w == &mc->t_payload) {
        stream_fire(mc, CORE_STREAM_PAYLOAD);
        if (p)
            arm_stream(mc, w, p->lambda_p_mhz);
    } else if (w == &mc->t_loop) {
        stream_fire(mc, CORE_STREAM_LOOP);
        if (p)
            arm_stream(mc, w, p->lambda_l_mhz);
    } else {
        stream_fire(mc, CORE_STREAM_DROP);
        if (p)
            arm_stream(mc, w, p->lambda_d_mhz);
    }
}

static void start_streams(struct mixclient *mc)
{
    const struct pki_params *p = pki_doc_params(core_doc(mc->core));
    if (!ev_is_active(&mc->t_payload))
        arm_stream(mc, &mc->t_payload, p->lambda_p_mhz);
    if (!ev_is_active(&mc->t_loop))
        arm_stream(mc, &mc->t_loop, p->lambda_l_mhz);
    if (!ev_is_active(&mc->t_drop))
        arm_stream(mc, &mc->t_drop, p->lambda_d_mhz);
}

/* ------------------------------------------------------------ fetch */

/*
 * Messages asked for per fetch.  Every answer is padded to a full batch (wire.md
 * "Fetch padding"), so the batch is a bandwidth cost paid on every fetch.  With
 * fetch_max = 0 ("auto") it follows the network's rates, the same for every
 * client: twice what our own payload and loop streams can bring back (their
 * acknowledgements and loops) per fetch interval, so acknowledgements never
 * queue up behind the cadence, within [4, 256].
 */
static uint32_t fetch_batch(const struct mixclient *mc)
{
    if (mc->conf.fetch_max > 0)
        return (uint32_t)mc->conf.fetch_max;
    const struct pki_doc *doc = core_doc(mc->core);
    if (doc == NULL)
        return 32;
    const struct pki_params *p = pki_doc_params(doc);
    double per_s = (double)(p->lambda_p_mhz + p->lambda_l_mhz) / 1000.0;
    double n = ceil(2.0 * per_s * (double)mc->conf.fetch_interval_us / 1e6);
    return n < 4 ? 4 : n > 256 ? 256 : (uint32_t)n;
}

/*
 * The fetch request leaves on the fixed cadence whatever the user does and
 * carries the acknowledgements of everything handled since the previous one,
 * padded to the size of a full batch of them: neither its time nor its size
 * depends on what arrived or how long handling it took.  The gateway deletes
 * the acknowledged messages only when this request reaches it, so a crash
 * before that means a re-fetch (handled as a duplicate), never a loss.
 */
static void on_fetch_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct mixclient *mc = w->data;
    (void)loop;
    (void)revents;
    if (!cconn_is_up(mc->gw))
        return;
    /* A fetch the gateway never answered (dropped, refused) must not stop fetching. */
    uint64_t now = mc_mono_us(mc), patience = 10 * mc->conf.fetch_interval_us;
    if (patience < 5000000)
        patience = 5000000;
    if (mc->fetch_outstanding && now < mc->fetch_sent_us + patience)
        return;
    uint32_t batch = fetch_batch(mc);
    size_t k = mc->n_acks < MC_MAX_ACKS ? mc->n_acks : MC_MAX_ACKS;
    struct mix_frame f = { .type = FRAME_FETCH_REQUEST };
    f.u.fetch_req.max_messages = batch;
    f.u.fetch_req.acks = mc->acks;
    f.u.fetch_req.n_acks = k;
    f.u.fetch_req.pad_to = frame_fetch_request_padded_len(k > batch ? (uint32_t)k : batch);
    if (gw_send(mc, &f, false)) {
        mc->fetch_outstanding = true;
        mc->fetch_sent_us = now;
        /* Sent: a lost request only means those messages come again. */
        memmove(mc->acks, mc->acks + k, (mc->n_acks - k) * sizeof(*mc->acks));
        mc->n_acks -= k;
    }
}

/* ------------------------------------------------------------ handling thread */

/* Times of the loop thread's work on one received entry (handle_max_us). */
struct mc_span {
    double wall;
    struct timespec cpu;
};

static void span_begin(struct mc_span *sp)
{
    sp->wall = ev_time();
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &sp->cpu);
}

static void span_end(struct mixclient *mc, const struct mc_span *sp)
{
    struct timespec now;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
    double wall = (ev_time() - sp->wall) * 1e6;
    double cpu =
        (double)(now.tv_sec - sp->cpu.tv_sec) * 1e6 + (double)(now.tv_nsec - sp->cpu.tv_nsec) / 1e3;
    if (wall > (double)mc->handle_max_us)
        mc->handle_max_us = (uint64_t)wall;
    if (cpu > (double)mc->handle_cpu_max_us)
        mc->handle_cpu_max_us = (uint64_t)cpu;
}

/*
 * Received messages are handled on a thread of their own, so that no
 * stream packet waits for them (docs/spec/client.md "Streams"): the loop
 * thread copies each entry into an inbox job (core.h) and queues it; the
 * handling thread runs the jobs one at a time, in order (decryption,
 * fragments, joining and storing a complete message, the sync); the loop
 * thread applies each result and only then queues its acknowledgement for
 * the next FetchRequest, so an entry is acknowledged only once it is stored.
 */
struct mc_jobnode {
    struct core_job *job;
    struct mc_jobnode *next;
};

static void *h_main(void *arg)
{
    struct mixclient *mc = arg;
    pthread_mutex_lock(&mc->h_mu);
    for (;;) {
        while (mc->h_todo == NULL && !mc->h_stop)
            pthread_cond_wait(&mc->h_cv, &mc->h_mu);
        if (mc->h_stop)
            break;
        struct mc_jobnode *n = mc->h_todo;
        mc->h_todo = n->next;
        if (mc->h_todo == NULL)
            mc->h_todo_tail = NULL;
        pthread_mutex_unlock(&mc->h_mu);
        core_job_run(n->job);
        n->next = NULL;
        pthread_mutex_lock(&mc->h_mu);
        if (mc->h_done_tail != NULL)
            mc->h_done_tail->next = n;
        else
            mc->h_done = n;
        mc->h_done_tail = n;
        ev_async_send(mc->loop, &mc->h_async);
    }
    pthread_mutex_unlock(&mc->h_mu);
    return NULL;
}

static void pend_remove(struct mixclient *mc, uint64_t seq)
{
    for (size_t i = 0; i < mc->n_pend; i++)
        if (mc->pend[i] == seq) {
            mc->pend[i] = mc->pend[--mc->n_pend];
            return;
        }
}

/* Apply a handled job: acknowledge its entry if it was handled. */
static void h_apply(struct mixclient *mc, struct core_job *j)
{
    uint64_t seq = core_job_seq(j);
    if (core_job_done(mc->core, j) == 0 && mc->n_acks < MC_MAX_ACKS)
        mc->acks[mc->n_acks++] = seq;
}

/* Apply handled jobs one per loop round, so that a due timer never waits behind a batch. */
static void on_handled(struct ev_loop *loop, ev_async *w, int revents)
{
    struct mixclient *mc = w->data;
    (void)revents;
    pthread_mutex_lock(&mc->h_mu);
    struct mc_jobnode *n = mc->h_done;
    if (n != NULL) {
        mc->h_done = n->next;
        if (mc->h_done == NULL)
            mc->h_done_tail = NULL;
        else
            ev_async_send(loop, w);
    }
    pthread_mutex_unlock(&mc->h_mu);
    if (n == NULL)
        return;
    struct mc_span sp;
    span_begin(&sp);
    pend_remove(mc, core_job_seq(n->job));
    h_apply(mc, n->job);
    span_end(mc, &sp);
    free(n);
}

static void h_setup(struct mixclient *mc)
{
    pthread_mutex_init(&mc->h_mu, NULL);
    pthread_cond_init(&mc->h_cv, NULL);
    ev_async_init(&mc->h_async, on_handled);
    mc->h_async.data = mc;
    ev_async_start(mc->loop, &mc->h_async);
    ev_unref(mc->loop); /* it alone does not keep the loop running */
    mc->h_init = true;
}

/* Stop the thread; jobs not applied are dropped (their entries come again). */
static void h_fini(struct mixclient *mc)
{
    if (!mc->h_init)
        return;
    if (mc->h_started) {
        pthread_mutex_lock(&mc->h_mu);
        mc->h_stop = true;
        pthread_cond_signal(&mc->h_cv);
        pthread_mutex_unlock(&mc->h_mu);
        pthread_join(mc->h_thread, NULL);
    }
    struct mc_jobnode *lists[2] = { mc->h_todo, mc->h_done };
    for (size_t i = 0; i < 2; i++)
        while (lists[i] != NULL) {
            struct mc_jobnode *next = lists[i]->next;
            core_job_free(lists[i]->job);
            free(lists[i]);
            lists[i] = next;
        }
    ev_ref(mc->loop);
    ev_async_stop(mc->loop, &mc->h_async);
    pthread_cond_destroy(&mc->h_cv);
    pthread_mutex_destroy(&mc->h_mu);
    mc->h_init = false;
}

/* Start the handling thread (once, when the gateway link first comes up). */
static void h_start(struct mixclient *mc)
{
    if (mc->h_started || !mc->h_init)
        return;
    mc->h_started = pthread_create(&mc->h_thread, NULL, h_main, mc) == 0;
    if (!mc->h_started)
        log_warn("client: no handling thread; handling received messages on the loop thread");
}

/* Hand one entry to the handling thread (or, without one, handle it here). */
static void h_submit(struct mixclient *mc, const struct frame_inbox_msg *m)
{
    if (mc->n_pend == MC_MAX_ACKS)
        return; /* not acknowledged: fetched again */
    struct core_job *j = core_inbox_job(mc->core, m, mc_unix_now());
    struct mc_jobnode *n = j != NULL ? malloc(sizeof(*n)) : NULL;
    if (n == NULL) {
        core_job_free(j);
        return;
    }
    if (!mc->h_started) {
        free(n);
        core_job_run(j);
        h_apply(mc, j);
        return;
    }
    n->job = j;
    n->next = NULL;
    mc->pend[mc->n_pend++] = m->seq;
    pthread_mutex_lock(&mc->h_mu);
    if (mc->h_todo_tail != NULL)
        mc->h_todo_tail->next = n;
    else
        mc->h_todo = n;
    mc->h_todo_tail = n;
    pthread_cond_signal(&mc->h_cv);
    pthread_mutex_unlock(&mc->h_mu);
}

/*
 * Pass received messages to the handling thread one per idle round of the
 * loop, after any timer or I/O that is due (copying an entry is all the
 * loop thread does with it).
 */
static void on_rx_idle(struct ev_loop *loop, ev_idle *w, int revents)
{
    struct mixclient *mc = w->data;
    (void)revents;
    struct mix_frame *f = mc->rx[0];
    if (f == NULL || mc->rx_pos >= f->u.fetch_resp.n_msgs) {
        frame_free(f);
        memmove(mc->rx, mc->rx + 1, (MC_RX_FRAMES - 1) * sizeof(*mc->rx));
        mc->rx[MC_RX_FRAMES - 1] = NULL;
        mc->rx_pos = 0;
        if (mc->rx[0] == NULL)
            ev_idle_stop(loop, w);
        return;
    }
    const struct frame_inbox_msg *m = &f->u.fetch_resp.msgs[mc->rx_pos++];
    /*
     * A request that left before the previous response was handled brings
     * its messages again: one being handled, or handled and waiting for its
     * ack, is not handled twice (a SURB is single use; a second opening
     * would count as bad input).
     */
    for (size_t i = 0; i < mc->n_acks; i++)
        if (mc->acks[i] == m->seq)
            return;
    for (size_t i = 0; i < mc->n_pend; i++)
        if (mc->pend[i] == m->seq)
            return;
    struct mc_span sp;
    span_begin(&sp);
    h_submit(mc, m);
    span_end(mc, &sp);
}

/* Takes ownership of f.  Nothing is sent in answer: acks ride on the next request. */
static void on_fetch_response(struct mixclient *mc, struct mix_frame *f)
{
    mc->fetch_outstanding = false;
    size_t i = 0;
    while (i < MC_RX_FRAMES && mc->rx[i] != NULL)
        i++;
    if (i == MC_RX_FRAMES || f->u.fetch_resp.n_msgs == 0) {
        /* Nothing to handle, or a backlog of responses: drop it (fetched again). */
        frame_free(f);
        return;
    }
    mc->rx[i] = f;
    ev_idle_start(mc->loop, &mc->t_rx);
}

/* ------------------------------------------------------------ gateway link */

static void gw_up(void *ctx, struct cconn *c)
{
    struct mixclient *mc = ctx;
    (void)c;
    log_info("client: connected to the gateway");
    mc->gw_backoff_s = 1;
    mc->fetch_outstanding = false;
    h_start(mc);
    if (mc->on_gateway_up)
        mc->on_gateway_up(mc);
    start_streams(mc);
    /* Fetch at once: the first fetch is what creates our inbox at the gateway
     * (a handshake leaves nothing there), so acks find it from the start. */
    on_fetch_timer(mc->loop, &mc->t_fetch, 0);
}

static void gw_frame(void *ctx, struct cconn *c, const uint8_t *buf, size_t len)
{
    struct mixclient *mc = ctx;
    struct mix_frame *f;
    const char *why;
    (void)c;
    if (!frame_decode(buf, len, FRAME_MAX_DEFAULT * 4, &f, &why)) {
        log_debug("client: bad frame from the gateway: %s", why);
        return;
    }
    if (f->type == FRAME_FETCH_RESPONSE) {
        on_fetch_response(mc, f);
        if (mc->on_fetched)
            mc->on_fetched(mc, true);
        return; /* on_fetch_response keeps f until its entries are handled */
    } else if (f->type == FRAME_ERROR) {
        /* An error answers our one outstanding request, if any. */
        mc->fetch_outstanding = false;
        log_warn("client: gateway error %u: %s", f->u.error.code,
                 f->u.error.reason ? f->u.error.reason : "");
        if (mc->on_fetched)
            mc->on_fetched(mc, false);
    } else
        log_debug("client: unexpected %s from the gateway", frame_type_name(f->type));
    frame_free(f);
}

static void gw_down(void *ctx, struct cconn *c, const char *why)
{
    struct mixclient *mc = ctx;
    (void)c;
    log_warn("client: gateway link down: %s", why);
    mc->fetch_outstanding = false;
    ev_timer_stop(mc->loop, &mc->t_redial);
    ev_timer_set(&mc->t_redial, mc->gw_backoff_s, 0.);
    ev_timer_start(mc->loop, &mc->t_redial);
    if (mc->gw_backoff_s < 30)
        mc->gw_backoff_s *= 2;
}

void mc_dial_gateway(struct mixclient *mc)
{
    char err[256];
    const struct pki_doc *doc = core_doc(mc->core);
    if (doc == NULL || !cconn_is_down(mc->gw))
        return;
    cconn_free(mc->gw);
    mc->gw = NULL;
    const struct pki_descriptor *d = pki_doc_find(doc, mc->gateway_id);
    if (d == NULL || (d->roles & PKI_ROLE_GATEWAY) == 0) {
        log_err("client: our gateway is not in the directory (epoch %llu)",
                (unsigned long long)pki_doc_epoch(doc));
        return;
    }
    struct cconn_cbs cbs = { gw_up, gw_frame, gw_down, mc };
    mc->gw =
        cconn_dial(mc->loop, d->address, mc->keys, mc->keys + 32, d->link_key, LINK_ROLE_CLIENT,
                   FRAME_MAX_DEFAULT * 4, (uint32_t)(mc->conf.connect_timeout_us / 1000), &mc->rng,
                   &cbs, err, sizeof(err));
    if (mc->gw == NULL) {
        log_err("client: gateway: %s", err);
        gw_down(mc, NULL, err);
    }
}

static void on_redial(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct mixclient *mc = w->data;
    (void)loop;
    (void)revents;
    mc_dial_gateway(mc);
}

/* ------------------------------------------------------------ housekeeping */

static void on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct mixclient *mc = w->data;
    (void)loop;
    (void)revents;
    core_tick(mc->core, mc_mono_us(mc));
    if (mc_unix_now() >= mc->last_gc + 60) {
        mc->last_gc = mc_unix_now();
        size_t n = core_gc(mc->core, mc->last_gc);
        if (n > 0)
            log_debug("client: forgot %zu expired SURBs", n);
    }
    /* Counters only (nothing about peers), for operators and tests. */
    if (mc->conf.stats_interval_us > 0 &&
        mc_mono_us(mc) >= mc->last_stats_us + mc->conf.stats_interval_us) {
        struct core_stats st;
        mc->last_stats_us = mc_mono_us(mc);
        core_get_stats(mc->core, &st);
        log_info("client: stats real=%llu drop=%llu loop=%llu reply=%llu acks=%llu "
                 "loop_acks=%llu cover_acks=%llu loops_back=%llu retransmits=%llu failed=%llu "
                 "frags_in=%llu "
                 "dups=%llu msgs_in=%llu bad_in=%llu queue=%zu late_max_us=%llu "
                 "handle_max_us=%llu handle_cpu_max_us=%llu",
                 (unsigned long long)st.real_sent, (unsigned long long)st.drop_sent,
                 (unsigned long long)st.loop_sent, (unsigned long long)st.reply_sent,
                 (unsigned long long)st.acks, (unsigned long long)st.loop_acks,
                 (unsigned long long)st.cover_acks, (unsigned long long)st.loops_back,
                 (unsigned long long)st.retransmits, (unsigned long long)st.failed_msgs,
                 (unsigned long long)st.received_frags, (unsigned long long)st.duplicates,
                 (unsigned long long)st.received_msgs, (unsigned long long)st.bad_in,
                 core_queue_len(mc->core), (unsigned long long)mc->late_max_us,
                 (unsigned long long)mc->handle_max_us, (unsigned long long)mc->handle_cpu_max_us);
    }
}

/* ------------------------------------------------------------ object */

static int load_keys(struct mixclient *mc, bool need_gateway, char *err, size_t errlen)
{
    char path[CCONF_PATH_MAX];
    mc->keys = sodium_malloc(64);
    if (mc->keys == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    cconf_path(&mc->conf, "client.key", path);
    if (keyfile_read(path, KEYFILE_X25519_SECRET, mc->keys, err, errlen) < 0)
        return -1;
    crypto_scalarmult_base(mc->keys + 32, mc->keys);
    if (!need_gateway)
        return 0;
    if (mc->conf.have_gateway) {
        memcpy(mc->gateway_id, mc->conf.gateway_id, 32);
        return 0;
    }
    return mc_read_gateway_file(&mc->conf, mc->gateway_id, err, errlen);
}

static void init_timers(struct mixclient *mc)
{
    ev_timer_init(&mc->t_payload, on_stream, 1., 0.);
    ev_timer_init(&mc->t_loop, on_stream, 1., 0.);
    ev_timer_init(&mc->t_drop, on_stream, 1., 0.);
    double fi = (double)mc->conf.fetch_interval_us / 1e6;
    ev_timer_init(&mc->t_fetch, on_fetch_timer, fi, fi);
    ev_timer_init(&mc->t_tick, on_tick, 0.1, 0.1);
    ev_timer_init(&mc->t_redial, on_redial, 1., 0.);
    ev_idle_init(&mc->t_rx, on_rx_idle);
    mc->t_rx.data = mc;
    h_setup(mc);
    mc->t_payload.data = mc->t_loop.data = mc->t_drop.data = mc;
    mc->t_fetch.data = mc->t_tick.data = mc->t_redial.data = mc;
    ev_timer_start(mc->loop, &mc->t_fetch);
    ev_timer_start(mc->loop, &mc->t_tick);
    mc->gw_backoff_s = 1;
}

struct mixclient *mc_new_common(const char *config_path, struct ev_loop *loop, bool need_gateway,
                                char *err, size_t errlen)
{
    if (mc_lib_setup(err, errlen) < 0)
        return NULL;
    struct mixclient *mc = calloc(1, sizeof(*mc));
    if (mc == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    mc->rng = mix_rng_system();
    if (cconf_load(config_path, &mc->conf, err, errlen) < 0)
        goto fail;
    mc->loop = loop ? loop : ev_loop_new(EVFLAG_AUTO);
    mc->own_loop = loop == NULL;
    if (mc->loop == NULL) {
        snprintf(err, errlen, "cannot create the event loop");
        goto fail;
    }
    if (load_keys(mc, need_gateway, err, errlen) < 0)
        goto fail;
    if (!need_gateway)
        return mc;
    mc->store = cstore_open(mc->conf.data_dir, 1024, err, errlen);
    if (mc->store == NULL)
        goto fail;
    struct core_config cc;
    memset(&cc, 0, sizeof(cc));
    memcpy(cc.sk, mc->keys, 32);
    memcpy(cc.gateway_id, mc->gateway_id, 32);
    cc.max_attempts = (uint32_t)mc->conf.max_attempts;
    cc.fetch_interval_us = mc->conf.fetch_interval_us;
    cc.timeout_slack_us = mc->conf.retransmit_slack_us;
    mc->core = core_new(&cc, mc->store, &mc->rng);
    sodium_memzero(&cc, sizeof(cc));
    if (mc->core == NULL) {
        snprintf(err, errlen, "cannot load the client store");
        goto fail;
    }
    core_set_recv_cb(mc->core, mc_core_recv, mc);
    init_timers(mc);
    mc_dir_start(mc);
    return mc;
fail:
    mixclient_free(mc);
    return NULL;
}

struct mixclient *mixclient_new(const char *config_path, struct ev_loop *loop, char *err,
                                size_t errlen)
{
    return mixclient_new_opts(config_path, loop, NULL, err, errlen);
}

struct mixclient *mixclient_new_opts(const char *config_path, struct ev_loop *loop,
                                     const struct mixclient_options *opts, char *err, size_t errlen)
{
    if (mc_lib_setup(err, errlen) < 0)
        return NULL;
    /* Set first, so that lines logged while starting reach the callback. */
    if (opts != NULL)
        set_log(NULL, opts);
    struct mixclient *mc = mc_new_common(config_path, loop, true, err, errlen);
    if (opts != NULL) {
        g_log.owner = mc;
        if (mc != NULL)
            mc->log_owner = true;
        else
            g_log.fn = NULL;
    }
    return mc;
}

void mixclient_free(struct mixclient *mc)
{
    if (mc == NULL)
        return;
    if (mc->loop != NULL) {
        ev_timer_stop(mc->loop, &mc->t_payload);
        ev_timer_stop(mc->loop, &mc->t_loop);
        ev_timer_stop(mc->loop, &mc->t_drop);
        ev_timer_stop(mc->loop, &mc->t_fetch);
        ev_timer_stop(mc->loop, &mc->t_tick);
        ev_timer_stop(mc->loop, &mc->t_redial);
        ev_idle_stop(mc->loop, &mc->t_rx);
        h_fini(mc);
        mc_dir_stop(mc);
    }
    for (size_t i = 0; i < MC_RX_FRAMES; i++)
        frame_free(mc->rx[i]);
    cconn_free(mc->gw);
    core_free(mc->core);
    cstore_close(mc->store);
    if (mc->keys)
        sodium_free(mc->keys);
    if (mc->own_loop && mc->loop)
        ev_loop_destroy(mc->loop);
    /* Its log callback's context may go with it. */
    if (mc->log_owner && g_log.owner == mc) {
        g_log.fn = NULL;
        g_log.owner = NULL;
    }
    free(mc);
}

/* ------------------------------------------------------------ API */

void mc_core_recv(void *ctx, const struct core_received *m)
{
    struct mixclient *mc = ctx;
    struct mixclient_message out = { .body = m->body,
                                     .len = m->len,
                                     .can_reply = m->can_reply,
                                     .is_reply = m->is_reply,
                                     .received_at = m->received_at };
    memcpy(out.id, m->id, MIXCLIENT_ID_LEN);
    memcpy(out.in_reply_to, m->in_reply_to, MIXCLIENT_ID_LEN);
    if (mc->recv_fn)
        mc->recv_fn(mc->recv_ctx, &out);
    if (mc->on_new_message)
        mc->on_new_message(mc);
}

void mixclient_address(const struct mixclient *mc, char out[MIXCLIENT_ADDRESS_SIZE])
{
    struct mix_address a;
    core_address(mc->core, &a);
    address_encode(&a, out);
}

int mixclient_check_address(const char *address, char *err, size_t errlen)
{
    struct mix_address a;
    enum address_err e = address_decode(address, &a);
    if (e == ADDRESS_OK)
        return 0;
    snprintf(err, errlen, "bad address: %s", address_strerror(e));
    return MIXCLIENT_E_ADDRESS;
}

size_t mixclient_max_message(void)
{
    return core_max_message();
}

size_t mixclient_max_reply(const struct mixclient *mc)
{
    return core_reply_cap(mc->core);
}

int mixclient_send(struct mixclient *mc, const char *address, const void *msg, size_t len,
                   unsigned reply_surbs, uint8_t id_out[MIXCLIENT_ID_LEN])
{
    struct mix_address a;
    enum address_err ae = address_decode(address, &a);
    if (ae != ADDRESS_OK)
        return mc_fail(mc, MIXCLIENT_E_ADDRESS, "bad address: %s", address_strerror(ae));
    if (len > core_max_message())
        return mc_fail(mc, MIXCLIENT_E_TOO_BIG,
                       "message too large: %zu bytes, the limit is %zu bytes", len,
                       core_max_message());
    core_set_clock(mc->core, mc_unix_now());
    int e = mc_err_from_core(core_send(mc->core, &a, msg, len, reply_surbs, id_out));
    if (e == MIXCLIENT_E_UNKNOWN_GATEWAY)
        return mc_fail(mc, e,
                       "the recipient's gateway is not a gateway with inboxes in the "
                       "directory (epoch %llu)",
                       (unsigned long long)mixclient_epoch(mc));
    return e == 0 ? 0 : mc_fail(mc, e, "%s", mixclient_strerror(e));
}

int mixclient_reply(struct mixclient *mc, const uint8_t id[MIXCLIENT_ID_LEN], const void *body,
                    size_t len, uint8_t id_out[MIXCLIENT_ID_LEN])
{
    int e = mc_err_from_core(core_reply(mc->core, id, body, len, id_out));
    switch (e) {
    case MIXCLIENT_OK: return 0;
    case MIXCLIENT_E_TOO_BIG:
        return mc_fail(mc, e, "reply too large: %zu bytes, a reply holds at most %zu bytes", len,
                       mixclient_max_reply(mc));
    case MIXCLIENT_E_UNKNOWN_ID: return mc_fail(mc, e, "no received message with that id");
    case MIXCLIENT_E_NO_SURB:
        return mc_fail(mc, e,
                       "that message carried no reply block (its sender asked for no reply)");
    case MIXCLIENT_E_SURB_USED:
        return mc_fail(mc, e, "reply block already used (a message can be answered once)");
    default: return mc_fail(mc, e, "%s", mixclient_strerror(e));
    }
}

/* core_status() of id, or the call's error recorded on mc. */
static int status_of(struct mixclient *mc, const uint8_t id[MIXCLIENT_ID_LEN],
                     struct core_status *s)
{
    int e = core_status(mc->core, id, s);
    if (e == CORE_ERR_UNKNOWN)
        return mc_fail(mc, MIXCLIENT_E_UNKNOWN_ID, "no message with that id");
    if (e != CORE_OK)
        return mc_fail(mc, mc_err_from_core(e), "%s", core_strerror(e));
    return 0;
}

int mixclient_status(struct mixclient *mc, const uint8_t id[MIXCLIENT_ID_LEN],
                     enum mixclient_state *state, unsigned *fragments, unsigned *acked)
{
    struct core_status s;
    int e = status_of(mc, id, &s);
    if (e != 0)
        return e;
    *state = (enum mixclient_state)s.state;
    *fragments = s.fragments;
    *acked = s.acked;
    return 0;
}

_Static_assert(MIXCLIENT_ADDRESS_SIZE == ADDRESS_STR_SIZE, "status peer holds an address");
/* The size of struct mixclient_status's first version (the oldest caller's). */
#define MC_STATUS_V1_SIZE (offsetof(struct mixclient_status, peer) + MIXCLIENT_ADDRESS_SIZE)

int mixclient_message_status(struct mixclient *mc, const uint8_t id[MIXCLIENT_ID_LEN],
                             struct mixclient_status *out, size_t out_size)
{
    struct core_status s;
    struct mixclient_status st;
    if (out == NULL || out_size < MC_STATUS_V1_SIZE)
        return mc_fail(mc, MIXCLIENT_E_INTERNAL, "status struct of %zu bytes (want %zu)", out_size,
                       sizeof(st));
    int e = status_of(mc, id, &s);
    if (e != 0)
        return e;
    memset(&st, 0, sizeof(st));
    st.state = (enum mixclient_state)s.state;
    st.fragments = s.fragments;
    st.acked = s.acked;
    st.incoming = s.incoming;
    st.time = s.time;
    st.size = s.size;
    if (s.have_peer)
        address_encode(&s.peer, st.peer);
    memcpy(out, &st, out_size < sizeof(st) ? out_size : sizeof(st));
    return 0;
}

void mixclient_on_receive(struct mixclient *mc, mixclient_recv_fn fn, void *ctx)
{
    mc->recv_fn = fn;
    mc->recv_ctx = ctx;
}

struct take_ctx {
    mixclient_recv_fn fn;
    void *ctx;
};

static void take_one(void *ctx, const struct core_received *m)
{
    struct take_ctx *t = ctx;
    struct mixclient_message out = { .body = m->body,
                                     .len = m->len,
                                     .can_reply = m->can_reply,
                                     .is_reply = m->is_reply,
                                     .received_at = m->received_at };
    memcpy(out.id, m->id, MIXCLIENT_ID_LEN);
    memcpy(out.in_reply_to, m->in_reply_to, MIXCLIENT_ID_LEN);
    t->fn(t->ctx, &out);
}

size_t mixclient_take(struct mixclient *mc, size_t max, mixclient_recv_fn fn, void *ctx,
                      size_t *remaining)
{
    struct take_ctx t = { fn, ctx };
    return core_take_received(mc->core, max, take_one, &t, remaining);
}

bool mixclient_connected(const struct mixclient *mc)
{
    return cconn_is_up(mc->gw);
}

uint64_t mixclient_epoch(const struct mixclient *mc)
{
    return core_doc(mc->core) ? pki_doc_epoch(core_doc(mc->core)) : 0;
}

size_t mixclient_queue_len(const struct mixclient *mc)
{
    return core_queue_len(mc->core);
}

struct ev_loop *mixclient_loop(struct mixclient *mc)
{
    return mc->loop;
}

int mixclient_run(struct mixclient *mc)
{
    ev_run(mc->loop, 0);
    return 0;
}

void mixclient_stop(struct mixclient *mc)
{
    ev_break(mc->loop, EVBREAK_ALL);
}

int mixclient_check_config(const char *config_path, char *err, size_t errlen)
{
    struct cconf c;
    return cconf_load(config_path, &c, err, errlen) == 0 ? 0 : MIXCLIENT_E_CONFIG;
}
