/*
 * mixtest: a test tool for mixnode.
 *
 *   mixtest mknet DIR [--base-port P] [--gateways G] [--layers L] [--width W]
 *                 [--strategy poisson|timed_pool|threshold] [--mean-delay-us D]
 *                 [--pool-interval-us T] [--pool-keep F] [--threshold N]
 *                 [--lambda-m MHZ] [--sphinx-format classic|kem-x25519] [--extra INI_TEXT]
 *       a network on disk: DIR/auth.pub, DIR/doc.signed (signed by a test
 *       authority), DIR/nodeI/ (keys and node.ini) for G gateways (indexes
 *       0..G-1) then L*W mixes; node I listens on P+I, metrics on P+100+I.
 *   mixtest keygen FILE                 a client X25519 key; prints its public key
 *   mixtest pub FILE                    print the public key of a client key
 *   mixtest send --net DIR --key FILE --via I (--to-pub B64 | --drop-cover) --to-gw J
 *                [--message TEXT] [--count N] [--delay-us D] [--surb-ack KEYS_OUT]
 *                [--save FILE]
 *       build packets (entry gateway I, one mix per layer, gateway J) and send
 *       them over a client link to gateway I.
 *   mixtest sendraw --net DIR --key FILE --via I --file F [--flip BYTE]
 *       send saved packet bytes again (optionally with one byte changed).
 *   mixtest fetch --net DIR --key FILE --via I [--min N] [--wait S] [--ack]
 *                 [--surb-keys FILE]
 *       fetch the inbox of FILE's key from gateway I; print one line per message;
 *       exit 0 once at least N (default 1) arrived, 1 on timeout.
 *   mixtest probe --net DIR --to I [--role node|client] [--node-key K]
 *       open a link (random key, or node K's link key); print accepted/refused.
 *   mixtest garbage --net DIR --key FILE --via I
 *       send a malformed frame on a client link; exit 0 if the node closes it.
 *   mixtest unwrap --net DIR --to I --file IN OUT
 *       unwrap a saved packet with node I's Sphinx key: the packet I forwards.
 *   mixtest sendnode --net DIR --to I --node-key K --file F
 *       send a saved packet to node I over a node link with node K's link key.
 *   mixtest flood --net DIR --to I --node-key K --to-pub B64 [--count N]
 *       N packets for the inbox of B64 at gateway I (its last hop), sent at once
 *       over a node link with node K's link key (a last-layer mix delivering).
 *   mixtest fetchtime --net DIR --key FILE --via I [--count M] [--ack]
 *       M fetches from gateway I, one every 100 ms (acknowledging what came
 *       with --ack); prints the slowest and the fastest answer's times
 *       "max_ms X min_ms Y"; 1 if an answer
 *       took more than --wait S (default 10) seconds.
 * `send --count 0 --save F` builds one packet into F without sending it.
 */
#include <errno.h>
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "frame.h"
#include "keyfile.h"
#include "mixtest_net.h"
#include "payload.h"
#include "sched_hint.h"
#include "sphinx.h"

struct opts {
    const char *net, *key, *to_pub, *message, *surb_out, *save, *file, *surb_keys, *extra;
    const char *sphinx_format;
    const char *strategy, *role;
    int via, to_gw, to, node_key, flip;
    unsigned count, min, gateways, layers, width;
    unsigned base_port;
    double wait_s;
    uint64_t delay_us, mean_delay_us, pool_interval_us, lambda_m;
    uint32_t pool_keep, threshold;
    bool drop_cover, ack;
};

static void die(const char *msg)
{
    fprintf(stderr, "mixtest: %s\n", msg);
    exit(2);
}

static struct pki_doc *load_doc(const struct opts *o)
{
    char err[256];
    if (!o->net)
        die("--net DIR is required");
    struct pki_doc *d = tnet_load_doc(o->net, err, sizeof(err));
    if (!d)
        die(err);
    return d;
}

/* Descriptor of node index i: nodes are written in the order of DIR/nodes.txt. */
static const struct pki_descriptor *node_at(const struct opts *o, struct pki_doc *doc, int i)
{
    char p[600], line[256];
    uint8_t id[32];
    snprintf(p, sizeof(p), "%s/nodes.txt", o->net);
    FILE *f = fopen(p, "r");
    if (!f)
        die("cannot read nodes.txt");
    int k = 0;
    while (fgets(line, sizeof(line), f)) {
        if (k++ != i)
            continue;
        char b64[128];
        if (sscanf(line, "%*d %127s", b64) != 1 || !key_from_b64(b64, id, 32))
            break;
        fclose(f);
        const struct pki_descriptor *d = pki_doc_find(doc, id);
        if (!d)
            die("node not in the document");
        return d;
    }
    fclose(f);
    die("no such node index");
    return NULL;
}

