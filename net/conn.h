/*
 * conn: TCP connections carrying a Noise link (lib/link), driven by libev.
 *
 * One `struct conn_mgr` per daemon owns the listening sockets, the link key
 * pair, the limits, the callbacks and every `struct conn`.  A conn embeds its
 * ev_io/ev_timer watchers and has an explicit state (enum conn_state).  Bytes
 * read from the socket go through a fixed buffer into link_feed(); complete
 * frames are handed to on_frame(); frames queued with conn_send() are
 * written when the socket is writable.
 *
 * Lifetime rules (why: a callback must never find its own struct freed):
 *  - conn_close() and every error only mark a conn closed, stop its watchers
 *    and close its fd; the struct is freed later from an ev_idle watcher,
 *    never inside a callback.  on_close() is called exactly once for each TCP
 *    connection that ends, whoever ended it.
 *  - An accepted conn, or a dialled one with persistent=false, is dead once
 *    on_close() returns: forget the pointer there.
 *  - A persistent dialled conn (conn_dial(..., persistent=true)) reconnects
 *    after each failure with exponential backoff and stays valid until its
 *    owner calls conn_close() on it; on_close() then runs with
 *    CONN_CLOSE_LOCAL (if it was still connected or connecting) and the
 *    pointer is dead when conn_close() returns.
 *
 * Authorisation: for an inbound conn, authorize() is called once the Noise
 * handshake reveals the initiator's static key and announced role, before our
 * handshake reply is written; returning false closes the conn (counted).  An
 * outbound conn is authenticated by the key it was dialled with (IK pins the
 * responder key), so authorize() is not called for it.
 *
 * Limits (struct conn_limits) are checked before any allocation; hitting one
 * is counted in struct conn_stats and never fatal.  Nothing here logs a peer
 * address together with anything about its traffic: addresses are logged at
 * debug level only, in lines about connecting and accepting.
 */
#ifndef MIX_NET_CONN_H
#define MIX_NET_CONN_H

#include "common.h"
#include "link.h"

struct ev_loop;
struct conn;
struct conn_mgr;

enum conn_state {
    CONN_STATE_BACKOFF = 0, /* persistent dial waiting to retry */
    CONN_STATE_CONNECTING,  /* TCP connect in progress */
    CONN_STATE_HANDSHAKE,   /* TCP up, Noise handshake running */
    CONN_STATE_ESTABLISHED, /* frames flow both ways */
    CONN_STATE_CLOSED,      /* waiting to be freed at a safe point */
};

enum conn_close_reason {
    CONN_CLOSE_LOCAL = 0,    /* conn_close() or conn_mgr_free() */
    CONN_CLOSE_EOF,          /* the peer closed the TCP connection */
    CONN_CLOSE_IO,           /* read/write/connect error */
    CONN_CLOSE_LINK,         /* lib/link failed (bad handshake, MAC, oversized frame) */
    CONN_CLOSE_UNAUTHORIZED, /* authorize() returned false */
    CONN_CLOSE_HS_TIMEOUT,   /* handshake did not finish in time */
    CONN_CLOSE_IDLE,         /* no frame received within idle_timeout */
    CONN_CLOSE_PROTOCOL,     /* the owner closed it for a bad frame (conn_close_bad) */
};
const char *conn_close_reason_str(enum conn_close_reason r);

enum conn_err {
    CONN_OK = 0,
    CONN_ERR_FULL = -1,    /* output queue full: frame dropped, caller counts */
    CONN_ERR_TOO_BIG = -2, /* frame larger than max_frame */
    CONN_ERR_CLOSED = -3,  /* conn is closed */
    CONN_ERR_NOMEM = -4,
};

