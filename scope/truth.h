/*
 * The ground-truth target file a client writes in its test mode only:
 *
 *     # mixscope-truth 1
 *     <realtime_ns> <local_ip>:<local_port> <frame_index>
 *
 * one line per real payload packet it sent (never loop, drop or fetch
 * traffic): when it handed the frame to the kernel (CLOCK_REALTIME), its end
 * of the TCP link to its gateway ([addr]:port for IPv6), and the 0-based
 * index of that Noise transport message among those it sent on the
 * connection after the handshake.  Several files, or several clients
 * appending to one, are merged.  Pure parsing: the caller reads the bytes.
 */
#ifndef SCOPE_TRUTH_H
#define SCOPE_TRUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capture.h"

#define TRUTH_MAX_ENTRIES (1u << 22)
#define TRUTH_HEADER "# mixscope-truth 1"

struct truth_ent {
    struct cap_ep ep;
    uint32_t frame;
    bool matched;
    int64_t t_ns;
};

struct truth {
    struct truth_ent *v;
    size_t n, cap;
    bool sorted;
};

void truth_free(struct truth *t);
/*
 * Add the lines of one file's bytes to t.  false with a message in err (naming the line) on a
 * missing header, a malformed line, or more than TRUTH_MAX_ENTRIES entries; the entries before
 * the bad line stay.
 */
bool truth_parse(struct truth *t, const char *buf, size_t len, char *err, size_t errlen);
/* The entry for (ep, frame), or NULL (sorts t at the first call after a parse). */
struct truth_ent *truth_find(struct truth *t, const struct cap_ep *ep, uint32_t frame);
/*
 * The entries of endpoint ep, in frame order (sorts t like truth_find): the count, and the first
 * at *first.  NULL first and 0 if there is none.
 */
size_t truth_ep_entries(struct truth *t, const struct cap_ep *ep, struct truth_ent **first);

#endif
