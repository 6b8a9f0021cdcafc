/*
 * Loss, mix failures and the client's retransmission on a fresh path, and
 * what retransmissions cost in relationship anonymity.  W mixes side by
 * side (lib/mixq), each message through one of them; a global observer
 * that counts every mix's pool (so it sees drops) and, in the worst case,
 * links a retransmission to its original by timing.  Model: docs/sim.md,
 * "Loss and retransmission".
 */
#ifndef SIM_RETX_H
#define SIM_RETX_H

#include <stdint.h>

#include "aopt.h"

struct retx_params {
    uint64_t seed;
    uint32_t users; /* N senders and recipients */
    double rate;    /* messages per user per s */
    uint32_t mixes; /* W mixes; a retransmission avoids the last one used */
    int strategy;
    uint32_t threshold;
    double period;
    uint32_t pool_keep;
    double mean_delay;
    double loss;       /* probability a copy is dropped on its way in */
    double mtbf, mttr; /* mean s up and down of each mix; mtbf 0 = never fails */
    double timeout;    /* s: a copy not delivered by then is sent again */
    uint32_t retx_max; /* most retransmissions of one message */
    double interval;   /* mean s between tagged messages */
    double warmup, duration;
};

struct retx_result {
    uint64_t targets;             /* tagged messages resolved */
    uint64_t lost;                /* of them, never delivered */
    double copies_per_msg;        /* sends per tagged message */
    double duplicates;            /* share of tagged messages delivered more than once */
    double h_single, h_single_se; /* bits over recipients, first delivered copy alone */
    double h_linked, h_linked_se; /* the same, all copies combined */
    uint64_t events;
};

extern const struct aopt retx_opts[];
extern const size_t retx_opt_count;

void retx_params_default(struct retx_params *p);
bool retx_params_check(const struct retx_params *p, const char **why) MIX_WUR;
int retx_run(const struct retx_params *p, struct retx_result *r) MIX_WUR;

/* `mixsim retx ...` (argv[0] is the first flag). */
int cmd_retx(int argc, char **argv);

#endif
