/*
 * inbox: durable per-client message store over LMDB.  See inbox.h.
 */
#include "inbox.h"

#include <errno.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

#define BOX_VAL_LEN 20 /* count 4, next_seq 8, last used 8 (set at creation) */
#define TOUCH_EVERY_S                                                                              \
    3600 /* inbox_create() rewrites "last used" at most this often
                                   (or a quarter of unused_s if shorter) */
#define MSG_KEY_LEN (INBOX_ID_LEN + 8)
#define MSG_HDR_LEN (8 + 1 + INBOX_SURB_ID_LEN)

struct inbox_store {
    MDB_env *env;
    MDB_dbi box, msg, meta;
    struct inbox_limits lim;
    _Atomic uint64_t reclaimed; /* empty inboxes deleted to make room */
    _Atomic uint64_t commits;   /* durable write transactions of puts and acks */
#ifdef MIXNODE_TEST_HOOKS
    unsigned long commit_delay_us; /* test hook (inbox.h): sleep before each such commit */
#endif
};

const char *inbox_strerror(int e)
{
    switch (e) {
    case INBOX_OK: return "ok";
    case INBOX_FULL: return "inbox full";
    case INBOX_NO_INBOX: return "no such inbox";
    case INBOX_TOO_MANY: return "too many inboxes";
    case INBOX_STORE_FULL: return "store full";
    case INBOX_ERR_IO: return "store error";
    case INBOX_ERR_ARG: return "bad argument";
    default: return "unknown inbox error";
    }
}

void inbox_limits_default(struct inbox_limits *l)
{
    l->max_inboxes = 10000;
    l->max_per_inbox = 1000;
    l->max_age_s = 7 * 24 * 3600;
    l->map_size = (uint64_t)1 << 30;
    l->max_payload = 64 * 1024;
    l->unused_s = 30 * 24 * 3600;
    l->reclaim_s = 600;
}

static int map_rc(int rc, const char *what)
{
    if (rc == 0)
        return INBOX_OK;
    if (rc == MDB_MAP_FULL)
        return INBOX_STORE_FULL;
    log_warn("inbox: %s: %s", what, mdb_strerror(rc));
    return INBOX_ERR_IO;
}

struct inbox_store *inbox_open(const char *dir, const struct inbox_limits *lim, char *err,
                               size_t errlen)
{
    struct inbox_store *s = calloc(1, sizeof(*s));
    MDB_txn *txn = NULL;
    int rc;

    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (lim)
        s->lim = *lim;
    else
        inbox_limits_default(&s->lim);
#ifdef MIXNODE_TEST_HOOKS
    const char *delay = getenv(INBOX_TEST_DELAY_ENV);
    if (delay && *delay)
        s->commit_delay_us = strtoul(delay, NULL, 10);
#endif
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        snprintf(err, errlen, "inbox: cannot create %s: %s", dir, strerror(errno));
        goto fail;
    }
    if ((rc = mdb_env_create(&s->env)) != 0 || (rc = mdb_env_set_maxdbs(s->env, 4)) != 0 ||
        (rc = mdb_env_set_mapsize(s->env, (size_t)s->lim.map_size)) != 0 ||
        (rc = mdb_env_open(s->env, dir, MDB_NOTLS, 0600)) != 0) {
        snprintf(err, errlen, "inbox: cannot open LMDB store in %s: %s", dir, mdb_strerror(rc));
        goto fail;
    }
    if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)) != 0 ||
        (rc = mdb_dbi_open(txn, "box", MDB_CREATE, &s->box)) != 0 ||
        (rc = mdb_dbi_open(txn, "msg", MDB_CREATE, &s->msg)) != 0 ||
        (rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &s->meta)) != 0 ||
        (rc = mdb_txn_commit(txn)) != 0) {
        if (txn)
            mdb_txn_abort(txn);
        snprintf(err, errlen, "inbox: cannot open databases: %s", mdb_strerror(rc));
        goto fail;
    }
    return s;
fail:
    if (s->env)
        mdb_env_close(s->env);
    free(s);
    return NULL;
}

void inbox_close(struct inbox_store *s)
{
    if (!s)
        return;
    mdb_env_close(s->env);
    free(s);
}

static void msg_key(uint8_t k[MSG_KEY_LEN], const uint8_t id[INBOX_ID_LEN], uint64_t seq)
{
    memcpy(k, id, INBOX_ID_LEN);
    mix_put_be64(k + INBOX_ID_LEN, seq);
}

