/*
 * The client's outbound Noise connection over libev; see cconn.h.
 */
#include "cconn.h"

#include <errno.h>
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "sock.h"
#ifdef MIXCLIENT_TRUTH
#include "truth.h"
#endif

enum cconn_state { CC_CONNECTING, CC_HANDSHAKE, CC_UP, CC_DOWN };

struct cconn {
    struct ev_loop *loop;
    ev_io rio, wio;
    ev_timer timer;
    int fd;
    enum cconn_state state;
    struct link *link;
    struct cconn_cbs cbs;
#ifdef MIXCLIENT_TRUTH
    struct truth_link *truth; /* test builds: the ground-truth recorder (truth.h) */
#endif
};

/* End the connection once: stop watchers, close the socket, tell the owner. */
static void go_down(struct cconn *c, const char *why)
{
    if (c->state == CC_DOWN)
        return;
    c->state = CC_DOWN;
    ev_io_stop(c->loop, &c->rio);
    ev_io_stop(c->loop, &c->wio);
    ev_timer_stop(c->loop, &c->timer);
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    if (c->cbs.on_down)
        c->cbs.on_down(c->cbs.ctx, c, why);
}

static void want_write(struct cconn *c)
{
    if (c->state != CC_DOWN && link_output_pending(c->link) > 0)
        ev_io_start(c->loop, &c->wio);
}

static void on_write(struct ev_loop *loop, ev_io *w, int revents)
{
    struct cconn *c = w->data;
    (void)loop;
    (void)revents;
    if (c->state == CC_CONNECTING) {
        if (sock_connect_result(c->fd) != 0) {
            go_down(c, "connection refused or unreachable");
            return;
        }
        c->state = CC_HANDSHAKE;
        ev_io_start(c->loop, &c->rio);
    }
    ssize_t n = sock_flush_link(c->fd, c->link);
    if (n < 0) {
        go_down(c, "write failed");
        return;
    }
#ifdef MIXCLIENT_TRUTH
    if (n > 0 && c->truth != NULL) {
        struct link_stats st;
        link_get_stats(c->link, &st);
        truth_link_written(c->truth, st.bytes_out);
    }
#endif
    if (link_output_pending(c->link) == 0)
        ev_io_stop(c->loop, &c->wio);
}

static void on_read(struct ev_loop *loop, ev_io *w, int revents)
{
    struct cconn *c = w->data;
    uint8_t buf[65536];
    uint64_t rx_us; /* unused: the client does not hold packets by arrival time */
    (void)loop;
    (void)revents;
    ssize_t n = sock_read_stamped(c->fd, buf, sizeof(buf), &rx_us);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        go_down(c, n == 0 ? "closed by peer" : "read failed");
        return;
    }
    if (n < 0)
        return;
    if (link_feed(c->link, buf, (size_t)n) != LINK_OK) {
        go_down(c, link_error_reason(c->link) ? link_error_reason(c->link) : "link failed");
        return;
    }
    if (c->state == CC_HANDSHAKE && link_is_established(c->link)) {
        c->state = CC_UP;
        ev_timer_stop(c->loop, &c->timer);
#ifdef MIXCLIENT_TRUTH
        c->truth = truth_link_new(c->fd);
#endif
        if (c->cbs.on_up)
            c->cbs.on_up(c->cbs.ctx, c);
    }
    const uint8_t *f;
    size_t flen;
    while (c->state == CC_UP && link_next_frame(c->link, &f, &flen) == 1)
        c->cbs.on_frame(c->cbs.ctx, c, f, flen);
    want_write(c);
}

static void on_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct cconn *c = w->data;
    (void)loop;
    (void)revents;
    go_down(c, "connect or handshake timed out");
}

/* A socket with the link options (sock.h), its connect to hostport begun. */
static int open_socket(const char *hostport, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    if (sock_resolve(hostport, false, &ss, &sl, err, errlen) != 0)
        return -1;
    int fd = sock_stream(ss.ss_family);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
    } else if (sock_connect(fd, &ss, sl) != 0) {
        snprintf(err, errlen, "connect %s: %s", hostport, strerror(errno));
        close(fd);
        fd = -1;
    }
    return fd;
}

struct cconn *cconn_dial(struct ev_loop *loop, const char *hostport,
                         const uint8_t sk[static LINK_KEY_LEN],
                         const uint8_t pk[static LINK_KEY_LEN],
                         const uint8_t remote_pk[static LINK_KEY_LEN], enum link_role role,
                         size_t max_frame, uint32_t timeout_ms, const struct mix_rng *rng,
                         const struct cconn_cbs *cbs, char *err, size_t errlen)
{
    struct cconn *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->loop = loop;
    c->cbs = *cbs;
    c->link = link_new_initiator(sk, pk, remote_pk, role, max_frame, rng);
    if (c->link == NULL || link_start(c->link) != LINK_OK) {
        snprintf(err, errlen, "cannot create the link");
        link_free(c->link);
        free(c);
        return NULL;
    }
    c->fd = open_socket(hostport, err, errlen);
    if (c->fd < 0) {
        link_free(c->link);
        free(c);
        return NULL;
    }
    c->state = CC_CONNECTING;
    ev_io_init(&c->rio, on_read, c->fd, EV_READ);
    ev_io_init(&c->wio, on_write, c->fd, EV_WRITE);
    ev_timer_init(&c->timer, on_timeout, timeout_ms / 1000.0, 0.);
    c->rio.data = c->wio.data = c->timer.data = c;
    ev_io_start(loop, &c->wio);
    ev_timer_start(loop, &c->timer);
    return c;
}

int cconn_send(struct cconn *c, const uint8_t *frame, size_t len)
{
    if (c == NULL || c->state != CC_UP)
        return -1;
    if (link_send_frame(c->link, frame, len) != LINK_OK)
        return -1;
    want_write(c);
    return 0;
}

#ifndef MIXCLIENT_TRUTH
int cconn_send_real(struct cconn *c, const uint8_t *frame, size_t len)
{
    return cconn_send(c, frame, len);
}
#else
int cconn_send_real(struct cconn *c, const uint8_t *frame, size_t len)
{
    if (c == NULL || c->state != CC_UP)
        return -1;
    struct link_stats st;
    link_get_stats(c->link, &st);
    uint64_t index = st.msgs_out;
    if (cconn_send(c, frame, len) != 0)
        return -1;
    truth_link_queued(c->truth, index, st.bytes_out + link_output_pending(c->link));
    return 0;
}
#endif

bool cconn_is_up(const struct cconn *c)
{
    return c != NULL && c->state == CC_UP;
}

bool cconn_is_down(const struct cconn *c)
{
    return c == NULL || c->state == CC_DOWN;
}

size_t cconn_pending(const struct cconn *c)
{
    return c ? link_output_pending(c->link) : 0;
}

void cconn_free(struct cconn *c)
{
    if (c == NULL)
        return;
    c->cbs.on_down = NULL;
    go_down(c, "closed");
#ifdef MIXCLIENT_TRUTH
    truth_link_free(c->truth);
#endif
    link_free(c->link);
    free(c);
}
