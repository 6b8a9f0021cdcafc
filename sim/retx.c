/*
 * Loss and retransmission; see retx.h and docs/sim.md ("Loss and
 * retransmission").  Propagation per mix as in unlink.c: given that a copy
 * is inside mix x, it is equally likely to be any message x holds.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mixq.h"
#include "ring.h"
#include "retx.h"
#include "xrng.h"

#define POP_MAX 1024
#define MAX_COPIES 9           /* retx_max <= 8 */
#define TARGET_MAX_USERS 20000 /* a target keeps one vector of N per copy */

#define OFF(f) offsetof(struct retx_params, f)
const struct aopt retx_opts[] = {
    { "seed", AOPT_U64, OFF(seed), "random seed" },
    { "users", AOPT_U32, OFF(users), "N users (senders and recipients)" },
    { "rate", AOPT_DOUBLE, OFF(rate), "messages per user per s" },
    { "mixes", AOPT_U32, OFF(mixes), "W mixes side by side" },
    { "strategy", AOPT_STRATEGY, OFF(strategy), "poisson, timed_pool or threshold" },
    { "threshold", AOPT_U32, OFF(threshold), "threshold mix batch n" },
    { "period", AOPT_DOUBLE, OFF(period), "timed pool period T (s)" },
    { "pool-keep", AOPT_U32, OFF(pool_keep), "timed pool f" },
    { "mean-delay", AOPT_DOUBLE, OFF(mean_delay), "Poisson mean delay (s)" },
    { "loss", AOPT_DOUBLE, OFF(loss), "probability a copy is dropped" },
    { "mtbf", AOPT_DOUBLE, OFF(mtbf), "mean s a mix stays up (0: never fails)" },
    { "mttr", AOPT_DOUBLE, OFF(mttr), "mean s a failed mix stays down" },
    { "timeout", AOPT_DOUBLE, OFF(timeout), "s until an undelivered copy is sent again" },
    { "retx-max", AOPT_U32, OFF(retx_max), "most retransmissions per message (<= 8)" },
    { "interval", AOPT_DOUBLE, OFF(interval), "mean s between tagged messages" },
    { "warmup", AOPT_DOUBLE, OFF(warmup), "s before the first tag" },
    { "duration", AOPT_DOUBLE, OFF(duration), "s of simulated time after warmup" },
};
#undef OFF
const size_t retx_opt_count = sizeof retx_opts / sizeof retx_opts[0];

void retx_params_default(struct retx_params *p)
{
    *p = (struct retx_params){
        .seed = 1,
        .users = 1000,
        .rate = 1,
        .mixes = 3,
        .strategy = MIXQ_POISSON,
        .threshold = 10,
        .period = 1,
        .pool_keep = 0,
        .mean_delay = 0.2,
        .loss = 0.1,
        .mtbf = 0,
        .mttr = 10,
        .timeout = 2,
        .retx_max = 3,
        .interval = 1,
        .warmup = 10,
        .duration = 500,
    };
}

bool retx_params_check(const struct retx_params *p, const char **why)
{
    if (p->users < 2 || p->users > TARGET_MAX_USERS)
        *why = "users must be in 2..20000";
    else if (p->rate <= 0 || p->interval <= 0)
        *why = "rate and interval must be > 0";
    else if (p->mixes < 1 || p->mixes > 10000)
        *why = "mixes must be in 1..10000";
    else if (p->strategy == MIXQ_THRESHOLD && p->threshold < 1)
        *why = "threshold must be >= 1";
    else if (p->strategy == MIXQ_TIMED_POOL && p->period <= 0)
        *why = "period must be > 0";
    else if (p->loss >= 1)
        *why = "loss must be below 1";
    else if (p->mtbf > 0 && p->mttr <= 0)
        *why = "mttr must be > 0 when mixes fail";
    else if (p->timeout <= 0 || p->retx_max > MAX_COPIES - 1)
        *why = "timeout must be > 0 and retx-max at most 8";
    else if (p->duration <= 0 || p->duration > 1e9 || p->warmup > 1e9 || p->timeout > 1e9 ||
             p->mtbf > 1e9 || p->mttr > 1e9)
        *why = "duration must be in (0, 1e9] s";
    else
        return true;
    return false;
}