/* Read the box record; false if absent. */
static bool box_get(struct inbox_store *s, MDB_txn *txn, const uint8_t *id, uint32_t *count,
                    uint64_t *next_seq, uint64_t *created)
{
    MDB_val k = { INBOX_ID_LEN, (void *)id }, v;
    if (mdb_get(txn, s->box, &k, &v) != 0 || v.mv_size != BOX_VAL_LEN)
        return false;
    const uint8_t *p = v.mv_data;
    *count = mix_get_be32(p);
    *next_seq = mix_get_be64(p + 4);
    *created = mix_get_be64(p + 12);
    return true;
}

static int box_put(struct inbox_store *s, MDB_txn *txn, const uint8_t *id, uint32_t count,
                   uint64_t next_seq, uint64_t created)
{
    uint8_t buf[BOX_VAL_LEN];
    mix_put_be32(buf, count);
    mix_put_be64(buf + 4, next_seq);
    mix_put_be64(buf + 12, created);
    MDB_val k = { INBOX_ID_LEN, (void *)id }, v = { sizeof(buf), buf };
    return mdb_put(txn, s->box, &k, &v, 0);
}

/*
 * One walk of the inbox table over the empty inboxes last used before
 * cutoff: with del, each is deleted (and counted in *del); without, the one
 * used longest ago is copied to victim (*found).  0 or an LMDB code.
 */
static int sweep_unused(struct inbox_store *s, MDB_txn *txn, uint64_t cutoff, size_t *del,
                        uint8_t victim[INBOX_ID_LEN], bool *found)
{
    MDB_cursor *cur;
    MDB_val k, v;
    uint64_t oldest = UINT64_MAX;
    int rc;

    if ((rc = mdb_cursor_open(txn, s->box, &cur)) != 0)
        return rc;
    rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    while (rc == 0) {
        const uint8_t *p = v.mv_data;
        bool unused = k.mv_size == INBOX_ID_LEN && v.mv_size == BOX_VAL_LEN &&
                      mix_get_be32(p) == 0 && mix_get_be64(p + 12) < cutoff;
        if (unused && del) {
            if ((rc = mdb_cursor_del(cur, 0)) != 0)
                break;
            (*del)++;
            /* After a delete the cursor already sits on the next record. */
            rc = mdb_cursor_get(cur, &k, &v, MDB_GET_CURRENT);
            continue;
        }
        if (unused && mix_get_be64(p + 12) < oldest) {
            oldest = mix_get_be64(p + 12);
            memcpy(victim, k.mv_data, INBOX_ID_LEN);
            *found = true;
        }
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    /* EINVAL: MDB_GET_CURRENT after deleting the last record. */
    return rc == MDB_NOTFOUND || rc == EINVAL ? 0 : rc;
}

/*
 * At max_inboxes: delete the empty inbox whose last use is oldest, if that is
 * more than reclaim_s ago, so that keys which made an inbox and went away
 * cannot keep new clients out for long.  An empty inbox holds nothing to
 * lose: its owner's next fetch makes it again.  Clients that fetch touch
 * theirs every reclaim_s / 4 at most, so a client that is online is never
 * chosen.  MDB_NOTFOUND if none qualifies.  One scan of the inbox table; it
 * runs only at the cap, behind the creation rate limits.
 */
static int reclaim_one(struct inbox_store *s, MDB_txn *txn, uint64_t now)
{
    uint8_t victim[INBOX_ID_LEN];
    bool found = false;
    int rc;

    if (s->lim.reclaim_s == 0 || now < s->lim.reclaim_s)
        return MDB_NOTFOUND;
    if ((rc = sweep_unused(s, txn, now - s->lim.reclaim_s, NULL, victim, &found)) != 0)
        return rc;
    if (!found)
        return MDB_NOTFOUND;
    MDB_val vk = { INBOX_ID_LEN, victim };
    if ((rc = mdb_del(txn, s->box, &vk, NULL)) != 0)
        return rc;
    atomic_fetch_add(&s->reclaimed, 1);
    return 0;
}

uint64_t inbox_reclaimed(const struct inbox_store *s)
{
    return s ? atomic_load(&s->reclaimed) : 0;
}

int inbox_create(struct inbox_store *s, const uint8_t id[static INBOX_ID_LEN], uint64_t now)
{
    MDB_txn *txn;
    MDB_stat st;
    uint32_t count;
    uint64_t next, created;
    int rc;

    if (!s)
        return INBOX_ERR_ARG;
    /* Used again: its "last used" time moves on, once an hour at most. */
    uint64_t every = TOUCH_EVERY_S;
    if (s->lim.unused_s && s->lim.unused_s / 4 < every)
        every = s->lim.unused_s / 4;
    if (s->lim.reclaim_s && s->lim.reclaim_s / 4 < every)
        every = s->lim.reclaim_s / 4;
    /* Most calls find it there and recently used: a read-only look first, so
     * that they do not wait for another thread's commit (the I/O thread calls
     * this at a link's first fetch). */
    if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn) == 0) {
        bool fresh = box_get(s, txn, id, &count, &next, &created) && created + every >= now;
        mdb_txn_abort(txn);
        if (fresh)
            return INBOX_OK;
    }
    if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)) != 0)
        return map_rc(rc, "begin");
    if (box_get(s, txn, id, &count, &next, &created)) {
        if (created + every >= now) {
            mdb_txn_abort(txn);
            return INBOX_OK;
        }
        if ((rc = box_put(s, txn, id, count, next, now)) != 0) {
            mdb_txn_abort(txn);
            return map_rc(rc, "touch");
        }
        return map_rc(mdb_txn_commit(txn), "commit");
    }
    if ((rc = mdb_stat(txn, s->box, &st)) != 0) {
        mdb_txn_abort(txn);
        return map_rc(rc, "stat");
    }
    if (st.ms_entries >= s->lim.max_inboxes) {
        rc = reclaim_one(s, txn, now);
        if (rc != 0) {
            mdb_txn_abort(txn);
            return rc == MDB_NOTFOUND ? INBOX_TOO_MANY : map_rc(rc, "reclaim");
        }
    }
    if ((rc = box_put(s, txn, id, 0, 1, now)) != 0) {
        mdb_txn_abort(txn);
        return map_rc(rc, "create");
    }
    return map_rc(mdb_txn_commit(txn), "commit");
}

