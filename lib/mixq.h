/*
 * Mixing queues: the strategies a mix uses to decide when a held packet
 * leaves, as pure data structures over a caller-supplied clock and RNG.
 *
 * The same code runs in the node daemon (libev time, real packet buffers)
 * and in the simulator (virtual time, message structs), so what the
 * simulator measures is what the nodes do.  Nothing here does I/O, reads a
 * clock or keeps global state: every call takes the current time `now_us`
 * (microseconds on any monotonic scale the caller likes) and the queue keeps
 * the `struct mix_rng` it was created with.
 *
 * Items are opaque `void *`; the queue never looks at or frees them (use
 * mixq_drain() at shutdown to get them back).
 *
 * Strategies:
 *   MIXQ_POISSON     hold each item for the delay its sender chose (the
 *                    Sphinx header's per-hop delay), capped by max_delay_us;
 *                    items leave in deadline order (ties: arrival order).
 *   MIXQ_TIMED_POOL  rounds fire at every multiple of period_us on the
 *                    caller's clock; a round emits all but pool_keep of the
 *                    held items, the kept ones chosen uniformly at random,
 *                    and the emitted ones in uniformly random order.  The
 *                    kept items stay for the next round.  pool_keep = 0 is
 *                    the plain timed mix.
 *   MIXQ_THRESHOLD   once threshold items are held, all of them are emitted
 *                    at that instant in uniformly random order.
 *
 * Typical loop:
 *     if (mixq_push(q, now, delay, pkt) != MIXQ_OK) count_drop();
 *     ...
 *     timer_at(mixq_next_deadline(q));
 *     on timer: n = mixq_pop_ready(q, now, out, MAX); forward out[0..n).
 */
#ifndef MIX_MIXQ_H
#define MIX_MIXQ_H

#include "common.h"
#include "rng.h"

enum mixq_strategy {
    MIXQ_POISSON = 0,
    MIXQ_TIMED_POOL = 1,
    MIXQ_THRESHOLD = 2,
};

/* Results of mixq_push(). */
enum mixq_result {
    MIXQ_OK = 0,
    MIXQ_FULL = -1,   /* at capacity: the item was NOT taken; count the drop */
    MIXQ_EINVAL = -2, /* NULL queue or item */
    MIXQ_ENOMEM = -3, /* could not grow internal arrays: item NOT taken */
};

struct mixq_params {
    enum mixq_strategy strategy;
    uint64_t max_delay_us; /* POISSON: cap on an item's delay; 0 = no cap */
    uint64_t period_us;    /* TIMED_POOL: round period T (> 0) */
    uint32_t pool_keep;    /* TIMED_POOL: f, items kept back each round */
    uint32_t threshold;    /* THRESHOLD: batch size n (>= 1) */
    size_t capacity;       /* most items held (incl. ready ones); 0 = unbounded */
};

struct mixq;

/*
 * Check parameters: returns true if usable; otherwise false and *why (if
 * why != NULL) points to a static English reason.
 */
bool mixq_params_valid(const struct mixq_params *p, const char **why) MIX_WUR;

/*
 * A new empty queue, or NULL if the parameters are invalid or memory ran
 * out.  The rng (function pointer and ctx) is copied; its ctx must outlive
 * the queue.
 */
struct mixq *mixq_new(const struct mixq_params *p, struct mix_rng rng) MIX_WUR;

/* Free the queue (not the items).  mixq_free(NULL) is a no-op. */
void mixq_free(struct mixq *q);

/*
 * Offer an item arriving at now_us.  delay_us is the sender-chosen hold time
 * (POISSON only; ignored by the batch strategies).  Returns MIXQ_OK, or
 * MIXQ_FULL / MIXQ_ENOMEM / MIXQ_EINVAL with the item not taken.  Never
 * aborts.  For THRESHOLD a push that completes a batch makes the batch ready
 * at now_us.  now_us must not go backwards between calls.
 */
int mixq_push(struct mixq *q, uint64_t now_us, uint64_t delay_us, void *item) MIX_WUR;

/*
 * Earliest time at which mixq_pop_ready() will return something, or
 * UINT64_MAX when nothing is scheduled (empty, a threshold batch not yet
 * full, or a timed pool holding no more than pool_keep items).  May be in
 * the past when ready items were not popped yet.
 */
uint64_t mixq_next_deadline(const struct mixq *q);

/*
 * Move up to max items that are due at now_us into out[], in emission
 * order, and return how many.  Items left over when max is reached stay due
 * and come out on the next call.  A timed-pool round fires at most once per
 * call, even if several periods passed (the rounds in between would have
 * found at most pool_keep items and emitted nothing).
 */
size_t mixq_pop_ready(struct mixq *q, uint64_t now_us, void **out, size_t max) MIX_WUR;

/* Items held, including those due but not yet popped. */
size_t mixq_len(const struct mixq *q);

/*
 * Hand every held item to cb (in no particular order) and empty the queue;
 * for shutdown.  cb may be NULL to just forget them.
 */
void mixq_drain(struct mixq *q, void (*cb)(void *item, void *arg), void *arg);

/* "poisson", "timed_pool", "threshold". */
const char *mixq_strategy_name(enum mixq_strategy s);
/* Parse one of the names above (also "pool", "timed"); false if unknown. */
bool mixq_strategy_parse(const char *s, enum mixq_strategy *out) MIX_WUR;

#endif
