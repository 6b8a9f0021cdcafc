/*
 * Fuzz lib/mixq with arbitrary operation sequences.  The input picks a
 * strategy and small parameters, then a stream of push / advance-time / pop
 * operations.  Invariants checked (abort on violation): every accepted item
 * comes out exactly once (by pop or by the final drain), never before it is
 * due, mixq_len matches the books, capacity is never exceeded, and a
 * threshold mix only emits whole batches.
 */
#include <stdlib.h>
#include <string.h>

#include "mixq.h"

#define MAX_ITEMS 4096

struct state {
    uint64_t due[MAX_ITEMS];
    uint8_t seen[MAX_ITEMS];
    size_t n;
    size_t out;
};

/* A tiny deterministic generator so the target needs no libsodium init. */
static void fill(void *ctx, uint8_t *out, size_t len)
{
    uint64_t *s = ctx;
    for (size_t i = 0; i < len; i++) {
        *s ^= *s << 13;
        *s ^= *s >> 7;
        *s ^= *s << 17;
        out[i] = (uint8_t)*s;
    }
}

static void drained(void *item, void *arg)
{
    struct state *st = arg;
    size_t id = (size_t)(uintptr_t)item - 1;
    if (id >= st->n || st->seen[id])
        abort();
    st->seen[id] = 1;
    st->out++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4)
        return 0;
    static struct state st;
    memset(&st, 0, sizeof st);
    struct mixq_params p = {
        .strategy = (enum mixq_strategy)(data[0] % 4), /* 3 is invalid */
        .max_delay_us = data[1] & 1 ? 0 : (uint64_t)data[1] * 10,
        .period_us = data[2] % 50, /* 0 is invalid */
        .pool_keep = data[2] >> 4,
        .threshold = data[3] % 9, /* 0 is invalid */
        .capacity = data[1] & 2 ? 0 : data[3] >> 2,
    };
    uint64_t seed = 0x9e3779b97f4a7c15ULL ^ size;
    struct mixq *q = mixq_new(&p, (struct mix_rng){ fill, &seed });
    if (q == NULL) {
        if (mixq_params_valid(&p, NULL))
            abort(); /* valid parameters must give a queue */
        return 0;
    }
    uint64_t now = 0;
    void *out[16];
    for (size_t i = 4; i < size; i++) {
        uint8_t op = data[i];
        switch (op & 3) {
        case 0:
        case 1: { /* push with delay (op >> 2) * 7 */
            if (st.n == MAX_ITEMS)
                break;
            size_t before = mixq_len(q);
            uint64_t d = (uint64_t)(op >> 2) * 7;
            int rc = mixq_push(q, now, d, (void *)(uintptr_t)(st.n + 1));
            if (rc == MIXQ_OK) {
                if (p.max_delay_us && d > p.max_delay_us)
                    d = p.max_delay_us;
                st.due[st.n++] = p.strategy == MIXQ_POISSON ? now + d : now;
                if (mixq_len(q) != before + 1)
                    abort();
            } else if (rc != MIXQ_FULL || p.capacity == 0 || before < p.capacity) {
                abort();
            }
            break;
        }
        case 2: /* time passes */ now += op >> 2; break;
        case 3: { /* pop up to (op >> 2) % 16 + 1 */
            size_t before = mixq_len(q);
            size_t k = mixq_pop_ready(q, now, out, (size_t)((op >> 2) % 16) + 1);
            for (size_t j = 0; j < k; j++) {
                size_t id = (size_t)(uintptr_t)out[j] - 1;
                if (id >= st.n || st.seen[id] || st.due[id] > now)
                    abort();
                st.seen[id] = 1;
                st.out++;
            }
            if (mixq_len(q) != before - k)
                abort();
            break;
        }
        }
        if (p.capacity && mixq_len(q) > p.capacity)
            abort();
        if (mixq_len(q) != st.n - st.out)
            abort();
        uint64_t dl = mixq_next_deadline(q);
        if (mixq_len(q) == 0 && dl != UINT64_MAX)
            abort();
    }
    mixq_drain(q, drained, &st);
    if (st.out != st.n || mixq_len(q) != 0)
        abort();
    mixq_free(q);
    return 0;
}