bool inbox_exists(struct inbox_store *s, const uint8_t id[static INBOX_ID_LEN])
{
    MDB_txn *txn;
    uint32_t count;
    uint64_t next, created;
    bool ok;

    if (!s || mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn) != 0)
        return false;
    ok = box_get(s, txn, id, &count, &next, &created);
    mdb_txn_abort(txn);
    return ok;
}

/*
 * One message into the open write transaction.  Errors that concern only this
 * message (its inbox is full or absent, bad arguments) leave txn usable and
 * return the inbox_err; an LMDB error returns it as a positive MDB code (txn
 * must then be aborted).
 */
static int put_in_txn(struct inbox_store *s, MDB_txn *txn, struct inbox_put_req *r)
{
    uint32_t count;
    uint64_t next, created;
    uint8_t key[MSG_KEY_LEN];
    MDB_val k, v;
    int rc;

    if (!r->payload || r->len == 0 || r->len > s->lim.max_payload)
        return INBOX_ERR_ARG;
    if (!box_get(s, txn, r->id, &count, &next, &created))
        return INBOX_NO_INBOX;
    if (count >= s->lim.max_per_inbox)
        return INBOX_FULL;
    msg_key(key, r->id, next);
    k.mv_size = sizeof(key);
    k.mv_data = key;
    v.mv_size = MSG_HDR_LEN + r->len;
    /* MDB_RESERVE: LMDB hands us the value's space; we fill it in place. */
    if ((rc = mdb_put(txn, s->msg, &k, &v, MDB_RESERVE | MDB_NOOVERWRITE)) != 0)
        return rc;
    uint8_t *p = v.mv_data;
    mix_put_be64(p, r->now);
    p[8] = r->is_reply ? 1 : 0;
    if (r->surb_id)
        memcpy(p + 9, r->surb_id, INBOX_SURB_ID_LEN);
    else
        memset(p + 9, 0, INBOX_SURB_ID_LEN);
    memcpy(p + MSG_HDR_LEN, r->payload, r->len);
    if ((rc = box_put(s, txn, r->id, count + 1, next + 1, created)) != 0)
        return rc;
    r->seq = next;
    return INBOX_OK;
}

/* The test hook of inbox.h: a slow disk, for backpressure tests.  Only in
 * the test program mixnode-slowstore (built with MIXNODE_TEST_HOOKS); the
 * daemon has no such code. */
static void test_commit_delay(const struct inbox_store *s)
{
#ifdef MIXNODE_TEST_HOOKS
    if (s->commit_delay_us)
        usleep((useconds_t)s->commit_delay_us);
#else
    (void)s;
#endif
}

