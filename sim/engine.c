/*
 * Event-driven probability propagation (see engine.h and docs/sim.md).
 *
 * Vectors are short sparse arrays (target, p) sorted by target, carved
 * from pooled arenas in power-of-two size classes, so the hot path never
 * calls malloc.
 */
#include "engine.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rmap.h"

#define FINISH_EPS 1e-9 /* a target is done when this little mass is left */
#define NCLS 24

struct arena {
    struct arena *next;
};

struct tstate {        /* per target, while it is active */
    double hraw, maxp; /* -sum p log2 p and max p over outputs */
    struct rmap rcpt;  /* mass per recipient, sparse */
    uint32_t sender;   /* the adversary knows it, and that it is not the recipient */
    bool active;       /* still collecting mass (rcpt is freed when it finishes) */
};

struct engine {
    uint32_t nodes, recipients;
    double prune;
    struct engine_vec *S; /* pool sum per node */
    struct arena *arenas;
    struct engine_ent *free_ent[NCLS];
    struct sim_target *tg;
    struct tstate *ts;
    size_t ntg, tgcap;
    uint32_t *active;
    size_t nactive;
    size_t rcpt_bytes;
    double rcpt_bytes_peak;
    bool oom;
};

/* ------------------------------------------------------------ pooling */

static struct engine_ent *ent_get(struct engine *e, uint8_t cls)
{
    struct engine_ent *m = e->free_ent[cls];
    if (m != NULL) {
        e->free_ent[cls] = *(struct engine_ent **)(void *)m;
        return m;
    }
    /* Carve a 64 KiB arena (or one block if bigger) into blocks of this class. */
    size_t bsz = sizeof(struct engine_ent) << cls;
    size_t nb = bsz >= 65536 ? 1 : 65536 / bsz;
    struct arena *a = malloc(sizeof(struct arena) + nb * bsz + 16);
    if (a == NULL) {
        e->oom = true;
        return NULL;
    }
    a->next = e->arenas;
    e->arenas = a;
    char *base = (char *)a + ((sizeof(struct arena) + 15) & ~(size_t)15);
    for (size_t i = 1; i < nb; i++) {
        struct engine_ent *b = (struct engine_ent *)(void *)(base + i * bsz);
        *(struct engine_ent **)(void *)b = e->free_ent[cls];
        e->free_ent[cls] = b;
    }
    return (struct engine_ent *)(void *)base;
}

void engine_vec_free(struct engine *e, struct engine_vec *v)
{
    if (v->e != NULL) {
        *(struct engine_ent **)(void *)v->e = e->free_ent[v->cls];
        e->free_ent[v->cls] = v->e;
    }
    v->e = NULL;
    v->n = 0;
}

/* Make room for need entries, keeping the current ones. */
static bool vec_reserve(struct engine *e, struct engine_vec *v, uint32_t need)
{
    if (v->e != NULL && need <= (1u << v->cls))
        return true;
    uint8_t cls = 1;
    while ((1u << cls) < need && cls < NCLS - 1)
        cls++;
    if ((1u << cls) < need) {
        e->oom = true;
        return false;
    }
    struct engine_ent *n = ent_get(e, cls);
    if (n == NULL)
        return false;
    if (v->n > 0)
        memcpy(n, v->e, v->n * sizeof *n);
    uint32_t cnt = v->n;
    engine_vec_free(e, v);
    v->e = n;
    v->n = cnt;
    v->cls = cls;
    return true;
}

/* ------------------------------------------------------------ targets */

/* Account for the recipient maps' memory. */
static inline void rcpt_bytes(struct engine *e, size_t add, size_t sub)
{
    e->rcpt_bytes += add;
    e->rcpt_bytes -= sub;
    if ((double)e->rcpt_bytes > e->rcpt_bytes_peak)
        e->rcpt_bytes_peak = (double)e->rcpt_bytes;
}

static inline bool target_done(const struct engine *e, uint32_t j)
{
    return !e->ts[j].active;
}

static void target_finish(struct engine *e, uint32_t j)
{
    struct sim_target *t = &e->tg[j];
    struct tstate *st = &e->ts[j];
    double D = t->delivered;
    t->finished = 1.0 - t->delivered - t->pruned - t->ruled_out < FINISH_EPS;
    if (D > 0) {
        /* Renormalise over the delivered mass: H = hraw / D + log2 D. */
        t->h_msg = st->hraw / D + log2(D);
        t->hmin_msg = -log2(st->maxp / D);
        /*
         * Recipients are always other clients, so the adversary rules the
         * sender out: the recipient distribution is the delivered mass
         * without the sender's share, renormalised (h_msg keeps every
         * output, as MiXiM counts it).
         */
        double Dr = D - rmap_get(&st->rcpt, st->sender), h = 0, mx = 0, pc;
        uint32_t c;
        for (size_t it = 0; Dr > 0 && rmap_next(&st->rcpt, &it, &c, &pc);) {
            if (c == st->sender)
                continue;
            double q = pc / Dr;
            if (q > 0)
                h -= q * log2(q);
            if (q > mx)
                mx = q;
        }
        t->h_rcpt = h;
        t->hmin_rcpt = mx > 0 ? -log2(mx) : 0;
    }
    /* Clamp rounding noise of a single certain output (0 bits). */
    if (t->h_msg < 1e-12)
        t->h_msg = 0;
    if (t->hmin_msg < 1e-12)
        t->hmin_msg = 0;
    if (t->h_rcpt < 1e-12)
        t->h_rcpt = 0;
    if (t->hmin_rcpt < 1e-12)
        t->hmin_rcpt = 0;
    rcpt_bytes(e, 0, rmap_bytes(&st->rcpt));
    rmap_free(&st->rcpt);
    st->active = false;
}

