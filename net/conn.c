/*
 * conn: libev TCP connections carrying lib/link.  See conn.h for the
 * contract; this file keeps three rules:
 *  1. Every way a connection ends goes through conn_shutdown(), which stops
 *     the watchers, closes the fd, frees the link and calls on_close() once.
 *  2. A closed conn is only put on the dead list; the ev_idle "reaper" frees
 *     it after the current callback has returned.
 *  3. Limits are checked before allocating anything for a peer.
 */
#include "conn.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <ev.h>
#include <sodium.h>

#include "log.h"
#include "rng.h"
#include "sock.h"

#define CONN_READ_BUF 65536
#define CONN_READS_PER_CB 8 /* fairness: at most this many reads per wakeup */
#define CONN_ACCEPTS_PER_CB 32
#define CONN_ADDRSTR 64
#define CONN_RATE_BUCKETS 4096 /* accept_rate buckets (hashed source addresses) */

#define CONTAINER_OF(p, type, field) ((type *)(void *)((char *)(p)-offsetof(type, field)))

struct pending_frame {
    struct pending_frame *next;
    size_t len;
    uint8_t data[];
};

struct conn {
    struct conn_mgr *m;
    struct conn *prev, *next; /* every allocated conn */
    struct conn *dead_next;   /* on the reaper's list once closed */
    enum conn_state state;
    bool inbound, persistent, owner_closed, authorized, connect_failed;
    bool dirty;   /* on m->dirty: output to flush before the loop sleeps */
    bool reading; /* rio belongs on (unless the manager pauses reads) */
    struct conn *dirty_next;
    int fd;
    ev_io rio, wio;
    ev_timer timer; /* connect/handshake, idle, or backoff */
    struct link *link;
    uint8_t remote_pk[LINK_KEY_LEN];
    bool have_remote;
    enum link_role role; /* inbound: announced by peer; outbound: ours */
    struct sockaddr_storage addr;
    socklen_t addrlen;
    char addrstr[CONN_ADDRSTR];
    uint64_t id;
    double backoff;
    ev_tstamp last_rx;
    ev_tstamp started;   /* inbound: accept time (oldest half-open goes first) */
    double idle_timeout; /* inbound: this conn's (conn_set_limits), 0 = never */
    bool evictable;      /* conn_set_evictable(): may make room at max_conns */
    uint64_t rx_us;      /* kernel receive time of the read being delivered */
    struct pending_frame *pend_head, *pend_tail;
    size_t pend_bytes;
    void *user;
};

struct listener {
    struct listener *next;
    struct conn_mgr *m;
    int fd;
    ev_io io;
    ev_timer pause; /* out of file descriptors: stop accepting for a while */
};

struct conn_mgr {
    struct ev_loop *loop;
    uint8_t *keys; /* sodium_malloc: sk || pk */
    struct conn_limits lim;
    struct conn_callbacks cb;
    void *arg;
    struct conn *all;
    struct conn *dead;
    struct conn *dirty;    /* conns with output written since the last flush */
    ev_prepare flusher;    /* flushes them once per loop iteration */
    unsigned paused_roles; /* conn_mgr_pause_role(): bit (1 << role) per paused role */
    ev_idle reaper;
    struct listener *listeners;
    struct conn_stats st;
    uint64_t next_id;
    struct mix_rng rng;
    /* accept_rate: token buckets by hashed source address (collisions share one) */
    struct accept_bucket {
        double tokens;
        ev_tstamp at;
    } buckets[CONN_RATE_BUCKETS];
    uint8_t bucket_key[crypto_shorthash_KEYBYTES];
};

static void conn_shutdown(struct conn *c, enum conn_close_reason why);
static void start_connect(struct conn *c);

const char *conn_close_reason_str(enum conn_close_reason r)
{
    switch (r) {
    case CONN_CLOSE_LOCAL: return "closed locally";
    case CONN_CLOSE_EOF: return "peer closed";
    case CONN_CLOSE_IO: return "I/O error";
    case CONN_CLOSE_LINK: return "link error";
    case CONN_CLOSE_UNAUTHORIZED: return "not authorised";
    case CONN_CLOSE_HS_TIMEOUT: return "handshake timeout";
    case CONN_CLOSE_IDLE: return "idle timeout";
    case CONN_CLOSE_PROTOCOL: return "protocol error";
    }
    return "unknown";
}

void conn_limits_default(struct conn_limits *l)
{
    l->max_conns = 1024;
    l->max_per_addr = 16;
    l->max_frame = LINK_DEFAULT_MAX_FRAME;
    l->max_out_bytes = LINK_DEFAULT_OUT_CAP;
    l->handshake_timeout = 10.0;
    l->idle_timeout = 0.0;
    l->accept_rate = 0.0;
    l->accept_burst = 0.0;
    l->backoff_min = 0.5;
    l->backoff_max = 30.0;
}

