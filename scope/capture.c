/*
 * Frames -> TCP segments -> per-direction byte streams -> Noise messages.
 * See capture.h for the contract and docs/mixscope.md for what is counted.
 */
#include "capture.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOISE_MIN_MSG 16         /* a transport message is at least its tag */
#define CAP_MAX_HELD (64u << 20) /* all reorder buffers together */
#define NBUCKETS (2 * CAP_MAX_CONNS)

struct seg {
    uint32_t seq, len;
    int64_t t_ns;
    uint8_t *data;
};

/* One direction of a connection. */
struct dir {
    bool seq_known, synced, fin;
    uint32_t next; /* next expected sequence number */
    uint32_t msgs; /* messages delivered */
    uint8_t hdr[2];
    uint8_t hdr_have; /* length bytes collected (0..2) */
    uint32_t remain;  /* body bytes of the current message still to come */
    uint32_t size;    /* its length */
    int64_t msg_t;
    size_t npend;
    struct seg pend[CAP_MAX_PENDING];
};

struct conn {
    bool used, syn, rst;
    int32_t next_in_bucket;
    uint64_t id, cookie;
    int64_t last_t;
    struct cap_ep ep[2]; /* [0] initiator, [1] responder */
    struct dir d[2];     /* [0] initiator -> responder */
};

struct cap {
    struct cap_hooks h;
    struct cap_stats st;
    uint64_t next_id;
    size_t held;
    size_t nused, nconns; /* slots in use, slots allocated (grown up to CAP_MAX_CONNS) */
    size_t hint;          /* where the search for a free slot starts */
    int32_t bucket[NBUCKETS];
    struct conn *conns; /* indexed by the buckets, so growing it moves nothing */
};

struct cap *cap_new(const struct cap_hooks *hooks)
{
    struct cap *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->h = *hooks;
    for (size_t i = 0; i < NBUCKETS; i++)
        c->bucket[i] = -1;
    return c;
}

static void dir_clear(struct cap *c, struct dir *d)
{
    for (size_t i = 0; i < d->npend; i++) {
        c->held -= d->pend[i].len;
        free(d->pend[i].data);
    }
    memset(d, 0, sizeof(*d));
}

void cap_free(struct cap *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->nconns; i++) {
        dir_clear(c, &c->conns[i].d[0]);
        dir_clear(c, &c->conns[i].d[1]);
    }
    free(c->conns);
    free(c);
}

const struct cap_stats *cap_stats(const struct cap *c)
{
    return &c->st;
}
size_t cap_held_bytes(const struct cap *c)
{
    return c->held;
}

bool cap_ip_equal(const struct cap_ep *a, const struct cap_ep *b)
{
    return memcmp(a->ip, b->ip, 16) == 0;
}

bool cap_ep_equal(const struct cap_ep *a, const struct cap_ep *b)
{
    return a->port == b->port && cap_ip_equal(a, b);
}

static const uint8_t v4_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

void cap_ep_format(const struct cap_ep *ep, char *buf, size_t len)
{
    char ip[INET6_ADDRSTRLEN];
    if (memcmp(ep->ip, v4_prefix, 12) == 0) {
        inet_ntop(AF_INET, ep->ip + 12, ip, sizeof(ip));
        snprintf(buf, len, "%s:%u", ip, ep->port);
    } else {
        inet_ntop(AF_INET6, ep->ip, ip, sizeof(ip));
        snprintf(buf, len, "[%s]:%u", ip, ep->port);
    }
}

bool cap_ep_parse(const char *s, struct cap_ep *out)
{
    char host[INET6_ADDRSTRLEN + 2];
    const char *colon = strrchr(s, ':');
    if (colon == NULL || colon == s || (size_t)(colon - s) >= sizeof(host))
        return false;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = 0;
    char *end;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (*end != 0 || colon[1] == 0 || port > 65535)
        return false;
    memset(out, 0, sizeof(*out));
    out->port = (uint16_t)port;
    size_t hl = strlen(host);
    if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
        host[hl - 1] = 0;
        return inet_pton(AF_INET6, host + 1, out->ip) == 1;
    }
    if (strcmp(host, "localhost") == 0)
        strcpy(host, "127.0.0.1");
    memcpy(out->ip, v4_prefix, 12);
    return inet_pton(AF_INET, host, out->ip + 12) == 1;
}

