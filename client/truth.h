/*
 * The ground-truth file for mixscope (docs/mixscope.md): one line per real
 * payload packet a client hands to the kernel on its gateway link,
 *
 *     # mixscope-truth 1
 *     <realtime_ns> <local_ip>:<local_port> <frame_index>
 *
 * Test builds only.  truth.c is compiled solely with -DMIXCLIENT_TRUTH into
 * the test program $(BUILD)/test/mixclient-truth (client/module.mk), which
 * `make install` never installs; the library and mixclient proper contain no
 * code that writes the file.  In the test program the file is named by the
 * environment variable MIXCLIENT_TRUTH_FILE (unset: nothing is written).
 */
#ifndef MIX_CLIENT_TRUTH_H
#define MIX_CLIENT_TRUTH_H

#include <stddef.h>
#include <stdint.h>

/* Real packets queued on one connection and not yet written out in full. */
#define TRUTH_MAX_MARKS 256

struct truth_link;

/*
 * The per-connection recorder for the connected socket fd, or NULL when
 * MIXCLIENT_TRUTH_FILE is unset or the file cannot be opened (said once
 * on stderr).
 */
struct truth_link *truth_link_new(int fd);
void truth_link_free(struct truth_link *t);
/*
 * A real frame was queued: its first transport message has index
 * frame_index on this connection, and its last byte is byte end_offset
 * (exclusive) of everything the connection wrote.
 */
void truth_link_queued(struct truth_link *t, uint64_t frame_index, uint64_t end_offset);
/* bytes_out bytes have been handed to the kernel: record the frames now complete. */
void truth_link_written(struct truth_link *t, uint64_t bytes_out);

#endif
