/*
 * Unit tests of the client core (client/core*.c) over a simulated network:
 * real Sphinx nodes (sphinx_unwrap with their keys), gateways that parse the
 * payload envelope, store the body in inboxes and send the SURB-ack exactly
 * as architecture.md says, and clients fetching their inboxes.  Covers text
 * and 1 MiB delivery, acks, SURB replies, loss with retransmission on fresh
 * paths, exactly-once delivery, restart from the store, failure after the
 * bounded attempts, cover traffic, and garbage in the inbox.
 */
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client_int.h"
#include "core.h"
#include "payload.h"
#include "pki.h"
#include "sphinx.h"
#include "store.h"
#include "tap.h"

#define LAYERS 3
#define PER_LAYER 2
#define NGW 2
#define NNODES (NGW + LAYERS * PER_LAYER)
#define MAXBOX 8192

struct simnode {
    struct pki_descriptor d;
    uint8_t sk[SPHINX_KEY_LEN];
    bool dead;
};

struct boxmsg {
    uint8_t inbox[32];
    uint8_t *payload;
    size_t len;
    uint8_t surb_id[16];
    bool is_reply;
};

static struct simnode nodes[NNODES];
static struct boxmsg box[MAXBOX];
static size_t nbox;
static uint64_t drops_at_gw, cover_acks_at_gw, lost, delivered_bodies;
static struct sphinx_geometry geom = { 5, 2048, SPHINX_FORMAT_CLASSIC };
static struct mix_rng_det det;
static struct mix_rng rng;
static uint8_t *doc_bytes;
static size_t doc_len;
static double loss_rate;         /* every packet vanishes with this probability */
static size_t store_map_mb = 64; /* of the stores cl_start() opens */

static struct simnode *find(const uint8_t *id)
{
    for (int i = 0; i < NNODES; i++)
        if (memcmp(nodes[i].d.id, id, 32) == 0)
            return &nodes[i];
    return NULL;
}

static void make_network(void)
{
    struct pki_params p;
    memset(&p, 0, sizeof(p));
    p.epoch = 1;
    p.timing.genesis = 1000;
    p.timing.epoch_len = 3600;
    p.timing.grace = 60;
    p.max_hops = 5;
    p.payload_len = 2048;
    p.layers = LAYERS;
    p.mean_delay_us = 50000;
    p.max_delay_us = 500000;
    p.lambda_p_mhz = p.lambda_l_mhz = p.lambda_d_mhz = p.lambda_m_mhz = 1000;
    struct pki_doc *doc = pki_doc_new(&p);
    for (int i = 0; i < NNODES; i++) {
        struct pki_descriptor *d = &nodes[i].d;
        uint8_t esk[64];
        memset(d, 0, sizeof(*d));
        crypto_sign_keypair(d->identity_key, esk);
        pki_node_id(d->identity_key, d->id);
        randombytes_buf(d->link_key, 32);
        d->roles = i < NGW ? (PKI_ROLE_GATEWAY | PKI_ROLE_PROVIDER) : PKI_ROLE_MIX;
        d->layer = i < NGW ? 0 : (uint32_t)(1 + (i - NGW) / PER_LAYER);
        snprintf(d->address, sizeof(d->address), "127.0.0.1:%d", 20000 + i);
        d->n_sphinx_keys = 1;
        d->sphinx_keys[0].epoch = 1;
        sphinx_keygen(&rng, nodes[i].sk, d->sphinx_keys[0].key);
        if (pki_doc_add(doc, d) != PKI_OK)
            printf("# pki_doc_add failed\n");
    }
    if (pki_doc_encode(doc, &doc_bytes, &doc_len) != PKI_OK)
        printf("# pki_doc_encode failed\n");
    pki_doc_free(doc);
}

static struct pki_doc *doc_copy(void)
{
    struct pki_doc *d = NULL;
    if (pki_doc_decode(doc_bytes, doc_len, &d) != PKI_OK)
        return NULL;
    return d;
}

static void inbox_add(const uint8_t *inbox, const uint8_t *p, size_t len, const uint8_t *surb_id,
                      bool reply)
{
    if (nbox == MAXBOX)
        return;
    struct boxmsg *b = &box[nbox++];
    memcpy(b->inbox, inbox, 32);
    b->payload = malloc(len);
    memcpy(b->payload, p, len);
    b->len = len;
    memset(b->surb_id, 0, 16);
    if (surb_id)
        memcpy(b->surb_id, surb_id, 16);
    b->is_reply = reply;
}