/* ------------------------------------------------------------ connection table */

static uint32_t ep_hash(const struct cap_ep *e)
{
    uint32_t h = 2166136261u;
    for (int i = 0; i < 16; i++)
        h = (h ^ e->ip[i]) * 16777619u;
    return (h ^ e->port) * 16777619u;
}

/* The same bucket for both directions. */
static uint32_t pair_bucket(const struct cap_ep *a, const struct cap_ep *b)
{
    return (ep_hash(a) ^ ep_hash(b)) % NBUCKETS;
}

/* The connection of a segment src -> dst, and which direction it is (0 from the initiator). */
static struct conn *conn_find(struct cap *c, const struct cap_ep *src, const struct cap_ep *dst,
                              int *dir)
{
    for (int32_t i = c->bucket[pair_bucket(src, dst)]; i >= 0; i = c->conns[i].next_in_bucket) {
        struct conn *k = &c->conns[i];
        if (cap_ep_equal(&k->ep[0], src) && cap_ep_equal(&k->ep[1], dst)) {
            *dir = 0;
            return k;
        }
        if (cap_ep_equal(&k->ep[1], src) && cap_ep_equal(&k->ep[0], dst)) {
            *dir = 1;
            return k;
        }
    }
    return NULL;
}

static void conn_remove(struct cap *c, struct conn *k)
{
    uint32_t b = pair_bucket(&k->ep[0], &k->ep[1]);
    int32_t idx = (int32_t)(k - c->conns);
    int32_t *p = &c->bucket[b];
    while (*p >= 0 && *p != idx)
        p = &c->conns[*p].next_in_bucket;
    if (*p == idx)
        *p = k->next_in_bucket;
    dir_clear(c, &k->d[0]);
    dir_clear(c, &k->d[1]);
    memset(k, 0, sizeof(*k));
    c->nused--;
}

/*
 * A free slot: the table doubles while below CAP_MAX_CONNS; when it is full,
 * one idle for CAP_IDLE_NS is recycled.  Growing invalidates pointers into the
 * table, so callers hold none across this call.
 */
static struct conn *conn_slot(struct cap *c, int64_t now)
{
    if (c->nused == c->nconns && c->nconns < CAP_MAX_CONNS) {
        size_t n = c->nconns ? 2 * c->nconns : 64;
        if (n > CAP_MAX_CONNS)
            n = CAP_MAX_CONNS;
        struct conn *m = realloc(c->conns, n * sizeof(*m));
        if (m != NULL) {
            memset(m + c->nconns, 0, (n - c->nconns) * sizeof(*m));
            c->conns = m;
            c->nconns = n;
        }
    }
    if (c->nused == c->nconns) {
        struct conn *oldest = NULL;
        for (size_t i = 0; i < c->nconns; i++)
            if (oldest == NULL || c->conns[i].last_t < oldest->last_t)
                oldest = &c->conns[i];
        if (oldest == NULL || now - oldest->last_t < CAP_IDLE_NS)
            return NULL;
        conn_remove(c, oldest);
    }
    for (size_t j = 0; j < c->nconns; j++) {
        size_t i = (c->hint + j) % c->nconns;
        if (!c->conns[i].used) {
            c->hint = i + 1;
            return &c->conns[i];
        }
    }
    return NULL;
}

static struct conn *conn_add(struct cap *c, int64_t now, const struct cap_ep *init,
                             const struct cap_ep *resp, bool syn)
{
    struct conn *k = conn_slot(c, now);
    if (k == NULL) {
        c->st.table_full++;
        return NULL;
    }
    memset(k, 0, sizeof(*k));
    k->used = true;
    k->syn = syn;
    k->id = ++c->next_id;
    k->last_t = now;
    k->ep[0] = *init;
    k->ep[1] = *resp;
    uint32_t b = pair_bucket(init, resp);
    k->next_in_bucket = c->bucket[b];
    c->bucket[b] = (int32_t)(k - c->conns);
    c->nused++;
    c->st.conns++;
    if (syn)
        c->st.conns_syn++;
    if (c->h.on_conn)
        k->cookie = c->h.on_conn(c->h.ctx, k->id, now, init, resp, syn);
    return k;
}

