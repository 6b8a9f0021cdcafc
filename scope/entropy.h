/*
 * The anonymity a global passive observer is left with, from observed
 * arrivals and departures alone: message-level entropy of target packets.
 *
 * A target is a packet seen entering the mix layers (a gateway's message to a
 * layer-1 mix).  Its probability mass is followed through every mix with the
 * pool-average rule, which is exact for Poisson (memoryless) mixing: when a
 * mix holding n messages sends one, that one carries 1/n of the target's mass
 * in the mix.  Mass that leaves to a gateway has reached the recipient side;
 * the target's entropy is that of the distribution of its mass over those
 * departures, H = -sum p log2 p, normalised over the mass delivered.
 *
 * The observer cannot count a mix's pool exactly: messages already inside
 * when the capture starts, and a mix's own loop cover (an output with no
 * input, an input never sent on), are invisible.  So it counts inputs minus
 * outputs, n_c, and adds the offset that makes the pool's time average agree
 * with Little's law for the public configuration: mean pool = input rate x
 * mean delay (the directory's).  n = max(1, n_c + offset), offset =
 * rate x delay - mean(n_c), both running averages since the mix's first
 * message; without a configured delay, offset = -min(n_c).  Pure: no I/O,
 * the caller supplies times.
 */
#ifndef SCOPE_ENTROPY_H
#define SCOPE_ENTROPY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stats.h"

#define ENTROPY_MAX_MIXES 1024
#define ENTROPY_MAX_TARGETS 256
#define ENTROPY_DONE_MASS 1e-3          /* a target is finished when less is still in mixes */
#define ENTROPY_MAX_AGE_NS (30LL * 1000000000LL)

struct entropy;

/* interval_ns: at most one new target per interval; mean_delay_ns: configured, 0 if unknown. */
struct entropy *entropy_new(int64_t interval_ns, int64_t mean_delay_ns);
void entropy_free(struct entropy *e);
void entropy_set_mean_delay(struct entropy *e, int64_t mean_delay_ns);
/*
 * One message at time t: from mix src_mix (or -1 if the sender is not a mix) to mix dst_mix
 * (or -1); dst_exit if it goes to a gateway from a mix.  target: the message may start a new
 * target (a gateway to a layer-1 mix).  window: bit 0 if t is in window A, bit 1 in window B.
 */
void entropy_msg(struct entropy *e, int src_mix, int dst_mix, bool dst_exit, bool target,
                 int64_t t, unsigned window);
/* Finish every target still in flight (counted only if most of its mass was delivered). */
void entropy_finish(struct entropy *e);

struct entropy_result {
    uint64_t started, finished, dropped; /* dropped: table full, or too little mass delivered */
    double lost_mass;                    /* mass that never reached a gateway, summed */
    struct rsv h[3];                     /* entropy in bits: all, window A, window B */
};
struct entropy_result *entropy_result(struct entropy *e);

#endif
