/*
 * The adversary's bookkeeping, driven by events: exact probability
 * propagation for tagged target messages through mixing nodes, by the
 * pool-average rule, and the entropy each target ends with.  mixsim drives
 * it from its simulated network; a passive observer of real traffic
 * (mixscope) can drive it from captured link events.  It does no I/O and
 * knows nothing of time except the tag stamps it is given.
 *
 * The model.  Every honest node has a pool sum S: for each target still in
 * play, the total probability that one of the messages the node now holds
 * is that target.  A message carries its own vector (target -> probability
 * that it is that target) between nodes.
 *
 *   engine_tag       a message leaves its sender and becomes target j: its
 *                    vector is {j: 1}.
 *   engine_arrive    a message enters an honest node: its vector joins S
 *                    (the observer cannot follow it inside).
 *   engine_depart    an honest node that held k messages (this one
 *                    included) emits one: the observer cannot tell which of
 *                    the k it was (memoryless Poisson delays, or a uniformly
 *                    random batch order), so it gets S/k and S keeps the
 *                    rest.
 *   engine_deliver   a message reaches its recipient: its mass is output
 *                    mass of each target, per message and per recipient.
 *   engine_drop      a message's mass leaves without reaching an output:
 *                    dropped (counted as pruned) or ruled out (a corrupt
 *                    node showed it was not the target).
 *
 * A corrupt node shows which input became which output: the caller simply
 * does not call engine_arrive / engine_depart for it, and the message keeps
 * its vector through it.  Probabilities below `prune` are dropped and
 * counted, so vectors stay short: only the targets still in play, and a
 * target's recipient masses are a sparse map (memory follows the messages
 * that carried its mass, not the number of recipients).
 *
 * engine_sweep finishes the targets whose mass is all accounted for
 * (delivered + pruned + ruled out = 1) and computes their entropies;
 * engine_summarise turns the finished targets into the statistics mixsim
 * reports (batch-means intervals; see docs/sim.md).  A target's entropy
 * over recipients excludes its sender, who never receives it.
 *
 * Vectors (struct engine_vec) live in the caller's message structs; start
 * them zeroed and give each back with engine_vec_free (or pass it to
 * engine_arrive / engine_deliver / engine_drop, which consume it).  If
 * memory runs out, the affected mass is counted as pruned and engine_oom()
 * turns true.
 */
#ifndef SIM_ENGINE_H
#define SIM_ENGINE_H

#include "common.h"
#include "stats.h"

/* What the adversary learned about one tagged target message. */
struct sim_target {
    double h_msg;      /* Shannon entropy (bits) over output messages */
    double hmin_msg;   /* min-entropy over output messages */
    double h_rcpt;     /* Shannon entropy over recipients (sender excluded) */
    double hmin_rcpt;  /* min-entropy over recipients */
    double delivered;  /* probability mass that reached outputs */
    double pruned;     /* mass dropped below the prune threshold */
    double ruled_out;  /* mass a corrupt mix showed was not the target */
    double latency;    /* s, the target's own network latency (set by the caller) */
    uint64_t t_tag_us; /* when it left its sender */
    bool finished;     /* all its mass accounted for before the run ended */
};

/* One (target, probability) entry; vectors are sorted by target. */
struct engine_ent {
    uint32_t tgt;
    double p;
};

/* A message's vector: opaque, zero-initialised, owned by the message. */
struct engine_vec {
    struct engine_ent *e;
    uint32_t n;
    uint8_t cls;
};

struct engine;

/*
 * nodes: mixing nodes numbered 0..nodes-1; recipients: 0..recipients-1
 * (the senders are recipients too); prune: probabilities below it are
 * dropped.  NULL if memory ran out.
 */
struct engine *engine_new(uint32_t nodes, uint32_t recipients, double prune) MIX_WUR;
void engine_free(struct engine *e);
bool engine_oom(const struct engine *e);

/* v (empty) becomes a new target sent by `sender` at t_us; its index, or -1 (no memory). */
int32_t engine_tag(struct engine *e, struct engine_vec *v, uint32_t sender, uint64_t t_us);
/* v enters honest node `node`: its mass joins the pool sum; v is emptied. */
void engine_arrive(struct engine *e, uint32_t node, struct engine_vec *v);
/* Honest node `node`, holding `held` >= 1 messages, emits one: v (empty) gets S/held. */
void engine_depart(struct engine *e, uint32_t node, uint32_t held, struct engine_vec *v);
/*
 * Like engine_depart, for an observer that only estimates the pool: `held` (>= 1, values
 * below are taken as 1) need not be a whole number (mixscope's Little's-law estimate).
 */
void engine_depart_est(struct engine *e, uint32_t node, double held, struct engine_vec *v);
/* v reaches `recipient`; v is emptied. */
void engine_deliver(struct engine *e, uint32_t recipient, struct engine_vec *v);
/* v's mass leaves without an output: ruled out (true) or dropped (false); v is emptied. */
void engine_drop(struct engine *e, struct engine_vec *v, bool ruled_out);
/* Give v's memory back (its mass is not accounted: use engine_drop for that). */
void engine_vec_free(struct engine *e, struct engine_vec *v);

/* Finish every target whose mass is accounted for (all: every active one). */
void engine_sweep(struct engine *e, bool all);
size_t engine_active(const struct engine *e);
size_t engine_target_count(const struct engine *e);
const struct sim_target *engine_target(const struct engine *e, size_t j);
void engine_set_latency(struct engine *e, size_t j, double latency_s);

/* acc[j] += the mass of target j in v / in the pool sums (for conservation checks). */
void engine_vec_mass(const struct engine_vec *v, double *acc);
void engine_pool_mass(const struct engine *e, double *acc);
/* Most bytes the recipient maps held at once. */
double engine_rcpt_bytes_peak(const struct engine *e);

/* Statistics over the finished targets (in tagging order), as mixsim reports them. */
struct engine_summary {
    uint32_t targets, unfinished, measured, batches;
    struct sim_summary h_msg, hmin_msg, h_rcpt, hmin_rcpt;
    double max_mass_error, max_pruned;
};
/* 0, or -1 if memory ran out.  batches: for stats_summary_batched. */
int engine_summarise(const struct engine *e, uint32_t batches, struct engine_summary *out) MIX_WUR;

#endif
