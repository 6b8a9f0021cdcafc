/*
 * Statistical disclosure attacks (sim/sda.c): the basic SDA against a
 * threshold mix with uniform background matches the closed form, and the
 * refinement with the background estimated wins where the basic one cannot.
 */
#include <math.h>

#include "mixq.h"
#include "sda.h"
#include "tap.h"

/* Runs of the attack stopped after t target messages; fraction with the contacts on top. */
static void top_fraction(const struct sda_params *base, uint64_t t, uint32_t runs, double frac[2])
{
    frac[0] = frac[1] = 0;
    for (uint32_t i = 0; i < runs; i++) {
        struct sda_params p = *base;
        p.seed = base->seed + i;
        p.stop_msgs = t;
        struct sda_result r;
        int rc = sda_run(&p, &r);
        CHECK(rc == 0);
        CHECK(r.target_msgs >= t && r.target_msgs <= t + 3); /* stops at a round's end */
        for (int k = 0; k < SDA_ATTACKERS; k++)
            frac[k] += (double)r.a[k].success / runs;
    }
}

/* Danezis's setting: N = 500, m = 5 equally likely contacts, a threshold
 * mix of b = 50, everybody else sends uniformly.  The fraction of runs
 * whose contacts are all on top after t rounds must match P(t). */
static void test_basic_sda_closed_form(void)
{
    CHECK(fabs(sda_rounds_closed_form(1000, 10, 100, 2) - 224.47) < 0.01);
    CHECK(sda_rank_probability(500, 5, 50, 10) < 0.001);
    CHECK(sda_rank_probability(500, 5, 50, 1000) > 0.999);
    struct sda_params p;
    sda_params_default(&p);
    p.users = 500;
    p.contacts = 5;
    p.contacts_max = 0;
    p.threshold = 50;
    p.calibrate = 20;
    p.seed = 1000;
    const uint64_t ts[] = { 60, 100 };
    const uint32_t runs = 200;
    for (size_t i = 0; i < 2; i++) {
        double want = sda_rank_probability(500, 5, 50, (double)ts[i]), got[2];
        top_fraction(&p, ts[i], runs, got);
        /* Four binomial standard errors plus 0.04 for the independence
         * approximation of the closed form. */
        double tol = 4 * sqrt(want * (1 - want) / runs) + 0.04;
        for (int k = 0; k < SDA_ATTACKERS; k++)
            CHECKF(fabs(got[k] - want) < tol, "t=%llu attacker %d: %.3f, closed form %.3f",
                   (unsigned long long)ts[i], k, got[k], want);
    }
}

/* Others with contact lists of their own drawn by popularity: the basic
 * SDA's uniform background is wrong and popular recipients crowd out the
 * target's contacts; the estimated background finds them. */
static void test_md_beats_basic_on_skewed_background(void)
{
    struct sda_params p;
    sda_params_default(&p);
    p.users = 300;
    p.contacts = 4;
    p.contacts_max = 10;
    p.popularity = 1;
    p.threshold = 30;
    p.calibrate = 20;
    p.duration = 3000;
    int basic = 0, md = 0;
    for (uint32_t i = 0; i < 6; i++) {
        p.seed = 77 + i;
        struct sda_result r;
        int rc = sda_run(&p, &r);
        CHECK(rc == 0);
        basic += r.a[SDA_BASIC].success;
        md += r.a[SDA_MD].success;
        if (r.a[SDA_MD].success)
            CHECK(r.a[SDA_MD].time_s > 0 && r.a[SDA_MD].target_msgs > 0);
    }
    CHECKF(md == 6 && basic <= 1, "md %d/6 basic %d/6", md, basic);
}

/* Cover traffic dilutes the target's rounds: with lambda_P = 4 x rate the
 * attacker needs more of the target's messages than without cover, and
 * any mixing strategy runs. */
static void test_cover_and_strategies(void)
{
    struct sda_params p;
    sda_params_default(&p);
    p.users = 200;
    p.contacts = 3;
    p.contacts_max = 0;
    p.threshold = 20;
    p.calibrate = 20;
    p.duration = 4000;
    p.seed = 5;
    struct sda_result plain, cover;
    int rc = sda_run(&p, &plain);
    CHECK(rc == 0);
    p.cover = 4;
    rc = sda_run(&p, &cover);
    CHECK(rc == 0);
    CHECK(plain.a[SDA_MD].success && cover.a[SDA_MD].success);
    CHECKF(cover.a[SDA_MD].target_msgs > plain.a[SDA_MD].target_msgs, "cover %llu plain %llu",
           (unsigned long long)cover.a[SDA_MD].target_msgs,
           (unsigned long long)plain.a[SDA_MD].target_msgs);
    p.cover = 0;
    p.strategy = MIXQ_TIMED_POOL;
    p.period = 0.1;
    rc = sda_run(&p, &plain);
    CHECK(rc == 0 && plain.a[SDA_MD].success);
    p.strategy = MIXQ_POISSON;
    p.mean_delay = 0.05;
    rc = sda_run(&p, &plain);
    CHECK(rc == 0 && plain.a[SDA_MD].success);
    /* The same seed gives the same run. */
    struct sda_result again;
    rc = sda_run(&p, &again);
    CHECK(rc == 0 && again.a[SDA_MD].time_s == plain.a[SDA_MD].time_s);
    CHECK(again.events == plain.events);
}

static void test_params(void)
{
    struct sda_params p;
    sda_params_default(&p);
    const char *why = NULL;
    CHECK(sda_params_check(&p, &why));
    p.contacts = p.users;
    CHECK(!sda_params_check(&p, &why) && why != NULL);
    sda_params_default(&p);
    char a0[] = "--users", a1[] = "50", a2[] = "--strategy=pool", a3[] = "--rate", a4[] = "x";
    char *argv[] = { a0, a1, a2, a3, a4 };
    int i = 0;
    CHECK(aopt_parse(sda_opts, sda_opt_count, &p, 5, argv, &i) == 1 && i == 1 && p.users == 50);
    i = 2;
    CHECK(aopt_parse(sda_opts, sda_opt_count, &p, 5, argv, &i) == 1 &&
          p.strategy == MIXQ_TIMED_POOL);
    i = 3;
    CHECK(aopt_parse(sda_opts, sda_opt_count, &p, 5, argv, &i) == -1);
    i = 4;
    CHECK(aopt_parse(sda_opts, sda_opt_count, &p, 5, argv, &i) == 0);
}

int main(void)
{
    RUN(test_params);
    RUN(test_basic_sda_closed_form);
    RUN(test_md_beats_basic_on_skewed_background);
    RUN(test_cover_and_strategies);
    return tap_done();
}
