/*
 * mixsim: the anonymity simulator's command line.  See docs/man/mixsim.1.
 *
 *   mixsim [run] [-c sim.ini] [--param value ...] [--csv|--json] [--progress]
 *   mixsim sweep ...    mixsim merge ...    mixsim params
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "report.h"
#include "retx.h"
#include "active.h"
#include "sda.h"
#include "unlink.h"
#include "sim.h"

void usage(FILE *f)
{
    fputs("usage: mixsim [run] [-c FILE] [--PARAM VALUE ...] [--csv [--no-header] | --json]\n"
          "              [--targets-csv FILE] [--latency-csv FILE] [--progress | --no-progress] "
          "[-q]\n"
          "       mixsim sweep [-c FILE] [--PARAM VALUE ...] --vary PARAM=LIST ...\n"
          "              [--repeat N] [-j N] [-o OUT.csv] [--jobs]\n"
          "       mixsim merge [--allow-duplicates] [--allow-missing] FILE.csv ... [-o OUT.csv]\n"
          "       mixsim params          list every parameter with its default\n"
          "       mixsim sda [--FLAG VALUE ...] [--trace FILE.csv] [--csv [--no-header]]\n"
          "       mixsim unlink|nminus1|flood|retx [--FLAG VALUE ...] [--csv [--no-header]]\n"
          "              statistical disclosure, sender unlinkability, active attacks, loss and\n"
          "              retransmission; each lists its flags with --help\n"
          "       mixsim -h | --help | -V | --version\n"
          "A LIST is v1,v2,... or FROM:TO[:STEP].  Parameters come from the INI file\n"
          "and then from flags, in order; its [network] section is read as the directory\n"
          "authorities read it (lambda_p, \"50ms\"), so -c dir.ini works.  Defaults are\n"
          "the shipped network's.  --repeat N aggregates N seeds.  See mixsim(1), docs/sim.md.\n",
          f);
}

static void list_params(void)
{
    struct sim_params p;
    char buf[SIM_LIST_LEN + 32];
    sim_params_default(&p);
    for (size_t i = 0; i < sim_param_count; i++) {
        const struct sim_param_desc *d = &sim_param_table[i];
        sim_param_format(&p, d, buf, sizeof buf);
        printf("%-16s %-12s %s\n", d->name, buf[0] ? buf : "\"\"", d->help);
    }
}

struct progress {
    struct timespec t0;
    bool enabled, shown;
};

static double since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* A bar on stderr, shown only once a run has taken more than 2 s. */
static void on_progress(void *arg, double t, double end, uint64_t events)
{
    struct progress *pr = arg;
    if (!pr->enabled)
        return;
    double wall = since(&pr->t0);
    if (wall < 2.0)
        return;
    double frac = end > 0 ? t / end : 1;
    int fill = (int)(frac * 40);
    char bar[41];
    memset(bar, '#', (size_t)fill);
    memset(bar + fill, '.', (size_t)(40 - fill));
    bar[40] = '\0';
    fprintf(stderr, "\r[%s] %3.0f%%  t=%.1f/%.0f s  %.2g events/s ", bar, frac * 100, t, end,
            (double)events / wall);
    pr->shown = true;
}

/* The optional per-target and latency-histogram files. */
static int write_dumps(const struct sim *s, const struct sim_results *r, const char *targets,
                       const char *latency)
{
    const char *names[2] = { targets, latency };
    for (int k = 0; k < 2; k++) {
        if (names[k] == NULL)
            continue;
        FILE *f = fopen(names[k], "w");
        if (f == NULL) {
            fprintf(stderr, "mixsim: cannot write %s\n", names[k]);
            return 1;
        }
        if (k == 0)
            report_targets_csv(f, s);
        else
            report_latency_csv(f, r);
        if (fclose(f) != 0) {
            fprintf(stderr, "mixsim: cannot write %s\n", names[k]);
            return 1;
        }
    }
    return 0;
}

struct run_opts {
    enum { HUMAN, CSV, JSON } fmt;
    bool header, progress;
    const char *targets_csv, *latency_csv;
};

