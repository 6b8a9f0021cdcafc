/*
 * Unit tests for mixnode's pieces: configuration checking, metrics text,
 * and the real packet pipeline run in-process (node_harness): delivery into
 * the inbox with a SURB-ack after the commit, replay, corruption, drop cover,
 * forwarding, fetch and ack over the frame handler, bad frames.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "frame.h"
#include "inbox.h"
#include "keyfile.h"
#include "node.h"
#include "node_conf.h"
#include "node_harness.h"
#include "node_metrics.h"
#include "payload.h"
#include "sphinx.h"
#include "tap.h"

static const char *good_conf(void)
{
    static char buf[1024];
    uint8_t k[32];
    char b1[KEY_B64_MAX], b2[KEY_B64_MAX];
    memset(k, 5, 32);
    key_to_b64(k, 32, b1);
    memset(k, 6, 32);
    key_to_b64(k, 32, b2);
    snprintf(buf, sizeof(buf),
             "[node]\ndata_dir = /tmp/x\nlisten = 127.0.0.1:7000\nroles = gateway,provider\n"
             "[directory]\nauthority = 127.0.0.1:7100 %s %s\nepoch_length = 60\n"
             "[limits]\nclient_rate = 50\n[inbox]\nexpiry = 2h\n",
             b1, b2);
    return buf;
}

static void test_conf(void)
{
    struct node_conf c;
    char err[256], text[1200];
    uint32_t r;

    CHECKF(node_conf_parse_string(good_conf(), &c, err, sizeof(err)) == 0, "%s", err);
    CHECK(c.roles == (PKI_ROLE_GATEWAY | PKI_ROLE_PROVIDER) && c.layer == 0);
    CHECK(c.n_auth == 1 && c.threshold == 1);
    /* Stated timing is only what the operator expects (the document's rules). */
    CHECK(c.timing.epoch_len == 60 && c.expect == NODE_EXPECT_EPOCH_LEN);
    CHECK(c.client_rate == 50 && c.inbox.max_age_s == 7200);
    CHECK(strcmp(c.address, "127.0.0.1:7000") == 0);

    snprintf(text, sizeof(text), "%s[limits]\ncolour = blue\n", good_conf());
    CHECK(node_conf_parse_string(text, &c, err, sizeof(err)) < 0);
    CHECK(strstr(err, "colour") != NULL);
    snprintf(text, sizeof(text), "%s", good_conf());
    char *p = strstr(text, "gateway,provider");
    memcpy(p, "mix             ", 16);
    CHECK(node_conf_parse_string(text, &c, err, sizeof(err)) < 0); /* a mix needs a layer */
    CHECK(strstr(err, "layer") != NULL);
    snprintf(text, sizeof(text), "%s", good_conf());
    p = strstr(text, "authority = ");
    p[30] = '!'; /* inside the Ed25519 key */
    CHECK(node_conf_parse_string(text, &c, err, sizeof(err)) < 0);
    CHECK(node_parse_roles("mix", &r) && r == PKI_ROLE_MIX);
    CHECK(!node_parse_roles("gateway,mix", &r));
    CHECK(!node_parse_roles("router", &r));
    CHECK(!node_parse_roles("", &r));
}

static void test_metrics_text(void)
{
    struct node_metrics *m = calloc(1, sizeof(*m));
    uint8_t id[32];
    size_t len;

    metrics_init(m);
    metric_drop(m, DROP_REPLAY);
    metrics_observe_unwrap(m, 60000);
    metrics_observe_unwrap(m, 200000000);
    memset(id, 0xab, 32);
    metrics_loop_sent(m, id);
    metrics_loop_returned(m, id);
    char *t = metrics_render(m, &len);
    CHECK(t != NULL && strlen(t) == len);
    CHECK(strstr(t, "mixnode_packets_dropped_total{reason=\"replay\"} 1\n") != NULL);
    CHECK(strstr(t, "mixnode_unwrap_seconds_bucket{le=\"7.5e-05\"} 1\n") != NULL);
    CHECK(strstr(t, "mixnode_unwrap_seconds_bucket{le=\"+Inf\"} 2\n") != NULL);
    CHECK(strstr(t, "mixnode_unwrap_seconds_count 2\n") != NULL);
    /* Node ids in base64url everywhere, as in logs and documents. */
    CHECK(strstr(t, "mixnode_loops_returned_by_hop_total{next_hop="
                    "\"q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s\"} 1") != NULL);
    CHECK(strstr(t, "# TYPE mixnode_queue_depth gauge") != NULL);
    free(t);
    free(m);
}

