/*
 * Frames: every message on a Noise link or a local socket.
 *
 * On the wire a frame is one protobuf message `mixnet.Frame` (proto/mixnet.proto)
 * whose `oneof body` says what it carries; the link layer moves it as an
 * opaque length-prefixed byte string.  This header exposes plain C only: no
 * protobuf-c type leaks out of lib/frame.c, which is the one file that
 * includes the generated code.
 *
 * Encoding: fill a `struct mix_frame` on the stack (byte fields point at the
 * caller's memory, strings are NUL-terminated) and call frame_encode() or
 * frame_encode_alloc().  Decoding: frame_decode() checks the length against
 * the caller's maximum BEFORE unpacking, validates every field size and
 * returns a heap frame whose pointers stay valid until frame_free().
 *
 * The same validator runs on both sides, so a frame we can encode is one we
 * accept, and what we accept is what docs/spec/wire.md ("## Frames") says.
 */
#ifndef MIX_FRAME_H
#define MIX_FRAME_H

#include "common.h"

/* Default largest frame (bytes of one encoded Frame), as on the link. */
#define FRAME_MAX_DEFAULT (1u << 20)

/* Fixed field sizes checked on encode and decode. */
#define FRAME_SURB_ID_LEN 16      /* InboxMessage.surb_id: 0 or 16 bytes */
#define FRAME_MSG_ID_LEN 16       /* Local* message_id: exactly 16 bytes */
#define FRAME_HASH_LEN 32         /* SignatureExchange.document_hash */
#define FRAME_KEY_LEN 32          /* SignatureExchange.authority_key (Ed25519) */
#define FRAME_SIG_LEN 64          /* SignatureExchange.signature (Ed25519) */
#define FRAME_NODE_ID_LEN 32      /* LocalStatusReply.gateway_id: 0 or 32 bytes */
#define FRAME_STR_MAX 1024        /* any string field, in bytes */
#define FRAME_DESCRIPTOR_MAX 8192 /* one signed descriptor */

/* The body of a Frame.  The numbers are the protobuf oneof field numbers. */
enum frame_type {
    FRAME_NONE = 0, /* never valid on the wire */
    /* node <-> node, client -> its gateway */
    FRAME_SPHINX_PACKET = 1,
    /* client <-> its gateway (inbox side) */
    FRAME_FETCH_REQUEST = 2,
    FRAME_FETCH_RESPONSE = 3,
    FRAME_FETCH_ACK = 4,
    /* node -> authority, anyone -> authority */
    FRAME_DESCRIPTOR_UPLOAD = 5,
    FRAME_DESCRIPTOR_UPLOAD_REPLY = 6,
    FRAME_DOCUMENT_REQUEST = 7,
    FRAME_DOCUMENT_RESPONSE = 8,
    /* authority <-> authority */
    FRAME_DESCRIPTOR_SET_REQUEST = 9,
    FRAME_DESCRIPTOR_SET = 10,
    FRAME_SIGNATURE_REQUEST = 11,
    FRAME_SIGNATURE_EXCHANGE = 12,
    /* anywhere */
    FRAME_ERROR = 13,
    /* local socket: mixclient daemon <-> CLI / apps */
    FRAME_LOCAL_SEND = 20,
    FRAME_LOCAL_SEND_REPLY = 21,
    FRAME_LOCAL_RECV = 22,
    FRAME_LOCAL_MESSAGE = 23,
    FRAME_LOCAL_RECV_END = 24,
    FRAME_LOCAL_REPLY = 25,
    FRAME_LOCAL_STATUS = 26,
    FRAME_LOCAL_STATUS_REPLY = 27,
};

/* Error.code values (a receiver treats an unknown code like FRAME_ERR_INTERNAL). */
enum frame_err_code {
    FRAME_ERR_BAD_FRAME = 1,  /* could not decode / invalid field */
    FRAME_ERR_UNEXPECTED = 2, /* valid frame, not allowed here / now */
    FRAME_ERR_NOT_FOUND = 3,  /* e.g. no document for that epoch */
    FRAME_ERR_RATE_LIMITED = 4,
    FRAME_ERR_UNAUTHORIZED = 5,
    FRAME_ERR_FULL = 6, /* queue / inbox / store full */
    FRAME_ERR_INTERNAL = 7,
};

/* MessageStatus.state values (LocalStatusReply). */
enum frame_msg_state {
    FRAME_MSG_QUEUED = 1,
    FRAME_MSG_SENT = 2,
    FRAME_MSG_ACKNOWLEDGED = 3,
    FRAME_MSG_FAILED = 4,
    FRAME_MSG_DELIVERED = 5,
    FRAME_MSG_RECEIVING = 6, /* incoming, fragments missing */
    FRAME_MSG_RECEIVED = 7,  /* incoming, complete */
};