/* Route a packet from node `at` to its end, as the nodes would. */
static void route(const uint8_t *pkt_in, const uint8_t *at_id)
{
    size_t plen = sphinx_packet_len(&geom);
    uint8_t *pkt = malloc(plen), *out = malloc(plen);
    uint8_t at[32];
    memcpy(pkt, pkt_in, plen);
    memcpy(at, at_id, 32);
    for (int hop = 0; hop < 12; hop++) {
        struct simnode *n = find(at);
        struct sphinx_result res;
        if (n == NULL || n->dead || (loss_rate > 0 && mix_rng_unit(&rng) <= loss_rate)) {
            lost++;
            break;
        }
        enum sphinx_status s = sphinx_unwrap(&geom, n->sk, NULL, pkt, plen, out, plen, &res);
        if (s == SPHINX_OK_FORWARD) {
            memcpy(pkt, out, plen);
            memcpy(at, res.node_id, 32);
            continue;
        }
        if (s != SPHINX_OK_DELIVER) {
            printf("# unwrap failed: %s\n", sphinx_strerror(s));
            break;
        }
        if (res.is_reply) {
            inbox_add(res.node_id, out, res.out_len, res.surb_id, true);
            break;
        }
        static const uint8_t zero[32];
        struct payload_view v;
        bool cover = memcmp(res.node_id, zero, 32) == 0;
        if (payload_parse(out, res.out_len, &v) != PAYLOAD_OK) {
            if (cover)
                drops_at_gw++; /* random cover without envelope */
            else
                printf("# bad envelope\n");
            break;
        }
        if (cover) {
            /* Drop cover with a SURB-ack: nothing stored, the ack goes back. */
            drops_at_gw++;
            cover_acks_at_gw++;
        } else {
            /* The provider stores the body, commits, THEN sends the SURB-ack. */
            inbox_add(res.node_id, v.body, v.body_len, NULL, false);
            delivered_bodies++;
        }
        if (v.surb_ack) {
            uint8_t first[32];
            if (sphinx_surb_pack(&geom, v.surb_ack, v.surb_ack_len,
                                 (const uint8_t *)PAYLOAD_ACK_MAGIC, sizeof(PAYLOAD_ACK_MAGIC) - 1,
                                 pkt, first) != SPHINX_OK) {
                printf("# surb pack failed\n");
                break;
            }
            memcpy(at, first, 32);
            continue;
        }
        break;
    }
    free(pkt);
    free(out);
}

struct cl {
    char dir[64];
    struct cstore *st;
    struct core *c;
    uint8_t sk[32], pk[32], inbox[32];
    struct mix_address addr;
    int got;
    uint8_t *last;
    size_t last_len;
    uint8_t last_id[16];
    bool last_can_reply, last_is_reply;
    uint8_t last_in_reply_to[16];
};

static void on_recv(void *ctx, const struct core_received *m)
{
    struct cl *x = ctx;
    x->got++;
    free(x->last);
    x->last = malloc(m->len + 1);
    memcpy(x->last, m->body, m->len);
    x->last_len = m->len;
    memcpy(x->last_id, m->id, 16);
    x->last_can_reply = m->can_reply;
    x->last_is_reply = m->is_reply;
    memcpy(x->last_in_reply_to, m->in_reply_to, 16);
}

static void cl_start(struct cl *x, int gw, uint32_t attempts)
{
    char err[256];
    struct core_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    memcpy(cfg.sk, x->sk, 32);
    memcpy(cfg.gateway_id, nodes[gw].d.id, 32);
    cfg.max_attempts = attempts;
    cfg.fetch_interval_us = 100000;
    cfg.timeout_slack_us = 100000;
    x->st = cstore_open(x->dir, store_map_mb, err, sizeof(err));
    if (x->st == NULL)
        printf("# %s\n", err);
    x->c = core_new(&cfg, x->st, &rng);
    core_set_doc(x->c, doc_copy());
    core_set_recv_cb(x->c, on_recv, x);
    core_address(x->c, &x->addr);
}

static void cl_stop(struct cl *x)
{
    core_free(x->c);
    cstore_close(x->st);
    x->c = NULL;
    x->st = NULL;
}

static void cl_init(struct cl *x, int gw, uint32_t attempts)
{
    memset(x, 0, sizeof(*x));
    strcpy(x->dir, "/tmp/test_client_XXXXXX");
    if (mkdtemp(x->dir) == NULL)
        printf("# mkdtemp failed\n");
    crypto_box_keypair(x->pk, x->sk);
    payload_inbox_id(x->inbox, x->pk);
    cl_start(x, gw, attempts);
}

static void cl_destroy(struct cl *x)
{
    char cmd[128];
    cl_stop(x);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", x->dir);
    if (system(cmd) != 0)
        printf("# cleanup failed\n");
    free(x->last);
}

/* The client's gateway takes the packet (the client's first hop). */
static int pump(struct cl *x, enum core_stream s, uint64_t now)
{
    uint8_t pkt[4096];
    int r = core_next_packet(x->c, s, now, 5000, pkt);
    if (r >= 0) {
        struct mix_address a;
        core_address(x->c, &a);
        route(pkt, a.gateway_id);
    }
    return r;
}

static int fetch(struct cl *x)
{
    int n = 0;
    size_t j = 0;
    for (size_t i = 0; i < nbox; i++) {
        if (memcmp(box[i].inbox, x->inbox, 32) != 0) {
            box[j++] = box[i];
            continue;
        }
        struct frame_inbox_msg m = { .seq = i,
                                     .payload = { box[i].payload, box[i].len },
                                     .surb_id = { box[i].surb_id, box[i].is_reply ? 16 : 0 },
                                     .is_reply = box[i].is_reply };
        if (core_on_inbox(x->c, &m, 5000) != 0)
            printf("# core_on_inbox failed\n");
        free(box[i].payload);
        n++;
    }
    nbox = j;
    return n;
}

static bool box_contains(const uint8_t *needle, size_t n)
{
    for (size_t i = 0; i < nbox; i++)
        if (box[i].len >= n && memmem(box[i].payload, box[i].len, needle, n) != NULL)
            return true;
    return false;
}

