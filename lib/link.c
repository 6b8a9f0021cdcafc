/*
 * The link state machine: Noise_IK over a byte stream, with the 2-byte
 * message framing, the handshake payloads, the frame stream and the rekey
 * rule of docs/spec/wire.md ("Links").
 */
#include "link.h"

#include <stdlib.h>
#include <string.h>
#include <sodium.h>

/* Handshake payloads (wire.md): msg1 = version, role; msg2 = version. */
#define MSG1_PAYLOAD_LEN 2
#define MSG2_PAYLOAD_LEN 1
#define FRAME_HDR_LEN 4

/* A byte buffer whose live data is p[off..len). */
struct buf {
    uint8_t *p;
    size_t off, len, cap;
};

struct link {
    bool initiator;
    enum link_state state;
    enum link_role role, remote_role;
    size_t max_frame, out_cap;
    uint64_t rekey_interval;
    struct noise_hs *hs;
    struct noise_cipher *send, *recv;
    uint8_t rs[LINK_KEY_LEN];
    bool has_rs;
    uint8_t hash[NOISE_HASHLEN];
    struct buf in;    /* an incomplete Noise message (with its length prefix) */
    struct buf plain; /* decrypted stream; p[off..scan) holds complete frames */
    size_t scan;      /* start of the first frame not yet complete */
    struct buf out;   /* bytes waiting for the socket */
    const char *reason;
    struct link_stats st;
};

const char *link_strerror(int err)
{
    switch (err) {
    case LINK_OK: return "ok";
    case LINK_ERR_HANDSHAKE: return "handshake failed";
    case LINK_ERR_MAC: return "transport message failed authentication";
    case LINK_ERR_OVERSIZED: return "peer announced an oversized frame";
    case LINK_ERR_PAYLOAD: return "bad handshake payload";
    case LINK_ERR_STATE: return "not allowed in this link state";
    case LINK_ERR_FULL: return "output buffer full";
    case LINK_ERR_TOO_BIG: return "frame larger than the maximum";
    case LINK_ERR_NOMEM: return "out of memory";
    case LINK_ERR_NONCE: return "nonce exhausted";
    case LINK_ERR_FAILED: return "link already failed";
    default: return "unknown link error";
    }
}

/* ------------------------------------------------------------- buffers */

static void buf_free(struct buf *b)
{
    if (b->p != NULL) {
        sodium_memzero(b->p, b->cap);
        free(b->p);
    }
    memset(b, 0, sizeof *b);
}

/*
 * Make room for `extra` bytes after len.  The consumed front [0, off) is
 * reclaimed by sliding the live data down only when the tail is short and
 * the front is at least as large as the live data, so each byte is moved a
 * bounded number of times: appending to a buffer with a large unsent backlog
 * costs O(1) per byte, not O(backlog) per append.  Offsets into the buffer
 * must be kept relative to off across a call.
 */
static bool buf_reserve(struct buf *b, size_t extra)
{
    if (extra <= b->cap - b->len)
        return true;
    size_t live = b->len - b->off;
    if (b->off > 0 && b->off >= live && extra <= b->cap - live) {
        memmove(b->p, b->p + b->off, live);
        b->len = live;
        b->off = 0;
        return true;
    }
    if (extra > SIZE_MAX / 4 - live)
        return false;
    size_t cap = b->cap ? b->cap : 256;
    while (cap - live < extra)
        cap *= 2;
    uint8_t *p = malloc(cap);
    if (p == NULL)
        return false;
    if (b->p != NULL) {
        memcpy(p, b->p + b->off, live);
        /* The old block held plaintext: wipe it rather than realloc(). */
        sodium_memzero(b->p, b->cap);
        free(b->p);
    }
    b->p = p;
    b->cap = cap;
    b->len = live;
    b->off = 0;
    return true;
}

static size_t buf_used(const struct buf *b)
{
    return b->len - b->off;
}

/* -------------------------------------------------------------- set-up */

