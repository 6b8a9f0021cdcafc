/*
 * Sphinx packets and single-use reply blocks (SURBs).
 *
 * Pure functions over caller buffers: no I/O, no globals, all randomness from
 * a caller's struct mix_rng.  The byte layout and every derivation are in
 * docs/spec/sphinx.md; the crypto suite is docs/design.md's (X25519 blinded per
 * hop, keyed BLAKE2b subkeys, ChaCha20 header stream, 16-byte BLAKE2b MAC,
 * Lioness payload with a 16-byte zero block).
 *
 * Two packet formats (spec sections 3-9 and 15), chosen per network by the
 * geometry's format: CLASSIC, one group element re-blinded at every hop (two
 * X25519 per hop), and KEM, where every routing slot carries the next hop's
 * own encapsulation (one X25519 per hop, 32 more header bytes per hop).
 *
 * Sizes for a geometry (r = max_hops, P = payload_len, c = the KEM's
 * encapsulation length, 32 for X25519):
 *   slot      = 69 (CLASSIC) or 69 + c (KEM)
 *   header    = 32 or c (group element) + 16 (MAC) + r * slot
 *   packet    = header + P
 *   plaintext = P - 16            (what a sender can put in one packet)
 *   SURB      = 32 + 32 + header  (first hop id, payload key, header)
 * Default geometry {5, 2048, CLASSIC}: header 393, packet 2441, plaintext
 * 2032, SURB 457; with KEM: header 553, packet 2601, SURB 617.
 *
 * Payload framing: a forward packet always carries exactly
 * sphinx_plaintext_len() bytes; a shorter plaintext is padded with zero
 * bytes, and the receiver gets the padded buffer.  Callers frame their own
 * content (e.g. a length prefix).
 *
 * Thread safety: every function is reentrant; sphinx_unwrap() may run on
 * several threads at once with one shared struct replay_cache.
 */
#ifndef MIX_SPHINX_H
#define MIX_SPHINX_H

#include "common.h"
#include "replay.h"
#include "rng.h"

#define SPHINX_KEY_LEN 32 /* X25519 private and public keys */
#define SPHINX_MAC_LEN 16
#define SPHINX_SURB_ID_LEN 16
#define SPHINX_TAG_LEN REPLAY_TAG_LEN
#define SPHINX_ZERO_LEN 16 /* zero block that checks payload integrity */
/* Per-hop routing slot: cmd 1 + node id 32 + delay 4 + SURB id 16 + MAC 16. */
#define SPHINX_SLOT_LEN 69
#define SPHINX_MAX_HOPS_LIMIT 10 /* largest max_hops a geometry may have */
#define SPHINX_MIN_PAYLOAD 64    /* smallest payload_len (Lioness minimum) */
#define SPHINX_MAX_PAYLOAD (1u << 20)
#define SPHINX_DEFAULT_HOPS 5
#define SPHINX_DEFAULT_PAYLOAD 2048
/* What a SURB creator keeps (fixed size for every geometry). */
#define SPHINX_SURB_KEYS_LEN (4 + SPHINX_SURB_ID_LEN + 32 + 32 * SPHINX_MAX_HOPS_LIMIT)

/* Packet formats (the directory's sphinx_format, docs/spec/directory.md). */
enum sphinx_format {
    SPHINX_FORMAT_CLASSIC = 0,    /* blinded group element, spec sections 3-9 */
    SPHINX_FORMAT_KEM_X25519 = 1, /* one encapsulation per hop, spec section 15 */
};
#define SPHINX_FORMAT_LAST SPHINX_FORMAT_KEM_X25519

struct sphinx_geometry {
    uint32_t max_hops;         /* 1..SPHINX_MAX_HOPS_LIMIT */
    uint32_t payload_len;      /* whole Sphinx payload, zero block included */
    enum sphinx_format format; /* CLASSIC (0) unless the directory says otherwise */
};

/*
 * A key encapsulation mechanism for the KEM format: one function pair, so
 * that another KEM (a post-quantum or hybrid one) is one more instance and
 * one more format number.  Shared secrets are 32 bytes.
 */
#define SPHINX_KEM_MAX_CT 32 /* largest encapsulation the layout has room for */
struct sphinx_kem {
    const char *name;
    size_t ct_len; /* encapsulation bytes carried per hop, <= SPHINX_KEM_MAX_CT */
    /* ct and ss for public key pk, randomness from rng; 0, or -1 for an invalid pk. */
    int (*encap)(const struct mix_rng *rng, const uint8_t pk[SPHINX_KEY_LEN], uint8_t *ct,
                 uint8_t ss[32]);
    /* ss from ct with private key sk; 0, or -1 for an invalid ct. */
    int (*decap)(const uint8_t sk[SPHINX_KEY_LEN], const uint8_t *ct, uint8_t ss[32]);
};