static void test_text_and_ack(void)
{
    struct cl a, b;
    uint8_t id[16];
    const char *text = "hello through the mixnet";
    cl_init(&a, 0, 3);
    cl_init(&b, 1, 3);
    CHECK(core_send(a.c, &b.addr, (const uint8_t *)text, strlen(text), 0, id) == CORE_OK);
    struct core_status s;
    CHECK(core_status(a.c, id, &s) == CORE_OK && s.state == CORE_MSG_QUEUED && s.fragments == 1);
    CHECK(core_queue_len(a.c) == 1);
    CHECK(pump(&a, CORE_STREAM_PAYLOAD, 1) == 1);
    CHECK(core_status(a.c, id, &s) == CORE_OK && s.state == CORE_MSG_SENT);
    /* The recipient's gateway holds ciphertext only. */
    CHECK(!box_contains((const uint8_t *)text, strlen(text)));
    CHECK(fetch(&b) == 1);
    CHECK(b.got == 1 && b.last_len == strlen(text) && memcmp(b.last, text, b.last_len) == 0);
    CHECK(!b.last_can_reply && !b.last_is_reply);
    CHECK(fetch(&a) == 1); /* the SURB-ack */
    CHECK(core_status(a.c, id, &s) == CORE_OK && s.state == CORE_MSG_ACKNOWLEDGED && s.acked == 1);
    /* An empty payload stream sends drop cover; the gateway discards it. */
    uint64_t d0 = drops_at_gw;
    CHECK(pump(&a, CORE_STREAM_PAYLOAD, 2) == 0);
    CHECK(pump(&a, CORE_STREAM_DROP, 3) == 0);
    CHECK(drops_at_gw == d0 + 2);
    cl_destroy(&a);
    cl_destroy(&b);
}

/*
 * Every payload-stream packet causes the same traffic downstream: drop cover
 * sent in place of a fragment also carries a SURB-ack that its exit gateway
 * sends back to the sender's inbox, where the client discards it.  Drop
 * cover of the drop stream carries none.
 */
static void test_cover_ack(void)
{
    struct cl a, b;
    uint8_t id[16];
    struct core_stats st;
    cl_init(&a, 0, 3);
    cl_init(&b, 1, 3);
    fetch(&a);
    uint64_t c0 = cover_acks_at_gw;
    for (int i = 0; i < 5; i++)
        CHECK(pump(&a, CORE_STREAM_PAYLOAD, 10 + i) == 0);
    CHECK(cover_acks_at_gw == c0 + 5);
    CHECK(fetch(&a) == 5); /* five SURB-acks came back, as for five fragments */
    core_get_stats(a.c, &st);
    CHECK(st.cover_acks == 5 && st.acks == 0 && st.bad_in == 0 && a.got == 0);
    CHECK(pump(&a, CORE_STREAM_DROP, 20) == 0);
    CHECK(cover_acks_at_gw == c0 + 5 && fetch(&a) == 0);
    /* A real fragment: one packet out, one ack back, the same as cover. */
    CHECK(core_send(a.c, &b.addr, (const uint8_t *)"x", 1, 0, id) == CORE_OK);
    CHECK(pump(&a, CORE_STREAM_PAYLOAD, 30) == 1);
    CHECK(fetch(&a) == 1);
    core_get_stats(a.c, &st);
    CHECK(st.cover_acks == 5 && st.acks == 1);
    fetch(&b);
    /* Received messages wait in the store until taken. */
    size_t rem = 9;
    int before = b.got;
    CHECK(core_take_received(b.c, 0, on_recv, &b, &rem) == 1 && rem == 0 && b.got == before + 1);
    CHECK(core_take_received(b.c, 0, on_recv, &b, &rem) == 0);
    cl_destroy(&a);
    cl_destroy(&b);
}

static void test_loop_cover(void)
{
    struct cl a;
    cl_init(&a, 0, 3);
    CHECK(pump(&a, CORE_STREAM_LOOP, 1) == 0);
    CHECK(fetch(&a) == 2); /* the loop itself and its SURB-ack */
    struct core_stats st;
    core_get_stats(a.c, &st);
    CHECK(st.loop_sent == 1 && st.loops_back == 1 && st.loop_acks == 1 && st.bad_in == 0);
    cl_destroy(&a);
}

static void test_large_message(void)
{
    struct cl a, b;
    uint8_t id[16];
    size_t len = (1u << 20) + 7;
    uint8_t *msg = malloc(len);
    for (size_t i = 0; i < len; i++)
        msg[i] = (uint8_t)(i * 7 + (i >> 11));
    cl_init(&a, 0, 3);
    cl_init(&b, 0, 3); /* same gateway for both */
    CHECK(core_send(a.c, &b.addr, msg, len, 0, id) == CORE_OK);
    struct core_status s;
    CHECK(core_status(a.c, id, &s) == CORE_OK);
    printf("# 1 MiB -> %u fragments\n", s.fragments);
    int sent = 0;
    while (pump(&a, CORE_STREAM_PAYLOAD, 1) == 1)
        sent++;
    CHECK((uint32_t)sent == s.fragments);
    CHECK(!box_contains(msg + 5000, 64));
    fetch(&b);
    CHECK(b.got == 1 && b.last_len == len && memcmp(b.last, msg, len) == 0);
    fetch(&a);
    CHECK(core_status(a.c, id, &s) == CORE_OK && s.state == CORE_MSG_ACKNOWLEDGED);
    CHECK(core_send(a.c, &b.addr, msg, PAYLOAD_MAX_MESSAGE + 1, 0, id) == CORE_ERR_TOO_BIG);
    free(msg);
    cl_destroy(&a);
    cl_destroy(&b);
}

