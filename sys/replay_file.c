/*
 * Replay caches on disk; see replay_file.h.  The image format and its
 * checks are lib/replay.c's; this file only reads and writes files.
 */
#include "replay_file.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"

enum replay_io replay_cache_save(struct replay_cache *c, const char *path)
{
    uint8_t *buf;
    size_t len;
    if (path == NULL)
        return REPLAY_IO_ERR_ARG;
    enum replay_io rc = replay_cache_snapshot(c, &buf, &len);
    if (rc != REPLAY_IO_OK)
        return rc;
    rc = replay_snapshot_write(buf, len, path);
    free(buf);
    return rc;
}

enum replay_io replay_snapshot_write(const uint8_t *buf, size_t len, const char *path)
{
    if (buf == NULL || path == NULL)
        return REPLAY_IO_ERR_ARG;
    if (strlen(path) + sizeof ".tmp" > PATH_MAX)
        return REPLAY_IO_ERR_ARG;
    if (fileio_write_atomic(path, buf, len, 0600) != 0)
        return errno == ENOENT || errno == EACCES || errno == ENOTDIR || errno == EROFS
                   ? REPLAY_IO_ERR_OPEN
                   : REPLAY_IO_ERR_IO;
    return REPLAY_IO_OK;
}

/* Read a whole regular file of at most max bytes. */
static enum replay_io read_file(const char *path, size_t max, uint8_t **buf_out, size_t *len_out)
{
    switch (fileio_read_file(path, max, buf_out, len_out)) {
    case FILEIO_OK: return REPLAY_IO_OK;
    case FILEIO_ERR_OPEN: return REPLAY_IO_ERR_OPEN;
    case FILEIO_ERR_TOO_BIG: return REPLAY_IO_ERR_FORMAT;
    case FILEIO_ERR_NOMEM: return REPLAY_IO_ERR_NOMEM;
    case FILEIO_ERR_IO: break;
    }
    return REPLAY_IO_ERR_IO;
}

enum replay_io replay_cache_load(const char *path, const uint8_t key_id[static REPLAY_KEY_ID_LEN],
                                 size_t capacity, struct replay_cache **out)
{
    *out = NULL;
    if (path == NULL || capacity == 0 || capacity > REPLAY_MAX_CAPACITY)
        return REPLAY_IO_ERR_ARG;
    /* A file can hold at most REPLAY_MAX_CAPACITY tags: bound the read. */
    uint8_t *buf = NULL;
    size_t len = 0;
    enum replay_io rc = read_file(path, replay_image_max_len(), &buf, &len);
    if (rc != REPLAY_IO_OK)
        return rc;
    rc = replay_cache_from_image(buf, len, key_id, capacity, out);
    free(buf);
    return rc;
}
