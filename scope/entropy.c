/* Captured link events driving sim/engine; see entropy.h. */
#include "entropy.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Vectors waiting in order: a corrupt mix's inputs, or a gateway's tagged client packets. */
struct vq {
    struct engine_vec *v; /* ENTROPY_QUEUE, allocated at first use */
    uint32_t head, n;
};

/* A mix's pool as the observer counts it. */
struct pool {
    int64_t nc, nc_min; /* inputs - outputs so far, and its minimum */
    int64_t t_first, t_last;
    double area; /* integral of nc over time, ns */
    uint64_t inputs;
    int64_t mean_delay; /* this node's own, 0: the document's */
    bool corrupt;
};

struct entropy {
    struct engine *eng;
    uint32_t mixes, gateways;
    int64_t interval, last_start, mean_delay;
    bool started_any, truth;
    uint64_t msgs;
    struct pool *pool;
    struct vq *mq, *gq; /* per mix (corrupt ones), per gateway (truth mode) */
    uint8_t *window;    /* per target: the windows it started in */
    size_t window_cap;
    uint64_t started, dropped;
};

struct entropy *entropy_new(uint32_t mixes, uint32_t gateways, int64_t interval_ns,
                            int64_t mean_delay_ns)
{
    if (mixes > ENTROPY_MAX_MIXES || gateways > ENTROPY_MAX_GATEWAYS)
        return NULL;
    struct entropy *e = calloc(1, sizeof(*e));
    if (e == NULL)
        return NULL;
    e->mixes = mixes;
    e->gateways = gateways;
    e->interval = interval_ns;
    e->mean_delay = mean_delay_ns;
    /* Recipients are the gateways; the extra one stands for every sender, never a recipient. */
    e->eng = engine_new(mixes, gateways + 1, ENTROPY_PRUNE);
    e->pool = calloc(mixes + 1, sizeof(*e->pool));
    e->mq = calloc(mixes + 1, sizeof(*e->mq));
    e->gq = calloc(gateways + 1, sizeof(*e->gq));
    if (e->eng == NULL || e->pool == NULL || e->mq == NULL || e->gq == NULL) {
        entropy_free(e);
        return NULL;
    }
    return e;
}

static void vq_free(struct entropy *e, struct vq *q)
{
    if (q->v == NULL)
        return;
    for (uint32_t i = 0; i < q->n; i++)
        engine_vec_free(e->eng, &q->v[(q->head + i) % ENTROPY_QUEUE]);
    free(q->v);
}

void entropy_free(struct entropy *e)
{
    if (e == NULL)
        return;
    for (uint32_t i = 0; e->mq != NULL && i < e->mixes; i++)
        vq_free(e, &e->mq[i]);
    for (uint32_t i = 0; e->gq != NULL && i < e->gateways; i++)
        vq_free(e, &e->gq[i]);
    engine_free(e->eng);
    free(e->pool);
    free(e->mq);
    free(e->gq);
    free(e->window);
    free(e);
}

void entropy_set_mean_delay(struct entropy *e, int64_t mean_delay_ns)
{
    e->mean_delay = mean_delay_ns;
}

void entropy_set_node_delay(struct entropy *e, uint32_t mix, int64_t mean_delay_ns)
{
    if (mix < e->mixes)
        e->pool[mix].mean_delay = mean_delay_ns;
}

void entropy_set_corrupt(struct entropy *e, uint32_t mix)
{
    if (mix < e->mixes)
        e->pool[mix].corrupt = true;
}

void entropy_set_truth(struct entropy *e, bool on)
{
    e->truth = on;
}

/* Append v (emptied); a full queue drops its oldest vector's mass (counted as pruned). */
static void vq_push(struct entropy *e, struct vq *q, struct engine_vec *v)
{
    if (q->v == NULL && (q->v = calloc(ENTROPY_QUEUE, sizeof(*q->v))) == NULL) {
        e->dropped++;
        engine_drop(e->eng, v, false);
        return;
    }
    if (q->n == ENTROPY_QUEUE) {
        if (q->v[q->head].n > 0)
            e->dropped++;
        engine_drop(e->eng, &q->v[q->head], false);
        q->head = (q->head + 1) % ENTROPY_QUEUE;
        q->n--;
    }
    q->v[(q->head + q->n) % ENTROPY_QUEUE] = *v;
    q->n++;
    *v = (struct engine_vec){ 0 };
}

/* The oldest vector into v (empty if none). */
static void vq_pop(struct vq *q, struct engine_vec *v)
{
    if (q->n == 0)
        return;
    *v = q->v[q->head];
    q->v[q->head] = (struct engine_vec){ 0 };
    q->head = (q->head + 1) % ENTROPY_QUEUE;
    q->n--;
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
    int64_t delay = p->mean_delay > 0 ? p->mean_delay : e->mean_delay;
    if (delay > 0 && span > 1000000000LL) {
        double area = p->area + (double)p->nc * (double)(t - p->t_last);
        double rate = (double)p->inputs / (double)span; /* per ns */
        offset = rate * (double)delay - area / (double)span;
    }
    double n = (double)p->nc + offset;
    return n < 1 ? 1 : n;
}

