/*
 * mixsim parameters (table, text round trips, INI files, cross checks) and
 * the summary statistics.
 */
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "netconf.h"
#include "params.h"
#include "stats.h"
#include "tap.h"

static void test_defaults_roundtrip(void)
{
    struct sim_params p, q;
    sim_params_default(&p);
    const char *why = NULL;
    CHECKF(sim_params_check(&p, &why), "%s", why ? why : "");
    CHECK(p.layers == 3 && p.width == 10 && p.strategy == MIXQ_POISSON && p.seed == 1);
    CHECK(p.warmup < 0 && p.prune == 1e-12 && p.early_stop == 1);
    /* Every parameter formats to text that parses back to the same value. */
    p.link_delay = 0.05;
    p.mean_delay = 1.0 / 3;
    p.seed = 18446744073709551615ULL;
    p.strategy = MIXQ_THRESHOLD;
    bool ok = sim_param_set(&p, "weights", "1,2.5,3", NULL);
    CHECK(ok);
    sim_params_default(&q);
    char buf[SIM_LIST_LEN + 32];
    for (size_t i = 0; i < sim_param_count; i++) {
        const struct sim_param_desc *d = &sim_param_table[i];
        sim_param_format(&p, d, buf, sizeof buf);
        CHECKF(sim_param_set(&q, d->name, buf, &why), "%s=%s: %s", d->name, buf, why);
        CHECKF(sim_param_find(d->name) == d, "%s", d->name);
        CHECKF(d->help != NULL && d->help[0] != '\0', "%s has no help", d->name);
    }
    CHECK(memcmp(&p, &q, sizeof p) == 0);
    sim_param_format(&p, sim_param_find("link_delay"), buf, sizeof buf);
    CHECK(strcmp(buf, "0.05") == 0);
}

