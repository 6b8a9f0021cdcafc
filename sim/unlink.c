/*
 * Sender unlinkability; see unlink.h and docs/sim.md ("Sender
 * unlinkability").
 *
 * The observer's knowledge of a mix reduces to one number per tracked
 * input: the probability that it is still inside.  Given that it is inside,
 * every held message is equally likely to be it, for all three strategies:
 * a threshold batch and a timed-pool round pick uniformly, and a Poisson
 * mix's remaining delays are independent exponentials with one mean, so
 * each held message is equally likely to leave next.  An emission of n of k
 * held messages therefore gives each output s/k of a mass s and leaves
 * s (1 - n/k) inside.  (A Poisson cap, max_delay, would break this; the
 * model has none.)
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mixq.h"
#include "unlink.h"
#include "xrng.h"

#define POP_MAX 1024
#define PAIR_DONE 1e-9        /* mass left when a pair counts as out */
#define MATRIX_MAX_USERS 2000 /* the pair matrix is N^2 doubles */

static const double eps_values[UNLINK_EPS] = { 0, 0.5, 1, 2, 4 };

#define OFF(f) offsetof(struct unlink_params, f)
const struct aopt unlink_opts[] = {
    { "seed", AOPT_U64, OFF(seed), "random seed" },
    { "users", AOPT_U32, OFF(users), "N users (senders and recipients)" },
    { "rate", AOPT_DOUBLE, OFF(rate), "messages per user per s" },
    { "strategy", AOPT_STRATEGY, OFF(strategy), "poisson, timed_pool or threshold" },
    { "threshold", AOPT_U32, OFF(threshold), "threshold mix batch n" },
    { "period", AOPT_DOUBLE, OFF(period), "timed pool period T (s)" },
    { "pool-keep", AOPT_U32, OFF(pool_keep), "timed pool f" },
    { "mean-delay", AOPT_DOUBLE, OFF(mean_delay), "Poisson mean delay (s), 0: none" },
    { "gap", AOPT_DOUBLE, OFF(gap), "s between the two challenge messages (0: next message)" },
    { "interval", AOPT_DOUBLE, OFF(interval), "mean s between challenge pairs" },
    { "warmup", AOPT_DOUBLE, OFF(warmup), "s before the first challenge" },
    { "duration", AOPT_DOUBLE, OFF(duration), "s of simulated time" },
};
#undef OFF
const size_t unlink_opt_count = sizeof unlink_opts / sizeof unlink_opts[0];

void unlink_params_default(struct unlink_params *p)
{
    *p = (struct unlink_params){
        .seed = 1,
        .users = 100,
        .rate = 1,
        .strategy = MIXQ_POISSON,
        .threshold = 10,
        .period = 1,
        .pool_keep = 0,
        .mean_delay = 1,
        .gap = 0,
        .interval = 1,
        .warmup = 10,
        .duration = 1000,
    };
}

bool unlink_params_check(const struct unlink_params *p, const char **why)
{
    if (p->users < 2 || p->users > 10000000)
        *why = "users must be in 2..10000000";
    else if (p->rate <= 0)
        *why = "rate must be > 0";
    else if (p->strategy == MIXQ_THRESHOLD && p->threshold < 1)
        *why = "threshold must be >= 1";
    else if (p->strategy == MIXQ_TIMED_POOL && p->period <= 0)
        *why = "period must be > 0";
    else if (p->interval <= 0)
        *why = "interval must be > 0";
    else if (p->duration <= 0 || p->duration > 1e9 || p->warmup > 1e9 || p->gap > 1e9)
        *why = "duration must be in (0, 1e9] s";
    else
        return true;
    return false;
}

struct pair {
    double s0, s1; /* mass of each challenge message still inside */
    int have1;     /* the second one was sent */
    double fwd[UNLINK_EPS], bwd[UNLINK_EPS];
    double eps_max;
};

