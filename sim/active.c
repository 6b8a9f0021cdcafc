/*
 * Active attacks on one mix; see active.h and docs/sim.md ("Active
 * attacks").
 *
 * The attacker recognises its own messages among the outputs.  Given that,
 * the target is equally likely to be any held message it cannot explain
 * (its own are known), for all three strategies (see unlink.c): an emission
 * of n_u unexplained outputs out of k_u unexplained messages held gives each
 * of them s/k_u of the target's mass s.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "active.h"
#include "mixq.h"
#include "ring.h"
#include "xrng.h"

#define POP_MAX 1024
#define DONE_MASS 1e-9

enum kind { K_REAL, K_CLOOP, K_MLOOP, K_ATTACK, K_TARGET };

#define OFF(f) offsetof(struct active_params, f)
const struct aopt active_opts[] = {
    { "seed", AOPT_U64, OFF(seed), "first seed" },
    { "users", AOPT_U32, OFF(users), "N honest clients" },
    { "rate", AOPT_DOUBLE, OFF(rate), "real messages per client per s" },
    { "loop-rate", AOPT_DOUBLE, OFF(loop_rate), "lambda_L, loops per client per s" },
    { "mix-loop", AOPT_DOUBLE, OFF(mix_loop), "lambda_M, loops of the mix per s" },
    { "loop-timeout", AOPT_DOUBLE, OFF(loop_timeout), "s until a loop not back is lost" },
    { "link", AOPT_DOUBLE, OFF(link), "s, client-mix link delay" },
    { "loop-path", AOPT_DOUBLE, OFF(loop_path), "s a mix loop spends outside the mix" },
    { "strategy", AOPT_STRATEGY, OFF(strategy), "poisson, timed_pool or threshold" },
    { "threshold", AOPT_U32, OFF(threshold), "threshold mix batch n" },
    { "period", AOPT_DOUBLE, OFF(period), "timed pool period T (s)" },
    { "pool-keep", AOPT_U32, OFF(pool_keep), "timed pool f" },
    { "mean-delay", AOPT_DOUBLE, OFF(mean_delay), "Poisson mean delay (s)" },
    { "attack-rate", AOPT_DOUBLE, OFF(attack_rate), "attacker's messages per s" },
    { "warmup", AOPT_DOUBLE, OFF(warmup), "s of normal traffic first" },
    { "duration", AOPT_DOUBLE, OFF(duration), "flood: s of attack; n-1: cap per run" },
    { "interval", AOPT_DOUBLE, OFF(interval), "flood: mean s between targets" },
    { "runs", AOPT_U32, OFF(runs), "n-1: attacks (one seed each)" },
};
#undef OFF
const size_t active_opt_count = sizeof active_opts / sizeof active_opts[0];

void active_params_default(struct active_params *p)
{
    *p = (struct active_params){
        .seed = 1,
        .users = 100,
        .rate = 1,
        .loop_rate = 0.1,
        .mix_loop = 0,
        .loop_timeout = 10,
        .link = 0.05,
        .loop_path = 0.5,
        .strategy = MIXQ_POISSON,
        .threshold = 10,
        .period = 1,
        .pool_keep = 0,
        .mean_delay = 0.5,
        .attack_rate = 100,
        .warmup = 20,
        .duration = 300,
        .interval = 1,
        .runs = 100,
    };
}

bool active_params_check(const struct active_params *p, const char **why)
{
    if (p->users < 1 || p->users > 10000000)
        *why = "users must be in 1..10000000";
    else if (p->rate <= 0)
        *why = "rate must be > 0";
    else if (p->strategy == MIXQ_THRESHOLD && p->threshold < 1)
        *why = "threshold must be >= 1";
    else if (p->strategy == MIXQ_TIMED_POOL && p->period <= 0)
        *why = "period must be > 0";
    else if (p->attack_rate <= 0)
        *why = "attack-rate must be > 0";
    else if (p->interval <= 0 || p->loop_timeout <= 0)
        *why = "interval and loop-timeout must be > 0";
    else if (p->duration <= 0 || p->duration > 1e9 || p->warmup > 1e9 || p->link > 1e6 ||
             p->loop_path > 1e6 || p->loop_timeout > 1e9)
        *why = "duration must be in (0, 1e9] s";
    else if (p->runs < 1)
        *why = "runs must be >= 1";
    else
        return true;
    return false;
}

double active_flood_threshold_entropy(uint32_t n, double h, double a)
{
    double q = h / (h + a), e = 0;
    for (uint32_t j = 0; j < n; j++) /* j other unexplained messages */
        e += exp(lgamma(n) - lgamma(j + 1.0) - lgamma((double)(n - j)) + j * log(q) +
                 (n - 1 - j) * log1p(-q)) *
             log2(j + 1.0);
    return e;
}