static void load_client_key(const char *path, uint8_t sk[32], uint8_t pk[32])
{
    char err[256];
    if (!path || keyfile_read(path, KEYFILE_X25519_SECRET, sk, err, sizeof(err)) < 0)
        die(path ? err : "--key FILE is required");
    crypto_scalarmult_base(pk, sk);
}

static int cmd_mknet(const char *dir, const struct opts *o)
{
    struct tnet *t = calloc(1, sizeof(*t));
    char err[256], p[600], b[KEY_B64_MAX];

    snprintf(t->dir, sizeof(t->dir), "%s", dir);
    tnet_params_default(&t->params, (uint64_t)time(NULL));
    t->params.layers = o->layers;
    t->params.mean_delay_us = o->mean_delay_us;
    t->params.lambda_m_mhz = o->lambda_m;
    if (strcmp(o->strategy, "timed_pool") == 0) {
        t->params.strategy = PKI_STRATEGY_TIMED_POOL;
        t->params.pool_interval_us = o->pool_interval_us;
        t->params.pool_keep = o->pool_keep;
    } else if (strcmp(o->strategy, "threshold") == 0) {
        t->params.strategy = PKI_STRATEGY_THRESHOLD;
        t->params.threshold_n = o->threshold;
    }
    if (o->sphinx_format != NULL) {
        enum sphinx_format f;
        if (!sphinx_format_parse(o->sphinx_format, &f))
            die("--sphinx-format: classic or kem-x25519");
        t->params.sphinx_format = (uint32_t)f;
    }
    crypto_sign_keypair(t->auth_pk, t->auth_sk);
    unsigned idx = 0;
    for (unsigned g = 0; g < o->gateways; g++, idx++)
        (void)tnet_add(t, PKI_ROLE_GATEWAY | PKI_ROLE_PROVIDER, 0, (uint16_t)(o->base_port + idx),
                       (uint16_t)(o->base_port + 100 + idx), false);
    for (unsigned l = 1; l <= o->layers; l++)
        for (unsigned w = 0; w < o->width; w++, idx++)
            (void)tnet_add(t, PKI_ROLE_MIX, l, (uint16_t)(o->base_port + idx),
                           (uint16_t)(o->base_port + 100 + idx), false);
    if (tnet_write(t, o->extra, err, sizeof(err)) < 0)
        die(err);
    snprintf(p, sizeof(p), "%s/nodes.txt", dir);
    FILE *f = fopen(p, "w");
    for (size_t i = 0; f && i < t->n; i++) {
        key_to_b64(t->nodes[i].id, 32, b);
        fprintf(f, "%zu %s %u %u %u\n", i, b, t->nodes[i].layer, t->nodes[i].port,
                t->nodes[i].metrics_port);
    }
    if (f)
        fclose(f);
    sodium_memzero(t, sizeof(*t));
    free(t);
    return 0;
}

static int cmd_keygen(const char *path)
{
    uint8_t sk[32], pk[32];
    char err[256], b[KEY_B64_MAX];
    randombytes_buf(sk, 32);
    crypto_scalarmult_base(pk, sk);
    if (keyfile_write(path, KEYFILE_X25519_SECRET, sk, false, err, sizeof(err)) < 0)
        die(err);
    key_to_b64(pk, 32, b);
    printf("%s\n", b);
    return 0;
}

static int connect_client(struct blink *b, const struct pki_descriptor *gw, const uint8_t sk[32],
                          const uint8_t pk[32])
{
    char err[256];
    struct mix_rng rng = mix_rng_system();
    if (blink_connect(b, gw->address, sk, pk, gw->link_key, LINK_ROLE_CLIENT, &rng, 5000, err,
                      sizeof(err)) < 0) {
        fprintf(stderr, "mixtest: %s\n", err);
        return -1;
    }
    return 0;
}

