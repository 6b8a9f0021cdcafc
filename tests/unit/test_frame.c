/*
 * Frames: a round trip of every frame type, and rejection (with a reason)
 * of oversized, truncated, corrupt and invalid input.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "tap.h"

static const uint8_t ID16[16] = "0123456789abcdef";
static const uint8_t ID32[32] = "0123456789abcdef0123456789ABCDEF";
static uint8_t SIG64[64];
static const uint8_t PAYLOAD[] = "some payload bytes";

static bool buf_eq(struct frame_buf a, struct frame_buf b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

static bool str_eq(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

#define B(p, n) ((struct frame_buf){ (const uint8_t *)(p), (n) })

/* Encode f, decode it again, and check the type and the encoded size; caller frees. */
static struct mix_frame *roundtrip(const struct mix_frame *f)
{
    size_t len = 0, len2 = 0;
    const char *why = NULL;
    uint8_t *buf = frame_encode_alloc(f, &len, &why);
    CHECKF(buf != NULL, "encode %s: %s", frame_type_name(f->type), why);
    if (buf == NULL)
        return NULL;
    CHECK(frame_encoded_len(f) == len);
    uint8_t *buf2 = malloc(len);
    CHECK(frame_encode(f, buf2, len, &len2, &why) && len2 == len && memcmp(buf, buf2, len) == 0);
    CHECK(!frame_encode(f, buf2, len - 1, &len2, &why));
    free(buf2);
    struct mix_frame *d = NULL;
    bool ok = frame_decode(buf, len, FRAME_MAX_DEFAULT, &d, &why);
    CHECKF(ok, "decode %s: %s", frame_type_name(f->type), why);
    /* One byte less than the maximum is "too large", before any unpacking. */
    struct mix_frame *d2 = NULL;
    CHECK(!frame_decode(buf, len, len - 1, &d2, &why) && d2 == NULL);
    CHECK(why != NULL && strstr(why, "maximum") != NULL);
    /* Every strict prefix of a frame is rejected (the body is one length-delimited field). */
    for (size_t cut = 0; cut < len; cut++) {
        CHECKF(!frame_decode(buf, cut, FRAME_MAX_DEFAULT, &d2, &why), "prefix %zu accepted", cut);
        CHECK(d2 == NULL && why != NULL);
    }
    free(buf);
    if (d != NULL)
        CHECK(d->type == f->type);
    return d;
}

static void test_link_frames(void)
{
    struct mix_frame f, *d;

    memset(&f, 0, sizeof f);
    f.type = FRAME_SPHINX_PACKET;
    f.u.sphinx.packet = B(PAYLOAD, sizeof PAYLOAD);
    if ((d = roundtrip(&f)) != NULL)
        CHECK(buf_eq(d->u.sphinx.packet, f.u.sphinx.packet));
    frame_free(d);

    memset(&f, 0, sizeof f);
    f.type = FRAME_FETCH_REQUEST;
    f.u.fetch_req.max_messages = 77;
    if ((d = roundtrip(&f)) != NULL)
        CHECK(d->u.fetch_req.max_messages == 77);
    frame_free(d);

    /* An empty body (max_messages 0) is still a fetch request. */
    f.u.fetch_req.max_messages = 0;
    if ((d = roundtrip(&f)) != NULL)
        CHECK(d->u.fetch_req.max_messages == 0);
    frame_free(d);

    struct frame_inbox_msg msgs[3] = {
        { 1, B(PAYLOAD, 5), B(ID16, 16), true },
        { UINT64_MAX, B(PAYLOAD, sizeof PAYLOAD), B(NULL, 0), false },
        { 42, B("x", 1), B(ID16, 16), false },
    };
    memset(&f, 0, sizeof f);
    f.type = FRAME_FETCH_RESPONSE;
    f.u.fetch_resp.msgs = msgs;
    f.u.fetch_resp.n_msgs = 3;
    f.u.fetch_resp.remaining = 9;
    if ((d = roundtrip(&f)) != NULL) {
        CHECK(d->u.fetch_resp.n_msgs == 3 && d->u.fetch_resp.remaining == 9);
        for (size_t i = 0; i < 3 && d->u.fetch_resp.n_msgs == 3; i++) {
            const struct frame_inbox_msg *m = &d->u.fetch_resp.msgs[i];
            CHECK(m->seq == msgs[i].seq && m->is_reply == msgs[i].is_reply);
            CHECK(buf_eq(m->payload, msgs[i].payload) && buf_eq(m->surb_id, msgs[i].surb_id));
        }
    }
    frame_free(d);

    /* An empty inbox answer. */
    f.u.fetch_resp.n_msgs = 0;
    f.u.fetch_resp.msgs = NULL;
    if ((d = roundtrip(&f)) != NULL)
        CHECK(d->u.fetch_resp.n_msgs == 0 && d->u.fetch_resp.remaining == 9);
    frame_free(d);

    uint64_t seqs[4] = { 1, 2, 1ull << 40, UINT64_MAX };
    memset(&f, 0, sizeof f);
    f.type = FRAME_FETCH_ACK;
    f.u.fetch_ack.seqs = seqs;
    f.u.fetch_ack.n_seqs = 4;
    if ((d = roundtrip(&f)) != NULL) {
        CHECK(d->u.fetch_ack.n_seqs == 4);
        CHECK(d->u.fetch_ack.n_seqs == 4 && memcmp(d->u.fetch_ack.seqs, seqs, sizeof seqs) == 0);
    }
    frame_free(d);
}

