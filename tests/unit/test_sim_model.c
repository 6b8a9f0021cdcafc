/*
 * mixsim against closed forms (docs/sim.md derives each):
 *   threshold mix of batch n          -> exactly log2(n)
 *   timed mix, Poisson(lambda) in, T  -> E[log2(k+1)], k ~ Poisson(lambda T)
 *   timed pool, n new per round, f    -> log2(n+f) + (f/n) log2((n+f)/f)
 *   Poisson mix, lambda d large       -> log2(e lambda d)   (Danezis 2004)
 * plus probability conservation, corrupt paths, determinism, and MiXiM's
 * stratified Poisson result.
 */
#include <math.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"
#include "tap.h"
#include "xrng.h"

/*
 * The defaults these tests were written against (before mixsim's defaults
 * became the shipped network's): no cover, no delay cap, 0.2 s per hop,
 * 0.1 s pool period, 50 clients x 100 messages/s.
 */
static void bare_defaults(struct sim_params *p)
{
    sim_params_default(p);
    sim_params_no_cover(p);
    p->mean_delay = 0.2;
    p->period = 0.1;
    p->clients = 50;
    p->rate_real = 100;
}

static struct sim_params base_single(void)
{
    struct sim_params p;
    bare_defaults(&p);
    p.topology = SIM_TOPO_SINGLE;
    p.link_delay = 0.001;
    p.clients = 10;
    return p;
}

/* Run p; the caller frees.  Fails the current test on any error. */
static struct sim *run(const struct sim_params *p)
{
    const char *why = NULL;
    struct sim *s = sim_new(p, &why);
    CHECKF(s != NULL, "sim_new: %s", why ? why : "?");
    if (s == NULL)
        return NULL;
    CHECK(sim_run(s, NULL, NULL) == 0);
    return s;
}

static void test_threshold_exact(void)
{
    static const uint32_t ns[] = { 1, 2, 8, 33 };
    for (size_t k = 0; k < MIX_ARRAY_LEN(ns); k++) {
        struct sim_params p = base_single();
        p.strategy = MIXQ_THRESHOLD;
        p.threshold = ns[k];
        p.rate_real = 50;
        p.duration = 10;
        p.target_interval = 0.02;
        struct sim *s = run(&p);
        if (s == NULL)
            return;
        const struct sim_results *r = sim_results(s);
        CHECKF(r->targets - r->unfinished > 100, "n=%u: %u targets", ns[k], r->targets);
        double want = log2((double)ns[k]), worst = 0;
        for (size_t i = 0; i < sim_target_count(s); i++) {
            const struct sim_target *t = sim_target_get(s, i);
            if (!t->finished)
                continue;
            worst = fmax(worst, fabs(t->h_msg - want));
            worst = fmax(worst, fabs(t->hmin_msg - want));
        }
        CHECKF(worst < 1e-9, "n=%u: off by %g bits", ns[k], worst);
        sim_free(s);
    }
}

static double expected_timed(double m)
{
    double e = 0, pk = exp(-m);
    for (int k = 0; k < 200; k++) {
        e += pk * log2(k + 1.0);
        pk *= m / (k + 1);
    }
    return e;
}

static void test_timed_mix(void)
{
    static const double rates[] = { 200, 1000 }; /* lambda T = 2 and 10 */
    for (size_t k = 0; k < MIX_ARRAY_LEN(rates); k++) {
        struct sim_params p = base_single();
        p.strategy = MIXQ_TIMED_POOL;
        p.period = 0.01;
        p.pool_keep = 0;
        p.rate_real = rates[k] / p.clients;
        p.duration = 40;
        p.target_interval = 0.02;
        struct sim *s = run(&p);
        if (s == NULL)
            return;
        const struct sim_results *r = sim_results(s);
        double want = expected_timed(rates[k] * p.period);
        /* Within 4 standard errors (and the error bar is small). */
        CHECKF(fabs(r->h_msg.mean - want) < 4 * r->h_msg.se + 0.01 && r->h_msg.se < 0.03,
               "lambda T=%g: %.4f +- %.4f, want %.4f", rates[k] * p.period, r->h_msg.mean,
               r->h_msg.se, want);
        sim_free(s);
    }
}

