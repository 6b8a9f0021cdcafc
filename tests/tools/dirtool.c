/*
 * dirtool: a test tool that plays a node or a client against mixdir.
 *
 *   dirtool nodekeys DIR
 *       create DIR/identity.key and DIR/link.key; print the Ed25519 public
 *       key (for `[registration] node =`).
 *   dirtool upload -A HOST:PORT -K AUTH_LINK_PUB -k NODEDIR -g GENESIS -l EPOCH_LEN
 *                  [-r mix|gateway|provider|gateway,provider] [-L LAYER] [-s NODE_ADDR]
 *                  [-n KEYS] [--bad-sig] [--stale]
 *       sign a descriptor with the node's key (Sphinx keys for the current
 *       epoch and the next KEYS-1) and upload it.  Prints "accepted: why" and
 *       exits 0, or "refused: why" and exits 1.
 *   dirtool fetch -A HOST:PORT -K AUTH_LINK_PUB -a AUTH_ED_PUB... -t K [-e EPOCH]
 *                 [-o FILE]
 *       fetch a document (epoch 0 = the authority's current), verify it with
 *       lib/pki against the -a keys and threshold, print
 *       "epoch E nodes N signatures S" and exit 0; exit 1 if it is missing
 *       or does not verify.
 *   dirtool garbage -A HOST:PORT -K AUTH_LINK_PUB
 *       send a frame that does not decode (the authority must close).
 *   dirtool peerframe -A HOST:PORT -K AUTH_LINK_PUB
 *       send a SignatureExchange as a non-authority; exit 0 if refused with
 *       an "unauthorized" error.
 *   dirtool peerset -A HOST:PORT -K AUTH_LINK_PUB -p AUTHORITY_DIR -k NODE_DIR
 *                   -g GENESIS -l EPOCH_LEN [-e EPOCH] [upload's -r -L -s -n --bad-sig]
 *       as the authority whose keys are in AUTHORITY_DIR, send a descriptor
 *       set for EPOCH (default: the current one) holding NODE_DIR's
 *       descriptor, then ask for the peer's set: print "set of N" and exit 0
 *       when it answers (so ours was handled first).
 * Exit 2: usage or connection failure.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <ev.h>
#include <sodium.h>

#include "conn.h"
#include "dir_exchange.h"
#include "frame.h"
#include "keyfile.h"
#include "log.h"
#include "pki.h"

/*
 * Send one frame to the authority and wait for one reply frame (decoded
 * into *out), or for the connection to close.  0 ok, -1 closed/timeout.
 */
static int exchange(const char *addr, const uint8_t auth_link[32], const uint8_t *frame, size_t len,
                    struct mix_frame **out)
{
    return dir_exchange(addr, auth_link, LINK_ROLE_NODE, frame, len, 10.0, out);
}

static uint64_t current_epoch(uint64_t genesis, uint64_t len)
{
    struct pki_timing t = { genesis, len, 0 };
    return pki_epoch_of(&t, (uint64_t)time(NULL));
}

static int cmd_nodekeys(const char *dir)
{
    uint8_t pk[32], sk[64], xpk[32], xsk[32];
    char path[1100], err[256], b64[KEY_B64_MAX];
    if (mkdir(dir, 0700) < 0) {
        perror(dir);
        return 2;
    }
    crypto_sign_keypair(pk, sk);
    crypto_box_keypair(xpk, xsk);
    snprintf(path, sizeof path, "%s/identity.key", dir);
    if (keyfile_write(path, KEYFILE_ED25519_SECRET, sk, false, err, sizeof err) < 0)
        goto fail;
    snprintf(path, sizeof path, "%s/link.key", dir);
    if (keyfile_write(path, KEYFILE_X25519_SECRET, xsk, false, err, sizeof err) < 0)
        goto fail;
    key_to_b64(pk, 32, b64);
    printf("%s\n", b64);
    return 0;
fail:
    fprintf(stderr, "dirtool: %s\n", err);
    return 2;
}

struct opts {
    const char *addr, *auth_link, *node_dir, *role, *node_addr, *out, *peer_dir;
    const char *auth_keys[32];
    size_t n_auth_keys;
    uint64_t genesis, epoch_len, layer, n_keys, threshold, epoch;
    bool bad_sig, stale;
};

static uint32_t parse_roles(const char *s)
{
    uint32_t r = 0;
    if (strstr(s, "gateway"))
        r |= PKI_ROLE_GATEWAY;
    if (strstr(s, "provider"))
        r |= PKI_ROLE_PROVIDER;
    if (strstr(s, "mix"))
        r |= PKI_ROLE_MIX;
    return r;
}