int inbox_put_many(struct inbox_store *s, struct inbox_put_req *reqs, size_t n)
{
    MDB_txn *txn;
    size_t stored = 0;
    int rc;

    if (!s || (n && !reqs))
        return INBOX_ERR_ARG;
    for (size_t i = 0; i < n; i++)
        reqs[i].rc = INBOX_ERR_ARG;
    if (n == 0)
        return INBOX_OK;
    if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)) != 0) {
        rc = map_rc(rc, "begin");
        for (size_t i = 0; i < n; i++)
            reqs[i].rc = rc;
        return rc;
    }
    for (size_t i = 0; i < n; i++) {
        rc = put_in_txn(s, txn, &reqs[i]);
        if (rc > 0)
            break; /* an LMDB error: this transaction is lost */
        reqs[i].rc = rc;
        stored += rc == INBOX_OK;
        rc = 0;
    }
    if (rc > 0) {
        mdb_txn_abort(txn);
        if (n == 1) {
            reqs[0].rc = map_rc(rc, "put");
            return reqs[0].rc;
        }
        /* One message broke the group (the map is full, say): each on its
         * own, so that the others still get in and the error is its own. */
        for (size_t i = 0; i < n; i++)
            (void)inbox_put_many(s, &reqs[i], 1);
        return INBOX_OK;
    }
    if (stored == 0) {
        mdb_txn_abort(txn);
        return INBOX_OK;
    }
    test_commit_delay(s);
    /* The commit is durable (no MDB_NOSYNC): after it, a crash keeps every message. */
    if ((rc = mdb_txn_commit(txn)) != 0) {
        rc = map_rc(rc, "commit");
        for (size_t i = 0; i < n; i++)
            if (reqs[i].rc == INBOX_OK)
                reqs[i].rc = rc;
        return rc;
    }
    atomic_fetch_add(&s->commits, 1);
    return INBOX_OK;
}

int inbox_put(struct inbox_store *s, const uint8_t id[static INBOX_ID_LEN], const uint8_t *payload,
              size_t len, const uint8_t *surb_id, bool is_reply, uint64_t now, uint64_t *seq_out)
{
    struct inbox_put_req r = {
        .id = id,
        .payload = payload,
        .len = len,
        .surb_id = surb_id,
        .is_reply = is_reply,
        .now = now,
    };
    if (!s)
        return INBOX_ERR_ARG;
    (void)inbox_put_many(s, &r, 1);
    if (r.rc == INBOX_OK && seq_out)
        *seq_out = r.seq;
    return r.rc;
}

void inbox_msgs_free(struct inbox_msg *msgs, size_t n)
{
    if (!msgs)
        return;
    for (size_t i = 0; i < n; i++)
        free(msgs[i].payload);
    free(msgs);
}

/* Copy one stored record into m; false if it is malformed. */
static bool msg_decode(const MDB_val *k, const MDB_val *v, struct inbox_msg *m)
{
    if (k->mv_size != MSG_KEY_LEN || v->mv_size <= MSG_HDR_LEN)
        return false;
    const uint8_t *p = v->mv_data;
    m->seq = mix_get_be64((const uint8_t *)k->mv_data + INBOX_ID_LEN);
    m->stored_at = mix_get_be64(p);
    m->is_reply = (p[8] & 1) != 0;
    memcpy(m->surb_id, p + 9, INBOX_SURB_ID_LEN);
    m->payload_len = v->mv_size - MSG_HDR_LEN;
    m->payload = malloc(m->payload_len);
    if (!m->payload)
        return false;
    memcpy(m->payload, p + MSG_HDR_LEN, m->payload_len);
    return true;
}