struct item {
    uint8_t kind, pre; /* pre: inside before the attack began */
    double sent;       /* us: loops, when they were sent */
    uint32_t next_free;
};

struct target {
    double s, h;
};

struct act {
    const struct active_params *p;
    struct xrng rng;
    struct mixq *q;
    struct item *it;
    uint32_t nit, cap_it, free_head;
    struct ring to_mix;   /* clients' messages and loops on the link */
    struct ring back;     /* mix loops on their way back */
    int blocking;         /* the attacker holds back honest inputs */
    double t_attack;      /* us */
    uint64_t unexplained; /* held messages that are not the attacker's */
    uint64_t pre_inside;
    struct target *tg;
    size_t ntg, cap_tg;
    double best_detect; /* us: earliest sent + timeout of a held-back loop */
    double sum_h, sum_h2, min_h;
    uint64_t done, events;
};

static int new_item(struct act *s, enum kind k, double sent, uint32_t *id)
{
    if (s->free_head == 0) {
        if (s->nit == s->cap_it) {
            uint32_t cap = s->cap_it ? s->cap_it * 2 : 1024;
            struct item *x = realloc(s->it, cap * sizeof *x);
            if (x == NULL)
                return -1;
            s->it = x;
            s->cap_it = cap;
        }
        s->free_head = ++s->nit;
        s->it[s->free_head - 1].next_free = 0;
    }
    *id = s->free_head;
    struct item *m = &s->it[*id - 1];
    s->free_head = m->next_free;
    *m = (struct item){ .kind = (uint8_t)k, .sent = sent };
    return 0;
}

static void free_item(struct act *s, uint32_t id)
{
    s->it[id - 1].next_free = s->free_head;
    s->free_head = id;
}

/* An item enters the mix (or is held back by the attacker). */
static int enter_mix(struct act *s, double now, uint32_t id)
{
    struct item *m = &s->it[id - 1];
    s->events++;
    /* The attacker holds back what reaches the mix over its links: the
     * clients' messages and loops, not what the mix makes itself. */
    if (s->blocking && (m->kind == K_REAL || m->kind == K_CLOOP)) {
        if (m->kind == K_CLOOP)
            s->best_detect = fmin(s->best_detect, m->sent + s->p->loop_timeout * 1e6);
        free_item(s, id);
        return 0;
    }
    uint64_t delay = 0;
    if (s->p->strategy == MIXQ_POISSON)
        delay = (uint64_t)(xrng_exp(&s->rng, s->p->mean_delay) * 1e6);
    if (mixq_push(s->q, (uint64_t)now, delay, (void *)(uintptr_t)id) != MIXQ_OK)
        return -1;
    if (m->kind != K_ATTACK)
        s->unexplained++;
    if (m->kind == K_TARGET) {
        if (s->ntg == s->cap_tg) {
            size_t cap = s->cap_tg ? s->cap_tg * 2 : 16;
            struct target *t = realloc(s->tg, cap * sizeof *t);
            if (t == NULL)
                return -1;
            s->tg = t;
            s->cap_tg = cap;
        }
        s->tg[s->ntg++] = (struct target){ .s = 1 };
    }
    return 0;
}

static void finish_target(struct act *s, const struct target *t)
{
    s->sum_h += t->h;
    s->sum_h2 += t->h * t->h;
    s->min_h = fmin(s->min_h, t->h);
    s->done++;
}