/* Inbox entries of x as jobs (the gateway forgets them), in order. */
static size_t fetch_jobs(struct cl *x, struct core_job **jobs, size_t max)
{
    size_t n = 0, j = 0;
    for (size_t i = 0; i < nbox; i++) {
        if (n == max || memcmp(box[i].inbox, x->inbox, 32) != 0) {
            box[j++] = box[i];
            continue;
        }
        struct frame_inbox_msg m = { .seq = i,
                                     .payload = { box[i].payload, box[i].len },
                                     .surb_id = { box[i].surb_id, box[i].is_reply ? 16 : 0 },
                                     .is_reply = box[i].is_reply };
        jobs[n] = core_inbox_job(x->c, &m, 5000);
        if (jobs[n] != NULL)
            n++;
        free(box[i].payload);
    }
    nbox = j;
    return n;
}

struct job_run {
    struct core_job **jobs;
    size_t n;
};

static void *run_jobs(void *arg)
{
    struct job_run *r = arg;
    for (size_t i = 0; i < r->n; i++)
        core_job_run(r->jobs[i]);
    return NULL;
}

/*
 * Inbox jobs run on another thread (as the client's handling thread does)
 * while the core's thread keeps sending from the same store: the message
 * reaches the application only when the results are applied, on the core's
 * thread, whole; every entry is acknowledged; the SURB-acks, run the same
 * way, acknowledge what was sent.
 */
static void test_jobs_on_a_thread(void)
{
    struct cl a, b;
    uint8_t id[16], id2[16];
    size_t len = 300000;
    uint8_t *msg = malloc(len);
    for (size_t i = 0; i < len; i++)
        msg[i] = (uint8_t)(i * 13 + (i >> 9));
    cl_init(&a, 0, 3);
    cl_init(&b, 0, 3);
    CHECK(core_send(a.c, &b.addr, msg, len, 0, id) == CORE_OK);
    CHECK(core_send(b.c, &a.addr, msg, 20000, 0, id2) == CORE_OK);
    while (pump(&a, CORE_STREAM_PAYLOAD, 1) == 1)
        ;
    size_t cap = nbox + 16;
    struct core_job **jobs = calloc(cap, sizeof(*jobs));
    struct job_run r = { jobs, fetch_jobs(&b, jobs, cap) };
    CHECK(r.n > 200);
    pthread_t th;
    CHECK(pthread_create(&th, NULL, run_jobs, &r) == 0);
    /* Meanwhile b sends: its payload, loop and drop streams write SURB keys to the store. */
    int real = 0;
    for (int i = 0; i < 60; i++)
        real += pump(&b, (enum core_stream)(i % 3), 2) == 1;
    pthread_join(th, NULL);
    CHECK(real > 0);
    CHECK(b.got == 0); /* nothing reaches the application before the results are applied */
    size_t acked = 0;
    for (size_t i = 0; i < r.n; i++)
        acked += core_job_done(b.c, jobs[i]) == 0;
    CHECK(acked == r.n);
    CHECK(b.got == 1 && b.last_len == len && memcmp(b.last, msg, len) == 0);
    struct core_stats st;
    core_get_stats(b.c, &st);
    CHECK(st.received_msgs == 1 && st.bad_in == 0);
    /* a's SURB-acks, the same way. */
    r.n = fetch_jobs(&a, jobs, cap);
    CHECK(pthread_create(&th, NULL, run_jobs, &r) == 0);
    for (int i = 0; i < 20; i++)
        (void)pump(&a, CORE_STREAM_LOOP, 3);
    pthread_join(th, NULL);
    for (size_t i = 0; i < r.n; i++)
        CHECK(core_job_done(a.c, jobs[i]) == 0);
    struct core_status s;
    CHECK(core_status(a.c, id, &s) == CORE_OK && s.state == CORE_MSG_ACKNOWLEDGED);
    free(jobs);
    free(msg);
    cl_destroy(&a);
    cl_destroy(&b);
}

/*
 * Fair sending: a short message sent while a 1 MiB file is going out takes
 * one of the next payload slots instead of waiting for the file's ~700; the
 * file still goes whole, each fragment once, and every slot carries exactly
 * one packet either way.
 */