/* ------------------------------------------------------------ pipeline */

struct pipe_env {
    struct node *n;
    uint8_t sk[32], pk[32];   /* the node's Sphinx key */
    uint8_t csk[32], cpk[32]; /* a client's key */
    uint8_t inbox[32];
    struct sphinx_geometry g;
    struct peer *client;
    struct peer *node; /* a node link (packets that exit here come this way) */
    char dir[128];
};

static uint64_t mval(struct pipe_env *e, const char *line)
{
    size_t len;
    char *t = metrics_render(node_harness_metrics(e->n), &len);
    char key[200];
    snprintf(key, sizeof(key), "\n%s", line);
    char *p = t ? strstr(t, key) : NULL;
    uint64_t v = p ? strtoull(p + strlen(key), NULL, 10) : 999999;
    free(t);
    return v;
}

/* A 1-hop (or 2-hop via `next`) packet through this node to `recipient`. */
static void make_packet(struct pipe_env *e, const uint8_t *recipient, const uint8_t *next_id,
                        const char *body, bool with_ack, uint8_t *pkt)
{
    struct sphinx_hop hops[2];
    struct mix_rng rng = mix_rng_system();
    uint8_t *plain = calloc(1, sphinx_plaintext_len(&e->g));
    uint8_t *surb = NULL, keys[SPHINX_SURB_KEYS_LEN], sid[16];
    size_t surb_len = 0, nh = 1;

    memcpy(hops[0].node_id, node_harness_id(e->n), 32);
    memcpy(hops[0].public_key, e->pk, 32);
    hops[0].delay_us = 0;
    if (next_id) {
        uint8_t osk[32];
        memcpy(hops[1].node_id, next_id, 32);
        sphinx_keygen(&rng, osk, hops[1].public_key);
        hops[1].delay_us = 0;
        nh = 2;
    }
    if (with_ack) {
        struct sphinx_hop sh;
        uint8_t osk[32];
        memset(sh.node_id, 0x42, 32);
        sphinx_keygen(&rng, osk, sh.public_key);
        sh.delay_us = 0;
        randombytes_buf(sid, 16);
        surb_len = sphinx_surb_len(&e->g);
        surb = malloc(surb_len);
        CHECK(sphinx_surb_create(&e->g, &rng, &sh, 1, e->inbox, sid, surb, keys) == SPHINX_OK);
    }
    CHECK(payload_build(plain, sphinx_plaintext_len(&e->g), surb, surb_len, (const uint8_t *)body,
                        strlen(body)) == PAYLOAD_OK);
    CHECK(sphinx_create(&e->g, &rng, hops, nh, recipient, plain, sphinx_plaintext_len(&e->g),
                        pkt) == SPHINX_OK);
    free(plain);
    free(surb);
}

static bool feed_packet(struct pipe_env *e, struct peer *p, const uint8_t *pkt, size_t len)
{
    struct mix_frame f;
    uint8_t *enc;
    size_t elen;
    memset(&f, 0, sizeof(f));
    f.type = FRAME_SPHINX_PACKET;
    f.u.sphinx.packet.ptr = pkt;
    f.u.sphinx.packet.len = len;
    enc = frame_encode_alloc(&f, &elen, NULL);
    bool ok = enc && node_handle_frame(e->n, p, enc, elen);
    free(enc);
    return ok;
}