static int queue_packet(struct blink *b, const uint8_t *pkt, size_t len)
{
    struct mix_frame f;
    uint8_t *enc;
    size_t elen;
    memset(&f, 0, sizeof(f));
    f.type = FRAME_SPHINX_PACKET;
    f.u.sphinx.packet.ptr = pkt;
    f.u.sphinx.packet.len = len;
    if (!(enc = frame_encode_alloc(&f, &elen, NULL)))
        return -1;
    int rc = blink_queue(b, enc, elen);
    free(enc);
    return rc;
}

/* The SURB-ack: mixes of every layer, then the sender's own gateway. */
static size_t make_surb(const struct opts *o, struct pki_doc *doc, const struct sphinx_geometry *g,
                        const struct pki_descriptor *via, const uint8_t my_pk[32], uint8_t *surb)
{
    const struct pki_descriptor *path[PKI_MAX_LAYERS + 2];
    struct sphinx_hop hops[SPHINX_MAX_HOPS_LIMIT];
    uint8_t keys[SPHINX_SURB_KEYS_LEN], surb_id[16], inbox[32];
    struct mix_rng rng = mix_rng_system();
    uint64_t e = pki_doc_epoch(doc);

    int h = pki_random_path(doc, &rng, via->id, via->id, path, MIX_ARRAY_LEN(path));
    if (h < 2)
        die("no path for the SURB");
    for (int i = 1; i < h; i++) {
        memcpy(hops[i - 1].node_id, path[i]->id, 32);
        memcpy(hops[i - 1].public_key, pki_doc_sphinx_key(doc, path[i]->id, e), 32);
        hops[i - 1].delay_us = (uint32_t)o->delay_us;
    }
    randombytes_buf(surb_id, sizeof(surb_id));
    payload_inbox_id(inbox, my_pk);
    if (sphinx_surb_create(g, &rng, hops, (size_t)h - 1, inbox, surb_id, surb, keys) != SPHINX_OK)
        die("sphinx_surb_create failed");
    FILE *f = fopen(o->surb_out, "wb");
    if (!f || fwrite(keys, 1, sizeof(keys), f) != sizeof(keys))
        die("cannot write the SURB keys");
    fclose(f);
    return sphinx_surb_len(g);
}

static int build_packet(const struct opts *o, struct pki_doc *doc, const struct sphinx_geometry *g,
                        const struct pki_descriptor *via, const struct pki_descriptor *to,
                        const uint8_t my_pk[32], uint8_t *pkt)
{
    const struct pki_descriptor *path[PKI_MAX_LAYERS + 2];
    struct sphinx_hop hops[SPHINX_MAX_HOPS_LIMIT];
    uint8_t recipient[32] = { 0 }, to_pk[32], *surb = NULL;
    struct mix_rng rng = mix_rng_system();
    uint64_t e = pki_doc_epoch(doc);
    size_t surb_len = 0, plen = sphinx_plaintext_len(g);

    int h = pki_random_path(doc, &rng, via->id, to->id, path, MIX_ARRAY_LEN(path));
    if (h < 1)
        die("no path");
    for (int i = 0; i < h; i++) {
        memcpy(hops[i].node_id, path[i]->id, 32);
        memcpy(hops[i].public_key, pki_doc_sphinx_key(doc, path[i]->id, e), 32);
        hops[i].delay_us = (uint32_t)o->delay_us;
    }
    if (!o->drop_cover) {
        if (!o->to_pub || !key_from_b64(o->to_pub, to_pk, 32))
            die("--to-pub B64 is required");
        payload_inbox_id(recipient, to_pk);
    }
    if (o->surb_out) {
        surb = malloc(sphinx_surb_len(g));
        surb_len = make_surb(o, doc, g, via, my_pk, surb);
    }
    uint8_t *plain = calloc(1, plen);
    const char *msg = o->message ? o->message : "hello";
    if (payload_build(plain, plen, surb, surb_len, (const uint8_t *)msg, strlen(msg)) != PAYLOAD_OK)
        die("payload_build failed");
    int rc =
        sphinx_create(g, &rng, hops, (size_t)h, recipient, plain, plen, pkt) == SPHINX_OK ? 0 : -1;
    free(plain);
    free(surb);
    return rc;
}