struct msg {
    uint32_t from, rcpt;
    uint32_t tries, delivered, inside, last_mix;
    int32_t target; /* index into tg, or -1 */
    int timer;      /* a retransmission timer is pending */
    uint32_t next_free;
};

struct copy {
    uint32_t mix;
    double s;  /* mass still inside the mix */
    double *p; /* over recipients: mass that left to each */
    int delivered;
};

struct tgt {
    uint32_t msg;
    uint32_t ncopy;
    struct copy c[MAX_COPIES];
    int first_delivered; /* copy index, or -1 */
    int live;
};

struct mixst {
    struct mixq *q;
    int up;
    double toggle;
};

struct rx {
    const struct retx_params *p;
    struct xrng rng;
    uint32_t n;
    struct mixst *mx;
    struct msg *m;
    uint32_t nm, cap_m, free_head;
    struct tgt *tg;
    size_t ntg, cap_tg, nlive;
    struct ring tq; /* retransmission timers: one fixed timeout, so in time order */
    double sum_hs, sum_hs2, sum_hl, sum_hl2, copies, dups;
    uint64_t done, lost, delivered_done, events;
};

static bool mix_up(struct rx *x, uint32_t i, double now)
{
    struct mixst *m = &x->mx[i];
    if (x->p->mtbf <= 0)
        return true;
    while (m->toggle <= now) {
        m->up = !m->up;
        m->toggle += xrng_exp(&x->rng, (m->up ? x->p->mtbf : x->p->mttr) * 1e6);
    }
    return m->up;
}

static void msg_release(struct rx *x, uint32_t id)
{
    struct msg *m = &x->m[id - 1];
    if (m->inside == 0 && !m->timer && m->target < 0) {
        m->next_free = x->free_head;
        x->free_head = id;
    }
}

static double entropy_of(const double *v, uint32_t n)
{
    double tot = 0, h = 0;
    for (uint32_t i = 0; i < n; i++)
        tot += v[i];
    for (uint32_t i = 0; i < n && tot > 0; i++)
        if (v[i] > 0)
            h -= v[i] / tot * log2(v[i] / tot);
    return h;
}

/* A tagged message is settled: nothing inside, no retransmission to come. */
static int settle(struct rx *x, size_t ti)
{
    struct tgt *t = &x->tg[ti];
    struct msg *m = &x->m[t->msg - 1];
    x->done++;
    x->copies += t->ncopy;
    if (t->first_delivered < 0) {
        x->lost++;
    } else {
        uint32_t n = x->n;
        double *l = malloc(n * sizeof *l);
        if (l == NULL)
            return -1;
        for (uint32_t r = 0; r < n; r++)
            l[r] = 1;
        /* Independent copies given the recipient; mass that never showed
         * up at an output (dropped, pruned) says nothing: 1/N each. */
        for (uint32_t c = 0; c < t->ncopy; c++) {
            double out = 0;
            for (uint32_t r = 0; r < n; r++)
                out += t->c[c].p[r];
            double rest = fmax(0, 1 - out) / n;
            for (uint32_t r = 0; r < n; r++)
                l[r] *= t->c[c].p[r] + rest;
        }
        double hs = entropy_of(t->c[t->first_delivered].p, n), hl = entropy_of(l, n);
        free(l);
        x->sum_hs += hs;
        x->sum_hs2 += hs * hs;
        x->sum_hl += hl;
        x->sum_hl2 += hl * hl;
        x->delivered_done++;
        x->dups += m->delivered > 1;
    }
    for (uint32_t c = 0; c < t->ncopy; c++)
        free(t->c[c].p);
    t->live = 0;
    x->nlive--;
    m->target = -1;
    msg_release(x, t->msg);
    return 0;
}

static bool settled(const struct rx *x, const struct tgt *t)
{
    const struct msg *m = &x->m[t->msg - 1];
    if (m->timer)
        return false;
    for (uint32_t c = 0; c < t->ncopy; c++)
        if (t->c[c].s > 1e-9)
            return false;
    return true;
}

