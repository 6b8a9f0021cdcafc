/*
 * Statistical disclosure attacks against a target with a persistent contact
 * list; see sda.h and docs/sim.md ("Statistical disclosure").
 *
 * The light round model: N users send through one mix (lib/mixq, the
 * nodes' own queues) in virtual time.  The observer sees who sends in every
 * observation round and to whom the mix delivers in every round: a round is
 * one emission of a batch mix (threshold, timed pool), or a fixed window of
 * a Poisson mix.  It first calibrates P(a message leaves j rounds after the
 * round it entered), as it could with messages of its own, and then weighs
 * each round's outputs by the target's expected share a_r.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mixq.h"
#include "sda.h"
#include "xrng.h"

#define SDA_K 128 /* rounds of delay the attacker models */
#define POP_MAX 1024

#define OFF(f) offsetof(struct sda_params, f)
const struct aopt sda_opts[] = {
    { "seed", AOPT_U64, OFF(seed), "first seed (run i uses seed + i)" },
    { "users", AOPT_U32, OFF(users), "N users, user 0 is the target" },
    { "contacts", AOPT_U32, OFF(contacts), "m, the target's contacts" },
    { "contacts-max", AOPT_U32, OFF(contacts_max), "others' list sizes 1..this (0: uniform)" },
    { "size-zipf", AOPT_DOUBLE, OFF(size_zipf), "others' list size k has weight k^-this" },
    { "zipf", AOPT_DOUBLE, OFF(zipf), "r-th contact has weight r^-this (0: equal)" },
    { "popularity", AOPT_DOUBLE, OFF(popularity), "contacts drawn with weight rank^-this" },
    { "rate", AOPT_DOUBLE, OFF(rate), "mean real messages per user per s" },
    { "rate-spread", AOPT_DOUBLE, OFF(rate_spread), "sigma of lognormal user rates" },
    { "cover", AOPT_DOUBLE, OFF(cover), "lambda_P: real-or-drop sends per user per s" },
    { "strategy", AOPT_STRATEGY, OFF(strategy), "poisson, timed_pool or threshold" },
    { "threshold", AOPT_U32, OFF(threshold), "threshold mix batch n" },
    { "period", AOPT_DOUBLE, OFF(period), "timed pool period T (s)" },
    { "pool-keep", AOPT_U32, OFF(pool_keep), "timed pool f" },
    { "mean-delay", AOPT_DOUBLE, OFF(mean_delay), "Poisson mean delay (s)" },
    { "window", AOPT_DOUBLE, OFF(window), "Poisson observation round (s), 0: mean delay" },
    { "calibrate", AOPT_DOUBLE, OFF(calibrate), "s spent learning the delay law" },
    { "duration", AOPT_DOUBLE, OFF(duration), "s of attack at most" },
    { "repeat", AOPT_U32, OFF(repeat), "runs with consecutive seeds" },
    { "stop-msgs", AOPT_U64, OFF(stop_msgs), "end once the target sent this many (0: never)" },
    { "online", AOPT_DOUBLE, OFF(online), "churn: mean s online (0: always online)" },
    { "offline", AOPT_DOUBLE, OFF(offline), "churn: mean s offline" },
    { "target", AOPT_U32, OFF(target), "with --trace: the target's id" },
};
#undef OFF
const size_t sda_opt_count = sizeof sda_opts / sizeof sda_opts[0];

void sda_params_default(struct sda_params *p)
{
    *p = (struct sda_params){
        .seed = 1,
        .users = 1000,
        .contacts = 10,
        .contacts_max = 20,
        .size_zipf = 1,
        .zipf = 0,
        .popularity = 0,
        .rate = 1,
        .rate_spread = 0,
        .cover = 0,
        .strategy = MIXQ_THRESHOLD,
        .threshold = 100,
        .period = 1,
        .pool_keep = 0,
        .mean_delay = 1,
        .window = 0,
        .calibrate = 100,
        .duration = 3600,
        .repeat = 1,
    };
}