static int cmd_send(const struct opts *o)
{
    struct pki_doc *doc = load_doc(o);
    const struct pki_params *pp = pki_doc_params(doc);
    struct sphinx_geometry g = { pp->max_hops, pp->payload_len,
                                 (enum sphinx_format)pp->sphinx_format };
    uint8_t sk[32], pk[32];
    struct blink b;

    load_client_key(o->key, sk, pk);
    const struct pki_descriptor *via = node_at(o, doc, o->via);
    const struct pki_descriptor *to = node_at(o, doc, o->to_gw);
    size_t plen = sphinx_packet_len(&g);
    uint8_t *pkt = malloc(plen);
    if (o->count == 0 && o->save) {
        /* Build one packet and keep it for later (sendraw), sending nothing. */
        FILE *f = fopen(o->save, "wb");
        if (build_packet(o, doc, &g, via, to, pk, pkt) < 0 || !f || fwrite(pkt, 1, plen, f) != plen)
            die("cannot build or save the packet");
        fclose(f);
        printf("saved 1\n");
        free(pkt);
        pki_doc_free(doc);
        return 0;
    }
    if (connect_client(&b, via, sk, pk) < 0)
        return 2;
    for (unsigned i = 0; i < o->count; i++) {
        if (build_packet(o, doc, &g, via, to, pk, pkt) < 0 || queue_packet(&b, pkt, plen) < 0)
            die("cannot build or queue a packet");
        if (o->save && i == 0) {
            FILE *f = fopen(o->save, "wb");
            if (!f || fwrite(pkt, 1, plen, f) != plen)
                die("cannot save the packet");
            fclose(f);
        }
    }
    if (blink_flush(&b) < 0)
        die("write failed");
    /* Give the gateway a moment to read before our FIN. */
    usleep(200000);
    blink_close(&b);
    printf("sent %u\n", o->count);
    free(pkt);
    pki_doc_free(doc);
    return 0;
}

static int cmd_sendraw(const struct opts *o)
{
    struct pki_doc *doc = load_doc(o);
    uint8_t sk[32], pk[32], buf[65536];
    struct blink b;

    load_client_key(o->key, sk, pk);
    FILE *f = o->file ? fopen(o->file, "rb") : NULL;
    if (!f)
        die("--file F is required");
    size_t len = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    if (o->flip >= 0 && (size_t)o->flip < len)
        buf[o->flip] ^= 0x01;
    if (connect_client(&b, node_at(o, doc, o->via), sk, pk) < 0)
        return 2;
    if (queue_packet(&b, buf, len) < 0 || blink_flush(&b) < 0)
        die("send failed");
    usleep(200000);
    blink_close(&b);
    printf("sent 1\n");
    pki_doc_free(doc);
    return 0;
}

static void print_msg(const struct opts *o, struct pki_doc *doc, const struct frame_inbox_msg *m)
{
    printf("msg seq=%llu reply=%d len=%zu", (unsigned long long)m->seq, m->is_reply ? 1 : 0,
           m->payload.len);
    if (m->is_reply && o->surb_keys) {
        const struct pki_params *pp = pki_doc_params(doc);
        struct sphinx_geometry g = { pp->max_hops, pp->payload_len,
                                     (enum sphinx_format)pp->sphinx_format };
        uint8_t keys[SPHINX_SURB_KEYS_LEN];
        FILE *f = fopen(o->surb_keys, "rb");
        bool ok = f && fread(keys, 1, sizeof(keys), f) == sizeof(keys);
        if (f)
            fclose(f);
        uint8_t *plain = malloc(sphinx_plaintext_len(&g));
        ok = ok && sphinx_surb_open(&g, keys, m->payload.ptr, m->payload.len, plain) == SPHINX_OK;
        ok = ok && memcmp(plain, PAYLOAD_ACK_MAGIC, strlen(PAYLOAD_ACK_MAGIC)) == 0;
        printf(" ack=%s", ok ? "valid" : "invalid");
        free(plain);
    } else if (!m->is_reply) {
        printf(" text=");
        for (size_t i = 0; i < m->payload.len && i < 200; i++) {
            uint8_t c = m->payload.ptr[i];
            putchar(c >= 32 && c < 127 ? c : '.');
        }
    }
    putchar('\n');
}