int inbox_fetch(struct inbox_store *s, const uint8_t id[static INBOX_ID_LEN], size_t max,
                struct inbox_msg **out, size_t *n, uint32_t *remaining)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    uint8_t key[MSG_KEY_LEN];
    MDB_val k, v;
    uint32_t count = 0;
    uint64_t next, created;
    struct inbox_msg *msgs = NULL;
    size_t got = 0;
    int rc, ret = INBOX_OK;

    *out = NULL;
    *n = 0;
    if (remaining)
        *remaining = 0;
    if (!s)
        return INBOX_ERR_ARG;
    if ((rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn)) != 0)
        return map_rc(rc, "begin");
    if (!box_get(s, txn, id, &count, &next, &created)) {
        mdb_txn_abort(txn);
        return INBOX_NO_INBOX;
    }
    if (max > count)
        max = count;
    if (max == 0)
        goto done;
    msgs = calloc(max, sizeof(*msgs));
    if (!msgs || (rc = mdb_cursor_open(txn, s->msg, &cur)) != 0) {
        ret = INBOX_ERR_IO;
        goto done;
    }
    msg_key(key, id, 0);
    k.mv_size = sizeof(key);
    k.mv_data = key;
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && got < max && k.mv_size == MSG_KEY_LEN &&
           memcmp(k.mv_data, id, INBOX_ID_LEN) == 0) {
        if (msg_decode(&k, &v, &msgs[got]))
            got++;
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
done:
    mdb_txn_abort(txn);
    if (ret != INBOX_OK || got == 0) {
        inbox_msgs_free(msgs, got);
        msgs = NULL;
        got = 0;
    }
    *out = msgs;
    *n = got;
    if (remaining)
        *remaining = count > got ? count - (uint32_t)got : 0;
    return ret;
}

/* One inbox's acknowledgements inside txn: INBOX_OK, INBOX_NO_INBOX, or an LMDB code (> 0). */
static int ack_in_txn(struct inbox_store *s, MDB_txn *txn, struct inbox_ack_req *r)
{
    uint32_t count;
    uint64_t next, created;
    uint8_t key[MSG_KEY_LEN];
    size_t del = 0;
    int rc;

    if (!box_get(s, txn, r->id, &count, &next, &created))
        return INBOX_NO_INBOX;
    for (size_t i = 0; i < r->n; i++) {
        msg_key(key, r->id, r->seqs[i]);
        MDB_val k = { sizeof(key), key };
        rc = mdb_del(txn, s->msg, &k, NULL);
        if (rc == 0)
            del++;
        else if (rc != MDB_NOTFOUND)
            return rc;
    }
    count = count >= del ? count - (uint32_t)del : 0;
    if ((rc = box_put(s, txn, r->id, count, next, created)) != 0)
        return rc;
    r->deleted = del;
    return INBOX_OK;
}

int inbox_ack_many(struct inbox_store *s, struct inbox_ack_req *reqs, size_t n)
{
    MDB_txn *txn;
    int rc = 0;

    for (size_t i = 0; i < n; i++) {
        reqs[i].rc = INBOX_ERR_ARG;
        reqs[i].deleted = 0;
    }
    if (!s || (n && !reqs))
        return INBOX_ERR_ARG;
    size_t with_seqs = 0;
    for (size_t i = 0; i < n; i++) {
        if (reqs[i].n && !reqs[i].seqs)
            return INBOX_ERR_ARG;
        with_seqs += reqs[i].n > 0;
        if (reqs[i].n == 0)
            reqs[i].rc = INBOX_OK; /* nothing to delete: no store access */
    }
    if (with_seqs == 0)
        return INBOX_OK;
    if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)) != 0)
        goto fail;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (reqs[i].n == 0)
            continue;
        rc = ack_in_txn(s, txn, &reqs[i]);
        if (rc <= 0) {
            reqs[i].rc = rc;
            rc = 0;
        }
    }
    if (rc != 0) {
        mdb_txn_abort(txn);
        goto fail;
    }
    test_commit_delay(s);
    if ((rc = mdb_txn_commit(txn)) != 0)
        goto fail;
    atomic_fetch_add(&s->commits, 1);
    return INBOX_OK;
fail:
    rc = map_rc(rc, "ack");
    for (size_t i = 0; i < n; i++) {
        reqs[i].rc = rc;
        reqs[i].deleted = 0;
    }
    return rc;
}

int inbox_ack(struct inbox_store *s, const uint8_t id[static INBOX_ID_LEN], const uint64_t *seqs,
              size_t n, size_t *deleted)
{
    struct inbox_ack_req r = { .id = id, .seqs = seqs, .n = n };

    if (deleted)
        *deleted = 0;
    if (!s || (n && !seqs))
        return INBOX_ERR_ARG;
    (void)inbox_ack_many(s, &r, 1);
    if (r.rc == INBOX_OK && deleted)
        *deleted = r.deleted;
    return r.rc;
}