static void test_directory_frames(void)
{
    struct mix_frame f, *d;

    memset(&f, 0, sizeof f);
    f.type = FRAME_DESCRIPTOR_UPLOAD;
    f.u.desc_upload.signed_descriptor = B(PAYLOAD, sizeof PAYLOAD);
    if ((d = roundtrip(&f)) != NULL)
        CHECK(buf_eq(d->u.desc_upload.signed_descriptor, f.u.desc_upload.signed_descriptor));
    frame_free(d);

    memset(&f, 0, sizeof f);
    f.type = FRAME_DESCRIPTOR_UPLOAD_REPLY;
    f.u.desc_reply.accepted = false;
    f.u.desc_reply.reason = "bad signature";
    if ((d = roundtrip(&f)) != NULL)
        CHECK(!d->u.desc_reply.accepted && str_eq(d->u.desc_reply.reason, "bad signature"));
    frame_free(d);

    memset(&f, 0, sizeof f);
    f.type = FRAME_DOCUMENT_REQUEST;
    f.u.doc_req.epoch = 123456789;
    if ((d = roundtrip(&f)) != NULL)
        CHECK(d->u.doc_req.epoch == 123456789);
    frame_free(d);

    memset(&f, 0, sizeof f);
    f.type = FRAME_DOCUMENT_RESPONSE;
    f.u.doc_resp.epoch = 5;
    f.u.doc_resp.signed_document = B(PAYLOAD, 7);
    if ((d = roundtrip(&f)) != NULL)
        CHECK(d->u.doc_resp.epoch == 5 && buf_eq(d->u.doc_resp.signed_document, B(PAYLOAD, 7)));
    frame_free(d);

    memset(&f, 0, sizeof f);
    f.type = FRAME_DESCRIPTOR_SET_REQUEST;
    f.u.desc_set_req.epoch = 8;
    if ((d = roundtrip(&f)) != NULL)
        CHECK(d->u.desc_set_req.epoch == 8);
    frame_free(d);

    struct frame_buf descs[2] = { B(PAYLOAD, 3), B(ID32, 32) };
    memset(&f, 0, sizeof f);
    f.type = FRAME_DESCRIPTOR_SET;
    f.u.desc_set.epoch = 9;
    f.u.desc_set.descs = descs;
    f.u.desc_set.n_descs = 2;
    if ((d = roundtrip(&f)) != NULL) {
        CHECK(d->u.desc_set.epoch == 9 && d->u.desc_set.n_descs == 2);
        if (d->u.desc_set.n_descs == 2)
            CHECK(buf_eq(d->u.desc_set.descs[0], descs[0]) &&
                  buf_eq(d->u.desc_set.descs[1], descs[1]));
    }
    frame_free(d);

    memset(&f, 0, sizeof f);
    f.type = FRAME_SIGNATURE_REQUEST;
    f.u.sig_req.epoch = 10;
    if ((d = roundtrip(&f)) != NULL)
        CHECK(d->u.sig_req.epoch == 10);
    frame_free(d);

    memset(&f, 0, sizeof f);
    f.type = FRAME_SIGNATURE_EXCHANGE;
    f.u.sig.epoch = 11;
    f.u.sig.document_hash = B(ID32, 32);
    f.u.sig.signature = B(SIG64, 64);
    f.u.sig.authority_key = B(ID32, 32);
    if ((d = roundtrip(&f)) != NULL) {
        CHECK(d->u.sig.epoch == 11 && buf_eq(d->u.sig.document_hash, f.u.sig.document_hash));
        CHECK(buf_eq(d->u.sig.signature, f.u.sig.signature));
        CHECK(buf_eq(d->u.sig.authority_key, f.u.sig.authority_key));
    }
    frame_free(d);

    memset(&f, 0, sizeof f);
    f.type = FRAME_ERROR;
    f.u.error.code = FRAME_ERR_RATE_LIMITED;
    f.u.error.reason = "slow down";
    if ((d = roundtrip(&f)) != NULL)
        CHECK(d->u.error.code == FRAME_ERR_RATE_LIMITED && str_eq(d->u.error.reason, "slow down"));
    frame_free(d);
}