static int cmd_fetch(const struct opts *o)
{
    struct pki_doc *doc = load_doc(o);
    uint8_t sk[32], pk[32];
    struct blink b;
    unsigned got = 0;
    struct timespec t0, t1;

    load_client_key(o->key, sk, pk);
    if (connect_client(&b, node_at(o, doc, o->via), sk, pk) < 0)
        return 2;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        struct mix_frame req, *resp = NULL;
        uint8_t *enc, *raw = NULL;
        size_t elen, rlen;
        memset(&req, 0, sizeof(req));
        req.type = FRAME_FETCH_REQUEST;
        if (!(enc = frame_encode_alloc(&req, &elen, NULL)) || blink_queue(&b, enc, elen) < 0 ||
            blink_flush(&b) < 0)
            die("fetch request failed");
        free(enc);
        if (blink_recv(&b, &raw, &rlen, 5000) != 0)
            die("no fetch response");
        if (!frame_decode(raw, rlen, 1u << 24, &resp, NULL) || resp->type != FRAME_FETCH_RESPONSE)
            die("bad fetch response");
        free(raw);
        uint64_t *seqs = calloc(resp->u.fetch_resp.n_msgs + 1, sizeof(*seqs));
        for (size_t i = 0; i < resp->u.fetch_resp.n_msgs; i++) {
            print_msg(o, doc, &resp->u.fetch_resp.msgs[i]);
            seqs[i] = resp->u.fetch_resp.msgs[i].seq;
        }
        got += (unsigned)resp->u.fetch_resp.n_msgs;
        if (o->ack && resp->u.fetch_resp.n_msgs) {
            struct mix_frame ack;
            memset(&ack, 0, sizeof(ack));
            ack.type = FRAME_FETCH_ACK;
            ack.u.fetch_ack.seqs = seqs;
            ack.u.fetch_ack.n_seqs = resp->u.fetch_resp.n_msgs;
            if (!(enc = frame_encode_alloc(&ack, &elen, NULL)) || blink_queue(&b, enc, elen) < 0 ||
                blink_flush(&b) < 0)
                die("fetch ack failed");
            free(enc);
        }
        bool more = resp->u.fetch_resp.remaining > 0;
        free(seqs);
        frame_free(resp);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double el = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
        if ((got >= o->min && !more) || el > o->wait_s)
            break;
        if (!more)
            usleep(100000);
    }
    usleep(100000);
    blink_close(&b);
    printf("fetched %u\n", got);
    pki_doc_free(doc);
    return got >= o->min ? 0 : 1;
}

static int cmd_probe(const struct opts *o)
{
    struct pki_doc *doc = load_doc(o);
    const struct pki_descriptor *d = node_at(o, doc, o->to);
    uint8_t sk[32], pk[32];
    char err[256], p[600];
    struct blink b;
    struct mix_rng rng = mix_rng_system();

    randombytes_buf(sk, 32);
    if (o->node_key >= 0) {
        snprintf(p, sizeof(p), "%s/node%d/link.key", o->net, o->node_key);
        if (keyfile_read(p, KEYFILE_X25519_SECRET, sk, err, sizeof(err)) < 0)
            die(err);
    }
    crypto_scalarmult_base(pk, sk);
    enum link_role role = strcmp(o->role, "client") == 0 ? LINK_ROLE_CLIENT : LINK_ROLE_NODE;
    int rc = blink_connect(&b, d->address, sk, pk, d->link_key, role, &rng, 3000, err, sizeof(err));
    pki_doc_free(doc);
    if (rc < 0) {
        printf("refused\n");
        return 1;
    }
    blink_close(&b);
    printf("accepted\n");
    return 0;
}

/* Unwrap a saved packet with node I's Sphinx key (what node I would forward). */
static int cmd_unwrap(const struct opts *o, const char *out_path)
{
    struct pki_doc *doc = load_doc(o);
    const struct pki_params *pp = pki_doc_params(doc);
    struct sphinx_geometry g = { pp->max_hops, pp->payload_len,
                                 (enum sphinx_format)pp->sphinx_format };
    uint8_t sk[32], buf[65536], out[65536];
    struct sphinx_result res;
    char err[256], p[600];

    snprintf(p, sizeof(p), "%s/node%d/sphinx-%llu.key", o->net, o->to,
             (unsigned long long)pki_doc_epoch(doc));
    if (keyfile_read(p, KEYFILE_X25519_SECRET, sk, err, sizeof(err)) < 0)
        die(err);
    FILE *f = o->file ? fopen(o->file, "rb") : NULL;
    if (!f)
        die("--file F is required");
    size_t len = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    if (sphinx_unwrap(&g, sk, NULL, buf, len, out, sizeof(out), &res) != SPHINX_OK_FORWARD)
        die("unwrap did not give a forward packet");
    f = fopen(out_path, "wb");
    if (!f || fwrite(out, 1, res.out_len, f) != res.out_len)
        die("cannot write");
    fclose(f);
    pki_doc_free(doc);
    return 0;
}

