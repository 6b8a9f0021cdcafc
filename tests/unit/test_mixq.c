/*
 * lib/mixq: every strategy emits everything it accepts, in the right time
 * windows; the pool keeps exactly f; threshold fires only at n; capacity is
 * enforced; "random order" is really random.
 */
#include "mixq.h"
#include "tap.h"

#include <sodium.h>
#include <stdlib.h>

static struct mix_rng_det det;

static struct mix_rng test_rng(uint8_t s)
{
    uint8_t seed[32] = { s };
    mix_rng_det_init(&det, seed);
    return mix_rng_det(&det);
}

/* Items are small integers cast to pointers (never 0). */
#define IT(i) ((void *)(uintptr_t)((i) + 1))
#define ID(p) ((size_t)(uintptr_t)(p)-1)

static void test_params(void)
{
    const char *why = NULL;
    struct mixq_params p = { .strategy = MIXQ_TIMED_POOL, .period_us = 0 };
    CHECK(!mixq_params_valid(&p, &why) && why != NULL);
    CHECK(mixq_new(&p, test_rng(1)) == NULL);
    p = (struct mixq_params){ .strategy = MIXQ_THRESHOLD, .threshold = 0 };
    CHECK(!mixq_params_valid(&p, &why));
    p = (struct mixq_params){ .strategy = MIXQ_THRESHOLD, .threshold = 10, .capacity = 5 };
    CHECK(!mixq_params_valid(&p, &why));
    p = (struct mixq_params){ .strategy = (enum mixq_strategy)7 };
    CHECK(!mixq_params_valid(&p, &why));
    p = (struct mixq_params){ .strategy = MIXQ_POISSON };
    CHECK(mixq_params_valid(&p, &why) && why == NULL);
    CHECK(!mixq_params_valid(NULL, NULL));
    mixq_free(NULL);
    CHECK(mixq_len(NULL) == 0);
    CHECK(mixq_next_deadline(NULL) == UINT64_MAX);
    CHECK(mixq_push(NULL, 0, 0, IT(1)) == MIXQ_EINVAL);

    enum mixq_strategy s;
    CHECK(mixq_strategy_parse("poisson", &s) && s == MIXQ_POISSON);
    CHECK(mixq_strategy_parse("pool", &s) && s == MIXQ_TIMED_POOL);
    CHECK(mixq_strategy_parse("threshold", &s) && s == MIXQ_THRESHOLD);
    CHECK(!mixq_strategy_parse("fifo", &s));
    CHECK(!mixq_strategy_parse(NULL, &s));
    CHECK(strcmp(mixq_strategy_name(MIXQ_TIMED_POOL), "timed_pool") == 0);
}

static void test_poisson_order_and_cap(void)
{
    struct mixq_params p = { .strategy = MIXQ_POISSON, .max_delay_us = 5000 };
    struct mixq *q = mixq_new(&p, test_rng(2));
    CHECK(q != NULL);
    CHECK(mixq_next_deadline(q) == UINT64_MAX);
    /* Delays 3000, 1000, 9000 (capped to 5000), 1000 (tie: FIFO). */
    CHECK(mixq_push(q, 100, 3000, IT(0)) == MIXQ_OK);
    CHECK(mixq_push(q, 100, 1000, IT(1)) == MIXQ_OK);
    CHECK(mixq_push(q, 100, 9000, IT(2)) == MIXQ_OK);
    CHECK(mixq_push(q, 100, 1000, IT(3)) == MIXQ_OK);
    CHECK(mixq_push(q, 100, 1000, NULL) == MIXQ_EINVAL);
    CHECK(mixq_len(q) == 4);
    CHECK(mixq_next_deadline(q) == 1100);
    void *out[8];
    CHECK(mixq_pop_ready(q, 1099, out, 8) == 0);
    CHECK(mixq_pop_ready(q, 1100, out, 1) == 1 && ID(out[0]) == 1);
    CHECK(mixq_next_deadline(q) == 1100); /* still due */
    CHECK(mixq_pop_ready(q, 1100, out, 8) == 1 && ID(out[0]) == 3);
    CHECK(mixq_pop_ready(q, 5099, out, 8) == 1 && ID(out[0]) == 0);
    CHECK(mixq_next_deadline(q) == 5100); /* the capped one */
    CHECK(mixq_pop_ready(q, 5100, out, 8) == 1 && ID(out[0]) == 2);
    CHECK(mixq_len(q) == 0 && mixq_next_deadline(q) == UINT64_MAX);
    /* Saturating deadline instead of wrapping around. */
    struct mixq_params nocap = { .strategy = MIXQ_POISSON };
    struct mixq *q2 = mixq_new(&nocap, test_rng(2));
    CHECK(mixq_push(q2, UINT64_MAX - 10, 100, IT(0)) == MIXQ_OK);
    CHECK(mixq_next_deadline(q2) > UINT64_MAX - 10);
    mixq_free(q2);
    mixq_free(q);
}