/* Send a copy of message id into a mix (a fresh one for a retransmission). */
static int send_copy(struct rx *x, double now, uint32_t id)
{
    struct msg *m = &x->m[id - 1];
    uint32_t w = x->p->mixes, mix = xrng_below(&x->rng, w);
    if (m->tries > 0 && w > 1) {
        mix = xrng_below(&x->rng, w - 1);
        mix = mix >= m->last_mix ? mix + 1 : mix;
    }
    m->tries++;
    m->last_mix = mix;
    m->timer = 1;
    if (ring_push(&x->tq, now + x->p->timeout * 1e6, id) < 0)
        return -1;
    x->events++;
    struct copy *c = NULL;
    if (m->target >= 0) {
        struct tgt *t = &x->tg[m->target];
        c = &t->c[t->ncopy];
        *c = (struct copy){ .mix = mix, .p = calloc(x->n, sizeof *c->p) };
        if (c->p == NULL)
            return -1;
        t->ncopy++;
    }
    /* Lost on the way, or the mix is down: the observer counts the pool,
     * so it sees the drop; the copy's mass never reaches an output. */
    if (!mix_up(x, mix, now) || xrng_unit(&x->rng) <= x->p->loss)
        return 0;
    uint64_t delay = 0;
    if (x->p->strategy == MIXQ_POISSON)
        delay = (uint64_t)(xrng_exp(&x->rng, x->p->mean_delay) * 1e6);
    uint64_t item = ((uint64_t)id << 8) | (c ? (uint64_t)(c - x->tg[m->target].c) + 1 : 0);
    if (mixq_push(x->mx[mix].q, (uint64_t)now, delay, (void *)(uintptr_t)item) != MIXQ_OK)
        return -1;
    m->inside++;
    if (c != NULL)
        c->s = 1;
    return 0;
}

static int emit(struct rx *x, uint32_t mix, double now)
{
    void *out[POP_MAX];
    size_t k = mixq_len(x->mx[mix].q);
    size_t n = mixq_pop_ready(x->mx[mix].q, (uint64_t)now, out, POP_MAX);
    if (n == 0)
        return 0;
    for (size_t ti = 0; ti < x->ntg; ti++) {
        struct tgt *t = &x->tg[ti];
        for (uint32_t c = 0; t->live && c < t->ncopy; c++) {
            struct copy *cp = &t->c[c];
            if (cp->mix != mix || cp->s <= 0)
                continue;
            double share = cp->s / (double)k;
            for (size_t i = 0; i < n; i++)
                cp->p[x->m[((uint64_t)(uintptr_t)out[i] >> 8) - 1].rcpt] += share;
            cp->s -= (double)n * share;
        }
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t item = (uint64_t)(uintptr_t)out[i];
        uint32_t id = (uint32_t)(item >> 8), ci = (uint32_t)(item & 0xff);
        struct msg *m = &x->m[id - 1];
        m->inside--;
        m->delivered++;
        if (ci > 0) {
            struct tgt *t = &x->tg[m->target];
            t->c[ci - 1].delivered = 1;
            if (t->first_delivered < 0)
                t->first_delivered = (int)ci - 1;
        }
        x->events++;
        msg_release(x, id);
    }
    return 0;
}

static int new_msg(struct rx *x, uint32_t *id)
{
    if (x->free_head == 0) {
        if (x->nm == x->cap_m) {
            uint32_t cap = x->cap_m ? x->cap_m * 2 : 1024;
            struct msg *m = realloc(x->m, cap * sizeof *m);
            if (m == NULL)
                return -1;
            x->m = m;
            x->cap_m = cap;
        }
        x->free_head = ++x->nm;
        x->m[x->free_head - 1].next_free = 0;
    }
    *id = x->free_head;
    x->free_head = x->m[*id - 1].next_free;
    return 0;
}

