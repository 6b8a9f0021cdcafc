/*
 * Active attacks on one mix (lib/mixq) with a global observer: the n-1
 * (blending) attack, which holds back every honest input, flushes the mix
 * with its own messages and then lets one target in; and the flooding
 * attack, which adds its own messages to the honest traffic.  Client loop
 * cover (through the mix and back) and mix loop cover (from the mix, out
 * for loop_path seconds, back into it) reveal held-back inputs by their
 * loss.  Model: docs/sim.md, "Active attacks".
 */
#ifndef SIM_ACTIVE_H
#define SIM_ACTIVE_H

#include <stdint.h>

#include "aopt.h"

struct active_params {
    uint64_t seed;
    uint32_t users;      /* N honest clients */
    double rate;         /* real messages per client per s */
    double loop_rate;    /* lambda_L, loops per client per s */
    double mix_loop;     /* lambda_M, loops of the mix per s */
    double loop_timeout; /* s after sending that a loop not back counts as lost */
    double link;         /* s, client <-> mix links */
    double loop_path;    /* s a mix loop spends outside the mix */
    int strategy;        /* enum mixq_strategy */
    uint32_t threshold;
    double period;
    uint32_t pool_keep;
    double mean_delay;
    double attack_rate; /* attacker's own messages per s */
    double warmup;      /* s of normal traffic first */
    double duration;    /* flood: s of attack; n-1: longest a run may take */
    double interval;    /* flood: mean s between targets */
    uint32_t runs;      /* n-1: attacks, one per seed */
};

struct active_result {
    uint64_t targets;    /* measured targets (n-1: finished attacks) */
    double h_mean, h_se; /* bits: the target's entropy over outputs the attacker cannot explain */
    double h_min;        /* smallest of them */
    double attack_s;     /* n-1: mean s from the start of the attack to the target's mass out */
    double detected;     /* n-1: fraction of attacks a lost loop revealed before they ended */
    double detect_s, detect_se; /* n-1: mean s from the start to the first loss, attack sustained */
    uint64_t undetected_sustained; /* n-1: runs where no loop was lost before the cap */
    uint64_t events;
};

extern const struct aopt active_opts[];
extern const size_t active_opt_count;

void active_params_default(struct active_params *p);
bool active_params_check(const struct active_params *p, const char **why) MIX_WUR;
int active_n1_run(const struct active_params *p, struct active_result *r) MIX_WUR;
int active_flood_run(const struct active_params *p, struct active_result *r) MIX_WUR;

/*
 * A threshold mix of n with honest and attacker messages arriving at rates
 * h and a: the target's batch holds U = 1 + Binomial(n-1, h/(h+a)) messages
 * the attacker cannot explain, and the target's entropy is E[log2 U].
 */
double active_flood_threshold_entropy(uint32_t n, double h, double a);

/* `mixsim nminus1 ...` and `mixsim flood ...` (argv[0] is the first flag). */
int cmd_nminus1(int argc, char **argv);
int cmd_flood(int argc, char **argv);

#endif