int inbox_commit_marker(struct inbox_store *s)
{
    static const char key[] = "marker_commits";
    MDB_val k = { sizeof(key) - 1, (void *)key }, v;
    uint8_t cnt[8] = { 0 };
    MDB_txn *txn;
    int rc;
    if (!s)
        return INBOX_ERR_ARG;
    if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)) != 0)
        return map_rc(rc, "begin");
    if (mdb_get(txn, s->meta, &k, &v) == 0 && v.mv_size == sizeof(cnt))
        memcpy(cnt, v.mv_data, sizeof(cnt));
    mix_put_be64(cnt, mix_get_be64(cnt) + 1);
    v = (MDB_val){ sizeof(cnt), cnt };
    if ((rc = mdb_put(txn, s->meta, &k, &v, 0)) != 0) {
        mdb_txn_abort(txn);
        return map_rc(rc, "put");
    }
    test_commit_delay(s);
    if ((rc = mdb_txn_commit(txn)) != 0)
        return map_rc(rc, "commit");
    atomic_fetch_add(&s->commits, 1);
    return INBOX_OK;
}

uint64_t inbox_commits(const struct inbox_store *s)
{
    return s ? atomic_load(&s->commits) : 0;
}

/* Decrement the count of inbox `id` by one inside txn. */
static int box_dec(struct inbox_store *s, MDB_txn *txn, const uint8_t *id)
{
    uint32_t count;
    uint64_t next, created;
    if (!box_get(s, txn, id, &count, &next, &created))
        return 0;
    return box_put(s, txn, id, count ? count - 1 : 0, next, created);
}

int inbox_expire(struct inbox_store *s, uint64_t now, size_t *deleted)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k, v;
    size_t del = 0;
    int rc;

    if (deleted)
        *deleted = 0;
    if (!s)
        return INBOX_ERR_ARG;
    if (now < s->lim.max_age_s)
        return INBOX_OK;
    uint64_t cutoff = now - s->lim.max_age_s;
    if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)) != 0)
        return map_rc(rc, "begin");
    if ((rc = mdb_cursor_open(txn, s->msg, &cur)) != 0) {
        mdb_txn_abort(txn);
        return map_rc(rc, "cursor");
    }
    rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    while (rc == 0) {
        bool old = v.mv_size < 8 || mix_get_be64(v.mv_data) < cutoff;
        if (old && k.mv_size == MSG_KEY_LEN) {
            uint8_t id[INBOX_ID_LEN];
            memcpy(id, k.mv_data, INBOX_ID_LEN);
            if ((rc = mdb_cursor_del(cur, 0)) != 0 || (rc = box_dec(s, txn, id)) != 0)
                break;
            del++;
            /* After a delete the cursor already sits on the next record. */
            rc = mdb_cursor_get(cur, &k, &v, MDB_GET_CURRENT);
            continue;
        }
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    if (rc != MDB_NOTFOUND && rc != 0 && rc != EINVAL) {
        mdb_txn_abort(txn);
        return map_rc(rc, "expire");
    }
    if ((rc = mdb_txn_commit(txn)) != 0)
        return map_rc(rc, "commit");
    if (deleted)
        *deleted = del;
    return INBOX_OK;
}

int inbox_expire_unused(struct inbox_store *s, uint64_t now, size_t *deleted)
{
    MDB_txn *txn;
    size_t del = 0;
    int rc;

    if (deleted)
        *deleted = 0;
    if (!s)
        return INBOX_ERR_ARG;
    if (s->lim.unused_s == 0 || now < s->lim.unused_s)
        return INBOX_OK;
    if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)) != 0)
        return map_rc(rc, "begin");
    if ((rc = sweep_unused(s, txn, now - s->lim.unused_s, &del, NULL, NULL)) != 0) {
        mdb_txn_abort(txn);
        return map_rc(rc, "expire unused");
    }
    if ((rc = mdb_txn_commit(txn)) != 0)
        return map_rc(rc, "commit");
    if (deleted)
        *deleted = del;
    return INBOX_OK;
}

uint32_t inbox_count(struct inbox_store *s, const uint8_t id[static INBOX_ID_LEN])
{
    MDB_txn *txn;
    uint32_t count = 0;
    uint64_t next, created;

    if (!s || mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn) != 0)
        return 0;
    if (!box_get(s, txn, id, &count, &next, &created))
        count = 0;
    mdb_txn_abort(txn);
    return count;
}

void inbox_totals(struct inbox_store *s, uint64_t *inboxes, uint64_t *messages)
{
    MDB_txn *txn;
    MDB_stat st;

    *inboxes = *messages = 0;
    if (!s || mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn) != 0)
        return;
    if (mdb_stat(txn, s->box, &st) == 0)
        *inboxes = st.ms_entries;
    if (mdb_stat(txn, s->msg, &st) == 0)
        *messages = st.ms_entries;
    mdb_txn_abort(txn);
}