/* ------------------------------------------------------------ addresses */

static void addr_to_str(const struct sockaddr_storage *ss, char out[CONN_ADDRSTR])
{
    char ip[INET6_ADDRSTRLEN] = "?";
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)(const void *)ss;
        inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
        snprintf(out, CONN_ADDRSTR, "%s:%u", ip, (unsigned)ntohs(a->sin_port));
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)(const void *)ss;
        inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
        snprintf(out, CONN_ADDRSTR, "[%s]:%u", ip, (unsigned)ntohs(a->sin6_port));
    } else {
        snprintf(out, CONN_ADDRSTR, "?");
    }
}

/* True if both addresses have the same IP (ports ignored). */
static bool same_ip(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family)
        return false;
    if (a->ss_family == AF_INET)
        return memcmp(&((const struct sockaddr_in *)(const void *)a)->sin_addr,
                      &((const struct sockaddr_in *)(const void *)b)->sin_addr, 4) == 0;
    if (a->ss_family == AF_INET6)
        return memcmp(&((const struct sockaddr_in6 *)(const void *)a)->sin6_addr,
                      &((const struct sockaddr_in6 *)(const void *)b)->sin6_addr, 16) == 0;
    return false;
}

/* ------------------------------------------------------------ lifetime */

static void reap_cb(struct ev_loop *loop, ev_idle *w, int revents)
{
    struct conn_mgr *m = CONTAINER_OF(w, struct conn_mgr, reaper);
    (void)revents;
    while (m->dead != NULL) {
        struct conn *c = m->dead;
        m->dead = c->dead_next;
        if (c->prev != NULL)
            c->prev->next = c->next;
        else
            m->all = c->next;
        if (c->next != NULL)
            c->next->prev = c->prev;
        while (c->pend_head != NULL) {
            struct pending_frame *p = c->pend_head;
            c->pend_head = p->next;
            free(p);
        }
        m->st.open--;
        free(c);
    }
    ev_idle_stop(loop, w);
}

static struct conn *conn_alloc(struct conn_mgr *m, bool inbound)
{
    struct conn *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->m = m;
    c->fd = -1;
    c->inbound = inbound;
    c->id = ++m->next_id;
    c->backoff = m->lim.backoff_min;
    c->idle_timeout = m->lim.idle_timeout;
    c->next = m->all;
    if (m->all != NULL)
        m->all->prev = c;
    m->all = c;
    m->st.open++;
    return c;
}

static void undirty(struct conn *c)
{
    if (!c->dirty)
        return;
    for (struct conn **pp = &c->m->dirty; *pp != NULL; pp = &(*pp)->dirty_next) {
        if (*pp == c) {
            *pp = c->dirty_next;
            break;
        }
    }
    c->dirty = false;
    c->dirty_next = NULL;
}

/* Whether conn_mgr_pause_reads() applies to c (see conn.h). */
static bool pausable(const struct conn *c)
{
    return c->inbound && c->state == CONN_STATE_ESTABLISHED;
}

/* Whether c's reads are paused now: pausable, and its peer's role paused. */
static bool paused(const struct conn *c)
{
    return (c->m->paused_roles >> (unsigned)c->role & 1u) && pausable(c);
}

/* Read unless the manager pauses reads; the pause ends with conn_mgr_pause_reads(m, false). */
static void start_reads(struct conn *c)
{
    c->reading = true;
    if (!paused(c))
        ev_io_start(c->m->loop, &c->rio);
}

static void stop_io(struct conn *c)
{
    struct ev_loop *loop = c->m->loop;
    undirty(c);
    c->reading = false;
    ev_io_stop(loop, &c->rio);
    ev_io_stop(loop, &c->wio);
    ev_timer_stop(loop, &c->timer);
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
    link_free(c->link);
    c->link = NULL;
}

static double jittered(struct conn *c, double d)
{
    /* +-25% so that many nodes restarted together do not reconnect in step. */
    double u = mix_rng_unit(&c->m->rng);
    return d * (0.75 + 0.5 * u);
}