void engine_sweep(struct engine *e, bool all)
{
    for (size_t i = 0; i < e->nactive;) {
        uint32_t j = e->active[i];
        struct sim_target *t = &e->tg[j];
        if (all || 1.0 - t->delivered - t->pruned - t->ruled_out < FINISH_EPS) {
            target_finish(e, j);
            e->active[i] = e->active[--e->nactive];
        } else {
            i++;
        }
    }
}

int32_t engine_tag(struct engine *e, struct engine_vec *v, uint32_t sender, uint64_t t_us)
{
    if (e->ntg == e->tgcap) {
        size_t nc = e->tgcap ? e->tgcap * 2 : 256;
        struct sim_target *a = realloc(e->tg, nc * sizeof *a);
        if (a != NULL)
            e->tg = a;
        struct tstate *b = a ? realloc(e->ts, nc * sizeof *b) : NULL;
        if (b != NULL)
            e->ts = b;
        uint32_t *act = b ? realloc(e->active, nc * sizeof *act) : NULL;
        if (act == NULL || e->ntg >= INT32_MAX) {
            e->oom = true;
            return -1;
        }
        e->active = act;
        e->tgcap = nc;
    }
    struct rmap rc;
    if (!rmap_init(&rc, e->recipients) || !vec_reserve(e, v, 1)) {
        rmap_free(&rc);
        e->oom = true;
        return -1;
    }
    uint32_t j = (uint32_t)e->ntg++;
    memset(&e->tg[j], 0, sizeof e->tg[j]);
    e->tg[j].t_tag_us = t_us;
    e->ts[j] = (struct tstate){ 0, 0, rc, sender, true };
    rcpt_bytes(e, rmap_bytes(&rc), 0);
    e->active[e->nactive++] = j;
    v->e[0] = (struct engine_ent){ j, 1.0 };
    v->n = 1;
    return (int32_t)j;
}

/* Mass that left the game without reaching an output. */
static inline void lose(struct engine *e, uint32_t j, double p, bool ruled)
{
    if (target_done(e, j))
        return;
    if (ruled)
        e->tg[j].ruled_out += p;
    else
        e->tg[j].pruned += p;
}

void engine_drop(struct engine *e, struct engine_vec *v, bool ruled_out)
{
    for (uint32_t i = 0; i < v->n; i++)
        lose(e, v->e[i].tgt, v->e[i].p, ruled_out);
    engine_vec_free(e, v);
}

/* S += v (both sorted by target); v is emptied. */
void engine_arrive(struct engine *e, uint32_t node, struct engine_vec *v)
{
    struct engine_vec *S = &e->S[node];
    if (v->n == 0)
        return;
    if (!vec_reserve(e, S, S->n + v->n)) {
        engine_drop(e, v, false);
        return;
    }
    /* Merge from the back so no temporary is needed. */
    int64_t i = (int64_t)S->n - 1, k = (int64_t)v->n - 1, o = (int64_t)(S->n + v->n) - 1;
    while (k >= 0) {
        if (i >= 0 && S->e[i].tgt > v->e[k].tgt) {
            S->e[o--] = S->e[i--];
        } else if (i >= 0 && S->e[i].tgt == v->e[k].tgt) {
            S->e[i].p += v->e[k--].p;
            S->e[o--] = S->e[i--];
        } else {
            S->e[o--] = v->e[k--];
        }
    }
    while (i >= 0)
        S->e[o--] = S->e[i--];
    /* Duplicates merged above left a gap at the front: close it. */
    uint32_t total = S->n + v->n, gap = (uint32_t)(o + 1);
    if (gap > 0)
        memmove(S->e, S->e + gap, (total - gap) * sizeof *S->e);
    S->n = total - gap;
    engine_vec_free(e, v);
}

/* out = S / k and S -= S / k, dropping finished targets and tiny masses. */
void engine_depart(struct engine *e, uint32_t node, uint32_t k, struct engine_vec *out)
{
    engine_depart_est(e, node, (double)k, out);
}

