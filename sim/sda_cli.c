/* `mixsim sda`: repeated statistical disclosure runs and their summary. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mixq.h"
#include "sda.h"

static const char *const attacker_name[SDA_ATTACKERS] = { "sda", "md" };

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of the successful runs' values (NaN if none). */
static double median(double *v, size_t n)
{
    if (n == 0)
        return NAN;
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#define SDA_USAGE                                                                                  \
    "usage: mixsim sda [--FLAG VALUE ...] [--trace FILE.csv] [--csv [--no-header]]\n"              \
    "Statistical disclosure (Danezis) and Mathewson-Dingledine attacks on user 0's\n"              \
    "contacts; see mixsim(1) and docs/sim.md.  --trace replays send events\n"                      \
    "(time,sender,recipient) against --target instead.  Flags and defaults:\n"

static void print_summary(const struct sda_params *p, struct sda_result *res)
{
    printf("statistical disclosure: N=%u m=%u strategy=%s cover=%g runs=%u%s\n",
           p->trace ? p->trace->users : p->users, p->contacts, aopt_strategy_name(p->strategy),
           p->cover, p->repeat, p->trace ? " (trace)" : "");
    double *v = malloc(3 * p->repeat * sizeof *v);
    if (v == NULL)
        return;
    for (int k = 0; k < SDA_ATTACKERS; k++) {
        size_t ok = 0;
        double h = 0;
        for (uint32_t i = 0; i < p->repeat; i++) {
            h += res[i].a[k].h_profile / p->repeat;
            if (!res[i].a[k].success)
                continue;
            v[ok] = res[i].a[k].time_s;
            v[p->repeat + ok] = (double)res[i].a[k].target_msgs;
            v[2 * p->repeat + ok] = (double)res[i].a[k].rounds;
            ok++;
        }
        printf("  %-4s success %zu/%u  median time %.6g s  target messages %.6g  rounds %.6g"
               "  profile entropy %.3f bits\n",
               attacker_name[k], ok, p->repeat, median(v, ok), median(v + p->repeat, ok),
               median(v + 2 * p->repeat, ok), h);
    }
    printf("  true profile entropy %.3f bits\n", res[0].h_true);
    if (p->strategy == MIXQ_THRESHOLD && p->zipf == 0 && p->trace == NULL)
        printf("  closed form (basic SDA, uniform background, b=%u): t > %.6g (l=1), %.6g (l=2)\n",
               p->threshold, sda_rounds_closed_form(p->users, p->contacts, p->threshold, 1),
               sda_rounds_closed_form(p->users, p->contacts, p->threshold, 2));
    free(v);
}

int cmd_sda(int argc, char **argv)
{
    struct sda_params p;
    sda_params_default(&p);
    const char *trace_path = NULL;
    struct aopt_out o;
    int go = aopt_cli("sda", SDA_USAGE, sda_opts, sda_opt_count, &p, "--trace", &trace_path, argc,
                      argv, &o);
    if (go <= 0)
        return go < 0 ? 2 : 0;
    struct trace tr = { 0 };
    if (trace_path != NULL) {
        char twhy[300];
        if (!trace_load(trace_path, &tr, twhy, sizeof twhy)) {
            fprintf(stderr, "mixsim sda: %s\n", twhy);
            return 2;
        }
        p.trace = &tr;
    }
    const char *why = NULL;
    if (!sda_params_check(&p, &why)) {
        fprintf(stderr, "mixsim sda: %s\n", why);
        trace_free(&tr);
        return 2;
    }
    if (p.trace != NULL) { /* the contacts are the trace's */
        p.users = tr.users;
        p.contacts = sda_trace_contacts(&tr, p.target);
    }
    struct sda_result *res = calloc(p.repeat, sizeof *res);
    if (res == NULL) {
        trace_free(&tr);
        return 1;
    }
    if (o.csv && o.header)
        printf("seed,users,contacts,strategy,cover,attacker,success,time_s,target_msgs,rounds,"
               "h_profile,h_true\n");
    int rc = 0;
    for (uint32_t i = 0; i < p.repeat && rc == 0; i++) {
        struct sda_params q = p;
        q.seed = p.seed + i;
        if (sda_run(&q, &res[i]) < 0) {
            fprintf(stderr, "mixsim sda: out of memory\n");
            rc = 1;
            break;
        }
        for (int k = 0; o.csv && k < SDA_ATTACKERS; k++)
            printf("%llu,%u,%u,%s,%g,%s,%d,%.6g,%llu,%llu,%.4f,%.4f\n", (unsigned long long)q.seed,
                   q.users, q.contacts, aopt_strategy_name(q.strategy), q.cover, attacker_name[k],
                   res[i].a[k].success, res[i].a[k].time_s,
                   (unsigned long long)res[i].a[k].target_msgs,
                   (unsigned long long)res[i].a[k].rounds, res[i].a[k].h_profile, res[i].h_true);
    }
    if (rc == 0 && !o.csv)
        print_summary(&p, res);
    free(res);
    trace_free(&tr);
    return rc == 0 && fflush(stdout) == 0 ? 0 : 1;
}