/* Rule 1 of the file comment: the single exit of a TCP connection. */
static void conn_shutdown(struct conn *c, enum conn_close_reason why)
{
    struct conn_mgr *m = c->m;
    enum conn_state prev = c->state;
    if (prev == CONN_STATE_CLOSED)
        return;
    stop_io(c);
    c->connect_failed = false;
    c->authorized = false;
    switch (why) {
    case CONN_CLOSE_LINK: m->st.link_errors++; break;
    case CONN_CLOSE_IO: m->st.io_errors++; break;
    case CONN_CLOSE_HS_TIMEOUT: m->st.hs_timeouts++; break;
    case CONN_CLOSE_IDLE: m->st.idle_timeouts++; break;
    case CONN_CLOSE_UNAUTHORIZED: m->st.refused_auth++; break;
    default: break;
    }
    if (c->persistent && !c->owner_closed) {
        c->state = CONN_STATE_BACKOFF;
        ev_timer_set(&c->timer, jittered(c, c->backoff), 0.0);
        ev_timer_start(m->loop, &c->timer);
        c->backoff = c->backoff * 2 > m->lim.backoff_max ? m->lim.backoff_max : c->backoff * 2;
    } else {
        c->state = CONN_STATE_CLOSED;
        c->dead_next = m->dead;
        m->dead = c;
        ev_idle_start(m->loop, &m->reaper);
    }
    log_debug("conn %llu: closed (%s)", (unsigned long long)c->id, conn_close_reason_str(why));
    if (prev != CONN_STATE_BACKOFF && m->cb.on_close != NULL)
        m->cb.on_close(c, why, m->arg);
}

void conn_close(struct conn *c)
{
    if (c == NULL)
        return;
    c->owner_closed = true;
    conn_shutdown(c, CONN_CLOSE_LOCAL);
}

void conn_close_bad(struct conn *c)
{
    if (c == NULL)
        return;
    c->owner_closed = true;
    conn_shutdown(c, CONN_CLOSE_PROTOCOL);
}

/* ------------------------------------------------------------ I/O */

/*
 * Output is not written where it is produced: the conn goes on the dirty
 * list, and one ev_prepare callback writes every dirty conn just before the
 * loop sleeps.  Frames produced in one loop iteration leave in one send(),
 * and the write watcher (two epoll_ctl calls each time) is armed only when
 * the socket buffer is full.
 */
static void want_write(struct conn *c)
{
    if (c->fd < 0 || c->state < CONN_STATE_HANDSHAKE || c->state == CONN_STATE_CLOSED)
        return;
    if (ev_is_active(&c->wio) || c->dirty)
        return;
    c->dirty = true;
    c->dirty_next = c->m->dirty;
    c->m->dirty = c;
}

/* Write what the link has for the socket; arm the write watcher if it is full. */
static void try_write(struct conn *c)
{
    if (link_state(c->link) == LINK_STATE_FAILED) {
        conn_shutdown(c, CONN_CLOSE_LINK);
        return;
    }
    if (sock_flush_link(c->fd, c->link) < 0) {
        conn_shutdown(c, CONN_CLOSE_IO);
        return;
    }
    if (link_output_pending(c->link) > 0)
        ev_io_start(c->m->loop, &c->wio);
    else
        ev_io_stop(c->m->loop, &c->wio);
}

static void flush_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
    struct conn_mgr *m = CONTAINER_OF(w, struct conn_mgr, flusher);
    (void)loop;
    (void)revents;
    while (m->dirty != NULL) {
        struct conn *c = m->dirty;
        m->dirty = c->dirty_next;
        c->dirty = false;
        c->dirty_next = NULL;
        if (c->fd >= 0 && c->link != NULL && c->state >= CONN_STATE_HANDSHAKE &&
            c->state != CONN_STATE_CLOSED)
            try_write(c); /* may shut c down: it is off the list already */
    }
}

/* Pause (or resume) the reads of the roles in mask; counts a pause that stops something. */
static void pause_mask(struct conn_mgr *m, unsigned mask, bool pause)
{
    unsigned now = pause ? m->paused_roles | mask : m->paused_roles & ~mask;
    if (now == m->paused_roles)
        return;
    unsigned changed = now ^ m->paused_roles;
    m->paused_roles = now;
    m->st.read_pauses += pause;
    for (struct conn *c = m->all; c != NULL; c = c->next) {
        if (!c->reading || c->fd < 0 || !pausable(c) || !(changed >> (unsigned)c->role & 1u))
            continue;
        if (pause)
            ev_io_stop(m->loop, &c->rio);
        else
            ev_io_start(m->loop, &c->rio);
    }
}

void conn_mgr_pause_reads(struct conn_mgr *m, bool pause)
{
    if (m != NULL)
        pause_mask(m, ~0u, pause);
}

void conn_mgr_pause_role(struct conn_mgr *m, enum link_role role, bool pause)
{
    if (m != NULL && (unsigned)role < 32)
        pause_mask(m, 1u << role, pause);
}

/*
 * Only inbound conns time out when idle: the dialler chose to keep its link
 * (a persistent one would just reconnect), and the accepting side enforces
 * its own limit.
 */