/* ------------------------------------------------------------ framing */

static void emit(struct cap *c, struct conn *k, int di, struct dir *d)
{
    struct cap_msg m = {
        .t_ns = d->msg_t,
        .src = &k->ep[di],
        .dst = &k->ep[!di],
        .init = &k->ep[0],
        .resp = &k->ep[1],
        .from_initiator = di == 0,
        .size = d->size,
        .handshake = k->syn && d->msgs == 0,
        .conn_id = k->id,
        .cookie = k->cookie,
    };
    d->msgs++;
    c->st.messages++;
    if (c->h.on_msg)
        c->h.on_msg(c->h.ctx, &m);
}

/* True if p[0..n) is exactly a chain of whole length-prefixed Noise messages. */
static bool exact_chain(const uint8_t *p, size_t n)
{
    size_t pos = 0;
    while (pos + 2 <= n) {
        size_t l = (size_t)p[pos] << 8 | p[pos + 1];
        if (l < NOISE_MIN_MSG)
            return false;
        pos += 2 + l;
    }
    return pos == n && n > 0;
}

static void lose_sync(struct dir *d)
{
    d->synced = false;
    d->hdr_have = 0;
    d->remain = 0;
}

/* In-order stream bytes of one direction. */
static void stream_bytes(struct cap *c, struct conn *k, int di, const uint8_t *p, size_t n,
                         int64_t t)
{
    struct dir *d = &k->d[di];
    if (!d->synced) {
        /* Mid-stream, or after a gap: a segment that holds whole messages exactly is very
           probably aligned on them (a random 2-byte prefix matches with p ~ 2^-16). */
        if (!exact_chain(p, n)) {
            c->st.unsynced_bytes += n;
            return;
        }
        d->synced = true;
        c->st.resyncs++;
    }
    size_t pos = 0;
    while (pos < n) {
        if (d->remain == 0) {
            if (d->hdr_have == 0)
                d->msg_t = t;
            d->hdr[d->hdr_have++] = p[pos++];
            if (d->hdr_have < 2)
                continue;
            d->hdr_have = 0;
            d->size = (uint32_t)d->hdr[0] << 8 | d->hdr[1];
            if (d->size < NOISE_MIN_MSG) {
                c->st.bad_length++;
                c->st.unsynced_bytes += n - pos;
                lose_sync(d);
                return;
            }
            d->remain = d->size;
            continue;
        }
        size_t take = n - pos < d->remain ? n - pos : d->remain;
        pos += take;
        d->remain -= (uint32_t)take;
        if (d->remain == 0)
            emit(c, k, di, d);
    }
}

/* ------------------------------------------------------------ reassembly */

static int32_t seq_diff(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b);
}

/* Deliver what is now in order from the pending segments. */
static void drain(struct cap *c, struct conn *k, int di)
{
    struct dir *d = &k->d[di];
    bool progress = true;
    while (progress && d->npend > 0) {
        progress = false;
        for (size_t i = 0; i < d->npend; i++) {
            struct seg *s = &d->pend[i];
            int32_t off = seq_diff(d->next, s->seq);
            if (off < 0)
                continue;
            struct seg cp = *s;
            d->pend[i] = d->pend[--d->npend];
            c->held -= cp.len;
            if ((uint32_t)off < cp.len) {
                stream_bytes(c, k, di, cp.data + off, cp.len - (uint32_t)off, cp.t_ns);
                d->next = cp.seq + cp.len;
            }
            free(cp.data);
            progress = true;
            break;
        }
    }
}

/* Give up on the hole before the earliest pending segment: skip it, count it, lose framing. */
static void skip_hole(struct cap *c, struct conn *k, int di)
{
    struct dir *d = &k->d[di];
    if (d->npend == 0)
        return;
    uint32_t first = d->pend[0].seq;
    for (size_t i = 1; i < d->npend; i++)
        if (seq_diff(d->pend[i].seq, first) < 0)
            first = d->pend[i].seq;
    c->st.gaps++;
    c->st.gap_bytes += (uint32_t)seq_diff(first, d->next);
    d->next = first;
    lose_sync(d);
    drain(c, k, di);
}

