/*
 * send: the links to next hops.  A packet leaves the mixing queue (mix.c)
 * through send_job(): held until its replay tag is durable, looped back in
 * when this node is its own next hop, else sent as a Sphinx frame on the
 * outbound link to its next hop, dialled on first use (node_out_peer()).
 * Links to nodes no longer in any held document are closed
 * (node_out_prune()).
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "node.h"

/* The outbound link to node id, dialled on first use. */
struct peer *node_out_peer(struct node *n, const uint8_t id[static MIX_NODE_ID_LEN])
{
    for (size_t i = 0; i < n->n_out; i++)
        if (memcmp(n->out[i]->node_id, id, MIX_NODE_ID_LEN) == 0)
            return n->out[i];
    const struct pki_descriptor *d = node_dir_find(n, id);
    if (!d || !n->cm)
        return NULL;
    if (n->n_out == n->cap_out) {
        size_t nc = n->cap_out ? n->cap_out * 2 : 16;
        struct peer **np = realloc(n->out, nc * sizeof(*np));
        if (!np)
            return NULL;
        n->out = np;
        n->cap_out = nc;
    }
    struct peer *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->kind = PEER_NODE_OUT;
    memcpy(p->node_id, id, MIX_NODE_ID_LEN);
    p->c = conn_dial(n->cm, d->address, d->link_key, LINK_ROLE_NODE, true, p);
    if (!p->c) {
        metric_inc(&n->metrics.limit_hits);
        free(p);
        return NULL;
    }
    n->out[n->n_out++] = p;
    metric_set(&n->metrics.links_out, n->n_out);
    return p;
}

void send_job(struct node *n, struct job *j)
{
    /* Its replay tag must be durable before the packet leaves: else a
     * replay after a crash would be forwarded again (replay_journal.c). */
    if (!node_journal_durable(n, j->jseq)) {
        j->next = NULL;
        if (n->held_tail)
            n->held_tail->next = j;
        else
            n->held_head = j;
        n->held_tail = j;
        return;
    }
    if (sodium_memcmp(j->hop, n->node_id, MIX_NODE_ID_LEN) == 0) {
        /* We are our own next hop (a SURB or loop through this node). */
        node_submit_packet(n, j->buf, j->pkt_len, SRC_LOCAL, 0);
        node_job_free(n, j);
        return;
    }
    struct peer *p = n->ops->next_hop(n, j->hop);
    if (!p) {
        metric_drop(&n->metrics, DROP_UNKNOWN_HOP);
        node_job_free(n, j);
        return;
    }
    /* The Sphinx frame encoded directly (frame.h), not through protobuf-c;
     * a packet larger than the scratch buffer takes the general way. */
    size_t flen = 0;
    bool sent;
    if (frame_sphinx_encode(j->buf, j->pkt_len, n->scratch, n->scratch_len, &flen)) {
        sent = n->ops->send(n, p, n->scratch, flen);
    } else {
        struct mix_frame f;
        memset(&f, 0, sizeof(f));
        f.type = FRAME_SPHINX_PACKET;
        f.u.sphinx.packet.ptr = j->buf;
        f.u.sphinx.packet.len = j->pkt_len;
        sent = node_send_frame(n, p, &f);
    }
    if (sent) {
        metric_inc(&n->metrics.packets_out);
        uint64_t now = node_now_us(), due = j->arrival_us + j->delay_us;
        metrics_observe_overhead(&n->metrics, now > due ? (now - due) * 1000 : 0);
    } else {
        metric_drop(&n->metrics, DROP_PEER_QUEUE);
        metric_inc(&n->metrics.limit_hits);
    }
    node_job_free(n, j);
}

void node_out_closed(struct node *n, struct peer *p)
{
    for (size_t i = 0; i < n->n_out; i++) {
        if (n->out[i] == p) {
            n->out[i] = n->out[--n->n_out];
            break;
        }
    }
    metric_set(&n->metrics.links_out, n->n_out);
    free(p);
}

void node_out_prune(struct node *n)
{
    /* Backwards: closing one moves the last entry into its place. */
    for (size_t i = n->n_out; i-- > 0;) {
        struct peer *p = n->out[i];
        if (node_dir_find(n, p->node_id))
            continue;
        /* Detach first so on_close does not free p behind our back. */
        if (p->c) {
            conn_set_user(p->c, NULL);
            conn_close(p->c);
        }
        node_out_closed(n, p);
    }
}