static void arm_idle(struct conn *c, double after)
{
    ev_timer_stop(c->m->loop, &c->timer);
    if (c->idle_timeout <= 0 || !c->inbound)
        return;
    ev_timer_set(&c->timer, after, 0.0);
    ev_timer_start(c->m->loop, &c->timer);
}

/* Move frames queued before the link was up into the link. */
static void flush_pending(struct conn *c)
{
    while (c->pend_head != NULL) {
        struct pending_frame *p = c->pend_head;
        c->pend_head = p->next;
        c->pend_bytes -= p->len;
        int r = link_send_frame(c->link, p->data, p->len);
        if (r == LINK_OK)
            c->m->st.frames_out++;
        else
            c->m->st.send_full++;
        free(p);
    }
    c->pend_tail = NULL;
}

static void became_established(struct conn *c)
{
    struct conn_mgr *m = c->m;
    c->state = CONN_STATE_ESTABLISHED;
    c->backoff = m->lim.backoff_min;
    c->last_rx = ev_now(m->loop);
    m->st.established++;
    arm_idle(c, c->idle_timeout);
    /* Paused while it was shaking hands: it pauses now like the others. */
    if (c->reading && paused(c))
        ev_io_stop(m->loop, &c->rio);
    flush_pending(c);
    want_write(c);
    log_debug("conn %llu: link established", (unsigned long long)c->id);
    if (m->cb.on_established != NULL)
        m->cb.on_established(c, m->arg);
}

/* Inbound: ask the owner about the initiator's key before msg2 goes out. */
static bool authorize_inbound(struct conn *c)
{
    struct conn_mgr *m = c->m;
    if (!link_remote_static(c->link, c->remote_pk))
        return true; /* not known yet */
    c->have_remote = true;
    c->role = link_remote_role(c->link);
    c->authorized = true;
    if (m->cb.authorize != NULL && !m->cb.authorize(c, c->remote_pk, c->role, m->arg)) {
        conn_shutdown(c, CONN_CLOSE_UNAUTHORIZED);
        return false;
    }
    return c->state != CONN_STATE_CLOSED;
}

/* Hand every complete frame to the owner; stop if the owner closed us. */
static void deliver_frames(struct conn *c)
{
    struct conn_mgr *m = c->m;
    const uint8_t *p;
    size_t len;
    while (c->state == CONN_STATE_ESTABLISHED && link_next_frame(c->link, &p, &len) == 1) {
        m->st.frames_in++;
        c->last_rx = ev_now(m->loop);
        if (m->cb.on_frame != NULL)
            m->cb.on_frame(c, p, len, m->arg);
    }
}

uint64_t conn_rx_time_us(const struct conn *c)
{
    return c->rx_us ? c->rx_us : sock_mono_us();
}

static void read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct conn *c = CONTAINER_OF(w, struct conn, rio);
    uint8_t buf[CONN_READ_BUF];
    (void)loop;
    (void)revents;
    for (int i = 0; i < CONN_READS_PER_CB && c->link != NULL; i++) {
        ssize_t n = sock_read_stamped(c->fd, buf, sizeof buf, &c->rx_us);
        if (n == 0) {
            conn_shutdown(c, CONN_CLOSE_EOF);
            return;
        }
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                break;
            conn_shutdown(c, CONN_CLOSE_IO);
            return;
        }
        int r = link_feed(c->link, buf, (size_t)n);
        if (r != LINK_OK) {
            log_debug("conn %llu: link: %s", (unsigned long long)c->id, link_strerror(r));
            conn_shutdown(c, CONN_CLOSE_LINK);
            return;
        }
        if (c->inbound && !c->authorized && !authorize_inbound(c))
            return;
        if (c->state == CONN_STATE_HANDSHAKE && link_is_established(c->link))
            became_established(c);
        deliver_frames(c);
        if ((size_t)n < sizeof buf || paused(c))
            break;
    }
    if (c->link != NULL && link_output_pending(c->link) > 0)
        want_write(c);
}

static void connected(struct conn *c)
{
    struct conn_mgr *m = c->m;
    int soerr = sock_connect_result(c->fd);
    if (soerr != 0) {
        m->st.connect_failures++;
        log_debug("conn %llu: connect to %s failed: %s", (unsigned long long)c->id, c->addrstr,
                  strerror(soerr));
        conn_shutdown(c, CONN_CLOSE_IO);
        return;
    }
    c->link = link_new_initiator(m->keys, m->keys + LINK_KEY_LEN, c->remote_pk, c->role,
                                 m->lim.max_frame, &m->rng);
    if (c->link == NULL || link_start(c->link) != LINK_OK) {
        conn_shutdown(c, CONN_CLOSE_LINK);
        return;
    }
    link_set_output_cap(c->link, m->lim.max_out_bytes);
    c->state = CONN_STATE_HANDSHAKE;
    start_reads(c);
}