static bool pipe_setup(struct pipe_env *e)
{
    struct mix_rng rng = mix_rng_system();
    memset(e, 0, sizeof(*e));
    snprintf(e->dir, sizeof(e->dir), "/tmp/test_node_parts.%d", (int)getpid());
    if (mkdir(e->dir, 0700) < 0)
        return false;
    sphinx_keygen(&rng, e->sk, e->pk);
    e->n = node_harness_new(e->dir, e->sk);
    if (!e->n)
        return false;
    e->g = sphinx_geometry_default();
    randombytes_buf(e->csk, 32);
    crypto_scalarmult_base(e->cpk, e->csk);
    payload_inbox_id(e->inbox, e->cpk);
    e->client = node_harness_peer(e->n, HARNESS_PEER_CLIENT, e->cpk);
    e->node = node_harness_peer(e->n, HARNESS_PEER_NODE, e->cpk);
    if (e->client == NULL || e->node == NULL)
        return false;
    /* The handshake creates no inbox: the client's first fetch does. */
    struct mix_frame req;
    uint8_t *enc;
    size_t elen;
    memset(&req, 0, sizeof(req));
    req.type = FRAME_FETCH_REQUEST;
    CHECK(inbox_count(node_harness_inbox(e->n), e->inbox) == 0 &&
          mval(e, "mixnode_inboxes_created_total ") == 0);
    enc = frame_encode_alloc(&req, &elen, NULL);
    bool ok = enc && node_handle_frame(e->n, e->client, enc, elen);
    free(enc);
    CHECK(mval(e, "mixnode_inboxes_created_total ") == 1);
    return ok;
}

static void pipe_teardown(struct pipe_env *e)
{
    char cmd[200];
    node_harness_peer_free(e->n, e->client);
    node_harness_peer_free(e->n, e->node);
    node_harness_free(e->n);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", e->dir);
    if (system(cmd) != 0)
        printf("# rm failed\n");
}

static void test_pipeline_deliver(void)
{
    struct pipe_env e;
    struct sphinx_geometry dg = sphinx_geometry_default();
    size_t plen = sphinx_packet_len(&dg);
    uint8_t *pkt = malloc(plen);
    uint8_t zero[32] = { 0 };

    CHECK(pipe_setup(&e));
    /* From a client link, a packet that exits here (or goes on to anything
     * but a layer-1 mix) is dropped: the inbox stays empty. */
    make_packet(&e, e.inbox, NULL, "straight in", false, pkt);
    CHECK(feed_packet(&e, e.client, pkt, plen));
    CHECK(mval(&e, "mixnode_packets_dropped_total{reason=\"client_next_hop\"} ") == 1);
    CHECK(inbox_count(node_harness_inbox(e.n), e.inbox) == 0);
    /* Delivery: stored, then the SURB-ack goes out (to the SURB's first hop). */
    make_packet(&e, e.inbox, NULL, "hello inbox", true, pkt);
    CHECK(feed_packet(&e, e.node, pkt, plen));
    CHECK(inbox_count(node_harness_inbox(e.n), e.inbox) == 1);
    CHECK(mval(&e, "mixnode_delivered_total ") == 1);
    CHECK(mval(&e, "mixnode_acks_sent_total ") == 1);
    CHECK(mval(&e, "mixnode_packets_out_total ") == 1);
    size_t sl;
    const uint8_t *sent = node_harness_last_sent(e.n, &sl);
    struct mix_frame *f = NULL;
    CHECK(sent && frame_decode(sent, sl, 1 << 20, &f, NULL) && f->type == FRAME_SPHINX_PACKET &&
          f->u.sphinx.packet.len == plen);
    frame_free(f);
    /* The same packet again: a replay. */
    CHECK(feed_packet(&e, e.node, pkt, plen));
    CHECK(mval(&e, "mixnode_packets_dropped_total{reason=\"replay\"} ") == 1);
    CHECK(mval(&e, "mixnode_replay_hits_total ") == 1);
    CHECK(inbox_count(node_harness_inbox(e.n), e.inbox) == 1);
    /* A header bit flipped: bad MAC.  A payload byte flipped: bad integrity. */
    make_packet(&e, e.inbox, NULL, "x", false, pkt);
    pkt[40] ^= 1;
    CHECK(feed_packet(&e, e.node, pkt, plen));
    CHECK(mval(&e, "mixnode_packets_dropped_total{reason=\"bad_mac\"} ") == 1);
    make_packet(&e, e.inbox, NULL, "x", false, pkt);
    pkt[plen - 5] ^= 1;
    CHECK(feed_packet(&e, e.node, pkt, plen));
    CHECK(mval(&e, "mixnode_packets_dropped_total{reason=\"bad_integrity\"} ") == 1);
    /* Drop cover: counted and discarded. */
    make_packet(&e, zero, NULL, "cover", false, pkt);
    CHECK(feed_packet(&e, e.node, pkt, plen));
    CHECK(mval(&e, "mixnode_drop_cover_total ") == 1);
    CHECK(mval(&e, "mixnode_packets_out_total ") == 1);
    /* Drop cover with a SURB-ack (payload stream): nothing stored, the ack goes out. */
    make_packet(&e, zero, NULL, "cover", true, pkt);
    CHECK(feed_packet(&e, e.node, pkt, plen));
    CHECK(mval(&e, "mixnode_drop_cover_total ") == 2);
    CHECK(mval(&e, "mixnode_cover_acks_sent_total ") == 1);
    CHECK(mval(&e, "mixnode_acks_sent_total ") == 2);
    CHECK(mval(&e, "mixnode_packets_out_total ") == 2);
    CHECK(inbox_count(node_harness_inbox(e.n), e.inbox) == 1);
    /* Forward: a 2-hop packet leaves for the next hop. */
    uint8_t next[32];
    memset(next, 0x77, 32);
    make_packet(&e, e.inbox, next, "fwd", false, pkt);
    CHECK(feed_packet(&e, e.node, pkt, plen));
    CHECK(mval(&e, "mixnode_packets_out_total ") == 3);
    /* Wrong length. */
    CHECK(feed_packet(&e, e.node, pkt, plen - 1));
    CHECK(mval(&e, "mixnode_packets_dropped_total{reason=\"bad_length\"} ") == 1);
    CHECK(inbox_count(node_harness_inbox(e.n), e.inbox) == 1);
    pipe_teardown(&e);
    free(pkt);
}

