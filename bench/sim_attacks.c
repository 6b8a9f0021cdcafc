/*
 * Speed of mixsim's attack models (sim/sda.c ...), one line each:
 *   sim_sda_events_per_s   events/s of `mixsim sda` (N = 1000, m = 10, threshold
 *                          mix of 100, 1000 messages/s, 600 simulated seconds)
 *   sim_sda_run_s          s, wall time of that run
 * The passive core's own figure, sim_events_per_s, comes from bench/sim.c,
 * which these models do not touch.
 */
#include <stdio.h>
#include <time.h>

#include "sda.h"

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
    return 0;
}