static void test_pool_closed_form(void)
{
    static const uint32_t fs[] = { 1, 5, 20 };
    for (size_t k = 0; k < MIX_ARRAY_LEN(fs); k++) {
        struct sim_params p = base_single();
        double n = 10, f = fs[k];
        p.strategy = MIXQ_TIMED_POOL;
        p.period = 0.01;
        p.pool_keep = fs[k];
        p.arrivals = SIM_ARRIVALS_REGULAR; /* exactly n new per round */
        p.clients = 1;
        p.rate_real = n / p.period;
        p.duration = 30;
        p.target_interval = 0.05;
        struct sim *s = run(&p);
        if (s == NULL)
            return;
        const struct sim_results *r = sim_results(s);
        double want = log2(n + f) + (f / n) * log2((n + f) / f);
        CHECKF(r->targets - r->unfinished > 50, "%u targets", r->targets);
        CHECKF(fabs(r->h_msg.min - want) < 1e-6 && fabs(r->h_msg.max - want) < 1e-6,
               "f=%g: %.6f..%.6f, want %.6f", f, r->h_msg.min, r->h_msg.max, want);
        /* Min-entropy: the largest share is the first round's 1/(n+f). */
        CHECKF(fabs(r->hmin_msg.mean - log2(n + f)) < 1e-6, "hmin %.6f", r->hmin_msg.mean);
        sim_free(s);
    }
}

static void test_poisson_danezis(void)
{
    struct sim_params p = base_single();
    p.strategy = MIXQ_POISSON;
    p.mean_delay = 0.1;
    p.rate_real = 100; /* lambda = 1000/s, lambda d = 100 */
    p.duration = 25;
    p.target_interval = 0.05;
    struct sim *s = run(&p);
    if (s == NULL)
        return;
    const struct sim_results *r = sim_results(s);
    double want = log2(M_E * 1000 * 0.1);
    CHECKF(fabs(r->h_msg.mean - want) < 0.08, "%.4f, want about %.4f", r->h_msg.mean, want);
    CHECK(r->targets - r->unfinished > 100);
    sim_free(s);
}

/*
 * Stop in the middle of the traffic: for every target, what reached outputs,
 * what was pruned or ruled out, and what is still inside must sum to 1.
 */
static void test_mass_conservation(void)
{
    static const int strategies[] = { MIXQ_POISSON, MIXQ_TIMED_POOL, MIXQ_THRESHOLD };
    for (size_t k = 0; k < MIX_ARRAY_LEN(strategies); k++) {
        struct sim_params p;
        bare_defaults(&p);
        p.strategy = strategies[k];
        p.layers = 3;
        p.width = 4;
        p.clients = 20;
        p.rate_real = 20;
        p.rate_payload = 30;
        p.rate_loop = 2;
        p.rate_mix_loop = 5;
        p.mean_delay = 0.05;
        p.period = 0.05;
        p.pool_keep = 3;
        p.threshold = 7;
        p.corrupt = 3;
        p.duration = 6;
        p.warmup = 1;
        p.drain = 0;
        p.early_stop = 0;
        p.target_interval = 0.02;
        struct sim *s = run(&p);
        if (s == NULL)
            return;
        size_t n = sim_target_count(s), finished = 0;
        double worst = 0, *inside = calloc(n + 1, sizeof *inside);
        if (inside == NULL)
            return;
        sim_mass_in_flight(s, inside);
        for (size_t j = 0; j < n; j++) {
            const struct sim_target *t = sim_target_get(s, j);
            double sum = t->delivered + t->pruned + t->ruled_out + inside[j];
            worst = fmax(worst, fabs(sum - 1));
            if (t->finished) {
                finished++;
                CHECKF(t->delivered + t->ruled_out > 1 - 1e-6, "target %zu delivered %g", j,
                       t->delivered);
            }
        }
        CHECKF(n > 100 && finished > 10, "%zu targets, %zu finished", n, finished);
        CHECKF(worst < 1e-9, "strategy %d: |sum - 1| up to %g", strategies[k], worst);
        free(inside);
        sim_free(s);
    }
}

