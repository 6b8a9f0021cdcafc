/*
 * The anonymity a global passive observer is left with, from observed
 * arrivals and departures alone: glue that drives mixsim's event engine
 * (sim/engine.h) with captured link events, so that mixscope and mixsim
 * compute their entropies with the same code.
 *
 * Targets.  By default a target is a packet seen entering the mix layers (a
 * gateway's message to a layer-1 mix), at most one per interval.  With a
 * ground-truth file (entropy_client_real), targets are instead the clients'
 * real packets named there; the gateway is taken as a pass-through: the
 * target's vector rides the gateway's next message to layer 1 (a queue per
 * gateway, in order).
 *
 * Honest mixes.  Each message into a mix is engine_arrive, each message out
 * engine_depart_est with the observer's estimate of how many messages the
 * mix holds.  The observer cannot count a mix's pool exactly: messages
 * already inside when the capture starts, and a mix's own loop cover (an
 * output with no input, an input never sent on), are invisible.  So it
 * counts inputs minus outputs, n_c, and adds the offset that makes the
 * pool's time average agree with Little's law for the public configuration:
 * mean pool = input rate x mean delay (the directory's, or the node's own,
 * entropy_set_node_delay).  n = max(1, n_c + offset), offset = rate x delay -
 * mean(n_c), both running averages since the mix's first message; without a
 * configured delay, offset = -min(n_c).
 *
 * Corrupt mixes (entropy_set_corrupt) show the adversary their mapping, so
 * the engine is not called for them: a message keeps its vector through the
 * mix.  The capture alone cannot tell which output was which input, so the
 * corrupt mix is modelled as a zero-delay pass-through: each output takes
 * the vector of the oldest input not yet sent on (FIFO in arrival order).
 * docs/mixscope.md gives the effect of this approximation.
 *
 * Recipients.  A message that leaves the last layer reaches a gateway; the
 * inboxes inside are fetched on a fixed padded cadence, so the recipients an
 * observer tells apart are the gateways.  h_rcpt is over gateways; the
 * sender is not excluded (another client of its gateway may be the
 * recipient).  Pure: no I/O, the caller supplies times.
 */
#ifndef SCOPE_ENTROPY_H
#define SCOPE_ENTROPY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"

#define ENTROPY_MAX_MIXES 1024
#define ENTROPY_MAX_GATEWAYS 1024
#define ENTROPY_QUEUE 1024 /* vectors held per corrupt mix or gateway */
#define ENTROPY_PRUNE 1e-9 /* probabilities below are dropped (counted as pruned) */
#define ENTROPY_BATCHES 10 /* batch means for the standard error, as mixsim */

struct entropy;

/* mixes, gateways: numbered from 0; interval_ns: at most one default target per interval;
   mean_delay_ns: configured, 0 if unknown.  NULL if memory ran out or a count is too big. */
struct entropy *entropy_new(uint32_t mixes, uint32_t gateways, int64_t interval_ns,
                            int64_t mean_delay_ns);
void entropy_free(struct entropy *e);
void entropy_set_mean_delay(struct entropy *e, int64_t mean_delay_ns);
/* This mix's own mean delay, if it differs from the document's (0: the document's). */
void entropy_set_node_delay(struct entropy *e, uint32_t mix, int64_t mean_delay_ns);
void entropy_set_corrupt(struct entropy *e, uint32_t mix);
/* Targets come only from entropy_client_real (a ground-truth file), none by default. */
void entropy_set_truth(struct entropy *e, bool on);

/*
 * One message at time t, from mix src_mix or gateway src_gw (-1 if not one) to mix dst_mix or
 * gateway dst_gw (-1 if not one).  window: bit 0 if t is in window A, bit 1 in window B.
 */
void entropy_msg(struct entropy *e, int src_mix, int src_gw, int dst_mix, int dst_gw, int64_t t,
                 unsigned window);
/* A client's real packet, named by the ground truth, entered gateway gw at t: a new target. */
void entropy_client_real(struct entropy *e, uint32_t gw, int64_t t, unsigned window);
/* Finish every target still in flight (counted as unfinished unless all its mass is out). */
void entropy_finish(struct entropy *e);

struct entropy_result {
    uint64_t started, dropped;    /* dropped: no memory, or a full queue */
    struct engine_summary all;    /* as mixsim reports it */
    struct sim_summary win[2][4]; /* windows A and B: h_msg, hmin_msg, h_rcpt, hmin_rcpt */
    double mean_pruned;
};
/* 0, or -1 if memory ran out. */
int entropy_summarise(const struct entropy *e, struct entropy_result *out);
/* Every target so far, in tagging order (finished ones have their entropies set). */
size_t entropy_targets(const struct entropy *e);
const struct sim_target *entropy_target(const struct entropy *e, size_t j);

#endif
