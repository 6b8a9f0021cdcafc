/*
 * The daemon's local socket (docs/spec/client.md, "Local socket"): a Unix
 * stream socket (mode 0600) carrying Frames from lib/frame, each preceded
 * by its length as 4 bytes big-endian.  Requests: LocalSend, LocalRecv
 * (optionally follow), LocalReply, LocalStatus; answers as in the spec.
 * Limits are checked before allocating: a frame above LOCAL_MAX_FRAME or
 * more than LOCAL_MAX_CONNS connections are refused.
 */
#include "local.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "client_int.h"
#include "frame.h"

#define LOCAL_MAX_CONNS 64
#define LOCAL_OUT_CAP (64u << 20)

struct lconn {
    struct local_srv *srv;
    struct lconn *next;
    int fd;
    ev_io rio, wio;
    uint8_t *in;
    size_t in_len, in_cap;
    uint8_t *out;
    size_t out_len, out_off, out_cap;
    bool follow;
};

struct local_srv {
    struct mixclient *mc;
    int fd;
    ev_io aio;
    struct lconn *conns;
    size_t n_conns;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

static void lconn_free(struct lconn *c)
{
    struct local_srv *s = c->srv;
    for (struct lconn **p = &s->conns; *p; p = &(*p)->next) {
        if (*p == c) {
            *p = c->next;
            break;
        }
    }
    s->n_conns--;
    ev_io_stop(s->mc->loop, &c->rio);
    ev_io_stop(s->mc->loop, &c->wio);
    close(c->fd);
    free(c->in);
    free(c->out);
    free(c);
}

/* Queue one frame (length prefix + encoding); false if it cannot be. */
static bool lsend(struct lconn *c, const struct mix_frame *f)
{
    size_t len = frame_encoded_len(f);
    if (len == 0 || c->out_len - c->out_off + len + 4 > LOCAL_OUT_CAP)
        return false;
    if (c->out_off > 0 && c->out_off == c->out_len)
        c->out_off = c->out_len = 0;
    if (c->out_len + len + 4 > c->out_cap) {
        size_t ncap = c->out_len + len + 4 + 65536;
        uint8_t *n = realloc(c->out, ncap);
        if (n == NULL)
            return false;
        c->out = n;
        c->out_cap = ncap;
    }
    size_t wrote;
    const char *why;
    if (!frame_encode(f, c->out + c->out_len + 4, len, &wrote, &why))
        return false;
    mix_put_be32(c->out + c->out_len, (uint32_t)wrote);
    c->out_len += wrote + 4;
    ev_io_start(c->srv->mc->loop, &c->wio);
    return true;
}

static void send_result(struct lconn *c, const uint8_t *id, int code, const char *reason)
{
    struct mix_frame f = { .type = FRAME_LOCAL_SEND_REPLY };
    f.u.local_send_reply.message_id.ptr = code == 0 ? id : NULL;
    f.u.local_send_reply.message_id.len = code == 0 ? FRAME_MSG_ID_LEN : 0;
    f.u.local_send_reply.code = (uint32_t)code;
    f.u.local_send_reply.reason = reason;
    if (!lsend(c, &f))
        log_warn("client: local reply dropped");
}

/* Map a library error to a frame error code for the local protocol. */
static int frame_code(int e)
{
    switch (e) {
    case MIXCLIENT_E_ADDRESS:
    case MIXCLIENT_E_TOO_BIG:
    case MIXCLIENT_E_UNKNOWN_GATEWAY: return FRAME_ERR_BAD_FRAME;
    case MIXCLIENT_E_UNKNOWN_ID:
    case MIXCLIENT_E_NO_SURB:
    case MIXCLIENT_E_SURB_USED: return FRAME_ERR_NOT_FOUND;
    case MIXCLIENT_E_NO_DIRECTORY: return FRAME_ERR_UNEXPECTED;
    default: return FRAME_ERR_INTERNAL;
    }
}

static void do_send(struct lconn *c, const struct mix_frame *f)
{
    uint8_t id[MIXCLIENT_ID_LEN] = { 0 };
    char why[160];
    const char *addr = f->u.local_send.address;
    if (mixclient_check_address(addr, why, sizeof(why)) != 0) {
        send_result(c, id, FRAME_ERR_BAD_FRAME, why);
        return;
    }
    int e = mixclient_send(c->srv->mc, addr, f->u.local_send.message.ptr,
                           f->u.local_send.message.len, f->u.local_send.reply_surbs, id);
    send_result(c, id, e == 0 ? 0 : frame_code(e), e == 0 ? "" : mixclient_errmsg(c->srv->mc));
}

static void do_reply(struct lconn *c, const struct mix_frame *f)
{
    uint8_t rid[MIXCLIENT_ID_LEN] = { 0 };
    int e = mixclient_reply(c->srv->mc, f->u.local_reply.message_id.ptr, f->u.local_reply.body.ptr,
                            f->u.local_reply.body.len, rid);
    /* The answer carries the reply's own id (the one the other side sees). */
    send_result(c, rid, e == 0 ? 0 : frame_code(e), e == 0 ? "" : mixclient_errmsg(c->srv->mc));
}

static void push_msg(void *ctx, const struct mixclient_message *m)
{
    struct lconn *c = ctx;
    struct mix_frame f = { .type = FRAME_LOCAL_MESSAGE };
    f.u.local_msg.message_id.ptr = m->id;
    f.u.local_msg.message_id.len = MIXCLIENT_ID_LEN;
    f.u.local_msg.body.ptr = m->len ? m->body : (const uint8_t *)"";
    f.u.local_msg.body.len = m->len;
    f.u.local_msg.can_reply = m->can_reply;
    f.u.local_msg.received_at = m->received_at;
    f.u.local_msg.is_reply = m->is_reply;
    f.u.local_msg.in_reply_to.ptr = m->is_reply ? m->in_reply_to : NULL;
    f.u.local_msg.in_reply_to.len = m->is_reply ? MIXCLIENT_ID_LEN : 0;
    if (!lsend(c, &f))
        log_warn("client: a received message could not be handed to a local reader");
}

static void do_recv(struct lconn *c, const struct mix_frame *f)
{
    size_t remaining = 0;
    size_t n = mixclient_take(c->srv->mc, f->u.local_recv.follow ? 0 : f->u.local_recv.max,
                              push_msg, c, &remaining);
    if (f->u.local_recv.follow) {
        c->follow = true;
        return;
    }
    struct mix_frame e = { .type = FRAME_LOCAL_RECV_END };
    e.u.local_recv_end.count = (uint32_t)n;
    e.u.local_recv_end.remaining = (uint32_t)remaining;
    if (!lsend(c, &e))
        log_warn("client: local reply dropped");
}

struct status_acc {
    struct frame_msg_status *v;
    uint8_t (*ids)[16];
    char (*peers)[MIXCLIENT_ADDRESS_SIZE];
    size_t n, cap;
};

static void add_status(void *ctx, const struct core_status *s)
{
    struct status_acc *a = ctx;
    if (a->n == a->cap) {
        size_t ncap = a->cap ? a->cap * 2 : 32;
        void *nv = realloc(a->v, ncap * sizeof(*a->v));
        if (nv == NULL)
            return;
        a->v = nv;
        void *ni = realloc(a->ids, ncap * 16);
        if (ni == NULL)
            return;
        a->ids = ni;
        void *np = realloc(a->peers, ncap * MIXCLIENT_ADDRESS_SIZE);
        if (np == NULL)
            return;
        a->peers = np;
        a->cap = ncap;
    }
    struct frame_msg_status *v = &a->v[a->n];
    memset(v, 0, sizeof(*v));
    memcpy(a->ids[a->n], s->id, 16);
    v->state = s->state;
    v->fragments = s->fragments;
    v->acked = s->acked;
    v->time = s->time;
    v->size = s->size;
    v->direction = s->incoming ? FRAME_DIR_IN : FRAME_DIR_OUT;
    a->peers[a->n][0] = '\0';
    if (s->have_peer)
        address_encode(&s->peer, a->peers[a->n]);
    a->n++;
}

static void do_status(struct lconn *c, const struct mix_frame *f)
{
    struct mixclient *mc = c->srv->mc;
    struct status_acc a = { NULL, NULL, NULL, 0, 0 };
    char addr[MIXCLIENT_ADDRESS_SIZE];
    if (f->u.local_status.message_id.len == FRAME_MSG_ID_LEN) {
        struct core_status s;
        if (core_status(mc->core, f->u.local_status.message_id.ptr, &s) == CORE_OK)
            add_status(&a, &s);
    } else {
        core_status_all(mc->core, add_status, &a);
    }
    for (size_t i = 0; i < a.n; i++) {
        a.v[i].id.ptr = a.ids[i];
        a.v[i].id.len = 16;
        a.v[i].peer = a.peers[i];
    }
    mixclient_address(mc, addr);
    struct mix_frame r = { .type = FRAME_LOCAL_STATUS_REPLY };
    r.u.local_status_reply.msgs = a.v;
    r.u.local_status_reply.n_msgs = a.n;
    r.u.local_status_reply.address = addr;
    r.u.local_status_reply.epoch = mixclient_epoch(mc);
    r.u.local_status_reply.connected = mixclient_connected(mc);
    r.u.local_status_reply.gateway_id.ptr = mc->gateway_id;
    r.u.local_status_reply.gateway_id.len = 32;
    r.u.local_status_reply.queue_len = (uint32_t)mixclient_queue_len(mc);
    const struct pki_doc *doc = core_doc(mc->core);
    r.u.local_status_reply.lambda_p_mhz = doc ? pki_doc_params(doc)->lambda_p_mhz : 0;
    r.u.local_status_reply.fragment_len = (uint32_t)core_fragment_capacity(mc->core);
    if (!lsend(c, &r))
        log_warn("client: status reply dropped");
    free(a.v);
    free(a.ids);
    free(a.peers);
}

/* One request; false closes the connection. */
static bool handle(struct lconn *c, const uint8_t *buf, size_t len)
{
    struct mix_frame *f;
    const char *why;
    if (!frame_decode(buf, len, LOCAL_MAX_FRAME, &f, &why)) {
        log_debug("client: bad local frame: %s", why);
        return false;
    }
    bool ok = true;
    switch (f->type) {
    case FRAME_LOCAL_SEND: do_send(c, f); break;
    case FRAME_LOCAL_REPLY: do_reply(c, f); break;
    case FRAME_LOCAL_RECV: do_recv(c, f); break;
    case FRAME_LOCAL_STATUS: do_status(c, f); break;
    default: ok = false;
    }
    frame_free(f);
    return ok;
}

static void on_lwrite(struct ev_loop *loop, ev_io *w, int revents)
{
    struct lconn *c = w->data;
    (void)revents;
    while (c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                return;
            lconn_free(c);
            return;
        }
        c->out_off += (size_t)n;
    }
    c->out_off = c->out_len = 0;
    ev_io_stop(loop, w);
}