static void test_corrupt_path(void)
{
    /* Every mix corrupt: the adversary follows each target exactly. */
    struct sim_params p;
    bare_defaults(&p);
    p.layers = 3;
    p.width = 2;
    p.corrupt = 6;
    p.clients = 10;
    p.rate_real = 20;
    p.rate_payload = 40;
    p.rate_mix_loop = 2;
    p.duration = 10;
    p.warmup = 2;
    p.drain = 3;
    p.target_interval = 0.05;
    struct sim *s = run(&p);
    if (s == NULL)
        return;
    const struct sim_results *r = sim_results(s);
    CHECK(r->targets - r->unfinished > 50);
    CHECKF(r->h_msg.max == 0 && r->h_rcpt.max == 0 && r->hmin_msg.max == 0, "max H %g / %g",
           r->h_msg.max, r->h_rcpt.max);
    sim_free(s);

    /* A cascade whose every mix is corrupt, listed by id. */
    bare_defaults(&p);
    p.topology = SIM_TOPO_CASCADE;
    p.layers = 3;
    p.width = 2;
    bool ok = sim_param_set(&p, "corrupt_ids", "0,2,4", NULL); /* cascade 0 */
    CHECK(ok);
    p.clients = 10;
    p.rate_real = 20;
    p.duration = 10;
    p.warmup = 2;
    p.drain = 3;
    p.target_interval = 0.02;
    s = run(&p);
    if (s == NULL)
        return;
    size_t zero = 0, positive = 0;
    for (size_t j = 0; j < sim_target_count(s); j++) {
        const struct sim_target *t = sim_target_get(s, j);
        if (!t->finished)
            continue;
        zero += t->h_msg == 0;
        positive += t->h_msg > 1;
    }
    /* About half the targets took the corrupt cascade. */
    CHECKF(zero > 50 && positive > 50, "zero %zu positive %zu", zero, positive);
    sim_free(s);

    /* One honest layer is enough to hide a target again. */
    bare_defaults(&p);
    p.layers = 3;
    p.width = 2;
    ok = sim_param_set(&p, "corrupt_ids", "0,1,4,5", NULL); /* layers 1 and 3 */
    CHECK(ok);
    p.rate_real = 20;
    p.clients = 10;
    p.duration = 10;
    p.warmup = 2;
    p.drain = 3;
    s = run(&p);
    if (s == NULL)
        return;
    CHECK(sim_results(s)->h_msg.min > 1);
    sim_free(s);
}

static bool same_results(struct sim *a, struct sim *b)
{
    const struct sim_results *x = sim_results(a), *y = sim_results(b);
    if (sim_target_count(a) != sim_target_count(b) || x->events != y->events ||
        memcmp(&x->c, &y->c, sizeof x->c) != 0 || memcmp(&x->h_msg, &y->h_msg, sizeof x->h_msg) ||
        memcmp(&x->latency, &y->latency, sizeof x->latency) != 0)
        return false;
    for (size_t i = 0; i < sim_target_count(a); i++)
        if (memcmp(sim_target_get(a, i), sim_target_get(b, i), sizeof(struct sim_target)) != 0)
            return false;
    return true;
}

static void test_determinism(void)
{
    struct sim_params p;
    bare_defaults(&p);
    p.width = 3;
    p.rate_real = 10;
    p.rate_payload = 15;
    p.rate_loop = 1;
    p.rate_drop = 1;
    p.rate_mix_loop = 2;
    p.link_delay_max = 0.08;
    p.duration = 8;
    p.warmup = 2;
    p.drain = 3;
    p.corrupt = 1;
    struct sim *a = run(&p), *b = run(&p);
    p.seed = 2;
    struct sim *c = run(&p);
    if (a && b && c) {
        CHECK(sim_target_count(a) > 5);
        CHECK(same_results(a, b));
        CHECK(!same_results(a, c));
    }
    sim_free(a);
    sim_free(b);
    sim_free(c);
}

