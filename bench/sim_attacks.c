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
 * The passive core's own figure, sim_events_per_s, comes from bench/sim.c,
 * which these models do not touch.
 */
#include <stdio.h>
#include <time.h>

#include "active.h"
#include "sda.h"
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
    return 0;
}
