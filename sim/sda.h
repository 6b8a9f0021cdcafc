/*
 * Long-term intersection attacks on persistent relationships: the
 * statistical disclosure attack (Danezis 2003, uniform background assumed)
 * and Mathewson and Dingledine's refinement (2004, background estimated from
 * the rounds the target is absent, outputs weighted by the chance the
 * target's messages leave in each round), against users with contact lists,
 * heterogeneous rates and optional Loopix cover.  The network is one mix
 * (lib/mixq) seen by a global passive observer.  Model: docs/sim.md,
 * "Statistical disclosure".
 */
#ifndef SIM_SDA_H
#define SIM_SDA_H

#include <stdint.h>

#include "aopt.h"
#include "trace.h"

struct sda_params {
    uint64_t seed;
    uint32_t users;            /* N; user 0 is the target */
    uint32_t contacts;         /* m, size of the target's contact list */
    uint32_t contacts_max;     /* others' list sizes in 1..this; 0 = others send uniformly */
    double size_zipf;          /* others' list size k drawn with weight k^-size_zipf */
    double zipf;               /* weight of a list's r-th contact ~ r^-zipf; 0 = equal */
    double popularity;         /* contacts picked with weight rank^-popularity; 0 = uniform */
    double rate;               /* mean real messages per user per s */
    double rate_spread;        /* sigma of lognormal per-user rates; 0 = equal (target: rate) */
    double cover;              /* lambda_P per user: send real-or-drop at this rate; 0 = none */
    int strategy;              /* enum mixq_strategy of the mix */
    uint32_t threshold;        /* threshold n */
    double period;             /* timed pool T, s */
    uint32_t pool_keep;        /* timed pool f */
    double mean_delay;         /* Poisson mean delay, s */
    double window;             /* Poisson: observation round, s; 0 = mean_delay */
    double calibrate;          /* s the attacker spends learning the round-delay law */
    double duration;           /* s of attack (after calibration) at most */
    uint32_t repeat;           /* runs, seeds seed .. seed+repeat-1 */
    uint64_t stop_msgs;        /* end the attack once the target sent this many; 0 = never */
    double online, offline;    /* churn: mean s of online and offline periods; 0 = always on */
    uint32_t target;           /* with a trace: the target's id */
    const struct trace *trace; /* send events instead of generated traffic, or NULL */
};

/* Outcome of one attacker in one run. */
struct sda_outcome {
    int success;          /* the target's contacts are on top at the end */
    double time_s;        /* since the attack began, when they came on top for good */
    uint64_t target_msgs; /* messages the target had sent by then (cover included) */
    uint64_t rounds;      /* observation rounds by then */
    double h_profile;     /* bits: entropy of the normalised estimated profile at the end */
};

enum { SDA_BASIC = 0, SDA_MD = 1, SDA_ATTACKERS = 2 };

struct sda_result {
    struct sda_outcome a[SDA_ATTACKERS];
    double h_true; /* bits: entropy of the target's true profile */
    uint64_t events;
    uint64_t target_msgs, rounds; /* over the whole attack */
    double attack_s;              /* s the attack ran */
};

extern const struct aopt sda_opts[];
extern const size_t sda_opt_count;

void sda_params_default(struct sda_params *p);
/* False with *why on inconsistent parameters. */
bool sda_params_check(const struct sda_params *p, const char **why) MIX_WUR;

/*
 * One run with seed p->seed; 0, or -1 if memory ran out.  With a trace,
 * users is the trace's, the target's contacts are the recipients it wrote
 * to, and cover and churn do not apply (sda_params_check refuses them).
 */
int sda_run(const struct sda_params *p, struct sda_result *r) MIX_WUR;

/*
 * Danezis's closed form for the basic SDA against a threshold mix of batch
 * b, N recipients, uniform background and m equally likely contacts: the
 * rounds the target must take part in before her contacts stand l standard
 * deviations above the rest,
 *   t > [ m l ( sqrt(s2) + sqrt(s2 + (m-1)/m^2) ) ]^2,  s2 = (b-1)(N-1)/N^2.
 */
double sda_rounds_closed_form(double n_users, double m, double b, double l);

/*
 * The same model taken to the whole ranking, with the counts' exact laws
 * rather than normal ones (a non-contact's count after t rounds is
 * Binomial(t(b-1), 1/N), about Poisson(mu0 = t(b-1)/N); a contact's is
 * Binomial(t, 1/m) plus the same), recipients taken as independent: the
 * probability that all m contacts score above all N-m other users,
 *   P(t) = sum_k [F0(k)^(N-m) - F0(k-1)^(N-m)] (1 - G(k))^m.
 * NaN if memory ran out.
 */
double sda_rank_probability(double n_users, double m, double b, double t);

/* The number of distinct users the target writes to in a trace. */
uint32_t sda_trace_contacts(const struct trace *t, uint32_t target);

/* `mixsim sda ...` (argv[0] is the first flag). */
int cmd_sda(int argc, char **argv);

#endif
