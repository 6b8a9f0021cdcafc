/*
 * Mixing queues (see mixq.h).  Poisson mixing is a binary min-heap keyed on
 * (deadline, arrival sequence); the batch strategies keep an unordered array
 * of held items plus a FIFO of items already chosen to leave.
 */
#include "mixq.h"

#include <stdlib.h>
#include <string.h>

struct heap_ent {
    uint64_t deadline;
    uint64_t seq; /* arrival order: equal deadlines leave FIFO */
    void *item;
};

struct mixq {
    struct mixq_params p;
    struct mix_rng rng;

    /* POISSON */
    struct heap_ent *heap;
    size_t heap_n, heap_cap;
    uint64_t seq;

    /* TIMED_POOL and THRESHOLD */
    void **held;
    size_t held_n, held_cap;
    void **ready; /* ready[ready_head .. ready_n) are due */
    size_t ready_head, ready_n, ready_cap;
    uint64_t ready_at;   /* time the oldest ready item became due */
    uint64_t next_round; /* TIMED_POOL: next round time; 0 = not yet set */
};

bool mixq_params_valid(const struct mixq_params *p, const char **why)
{
    const char *w = NULL;
    if (p == NULL)
        w = "no parameters";
    else if (p->strategy == MIXQ_TIMED_POOL && p->period_us == 0)
        w = "timed pool needs a period > 0";
    else if (p->strategy == MIXQ_THRESHOLD && p->threshold == 0)
        w = "threshold mix needs a batch size >= 1";
    else if (p->strategy != MIXQ_POISSON && p->strategy != MIXQ_TIMED_POOL &&
             p->strategy != MIXQ_THRESHOLD)
        w = "unknown strategy";
    else if (p->capacity != 0 && p->strategy == MIXQ_THRESHOLD && p->capacity < p->threshold)
        w = "capacity below the threshold: no batch could ever fill";
    if (why != NULL)
        *why = w;
    return w == NULL;
}

struct mixq *mixq_new(const struct mixq_params *p, struct mix_rng rng)
{
    if (!mixq_params_valid(p, NULL) || rng.fill == NULL)
        return NULL;
    struct mixq *q = calloc(1, sizeof *q);
    if (q == NULL)
        return NULL;
    q->p = *p;
    q->rng = rng;
    return q;
}

void mixq_free(struct mixq *q)
{
    if (q == NULL)
        return;
    free(q->heap);
    free(q->held);
    free(q->ready);
    free(q);
}

size_t mixq_len(const struct mixq *q)
{
    if (q == NULL)
        return 0;
    return q->heap_n + q->held_n + (q->ready_n - q->ready_head);
}

/* Grow *arr (of elements of size esz) to hold at least need; 0 or -1. */
static int grow(void **arr, size_t *cap, size_t need, size_t esz)
{
    if (need <= *cap)
        return 0;
    size_t nc = *cap ? *cap : 64;
    while (nc < need) {
        if (nc > SIZE_MAX / 2 / esz)
            return -1;
        nc *= 2;
    }
    void *n = realloc(*arr, nc * esz);
    if (n == NULL)
        return -1;
    *arr = n;
    *cap = nc;
    return 0;
}

static inline bool heap_less(const struct heap_ent *a, const struct heap_ent *b)
{
    return a->deadline < b->deadline || (a->deadline == b->deadline && a->seq < b->seq);
}

static void heap_sift_up(struct heap_ent *h, size_t i)
{
    struct heap_ent e = h[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!heap_less(&e, &h[parent]))
            break;
        h[i] = h[parent];
        i = parent;
    }
    h[i] = e;
}

static void heap_sift_down(struct heap_ent *h, size_t n, size_t i)
{
    struct heap_ent e = h[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && heap_less(&h[c + 1], &h[c]))
            c++;
        if (!heap_less(&h[c], &e))
            break;
        h[i] = h[c];
        i = c;
    }
    h[i] = e;
}