static void test_fair_sending(void)
{
    struct cl a, b;
    uint8_t fid[16], sid[16];
    size_t len = 1u << 20;
    uint8_t *file = malloc(len);
    for (size_t i = 0; i < len; i++)
        file[i] = (uint8_t)(i * 13 + (i >> 9));
    cl_init(&a, 0, 3);
    cl_init(&b, 1, 3);
    CHECK(core_send(a.c, &b.addr, file, len, 0, fid) == CORE_OK);
    struct core_status s, ss;
    CHECK(core_status(a.c, fid, &s) == CORE_OK && s.fragments > 100);
    for (int i = 0; i < 20; i++)
        CHECK(pump(&a, CORE_STREAM_PAYLOAD, 1) == 1);
    CHECK(core_queue_len(a.c) == s.fragments - 20);
    CHECK(core_send(a.c, &b.addr, (const uint8_t *)"short one", 9, 0, sid) == CORE_OK);
    CHECK(core_queue_len(a.c) == s.fragments - 20 + 1);
    int slots = 0;
    do {
        CHECK(pump(&a, CORE_STREAM_PAYLOAD, 1) == 1);
        slots++;
        CHECK(core_status(a.c, sid, &ss) == CORE_OK);
    } while (ss.state == CORE_MSG_QUEUED && slots < 10);
    printf("# the short message left in slot %d after it was sent (the file has %u fragments)\n",
           slots, s.fragments);
    CHECK(ss.state == CORE_MSG_SENT && slots <= 2);
    fetch(&b);
    CHECK(b.got == 1 && b.last_len == 9 && memcmp(b.last, "short one", 9) == 0);
    int sent = 0;
    while (pump(&a, CORE_STREAM_PAYLOAD, 2) == 1)
        sent++;
    CHECK((uint32_t)(sent + 20 + slots - 1) == s.fragments);
    CHECK(core_queue_len(a.c) == 0);
    fetch(&b);
    CHECK(b.got == 2 && b.last_len == len && memcmp(b.last, file, len) == 0);
    fetch(&a);
    CHECK(core_status(a.c, fid, &s) == CORE_OK && s.state == CORE_MSG_ACKNOWLEDGED);
    /* Three messages in the queue: each slot takes the next message's fragment. */
    uint8_t id1[16], id2[16], id3[16];
    CHECK(core_send(a.c, &b.addr, file, 20000, 0, id1) == CORE_OK);
    CHECK(core_send(a.c, &b.addr, file, 20000, 0, id2) == CORE_OK);
    CHECK(core_send(a.c, &b.addr, file, 20000, 0, id3) == CORE_OK);
    for (int i = 0; i < 3; i++)
        CHECK(pump(&a, CORE_STREAM_PAYLOAD, 3) == 1);
    struct core_status s1, s2, s3;
    CHECK(core_status(a.c, id1, &s1) == CORE_OK && core_status(a.c, id2, &s2) == CORE_OK &&
          core_status(a.c, id3, &s3) == CORE_OK);
    CHECK(s1.state == CORE_MSG_SENT && s2.state == CORE_MSG_SENT && s3.state == CORE_MSG_SENT);
    while (pump(&a, CORE_STREAM_PAYLOAD, 3) == 1)
        ;
    /* Retransmissions take turns with new messages too: 20 lost fragments of a
     * file waiting to go again do not hold a short message back. */
    CHECK(core_send(a.c, &b.addr, file, 200000, 0, fid) == CORE_OK);
    loss_rate = 1.0;
    for (int i = 0; i < 20; i++)
        CHECK(pump(&a, CORE_STREAM_PAYLOAD, 10) == 1);
    loss_rate = 0;
    struct core_stats st0, st1;
    core_get_stats(a.c, &st0);
    core_tick(a.c, UINT64_MAX / 2);
    core_get_stats(a.c, &st1);
    CHECK(st1.retransmits - st0.retransmits >= 20);
    CHECK(core_send(a.c, &b.addr, (const uint8_t *)"short two", 9, 0, sid) == CORE_OK);
    slots = 0;
    do {
        CHECK(pump(&a, CORE_STREAM_PAYLOAD, UINT64_MAX / 2) == 1);
        slots++;
        CHECK(core_status(a.c, sid, &ss) == CORE_OK);
    } while (ss.state == CORE_MSG_QUEUED && slots < 30);
    printf("# with 20 retransmissions waiting, the short message left in slot %d\n", slots);
    CHECK(ss.state == CORE_MSG_SENT && slots <= 4);
    free(file);
    cl_destroy(&a);
    cl_destroy(&b);
}

static void test_surb_reply(void)
{
    struct cl a, b;
    uint8_t id[16];
    cl_init(&a, 0, 3);
    cl_init(&b, 1, 3);
    CHECK(core_send(a.c, &b.addr, (const uint8_t *)"question?", 9, 1, id) == CORE_OK);
    CHECK(pump(&a, CORE_STREAM_PAYLOAD, 1) == 1);
    fetch(&b);
    CHECK(b.got == 1 && b.last_can_reply);
    uint8_t qid[16];
    memcpy(qid, b.last_id, 16);
    uint8_t rid[16];
    CHECK(core_reply(b.c, qid, (const uint8_t *)"answer!", 7, rid) == CORE_OK);
    /* Single use: a second reply is refused, and says why. */
    CHECK(core_reply(b.c, qid, (const uint8_t *)"again", 5, NULL) == CORE_ERR_SURB_USED);
    uint8_t other[16] = { 9 };
    CHECK(core_reply(b.c, other, (const uint8_t *)"x", 1, NULL) == CORE_ERR_UNKNOWN);
    CHECK(memcmp(qid, id, 16) == 0); /* the recipient sees the sender's message id */
    CHECK(core_queue_len(b.c) == 1);
    CHECK(pump(&b, CORE_STREAM_PAYLOAD, 1) == 1);
    CHECK(!box_contains((const uint8_t *)"answer!", 7));
    fetch(&a);
    CHECK(a.got == 1 && a.last_is_reply && a.last_len == 7 && memcmp(a.last, "answer!", 7) == 0);
    /* The reply says which message it answers, and has the id the replier was given. */
    CHECK(memcmp(a.last_in_reply_to, id, 16) == 0 && memcmp(a.last_id, rid, 16) == 0);
    CHECK(!a.last_can_reply);
    /* A reply carries no reply block: answering it is refused as such. */
    CHECK(core_reply(a.c, rid, (const uint8_t *)"x", 1, NULL) == CORE_ERR_NO_SURB);
    /* Taken later from the store, it still says what it answers. */
    memset(a.last_in_reply_to, 0, 16);
    size_t rem;
    CHECK(core_take_received(a.c, 0, on_recv, &a, &rem) == 1);
    CHECK(a.last_is_reply && memcmp(a.last_in_reply_to, id, 16) == 0);
    struct core_stats st;
    core_get_stats(a.c, &st);
    CHECK(st.replies_received == 1 && st.acks == 1);
    /* A multi-fragment message carrying the reply SURB in fragment 0. */
    uint8_t big[5000];
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (uint8_t)(i * 31);
    CHECK(core_send(a.c, &b.addr, big, sizeof(big), 1, id) == CORE_OK);
    struct core_status cs;
    CHECK(core_status(a.c, id, &cs) == CORE_OK && cs.fragments == 4); /* 1028 + 3 x 1485 */
    while (pump(&a, CORE_STREAM_PAYLOAD, 2) == 1)
        ;
    fetch(&b);
    CHECK(b.got == 2 && b.last_len == sizeof(big) && memcmp(b.last, big, sizeof(big)) == 0);
    CHECK(b.last_can_reply);
    size_t cap = core_reply_cap(b.c);
    CHECK(cap == 2032 - 34);
    uint8_t *long_reply = calloc(1, cap + 1);
    CHECK(core_reply(b.c, b.last_id, long_reply, cap + 1, NULL) == CORE_ERR_TOO_BIG);
    memset(long_reply, 'r', cap);
    CHECK(core_reply(b.c, b.last_id, long_reply, cap, NULL) == CORE_OK);
    CHECK(pump(&b, CORE_STREAM_PAYLOAD, 2) == 1);
    fetch(&a);
    CHECK(a.got == 3 && a.last_is_reply && a.last_len == cap &&
          memcmp(a.last, long_reply, cap) == 0);
    free(long_reply);
    cl_destroy(&a);
    cl_destroy(&b);
}

