/*
 * node_metrics: mixnode's counters and gauges, rendered in the Prometheus
 * text exposition format and served on a local HTTP port (/metrics) by
 * libmicrohttpd in its own thread.
 *
 * Counters are C11 atomics so worker threads, the I/O loop and the HTTP
 * thread touch them without locks.  Nothing here names a client or a
 * packet: labels are drop reasons, link kinds, and (for loop cover) the
 * public node id prefix of the next hop, which the directory publishes.
 */
#ifndef MIX_NODE_METRICS_H
#define MIX_NODE_METRICS_H

#include <stdatomic.h>

#include "common.h"

enum metric_drop {
    DROP_BAD_FRAME = 0, /* frame that is not a well-formed packet */
    DROP_LENGTH,        /* packet of another geometry */
    DROP_MAC,           /* header MAC failed (also: unknown/expired key) */
    DROP_REPLAY,
    DROP_INTEGRITY,    /* payload tampered (exit zero block) */
    DROP_COMMAND,      /* bad routing command */
    DROP_KEY,          /* invalid group element */
    DROP_NO_KEY,       /* no Sphinx key for the current epoch */
    DROP_NO_DOCUMENT,  /* nothing to route by yet */
    DROP_UNKNOWN_HOP,  /* next hop not in the directory */
    DROP_WORK_QUEUE,   /* crypto work queue full */
    DROP_MIX_QUEUE,    /* mixing queue full (total queue limit) */
    DROP_PEER_QUEUE,   /* per-peer output queue full */
    DROP_RATE_LIMIT,   /* client over its packet rate */
    DROP_NOT_PROVIDER, /* DELIVER at a node without the provider role */
    DROP_INBOX_FULL,
    DROP_NO_INBOX,
    DROP_STORE_ERROR,
    DROP_BAD_PAYLOAD, /* provider could not parse the envelope */
    DROP_SHUTDOWN,
    DROP_CLIENT_HOP, /* from a client link: next hop not a layer-1 mix */
    DROP_INBOX_RATE, /* over the inbox's admission rate */
    DROP__COUNT
};
const char *metric_drop_name(enum metric_drop d);

enum metric_src { SRC_CLIENT = 0, SRC_NODE, SRC_LOCAL, SRC__COUNT };

#define METRIC_UNWRAP_BUCKETS 15
#define METRIC_LOOP_PEERS 64

struct metric_loop_peer {
    char label[48]; /* the node id in base64url, as logs and documents print it */
    atomic_uint_fast64_t sent, returned;
};

