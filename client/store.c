/*
 * LMDB-backed client store; see store.h.
 */
#include "store.h"

#include <errno.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"

static const char *const table_names[CSTORE_NTABLES] = {
    "out", "fstate", "surb", "in", "part", "pmeta", "raw", "meta",
};

struct cstore {
    MDB_env *env;
    MDB_dbi dbi[CSTORE_NTABLES];
};

struct cstore *cstore_open(const char *dir, size_t map_mb, char *err, size_t errlen)
{
    struct cstore *s = calloc(1, sizeof(*s));
    char path[4096];
    MDB_txn *txn = NULL;
    int rc;
    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    snprintf(path, sizeof(path), "%s/client.mdb", dir);
    if ((rc = mdb_env_create(&s->env)) != 0)
        goto fail;
    mdb_env_set_maxdbs(s->env, CSTORE_NTABLES);
    mdb_env_set_mapsize(s->env, (map_mb ? map_mb : 256) << 20);
    rc = mdb_env_open(s->env, path, MDB_NOSUBDIR | MDB_NOSYNC | MDB_NOTLS, 0600);
    if (rc != 0)
        goto fail;
    if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)) != 0)
        goto fail;
    for (int i = 0; i < CSTORE_NTABLES; i++)
        if ((rc = mdb_dbi_open(txn, table_names[i], MDB_CREATE, &s->dbi[i])) != 0)
            goto fail;
    if ((rc = mdb_txn_commit(txn)) != 0) {
        txn = NULL;
        goto fail;
    }
    return s;
fail:
    snprintf(err, errlen, "store %s: %s", path, mdb_strerror(rc));
    if (txn != NULL)
        mdb_txn_abort(txn);
    if (s->env != NULL)
        mdb_env_close(s->env);
    free(s);
    return NULL;
}

void cstore_close(struct cstore *s)
{
    if (s == NULL)
        return;
    mdb_env_sync(s->env, 1);
    mdb_env_close(s->env);
    free(s);
}

int cstore_put(struct cstore *s, enum cstore_table t, const void *key, size_t klen, const void *val,
               size_t vlen)
{
    MDB_txn *txn;
    MDB_val k = { klen, (void *)key }, v = { vlen, (void *)val };
    int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc != 0)
        goto fail;
    if ((rc = mdb_put(txn, s->dbi[t], &k, &v, 0)) != 0) {
        mdb_txn_abort(txn);
        goto fail;
    }
    if ((rc = mdb_txn_commit(txn)) != 0)
        goto fail;
    return 0;
fail:
    log_err("client store: write failed: %s", mdb_strerror(rc));
    return -1;
}

int cstore_get(struct cstore *s, enum cstore_table t, const void *key, size_t klen, uint8_t **val,
               size_t *vlen)
{
    MDB_txn *txn;
    MDB_val k = { klen, (void *)key }, v;
    *val = NULL;
    *vlen = 0;
    if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn) != 0)
        return -1;
    int rc = mdb_get(txn, s->dbi[t], &k, &v), ret = 0;
    if (rc == 0) {
        *val = malloc(v.mv_size ? v.mv_size : 1);
        if (*val == NULL) {
            ret = -1;
        } else {
            memcpy(*val, v.mv_data, v.mv_size);
            *vlen = v.mv_size;
            ret = 1;
        }
    } else if (rc != MDB_NOTFOUND) {
        ret = -1;
    }
    mdb_txn_abort(txn);
    return ret;
}

int cstore_has(struct cstore *s, enum cstore_table t, const void *key, size_t klen)
{
    MDB_txn *txn;
    MDB_val k = { klen, (void *)key }, v;
    if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn) != 0)
        return -1;
    int rc = mdb_get(txn, s->dbi[t], &k, &v);
    mdb_txn_abort(txn);
    return rc == 0 ? 1 : rc == MDB_NOTFOUND ? 0 : -1;
}

int cstore_del(struct cstore *s, enum cstore_table t, const void *key, size_t klen)
{
    MDB_txn *txn;
    MDB_val k = { klen, (void *)key };
    if (mdb_txn_begin(s->env, NULL, 0, &txn) != 0)
        return -1;
    int rc = mdb_del(txn, s->dbi[t], &k, NULL);
    if (rc != 0 && rc != MDB_NOTFOUND) {
        mdb_txn_abort(txn);
        return -1;
    }
    return mdb_txn_commit(txn) == 0 ? 0 : -1;
}

int cstore_del_prefix(struct cstore *s, enum cstore_table t, const void *prefix, size_t plen)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k = { plen, (void *)prefix }, v;
    if (mdb_txn_begin(s->env, NULL, 0, &txn) != 0)
        return -1;
    if (mdb_cursor_open(txn, s->dbi[t], &cur) != 0) {
        mdb_txn_abort(txn);
        return -1;
    }
    int rc = mdb_cursor_get(cur, &k, &v, plen ? MDB_SET_RANGE : MDB_FIRST);
    while (rc == 0 && k.mv_size >= plen && (plen == 0 || memcmp(k.mv_data, prefix, plen) == 0)) {
        if (mdb_cursor_del(cur, 0) != 0)
            break;
        rc = mdb_cursor_get(cur, &k, &v, MDB_GET_CURRENT);
        if (rc != 0)
            rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    return mdb_txn_commit(txn) == 0 ? 0 : -1;
}

int cstore_iter(struct cstore *s, enum cstore_table t, const void *prefix, size_t plen,
                cstore_iter_fn fn, void *ctx)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k = { plen, (void *)prefix }, v;
    if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn) != 0)
        return -1;
    if (mdb_cursor_open(txn, s->dbi[t], &cur) != 0) {
        mdb_txn_abort(txn);
        return -1;
    }
    int rc = mdb_cursor_get(cur, &k, &v, plen ? MDB_SET_RANGE : MDB_FIRST);
    while (rc == 0) {
        if (k.mv_size < plen || (plen > 0 && memcmp(k.mv_data, prefix, plen) != 0))
            break;
        if (fn(ctx, k.mv_data, k.mv_size, v.mv_data, v.mv_size) != 0)
            break;
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    return 0;
}

size_t cstore_count(struct cstore *s, enum cstore_table t)
{
    MDB_txn *txn;
    MDB_stat st;
    if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn) != 0)
        return 0;
    size_t n = mdb_stat(txn, s->dbi[t], &st) == 0 ? st.ms_entries : 0;
    mdb_txn_abort(txn);
    return n;
}

int cstore_sync(struct cstore *s)
{
    return mdb_env_sync(s->env, 1) == 0 ? 0 : -1;
}
