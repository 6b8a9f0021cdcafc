/*
 * The link: an I/O-free state machine for one Noise_IK link over TCP
 * (docs/spec/wire.md, "Links").
 *
 * The caller owns the socket.  It feeds every received byte to link_feed(),
 * pops complete application frames with link_next_frame(), queues frames with
 * link_send_frame(), and writes whatever link_output() returns, then tells
 * the link how much went out with link_consume_output().  No call blocks,
 * reads a clock, or touches a socket, so a libev callback can drive it.
 *
 * Typical responder use (a node accepting a TCP connection):
 *
 *     l = link_new_responder(sk, pk, LINK_DEFAULT_MAX_FRAME, &rng);
 *     on readable:  n = read(...);
 *                   if (link_feed(l, buf, n) < 0) { count; close; }
 *                   if (link_is_established(l) && !authorised) {
 *                       link_remote_static(l, key); role = link_remote_role(l);
 *                       decide; if not allowed: close WITHOUT writing output.
 *                   }
 *                   while (link_next_frame(l, &p, &len) == 1) handle(p, len);
 *     when output:  link_output(l, &p, &len); n = write(p, len);
 *                   link_consume_output(l, n);
 *
 * The responder queues its handshake reply (msg2) inside the link_feed() that
 * completes msg1, so authorisation must happen before the output is written.
 *
 * Errors: calls return LINK_OK (0) or a negative enum link_err.  Every error
 * except LINK_ERR_FULL and LINK_ERR_TOO_BIG (a local frame larger than the
 * maximum) is fatal: the link refuses all further work and link_error_reason()
 * says why; the caller closes the connection.
 */
#ifndef MIX_LINK_H
#define MIX_LINK_H

#include "common.h"
#include "noise.h"
#include "rng.h"

#define LINK_PROLOGUE "mixnet-link-v1"
#define LINK_PROTO_VERSION 1
#define LINK_KEY_LEN 32
/* Default maximum application frame (the 4-byte length excluded). */
#define LINK_DEFAULT_MAX_FRAME (1u << 20)
/* Default cap on queued, not yet written output bytes. */
#define LINK_DEFAULT_OUT_CAP (4u << 20)
/* Largest plaintext carried in one transport message (65535 - 16). */
#define LINK_MAX_CHUNK (NOISE_MAX_MSG - NOISE_TAGLEN)
/* Each direction rekeys after every this many transport messages (wire.md). */
#define LINK_REKEY_INTERVAL (UINT64_C(1) << 20)

/* What the initiator says it is, in handshake message 1. */
enum link_role {
    LINK_ROLE_NONE = 0, /* not known yet (responder before msg1) */
    LINK_ROLE_CLIENT = 1,
    LINK_ROLE_NODE = 2,      /* a gateway, mix or provider */
    LINK_ROLE_AUTHORITY = 3, /* a directory authority */
};

enum link_err {
    LINK_OK = 0,
    LINK_ERR_HANDSHAKE = -1, /* a handshake message failed (bad length, MAC, key) */
    LINK_ERR_MAC = -2,       /* a transport message failed authentication */
    LINK_ERR_OVERSIZED = -3, /* the peer announced a frame above max_frame */
    LINK_ERR_PAYLOAD = -4,   /* bad handshake payload (version, role) */
    LINK_ERR_STATE = -5,     /* call not allowed in this state (e.g. send before established) */
    LINK_ERR_FULL = -6,      /* not fatal: output cap reached, frame not queued (count a drop) */
    LINK_ERR_TOO_BIG = -7,   /* not fatal: link_send_frame() with len > max_frame */
    LINK_ERR_NOMEM = -8,
    LINK_ERR_NONCE = -9,   /* nonce exhausted (never in practice) */
    LINK_ERR_FAILED = -10, /* the link already failed earlier; see link_error_reason() */
};

const char *link_strerror(int err);

enum link_state {
    LINK_STATE_NEW = 0,     /* created; initiator must call link_start() */
    LINK_STATE_HANDSHAKE,   /* msg1 sent (initiator) or awaited (responder) */
    LINK_STATE_ESTABLISHED, /* transport keys in place */
    LINK_STATE_FAILED,      /* a fatal error happened */
};

