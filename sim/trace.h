/*
 * Trace input for the attack models: a CSV of send events
 *     time,sender,recipient
 * (seconds as a decimal number >= 0, user ids as decimal integers), one per
 * line.  Blank lines and lines starting with '#' are skipped, and so is a
 * first line whose first field is not a number (a header).  CRLF line ends
 * are accepted.  Events need not be in time order; they are sorted
 * (stably).  The parser is for untrusted files: every refusal says which
 * line and why.
 */
#ifndef SIM_TRACE_H
#define SIM_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"

#define TRACE_MAX_EVENTS 100000000u
#define TRACE_MAX_USERS 10000000u /* ids are below this */
#define TRACE_MAX_TIME 1e9        /* s */

struct trace_event {
    double t;
    uint32_t from, to;
};

struct trace {
    struct trace_event *ev;
    size_t n;
    uint32_t users; /* 1 + the largest id */
};

/*
 * Parse buf[0..len) into *out (which the caller frees with trace_free).
 * Returns true, or false with a reason ("line 7: recipient is not a
 * number") in why[0..whylen) and *out empty.
 */
bool trace_parse(const char *buf, size_t len, struct trace *out, char *why, size_t whylen) MIX_WUR;

/* Read and parse a file (at most 4 GiB); false with a reason as above. */
bool trace_load(const char *path, struct trace *out, char *why, size_t whylen) MIX_WUR;

void trace_free(struct trace *t);

#endif
