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
    out->dof = n > 1 ? (uint32_t)(n - 1) : 0;
    out->ci95 = n > 1 ? stats_t975(out->dof) * out->se : 0;
    out->min = vals[0];
    out->max = vals[n - 1];
    out->p5 = stats_quantile_sorted(vals, n, 0.05);
    out->p25 = stats_quantile_sorted(vals, n, 0.25);
    out->median = stats_quantile_sorted(vals, n, 0.5);
    out->p75 = stats_quantile_sorted(vals, n, 0.75);
    out->p95 = stats_quantile_sorted(vals, n, 0.95);
}

double stats_t975(uint32_t dof)
{
    static const double t[] = { 1.959964, 12.706205, 4.302653, 3.182446, 2.776445, 2.570582,
                                2.446912, 2.364624,  2.306004, 2.262157, 2.228139, 2.200985,
                                2.178813, 2.160369,  2.144787, 2.131450, 2.119905, 2.109816,
                                2.100922, 2.093024,  2.085963, 2.079614, 2.073873, 2.068658,
                                2.063899, 2.059539,  2.055529, 2.051831, 2.048407, 2.045230,
                                2.042272 };
    if (dof < MIX_ARRAY_LEN(t))
        return t[dof];
    /* Cornish-Fisher expansion: within 1e-4 beyond 30 degrees of freedom. */
    double z = 1.959964, v = dof;
    return z + (z * z * z + z) / (4 * v) + (5 * pow(z, 5) + 16 * z * z * z + 3 * z) / (96 * v * v);
}

void stats_summary_batched(double *vals, size_t n, uint32_t batches, struct sim_summary *out)
{
    double se = 0;
    uint32_t dof = 0;
    if (batches >= 2 && n >= 2 * (size_t)batches) {
        /* Batch b holds vals[b n / B, (b + 1) n / B): sizes differ by at most one. */
        double sum = 0, sq = 0, w = 0;
        for (uint32_t b = 0; b < batches; b++) {
            size_t lo = b * n / batches, hi = (b + 1) * n / batches;
            double m = 0;
            for (size_t i = lo; i < hi; i++)
                m += vals[i];
            m /= (double)(hi - lo);
            sum += m;
            sq += m * m;
            w++;
        }
        double mean = sum / w, var = (sq - w * mean * mean) / (w - 1);
        se = sqrt(var > 0 ? var : 0) / sqrt(w);
        dof = batches - 1;
    }
    stats_summary(vals, n, out);
    out->se = se;
    out->dof = dof;
    out->ci95 = dof ? stats_t975(dof) * se : 0;
}

void stats_across(const struct sim_summary *each, size_t n, struct sim_summary *out)
{
    memset(out, 0, sizeof *out);
    if (n == 0)
        return;
    double sum = 0, ss = 0;
    out->min = each[0].min;
    out->max = each[0].max;
    for (size_t i = 0; i < n; i++) {
        sum += each[i].mean;
        out->n += each[i].n;
        out->p5 += each[i].p5 / (double)n;
        out->p25 += each[i].p25 / (double)n;
        out->median += each[i].median / (double)n;
        out->p75 += each[i].p75 / (double)n;
        out->p95 += each[i].p95 / (double)n;
        out->min = fmin(out->min, each[i].min);
        out->max = fmax(out->max, each[i].max);
    }
    out->mean = sum / (double)n;
    for (size_t i = 0; i < n; i++)
        ss += (each[i].mean - out->mean) * (each[i].mean - out->mean);
    if (n > 1) {
        out->se = sqrt(ss / (double)(n - 1)) / sqrt((double)n);
        out->dof = (uint32_t)(n - 1);
        out->ci95 = stats_t975(out->dof) * out->se;
    }
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
