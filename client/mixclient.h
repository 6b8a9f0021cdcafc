/*
 * libmixclient: send and receive messages through the mixnet.
 *
 * One `struct mixclient` is one client identity (an X25519 key pair in its
 * data directory) with one home gateway.  It fetches the directory from the
 * configured authorities and accepts it only with k of n valid signatures,
 * connects to its gateway over Noise (accepting only the link key the
 * directory lists for it), and from then on sends the Loopix streams at the
 * directory's rates: the payload stream (a real packet when one is queued,
 * else drop cover), loop cover and drop cover, and fetches its inbox at a
 * steady cadence.  Messages are end-to-end encrypted to the recipient's key,
 * split into fragments, each acknowledged through a SURB and retransmitted
 * on a fresh path until acknowledged or the attempts run out.
 *
 * The library runs on a libev loop: mixclient_run() runs it until
 * mixclient_stop() (e.g. from a signal handler watcher) or use
 * mixclient_loop() to embed it in an application's own libev loop.
 *
 * Errors: calls return 0 (or a positive count) on success and a negative
 * enum mixclient_err on failure; mixclient_strerror() names the code and
 * mixclient_errmsg() says what exactly was wrong (e.g. the size limit).
 * Calls that make no object (mixclient_new, mixclient_init, ...) write the
 * message to their err buffer.
 *
 * Setup: the library initialises libsodium itself (sodium_init() may be
 * called by the application too, before or after).  It writes nothing to
 * stdout or stderr: log lines go to the callback given in struct
 * mixclient_options, at the level given there (default: none).
 *
 * Threads: a struct mixclient is not thread-safe.  Call every function on
 * it from the thread that runs its loop (an application with other threads
 * hands work to that thread, e.g. with an ev_async watcher).  Distinct
 * objects may live on distinct threads, with distinct loops, except that
 * the log options are process-wide: the last mixclient_new_opts() with
 * options sets them for every object (libmix logs through one sink), and
 * they must not be changed while another thread's object is running.
 * mixclient_strerror(), mixclient_version(), mixclient_check_address()
 * and mixclient_max_message() are safe from any thread.  Each object
 * handles received messages on a thread of its own (started when its
 * gateway link first comes up); the receive callback still runs on the
 * loop's thread, but the log callback can be called from that thread too
 * (a failing store write).
 */
#ifndef MIXCLIENT_H
#define MIXCLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MIXCLIENT_ID_LEN 16        /* message ids */
#define MIXCLIENT_ADDRESS_SIZE 114 /* printable address + NUL */

enum mixclient_err {
    MIXCLIENT_OK = 0,
    MIXCLIENT_E_ADDRESS = -1,         /* malformed or mistyped address (checksum) */
    MIXCLIENT_E_TOO_BIG = -2,         /* message above mixclient_max_message() */
    MIXCLIENT_E_NO_DIRECTORY = -3,    /* no verified directory yet (authorities unreachable?) */
    MIXCLIENT_E_UNKNOWN_GATEWAY = -4, /* the address's gateway is not in the directory */
    MIXCLIENT_E_STORE = -5,           /* the local store failed; nothing was accepted */
    MIXCLIENT_E_UNKNOWN_ID = -6,      /* no message with that id */
    MIXCLIENT_E_NO_SURB = -7,         /* the message cannot be replied to */
    MIXCLIENT_E_CONFIG = -8,          /* bad configuration or key files */
    MIXCLIENT_E_NETWORK = -9,         /* directory or gateway unreachable */
    MIXCLIENT_E_INTERNAL = -10,
    MIXCLIENT_E_SURB_USED = -11, /* the message's reply block was used already */
    MIXCLIENT_E_PATH = -12,      /* the directory gives no usable path right now */
};

/* Log levels of struct mixclient_options: a line is passed on if its level <= the option. */
enum mixclient_log_level {
    MIXCLIENT_LOG_QUIET = 0, /* nothing (the default) */
    MIXCLIENT_LOG_ERROR = 1,
    MIXCLIENT_LOG_WARN = 2,
    MIXCLIENT_LOG_INFO = 3,
    MIXCLIENT_LOG_DEBUG = 4,
};

/* One log line (no newline); never names a peer together with its traffic. */
typedef void (*mixclient_log_fn)(void *ctx, enum mixclient_log_level level, const char *line);

/* Options of mixclient_new_opts(); zero-initialised means the defaults. */
struct mixclient_options {
    mixclient_log_fn log_fn; /* NULL: no log lines */
    void *log_ctx;
    enum mixclient_log_level log_level;
};

enum mixclient_state {
    MIXCLIENT_QUEUED = 1,       /* accepted, not sent yet */
    MIXCLIENT_SENT = 2,         /* some fragments sent, not all acknowledged */
    MIXCLIENT_ACKNOWLEDGED = 3, /* every fragment stored at the recipient's gateway */
    MIXCLIENT_FAILED = 4,       /* a fragment ran out of attempts */
    MIXCLIENT_RECEIVING = 6,    /* incoming, fragments still missing */
    MIXCLIENT_RECEIVED = 7,     /* incoming, complete */
};

/*
 * One message as status shows it (mixclient_message_status()), the same
 * fields as `mixclient status` and the daemon's socket.  Fields are only
 * ever appended, and the caller passes sizeof(struct mixclient_status), so
 * a program built against an older header keeps working.
 */
struct mixclient_status {
    enum mixclient_state state;
    unsigned fragments; /* outgoing: fragments; incoming: the count, 1 once complete */
    unsigned acked;     /* outgoing: acknowledged; incoming: fragments received */
    bool incoming;      /* direction: a message we receive(d), else one we sent */
    uint64_t time;      /* Unix s: outgoing accepted; incoming first fragment / complete */
    uint64_t size;      /* message bytes */
    /* Outgoing: the recipient's address; incoming: "" (a sender is never known). */
    char peer[MIXCLIENT_ADDRESS_SIZE];
};