static int push_poisson(struct mixq *q, uint64_t now_us, uint64_t delay_us, void *item)
{
    if (grow((void **)&q->heap, &q->heap_cap, q->heap_n + 1, sizeof *q->heap) < 0)
        return MIXQ_ENOMEM;
    if (q->p.max_delay_us != 0 && delay_us > q->p.max_delay_us)
        delay_us = q->p.max_delay_us;
    uint64_t dl = now_us + delay_us;
    if (dl < now_us) /* saturate instead of wrapping */
        dl = UINT64_MAX - 1;
    q->heap[q->heap_n] = (struct heap_ent){ dl, q->seq++, item };
    heap_sift_up(q->heap, q->heap_n);
    q->heap_n++;
    return MIXQ_OK;
}

/*
 * Choose k of the held items uniformly at random, in uniformly random order
 * (a partial Fisher-Yates shuffle), append them to the ready FIFO, and keep
 * the others held.  The ready array was grown by the caller.
 */
static void release_random(struct mixq *q, size_t k, uint64_t now_us)
{
    void **h = q->held;
    size_t n = q->held_n;
    for (size_t i = 0; i < k; i++) {
        size_t j = i + (size_t)mix_rng_below(&q->rng, n - i);
        void *t = h[i];
        h[i] = h[j];
        h[j] = t;
    }
    if (q->ready_head == q->ready_n) {
        q->ready_head = q->ready_n = 0;
        q->ready_at = now_us;
    }
    memcpy(q->ready + q->ready_n, h, k * sizeof *h);
    q->ready_n += k;
    memmove(h, h + k, (n - k) * sizeof *h);
    q->held_n = n - k;
}

/* Make room in the ready FIFO for k more items; 0 or -1. */
static int ready_reserve(struct mixq *q, size_t k)
{
    if (q->ready_head > 0 && q->ready_head == q->ready_n) {
        q->ready_head = q->ready_n = 0;
    } else if (q->ready_head > 0 && q->ready_n + k > q->ready_cap) {
        memmove(q->ready, q->ready + q->ready_head,
                (q->ready_n - q->ready_head) * sizeof *q->ready);
        q->ready_n -= q->ready_head;
        q->ready_head = 0;
    }
    return grow((void **)&q->ready, &q->ready_cap, q->ready_n + k, sizeof *q->ready);
}

static int push_batch(struct mixq *q, uint64_t now_us, void *item)
{
    if (grow((void **)&q->held, &q->held_cap, q->held_n + 1, sizeof *q->held) < 0)
        return MIXQ_ENOMEM;
    if (q->p.strategy == MIXQ_THRESHOLD && q->held_n + 1 >= q->p.threshold &&
        ready_reserve(q, q->held_n + 1) < 0)
        return MIXQ_ENOMEM;
    q->held[q->held_n++] = item;
    if (q->p.strategy == MIXQ_TIMED_POOL) {
        /*
         * If the rounds since the last one we ran found at most pool_keep
         * items (nothing was pushed since), they emitted nothing: skip them
         * so this item waits for the next round instead of leaving at once.
         */
        if (q->next_round == 0 || (q->next_round <= now_us && q->held_n <= q->p.pool_keep + 1u))
            q->next_round = (now_us / q->p.period_us + 1) * q->p.period_us;
    } else if (q->held_n >= q->p.threshold) {
        release_random(q, q->held_n, now_us);
    }
    return MIXQ_OK;
}

int mixq_push(struct mixq *q, uint64_t now_us, uint64_t delay_us, void *item)
{
    if (q == NULL || item == NULL)
        return MIXQ_EINVAL;
    if (q->p.capacity != 0 && mixq_len(q) >= q->p.capacity)
        return MIXQ_FULL;
    if (q->p.strategy == MIXQ_POISSON)
        return push_poisson(q, now_us, delay_us, item);
    return push_batch(q, now_us, item);
}

