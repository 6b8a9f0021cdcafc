/*
 * cover: mix loop cover.  Loop cover packets are new packets: they leave
 * at once, at the Poisson rate lambda_M, over a full path (entry gateway,
 * one mix per layer) that ends at this node, which recognises them by the
 * plaintext it put in (deliver.c) and counts them per first hop.  The I/O
 * thread picks the path (send_loop()); a crypto worker builds the packet
 * (node_build_loop()).
 */
#include <math.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "node.h"

#define NODE_LOOP_MAGIC "mixnet-mixloop-v1"

/*
 * One loop cover packet over a path back to us that uses only the links, in
 * the directions, that real packets use (gateway -> layer 1 -> ... -> layer L
 * -> gateway): from a layer-i mix, one mix of each layer i+1..L, a provider,
 * one mix of each layer 1..i-1, then this mix; from a gateway, one mix of
 * each layer then this gateway.  The I/O thread picks
 * the path and delays (it owns the document); a crypto worker builds the
 * packet, which costs several X25519 operations per hop and would otherwise
 * hold up every packet waiting on the I/O thread.  The job carries the hops
 * and the plaintext in its output half.
 */
struct loop_build {
    struct sphinx_hop hops[SPHINX_MAX_HOPS_LIMIT];
    uint8_t plain[sizeof(NODE_LOOP_MAGIC) - 1 + MIX_NODE_ID_LEN];
};

int node_loop_path(const struct pki_doc *doc, const struct mix_rng *rng,
                   const uint8_t self_id[static MIX_NODE_ID_LEN], const struct pki_descriptor **out,
                   size_t cap)
{
    const struct pki_descriptor *self = pki_doc_find(doc, self_id);
    uint32_t layers = pki_doc_params(doc)->layers;
    if (self == NULL || cap < (size_t)layers + 1)
        return -1;
    /* A gateway is "layer 0": its loop is L1..L_L then itself. */
    uint32_t mine = (self->roles & PKI_ROLE_MIX) ? self->layer : 0;
    if (mine > layers)
        return -1;
    size_t h = 0;
    for (uint32_t l = mine + 1; l <= layers; l++) {
        size_t k = pki_doc_layer_count(doc, l);
        if (k == 0)
            return -1;
        out[h++] = pki_doc_layer_node(doc, l, mix_rng_below(rng, k));
    }
    if (mine > 0) {
        size_t k = pki_doc_provider_count(doc);
        if (k == 0)
            return -1;
        out[h++] = pki_doc_provider(doc, mix_rng_below(rng, k));
        for (uint32_t l = 1; l < mine; l++) {
            size_t m = pki_doc_layer_count(doc, l);
            if (m == 0)
                return -1;
            out[h++] = pki_doc_layer_node(doc, l, mix_rng_below(rng, m));
        }
    }
    out[h++] = self;
    return (int)h;
}

static void send_loop(struct node *n)
{
    const struct pki_descriptor *path[PKI_MAX_LAYERS + 2];
    struct loop_build lb;
    struct pki_doc *doc = n->doc_cur;

    if (!doc || !n->keys.have_geom)
        return;
    const struct pki_params *pp = pki_doc_params(doc);
    uint64_t e = pki_doc_epoch(doc);
    int h = node_loop_path(doc, &n->rng, n->node_id, path, MIX_ARRAY_LEN(path));
    if (h < 2 || (uint32_t)h > n->keys.geom.max_hops || h > SPHINX_MAX_HOPS_LIMIT)
        return;
    /* The last hop is this node: the loop is delivered to ourselves. */
    const uint8_t *self_key = pki_doc_sphinx_key(doc, n->node_id, e);
    if (!self_key)
        return;
    memset(&lb, 0, sizeof(lb));
    for (int i = 0; i < h; i++) {
        const uint8_t *id = i == h - 1 ? n->node_id : path[i]->id;
        const uint8_t *k = i == h - 1 ? self_key : pki_doc_sphinx_key(doc, id, e);
        if (!k)
            return;
        memcpy(lb.hops[i].node_id, id, MIX_NODE_ID_LEN);
        memcpy(lb.hops[i].public_key, k, SPHINX_KEY_LEN);
        double d = mix_rng_exp(&n->rng, (double)pp->mean_delay_us);
        lb.hops[i].delay_us =
            d > (double)pp->max_delay_us ? (uint32_t)pp->max_delay_us : (uint32_t)d;
    }
    size_t ml = sizeof(NODE_LOOP_MAGIC) - 1;
    memcpy(lb.plain, NODE_LOOP_MAGIC, ml);
    memcpy(lb.plain + ml, path[0]->id, MIX_NODE_ID_LEN);
    size_t plen = sphinx_packet_len(&n->keys.geom);
    if (plen < sizeof(lb))
        return;
    struct job *j = node_job_alloc(n, plen);
    if (!j)
        return;
    j->src = SRC_LOCAL;
    j->arrival_us = node_now_us();
    j->build_hops = (uint8_t)h;
    j->direct = true;
    memcpy(j->hop, path[0]->id, MIX_NODE_ID_LEN);
    memcpy(j->data + plen, &lb, sizeof(lb));
    metrics_loop_sent(&n->metrics, path[0]->id);
    node_queue_job(n, j);
}

void node_build_loop(struct node *n, struct job *j)
{
    struct loop_build lb;
    struct sphinx_geometry g;
    struct mix_rng rng = mix_rng_system();

    memcpy(&lb, j->data + j->pkt_len, sizeof(lb));
    pthread_rwlock_rdlock(&n->keys.lock);
    g = n->keys.geom;
    pthread_rwlock_unlock(&n->keys.lock);
    j->kind = JOB_DROP;
    /* The geometry may have changed since the path was chosen: then drop it. */
    if (sphinx_packet_len(&g) != j->pkt_len || j->build_hops > g.max_hops ||
        sphinx_create(&g, &rng, lb.hops, j->build_hops, n->node_id, lb.plain, sizeof(lb.plain),
                      j->data) != SPHINX_OK)
        return;
    sodium_memzero(j->data + j->pkt_len, j->pkt_len);
    j->kind = JOB_FORWARD;
    j->buf = j->data;
    j->delay_us = 0;
}

static void loop_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct node *n = w->data;
    (void)loop;
    (void)revents;
    if (n->conf.mix_loops && n->doc_cur && pki_doc_params(n->doc_cur)->lambda_m_mhz)
        send_loop(n);
    node_loop_schedule(n);
}

void node_loop_schedule(struct node *n)
{
    n->ops->schedule_loop(n);
}

void node_loop_arm(struct node *n)
{
    double after = 1.0; /* look again later when loops are off or no document yet */
    if (n->conf.mix_loops && n->doc_cur) {
        uint64_t mhz = pki_doc_params(n->doc_cur)->lambda_m_mhz;
        if (mhz)
            after = mix_rng_exp(&n->rng, 1000.0 / (double)mhz);
    }
    ev_timer_stop(n->loop, &n->loop_timer);
    ev_timer_init(&n->loop_timer, loop_timer_cb, after, 0.);
    n->loop_timer.data = n;
    ev_timer_start(n->loop, &n->loop_timer);
}
