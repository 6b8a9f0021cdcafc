/*
 * Frames: the plain C view of proto/mixnet.proto over protobuf-c.
 *
 * This is the only file of lib/ that includes the generated header.  Encode
 * builds protobuf-c structs on the stack that point at the caller's bytes
 * (nothing is copied until the final pack); decode unpacks once and hands
 * out a `struct mix_frame` whose pointers refer into the unpacked message,
 * so a frame costs one unpack and one small allocation for repeated fields.
 */
#include "frame.h"

#include <stdlib.h>
#include <string.h>

#include "mixnet.pb-c.h"

/* A decoded frame: the public part first, so frame_free() can find the rest. */
struct frame_holder {
    struct mix_frame f;
    Mixnet__Frame *pb;
    void *array; /* converted repeated field (inbox msgs, descs, statuses), or NULL */
};

/* The protobuf-c structs for one frame being encoded. */
struct pb_build {
    Mixnet__Frame frame;
    union {
        Mixnet__SphinxPacket sphinx;
        Mixnet__FetchRequest fetch_req;
        Mixnet__FetchResponse fetch_resp;
        Mixnet__FetchAck fetch_ack;
        Mixnet__DescriptorUpload desc_upload;
        Mixnet__DescriptorUploadReply desc_reply;
        Mixnet__DocumentRequest doc_req;
        Mixnet__DocumentResponse doc_resp;
        Mixnet__DescriptorSetRequest desc_set_req;
        Mixnet__DescriptorSet desc_set;
        Mixnet__SignatureRequest sig_req;
        Mixnet__SignatureExchange sig;
        Mixnet__Error error;
        Mixnet__LocalSend local_send;
        Mixnet__LocalSendReply local_send_reply;
        Mixnet__LocalRecv local_recv;
        Mixnet__LocalMessage local_msg;
        Mixnet__LocalRecvEnd local_recv_end;
        Mixnet__LocalReply local_reply;
        Mixnet__LocalStatus local_status;
        Mixnet__LocalStatusReply local_status_reply;
    } m;
    void *ptrs;   /* array of sub-message pointers for a repeated message field */
    void *items;  /* the sub-messages themselves */
    uint8_t *pad; /* zero bytes for a padding field */
    ProtobufCBinaryData pads[3];
};

const char *frame_type_name(enum frame_type t)
{
    switch (t) {
    case FRAME_SPHINX_PACKET: return "sphinx_packet";
    case FRAME_FETCH_REQUEST: return "fetch_request";
    case FRAME_FETCH_RESPONSE: return "fetch_response";
    case FRAME_FETCH_ACK: return "fetch_ack";
    case FRAME_DESCRIPTOR_UPLOAD: return "descriptor_upload";
    case FRAME_DESCRIPTOR_UPLOAD_REPLY: return "descriptor_upload_reply";
    case FRAME_DOCUMENT_REQUEST: return "document_request";
    case FRAME_DOCUMENT_RESPONSE: return "document_response";
    case FRAME_DESCRIPTOR_SET_REQUEST: return "descriptor_set_request";
    case FRAME_DESCRIPTOR_SET: return "descriptor_set";
    case FRAME_SIGNATURE_REQUEST: return "signature_request";
    case FRAME_SIGNATURE_EXCHANGE: return "signature_exchange";
    case FRAME_ERROR: return "error";
    case FRAME_LOCAL_SEND: return "local_send";
    case FRAME_LOCAL_SEND_REPLY: return "local_send_reply";
    case FRAME_LOCAL_RECV: return "local_recv";
    case FRAME_LOCAL_MESSAGE: return "local_message";
    case FRAME_LOCAL_RECV_END: return "local_recv_end";
    case FRAME_LOCAL_REPLY: return "local_reply";
    case FRAME_LOCAL_STATUS: return "local_status";
    case FRAME_LOCAL_STATUS_REPLY: return "local_status_reply";
    case FRAME_NONE: break;
    }
    return "unknown";
}

/* ------------------------------------------------------------------ validation */

/* A byte field must not claim bytes it does not point at. */
static bool buf_ok(struct frame_buf b)
{
    return b.len == 0 || b.ptr != NULL;
}

static bool buf_len_is(struct frame_buf b, size_t want)
{
    return buf_ok(b) && b.len == want;
}

static bool buf_len_in(struct frame_buf b, size_t lo, size_t hi)
{
    return buf_ok(b) && b.len >= lo && b.len <= hi;
}

/*
 * Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above
 * U+10FFFF.  protobuf-c 1.4 does not check proto3 strings, so we do.
 */