static int build_descriptor(const struct opts *o, uint8_t **out, size_t *out_len)
{
    char path[1100], err[256];
    uint8_t sk[64], xsk[32];
    struct pki_descriptor d;
    memset(&d, 0, sizeof d);
    snprintf(path, sizeof path, "%s/identity.key", o->node_dir);
    if (keyfile_read(path, KEYFILE_ED25519_SECRET, sk, err, sizeof err) < 0)
        goto fail;
    snprintf(path, sizeof path, "%s/link.key", o->node_dir);
    if (keyfile_read(path, KEYFILE_X25519_SECRET, xsk, err, sizeof err) < 0)
        goto fail;
    memcpy(d.identity_key, sk + 32, 32);
    pki_node_id(d.identity_key, d.id);
    crypto_scalarmult_base(d.link_key, xsk);
    d.roles = parse_roles(o->role);
    d.layer = d.roles == PKI_ROLE_MIX ? (uint32_t)o->layer : 0;
    snprintf(d.address, sizeof d.address, "%s", o->node_addr);
    uint64_t cur = current_epoch(o->genesis, o->epoch_len);
    uint64_t first = o->stale ? (cur > 3 ? cur - 3 : 1) : cur;
    d.n_sphinx_keys = o->stale ? 2 : o->n_keys;
    for (size_t i = 0; i < d.n_sphinx_keys; i++) {
        uint8_t ssk[32];
        d.sphinx_keys[i].epoch = first + i;
        crypto_box_keypair(d.sphinx_keys[i].key, ssk);
    }
    enum pki_err e = pki_descriptor_sign(&d, sk, out, out_len);
    sodium_memzero(sk, sizeof sk);
    if (e != PKI_OK) {
        fprintf(stderr, "dirtool: sign: %s\n", pki_strerror(e));
        return -1;
    }
    if (o->bad_sig)
        (*out)[*out_len - 1] ^= 0x01; /* the signature is the last field */
    return 0;
fail:
    fprintf(stderr, "dirtool: %s\n", err);
    return -1;
}

static int cmd_upload(const struct opts *o, const uint8_t auth_link[32])
{
    uint8_t *desc = NULL;
    size_t desc_len;
    if (o->node_dir == NULL || o->epoch_len == 0 || build_descriptor(o, &desc, &desc_len) < 0)
        return 2;
    struct mix_frame f, *reply = NULL;
    memset(&f, 0, sizeof f);
    f.type = FRAME_DESCRIPTOR_UPLOAD;
    f.u.desc_upload.signed_descriptor = (struct frame_buf){ desc, desc_len };
    size_t len;
    uint8_t *b = frame_encode_alloc(&f, &len, NULL);
    int rc = 2;
    if (b != NULL && exchange(o->addr, auth_link, b, len, &reply) == 0) {
        if (reply->type == FRAME_DESCRIPTOR_UPLOAD_REPLY) {
            printf("%s: %s\n", reply->u.desc_reply.accepted ? "accepted" : "refused",
                   reply->u.desc_reply.reason ? reply->u.desc_reply.reason : "");
            rc = reply->u.desc_reply.accepted ? 0 : 1;
        } else {
            printf("unexpected reply %s\n", frame_type_name(reply->type));
        }
    } else {
        fprintf(stderr, "dirtool: no reply from %s\n", o->addr);
    }
    frame_free(reply);
    free(b);
    free(desc);
    return rc;
}

static int verify_and_print(const struct opts *o, const uint8_t *doc, size_t len, uint64_t epoch)
{
    uint8_t keys[32][PKI_KEY_LEN];
    for (size_t i = 0; i < o->n_auth_keys; i++)
        if (!key_from_b64(o->auth_keys[i], keys[i], PKI_KEY_LEN)) {
            fprintf(stderr, "dirtool: bad key %s\n", o->auth_keys[i]);
            return 2;
        }
    struct pki_verify_opts vo = {
        .authorities = (const uint8_t(*)[PKI_KEY_LEN])keys,
        .n_authorities = o->n_auth_keys,
        .threshold = o->threshold,
        .now = (uint64_t)time(NULL),
        .want_epoch = epoch,
    };
    struct pki_doc *d = NULL;
    enum pki_err e = pki_verify(doc, len, &vo, &d);
    if (e != PKI_OK) {
        printf("invalid: %s\n", pki_strerror(e));
        return 1;
    }
    const uint8_t *body;
    size_t body_len, n_sigs = 0;
    struct pki_sig *sigs = NULL;
    if (pki_signed_doc_parse(doc, len, &body, &body_len, &sigs, &n_sigs) != PKI_OK)
        n_sigs = 0;
    free(sigs);
    printf("epoch %llu nodes %zu signatures %zu\n", (unsigned long long)pki_doc_epoch(d),
           pki_doc_node_count(d), n_sigs);
    pki_doc_free(d);
    if (o->out != NULL) {
        FILE *f = fopen(o->out, "wb");
        if (f == NULL || fwrite(doc, 1, len, f) != len) {
            perror(o->out);
            if (f)
                fclose(f);
            return 2;
        }
        fclose(f);
    }
    return 0;
}

