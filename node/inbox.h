/*
 * inbox: the provider's durable message store, over LMDB.
 *
 * One inbox per client, named by its 32-byte inbox id (lib/payload.h).  A
 * message is stored with a per-inbox sequence number and handed to the
 * client at fetch; it is deleted only when the client acknowledges that
 * sequence number.  inbox_put() returns only after the LMDB transaction
 * has committed (and so been fsync()ed): the caller may then send the
 * packet's SURB acknowledgement, and a kill -9 afterwards loses nothing.
 *
 * Limits: a bounded number of inboxes (inbox_create() refuses more), a
 * bounded number of messages per inbox (inbox_put() returns INBOX_FULL), a
 * maximum age (inbox_expire() deletes older messages), and the LMDB map size
 * (INBOX_STORE_FULL).  Reaching one is an error code for the caller to count;
 * nothing here aborts.
 *
 * Threads: every function may be called from any thread (the environment is
 * opened with MDB_NOTLS; LMDB serialises writers itself).
 *
 * Layout (two LMDB databases in DIR/data.mdb):
 *   "box": inbox id (32) -> count (4 BE) || next_seq (8 BE) || created (8 BE)
 *   "msg": inbox id (32) || seq (8 BE) ->
 *          stored_at (8 BE, Unix s) || flags (1, bit 0 = reply) || surb id (16) || payload
 */
#ifndef MIX_NODE_INBOX_H
#define MIX_NODE_INBOX_H

#include "common.h"

#define INBOX_ID_LEN 32
#define INBOX_SURB_ID_LEN 16

enum inbox_err {
    INBOX_OK = 0,
    INBOX_FULL = -1,       /* this inbox holds its limit of messages */
    INBOX_NO_INBOX = -2,   /* no such inbox (the client never connected) */
    INBOX_TOO_MANY = -3,   /* inbox_create(): the store holds max_inboxes */
    INBOX_STORE_FULL = -4, /* the LMDB map is full */
    INBOX_ERR_IO = -5,     /* any other LMDB error (logged) */
    INBOX_ERR_ARG = -6,
};
const char *inbox_strerror(int e);

struct inbox_limits {
    uint32_t max_inboxes;   /* default 10000 */
    uint32_t max_per_inbox; /* messages per inbox; default 1000 */
    uint64_t max_age_s;     /* expiry in seconds; default 7 days */
    uint64_t map_size;      /* LMDB map size in bytes; default 1 GiB */
    size_t max_payload;     /* largest stored payload; default 64 KiB */
    uint64_t unused_s;      /* an empty inbox unused this long is deleted; 0 = never;
                                default 30 days */
    uint64_t reclaim_s;     /* at max_inboxes, the empty inbox unused longest is deleted
                                to make room if unused this long; 0 = never; default 10 min */
};
void inbox_limits_default(struct inbox_limits *l);

/* One fetched message (payload malloc()ed, freed by inbox_msgs_free). */
struct inbox_msg {
    uint64_t seq;
    uint64_t stored_at;
    bool is_reply;
    uint8_t surb_id[INBOX_SURB_ID_LEN];
    uint8_t *payload;
    size_t payload_len;
};

struct inbox_store;

/* Open (creating) the store in directory `dir`.  NULL with err set. */
struct inbox_store *inbox_open(const char *dir, const struct inbox_limits *lim, char *err,
                               size_t errlen) MIX_WUR;
void inbox_close(struct inbox_store *s);

/* Create the inbox if absent (INBOX_OK also when it existed; its "last used"
 * time then moves to now, rewritten once an hour at most). */
int inbox_create(struct inbox_store *s, const uint8_t id[static INBOX_ID_LEN],
                 uint64_t now) MIX_WUR;
bool inbox_exists(struct inbox_store *s, const uint8_t id[static INBOX_ID_LEN]);

/*
 * Store one message durably; returns after the commit.  surb_id may be NULL
 * (stored as zeros).  *seq_out (may be NULL) receives its sequence number.
 */
int inbox_put(struct inbox_store *s, const uint8_t id[static INBOX_ID_LEN], const uint8_t *payload,
              size_t len, const uint8_t *surb_id, bool is_reply, uint64_t now,
              uint64_t *seq_out) MIX_WUR;

