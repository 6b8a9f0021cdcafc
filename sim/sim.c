/*
 * The discrete-event core (see sim.h and docs/sim.md).
 *
 * Time is virtual, in microseconds, so that lib/mixq runs exactly as in the
 * node.  One binary heap orders every event.  Each mix is a struct mixq;
 * the adversary's bookkeeping (pool sums, the pool-average rule, targets and
 * their entropies) is sim/engine.c, which this file drives with arrival,
 * departure and delivery events.  A corrupt mix tells the adversary which
 * input became which output, so for it the engine is not told, and a
 * message keeps its own vector through it.
 *
 * Messages come from pooled arenas (and their vectors from the engine's),
 * so the hot loop never calls malloc.
 */
#include "sim.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "xrng.h"

#define US 1e6
#define POP_BATCH 256
#define SIM_AGG UINT32_MAX /* client index of a stream merged over all clients */

enum ev_type {
    EV_ARRIVE,
    EV_MIXDL,
    EV_DELIVER,
    EV_C_REAL,
    EV_C_PAYLOAD,
    EV_C_LOOP,
    EV_C_DROP,
    EV_M_LOOP,
    EV_TICK
};
enum msg_kind { K_REAL, K_PAYLOAD_COVER, K_LOOP, K_DROP, K_MIX_LOOP };

struct ev {
    uint64_t t;
    uint64_t seq; /* FIFO among equal times: determinism */
    void *p;
    uint32_t type;
    uint32_t idx;
};

struct msg {
    struct engine_vec v; /* its probability of being each target (engine.h) */
    struct msg *next_free;
    uint64_t t_written, t_sent;
    uint32_t dst;       /* client, or the origin mix of a mix loop */
    uint32_t cascade;   /* position chosen for a cascade */
    int32_t target;     /* tagged target index, or -1 */
    uint16_t layer;     /* layer of the mix it is at or heading to */
    uint16_t hops_left; /* mix hops still to do, including the current one */
    uint8_t kind;
};

struct mix {
    struct mixq *q;
    uint64_t sched; /* time of our pending EV_MIXDL, UINT64_MAX if none */
    bool corrupt;
};

struct client {
    uint64_t *queue; /* ring of write times of waiting real messages */
    uint32_t qhead, qlen, qcap;
};

struct arena {
    struct arena *next;
};

struct sim {
    struct sim_params p;
    struct xrng rng;
    uint32_t L, W, nmix;
    double mean_delay;
    double layer_delay[SIM_MAX_LAYERS]; /* per layer (layer_delays), else mean_delay */
    double *cdf;                        /* weighted routing: cumulative weights, W */
    struct mix *mix;
    struct client *cl;

    struct ev *heap;
    size_t hn, hcap;
    uint64_t seq, now, end;
    double agg_t[4]; /* exact time (us) of the merged client streams */
    /*
     * With a fixed link delay, link events (arrivals, deliveries) are made
     * in time order, so a FIFO ring holds them instead of the heap: same
     * (time, seq) order, far fewer heap operations.
     */
    bool fifo_links;
    struct ev *lq;
    size_t lq_head, lq_n, lq_cap;

    /* pools */
    struct arena *arenas;
    struct msg *free_msg;

    /* targets: the adversary's bookkeeping */
    struct engine *eng;
    uint64_t tag_end, warmup_us;
    double tag_prob; /* chance that a real message becomes a target */

    struct sim_results r;
    bool oom;
};

/* ------------------------------------------------------------ pooling */

static void *arena_alloc(struct sim *s, size_t bytes)
{
    struct arena *a = malloc(sizeof(struct arena) + bytes + 16);
    if (a == NULL) {
        s->oom = true;
        return NULL;
    }
    a->next = s->arenas;
    s->arenas = a;
    return (char *)a + ((sizeof(struct arena) + 15) & ~(size_t)15);
}

static struct msg *msg_get(struct sim *s)
{
    if (s->free_msg == NULL) {
        enum { NB = 1024 };
        struct msg *b = arena_alloc(s, NB * sizeof *b);
        if (b == NULL)
            return NULL;
        for (size_t i = 0; i < NB; i++) {
            b[i].next_free = s->free_msg;
            s->free_msg = &b[i];
        }
    }
    struct msg *m = s->free_msg;
    s->free_msg = m->next_free;
    memset(m, 0, sizeof *m);
    m->target = -1;
    return m;
}