struct unlink {
    const struct unlink_params *p;
    struct xrng rng;
    struct mixq *q;
    uint32_t n;
    struct pair *pair;
    size_t npair, cap_pair;
    int armed; /* the next message starts a pair */
    int want1; /* pair[want_idx] waits for its second message */
    size_t want_idx;
    uint32_t sender0;
    double t_c1;   /* gap > 0: when the second one is sent */
    double *w;     /* per sender, mass of its messages inside (NULL: no matrix) */
    double *m, *t; /* observed and true sender-recipient matrices */
    double sum_d[UNLINK_EPS], sum_d2[UNLINK_EPS];
    double *eps_max;
    size_t neps, cap_eps;
    uint64_t pairs, events;
};

static int grow(void **a, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap * 2 : 64;
    while (c < need)
        c *= 2;
    void *x = realloc(*a, c * size);
    if (x == NULL)
        return -1;
    *a = x;
    *cap = c;
    return 0;
}

static int finish_pair(struct unlink *u, const struct pair *pr)
{
    for (int e = 0; e < UNLINK_EPS; e++) {
        double d = fmax(pr->fwd[e], pr->bwd[e]);
        u->sum_d[e] += d;
        u->sum_d2[e] += d * d;
    }
    if (grow((void **)&u->eps_max, &u->cap_eps, u->neps + 1, sizeof *u->eps_max) < 0)
        return -1;
    u->eps_max[u->neps++] = pr->eps_max;
    u->pairs++;
    return 0;
}

/* n messages, recipients rcpt[], left a mix that held k: spread the masses. */
static int on_emission(struct unlink *u, void **items, size_t n, size_t k)
{
    double frac = (double)n / (double)k;
    for (size_t i = 0; i < u->npair;) {
        struct pair *pr = &u->pair[i];
        double m0 = pr->s0 / (double)k, m1 = pr->s1 / (double)k;
        for (int e = 0; e < UNLINK_EPS; e++) {
            double x = exp(eps_values[e]);
            pr->fwd[e] += (double)n * fmax(0, m0 - x * m1);
            pr->bwd[e] += (double)n * fmax(0, m1 - x * m0);
        }
        if (m0 > 0 && m1 > 0)
            pr->eps_max = fmax(pr->eps_max, fabs(log(m0 / m1)));
        pr->s0 -= pr->s0 * frac;
        pr->s1 -= pr->s1 * frac;
        if (pr->have1 && pr->s0 + pr->s1 < PAIR_DONE) {
            if (finish_pair(u, pr) < 0)
                return -1;
            /* The last pair moves into this slot; it may be the one
             * waiting for its second message. */
            if (u->want1 && u->want_idx == u->npair - 1)
                u->want_idx = i;
            *pr = u->pair[--u->npair];
            continue;
        }
        i++;
    }
    if (u->w != NULL) {
        uint32_t nn = u->n;
        for (size_t j = 0; j < n; j++) {
            uint64_t it = (uint64_t)(uintptr_t)items[j];
            uint32_t s = (uint32_t)(it >> 32) - 1, r = (uint32_t)it;
            u->t[(size_t)s * nn + r] += 1;
            for (uint32_t a = 0; a < nn; a++)
                u->m[(size_t)a * nn + r] += u->w[a] / (double)k;
        }
        for (uint32_t a = 0; a < nn; a++)
            u->w[a] -= u->w[a] * frac;
    }
    u->events += n;
    return 0;
}

