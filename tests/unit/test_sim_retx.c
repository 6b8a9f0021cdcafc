/*
 * Loss, mix failures and retransmission (sim/retx.c) on known answers:
 *   loss p, a timeout far above the delays, up to K sends: a message takes
 *     (1 - p^K) / (1 - p) copies on average and is lost with p^K; drops the
 *     observer sees tell it nothing, so linking the copies costs 0 bits;
 *   mixes down a share d of the time and no retransmission: a message is
 *     lost with 1 - (1 - p)(1 - d);
 *   a timeout below the delays: copies still inside are sent again and
 *     delivered twice, and the observer who links them by timing learns
 *     more about the recipient than from one copy.
 */
#include <math.h>

#include "mixq.h"
#include "retx.h"
#include "tap.h"

static struct retx_params base(void)
{
    struct retx_params p;
    retx_params_default(&p);
    p.users = 200;
    p.rate = 1;
    p.interval = 0.05;
    p.duration = 400;
    return p;
}

static void test_loss(void)
{
    struct retx_params p = base();
    p.loss = 0.3;
    p.timeout = 5;
    p.retx_max = 2; /* K = 3 sends */
    struct retx_result r;
    int rc = retx_run(&p, &r);
    CHECK(rc == 0 && r.targets > 3000);
    double k3 = pow(0.3, 3), n = (double)r.targets;
    double want = (1 - k3) / (1 - 0.3);
    /* Copies per message: variance below 1 per message. */
    CHECKF(fabs(r.copies_per_msg - want) < 4 / sqrt(n), "%.4f copies, want %.4f", r.copies_per_msg,
           want);
    double lost = (double)r.lost / n;
    CHECKF(fabs(lost - k3) < 4 * sqrt(k3 * (1 - k3) / n), "lost %.4f, want %.4f", lost, k3);
    CHECK(r.duplicates == 0);
    CHECKF(fabs(r.h_linked - r.h_single) < 1e-9, "%.6f vs %.6f", r.h_linked, r.h_single);
}

static void test_failures(void)
{
    struct retx_params p = base();
    p.loss = 0.1;
    p.mtbf = 30;
    p.mttr = 10; /* down a quarter of the time */
    p.retx_max = 0;
    struct retx_result r;
    int rc = retx_run(&p, &r);
    CHECK(rc == 0 && r.targets > 3000);
    double want = 1 - 0.9 * 0.75, n = (double)r.targets, lost = (double)r.lost / n;
    /* Failures of 3 mixes make the losses of nearby messages correlated:
     * allow twice the binomial error. */
    CHECKF(fabs(lost - want) < 8 * sqrt(want * (1 - want) / n), "lost %.4f, want %.4f", lost, want);
    /* A fresh path for the retransmission saves most of them. */
    p.retx_max = 3;
    rc = retx_run(&p, &r);
    CHECK(rc == 0 && (double)r.lost / (double)r.targets < want / 4);
}

static void test_duplicates(void)
{
    struct retx_params p = base();
    p.users = 2000;
    p.rate = 0.2;
    p.interval = 0.2;
    p.loss = 0;
    p.mean_delay = 1;
    p.timeout = 0.5;
    p.retx_max = 1;
    struct retx_result r;
    int rc = retx_run(&p, &r);
    CHECK(rc == 0 && r.targets > 1000);
    /* A copy leaves after 0.5 s with probability e^-0.5: about 0.61 of the
     * messages are sent twice and both copies arrive. */
    CHECKF(fabs(r.duplicates - exp(-0.5)) < 0.05, "duplicates %.4f", r.duplicates);
    CHECKF(r.h_linked < r.h_single - 0.5, "linked %.3f single %.3f", r.h_linked, r.h_single);
}

int main(void)
{
    RUN(test_loss);
    RUN(test_failures);
    RUN(test_duplicates);
    return tap_done();
}