static void msg_put(struct sim *s, struct msg *m)
{
    engine_vec_free(s->eng, &m->v);
    m->next_free = s->free_msg;
    s->free_msg = m;
}

/* ------------------------------------------------------------ event heap */

static inline bool ev_less(const struct ev *a, const struct ev *b)
{
    return a->t < b->t || (a->t == b->t && a->seq < b->seq);
}

static void ev_push(struct sim *s, uint64_t t, uint32_t type, uint32_t idx, void *p)
{
    if (s->hn == s->hcap) {
        size_t nc = s->hcap ? s->hcap * 2 : 4096;
        struct ev *h = realloc(s->heap, nc * sizeof *h);
        if (h == NULL) {
            s->oom = true;
            return;
        }
        s->heap = h;
        s->hcap = nc;
    }
    struct ev e = { t, s->seq++, p, type, idx };
    size_t i = s->hn++;
    while (i > 0) {
        size_t up = (i - 1) / 2;
        if (!ev_less(&e, &s->heap[up]))
            break;
        s->heap[i] = s->heap[up];
        i = up;
    }
    s->heap[i] = e;
}

/* Queue a link event (arrival or delivery) at t = now + link delay. */
static void link_push(struct sim *s, uint64_t t, uint32_t type, uint32_t idx, void *p)
{
    if (!s->fifo_links) {
        ev_push(s, t, type, idx, p);
        return;
    }
    if (s->lq_n == s->lq_cap) {
        size_t nc = s->lq_cap ? s->lq_cap * 2 : 4096;
        struct ev *q = malloc(nc * sizeof *q);
        if (q == NULL) {
            s->oom = true;
            return;
        }
        for (size_t i = 0; i < s->lq_n; i++)
            q[i] = s->lq[(s->lq_head + i) % s->lq_cap];
        free(s->lq);
        s->lq = q;
        s->lq_cap = nc;
        s->lq_head = 0;
    }
    s->lq[(s->lq_head + s->lq_n++) % s->lq_cap] = (struct ev){ t, s->seq++, p, type, idx };
}

static struct ev ev_pop(struct sim *s)
{
    struct ev top = s->heap[0];
    struct ev e = s->heap[--s->hn];
    size_t i = 0, n = s->hn;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && ev_less(&s->heap[c + 1], &s->heap[c]))
            c++;
        if (!ev_less(&s->heap[c], &e))
            break;
        s->heap[i] = s->heap[c];
        i = c;
    }
    if (n > 0)
        s->heap[i] = e;
    return top;
}

/* ------------------------------------------------------------ sampling */

static uint64_t secs_to_us(double x)
{
    if (x <= 0)
        return 0;
    if (x > 1e12)
        return (uint64_t)1e18;
    return (uint64_t)llround(x * US);
}

static uint64_t link_us(struct sim *s)
{
    double d = s->p.link_delay;
    if (s->p.link_delay_max > d)
        d += (s->p.link_delay_max - d) * xrng_unit(&s->rng);
    return secs_to_us(d);
}