/* One message of inbox_put_many(): the arguments of inbox_put(), and its outcome. */
struct inbox_put_req {
    const uint8_t *id; /* INBOX_ID_LEN bytes */
    const uint8_t *payload;
    size_t len;
    const uint8_t *surb_id; /* may be NULL */
    bool is_reply;
    uint64_t now;
    int rc;       /* out: INBOX_OK or the inbox_err of this message */
    uint64_t seq; /* out: its sequence number when rc is INBOX_OK */
};

/*
 * Group commit: store n messages in one LMDB transaction (one pair of syncs
 * for all).  Returns after that commit; each reqs[i].rc is then INBOX_OK only
 * if message i is durable, so its SURB-ack may leave.  A message refused on its
 * own (inbox full or absent) does not hold the others back; if LMDB fails
 * inside the group, each message is retried alone.  The return value is
 * INBOX_OK unless the whole group failed (then also every rc).
 */
int inbox_put_many(struct inbox_store *s, struct inbox_put_req *reqs, size_t n);

/* Durable write transactions of puts and acks so far (metrics, tests). */
uint64_t inbox_commits(const struct inbox_store *s);

/*
 * Test hook, compiled in only with MIXNODE_TEST_HOOKS (the test program
 * build/test/mixnode-slowstore, never installed; build/mixnode has no such
 * code): when this environment variable holds a number of microseconds at
 * inbox_open(), every commit of puts or acks sleeps that long first (a slow
 * disk).  The backpressure test sets it.
 */
#define INBOX_TEST_DELAY_ENV "MIXNODE_TEST_STORE_DELAY_US"

/*
 * Up to max messages of inbox `id`, oldest first, into a new array *out
 * (*n of them; free with inbox_msgs_free).  *remaining (may be NULL) gets
 * how many more are stored.  Fetching does not delete.
 */
int inbox_fetch(struct inbox_store *s, const uint8_t id[static INBOX_ID_LEN], size_t max,
                struct inbox_msg **out, size_t *n, uint32_t *remaining) MIX_WUR;
void inbox_msgs_free(struct inbox_msg *msgs, size_t n);

/* Delete acknowledged messages; unknown seqs are ignored.  *deleted may be NULL. */
int inbox_ack(struct inbox_store *s, const uint8_t id[static INBOX_ID_LEN], const uint64_t *seqs,
              size_t n, size_t *deleted) MIX_WUR;

/* The acknowledgements of one inbox for inbox_ack_many(), and their outcome. */
struct inbox_ack_req {
    const uint8_t *id; /* INBOX_ID_LEN bytes */
    const uint64_t *seqs;
    size_t n;
    int rc;         /* out: INBOX_OK, INBOX_NO_INBOX, or the group's error */
    size_t deleted; /* out: messages deleted */
};

/*
 * Group commit of acknowledgements: the deletions of several inboxes in one
 * transaction; returns after it committed (a fetch answered after that never
 * returns them again).  An LMDB error fails the whole group (every rc).  An
 * entry with no seqs touches nothing (rc INBOX_OK); with none at all, no
 * transaction is made.
 */
int inbox_ack_many(struct inbox_store *s, struct inbox_ack_req *reqs, size_t n);

/*
 * A durable commit of one small write (a counter), as costly as a small group of acks: a group of
 * fetch requests without any acknowledgement commits this instead, so that the delay of its
 * answers does not say whether acknowledgements were carried.
 */
int inbox_commit_marker(struct inbox_store *s) MIX_WUR;

/* Delete messages stored before now - max_age_s.  *deleted may be NULL. */
int inbox_expire(struct inbox_store *s, uint64_t now, size_t *deleted) MIX_WUR;

/* Delete empty inboxes not used (created, or inbox_create() again) for
 * unused_s seconds.  *deleted (may be NULL) gets how many. */
int inbox_expire_unused(struct inbox_store *s, uint64_t now, size_t *deleted) MIX_WUR;
/* Inboxes inbox_create() has deleted to make room at max_inboxes (limits.reclaim_s). */
uint64_t inbox_reclaimed(const struct inbox_store *s);

/* Messages held in one inbox (0 if none). */
uint32_t inbox_count(struct inbox_store *s, const uint8_t id[static INBOX_ID_LEN]);
/* Totals for metrics: inboxes and messages in the store. */
void inbox_totals(struct inbox_store *s, uint64_t *inboxes, uint64_t *messages);

#endif