/* Many random items: all come out, each exactly at its deadline, sorted. */
static void test_poisson_many(void)
{
    struct mixq_params p = { .strategy = MIXQ_POISSON };
    struct mix_rng r = test_rng(3);
    struct mixq *q = mixq_new(&p, r);
    enum { N = 20000 };
    static uint64_t dl[N];
    static bool seen[N];
    uint64_t now = 0;
    size_t popped = 0, bad = 0;
    void *out[64];
    for (size_t i = 0; i < N; i++) {
        now += mix_rng_below(&r, 50);
        uint64_t d = mix_rng_below(&r, 100000);
        dl[i] = now + d;
        if (mixq_push(q, now, d, IT(i)) != MIXQ_OK)
            bad++;
        /* Interleave pops so the heap sees both operations. */
        size_t n = mixq_pop_ready(q, now, out, 64);
        for (size_t k = 0; k < n; k++) {
            size_t id = ID(out[k]);
            if (dl[id] > now || seen[id])
                bad++;
            seen[id] = true;
        }
        popped += n;
    }
    uint64_t last = 0;
    while (mixq_len(q) > 0) {
        uint64_t t = mixq_next_deadline(q);
        if (t < last)
            bad++;
        last = t;
        size_t n = mixq_pop_ready(q, t, out, 64);
        for (size_t k = 0; k < n; k++) {
            size_t id = ID(out[k]);
            if (dl[id] != t || seen[id])
                bad++;
            seen[id] = true;
        }
        popped += n;
    }
    CHECKF(bad == 0, "%zu bad", bad);
    CHECK(popped == N);
    mixq_free(q);
}

static void test_timed_pool(void)
{
    struct mixq_params p = { .strategy = MIXQ_TIMED_POOL, .period_us = 1000, .pool_keep = 3 };
    struct mixq *q = mixq_new(&p, test_rng(4));
    void *out[64];
    /* Two items <= f: nothing is scheduled. */
    CHECK(mixq_push(q, 10, 0, IT(0)) == MIXQ_OK);
    CHECK(mixq_push(q, 20, 0, IT(1)) == MIXQ_OK);
    CHECK(mixq_next_deadline(q) == UINT64_MAX);
    CHECK(mixq_pop_ready(q, 5000, out, 64) == 0);
    CHECK(mixq_len(q) == 2);
    /* Ten more at t = 5100..5190: the round at 6000 emits all but 3. */
    for (size_t i = 2; i < 12; i++)
        CHECK(mixq_push(q, 5100 + 10 * i, 0, IT(i)) == MIXQ_OK);
    CHECK(mixq_next_deadline(q) == 6000);
    CHECK(mixq_pop_ready(q, 5999, out, 64) == 0);
    CHECK(mixq_pop_ready(q, 6000, out, 4) == 4); /* max respected */
    CHECK(mixq_next_deadline(q) == 6000);        /* rest still due */
    CHECK(mixq_pop_ready(q, 6000, out + 4, 64) == 5);
    CHECK(mixq_len(q) == 3); /* exactly f kept */
    CHECK(mixq_next_deadline(q) == UINT64_MAX);
    bool seen[12] = { false };
    size_t dup = 0;
    for (size_t i = 0; i < 9; i++) {
        if (seen[ID(out[i])])
            dup++;
        seen[ID(out[i])] = true;
    }
    CHECK(dup == 0);
    /* One more: the next round (7000) emits exactly one, keeps 3. */
    CHECK(mixq_push(q, 6500, 0, IT(12)) == MIXQ_OK);
    CHECK(mixq_next_deadline(q) == 7000);
    CHECK(mixq_pop_ready(q, 7000, out, 64) == 1);
    CHECK(mixq_len(q) == 3);
    /* Drain returns the kept ones. */
    mixq_drain(q, NULL, NULL);
    CHECK(mixq_len(q) == 0);
    mixq_free(q);
}