static uint32_t pick_pos(struct sim *s)
{
    if (s->cdf == NULL)
        return xrng_below(&s->rng, s->W);
    double u = xrng_unit(&s->rng) * s->cdf[s->W - 1];
    uint32_t lo = 0, hi = s->W - 1;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (s->cdf[mid] < u)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The mix a message at layer `layer` goes to next. */
static uint32_t next_mix(struct sim *s, const struct msg *m)
{
    uint32_t pos = s->p.topology == SIM_TOPO_CASCADE ? m->cascade : pick_pos(s);
    return m->layer * s->W + pos;
}

/* Time to the next event of a stream with this rate (per s). */
static uint64_t stream_gap(struct sim *s, double rate, bool regular)
{
    double g = regular ? 1.0 / rate : xrng_exp(&s->rng, 1.0 / rate);
    uint64_t us = secs_to_us(g);
    return us ? us : 1;
}

/* ------------------------------------------------------------ message flow */

static void send_from_client(struct sim *s, uint32_t c, uint8_t kind, uint32_t dst,
                             uint64_t t_written)
{
    struct msg *m = msg_get(s);
    if (m == NULL)
        return;
    m->kind = kind;
    m->dst = dst;
    m->t_written = t_written;
    m->t_sent = s->now;
    m->layer = 0;
    m->hops_left = (uint16_t)s->L;
    m->cascade = s->p.topology == SIM_TOPO_CASCADE ? pick_pos(s) : 0;
    if (kind == K_REAL) {
        s->r.c.real_sent++;
        /*
         * Tag each real message independently with a fixed probability.
         * "The first message after time t" would be biased: it always
         * follows a gap with no traffic, so a batch mix would look worse
         * than it is (the inspection paradox).  Thinning a Poisson stream
         * keeps every tagged message a typical one.
         */
        if (s->now >= s->warmup_us && s->now < s->tag_end &&
            (s->p.max_targets == 0 || engine_target_count(s->eng) < s->p.max_targets) &&
            xrng_unit(&s->rng) <= s->tag_prob)
            m->target = engine_tag(s->eng, &m->v, c, s->now);
    }
    link_push(s, s->now + link_us(s), EV_ARRIVE, next_mix(s, m), m);
}

static void count_hop(struct sim *s, const struct msg *m)
{
    if (m->kind == K_REAL)
        s->r.c.hops_real++;
    else
        s->r.c.hops_cover++;
}

/* A message left mix x (at layer m->layer): on to the next hop. */
static void forward(struct sim *s, struct msg *m, uint32_t x)
{
    count_hop(s, m);
    m->hops_left--;
    if (m->hops_left > 0) {
        m->layer = (uint16_t)((m->layer + 1) % s->L);
        link_push(s, s->now + link_us(s), EV_ARRIVE, next_mix(s, m), m);
    } else if (m->kind == K_MIX_LOOP) {
        link_push(s, s->now + link_us(s), EV_ARRIVE, m->dst, m);
    } else {
        link_push(s, s->now + link_us(s), EV_DELIVER, m->dst, m);
    }
    (void)x;
}

static void schedule_mix(struct sim *s, uint32_t x);

/* Emit everything mix x has due now, applying the pool-average rule. */
static void run_mix(struct sim *s, uint32_t x)
{
    struct mix *mx = &s->mix[x];
    void *out[POP_BATCH];
    for (;;) {
        size_t held = mixq_len(mx->q);
        size_t n = mixq_pop_ready(mx->q, s->now, out, POP_BATCH);
        for (size_t i = 0; i < n; i++) {
            struct msg *m = out[i];
            if (!mx->corrupt)
                engine_depart(s->eng, x, (uint32_t)(held - i), &m->v);
            forward(s, m, x);
        }
        if (n < POP_BATCH)
            break;
    }
    schedule_mix(s, x);
}

static void schedule_mix(struct sim *s, uint32_t x)
{
    struct mix *mx = &s->mix[x];
    uint64_t d = mixq_next_deadline(mx->q);
    if (d == UINT64_MAX || d >= mx->sched)
        return;
    if (d <= s->now) {
        run_mix(s, x);
        return;
    }
    mx->sched = d;
    ev_push(s, d, EV_MIXDL, x, NULL);
}

static void push_into_mix(struct sim *s, uint32_t x, struct msg *m)
{
    struct mix *mx = &s->mix[x];
    uint64_t delay = 0;
    if (s->p.strategy == MIXQ_POISSON)
        delay = secs_to_us(xrng_exp(&s->rng, s->layer_delay[(x / s->W) % SIM_MAX_LAYERS]));
    if (mixq_push(mx->q, s->now, delay, m) != MIXQ_OK) {
        /* Full: the mix drops it.  A corrupt mix knows which one it was. */
        s->r.c.mix_drops++;
        engine_drop(s->eng, &m->v, true);
        msg_put(s, m);
        return;
    }
    schedule_mix(s, x);
}

static void on_arrive(struct sim *s, uint32_t x, struct msg *m)
{
    struct mix *mx = &s->mix[x];
    if (m->layer != x / s->W)
        m->layer = (uint16_t)(x / s->W);
    if (m->kind == K_MIX_LOOP && m->hops_left == 0) {
        /*
         * A mix's own loop came home and ends here.  An honest mix looks to
         * the observer as if it took the message in, so its mass joins the
         * pool; a corrupt one reveals it was a loop.
         */
        if (mx->corrupt)
            engine_drop(s->eng, &m->v, true);
        else
            engine_arrive(s->eng, x, &m->v);
        msg_put(s, m);
        return;
    }
    if (!mx->corrupt)
        engine_arrive(s->eng, x, &m->v);
    push_into_mix(s, x, m);
}

static void on_deliver(struct sim *s, uint32_t client, struct msg *m)
{
    count_hop(s, m);
    if (m->kind == K_REAL) {
        s->r.c.real_delivered++;
        if (m->t_sent >= s->warmup_us) {
            hist_add(&s->r.latency, (double)(s->now - m->t_sent) / US);
            hist_add(&s->r.e2e, (double)(s->now - m->t_written) / US);
        }
        if (m->target >= 0)
            engine_set_latency(s->eng, (size_t)m->target, (double)(s->now - m->t_sent) / US);
    }
    engine_deliver(s->eng, client, &m->v);
    msg_put(s, m);
}

/* ------------------------------------------------------------ client streams */

/* A real message written now waits for a payload tick. */
static void client_enqueue(struct sim *s, struct client *cl)
{
    if (cl->qlen == cl->qcap) {
        uint32_t nc = cl->qcap ? cl->qcap * 2 : 16;
        uint64_t *q = malloc(nc * sizeof *q);
        if (q == NULL) {
            s->oom = true;
            return;
        }
        for (uint32_t i = 0; i < cl->qlen; i++)
            q[i] = cl->queue[(cl->qhead + i) % cl->qcap];
        free(cl->queue);
        cl->queue = q;
        cl->qcap = nc;
        cl->qhead = 0;
    }
    cl->queue[(cl->qhead + cl->qlen++) % cl->qcap] = s->now;
}

/*
 * The next event of client stream `type` merged over all clients (rate per
 * client x clients).  Exact times are kept as doubles so that a merged rate
 * above one per microsecond is not rounded down.
 */
static uint64_t agg_next(struct sim *s, uint32_t type, double rate)
{
    double *t = &s->agg_t[type - EV_C_REAL];
    *t += xrng_exp(&s->rng, US / (rate * s->p.clients));
    return *t > (double)UINT64_MAX / 2 ? UINT64_MAX / 2 : (uint64_t)llround(*t);
}

static double stream_rate(const struct sim_params *p, uint32_t type)
{
    return type == EV_C_REAL      ? p->rate_real
           : type == EV_C_PAYLOAD ? p->rate_payload
           : type == EV_C_LOOP    ? p->rate_loop
                                  : p->rate_drop;
}

/*
 * Client c's stream event, or with c = SIM_AGG an event of the stream
 * merged over all clients: N independent Poisson streams of rate r are one
 * Poisson stream of rate N r whose events belong to a uniformly chosen
 * client, exactly, and one heap entry instead of N keeps a million clients
 * cheap.  Regular real-message writers keep one event each.
 */
static void on_client(struct sim *s, uint32_t type, uint32_t c)
{
    const struct sim_params *p = &s->p;
    bool agg = c == SIM_AGG;
    if (agg) {
        c = xrng_below(&s->rng, p->clients);
        ev_push(s, agg_next(s, type, stream_rate(p, type)), type, SIM_AGG, NULL);
    }
    struct client *cl = &s->cl[c];
    uint32_t other = p->clients > 1 ? xrng_below(&s->rng, p->clients - 1) : 0;
    uint32_t rcpt = p->clients > 1 && other >= c ? other + 1 : other;
    switch (type) {
    case EV_C_REAL:
        s->r.c.real_written++;
        if (p->rate_payload <= 0) {
            send_from_client(s, c, K_REAL, rcpt, s->now);
        } else if (cl->qlen >= p->client_queue) {
            s->r.c.client_drops++;
        } else {
            client_enqueue(s, cl);
        }
        if (!agg)
            ev_push(s, s->now + stream_gap(s, p->rate_real, p->arrivals == SIM_ARRIVALS_REGULAR),
                    EV_C_REAL, c, NULL);
        break;
    case EV_C_PAYLOAD:
        if (cl->qlen > 0) {
            uint64_t tw = cl->queue[cl->qhead];
            cl->qhead = (cl->qhead + 1) % cl->qcap;
            cl->qlen--;
            send_from_client(s, c, K_REAL, rcpt, tw);
        } else {
            s->r.c.payload_cover++;
            send_from_client(s, c, K_PAYLOAD_COVER, rcpt, s->now);
        }
        break;
    case EV_C_LOOP:
        s->r.c.loop_cover++;
        send_from_client(s, c, K_LOOP, c, s->now);
        break;
    case EV_C_DROP:
        s->r.c.drop_cover++;
        send_from_client(s, c, K_DROP, rcpt, s->now);
        break;
    }
}

/* Mix x starts a loop: it goes through the mix's own queue, then L-1 more
 * mixes in the following layers (wrapping), then home. */
static void on_mix_loop(struct sim *s, uint32_t x)
{
    struct msg *m = msg_get(s);
    if (m != NULL) {
        s->r.c.mix_loop_cover++;
        m->kind = K_MIX_LOOP;
        m->dst = x;
        m->layer = (uint16_t)(x / s->W);
        m->cascade = x % s->W;
        m->hops_left = (uint16_t)s->L;
        m->t_written = m->t_sent = s->now;
        push_into_mix(s, x, m);
    }
    ev_push(s, s->now + stream_gap(s, s->p.rate_mix_loop, false), EV_M_LOOP, x, NULL);
}

/* ------------------------------------------------------------ setup */

/* Expected per-hop sojourn time (s), for the automatic run lengths. */
static double hop_time(const struct sim *s)
{
    const struct sim_params *p = &s->p;
    double per_client =
        (p->rate_payload > 0 ? p->rate_payload : p->rate_real) + p->rate_loop + p->rate_drop;
    double per_mix = (per_client * p->clients) / s->W + p->rate_mix_loop;
    if (per_mix <= 0)
        per_mix = 1;
    switch (p->strategy) {
    case MIXQ_TIMED_POOL: {
        double n = per_mix * p->period;
        return p->period * (0.5 + (n > 0 ? p->pool_keep / n : p->pool_keep));
    }
    case MIXQ_THRESHOLD: return p->threshold / per_mix;
    default: return s->mean_delay;
    }
}

static bool setup_mixes(struct sim *s, const char **why)
{
    struct mixq_params mp = {
        .strategy = (enum mixq_strategy)s->p.strategy,
        .max_delay_us = secs_to_us(s->p.max_delay),
        .period_us = secs_to_us(s->p.period),
        .pool_keep = s->p.pool_keep,
        .threshold = s->p.threshold,
        .capacity = s->p.capacity,
    };
    if (!mixq_params_valid(&mp, why))
        return false;
    s->mix = calloc(s->nmix, sizeof *s->mix);
    if (s->mix == NULL)
        return false;
    for (uint32_t x = 0; x < s->nmix; x++) {
        s->mix[x].sched = UINT64_MAX;
        s->mix[x].q = mixq_new(&mp, xrng_as_mix_rng(&s->rng));
        if (s->mix[x].q == NULL)
            return false;
    }
    /* Corrupt mixes: `corrupt` drawn at random, plus any listed ids. */
    uint32_t *perm = malloc(s->nmix * sizeof *perm);
    if (perm == NULL)
        return false;
    for (uint32_t i = 0; i < s->nmix; i++)
        perm[i] = i;
    for (uint32_t i = 0; i < s->p.corrupt && i < s->nmix; i++) {
        uint32_t j = i + xrng_below(&s->rng, s->nmix - i);
        uint32_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
        s->mix[perm[i]].corrupt = true;
    }
    free(perm);
    static double ids[SIM_MAX_WIDTH];
    int n = sim_parse_list(s->p.corrupt_ids, ids, SIM_MAX_WIDTH);
    for (int i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= s->nmix || ids[i] != floor(ids[i])) {
            *why = "corrupt_ids: no such mix";
            return false;
        }
        s->mix[(uint32_t)ids[i]].corrupt = true;
    }
    s->r.mixes = s->nmix;
    for (uint32_t x = 0; x < s->nmix; x++)
        s->r.corrupt_mixes += s->mix[x].corrupt;
    return true;
}

