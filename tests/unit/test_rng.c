#include <math.h>
#include <sodium.h>

#include "rng.h"
#include "tap.h"

static void test_det_repeatable(void)
{
    uint8_t seed[32] = { 1 }, a[100], b[100];
    struct mix_rng_det d1, d2;
    mix_rng_det_init(&d1, seed);
    mix_rng_det_init(&d2, seed);
    struct mix_rng r1 = mix_rng_det(&d1), r2 = mix_rng_det(&d2);
    /* Split reads must give the same stream as one read. */
    mix_rng_bytes(&r1, a, 100);
    mix_rng_bytes(&r2, b, 37);
    mix_rng_bytes(&r2, b + 37, 63);
    CHECK_EQ_MEM(a, b, 100);
    seed[0] = 2;
    mix_rng_det_init(&d2, seed);
    mix_rng_bytes(&r2, b, 100);
    CHECK(memcmp(a, b, 100) != 0);
}

static void test_distributions(void)
{
    uint8_t seed[32] = { 7 };
    struct mix_rng_det d;
    mix_rng_det_init(&d, seed);
    struct mix_rng r = mix_rng_det(&d);
    double sum = 0;
    int counts[5] = { 0 };
    for (int i = 0; i < 20000; i++) {
        double u = mix_rng_unit(&r);
        CHECK(u > 0 && u <= 1);
        sum += mix_rng_exp(&r, 2.0);
        counts[mix_rng_below(&r, 5)]++;
    }
    CHECKF(fabs(sum / 20000 - 2.0) < 0.1, "mean %f", sum / 20000);
    for (int i = 0; i < 5; i++)
        CHECKF(counts[i] > 3700 && counts[i] < 4300, "bucket %d: %d", i, counts[i]);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    RUN(test_det_repeatable);
    RUN(test_distributions);
    return tap_done();
}
