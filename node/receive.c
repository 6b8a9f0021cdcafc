/*
 * receive: what mixnode does with its links: who may connect, and the
 * frames each kind of peer may send.
 *
 *   client (LINK_ROLE_CLIENT, gateways only, any key): Sphinx packets
 *     (token-bucket rate limit per link), FetchRequest and FetchAck for the
 *     inbox named by the link's own static key, and nothing else.  What one
 *     client link can make the gateway hold is bounded (docs/abuse.md): a
 *     small output cap, one fetch answer outstanding, a fetch rate, an idle
 *     timeout; at max_clients the longest-idle link makes room for a new one.
 *   node (LINK_ROLE_NODE): only link keys in the current, next or (in grace)
 *     previous document; Sphinx packets only.
 *   authority (links we dial): descriptor upload replies and documents.
 *
 * Any frame that does not decode, or is not allowed for that peer, closes
 * that link only (counted).  No line logged here names a client's address:
 * client lines say nothing about which connection they concern.
 */
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "log.h"
#include "node.h"
#include "payload.h"

bool node_send_frame(struct node *n, struct peer *p, const struct mix_frame *f)
{
    const char *why = NULL;
    size_t len = 0;
    uint8_t *heap = NULL, *buf = n->scratch;
    bool ok;

    if (!frame_encode(f, buf, n->scratch_len, &len, &why)) {
        heap = frame_encode_alloc(f, &len, &why);
        if (!heap) {
            log_debug("cannot encode a %s frame: %s", frame_type_name(f->type), why ? why : "?");
            return false;
        }
        buf = heap;
    }
    ok = n->ops->send(n, p, buf, len);
    free(heap);
    return ok;
}

bool node_link_send(struct node *n, struct peer *p, const uint8_t *frame, size_t len)
{
    (void)n;
    return !p->c || conn_send(p->c, frame, len) == CONN_OK;
}

void send_error(struct node *n, struct peer *p, uint32_t code, const char *reason)
{
    struct mix_frame f;
    memset(&f, 0, sizeof(f));
    f.type = FRAME_ERROR;
    f.u.error.code = code;
    f.u.error.reason = reason;
    (void)node_send_frame(n, p, &f);
}

/*
 * At max_clients: close the client link that has been idle longest, if it
 * has been idle for client_evict_idle.  Legitimate clients send several
 * frames a second, so links held open and silent cannot keep a new client
 * out.  true if a slot was freed.
 */
static bool evict_idle_client(struct node *n)
{
    struct peer *victim = NULL;
    double idlest = 0;
    for (struct peer *q = n->clients; q; q = q->cl_next) {
        double idle = q->c ? conn_idle_seconds(q->c) : 0;
        if (idle > idlest) {
            idlest = idle;
            victim = q;
        }
    }
    if (!victim || idlest * 1e6 < (double)n->conf.client_evict_idle_us)
        return false;
    metric_inc(&n->metrics.clients_evicted);
    conn_close(victim->c); /* cb_close unlinks it and counts it out */
    return true;
}

static void client_link(struct node *n, struct peer *p)
{
    p->cl_prev = NULL;
    p->cl_next = n->clients;
    if (n->clients)
        n->clients->cl_prev = p;
    n->clients = p;
}

static void client_unlink(struct node *n, struct peer *p)
{
    if (p->cl_prev)
        p->cl_prev->cl_next = p->cl_next;
    else if (n->clients == p)
        n->clients = p->cl_next;
    if (p->cl_next)
        p->cl_next->cl_prev = p->cl_prev;
    p->cl_prev = p->cl_next = NULL;
}

void node_client_closed(struct node *n, struct peer *p)
{
    /* A fetch of this link still waiting for the group commit: forget its peer. */
    for (size_t i = 0; p->fetch_waiting && i < n->fetch_q_len; i++)
        if (n->fetch_q[i].p == p)
            n->fetch_q[i].p = NULL;
    for (size_t i = 0; p->fetch_waiting && i < n->fetch_run_len; i++)
        if (n->fetch_run[i].p == p)
            n->fetch_run[i].p = NULL;
    client_unlink(n, p);
    n->n_clients--;
    metric_set(&n->metrics.links_client, n->n_clients);
}

bool node_authorize(struct node *n, struct peer *p, const uint8_t key[static LINK_KEY_LEN],
                    enum link_role role)
{
    if (role == LINK_ROLE_CLIENT) {
        if (!(n->conf.roles & PKI_ROLE_GATEWAY))
            return false;
        if (n->n_clients >= n->conf.max_clients && !evict_idle_client(n)) {
            /* Counted and summed up once a second: a flood must not flood the log. */
            metric_inc(&n->metrics.limit_hits);
            log_debug("client link refused: max_clients (%llu) reached",
                      (unsigned long long)n->conf.max_clients);
            return false;
        }
        /* No inbox yet: a bare handshake leaves nothing durable (client_inbox). */
        payload_inbox_id(p->inbox_id, key);
        p->prefix = p->c ? conn_peer_prefix_hash(p->c) : 0;
        p->kind = PEER_CLIENT;
        p->tokens = (double)n->conf.client_burst;
        p->tokens_at_us = node_now_us();
        p->fetch_tokens = (double)n->conf.fetch_burst;
        p->fetch_at_us = p->tokens_at_us;
        if (p->c) {
            /* Room for one full fetch answer and a few small frames, no more. */
            size_t cap = fetch_response_max(n) + 65536;
            if (cap < n->conf.client_queue_bytes)
                cap = n->conf.client_queue_bytes;
            conn_set_limits(p->c, cap, (double)n->conf.client_idle_us / 1e6);
        }
        client_link(n, p);
        n->n_clients++;
        metric_set(&n->metrics.links_client, n->n_clients);
        return true;
    }
    if (role == LINK_ROLE_NODE) {
        if (!node_dir_knows_link_key(n, key)) {
            log_info("node link refused: its key is not in the directory");
            return false;
        }
        p->kind = PEER_NODE_IN;
        metric_inc(&n->metrics.links_node_in);
        return true;
    }
    return false;
}

