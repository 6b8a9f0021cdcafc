/*
 * Replay caches saved to and loaded from files (the format is lib/replay.c's):
 * atomic, durable writes through sys/fileio.h.
 */
#ifndef MIX_REPLAY_FILE_H
#define MIX_REPLAY_FILE_H

#include "replay.h"

/* Write the cache to path atomically (path.tmp, fsync, rename, fsync dir). */
enum replay_io replay_cache_save(struct replay_cache *c, const char *path) MIX_WUR;
/* The slow half of replay_cache_save(), for another thread: write a
 * replay_cache_snapshot() to path atomically. */
enum replay_io replay_snapshot_write(const uint8_t *buf, size_t len, const char *path) MIX_WUR;
/*
 * Read a cache saved by replay_cache_save().  The file's key id must equal
 * key_id (else REPLAY_IO_ERR_KEY).  The new cache has the given capacity; if
 * the file holds more tags, the oldest are dropped and counted as evictions.
 * On success *out is the new cache; on error *out is NULL.
 */
enum replay_io replay_cache_load(const char *path, const uint8_t key_id[static REPLAY_KEY_ID_LEN],
                                 size_t capacity, struct replay_cache **out) MIX_WUR;

#endif