/* Over many rounds, every item kept in a pool is eventually emitted, and
 * the chance of being kept is f/n for every arrival position. */
static void test_pool_uniform_keep(void)
{
    enum { ROUNDS = 4000, NPER = 8, F = 2 };
    struct mixq_params p = { .strategy = MIXQ_TIMED_POOL, .period_us = 100, .pool_keep = F };
    struct mixq *q = mixq_new(&p, test_rng(5));
    size_t kept_first[NPER] = { 0 };
    void *out[64];
    size_t total_in = 0, total_out = 0;
    for (size_t r = 0; r < ROUNDS; r++) {
        for (size_t i = 0; i < NPER; i++) {
            CHECK(mixq_push(q, r * 100 + 1 + i, 0, IT(r * NPER + i)) == MIXQ_OK);
            total_in++;
        }
        size_t n = mixq_pop_ready(q, (r + 1) * 100, out, 64);
        total_out += n;
        /* Items of this round that were not emitted were kept. */
        bool emitted[NPER] = { false };
        for (size_t k = 0; k < n; k++) {
            size_t id = ID(out[k]);
            if (id / NPER == r)
                emitted[id % NPER] = true;
        }
        for (size_t i = 0; i < NPER; i++)
            kept_first[i] += !emitted[i];
        if (r > 0)
            CHECK(n == NPER);
        CHECK(mixq_len(q) == F);
    }
    CHECK(total_in - total_out == F);
    /* Expected keep rate per position: F/(NPER+F) = 0.2; 4000 rounds. */
    for (size_t i = 0; i < NPER; i++)
        CHECKF(kept_first[i] > 640 && kept_first[i] < 960, "pos %zu kept %zu", i, kept_first[i]);
    mixq_free(q);
}

static void test_threshold(void)
{
    struct mixq_params p = { .strategy = MIXQ_THRESHOLD, .threshold = 5 };
    struct mixq *q = mixq_new(&p, test_rng(6));
    void *out[16];
    for (size_t i = 0; i < 4; i++) {
        CHECK(mixq_push(q, 100 * i, 0, IT(i)) == MIXQ_OK);
        CHECK(mixq_next_deadline(q) == UINT64_MAX);
        CHECK(mixq_pop_ready(q, 100000, out, 16) == 0);
    }
    CHECK(mixq_push(q, 777, 0, IT(4)) == MIXQ_OK);
    CHECK(mixq_next_deadline(q) == 777);
    CHECK(mixq_pop_ready(q, 777, out, 16) == 5);
    unsigned mask = 0;
    for (size_t i = 0; i < 5; i++)
        mask |= 1u << ID(out[i]);
    CHECK(mask == 0x1f);
    CHECK(mixq_len(q) == 0 && mixq_next_deadline(q) == UINT64_MAX);
    mixq_free(q);
}

/* Random order: over many batches every item lands in every position about
 * equally often, and the order is not FIFO. */
static void test_threshold_random_order(void)
{
    enum { N = 4, BATCHES = 8000 };
    struct mixq_params p = { .strategy = MIXQ_THRESHOLD, .threshold = N };
    struct mixq *q = mixq_new(&p, test_rng(7));
    size_t pos[N][N] = { { 0 } };
    size_t fifo = 0;
    void *out[N];
    for (size_t b = 0; b < BATCHES; b++) {
        for (size_t i = 0; i < N; i++)
            CHECK(mixq_push(q, b, 0, IT(i)) == MIXQ_OK);
        CHECK(mixq_pop_ready(q, b, out, N) == N);
        bool in_order = true;
        for (size_t k = 0; k < N; k++) {
            pos[ID(out[k])][k]++;
            in_order &= ID(out[k]) == k;
        }
        fifo += in_order;
    }
    /* Each cell expects 2000; 5 sigma is about 190. */
    for (size_t i = 0; i < N; i++)
        for (size_t k = 0; k < N; k++)
            CHECKF(pos[i][k] > 1800 && pos[i][k] < 2200, "item %zu pos %zu: %zu", i, k, pos[i][k]);
    CHECKF(fifo < 500, "FIFO order in %zu of %d batches", fifo, BATCHES);
    mixq_free(q);
}

static void count_cb(void *item, void *arg)
{
    (void)item;
    (*(size_t *)arg)++;
}

