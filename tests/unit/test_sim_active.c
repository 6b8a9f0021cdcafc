/*
 * Active attacks (sim/active.c) on cases with known answers:
 *   n-1 without mix loops: the target is found, 0 bits, for every strategy;
 *   mix loops (cover made inside the mix) leave it some entropy;
 *   held-back client loops: the first loss is noticed after
 *     timeout - link + 1/(N lambda_L) on average;
 *   flooding a threshold mix of n: E[log2(1 + Binomial(n-1, h/(h+a)))];
 *   flooding a Poisson mix takes nothing away (the attacker only learns to
 *     ignore its own messages).
 */
#include <math.h>

#include "active.h"
#include "mixq.h"
#include "tap.h"

static void test_n1_exposes_target(void)
{
    const int strategies[3] = { MIXQ_POISSON, MIXQ_TIMED_POOL, MIXQ_THRESHOLD };
    for (int i = 0; i < 3; i++) {
        struct active_params p;
        active_params_default(&p);
        p.strategy = strategies[i];
        p.pool_keep = 3;
        p.runs = 30;
        struct active_result r;
        int rc = active_n1_run(&p, &r);
        CHECK(rc == 0);
        CHECKF(r.targets == 30 && r.h_mean < 1e-9, "strategy %d: %llu targets, %.4f bits",
               strategies[i], (unsigned long long)r.targets, r.h_mean);
        p.mix_loop = 10;
        rc = active_n1_run(&p, &r);
        CHECK(rc == 0);
        CHECKF(r.targets == 30 && r.h_mean > 0.2, "strategy %d with mix loops: %.4f bits",
               strategies[i], r.h_mean);
    }
}

static void test_loop_detection_time(void)
{
    struct active_params p;
    active_params_default(&p);
    p.runs = 300;
    const double rates[2] = { 0.1, 0.01 };
    for (int i = 0; i < 2; i++) {
        p.loop_rate = rates[i];
        struct active_result r;
        int rc = active_n1_run(&p, &r);
        CHECK(rc == 0);
        double want = p.loop_timeout - p.link + 1 / (p.users * p.loop_rate);
        CHECKF(fabs(r.detect_s - want) < 4 * r.detect_se + 1e-3,
               "lambda_L %.2f: %.4f +- %.4f s, want %.4f", rates[i], r.detect_s, r.detect_se, want);
        CHECK(r.undetected_sustained == 0);
        /* The attack is over (about 3 s) before a 10 s timeout can fire. */
        CHECK(r.detected == 0);
    }
    /* A timeout shorter than the attack catches it. */
    p.loop_rate = 1;
    p.loop_timeout = 0.5;
    struct active_result r;
    int rc = active_n1_run(&p, &r);
    CHECK(rc == 0 && r.detected == 1);
}

static void test_flood(void)
{
    struct active_params p;
    active_params_default(&p);
    p.strategy = MIXQ_THRESHOLD;
    p.threshold = 10;
    p.duration = 2000;
    p.attack_rate = 300;
    struct active_result r;
    int rc = active_flood_run(&p, &r);
    CHECK(rc == 0 && r.targets > 1000);
    double h = p.users * (p.rate + p.loop_rate);
    double want = active_flood_threshold_entropy(10, h, p.attack_rate);
    CHECKF(fabs(r.h_mean - want) < 4 * r.h_se, "%.4f +- %.4f, want %.4f", r.h_mean, r.h_se, want);
    CHECK(fabs(active_flood_threshold_entropy(10, 1, 1e-12) - log2(10)) < 1e-6);
    CHECK(fabs(active_flood_threshold_entropy(10, 1e-12, 1)) < 1e-6);
    p.strategy = MIXQ_POISSON;
    struct active_result lo, hi;
    p.attack_rate = 1;
    rc = active_flood_run(&p, &lo);
    CHECK(rc == 0);
    p.attack_rate = 1000;
    rc = active_flood_run(&p, &hi);
    CHECK(rc == 0);
    CHECKF(fabs(lo.h_mean - hi.h_mean) < 4 * hypot(lo.h_se, hi.h_se), "%.4f vs %.4f", lo.h_mean,
           hi.h_mean);
}

int main(void)
{
    RUN(test_n1_exposes_target);
    RUN(test_loop_detection_time);
    RUN(test_flood);
    return tap_done();
}