/*
 * A SURB-ack whose SURB starts at this gateway (as clients build them) is
 * held for the delay the SURB's creator chose for that first hop, like any
 * hop's, then leaves for the SURB's second hop (client.md "Payload envelope").
 */
static void test_surb_ack_delay(void)
{
    struct pipe_env e;
    struct sphinx_geometry g = sphinx_geometry_default();
    struct mix_rng rng = mix_rng_system();
    size_t plen = sphinx_packet_len(&g);
    uint8_t *pkt = malloc(plen), *plain = calloc(1, sphinx_plaintext_len(&g));
    uint8_t *surb = malloc(sphinx_surb_len(&g)), keys[SPHINX_SURB_KEYS_LEN], sid[16], osk[32];
    const uint32_t hold_us = 300000;

    CHECK(pipe_setup(&e));
    struct sphinx_hop self = { .delay_us = 0 }, sh[2];
    memcpy(self.node_id, node_harness_id(e.n), 32);
    memcpy(self.public_key, e.pk, 32);
    sh[0] = self;
    sh[0].delay_us = hold_us;
    memset(sh[1].node_id, 0x42, 32);
    sphinx_keygen(&rng, osk, sh[1].public_key);
    sh[1].delay_us = 0;
    randombytes_buf(sid, 16);
    CHECK(sphinx_surb_create(&g, &rng, sh, 2, e.inbox, sid, surb, keys) == SPHINX_OK);
    CHECK(payload_build(plain, sphinx_plaintext_len(&g), surb, sphinx_surb_len(&g),
                        (const uint8_t *)"held", 4) == PAYLOAD_OK);
    CHECK(sphinx_create(&g, &rng, &self, 1, e.inbox, plain, sphinx_plaintext_len(&g), pkt) ==
          SPHINX_OK);
    uint64_t t0 = node_now_us();
    CHECK(feed_packet(&e, e.node, pkt, plen));
    CHECK(inbox_count(node_harness_inbox(e.n), e.inbox) == 1);
    CHECK(mval(&e, "mixnode_acks_sent_total ") == 1);
    /* Not sent at once: held in the mixing queue. */
    CHECK(mval(&e, "mixnode_packets_out_total ") == 0);
    CHECK(mval(&e, "mixnode_queue_depth ") == 1);
    while (mval(&e, "mixnode_packets_out_total ") == 0 && node_now_us() < t0 + 5000000) {
        usleep(10000);
        node_mixq_run(e.n);
    }
    uint64_t held = node_now_us() - t0;
    CHECKF(mval(&e, "mixnode_packets_out_total ") == 1 && held >= hold_us,
           "ack out after %llu us, chosen hold %u us", (unsigned long long)held, hold_us);
    pipe_teardown(&e);
    free(pkt);
    free(plain);
    free(surb);
}