static int pop_mix(struct act *s, double now)
{
    void *out[POP_MAX];
    size_t n = mixq_pop_ready(s->q, (uint64_t)now, out, POP_MAX);
    uint64_t k_u = s->unexplained, n_u = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t id = (uint32_t)(uintptr_t)out[i];
        struct item *m = &s->it[id - 1];
        s->events++;
        if (m->kind != K_ATTACK)
            n_u++;
        if (m->pre)
            s->pre_inside--;
        if (m->kind == K_MLOOP) {
            if (ring_push(&s->back, now + s->p->loop_path * 1e6, id) < 0)
                return -1;
            continue;
        }
        free_item(s, id);
    }
    s->unexplained -= n_u;
    for (size_t j = 0; j < s->ntg && n_u > 0;) {
        struct target *t = &s->tg[j];
        double share = t->s / (double)k_u;
        if (share > 0)
            t->h -= (double)n_u * share * log2(share);
        t->s -= (double)n_u * share;
        if (t->s < DONE_MASS) {
            finish_target(s, t);
            s->tg[j] = s->tg[--s->ntg];
            continue;
        }
        j++;
    }
    return 0;
}

static int act_init(struct act *s, const struct active_params *p)
{
    memset(s, 0, sizeof *s);
    s->p = p;
    s->min_h = INFINITY;
    s->best_detect = INFINITY;
    xrng_seed(&s->rng, p->seed);
    struct mixq_params mp = {
        .strategy = (enum mixq_strategy)p->strategy,
        .period_us = (uint64_t)(p->period * 1e6),
        .pool_keep = p->pool_keep,
        .threshold = p->threshold,
    };
    s->q = mixq_new(&mp, xrng_as_mix_rng(&s->rng));
    return s->q ? 0 : -1;
}

static void act_fini(struct act *s)
{
    mixq_free(s->q);
    free(s->it);
    ring_free(&s->to_mix);
    ring_free(&s->back);
    free(s->tg);
}

/* The attack begins: everything inside now is "before". */
static void start_attack(struct act *s, double now)
{
    s->blocking = 1;
    s->t_attack = now;
    for (uint32_t i = 0; i < s->nit; i++)
        s->it[i].pre = 1; /* free slots are reset when reused */
    s->pre_inside = mixq_len(s->q);
}

static double rate_us(double per_s)
{
    return per_s > 0 ? 1e6 / per_s : INFINITY;
}

static double next_after(struct act *s, double t, double per_s)
{
    return per_s > 0 ? t + xrng_exp(&s->rng, rate_us(per_s)) : INFINITY;
}

/*
 * One simulation.  n1: block from warmup, flush, let one target in, and
 * keep blocking until a loop loss is certain or the cap; flood: targets
 * among honest messages while the attacker adds its own.
 */