uint64_t mixq_next_deadline(const struct mixq *q)
{
    if (q == NULL)
        return UINT64_MAX;
    if (q->p.strategy == MIXQ_POISSON)
        return q->heap_n ? q->heap[0].deadline : UINT64_MAX;
    if (q->ready_head < q->ready_n)
        return q->ready_at;
    if (q->p.strategy == MIXQ_TIMED_POOL && q->held_n > q->p.pool_keep)
        return q->next_round;
    return UINT64_MAX;
}

static size_t pop_poisson(struct mixq *q, uint64_t now_us, void **out, size_t max)
{
    size_t n = 0;
    while (n < max && q->heap_n > 0 && q->heap[0].deadline <= now_us) {
        out[n++] = q->heap[0].item;
        q->heap_n--;
        if (q->heap_n > 0) {
            q->heap[0] = q->heap[q->heap_n];
            heap_sift_down(q->heap, q->heap_n, 0);
        }
    }
    return n;
}

/* Fire the timed-pool round if it is due. */
static void timed_round(struct mixq *q, uint64_t now_us)
{
    if (q->next_round == 0 || now_us < q->next_round)
        return;
    uint64_t at = q->next_round;
    q->next_round = (now_us / q->p.period_us + 1) * q->p.period_us;
    if (q->held_n <= q->p.pool_keep)
        return;
    size_t k = q->held_n - q->p.pool_keep;
    /* If the FIFO cannot grow, keep everything for the next round. */
    if (ready_reserve(q, k) < 0)
        return;
    release_random(q, k, at);
}

size_t mixq_pop_ready(struct mixq *q, uint64_t now_us, void **out, size_t max)
{
    if (q == NULL || out == NULL || max == 0)
        return 0;
    if (q->p.strategy == MIXQ_POISSON)
        return pop_poisson(q, now_us, out, max);
    if (q->p.strategy == MIXQ_TIMED_POOL)
        timed_round(q, now_us);
    size_t avail = q->ready_n - q->ready_head;
    size_t n = avail < max ? avail : max;
    if (n == 0)
        return 0;
    memcpy(out, q->ready + q->ready_head, n * sizeof *out);
    q->ready_head += n;
    if (q->ready_head == q->ready_n)
        q->ready_head = q->ready_n = 0;
    return n;
}

void mixq_drain(struct mixq *q, void (*cb)(void *item, void *arg), void *arg)
{
    if (q == NULL)
        return;
    for (size_t i = 0; cb != NULL && i < q->heap_n; i++)
        cb(q->heap[i].item, arg);
    for (size_t i = q->ready_head; cb != NULL && i < q->ready_n; i++)
        cb(q->ready[i], arg);
    for (size_t i = 0; cb != NULL && i < q->held_n; i++)
        cb(q->held[i], arg);
    q->heap_n = q->held_n = 0;
    q->ready_head = q->ready_n = 0;
    q->next_round = 0;
}

const char *mixq_strategy_name(enum mixq_strategy s)
{
    switch (s) {
    case MIXQ_POISSON: return "poisson";
    case MIXQ_TIMED_POOL: return "timed_pool";
    case MIXQ_THRESHOLD: return "threshold";
    }
    return "unknown";
}

bool mixq_strategy_parse(const char *s, enum mixq_strategy *out)
{
    static const struct {
        const char *name;
        enum mixq_strategy s;
    } names[] = {
        { "poisson", MIXQ_POISSON },     { "timed_pool", MIXQ_TIMED_POOL },
        { "pool", MIXQ_TIMED_POOL },     { "timed", MIXQ_TIMED_POOL },
        { "threshold", MIXQ_THRESHOLD },
    };
    if (s == NULL || out == NULL)
        return false;
    for (size_t i = 0; i < MIX_ARRAY_LEN(names); i++) {
        if (strcmp(s, names[i].name) == 0) {
            *out = names[i].s;
            return true;
        }
    }
    return false;
}