/* Process every complete frame in the input buffer. */
static bool drain_input(struct lconn *c)
{
    size_t off = 0;
    while (c->in_len - off >= 4) {
        size_t flen = mix_get_be32(c->in + off);
        if (flen == 0 || flen > LOCAL_MAX_FRAME)
            return false;
        if (c->in_len - off - 4 < flen)
            break;
        if (!handle(c, c->in + off + 4, flen))
            return false;
        off += 4 + flen;
    }
    memmove(c->in, c->in + off, c->in_len - off);
    c->in_len -= off;
    return true;
}

static void on_lread(struct ev_loop *loop, ev_io *w, int revents)
{
    struct lconn *c = w->data;
    (void)loop;
    (void)revents;
    /* Grow up to the announced frame (checked against the limit first). */
    size_t want = 65536;
    if (c->in_len >= 4) {
        size_t flen = mix_get_be32(c->in);
        if (flen == 0 || flen > LOCAL_MAX_FRAME) {
            lconn_free(c);
            return;
        }
        if (flen + 4 > c->in_len + want)
            want = flen + 4 - c->in_len;
    }
    if (c->in_cap - c->in_len < want) {
        uint8_t *n = realloc(c->in, c->in_len + want);
        if (n == NULL) {
            lconn_free(c);
            return;
        }
        c->in = n;
        c->in_cap = c->in_len + want;
    }
    ssize_t n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        lconn_free(c);
        return;
    }
    if (n < 0)
        return;
    c->in_len += (size_t)n;
    if (!drain_input(c))
        lconn_free(c);
}