static int act_loop(struct act *s, int n1, double *attack_s, double *detect_s)
{
    const struct active_params *p = s->p;
    double us = 1e6, n = p->users, end = (p->warmup + p->duration) * us;
    double t_real = next_after(s, 0, n * p->rate), t_cl = next_after(s, 0, n * p->loop_rate);
    double t_ml = next_after(s, 0, p->mix_loop), t_att = INFINITY;
    double t_start = p->warmup * us, t_done = INFINITY, t_stop_tag = end - 0.1 * p->duration * us;
    double p_tag = 1 / (p->interval * n * p->rate);
    int tagging = 0, released = 0;
    double now = 0;
    while (now < end) {
        uint64_t dl = mixq_next_deadline(s->q);
        double t_mix = dl == UINT64_MAX ? INFINITY : fmax((double)dl, now);
        double t_in = ring_next(&s->to_mix), t_back = ring_next(&s->back);
        now = fmin(fmin(fmin(t_mix, t_in), fmin(t_back, t_real)),
                   fmin(fmin(t_cl, t_ml), fmin(fmin(t_att, t_stop_tag), t_start)));
        if (now >= end)
            break;
        uint32_t id;
        if (now == t_mix) {
            if (pop_mix(s, now) < 0)
                return -1;
        } else if (now == t_start) {
            t_start = INFINITY;
            t_att = next_after(s, now, p->attack_rate);
            if (n1)
                start_attack(s, now);
            else
                tagging = 1;
        } else if (now == t_back) {
            /* A mix loop back at its mix, which absorbs it, unless the
             * attacker holds it back, and then the mix will miss it. */
            id = ring_pop(&s->back);
            if (s->blocking)
                s->best_detect = fmin(s->best_detect, s->it[id - 1].sent + p->loop_timeout * us);
            free_item(s, id);
            s->events++;
        } else if (now == t_in) {
            id = ring_pop(&s->to_mix);
            /* Each honest message is a target with the same chance: taking
             * "the first one after time t" would pick messages that follow
             * a gap filled by the attacker's (the inspection paradox). */
            if (tagging && s->it[id - 1].kind == K_REAL && xrng_unit(&s->rng) <= p_tag)
                s->it[id - 1].kind = K_TARGET;
            if (enter_mix(s, now, id) < 0)
                return -1;
        } else if (now == t_att) {
            t_att = next_after(s, now, p->attack_rate);
            if (new_item(s, K_ATTACK, now, &id) < 0 || enter_mix(s, now, id) < 0)
                return -1;
        } else if (now == t_stop_tag) {
            t_stop_tag = INFINITY;
            tagging = 0;
        } else {
            enum kind k = now == t_real ? K_REAL : now == t_cl ? K_CLOOP : K_MLOOP;
            if (k == K_REAL)
                t_real = next_after(s, now, n * p->rate);
            else if (k == K_CLOOP)
                t_cl = next_after(s, now, n * p->loop_rate);
            else
                t_ml = next_after(s, now, p->mix_loop);
            if (new_item(s, k, now, &id) < 0)
                return -1;
            if (k == K_MLOOP) { /* made inside the mix */
                if (enter_mix(s, now, id) < 0)
                    return -1;
            } else if (ring_push(&s->to_mix, now + p->link * us, id) < 0) {
                return -1;
            }
        }
        if (!n1 || !s->blocking)
            continue;
        if (!released && s->pre_inside == 0) {
            released = 1; /* flushed: the attacker lets one target in */
            if (new_item(s, K_TARGET, now, &id) < 0 || enter_mix(s, now, id) < 0)
                return -1;
        }
        if (released && t_done == INFINITY && s->done > 0) {
            t_done = now;
            t_att = INFINITY;
        }
        if (t_done < INFINITY && now >= s->best_detect)
            break;
    }
    *attack_s = (t_done - s->t_attack) / us;
    *detect_s = (s->best_detect - s->t_attack) / us;
    return 0;
}

static void summarise(struct active_result *r, double sum, double sum2, uint64_t n)
{
    r->targets = n;
    r->h_mean = n ? sum / (double)n : NAN;
    r->h_se =
        n > 1 ? sqrt(fmax(0, sum2 / (double)n - r->h_mean * r->h_mean) / (double)(n - 1)) : NAN;
}

int active_n1_run(const struct active_params *p, struct active_result *r)
{
    memset(r, 0, sizeof *r);
    double sh = 0, sh2 = 0, sa = 0, sd = 0, sd2 = 0, nd = 0, det = 0;
    r->h_min = INFINITY;
    for (uint32_t i = 0; i < p->runs; i++) {
        struct active_params q = *p;
        q.seed = p->seed + i;
        struct act s;
        double attack_s = INFINITY, detect_s = INFINITY;
        int rc = act_init(&s, &q);
        if (rc == 0)
            rc = act_loop(&s, 1, &attack_s, &detect_s);
        r->events += s.events;
        if (rc == 0 && s.done > 0) {
            double h = s.sum_h;
            sh += h;
            sh2 += h * h;
            r->h_min = fmin(r->h_min, h);
            sa += attack_s;
            r->targets++;
            det += detect_s <= attack_s;
        }
        if (rc == 0 && isfinite(detect_s)) {
            sd += detect_s;
            sd2 += detect_s * detect_s;
            nd++;
        } else if (rc == 0) {
            r->undetected_sustained++;
        }
        act_fini(&s);
        if (rc < 0)
            return -1;
    }
    uint64_t n = r->targets;
    summarise(r, sh, sh2, n);
    r->attack_s = n ? sa / (double)n : NAN;
    r->detected = n ? det / (double)n : NAN;
    r->detect_s = nd > 0 ? sd / nd : NAN;
    r->detect_se = nd > 1 ? sqrt(fmax(0, sd2 / nd - r->detect_s * r->detect_s) / (nd - 1)) : NAN;
    return 0;
}