static bool setup_routing(struct sim *s)
{
    if (s->p.routing != SIM_ROUTE_WEIGHTED)
        return true;
    s->cdf = malloc(s->W * sizeof *s->cdf);
    if (s->cdf == NULL)
        return false;
    int n = sim_parse_list(s->p.weights, s->cdf, (int)s->W);
    double acc = 0;
    for (int i = 0; i < n; i++) {
        if (s->cdf[i] < 0)
            return false;
        acc += s->cdf[i];
        s->cdf[i] = acc;
    }
    return n == (int)s->W && acc > 0;
}

static void setup_times(struct sim *s)
{
    struct sim_params *p = &s->p;
    double link =
        p->link_delay_max > p->link_delay ? (p->link_delay + p->link_delay_max) / 2 : p->link_delay;
    double hop = hop_time(s);
    double lat = s->L * (hop + link) + link;
    double warm = p->warmup >= 0 ? p->warmup : fmax(1.0, 5 * lat);
    double drain = p->drain >= 0 ? p->drain : 10 * lat + 30 * hop;
    double step = p->target_interval > 0 ? p->target_interval : lat;
    s->r.warmup = warm;
    s->r.drain = drain;
    s->r.target_interval = step;
    s->warmup_us = secs_to_us(warm);
    s->tag_end = p->duration > warm + drain ? secs_to_us(p->duration - drain) : s->warmup_us;
    /* Real messages leave at the write rate, or at most at the payload rate. */
    double per_client = p->rate_payload > 0 ? fmin(p->rate_real, p->rate_payload) : p->rate_real;
    double real_rate = per_client * p->clients;
    s->tag_prob = real_rate * step > 1 ? 1.0 / (real_rate * step) : 1.0;
    s->r.tag_prob = s->tag_prob;
    s->end = secs_to_us(p->duration);
}

