/*
 * Summary statistics (see stats.h).
 */
#include "stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double stats_quantile_sorted(const double *sorted, size_t n, double q)
{
    if (n == 0)
        return 0;
    double pos = q * (double)(n - 1);
    size_t i = (size_t)pos;
    if (i + 1 >= n)
        return sorted[n - 1];
    double frac = pos - (double)i;
    return sorted[i] + (sorted[i + 1] - sorted[i]) * frac;
}

void stats_summary(double *vals, size_t n, struct sim_summary *out)
{
    memset(out, 0, sizeof *out);
    if (n == 0)
        return;
    qsort(vals, n, sizeof *vals, cmp_double);
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += vals[i];
    double mean = sum / (double)n, ss = 0;
    for (size_t i = 0; i < n; i++)
        ss += (vals[i] - mean) * (vals[i] - mean);
    out->n = (uint32_t)n;
    out->mean = mean;
    out->se = n > 1 ? sqrt(ss / (double)(n - 1)) / sqrt((double)n) : 0;
    out->min = vals[0];
    out->max = vals[n - 1];
    out->p5 = stats_quantile_sorted(vals, n, 0.05);
    out->p25 = stats_quantile_sorted(vals, n, 0.25);
    out->median = stats_quantile_sorted(vals, n, 0.5);
    out->p75 = stats_quantile_sorted(vals, n, 0.75);
    out->p95 = stats_quantile_sorted(vals, n, 0.95);
}

void hist_init(struct sim_hist *h)
{
    memset(h, 0, sizeof *h);
}

void hist_add(struct sim_hist *h, double v)
{
    long b = v > 1e-6 ? lround(floor((log10(v) + 6.0) * HIST_PER_DECADE)) : 0;
    if (b < 0)
        b = 0;
    if (b >= HIST_BINS)
        b = HIST_BINS - 1;
    h->bin[b]++;
    if (h->count == 0 || v < h->min)
        h->min = v;
    if (h->count == 0 || v > h->max)
        h->max = v;
    h->count++;
    h->sum += v;
}

double hist_mean(const struct sim_hist *h)
{
    return h->count ? h->sum / (double)h->count : 0;
}

double hist_quantile(const struct sim_hist *h, double q)
{
    if (h->count == 0)
        return 0;
    double want = q * (double)h->count;
    uint64_t acc = 0;
    for (size_t b = 0; b < HIST_BINS; b++) {
        if (h->bin[b] == 0)
            continue;
        if ((double)(acc + h->bin[b]) >= want) {
            /* Interpolate inside the bin on the log scale. */
            double f = h->bin[b] ? (want - (double)acc) / (double)h->bin[b] : 0;
            double v = pow(10.0, ((double)b + f) / HIST_PER_DECADE - 6.0);
            return v < h->min ? h->min : v > h->max ? h->max : v;
        }
        acc += h->bin[b];
    }
    return h->max;
}