static bool tag(struct entropy *e, struct engine_vec *v, int64_t t, unsigned window)
{
    int32_t j = engine_tag(e->eng, v, e->gateways, (uint64_t)(t / 1000));
    if (j < 0) {
        e->dropped++;
        return false;
    }
    if ((size_t)j >= e->window_cap) {
        size_t nc = e->window_cap ? e->window_cap * 2 : 1024;
        uint8_t *w = realloc(e->window, nc);
        if (w == NULL) {
            e->dropped++;
            engine_drop(e->eng, v, false);
            return false;
        }
        memset(w + e->window_cap, 0, nc - e->window_cap);
        e->window = w;
        e->window_cap = nc;
    }
    e->window[j] = (uint8_t)window;
    e->started++;
    return true;
}

/* v leaves for dst_mix or dst_gw (or somewhere else: its mass is lost). */
static void into(struct entropy *e, int dst_mix, int dst_gw, struct engine_vec *v, int64_t t)
{
    if (dst_mix >= 0) {
        struct pool *p = &e->pool[dst_mix];
        if (p->corrupt) {
            vq_push(e, &e->mq[dst_mix], v);
            return;
        }
        pool_add(p, t, +1);
        engine_arrive(e->eng, (uint32_t)dst_mix, v);
    } else if (dst_gw >= 0) {
        engine_deliver(e->eng, (uint32_t)dst_gw, v);
    } else {
        engine_drop(e->eng, v, false);
    }
}

void entropy_msg(struct entropy *e, int src_mix, int src_gw, int dst_mix, int dst_gw, int64_t t,
                 unsigned window)
{
    if (src_mix >= (int)e->mixes || dst_mix >= (int)e->mixes || src_gw >= (int)e->gateways ||
        dst_gw >= (int)e->gateways)
        return;
    struct engine_vec v = { 0 };
    if (src_mix >= 0) {
        struct pool *p = &e->pool[src_mix];
        if (p->corrupt) {
            vq_pop(&e->mq[src_mix], &v);
        } else {
            double n = pool_size(e, p, t);
            pool_add(p, t, -1);
            engine_depart_est(e->eng, (uint32_t)src_mix, n, &v);
        }
        into(e, dst_mix, dst_gw, &v, t);
    } else if (src_gw >= 0 && dst_mix >= 0) {
        if (e->truth)
            vq_pop(&e->gq[src_gw], &v);
        else if (!e->started_any || t - e->last_start >= e->interval) {
            e->started_any = true;
            e->last_start = t;
            tag(e, &v, t, window);
        }
        into(e, dst_mix, -1, &v, t);
    } else if (dst_mix >= 0) {
        into(e, dst_mix, -1, &v, t);
    }
    if (++e->msgs % 256 == 0)
        engine_sweep(e->eng, false);
}

void entropy_client_real(struct entropy *e, uint32_t gw, int64_t t, unsigned window)
{
    if (gw >= e->gateways)
        return;
    struct engine_vec v = { 0 };
    if (tag(e, &v, t, window))
        vq_push(e, &e->gq[gw], &v);
}

void entropy_finish(struct entropy *e)
{
    engine_sweep(e->eng, true);
}

int entropy_summarise(const struct entropy *e, struct entropy_result *r)
{
    memset(r, 0, sizeof(*r));
    r->started = e->started;
    r->dropped = e->dropped;
    if (engine_summarise(e->eng, ENTROPY_BATCHES, &r->all) < 0)
        return -1;
    size_t n = engine_target_count(e->eng), k[2] = { 0, 0 };
    double *v = malloc((n ? n : 1) * 8 * sizeof(double)), pruned = 0;
    if (v == NULL)
        return -1;
    /* Per window, the same statistics over the finished targets that started in it. */
    for (size_t j = 0; j < n; j++) {
        const struct sim_target *t = engine_target(e->eng, j);
        pruned += t->pruned;
        if (!t->finished)
            continue;
        const double x[4] = { t->h_msg, t->hmin_msg, t->h_rcpt, t->hmin_rcpt };
        for (int w = 0; w < 2; w++) {
            if (j >= e->window_cap || !(e->window[j] & (1u << w)))
                continue;
            for (int m = 0; m < 4; m++)
                v[((size_t)w * 4 + (size_t)m) * n + k[w]] = x[m];
            k[w]++;
        }
    }
    for (int w = 0; w < 2; w++)
        for (int m = 0; m < 4; m++)
            stats_summary_batched(&v[((size_t)w * 4 + (size_t)m) * n], k[w], ENTROPY_BATCHES,
                                  &r->win[w][m]);
    r->mean_pruned = n ? pruned / (double)n : 0;
    free(v);
    return 0;
}

size_t entropy_targets(const struct entropy *e)
{
    return engine_target_count(e->eng);
}

const struct sim_target *entropy_target(const struct entropy *e, size_t j)
{
    return engine_target(e->eng, j);
}
