/*
 * mixsim benchmark: MiXiM's own configuration for its Fig. 8 (stratified,
 * L = 3, W = 10, 50 clients x 100 messages/s, 1 s end-to-end latency, 0.05 s
 * links, Poisson mixing, 150 simulated seconds, a target every 2 s), which
 * MiXiM needs 932 s and 3 GB for.  Prints
 *   sim_events_per_s       events/s
 *   sim_mixim_fig8_s       s (wall time of the whole run)
 *   sim_mixim_fig8_rss_mb  MB (peak resident memory of this process)
 *   sim_mixim_fig8_entropy bits (mean entropy over output messages)
 * then a million clients writing 0.05 real messages/s each (no cover; the
 * network's default mixing: 3 x 10 mixes, 50 ms per hop), a target every
 * 0.1 s, 30 simulated seconds (about 250 targets):
 *   sim_million_clients_s       s (wall time)
 *   sim_million_clients_rss_mb  MB (peak resident memory of this process)
 *   sim_million_clients_entropy bits (mean entropy over recipients)
 */
#include <stdio.h>
#include <sys/resource.h>

#include "sim.h"

int main(void)
{
    struct sim_params p;
    sim_params_mixim(&p);
    p.duration = 150;
    p.target_interval = 2;
    p.early_stop = 0;
    const char *why = NULL;
    struct sim *s = sim_new(&p, &why);
    if (s == NULL) {
        fprintf(stderr, "bench/sim: %s\n", why ? why : "cannot start");
        return 1;
    }
    if (sim_run(s, NULL, NULL) < 0) {
        fprintf(stderr, "bench/sim: out of memory\n");
        sim_free(s);
        return 1;
    }
    const struct sim_results *r = sim_results(s);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("sim_events_per_s %.0f events/s\n", r->wall_s > 0 ? (double)r->events / r->wall_s : 0);
    printf("sim_mixim_fig8_s %.3f s\n", r->wall_s);
    printf("sim_mixim_fig8_rss_mb %.1f MB\n", (double)ru.ru_maxrss / 1024.0);
    printf("sim_mixim_fig8_entropy %.3f bits\n", r->h_msg.mean);
    sim_free(s);
    fflush(stdout);

    sim_params_default(&p);
    sim_params_no_cover(&p);
    p.clients = 1000000;
    p.rate_real = 0.05;
    p.target_interval = 0.1;
    p.duration = 30;
    s = sim_new(&p, &why);
    if (s == NULL || sim_run(s, NULL, NULL) < 0) {
        fprintf(stderr, "bench/sim: million clients: %s\n", s ? "out of memory" : why);
        sim_free(s);
        return 1;
    }
    r = sim_results(s);
    getrusage(RUSAGE_SELF, &ru);
    printf("sim_million_clients_s %.3f s\n", r->wall_s);
    printf("sim_million_clients_rss_mb %.1f MB\n", (double)ru.ru_maxrss / 1024.0);
    printf("sim_million_clients_entropy %.3f bits\n", r->h_rcpt.mean);
    sim_free(s);
    return 0;
}