static void write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct conn *c = CONTAINER_OF(w, struct conn, wio);
    (void)revents;
    if (c->state == CONN_STATE_CONNECTING) {
        connected(c);
        if (c->state != CONN_STATE_HANDSHAKE)
            return;
    }
    (void)loop;
    (void)w;
    try_write(c);
}

static void timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct conn *c = CONTAINER_OF(w, struct conn, timer);
    (void)revents;
    switch (c->state) {
    case CONN_STATE_BACKOFF: start_connect(c); break;
    case CONN_STATE_CONNECTING:
        if (!c->connect_failed)
            c->m->st.connect_failures++;
        conn_shutdown(c, c->connect_failed ? CONN_CLOSE_IO : CONN_CLOSE_HS_TIMEOUT);
        break;
    case CONN_STATE_HANDSHAKE: conn_shutdown(c, CONN_CLOSE_HS_TIMEOUT); break;
    case CONN_STATE_ESTABLISHED: {
        double left = c->last_rx + c->idle_timeout - ev_now(loop);
        if (left <= 0)
            conn_shutdown(c, CONN_CLOSE_IDLE);
        else
            arm_idle(c, left);
        break;
    }
    case CONN_STATE_CLOSED: break;
    }
}

static void init_watchers(struct conn *c)
{
    ev_io_init(&c->rio, read_cb, c->fd, EV_READ);
    ev_io_init(&c->wio, write_cb, c->fd, EV_WRITE);
}

/*
 * Begin one TCP connect.  An immediate failure is reported through a
 * zero-delay timer, so conn_dial() never calls on_close() synchronously.
 */
static void start_connect(struct conn *c)
{
    struct conn_mgr *m = c->m;
    c->state = CONN_STATE_CONNECTING;
    m->st.dialled++;
    c->fd = sock_stream(c->addr.ss_family);
    if (c->fd >= 0 && sock_connect(c->fd, &c->addr, c->addrlen) == 0) {
        init_watchers(c);
        ev_io_start(m->loop, &c->wio);
        ev_timer_set(&c->timer, m->lim.handshake_timeout, 0.0);
    } else {
        m->st.connect_failures++;
        c->connect_failed = true;
        ev_timer_set(&c->timer, 0.0, 0.0);
    }
    ev_timer_start(m->loop, &c->timer);
}

struct conn *conn_dial(struct conn_mgr *m, const char *hostport,
                       const uint8_t remote_pk[static LINK_KEY_LEN], enum link_role role,
                       bool persistent, void *user)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    char err[160];
    if (sock_resolve(hostport, false, &ss, &sl, err, sizeof err) < 0) {
        log_warn("dial: %s", err);
        return NULL;
    }
    if (m->st.open >= m->lim.max_conns) {
        m->st.refused_max_conns++;
        return NULL;
    }
    struct conn *c = conn_alloc(m, false);
    if (c == NULL)
        return NULL;
    c->addr = ss;
    c->addrlen = sl;
    addr_to_str(&ss, c->addrstr);
    memcpy(c->remote_pk, remote_pk, LINK_KEY_LEN);
    c->have_remote = true;
    c->role = role;
    c->persistent = persistent;
    c->user = user;
    ev_timer_init(&c->timer, timer_cb, 0.0, 0.0);
    start_connect(c);
    return c;
}

int conn_send(struct conn *c, const uint8_t *frame, size_t len)
{
    struct conn_mgr *m = c->m;
    if (c->state == CONN_STATE_CLOSED)
        return CONN_ERR_CLOSED;
    if (len > m->lim.max_frame) {
        m->st.send_too_big++;
        return CONN_ERR_TOO_BIG;
    }
    if (c->state == CONN_STATE_ESTABLISHED) {
        int r = link_send_frame(c->link, frame, len);
        if (r == LINK_ERR_FULL) {
            m->st.send_full++;
            return CONN_ERR_FULL;
        }
        if (r == LINK_ERR_TOO_BIG) {
            m->st.send_too_big++;
            return CONN_ERR_TOO_BIG;
        }
        /* A fatal link error is noticed by write_cb (rule: no close here). */
        want_write(c);
        if (r != LINK_OK)
            return CONN_ERR_CLOSED;
        m->st.frames_out++;
        return CONN_OK;
    }
    if (c->pend_bytes + len > m->lim.max_out_bytes) {
        m->st.send_full++;
        return CONN_ERR_FULL;
    }
    struct pending_frame *p = malloc(sizeof *p + len);
    if (p == NULL)
        return CONN_ERR_NOMEM;
    p->next = NULL;
    p->len = len;
    if (len > 0)
        memcpy(p->data, frame, len);
    if (c->pend_tail != NULL)
        c->pend_tail->next = p;
    else
        c->pend_head = p;
    c->pend_tail = p;
    c->pend_bytes += len;
    return CONN_OK;
}