void engine_depart_est(struct engine *e, uint32_t node, double k, struct engine_vec *out)
{
    if (!(k >= 1))
        k = 1;
    struct engine_vec *S = &e->S[node];
    if (S->n == 0)
        return;
    if (!vec_reserve(e, out, S->n)) {
        engine_drop(e, S, false);
        return;
    }
    double inv = 1.0 / k, eps = e->prune;
    uint32_t w = 0;
    out->n = 0;
    for (uint32_t i = 0; i < S->n; i++) {
        struct engine_ent x = S->e[i];
        if (target_done(e, x.tgt))
            continue;
        double q = k == 1 ? x.p : x.p * inv;
        double rest = x.p - q;
        if (q >= eps && q > 0)
            out->e[out->n++] = (struct engine_ent){ x.tgt, q };
        else
            lose(e, x.tgt, q, false);
        if (rest >= eps && rest > 0)
            S->e[w++] = (struct engine_ent){ x.tgt, rest };
        else
            lose(e, x.tgt, rest, false);
    }
    S->n = w;
    if (out->n == 0)
        engine_vec_free(e, out);
}

void engine_deliver(struct engine *e, uint32_t recipient, struct engine_vec *v)
{
    for (uint32_t i = 0; i < v->n; i++) {
        uint32_t j = v->e[i].tgt;
        double p = v->e[i].p;
        if (target_done(e, j))
            continue;
        struct tstate *st = &e->ts[j];
        st->hraw -= p * log2(p);
        if (p > st->maxp)
            st->maxp = p;
        size_t before = rmap_bytes(&st->rcpt);
        if (!rmap_add(&st->rcpt, recipient, p)) {
            e->oom = true;
            e->tg[j].pruned += p;
            continue;
        }
        rcpt_bytes(e, rmap_bytes(&st->rcpt) - before, 0);
        e->tg[j].delivered += p;
    }
    engine_vec_free(e, v);
}

/* ------------------------------------------------------------ lifetime, queries */

struct engine *engine_new(uint32_t nodes, uint32_t recipients, double prune)
{
    struct engine *e = calloc(1, sizeof *e);
    if (e == NULL)
        return NULL;
    e->nodes = nodes;
    e->recipients = recipients;
    e->prune = prune;
    e->S = calloc(nodes ? nodes : 1, sizeof *e->S);
    if (e->S == NULL) {
        free(e);
        return NULL;
    }
    return e;
}

void engine_free(struct engine *e)
{
    if (e == NULL)
        return;
    for (size_t j = 0; j < e->ntg; j++)
        if (e->ts[j].active)
            rmap_free(&e->ts[j].rcpt);
    free(e->tg);
    free(e->ts);
    free(e->active);
    free(e->S);
    while (e->arenas != NULL) {
        struct arena *a = e->arenas;
        e->arenas = a->next;
        free(a);
    }
    free(e);
}

bool engine_oom(const struct engine *e)
{
    return e->oom;
}

size_t engine_active(const struct engine *e)
{
    return e->nactive;
}

size_t engine_target_count(const struct engine *e)
{
    return e->ntg;
}

const struct sim_target *engine_target(const struct engine *e, size_t j)
{
    return j < e->ntg ? &e->tg[j] : NULL;
}

void engine_set_latency(struct engine *e, size_t j, double latency_s)
{
    if (j < e->ntg)
        e->tg[j].latency = latency_s;
}

void engine_vec_mass(const struct engine_vec *v, double *acc)
{
    for (uint32_t i = 0; i < v->n; i++)
        acc[v->e[i].tgt] += v->e[i].p;
}

void engine_pool_mass(const struct engine *e, double *acc)
{
    for (uint32_t x = 0; x < e->nodes; x++)
        engine_vec_mass(&e->S[x], acc);
}

double engine_rcpt_bytes_peak(const struct engine *e)
{
    return e->rcpt_bytes_peak;
}

int engine_summarise(const struct engine *e, uint32_t batches, struct engine_summary *r)
{
    size_t n = e->ntg, k = 0;
    double *v[4];
    int rc = 0;
    memset(r, 0, sizeof *r);
    for (int i = 0; i < 4; i++)
        v[i] = malloc((n ? n : 1) * sizeof(double));
    r->targets = (uint32_t)n;
    for (size_t j = 0; j < n; j++) {
        const struct sim_target *t = &e->tg[j];
        double err = fabs(1.0 - t->delivered - t->pruned - t->ruled_out);
        if (!t->finished) {
            r->unfinished++;
            continue;
        }
        if (err > r->max_mass_error)
            r->max_mass_error = err;
        if (t->pruned > r->max_pruned)
            r->max_pruned = t->pruned;
        if (v[0] && v[1] && v[2] && v[3]) {
            v[0][k] = t->h_msg;
            v[1][k] = t->hmin_msg;
            v[2][k] = t->h_rcpt;
            v[3][k] = t->hmin_rcpt;
        }
        k++;
    }
    r->measured = (uint32_t)k;
    r->batches = k >= 2 * (size_t)batches ? batches : 0;
    if (v[0] && v[1] && v[2] && v[3]) {
        /* Targets are numbered in tagging order, so v[] is in time order. */
        stats_summary_batched(v[0], k, batches, &r->h_msg);
        stats_summary_batched(v[1], k, batches, &r->hmin_msg);
        stats_summary_batched(v[2], k, batches, &r->h_rcpt);
        stats_summary_batched(v[3], k, batches, &r->hmin_rcpt);
    } else {
        rc = -1;
    }
    for (int i = 0; i < 4; i++)
        free(v[i]);
    return rc;
}
