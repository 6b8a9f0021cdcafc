/*
 * sim/engine driven by hand, as a passive observer would drive it from
 * captured events: known answers for the pool-average rule, the sender
 * excluded from the recipients, corrupt nodes and lost mass.
 */
#include <math.h>
#include <sodium.h>

#include "engine.h"
#include "tap.h"

/* One honest node holding the target and 3 other messages emits all 4 to 4
 * recipients: 2 bits over messages; the sender among them is ruled out. */
static void test_one_node_batch(void)
{
    struct engine *e = engine_new(1, 10, 1e-12);
    CHECK(e != NULL);
    if (e == NULL)
        return;
    struct engine_vec in[4] = { { 0 } }, out[4] = { { 0 } };
    int32_t j = engine_tag(e, &in[0], 7, 123);
    CHECK(j == 0 && engine_active(e) == 1);
    for (int i = 0; i < 4; i++)
        engine_arrive(e, 0, &in[i]); /* cover messages carry empty vectors */
    for (int i = 0; i < 4; i++)
        engine_depart(e, 0, (uint32_t)(4 - i), &out[i]);
    /* Recipients 1, 2, 3 and the sender 7. */
    static const uint32_t to[4] = { 1, 2, 3, 7 };
    for (int i = 0; i < 4; i++)
        engine_deliver(e, to[i], &out[i]);
    engine_sweep(e, false);
    CHECK(engine_active(e) == 0);
    const struct sim_target *t = engine_target(e, 0);
    CHECK(t != NULL && t->finished && t->t_tag_us == 123);
    if (t == NULL)
        return;
    CHECKF(fabs(t->h_msg - 2) < 1e-12 && fabs(t->hmin_msg - 2) < 1e-12, "H %g", t->h_msg);
    CHECKF(fabs(t->h_rcpt - log2(3)) < 1e-12, "H rcpt %g", t->h_rcpt);
    CHECK(fabs(t->delivered - 1) < 1e-12 && t->pruned == 0 && t->ruled_out == 0);
    engine_free(e);
}

/* Through a corrupt node (no arrive/depart) the target stays certain; a
 * message the adversary rules out and one dropped are counted apart. */
static void test_corrupt_and_lost(void)
{
    struct engine *e = engine_new(2, 4, 1e-12);
    if (e == NULL)
        return;
    struct engine_vec v = { 0 }, w = { 0 }, o1 = { 0 }, o2 = { 0 };
    CHECK(engine_tag(e, &v, 0, 1) == 0);
    engine_deliver(e, 2, &v);
    CHECK(engine_tag(e, &w, 0, 2) == 1);
    engine_arrive(e, 1, &w);
    struct engine_vec cover = { 0 };
    engine_arrive(e, 1, &cover);
    engine_depart(e, 1, 2, &o1);
    engine_depart(e, 1, 1, &o2);
    engine_drop(e, &o1, true);
    engine_drop(e, &o2, false);
    engine_sweep(e, false);
    const struct sim_target *a = engine_target(e, 0), *b = engine_target(e, 1);
    CHECK(a && a->finished && a->h_msg == 0 && a->h_rcpt == 0);
    CHECK(b && b->finished && fabs(b->ruled_out - 0.5) < 1e-12 && fabs(b->pruned - 0.5) < 1e-12);
    struct engine_summary s;
    CHECK(engine_summarise(e, 10, &s) == 0);
    CHECK(s.targets == 2 && s.measured == 2 && s.unfinished == 0 && s.batches == 0);
    engine_free(e);
}

/* An estimated pool (mixscope): a departure gets S / held for a fractional held, and a held
 * below 1 is taken as 1 (the whole pool leaves). */
static void test_depart_estimated(void)
{
    struct engine *e = engine_new(1, 2, 1e-12);
    if (e == NULL)
        return;
    struct engine_vec v = { 0 }, o1 = { 0 }, o2 = { 0 };
    CHECK(engine_tag(e, &v, 1, 1) == 0);
    engine_arrive(e, 0, &v);
    engine_depart_est(e, 0, 2.5, &o1);
    engine_depart_est(e, 0, 0.3, &o2);
    engine_deliver(e, 0, &o1);
    engine_deliver(e, 0, &o2);
    engine_sweep(e, false);
    const struct sim_target *t = engine_target(e, 0);
    double h = -(0.4 * log2(0.4) + 0.6 * log2(0.6));
    CHECKF(t && t->finished && fabs(t->h_msg - h) < 1e-12 && fabs(t->hmin_msg + log2(0.6)) < 1e-12,
           "H %g", t ? t->h_msg : -1);
    engine_free(e);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    RUN(test_one_node_batch);
    RUN(test_corrupt_and_lost);
    RUN(test_depart_estimated);
    return tap_done();
}