static bool trace_has_sender(const struct trace *t, uint32_t u)
{
    for (size_t i = 0; i < t->n; i++)
        if (t->ev[i].from == u && t->ev[i].to != u)
            return true;
    return false;
}

uint32_t sda_trace_contacts(const struct trace *t, uint32_t target)
{
    uint8_t *seen = calloc(t->users ? t->users : 1, 1);
    uint32_t n = 0;
    for (size_t i = 0; seen != NULL && i < t->n; i++) {
        const struct trace_event *e = &t->ev[i];
        if (e->from == target && e->to != target && !seen[e->to]) {
            seen[e->to] = 1;
            n++;
        }
    }
    free(seen);
    return n;
}

bool sda_params_check(const struct sda_params *p, const char **why)
{
    if (p->trace != NULL) {
        if (p->trace->users < 2 || p->target >= p->trace->users)
            *why = "the trace needs at least two users, the target among them";
        else if (p->cover > 0 || p->online > 0)
            *why = "cover and churn do not apply to a trace";
        else if (p->strategy == MIXQ_POISSON && p->mean_delay <= 0 && p->window <= 0)
            *why = "a Poisson mix needs mean-delay > 0 or window > 0";
        else if (p->strategy == MIXQ_TIMED_POOL && p->period <= 0)
            *why = "period must be > 0";
        else if (p->strategy == MIXQ_THRESHOLD && p->threshold < 1)
            *why = "threshold must be >= 1";
        else if (p->repeat != 1)
            *why = "a trace is one run: repeat must be 1";
        else if (!trace_has_sender(p->trace, p->target))
            *why = "the target sends nothing to anyone else in the trace";
        else
            return true;
        return false;
    }
    if (p->online > 0 && (p->offline <= 0 || p->online > 1e9 || p->offline > 1e9))
        *why = "churn needs online and offline in (0, 1e9] s";
    else if (p->users < 2 || p->users > 10000000)
        *why = "users must be in 2..10000000";
    else if (p->contacts < 1 || p->contacts >= p->users || p->contacts > 10000)
        *why = "contacts must be in 1..min(users-1, 10000)";
    else if (p->contacts_max >= p->users || p->contacts_max > 10000)
        *why = "contacts-max must be below users and at most 10000";
    else if (p->rate <= 0)
        *why = "rate must be > 0";
    else if (p->rate_spread > 5 || p->zipf > 10 || p->popularity > 10 || p->size_zipf > 10)
        *why = "rate-spread, zipf, popularity, size-zipf must be at most 5, 10, 10, 10";
    else if (p->strategy == MIXQ_THRESHOLD && p->threshold < 1)
        *why = "threshold must be >= 1";
    else if (p->strategy == MIXQ_TIMED_POOL && p->period <= 0)
        *why = "period must be > 0";
    else if (p->strategy == MIXQ_POISSON && p->mean_delay <= 0 && p->window <= 0)
        *why = "a Poisson mix needs mean-delay > 0 or window > 0";
    else if (p->duration <= 0 || p->duration > 1e9 || p->calibrate > 1e9)
        *why = "duration must be in (0, 1e9] s";
    else if (p->repeat < 1)
        *why = "repeat must be >= 1";
    else
        return true;
    return false;
}

double sda_rounds_closed_form(double n, double m, double b, double l)
{
    double s2 = (b - 1) * (n - 1) / (n * n);
    double x = m * l * (sqrt(s2) + sqrt(s2 + (m - 1) / (m * m)));
    return x * x;
}