/* MiXiM (PETS'22) Fig. 7/8: L=3, W=10, 5000 msg/s, 1 s e2e, 0.05 s links:
 * 13.04 bits.  A shorter run here; docs/sim.md has the full table. */
static void test_mixim_point(void)
{
    struct sim_params p;
    sim_params_mixim(&p);
    p.duration = 30;
    p.target_interval = 0.5;
    struct sim *s = run(&p);
    if (s == NULL)
        return;
    const struct sim_results *r = sim_results(s);
    CHECKF(fabs(r->h_msg.mean - 13.04) < 0.1, "H %.3f", r->h_msg.mean);
    CHECKF(fabs(r->mean_delay - 0.8 / 3) < 1e-12, "mu %g", r->mean_delay);
    CHECKF(fabs(hist_mean(&r->latency) - 1.0) < 0.03, "latency %g", hist_mean(&r->latency));
    sim_free(s);
}

static void test_cover_and_routing(void)
{
    struct sim_params p;
    bare_defaults(&p);
    p.layers = 2;
    p.width = 2;
    p.clients = 20;
    p.rate_real = 5;
    p.rate_payload = 10;
    p.rate_loop = 5;
    p.rate_drop = 5;
    p.duration = 20;
    p.mean_delay = 0.1;
    p.target_interval = 0.1;
    struct sim *s = run(&p);
    if (s == NULL)
        return;
    const struct sim_results *r = sim_results(s);
    /* Per real message: ~1 payload cover + 1 loop + 1 drop. */
    CHECKF(fabs(r->overhead - 3) < 0.2, "overhead %g", r->overhead);
    CHECK(r->overhead_hops > 2.5);
    /* Queueing for a payload tick shows up in e2e, not the network latency. */
    CHECK(hist_mean(&r->e2e) > hist_mean(&r->latency) + 0.05);
    double h_cover = r->h_msg.mean;
    sim_free(s);

    p.rate_payload = 0;
    p.rate_loop = p.rate_drop = 0;
    s = run(&p);
    if (s == NULL)
        return;
    CHECKF(sim_results(s)->h_msg.mean < h_cover - 1, "cover %.3f vs none %.3f", h_cover,
           sim_results(s)->h_msg.mean);
    CHECK(sim_results(s)->overhead == 0);
    double h_uniform = sim_results(s)->h_msg.mean;
    sim_free(s);

    /* One layer of two mixes: weighted routing that always picks the first
     * sends all traffic through one mix, doubling the messages a target
     * hides among (+1 bit) compared with uniform routing. */
    p.layers = 1;
    s = run(&p);
    if (s == NULL)
        return;
    h_uniform = sim_results(s)->h_msg.mean;
    sim_free(s);
    p.routing = SIM_ROUTE_WEIGHTED;
    bool ok = sim_param_set(&p, "weights", "1,0", NULL);
    CHECK(ok);
    s = run(&p);
    if (s == NULL)
        return;
    CHECKF(fabs(sim_results(s)->h_msg.mean - h_uniform - 1) < 0.15, "weighted %.3f uniform %.3f",
           sim_results(s)->h_msg.mean, h_uniform);
    sim_free(s);
}

/* Too few targets: flagged, with a duration that would give enough. */
static void test_few_targets(void)
{
    struct sim_params p;
    bare_defaults(&p);
    p.layers = 1;
    p.e2e = 5;
    p.duration = 150;
    struct sim *s = run(&p);
    if (s == NULL)
        return;
    const struct sim_results *r = sim_results(s);
    char why[512];
    CHECKF(r->measured == 0 && r->few_targets, "%u measured", r->measured);
    CHECK(sim_few_targets_why(&p, r, why, sizeof why) && strstr(why, "--duration") != NULL);
    /* The advised duration gives enough targets. */
    const char *d = strstr(why, "--duration ");
    p.duration = d ? atof(d + 11) : 0;
    sim_free(s);
    s = run(&p);
    if (s == NULL)
        return;
    r = sim_results(s);
    CHECKF(!r->few_targets && r->measured >= SIM_MIN_TARGETS, "%u measured at %g s", r->measured,
           p.duration);
    CHECK(!sim_few_targets_why(&p, r, why, sizeof why));
    sim_free(s);
}