/* ------------------------------------------------------------ accept */

static size_t count_from_ip(struct conn_mgr *m, const struct sockaddr_storage *ss)
{
    size_t n = 0;
    for (struct conn *c = m->all; c != NULL; c = c->next)
        if (c->inbound && c->state != CONN_STATE_CLOSED && same_ip(&c->addr, ss))
            n++;
    return n;
}

/*
 * accept_rate: one token bucket per source address (an IPv6 address counts
 * by its /64, which one host usually holds whole).  Addresses are hashed
 * with a per-process key into a fixed table, so the memory is bounded
 * whatever the number of sources; two sources sharing a bucket share its
 * rate.  false: over the rate.
 */
static bool accept_take_token(struct conn_mgr *m, const struct sockaddr_storage *ss)
{
    uint8_t h[crypto_shorthash_BYTES];
    const uint8_t *a = NULL;
    size_t alen = 0;
    if (m->lim.accept_rate <= 0)
        return true;
    if (ss->ss_family == AF_INET) {
        a = (const uint8_t *)&((const struct sockaddr_in *)(const void *)ss)->sin_addr;
        alen = 4;
    } else if (ss->ss_family == AF_INET6) {
        a = (const uint8_t *)&((const struct sockaddr_in6 *)(const void *)ss)->sin6_addr;
        alen = 8;
    } else {
        return true;
    }
    crypto_shorthash(h, a, alen, m->bucket_key);
    struct accept_bucket *b = &m->buckets[(h[0] | (unsigned)h[1] << 8) % CONN_RATE_BUCKETS];
    ev_tstamp now = ev_now(m->loop);
    double burst = m->lim.accept_burst > 1 ? m->lim.accept_burst : 1;
    if (b->at == 0)
        b->tokens = burst;
    else
        b->tokens += (now - b->at) * m->lim.accept_rate;
    if (b->tokens > burst)
        b->tokens = burst;
    b->at = now;
    if (b->tokens < 1.0)
        return false;
    b->tokens -= 1.0;
    return true;
}

/*
 * At max_conns, a new connection takes the place of the oldest inbound one
 * still in its handshake, if any is older than a second: half-open
 * connections then hold no slot for longer than it takes others to connect,
 * and a legitimate handshake (one round trip) is not cut short by a flood.
 * Failing that, of the longest-idle evictable conn (see evict_idle).
 */
static bool evict_half_open(struct conn_mgr *m)
{
    struct conn *old = NULL;
    ev_tstamp now = ev_now(m->loop);
    for (struct conn *c = m->all; c != NULL; c = c->next)
        if (c->inbound && c->state == CONN_STATE_HANDSHAKE && !c->authorized &&
            (old == NULL || c->started < old->started))
            old = c;
    if (old != NULL && now - old->started >= 1.0) {
        m->st.evicted_half_open++;
        conn_shutdown(old, CONN_CLOSE_HS_TIMEOUT);
        return true;
    }
    /* Then the evictable established conn idle longest, if idle for evict_idle. */
    if (m->lim.evict_idle <= 0)
        return false;
    old = NULL;
    for (struct conn *c = m->all; c != NULL; c = c->next)
        if (c->evictable && c->state == CONN_STATE_ESTABLISHED &&
            (old == NULL || c->last_rx < old->last_rx))
            old = c;
    if (old == NULL || now - old->last_rx < m->lim.evict_idle)
        return false;
    m->st.evicted_idle++;
    conn_shutdown(old, CONN_CLOSE_IDLE);
    return true;
}

