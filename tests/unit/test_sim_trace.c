/*
 * Trace input and churn for the attack models: the CSV parser on good and
 * bad input (sim/trace.c), the statistical disclosure attack replaying a
 * trace, and churn, which slows the attack down in time but not in the
 * target's messages.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "sda.h"
#include "tap.h"
#include "trace.h"
#include "xrng.h"

static bool parse(const char *text, struct trace *t, char *why)
{
    return trace_parse(text, strlen(text), t, why, 200);
}

static void test_parse_good(void)
{
    struct trace t;
    char why[200];
    bool ok = parse("time,sender,recipient\r\n# a comment\n\n2.5,3,1\r\n0.5,1,2\n2.5,0,4\n"
                    "1e-3,7,0",
                    &t, why);
    CHECKF(ok, "%s", why);
    CHECK(t.n == 4 && t.users == 8);
    /* Sorted by time, ties in file order. */
    CHECK(t.ev[0].t == 1e-3 && t.ev[0].from == 7 && t.ev[0].to == 0);
    CHECK(t.ev[1].t == 0.5 && t.ev[1].from == 1);
    CHECK(t.ev[2].t == 2.5 && t.ev[2].from == 3 && t.ev[3].from == 0);
    trace_free(&t);
    trace_free(&t); /* twice is harmless */
}

static void test_parse_bad(void)
{
    static const struct {
        const char *text, *why;
    } bad[] = {
        { "", "no events" },
        { "time,sender,recipient\n", "no events" },
        { "0,1,2\n1,2\n", "line 2: want time,sender,recipient" },
        { "0,1,2,3\n", "line 1: more than three fields" },
        { "0,1,2\nnan,1,2\n", "line 2: time is not a number in [0, 1e9]" },
        { "0,1,2\n-1,1,2\n", "line 2: time is not a number in [0, 1e9]" },
        { "0,1,2\n0x1,1,2\n", "line 2: time is not a number in [0, 1e9]" },
        { "0,1,2\n2e9,1,2\n", "line 2: time is not a number in [0, 1e9]" },
        { "0,1,2\n1, 1,2\n", "line 2: sender is not an id below 10000000" },
        { "0,1,2\n1,10000000,2\n", "line 2: sender is not an id below 10000000" },
        { "0,1,2\n1,1,\n", "line 2: recipient is not an id below 10000000" },
        { "0,1,2\n1,1,-2\n", "line 2: recipient is not an id below 10000000" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct trace t;
        char why[200] = "";
        CHECKF(!parse(bad[i].text, &t, why), "accepted case %zu", i);
        CHECKF(strcmp(why, bad[i].why) == 0, "case %zu: '%s', want '%s'", i, why, bad[i].why);
        CHECK(t.ev == NULL && t.n == 0);
    }
    char nul[] = "0,1,2\n1,1\0,2\n";
    struct trace t;
    char why[200];
    CHECK(!trace_parse(nul, sizeof nul - 1, &t, why, sizeof why));
    CHECK(strcmp(why, "line 2: a NUL byte") == 0);
    CHECK(!trace_load("/nonexistent/trace.csv", &t, why, sizeof why));
}

/* A trace of Danezis's setting: N = 200, the target (id 5) writes to 4 of
 * them, everybody else to anyone; replayed through a threshold mix the
 * attack finds the 4, and the file round trip gives the same result. */
static void test_sda_on_trace(void)
{
    struct xrng r;
    xrng_seed(&r, 9);
    const uint32_t n = 200, contacts[4] = { 11, 50, 120, 199 };
    size_t len = 0, cap = 1 << 22;
    char *buf = malloc(cap);
    CHECK(buf != NULL);
    if (buf == NULL)
        return;
    len += (size_t)snprintf(buf, cap, "time,sender,recipient\n");
    double t = 0;
    for (int i = 0; i < 120000; i++) {
        t += xrng_exp(&r, 1.0 / n);
        uint32_t u = xrng_below(&r, n);
        uint32_t v = u == 5 ? contacts[xrng_below(&r, 4)] : (u + 1 + xrng_below(&r, n - 1)) % n;
        len += (size_t)snprintf(buf + len, cap - len, "%.6f,%u,%u\n", t, u, v);
    }
    struct trace tr;
    char why[200];
    bool ok = trace_parse(buf, len, &tr, why, sizeof why);
    CHECKF(ok, "%s", why);
    if (!ok) {
        free(buf);
        return;
    }
    CHECK(tr.users == n && sda_trace_contacts(&tr, 5) == 4);
    struct sda_params p;
    sda_params_default(&p);
    p.trace = &tr;
    p.target = 5;
    p.threshold = 20;
    p.calibrate = 10;
    CHECKF(sda_params_check(&p, &(const char *){ NULL }), "check");
    struct sda_result res;
    int rc = sda_run(&p, &res);
    CHECK(rc == 0 && res.a[SDA_BASIC].success && res.a[SDA_MD].success);
    CHECK(fabs(res.h_true - 2) < 0.05); /* 4 contacts, about equally often */
    p.target = 1000;
    CHECK(!sda_params_check(&p, &(const char *){ NULL }));
    p.target = 5;
    p.cover = 1;
    CHECK(!sda_params_check(&p, &(const char *){ NULL }));
    /* Through a file. */
    char path[] = "/tmp/test_sim_trace.XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd >= 0) {
        CHECK(write(fd, buf, len) == (ssize_t)len);
        close(fd);
        struct trace t2;
        ok = trace_load(path, &t2, why, sizeof why);
        CHECKF(ok, "%s", why);
        CHECK(ok && t2.n == tr.n && memcmp(t2.ev, tr.ev, tr.n * sizeof *tr.ev) == 0);
        trace_free(&t2);
        unlink(path);
    }
    trace_free(&tr);
    free(buf);
}

/* Everybody online half of the time (mean 50 s on, 50 s off): stopped after
 * t of the target's messages the attack succeeds as often as the closed
 * form says without churn; only the time those messages take grows. */
static void test_churn(void)
{
    struct sda_params p;
    sda_params_default(&p);
    p.users = 500;
    p.contacts = 5;
    p.contacts_max = 0;
    p.threshold = 50;
    p.calibrate = 20;
    p.online = 50;
    p.offline = 50;
    const uint64_t t = 100;
    const uint32_t runs = 150;
    double ok = 0, secs = 0;
    for (uint32_t i = 0; i < runs; i++) {
        p.seed = 4000 + i;
        p.stop_msgs = t;
        struct sda_result r;
        int rc = sda_run(&p, &r);
        CHECK(rc == 0);
        ok += (double)r.a[SDA_BASIC].success / runs;
        secs += r.attack_s / runs;
    }
    double want = sda_rank_probability(500, 5, 50, (double)t);
    CHECKF(fabs(ok - want) < 4 * sqrt(want * (1 - want) / runs) + 0.04, "%.3f, want %.3f", ok,
           want);
    /* The target needs t / rate = 100 s online; it goes offline 100 / 50 = 2
     * times meanwhile and starts offline half of the time, each offline
     * period 50 s: 100 + 50 (2 + 0.5) = 225 s on average (within 10 %: the
     * on/off periods make it much noisier than a Poisson count). */
    CHECKF(fabs(secs - 225) < 22, "%.1f s to %llu messages, want 225", secs, (unsigned long long)t);
}

int main(void)
{
    RUN(test_parse_good);
    RUN(test_parse_bad);
    RUN(test_sda_on_trace);
    RUN(test_churn);
    return tap_done();
}