static void test_capacity_and_drain(void)
{
    struct mixq_params p = { .strategy = MIXQ_POISSON, .capacity = 3 };
    struct mixq *q = mixq_new(&p, test_rng(8));
    for (size_t i = 0; i < 3; i++)
        CHECK(mixq_push(q, 0, 100, IT(i)) == MIXQ_OK);
    CHECK(mixq_push(q, 0, 100, IT(3)) == MIXQ_FULL);
    CHECK(mixq_len(q) == 3);
    void *out[4];
    CHECK(mixq_pop_ready(q, 100, out, 1) == 1);
    CHECK(mixq_push(q, 100, 100, IT(4)) == MIXQ_OK);
    size_t n = 0;
    mixq_drain(q, count_cb, &n);
    CHECK(n == 3 && mixq_len(q) == 0);
    mixq_free(q);

    /* Ready-but-unpopped items count towards capacity too. */
    struct mixq_params t = { .strategy = MIXQ_THRESHOLD, .threshold = 2, .capacity = 3 };
    q = mixq_new(&t, test_rng(9));
    CHECK(mixq_push(q, 0, 0, IT(0)) == MIXQ_OK);
    CHECK(mixq_push(q, 0, 0, IT(1)) == MIXQ_OK);
    CHECK(mixq_push(q, 0, 0, IT(2)) == MIXQ_OK);
    CHECK(mixq_push(q, 0, 0, IT(3)) == MIXQ_FULL);
    n = 0;
    mixq_drain(q, count_cb, &n);
    CHECK(n == 3);
    mixq_free(q);
}

/* A timed pool with f = 0 (plain timed mix) emits everything every round. */
static void test_timed_all(void)
{
    struct mixq_params p = { .strategy = MIXQ_TIMED_POOL, .period_us = 500 };
    struct mixq *q = mixq_new(&p, test_rng(10));
    void *out[8];
    CHECK(mixq_push(q, 1200, 0, IT(0)) == MIXQ_OK);
    CHECK(mixq_next_deadline(q) == 1500);
    CHECK(mixq_push(q, 1499, 0, IT(1)) == MIXQ_OK);
    /* Popped late (several periods): the round fires once, at 1500. */
    CHECK(mixq_pop_ready(q, 2700, out, 8) == 2);
    CHECK(mixq_len(q) == 0);
    CHECK(mixq_push(q, 2800, 0, IT(2)) == MIXQ_OK);
    CHECK(mixq_next_deadline(q) == 3000);
    CHECK(mixq_pop_ready(q, 3000, out, 8) == 1);
    /* Idle for several periods: the next item waits for the next round, it
     * does not leave alone at once. */
    CHECK(mixq_push(q, 4321, 0, IT(3)) == MIXQ_OK);
    CHECK(mixq_next_deadline(q) == 4500);
    CHECK(mixq_pop_ready(q, 4321, out, 8) == 0);
    CHECK(mixq_push(q, 4400, 0, IT(4)) == MIXQ_OK);
    CHECK(mixq_pop_ready(q, 4500, out, 8) == 2);
    mixq_free(q);

    /* The same with a pool that keeps one. */
    struct mixq_params pk = { .strategy = MIXQ_TIMED_POOL, .period_us = 500, .pool_keep = 1 };
    q = mixq_new(&pk, test_rng(11));
    CHECK(mixq_push(q, 100, 0, IT(0)) == MIXQ_OK);
    CHECK(mixq_push(q, 200, 0, IT(1)) == MIXQ_OK);
    CHECK(mixq_pop_ready(q, 500, out, 8) == 1);
    CHECK(mixq_push(q, 2100, 0, IT(2)) == MIXQ_OK);
    CHECK(mixq_next_deadline(q) == 2500);
    CHECK(mixq_pop_ready(q, 2100, out, 8) == 0);
    CHECK(mixq_pop_ready(q, 2500, out, 8) == 1 && mixq_len(q) == 1);
    mixq_free(q);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    RUN(test_params);
    RUN(test_poisson_order_and_cap);
    RUN(test_poisson_many);
    RUN(test_timed_pool);
    RUN(test_pool_uniform_keep);
    RUN(test_threshold);
    RUN(test_threshold_random_order);
    RUN(test_capacity_and_drain);
    RUN(test_timed_all);
    return tap_done();
}