static struct link *link_alloc(const uint8_t *sk, const uint8_t *pk, const uint8_t *rpk,
                               bool initiator, size_t max_frame, const struct mix_rng *rng)
{
    if (sk == NULL || pk == NULL || rng == NULL || max_frame > UINT32_MAX)
        return NULL;
    struct link *l = calloc(1, sizeof *l);
    if (l == NULL)
        return NULL;
    l->initiator = initiator;
    l->max_frame = max_frame ? max_frame : LINK_DEFAULT_MAX_FRAME;
    l->out_cap = LINK_DEFAULT_OUT_CAP;
    l->rekey_interval = LINK_REKEY_INTERVAL;
    l->state = initiator ? LINK_STATE_NEW : LINK_STATE_HANDSHAKE;
    l->hs = noise_hs_new(NOISE_PATTERN_IK, initiator, (const uint8_t *)LINK_PROLOGUE,
                         strlen(LINK_PROLOGUE), sk, pk, rpk, rng);
    if (l->hs == NULL) {
        free(l);
        return NULL;
    }
    if (rpk != NULL) {
        memcpy(l->rs, rpk, LINK_KEY_LEN);
        l->has_rs = true;
    }
    return l;
}

struct link *link_new_initiator(const uint8_t static_sk[static LINK_KEY_LEN],
                                const uint8_t static_pk[static LINK_KEY_LEN],
                                const uint8_t remote_pk[static LINK_KEY_LEN], enum link_role role,
                                size_t max_frame, const struct mix_rng *rng)
{
    if (remote_pk == NULL || role < LINK_ROLE_CLIENT || role > LINK_ROLE_AUTHORITY)
        return NULL;
    struct link *l = link_alloc(static_sk, static_pk, remote_pk, true, max_frame, rng);
    if (l != NULL)
        l->role = role;
    return l;
}

struct link *link_new_responder(const uint8_t static_sk[static LINK_KEY_LEN],
                                const uint8_t static_pk[static LINK_KEY_LEN], size_t max_frame,
                                const struct mix_rng *rng)
{
    return link_alloc(static_sk, static_pk, NULL, false, max_frame, rng);
}

void link_free(struct link *l)
{
    if (l == NULL)
        return;
    noise_hs_free(l->hs);
    noise_cipher_free(l->send);
    noise_cipher_free(l->recv);
    buf_free(&l->in);
    buf_free(&l->plain);
    buf_free(&l->out);
    sodium_memzero(l, sizeof *l);
    free(l);
}

void link_set_output_cap(struct link *l, size_t cap)
{
    l->out_cap = cap;
}

void link_set_rekey_interval(struct link *l, uint64_t interval)
{
    l->rekey_interval = interval;
}

/*
 * Record a fatal error: the handshake and the transport keys are wiped at
 * once, so a failed link holds no key however long the caller keeps it.
 * The plaintext buffer is left alone because frames the caller popped
 * before (say, while answering them with link_send_frame) point into it;
 * link_free() wipes it.
 */
static int link_fail(struct link *l, int err, const char *reason)
{
    l->state = LINK_STATE_FAILED;
    l->reason = reason;
    noise_hs_free(l->hs);
    noise_cipher_free(l->send);
    noise_cipher_free(l->recv);
    l->hs = NULL;
    l->send = l->recv = NULL;
    buf_free(&l->in);
    return err;
}

/* ----------------------------------------------------------- handshake */

/* Write one handshake message, with its length prefix, to the output. */
static int hs_send(struct link *l, const uint8_t *payload, size_t plen)
{
    size_t mlen = noise_hs_message_len(l->hs, plen);
    if (!buf_reserve(&l->out, 2 + mlen))
        return link_fail(l, LINK_ERR_NOMEM, "out of memory");
    uint8_t *dst = l->out.p + l->out.len;
    size_t wrote = 0;
    int rc = noise_hs_write_message(l->hs, payload, plen, dst + 2, mlen, &wrote);
    if (rc != NOISE_OK)
        return link_fail(l, LINK_ERR_HANDSHAKE, noise_strerror(rc));
    mix_put_be16(dst, (uint16_t)wrote);
    l->out.len += 2 + wrote;
    return LINK_OK;
}

/* Split into transport keys and drop the handshake state (and its secrets). */
static int hs_finish(struct link *l)
{
    int rc = noise_hs_split(l->hs, &l->send, &l->recv);
    if (rc != NOISE_OK)
        return link_fail(l, LINK_ERR_NOMEM, "split failed");
    noise_hs_handshake_hash(l->hs, l->hash);
    noise_hs_free(l->hs);
    l->hs = NULL;
    l->state = LINK_STATE_ESTABLISHED;
    return LINK_OK;
}

