/*
 * The growable FIFO of timed ids; see ring.h.
 */
#include "ring.h"

#include <math.h>
#include <stdlib.h>

int ring_push(struct ring *r, double at, uint32_t id)
{
    if (r->len == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 256;
        struct ring_entry *a = malloc(cap * sizeof *a);
        if (a == NULL)
            return -1;
        for (size_t i = 0; i < r->len; i++)
            a[i] = r->a[(r->head + i) % r->cap];
        free(r->a);
        r->a = a;
        r->head = 0;
        r->cap = cap;
    }
    r->a[(r->head + r->len++) % r->cap] = (struct ring_entry){ .at = at, .id = id };
    return 0;
}

double ring_next(const struct ring *r)
{
    return r->len ? r->a[r->head].at : INFINITY;
}

uint32_t ring_pop(struct ring *r)
{
    uint32_t id = r->a[r->head].id;
    r->head = (r->head + 1) % r->cap;
    r->len--;
    return id;
}

void ring_free(struct ring *r)
{
    free(r->a);
    *r = (struct ring){ 0 };
}
