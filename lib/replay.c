/*
 * Replay cache: a FIFO ring of tags indexed by a chained hash table.  See
 * replay.h for the contract and docs/spec/sphinx.md for the file format.
 *
 * Entries live in a ring ents[0..capacity): the oldest at `head`, the
 * newest at (head + size - 1) mod capacity.  Each entry is also linked into
 * the chain of its hash bucket, so lookup, insert and the eviction of the
 * oldest entry are O(1) expected.
 */
#include "replay.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>

#define NIL UINT32_MAX

static const uint8_t file_magic[8] = { 'M', 'I', 'X', 'R', 'P', 'L', 'A', 'Y' };
#define FILE_VERSION 1u
#define FILE_HDR_LEN 80 /* magic 8, version 4, reserved 4, key id 32, 4 x u64 */
#define FILE_SUM_LEN 32 /* BLAKE2b-256 of everything before it */

struct entry {
    uint8_t tag[REPLAY_TAG_LEN];
    uint32_t next; /* next entry in the same bucket, or NIL */
};

struct replay_cache {
    pthread_mutex_t mu;
    size_t capacity, size, head;
    struct entry *ents;
    uint32_t *buckets;
    size_t mask; /* number of buckets - 1 (a power of two minus one) */
    uint8_t hkey[crypto_shorthash_KEYBYTES];
    uint8_t key_id[REPLAY_KEY_ID_LEN];
    uint64_t inserts, hits, evictions;
    replay_journal_fn journal;
    void *journal_arg;
};

struct replay_cache *replay_cache_new(size_t capacity, const uint8_t key_id[REPLAY_KEY_ID_LEN])
{
    if (capacity == 0 || capacity > REPLAY_MAX_CAPACITY)
        return NULL;
    struct replay_cache *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    size_t nb = 16;
    while (nb < capacity)
        nb <<= 1;
    c->capacity = capacity;
    c->mask = nb - 1;
    c->ents = malloc(capacity * sizeof *c->ents);
    c->buckets = malloc(nb * sizeof *c->buckets);
    if (c->ents == NULL || c->buckets == NULL || pthread_mutex_init(&c->mu, NULL) != 0) {
        free(c->ents);
        free(c->buckets);
        free(c);
        return NULL;
    }
    for (size_t i = 0; i < nb; i++)
        c->buckets[i] = NIL;
    /* A secret SipHash key: bucket positions cannot be predicted or ground. */
    randombytes_buf(c->hkey, sizeof c->hkey);
    if (key_id != NULL)
        memcpy(c->key_id, key_id, REPLAY_KEY_ID_LEN);
    return c;
}

void replay_cache_free(struct replay_cache *c)
{
    if (c == NULL)
        return;
    pthread_mutex_destroy(&c->mu);
    free(c->ents);
    free(c->buckets);
    sodium_memzero(c, sizeof *c);
    free(c);
}

static size_t bucket_of(const struct replay_cache *c, const uint8_t tag[REPLAY_TAG_LEN])
{
    uint8_t h[crypto_shorthash_BYTES];
    crypto_shorthash(h, tag, REPLAY_TAG_LEN, c->hkey);
    uint64_t v;
    memcpy(&v, h, sizeof v);
    return (size_t)(v & c->mask);
}

static bool find_locked(const struct replay_cache *c, size_t b, const uint8_t tag[REPLAY_TAG_LEN])
{
    for (uint32_t i = c->buckets[b]; i != NIL; i = c->ents[i].next)
        if (sodium_memcmp(c->ents[i].tag, tag, REPLAY_TAG_LEN) == 0)
            return true;
    return false;
}

/* Unlink ring entry idx from its bucket chain. */
static void unlink_locked(struct replay_cache *c, uint32_t idx)
{
    uint32_t *p = &c->buckets[bucket_of(c, c->ents[idx].tag)];
    while (*p != NIL) {
        if (*p == idx) {
            *p = c->ents[idx].next;
            return;
        }
        p = &c->ents[*p].next;
    }
}

/* Add a tag known to be absent; evict the oldest if full.  Returns true if
 * it evicted. */