static int cmd_fetch(const struct opts *o, const uint8_t auth_link[32])
{
    if (o->n_auth_keys == 0 || o->threshold == 0)
        return 2;
    struct mix_frame f, *reply = NULL;
    memset(&f, 0, sizeof f);
    f.type = FRAME_DOCUMENT_REQUEST;
    f.u.doc_req.epoch = o->epoch;
    size_t len;
    uint8_t *b = frame_encode_alloc(&f, &len, NULL);
    int rc = 2;
    if (b != NULL && exchange(o->addr, auth_link, b, len, &reply) == 0) {
        if (reply->type == FRAME_DOCUMENT_RESPONSE) {
            rc = verify_and_print(o, reply->u.doc_resp.signed_document.ptr,
                                  reply->u.doc_resp.signed_document.len,
                                  o->epoch ? o->epoch : reply->u.doc_resp.epoch);
        } else if (reply->type == FRAME_ERROR) {
            printf("error %u: %s\n", reply->u.error.code, reply->u.error.reason);
            rc = 1;
        }
    } else {
        fprintf(stderr, "dirtool: no reply from %s\n", o->addr);
    }
    frame_free(reply);
    free(b);
    return rc;
}

static int cmd_garbage(const struct opts *o, const uint8_t auth_link[32])
{
    static const uint8_t junk[] = { 0xff, 0xff, 0xff, 0x01, 0x02 };
    struct mix_frame *reply = NULL;
    int r = exchange(o->addr, auth_link, junk, sizeof junk, &reply);
    frame_free(reply);
    printf(r < 0 ? "closed\n" : "answered\n");
    return r < 0 ? 0 : 1;
}

/* An authority-only frame from a non-authority: must be refused. */
static int cmd_peerframe(const struct opts *o, const uint8_t auth_link[32])
{
    uint8_t junk[32 + 64 + 32];
    randombytes_buf(junk, sizeof junk);
    struct mix_frame f, *reply = NULL;
    memset(&f, 0, sizeof f);
    f.type = FRAME_SIGNATURE_EXCHANGE;
    f.u.sig.epoch = 1;
    f.u.sig.document_hash = (struct frame_buf){ junk, 32 };
    f.u.sig.signature = (struct frame_buf){ junk + 32, 64 };
    f.u.sig.authority_key = (struct frame_buf){ junk + 96, 32 };
    size_t len;
    uint8_t *b = frame_encode_alloc(&f, &len, NULL);
    int rc = 2;
    if (b != NULL && exchange(o->addr, auth_link, b, len, &reply) == 0) {
        if (reply->type == FRAME_ERROR) {
            printf("error %u: %s\n", reply->u.error.code, reply->u.error.reason);
            rc = reply->u.error.code == FRAME_ERR_UNAUTHORIZED ? 0 : 1;
        } else {
            rc = 1;
        }
    }
    frame_free(reply);
    free(b);
    return rc;
}

