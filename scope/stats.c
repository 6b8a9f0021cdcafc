/* Statistics for mixscope; see stats.h. */
#include "stats.h"

#include <math.h>
#include <stdlib.h>

int rsv_init(struct rsv *r, uint32_t cap, uint64_t seed)
{
    *r = (struct rsv){ .cap = cap, .rng = seed | 1 };
    r->v = malloc(sizeof(double) * cap);
    return r->v == NULL ? -1 : 0;
}

void rsv_free(struct rsv *r)
{
    free(r->v);
    r->v = NULL;
}

static uint64_t xorshift(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

void rsv_add(struct rsv *r, double x)
{
    r->seen++;
    r->sum += x;
    if (r->v == NULL)
        return;
    if (r->n < r->cap) {
        r->v[r->n++] = x;
        return;
    }
    uint64_t j = xorshift(&r->rng) % r->seen;
    if (j < r->cap)
        r->v[j] = x;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double rsv_quantile(struct rsv *r, double q)
{
    if (r->n == 0)
        return 0;
    qsort(r->v, r->n, sizeof(double), cmp_d);
    double pos = q * (r->n - 1);
    size_t i = (size_t)pos;
    if (i + 1 >= r->n)
        return r->v[r->n - 1];
    return r->v[i] + (pos - (double)i) * (r->v[i + 1] - r->v[i]);
}

double ks_q(double lambda)
{
    if (lambda < 0.2)
        return 1.0;
    double sum = 0, sign = 1;
    for (int j = 1; j <= 100; j++) {
        double term = sign * exp(-2.0 * j * j * lambda * lambda);
        sum += term;
        if (fabs(term) < 1e-12 * fabs(sum))
            break;
        sign = -sign;
    }
    double p = 2 * sum;
    return p < 0 ? 0 : p > 1 ? 1 : p;
}

void ks_2samp(struct rsv *a, struct rsv *b, double *d, double *p)
{
    *d = 0;
    *p = 1;
    if (a->n == 0 || b->n == 0)
        return;
    qsort(a->v, a->n, sizeof(double), cmp_d);
    qsort(b->v, b->n, sizeof(double), cmp_d);
    size_t i = 0, j = 0;
    double dmax = 0;
    while (i < a->n && j < b->n) {
        double x = a->v[i] <= b->v[j] ? a->v[i] : b->v[j];
        while (i < a->n && a->v[i] <= x)
            i++;
        while (j < b->n && b->v[j] <= x)
            j++;
        double diff = fabs((double)i / a->n - (double)j / b->n);
        if (diff > dmax)
            dmax = diff;
    }
    double en = sqrt((double)a->n * b->n / (double)(a->n + b->n));
    *d = dmax;
    *p = ks_q((en + 0.12 + 0.11 / en) * dmax);
}

static double log_binom_pmf(uint64_t k, uint64_t n, double p)
{
    if (p <= 0)
        return k == 0 ? 0 : -INFINITY;
    if (p >= 1)
        return k == n ? 0 : -INFINITY;
    return lgamma((double)n + 1) - lgamma((double)k + 1) - lgamma((double)(n - k) + 1) +
           (double)k * log(p) + (double)(n - k) * log1p(-p);
}

double binom_upper(uint64_t k, uint64_t n, double p)
{
    if (k == 0)
        return 1;
    if (k > n)
        return 0;
    double s = 0;
    for (uint64_t i = k; i <= n; i++) {
        double t = exp(log_binom_pmf(i, n, p));
        s += t;
        if (t < 1e-18 * s && (double)i > n * p)
            break;
    }
    return s > 1 ? 1 : s;
}

double poisson_rate_p(uint64_t na, double ta, uint64_t nb, double tb)
{
    uint64_t n = na + nb;
    if (n == 0 || ta <= 0 || tb <= 0)
        return 1;
    double p = ta / (ta + tb);
    /* Two-sided: the probability of every outcome no likelier than the one observed. */
    double lo = log_binom_pmf(na, n, p) + 1e-9;
    double s = 0;
    for (uint64_t i = 0; i <= n; i++) {
        double l = log_binom_pmf(i, n, p);
        if (l <= lo)
            s += exp(l);
    }
    return s > 1 ? 1 : s;
}