/* The KEM of a format (NULL for CLASSIC or an unknown format). */
const struct sphinx_kem *sphinx_kem_of(enum sphinx_format f);
/* "classic" / "kem-x25519"; NULL for an unknown format. */
const char *sphinx_format_name(enum sphinx_format f);
/* The format named s; false if there is none. */
bool sphinx_format_parse(const char *s, enum sphinx_format *out) MIX_WUR;

/* Routing commands (first byte of a decrypted routing slot). */
enum sphinx_cmd {
    SPHINX_CMD_FORWARD = 1, /* relay to node_id after delay_us */
    SPHINX_CMD_DELIVER = 2, /* exit: forward message for inbox node_id; payload checked */
    SPHINX_CMD_REPLY = 3,   /* exit: SURB reply for inbox node_id; payload still encrypted */
};

enum sphinx_status {
    SPHINX_OK = 0,             /* create / pack / open succeeded */
    SPHINX_OK_FORWARD = 1,     /* unwrap: relay the next packet */
    SPHINX_OK_DELIVER = 2,     /* unwrap: this node is the exit */
    SPHINX_ERR_LENGTH = -1,    /* packet of another length than the geometry's */
    SPHINX_ERR_MAC = -2,       /* header MAC mismatch */
    SPHINX_ERR_REPLAY = -3,    /* replay tag already in the cache */
    SPHINX_ERR_INTEGRITY = -4, /* zero block not zero: payload tampered */
    SPHINX_ERR_COMMAND = -5,   /* unknown routing command */
    SPHINX_ERR_KEY = -6,       /* invalid group element (low order point) */
    SPHINX_ERR_ARG = -7,       /* bad geometry, path, buffer size or argument */
};

/* One hop of a path, as read from the directory. */
struct sphinx_hop {
    uint8_t node_id[MIX_NODE_ID_LEN];
    uint8_t public_key[SPHINX_KEY_LEN];
    uint32_t delay_us; /* how long this node holds the packet */
};

/* What sphinx_unwrap() learned (valid when it returns SPHINX_OK_*). */
struct sphinx_result {
    enum sphinx_cmd cmd;
    uint8_t node_id[MIX_NODE_ID_LEN];    /* next node (FORWARD) or recipient inbox id */
    uint32_t delay_us;                   /* delay the sender chose for this node */
    uint8_t surb_id[SPHINX_SURB_ID_LEN]; /* REPLY: which SURB; zero for DELIVER */
    bool is_reply;                       /* REPLY: out holds encrypted payload */
    size_t out_len;                      /* bytes written to out */
    /* Always filled once the MAC verified, also on SPHINX_ERR_REPLAY and
     * later errors: for callers that check the cache themselves. */
    uint8_t replay_tag[SPHINX_TAG_LEN];
};

struct sphinx_geometry sphinx_geometry_default(void);
/* Whether g is usable; on false *why (if why != NULL) says why. */
bool sphinx_geometry_valid(const struct sphinx_geometry *g, const char **why) MIX_WUR;
/* Sizes for a valid geometry (0 for an invalid one). */
size_t sphinx_header_len(const struct sphinx_geometry *g);
size_t sphinx_packet_len(const struct sphinx_geometry *g);
size_t sphinx_plaintext_len(const struct sphinx_geometry *g);
size_t sphinx_surb_len(const struct sphinx_geometry *g);
#define SPHINX_SURB_LEN(g) sphinx_surb_len(g)

/* A Sphinx key pair: sk random from rng, pk = X25519(sk, basepoint). */
void sphinx_keygen(const struct mix_rng *rng, uint8_t sk[static SPHINX_KEY_LEN],
                   uint8_t pk[static SPHINX_KEY_LEN]);
/* Public key from a private key. */
void sphinx_public_key(const uint8_t sk[static SPHINX_KEY_LEN], uint8_t pk[static SPHINX_KEY_LEN]);
/* Key id for the replay cache: BLAKE2b-256("mixnet-sphinx-v1 key-id" || pk). */
void sphinx_key_id(const uint8_t pk[static SPHINX_KEY_LEN], uint8_t id[static REPLAY_KEY_ID_LEN]);

/*
 * Build a forward packet through path[0..nhops) (1 <= nhops <= max_hops)
 * that the last hop delivers to inbox recipient_id.  plaintext[0..len) with
 * len <= sphinx_plaintext_len(g) (zero padded).  packet_out must hold
 * sphinx_packet_len(g) bytes; send it to path[0].node_id.  Returns
 * SPHINX_OK, SPHINX_ERR_ARG, or SPHINX_ERR_KEY (a path public key is a low
 * order point).
 */
enum sphinx_status sphinx_create(const struct sphinx_geometry *g, const struct mix_rng *rng,
                                 const struct sphinx_hop *path, size_t nhops,
                                 const uint8_t recipient_id[static MIX_NODE_ID_LEN],
                                 const uint8_t *plaintext, size_t len, uint8_t *packet_out) MIX_WUR;