/* Token bucket: false when the client is over its packet rate. */
static bool client_take_token(struct node *n, struct peer *p)
{
    uint64_t now = node_now_us();
    p->tokens += (double)(now - p->tokens_at_us) * (double)n->conf.client_rate / 1e6;
    p->tokens_at_us = now;
    if (p->tokens > (double)n->conf.client_burst)
        p->tokens = (double)n->conf.client_burst;
    if (p->tokens < 1.0)
        return false;
    p->tokens -= 1.0;
    return true;
}

static bool client_frame(struct node *n, struct peer *p, const struct mix_frame *f)
{
    switch (f->type) {
    case FRAME_SPHINX_PACKET:
        if (!client_take_token(n, p)) {
            metric_inc(&n->metrics.packets_in[SRC_CLIENT]);
            metric_drop(&n->metrics, DROP_RATE_LIMIT);
            return true;
        }
        node_submit_packet(n, f->u.sphinx.packet.ptr, f->u.sphinx.packet.len, SRC_CLIENT,
                           p->c ? conn_rx_time_us(p->c) : 0);
        return true;
    case FRAME_FETCH_REQUEST: return node_fetch_request(n, p, f);
    case FRAME_FETCH_ACK: return node_fetch_ack(n, p, f);
    default:
        log_debug("client link sent an unexpected %s frame", frame_type_name(f->type));
        return false;
    }
}

bool node_handle_frame(struct node *n, struct peer *p, const uint8_t *frame, size_t len)
{
    struct mix_frame *f = NULL;
    struct frame_buf pkt;
    const char *why = NULL;
    bool ok = true;

    /* The common case, a Sphinx packet in its usual encoding, without the
     * general decoder's allocations and copies (frame.h). */
    if (p->kind != PEER_AUTHORITY && frame_sphinx_view(frame, len, n->conf.max_frame, &pkt)) {
        struct mix_frame sf;
        memset(&sf, 0, sizeof(sf));
        sf.type = FRAME_SPHINX_PACKET;
        sf.u.sphinx.packet = pkt;
        if (p->kind == PEER_CLIENT)
            return client_frame(n, p, &sf);
        node_submit_packet(n, pkt.ptr, pkt.len, SRC_NODE, p->c ? conn_rx_time_us(p->c) : 0);
        return true;
    }
    if (!frame_decode(frame, len, n->conf.max_frame, &f, &why)) {
        log_debug("malformed frame (%s); closing the link", why ? why : "?");
        if (p->kind != PEER_AUTHORITY)
            metric_drop(&n->metrics, DROP_BAD_FRAME);
        return false;
    }
    switch (p->kind) {
    case PEER_CLIENT: ok = client_frame(n, p, f); break;
    case PEER_NODE_IN:
    case PEER_NODE_OUT:
        if (f->type == FRAME_SPHINX_PACKET)
            node_submit_packet(n, f->u.sphinx.packet.ptr, f->u.sphinx.packet.len, SRC_NODE,
                               p->c ? conn_rx_time_us(p->c) : 0);
        else if (f->type != FRAME_ERROR)
            ok = false;
        break;
    case PEER_AUTHORITY: node_dir_on_frame(n, p, f); break;
    }
    frame_free(f);
    return ok;
}

/* ------------------------------------------------------------ conn callbacks */

static bool cb_authorize(struct conn *c, const uint8_t remote_pk[static LINK_KEY_LEN],
                         enum link_role role, void *arg)
{
    struct node *n = arg;
    struct peer *p = calloc(1, sizeof(*p));
    if (!p)
        return false;
    p->c = c;
    if (!node_authorize(n, p, remote_pk, role)) {
        metric_inc(&n->metrics.links_refused);
        free(p);
        return false;
    }
    conn_set_user(c, p);
    return true;
}

static void cb_established(struct conn *c, void *arg)
{
    struct node *n = arg;
    struct peer *p = conn_get_user(c);
    if (!p)
        return;
    p->established = true;
    if (p->kind == PEER_AUTHORITY)
        node_dir_on_established(n, p);
}

static void cb_frame(struct conn *c, const uint8_t *frame, size_t len, void *arg)
{
    struct node *n = arg;
    struct peer *p = conn_get_user(c);
    if (!p) {
        conn_close_bad(c);
        return;
    }
    if (!node_handle_frame(n, p, frame, len)) {
        metric_inc(&n->metrics.bad_frames);
        conn_close_bad(c);
    }
}

static void cb_close(struct conn *c, enum conn_close_reason why, void *arg)
{
    struct node *n = arg;
    struct peer *p = conn_get_user(c);
    if (!p)
        return;
    switch (p->kind) {
    case PEER_CLIENT: node_client_closed(n, p); break;
    case PEER_NODE_IN: atomic_fetch_sub(&n->metrics.links_node_in, 1); break;
    case PEER_NODE_OUT:
        /* A persistent link redials by itself; only our own close ends it. */
        if (why != CONN_CLOSE_LOCAL) {
            p->established = false;
            return;
        }
        conn_set_user(c, NULL);
        node_out_closed(n, p);
        return;
    case PEER_AUTHORITY: node_dir_on_close(n, p); break;
    }
    conn_set_user(c, NULL);
    free(p);
}

const struct conn_callbacks node_conn_callbacks = {
    .authorize = cb_authorize,
    .on_established = cb_established,
    .on_frame = cb_frame,
    .on_close = cb_close,
};
