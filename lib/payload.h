/*
 * The payload envelope and the end-to-end fragment format
 * (docs/spec/client.md).
 *
 * 1. The envelope is the Sphinx plaintext at the exit hop (the recipient's
 *    gateway, command DELIVER).  The provider parses it with
 *    payload_parse(): it learns whether a SURB-ack is present, stores only
 *    the body (end-to-end ciphertext) in the inbox, commits, then sends the
 *    SURB-ack.  Layout, all integers big-endian, total = the geometry's
 *    Sphinx plaintext length:
 *
 *        0  1  version            PAYLOAD_VERSION (1)
 *        1  1  flags              bit 0 = has SURB-ack; other bits 0
 *        2  2  surb_len           length of the SURB-ack (0 iff no flag)
 *        4  4  body_len           length of the body
 *        8  surb_len   SURB-ack   (sphinx SURB: first hop id, header, key)
 *        .  body_len   body       (crypto_box_seal ciphertext, or random)
 *        .  ...        zero padding to the plaintext length
 *
 * 2. The fragment is what the body seals (crypto_box_seal to the recipient's
 *    X25519 key) and what a SURB reply carries.  The gateway never sees it.
 *
 *        0  1  kind               PAYLOAD_FRAG_DATA, _LOOP or _REPLY
 *        1  1  flags              bit 0 = reply SURB attached; others 0
 *        2  16 message id         random, chosen by the sender
 *       18  4  index              fragment number, 0-based
 *       22  4  count              fragments in the message, >= 1
 *       26  4  total_len          message length in bytes
 *       30  2  data_len           bytes of message data in this fragment
 *       32  2  surb_len           length of the reply SURB (0 iff no flag)
 *       34  data_len  data        message[index * frag_cap ...]
 *        .  surb_len  reply SURB  (only in fragment 0)
 *        .  ...       zero padding to the fixed fragment length
 *
 * Parsers never crash on any bytes and say why they refuse.
 */
#ifndef MIX_PAYLOAD_H
#define MIX_PAYLOAD_H

#include "common.h"

#define PAYLOAD_VERSION 1
#define PAYLOAD_HDR_LEN 8
#define PAYLOAD_FLAG_SURB_ACK 0x01

/* The fixed bytes the provider puts in every SURB-ack packet's payload. */
#define PAYLOAD_ACK_MAGIC "mixnet-ack-v1"

/* Inbox id = BLAKE2b-256("mixnet-inbox-v1" || client X25519 public key). */
#define PAYLOAD_INBOX_ID_LEN 32
#define PAYLOAD_KEY_LEN 32

enum payload_err {
    PAYLOAD_OK = 0,
    PAYLOAD_ERR_SHORT,    /* shorter than the fixed header */
    PAYLOAD_ERR_VERSION,  /* unknown version */
    PAYLOAD_ERR_FLAGS,    /* unknown flag bits, or flag and length disagree */
    PAYLOAD_ERR_LENGTH,   /* lengths do not fit in the buffer */
    PAYLOAD_ERR_PADDING,  /* non-zero bytes after the declared content */
    PAYLOAD_ERR_KIND,     /* unknown fragment kind */
    PAYLOAD_ERR_FRAGMENT, /* index/count/total_len inconsistent */
    PAYLOAD_ERR_ARG,      /* builder: content does not fit / bad argument */
};

const char *payload_strerror(enum payload_err e);

/* A parsed envelope; pointers point into the parsed buffer. */
struct payload_view {
    uint8_t flags;
    const uint8_t *surb_ack; /* NULL when absent */
    size_t surb_ack_len;
    const uint8_t *body;
    size_t body_len;
};

/* Parse an envelope of `len` bytes (the whole Sphinx plaintext). */
enum payload_err payload_parse(const uint8_t *buf, size_t len, struct payload_view *out) MIX_WUR;

/*
 * Build an envelope filling out[0..out_len): surb (may be NULL/0) and body
 * copied in, the rest zero.  PAYLOAD_ERR_ARG if it does not fit.
 */
enum payload_err payload_build(uint8_t *out, size_t out_len, const uint8_t *surb, size_t surb_len,
                               const uint8_t *body, size_t body_len) MIX_WUR;

/* Largest body for an envelope of plain_len bytes with a SURB of surb_len (0 if none fit). */
size_t payload_body_cap(size_t plain_len, size_t surb_len);

/* The inbox id of a client public key. */
void payload_inbox_id(uint8_t out[static PAYLOAD_INBOX_ID_LEN],
                      const uint8_t client_pk[static PAYLOAD_KEY_LEN]);

/* ------------------------------------------------------------ fragments */

#define PAYLOAD_FRAG_HDR_LEN 34
#define PAYLOAD_MSG_ID_LEN 16
#define PAYLOAD_FRAG_FLAG_SURB 0x01
/* Largest message a sender accepts (fragments * data capacity may allow more). */
#define PAYLOAD_MAX_MESSAGE (4u << 20)

enum payload_frag_kind {
    PAYLOAD_FRAG_DATA = 1,  /* a fragment of a user message */
    PAYLOAD_FRAG_LOOP = 2,  /* client loop cover, sent to the sender's own inbox */
    PAYLOAD_FRAG_REPLY = 3, /* a reply carried by a SURB (single fragment) */
};

struct payload_frag {
    uint8_t kind; /* enum payload_frag_kind */
    uint8_t flags;
    uint8_t msg_id[PAYLOAD_MSG_ID_LEN];
    uint32_t index, count, total_len;
    const uint8_t *data; /* data_len bytes */
    size_t data_len;
    const uint8_t *surb; /* reply SURB or NULL */
    size_t surb_len;
};

/* Number of fragments for a message of msg_len bytes with frag_cap data bytes each (>= 1). */
uint32_t payload_frag_count(size_t msg_len, size_t frag_cap);

/*
 * Parse a fragment (the opened e2e plaintext, or a reply plaintext).  Checks
 * index < count, data_len <= total_len, count <= PAYLOAD_MAX_MESSAGE and
 * zero padding.  Pointers point into buf.
 */
enum payload_err payload_frag_parse(const uint8_t *buf, size_t len,
                                    struct payload_frag *out) MIX_WUR;

/* Encode a fragment into out[0..out_len), zero padded.  PAYLOAD_ERR_ARG if it does not fit. */
enum payload_err payload_frag_build(uint8_t *out, size_t out_len,
                                    const struct payload_frag *f) MIX_WUR;

#endif
