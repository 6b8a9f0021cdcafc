/*
 * The Noise Protocol Framework (revision 34), suite 25519_ChaChaPoly_BLAKE2b.
 *
 * I/O-free: the caller hands in message buffers and gets message buffers
 * back.  Every primitive comes from libsodium: X25519 (crypto_scalarmult),
 * ChaCha20-Poly1305 IETF with the nonce 32 zero bits || LE64(n), BLAKE2b-512,
 * and HMAC-BLAKE2b built per RFC 2104 (block length 128) for HKDF.
 *
 * The handshake engine is generic over a table of message tokens; the
 * patterns NK, KK, IK and XX are provided (the links use IK, the others are
 * there so that every published test vector can be checked).
 *
 * Errors: every call that can fail returns NOISE_OK (0) or a negative
 * enum noise_err.  After any error from a handshake call the handshake is
 * dead (the spec says to abort); free it.  Secrets are wiped on free.
 */
#ifndef MIX_NOISE_H
#define MIX_NOISE_H

#include "common.h"
#include "rng.h"

#define NOISE_DHLEN 32
#define NOISE_KEYLEN 32
#define NOISE_HASHLEN 64
#define NOISE_TAGLEN 16
/* The largest Noise message, in bytes, including tags and keys. */
#define NOISE_MAX_MSG 65535
/* The nonce value 2^64-1 is reserved by the spec (used only by REKEY). */
#define NOISE_MAX_NONCE UINT64_MAX

enum noise_err {
    NOISE_OK = 0,
    NOISE_ERR_LENGTH = -1,   /* a message is too short, too long, or a buffer too small */
    NOISE_ERR_DECRYPT = -2,  /* authentication tag did not verify */
    NOISE_ERR_BAD_KEY = -3,  /* invalid public key (DH output all zero) */
    NOISE_ERR_FINISHED = -4, /* the handshake pattern is finished (or not finished, for split) */
    NOISE_ERR_NONCE = -5,    /* nonce exhausted: the CipherState may not be used again */
    NOISE_ERR_STATE = -6,    /* wrong turn, missing key, or the handshake already failed */
    NOISE_ERR_ARG = -7,      /* bad argument (unknown pattern, NULL where a key is needed) */
};

/* A static string naming the error; never NULL. */
const char *noise_strerror(int err);

enum noise_pattern {
    NOISE_PATTERN_NK = 0,
    NOISE_PATTERN_KK,
    NOISE_PATTERN_IK,
    NOISE_PATTERN_XX,
};

/*
 * Parse a full protocol name such as "Noise_IK_25519_ChaChaPoly_BLAKE2b".
 * Only the 25519_ChaChaPoly_BLAKE2b suite is accepted.
 */
bool noise_pattern_from_name(const char *name, enum noise_pattern *out) MIX_WUR;

/* ---------------------------------------------------------------- keys */

/* Derive the X25519 public key of a private key (crypto_scalarmult_base). */
int noise_dh_pubkey(uint8_t pk[static NOISE_DHLEN], const uint8_t sk[static NOISE_DHLEN]) MIX_WUR;
/* Generate a fresh X25519 key pair from the caller's RNG. */
int noise_dh_keygen(uint8_t pk[static NOISE_DHLEN], uint8_t sk[static NOISE_DHLEN],
                    const struct mix_rng *rng) MIX_WUR;

/* -------------------------------------------------------- CipherState */

/*
 * A transport CipherState (spec section 5.1): a key k and a 64-bit nonce n.
 * Obtained from noise_hs_split().  Ciphertexts are plaintext length + 16.
 */
struct noise_cipher;

/* Creates a CipherState with key k and n = 0 (for tests and special uses). */
struct noise_cipher *noise_cipher_new(const uint8_t k[static NOISE_KEYLEN]);
void noise_cipher_free(struct noise_cipher *c);

/*
 * ENCRYPT(k, n++, ad, plaintext).  out must hold len + NOISE_TAGLEN bytes; out
 * may equal pt (in place).  NOISE_ERR_NONCE once n reached 2^64-1.
 */
int noise_cipher_encrypt(struct noise_cipher *c, const uint8_t *ad, size_t ad_len,
                         const uint8_t *pt, size_t len, uint8_t *out) MIX_WUR;
/*
 * DECRYPT(k, n, ad, ciphertext); n is incremented only on success.  out
 * receives len - NOISE_TAGLEN bytes and may equal ct.  NOISE_ERR_LENGTH if
 * len < 16, NOISE_ERR_DECRYPT if the tag fails (out is then zeroed).
 */
