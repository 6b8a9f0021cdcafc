/*
 * Per-target probability mass by recipient client, sparse: only clients
 * that received some of the target's mass have an entry, so memory follows
 * the messages that carried it, not the number of clients.  An open-
 * addressing hash (client -> mass) that turns into a dense array once that
 * is smaller (more than a third of the clients hold mass), so it never
 * costs more than the dense vector it replaces (plus a few bytes).
 */
#ifndef SIM_RMAP_H
#define SIM_RMAP_H

#include "common.h"

struct rmap_ent {
    uint32_t client; /* RMAP_EMPTY: free slot */
    double p;
};
#define RMAP_EMPTY UINT32_MAX

struct rmap {
    struct rmap_ent *e; /* hash slots (cap, a power of two), or NULL once dense */
    double *dense;      /* mass per client (nclients), or NULL while sparse */
    uint32_t cap, n, nclients;
};

/* An empty map over clients 0..nclients-1; false if memory ran out. */
bool rmap_init(struct rmap *m, uint32_t nclients) MIX_WUR;
void rmap_free(struct rmap *m);
/* Add p to the mass of client c; false if memory ran out (the map is unchanged). */
bool rmap_add(struct rmap *m, uint32_t c, double p) MIX_WUR;
double rmap_get(const struct rmap *m, uint32_t c);
/* Bytes the map holds. */
size_t rmap_bytes(const struct rmap *m);

/*
 * Visit every client with non-zero mass (order unspecified):
 *   for (size_t it = 0; rmap_next(m, &it, &c, &p);) ...
 */
bool rmap_next(const struct rmap *m, size_t *it, uint32_t *c, double *p);

#endif
