/*
 * Fuzz target: arbitrary frames into mixnode's live link handler
 * (node_handle_frame, node/receive.c) on an in-process node
 * (node/node_harness.c): frame decode, the per-peer rules, the packet
 * pipeline (unwrap, exit, inbox store, SURB-ack, mixing queue), fetch and
 * ack, and document handling on authority links.
 *
 * Input: byte 0 picks the peer (0 client, 1 node, 2 authority), the rest
 * is one frame as it would arrive on that link.  The node's Sphinx key and
 * the client's key are fixed, so seeds can carry packets that unwrap and
 * deliver.  NODE_LINK_WRITE_SEEDS=DIR writes such seeds and exits.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "frame.h"
#include "log.h"
#include "node_harness.h"
#include "payload.h"
#include "sphinx.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct node *node;
static struct peer *peers[3];
static char dir[128];
static uint8_t client_pk[32];

static void cleanup(void)
{
    char cmd[200];
    for (int i = 0; i < 3; i++)
        node_harness_peer_free(node, peers[i]);
    node_harness_free(node);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cleanup failed\n");
}

static void write_seed(const char *d, const char *name, uint8_t kind, const struct mix_frame *f)
{
    char path[600];
    size_t len;
    uint8_t *enc = frame_encode_alloc(f, &len, NULL);
    snprintf(path, sizeof(path), "%s/%s", d, name);
    FILE *fp = fopen(path, "wb");
    if (enc && fp) {
        fputc(kind, fp);
        fwrite(enc, 1, len, fp);
    }
    if (fp)
        fclose(fp);
    free(enc);
}

static void write_seeds(const char *d, const uint8_t sphinx_pk[32])
{
    struct sphinx_geometry g = sphinx_geometry_default();
    struct mix_rng rng = mix_rng_system();
    struct sphinx_hop hop;
    uint8_t inbox[32], zero[32] = { 0 }, *plain = calloc(1, sphinx_plaintext_len(&g));
    uint8_t *pkt = malloc(sphinx_packet_len(&g)), surb[1024], keys[SPHINX_SURB_KEYS_LEN], sid[16];
    struct mix_frame f;

    memset(&hop, 0, sizeof(hop));
    memcpy(hop.public_key, sphinx_pk, 32);
    payload_inbox_id(inbox, client_pk);
    memset(&f, 0, sizeof(f));
    f.type = FRAME_SPHINX_PACKET;
    f.u.sphinx.packet.ptr = pkt;
    f.u.sphinx.packet.len = sphinx_packet_len(&g);
    /* deliver with a SURB-ack, deliver plain, drop cover, from a client and a node */
    struct sphinx_hop sh = hop;
    memset(sh.node_id, 0x42, 32);
    memset(sid, 1, 16);
    if (sphinx_surb_create(&g, &rng, &sh, 1, inbox, sid, surb, keys) != SPHINX_OK ||
        payload_build(plain, sphinx_plaintext_len(&g), surb, sphinx_surb_len(&g),
                      (const uint8_t *)"seed", 4) != PAYLOAD_OK ||
        sphinx_create(&g, &rng, &hop, 1, inbox, plain, sphinx_plaintext_len(&g), pkt) != SPHINX_OK)
        exit(1);
    write_seed(d, "deliver_ack", 0, &f);
    if (payload_build(plain, sphinx_plaintext_len(&g), NULL, 0, (const uint8_t *)"hi", 2) !=
            PAYLOAD_OK ||
        sphinx_create(&g, &rng, &hop, 1, inbox, plain, sphinx_plaintext_len(&g), pkt) != SPHINX_OK)
        exit(1);
    write_seed(d, "deliver_node", 1, &f);
    if (sphinx_create(&g, &rng, &hop, 1, zero, plain, sphinx_plaintext_len(&g), pkt) != SPHINX_OK)
        exit(1);
    write_seed(d, "drop_cover", 0, &f);
    memset(&f, 0, sizeof(f));
    f.type = FRAME_FETCH_REQUEST;
    f.u.fetch_req.max_messages = 3;
    write_seed(d, "fetch", 0, &f);
    uint64_t seqs[2] = { 1, 2 };
    f.type = FRAME_FETCH_ACK;
    f.u.fetch_ack.seqs = seqs;
    f.u.fetch_ack.n_seqs = 2;
    write_seed(d, "fetch_ack", 0, &f);
    memset(&f, 0, sizeof(f));
    f.type = FRAME_DOCUMENT_RESPONSE;
    f.u.doc_resp.epoch = 1;
    f.u.doc_resp.signed_document.ptr = (const uint8_t *)"\x82\x41\x00\x80";
    f.u.doc_resp.signed_document.len = 4;
    write_seed(d, "doc_response", 2, &f);
    memset(&f, 0, sizeof(f));
    f.type = FRAME_DESCRIPTOR_UPLOAD_REPLY;
    f.u.desc_reply.accepted = false;
    f.u.desc_reply.reason = "no";
    write_seed(d, "upload_reply", 2, &f);
    memset(&f, 0, sizeof(f));
    f.type = FRAME_ERROR;
    f.u.error.code = 1;
    f.u.error.reason = "x";
    write_seed(d, "error_from_node", 1, &f);
    free(plain);
    free(pkt);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    uint8_t sk[32], pk[32], csk[32];
    (void)argc;
    (void)argv;
    if (sodium_init() < 0)
        abort();
    mix_log_init("fuzz_node_link", MIX_LOG_ERR, false);
    memset(sk, 0x11, 32);
    memset(csk, 0x22, 32);
    sphinx_public_key(sk, pk);
    crypto_scalarmult_base(client_pk, csk);
    const char *seeds = getenv("NODE_LINK_WRITE_SEEDS");
    if (seeds) {
        write_seeds(seeds, pk);
        exit(0);
    }
    snprintf(dir, sizeof(dir), "/tmp/fuzz_node_link.%d", (int)getpid());
    if (mkdir(dir, 0700) < 0)
        abort();
    node = node_harness_new(dir, sk);
    if (!node)
        abort();
    peers[0] = node_harness_peer(node, HARNESS_PEER_CLIENT, client_pk);
    peers[1] = node_harness_peer(node, HARNESS_PEER_NODE, client_pk);
    peers[2] = node_harness_peer(node, HARNESS_PEER_AUTHORITY, client_pk);
    if (!peers[0] || !peers[1] || !peers[2])
        abort();
    atexit(cleanup);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!node)
        LLVMFuzzerInitialize(NULL, NULL);
    if (size < 1)
        return 0;
    (void)node_handle_frame(node, peers[data[0] % 3], data + 1, size - 1);
    return 0;
}