static void accept_one(struct conn_mgr *m, int fd, const struct sockaddr_storage *ss, socklen_t sl)
{
    /* The per-address checks come first: a connection over its address's
     * limits must not push out anyone's half-open one. */
    if (count_from_ip(m, ss) >= m->lim.max_per_addr) {
        m->st.refused_per_addr++;
        close(fd);
        return;
    }
    if (!accept_take_token(m, ss)) {
        m->st.refused_rate++;
        close(fd);
        return;
    }
    if (m->st.open >= m->lim.max_conns && !evict_half_open(m)) {
        m->st.refused_max_conns++;
        close(fd);
        return;
    }
    struct conn *c = conn_alloc(m, true);
    if (c == NULL) {
        close(fd);
        return;
    }
    c->fd = fd;
    c->addr = *ss;
    c->addrlen = sl;
    c->started = ev_now(m->loop);
    addr_to_str(ss, c->addrstr);
    c->link = link_new_responder(m->keys, m->keys + LINK_KEY_LEN, m->lim.max_frame, &m->rng);
    init_watchers(c);
    ev_timer_init(&c->timer, timer_cb, m->lim.handshake_timeout, 0.0);
    c->state = CONN_STATE_HANDSHAKE;
    m->st.accepted++;
    if (c->link == NULL) {
        conn_shutdown(c, CONN_CLOSE_LINK);
        return;
    }
    link_set_output_cap(c->link, m->lim.max_out_bytes);
    if (sock_options(fd) != 0) {
        conn_shutdown(c, CONN_CLOSE_IO);
        return;
    }
    start_reads(c);
    ev_timer_start(m->loop, &c->timer);
    /* No address: an accepted conn may turn out to be a client's. */
    log_debug("conn %llu: accepted", (unsigned long long)c->id);
}

static void resume_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct listener *l = CONTAINER_OF(w, struct listener, pause);
    (void)revents;
    ev_io_start(loop, &l->io);
}

static void accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct listener *l = CONTAINER_OF(w, struct listener, io);
    (void)revents;
    for (int i = 0; i < CONN_ACCEPTS_PER_CB; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        int fd = accept4(l->fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /*
                 * The pending connection stays queued and the socket stays
                 * readable: without a pause libev would call us in a loop.
                 */
                l->m->st.accept_errors++;
                ev_io_stop(loop, &l->io);
                ev_timer_start(loop, &l->pause);
                log_warn("accept: %s (pausing for 1 s)", strerror(errno));
            }
            return;
        }
        accept_one(l->m, fd, &ss, sl);
    }
}

int conn_listen(struct conn_mgr *m, const char *hostport, uint16_t *bound_port, char *err,
                size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    if (sock_resolve(hostport, true, &ss, &sl, err, errlen) < 0)
        return -1;
    int fd = sock_stream(ss.ss_family);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    int one = 1;
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 128) < 0) {
        snprintf(err, errlen, "cannot listen on %s: %s", hostport, strerror(errno));
        close(fd);
        return -1;
    }
    struct listener *l = calloc(1, sizeof *l);
    if (l == NULL) {
        snprintf(err, errlen, "out of memory");
        close(fd);
        return -1;
    }
    if (bound_port != NULL) {
        struct sockaddr_storage b;
        socklen_t bl = sizeof b;
        *bound_port = 0;
        if (getsockname(fd, (struct sockaddr *)&b, &bl) == 0)
            *bound_port =
                ntohs(b.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)(void *)&b)->sin6_port
                                              : ((struct sockaddr_in *)(void *)&b)->sin_port);
    }
    l->m = m;
    l->fd = fd;
    l->next = m->listeners;
    m->listeners = l;
    ev_io_init(&l->io, accept_cb, fd, EV_READ);
    ev_timer_init(&l->pause, resume_cb, 1.0, 0.0);
    ev_io_start(m->loop, &l->io);
    return 0;
}

/* ------------------------------------------------------------ manager */

static void fill_limits(struct conn_limits *out, const struct conn_limits *in)
{
    conn_limits_default(out);
    if (in == NULL)
        return;
    if (in->max_conns)
        out->max_conns = in->max_conns;
    if (in->max_per_addr)
        out->max_per_addr = in->max_per_addr;
    if (in->max_frame)
        out->max_frame = in->max_frame;
    if (in->max_out_bytes)
        out->max_out_bytes = in->max_out_bytes;
    if (in->handshake_timeout > 0)
        out->handshake_timeout = in->handshake_timeout;
    if (in->idle_timeout > 0)
        out->idle_timeout = in->idle_timeout;
    if (in->accept_rate > 0)
        out->accept_rate = in->accept_rate;
    if (in->accept_burst > 0)
        out->accept_burst = in->accept_burst;
    if (in->evict_idle > 0)
        out->evict_idle = in->evict_idle;
    if (in->backoff_min > 0)
        out->backoff_min = in->backoff_min;
    if (in->backoff_max > 0)
        out->backoff_max = in->backoff_max;
    if (out->backoff_max < out->backoff_min)
        out->backoff_max = out->backoff_min;
}

