/*
 * The capture side of mixscope: decode link-layer frames into TCP segments,
 * reassemble each direction of each connection, and split the byte stream
 * into Noise messages by their 2-byte big-endian length (docs/spec/wire.md).
 * Only sizes and times leave this module; payload bytes are never kept
 * beyond what reassembly needs.
 *
 * Memory is bounded: at most CAP_MAX_CONNS connections are tracked (closed
 * and idle ones are recycled first), and each direction holds at most
 * CAP_MAX_PENDING out-of-order segments of at most CAP_MAX_SEG bytes.  What
 * cannot be handled (a hole that is never filled, a segment over the limit,
 * a flow when the table is full) is skipped and counted, never fatal.
 *
 * The module does no I/O: the caller hands it frames with their time
 * (main.c reads them with libpcap; the fuzz target from a memory buffer).
 */
#ifndef SCOPE_CAPTURE_H
#define SCOPE_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CAP_MAX_CONNS 8192
#define CAP_MAX_PENDING 16
#define CAP_MAX_SEG 65536
#define CAP_IDLE_NS (300LL * 1000000000LL) /* a silent connection may be recycled after this */

/* An endpoint: IPv4 addresses are stored as IPv4-mapped IPv6. */
struct cap_ep {
    uint8_t ip[16];
    uint16_t port;
};

/* Link-layer types the decoder understands (the libpcap DLT_* values). */
enum {
    CAP_DLT_NULL = 0,
    CAP_DLT_EN10MB = 1,
    CAP_DLT_RAW = 12,
    CAP_DLT_RAW2 = 101, /* LINKTYPE_RAW */
    CAP_DLT_LOOP = 108,
    CAP_DLT_LINUX_SLL = 113,
    CAP_DLT_IPV4 = 228,
    CAP_DLT_IPV6 = 229,
    CAP_DLT_LINUX_SLL2 = 276,
};

/* Counters of everything seen and skipped. */
struct cap_stats {
    uint64_t frames;        /* link-layer frames handed in */
    uint64_t truncated;     /* shorter than their headers say (snaplen or corrupt) */
    uint64_t not_ip;        /* not IPv4/IPv6, or a link type we do not decode */
    uint64_t not_tcp;       /* IP but not TCP, or an IP fragment */
    uint64_t unrelated;     /* TCP with neither end a known listener */
    uint64_t segments;      /* TCP segments of tracked connections */
    uint64_t payload_bytes; /* their payload bytes */
    uint64_t retransmitted; /* segments wholly or partly seen before */
    uint64_t out_of_order;  /* segments that arrived ahead of a hole */
    uint64_t gaps;          /* holes never filled: the bytes were skipped */
    uint64_t gap_bytes;
    uint64_t resyncs;        /* message framing found again mid-stream */
    uint64_t unsynced_bytes; /* bytes skipped while looking for message framing */
    uint64_t bad_length;     /* a length prefix below the Noise minimum (framing lost) */
    uint64_t table_full;     /* segments of connections not tracked for lack of room */
    uint64_t conns;          /* connections tracked */
    uint64_t conns_syn;      /* of which seen from their SYN */
    uint64_t messages;       /* Noise messages delivered */
};

/* One Noise message, as the observer sees it. */
struct cap_msg {
    int64_t t_ns; /* capture time of the segment carrying its first byte */
    const struct cap_ep *src, *dst;
    const struct cap_ep *init, *resp; /* the connection's initiator and responder */
    bool from_initiator;
    uint32_t size;    /* Noise message bytes, the 2-byte length not counted */
    bool handshake;   /* first message of its direction on a connection seen from SYN */
    uint64_t conn_id; /* a number unique to the connection within this capture */
    uint64_t cookie;  /* what on_conn returned for the connection */
};

struct cap_hooks {
    void (*on_msg)(void *ctx, const struct cap_msg *m);
    /* Called for each new connection (initiator, responder, whether the SYN was seen); the
       value returned comes back as cookie in each of its messages. */
    uint64_t (*on_conn)(void *ctx, uint64_t conn_id, int64_t t_ns, const struct cap_ep *init,
                        const struct cap_ep *resp, bool syn);
    /* True if ep is a listening address (a node or authority); decides the responder of a
       connection seen mid-stream, and which flows are tracked at all. */
    bool (*is_listener)(void *ctx, const struct cap_ep *ep);
    void *ctx;
};

struct cap;

struct cap *cap_new(const struct cap_hooks *hooks);
void cap_free(struct cap *c);
/* One captured frame of link type dlt, caplen bytes present of wirelen. */
void cap_frame(struct cap *c, int dlt, int64_t t_ns, const uint8_t *data, size_t caplen,
               size_t wirelen);
const struct cap_stats *cap_stats(const struct cap *c);
/* Bytes held in reorder buffers right now (bounded; for tests and the bench). */
size_t cap_held_bytes(const struct cap *c);

/* "1.2.3.4:56" or "[::1]:56" into buf (at least 64 bytes). */
void cap_ep_format(const struct cap_ep *ep, char *buf, size_t len);
/* Parse "host:port" (numeric IPv4, or [IPv6]:port); false if it is not one. */
bool cap_ep_parse(const char *s, struct cap_ep *out);
bool cap_ep_equal(const struct cap_ep *a, const struct cap_ep *b);
bool cap_ip_equal(const struct cap_ep *a, const struct cap_ep *b);

#endif