struct sim *sim_new(const struct sim_params *p, const char **why)
{
    static const char *const oom = "out of memory";
    if (!sim_params_check(p, why))
        return NULL;
    struct sim *s = calloc(1, sizeof *s);
    if (s == NULL) {
        *why = oom;
        return NULL;
    }
    s->p = *p;
    if (p->topology == SIM_TOPO_SINGLE)
        s->p.layers = s->p.width = 1;
    s->L = s->p.layers;
    s->W = s->p.width;
    s->nmix = s->L * s->W;
    double link =
        p->link_delay_max > p->link_delay ? (p->link_delay + p->link_delay_max) / 2 : p->link_delay;
    s->mean_delay = p->e2e > 0 ? (p->e2e - (s->L + 1) * link) / s->L : p->mean_delay;
    s->fifo_links = !(p->link_delay_max > p->link_delay);
    s->r.mean_delay = s->mean_delay;
    for (uint32_t l = 0; l < SIM_MAX_LAYERS; l++)
        s->layer_delay[l] = s->mean_delay;
    if (p->layer_delays[0] != '\0') {
        double ld[SIM_MAX_LAYERS];
        int n = sim_parse_list(p->layer_delays, ld, SIM_MAX_LAYERS);
        for (int l = 0; l < n && l < SIM_MAX_LAYERS; l++)
            s->layer_delay[l] = ld[l];
    }
    xrng_seed(&s->rng, p->seed);
    hist_init(&s->r.latency);
    hist_init(&s->r.e2e);
    *why = oom;
    s->cl = calloc(p->clients, sizeof *s->cl);
    s->eng = engine_new(s->nmix, p->clients, p->prune);
    if (s->cl == NULL || s->eng == NULL || !setup_mixes(s, why)) {
        sim_free(s);
        return NULL;
    }
    if (!setup_routing(s)) {
        *why = "bad weights";
        sim_free(s);
        return NULL;
    }
    setup_times(s);
    *why = NULL;
    return s;
}