static bool add_locked(struct replay_cache *c, size_t b, const uint8_t tag[REPLAY_TAG_LEN])
{
    uint32_t idx;
    bool evicted = false;
    if (c->size < c->capacity) {
        idx = (uint32_t)((c->head + c->size) % c->capacity);
        c->size++;
    } else {
        idx = (uint32_t)c->head;
        unlink_locked(c, idx);
        c->head = (c->head + 1) % c->capacity;
        evicted = true;
    }
    memcpy(c->ents[idx].tag, tag, REPLAY_TAG_LEN);
    c->ents[idx].next = c->buckets[b];
    c->buckets[b] = idx;
    return evicted;
}

enum replay_status replay_cache_insert(struct replay_cache *c,
                                       const uint8_t tag[static REPLAY_TAG_LEN])
{
    size_t b = bucket_of(c, tag);
    enum replay_status st;
    pthread_mutex_lock(&c->mu);
    if (find_locked(c, b, tag)) {
        c->hits++;
        st = REPLAY_SEEN;
    } else {
        c->inserts++;
        if (c->journal != NULL)
            (void)c->journal(c->journal_arg, tag);
        if (add_locked(c, b, tag)) {
            c->evictions++;
            st = REPLAY_FRESH_EVICTED;
        } else {
            st = REPLAY_FRESH;
        }
    }
    pthread_mutex_unlock(&c->mu);
    return st;
}

void replay_cache_set_journal(struct replay_cache *c, replay_journal_fn fn, void *arg)
{
    pthread_mutex_lock(&c->mu);
    c->journal = fn;
    c->journal_arg = arg;
    pthread_mutex_unlock(&c->mu);
}

bool replay_cache_contains(struct replay_cache *c, const uint8_t tag[static REPLAY_TAG_LEN])
{
    size_t b = bucket_of(c, tag);
    pthread_mutex_lock(&c->mu);
    bool found = find_locked(c, b, tag);
    pthread_mutex_unlock(&c->mu);
    return found;
}

void replay_cache_stats(struct replay_cache *c, struct replay_stats *out)
{
    pthread_mutex_lock(&c->mu);
    out->size = c->size;
    out->capacity = c->capacity;
    out->inserts = c->inserts;
    out->hits = c->hits;
    out->evictions = c->evictions;
    pthread_mutex_unlock(&c->mu);
}

size_t replay_cache_size(struct replay_cache *c)
{
    struct replay_stats s;
    replay_cache_stats(c, &s);
    return s.size;
}

uint64_t replay_cache_hits(struct replay_cache *c)
{
    struct replay_stats s;
    replay_cache_stats(c, &s);
    return s.hits;
}

uint64_t replay_cache_evictions(struct replay_cache *c)
{
    struct replay_stats s;
    replay_cache_stats(c, &s);
    return s.evictions;
}

void replay_cache_key_id(const struct replay_cache *c, uint8_t out[static REPLAY_KEY_ID_LEN])
{
    memcpy(out, c->key_id, REPLAY_KEY_ID_LEN);
}

const char *replay_io_strerror(enum replay_io e)
{
    switch (e) {
    case REPLAY_IO_OK: return "ok";
    case REPLAY_IO_ERR_OPEN: return "cannot open replay cache file";
    case REPLAY_IO_ERR_IO: return "replay cache file I/O error or truncated file";
    case REPLAY_IO_ERR_FORMAT: return "not a replay cache file of a known version";
    case REPLAY_IO_ERR_CHECKSUM: return "replay cache file is corrupt (checksum mismatch)";
    case REPLAY_IO_ERR_KEY: return "replay cache file belongs to another Sphinx key";
    case REPLAY_IO_ERR_NOMEM: return "out of memory";
    case REPLAY_IO_ERR_ARG: return "bad argument";
    }
    return "unknown replay cache error";
}

/* ------------------------------------------------------------ file I/O */