static int send_one(struct unlink *u, double now, uint32_t s, int challenge)
{
    uint32_t r = xrng_below(&u->rng, u->n - 1);
    r = r >= s ? r + 1 : r;
    uint64_t delay = 0;
    if (u->p->strategy == MIXQ_POISSON && u->p->mean_delay > 0)
        delay = (uint64_t)(xrng_exp(&u->rng, u->p->mean_delay) * 1e6);
    uint64_t it = ((uint64_t)(s + 1) << 32) | r;
    if (mixq_push(u->q, (uint64_t)now, delay, (void *)(uintptr_t)it) != MIXQ_OK)
        return -1;
    if (u->w != NULL)
        u->w[s] += 1;
    if (challenge == 0) {
        if (grow((void **)&u->pair, &u->cap_pair, u->npair + 1, sizeof *u->pair) < 0)
            return -1;
        u->want_idx = u->npair;
        u->pair[u->npair++] = (struct pair){ .s0 = 1 };
        u->want1 = 1;
        u->sender0 = s;
    } else if (challenge == 1) {
        u->pair[u->want_idx].s1 = 1;
        u->pair[u->want_idx].have1 = 1;
        u->want1 = 0;
    }
    u->events++;
    return 0;
}

static int unlink_loop(struct unlink *u)
{
    const struct unlink_params *p = u->p;
    double us = 1e6, end = (p->warmup + p->duration) * us, rate = p->rate * u->n;
    double t_send = xrng_exp(&u->rng, us / rate);
    double t_arm = p->warmup * us + xrng_exp(&u->rng, p->interval * us);
    double now = 0;
    void *items[POP_MAX];
    u->t_c1 = INFINITY;
    while (now < end) {
        uint64_t dl = mixq_next_deadline(u->q);
        double t_mix = dl == UINT64_MAX ? INFINITY : fmax((double)dl, now);
        now = fmin(fmin(t_send, t_mix), fmin(t_arm, u->t_c1));
        if (now == t_mix) {
            size_t n = mixq_pop_ready(u->q, (uint64_t)now, items, POP_MAX);
            if (n > 0 && on_emission(u, items, n, mixq_len(u->q) + n) < 0)
                return -1;
        } else if (now == u->t_c1) {
            uint32_t s = xrng_below(&u->rng, u->n - 1);
            if (send_one(u, now, s >= u->sender0 ? s + 1 : s, 1) < 0)
                return -1;
            u->t_c1 = INFINITY;
        } else if (now == t_arm) {
            u->armed = 1;
            t_arm += xrng_exp(&u->rng, p->interval * us);
        } else {
            uint32_t s = xrng_below(&u->rng, u->n);
            t_send += xrng_exp(&u->rng, us / rate);
            int ch = -1;
            if (u->want1 && p->gap == 0 && s != u->sender0) {
                ch = 1;
            } else if (u->armed && !u->want1 && now < end - p->duration * 0.05 * us) {
                ch = 0;
                u->armed = 0;
                if (p->gap > 0)
                    u->t_c1 = now + p->gap * us;
            }
            if (send_one(u, now, s, ch) < 0)
                return -1;
        }
    }
    return 0;
}