struct mixclient_message {
    uint8_t id[MIXCLIENT_ID_LEN];
    const uint8_t *body;
    size_t len;
    bool can_reply;       /* carries an unused reply SURB: mixclient_reply() works */
    bool is_reply;        /* a reply to one of our messages */
    uint64_t received_at; /* Unix seconds */
    uint8_t in_reply_to[MIXCLIENT_ID_LEN]; /* is_reply: the id of our message it answers */
};

typedef void (*mixclient_recv_fn)(void *ctx, const struct mixclient_message *m);

struct mixclient;
struct ev_loop;

const char *mixclient_strerror(int err);
const char *mixclient_version(void);

/*
 * Create a client from an INI config file (see mixclient(1)); the keys are
 * read from its data directory (made by mixclient_init()).  loop may be
 * NULL (the client makes its own).  Starts fetching the directory and
 * connecting once the loop runs.  NULL with err set on failure.
 */
struct mixclient *mixclient_new(const char *config_path, struct ev_loop *loop, char *err,
                                size_t errlen);
/*
 * The same with options (NULL = defaults: no log lines).  The log callback
 * is called on the loop's thread, from inside library calls; it must not
 * call the library.  It stays in use until mixclient_free() of this object.
 */
struct mixclient *mixclient_new_opts(const char *config_path, struct ev_loop *loop,
                                     const struct mixclient_options *opts, char *err,
                                     size_t errlen);
void mixclient_free(struct mixclient *mc);

/* What the last failed call on mc was about ("" if none failed yet). */
const char *mixclient_errmsg(const struct mixclient *mc);

/* Check a config file only (mixclient -n).  0 or MIXCLIENT_E_CONFIG with err. */
int mixclient_check_config(const char *config_path, char *err, size_t errlen);

/*
 * First-time setup: create the key pair in the data directory (never
 * replacing one), fetch and verify the directory, choose the gateway
 * (`gateway =` in the config, else a random one), connect once to register
 * the inbox, record the gateway, and write the address to address_out.
 * Blocks up to timeout_s seconds.
 */
int mixclient_init(const char *config_path, unsigned timeout_s,
                   char address_out[MIXCLIENT_ADDRESS_SIZE], char *err, size_t errlen);

/* This client's printable address. */
void mixclient_address(const struct mixclient *mc, char out[MIXCLIENT_ADDRESS_SIZE]);

/* Validate an address without sending anything: 0 or MIXCLIENT_E_ADDRESS (why in err). */
int mixclient_check_address(const char *address, char *err, size_t errlen);

size_t mixclient_max_message(void);
/* Largest reply body (0 before the directory is known). */
size_t mixclient_max_reply(const struct mixclient *mc);

/*
 * Accept a message for address: stored durably and queued; the id is
 * written to id_out.  reply_surbs > 0 lets the recipient answer once.
 */
int mixclient_send(struct mixclient *mc, const char *address, const void *msg, size_t len,
                   unsigned reply_surbs, uint8_t id_out[MIXCLIENT_ID_LEN]);

/*
 * Answer received message id through the SURB it carried (once; at most
 * mixclient_max_reply() bytes).  The reply's own id, which the other side
 * receives it under, goes to id_out unless NULL.  MIXCLIENT_E_SURB_USED if
 * it was answered already, MIXCLIENT_E_NO_SURB if it carried no reply block.
 */
int mixclient_reply(struct mixclient *mc, const uint8_t id[MIXCLIENT_ID_LEN], const void *body,
                    size_t len, uint8_t id_out[MIXCLIENT_ID_LEN]);

/*
 * The state of message id, one we sent or one we receive(d) (the incoming
 * states are MIXCLIENT_RECEIVING and MIXCLIENT_RECEIVED), and its fragment
 * counts as in struct mixclient_status.  MIXCLIENT_E_UNKNOWN_ID if unknown.
 * mixclient_message_status() gives the time, size, direction and peer too.
 */
int mixclient_status(struct mixclient *mc, const uint8_t id[MIXCLIENT_ID_LEN],
                     enum mixclient_state *state, unsigned *fragments, unsigned *acked);
/*
 * Everything status knows about message id, into *out; out_size must be
 * sizeof(struct mixclient_status) as the caller knows it (the library fills
 * that much, so older programs stay compatible as the struct grows).
 * MIXCLIENT_E_UNKNOWN_ID if unknown, MIXCLIENT_E_INTERNAL if out_size is
 * smaller than the struct's first version.
 */
int mixclient_message_status(struct mixclient *mc, const uint8_t id[MIXCLIENT_ID_LEN],
                             struct mixclient_status *out, size_t out_size);

/* Called for each newly received message (also kept until mixclient_take()). */
void mixclient_on_receive(struct mixclient *mc, mixclient_recv_fn fn, void *ctx);

/* Hand out received messages not taken yet (max 0 = all); returns how many. */
size_t mixclient_take(struct mixclient *mc, size_t max, mixclient_recv_fn fn, void *ctx,
                      size_t *remaining);

/* Whether the gateway link is up; the current directory epoch (0 = none). */
bool mixclient_connected(const struct mixclient *mc);
uint64_t mixclient_epoch(const struct mixclient *mc);
/* Real packets waiting to be sent. */
size_t mixclient_queue_len(const struct mixclient *mc);

/* The libev loop the client runs on. */
struct ev_loop *mixclient_loop(struct mixclient *mc);
/* Run the loop until mixclient_stop(). */
int mixclient_run(struct mixclient *mc);
void mixclient_stop(struct mixclient *mc);

#ifdef __cplusplus
}
#endif

#endif