static void test_local_frames(void)
{
    struct mix_frame f, *d;

    memset(&f, 0, sizeof f);
    f.type = FRAME_LOCAL_SEND;
    f.u.local_send.address = "alice@gw1";
    f.u.local_send.message = B(PAYLOAD, sizeof PAYLOAD);
    f.u.local_send.reply_surbs = 3;
    if ((d = roundtrip(&f)) != NULL) {
        CHECK(str_eq(d->u.local_send.address, "alice@gw1") && d->u.local_send.reply_surbs == 3);
        CHECK(buf_eq(d->u.local_send.message, f.u.local_send.message));
    }
    frame_free(d);

    memset(&f, 0, sizeof f);
    f.type = FRAME_LOCAL_SEND_REPLY;
    f.u.local_send_reply.message_id = B(ID16, 16);
    if ((d = roundtrip(&f)) != NULL)
        CHECK(d->u.local_send_reply.code == 0 &&
              buf_eq(d->u.local_send_reply.message_id, B(ID16, 16)));
    frame_free(d);
    f.u.local_send_reply.message_id = B(NULL, 0);
    f.u.local_send_reply.code = FRAME_ERR_FULL;
    f.u.local_send_reply.reason = "queue full";
    if ((d = roundtrip(&f)) != NULL)
        CHECK(d->u.local_send_reply.code == FRAME_ERR_FULL &&
              str_eq(d->u.local_send_reply.reason, "queue full"));
    frame_free(d);

    memset(&f, 0, sizeof f);
    f.type = FRAME_LOCAL_RECV;
    f.u.local_recv.follow = true;
    f.u.local_recv.max = 4;
    if ((d = roundtrip(&f)) != NULL)
        CHECK(d->u.local_recv.follow && d->u.local_recv.max == 4);
    frame_free(d);

    memset(&f, 0, sizeof f);
    f.type = FRAME_LOCAL_MESSAGE;
    f.u.local_msg.message_id = B(ID16, 16);
    f.u.local_msg.body = B(PAYLOAD, 4);
    f.u.local_msg.can_reply = true;
    f.u.local_msg.received_at = 1700000000;
    if ((d = roundtrip(&f)) != NULL) {
        CHECK(d->u.local_msg.can_reply && d->u.local_msg.received_at == 1700000000);
        CHECK(buf_eq(d->u.local_msg.body, B(PAYLOAD, 4)));
        CHECK(!d->u.local_msg.is_reply && d->u.local_msg.in_reply_to.len == 0);
    }
    frame_free(d);
    /* A reply says which message it answers; in_reply_to without is_reply is refused. */
    f.u.local_msg.can_reply = false;
    f.u.local_msg.is_reply = true;
    f.u.local_msg.in_reply_to = B(ID16, 16);
    if ((d = roundtrip(&f)) != NULL) {
        CHECK(d->u.local_msg.is_reply && buf_eq(d->u.local_msg.in_reply_to, B(ID16, 16)));
    }
    frame_free(d);
    {
        size_t len;
        const char *why;
        f.u.local_msg.is_reply = false;
        uint8_t *enc = frame_encode_alloc(&f, &len, &why);
        CHECK(enc == NULL);
        free(enc);
        f.u.local_msg.is_reply = true;
        f.u.local_msg.in_reply_to = B(ID16, 15);
        enc = frame_encode_alloc(&f, &len, &why);
        CHECK(enc == NULL);
        free(enc);
    }

    memset(&f, 0, sizeof f);
    f.type = FRAME_LOCAL_RECV_END;
    f.u.local_recv_end.count = 2;
    f.u.local_recv_end.remaining = 1;
    if ((d = roundtrip(&f)) != NULL)
        CHECK(d->u.local_recv_end.count == 2 && d->u.local_recv_end.remaining == 1);
    frame_free(d);

    memset(&f, 0, sizeof f);
    f.type = FRAME_LOCAL_REPLY;
    f.u.local_reply.message_id = B(ID16, 16);
    f.u.local_reply.body = B(PAYLOAD, 2);
    if ((d = roundtrip(&f)) != NULL)
        CHECK(buf_eq(d->u.local_reply.body, B(PAYLOAD, 2)));
    frame_free(d);

    memset(&f, 0, sizeof f);
    f.type = FRAME_LOCAL_STATUS;
    if ((d = roundtrip(&f)) != NULL)
        CHECK(d->u.local_status.message_id.len == 0);
    frame_free(d);

    struct frame_msg_status st[2] = {
        { B(ID16, 16), FRAME_MSG_SENT, 4, 2, 1700000000, 5000, FRAME_DIR_OUT, "mix1peer" },
        { B(ID16, 16), FRAME_MSG_RECEIVING, 3, 1, 1700000001, 4000, FRAME_DIR_IN, NULL },
    };
    memset(&f, 0, sizeof f);
    f.type = FRAME_LOCAL_STATUS_REPLY;
    f.u.local_status_reply.msgs = st;
    f.u.local_status_reply.n_msgs = 2;
    f.u.local_status_reply.address = "bob@gw2";
    f.u.local_status_reply.epoch = 77;
    f.u.local_status_reply.connected = true;
    f.u.local_status_reply.gateway_id = B(ID32, 32);
    f.u.local_status_reply.queue_len = 6;
    f.u.local_status_reply.lambda_p_mhz = 2000;
    f.u.local_status_reply.fragment_len = 1485;
    if ((d = roundtrip(&f)) != NULL) {
        const __typeof__(d->u.local_status_reply) *r = &d->u.local_status_reply;
        CHECK(r->n_msgs == 2 && r->epoch == 77 && r->connected && r->queue_len == 6);
        CHECK(str_eq(r->address, "bob@gw2") && buf_eq(r->gateway_id, B(ID32, 32)));
        if (r->n_msgs == 2)
            CHECK(r->msgs[0].state == FRAME_MSG_SENT && r->msgs[0].fragments == 4 &&
                  r->msgs[0].acked == 2 && r->msgs[1].state == FRAME_MSG_RECEIVING &&
                  r->msgs[0].time == 1700000000 && r->msgs[0].size == 5000 &&
                  r->msgs[0].direction == FRAME_DIR_OUT && str_eq(r->msgs[0].peer, "mix1peer") &&
                  r->msgs[1].direction == FRAME_DIR_IN && r->msgs[1].size == 4000);
        CHECK(r->lambda_p_mhz == 2000 && r->fragment_len == 1485);
    }
    frame_free(d);
}