/* A byte field: pointer + length.  len == 0 means absent/empty (ptr may be NULL). */
struct frame_buf {
    const uint8_t *ptr;
    size_t len;
};

/* One stored message handed from a gateway's inbox to its client. */
struct frame_inbox_msg {
    uint64_t seq;             /* gateway-assigned, echoed in the next FetchRequest's acks */
    struct frame_buf payload; /* non-empty */
    struct frame_buf surb_id; /* 0 or FRAME_SURB_ID_LEN bytes */
    bool is_reply;            /* arrived through one of the client's SURBs */
};

/* The state of one message the client daemon knows about. */
struct frame_msg_status {
    struct frame_buf id; /* FRAME_MSG_ID_LEN bytes */
    uint32_t state;      /* enum frame_msg_state */
    uint32_t fragments;
    uint32_t acked;     /* fragments acknowledged (incoming: received) so far, <= fragments */
    uint64_t time;      /* Unix seconds: accepted, or (incoming) first fragment / received */
    uint64_t size;      /* bytes */
    uint32_t direction; /* FRAME_DIR_OUT or FRAME_DIR_IN */
    const char *peer;   /* outgoing: recipient address; NULL or "" otherwise */
};
enum { FRAME_DIR_OUT = 1, FRAME_DIR_IN = 2 };

/*
 * A decoded or to-be-encoded frame.  Only the member of `u` named by `type`
 * is meaningful.  Strings are NUL-terminated UTF-8 (NULL encodes as "").
 */
struct mix_frame {
    enum frame_type type;
    union {
        struct {
            struct frame_buf packet;
        } sphinx; /* non-empty */
        struct {
            uint32_t max_messages; /* 0 = gateway's default */
            const uint64_t *acks;  /* seqs handled, may be none */
            size_t n_acks;
            size_t pad_to; /* encode only: whole frame padded to this length (0 = none) */
        } fetch_req;
        struct {
            const struct frame_inbox_msg *msgs;
            size_t n_msgs;
            uint32_t remaining; /* still in the inbox after these */
            size_t pad_to;      /* encode only: whole frame padded to this length (0 = none) */
        } fetch_resp;
        struct {
            const uint64_t *seqs;
            size_t n_seqs; /* 0 is allowed (cover ack) */
            size_t pad_to; /* encode only: whole frame padded to this length (0 = none) */
        } fetch_ack;
        struct {
            struct frame_buf signed_descriptor;
        } desc_upload; /* 1..FRAME_DESCRIPTOR_MAX */
        struct {
            bool accepted;
            const char *reason;
        } desc_reply;
        struct {
            uint64_t epoch;
        } doc_req; /* 0 = current */
        struct {
            uint64_t epoch;
            struct frame_buf signed_document;
        } doc_resp; /* non-empty */
        struct {
            uint64_t epoch;
        } desc_set_req;
        struct {
            uint64_t epoch;
            const struct frame_buf *descs; /* signed descriptors, each 1..DESCRIPTOR_MAX */
            size_t n_descs;
        } desc_set;
        struct {
            uint64_t epoch;
        } sig_req;
        struct {
            uint64_t epoch;
            struct frame_buf document_hash; /* FRAME_HASH_LEN */
            struct frame_buf signature;     /* FRAME_SIG_LEN */
            struct frame_buf authority_key; /* FRAME_KEY_LEN */
        } sig;
        struct {
            uint32_t code;
            const char *reason;
        } error; /* code != 0 */
        struct {
            const char *address;      /* non-empty */
            struct frame_buf message; /* non-empty */
            uint32_t reply_surbs;
        } local_send;
        struct {
            struct frame_buf message_id; /* 0 or FRAME_MSG_ID_LEN (0 on failure) */
            uint32_t code;               /* 0 = accepted, else enum frame_err_code */
            const char *reason;
        } local_send_reply;
        struct {
            bool follow;
            uint32_t max;
        } local_recv; /* max 0 = all */
        struct {
            struct frame_buf message_id; /* FRAME_MSG_ID_LEN */
            struct frame_buf body;
            bool can_reply;
            uint64_t received_at; /* Unix seconds */
            bool is_reply;
            struct frame_buf in_reply_to; /* 0, or FRAME_MSG_ID_LEN if is_reply */
        } local_msg;
        struct {
            uint32_t count;
            uint32_t remaining;
        } local_recv_end;
        struct {
            struct frame_buf message_id; /* FRAME_MSG_ID_LEN: the message answered */
            struct frame_buf body;       /* non-empty */
        } local_reply;
        struct {
            struct frame_buf message_id;
        } local_status; /* 0 (all) or FRAME_MSG_ID_LEN */
        struct {
            const struct frame_msg_status *msgs;
            size_t n_msgs;
            const char *address;         /* this client's address */
            uint64_t epoch;              /* current directory epoch, 0 = none */
            bool connected;              /* link to the gateway is up */
            struct frame_buf gateway_id; /* 0 or FRAME_NODE_ID_LEN */
            uint32_t queue_len;          /* real packets waiting to be sent */
            uint64_t lambda_p_mhz;       /* payload rate, 0 = no directory */
            uint32_t fragment_len;       /* message bytes per fragment */
        } local_status_reply;
    } u;
};

