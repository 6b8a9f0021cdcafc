/*
 * Sender unlinkability (sim/unlink.c) on cases with known answers:
 *   zero delay: every pair is told apart, delta = 1, and the observer's
 *     who-talks-to-whom matrix is the true one;
 *   threshold n, the second challenge being the next message: the pair is
 *     split only when the first one completes its batch, delta = 1/n;
 *   Poisson mean mu, second challenge after a fixed gap g: delta is the
 *     chance the first has left before the second came, 1 - exp(-g/mu),
 *     for every epsilon, and the ratio afterwards is exp(-g/mu);
 *   Poisson, next message at total rate L: delta = 1/(1 + L mu).
 */
#include <math.h>

#include "mixq.h"
#include "tap.h"
#include "unlink.h"

static struct unlink_params base(void)
{
    struct unlink_params p;
    unlink_params_default(&p);
    p.users = 50;
    p.rate = 1;
    p.duration = 3000;
    return p;
}

static void run(const struct unlink_params *p, struct unlink_result *r)
{
    const char *why = NULL;
    CHECKF(unlink_params_check(p, &why), "%s", why ? why : "");
    int rc = unlink_run(p, r);
    CHECK(rc == 0);
    CHECKF(r->pairs > 1000, "%llu pairs", (unsigned long long)r->pairs);
}

/* |got - want| within k standard errors (plus a floor for exact cases). */
static void near(double got, double se, double want, const char *what)
{
    CHECKF(fabs(got - want) <= 4 * se + 1e-9, "%s: %.4f +- %.4f, want %.4f", what, got, se, want);
}

static void test_zero_delay(void)
{
    struct unlink_params p = base();
    p.mean_delay = 0;
    struct unlink_result r;
    run(&p, &r);
    for (int e = 0; e < UNLINK_EPS; e++)
        CHECK(r.delta[e] > 1 - 1e-9);
    CHECK(fabs(r.h_pairs - r.h_pairs_true) < 1e-6);
    p.strategy = MIXQ_THRESHOLD;
    p.threshold = 1;
    run(&p, &r);
    CHECK(r.delta[0] > 1 - 1e-9);
}

static void test_threshold(void)
{
    struct unlink_params p = base();
    p.strategy = MIXQ_THRESHOLD;
    p.threshold = 10;
    struct unlink_result r;
    run(&p, &r);
    for (int e = 0; e < UNLINK_EPS; e++)
        near(r.delta[e], r.delta_se[e], 0.1, "threshold 10");
    CHECK(r.eps_max_median == 0); /* pairs in one batch: the ideal case */
    /* The observer's matrix is spread beyond the true one. */
    CHECK(r.h_pairs > r.h_pairs_true + 0.01);
}

static void test_poisson(void)
{
    struct unlink_params p = base();
    p.mean_delay = 1;
    p.gap = 0.5;
    p.interval = 2;
    struct unlink_result r;
    run(&p, &r);
    for (int e = 0; e < UNLINK_EPS; e++)
        near(r.delta[e], r.delta_se[e], 1 - exp(-0.5), "poisson gap 0.5");
    CHECKF(fabs(r.eps_max_median - 0.5) < 0.05, "median ln ratio %.4f", r.eps_max_median);
    p.gap = 0;
    p.mean_delay = 0.2;
    p.interval = 0.5;
    run(&p, &r);
    /* The next message comes from one of the 49 others at 49/s. */
    near(r.delta[0], r.delta_se[0], 1 / (1 + 49 * 0.2), "poisson next message");
}

int main(void)
{
    RUN(test_zero_delay);
    RUN(test_threshold);
    RUN(test_poisson);
    return tap_done();
}