/* Frames the validator must refuse on encode (and therefore never emits). */
static void test_invalid_frames(void)
{
    struct mix_frame f;
    const char *why = NULL;
    size_t len;
    uint8_t out[256];

    memset(&f, 0, sizeof f);
    CHECK(!frame_check(&f, &why) && why != NULL); /* FRAME_NONE */
    f.type = (enum frame_type)14;
    CHECK(!frame_check(&f, &why));
    f.type = FRAME_SPHINX_PACKET; /* empty packet */
    CHECK(!frame_check(&f, &why));
    CHECK(frame_encoded_len(&f) == 0);
    CHECK(!frame_encode(&f, out, sizeof out, &len, &why));
    CHECK(frame_encode_alloc(&f, &len, &why) == NULL);

    memset(&f, 0, sizeof f);
    f.type = FRAME_SIGNATURE_EXCHANGE;
    f.u.sig.epoch = 1;
    f.u.sig.document_hash = B(ID32, 32);
    f.u.sig.signature = B(SIG64, 63); /* one byte short */
    f.u.sig.authority_key = B(ID32, 32);
    CHECK(!frame_check(&f, &why) && strstr(why, "signature") != NULL);
    f.u.sig.signature = B(SIG64, 64);
    CHECK(frame_check(&f, &why));
    f.u.sig.epoch = 0;
    CHECK(!frame_check(&f, &why));

    struct frame_inbox_msg m = { 1, B(PAYLOAD, 3), B(ID16, 15), false };
    memset(&f, 0, sizeof f);
    f.type = FRAME_FETCH_RESPONSE;
    f.u.fetch_resp.msgs = &m;
    f.u.fetch_resp.n_msgs = 1;
    CHECK(!frame_check(&f, &why) && strstr(why, "surb_id") != NULL);

    memset(&f, 0, sizeof f);
    f.type = FRAME_FETCH_ACK; /* seqs missing */
    f.u.fetch_ack.n_seqs = 2;
    CHECK(!frame_check(&f, &why));
    f.u.fetch_ack.n_seqs = 0; /* an empty (cover) ack is fine */
    CHECK(frame_check(&f, &why));

    memset(&f, 0, sizeof f);
    f.type = FRAME_LOCAL_SEND_REPLY; /* accepted needs an id */
    CHECK(!frame_check(&f, &why));

    memset(&f, 0, sizeof f);
    f.type = FRAME_ERROR; /* code 0 */
    CHECK(!frame_check(&f, &why));

    char longstr[FRAME_STR_MAX + 2];
    memset(longstr, 'a', sizeof longstr - 1);
    longstr[sizeof longstr - 1] = '\0';
    f.u.error.code = 1;
    f.u.error.reason = longstr;
    CHECK(!frame_check(&f, &why));

    struct frame_msg_status st = {
        B(ID16, 16), FRAME_MSG_SENT, 1, 2, 0, 0, 0, NULL
    }; /* acked > fragments */
    memset(&f, 0, sizeof f);
    f.type = FRAME_LOCAL_STATUS_REPLY;
    f.u.local_status_reply.msgs = &st;
    f.u.local_status_reply.n_msgs = 1;
    CHECK(!frame_check(&f, &why));
    st.acked = 1;
    st.state = 9;
    CHECK(!frame_check(&f, &why));

    memset(&f, 0, sizeof f);
    f.type = FRAME_DESCRIPTOR_UPLOAD; /* over the descriptor limit */
    static uint8_t big[FRAME_DESCRIPTOR_MAX + 1];
    f.u.desc_upload.signed_descriptor = B(big, sizeof big);
    CHECK(!frame_check(&f, &why));
    f.u.desc_upload.signed_descriptor = B(NULL, 5); /* length without bytes */
    CHECK(!frame_check(&f, &why));
    CHECK(!frame_check(NULL, &why));
}