void sim_free(struct sim *s)
{
    if (s == NULL)
        return;
    for (uint32_t x = 0; s->mix != NULL && x < s->nmix; x++)
        mixq_free(s->mix[x].q);
    free(s->mix);
    for (uint32_t c = 0; s->cl != NULL && c < s->p.clients; c++)
        free(s->cl[c].queue);
    free(s->cl);
    engine_free(s->eng);
    free(s->cdf);
    free(s->heap);
    free(s->lq);
    while (s->arenas != NULL) {
        struct arena *a = s->arenas;
        s->arenas = a->next;
        free(a);
    }
    free(s);
}

/* ------------------------------------------------------------ run */

static void start_streams(struct sim *s)
{
    const struct sim_params *p = &s->p;
    /* Regular writers start at a random phase so they do not all collide. */
    for (uint32_t c = 0; p->arrivals == SIM_ARRIVALS_REGULAR && p->rate_real > 0 && c < p->clients;
         c++)
        ev_push(s, secs_to_us(xrng_unit(&s->rng) / p->rate_real), EV_C_REAL, c, NULL);
    for (uint32_t type = EV_C_REAL; type <= EV_C_DROP; type++) {
        if (stream_rate(p, type) <= 0 || (type == EV_C_REAL && p->arrivals == SIM_ARRIVALS_REGULAR))
            continue;
        ev_push(s, agg_next(s, type, stream_rate(p, type)), type, SIM_AGG, NULL);
    }
    for (uint32_t x = 0; p->rate_mix_loop > 0 && x < s->nmix; x++)
        ev_push(s, stream_gap(s, p->rate_mix_loop, false), EV_M_LOOP, x, NULL);
    ev_push(s, 0, EV_TICK, 0, NULL);
}