int link_start(struct link *l)
{
    if (l->state == LINK_STATE_FAILED)
        return LINK_ERR_FAILED;
    if (!l->initiator)
        return LINK_OK;
    if (l->state != LINK_STATE_NEW)
        return LINK_ERR_STATE;
    const uint8_t payload[MSG1_PAYLOAD_LEN] = { LINK_PROTO_VERSION, (uint8_t)l->role };
    int rc = hs_send(l, payload, sizeof payload);
    if (rc == LINK_OK)
        l->state = LINK_STATE_HANDSHAKE;
    return rc;
}

/*
 * Read a handshake message into a scratch area at the end of the plaintext
 * buffer (empty during the handshake), check its payload, and answer msg1.
 */
static int hs_recv(struct link *l, const uint8_t *msg, size_t len)
{
    if (l->state != LINK_STATE_HANDSHAKE)
        return link_fail(l, LINK_ERR_STATE, "data before the handshake started");
    if (!buf_reserve(&l->plain, len + 1))
        return link_fail(l, LINK_ERR_NOMEM, "out of memory");
    uint8_t *pl = l->plain.p + l->plain.len;
    size_t plen = 0;
    int rc = noise_hs_read_message(l->hs, msg, len, pl, len + 1, &plen);
    if (rc != NOISE_OK)
        return link_fail(l, LINK_ERR_HANDSHAKE, noise_strerror(rc));
    if (l->initiator) {
        if (plen != MSG2_PAYLOAD_LEN || pl[0] != LINK_PROTO_VERSION)
            return link_fail(l, LINK_ERR_PAYLOAD, "bad msg2 payload (version)");
        return hs_finish(l);
    }
    if (plen != MSG1_PAYLOAD_LEN || pl[0] != LINK_PROTO_VERSION)
        return link_fail(l, LINK_ERR_PAYLOAD, "bad msg1 payload (length or version)");
    if (pl[1] < LINK_ROLE_CLIENT || pl[1] > LINK_ROLE_AUTHORITY)
        return link_fail(l, LINK_ERR_PAYLOAD, "bad msg1 payload (role)");
    l->remote_role = (enum link_role)pl[1];
    l->has_rs = noise_hs_remote_static(l->hs, l->rs);
    const uint8_t reply[MSG2_PAYLOAD_LEN] = { LINK_PROTO_VERSION };
    rc = hs_send(l, reply, sizeof reply);
    return rc == LINK_OK ? hs_finish(l) : rc;
}

/* ----------------------------------------------------------- transport */

/*
 * The rekey rule (wire.md): after message number n (counting from 0) in a
 * direction, that direction's CipherState is rekeyed first if the message
 * was empty (the on-demand signal), then again if n + 1 is a multiple of the
 * interval.  Sender and receiver apply it to the same messages.
 */
static int apply_rekey(struct link *l, struct noise_cipher *c, bool empty, uint64_t *counter)
{
    int rc = NOISE_OK;
    if (empty) {
        rc = noise_cipher_rekey(c);
        (*counter)++;
    }
    if (rc == NOISE_OK && l->rekey_interval != 0 &&
        noise_cipher_nonce(c) % l->rekey_interval == 0) {
        rc = noise_cipher_rekey(c);
        (*counter)++;
    }
    return rc;
}

/* Validate frame headers as soon as they are complete, before any growth. */
static int scan_frames(struct link *l)
{
    while (l->plain.len - l->scan >= FRAME_HDR_LEN) {
        uint32_t flen = mix_get_be32(l->plain.p + l->scan);
        if (flen > l->max_frame)
            return link_fail(l, LINK_ERR_OVERSIZED, "frame length above the maximum");
        if (l->plain.len - l->scan - FRAME_HDR_LEN < flen)
            break;
        l->scan += FRAME_HDR_LEN + flen;
        l->st.frames_in++;
    }
    return LINK_OK;
}