/*
 * Process one packet at a node with Sphinx private key node_sk.
 *
 * Checks, in order: length (SPHINX_ERR_LENGTH), the group element
 * (SPHINX_ERR_KEY), the header MAC (SPHINX_ERR_MAC), then - only once the
 * MAC verified - the replay tag: if cache != NULL it is checked and recorded
 * (SPHINX_ERR_REPLAY); with cache == NULL the caller checks res->replay_tag
 * itself (e.g. replay_cache_insert() from a worker thread).  Then the
 * routing command (SPHINX_ERR_COMMAND) and, for DELIVER, the zero block
 * (SPHINX_ERR_INTEGRITY).
 *
 * out must hold out_cap >= sphinx_packet_len(g) bytes; out may equal pkt
 * (in place).  On SPHINX_OK_FORWARD out holds the next packet (packet_len
 * bytes) for res->node_id, to send after res->delay_us.  On
 * SPHINX_OK_DELIVER with cmd DELIVER, out holds the integrity-checked
 * plaintext (sphinx_plaintext_len bytes); with cmd REPLY (is_reply), out
 * holds the whole still-encrypted payload (payload_len bytes) to store for
 * the SURB's creator, who opens it with sphinx_surb_open().
 * On SPHINX_ERR_LENGTH, _KEY (from the shared secret), _MAC and _REPLAY,
 * out is not written, so a node may retry the same buffers with the previous
 * epoch's key.  On later errors out's contents are unspecified and no secret
 * remains in it.
 */
enum sphinx_status sphinx_unwrap(const struct sphinx_geometry *g,
                                 const uint8_t node_sk[static SPHINX_KEY_LEN],
                                 struct replay_cache *cache, const uint8_t *pkt, size_t len,
                                 uint8_t *out, size_t out_cap, struct sphinx_result *res) MIX_WUR;

const char *sphinx_strerror(enum sphinx_status s);

/*
 * Create a SURB through path[0..nhops) whose last hop delivers a REPLY to
 * the creator's own inbox recipient_id, tagged with surb_id (chosen by the
 * caller, e.g. random).  surb_out (sphinx_surb_len(g) bytes) goes to the
 * other side; keys_out (SPHINX_SURB_KEYS_LEN bytes) stays with the creator,
 * who finds it again by surb_id (bytes 4..20 of keys_out) when the reply
 * arrives.  Returns SPHINX_OK, SPHINX_ERR_ARG or SPHINX_ERR_KEY.
 */
enum sphinx_status sphinx_surb_create(const struct sphinx_geometry *g, const struct mix_rng *rng,
                                      const struct sphinx_hop *path, size_t nhops,
                                      const uint8_t recipient_id[static MIX_NODE_ID_LEN],
                                      const uint8_t surb_id[static SPHINX_SURB_ID_LEN],
                                      uint8_t *surb_out,
                                      uint8_t keys_out[static SPHINX_SURB_KEYS_LEN]) MIX_WUR;

/*
 * Anyone holding a SURB: build the reply packet carrying plaintext[0..len)
 * (len <= sphinx_plaintext_len(g), zero padded) into packet_out
 * (sphinx_packet_len(g) bytes) and the node to send it to into first_hop_out.
 * Returns SPHINX_OK, SPHINX_ERR_LENGTH (surb_len wrong) or SPHINX_ERR_ARG.
 */
enum sphinx_status sphinx_surb_pack(const struct sphinx_geometry *g, const uint8_t *surb,
                                    size_t surb_len, const uint8_t *plaintext, size_t len,
                                    uint8_t *packet_out,
                                    uint8_t first_hop_out[static MIX_NODE_ID_LEN]) MIX_WUR;

/*
 * The SURB creator: decrypt a REPLY payload (payload_len bytes, as unwrap
 * handed it to the exit) with the kept keys, check the zero block, and write
 * sphinx_plaintext_len(g) bytes to plaintext_out.  Returns SPHINX_OK,
 * SPHINX_ERR_LENGTH, SPHINX_ERR_INTEGRITY (wrong keys or tampered), or
 * SPHINX_ERR_ARG (malformed keys).
 */
enum sphinx_status sphinx_surb_open(const struct sphinx_geometry *g,
                                    const uint8_t keys[static SPHINX_SURB_KEYS_LEN],
                                    const uint8_t *payload, size_t payload_len,
                                    uint8_t *plaintext_out) MIX_WUR;

/* The SURB id stored in a keys blob. */
void sphinx_surb_keys_id(const uint8_t keys[static SPHINX_SURB_KEYS_LEN],
                         uint8_t surb_id[static SPHINX_SURB_ID_LEN]);

#endif