struct conn_limits {
    size_t max_conns;         /* all conns (inbound + outbound); default 1024 */
    size_t max_per_addr;      /* inbound conns from one IP address; default 16 */
    size_t max_frame;         /* largest frame either way; default LINK_DEFAULT_MAX_FRAME */
    size_t max_out_bytes;     /* queued output per conn; default LINK_DEFAULT_OUT_CAP */
    double handshake_timeout; /* seconds from TCP start to established; default 10 */
    double idle_timeout; /* inbound only: seconds without a received frame; 0 = never (default) */
    double accept_rate;  /* inbound handshakes per second from one source address
                                  (IPv6: one /64); 0 = unlimited (default) */
    double accept_burst; /* bucket size for accept_rate; default 1 */
    double evict_idle;   /* at max_conns, an evictable conn idle this long (seconds)
                                  makes room for a new one; 0 = never (default) */
    double backoff_min;  /* first reconnect delay, seconds; default 0.5 */
    double backoff_max;  /* reconnect delay cap, seconds; default 30 */
};
/* Fill *l with the defaults above. */
void conn_limits_default(struct conn_limits *l);

struct conn_callbacks {
    /* Inbound only; NULL means accept every key.  See the header comment. */
    bool (*authorize)(struct conn *c, const uint8_t remote_pk[static LINK_KEY_LEN],
                      enum link_role role, void *arg);
    /* The link is up (both directions).  Optional. */
    void (*on_established)(struct conn *c, void *arg);
    /*
     * One received frame; bytes valid only during the call.  The callee may
     * conn_send() on any conn and conn_close() any conn, this one included.
     */
    void (*on_frame)(struct conn *c, const uint8_t *frame, size_t len, void *arg);
    /* The TCP connection ended (see lifetime rules).  Optional. */
    void (*on_close)(struct conn *c, enum conn_close_reason why, void *arg);
};

struct conn_stats {
    uint64_t accepted, dialled, established;
    uint64_t refused_max_conns; /* accept or dial refused: max_conns */
    uint64_t refused_per_addr;  /* accept refused: max_per_addr */
    uint64_t refused_rate;      /* accept refused: accept_rate */
    uint64_t evicted_half_open; /* at max_conns: oldest half-open closed for a new conn */
    uint64_t evicted_idle;      /* at max_conns: longest-idle evictable conn closed */
    uint64_t refused_auth;      /* authorize() said no */
    uint64_t hs_timeouts, idle_timeouts;
    uint64_t link_errors; /* closed for CONN_CLOSE_LINK */
    uint64_t io_errors, connect_failures;
    uint64_t frames_in, frames_out;
    uint64_t send_full, send_too_big;
    uint64_t open;          /* gauge: conns currently allocated */
    uint64_t accept_errors; /* accept() out of fds/memory (listener paused 1 s) */
    uint64_t read_pauses;   /* times conn_mgr_pause_reads() stopped reading */
};

/*
 * A manager over `loop` using our static link key pair (copied into
 * sodium_malloc memory).  lim may be NULL for the defaults; zero fields of
 * *lim also take the default.  Returns NULL on no memory.
 */
struct conn_mgr *conn_mgr_new(struct ev_loop *loop, const uint8_t link_sk[static LINK_KEY_LEN],
                              const uint8_t link_pk[static LINK_KEY_LEN],
                              const struct conn_limits *lim, const struct conn_callbacks *cb,
                              void *cb_arg);
/* New limits (a configuration reload): connection counts and timeouts apply
 * from now on, frame and queue sizes to links set up from now on. */
void conn_mgr_set_limits(struct conn_mgr *m, const struct conn_limits *lim);
/* Close every conn (on_close with CONN_CLOSE_LOCAL) and listener; free all. */
void conn_mgr_free(struct conn_mgr *m);
/*
 * Backpressure: while paused, no established inbound conn reads its socket,
 * so TCP flow control slows every sender down instead of the owner queueing
 * without bound.  Links still in their handshake and links this side dialled
 * keep reading: they bring no packets in, and pausing them would keep a new
 * link to the next hop from coming up exactly when traffic is heaviest.
 */
