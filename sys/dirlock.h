/*
 * An exclusive lock on a daemon's data directory: one process per directory.
 *
 * Two daemons on one data directory would share replay caches, inboxes,
 * queues and sockets and undo each other's work, so each takes a flock(2)
 * on DIR/lock for its whole life (the kernel drops it when the process
 * exits, even after kill -9) and a second one refuses to start.  The file
 * holds the owner's pid, for the message.
 */
#ifndef MIX_DIRLOCK_H
#define MIX_DIRLOCK_H

#include "common.h"

/* Lock `dir` (which must exist) for this process: an open descriptor to keep
 * (close-on-exec), or -1 with err saying why; "DIR is in use by another PROG
 * (pid N)" when it is held. */
int mix_dir_lock(const char *dir, const char *prog, char *err, size_t errlen) MIX_WUR;

#endif
