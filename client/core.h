/*
 * The client's protocol engine, without I/O (docs/spec/client.md).
 *
 * It turns messages into fragments and Sphinx packets (each with a SURB-ack),
 * produces drop and loop cover, recognises what comes back from the inbox
 * (acks, replies, loops, fragments of messages for us), reassembles and
 * deduplicates, and decides retransmissions.  Time is supplied by the caller
 * (monotonic microseconds for timers, Unix seconds for records), randomness
 * by a struct mix_rng, persistence by a struct cstore.  The daemon
 * (client/daemon.c) drives it from libev; the unit tests drive it with a
 * simulated network of real Sphinx nodes.
 */
#ifndef MIX_CLIENT_CORE_H
#define MIX_CLIENT_CORE_H

#include "address.h"
#include "common.h"
#include "frame.h"
#include "payload.h"
#include "pki.h"
#include "rng.h"
#include "store.h"

#define CORE_MSG_ID_LEN PAYLOAD_MSG_ID_LEN

enum core_err {
    CORE_OK = 0,
    CORE_ERR_ADDRESS = -1, /* recipient's gateway not in the directory */
    CORE_ERR_TOO_BIG = -2, /* message above the maximum size */
    CORE_ERR_NO_DOC = -3,  /* no verified directory yet */
    CORE_ERR_STORE = -4,   /* the store failed: nothing was accepted */
    CORE_ERR_UNKNOWN = -5, /* no such message id */
    CORE_ERR_NO_SURB = -6, /* the message carried no (unused) reply SURB */
    CORE_ERR_NOMEM = -7,
    CORE_ERR_PATH = -8,       /* the directory cannot give a path (empty layer) */
    CORE_ERR_CRYPTO = -9,     /* packet construction failed */
    CORE_ERR_SURB_USED = -10, /* the message's reply SURB was used already */
};
const char *core_strerror(int err);

enum core_msg_state {
    CORE_MSG_QUEUED = 1,
    CORE_MSG_SENT = 2,
    CORE_MSG_ACKNOWLEDGED = 3,
    CORE_MSG_FAILED = 4,
    CORE_MSG_RECEIVING = 6, /* incoming, fragments still missing */
    CORE_MSG_RECEIVED = 7,  /* incoming, complete */
};

struct core_config {
    uint8_t sk[PAYLOAD_KEY_LEN]; /* the client key K (copied, wiped on free) */
    uint8_t gateway_id[MIX_NODE_ID_LEN];
    uint32_t max_attempts;      /* sends per fragment before failing (>= 1) */
    uint64_t fetch_interval_us; /* used in the retransmit timeout */
    uint64_t timeout_slack_us;  /* added to every retransmit timeout */
};

struct core_stats {
    uint64_t real_sent, drop_sent, loop_sent, reply_sent;
    uint64_t acks, loop_acks, loops_back;
    uint64_t cover_acks; /* SURB-acks of drop cover, discarded */
    uint64_t retransmits, failed_msgs;
    uint64_t received_frags, duplicates, received_msgs, replies_received;
    uint64_t bad_in; /* inbox entries that did not open or parse */
};

struct core_status {
    uint8_t id[CORE_MSG_ID_LEN];
    enum core_msg_state state;
    uint32_t fragments, acked; /* incoming: acked = fragments received */
    bool incoming;
    uint64_t time;  /* Unix s: accepted; incoming: first fragment / received */
    uint64_t size;  /* bytes */
    bool have_peer; /* outgoing: the recipient */
    struct mix_address peer;
};

/* A message handed to the application. */
struct core_received {
    uint8_t id[CORE_MSG_ID_LEN];
    const uint8_t *body;
    size_t len;
    bool can_reply;
    bool is_reply;
    uint64_t received_at;                 /* Unix seconds */
    uint8_t in_reply_to[CORE_MSG_ID_LEN]; /* is_reply: the id of our message it answers */
};
typedef void (*core_recv_fn)(void *ctx, const struct core_received *m);

struct core;

/* The store must outlive the core.  Loads queued and unacknowledged messages. */
struct core *core_new(const struct core_config *cfg, struct cstore *store,
                      const struct mix_rng *rng) MIX_WUR;
void core_free(struct core *c);

/* Message bytes one fragment carries (0 before a directory): a message of n bytes takes
 * about ceil(n / this) fragments, one payload slot each. */
size_t core_fragment_capacity(const struct core *c);

/* The wall clock (Unix seconds) for the times status shows; the caller keeps it current. */
void core_set_clock(struct core *c, uint64_t unix_now);

