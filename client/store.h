/*
 * The client's persistent state: a small LMDB environment in the data
 * directory (client.mdb), so queued and unacknowledged messages, the SURB
 * keys of packets in flight and partly received messages survive a restart.
 *
 * The store is a key-value map per table; the record layouts belong to
 * client/core.c.  Each call is its own transaction.  The environment runs
 * with MDB_NOSYNC for speed; cstore_sync() forces the data to disk and is
 * called whenever the client accepts responsibility for a message (a send
 * or a received message handed over), so nothing accepted is lost.
 */
#ifndef MIX_CLIENT_STORE_H
#define MIX_CLIENT_STORE_H

#include "common.h"

enum cstore_table {
    CSTORE_OUT = 0, /* msg id -> outgoing message (header + body) */
    CSTORE_FSTATE,  /* msg id -> one state byte per fragment */
    CSTORE_SURB,    /* surb id -> what a SURB we made is for + its keys */
    CSTORE_IN,      /* msg id -> received message, complete */
    CSTORE_PART,    /* msg id || index -> a received fragment's data */
    CSTORE_PMETA,   /* msg id -> partial message: count, total, got, reply SURB */
    CSTORE_RAW,     /* 8-byte counter -> ready Sphinx packet (replies) */
    CSTORE_META,    /* name -> value (counters) */
    CSTORE_NTABLES
};

struct cstore;

/* Open (creating) dir/client.mdb with a map of map_mb MiB.  NULL with err set. */
struct cstore *cstore_open(const char *dir, size_t map_mb, char *err, size_t errlen) MIX_WUR;
void cstore_close(struct cstore *s);

/* 0, or -1 (full map, I/O error). */
int cstore_put(struct cstore *s, enum cstore_table t, const void *key, size_t klen, const void *val,
               size_t vlen) MIX_WUR;
/* 1 found (*val malloc()ed, caller frees), 0 absent, -1 error. */
int cstore_get(struct cstore *s, enum cstore_table t, const void *key, size_t klen, uint8_t **val,
               size_t *vlen) MIX_WUR;
/* 1 if the key exists, 0 if not, -1 error. */
int cstore_has(struct cstore *s, enum cstore_table t, const void *key, size_t klen) MIX_WUR;
/* 0 (also when absent) or -1. */
int cstore_del(struct cstore *s, enum cstore_table t, const void *key, size_t klen);
/* Delete every key starting with prefix. */
int cstore_del_prefix(struct cstore *s, enum cstore_table t, const void *prefix, size_t plen);

/*
 * Call fn for every record (in key order) whose key starts with prefix
 * (plen 0 = all); fn returns 0 to continue, non-zero to stop.  The
 * pointers are valid only inside fn, and fn must not write to the store.
 */
typedef int (*cstore_iter_fn)(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val,
                              size_t vlen);
int cstore_iter(struct cstore *s, enum cstore_table t, const void *prefix, size_t plen,
                cstore_iter_fn fn, void *ctx);
size_t cstore_count(struct cstore *s, enum cstore_table t);

/* Flush to disk. */
int cstore_sync(struct cstore *s);

#endif