/* Send n messages through a lossy network until all are acknowledged. */
static void test_loss_retransmit(void)
{
    struct cl a, b;
    uint8_t ids[5][16];
    char text[5][32];
    cl_init(&a, 0, 20);
    cl_init(&b, 1, 20);
    for (int i = 0; i < 5; i++) {
        snprintf(text[i], sizeof(text[i]), "message number %d", i);
        CHECK(core_send(a.c, &b.addr, (const uint8_t *)text[i], strlen(text[i]), 0, ids[i]) ==
              CORE_OK);
    }
    /* A killed mix: every packet routed through it vanishes. */
    nodes[NGW].dead = true;
    loss_rate = 0.05;
    uint64_t now = 1;
    int acked = 0, rounds = 0;
    while (acked < 5 && rounds++ < 200) {
        while (pump(&a, CORE_STREAM_PAYLOAD, now) == 1)
            ;
        fetch(&b);
        fetch(&a);
        now += 10000000; /* 10 s: past every timeout */
        core_tick(a.c, now);
        acked = 0;
        for (int i = 0; i < 5; i++) {
            struct core_status s;
            if (core_status(a.c, ids[i], &s) == CORE_OK && s.state == CORE_MSG_ACKNOWLEDGED)
                acked++;
        }
    }
    nodes[NGW].dead = false;
    loss_rate = 0;
    struct core_stats sa, sb;
    core_get_stats(a.c, &sa);
    core_get_stats(b.c, &sb);
    printf("# rounds %d retransmits %llu duplicates %llu\n", rounds,
           (unsigned long long)sa.retransmits, (unsigned long long)sb.duplicates);
    CHECK(acked == 5);
    CHECK(sa.retransmits > 0);
    CHECK(sb.received_msgs == 5); /* exactly once */
    cl_destroy(&a);
    cl_destroy(&b);
}

/* After timeouts point at a dead mix, real packets steer clear of it. */
static void test_avoid_dead_mix(void)
{
    struct cl a, b;
    uint8_t id[16];
    cl_init(&a, 0, 30);
    cl_init(&b, 1, 30);
    nodes[NGW + 2].dead = true; /* one of the two layer-2 mixes */
    uint64_t now = 1, retx0 = 0;
    for (int phase = 0; phase < 2; phase++) {
        uint64_t lost0 = lost;
        int sent = 0;
        for (int i = 0; i < 30; i++)
            CHECK(core_send(a.c, &b.addr, (const uint8_t *)"probe", 5, 0, id) == CORE_OK);
        for (int round = 0; round < 30; round++) {
            int r;
            while ((r = pump(&a, CORE_STREAM_PAYLOAD, now)) == 1)
                sent++;
            CHECK(pump(&a, CORE_STREAM_LOOP, now) == 0);
            fetch(&b);
            fetch(&a);
            now += 10000000;
            core_tick(a.c, now);
            if (core_queue_len(a.c) == 0 && round > 2)
                break;
        }
        struct core_stats sx;
        core_get_stats(a.c, &sx);
        printf("# phase %d: %d data packets sent, %llu lost, retransmits so far %llu, drops %llu "
               "loops %llu\n",
               phase, sent, (unsigned long long)(lost - lost0), (unsigned long long)sx.retransmits,
               (unsigned long long)sx.drop_sent, (unsigned long long)sx.loop_sent);
        /* Phase 1: the dead mix is known; no real packet needs a second try
         * (what is still lost is unsteered cover: loops probe every node). */
        if (phase == 1)
            CHECKF(sx.retransmits - retx0 <= 2, "%llu retransmissions after learning",
                   (unsigned long long)(sx.retransmits - retx0));
        retx0 = sx.retransmits;
    }
    nodes[NGW + 2].dead = false;
    struct core_stats sb;
    core_get_stats(b.c, &sb);
    CHECK(sb.received_msgs == 60);
    cl_destroy(&a);
    cl_destroy(&b);
}

