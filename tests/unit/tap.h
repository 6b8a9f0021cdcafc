/*
 * A tiny TAP harness for unit tests.  A test program defines functions
 * `static void test_x(void)` that use CHECK(); main() calls RUN(test_x) for
 * each and returns tap_done().  Every RUN prints "ok N - name" or
 * "not ok N - name"; tests/run.sh counts those lines.
 */
#ifndef MIX_TAP_H
#define MIX_TAP_H

#include <stdio.h>
#include <string.h>

static int tap_count, tap_failed, tap_cur_failed;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            tap_cur_failed++;                                                                      \
            printf("#   %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);                    \
        }                                                                                          \
    } while (0)
#define CHECKF(cond, ...)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            tap_cur_failed++;                                                                      \
            printf("#   %s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond);                    \
            printf(__VA_ARGS__);                                                                   \
            printf("\n");                                                                          \
        }                                                                                          \
    } while (0)
#define CHECK_EQ_MEM(a, b, n) CHECK(memcmp((a), (b), (n)) == 0)

#define RUN(fn)                                                                                    \
    do {                                                                                           \
        tap_cur_failed = 0;                                                                        \
        fn();                                                                                      \
        tap_count++;                                                                               \
        if (tap_cur_failed) {                                                                      \
            tap_failed++;                                                                          \
            printf("not ok %d - %s\n", tap_count, #fn);                                            \
        } else {                                                                                   \
            printf("ok %d - %s\n", tap_count, #fn);                                                \
        }                                                                                          \
        fflush(stdout);                                                                            \
    } while (0)

static inline int tap_done(void)
{
    printf("1..%d\n", tap_count);
    return tap_failed ? 1 : 0;
}

#endif