static void test_bad_values(void)
{
    struct sim_params p;
    sim_params_default(&p);
    const char *why = NULL;
    CHECK(!sim_param_set(&p, "nonsense", "1", &why) && why != NULL);
    CHECK(!sim_param_set(&p, "layers", "-1", &why));
    CHECK(!sim_param_set(&p, "layers", "3x", &why));
    CHECK(!sim_param_set(&p, "layers", "", &why));
    CHECK(!sim_param_set(&p, "layers", "99999999999", &why));
    CHECK(!sim_param_set(&p, "mean_delay", "abc", &why));
    CHECK(!sim_param_set(&p, "mean_delay", "nan", &why));
    CHECK(!sim_param_set(&p, "strategy", "fifo", &why));
    CHECK(sim_param_set(&p, "strategy", "pool", &why) && p.strategy == MIXQ_TIMED_POOL);
    CHECK(!sim_param_set(&p, "topology", "ring", &why));
    char big[SIM_LIST_LEN + 10];
    memset(big, '1', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    CHECK(!sim_param_set(&p, "weights", big, &why));
    CHECK(!sim_param_set(&p, "weights", "1,\"2", &why));
    CHECK(!sim_param_set(&p, "corrupt_ids", "1\n2", &why));
    CHECK(sim_param_set(&p, "weights", "1e-3,2.5,+3", &why));
    /* Defaults were not disturbed by the failures. */
    CHECK(p.layers == 3);
    /* A shorter list leaves no stale bytes: equal settings, equal structs
     * (found by fuzz_sim_params). */
    struct sim_params a, b;
    sim_params_default(&a);
    sim_params_default(&b);
    CHECK(sim_param_set(&a, "weights", "1,2,3", &why) && sim_param_set(&a, "weights", "1,", &why));
    CHECK(sim_param_set(&b, "weights", "1,", &why));
    CHECK(memcmp(&a, &b, sizeof a) == 0);
}

static void test_checks(void)
{
    struct sim_params p;
    const char *why;
    sim_params_default(&p);
    p.routing = SIM_ROUTE_WEIGHTED;
    CHECK(!sim_params_check(&p, &why)); /* no weights */
    bool ok = sim_param_set(&p, "weights", "1,1,1,1,1,1,1,1,1,1", NULL);
    CHECK(ok && sim_params_check(&p, &why));
    ok = sim_param_set(&p, "weights", "1,1,x", NULL);
    CHECK(!ok);
    ok = sim_param_set(&p, "weights", "1,,1,1,1,1,1,1,1,1", NULL);
    CHECK(ok && !sim_params_check(&p, &why));
    sim_params_default(&p);
    p.layers = 0;
    CHECK(!sim_params_check(&p, &why));
    sim_params_default(&p);
    p.corrupt = 31;
    CHECK(!sim_params_check(&p, &why));
    sim_params_default(&p);
    p.e2e = 0.1; /* below 4 links of 0.05 */
    CHECK(!sim_params_check(&p, &why));
    sim_params_default(&p);
    p.rate_real = 0;
    p.rate_payload = 0;
    CHECK(!sim_params_check(&p, &why));
    sim_params_default(&p);
    p.strategy = MIXQ_TIMED_POOL;
    p.period = 0;
    CHECK(!sim_params_check(&p, &why));
    sim_params_default(&p);
    p.topology = SIM_TOPO_SINGLE;
    p.layers = 0; /* ignored for a single mix */
    CHECK(sim_params_check(&p, &why));
    double v[4];
    CHECK(sim_parse_list("1,2.5,3", v, 4) == 3 && v[1] == 2.5);
    CHECK(sim_parse_list("", v, 4) == 0);
    CHECK(sim_parse_list("1,,2", v, 4) == -1);
    CHECK(sim_parse_list("1,2,3,4,5", v, 4) == -1);
}

static void test_ini(void)
{
    char path[] = "/tmp/test_sim_paramsXXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    FILE *f = fdopen(fd, "w");
    fputs("; a comment\n[network]\nlayers = 4\nmax_hops = 6\nwidth = 7\nlink_delay = 0.02\n"
          "[mixing]\nstrategy = timed_pool\nperiod = 0.5\npool_keep = 3\n"
          "[clients]\nclients = 12\nrate_real = 2.5\n",
          f);
    fclose(f);
    struct sim_params p;
    sim_params_default(&p);
    FILE *err = fopen("/dev/null", "w");
    CHECK(sim_params_load_ini(&p, path, err));
    CHECK(p.layers == 4 && p.width == 7 && p.link_delay == 0.02 && p.clients == 12);
    CHECK(p.strategy == MIXQ_TIMED_POOL && p.period == 0.5 && p.pool_keep == 3);
    CHECK(p.rate_real == 2.5);

    f = fopen(path, "w");
    fputs("[network]\nlayers = three\n", f);
    fclose(f);
    CHECK(!sim_params_load_ini(&p, path, err));
    f = fopen(path, "w");
    fputs("[network]\nno_such_key = 1\n", f);
    fclose(f);
    CHECK(!sim_params_load_ini(&p, path, err));
    f = fopen(path, "w");
    fputs("[network\nlayers = 2\n", f);
    fclose(f);
    CHECK(!sim_params_load_ini(&p, path, err));
    unlink(path);
    CHECK(!sim_params_load_ini(&p, path, err)); /* missing file */
    fclose(err);
}

/* mixsim's defaults are the shipped network's [network] values. */
static void test_defaults_are_network(void)
{
    struct sim_params p;
    struct pki_params n;
    sim_params_default(&p);
    netconf_defaults(&n);
    CHECK(p.layers == n.layers);
    CHECK(p.mean_delay == (double)n.mean_delay_us / 1e6);
    CHECK(p.max_delay == (double)n.max_delay_us / 1e6);
    CHECK(p.rate_payload == (double)n.lambda_p_mhz / 1000);
    CHECK(p.rate_loop == (double)n.lambda_l_mhz / 1000);
    CHECK(p.rate_drop == (double)n.lambda_d_mhz / 1000);
    CHECK(p.rate_mix_loop == (double)n.lambda_m_mhz / 1000);
    CHECK(p.strategy == MIXQ_POISSON && n.strategy == PKI_STRATEGY_POISSON);
    CHECK(p.period == (double)n.pool_interval_us / 1e6);
    CHECK(p.pool_keep == n.pool_keep && p.threshold == n.threshold_n);
    CHECK(p.rate_real < p.rate_payload); /* the payload stream keeps up */
}

/* An authority's configuration, as is: [network] with its names and units. */
static void test_network_section(void)
{
    char path[] = "/tmp/test_sim_netXXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    FILE *f = fdopen(fd, "w");
    fputs("[mixdir]\nlisten = 0.0.0.0:7000\ndata_dir = /x\n"
          "[network]\nauthority = 192.0.2.10:7000 KEY1 KEY2\nthreshold = 2\n"
          "epoch_length = 20m\ngenesis = 1767225600\ngrace = 2m\nvote_lead = 5m\n"
          "exchange_window = 30s\nkey_ahead_epochs = 4\nmax_hops = 6\npayload_len = 2048\n"
          "layers = 4\nmean_delay = 80ms\nmax_delay = 3s\nlambda_p = 3.5\nlambda_l = 0.25\n"
          "lambda_d = 0\nlambda_m = 1\nstrategy = timed_pool\npool_interval = 500ms\n"
          "pool_keep = 7\nthreshold_n = 20\nwidth = 5\n"
          "[registration]\nopen = yes\n[limits]\nmax_connections = 512\n",
          f);
    fclose(f);
    struct sim_params p;
    sim_params_default(&p);
    FILE *err = fopen("/dev/null", "w");
    CHECK(sim_params_load_ini(&p, path, err));
    CHECK(p.layers == 4 && p.width == 5 && fabs(p.mean_delay - 0.08) < 1e-12);
    CHECK(p.max_delay == 3 && p.rate_payload == 3.5 && p.rate_loop == 0.25);
    CHECK(p.rate_drop == 0 && p.rate_mix_loop == 1 && p.strategy == MIXQ_TIMED_POOL);
    CHECK(p.period == 0.5 && p.pool_keep == 7);
    CHECK(p.threshold == 20); /* threshold_n; `threshold` is the authorities' */
    /* Keys present only: a flag given before -c keeps its value. */
    f = fopen(path, "w");
    fputs("[network]\nlambda_p = 4\n", f);
    fclose(f);
    sim_params_default(&p);
    p.mean_delay = 0.3;
    CHECK(sim_params_load_ini(&p, path, err) && p.rate_payload == 4 && p.mean_delay == 0.3);
    /* What mixdir refuses, mixsim refuses. */
    static const char *const bad[] = {
        "[network]\nmean_delay = 50 parsecs\n",
        "[network]\nlambda_p = -1\n",
        "[network]\nlayers = 4\n",
        "[network]\nstrategy = fifo\n",
        "[network]\nlamda_p = 2\n",
        "[network]\nmean_delay = 3s\n",
    };
    for (size_t i = 0; i < MIX_ARRAY_LEN(bad); i++) {
        f = fopen(path, "w");
        fputs(bad[i], f);
        fclose(f);
        sim_params_default(&p);
        CHECKF(!sim_params_load_ini(&p, path, err), "accepted %s", bad[i]);
    }
    unlink(path);
    fclose(err);
}

static void test_summary(void)
{
    double v[] = { 5, 1, 4, 2, 3 };
    struct sim_summary s;
    stats_summary(v, 5, &s);
    CHECK(s.n == 5 && s.mean == 3 && s.median == 3 && s.min == 1 && s.max == 5);
    CHECK(fabs(s.p25 - 2) < 1e-12 && fabs(s.p5 - 1.2) < 1e-12);
    CHECK(fabs(s.se - sqrt(2.5) / sqrt(5)) < 1e-12);
    stats_summary(v, 0, &s);
    CHECK(s.n == 0 && s.mean == 0);
    double one = 7;
    stats_summary(&one, 1, &s);
    CHECK(s.mean == 7 && s.se == 0 && s.p5 == 7);
}

static void test_hist(void)
{
    static struct sim_hist h;
    hist_init(&h);
    CHECK(hist_quantile(&h, 0.5) == 0 && hist_mean(&h) == 0);
    /* 1..100000 ms uniformly: quantiles within the 0.6 % bin width. */
    for (int i = 1; i <= 100000; i++)
        hist_add(&h, i * 1e-3);
    CHECK(fabs(hist_mean(&h) - 50.0005) < 1e-9);
    for (double q = 0.05; q < 1; q += 0.1) {
        double want = q * 100.0;
        CHECKF(fabs(hist_quantile(&h, q) - want) / want < 0.007, "q %.2f: %g", q,
               hist_quantile(&h, q));
    }
    CHECK(hist_quantile(&h, 1.0) <= 100.0 && hist_quantile(&h, 0) >= 1e-3);
    hist_add(&h, 0);
    hist_add(&h, 1e9);
    CHECK(h.count == 100002 && h.max == 1e9 && h.min == 0);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    RUN(test_defaults_roundtrip);
    RUN(test_bad_values);
    RUN(test_checks);
    RUN(test_ini);
    RUN(test_defaults_are_network);
    RUN(test_network_section);
    RUN(test_summary);
    RUN(test_hist);
    return tap_done();
}