int noise_cipher_decrypt(struct noise_cipher *c, const uint8_t *ad, size_t ad_len,
                         const uint8_t *ct, size_t len, uint8_t *out) MIX_WUR;
/* REKEY: k = first 32 bytes of ENCRYPT(k, 2^64-1, "", 32 zero bytes); n unchanged. */
int noise_cipher_rekey(struct noise_cipher *c) MIX_WUR;
uint64_t noise_cipher_nonce(const struct noise_cipher *c);
/* SetNonce (spec 5.1); used by tests to reach nonce exhaustion. */
void noise_cipher_set_nonce(struct noise_cipher *c, uint64_t n);

/* ------------------------------------------------------ HandshakeState */

struct noise_hs;

/*
 * Initialize(handshake_pattern, initiator, prologue, s, e, rs, re) of the
 * spec (section 5.3).  s_sk is our static private key (required by the
 * patterns where we send or are known by "s": IK/KK/XX both sides, NK
 * responder); s_pk may be NULL, then it is derived from s_sk.  rs is the
 * remote static key where the pattern pre-knows it (NK/IK/KK initiator, KK
 * responder), else NULL.  The RNG generates the ephemeral key when a message
 * needs it.  Returns NULL if a required key is missing, the pattern is
 * unknown, or memory is short.  The keys are copied.
 */
struct noise_hs *noise_hs_new(enum noise_pattern pattern, bool initiator, const uint8_t *prologue,
                              size_t prologue_len, const uint8_t *s_sk, const uint8_t *s_pk,
                              const uint8_t *rs, const struct mix_rng *rng);
void noise_hs_free(struct noise_hs *hs);

/*
 * Fix the ephemeral private key instead of drawing it from the RNG; for the
 * known-answer tests only.  Must be called before the message that sends "e".
 */
int noise_hs_set_ephemeral(struct noise_hs *hs, const uint8_t e_sk[static NOISE_DHLEN]) MIX_WUR;

/* Whose turn it is: true if the next call must be noise_hs_write_message(). */
bool noise_hs_is_my_turn(const struct noise_hs *hs);
/* True once every message of the pattern has been written or read. */
bool noise_hs_is_finished(const struct noise_hs *hs);
/* The length of the next message written with a payload of payload_len bytes. */
size_t noise_hs_message_len(const struct noise_hs *hs, size_t payload_len);

/*
 * WriteMessage(payload): writes the next handshake message into out (capacity
 * out_cap, at most NOISE_MAX_MSG is ever needed) and sets *out_len.
 */
int noise_hs_write_message(struct noise_hs *hs, const uint8_t *payload, size_t payload_len,
                           uint8_t *out, size_t out_cap, size_t *out_len) MIX_WUR;
/*
 * ReadMessage(message): processes a received handshake message and writes
 * its payload into payload_out (capacity payload_cap; msg_len bytes always
 * suffice), setting *payload_len.
 */
int noise_hs_read_message(struct noise_hs *hs, const uint8_t *msg, size_t msg_len,
                          uint8_t *payload_out, size_t payload_cap, size_t *payload_len) MIX_WUR;

/* The remote static key once known (pre-known or received); false if not yet. */
bool noise_hs_remote_static(const struct noise_hs *hs, uint8_t out[static NOISE_DHLEN]);
/* The handshake hash h (channel binding); final once the handshake is finished. */
void noise_hs_handshake_hash(const struct noise_hs *hs, uint8_t out[static NOISE_HASHLEN]);

/*
 * Split() once the handshake is finished: returns our sending and receiving
 * CipherStates (for the initiator send = c1, for the responder send = c2).
 * Wipes the handshake's chaining key; the hash stays readable.
 */
int noise_hs_split(struct noise_hs *hs, struct noise_cipher **send,
                   struct noise_cipher **recv) MIX_WUR;

/* -------------------------------------------- building blocks, for tests */

/* HMAC-BLAKE2b-512 per RFC 2104 (block length 128). */
void noise_hmac_blake2b(uint8_t out[static NOISE_HASHLEN], const uint8_t *key, size_t key_len,
                        const uint8_t *data, size_t data_len);
/* HKDF(ck, ikm, num_outputs) of the spec, section 4.3; num_outputs is 2 or 3. */
void noise_hkdf(const uint8_t ck[static NOISE_HASHLEN], const uint8_t *ikm, size_t ikm_len,
                unsigned num_outputs, uint8_t *o1, uint8_t *o2, uint8_t *o3);

#endif