static int transport_recv(struct link *l, const uint8_t *msg, size_t len)
{
    if (len < NOISE_TAGLEN)
        return link_fail(l, LINK_ERR_MAC, "transport message shorter than its tag");
    size_t plen = len - NOISE_TAGLEN;
    size_t scan_rel = l->scan - l->plain.off;
    if (!buf_reserve(&l->plain, plen + 1))
        return link_fail(l, LINK_ERR_NOMEM, "out of memory");
    l->scan = l->plain.off + scan_rel; /* buf_reserve may have moved the data */
    int rc = noise_cipher_decrypt(l->recv, NULL, 0, msg, len, l->plain.p + l->plain.len);
    if (rc == NOISE_ERR_NONCE)
        return link_fail(l, LINK_ERR_NONCE, "receive nonce exhausted");
    if (rc != NOISE_OK)
        return link_fail(l, LINK_ERR_MAC, "transport message failed authentication");
    l->plain.len += plen;
    l->st.msgs_in++;
    if (apply_rekey(l, l->recv, plen == 0, &l->st.rekeys_in) != NOISE_OK)
        return link_fail(l, LINK_ERR_NONCE, "receive rekey failed");
    return scan_frames(l);
}

static int process_message(struct link *l, const uint8_t *msg, size_t len)
{
    if (l->state == LINK_STATE_ESTABLISHED)
        return transport_recv(l, msg, len);
    return hs_recv(l, msg, len);
}

/* Move the plaintext of popped frames out of the way (invalidates pointers). */
static void plain_compact(struct link *l)
{
    size_t scan_rel = l->scan - l->plain.off;
    if (l->plain.off > 0) {
        memmove(l->plain.p, l->plain.p + l->plain.off, l->plain.len - l->plain.off);
        sodium_memzero(l->plain.p + l->plain.len - l->plain.off, l->plain.off);
        l->plain.len -= l->plain.off;
        l->plain.off = 0;
    }
    l->scan = scan_rel;
}

int link_feed(struct link *l, const uint8_t *bytes, size_t n)
{
    if (l->state == LINK_STATE_FAILED)
        return LINK_ERR_FAILED;
    l->st.bytes_in += n;
    plain_compact(l);
    while (n > 0) {
        size_t have = l->in.len;
        /* Fast path: a whole message in the caller's bytes, nothing buffered. */
        if (have == 0 && n >= 2 && n - 2 >= mix_get_be16(bytes)) {
            size_t mlen = mix_get_be16(bytes);
            int rc = process_message(l, bytes + 2, mlen);
            if (rc != LINK_OK)
                return rc;
            bytes += 2 + mlen;
            n -= 2 + mlen;
            continue;
        }
        size_t need = have < 2 ? 2 : 2 + (size_t)mix_get_be16(l->in.p);
        size_t take = need - have < n ? need - have : n;
        if (!buf_reserve(&l->in, take))
            return link_fail(l, LINK_ERR_NOMEM, "out of memory");
        memcpy(l->in.p + l->in.len, bytes, take);
        l->in.len += take;
        bytes += take;
        n -= take;
        if (l->in.len >= 2 && l->in.len == 2 + (size_t)mix_get_be16(l->in.p)) {
            int rc = process_message(l, l->in.p + 2, l->in.len - 2);
            if (rc != LINK_OK)
                return rc;
            l->in.len = 0;
        }
    }
    return LINK_OK;
}

int link_next_frame(struct link *l, const uint8_t **ptr, size_t *len)
{
    if (l->state != LINK_STATE_ESTABLISHED || l->plain.off >= l->scan)
        return 0;
    uint32_t flen = mix_get_be32(l->plain.p + l->plain.off);
    *ptr = l->plain.p + l->plain.off + FRAME_HDR_LEN;
    *len = flen;
    l->plain.off += FRAME_HDR_LEN + flen;
    return 1;
}

/* Copy [pos, pos+n) of the virtual stream hdr || data to dst. */
static void stream_copy(uint8_t *dst, const uint8_t hdr[FRAME_HDR_LEN], const uint8_t *data,
                        size_t pos, size_t n)
{
    if (pos < FRAME_HDR_LEN) {
        size_t h = FRAME_HDR_LEN - pos < n ? FRAME_HDR_LEN - pos : n;
        memcpy(dst, hdr + pos, h);
        dst += h;
        pos += h;
        n -= h;
    }
    if (n > 0)
        memcpy(dst, data + (pos - FRAME_HDR_LEN), n);
}