/* Serialise the cache (oldest tag first) into a new buffer. */
static uint8_t *serialise(struct replay_cache *c, size_t *len_out)
{
    pthread_mutex_lock(&c->mu);
    size_t len = FILE_HDR_LEN + c->size * REPLAY_TAG_LEN + FILE_SUM_LEN;
    uint8_t *buf = malloc(len);
    if (buf != NULL) {
        uint8_t *p = buf;
        memcpy(p, file_magic, 8);
        mix_put_be32(p + 8, FILE_VERSION);
        mix_put_be32(p + 12, 0);
        memcpy(p + 16, c->key_id, REPLAY_KEY_ID_LEN);
        mix_put_be64(p + 48, c->size);
        mix_put_be64(p + 56, c->inserts);
        mix_put_be64(p + 64, c->hits);
        mix_put_be64(p + 72, c->evictions);
        p += FILE_HDR_LEN;
        for (size_t k = 0; k < c->size; k++, p += REPLAY_TAG_LEN)
            memcpy(p, c->ents[(c->head + k) % c->capacity].tag, REPLAY_TAG_LEN);
    }
    pthread_mutex_unlock(&c->mu);
    /* Hashing megabytes must not hold up the workers' replay checks. */
    if (buf != NULL)
        crypto_generichash(buf + len - FILE_SUM_LEN, FILE_SUM_LEN, buf, len - FILE_SUM_LEN, NULL,
                           0);
    *len_out = len;
    return buf;
}

enum replay_io replay_cache_snapshot(struct replay_cache *c, uint8_t **buf, size_t *len)
{
    if (c == NULL || buf == NULL || len == NULL)
        return REPLAY_IO_ERR_ARG;
    *buf = serialise(c, len);
    return *buf != NULL ? REPLAY_IO_OK : REPLAY_IO_ERR_NOMEM;
}

/* Validate a file image; on success *count is the number of tags. */
static enum replay_io check_image(const uint8_t *buf, size_t len,
                                  const uint8_t key_id[REPLAY_KEY_ID_LEN], size_t *count)
{
    if (len < FILE_HDR_LEN + FILE_SUM_LEN || memcmp(buf, file_magic, 8) != 0)
        return REPLAY_IO_ERR_FORMAT;
    if (mix_get_be32(buf + 8) != FILE_VERSION)
        return REPLAY_IO_ERR_FORMAT;
    uint8_t sum[FILE_SUM_LEN];
    crypto_generichash(sum, sizeof sum, buf, len - FILE_SUM_LEN, NULL, 0);
    if (sodium_memcmp(sum, buf + len - FILE_SUM_LEN, FILE_SUM_LEN) != 0)
        return REPLAY_IO_ERR_CHECKSUM;
    uint64_t n = mix_get_be64(buf + 48);
    if ((len - FILE_HDR_LEN - FILE_SUM_LEN) % REPLAY_TAG_LEN != 0 ||
        n != (len - FILE_HDR_LEN - FILE_SUM_LEN) / REPLAY_TAG_LEN)
        return REPLAY_IO_ERR_FORMAT;
    if (sodium_memcmp(buf + 16, key_id, REPLAY_KEY_ID_LEN) != 0)
        return REPLAY_IO_ERR_KEY;
    *count = (size_t)n;
    return REPLAY_IO_OK;
}

enum replay_io replay_cache_from_image(const uint8_t *buf, size_t len,
                                       const uint8_t key_id[static REPLAY_KEY_ID_LEN],
                                       size_t capacity, struct replay_cache **out)
{
    size_t count = 0;
    *out = NULL;
    if (buf == NULL || capacity == 0 || capacity > REPLAY_MAX_CAPACITY)
        return REPLAY_IO_ERR_ARG;
    enum replay_io rc = check_image(buf, len, key_id, &count);
    if (rc != REPLAY_IO_OK)
        return rc;
    struct replay_cache *c = replay_cache_new(capacity, key_id);
    if (c == NULL)
        return REPLAY_IO_ERR_NOMEM;
    c->inserts = mix_get_be64(buf + 56);
    c->hits = mix_get_be64(buf + 64);
    c->evictions = mix_get_be64(buf + 72);
    /* Keep the newest `capacity` tags when the file holds more. */
    size_t skip = count > capacity ? count - capacity : 0;
    c->evictions += skip;
    for (size_t k = skip; k < count; k++) {
        const uint8_t *tag = buf + FILE_HDR_LEN + k * REPLAY_TAG_LEN;
        size_t b = bucket_of(c, tag);
        if (!find_locked(c, b, tag)) /* single-threaded here: no lock needed */
            (void)add_locked(c, b, tag);
    }
    *out = c;
    return REPLAY_IO_OK;
}

size_t replay_image_max_len(void)
{
    return FILE_HDR_LEN + REPLAY_MAX_CAPACITY * REPLAY_TAG_LEN + FILE_SUM_LEN;
}
