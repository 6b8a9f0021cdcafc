/*
 * Scheduler hints for latency-sensitive threads.
 *
 * Linux's EEVDF scheduler (6.6+) lets a task ask for a shorter time slice
 * than the default (sched_setattr(2) with sched_runtime on SCHED_OTHER,
 * honoured since 6.12): such a task gets an earlier virtual deadline and may
 * preempt a CPU-bound task when it wakes, instead of waiting for that task's
 * slice (1.5 ms or more) to end.  A node's I/O thread is woken for every
 * packet and works for microseconds, so it asks for a short slice and the
 * crypto workers keep the default.  No privilege is needed; older kernels
 * ignore the hint.  Where a seccomp filter refuses the calls with EPERM
 * (SystemCallErrorNumber=EPERM in a systemd unit) the hint is simply not
 * taken: the functions return -1 and stop trying.  A filter that kills
 * instead (no SystemCallErrorNumber=) must allow sched_setattr.
 */
#ifndef MIX_SCHED_HINT_H
#define MIX_SCHED_HINT_H

#include "common.h"

/* Ask for a `slice_us` slice (100 .. 100000) for the calling thread; 0 or -1 (errno). */
int mix_sched_short_slice(unsigned slice_us);

/* Back to the kernel's default slice for the calling thread (a thread
 * inherits its creator's slice, and a process its parent's): the crypto
 * workers call it so that only the I/O thread has the short one.  0 or -1. */
int mix_sched_default_slice(void);

#endif