struct link_stats {
    uint64_t frames_in, frames_out; /* application frames */
    uint64_t bytes_in, bytes_out;   /* TCP bytes fed / consumed as written */
    uint64_t msgs_in, msgs_out;     /* Noise transport messages */
    uint64_t rekeys_in, rekeys_out; /* receive / send CipherState rekeys */
    uint64_t drops_full;            /* link_send_frame() refused: output cap */
};

struct link;

/*
 * An initiator link to the node whose static link key is remote_pk (from the
 * directory).  static_sk/static_pk are our long-term X25519 link keys (the
 * caller keeps them, e.g. in sodium_malloc memory; they are copied).
 * max_frame 0 means LINK_DEFAULT_MAX_FRAME.  The RNG is copied by value and
 * must stay usable for the link's life (it makes the ephemeral key).
 * Returns NULL on a bad argument or no memory.
 */
struct link *link_new_initiator(const uint8_t static_sk[static LINK_KEY_LEN],
                                const uint8_t static_pk[static LINK_KEY_LEN],
                                const uint8_t remote_pk[static LINK_KEY_LEN], enum link_role role,
                                size_t max_frame, const struct mix_rng *rng);
/* A responder link; the initiator's key and role are learnt from msg1. */
struct link *link_new_responder(const uint8_t static_sk[static LINK_KEY_LEN],
                                const uint8_t static_pk[static LINK_KEY_LEN], size_t max_frame,
                                const struct mix_rng *rng);
void link_free(struct link *l);

/* Cap on pending output bytes (default LINK_DEFAULT_OUT_CAP). */
void link_set_output_cap(struct link *l, size_t cap);
/*
 * Override the rekey interval (messages per direction).  Both ends must use
 * the same value; only tests change it.  0 disables the periodic rekey.
 */
void link_set_rekey_interval(struct link *l, uint64_t interval);

/* Initiator: queue handshake message 1.  Responder: no-op returning LINK_OK. */
int link_start(struct link *l) MIX_WUR;

/*
 * Consume n received TCP bytes (all of them are taken).  Handshake messages
 * are processed, transport messages decrypted, and complete frames become
 * available to link_next_frame().  The caller should drain frames after each
 * call: memory held is bounded by the bytes fed plus one max_frame.
 */
int link_feed(struct link *l, const uint8_t *bytes, size_t n) MIX_WUR;

/*
 * Pop the next complete received frame: returns 1 and sets *ptr and *len, or 0
 * if none is complete.  *ptr stays valid until the next link_feed() or
 * link_free(); frames popped in a row are all valid until then.
 */
int link_next_frame(struct link *l, const uint8_t **ptr, size_t *len);

/*
 * Encrypt and queue one frame (4-byte length then the bytes, split into
 * transport messages of at most LINK_MAX_CHUNK plaintext bytes).  Only when
 * established.  LINK_ERR_FULL (nothing queued) when it would exceed the
 * output cap; LINK_ERR_TOO_BIG when len > max_frame.
 */
int link_send_frame(struct link *l, const uint8_t *bytes, size_t len) MIX_WUR;

/*
 * Rekey our sending direction now: queues an empty transport message (the
 * in-band rekey signal) and rekeys after it.  Only when established.
 */
int link_rekey(struct link *l) MIX_WUR;

/*
 * Pending bytes to write to the socket (possibly *len == 0).  The pointer
 * stays valid until the next link_feed(), link_send_frame(), link_rekey()
 * or link_consume_output().
 */
void link_output(const struct link *l, const uint8_t **ptr, size_t *len);
/* Mark n of those bytes as written (n <= pending). */
void link_consume_output(struct link *l, size_t n);
size_t link_output_pending(const struct link *l);

enum link_state link_state(const struct link *l);
bool link_is_established(const struct link *l);
bool link_is_initiator(const struct link *l);
/* Why the link failed (a static string), or NULL if it has not. */
const char *link_error_reason(const struct link *l);

/* The peer's static key: for the responder once msg1 was read. */
bool link_remote_static(const struct link *l, uint8_t out[static LINK_KEY_LEN]);
/* The role the initiator announced (responder side); LINK_ROLE_NONE before. */
enum link_role link_remote_role(const struct link *l);
/* The Noise handshake hash, once established (channel binding); false before. */
bool link_handshake_hash(const struct link *l, uint8_t out[static NOISE_HASHLEN]);
void link_get_stats(const struct link *l, struct link_stats *out);

#endif