/* Settle every tagged message that can be (swap-removing it). */
static int sweep(struct rx *x)
{
    for (size_t i = x->ntg; i-- > 0;) {
        if (!settled(x, &x->tg[i]))
            continue;
        if (settle(x, i) < 0)
            return -1;
        x->tg[i] = x->tg[--x->ntg];
        if (i < x->ntg)
            x->m[x->tg[i].msg - 1].target = (int32_t)i;
    }
    return 0;
}

static int tag(struct rx *x, uint32_t id)
{
    if (x->ntg == x->cap_tg) {
        size_t cap = x->cap_tg ? x->cap_tg * 2 : 16;
        struct tgt *t = realloc(x->tg, cap * sizeof *t);
        if (t == NULL)
            return -1;
        x->tg = t;
        x->cap_tg = cap;
    }
    x->tg[x->ntg] = (struct tgt){ .msg = id, .first_delivered = -1, .live = 1 };
    x->m[id - 1].target = (int32_t)x->ntg++;
    x->nlive++;
    return 0;
}

static int retx_loop(struct rx *x)
{
    const struct retx_params *p = x->p;
    double us = 1e6, rate = p->rate * x->n, end = (p->warmup + p->duration) * us;
    /* Tag only messages whose every retransmission fits in the run, or the
     * ones that need more would be missing from the figures. */
    double tag_from = p->warmup * us;
    double tag_until = end - ((p->retx_max + 1) * p->timeout + 0.1 * p->duration) * us;
    double p_tag = 1 / (p->interval * rate);
    double t_send = xrng_exp(&x->rng, us / rate), now = 0;
    while (now < end) {
        double t_mix = INFINITY;
        uint32_t which = 0;
        for (uint32_t i = 0; i < p->mixes; i++) {
            uint64_t dl = mixq_next_deadline(x->mx[i].q);
            if (dl != UINT64_MAX && (double)dl < t_mix) {
                t_mix = (double)dl;
                which = i;
            }
        }
        t_mix = fmax(t_mix, now);
        double t_timer = ring_next(&x->tq);
        now = fmin(t_send, fmin(t_mix, t_timer));
        if (now >= end)
            break;
        if (now == t_mix) {
            if (emit(x, which, now) < 0 || sweep(x) < 0)
                return -1;
        } else if (now == t_timer) {
            uint32_t id = ring_pop(&x->tq);
            struct msg *m = &x->m[id - 1];
            m->timer = 0;
            if (m->delivered == 0 && m->tries <= p->retx_max) {
                if (send_copy(x, now, id) < 0)
                    return -1;
            } else {
                msg_release(x, id);
            }
            if (sweep(x) < 0)
                return -1;
        } else {
            t_send += xrng_exp(&x->rng, us / rate);
            uint32_t id;
            if (new_msg(x, &id) < 0)
                return -1;
            uint32_t u = xrng_below(&x->rng, x->n), v = xrng_below(&x->rng, x->n - 1);
            x->m[id - 1] = (struct msg){ .from = u, .rcpt = v >= u ? v + 1 : v, .target = -1 };
            if (now >= tag_from && now < tag_until && xrng_unit(&x->rng) <= p_tag && tag(x, id) < 0)
                return -1;
            if (send_copy(x, now, id) < 0 || sweep(x) < 0)
                return -1;
        }
    }
    return 0;
}

