/*
 * File I/O written once: whole-buffer reads and writes on a descriptor,
 * reading a whole file with a size bound, and replacing a file atomically
 * and durably.  Used by the replay snapshots (lib/replay.c), mixdir's store
 * (dir/dir_store.c), mixnode's saved document (node/node_dir.c) and the
 * client's files (client/init.c, client/cli.c).
 */
#ifndef MIX_FILEIO_H
#define MIX_FILEIO_H

#include <sys/types.h>

#include "common.h"

/* Write all len bytes to fd, retrying on EINTR and short writes.  0 or -1 (errno set). */
int fileio_write_all(int fd, const void *buf, size_t len) MIX_WUR;

/* Read exactly len bytes from fd, retrying on EINTR.  0, or -1 on error or early EOF. */
int fileio_read_all(int fd, void *buf, size_t len) MIX_WUR;

enum fileio_err {
    FILEIO_OK = 0,
    FILEIO_ERR_OPEN,    /* cannot open (errno says why) */
    FILEIO_ERR_IO,      /* not a regular file, or a read failed */
    FILEIO_ERR_TOO_BIG, /* more than max bytes */
    FILEIO_ERR_NOMEM,
};

/*
 * Read the whole regular file at path (at most max bytes) into a malloc'd
 * buffer *out (at least one byte allocated, so an empty file gives a
 * freeable pointer and *len = 0).  The caller frees *out.
 */
enum fileio_err fileio_read_file(const char *path, size_t max, uint8_t **out, size_t *len) MIX_WUR;

/*
 * Replace path with buf atomically and durably: write path.tmp (mode),
 * fsync it, rename it over path, fsync the directory, so that after a
 * crash or a power cut path holds either the old or the new bytes.  On
 * failure path.tmp is removed and errno says why; 0 or -1.  A failure of
 * the final directory fsync also returns -1 (the new bytes are in place
 * but may not survive a power cut).
 */
int fileio_write_atomic(const char *path, const void *buf, size_t len, mode_t mode) MIX_WUR;

#endif