static void segment(struct cap *c, struct conn *k, int di, uint32_t seq, const uint8_t *p, size_t n,
                    int64_t t)
{
    struct dir *d = &k->d[di];
    if (!d->seq_known) {
        d->seq_known = true;
        d->next = seq;
    }
    int32_t off = seq_diff(seq, d->next);
    if (off < 0) {
        c->st.retransmitted++;
        if ((int64_t)n <= -(int64_t)off)
            return;
        p += -off;
        n -= (size_t)-off;
        seq = d->next;
        off = 0;
    }
    if (off > 0) {
        c->st.out_of_order++;
        if (d->npend == CAP_MAX_PENDING || c->held + n > CAP_MAX_HELD)
            skip_hole(c, k, di);
        if (seq_diff(seq, d->next) > 0) {
            if (d->npend == CAP_MAX_PENDING || c->held + n > CAP_MAX_HELD) {
                /* Still no room: this segment is lost too. */
                c->st.gaps++;
                c->st.gap_bytes += n;
                return;
            }
            uint8_t *copy = malloc(n);
            if (copy == NULL) {
                c->st.gaps++;
                c->st.gap_bytes += n;
                return;
            }
            memcpy(copy, p, n);
            d->pend[d->npend++] = (struct seg){ seq, (uint32_t)n, t, copy };
            c->held += n;
            return;
        }
        /* The skip caught up with this segment: retry it in order. */
        segment(c, k, di, seq, p, n, t);
        return;
    }
    stream_bytes(c, k, di, p, n, t);
    d->next = seq + (uint32_t)n;
    drain(c, k, di);
}

/* ------------------------------------------------------------ decoding */

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_ACK 0x10

static void tcp(struct cap *c, int64_t t, const struct cap_ep *src0, const struct cap_ep *dst0,
                const uint8_t *p, size_t n)
{
    if (n < 20) {
        c->st.truncated++;
        return;
    }
    size_t hl = (size_t)(p[12] >> 4) * 4;
    if (hl < 20 || hl > n) {
        c->st.truncated++;
        return;
    }
    struct cap_ep src = *src0, dst = *dst0;
    src.port = (uint16_t)(p[0] << 8 | p[1]);
    dst.port = (uint16_t)(p[2] << 8 | p[3]);
    uint32_t seq = (uint32_t)p[4] << 24 | (uint32_t)p[5] << 16 | (uint32_t)p[6] << 8 | p[7];
    uint8_t fl = p[13];
    const uint8_t *pay = p + hl;
    size_t plen = n - hl;

    int di = 0;
    struct conn *k = conn_find(c, &src, &dst, &di);
    bool syn = (fl & TH_SYN) != 0, ack = (fl & TH_ACK) != 0;
    if (k != NULL && syn && !ack && di == 0 && k->d[0].seq_known && k->d[0].next != seq + 1) {
        conn_remove(c, k); /* the 4-tuple is reused by a new connection */
        k = NULL;
    }
    if (k == NULL) {
        bool lsrc = c->h.is_listener && c->h.is_listener(c->h.ctx, &src);
        bool ldst = c->h.is_listener && c->h.is_listener(c->h.ctx, &dst);
        const struct cap_ep *init, *resp;
        if (syn && !ack) {
            init = &src, resp = &dst, di = 0;
        } else if (syn) {
            init = &dst, resp = &src, di = 1;
        } else if (ldst) {
            init = &src, resp = &dst, di = 0;
        } else {
            init = &dst, resp = &src, di = 1;
        }
        if (!(di == 0 ? ldst : lsrc)) {
            c->st.unrelated++;
            return;
        }
        if (!syn && plen == 0)
            return; /* a bare ACK/FIN/RST of a connection we do not know: nothing to learn */
        k = conn_add(c, t, init, resp, syn);
        if (k == NULL)
            return;
    }
    k->last_t = t;
    c->st.segments++;
    struct dir *d = &k->d[di];
    if (syn) {
        if (!d->seq_known || d->msgs == 0) {
            d->seq_known = true;
            d->synced = k->syn;
            d->next = seq + 1;
        }
        seq++;
    }
    if (plen > 0) {
        c->st.payload_bytes += plen;
        if (plen > CAP_MAX_SEG) {
            c->st.gaps++;
            c->st.gap_bytes += plen;
            return;
        }
        segment(c, k, di, seq, pay, plen, t);
    }
    if (fl & TH_FIN)
        d->fin = true;
    if (fl & TH_RST)
        k->rst = true;
    if (k->rst || (k->d[0].fin && k->d[1].fin && k->d[0].npend == 0 && k->d[1].npend == 0))
        conn_remove(c, k);
}