static uint64_t tick_us(const struct sim *s)
{
    uint64_t t = s->end / 200;
    return t < 1000 ? 1000 : t > 1000000 ? 1000000 : t;
}

static bool dispatch(struct sim *s, const struct ev *e, sim_progress_fn progress, void *arg)
{
    switch (e->type) {
    case EV_ARRIVE: on_arrive(s, e->idx, e->p); break;
    case EV_MIXDL:
        if (s->mix[e->idx].sched == e->t) { /* else superseded */
            s->mix[e->idx].sched = UINT64_MAX;
            run_mix(s, e->idx);
        }
        break;
    case EV_DELIVER: on_deliver(s, e->idx, e->p); break;
    case EV_M_LOOP: on_mix_loop(s, e->idx); break;
    case EV_TICK:
        engine_sweep(s->eng, false);
        if (progress != NULL)
            progress(arg, (double)s->now / US, (double)s->end / US, s->r.events);
        if (s->p.early_stop && s->now >= s->tag_end && engine_active(s->eng) == 0 &&
            engine_target_count(s->eng) > 0)
            return false;
        if (s->p.early_stop && s->p.max_targets &&
            engine_target_count(s->eng) >= s->p.max_targets && engine_active(s->eng) == 0)
            return false;
        ev_push(s, s->now + tick_us(s), EV_TICK, 0, NULL);
        break;
    default: on_client(s, e->type, e->idx); break;
    }
    return true;
}

static void collect(struct sim *s)
{
    struct sim_results *r = &s->r;
    struct engine_summary es;
    if (engine_summarise(s->eng, SIM_BATCHES, &es) < 0)
        s->oom = true;
    r->targets = es.targets;
    r->unfinished = es.unfinished;
    r->measured = es.measured;
    r->batches = es.batches;
    r->h_msg = es.h_msg;
    r->hmin_msg = es.hmin_msg;
    r->h_rcpt = es.h_rcpt;
    r->hmin_rcpt = es.hmin_rcpt;
    r->max_mass_error = es.max_mass_error;
    r->max_pruned = es.max_pruned;
    r->rcpt_bytes_peak = engine_rcpt_bytes_peak(s->eng);
    r->few_targets = r->measured < SIM_MIN_TARGETS;
    r->seeds = 1;
    r->eff_set_msg = exp2(r->h_msg.mean);
    r->eff_set_rcpt = exp2(r->h_rcpt.mean);
    /* The sender is never a recipient: N - 1 possible ones (none with 2 clients). */
    r->degree = s->p.clients > 2 ? r->h_rcpt.mean / log2((double)s->p.clients - 1) : 0;
    uint64_t cover = r->c.payload_cover + r->c.loop_cover + r->c.drop_cover + r->c.mix_loop_cover;
    r->overhead = r->c.real_sent ? (double)cover / (double)r->c.real_sent : 0;
    r->overhead_hops = r->c.hops_real ? (double)r->c.hops_cover / (double)r->c.hops_real : 0;
}