double sda_rank_probability(double n, double m, double b, double t)
{
    /* Counts of a non-contact: Binomial(t(b-1), 1/N) ~ Poisson(mu0); of a
     * contact: Binomial(t, 1/m) plus the same Poisson. */
    double mu0 = t * (b - 1) / n;
    size_t kmax = (size_t)(t + mu0 + 20 * sqrt(t + mu0) + 20);
    double *pois = calloc(kmax + 1, sizeof *pois), *bin = calloc(kmax + 1, sizeof *bin);
    double p = NAN;
    if (pois == NULL || bin == NULL)
        goto out;
    for (size_t k = 0; k <= kmax; k++) {
        pois[k] = exp(-mu0 + (double)k * log(mu0 > 0 ? mu0 : 1e-300) - lgamma((double)k + 1));
        if ((double)k <= t)
            bin[k] = exp(lgamma(t + 1) - lgamma((double)k + 1) - lgamma(t - (double)k + 1) +
                         (double)k * log(1 / m) + (t - (double)k) * log1p(-1 / m));
    }
    /* P = sum_k P(max of N-m others = k) P(every contact > k). */
    double f0 = 0, f0_prev_pow = 0, g_cdf = 0;
    p = 0;
    for (size_t k = 0; k <= kmax; k++) {
        double g = 0;
        for (size_t j = 0; j <= k; j++)
            g += bin[j] * pois[k - j];
        g_cdf += g;
        f0 += pois[k];
        double f0_pow = pow(f0 > 1 ? 1 : f0, n - m);
        double above = 1 - g_cdf;
        p += (f0_pow - f0_prev_pow) * pow(above > 0 ? above : 0, m);
        f0_prev_pow = f0_pow;
    }
out:
    free(pois);
    free(bin);
    return p;
}

struct msg {
    uint32_t rcpt;
    uint32_t round_in;
    uint32_t next_free;
};

struct attacker {
    int ok;
    double t_ok;
    uint64_t msgs_ok, rounds_ok;
};

struct sda {
    const struct sda_params *p;
    struct xrng rng;
    struct mixq *q;
    uint32_t n;
    double *rate_cum;   /* cumulative user rates, for picking a sender */
    uint32_t *cont_off; /* user u's contacts: cont[cont_off[u] .. cont_off[u+1]) */
    uint32_t *cont;
    double *cont_cum;    /* cumulative contact weights, per list */
    uint64_t *queued;    /* real messages waiting (cover mode) */
    uint8_t *is_contact; /* of the target */
    double *true_w;      /* the target's true profile (unnormalised) */
    uint32_t target;
    uint8_t *on;    /* churn: online now */
    double *toggle; /* churn: us, when the state changes next */
    size_t trace_pos;
    struct msg *msg;
    uint32_t nmsg, cap_msg, free_head;
    /* observer */
    uint32_t round;
    double ring[SDA_K]; /* target's sends per round */
    double d[SDA_K];    /* P(leaves j rounds after entering) */
    uint64_t hist[SDA_K + 1];
    uint32_t kd; /* rounds of d in use */
    int attacking, stopped;
    double t_last; /* us, the last round's end */
    double t0;     /* us, start of the attack */
    uint32_t *out; /* recipients output in the current round */
    uint32_t nout, cap_out;
    double *A, *B, *C; /* weighted, background and all outputs */
    double sa, san, nb, nc;
    uint64_t target_msgs, rounds, events;
    struct attacker at[SDA_ATTACKERS];
};