static void test_duplicates(void)
{
    struct cl a, b;
    uint8_t id[16];
    cl_init(&a, 0, 3);
    cl_init(&b, 1, 3);
    CHECK(core_send(a.c, &b.addr, (const uint8_t *)"once", 4, 0, id) == CORE_OK);
    CHECK(pump(&a, CORE_STREAM_PAYLOAD, 1) == 1);
    /* Copy the stored body: the same fragment arrives twice. */
    for (size_t i = 0, n = nbox; i < n; i++)
        if (memcmp(box[i].inbox, b.inbox, 32) == 0)
            inbox_add(box[i].inbox, box[i].payload, box[i].len, NULL, false);
    CHECK(fetch(&b) == 2);
    struct core_stats st;
    core_get_stats(b.c, &st);
    CHECK(b.got == 1 && st.duplicates == 1 && st.received_msgs == 1);
    fetch(&a);
    cl_destroy(&a);
    cl_destroy(&b);
}

/*
 * Like fetch(), but an entry whose handling failed stays in the box, as at a
 * gateway, which keeps what is not acknowledged.  Returns the failures.
 */
static int fetch_keep(struct cl *x)
{
    int failed = 0;
    size_t j = 0;
    for (size_t i = 0; i < nbox; i++) {
        struct frame_inbox_msg m = { .seq = i,
                                     .payload = { box[i].payload, box[i].len },
                                     .surb_id = { box[i].surb_id, box[i].is_reply ? 16 : 0 },
                                     .is_reply = box[i].is_reply };
        if (memcmp(box[i].inbox, x->inbox, 32) != 0 || core_on_inbox(x->c, &m, 5000) != 0) {
            failed += memcmp(box[i].inbox, x->inbox, 32) == 0;
            box[j++] = box[i];
            continue;
        }
        free(box[i].payload);
    }
    nbox = j;
    return failed;
}

/*
 * Every fragment is stored but the complete message cannot be (the store
 * is full): the last fragment is not acknowledged, and when it comes again
 * (a duplicate now) the message is assembled, not dropped as a duplicate
 * with its parts left for the collector.
 */
static void test_store_fails_then_duplicate(void)
{
    struct cl a, b;
    uint8_t id[16];
    size_t len = 1u << 20;
    uint8_t *msg = malloc(len);
    for (size_t i = 0; i < len; i++)
        msg[i] = (uint8_t)(i * 13 + (i >> 9));
    cl_init(&a, 0, 3);
    store_map_mb = 3; /* room for the parts, not for the message beside them */
    cl_init(&b, 1, 3);
    store_map_mb = 64;
    CHECK(core_send(a.c, &b.addr, msg, len, 0, id) == CORE_OK);
    while (pump(&a, CORE_STREAM_PAYLOAD, 1) == 1)
        ;
    struct core_status s;
    CHECK(fetch_keep(&b) == 1);
    CHECK(b.got == 0);
    CHECK(core_status(b.c, id, &s) == CORE_OK && s.state == CORE_MSG_RECEIVING &&
          s.acked == s.fragments);
    printf("# %u of %u fragments stored, the message not\n", s.acked, s.fragments);
    /* Room again (the store reopened larger); the last fragment comes again. */
    cl_stop(&b);
    cl_start(&b, 1, 3);
    CHECK(fetch_keep(&b) == 0);
    CHECK(b.got == 1 && b.last_len == len && memcmp(b.last, msg, len) == 0);
    CHECK(core_status(b.c, id, &s) == CORE_OK && s.state == CORE_MSG_RECEIVED);
    struct core_stats st;
    core_get_stats(b.c, &st);
    CHECK(st.received_msgs == 1);
    fetch(&a);
    free(msg);
    cl_destroy(&a);
    cl_destroy(&b);
}

/* A partly received message is forgotten a day after its first fragment. */
static void test_partial_gc(void)
{
    struct cl a, b;
    uint8_t id[16], msg[3000];
    memset(msg, 'p', sizeof(msg));
    cl_init(&a, 0, 3);
    cl_init(&b, 1, 3);
    CHECK(core_send(a.c, &b.addr, msg, sizeof(msg), 0, id) == CORE_OK);
    CHECK(pump(&a, CORE_STREAM_PAYLOAD, 1) == 1); /* only the first of 3 fragments */
    fetch(&b);
    CHECK(core_gc(b.c, 5000 + 86400 - 1) == 0);
    CHECK(core_gc(b.c, 5000 + 86400 + 1) == 1);
    CHECK(core_gc(b.c, 5000 + 86400 + 2) == 0);
    /* The rest arrives later: without fragment 0 the message cannot complete. */
    while (pump(&a, CORE_STREAM_PAYLOAD, 1) == 1)
        ;
    fetch(&b);
    CHECK(b.got == 0);
    fetch(&a);
    cl_destroy(&a);
    cl_destroy(&b);
}