/* Take the earliest event of the heap and the link FIFO, if due by the end. */
static bool next_event(struct sim *s, struct ev *e)
{
    bool heap = s->hn > 0 && s->heap[0].t <= s->end;
    bool fifo = s->lq_n > 0 && s->lq[s->lq_head].t <= s->end;
    if (heap && fifo)
        heap = ev_less(&s->heap[0], &s->lq[s->lq_head]);
    if (heap) {
        *e = ev_pop(s);
        return true;
    }
    if (!fifo)
        return false;
    *e = s->lq[s->lq_head];
    s->lq_head = (s->lq_head + 1) % s->lq_cap;
    s->lq_n--;
    return true;
}

int sim_run(struct sim *s, sim_progress_fn progress, void *arg)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    start_streams(s);
    /* Events past the end stay queued (their messages are in flight). */
    struct ev e;
    while (!s->oom && !engine_oom(s->eng) && next_event(s, &e)) {
        s->now = e.t;
        s->r.events++;
        if (!dispatch(s, &e, progress, arg))
            break;
    }
    /* Targets with mass still in flight end unfinished (reported apart). */
    engine_sweep(s->eng, true);
    s->r.sim_s = (double)s->now / US;
    collect(s);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    s->r.wall_s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    return s->oom || engine_oom(s->eng) ? -1 : 0;
}

const struct sim_results *sim_results(const struct sim *s)
{
    return &s->r;
}

bool sim_few_targets_why(const struct sim_params *p, const struct sim_results *r, char *buf,
                         size_t len)
{
    if (!r->few_targets)
        return false;
    /*
     * Targets are tagged between the warm-up and the drain, about one per
     * target interval: ask for twice the minimum so that the random
     * tagging and unfinished targets still leave enough.
     */
    double want = r->warmup + r->drain + 2.0 * SIM_MIN_TARGETS * r->target_interval;
    if (r->seeds > 1) {
        snprintf(buf, len,
                 "a seed measured fewer than %d targets (%u in all over %u seeds): run longer, "
                 "e.g. --duration %.0f (warm-up %.3g s + drain %.3g s + %d x the target "
                 "interval %.3g s; now %.4g s)",
                 SIM_MIN_TARGETS, r->measured, r->seeds, ceil(want), r->warmup, r->drain,
                 2 * SIM_MIN_TARGETS, r->target_interval, p->duration);
        return true;
    }
    snprintf(buf, len,
             "only %u targets measured (%u unfinished); at least %d are needed for the "
             "statistics: run longer, e.g. --duration %.0f (warm-up %.3g s + drain %.3g s + "
             "%d x the target interval %.3g s; now %.4g s)",
             r->measured, r->unfinished, SIM_MIN_TARGETS, ceil(want), r->warmup, r->drain,
             2 * SIM_MIN_TARGETS, r->target_interval, p->duration);
    return true;
}

size_t sim_target_count(const struct sim *s)
{
    return engine_target_count(s->eng);
}

const struct sim_target *sim_target_get(const struct sim *s, size_t i)
{
    return engine_target(s->eng, i);
}

static void add_mass(void *item, void *arg)
{
    const struct msg *m = item;
    engine_vec_mass(&m->v, arg);
}

void sim_mass_in_flight(struct sim *s, double *acc)
{
    memset(acc, 0, engine_target_count(s->eng) * sizeof *acc);
    engine_pool_mass(s->eng, acc);
    for (uint32_t x = 0; x < s->nmix; x++) {
        /* Only messages held by corrupt mixes still carry their own vector. */
        if (s->mix[x].corrupt)
            mixq_drain(s->mix[x].q, add_mass, acc);
    }
    for (size_t i = 0; i < s->hn; i++)
        if (s->heap[i].type == EV_ARRIVE || s->heap[i].type == EV_DELIVER)
            add_mass(s->heap[i].p, acc);
    for (size_t i = 0; i < s->lq_n; i++)
        add_mass(s->lq[(s->lq_head + i) % s->lq_cap].p, acc);
}

const struct sim_params *sim_params_of(const struct sim *s)
{
    return &s->p;
}
