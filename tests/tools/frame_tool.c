/*
 * frame_tool: write sample frames, or read one, for the protoc interop test
 * (tests/integration/frame_protoc_decode.sh).
 *
 *   frame_tool write TYPE > frame.bin   TYPE: sphinx, fetch_response, fetch_ack,
 *                                       signature_exchange, local_status_reply, error
 *   frame_tool read < frame.bin         decode with lib/frame and print a summary
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"

#define B(p, n) ((struct frame_buf){ (const uint8_t *)(p), (n) })

static const uint8_t ID16[16] = "0123456789abcdef";
static const uint8_t ID32[32] = "0123456789abcdef0123456789ABCDEF";
static uint8_t SIG64[64];
static const struct frame_inbox_msg MSGS[2] = {
    { 7, { (const uint8_t *)"hello", 5 }, { ID16, 16 }, true },
    { 8, { (const uint8_t *)"world", 5 }, { NULL, 0 }, false },
};
static const uint64_t SEQS[3] = { 7, 8, 1099511627776ull };
static const struct frame_msg_status STATUS[1] = {
    { { ID16, 16 }, FRAME_MSG_ACKNOWLEDGED, 3, 3, 0, 0, 0, NULL },
};

static int sample(const char *type, struct mix_frame *f)
{
    memset(f, 0, sizeof *f);
    if (strcmp(type, "sphinx") == 0) {
        f->type = FRAME_SPHINX_PACKET;
        f->u.sphinx.packet = B("\x01\x02\x03sphinx", 9);
    } else if (strcmp(type, "fetch_response") == 0) {
        f->type = FRAME_FETCH_RESPONSE;
        f->u.fetch_resp.msgs = MSGS;
        f->u.fetch_resp.n_msgs = 2;
        f->u.fetch_resp.remaining = 5;
    } else if (strcmp(type, "fetch_ack") == 0) {
        f->type = FRAME_FETCH_ACK;
        f->u.fetch_ack.seqs = SEQS;
        f->u.fetch_ack.n_seqs = 3;
    } else if (strcmp(type, "signature_exchange") == 0) {
        f->type = FRAME_SIGNATURE_EXCHANGE;
        f->u.sig.epoch = 4242;
        f->u.sig.document_hash = B(ID32, 32);
        f->u.sig.signature = B(SIG64, 64);
        f->u.sig.authority_key = B(ID32, 32);
    } else if (strcmp(type, "local_status_reply") == 0) {
        f->type = FRAME_LOCAL_STATUS_REPLY;
        f->u.local_status_reply.msgs = STATUS;
        f->u.local_status_reply.n_msgs = 1;
        f->u.local_status_reply.address = "alice@gw";
        f->u.local_status_reply.epoch = 99;
        f->u.local_status_reply.connected = true;
        f->u.local_status_reply.queue_len = 2;
    } else if (strcmp(type, "local_message") == 0) {
        f->type = FRAME_LOCAL_MESSAGE;
        f->u.local_msg.message_id = B(ID16, 16);
        f->u.local_msg.body = B("an answer", 9);
        f->u.local_msg.received_at = 1700000000;
        f->u.local_msg.is_reply = true;
        f->u.local_msg.in_reply_to = B(ID32, 16);
    } else if (strcmp(type, "error") == 0) {
        f->type = FRAME_ERROR;
        f->u.error.code = FRAME_ERR_NOT_FOUND;
        f->u.error.reason = "no document for that epoch";
    } else {
        return -1;
    }
    return 0;
}

static int do_write(const char *type)
{
    struct mix_frame f;
    const char *why = NULL;
    size_t len;
    if (sample(type, &f) != 0) {
        fprintf(stderr, "frame_tool: unknown type %s\n", type);
        return 2;
    }
    uint8_t *buf = frame_encode_alloc(&f, &len, &why);
    if (buf == NULL) {
        fprintf(stderr, "frame_tool: encode: %s\n", why);
        return 1;
    }
    int rc = fwrite(buf, 1, len, stdout) == len ? 0 : 1;
    free(buf);
    return rc;
}

static void print_hex(const char *name, struct frame_buf b)
{
    printf(" %s=", name);
    for (size_t i = 0; i < b.len; i++)
        printf("%02x", b.ptr[i]);
}

static void print_frame(const struct mix_frame *f)
{
    printf("type=%s", frame_type_name(f->type));
    switch (f->type) {
    case FRAME_SPHINX_PACKET: print_hex("packet", f->u.sphinx.packet); break;
    case FRAME_FETCH_RESPONSE:
        printf(" n=%zu remaining=%u", f->u.fetch_resp.n_msgs, f->u.fetch_resp.remaining);
        for (size_t i = 0; i < f->u.fetch_resp.n_msgs; i++)
            printf(" seq=%llu", (unsigned long long)f->u.fetch_resp.msgs[i].seq);
        break;
    case FRAME_FETCH_ACK:
        for (size_t i = 0; i < f->u.fetch_ack.n_seqs; i++)
            printf(" seq=%llu", (unsigned long long)f->u.fetch_ack.seqs[i]);
        break;
    case FRAME_DOCUMENT_REQUEST:
        printf(" epoch=%llu", (unsigned long long)f->u.doc_req.epoch);
        break;
    case FRAME_SIGNATURE_EXCHANGE: printf(" epoch=%llu", (unsigned long long)f->u.sig.epoch); break;
    case FRAME_ERROR: printf(" code=%u reason=%s", f->u.error.code, f->u.error.reason); break;
    case FRAME_LOCAL_SEND:
        printf(" address=%s reply_surbs=%u", f->u.local_send.address, f->u.local_send.reply_surbs);
        print_hex("message", f->u.local_send.message);
        break;
    default: break;
    }
    printf("\n");
}

static int do_read(void)
{
    static uint8_t buf[FRAME_MAX_DEFAULT + 1];
    size_t len = fread(buf, 1, sizeof buf, stdin);
    struct mix_frame *f = NULL;
    const char *why = NULL;
    if (!frame_decode(buf, len, FRAME_MAX_DEFAULT, &f, &why)) {
        printf("rejected: %s\n", why);
        return 1;
    }
    print_frame(f);
    frame_free(f);
    return 0;
}

int main(int argc, char **argv)
{
    if (sodium_init() < 0)
        return 1;
    memset(SIG64, 0xab, sizeof SIG64);
    if (argc == 3 && strcmp(argv[1], "write") == 0)
        return do_write(argv[2]);
    if (argc == 2 && strcmp(argv[1], "read") == 0)
        return do_read();
    fprintf(stderr, "usage: frame_tool write TYPE | frame_tool read\n");
    return 2;
}