/* Index of the first cum[i] > u*total in cum[0..n). */
static uint32_t pick(const double *cum, uint32_t n, double u)
{
    double x = u * cum[n - 1];
    uint32_t lo = 0, hi = n - 1;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (cum[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static double normal(struct xrng *r)
{
    return sqrt(-2 * log(xrng_unit(r))) * cos(2 * M_PI * xrng_unit(r));
}

/* Contact lists: sizes, members (weighted by popularity, no repeats), weights. */
static int build_contacts(struct sda *s)
{
    const struct sda_params *p = s->p;
    uint32_t n = s->n;
    double *pop = malloc(n * sizeof *pop);
    uint32_t *perm = malloc(n * sizeof *perm);
    uint32_t kmax = p->contacts_max > p->contacts ? p->contacts_max : p->contacts;
    double *size_cum = malloc((kmax + 1) * sizeof *size_cum);
    s->cont_off = malloc((n + 1) * sizeof *s->cont_off);
    int rc = -1;
    if (!pop || !perm || !size_cum || !s->cont_off)
        goto out;
    for (uint32_t i = 0; i < n; i++)
        perm[i] = i;
    for (uint32_t i = n - 1; i > 0; i--) {
        uint32_t j = xrng_below(&s->rng, i + 1), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    double acc = 0;
    for (uint32_t i = 0; i < n; i++)
        pop[i] = acc += pow(perm[i] + 1.0, -p->popularity);
    acc = 0;
    for (uint32_t k = 1; k <= kmax; k++)
        size_cum[k - 1] = acc += pow(k, -p->size_zipf);
    uint64_t total = 0;
    s->cont_off[0] = 0;
    for (uint32_t u = 0; u < n; u++) {
        uint32_t k = u == 0            ? p->contacts
                     : p->contacts_max ? 1 + pick(size_cum, p->contacts_max, xrng_unit(&s->rng))
                                       : 0;
        total += k;
        if (total > UINT32_MAX / 2)
            goto out;
        s->cont_off[u + 1] = (uint32_t)total;
    }
    s->cont = malloc((total + 1) * sizeof *s->cont);
    s->cont_cum = malloc((total + 1) * sizeof *s->cont_cum);
    if (!s->cont || !s->cont_cum)
        goto out;
    for (uint32_t u = 0; u < n; u++) {
        uint32_t o = s->cont_off[u], k = s->cont_off[u + 1] - o;
        acc = 0;
        for (uint32_t r = 0; r < k; r++) {
            uint32_t v;
            bool dup;
            uint32_t tries = 0;
            do { /* k < n, so a free contact always exists */
                /* A steep popularity makes the few popular users come up
                 * again and again: after 64 repeats draw uniformly. */
                v = ++tries <= 64 ? pick(pop, n, xrng_unit(&s->rng)) : xrng_below(&s->rng, n);
                dup = v == u;
                for (uint32_t j = 0; j < r && !dup; j++)
                    dup = s->cont[o + j] == v;
            } while (dup);
            s->cont[o + r] = v;
            s->cont_cum[o + r] = acc += pow(r + 1.0, -p->zipf);
        }
    }
    rc = 0;
out:
    free(pop);
    free(perm);
    free(size_cum);
    return rc;
}

/* The generated population: rates, contact lists, the target's profile. */
static int init_population(struct sda *s)
{
    const struct sda_params *p = s->p;
    /* Lognormal rates with mean p->rate; the target sends at the mean. */
    double sg = p->rate_spread, acc = 0;
    for (uint32_t u = 0; u < s->n; u++) {
        double r = u == 0 ? p->rate : p->rate * exp(sg * normal(&s->rng) - sg * sg / 2);
        s->rate_cum[u] = acc += r;
    }
    if (build_contacts(s) < 0)
        return -1;
    for (uint32_t j = s->cont_off[0]; j < s->cont_off[1]; j++)
        s->true_w[s->cont[j]] = s->cont_cum[j] - (j > 0 ? s->cont_cum[j - 1] : 0);
    if (p->online > 0) {
        s->on = malloc(s->n);
        s->toggle = malloc(s->n * sizeof *s->toggle);
        if (!s->on || !s->toggle)
            return -1;
        double frac = p->online / (p->online + p->offline);
        for (uint32_t u = 0; u < s->n; u++) { /* the stationary state */
            s->on[u] = xrng_unit(&s->rng) <= frac;
            s->toggle[u] = xrng_exp(&s->rng, (s->on[u] ? p->online : p->offline) * 1e6);
        }
    }
    return 0;
}

/* With a trace: nobody has a list; the target's profile is what it sent. */
static int init_trace(struct sda *s)
{
    const struct trace *t = s->p->trace;
    s->cont_off = calloc(s->n + 1, sizeof *s->cont_off);
    s->cont = malloc(sizeof *s->cont);
    s->cont_cum = malloc(sizeof *s->cont_cum);
    if (!s->cont_off || !s->cont || !s->cont_cum)
        return -1;
    for (size_t i = 0; i < t->n; i++)
        if (t->ev[i].from == s->target && t->ev[i].to != s->target)
            s->true_w[t->ev[i].to] += 1;
    return 0;
}

static int sda_init(struct sda *s, const struct sda_params *p)
{
    memset(s, 0, sizeof *s);
    s->p = p;
    s->n = p->trace ? p->trace->users : p->users;
    s->target = p->trace ? p->target : 0;
    xrng_seed(&s->rng, p->seed);
    uint32_t n = s->n;
    s->rate_cum = malloc(n * sizeof *s->rate_cum);
    s->queued = calloc(n, sizeof *s->queued);
    s->is_contact = calloc(n, 1);
    s->true_w = calloc(n, sizeof *s->true_w);
    s->A = calloc(n, sizeof *s->A);
    s->B = calloc(n, sizeof *s->B);
    s->C = calloc(n, sizeof *s->C);
    if (!s->rate_cum || !s->queued || !s->is_contact || !s->true_w || !s->A || !s->B || !s->C)
        return -1;
    if ((p->trace ? init_trace(s) : init_population(s)) < 0)
        return -1;
    for (uint32_t v = 0; v < n; v++)
        s->is_contact[v] = s->true_w[v] > 0;
    struct mixq_params mp = {
        .strategy = (enum mixq_strategy)p->strategy,
        .period_us = (uint64_t)(p->period * 1e6),
        .pool_keep = p->pool_keep,
        .threshold = p->threshold,
    };
    s->q = mixq_new(&mp, xrng_as_mix_rng(&s->rng));
    return s->q ? 0 : -1;
}

/* Churn: whether u is online at now (its on/off periods advanced lazily). */
static bool online(struct sda *s, uint32_t u, double now)
{
    if (s->on == NULL)
        return true;
    while (s->toggle[u] <= now) {
        s->on[u] = !s->on[u];
        s->toggle[u] += xrng_exp(&s->rng, (s->on[u] ? s->p->online : s->p->offline) * 1e6);
    }
    return s->on[u];
}

static void sda_fini(struct sda *s)
{
    mixq_free(s->q);
    free(s->rate_cum);
    free(s->queued);
    free(s->is_contact);
    free(s->true_w);
    free(s->on);
    free(s->toggle);
    free(s->cont_off);
    free(s->cont);
    free(s->cont_cum);
    free(s->msg);
    free(s->out);
    free(s->A);
    free(s->B);
    free(s->C);
}

/* A recipient drawn from u's profile (uniform if u has no list). */
static uint32_t draw_rcpt(struct sda *s, uint32_t u)
{
    uint32_t o = s->cont_off[u], k = s->cont_off[u + 1] - o;
    if (k == 0) {
        uint32_t v = xrng_below(&s->rng, s->n - 1);
        return v >= u ? v + 1 : v;
    }
    return s->cont[o + pick(s->cont_cum + o, k, xrng_unit(&s->rng))];
}

static int send_msg(struct sda *s, double now, uint32_t from, uint32_t rcpt)
{
    if (s->free_head == 0) {
        if (s->nmsg == s->cap_msg) {
            uint32_t cap = s->cap_msg ? s->cap_msg * 2 : 1024;
            struct msg *m = realloc(s->msg, cap * sizeof *m);
            if (m == NULL)
                return -1;
            s->msg = m;
            s->cap_msg = cap;
        }
        s->free_head = ++s->nmsg;
        s->msg[s->free_head - 1].next_free = 0;
    }
    uint32_t id = s->free_head;
    struct msg *m = &s->msg[id - 1];
    s->free_head = m->next_free;
    m->rcpt = rcpt;
    m->round_in = s->round;
    if (from == s->target && s->attacking) {
        s->ring[s->round % SDA_K] += 1;
        s->target_msgs++;
    }
    uint64_t delay = 0;
    if (s->p->strategy == MIXQ_POISSON)
        delay = (uint64_t)(xrng_exp(&s->rng, s->p->mean_delay) * 1e6);
    s->events++;
    if (mixq_push(s->q, (uint64_t)now, delay, (void *)(uintptr_t)id) != MIXQ_OK)
        return -1;
    return 0;
}

/* The attacker's estimate of the target's sending profile at recipient v. */
static double estimate(const struct sda *s, int kind, uint32_t v)
{
    double others = s->san - s->sa;
    if (kind == SDA_BASIC)
        return s->A[v] - others / s->n;
    if (s->nb >= s->n)
        return s->A[v] - others * s->B[v] / s->nb;
    return s->A[v] - others * (s->nc > 0 ? s->C[v] / s->nc : 1.0 / s->n);
}

static void check_rank(struct sda *s, double now)
{
    for (int k = 0; k < SDA_ATTACKERS; k++) {
        double lo = INFINITY, hi = -INFINITY;
        for (uint32_t v = 0; v < s->n; v++) {
            double e = estimate(s, k, v);
            if (s->is_contact[v]) {
                if (e < lo)
                    lo = e;
            } else if (e > hi) {
                hi = e;
            }
        }
        struct attacker *a = &s->at[k];
        int ok = lo > hi;
        if (ok && !a->ok) {
            a->t_ok = (now - s->t0) / 1e6;
            a->msgs_ok = s->target_msgs;
            a->rounds_ok = s->rounds;
        }
        a->ok = ok;
    }
}

/* The attacker switches from calibrating to attacking. */
static void start_attack(struct sda *s, double now)
{
    uint64_t tot = 0;
    for (uint32_t j = 0; j < SDA_K; j++)
        tot += s->hist[j];
    double cum = 0;
    s->kd = 1;
    for (uint32_t j = 0; j < SDA_K; j++) {
        s->d[j] = tot ? (double)s->hist[j] / (double)tot : j == 0;
        cum += s->d[j];
        if (s->d[j] > 0)
            s->kd = j + 1;
        if (cum >= 0.9999)
            break;
    }
    s->attacking = 1;
    s->t0 = now;
    memset(s->ring, 0, sizeof s->ring);
}

/* The observer closes round s->round: weigh its outputs by the target's share. */
static void close_round(struct sda *s, double now)
{
    uint32_t r = s->round;
    if (s->attacking) {
        double a = 0;
        for (uint32_t j = 0; j < s->kd && j <= r; j++)
            a += s->d[j] * s->ring[(r - j) % SDA_K];
        bool background = a < 1e-3;
        for (uint32_t i = 0; i < s->nout; i++) {
            uint32_t v = s->out[i];
            s->A[v] += a;
            s->C[v] += 1;
            if (background)
                s->B[v] += 1;
        }
        s->sa += a;
        s->san += a * s->nout;
        s->nc += s->nout;
        if (background)
            s->nb += s->nout;
        s->rounds++;
        if (a > 0)
            check_rank(s, now);
        if (s->p->stop_msgs && s->target_msgs >= s->p->stop_msgs)
            s->stopped = 1;
        s->t_last = now;
    }
    s->nout = 0;
    s->round = r + 1;
    s->ring[(r + 1) % SDA_K] = 0;
    s->events++;
    if (!s->attacking && now >= s->p->calibrate * 1e6)
        start_attack(s, now);
}

static int pop_outputs(struct sda *s, double now)
{
    void *items[POP_MAX];
    size_t n;
    while ((n = mixq_pop_ready(s->q, (uint64_t)now, items, POP_MAX)) > 0) {
        if (s->nout + n > s->cap_out) {
            uint32_t cap = (s->cap_out + (uint32_t)n) * 2;
            uint32_t *o = realloc(s->out, cap * sizeof *o);
            if (o == NULL)
                return -1;
            s->out = o;
            s->cap_out = cap;
        }
        for (size_t i = 0; i < n; i++) {
            uint32_t id = (uint32_t)(uintptr_t)items[i];
            struct msg *m = &s->msg[id - 1];
            if (!s->attacking) {
                uint32_t lag = s->round - m->round_in;
                s->hist[lag < SDA_K ? lag : SDA_K]++;
            }
            s->out[s->nout++] = m->rcpt;
            m->next_free = s->free_head;
            s->free_head = id;
            s->events++;
        }
    }
    if (s->p->strategy != MIXQ_POISSON)
        close_round(s, now);
    return 0;
}

static int sda_loop(struct sda *s)
{
    const struct sda_params *p = s->p;
    double us = 1e6, end = (p->calibrate + p->duration) * us;
    const struct trace *tr = p->trace;
    double total_rate = tr ? 0 : s->rate_cum[s->n - 1];
    double win = (p->window > 0 ? p->window : p->mean_delay) * us;
    double t_gen = tr ? tr->ev[0].t * us : xrng_exp(&s->rng, us / total_rate);
    double t_pay = p->cover > 0 ? xrng_exp(&s->rng, us / (p->cover * s->n)) : INFINITY;
    double t_round = p->strategy == MIXQ_POISSON ? win : INFINITY;
    double now = 0;
    while (now < end && !s->stopped) {
        uint64_t dl = mixq_next_deadline(s->q);
        double t_mix = dl == UINT64_MAX ? INFINITY : (double)dl;
        if (t_mix < now)
            t_mix = now;
        now = fmin(fmin(t_gen, t_pay), fmin(t_mix, t_round));
        if (now == t_mix) {
            if (pop_outputs(s, now) < 0)
                return -1;
        } else if (now == t_round) {
            close_round(s, now);
            t_round += win;
        } else if (now == t_gen && tr != NULL) {
            const struct trace_event *ev = &tr->ev[s->trace_pos++];
            t_gen = s->trace_pos < tr->n ? tr->ev[s->trace_pos].t * us : INFINITY;
            if (ev->from != ev->to && send_msg(s, now, ev->from, ev->to) < 0)
                return -1;
        } else if (now == t_gen) {
            uint32_t u = pick(s->rate_cum, s->n, xrng_unit(&s->rng));
            t_gen += xrng_exp(&s->rng, us / total_rate);
            if (!online(s, u, now))
                continue; /* offline users write nothing */
            if (p->cover > 0)
                s->queued[u]++;
            else if (send_msg(s, now, u, draw_rcpt(s, u)) < 0)
                return -1;
        } else {
            uint32_t u = xrng_below(&s->rng, s->n);
            t_pay += xrng_exp(&s->rng, us / (p->cover * s->n));
            if (!online(s, u, now))
                continue; /* and send no cover */
            uint32_t v;
            if (s->queued[u] > 0) {
                s->queued[u]--;
                v = draw_rcpt(s, u);
            } else { /* drop cover to a uniformly chosen other user */
                v = xrng_below(&s->rng, s->n - 1);
                v = v >= u ? v + 1 : v;
            }
            if (send_msg(s, now, u, v) < 0)
                return -1;
        }
    }
    return 0;
}

static double profile_entropy(const double *w, uint32_t n)
{
    double tot = 0, h = 0;
    for (uint32_t i = 0; i < n; i++)
        tot += w[i] > 0 ? w[i] : 0;
    for (uint32_t i = 0; i < n && tot > 0; i++)
        if (w[i] > 0)
            h -= w[i] / tot * log2(w[i] / tot);
    return h;
}

int sda_run(const struct sda_params *p, struct sda_result *r)
{
    struct sda s;
    memset(r, 0, sizeof *r);
    int rc = sda_init(&s, p);
    if (rc == 0)
        rc = sda_loop(&s);
    if (rc == 0) {
        double *w = calloc(s.n, sizeof *w);
        if (w == NULL) {
            rc = -1;
        } else {
            for (int k = 0; k < SDA_ATTACKERS; k++) {
                for (uint32_t v = 0; v < s.n; v++)
                    w[v] = estimate(&s, k, v);
                r->a[k] = (struct sda_outcome){
                    .success = s.at[k].ok,
                    .time_s = s.at[k].ok ? s.at[k].t_ok : NAN,
                    .target_msgs = s.at[k].msgs_ok,
                    .rounds = s.at[k].rounds_ok,
                    .h_profile = profile_entropy(w, s.n),
                };
            }
            r->h_true = profile_entropy(s.true_w, s.n);
            free(w);
        }
        r->events = s.events;
        r->target_msgs = s.target_msgs;
        r->rounds = s.rounds;
        r->attack_s = s.attacking ? (s.t_last - s.t0) / 1e6 : 0;
    }
    sda_fini(&s);
    return rc;
}