/* A peer authority's descriptor set, then a request for the answerer's own set. */
static int cmd_peerset(const struct opts *o, const uint8_t auth_link[32])
{
    char path[1100], err[256];
    uint8_t sk[32], *desc = NULL;
    size_t desc_len;
    if (o->peer_dir == NULL || o->node_dir == NULL || o->epoch_len == 0)
        return 2;
    snprintf(path, sizeof path, "%s/link.key", o->peer_dir);
    if (keyfile_read(path, KEYFILE_X25519_SECRET, sk, err, sizeof err) < 0) {
        fprintf(stderr, "dirtool: %s\n", err);
        return 2;
    }
    if (build_descriptor(o, &desc, &desc_len) < 0)
        return 2;
    uint64_t epoch = o->epoch ? o->epoch : current_epoch(o->genesis, o->epoch_len);
    struct frame_buf one = { desc, desc_len };
    struct mix_frame set, req, *reply = NULL;
    memset(&set, 0, sizeof set);
    set.type = FRAME_DESCRIPTOR_SET;
    set.u.desc_set.epoch = epoch;
    set.u.desc_set.descs = &one;
    set.u.desc_set.n_descs = 1;
    memset(&req, 0, sizeof req);
    req.type = FRAME_DESCRIPTOR_SET_REQUEST;
    req.u.desc_set_req.epoch = epoch;
    size_t lens[2];
    uint8_t *b[2] = { frame_encode_alloc(&set, &lens[0], NULL),
                      frame_encode_alloc(&req, &lens[1], NULL) };
    int rc = 2;
    if (b[0] != NULL && b[1] != NULL &&
        dir_exchange_as(o->addr, auth_link, LINK_ROLE_AUTHORITY, sk, (const uint8_t *const *)b,
                        lens, 2, 10.0, &reply) == 0) {
        if (reply->type == FRAME_DESCRIPTOR_SET) {
            printf("set of %zu\n", reply->u.desc_set.n_descs);
            rc = 0;
        } else {
            printf("unexpected reply %s\n", frame_type_name(reply->type));
            rc = 1;
        }
    } else {
        fprintf(stderr, "dirtool: no answer from %s\n", o->addr);
    }
    sodium_memzero(sk, sizeof sk);
    frame_free(reply);
    free(b[0]);
    free(b[1]);
    free(desc);
    return rc;
}

int main(int argc, char **argv)
{
    static const struct option lo[] = {
        { "bad-sig", no_argument, NULL, 'B' },
        { "stale", no_argument, NULL, 'S' },
        { NULL, 0, NULL, 0 },
    };
    struct opts o = { .role = "mix", .node_addr = "127.0.0.1:1", .layer = 1, .n_keys = 3 };
    uint8_t auth_link[32];
    int ch;
    if (sodium_init() < 0 || argc < 2)
        return 2;
    mix_log_init("dirtool", MIX_LOG_WARN, false);
    const char *cmd = argv[1];
    if (strcmp(cmd, "nodekeys") == 0)
        return argc == 3 ? cmd_nodekeys(argv[2]) : 2;
    optind = 2;
    while ((ch = getopt_long(argc, argv, "A:K:k:g:l:r:L:s:n:a:t:e:o:p:", lo, NULL)) != -1) {
        switch (ch) {
        case 'A': o.addr = optarg; break;
        case 'K': o.auth_link = optarg; break;
        case 'k': o.node_dir = optarg; break;
        case 'g': o.genesis = strtoull(optarg, NULL, 10); break;
        case 'l': o.epoch_len = strtoull(optarg, NULL, 10); break;
        case 'r': o.role = optarg; break;
        case 'L': o.layer = strtoull(optarg, NULL, 10); break;
        case 's': o.node_addr = optarg; break;
        case 'n': o.n_keys = strtoull(optarg, NULL, 10); break;
        case 'a':
            if (o.n_auth_keys < 32)
                o.auth_keys[o.n_auth_keys++] = optarg;
            break;
        case 't': o.threshold = strtoull(optarg, NULL, 10); break;
        case 'e': o.epoch = strtoull(optarg, NULL, 10); break;
        case 'o': o.out = optarg; break;
        case 'p': o.peer_dir = optarg; break;
        case 'B': o.bad_sig = true; break;
        case 'S': o.stale = true; break;
        default: return 2;
        }
    }
    if (o.addr == NULL || o.auth_link == NULL || !key_from_b64(o.auth_link, auth_link, 32) ||
        o.n_keys < 1 || o.n_keys > PKI_MAX_SPHINX_KEYS) {
        fprintf(stderr, "dirtool: need -A HOST:PORT and -K AUTHORITY_LINK_KEY\n");
        return 2;
    }
    if (strcmp(cmd, "upload") == 0)
        return cmd_upload(&o, auth_link);
    if (strcmp(cmd, "fetch") == 0)
        return cmd_fetch(&o, auth_link);
    if (strcmp(cmd, "garbage") == 0)
        return cmd_garbage(&o, auth_link);
    if (strcmp(cmd, "peerframe") == 0)
        return cmd_peerframe(&o, auth_link);
    if (strcmp(cmd, "peerset") == 0)
        return cmd_peerset(&o, auth_link);
    fprintf(stderr, "dirtool: unknown command %s\n", cmd);
    return 2;
}
