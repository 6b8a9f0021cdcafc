/*
 * Replay cache: the set of Sphinx replay tags a node has already seen under
 * one Sphinx key.
 *
 * - Bounded: at most `capacity` tags.  When full, inserting a fresh tag
 *   evicts the OLDEST tag (first in, first out) and counts an eviction; it
 *   never fails and never aborts.  Size the capacity to hold one key epoch's
 *   traffic so evictions stay at zero in normal operation.
 * - O(1) per packet: a chained hash table over a ring of entries.  Bucket
 *   indexes come from SipHash (crypto_shorthash) under a random per-cache
 *   key, so a sender who grinds shared secrets cannot flood one bucket.
 * - Thread safe: every public call takes one internal mutex.  The critical
 *   section is a few hundred nanoseconds, against ~100 us of X25519 work per
 *   packet, so one lock does not limit a node's worker threads.
 * - Persistent: replay_cache_save() writes every tag (oldest first) with a
 *   versioned header, the key id and a BLAKE2b checksum, atomically (tmp
 *   file, fsync, rename, fsync of the directory).  replay_cache_load()
 *   refuses a corrupt file or a file written for another key id.  File
 *   format: docs/spec/sphinx.md, "Replay cache file".
 */
#ifndef MIX_REPLAY_H
#define MIX_REPLAY_H

#include "common.h"

#define REPLAY_TAG_LEN 16
#define REPLAY_KEY_ID_LEN 32
/* Largest capacity accepted (2^26 tags, about 1.6 GB of memory). */
#define REPLAY_MAX_CAPACITY ((size_t)1 << 26)

struct replay_cache;

enum replay_status {
    REPLAY_FRESH = 0,         /* not seen before; now recorded */
    REPLAY_FRESH_EVICTED = 1, /* not seen before; recorded; the oldest tag was evicted */
    REPLAY_SEEN = 2,          /* already recorded: a replay */
};

enum replay_io {
    REPLAY_IO_OK = 0,
    REPLAY_IO_ERR_OPEN,     /* cannot open / create the file (errno is set) */
    REPLAY_IO_ERR_IO,       /* read, write, fsync or rename failed, or short file */
    REPLAY_IO_ERR_FORMAT,   /* bad magic, unknown version, or impossible counts */
    REPLAY_IO_ERR_CHECKSUM, /* content does not match its checksum: corrupt */
    REPLAY_IO_ERR_KEY,      /* the file belongs to another Sphinx key */
    REPLAY_IO_ERR_NOMEM,
    REPLAY_IO_ERR_ARG, /* bad capacity or arguments */
};

struct replay_stats {
    size_t size; /* tags held now */
    size_t capacity;
    uint64_t inserts;   /* fresh tags recorded */
    uint64_t hits;      /* replays detected */
    uint64_t evictions; /* tags dropped because the cache was full */
};

/*
 * A new empty cache for up to `capacity` tags (1..REPLAY_MAX_CAPACITY), for
 * the Sphinx key identified by key_id (see sphinx_key_id()); key_id may be
 * NULL for a cache that is never saved (all-zero id).  NULL on bad capacity
 * or no memory.
 */
struct replay_cache *replay_cache_new(size_t capacity,
                                      const uint8_t key_id[REPLAY_KEY_ID_LEN]) MIX_WUR;
void replay_cache_free(struct replay_cache *c);

/* Record tag if absent.  Returns REPLAY_SEEN for a replay. */
enum replay_status replay_cache_insert(struct replay_cache *c,
                                       const uint8_t tag[static REPLAY_TAG_LEN]) MIX_WUR;
/*
 * Journal hook: called with every fresh tag, under the cache's lock, by the
 * thread that inserts it (the owner makes it durable; lib does no I/O).
 * fn NULL removes the hook.
 */
typedef uint64_t (*replay_journal_fn)(void *arg, const uint8_t tag[static REPLAY_TAG_LEN]);
void replay_cache_set_journal(struct replay_cache *c, replay_journal_fn fn, void *arg);

/* Whether tag is recorded, without recording it. */
bool replay_cache_contains(struct replay_cache *c, const uint8_t tag[static REPLAY_TAG_LEN]);

void replay_cache_stats(struct replay_cache *c, struct replay_stats *out);
size_t replay_cache_size(struct replay_cache *c);
uint64_t replay_cache_hits(struct replay_cache *c);
uint64_t replay_cache_evictions(struct replay_cache *c);
/* The key id given at creation (or read from the file). */
void replay_cache_key_id(const struct replay_cache *c, uint8_t out[static REPLAY_KEY_ID_LEN]);

/*
 * A snapshot of the cache in the file format (the tags are copied under the
 * cache's lock, the checksum is computed after; *buf is malloc()ed), for
 * sys/replay_file.h to write.
 */
enum replay_io replay_cache_snapshot(struct replay_cache *c, uint8_t **buf, size_t *len) MIX_WUR;
/*
 * A cache from a file image made by replay_cache_snapshot().  The image's key
 * id must equal key_id (else REPLAY_IO_ERR_KEY).  The new cache has the given
 * capacity; if the image holds more tags, the oldest are dropped and counted
 * as evictions.  On success *out is the new cache; on error *out is NULL.
 */
enum replay_io replay_cache_from_image(const uint8_t *buf, size_t len,
                                       const uint8_t key_id[static REPLAY_KEY_ID_LEN],
                                       size_t capacity, struct replay_cache **out) MIX_WUR;
/* The largest valid image (REPLAY_MAX_CAPACITY tags): a bound for readers. */
size_t replay_image_max_len(void);
const char *replay_io_strerror(enum replay_io e);

#endif
