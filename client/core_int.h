/*
 * Internal to the client core (core.c, core_send.c, core_recv.c): the core
 * struct, record layouts and helpers shared by those files.
 */
#ifndef MIX_CLIENT_CORE_INT_H
#define MIX_CLIENT_CORE_INT_H

#include "core.h"
#include "records.h"
#include "sphinx.h"

/* Fragment states in the FSTATE record. */
enum { FS_QUEUED = 0, FS_SENT = 1, FS_ACKED = 2, FS_FAILED = 3 };
/* What a SURB we created is for. */
enum { SK_ACK = 1, SK_LOOP_ACK = 2, SK_REPLY = 3, SK_COVER_ACK = 4 };

/* Stored records: layouts and codecs in records.h.  A SURB record is its header and the keys. */
#define SREC_LEN (REC_SURB_HDR + SPHINX_SURB_KEYS_LEN)
_Static_assert(REC_ID_LEN == CORE_MSG_ID_LEN, "records hold message ids");
/* A partly received message is dropped this long after its first fragment. */
#define CORE_PARTIAL_MAX_AGE 86400
/* The largest SURB of any valid geometry. */
#define CORE_SURB_MAX                                                                              \
    (64 + 32 + SPHINX_MAC_LEN + SPHINX_MAX_HOPS_LIMIT * (SPHINX_SLOT_LEN + SPHINX_KEM_MAX_CT))

struct qent {
    uint8_t id[CORE_MSG_ID_LEN];
    uint32_t idx;
};

struct qvec {
    struct qent *v;
    size_t head, len, cap; /* live entries are v[head .. head+len) */
};

/* Nodes on both paths of one packet (forward and SURB-ack), as health indices. */
#define CORE_PATH_MAX (2 * SPHINX_MAX_HOPS_LIMIT)
struct pathrec {
    uint16_t node[CORE_PATH_MAX];
    uint8_t n;
};

/* A packet waiting for its ack: a data fragment, or a loop (idx == CORE_LOOP_IDX). */
#define CORE_LOOP_IDX UINT32_MAX
struct flight {
    uint8_t id[CORE_MSG_ID_LEN];
    uint32_t idx;
    uint64_t deadline;
    struct pathrec path;
};

/*
 * Path health.  A packet whose ack does not come back in time gives every
 * node on its two paths a strike; an ack that does come back proves every
 * node on its paths alive and clears their strikes.  Real packets prefer
 * paths whose mixes have the fewest strikes (counting nodes with at least
 * CORE_SUSPECT_STRIKES); loop
 * cover does not avoid anyone, so it keeps probing suspects (docs/design.md:
 * loops double as a health probe).
 */
#define CORE_SUSPECT_STRIKES 2
struct health {
    uint8_t id[MIX_NODE_ID_LEN];
    uint32_t strikes;
};

struct core {
    struct core_config cfg;
    uint8_t pk[PAYLOAD_KEY_LEN];
    uint8_t inbox_id[PAYLOAD_INBOX_ID_LEN];
    struct cstore *store;
    struct mix_rng rng;
    struct pki_doc *doc;
    struct sphinx_geometry g;
    size_t plain_len, surb_len, pkt_len, layers;
    core_recv_fn recv_fn;
    void *recv_ctx;
    /*
     * retx: fragments to send again, one entry each; they alternate with new ones.
     * queue: one entry per message with fragments never sent, idx = the next
     * one; the payload stream takes one fragment from the head message and
     * puts the message back at the tail, so messages interleave round-robin
     * and a short one never waits behind a file.  queue_frags counts the
     * fragments the queue still stands for.
     */
    struct qvec retx, queue;
    size_t queue_frags;
    bool retx_turn; /* retx and queue alternate when both wait */
    struct flight *fl;
    size_t n_fl, cap_fl;
    struct health *hl;
    size_t n_hl, cap_hl;
    uint64_t unix_now; /* of the packet being built (key epoch) */
    uint64_t clock;    /* Unix seconds, as core_set_clock() last said (status times) */
    uint64_t raw_seq;
    size_t n_raw;
    /* The last outgoing message read from the store (a 1 MiB message is not re-read per packet). */
    uint8_t cache_id[CORE_MSG_ID_LEN];
    uint8_t *cache;
    size_t cache_len;
    struct core_stats st;
};

int core_qpush(struct qvec *q, const uint8_t id[CORE_MSG_ID_LEN], uint32_t idx);
bool core_qpop(struct qvec *q, struct qent *out);
int core_flight_add(struct core *c, const uint8_t id[CORE_MSG_ID_LEN], uint32_t idx,
                    uint64_t deadline, const struct pathrec *path);
/* Remove the flight of (id, idx) and clear the strikes of its nodes; false if none. */
bool core_flight_acked(struct core *c, const uint8_t id[CORE_MSG_ID_LEN], uint32_t idx);
/* The health index of a node (added if new); UINT16_MAX if the table is full. */
uint16_t core_health_index(struct core *c, const uint8_t id[MIX_NODE_ID_LEN]);
uint8_t *core_fstate_get(struct core *c, const uint8_t id[CORE_MSG_ID_LEN], uint32_t *count);
void core_summarize(const uint8_t *fs, uint32_t count, struct core_status *s);
const uint8_t *core_out_get(struct core *c, const uint8_t id[CORE_MSG_ID_LEN], size_t *len);
void core_out_cache_drop(struct core *c);
size_t core_frag_len(const struct core *c);

#endif