int active_flood_run(const struct active_params *p, struct active_result *r)
{
    memset(r, 0, sizeof *r);
    struct act s;
    double a, d;
    int rc = act_init(&s, p);
    if (rc == 0)
        rc = act_loop(&s, 0, &a, &d);
    if (rc == 0) {
        summarise(r, s.sum_h, s.sum_h2, s.done);
        r->h_min = s.min_h;
        r->attack_s = r->detected = r->detect_s = r->detect_se = NAN;
        r->events = s.events;
    }
    act_fini(&s);
    return rc;
}

static int cmd_active(int argc, char **argv, int n1)
{
    const char *name = n1 ? "nminus1" : "flood";
    struct active_params p;
    active_params_default(&p);
    char usage[256];
    snprintf(usage, sizeof usage,
             "usage: mixsim %s [--FLAG VALUE ...] [--csv [--no-header]]\n%s\n"
             "See mixsim(1).  Flags and defaults:\n",
             name,
             n1 ? "The n-1 attack: hold back honest inputs, flush, let one target in."
                : "The flooding attack: the attacker adds its own messages.");
    struct aopt_out o;
    int go = aopt_cli(name, usage, active_opts, active_opt_count, &p, NULL, NULL, argc, argv, &o);
    if (go <= 0)
        return go < 0 ? 2 : 0;
    const char *why = NULL;
    if (!active_params_check(&p, &why)) {
        fprintf(stderr, "mixsim %s: %s\n", name, why);
        return 2;
    }
    struct active_result r;
    if ((n1 ? active_n1_run(&p, &r) : active_flood_run(&p, &r)) < 0) {
        fprintf(stderr, "mixsim %s: out of memory\n", name);
        return 1;
    }
    if (o.csv) {
        if (o.header)
            printf("attack,seed,users,strategy,loop_rate,mix_loop,attack_rate,targets,h_mean,"
                   "h_se,h_min,attack_s,detected,detect_s,detect_se\n");
        printf("%s,%llu,%u,%s,%g,%g,%g,%llu,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g\n", name,
               (unsigned long long)p.seed, p.users, aopt_strategy_name(p.strategy), p.loop_rate,
               p.mix_loop, p.attack_rate, (unsigned long long)r.targets, r.h_mean, r.h_se, r.h_min,
               r.attack_s, r.detected, r.detect_s, r.detect_se);
    } else {
        printf("%s attack: N=%u strategy=%s loop_rate=%g mix_loop=%g attack_rate=%g\n", name,
               p.users, aopt_strategy_name(p.strategy), p.loop_rate, p.mix_loop, p.attack_rate);
        printf("  targets %llu  entropy left %.4f +- %.4f bits (min %.4f)\n",
               (unsigned long long)r.targets, r.h_mean, r.h_se, r.h_min);
        if (n1) {
            printf("  attack lasts %.4g s; a lost loop revealed it before the end in %.1f%%\n",
                   r.attack_s, 100 * r.detected);
            printf("  sustained, first loss noticed after %.4g +- %.2g s (never in %llu runs)\n",
                   r.detect_s, r.detect_se, (unsigned long long)r.undetected_sustained);
        }
    }
    return fflush(stdout) == 0 ? 0 : 1;
}

int cmd_nminus1(int argc, char **argv)
{
    return cmd_active(argc, argv, 1);
}

int cmd_flood(int argc, char **argv)
{
    return cmd_active(argc, argv, 0);
}
