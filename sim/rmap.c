/*
 * Sparse recipient masses (see rmap.h).
 */
#include "rmap.h"

#include <stdlib.h>
#include <string.h>

#define RMAP_MIN_CAP 16

/* Fibonacci hashing: the top bits of c x 2^32/phi, cap a power of two (>= 2). */
static inline uint32_t slot_of(uint32_t c, uint32_t cap)
{
    return (uint32_t)(((uint64_t)(c * 2654435769u) * cap) >> 32);
}

static struct rmap_ent *slots_new(uint32_t cap)
{
    struct rmap_ent *e = malloc((size_t)cap * sizeof *e);
    if (e != NULL)
        for (uint32_t i = 0; i < cap; i++)
            e[i].client = RMAP_EMPTY;
    return e;
}

bool rmap_init(struct rmap *m, uint32_t nclients)
{
    memset(m, 0, sizeof *m);
    m->nclients = nclients;
    m->cap = RMAP_MIN_CAP;
    m->e = slots_new(m->cap);
    return m->e != NULL;
}

void rmap_free(struct rmap *m)
{
    free(m->e);
    free(m->dense);
    memset(m, 0, sizeof *m);
}

static void put(struct rmap_ent *e, uint32_t cap, uint32_t c, double p)
{
    uint32_t i = slot_of(c, cap);
    while (e[i].client != RMAP_EMPTY && e[i].client != c)
        i = (i + 1) & (cap - 1);
    if (e[i].client == c) {
        e[i].p += p;
    } else {
        e[i].client = c;
        e[i].p = p;
    }
}

/*
 * Make room for one more entry: double the table at 3/4 load, or go dense
 * when the doubled table (16 bytes a slot) would outweigh 8 bytes a client.
 */
static bool grow(struct rmap *m)
{
    uint32_t ncap = m->cap * 2;
    if ((uint64_t)ncap * sizeof(struct rmap_ent) >= (uint64_t)m->nclients * sizeof(double)) {
        double *d = calloc(m->nclients ? m->nclients : 1, sizeof *d);
        if (d == NULL)
            return false;
        for (uint32_t i = 0; i < m->cap; i++)
            if (m->e[i].client != RMAP_EMPTY)
                d[m->e[i].client] += m->e[i].p;
        free(m->e);
        m->e = NULL;
        m->dense = d;
        return true;
    }
    struct rmap_ent *e = slots_new(ncap);
    if (e == NULL)
        return false;
    for (uint32_t i = 0; i < m->cap; i++)
        if (m->e[i].client != RMAP_EMPTY)
            put(e, ncap, m->e[i].client, m->e[i].p);
    free(m->e);
    m->e = e;
    m->cap = ncap;
    return true;
}

bool rmap_add(struct rmap *m, uint32_t c, double p)
{
    if (m->dense != NULL) {
        m->dense[c] += p;
        return true;
    }
    uint32_t i = slot_of(c, m->cap);
    while (m->e[i].client != RMAP_EMPTY) {
        if (m->e[i].client == c) {
            m->e[i].p += p;
            return true;
        }
        i = (i + 1) & (m->cap - 1);
    }
    if (4 * (m->n + 1) > 3 * m->cap) {
        if (!grow(m))
            return false;
        return rmap_add(m, c, p); /* into the bigger table, or the dense array */
    }
    m->e[i].client = c;
    m->e[i].p = p;
    m->n++;
    return true;
}

double rmap_get(const struct rmap *m, uint32_t c)
{
    if (m->dense != NULL)
        return c < m->nclients ? m->dense[c] : 0;
    if (m->e == NULL)
        return 0;
    for (uint32_t i = slot_of(c, m->cap);; i = (i + 1) & (m->cap - 1)) {
        if (m->e[i].client == c)
            return m->e[i].p;
        if (m->e[i].client == RMAP_EMPTY)
            return 0;
    }
}

size_t rmap_bytes(const struct rmap *m)
{
    return m->dense != NULL ? (size_t)m->nclients * sizeof(double)
                            : (size_t)m->cap * sizeof(struct rmap_ent);
}

bool rmap_next(const struct rmap *m, size_t *it, uint32_t *c, double *p)
{
    if (m->dense != NULL) {
        for (; *it < m->nclients; (*it)++)
            if (m->dense[*it] != 0) {
                *c = (uint32_t)*it;
                *p = m->dense[(*it)++];
                return true;
            }
        return false;
    }
    for (; m->e != NULL && *it < m->cap; (*it)++)
        if (m->e[*it].client != RMAP_EMPTY) {
            *c = m->e[*it].client;
            *p = m->e[(*it)++].p;
            return true;
        }
    return false;
}