static void test_restart_and_fail(void)
{
    struct cl a, b;
    uint8_t id[16], id2[16];
    cl_init(&a, 0, 2);
    cl_init(&b, 1, 2);
    CHECK(core_send(a.c, &b.addr, (const uint8_t *)"survives", 8, 0, id) == CORE_OK);
    /* The daemon stops before sending anything... */
    cl_stop(&a);
    cl_start(&a, 0, 2);
    CHECK(core_queue_len(a.c) == 1);
    /* ...and again after sending, before the ack: the fragment is sent again. */
    nodes[NGW + 0].dead = nodes[NGW + 1].dead = true; /* layer 1 is down: all lost */
    CHECK(pump(&a, CORE_STREAM_PAYLOAD, 1) == 1);
    cl_stop(&a);
    cl_start(&a, 0, 2);
    CHECK(core_queue_len(a.c) == 1);
    nodes[NGW + 0].dead = nodes[NGW + 1].dead = false;
    CHECK(pump(&a, CORE_STREAM_PAYLOAD, 1) == 1);
    fetch(&b);
    fetch(&a);
    struct core_status s;
    CHECK(b.got == 1 && memcmp(b.last, "survives", 8) == 0);
    CHECK(core_status(a.c, id, &s) == CORE_OK && s.state == CORE_MSG_ACKNOWLEDGED);
    /* Bounded attempts, then failed. */
    CHECK(core_send(a.c, &b.addr, (const uint8_t *)"doomed", 6, 0, id2) == CORE_OK);
    nodes[NGW + 0].dead = nodes[NGW + 1].dead = true;
    uint64_t now = 10;
    for (int i = 0; i < 4; i++) {
        while (pump(&a, CORE_STREAM_PAYLOAD, now) == 1)
            ;
        now += 60000000;
        core_tick(a.c, now);
    }
    nodes[NGW + 0].dead = nodes[NGW + 1].dead = false;
    CHECK(core_status(a.c, id2, &s) == CORE_OK && s.state == CORE_MSG_FAILED);
    struct core_stats st;
    core_get_stats(a.c, &st);
    CHECK(st.failed_msgs == 1);
    cl_destroy(&a);
    cl_destroy(&b);
}

static void test_bad_inbox_input(void)
{
    struct cl a;
    cl_init(&a, 0, 3);
    uint8_t junk[3000], sid[16] = { 1 };
    randombytes_buf(junk, sizeof(junk));
    struct frame_inbox_msg m = { .seq = 1, .payload = { junk, sizeof(junk) } };
    CHECK(core_on_inbox(a.c, &m, 1) == 0);
    m.payload.len = 10;
    CHECK(core_on_inbox(a.c, &m, 1) == 0);
    m.surb_id.ptr = sid;
    m.surb_id.len = 16;
    m.is_reply = true;
    CHECK(core_on_inbox(a.c, &m, 1) == 0);
    struct core_stats st;
    core_get_stats(a.c, &st);
    CHECK(st.bad_in == 3 && st.received_msgs == 0);
    /* SURB keys of packets whose answers never came are forgotten after two epochs. */
    CHECK(pump(&a, CORE_STREAM_LOOP, 1) == 0); /* made at unix time 5000 (see pump) */
    CHECK(core_gc(a.c, 5000 + 7200 - 1) == 0);
    CHECK(core_gc(a.c, 5000 + 7200 + 1) == 1);
    CHECK(core_gc(a.c, 5000 + 7200 + 2) == 0);
    fetch(&a); /* the loop and its ack: the ack's SURB is gone, counted as bad input */
    core_get_stats(a.c, &st);
    CHECK(st.loop_acks == 0 && st.loops_back == 1);
    /* A recipient whose gateway is not in the directory is refused. */
    struct mix_address bad;
    uint8_t id[16];
    memset(&bad, 7, sizeof(bad));
    CHECK(core_send(a.c, &bad, (const uint8_t *)"x", 1, 0, id) == CORE_ERR_ADDRESS);
    cl_destroy(&a);
}

/*
 * The directory is refreshed once per epoch, at a uniform moment of the next
 * epoch's grace window, never on a short poll (client.md "Directory").
 */
static void test_dir_refresh(void)
{
    struct pki_timing t = { .genesis = 1000000, .epoch_len = 600, .grace = 60 };
    double end5 = (double)pki_epoch_end(&t, 5), lo = 1e18, hi = 0;
    for (int i = 0; i < 2000; i++) {
        double now = end5 - 600 + mix_rng_unit(&rng) * 540;
        double at = now + mc_dir_next_refresh_s(&t, 5, now, &rng);
        CHECKF(at >= end5 && at <= end5 + 60, "refresh at %.1f, epoch ends %.1f", at, end5);
        lo = at < lo ? at : lo;
        hi = at > hi ? at : hi;
    }
    /* Jittered over the whole window, not one fixed moment. */
    CHECKF(hi - lo > 50, "refresh spread %.1f s over a 60 s window", hi - lo);
    /* Already past the window (a late answer): within one window from now. */
    double d = mc_dir_next_refresh_s(&t, 5, end5 + 500, &rng);
    CHECK(d >= 0 && d <= 60);
    /* A grace of 0 still spreads over 1 s. */
    t.grace = 0;
    d = mc_dir_next_refresh_s(&t, 5, end5 - 10, &rng);
    CHECK(d >= 10 && d <= 11);
}

int main(void)
{
    uint8_t seed[32] = { 42 };
    if (sodium_init() < 0)
        return 1;
    mix_rng_det_init(&det, seed);
    rng = mix_rng_det(&det);
    make_network();
    RUN(test_text_and_ack);
    RUN(test_loop_cover);
    RUN(test_large_message);
    RUN(test_jobs_on_a_thread);
    RUN(test_fair_sending);
    RUN(test_surb_reply);
    RUN(test_loss_retransmit);
    RUN(test_avoid_dead_mix);
    RUN(test_duplicates);
    RUN(test_store_fails_then_duplicate);
    RUN(test_partial_gc);
    RUN(test_restart_and_fail);
    RUN(test_bad_inbox_input);
    RUN(test_dir_refresh);
    RUN(test_cover_ack);

    free(doc_bytes);
    return tap_done();
}
