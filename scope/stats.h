/*
 * The statistics mixscope reports: bounded samples (reservoirs), quantiles,
 * the two-sample Kolmogorov-Smirnov test and the conditional binomial test
 * of two Poisson rates.  Pure functions, no I/O.
 */
#ifndef SCOPE_STATS_H
#define SCOPE_STATS_H

#include <stddef.h>
#include <stdint.h>

/* A uniform sample of at most cap values out of all those added (Vitter's algorithm R). */
struct rsv {
    uint64_t seen;
    uint32_t n, cap;
    uint64_t rng;
    double sum; /* of every value added, for an exact mean */
    double *v;
};

int rsv_init(struct rsv *r, uint32_t cap, uint64_t seed);
void rsv_free(struct rsv *r);
void rsv_add(struct rsv *r, double x);
/* Sorts the sample in place; q in [0,1]; 0 for an empty sample. */
double rsv_quantile(struct rsv *r, double q);

/* Two-sample KS on the samples of a and b (both sorted in place): D and its asymptotic p-value. */
void ks_2samp(struct rsv *a, struct rsv *b, double *d, double *p);
/* The Kolmogorov distribution's survival function Q_KS(lambda). */
double ks_q(double lambda);

/*
 * Two Poisson counts na over duration ta and nb over tb: the two-sided p-value of equal rates,
 * from the exact binomial test of na ~ Bin(na + nb, ta / (ta + tb)).
 */
double poisson_rate_p(uint64_t na, double ta, uint64_t nb, double tb);
/* P(X >= k) for X ~ Bin(n, p). */
double binom_upper(uint64_t k, uint64_t n, double p);

#endif