/* Encrypt one transport message of plaintext already placed at out.len + 2. */
static int seal_message(struct link *l, size_t plen)
{
    uint8_t *dst = l->out.p + l->out.len;
    int rc = noise_cipher_encrypt(l->send, NULL, 0, dst + 2, plen, dst + 2);
    if (rc != NOISE_OK)
        return link_fail(l, LINK_ERR_NONCE, "send nonce exhausted");
    mix_put_be16(dst, (uint16_t)(plen + NOISE_TAGLEN));
    l->out.len += 2 + plen + NOISE_TAGLEN;
    l->st.msgs_out++;
    if (apply_rekey(l, l->send, plen == 0, &l->st.rekeys_out) != NOISE_OK)
        return link_fail(l, LINK_ERR_NONCE, "send rekey failed");
    return LINK_OK;
}

static int check_sendable(const struct link *l)
{
    if (l->state == LINK_STATE_FAILED)
        return LINK_ERR_FAILED;
    return l->state == LINK_STATE_ESTABLISHED ? LINK_OK : LINK_ERR_STATE;
}

int link_send_frame(struct link *l, const uint8_t *bytes, size_t len)
{
    int rc = check_sendable(l);
    if (rc != LINK_OK)
        return rc;
    if (len > l->max_frame || (bytes == NULL && len > 0))
        return LINK_ERR_TOO_BIG;
    size_t total = FRAME_HDR_LEN + len;
    size_t chunks = (total + LINK_MAX_CHUNK - 1) / LINK_MAX_CHUNK;
    size_t wire = total + chunks * (2 + NOISE_TAGLEN);
    if (wire > l->out_cap || buf_used(&l->out) > l->out_cap - wire) {
        l->st.drops_full++;
        return LINK_ERR_FULL;
    }
    if (!buf_reserve(&l->out, wire))
        return LINK_ERR_NOMEM; /* not fatal: nothing was encrypted */
    uint8_t hdr[FRAME_HDR_LEN];
    mix_put_be32(hdr, (uint32_t)len);
    for (size_t pos = 0; pos < total;) {
        size_t n = total - pos < LINK_MAX_CHUNK ? total - pos : LINK_MAX_CHUNK;
        stream_copy(l->out.p + l->out.len + 2, hdr, bytes, pos, n);
        if ((rc = seal_message(l, n)) != LINK_OK)
            return rc;
        pos += n;
    }
    l->st.frames_out++;
    return LINK_OK;
}

int link_rekey(struct link *l)
{
    int rc = check_sendable(l);
    if (rc != LINK_OK)
        return rc;
    if (!buf_reserve(&l->out, 2 + NOISE_TAGLEN))
        return LINK_ERR_NOMEM;
    return seal_message(l, 0);
}

/* ------------------------------------------------------------- output */

void link_output(const struct link *l, const uint8_t **ptr, size_t *len)
{
    *ptr = l->out.p ? l->out.p + l->out.off : NULL;
    *len = buf_used(&l->out);
}

void link_consume_output(struct link *l, size_t n)
{
    size_t used = buf_used(&l->out);
    if (n > used)
        n = used;
    l->out.off += n;
    l->st.bytes_out += n;
    if (l->out.off == l->out.len)
        l->out.off = l->out.len = 0;
}

size_t link_output_pending(const struct link *l)
{
    return buf_used(&l->out);
}

/* -------------------------------------------------------------- queries */

enum link_state link_state(const struct link *l)
{
    return l->state;
}

bool link_is_established(const struct link *l)
{
    return l->state == LINK_STATE_ESTABLISHED;
}

bool link_is_initiator(const struct link *l)
{
    return l->initiator;
}

const char *link_error_reason(const struct link *l)
{
    return l->state == LINK_STATE_FAILED ? l->reason : NULL;
}

bool link_remote_static(const struct link *l, uint8_t out[static LINK_KEY_LEN])
{
    if (!l->has_rs)
        return false;
    memcpy(out, l->rs, LINK_KEY_LEN);
    return true;
}

enum link_role link_remote_role(const struct link *l)
{
    return l->remote_role;
}

bool link_handshake_hash(const struct link *l, uint8_t out[static NOISE_HASHLEN])
{
    if (l->state != LINK_STATE_ESTABLISHED)
        return false;
    memcpy(out, l->hash, NOISE_HASHLEN);
    return true;
}

void link_get_stats(const struct link *l, struct link_stats *out)
{
    *out = l->st;
}