/* Layer of a descriptor for link kinds: 0 = gateway, 1..L = mix layer. */
static uint32_t lay(const struct pki_descriptor *d)
{
    return (d->roles & PKI_ROLE_MIX) ? d->layer : 0;
}

/* A link real packets use: gateway -> layer 1, layer k -> k+1, layer L -> gateway. */
static bool real_link(uint32_t from, uint32_t to, uint32_t layers)
{
    return (from == 0 && to == 1) || (from >= 1 && from < layers && to == from + 1) ||
           (from == layers && to == 0);
}

/*
 * Mix loop cover uses only the links, in the directions, that real packets
 * use: for every node of a 3-layer network, every hop of 200 random loops.
 */
static void test_loop_paths(void)
{
    struct pki_params p;
    struct mix_rng rng = mix_rng_system();
    memset(&p, 0, sizeof(p));
    p.epoch = 1;
    p.timing.genesis = 1000;
    p.timing.epoch_len = 3600;
    p.timing.grace = 60;
    p.max_hops = 5;
    p.payload_len = 2048;
    p.layers = 3;
    p.mean_delay_us = 50000;
    p.max_delay_us = 500000;
    p.lambda_p_mhz = p.lambda_l_mhz = p.lambda_d_mhz = p.lambda_m_mhz = 1000;
    struct pki_doc *doc = pki_doc_new(&p);
    CHECK(doc != NULL);
    if (doc == NULL)
        return;
    uint8_t ids[8][32];
    for (int i = 0; i < 8; i++) {
        struct pki_descriptor d;
        uint8_t esk[64], ssk[32];
        memset(&d, 0, sizeof(d));
        crypto_sign_keypair(d.identity_key, esk);
        pki_node_id(d.identity_key, d.id);
        randombytes_buf(d.link_key, 32);
        d.roles = i < 2 ? (PKI_ROLE_GATEWAY | PKI_ROLE_PROVIDER) : PKI_ROLE_MIX;
        d.layer = i < 2 ? 0 : (uint32_t)(1 + (i - 2) / 2);
        snprintf(d.address, sizeof(d.address), "127.0.0.1:%d", 20000 + i);
        d.n_sphinx_keys = 1;
        d.sphinx_keys[0].epoch = 1;
        sphinx_keygen(&rng, ssk, d.sphinx_keys[0].key);
        CHECK(pki_doc_add(doc, &d) == PKI_OK);
        memcpy(ids[i], d.id, 32);
    }
    int bad = 0;
    for (int i = 0; i < 8; i++) {
        const struct pki_descriptor *self = pki_doc_find(doc, ids[i]);
        for (int t = 0; t < 200; t++) {
            const struct pki_descriptor *path[8];
            int h = node_loop_path(doc, &rng, ids[i], path, 8);
            /* 3 layers: a mix visits the 2 other layers and a gateway, a gateway 3 layers. */
            if (h != 4 || path[h - 1] != self) {
                bad++;
                continue;
            }
            uint32_t from = lay(self);
            for (int k = 0; k < h; k++) {
                if (!real_link(from, lay(path[k]), 3))
                    bad++;
                from = lay(path[k]);
            }
        }
    }
    CHECKF(bad == 0, "%d loop hops on links real packets never use", bad);
    const struct pki_descriptor *few[2];
    CHECK(node_loop_path(doc, &rng, ids[3], few, 2) == -1);
    pki_doc_free(doc);
}