static bool utf8_ok(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = p[i];
        size_t extra;
        uint32_t cp, min;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            extra = 1, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            extra = 2, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            extra = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return false;
        }
        if (n - i <= extra)
            return false;
        for (size_t k = 1; k <= extra; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (p[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += extra + 1;
    }
    return true;
}

/*
 * A string field: at most FRAME_STR_MAX bytes of UTF-8.  (protobuf-c hands
 * out NUL-terminated strings, so a string with a zero byte in it reads as
 * its part before that byte; wire.md says so.)
 */
static bool str_ok(const char *s, bool nonempty)
{
    if (s == NULL)
        return !nonempty;
    size_t n = strnlen(s, FRAME_STR_MAX + 1);
    return n <= FRAME_STR_MAX && (!nonempty || n > 0) && utf8_ok((const uint8_t *)s, n);
}

#define FAIL(msg)                                                                                  \
    do {                                                                                           \
        if (why)                                                                                   \
            *why = (msg);                                                                          \
        return false;                                                                              \
    } while (0)

static bool check_fetch_resp(const struct mix_frame *f, const char **why)
{
    if (f->u.fetch_resp.n_msgs > 0 && f->u.fetch_resp.msgs == NULL)
        FAIL("fetch_response: messages missing");
    for (size_t i = 0; i < f->u.fetch_resp.n_msgs; i++) {
        const struct frame_inbox_msg *m = &f->u.fetch_resp.msgs[i];
        if (!buf_len_in(m->payload, 1, SIZE_MAX))
            FAIL("fetch_response: empty payload");
        if (m->surb_id.len != 0 && !buf_len_is(m->surb_id, FRAME_SURB_ID_LEN))
            FAIL("fetch_response: surb_id must be 0 or 16 bytes");
    }
    return true;
}

static bool check_desc_set(const struct mix_frame *f, const char **why)
{
    if (f->u.desc_set.n_descs > 0 && f->u.desc_set.descs == NULL)
        FAIL("descriptor_set: descriptors missing");
    for (size_t i = 0; i < f->u.desc_set.n_descs; i++)
        if (!buf_len_in(f->u.desc_set.descs[i], 1, FRAME_DESCRIPTOR_MAX))
            FAIL("descriptor_set: descriptor size out of range");
    return true;
}

static bool check_sig(const struct mix_frame *f, const char **why)
{
    if (f->u.sig.epoch == 0)
        FAIL("signature_exchange: epoch 0");
    if (!buf_len_is(f->u.sig.document_hash, FRAME_HASH_LEN))
        FAIL("signature_exchange: document_hash must be 32 bytes");
    if (!buf_len_is(f->u.sig.signature, FRAME_SIG_LEN))
        FAIL("signature_exchange: signature must be 64 bytes");
    if (!buf_len_is(f->u.sig.authority_key, FRAME_KEY_LEN))
        FAIL("signature_exchange: authority_key must be 32 bytes");
    return true;
}

static bool check_status_reply(const struct mix_frame *f, const char **why)
{
    const __typeof__(f->u.local_status_reply) *r = &f->u.local_status_reply;
    if (r->n_msgs > 0 && r->msgs == NULL)
        FAIL("local_status_reply: messages missing");
    for (size_t i = 0; i < r->n_msgs; i++) {
        const struct frame_msg_status *s = &r->msgs[i];
        if (!buf_len_is(s->id, FRAME_MSG_ID_LEN))
            FAIL("local_status_reply: message id must be 16 bytes");
        if (s->state < FRAME_MSG_QUEUED || s->state > FRAME_MSG_RECEIVED)
            FAIL("local_status_reply: unknown message state");
        if (s->acked > s->fragments)
            FAIL("local_status_reply: acked > fragments");
        if (s->direction > FRAME_DIR_IN)
            FAIL("local_status_reply: unknown direction");
        if (!str_ok(s->peer, false))
            FAIL("local_status_reply: peer too long or not UTF-8");
    }
    if (!str_ok(r->address, false))
        FAIL("local_status_reply: address too long or not UTF-8");
    if (r->gateway_id.len != 0 && !buf_len_is(r->gateway_id, FRAME_NODE_ID_LEN))
        FAIL("local_status_reply: gateway_id must be 0 or 32 bytes");
    return true;
}

static bool check_local(const struct mix_frame *f, const char **why)
{
    switch (f->type) {
    case FRAME_LOCAL_SEND:
        if (!str_ok(f->u.local_send.address, true))
            FAIL("local_send: address empty, too long or not UTF-8");
        if (!buf_len_in(f->u.local_send.message, 1, SIZE_MAX))
            FAIL("local_send: empty message");
        return true;
    case FRAME_LOCAL_SEND_REPLY: {
        struct frame_buf id = f->u.local_send_reply.message_id;
        if (f->u.local_send_reply.code == 0 && !buf_len_is(id, FRAME_MSG_ID_LEN))
            FAIL("local_send_reply: accepted without a 16-byte message_id");
        if (id.len != 0 && !buf_len_is(id, FRAME_MSG_ID_LEN))
            FAIL("local_send_reply: message_id must be 0 or 16 bytes");
        if (!str_ok(f->u.local_send_reply.reason, false))
            FAIL("local_send_reply: reason too long or not UTF-8");
        return true;
    }
    case FRAME_LOCAL_RECV:
    case FRAME_LOCAL_RECV_END: return true;
    case FRAME_LOCAL_MESSAGE:
        if (!buf_len_is(f->u.local_msg.message_id, FRAME_MSG_ID_LEN))
            FAIL("local_message: message_id must be 16 bytes");
        if (!buf_ok(f->u.local_msg.body))
            FAIL("local_message: body missing");
        if (f->u.local_msg.in_reply_to.len != 0 &&
            (!f->u.local_msg.is_reply || !buf_len_is(f->u.local_msg.in_reply_to, FRAME_MSG_ID_LEN)))
            FAIL("local_message: in_reply_to must be empty or 16 bytes with is_reply");
        return true;
    case FRAME_LOCAL_REPLY:
        if (!buf_len_is(f->u.local_reply.message_id, FRAME_MSG_ID_LEN))
            FAIL("local_reply: message_id must be 16 bytes");
        if (!buf_len_in(f->u.local_reply.body, 1, SIZE_MAX))
            FAIL("local_reply: empty body");
        return true;
    case FRAME_LOCAL_STATUS:
        if (f->u.local_status.message_id.len != 0 &&
            !buf_len_is(f->u.local_status.message_id, FRAME_MSG_ID_LEN))
            FAIL("local_status: message_id must be 0 or 16 bytes");
        return true;
    case FRAME_LOCAL_STATUS_REPLY: return check_status_reply(f, why);
    default: FAIL("unknown frame type");
    }
}

bool frame_check(const struct mix_frame *f, const char **why)
{
    if (f == NULL)
        FAIL("no frame");
    switch (f->type) {
    case FRAME_SPHINX_PACKET:
        if (!buf_len_in(f->u.sphinx.packet, 1, SIZE_MAX))
            FAIL("sphinx_packet: empty packet");
        return true;
    case FRAME_FETCH_REQUEST:
        if (f->u.fetch_req.n_acks > 0 && f->u.fetch_req.acks == NULL)
            FAIL("fetch_request: acknowledged seqs missing");
        return true;
    case FRAME_DOCUMENT_REQUEST:
    case FRAME_DESCRIPTOR_SET_REQUEST:
    case FRAME_SIGNATURE_REQUEST: return true;
    case FRAME_FETCH_RESPONSE: return check_fetch_resp(f, why);
    case FRAME_FETCH_ACK:
        if (f->u.fetch_ack.n_seqs > 0 && f->u.fetch_ack.seqs == NULL)
            FAIL("fetch_ack: sequence numbers missing");
        return true;
    case FRAME_DESCRIPTOR_UPLOAD:
        if (!buf_len_in(f->u.desc_upload.signed_descriptor, 1, FRAME_DESCRIPTOR_MAX))
            FAIL("descriptor_upload: descriptor size out of range");
        return true;
    case FRAME_DESCRIPTOR_UPLOAD_REPLY:
        if (!str_ok(f->u.desc_reply.reason, false))
            FAIL("descriptor_upload_reply: reason too long or not UTF-8");
        return true;
    case FRAME_DOCUMENT_RESPONSE:
        if (!buf_len_in(f->u.doc_resp.signed_document, 1, SIZE_MAX))
            FAIL("document_response: empty document");
        return true;
    case FRAME_DESCRIPTOR_SET: return check_desc_set(f, why);
    case FRAME_SIGNATURE_EXCHANGE: return check_sig(f, why);
    case FRAME_ERROR:
        if (f->u.error.code == 0)
            FAIL("error: code 0");
        if (!str_ok(f->u.error.reason, false))
            FAIL("error: reason too long or not UTF-8");
        return true;
    case FRAME_NONE: FAIL("frame has no body");
    default: return check_local(f, why);
    }
}

/* ------------------------------------------------------------------ encode */

static ProtobufCBinaryData pbbin(struct frame_buf b)
{
    ProtobufCBinaryData d = { b.len, (uint8_t *)(uintptr_t)b.ptr };
    return d;
}

static char *pbstr(const char *s)
{
    return (char *)(uintptr_t)(s != NULL ? s : "");
}

static bool build_fetch_resp(const struct mix_frame *f, struct pb_build *b)
{
    size_t n = f->u.fetch_resp.n_msgs;
    Mixnet__FetchResponse *r = &b->m.fetch_resp;
    mixnet__fetch_response__init(r);
    r->remaining = f->u.fetch_resp.remaining;
    if (n == 0)
        return true;
    Mixnet__InboxMessage **ptrs = calloc(n, sizeof *ptrs);
    Mixnet__InboxMessage *items = calloc(n, sizeof *items);
    b->ptrs = ptrs;
    b->items = items;
    if (ptrs == NULL || items == NULL)
        return false;
    for (size_t i = 0; i < n; i++) {
        const struct frame_inbox_msg *m = &f->u.fetch_resp.msgs[i];
        mixnet__inbox_message__init(&items[i]);
        items[i].seq = m->seq;
        items[i].payload = pbbin(m->payload);
        items[i].surb_id = pbbin(m->surb_id);
        items[i].is_reply = m->is_reply;
        ptrs[i] = &items[i];
    }
    r->n_messages = n;
    r->messages = ptrs;
    return true;
}

static bool build_desc_set(const struct mix_frame *f, struct pb_build *b)
{
    size_t n = f->u.desc_set.n_descs;
    Mixnet__DescriptorSet *s = &b->m.desc_set;
    mixnet__descriptor_set__init(s);
    s->epoch = f->u.desc_set.epoch;
    if (n == 0)
        return true;
    ProtobufCBinaryData *items = calloc(n, sizeof *items);
    b->items = items;
    if (items == NULL)
        return false;
    for (size_t i = 0; i < n; i++)
        items[i] = pbbin(f->u.desc_set.descs[i]);
    s->n_signed_descriptor = n;
    s->signed_descriptor = items;
    return true;
}

static bool build_status_reply(const struct mix_frame *f, struct pb_build *b)
{
    const __typeof__(f->u.local_status_reply) *src = &f->u.local_status_reply;
    Mixnet__LocalStatusReply *r = &b->m.local_status_reply;
    mixnet__local_status_reply__init(r);
    r->address = pbstr(src->address);
    r->epoch = src->epoch;
    r->connected = src->connected;
    r->gateway_id = pbbin(src->gateway_id);
    r->queue_len = src->queue_len;
    r->lambda_p_mhz = src->lambda_p_mhz;
    r->fragment_len = src->fragment_len;
    size_t n = src->n_msgs;
    if (n == 0)
        return true;
    Mixnet__MessageStatus **ptrs = calloc(n, sizeof *ptrs);
    Mixnet__MessageStatus *items = calloc(n, sizeof *items);
    b->ptrs = ptrs;
    b->items = items;
    if (ptrs == NULL || items == NULL)
        return false;
    for (size_t i = 0; i < n; i++) {
        mixnet__message_status__init(&items[i]);
        items[i].id = pbbin(src->msgs[i].id);
        items[i].state = src->msgs[i].state;
        items[i].fragments = src->msgs[i].fragments;
        items[i].acked = src->msgs[i].acked;
        items[i].time = src->msgs[i].time;
        items[i].size = src->msgs[i].size;
        items[i].direction = src->msgs[i].direction;
        items[i].peer = pbstr(src->msgs[i].peer);
        ptrs[i] = &items[i];
    }
    r->n_messages = n;
    r->messages = ptrs;
    return true;
}

/* Link protocol messages.  Returns false only when out of memory. */
static bool build_link(const struct mix_frame *f, struct pb_build *b)
{
    Mixnet__Frame *fr = &b->frame;
    switch (f->type) {
    case FRAME_SPHINX_PACKET:
        mixnet__sphinx_packet__init(&b->m.sphinx);
        b->m.sphinx.packet = pbbin(f->u.sphinx.packet);
        fr->sphinx_packet = &b->m.sphinx;
        return true;
    case FRAME_FETCH_REQUEST:
        mixnet__fetch_request__init(&b->m.fetch_req);
        b->m.fetch_req.max_messages = f->u.fetch_req.max_messages;
        b->m.fetch_req.n_ack = f->u.fetch_req.n_acks;
        b->m.fetch_req.ack = (uint64_t *)(uintptr_t)f->u.fetch_req.acks;
        fr->fetch_request = &b->m.fetch_req;
        return true;
    case FRAME_FETCH_RESPONSE: fr->fetch_response = &b->m.fetch_resp; return build_fetch_resp(f, b);
    case FRAME_FETCH_ACK:
        mixnet__fetch_ack__init(&b->m.fetch_ack);
        b->m.fetch_ack.n_seq = f->u.fetch_ack.n_seqs;
        b->m.fetch_ack.seq = (uint64_t *)(uintptr_t)f->u.fetch_ack.seqs;
        fr->fetch_ack = &b->m.fetch_ack;
        return true;
    case FRAME_DESCRIPTOR_UPLOAD:
        mixnet__descriptor_upload__init(&b->m.desc_upload);
        b->m.desc_upload.signed_descriptor = pbbin(f->u.desc_upload.signed_descriptor);
        fr->descriptor_upload = &b->m.desc_upload;
        return true;
    case FRAME_DESCRIPTOR_UPLOAD_REPLY:
        mixnet__descriptor_upload_reply__init(&b->m.desc_reply);
        b->m.desc_reply.accepted = f->u.desc_reply.accepted;
        b->m.desc_reply.reason = pbstr(f->u.desc_reply.reason);
        fr->descriptor_upload_reply = &b->m.desc_reply;
        return true;
    case FRAME_DOCUMENT_REQUEST:
        mixnet__document_request__init(&b->m.doc_req);
        b->m.doc_req.epoch = f->u.doc_req.epoch;
        fr->document_request = &b->m.doc_req;
        return true;
    case FRAME_DOCUMENT_RESPONSE:
        mixnet__document_response__init(&b->m.doc_resp);
        b->m.doc_resp.epoch = f->u.doc_resp.epoch;
        b->m.doc_resp.signed_document = pbbin(f->u.doc_resp.signed_document);
        fr->document_response = &b->m.doc_resp;
        return true;
    case FRAME_DESCRIPTOR_SET_REQUEST:
        mixnet__descriptor_set_request__init(&b->m.desc_set_req);
        b->m.desc_set_req.epoch = f->u.desc_set_req.epoch;
        fr->descriptor_set_request = &b->m.desc_set_req;
        return true;
    case FRAME_DESCRIPTOR_SET: fr->descriptor_set = &b->m.desc_set; return build_desc_set(f, b);
    case FRAME_SIGNATURE_REQUEST:
        mixnet__signature_request__init(&b->m.sig_req);
        b->m.sig_req.epoch = f->u.sig_req.epoch;
        fr->signature_request = &b->m.sig_req;
        return true;
    case FRAME_SIGNATURE_EXCHANGE:
        mixnet__signature_exchange__init(&b->m.sig);
        b->m.sig.epoch = f->u.sig.epoch;
        b->m.sig.document_hash = pbbin(f->u.sig.document_hash);
        b->m.sig.signature = pbbin(f->u.sig.signature);
        b->m.sig.authority_key = pbbin(f->u.sig.authority_key);
        fr->signature_exchange = &b->m.sig;
        return true;
    case FRAME_ERROR:
        mixnet__error__init(&b->m.error);
        b->m.error.code = f->u.error.code;
        b->m.error.reason = pbstr(f->u.error.reason);
        fr->error = &b->m.error;
        return true;
    default: return false;
    }
}

/* Local socket messages.  Returns false only when out of memory. */
static bool build_local(const struct mix_frame *f, struct pb_build *b)
{
    Mixnet__Frame *fr = &b->frame;
    switch (f->type) {
    case FRAME_LOCAL_SEND:
        mixnet__local_send__init(&b->m.local_send);
        b->m.local_send.address = pbstr(f->u.local_send.address);
        b->m.local_send.message = pbbin(f->u.local_send.message);
        b->m.local_send.reply_surbs = f->u.local_send.reply_surbs;
        fr->local_send = &b->m.local_send;
        return true;
    case FRAME_LOCAL_SEND_REPLY:
        mixnet__local_send_reply__init(&b->m.local_send_reply);
        b->m.local_send_reply.message_id = pbbin(f->u.local_send_reply.message_id);
        b->m.local_send_reply.code = f->u.local_send_reply.code;
        b->m.local_send_reply.reason = pbstr(f->u.local_send_reply.reason);
        fr->local_send_reply = &b->m.local_send_reply;
        return true;
    case FRAME_LOCAL_RECV:
        mixnet__local_recv__init(&b->m.local_recv);
        b->m.local_recv.follow = f->u.local_recv.follow;
        b->m.local_recv.max = f->u.local_recv.max;
        fr->local_recv = &b->m.local_recv;
        return true;
    case FRAME_LOCAL_MESSAGE:
        mixnet__local_message__init(&b->m.local_msg);
        b->m.local_msg.message_id = pbbin(f->u.local_msg.message_id);
        b->m.local_msg.body = pbbin(f->u.local_msg.body);
        b->m.local_msg.can_reply = f->u.local_msg.can_reply;
        b->m.local_msg.received_at = f->u.local_msg.received_at;
        b->m.local_msg.is_reply = f->u.local_msg.is_reply;
        b->m.local_msg.in_reply_to = pbbin(f->u.local_msg.in_reply_to);
        fr->local_message = &b->m.local_msg;
        return true;
    case FRAME_LOCAL_RECV_END:
        mixnet__local_recv_end__init(&b->m.local_recv_end);
        b->m.local_recv_end.count = f->u.local_recv_end.count;
        b->m.local_recv_end.remaining = f->u.local_recv_end.remaining;
        fr->local_recv_end = &b->m.local_recv_end;
        return true;
    case FRAME_LOCAL_REPLY:
        mixnet__local_reply__init(&b->m.local_reply);
        b->m.local_reply.message_id = pbbin(f->u.local_reply.message_id);
        b->m.local_reply.body = pbbin(f->u.local_reply.body);
        fr->local_reply = &b->m.local_reply;
        return true;
    case FRAME_LOCAL_STATUS:
        mixnet__local_status__init(&b->m.local_status);
        b->m.local_status.message_id = pbbin(f->u.local_status.message_id);
        fr->local_status = &b->m.local_status;
        return true;
    case FRAME_LOCAL_STATUS_REPLY:
        fr->local_status_reply = &b->m.local_status_reply;
        return build_status_reply(f, b);
    default: return false;
    }
}

static void build_free(struct pb_build *b)
{
    free(b->ptrs);
    free(b->items);
    free(b->pad);
    b->ptrs = b->items = NULL;
    b->pad = NULL;
}

/*
 * Add zero padding to a built fetch response or ack so the packed Frame is
 * exactly pad_to bytes.  A padding entry costs a tag byte and a varint length
 * besides its bytes, and the outer length varints grow with it, so some sizes
 * cannot be hit with one entry; one or two extra empty entries (2 bytes each)
 * cover those.
 * We search the few candidate lengths near the deficit.
 */
static bool pad_frame(struct pb_build *b, size_t pad_to, size_t *n_padding,
                      ProtobufCBinaryData **padding, const char **why)
{
    size_t n = mixnet__frame__get_packed_size(&b->frame);
    if (n > pad_to) {
        if (why)
            *why = "frame larger than its padded size";
        return false;
    }
    if (n == pad_to)
        return true;
    size_t deficit = pad_to - n;
    b->pad = calloc(1, deficit);
    if (b->pad == NULL) {
        if (why)
            *why = "out of memory";
        return false;
    }
    *padding = b->pads;
    for (size_t empties = 0; empties < MIX_ARRAY_LEN(b->pads); empties++) {
        for (size_t len = deficit > 32 ? deficit - 32 : 0; len <= deficit; len++) {
            for (size_t i = 0; i < empties; i++)
                b->pads[i] = (ProtobufCBinaryData){ 0, b->pad };
            b->pads[empties] = (ProtobufCBinaryData){ len, b->pad };
            *n_padding = empties + 1;
            if (mixnet__frame__get_packed_size(&b->frame) == pad_to)
                return true;
        }
    }
    *n_padding = 0;
    *padding = NULL;
    if (why)
        *why = "cannot pad frame to its size";
    return false;
}

static bool build_padding(const struct mix_frame *f, struct pb_build *b, const char **why)
{
    if (f->type == FRAME_FETCH_RESPONSE && f->u.fetch_resp.pad_to > 0)
        return pad_frame(b, f->u.fetch_resp.pad_to, &b->m.fetch_resp.n_padding,
                         &b->m.fetch_resp.padding, why);
    if (f->type == FRAME_FETCH_REQUEST && f->u.fetch_req.pad_to > 0)
        return pad_frame(b, f->u.fetch_req.pad_to, &b->m.fetch_req.n_padding,
                         &b->m.fetch_req.padding, why);
    if (f->type == FRAME_FETCH_ACK && f->u.fetch_ack.pad_to > 0)
        return pad_frame(b, f->u.fetch_ack.pad_to, &b->m.fetch_ack.n_padding,
                         &b->m.fetch_ack.padding, why);
    return true;
}

/* Upper bound of a varint's size is 10 bytes; a little slack keeps padding always possible. */
#define PAD_SLACK 8

static size_t varint_len(size_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

/*
 * A Frame holding one body field (1-byte tag) has 1 + varint(len) + len bytes,
 * so a few totals cannot exist (130 bytes: a 128-byte body needs a 2-byte
 * length).  Round such a total up to the next one that can.
 */
static size_t reachable_frame_len(size_t total)
{
    for (;; total++)
        for (size_t k = 1; k <= 10 && k + 1 <= total; k++)
            if (varint_len(total - 1 - k) == k)
                return total;
}

size_t frame_fetch_response_padded_len(uint32_t n_msgs, size_t payload_len)
{
    /* Per message: seq (1 + 10), payload (1 + 5 + len), surb id (1 + 1 + 16), is_reply (2),
     * and the message's own tag and length (1 + 5).  Plus remaining (1 + 5), the
     * response's and the frame's tag and length (2 x (2 + 5)). */
    size_t per = 11 + 6 + payload_len + 18 + 2 + 6;
    return reachable_frame_len((size_t)n_msgs * per + 6 + 14 + PAD_SLACK);
}

size_t frame_fetch_request_padded_len(uint32_t n_acks)
{
    /* max_messages (1 + 5), packed acks (tag, length, up to 10 bytes each),
     * frame tag and length. */
    return reachable_frame_len(6 + 1 + 5 + (size_t)n_acks * 10 + 2 + 5 + PAD_SLACK);
}

size_t frame_fetch_ack_padded_len(uint32_t n_seqs)
{
    /* Packed repeated seqs: tag, length, up to 10 bytes each; frame tag and length. */
    return reachable_frame_len(1 + 5 + (size_t)n_seqs * 10 + 2 + 5 + PAD_SLACK);
}

/* Check f and build its protobuf-c form in b; build_free(b) afterwards either way. */
static bool build_pb(const struct mix_frame *f, struct pb_build *b, const char **why)
{
    memset(b, 0, sizeof *b);
    mixnet__frame__init(&b->frame);
    if (!frame_check(f, why))
        return false;
    /* The frame type numbers are the oneof field numbers by construction. */
    b->frame.body_case = (Mixnet__Frame__BodyCase)f->type;
    bool ok = f->type >= FRAME_LOCAL_SEND ? build_local(f, b) : build_link(f, b);
    if (!ok && why)
        *why = "out of memory";
    return ok && build_padding(f, b, why);
}

size_t frame_encoded_len(const struct mix_frame *f)
{
    struct pb_build b;
    size_t n = 0;
    if (build_pb(f, &b, NULL))
        n = mixnet__frame__get_packed_size(&b.frame);
    build_free(&b);
    return n;
}

bool frame_encode(const struct mix_frame *f, uint8_t *out, size_t cap, size_t *out_len,
                  const char **why)
{
    struct pb_build b;
    bool ok = false;
    if (!build_pb(f, &b, why))
        goto out;
    size_t n = mixnet__frame__get_packed_size(&b.frame);
    if (out == NULL || n > cap) {
        if (why)
            *why = "output buffer too small";
        goto out;
    }
    if (mixnet__frame__pack(&b.frame, out) != n) {
        if (why)
            *why = "pack size mismatch";
        goto out;
    }
    if (out_len)
        *out_len = n;
    ok = true;
out:
    build_free(&b);
    return ok;
}

uint8_t *frame_encode_alloc(const struct mix_frame *f, size_t *out_len, const char **why)
{
    size_t n = frame_encoded_len(f);
    if (n == 0) {
        /* Let frame_check() say why; an empty encoding is never valid. */
        if (why && frame_check(f, why))
            *why = "out of memory";
        return NULL;
    }
    uint8_t *buf = malloc(n);
    if (buf == NULL) {
        if (why)
            *why = "out of memory";
        return NULL;
    }
    if (!frame_encode(f, buf, n, out_len, why)) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* ------------------------------------------------------------------ decode */

static struct frame_buf fbuf(ProtobufCBinaryData d)
{
    struct frame_buf b = { d.data, d.len };
    return b;
}

static bool conv_fetch_resp(const Mixnet__FetchResponse *r, struct frame_holder *h)
{
    struct mix_frame *f = &h->f;
    f->u.fetch_resp.remaining = r->remaining;
    if (r->n_messages == 0)
        return true;
    struct frame_inbox_msg *msgs = calloc(r->n_messages, sizeof *msgs);
    if (msgs == NULL)
        return false;
    h->array = msgs;
    for (size_t i = 0; i < r->n_messages; i++) {
        msgs[i].seq = r->messages[i]->seq;
        msgs[i].payload = fbuf(r->messages[i]->payload);
        msgs[i].surb_id = fbuf(r->messages[i]->surb_id);
        msgs[i].is_reply = r->messages[i]->is_reply;
    }
    f->u.fetch_resp.msgs = msgs;
    f->u.fetch_resp.n_msgs = r->n_messages;
    return true;
}

static bool conv_desc_set(const Mixnet__DescriptorSet *s, struct frame_holder *h)
{
    struct mix_frame *f = &h->f;
    f->u.desc_set.epoch = s->epoch;
    if (s->n_signed_descriptor == 0)
        return true;
    struct frame_buf *descs = calloc(s->n_signed_descriptor, sizeof *descs);
    if (descs == NULL)
        return false;
    h->array = descs;
    for (size_t i = 0; i < s->n_signed_descriptor; i++)
        descs[i] = fbuf(s->signed_descriptor[i]);
    f->u.desc_set.descs = descs;
    f->u.desc_set.n_descs = s->n_signed_descriptor;
    return true;
}

static bool conv_status_reply(const Mixnet__LocalStatusReply *r, struct frame_holder *h)
{
    __typeof__(h->f.u.local_status_reply) *dst = &h->f.u.local_status_reply;
    dst->address = r->address;
    dst->epoch = r->epoch;
    dst->connected = r->connected;
    dst->gateway_id = fbuf(r->gateway_id);
    dst->queue_len = r->queue_len;
    dst->lambda_p_mhz = r->lambda_p_mhz;
    dst->fragment_len = r->fragment_len;
    if (r->n_messages == 0)
        return true;
    struct frame_msg_status *msgs = calloc(r->n_messages, sizeof *msgs);
    if (msgs == NULL)
        return false;
    h->array = msgs;
    for (size_t i = 0; i < r->n_messages; i++) {
        msgs[i].id = fbuf(r->messages[i]->id);
        msgs[i].state = r->messages[i]->state;
        msgs[i].fragments = r->messages[i]->fragments;
        msgs[i].acked = r->messages[i]->acked;
        msgs[i].time = r->messages[i]->time;
        msgs[i].size = r->messages[i]->size;
        msgs[i].direction = r->messages[i]->direction;
        msgs[i].peer = r->messages[i]->peer;
    }
    dst->msgs = msgs;
    dst->n_msgs = r->n_messages;
    return true;
}

/* Link protocol messages; false if out of memory or not a link message. */
static bool conv_link(const Mixnet__Frame *pb, struct frame_holder *h)
{
    struct mix_frame *f = &h->f;
    switch (pb->body_case) {
    case MIXNET__FRAME__BODY_SPHINX_PACKET:
        f->u.sphinx.packet = fbuf(pb->sphinx_packet->packet);
        return true;
    case MIXNET__FRAME__BODY_FETCH_REQUEST:
        f->u.fetch_req.max_messages = pb->fetch_request->max_messages;
        f->u.fetch_req.acks = pb->fetch_request->ack;
        f->u.fetch_req.n_acks = pb->fetch_request->n_ack;
        return true;
    case MIXNET__FRAME__BODY_FETCH_RESPONSE: return conv_fetch_resp(pb->fetch_response, h);
    case MIXNET__FRAME__BODY_FETCH_ACK:
        f->u.fetch_ack.seqs = pb->fetch_ack->seq;
        f->u.fetch_ack.n_seqs = pb->fetch_ack->n_seq;
        return true;
    case MIXNET__FRAME__BODY_DESCRIPTOR_UPLOAD:
        f->u.desc_upload.signed_descriptor = fbuf(pb->descriptor_upload->signed_descriptor);
        return true;
    case MIXNET__FRAME__BODY_DESCRIPTOR_UPLOAD_REPLY:
        f->u.desc_reply.accepted = pb->descriptor_upload_reply->accepted;
        f->u.desc_reply.reason = pb->descriptor_upload_reply->reason;
        return true;
    case MIXNET__FRAME__BODY_DOCUMENT_REQUEST:
        f->u.doc_req.epoch = pb->document_request->epoch;
        return true;
    case MIXNET__FRAME__BODY_DOCUMENT_RESPONSE:
        f->u.doc_resp.epoch = pb->document_response->epoch;
        f->u.doc_resp.signed_document = fbuf(pb->document_response->signed_document);
        return true;
    case MIXNET__FRAME__BODY_DESCRIPTOR_SET_REQUEST:
        f->u.desc_set_req.epoch = pb->descriptor_set_request->epoch;
        return true;
    case MIXNET__FRAME__BODY_DESCRIPTOR_SET: return conv_desc_set(pb->descriptor_set, h);
    case MIXNET__FRAME__BODY_SIGNATURE_REQUEST:
        f->u.sig_req.epoch = pb->signature_request->epoch;
        return true;
    case MIXNET__FRAME__BODY_SIGNATURE_EXCHANGE:
        f->u.sig.epoch = pb->signature_exchange->epoch;
        f->u.sig.document_hash = fbuf(pb->signature_exchange->document_hash);
        f->u.sig.signature = fbuf(pb->signature_exchange->signature);
        f->u.sig.authority_key = fbuf(pb->signature_exchange->authority_key);
        return true;
    case MIXNET__FRAME__BODY_ERROR:
        f->u.error.code = pb->error->code;
        f->u.error.reason = pb->error->reason;
        return true;
    default: return false;
    }
}

/* Local socket messages; false if out of memory or not a local message. */
static bool conv_local(const Mixnet__Frame *pb, struct frame_holder *h)
{
    struct mix_frame *f = &h->f;
    switch (pb->body_case) {
    case MIXNET__FRAME__BODY_LOCAL_SEND:
        f->u.local_send.address = pb->local_send->address;
        f->u.local_send.message = fbuf(pb->local_send->message);
        f->u.local_send.reply_surbs = pb->local_send->reply_surbs;
        return true;
    case MIXNET__FRAME__BODY_LOCAL_SEND_REPLY:
        f->u.local_send_reply.message_id = fbuf(pb->local_send_reply->message_id);
        f->u.local_send_reply.code = pb->local_send_reply->code;
        f->u.local_send_reply.reason = pb->local_send_reply->reason;
        return true;
    case MIXNET__FRAME__BODY_LOCAL_RECV:
        f->u.local_recv.follow = pb->local_recv->follow;
        f->u.local_recv.max = pb->local_recv->max;
        return true;
    case MIXNET__FRAME__BODY_LOCAL_MESSAGE:
        f->u.local_msg.message_id = fbuf(pb->local_message->message_id);
        f->u.local_msg.body = fbuf(pb->local_message->body);
        f->u.local_msg.can_reply = pb->local_message->can_reply;
        f->u.local_msg.received_at = pb->local_message->received_at;
        f->u.local_msg.is_reply = pb->local_message->is_reply;
        f->u.local_msg.in_reply_to = fbuf(pb->local_message->in_reply_to);
        return true;
    case MIXNET__FRAME__BODY_LOCAL_RECV_END:
        f->u.local_recv_end.count = pb->local_recv_end->count;
        f->u.local_recv_end.remaining = pb->local_recv_end->remaining;
        return true;
    case MIXNET__FRAME__BODY_LOCAL_REPLY:
        f->u.local_reply.message_id = fbuf(pb->local_reply->message_id);
        f->u.local_reply.body = fbuf(pb->local_reply->body);
        return true;
    case MIXNET__FRAME__BODY_LOCAL_STATUS:
        f->u.local_status.message_id = fbuf(pb->local_status->message_id);
        return true;
    case MIXNET__FRAME__BODY_LOCAL_STATUS_REPLY:
        return conv_status_reply(pb->local_status_reply, h);
    default: return false;
    }
}

void frame_free(struct mix_frame *f)
{
    if (f == NULL)
        return;
    /* f is the first member of its holder (frame_decode() made it so). */
    struct frame_holder *h = (struct frame_holder *)f;
    free(h->array);
    if (h->pb != NULL)
        mixnet__frame__free_unpacked(h->pb, NULL);
    free(h);
}

bool frame_decode(const uint8_t *buf, size_t len, size_t max_frame, struct mix_frame **out,
                  const char **why)
{
    const char *reason = NULL;
    struct frame_holder *h = NULL;
    *out = NULL;
    /* The size limit is checked before protobuf-c allocates anything. */
    if (len > max_frame) {
        reason = "frame larger than the maximum";
        goto fail;
    }
    if (buf == NULL && len > 0) {
        reason = "no input";
        goto fail;
    }
    h = calloc(1, sizeof *h);
    if (h == NULL) {
        reason = "out of memory";
        goto fail;
    }
    h->pb = mixnet__frame__unpack(NULL, len, buf);
    if (h->pb == NULL) {
        reason = "undecodable protobuf";
        goto fail;
    }
    if (h->pb->body_case == MIXNET__FRAME__BODY__NOT_SET) {
        reason = "frame has no (known) body";
        goto fail;
    }
    h->f.type = (enum frame_type)h->pb->body_case;
    bool ok = h->f.type >= FRAME_LOCAL_SEND ? conv_local(h->pb, h) : conv_link(h->pb, h);
    if (!ok) {
        reason = "unsupported body or out of memory";
        goto fail;
    }
    if (!frame_check(&h->f, &reason))
        goto fail;
    *out = &h->f;
    return true;
fail:
    if (h != NULL)
        frame_free(&h->f);
    if (why)
        *why = reason;
    return false;
}

/* ------------------------------------------------------- sphinx fast path */

/* Field 1, wire type 2 (length-delimited): Frame.sphinx_packet and SphinxPacket.packet. */
#define SPHINX_FIELD_TAG 0x0a

static size_t put_varint(uint8_t *out, size_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        out[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    out[n++] = (uint8_t)v;
    return n;
}

/* A minimal varint of at most 5 bytes at p[0..len); its size, 0 if none. */
static size_t get_varint(const uint8_t *p, size_t len, size_t *v)
{
    size_t x = 0;
    for (size_t i = 0; i < len && i < 5; i++) {
        x |= (size_t)(p[i] & 0x7f) << (7 * i);
        if (!(p[i] & 0x80)) {
            if (i > 0 && p[i] == 0)
                return 0; /* not minimal: left to protobuf-c */
            *v = x;
            return i + 1;
        }
    }
    return 0;
}

size_t frame_sphinx_encoded_len(size_t packet_len)
{
    size_t inner = 1 + varint_len(packet_len) + packet_len;
    return 1 + varint_len(inner) + inner;
}

bool frame_sphinx_encode(const uint8_t *packet, size_t packet_len, uint8_t *out, size_t cap,
                         size_t *out_len)
{
    if (packet == NULL || packet_len == 0 || out == NULL || packet_len > UINT32_MAX ||
        frame_sphinx_encoded_len(packet_len) > cap)
        return false;
    size_t n = 0;
    out[n++] = SPHINX_FIELD_TAG;
    n += put_varint(out + n, 1 + varint_len(packet_len) + packet_len);
    out[n++] = SPHINX_FIELD_TAG;
    n += put_varint(out + n, packet_len);
    memcpy(out + n, packet, packet_len);
    *out_len = n + packet_len;
    return true;
}

bool frame_sphinx_view(const uint8_t *buf, size_t len, size_t max_frame, struct frame_buf *packet)
{
    size_t outer, plen, a, b;
    if (buf == NULL || len > max_frame || len < 5 || buf[0] != SPHINX_FIELD_TAG)
        return false;
    if ((a = get_varint(buf + 1, len - 1, &outer)) == 0 || outer != len - 1 - a)
        return false;
    if (buf[1 + a] != SPHINX_FIELD_TAG)
        return false;
    if ((b = get_varint(buf + 2 + a, len - 2 - a, &plen)) == 0 || plen == 0 ||
        plen != len - 2 - a - b)
        return false;
    packet->ptr = buf + 2 + a + b;
    packet->len = plen;
    return true;
}