struct conn_mgr *conn_mgr_new(struct ev_loop *loop, const uint8_t link_sk[static LINK_KEY_LEN],
                              const uint8_t link_pk[static LINK_KEY_LEN],
                              const struct conn_limits *lim, const struct conn_callbacks *cb,
                              void *cb_arg)
{
    struct conn_mgr *m = calloc(1, sizeof *m);
    if (m == NULL)
        return NULL;
    m->keys = sodium_malloc(2 * LINK_KEY_LEN);
    if (m->keys == NULL) {
        free(m);
        return NULL;
    }
    memcpy(m->keys, link_sk, LINK_KEY_LEN);
    memcpy(m->keys + LINK_KEY_LEN, link_pk, LINK_KEY_LEN);
    m->loop = loop;
    fill_limits(&m->lim, lim);
    if (cb != NULL)
        m->cb = *cb;
    m->arg = cb_arg;
    m->rng = mix_rng_system();
    randombytes_buf(m->bucket_key, sizeof m->bucket_key);
    ev_idle_init(&m->reaper, reap_cb);
    ev_prepare_init(&m->flusher, flush_cb);
    ev_prepare_start(loop, &m->flusher);
    return m;
}

void conn_mgr_set_limits(struct conn_mgr *m, const struct conn_limits *lim)
{
    fill_limits(&m->lim, lim);
}

void conn_mgr_free(struct conn_mgr *m)
{
    if (m == NULL)
        return;
    for (struct conn *c = m->all; c != NULL; c = c->next)
        conn_close(c);
    ev_prepare_stop(m->loop, &m->flusher);
    reap_cb(m->loop, &m->reaper, 0);
    while (m->listeners != NULL) {
        struct listener *l = m->listeners;
        m->listeners = l->next;
        ev_io_stop(m->loop, &l->io);
        ev_timer_stop(m->loop, &l->pause);
        close(l->fd);
        free(l);
    }
    sodium_free(m->keys);
    free(m);
}

void conn_mgr_get_stats(const struct conn_mgr *m, struct conn_stats *out)
{
    *out = m->st;
}

/* ------------------------------------------------------------ accessors */

enum conn_state conn_get_state(const struct conn *c)
{
    return c->state;
}
bool conn_is_inbound(const struct conn *c)
{
    return c->inbound;
}
enum link_role conn_remote_role(const struct conn *c)
{
    return c->inbound ? c->role : LINK_ROLE_NONE;
}
uint64_t conn_id(const struct conn *c)
{
    return c->id;
}
const char *conn_peer_addr(const struct conn *c)
{
    return c->addrstr;
}
void *conn_get_user(const struct conn *c)
{
    return c->user;
}
void conn_set_user(struct conn *c, void *user)
{
    c->user = user;
}
struct conn_mgr *conn_get_mgr(const struct conn *c)
{
    return c->m;
}

bool conn_remote_key(const struct conn *c, uint8_t out[static LINK_KEY_LEN])
{
    if (!c->have_remote)
        return false;
    memcpy(out, c->remote_pk, LINK_KEY_LEN);
    return true;
}

void conn_set_limits(struct conn *c, size_t max_out_bytes, double idle_timeout)
{
    if (max_out_bytes > 0 && max_out_bytes < c->m->lim.max_out_bytes && c->link != NULL) {
        link_set_output_cap(c->link, max_out_bytes);
        /* The kernel's buffer too: autotuning would let an unread socket grow to megabytes. */
        int sz = max_out_bytes > (1u << 30) ? 1 << 30 : (int)max_out_bytes;
        (void)setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
    }
    if (idle_timeout > 0 && c->inbound) {
        c->idle_timeout = idle_timeout;
        if (c->state == CONN_STATE_ESTABLISHED)
            arm_idle(c, idle_timeout);
    }
}

uint32_t conn_peer_prefix_hash(const struct conn *c)
{
    uint8_t h[crypto_shorthash_BYTES];
    const struct sockaddr_storage *ss = &c->addr;
    if (ss->ss_family == AF_INET)
        crypto_shorthash(h,
                         (const uint8_t *)&((const struct sockaddr_in *)(const void *)ss)->sin_addr,
                         3, c->m->bucket_key);
    else if (ss->ss_family == AF_INET6)
        crypto_shorthash(
            h, (const uint8_t *)&((const struct sockaddr_in6 *)(const void *)ss)->sin6_addr, 6,
            c->m->bucket_key);
    else
        return 0;
    return (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 24;
}

void conn_set_evictable(struct conn *c)
{
    c->evictable = c->inbound;
}

double conn_idle_seconds(const struct conn *c)
{
    if (c->state != CONN_STATE_ESTABLISHED)
        return 0.0;
    return ev_now(c->m->loop) - c->last_rx;
}

size_t conn_out_pending(const struct conn *c)
{
    return c->pend_bytes + (c->link != NULL ? link_output_pending(c->link) : 0);
}
