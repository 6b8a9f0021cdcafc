/* Message-level entropy of observed target packets; see entropy.h. */
#include "entropy.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct target {
    bool used;
    int64_t t0;
    unsigned window;
    double inflight;            /* mass still inside mixes */
    double delivered;           /* mass that reached a gateway */
    double plogp;               /* sum over departures of -m log2 m */
    double *mass;               /* per mix */
};

/* A mix's pool as the observer counts it. */
struct pool {
    int64_t nc, nc_min;         /* inputs - outputs so far, and its minimum */
    int64_t t_first, t_last;
    double area;                /* integral of nc over time, ns */
    uint64_t inputs;
};

struct entropy {
    int64_t interval, last_start, mean_delay;
    bool started_any;
    struct pool pool[ENTROPY_MAX_MIXES];
    struct target tg[ENTROPY_MAX_TARGETS];
    size_t active;
    struct entropy_result res;
};

struct entropy *entropy_new(int64_t interval_ns, int64_t mean_delay_ns)
{
    struct entropy *e = calloc(1, sizeof(*e));
    if (e == NULL)
        return NULL;
    e->interval = interval_ns;
    e->mean_delay = mean_delay_ns;
    for (int i = 0; i < 3; i++)
        if (rsv_init(&e->res.h[i], 8192, 11u + (unsigned)i)) {
            entropy_free(e);
            return NULL;
        }
    return e;
}

void entropy_free(struct entropy *e)
{
    if (e == NULL)
        return;
    for (size_t i = 0; i < ENTROPY_MAX_TARGETS; i++)
        free(e->tg[i].mass);
    for (int i = 0; i < 3; i++)
        rsv_free(&e->res.h[i]);
    free(e);
}

void entropy_set_mean_delay(struct entropy *e, int64_t mean_delay_ns)
{
    e->mean_delay = mean_delay_ns;
}

static void finish_target(struct entropy *e, struct target *g)
{
    e->res.lost_mass += g->inflight;
    if (g->delivered >= 0.5) {
        double h = g->plogp / g->delivered + log2(g->delivered);
        if (h < 0)
            h = 0;
        rsv_add(&e->res.h[0], h);
        for (int w = 0; w < 2; w++)
            if (g->window & (1u << w))
                rsv_add(&e->res.h[1 + w], h);
        e->res.finished++;
    } else {
        e->res.dropped++;
    }
    double *m = g->mass;
    memset(g, 0, sizeof(*g));
    g->mass = m;
    e->active--;
}

static void start_target(struct entropy *e, int mix, int64_t t, unsigned window)
{
    struct target *g = NULL;
    for (size_t i = 0; i < ENTROPY_MAX_TARGETS && g == NULL; i++)
        if (!e->tg[i].used)
            g = &e->tg[i];
    if (g == NULL) {
        e->res.dropped++;
        return;
    }
    if (g->mass == NULL && (g->mass = malloc(sizeof(double) * ENTROPY_MAX_MIXES)) == NULL) {
        e->res.dropped++;
        return;
    }
    memset(g->mass, 0, sizeof(double) * ENTROPY_MAX_MIXES);
    g->used = true;
    g->t0 = t;
    g->window = window;
    g->inflight = 1;
    g->mass[mix] = 1;
    e->active++;
    e->res.started++;
}

static void pool_add(struct pool *p, int64_t t, int delta)
{
    if (p->t_first == 0)
        p->t_first = p->t_last = t;
    if (t > p->t_last) {
        p->area += (double)p->nc * (double)(t - p->t_last);
        p->t_last = t;
    }
    p->nc += delta;
    if (p->nc < p->nc_min)
        p->nc_min = p->nc;
    if (delta > 0)
        p->inputs++;
}

/* The observer's estimate of how many messages the mix holds (see entropy.h). */
static double pool_size(const struct entropy *e, const struct pool *p, int64_t t)
{
    double offset = (double)-p->nc_min;
    int64_t span = t - p->t_first;
    if (e->mean_delay > 0 && span > 1000000000LL) {
        double area = p->area + (double)p->nc * (double)(t - p->t_last);
        double rate = (double)p->inputs / (double)span; /* per ns */
        offset = rate * (double)e->mean_delay - area / (double)span;
    }
    double n = (double)p->nc + offset;
    return n < 1 ? 1 : n;
}

void entropy_msg(struct entropy *e, int src_mix, int dst_mix, bool dst_exit, bool target,
                 int64_t t, unsigned window)
{
    if (src_mix >= ENTROPY_MAX_MIXES || dst_mix >= ENTROPY_MAX_MIXES)
        return;
    double n = 0;
    if (src_mix >= 0) {
        n = pool_size(e, &e->pool[src_mix], t);
        pool_add(&e->pool[src_mix], t, -1);
    }
    if (dst_mix >= 0)
        pool_add(&e->pool[dst_mix], t, +1);
    for (size_t i = 0; i < ENTROPY_MAX_TARGETS && e->active > 0; i++) {
        struct target *g = &e->tg[i];
        if (!g->used)
            continue;
        double om = 0;
        if (src_mix >= 0 && g->mass[src_mix] > 0) {
            om = g->mass[src_mix] / n;
            g->mass[src_mix] -= om;
        }
        if (om > 0) {
            if (dst_mix >= 0) {
                g->mass[dst_mix] += om;
            } else {
                g->inflight -= om;
                if (dst_exit) {
                    g->delivered += om;
                    g->plogp -= om * log2(om);
                } else {
                    e->res.lost_mass += om;
                }
            }
        }
        if (g->inflight < ENTROPY_DONE_MASS || t - g->t0 > ENTROPY_MAX_AGE_NS)
            finish_target(e, g);
    }
    if (target && dst_mix >= 0 && (!e->started_any || t - e->last_start >= e->interval)) {
        e->started_any = true;
        e->last_start = t;
        start_target(e, dst_mix, t, window);
    }
}

void entropy_finish(struct entropy *e)
{
    for (size_t i = 0; i < ENTROPY_MAX_TARGETS; i++)
        if (e->tg[i].used)
            finish_target(e, &e->tg[i]);
}

struct entropy_result *entropy_result(struct entropy *e) { return &e->res; }