static double entropy(const double *v, size_t n)
{
    double tot = 0, h = 0;
    for (size_t i = 0; i < n; i++)
        tot += v[i];
    for (size_t i = 0; i < n && tot > 0; i++)
        if (v[i] > 0)
            h -= v[i] / tot * log2(v[i] / tot);
    return h;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int unlink_run(const struct unlink_params *p, struct unlink_result *r)
{
    struct unlink u = { .p = p, .n = p->users };
    memset(r, 0, sizeof *r);
    xrng_seed(&u.rng, p->seed);
    struct mixq_params mp = {
        .strategy = (enum mixq_strategy)p->strategy,
        .period_us = (uint64_t)(p->period * 1e6),
        .pool_keep = p->pool_keep,
        .threshold = p->threshold,
    };
    int rc = -1;
    u.q = mixq_new(&mp, xrng_as_mix_rng(&u.rng));
    if (u.q == NULL)
        goto out;
    if (u.n <= MATRIX_MAX_USERS) {
        size_t nn = (size_t)u.n * u.n;
        u.w = calloc(u.n, sizeof *u.w);
        u.m = calloc(nn, sizeof *u.m);
        u.t = calloc(nn, sizeof *u.t);
        if (!u.w || !u.m || !u.t)
            goto out;
    }
    if (unlink_loop(&u) < 0)
        goto out;
    r->pairs = u.pairs;
    r->unfinished = u.npair;
    for (int e = 0; e < UNLINK_EPS; e++) {
        double n = (double)u.pairs, mean = n > 0 ? u.sum_d[e] / n : NAN;
        r->eps[e] = eps_values[e];
        r->delta[e] = mean;
        r->delta_se[e] = n > 1 ? sqrt(fmax(0, u.sum_d2[e] / n - mean * mean) / (n - 1)) : NAN;
    }
    r->eps_max_median = NAN;
    if (u.neps > 0) {
        qsort(u.eps_max, u.neps, sizeof *u.eps_max, cmp_double);
        r->eps_max_median = u.eps_max[u.neps / 2];
    }
    r->h_pairs = r->h_pairs_true = NAN;
    if (u.w != NULL) {
        r->h_pairs = entropy(u.m, (size_t)u.n * u.n);
        r->h_pairs_true = entropy(u.t, (size_t)u.n * u.n);
    }
    r->events = u.events;
    rc = 0;
out:
    mixq_free(u.q);
    free(u.pair);
    free(u.w);
    free(u.m);
    free(u.t);
    free(u.eps_max);
    return rc;
}

int cmd_unlink(int argc, char **argv)
{
    struct unlink_params p;
    unlink_params_default(&p);
    struct aopt_out o;
    int go =
        aopt_cli("unlink",
                 "usage: mixsim unlink [--FLAG VALUE ...] [--csv [--no-header]]\n"
                 "Sender unlinkability (epsilon, delta) over challenge pairs and the entropy of\n"
                 "the who-talks-to-whom matrix; see mixsim(1).  Flags and defaults:\n",
                 unlink_opts, unlink_opt_count, &p, NULL, NULL, argc, argv, &o);
    if (go <= 0)
        return go < 0 ? 2 : 0;
    const char *why = NULL;
    if (!unlink_params_check(&p, &why)) {
        fprintf(stderr, "mixsim unlink: %s\n", why);
        return 2;
    }
    struct unlink_result r;
    if (unlink_run(&p, &r) < 0) {
        fprintf(stderr, "mixsim unlink: out of memory\n");
        return 1;
    }
    if (o.csv) {
        if (o.header)
            printf("seed,users,rate,strategy,pairs,unfinished,delta_0,delta_0.5,delta_1,"
                   "delta_2,delta_4,eps_max_median,h_pairs,h_pairs_true\n");
        printf("%llu,%u,%g,%s,%llu,%llu", (unsigned long long)p.seed, p.users, p.rate,
               aopt_strategy_name(p.strategy), (unsigned long long)r.pairs,
               (unsigned long long)r.unfinished);
        for (int e = 0; e < UNLINK_EPS; e++)
            printf(",%.6g", r.delta[e]);
        printf(",%.6g,%.4f,%.4f\n", r.eps_max_median, r.h_pairs, r.h_pairs_true);
    } else {
        printf("sender unlinkability: N=%u strategy=%s pairs=%llu (unfinished %llu)\n", p.users,
               aopt_strategy_name(p.strategy), (unsigned long long)r.pairs,
               (unsigned long long)r.unfinished);
        for (int e = 0; e < UNLINK_EPS; e++)
            printf("  epsilon %-4g delta %.4f +- %.4f\n", r.eps[e], r.delta[e], r.delta_se[e]);
        printf("  median max |ln ratio| %.4g\n", r.eps_max_median);
        printf("  who-talks-to-whom entropy %.3f bits (true matrix %.3f, uniform %.3f)\n",
               r.h_pairs, r.h_pairs_true, 2 * log2(p.users));
    }
    return fflush(stdout) == 0 ? 0 : 1;
}