/* Send a saved packet to node --to over a node link with node K's link key. */
static int cmd_sendnode(const struct opts *o)
{
    struct pki_doc *doc = load_doc(o);
    const struct pki_descriptor *d = node_at(o, doc, o->to);
    uint8_t sk[32], pk[32], buf[65536];
    char err[256], p[600];
    struct blink b;
    struct mix_rng rng = mix_rng_system();

    snprintf(p, sizeof(p), "%s/node%d/link.key", o->net, o->node_key);
    if (keyfile_read(p, KEYFILE_X25519_SECRET, sk, err, sizeof(err)) < 0)
        die(err);
    crypto_scalarmult_base(pk, sk);
    FILE *f = o->file ? fopen(o->file, "rb") : NULL;
    if (!f)
        die("--file F is required");
    size_t len = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    if (blink_connect(&b, d->address, sk, pk, d->link_key, LINK_ROLE_NODE, &rng, 3000, err,
                      sizeof(err)) < 0)
        die(err);
    if (queue_packet(&b, buf, len) < 0 || blink_flush(&b) < 0)
        die("send failed");
    usleep(200000);
    blink_close(&b);
    printf("sent 1\n");
    pki_doc_free(doc);
    return 0;
}

static int cmd_flood(const struct opts *o)
{
    struct pki_doc *doc = load_doc(o);
    const struct pki_params *pp = pki_doc_params(doc);
    struct sphinx_geometry g = { pp->max_hops, pp->payload_len,
                                 (enum sphinx_format)pp->sphinx_format };
    const struct pki_descriptor *d = node_at(o, doc, o->to);
    uint8_t sk[32], pk[32], to_pk[32], recipient[32];
    char err[256], p[600];
    struct blink b;
    struct mix_rng rng = mix_rng_system();
    struct sphinx_hop hop;
    size_t plen = sphinx_packet_len(&g), tlen = sphinx_plaintext_len(&g);
    uint8_t *pkt = malloc(plen), *plain = calloc(1, tlen);

    snprintf(p, sizeof(p), "%s/node%d/link.key", o->net, o->node_key);
    if (keyfile_read(p, KEYFILE_X25519_SECRET, sk, err, sizeof(err)) < 0)
        die(err);
    crypto_scalarmult_base(pk, sk);
    if (!o->to_pub || !key_from_b64(o->to_pub, to_pk, 32))
        die("--to-pub B64 is required");
    payload_inbox_id(recipient, to_pk);
    memset(&hop, 0, sizeof(hop));
    memcpy(hop.node_id, d->id, 32);
    memcpy(hop.public_key, pki_doc_sphinx_key(doc, d->id, pki_doc_epoch(doc)), 32);
    if (!pkt || !plain ||
        payload_build(plain, tlen, NULL, 0, (const uint8_t *)"flood", 5) != PAYLOAD_OK)
        die("payload_build failed");
    if (blink_connect(&b, d->address, sk, pk, d->link_key, LINK_ROLE_NODE, &rng, 3000, err,
                      sizeof(err)) < 0)
        die(err);
    /* Built and sent in rounds of 64: the writes block while the node does not read. */
    for (unsigned i = 0; i < o->count; i++) {
        if (sphinx_create(&g, &rng, &hop, 1, recipient, plain, tlen, pkt) != SPHINX_OK ||
            queue_packet(&b, pkt, plen) < 0)
            die("cannot build or queue a packet");
        if ((i % 64 == 63 || i + 1 == o->count) && blink_flush(&b) < 0)
            die("send failed");
    }
    usleep(200000);
    blink_close(&b);
    printf("sent %u\n", o->count);
    free(pkt);
    free(plain);
    pki_doc_free(doc);
    return 0;
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmd_fetchtime(const struct opts *o)
{
    struct pki_doc *doc = load_doc(o);
    uint8_t sk[32], pk[32];
    struct blink b;
    double worst = 0, best = 1e9;
    uint64_t *acks = NULL;
    size_t n_acks = 0;

    load_client_key(o->key, sk, pk);
    if (connect_client(&b, node_at(o, doc, o->via), sk, pk) < 0)
        return 2;
    for (unsigned i = 0; i < o->count; i++) {
        struct mix_frame req, *resp = NULL;
        uint8_t *enc, *raw = NULL;
        size_t elen, rlen;
        memset(&req, 0, sizeof(req));
        req.type = FRAME_FETCH_REQUEST;
        req.u.fetch_req.max_messages = 4;
        req.u.fetch_req.acks = acks;
        req.u.fetch_req.n_acks = n_acks;
        double t0 = mono_s();
        if (!(enc = frame_encode_alloc(&req, &elen, NULL)) || blink_queue(&b, enc, elen) < 0 ||
            blink_flush(&b) < 0)
            die("fetch request failed");
        free(enc);
        free(acks);
        acks = NULL;
        n_acks = 0;
        int rc = blink_recv(&b, &raw, &rlen, (int)(o->wait_s * 1000));
        double dt = mono_s() - t0;
        if (dt > worst)
            worst = dt;
        if (dt < best)
            best = dt;
        if (rc != 0) {
            printf("fetch %u: no answer within %.1f s\n", i, o->wait_s);
            worst = o->wait_s + 1;
            break;
        }
        if (!frame_decode(raw, rlen, 1u << 24, &resp, NULL) || resp->type != FRAME_FETCH_RESPONSE)
            die("bad fetch response");
        free(raw);
        if (o->ack && resp->u.fetch_resp.n_msgs) {
            n_acks = resp->u.fetch_resp.n_msgs;
            acks = calloc(n_acks, sizeof(*acks));
            for (size_t k = 0; acks && k < n_acks; k++)
                acks[k] = resp->u.fetch_resp.msgs[k].seq;
            if (!acks)
                n_acks = 0;
        }
        frame_free(resp);
        usleep(100000);
    }
    free(acks);
    blink_close(&b);
    printf("max_ms %.1f min_ms %.1f\n", worst * 1000, best * 1000);
    pki_doc_free(doc);
    return worst <= o->wait_s ? 0 : 1;
}

static int cmd_garbage(const struct opts *o)
{
    struct pki_doc *doc = load_doc(o);
    uint8_t sk[32], pk[32], junk[64];
    struct blink b;
    uint8_t *raw = NULL;
    size_t rlen;

    load_client_key(o->key, sk, pk);
    if (connect_client(&b, node_at(o, doc, o->via), sk, pk) < 0)
        return 2;
    memset(junk, 0xff, sizeof(junk));
    if (blink_queue(&b, junk, sizeof(junk)) < 0 || blink_flush(&b) < 0)
        die("send failed");
    int rc = blink_recv(&b, &raw, &rlen, 5000);
    free(raw);
    blink_close(&b);
    pki_doc_free(doc);
    printf("%s\n", rc < 0 ? "closed" : "still open");
    return rc < 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    static const struct option lo[] = {
        { "net", 1, 0, 'N' },
        { "key", 1, 0, 'k' },
        { "via", 1, 0, 'v' },
        { "to-pub", 1, 0, 'p' },
        { "to-gw", 1, 0, 'g' },
        { "message", 1, 0, 'm' },
        { "count", 1, 0, 'c' },
        { "delay-us", 1, 0, 'd' },
        { "surb-ack", 1, 0, 'S' },
        { "save", 1, 0, 's' },
        { "file", 1, 0, 'f' },
        { "flip", 1, 0, 'F' },
        { "min", 1, 0, 'n' },
        { "wait", 1, 0, 'w' },
        { "ack", 0, 0, 'a' },
        { "surb-keys", 1, 0, 'K' },
        { "to", 1, 0, 't' },
        { "role", 1, 0, 'r' },
        { "node-key", 1, 0, 'e' },
        { "drop-cover", 0, 0, 'D' },
        { "base-port", 1, 0, 'P' },
        { "gateways", 1, 0, 'G' },
        { "layers", 1, 0, 'L' },
        { "width", 1, 0, 'W' },
        { "strategy", 1, 0, 'T' },
        { "mean-delay-us", 1, 0, 'M' },
        { "pool-interval-us", 1, 0, 'I' },
        { "pool-keep", 1, 0, 'R' },
        { "threshold", 1, 0, 'H' },
        { "lambda-m", 1, 0, 'l' },
        { "extra", 1, 0, 'x' },
        { "sphinx-format", 1, 0, 'X' },
        { 0, 0, 0, 0 },
    };
    struct opts o = { .via = 0,
                      .to_gw = 1,
                      .to = 0,
                      .node_key = -1,
                      .flip = -1,
                      .count = 1,
                      .min = 1,
                      .gateways = 2,
                      .layers = 3,
                      .width = 1,
                      .base_port = 30000,
                      .wait_s = 10,
                      .mean_delay_us = 1000,
                      .pool_interval_us = 200000,
                      .threshold = 2,
                      .strategy = "poisson",
                      .role = "node" };
    int c;

    if (sodium_init() < 0 || argc < 2)
        die("usage: mixtest mknet|keygen|pub|send|sendraw|fetch|probe|garbage ... (see source)");
    const char *cmd = argv[1];
    /* short-slice US CMD...: run CMD with a US-microsecond scheduler slice
     * (what a latency-tuned parent would hand down to it). */
    if (strcmp(cmd, "short-slice") == 0 && argc > 3) {
        if (mix_sched_short_slice((unsigned)atoi(argv[2])) < 0)
            fprintf(stderr, "mixtest: slice not set: %s\n", strerror(errno));
        execvp(argv[3], argv + 3);
        die("exec failed");
    }
    optind = 2;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'N': o.net = optarg; break;
        case 'k': o.key = optarg; break;
        case 'v': o.via = atoi(optarg); break;
        case 'p': o.to_pub = optarg; break;
        case 'g': o.to_gw = atoi(optarg); break;
        case 'm': o.message = optarg; break;
        case 'c': o.count = (unsigned)atoi(optarg); break;
        case 'd': o.delay_us = strtoull(optarg, NULL, 10); break;
        case 'S': o.surb_out = optarg; break;
        case 's': o.save = optarg; break;
        case 'f': o.file = optarg; break;
        case 'F': o.flip = atoi(optarg); break;
        case 'n': o.min = (unsigned)atoi(optarg); break;
        case 'w': o.wait_s = atof(optarg); break;
        case 'a': o.ack = true; break;
        case 'K': o.surb_keys = optarg; break;
        case 't': o.to = atoi(optarg); break;
        case 'r': o.role = optarg; break;
        case 'e': o.node_key = atoi(optarg); break;
        case 'D': o.drop_cover = true; break;
        case 'P': o.base_port = (unsigned)atoi(optarg); break;
        case 'G': o.gateways = (unsigned)atoi(optarg); break;
        case 'L': o.layers = (unsigned)atoi(optarg); break;
        case 'W': o.width = (unsigned)atoi(optarg); break;
        case 'T': o.strategy = optarg; break;
        case 'M': o.mean_delay_us = strtoull(optarg, NULL, 10); break;
        case 'I': o.pool_interval_us = strtoull(optarg, NULL, 10); break;
        case 'R': o.pool_keep = (uint32_t)atoi(optarg); break;
        case 'H': o.threshold = (uint32_t)atoi(optarg); break;
        case 'l': o.lambda_m = strtoull(optarg, NULL, 10); break;
        case 'x': o.extra = optarg; break;
        case 'X': o.sphinx_format = optarg; break;
        default: die("bad option");
        }
    }
    if (strcmp(cmd, "mknet") == 0) {
        if (optind >= argc)
            die("mknet DIR");
        return cmd_mknet(argv[optind], &o);
    }
    if (strcmp(cmd, "keygen") == 0 && optind < argc)
        return cmd_keygen(argv[optind]);
    if (strcmp(cmd, "pub") == 0 && optind < argc) {
        uint8_t sk[32], pk[32];
        char b[KEY_B64_MAX];
        load_client_key(argv[optind], sk, pk);
        key_to_b64(pk, 32, b);
        printf("%s\n", b);
        return 0;
    }
    if (strcmp(cmd, "send") == 0)
        return cmd_send(&o);
    if (strcmp(cmd, "sendraw") == 0)
        return cmd_sendraw(&o);
    if (strcmp(cmd, "fetch") == 0)
        return cmd_fetch(&o);
    if (strcmp(cmd, "probe") == 0)
        return cmd_probe(&o);
    if (strcmp(cmd, "garbage") == 0)
        return cmd_garbage(&o);
    if (strcmp(cmd, "sendnode") == 0)
        return cmd_sendnode(&o);
    if (strcmp(cmd, "flood") == 0)
        return cmd_flood(&o);
    if (strcmp(cmd, "fetchtime") == 0)
        return cmd_fetchtime(&o);
    if (strcmp(cmd, "unwrap") == 0 && optind < argc)
        return cmd_unwrap(&o, argv[optind]);
    die("unknown command");
    return 2;
}