/* Name of a frame type for logs ("sphinx_packet", ...); "unknown" otherwise. */
const char *frame_type_name(enum frame_type t);

/*
 * Check a frame against the rules above without encoding it.  Returns false
 * and sets *why (if why != NULL) to a static reason string.
 */
bool frame_check(const struct mix_frame *f, const char **why) MIX_WUR;

/* Size of the encoding of a valid frame, or 0 if frame_check() fails. */
size_t frame_encoded_len(const struct mix_frame *f) MIX_WUR;

/*
 * Padded sizes for the fetch exchange, so its sizes on the link depend only on
 * what the client asks for, never on how many messages it has: a response to
 * FetchRequest{max_messages = n} with payloads of at most payload_len bytes
 * is padded to frame_fetch_response_padded_len(n, payload_len); a request
 * carrying up to n acknowledged seqs to frame_fetch_request_padded_len(n); a
 * (deprecated) FetchAck of up to n seqs to frame_fetch_ack_padded_len(n).  Set
 * these as pad_to; frame_encode() then emits exactly that many bytes.
 */
size_t frame_fetch_response_padded_len(uint32_t n_msgs, size_t payload_len) MIX_WUR;
size_t frame_fetch_request_padded_len(uint32_t n_acks) MIX_WUR;
size_t frame_fetch_ack_padded_len(uint32_t n_seqs) MIX_WUR;

/*
 * Encode a valid frame into out[0..cap).  On success returns true and sets
 * *out_len.  Fails (with *why) on an invalid frame or if cap is too small.
 */
bool frame_encode(const struct mix_frame *f, uint8_t *out, size_t cap, size_t *out_len,
                  const char **why) MIX_WUR;

/* Same, into a malloc()ed buffer the caller frees with free(). NULL on failure. */
uint8_t *frame_encode_alloc(const struct mix_frame *f, size_t *out_len, const char **why) MIX_WUR;

/*
 * Decode buf[0..len).  Rejects len > max_frame before unpacking, undecodable
 * bytes, a Frame with no (or an unknown) body, and any field of the wrong
 * size.  On success *out is a new frame to release with frame_free(); on
 * failure *out is NULL and *why a static reason.  Never aborts on any input.
 */
bool frame_decode(const uint8_t *buf, size_t len, size_t max_frame, struct mix_frame **out,
                  const char **why) MIX_WUR;

/* Release a frame from frame_decode(); NULL is a no-op. */
void frame_free(struct mix_frame *f);

/*
 * The Sphinx packet frame without protobuf-c, for the per-packet paths (a
 * node forwards one frame per packet; the general codec costs allocations
 * and two copies of the packet).  The bytes are exactly frame_encode()'s
 * for FRAME_SPHINX_PACKET: 0x0a (Frame.sphinx_packet), varint length, 0x0a
 * (SphinxPacket.packet), varint length, the packet.
 *
 * frame_sphinx_encoded_len(): the size of that encoding (packet_len >= 1).
 * frame_sphinx_encode(): writes it into out[0..cap); false if cap is short
 * or packet_len is 0.
 * frame_sphinx_view(): true if buf[0..len) is exactly that encoding (minimal
 * varints, no other field) of a non-empty packet within max_frame; *packet
 * then points into buf.  Such bytes decode with frame_decode() to the same
 * packet.  false says only "not this form": decode with frame_decode().
 */
size_t frame_sphinx_encoded_len(size_t packet_len) MIX_WUR;
bool frame_sphinx_encode(const uint8_t *packet, size_t packet_len, uint8_t *out, size_t cap,
                         size_t *out_len) MIX_WUR;
bool frame_sphinx_view(const uint8_t *buf, size_t len, size_t max_frame,
                       struct frame_buf *packet) MIX_WUR;

#endif