static void on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
    struct local_srv *s = w->data;
    (void)revents;
    int fd = accept4(s->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0)
        return;
    struct lconn *c = s->n_conns < LOCAL_MAX_CONNS ? calloc(1, sizeof(*c)) : NULL;
    if (c == NULL) {
        close(fd);
        return;
    }
    c->srv = s;
    c->fd = fd;
    c->next = s->conns;
    s->conns = c;
    s->n_conns++;
    ev_io_init(&c->rio, on_lread, fd, EV_READ);
    ev_io_init(&c->wio, on_lwrite, fd, EV_WRITE);
    c->rio.data = c->wio.data = c;
    ev_io_start(loop, &c->rio);
}

/* New messages arrived: readers that follow get them at once. */
static void on_new_message(struct mixclient *mc)
{
    struct local_srv *s = mc->hook_ctx;
    for (struct lconn *c = s->conns; c; c = c->next) {
        if (c->follow) {
            size_t rem;
            (void)mixclient_take(mc, 0, push_msg, c, &rem);
            return; /* taken messages go to the first follower (one reader at a time) */
        }
    }
}

struct local_srv *local_srv_new(struct mixclient *mc, const char *path, char *err, size_t errlen)
{
    struct sockaddr_un sa;
    if (strlen(path) >= sizeof(sa.sun_path)) {
        snprintf(err, errlen, "socket path too long: %s", path);
        return NULL;
    }
    struct local_srv *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->mc = mc;
    strcpy(s->path, path);
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    strcpy(sa.sun_path, path);
    s->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    unlink(path); /* a stale socket from a previous run */
    mode_t old = umask(077);
    int rc = s->fd < 0 ? -1 : bind(s->fd, (struct sockaddr *)&sa, sizeof(sa));
    umask(old);
    if (rc != 0 || listen(s->fd, 16) != 0) {
        snprintf(err, errlen, "socket %s: %s", path, strerror(errno));
        if (s->fd >= 0)
            close(s->fd);
        free(s);
        return NULL;
    }
    ev_io_init(&s->aio, on_accept, s->fd, EV_READ);
    s->aio.data = s;
    ev_io_start(mc->loop, &s->aio);
    mc->on_new_message = on_new_message;
    mc->hook_ctx = s;
    return s;
}

void local_srv_free(struct local_srv *s)
{
    if (s == NULL)
        return;
    while (s->conns)
        lconn_free(s->conns);
    ev_io_stop(s->mc->loop, &s->aio);
    close(s->fd);
    unlink(s->path);
    s->mc->on_new_message = NULL;
    free(s);
}
