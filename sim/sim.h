/*
 * mixsim's discrete-event core: clients, mixes driven by lib/mixq in
 * virtual time, a global passive adversary with corrupt mixes, and exact
 * probability propagation for tagged target messages.  See docs/sim.md for
 * the model and the metrics.
 */
#ifndef SIM_SIM_H
#define SIM_SIM_H

#include "engine.h"
#include "params.h"
#include "stats.h"

struct sim_counts {
    uint64_t real_written, real_sent, real_delivered;
    uint64_t payload_cover, loop_cover, drop_cover, mix_loop_cover;
    uint64_t hops_real, hops_cover;   /* link transmissions by kind */
    uint64_t mix_drops, client_drops; /* mixq full, client queue full */
};

/*
 * Fewer measured targets than this and the run's statistics are not worth
 * reporting: the results carry few_targets and every output format marks
 * them (and `make plots` leaves such points out).
 */
#define SIM_MIN_TARGETS 30
/*
 * Targets share pools and rounds, so they are correlated and sd / sqrt(n)
 * understates the error.  A run's se comes from the means of this many
 * contiguous batches of targets (in tagging order, i.e. time); across seeds
 * (repeat > 1) it comes from the per-seed means instead.
 */
#define SIM_BATCHES 10

struct sim_results {
    double sim_s; /* simulated seconds actually run */
    double wall_s;
    uint64_t events;
    double mean_delay;                     /* s, effective per-hop mean (after e2e) */
    double warmup, drain, target_interval; /* s, effective values */
    double tag_prob;                       /* chance that a real message in the window is tagged */
    uint32_t mixes, corrupt_mixes;         /* effective: topology and corrupt_ids applied */
    uint32_t targets, unfinished;
    uint32_t measured; /* targets - unfinished: what the statistics use */
    uint32_t batches;  /* se by batch means over this many batches (0: none) */
    uint32_t seeds;    /* > 1: aggregated over seeds, se across per-seed means */
    bool few_targets;  /* measured < SIM_MIN_TARGETS: see sim_few_targets_why */
    struct sim_summary h_msg, hmin_msg, h_rcpt, hmin_rcpt;
    double eff_set_msg;      /* 2^(mean h_msg) */
    double eff_set_rcpt;     /* 2^(mean h_rcpt) */
    double degree;           /* mean h_rcpt / log2 (N - 1): the sender never receives */
    double max_mass_error;   /* max |1 - delivered - pruned - ruled_out| */
    double max_pruned;       /* largest pruned mass of any target */
    double rcpt_bytes_peak;  /* most memory the per-target recipient maps held at once */
    struct sim_hist latency; /* network latency of real messages (s) */
    struct sim_hist e2e;     /* writing to delivery, incl. client queue */
    struct sim_counts c;
    double overhead;      /* cover messages sent per real message */
    double overhead_hops; /* cover link transmissions per real one */
};

struct sim;

/* A simulation ready to run, or NULL with *why (bad parameters, no memory). */
struct sim *sim_new(const struct sim_params *p, const char **why) MIX_WUR;
void sim_free(struct sim *s);

/* Called about once per simulated second. */
typedef void (*sim_progress_fn)(void *arg, double sim_t, double end_t, uint64_t events);

/* Run to the end; 0, or -1 if memory ran out. */
int sim_run(struct sim *s, sim_progress_fn progress, void *arg) MIX_WUR;

const struct sim_results *sim_results(const struct sim *s);

/*
 * Run p->repeat independent replications (seeds p->seed, p->seed + 1, ...)
 * and aggregate them into *out: entropy means and se/ci95 across the
 * per-seed means (so a random corrupt placement, drawn per seed, counts in
 * the interval), counts and latency histograms summed.  Returns 0, -1 if
 * memory ran out, 2 with *why if the parameters are bad.
 */
int sim_run_repeat(const struct sim_params *p, struct sim_results *out, sim_progress_fn progress,
                   void *arg, const char **why) MIX_WUR;

/*
 * If r has too few targets, write the reason and the fix (a duration that
 * would give enough) to buf and return true; else return false.
 */
bool sim_few_targets_why(const struct sim_params *p, const struct sim_results *r, char *buf,
                         size_t len);
size_t sim_target_count(const struct sim *s);
const struct sim_target *sim_target_get(const struct sim *s, size_t i);
const struct sim_params *sim_params_of(const struct sim *s);

/*
 * For tests: acc[j] = the mass of target j still inside the network (pool
 * sums, messages on links, messages held by corrupt mixes), for every
 * target (acc has sim_target_count() entries).  Call only after sim_run();
 * it empties the corrupt mixes' queues.
 */
void sim_mass_in_flight(struct sim *s, double *acc);

#endif