static void test_pipeline_fetch(void)
{
    struct pipe_env e;
    struct mix_frame req, *resp = NULL;
    struct sphinx_geometry dg = sphinx_geometry_default();
    size_t elen, sl, plen = sphinx_packet_len(&dg);
    uint8_t *enc, *pkt = malloc(plen);

    CHECK(pipe_setup(&e));
    make_packet(&e, e.inbox, NULL, "fetch me", false, pkt);
    CHECK(feed_packet(&e, e.node, pkt, plen));
    memset(&req, 0, sizeof(req));
    req.type = FRAME_FETCH_REQUEST;
    enc = frame_encode_alloc(&req, &elen, NULL);
    CHECK(node_handle_frame(e.n, e.client, enc, elen));
    free(enc);
    const uint8_t *sent = node_harness_last_sent(e.n, &sl);
    CHECK(sent && frame_decode(sent, sl, 1 << 20, &resp, NULL));
    CHECK(resp && resp->type == FRAME_FETCH_RESPONSE && resp->u.fetch_resp.n_msgs == 1);
    if (resp && resp->type == FRAME_FETCH_RESPONSE && resp->u.fetch_resp.n_msgs == 1) {
        const struct frame_inbox_msg *m = &resp->u.fetch_resp.msgs[0];
        CHECK(m->payload.len == 8 && memcmp(m->payload.ptr, "fetch me", 8) == 0);
        struct mix_frame ack;
        memset(&ack, 0, sizeof(ack));
        ack.type = FRAME_FETCH_ACK;
        ack.u.fetch_ack.seqs = &m->seq;
        ack.u.fetch_ack.n_seqs = 1;
        enc = frame_encode_alloc(&ack, &elen, NULL);
        CHECK(node_handle_frame(e.n, e.client, enc, elen));
        free(enc);
    }
    frame_free(resp);
    CHECK(inbox_count(node_harness_inbox(e.n), e.inbox) == 0);
    CHECK(mval(&e, "mixnode_acked_messages_total ") == 1);
    /* Another client's link sees only its own (empty) inbox. */
    uint8_t other[32];
    randombytes_buf(other, 32);
    struct peer *p2 = node_harness_peer(e.n, HARNESS_PEER_CLIENT, other);
    make_packet(&e, e.inbox, NULL, "not yours", false, pkt);
    CHECK(feed_packet(&e, e.node, pkt, plen));
    enc = frame_encode_alloc(&req, &elen, NULL);
    CHECK(node_handle_frame(e.n, p2, enc, elen));
    sent = node_harness_last_sent(e.n, &sl);
    resp = NULL;
    CHECK(sent && frame_decode(sent, sl, 1 << 20, &resp, NULL) && resp->u.fetch_resp.n_msgs == 0);
    frame_free(resp);
    /* A node link may not fetch; garbage closes any link. */
    struct peer *np = node_harness_peer(e.n, HARNESS_PEER_NODE, other);
    CHECK(!node_handle_frame(e.n, np, enc, elen));
    free(enc);
    static const uint8_t junk[] = { 0xff, 0xff, 0xff, 0x01 };
    CHECK(!node_handle_frame(e.n, e.client, junk, sizeof(junk)));
    CHECK(mval(&e, "mixnode_packets_dropped_total{reason=\"bad_frame\"} ") == 1);
    node_harness_peer_free(e.n, np);
    node_harness_peer_free(e.n, p2);
    pipe_teardown(&e);
    free(pkt);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    RUN(test_conf);
    RUN(test_metrics_text);
    RUN(test_pipeline_deliver);
    RUN(test_pipeline_fetch);
    RUN(test_surb_ack_delay);
    RUN(test_loop_paths);
    return tap_done();
}