/* Recipients exclude the sender: 2 clients leave no doubt, 50 at most log2 49. */
static void test_recipient_entropy(void)
{
    static const uint32_t ns[] = { 2, 50 };
    for (size_t k = 0; k < MIX_ARRAY_LEN(ns); k++) {
        struct sim_params p;
        sim_params_mixim(&p);
        p.clients = ns[k];
        p.rate_real = 5000.0 / ns[k];
        p.duration = 14;
        p.warmup = 2;
        p.drain = 4;
        p.target_interval = 0.05;
        struct sim *s = run(&p);
        if (s == NULL)
            return;
        const struct sim_results *r = sim_results(s);
        double hmax = log2((double)ns[k] - 1);
        CHECKF(r->measured >= SIM_MIN_TARGETS, "%u targets", r->measured);
        CHECKF(r->h_rcpt.max <= hmax + 1e-9 && r->hmin_rcpt.max <= hmax + 1e-9,
               "N=%u: H %.6f max %.6f > log2(N-1) %.6f", ns[k], r->h_rcpt.mean, r->h_rcpt.max,
               hmax);
        /* Many messages hide each target: the bound is nearly reached. */
        CHECKF(r->h_rcpt.mean > hmax - 0.05, "N=%u: H %.4f", ns[k], r->h_rcpt.mean);
        CHECKF(ns[k] == 2 ? r->degree == 0 : fabs(r->degree - r->h_rcpt.mean / hmax) < 1e-12,
               "degree %g", r->degree);
        sim_free(s);
    }
}

static void test_xrng_vector(void)
{
    /* Reference xoshiro256** output for state {1, 2, 3, 4}. */
    struct xrng r = { { 1, 2, 3, 4 } };
    CHECK(xrng_next(&r) == 11520);
    CHECK(xrng_next(&r) == 0);
    CHECK(xrng_next(&r) == 1509978240);
    CHECK(xrng_next(&r) == 1215971899390074240ULL);
    xrng_seed(&r, 42);
    double sum = 0;
    for (int i = 0; i < 100000; i++) {
        double u = xrng_unit(&r);
        CHECK(u > 0 && u <= 1);
        sum += u;
    }
    CHECKF(fabs(sum / 100000 - 0.5) < 0.01, "mean %g", sum / 100000);
}

/* layer_delays: the same delay in every layer is mean_delay (same seed, same results); a layer
 * near 0 loses entropy; a list of the wrong length is refused. */
static void test_layer_delays(void)
{
    struct sim_params p;
    bare_defaults(&p);
    p.layers = 3;
    p.width = 2;
    p.clients = 10;
    p.rate_real = 20;
    p.mean_delay = 0.1;
    p.duration = 10;
    p.warmup = 2;
    p.drain = 3;
    double h[3];
    static const char *const ld[3] = { "", "0.1,0.1,0.1", "0.1,0.0001,0.1" };
    for (int i = 0; i < 3; i++) {
        struct sim_params q = p;
        bool ok = sim_param_set(&q, "layer_delays", ld[i], NULL);
        CHECK(ok);
        struct sim *s = run(&q);
        if (s == NULL)
            return;
        h[i] = sim_results(s)->h_msg.mean;
        sim_free(s);
    }
    CHECKF(h[0] == h[1] && h[2] < h[0] - 0.2, "H %g %g %g", h[0], h[1], h[2]);
    const char *why = NULL;
    bool ok = sim_param_set(&p, "layer_delays", "0.1,0.1", NULL);
    CHECK(ok && !sim_params_check(&p, &why) && why != NULL);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    RUN(test_xrng_vector);
    RUN(test_threshold_exact);
    RUN(test_timed_mix);
    RUN(test_pool_closed_form);
    RUN(test_poisson_danezis);
    RUN(test_mass_conservation);
    RUN(test_corrupt_path);
    RUN(test_determinism);
    RUN(test_mixim_point);
    RUN(test_cover_and_routing);
    RUN(test_few_targets);
    RUN(test_recipient_entropy);
    RUN(test_layer_delays);
    return tap_done();
}
