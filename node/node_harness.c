/*
 * node_harness: an in-process node without sockets or threads, for the unit
 * tests and the fuzz target.  It runs the daemon's real frame handler,
 * packet pipeline (unwrap, exit, inbox, SURB-ack, mixing queue) through
 * the harness's operations table (struct node_ops): jobs run synchronously,
 * frames that would go on a link are only encoded (the last one is kept for
 * inspection), the clock reads 0 (no document age checks), and there are no
 * timers and no saved files.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "node.h"
#include "node_harness.h"

/* The node and what the harness's operations keep beside it. */
struct harness {
    struct node n;   /* first: a struct node * is a struct harness * */
    struct peer out; /* every next hop: a link-less PEER_NODE_OUT */
    uint8_t *sent;   /* the last frame "sent" */
    size_t sent_len;
};

static struct harness *harness_of(const struct node *n)
{
    return (struct harness *)(void *)n;
}

static uint64_t h_wall_s(void)
{
    return 0;
}

static struct peer *h_next_hop(struct node *n, const uint8_t hop[static MIX_NODE_ID_LEN])
{
    struct harness *h = harness_of(n);
    memset(&h->out, 0, sizeof(h->out));
    h->out.kind = PEER_NODE_OUT;
    memcpy(h->out.node_id, hop, MIX_NODE_ID_LEN);
    return &h->out;
}

static bool h_send(struct node *n, struct peer *p, const uint8_t *frame, size_t len)
{
    struct harness *h = harness_of(n);
    (void)p;
    free(h->sent);
    h->sent = malloc(len);
    if (h->sent)
        memcpy(h->sent, frame, len);
    h->sent_len = h->sent ? len : 0;
    return true;
}

static void h_nothing(struct node *n)
{
    (void)n;
}

static void h_save_doc(struct node *n, const uint8_t *doc, size_t len)
{
    (void)n;
    (void)doc;
    (void)len;
}

static const struct node_ops harness_ops = {
    .wall_s = h_wall_s,
    .next_hop = h_next_hop,
    .send = h_send,
    .queue = node_run_job_now,
    .arm_mixq = h_nothing,
    .schedule_loop = h_nothing,
    .dir_tick = h_nothing,
    .save_doc = h_save_doc,
};

struct node *node_harness_new(const char *dir, const uint8_t sphinx_sk[static SPHINX_KEY_LEN])
{
    struct harness *h = calloc(1, sizeof(*h));
    struct node *n = h ? &h->n : NULL;
    char err[256], ibox[600];
    struct pki_params p;

    if (!n)
        return NULL;
    n->ops = &harness_ops;
    n->mq_tfd = -1;
    n->rng = mix_rng_system();
    snprintf(n->conf.data_dir, sizeof(n->conf.data_dir), "%s", dir);
    n->conf.roles = PKI_ROLE_GATEWAY | PKI_ROLE_PROVIDER;
    n->conf.max_frame = 1 << 20;
    n->conf.total_queue = 1000;
    n->conf.work_queue = 1000;
    n->conf.max_clients = 100;
    n->conf.client_rate = 1000000;
    n->conf.client_burst = 1000000;
    n->conf.max_delay_us = 1000000;
    n->conf.fetch_max = 16;
    n->conf.fetch_rate = 1000000;
    n->conf.create_per_min = n->conf.create_burst = 1000000;
    n->conf.create_per_min_prefix = n->conf.create_burst_prefix = 1000000;
    n->conf.fetch_burst = 1000000;
    n->conf.replay_capacity = 4096;
    n->conf.n_auth = 1;
    n->conf.threshold = 1;
    inbox_limits_default(&n->conf.inbox);
    n->conf.inbox.max_per_inbox = 8;
    n->conf.inbox.map_size = 16u << 20;
    node_keys_init(&n->keys);
    n->id_sk = sodium_malloc(64);
    n->link_sk = sodium_malloc(32);
    if (!n->id_sk || !n->link_sk)
        goto fail;
    crypto_sign_keypair(n->id_pk, n->id_sk);
    pki_node_id(n->id_pk, n->node_id);
    randombytes_buf(n->link_sk, 32);
    crypto_scalarmult_base(n->link_pk, n->link_sk);
    snprintf(ibox, sizeof(ibox), "%s/inbox", dir);
    if (!(n->inbox = inbox_open(ibox, &n->conf.inbox, err, sizeof(err))))
        goto fail;
    /* One Sphinx key, epoch 1, held in memory only. */
    struct node_key_slot *s = &n->keys.slot[0];
    s->sk = sodium_malloc(SPHINX_KEY_LEN);
    if (!s->sk)
        goto fail;
    memcpy(s->sk, sphinx_sk, SPHINX_KEY_LEN);
    sphinx_public_key(s->sk, s->pk);
    s->replay = replay_cache_new(n->conf.replay_capacity, NULL);
    if (!s->replay)
        goto fail;
    s->epoch = 1;
    n->keys.cur_epoch = 1;
    n->keys.geom = sphinx_geometry_default();
    n->keys.have_geom = true;
    n->scratch_len = sphinx_packet_len(&n->keys.geom) + 64;
    n->scratch = malloc(n->scratch_len);
    memset(&p, 0, sizeof(p));
    p.strategy = PKI_STRATEGY_POISSON;
    p.max_delay_us = 1000000;
    if (!n->scratch || node_mixq_setup(n, &p) < 0)
        goto fail;
    return n;
fail:
    node_harness_free(n);
    return NULL;
}

void node_harness_free(struct node *n)
{
    if (!n)
        return;
    node_fwd_stop(n);
    node_job_pool_free(n);
    inbox_close(n->inbox);
    node_keys_free(n);
    free(n->scratch);
    free(harness_of(n)->sent);
    free(harness_of(n));
}

const uint8_t *node_harness_id(const struct node *n)
{
    return n->node_id;
}

struct node_metrics *node_harness_metrics(struct node *n)
{
    return &n->metrics;
}

struct inbox_store *node_harness_inbox(struct node *n)
{
    return n->inbox;
}

const uint8_t *node_harness_last_sent(const struct node *n, size_t *len)
{
    *len = harness_of(n)->sent_len;
    return harness_of(n)->sent;
}

struct peer *node_harness_peer(struct node *n, int kind, const uint8_t client_pk[static 32])
{
    struct peer *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    if (kind == PEER_CLIENT) {
        if (!node_authorize(n, p, client_pk, LINK_ROLE_CLIENT)) {
            free(p);
            return NULL;
        }
    } else {
        p->kind = (enum peer_kind)kind;
    }
    return p;
}

void node_harness_peer_free(struct node *n, struct peer *p)
{
    if (p && p->kind == PEER_CLIENT)
        node_client_closed(n, p);
    free(p);
}