static bool rejects(const uint8_t *b, size_t n, const char *want)
{
    struct mix_frame *d = NULL;
    const char *why = NULL;
    bool ok = frame_decode(b, n, FRAME_MAX_DEFAULT, &d, &why);
    if (ok) {
        frame_free(d);
        return false;
    }
    if (why == NULL || d != NULL)
        return false;
    if (want != NULL && strstr(why, want) == NULL) {
        printf("#   reason was \"%s\", wanted \"%s\"\n", why, want);
        return false;
    }
    return true;
}

/* Hand-made protobuf bytes that decode as protobuf but are not valid frames. */
static void test_corrupt_bytes(void)
{
    /* Empty input and an empty Frame: no body. */
    CHECK(rejects((const uint8_t *)"", 0, "no (known) body"));
    /* An unknown oneof member (field 14, length-delimited, empty). */
    static const uint8_t unknown_body[] = { 0x72, 0x00 };
    CHECK(rejects(unknown_body, sizeof unknown_body, "no (known) body"));
    /* SphinxPacket with an empty packet. */
    static const uint8_t empty_packet[] = { 0x0a, 0x00 };
    CHECK(rejects(empty_packet, sizeof empty_packet, "empty packet"));
    /* SignatureExchange with a 3-byte hash. */
    static const uint8_t short_hash[] = { 0x62, 0x07, 0x08, 0x01, 0x12, 0x03, 1, 2, 3 };
    CHECK(rejects(short_hash, sizeof short_hash, "document_hash"));
    /* A length running past the end. */
    static const uint8_t overrun[] = { 0x0a, 0x05, 0x0a, 0x10, 1, 2, 3 };
    CHECK(rejects(overrun, sizeof overrun, "undecodable"));
    /* Wire type 7 does not exist. */
    static const uint8_t bad_wire[] = { 0x0f, 0x00 };
    CHECK(rejects(bad_wire, sizeof bad_wire, "undecodable"));
    /* A varint of 11 bytes (10 is the most protobuf allows). */
    static const uint8_t long_varint[] = { 0x12, 0x0c, 0x08, 0xff, 0xff, 0xff, 0xff,
                                           0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 };
    CHECK(rejects(long_varint, sizeof long_varint, NULL));

    /* LocalSend whose address is not UTF-8 (0xff; an overlong "/"; a surrogate). */
    static const uint8_t bad_utf8[] = { 0xa2, 0x01, 0x07, 0x0a, 0x01, 0xff, 0x12, 0x02, 'h', 'i' };
    CHECK(rejects(bad_utf8, sizeof bad_utf8, "UTF-8"));
    static const uint8_t overlong[] = { 0xa2, 0x01, 0x08, 0x0a, 0x02, 0xc0,
                                        0xaf, 0x12, 0x02, 'h',  'i' };
    CHECK(rejects(overlong, sizeof overlong, "UTF-8"));
    static const uint8_t surrogate[] = { 0xa2, 0x01, 0x09, 0x0a, 0x03, 0xed,
                                         0xa0, 0x80, 0x12, 0x02, 'h',  'i' };
    CHECK(rejects(surrogate, sizeof surrogate, "UTF-8"));
    static const uint8_t good_utf8[] = { 0xa2, 0x01, 0x0a, 0x0a, 0x04, 0xf0, 0x9f,
                                         0x98, 0x80, 0x12, 0x02, 'h',  'i' };
    CHECK(!rejects(good_utf8, sizeof good_utf8, NULL));

    /* proto3 ignores unknown fields inside a known message (documented in wire.md). */
    static const uint8_t extra_field[] = { 0x0a, 0x06, 0x0a, 0x02, 'a', 'b', 0x48, 0x05 };
    struct mix_frame *d = NULL;
    const char *why = NULL;
    CHECKF(frame_decode(extra_field, sizeof extra_field, 64, &d, &why), "%s", why);
    if (d != NULL)
        CHECK(d->type == FRAME_SPHINX_PACKET && d->u.sphinx.packet.len == 2);
    frame_free(d);
    frame_free(NULL);

    /* Every single-bit flip of a valid frame either decodes to a valid frame or is refused. */
    struct frame_inbox_msg m = { 3, B(PAYLOAD, 6), B(ID16, 16), true };
    struct mix_frame f = { .type = FRAME_FETCH_RESPONSE };
    f.u.fetch_resp.msgs = &m;
    f.u.fetch_resp.n_msgs = 1;
    size_t len;
    uint8_t *buf = frame_encode_alloc(&f, &len, &why);
    CHECK(buf != NULL);
    size_t rejected = 0;
    for (size_t bit = 0; buf != NULL && bit < len * 8; bit++) {
        buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        if (frame_decode(buf, len, FRAME_MAX_DEFAULT, &d, &why)) {
            CHECK(frame_check(d, &why));
            frame_free(d);
        } else {
            rejected++;
        }
        buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    CHECK(rejected > 0);
    free(buf);
}

/* Random bytes never crash the decoder; anything accepted is a valid frame. */
static void test_random_bytes(void)
{
    uint8_t buf[64];
    int accepted = 0;
    for (int i = 0; i < 20000; i++) {
        size_t n = randombytes_uniform(sizeof buf + 1);
        randombytes_buf(buf, n);
        struct mix_frame *d = NULL;
        const char *why = NULL;
        if (frame_decode(buf, n, FRAME_MAX_DEFAULT, &d, &why)) {
            const char *w2 = NULL;
            CHECK(frame_check(d, &w2));
            accepted++;
            frame_free(d);
        } else {
            CHECK(why != NULL && d == NULL);
        }
    }
    printf("# %d of 20000 random inputs were valid frames\n", accepted);
}

static void test_type_names(void)
{
    CHECK(strcmp(frame_type_name(FRAME_SPHINX_PACKET), "sphinx_packet") == 0);
    CHECK(strcmp(frame_type_name(FRAME_LOCAL_STATUS_REPLY), "local_status_reply") == 0);
    CHECK(strcmp(frame_type_name(FRAME_NONE), "unknown") == 0);
}

/*
 * Fetch responses and acks are padded so their size depends only on what was
 * asked for: every message count, payload size and seq value gives the same
 * length, and the receiver sees exactly the messages without the padding.
 */
static void test_fetch_padding(void)
{
    static uint8_t payload[2048], sid[16];
    struct frame_inbox_msg msgs[8];
    const size_t sizes[] = { 1, 100, 1000, 2032, 2048 };
    const size_t want = frame_fetch_response_padded_len(8, sizeof payload);
    for (size_t n = 0; n <= 8; n++) {
        for (size_t si = 0; si < MIX_ARRAY_LEN(sizes); si++) {
            for (size_t i = 0; i < n; i++) {
                msgs[i] = (struct frame_inbox_msg){
                    .seq = i == 0 ? UINT64_MAX : (uint64_t)i * 977 * si,
                    .payload = { payload, sizes[(si + i) % MIX_ARRAY_LEN(sizes)] },
                    .surb_id = { sid, (i & 1) ? 16 : 0 },
                    .is_reply = i & 1,
                };
            }
            struct mix_frame f = { .type = FRAME_FETCH_RESPONSE };
            f.u.fetch_resp.msgs = msgs;
            f.u.fetch_resp.n_msgs = n;
            f.u.fetch_resp.remaining = (uint32_t)(n * 1000003u * si);
            f.u.fetch_resp.pad_to = want;
            size_t len = 0;
            const char *why = NULL;
            uint8_t *buf = frame_encode_alloc(&f, &len, &why);
            CHECKF(buf != NULL && len == want, "n=%zu si=%zu len=%zu want=%zu (%s)", n, si, len,
                   want, why ? why : "");
            struct mix_frame *d = NULL;
            CHECK(buf != NULL && frame_decode(buf, len, 1u << 20, &d, &why));
            if (d != NULL) {
                CHECK(d->type == FRAME_FETCH_RESPONSE && d->u.fetch_resp.n_msgs == n);
                for (size_t i = 0; i < n && i < d->u.fetch_resp.n_msgs; i++) {
                    CHECK(d->u.fetch_resp.msgs[i].seq == msgs[i].seq);
                    CHECK(d->u.fetch_resp.msgs[i].payload.len == msgs[i].payload.len);
                }
            }
            frame_free(d);
            free(buf);
        }
    }
    /* Every padded size the helpers give can be hit exactly, across the sizes
     * where length varints grow (bodies of 128 and 16384 bytes). */
    for (uint32_t n = 0; n < 2000; n += (n < 40 ? 1 : 97)) {
        static uint64_t many[2000];
        for (uint32_t k = 0; k <= n; k += (n / 3 + 1)) {
            struct mix_frame f = { .type = FRAME_FETCH_ACK };
            f.u.fetch_ack.seqs = many;
            f.u.fetch_ack.n_seqs = k;
            f.u.fetch_ack.pad_to = frame_fetch_ack_padded_len(n);
            size_t len = 0;
            uint8_t *buf = frame_encode_alloc(&f, &len, NULL);
            CHECKF(buf != NULL && len == f.u.fetch_ack.pad_to, "ack n=%u k=%u", n, k);
            free(buf);
        }
    }
    for (size_t plen = 1; plen < 300; plen++) {
        struct frame_inbox_msg m = { .seq = 1, .payload = { payload, plen } };
        struct mix_frame f = { .type = FRAME_FETCH_RESPONSE };
        f.u.fetch_resp.pad_to = frame_fetch_response_padded_len(1, plen);
        for (size_t k = 0; k <= 1; k++) {
            f.u.fetch_resp.msgs = k ? &m : NULL;
            f.u.fetch_resp.n_msgs = k;
            size_t len = 0;
            uint8_t *buf = frame_encode_alloc(&f, &len, NULL);
            CHECKF(buf != NULL && len == f.u.fetch_resp.pad_to, "resp plen=%zu k=%zu", plen, k);
            free(buf);
        }
    }
    /* An empty ack (sent when nothing arrived) has the same size as a full one. */
    uint64_t seqs[16];
    for (size_t i = 0; i < 16; i++)
        seqs[i] = UINT64_MAX - i;
    size_t lens[2];
    for (size_t k = 0; k < 2; k++) {
        struct mix_frame f = { .type = FRAME_FETCH_ACK };
        f.u.fetch_ack.seqs = k ? seqs : NULL;
        f.u.fetch_ack.n_seqs = k ? 16 : 0;
        f.u.fetch_ack.pad_to = frame_fetch_ack_padded_len(16);
        uint8_t *buf = frame_encode_alloc(&f, &lens[k], NULL);
        CHECK(buf != NULL);
        struct mix_frame *d = NULL;
        const char *why;
        CHECK(buf != NULL && frame_decode(buf, lens[k], 1u << 20, &d, &why));
        CHECK(d != NULL && d->u.fetch_ack.n_seqs == (k ? 16u : 0u));
        frame_free(d);
        free(buf);
    }
    CHECK(lens[0] == lens[1]);
    /* A frame that does not fit its padded size is refused, not truncated. */
    struct mix_frame f = { .type = FRAME_FETCH_ACK };
    f.u.fetch_ack.seqs = seqs;
    f.u.fetch_ack.n_seqs = 16;
    f.u.fetch_ack.pad_to = frame_fetch_ack_padded_len(2);
    size_t len;
    const char *why = NULL;
    CHECK(frame_encode_alloc(&f, &len, &why) == NULL && why != NULL);
}

/*
 * Acknowledgements ride in the FetchRequest (wire.md "Fetching an inbox"):
 * whatever the number of seqs (0..n) and their values, with max_messages n
 * the request is exactly frame_fetch_request_padded_len(n) bytes, and the
 * seqs decode back.
 */
static void test_fetch_request_acks(void)
{
    static uint64_t many[256];
    for (size_t i = 0; i < 256; i++)
        many[i] = i % 3 ? UINT64_MAX - i : i;
    for (uint32_t n = 1; n <= 256; n *= 2) {
        size_t want = frame_fetch_request_padded_len(n);
        for (uint32_t k = 0; k <= n; k += (n / 4 ? n / 4 : 1)) {
            struct mix_frame f = { .type = FRAME_FETCH_REQUEST };
            f.u.fetch_req.max_messages = n;
            f.u.fetch_req.acks = k ? many : NULL;
            f.u.fetch_req.n_acks = k;
            f.u.fetch_req.pad_to = want;
            size_t len = 0;
            const char *why = NULL;
            uint8_t *buf = frame_encode_alloc(&f, &len, &why);
            CHECKF(buf != NULL && len == want, "request n=%u k=%u: %s", n, k, why ? why : "");
            struct mix_frame *d = NULL;
            CHECK(buf != NULL && frame_decode(buf, len, 1u << 20, &d, &why));
            CHECK(d != NULL && d->type == FRAME_FETCH_REQUEST && d->u.fetch_req.n_acks == k &&
                  d->u.fetch_req.max_messages == n);
            if (d != NULL && k > 0)
                CHECK(memcmp(d->u.fetch_req.acks, many, k * sizeof(*many)) == 0);
            frame_free(d);
            free(buf);
        }
    }
    /* Seqs without their array are refused. */
    struct mix_frame f = { .type = FRAME_FETCH_REQUEST };
    f.u.fetch_req.n_acks = 1;
    size_t len;
    CHECK(frame_encode_alloc(&f, &len, NULL) == NULL);
}

/* The protobuf-free Sphinx frame codec agrees with frame_encode()/frame_decode(). */
static void test_sphinx_fast_path(void)
{
    static const size_t lens[] = { 1,    2,    124,   125,   126,   127,   128,  129,
                                   2400, 2560, 16380, 16381, 16383, 16384, 70000 };
    uint8_t *pkt = malloc(70000), *a = malloc(70016), *b = malloc(70016);
    struct frame_buf v;
    for (size_t k = 0; k < 70000; k++)
        pkt[k] = (uint8_t)(k * 7 + 1);
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        struct mix_frame f, *d = NULL;
        size_t la = 0, lb = 0;
        memset(&f, 0, sizeof f);
        f.type = FRAME_SPHINX_PACKET;
        f.u.sphinx.packet = B(pkt, lens[i]);
        CHECK(frame_encode(&f, a, 70016, &la, NULL));
        CHECK(frame_sphinx_encode(pkt, lens[i], b, 70016, &lb));
        CHECK(la == lb && lb == frame_sphinx_encoded_len(lens[i]) && memcmp(a, b, la) == 0);
        CHECK(frame_sphinx_view(b, lb, lb, &v) && v.ptr == b + lb - lens[i] && v.len == lens[i]);
        CHECK(frame_decode(b, lb, lb, &d, NULL) && buf_eq(d->u.sphinx.packet, v));
        frame_free(d);
        /* Not exactly the form: a trailing byte, a frame over the maximum, too little room. */
        CHECK(!frame_sphinx_view(b, lb - 1, lb, &v));
        b[lb] = 0;
        CHECK(!frame_sphinx_view(b, lb + 1, lb + 1, &v));
        CHECK(!frame_sphinx_view(b, lb, lb - 1, &v));
        CHECK(!frame_sphinx_encode(pkt, lens[i], b, lb - 1, &lb));
    }
    /* Non-minimal varint (1 encoded as 0x81 0x00): protobuf-c's to judge, not ours. */
    static const uint8_t nonmin[] = { 0x0a, 0x04, 0x0a, 0x81, 0x00, 0x55 };
    CHECK(!frame_sphinx_view(nonmin, sizeof nonmin, 64, &v));
    /* Another body, and an empty packet. */
    static const uint8_t other[] = { 0x12, 0x03, 0x0a, 0x01, 0x55 };
    static const uint8_t empty[] = { 0x0a, 0x02, 0x0a, 0x00 };
    CHECK(!frame_sphinx_view(other, sizeof other, 64, &v));
    CHECK(!frame_sphinx_view(empty, sizeof empty, 64, &v));
    size_t lz = 0;
    CHECK(!frame_sphinx_encode(pkt, 0, a, 64, &lz));
    free(pkt);
    free(a);
    free(b);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    RUN(test_fetch_padding);
    RUN(test_fetch_request_acks);
    memset(SIG64, 0x5a, sizeof SIG64);
    RUN(test_link_frames);
    RUN(test_directory_frames);
    RUN(test_local_frames);
    RUN(test_invalid_frames);
    RUN(test_corrupt_bytes);
    RUN(test_random_bytes);
    RUN(test_type_names);
    RUN(test_sphinx_fast_path);
    return tap_done();
}
