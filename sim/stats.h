/*
 * Summary statistics for the simulator: order statistics over a sample and
 * a log-binned histogram for latencies (millions of values, fixed memory).
 */
#ifndef SIM_STATS_H
#define SIM_STATS_H

#include "common.h"

struct sim_summary {
    uint32_t n;
    double mean;
    /*
     * se: standard error of the mean; ci95: half-width of the 95 %
     * confidence interval, t(dof) x se.  How se is computed depends on the
     * caller: stats_summary over independent values, stats_summary_batched
     * by batch means, stats_across over per-seed means.
     */
    double se, ci95;
    uint32_t dof; /* degrees of freedom of se (0: none) */
    double min, p5, p25, median, p75, p95, max;
};

/* Summarise vals[0..n) (reordered in place), se = sd / sqrt(n).  n = 0 gives all zeros. */
void stats_summary(double *vals, size_t n, struct sim_summary *out);

/*
 * Like stats_summary, but vals[0..n) are in time order and correlated
 * (targets that shared pools and rounds): se comes from the means of
 * `batches` contiguous batches, se = sd(batch means) / sqrt(batches), with
 * batches - 1 degrees of freedom.  Fewer than 2 x batches values: no se.
 */
void stats_summary_batched(double *vals, size_t n, uint32_t batches, struct sim_summary *out);

/*
 * Across independent replications: means[0..n) are per-seed means; out gets
 * their mean, se = sd / sqrt(n) and ci95 with n - 1 degrees of freedom.
 * The order statistics are the averages of the per-seed ones in `each`.
 */
void stats_across(const struct sim_summary *each, size_t n, struct sim_summary *out);

/* The 0.975 quantile of Student's t with dof degrees of freedom (1.96 for dof 0). */
double stats_t975(uint32_t dof);

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