static void ip(struct cap *c, int64_t t, const uint8_t *p, size_t n)
{
    if (n < 1) {
        c->st.truncated++;
        return;
    }
    struct cap_ep src = { 0 }, dst = { 0 };
    int v = p[0] >> 4;
    if (v == 4) {
        if (n < 20) {
            c->st.truncated++;
            return;
        }
        size_t hl = (size_t)(p[0] & 15) * 4, tot = (size_t)p[2] << 8 | p[3];
        if (hl < 20 || tot < hl) {
            c->st.truncated++;
            return;
        }
        if (tot > n) {
            c->st.truncated++;
            return;
        }
        uint16_t frag = (uint16_t)((p[6] & 0x3f) << 8 | p[7]); /* MF flag and offset */
        if (p[9] != 6 || frag != 0) {
            c->st.not_tcp++;
            return;
        }
        memcpy(src.ip, v4_prefix, 12);
        memcpy(dst.ip, v4_prefix, 12);
        memcpy(src.ip + 12, p + 12, 4);
        memcpy(dst.ip + 12, p + 16, 4);
        tcp(c, t, &src, &dst, p + hl, tot - hl);
    } else if (v == 6) {
        if (n < 40) {
            c->st.truncated++;
            return;
        }
        size_t plen = (size_t)p[4] << 8 | p[5];
        if (40 + plen > n) {
            c->st.truncated++;
            return;
        }
        if (p[6] != 6) {
            c->st.not_tcp++;
            return;
        }
        memcpy(src.ip, p + 8, 16);
        memcpy(dst.ip, p + 24, 16);
        tcp(c, t, &src, &dst, p + 40, plen);
    } else {
        c->st.not_ip++;
    }
}

void cap_frame(struct cap *c, int dlt, int64_t t_ns, const uint8_t *data, size_t caplen,
               size_t wirelen)
{
    c->st.frames++;
    if (caplen < wirelen) {
        /* A snap length below the frame: the payload is incomplete, so it is a hole. */
        c->st.truncated++;
        return;
    }
    size_t off;
    uint16_t proto = 0;
    switch (dlt) {
    case CAP_DLT_EN10MB:
        if (caplen < 14) {
            c->st.truncated++;
            return;
        }
        off = 14;
        proto = (uint16_t)(data[12] << 8 | data[13]);
        if (proto == 0x8100 && caplen >= 18) {
            proto = (uint16_t)(data[16] << 8 | data[17]);
            off = 18;
        }
        if (proto != 0x0800 && proto != 0x86dd) {
            c->st.not_ip++;
            return;
        }
        break;
    case CAP_DLT_NULL:
    case CAP_DLT_LOOP: off = 4; break;
    case CAP_DLT_RAW:
    case CAP_DLT_RAW2:
    case CAP_DLT_IPV4:
    case CAP_DLT_IPV6: off = 0; break;
    case CAP_DLT_LINUX_SLL:
        off = 16;
        if (caplen >= 16)
            proto = (uint16_t)(data[14] << 8 | data[15]);
        break;
    case CAP_DLT_LINUX_SLL2:
        off = 20;
        if (caplen >= 20)
            proto = (uint16_t)(data[0] << 8 | data[1]);
        break;
    default: c->st.not_ip++; return;
    }
    if (caplen < off) {
        c->st.truncated++;
        return;
    }
    if ((dlt == CAP_DLT_LINUX_SLL || dlt == CAP_DLT_LINUX_SLL2) && proto != 0x0800 &&
        proto != 0x86dd) {
        c->st.not_ip++;
        return;
    }
    ip(c, t_ns, data + off, caplen - off);
}
