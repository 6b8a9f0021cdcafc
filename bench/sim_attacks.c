/*
 * Speed of mixsim's attack models (sim/sda.c ...), one line each:
 *   sim_sda_events_per_s   events/s of `mixsim sda` (N = 1000, m = 10, threshold
 *                          mix of 100, 1000 messages/s, 600 simulated seconds)
 *   sim_sda_run_s          s, wall time of that run
 *   sim_unlink_events_per_s  events/s of `mixsim unlink` defaults with N = 200 (the
 *                          who-talks-to-whom matrix costs N per output)
 *   sim_unlink_nomatrix_events_per_s  the same with N = 5000 (no matrix)
 *   sim_nminus1_events_per_s  events/s of `mixsim nminus1` defaults (100 attacks)
 *   sim_flood_events_per_s    events/s of `mixsim flood` defaults, 1000 s, Poisson mix
 *   sim_trace_parse_mb_per_s  MB/s of the trace parser on 1 M generated events
 *   sim_retx_events_per_s     events/s of `mixsim retx` defaults
 * The passive core's own figure, sim_events_per_s, comes from bench/sim.c,
 * which these models do not touch.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "active.h"
#include "retx.h"
#include "sda.h"
#include "trace.h"
#include "unlink.h"

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(void)
{
    struct sda_params p;
    sda_params_default(&p);
    p.contacts_max = 20;
    p.duration = 600;
    struct sda_result r;
    double t0 = now_s();
    if (sda_run(&p, &r) < 0) {
        fprintf(stderr, "bench/sim_attacks: out of memory\n");
        return 1;
    }
    double wall = now_s() - t0;
    printf("sim_sda_events_per_s %.0f events/s\n", wall > 0 ? (double)r.events / wall : 0);
    printf("sim_sda_run_s %.3f s\n", wall);
    const uint32_t users[2] = { 200, 5000 };
    const char *names[2] = { "sim_unlink_events_per_s", "sim_unlink_nomatrix_events_per_s" };
    for (int i = 0; i < 2; i++) {
        struct unlink_params u;
        unlink_params_default(&u);
        u.users = users[i];
        u.duration = 200;
        struct unlink_result ur;
        t0 = now_s();
        if (unlink_run(&u, &ur) < 0) {
            fprintf(stderr, "bench/sim_attacks: out of memory\n");
            return 1;
        }
        wall = now_s() - t0;
        printf("%s %.0f events/s\n", names[i], wall > 0 ? (double)ur.events / wall : 0);
    }
    size_t cap = 32u << 20, len = 0;
    char *buf = malloc(cap);
    if (buf == NULL)
        return 1;
    for (uint32_t i = 0; i < 1000000 && cap - len > 64; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%.6f,%u,%u\n", i * 0.001, i % 1000,
                                (i * 7) % 1000);
    struct trace tr;
    char why[200];
    t0 = now_s();
    bool ok = trace_parse(buf, len, &tr, why, sizeof why);
    wall = now_s() - t0;
    free(buf);
    if (!ok) {
        fprintf(stderr, "bench/sim_attacks: %s\n", why);
        return 1;
    }
    trace_free(&tr);
    printf("sim_trace_parse_mb_per_s %.1f MB/s\n", wall > 0 ? (double)len / 1e6 / wall : 0);
    for (int i = 0; i < 2; i++) {
        struct active_params a;
        active_params_default(&a);
        a.duration = i ? 1000 : a.duration;
        struct active_result ar;
        t0 = now_s();
        if ((i ? active_flood_run(&a, &ar) : active_n1_run(&a, &ar)) < 0) {
            fprintf(stderr, "bench/sim_attacks: out of memory\n");
            return 1;
        }
        wall = now_s() - t0;
        printf("%s %.0f events/s\n", i ? "sim_flood_events_per_s" : "sim_nminus1_events_per_s",
               wall > 0 ? (double)ar.events / wall : 0);
    }
    struct retx_params rp;
    retx_params_default(&rp);
    struct retx_result rr;
    t0 = now_s();
    if (retx_run(&rp, &rr) < 0) {
        fprintf(stderr, "bench/sim_attacks: out of memory\n");
        return 1;
    }
    wall = now_s() - t0;
    printf("sim_retx_events_per_s %.0f events/s\n", wall > 0 ? (double)rr.events / wall : 0);
    return 0;
}
