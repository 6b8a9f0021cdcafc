/*
 * Sender unlinkability as (epsilon, delta) over pairs of challenge messages,
 * as in Piotrowska's anonymity-trilemma simulator, and the entropy of the
 * observer's who-talks-to-whom matrix.  One mix (lib/mixq) fed by N users,
 * seen by a global passive observer that propagates, exactly, the
 * probability that each output is a given input.  Model: docs/sim.md,
 * "Sender unlinkability".
 */
#ifndef SIM_UNLINK_H
#define SIM_UNLINK_H

#include <stdint.h>

#include "aopt.h"

#define UNLINK_EPS 5 /* epsilon values reported: 0, 0.5, 1, 2, 4 */

struct unlink_params {
    uint64_t seed;
    uint32_t users; /* N senders and recipients */
    double rate;    /* messages per user per s (Poisson) */
    int strategy;   /* enum mixq_strategy */
    uint32_t threshold;
    double period;
    uint32_t pool_keep;
    double mean_delay; /* Poisson mix, s; 0 = no delay at all */
    double gap;        /* s from the first challenge message to the second; 0 = the next message */
    double interval;   /* mean s between challenge pairs */
    double warmup;     /* s before the first challenge */
    double duration;   /* s of simulated time */
};

struct unlink_result {
    uint64_t pairs;              /* challenge pairs measured */
    uint64_t unfinished;         /* pairs whose mass was still in the mix at the end */
    double eps[UNLINK_EPS];      /* the epsilon values */
    double delta[UNLINK_EPS];    /* mean delta(epsilon) over pairs */
    double delta_se[UNLINK_EPS]; /* its standard error */
    double eps_max_median;       /* median over pairs of max |ln(p0/p1)| where both > 0 */
    double h_pairs;              /* bits: entropy of the observer's sender-recipient matrix */
    double h_pairs_true;         /* bits: entropy of the true matrix */
    uint64_t events;
};

extern const struct aopt unlink_opts[];
extern const size_t unlink_opt_count;

void unlink_params_default(struct unlink_params *p);
bool unlink_params_check(const struct unlink_params *p, const char **why) MIX_WUR;
int unlink_run(const struct unlink_params *p, struct unlink_result *r) MIX_WUR;

/* `mixsim unlink ...` (argv[0] is the first flag). */
int cmd_unlink(int argc, char **argv);

#endif
