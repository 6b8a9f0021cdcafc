/*
 * ring: a growable FIFO of timed ids, for events that leave in the order
 * they entered (one fixed delay: a link, a loop path, a retransmission
 * timeout), so a ring in time order stands in for a heap.
 */
#ifndef MIX_SIM_RING_H
#define MIX_SIM_RING_H

#include <stddef.h>
#include <stdint.h>

struct ring_entry {
    double at; /* when it leaves */
    uint32_t id;
};

/* Zero-initialised means empty; ring_free() releases it. */
struct ring {
    struct ring_entry *a;
    size_t head, len, cap;
};

/* Append (at must not be earlier than the last one's).  0, or -1 without memory. */
int ring_push(struct ring *r, double at, uint32_t id);
/* When the oldest entry leaves; INFINITY if the ring is empty. */
double ring_next(const struct ring *r);
/* Remove the oldest entry and return its id (only when not empty). */
uint32_t ring_pop(struct ring *r);
void ring_free(struct ring *r);

#endif
