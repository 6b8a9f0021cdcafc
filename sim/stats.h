/*
 * Summary statistics for the simulator: order statistics over a sample and
 * a log-binned histogram for latencies (millions of values, fixed memory).
 */
#ifndef SIM_STATS_H
#define SIM_STATS_H

#include "common.h"

struct sim_summary {
    uint32_t n;
    double mean, se;            /* se: standard error of the mean, sd / sqrt(n) */
    double min, p5, p25, median, p75, p95, max;
};

/* Summarise vals[0..n) (reordered in place).  n = 0 gives all zeros. */
void stats_summary(double *vals, size_t n, struct sim_summary *out);

/* Linear-interpolated quantile q in [0,1] of sorted[0..n). */
double stats_quantile_sorted(const double *sorted, size_t n, double q);

/*
 * Histogram of values in [1e-6, 1e4) s with 400 bins per decade, so any
 * quantile is within 0.6 % of the true value; smaller values go to the first
 * bin, larger to the last.  The mean is exact.
 */
#define HIST_PER_DECADE 400
#define HIST_DECADES 10
#define HIST_BINS (HIST_PER_DECADE * HIST_DECADES)
struct sim_hist {
    uint64_t count;
    double sum, min, max;
    uint64_t bin[HIST_BINS];
};

void hist_init(struct sim_hist *h);
void hist_add(struct sim_hist *h, double v);
double hist_quantile(const struct sim_hist *h, double q);
double hist_mean(const struct sim_hist *h);

#endif