/* Install a verified directory (ownership passes to the core). */
void core_set_doc(struct core *c, struct pki_doc *doc);
const struct pki_doc *core_doc(const struct core *c);
void core_set_recv_cb(struct core *c, core_recv_fn fn, void *ctx);

/* This client's address (its gateway + public key). */
void core_address(const struct core *c, struct mix_address *out);
/* Largest message core_send() accepts. */
size_t core_max_message(void);

/*
 * Accept a message for `to`: it is split, stored durably (synced) and
 * queued for the payload stream.  reply_surbs > 0 attaches one reply SURB.
 */
int core_send(struct core *c, const struct mix_address *to, const uint8_t *msg, size_t len,
              uint32_t reply_surbs, uint8_t id_out[static CORE_MSG_ID_LEN]) MIX_WUR;

/*
 * Answer received message `id` through its SURB (body up to core_reply_cap());
 * the reply's own id (what the other side's recv shows) goes to id_out if not NULL.
 */
int core_reply(struct core *c, const uint8_t id[static CORE_MSG_ID_LEN], const uint8_t *body,
               size_t len, uint8_t *id_out) MIX_WUR;
size_t core_reply_cap(const struct core *c);

enum core_stream { CORE_STREAM_PAYLOAD, CORE_STREAM_LOOP, CORE_STREAM_DROP };

/* Bytes of one Sphinx packet in the current geometry (0 without a directory). */
size_t core_packet_len(const struct core *c);

/*
 * The next packet of a stream into out (core_packet_len bytes).  The
 * payload stream sends a queued reply or fragment if there is one, else
 * drop cover.  Returns 1 (real), 0 (cover), or a negative core_err.
 */
int core_next_packet(struct core *c, enum core_stream s, uint64_t now_us, uint64_t unix_now,
                     uint8_t *out) MIX_WUR;

/*
 * One message from the inbox (a FetchResponse entry).  Returns 0 when it
 * is handled (acknowledge it to the gateway, also for garbage, which is
 * counted), -1 on a local failure (do not acknowledge: fetch it again).
 */
int core_on_inbox(struct core *c, const struct frame_inbox_msg *m, uint64_t unix_now) MIX_WUR;

/*
 * Inbox jobs: core_on_inbox() in two halves, so that the expensive one
 * (decryption, storing fragments, joining a complete message, storing it
 * and syncing the store: tens of milliseconds for 1 MiB) can run on another
 * thread while the core's thread keeps sending on time.
 *
 * core_inbox_job() copies the entry (NULL without a directory or memory: do
 * not acknowledge).  core_job_run() may run on any thread: it touches only
 * the job and the store (LMDB, opened MDB_NOTLS, serialises writers), never
 * the core, and jobs must run one at a time, in order.  core_job_done(), on
 * the core's thread, applies the result (counters, acknowledgements of our
 * own packets, the receive callback), frees the job and returns what
 * core_on_inbox() would have: 0 = acknowledge core_job_seq(), -1 = do not.
 * The core must outlive its jobs; core_job_free() drops one not run or not
 * applied (its entry is fetched again).
 */
struct core_job;
struct core_job *core_inbox_job(struct core *c, const struct frame_inbox_msg *m,
                                uint64_t unix_now) MIX_WUR;
void core_job_run(struct core_job *j);
int core_job_done(struct core *c, struct core_job *j) MIX_WUR;
uint64_t core_job_seq(const struct core_job *j);
void core_job_free(struct core_job *j);

/* Retransmit or fail fragments whose timeout passed. */
void core_tick(struct core *c, uint64_t now_us);

/*
 * Forget SURB keys older than two epochs (their answers can no longer come)
 * and partly received messages a day after their first fragment.  Returns
 * how many records went.
 */
size_t core_gc(struct core *c, uint64_t unix_now);

/* Real packets waiting (fragments and replies). */
size_t core_queue_len(const struct core *c);

/* The status of message id: one we sent, else one we receive(d). */
int core_status(struct core *c, const uint8_t id[static CORE_MSG_ID_LEN],
                struct core_status *out) MIX_WUR;
/* Call fn for every message known: outgoing, then incoming (partial, then complete). */
void core_status_all(struct core *c, void (*fn)(void *ctx, const struct core_status *s), void *ctx);

/*
 * Received messages not yet handed out: calls fn for each (at most max,
 * 0 = all) and marks them delivered.  Returns how many; *remaining gets the rest.
 */
size_t core_take_received(struct core *c, size_t max, core_recv_fn fn, void *ctx,
                          size_t *remaining);

void core_get_stats(const struct core *c, struct core_stats *out);

#endif