/* Parameters and output options of `mixsim run`; 0, 1 for --help, -1 on error. */
static int parse_run(int argc, char **argv, int first, struct sim_params *p, struct run_opts *o)
{
    *o = (struct run_opts){ .fmt = HUMAN, .header = true, .progress = isatty(2) != 0 };
    sim_params_default(p);
    for (int i = first; i < argc; i++) {
        int r = cli_param_flag(p, argc, argv, &i);
        if (r < 0)
            return -1;
        if (r > 0)
            continue;
        const char *a = argv[i];
        if (strcmp(a, "--csv") == 0)
            o->fmt = CSV;
        else if (strcmp(a, "--json") == 0)
            o->fmt = JSON;
        else if (strcmp(a, "--no-header") == 0)
            o->header = false;
        else if (strcmp(a, "--targets-csv") == 0 && i + 1 < argc)
            o->targets_csv = argv[++i];
        else if (strcmp(a, "--latency-csv") == 0 && i + 1 < argc)
            o->latency_csv = argv[++i];
        else if (strcmp(a, "--progress") == 0)
            o->progress = true;
        else if (strcmp(a, "--no-progress") == 0 || strcmp(a, "-q") == 0)
            o->progress = false;
        else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
            return 1;
        else {
            fprintf(stderr, "mixsim: unknown argument '%s' (try --help)\n", a);
            return -1;
        }
    }
    return 0;
}

static int cmd_run(int argc, char **argv, int first)
{
    struct sim_params p;
    struct run_opts o;
    int pr_rc = parse_run(argc, argv, first, &p, &o);
    if (pr_rc != 0) {
        if (pr_rc > 0)
            usage(stdout);
        return pr_rc > 0 ? 0 : 2;
    }
    const char *why = NULL;
    struct progress pr = { .enabled = o.progress };
    clock_gettime(CLOCK_MONOTONIC, &pr.t0);
    struct sim *s = NULL;
    static struct sim_results agg; /* big (histograms): not on the stack */
    const struct sim_results *r = &agg;
    int rc;
    if (p.repeat > 1) {
        if (o.targets_csv != NULL) {
            fprintf(stderr, "mixsim: --targets-csv needs repeat 1 (one seed)\n");
            return 2;
        }
        rc = sim_run_repeat(&p, &agg, on_progress, &pr, &why);
        if (rc == 2) {
            fprintf(stderr, "mixsim: %s\n", why ? why : "cannot start");
            return 2;
        }
    } else {
        s = sim_new(&p, &why);
        if (s == NULL) {
            fprintf(stderr, "mixsim: %s\n", why ? why : "cannot start");
            return 2;
        }
        rc = sim_run(s, on_progress, &pr);
        r = sim_results(s);
        p = *sim_params_of(s);
    }
    if (pr.shown)
        fputc('\n', stderr);
    if (rc < 0) {
        fprintf(stderr, "mixsim: out of memory\n");
        sim_free(s);
        return 1;
    }
    char few[512];
    if (sim_few_targets_why(&p, r, few, sizeof few))
        fprintf(stderr, "mixsim: warning: %s\n", few);
    if (o.fmt == CSV) {
        if (o.header)
            report_csv_header(stdout);
        report_csv_row(stdout, &p, r);
    } else if (o.fmt == JSON) {
        report_json(stdout, &p, r);
    } else {
        report_human(stdout, &p, r);
    }
    rc = 0;
    if (o.latency_csv != NULL || o.targets_csv != NULL)
        rc = write_dumps(s, r, o.targets_csv, o.latency_csv);
    sim_free(s);
    return fflush(stdout) == 0 ? rc : 1;
}

int main(int argc, char **argv)
{
    if (argv[0] != NULL)
        cli_argv0 = argv[0];
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage(stdout);
        return 0;
    }
    if (argc > 1 && (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0)) {
        printf("mixsim %s\n", MIX_VERSION);
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "params") == 0) {
        list_params();
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "sweep") == 0)
        return cmd_sweep(argc - 2, argv + 2);
    if (argc > 1 && strcmp(argv[1], "merge") == 0)
        return cmd_merge(argc - 2, argv + 2);
    if (argc > 1 && strcmp(argv[1], "sda") == 0)
        return cmd_sda(argc - 2, argv + 2);
    if (argc > 1 && strcmp(argv[1], "unlink") == 0)
        return cmd_unlink(argc - 2, argv + 2);
    if (argc > 1 && strcmp(argv[1], "nminus1") == 0)
        return cmd_nminus1(argc - 2, argv + 2);
    if (argc > 1 && strcmp(argv[1], "flood") == 0)
        return cmd_flood(argc - 2, argv + 2);
    if (argc > 1 && strcmp(argv[1], "retx") == 0)
        return cmd_retx(argc - 2, argv + 2);
    if (argc > 1 && strcmp(argv[1], "run") == 0)
        return cmd_run(argc, argv, 2);
    return cmd_run(argc, argv, 1);
}