struct node_metrics {
    atomic_uint_fast64_t packets_in[SRC__COUNT];
    atomic_uint_fast64_t packets_out;
    atomic_uint_fast64_t dropped[DROP__COUNT];
    atomic_uint_fast64_t delivered;       /* stored in an inbox */
    atomic_uint_fast64_t replies_stored;  /* SURB replies stored */
    atomic_uint_fast64_t store_commits;   /* group commits of stored payloads */
    atomic_uint_fast64_t ack_commits;     /* commits of fetch acknowledgements */
    atomic_uint_fast64_t marker_commits;  /* commits for a fetch group without any */
    atomic_uint_fast64_t acks_sent;       /* SURB-acks sent after a commit */
    atomic_uint_fast64_t drop_cover;      /* all-zero recipient, discarded */
    atomic_uint_fast64_t cover_acks_sent; /* SURB-acks of drop cover sent back */
    atomic_uint_fast64_t fetches, fetched_msgs, acked_msgs, expired_msgs;
    atomic_uint_fast64_t fetch_ack_frames;   /* deprecated FetchAck frames (old clients) */
    atomic_uint_fast64_t bad_frames;         /* links closed for a malformed frame */
    atomic_uint_fast64_t links_refused;      /* unauthorised link keys */
    atomic_uint_fast64_t limit_hits;         /* any configured limit reached */
    atomic_uint_fast64_t fetches_refused;    /* client fetch over its cadence or unread */
    atomic_uint_fast64_t clients_evicted;    /* idle client link closed for a new one */
    atomic_uint_fast64_t links_rate_limited; /* handshakes refused: per-address accept rate */
    atomic_uint_fast64_t half_open_evicted;  /* at max_connections: oldest handshake closed */
    atomic_uint_fast64_t inboxes_created, inbox_creates_refused, inboxes_expired, inboxes_reclaimed;
    atomic_uint_fast64_t read_pauses;      /* backpressure: stopped reading links */
    atomic_uint_fast64_t node_read_pauses; /* of those: node links paused (their own quota) */
    atomic_uint_fast64_t docs_accepted, docs_rejected, uploads_ok, uploads_failed;
    atomic_uint_fast64_t key_rotations;
    /* gauges, set by the I/O loop */
    atomic_uint_fast64_t queue_depth, work_queue_depth;
    atomic_uint_fast64_t links_client, links_node_in, links_out;
    atomic_uint_fast64_t replay_hits, replay_size;
    atomic_uint_fast64_t inboxes, inbox_messages;
    atomic_uint_fast64_t epoch;
    atomic_uint_fast64_t listed;        /* 1 if the current document lists this node */
    atomic_uint_fast64_t have_document; /* 1 if a verified current document is held */
    atomic_uint_fast64_t start_time;    /* Unix seconds the process started */
    /* unwrap time histogram (seconds buckets below) */
    atomic_uint_fast64_t unwrap_bucket[METRIC_UNWRAP_BUCKETS];
    atomic_uint_fast64_t unwrap_count, unwrap_sum_ns;
    /* hop overhead: time held beyond the chosen delay */
    atomic_uint_fast64_t overhead_bucket[METRIC_UNWRAP_BUCKETS];
    atomic_uint_fast64_t overhead_count, overhead_sum_ns;
    /* loop cover per next hop */
    atomic_uint_fast64_t loops_sent, loops_returned;
    atomic_uint_fast32_t n_loop_peers;
    struct metric_loop_peer loop_peers[METRIC_LOOP_PEERS];
};

void metrics_init(struct node_metrics *m);
static inline void metric_inc(atomic_uint_fast64_t *c)
{
    atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}
static inline void metric_set(atomic_uint_fast64_t *c, uint64_t v)
{
    atomic_store_explicit(c, v, memory_order_relaxed);
}
static inline void metric_drop(struct node_metrics *m, enum metric_drop d)
{
    metric_inc(&m->dropped[d]);
}
void metrics_observe_unwrap(struct node_metrics *m, uint64_t ns);
void metrics_observe_overhead(struct node_metrics *m, uint64_t ns);
/* Loop counters for next hop `id` (I/O thread only: the table grows there). */
void metrics_loop_sent(struct node_metrics *m, const uint8_t id[static MIX_NODE_ID_LEN]);
void metrics_loop_returned(struct node_metrics *m, const uint8_t id[static MIX_NODE_ID_LEN]);

/* The exposition text (malloc()ed, NUL-terminated); NULL on no memory. */
char *metrics_render(struct node_metrics *m, size_t *len);

/*
 * Limits of the /metrics endpoint, so that a scrape works during a flood of
 * idle connections: connections in all, from one address, and seconds an
 * idle connection is kept.  Zero fields take the defaults (256, 8, 2).
 */
struct metrics_http_limits {
    unsigned max_conns, max_per_addr, timeout_s;
};
/* Serve /metrics on "host:port" in a libmicrohttpd thread.  NULL with err. */
struct metrics_http;
struct metrics_http *metrics_http_start_limited(struct node_metrics *m, const char *hostport,
                                                const struct metrics_http_limits *lim, char *err,
                                                size_t errlen) MIX_WUR;
/* The same with the default limits. */
struct metrics_http *metrics_http_start(struct node_metrics *m, const char *hostport, char *err,
                                        size_t errlen) MIX_WUR;
void metrics_http_stop(struct metrics_http *h);

#endif