void conn_mgr_pause_reads(struct conn_mgr *m, bool pause);
/*
 * The same for the inbound links of one role only (an inbound link's role is
 * the one its peer announced): a node pauses its client links and its node
 * links each on their own share of its work queue, so that one busy node link
 * cannot stop every client's reads, nor the clients the node links.
 */
void conn_mgr_pause_role(struct conn_mgr *m, enum link_role role, bool pause);
/*
 * Inside on_frame: when the kernel received the bytes now being delivered
 * (CLOCK_MONOTONIC, microseconds; SO_TIMESTAMPNS of the last TCP segment the
 * read reached, or the read time where the kernel gives no stamp).
 */
uint64_t conn_rx_time_us(const struct conn *c);
void conn_mgr_get_stats(const struct conn_mgr *m, struct conn_stats *out);

/*
 * Listen on "host:port" ("127.0.0.1:7000", "[::1]:7000", "0.0.0.0:7000";
 * port 0 picks a free one).  May be called several times.  Returns 0 or -1
 * with err set.  If bound_port is not NULL it receives the actual port.
 */
int conn_listen(struct conn_mgr *m, const char *hostport, uint16_t *bound_port, char *err,
                size_t errlen) MIX_WUR;

/*
 * Open an outbound link to the responder with static key remote_pk at
 * hostport, announcing `role`.  The address is resolved now (numeric
 * addresses never block).  Frames may be queued with conn_send() at once;
 * they are sent when the link is up.  With persistent=true the conn
 * reconnects with exponential backoff (backoff_min doubling to backoff_max,
 * +-25% jitter) until conn_close().  Returns NULL if the address does not
 * parse, max_conns is reached, or memory is short.
 */
struct conn *conn_dial(struct conn_mgr *m, const char *hostport,
                       const uint8_t remote_pk[static LINK_KEY_LEN], enum link_role role,
                       bool persistent, void *user);

/*
 * Queue one frame.  Before the link is up frames wait in the conn (counted
 * against max_out_bytes).  Never writes or closes synchronously: no callback
 * runs inside conn_send().
 */
int conn_send(struct conn *c, const uint8_t *frame, size_t len) MIX_WUR;

/* Close now (see lifetime rules).  NULL is a no-op. */
void conn_close(struct conn *c);
/* Close for a protocol error found by the owner (reason CONN_CLOSE_PROTOCOL). */
void conn_close_bad(struct conn *c);

enum conn_state conn_get_state(const struct conn *c);
bool conn_is_inbound(const struct conn *c);
/* The peer's static key: for inbound once authorised, for outbound always. */
bool conn_remote_key(const struct conn *c, uint8_t out[static LINK_KEY_LEN]);
enum link_role conn_remote_role(const struct conn *c);
/* A number unique in this process, for log lines. */
uint64_t conn_id(const struct conn *c);
/* "ip:port" of the peer; log it only in lines that say nothing about traffic. */
const char *conn_peer_addr(const struct conn *c);
/*
 * Tighter limits for one inbound conn, e.g. once authorize() knows what the
 * peer is: an output cap below the manager's max_out_bytes (0 = keep) and
 * its own idle timeout (0 = keep).
 */
void conn_set_limits(struct conn *c, size_t max_out_bytes, double idle_timeout);
/* An inbound conn from an anonymous peer: it may be closed at max_conns
 * once idle for evict_idle (see conn_limits). */
void conn_set_evictable(struct conn *c);
/* A keyed hash (per process) of the peer's address prefix (IPv4 /24, IPv6
 * /48), for per-prefix limits that keep no address. */
uint32_t conn_peer_prefix_hash(const struct conn *c);
/* Seconds since an established conn last received a frame (0 otherwise). */
double conn_idle_seconds(const struct conn *c);
/* Bytes queued and not yet written. */
size_t conn_out_pending(const struct conn *c);
void *conn_get_user(const struct conn *c);
void conn_set_user(struct conn *c, void *user);
struct conn_mgr *conn_get_mgr(const struct conn *c);

#endif