int retx_run(const struct retx_params *p, struct retx_result *r)
{
    struct rx x = { .p = p, .n = p->users };
    memset(r, 0, sizeof *r);
    xrng_seed(&x.rng, p->seed);
    int rc = -1;
    x.mx = calloc(p->mixes, sizeof *x.mx);
    if (x.mx == NULL)
        goto out;
    struct mixq_params mp = {
        .strategy = (enum mixq_strategy)p->strategy,
        .period_us = (uint64_t)(p->period * 1e6),
        .pool_keep = p->pool_keep,
        .threshold = p->threshold,
    };
    for (uint32_t i = 0; i < p->mixes; i++) {
        x.mx[i].q = mixq_new(&mp, xrng_as_mix_rng(&x.rng));
        if (x.mx[i].q == NULL)
            goto out;
        if (p->mtbf > 0) { /* the stationary state */
            x.mx[i].up = xrng_unit(&x.rng) <= p->mtbf / (p->mtbf + p->mttr);
            x.mx[i].toggle = xrng_exp(&x.rng, (x.mx[i].up ? p->mtbf : p->mttr) * 1e6);
        }
    }
    if (retx_loop(&x) < 0)
        goto out;
    double n = (double)x.delivered_done;
    r->targets = x.done;
    r->lost = x.lost;
    r->copies_per_msg = x.done ? x.copies / (double)x.done : NAN;
    r->duplicates = n > 0 ? x.dups / n : NAN;
    r->h_single = n > 0 ? x.sum_hs / n : NAN;
    r->h_linked = n > 0 ? x.sum_hl / n : NAN;
    r->h_single_se =
        n > 1 ? sqrt(fmax(0, x.sum_hs2 / n - r->h_single * r->h_single) / (n - 1)) : NAN;
    r->h_linked_se =
        n > 1 ? sqrt(fmax(0, x.sum_hl2 / n - r->h_linked * r->h_linked) / (n - 1)) : NAN;
    r->events = x.events;
    rc = 0;
out:
    for (size_t i = 0; i < x.ntg; i++)
        for (uint32_t c = 0; c < x.tg[i].ncopy; c++)
            free(x.tg[i].c[c].p);
    for (uint32_t i = 0; x.mx != NULL && i < p->mixes; i++)
        mixq_free(x.mx[i].q);
    free(x.mx);
    free(x.m);
    free(x.tg);
    ring_free(&x.tq);
    return rc;
}

int cmd_retx(int argc, char **argv)
{
    struct retx_params p;
    retx_params_default(&p);
    struct aopt_out o;
    int go = aopt_cli("retx",
                      "usage: mixsim retx [--FLAG VALUE ...] [--csv [--no-header]]\n"
                      "Loss, mix failures and retransmission on a fresh path, and their cost in\n"
                      "relationship anonymity; see mixsim(1).  Flags and defaults:\n",
                      retx_opts, retx_opt_count, &p, NULL, NULL, argc, argv, &o);
    if (go <= 0)
        return go < 0 ? 2 : 0;
    const char *why = NULL;
    if (!retx_params_check(&p, &why)) {
        fprintf(stderr, "mixsim retx: %s\n", why);
        return 2;
    }
    struct retx_result r;
    if (retx_run(&p, &r) < 0) {
        fprintf(stderr, "mixsim retx: out of memory\n");
        return 1;
    }
    if (o.csv) {
        if (o.header)
            printf("seed,users,mixes,strategy,loss,mtbf,timeout,retx_max,targets,lost,"
                   "copies_per_msg,duplicates,h_single,h_single_se,h_linked,h_linked_se\n");
        printf("%llu,%u,%u,%s,%g,%g,%g,%u,%llu,%llu,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g\n",
               (unsigned long long)p.seed, p.users, p.mixes, aopt_strategy_name(p.strategy), p.loss,
               p.mtbf, p.timeout, p.retx_max, (unsigned long long)r.targets,
               (unsigned long long)r.lost, r.copies_per_msg, r.duplicates, r.h_single,
               r.h_single_se, r.h_linked, r.h_linked_se);
    } else {
        printf("retransmission: N=%u W=%u strategy=%s loss=%g mtbf=%g timeout=%g retx_max=%u\n",
               p.users, p.mixes, aopt_strategy_name(p.strategy), p.loss, p.mtbf, p.timeout,
               p.retx_max);
        printf("  tagged messages %llu, lost %llu; copies per message %.4f, duplicates %.4f\n",
               (unsigned long long)r.targets, (unsigned long long)r.lost, r.copies_per_msg,
               r.duplicates);
        printf("  recipient entropy: one copy %.4f +- %.4f bits, copies linked %.4f +- %.4f bits\n",
               r.h_single, r.h_single_se, r.h_linked, r.h_linked_se);
    }
    return fflush(stdout) == 0 ? 0 : 1;
}
