/*
 * Noise Protocol Framework revision 34, suite 25519_ChaChaPoly_BLAKE2b.
 * Section numbers in comments refer to that revision of the spec.
 */
#include "noise.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#define BLAKE2B_BLOCKLEN 128

const char *noise_strerror(int err)
{
    switch (err) {
    case NOISE_OK: return "ok";
    case NOISE_ERR_LENGTH: return "bad message or buffer length";
    case NOISE_ERR_DECRYPT: return "decryption failed (bad tag)";
    case NOISE_ERR_BAD_KEY: return "invalid public key";
    case NOISE_ERR_FINISHED: return "handshake pattern finished (or not finished)";
    case NOISE_ERR_NONCE: return "nonce exhausted";
    case NOISE_ERR_STATE: return "call not valid in this handshake state";
    case NOISE_ERR_ARG: return "bad argument";
    default: return "unknown noise error";
    }
}

/* ------------------------------------------------------------ patterns */

enum token { T_END = 0, T_E, T_S, T_EE, T_ES, T_SE, T_SS };

#define MAX_MSGS 3
#define MAX_TOKENS 5

/*
 * A handshake pattern (section 7): which static keys the pre-messages
 * carry, and the token list of each message.  Message i is sent by the
 * initiator when i is even.
 */
struct pattern {
    const char *name;
    bool pre_init_s, pre_resp_s;
    unsigned nmsgs;
    uint8_t msgs[MAX_MSGS][MAX_TOKENS];
};

static const struct pattern patterns[] = {
    [NOISE_PATTERN_NK] = { "NK", false, true, 2, { { T_E, T_ES }, { T_E, T_EE } } },
    [NOISE_PATTERN_KK] = { "KK", true, true, 2, { { T_E, T_ES, T_SS }, { T_E, T_EE, T_SE } } },
    [NOISE_PATTERN_IK] = { "IK",
                           false,
                           true,
                           2,
                           { { T_E, T_ES, T_S, T_SS }, { T_E, T_EE, T_SE } } },
    [NOISE_PATTERN_XX] = { "XX",
                           false,
                           false,
                           3,
                           { { T_E }, { T_E, T_EE, T_S, T_ES }, { T_S, T_SE } } },
};

#define SUITE "_25519_ChaChaPoly_BLAKE2b"

bool noise_pattern_from_name(const char *name, enum noise_pattern *out)
{
    if (name == NULL || strncmp(name, "Noise_", 6) != 0)
        return false;
    for (size_t i = 0; i < MIX_ARRAY_LEN(patterns); i++) {
        size_t pl = strlen(patterns[i].name);
        if (strncmp(name + 6, patterns[i].name, pl) == 0 && strcmp(name + 6 + pl, SUITE) == 0) {
            *out = (enum noise_pattern)i;
            return true;
        }
    }
    return false;
}

/* Whether the side `initiator` sends its static key in some message. */
static bool pattern_sends_s(const struct pattern *p, bool initiator)
{
    for (unsigned m = initiator ? 0 : 1; m < p->nmsgs; m += 2)
        for (unsigned t = 0; t < MAX_TOKENS; t++)
            if (p->msgs[m][t] == T_S)
                return true;
    return false;
}

/* ------------------------------------------------- hash, HMAC, HKDF */

static void hash2(uint8_t out[NOISE_HASHLEN], const uint8_t *a, size_t alen, const uint8_t *b,
                  size_t blen)
{
    crypto_generichash_blake2b_state st;
    crypto_generichash_blake2b_init(&st, NULL, 0, NOISE_HASHLEN);
    crypto_generichash_blake2b_update(&st, a, alen);
    if (blen > 0)
        crypto_generichash_blake2b_update(&st, b, blen);
    crypto_generichash_blake2b_final(&st, out, NOISE_HASHLEN);
    sodium_memzero(&st, sizeof st);
}

/*
 * HMAC per RFC 2104 with BLAKE2b as H and block length 128, as section 4.3
 * requires.  BLAKE2b's own keyed mode is a different function, and
 * crypto_auth is HMAC-SHA-512, so neither may be used here.
 */
void noise_hmac_blake2b(uint8_t out[static NOISE_HASHLEN], const uint8_t *key, size_t key_len,
                        const uint8_t *data, size_t data_len)
{
    uint8_t k[BLAKE2B_BLOCKLEN] = { 0 }, pad[BLAKE2B_BLOCKLEN], inner[NOISE_HASHLEN];
    if (key_len > BLAKE2B_BLOCKLEN)
        hash2(k, key, key_len, NULL, 0);
    else if (key_len > 0)
        memcpy(k, key, key_len);
    for (size_t i = 0; i < sizeof pad; i++)
        pad[i] = k[i] ^ 0x36;
    hash2(inner, pad, sizeof pad, data, data_len);
    for (size_t i = 0; i < sizeof pad; i++)
        pad[i] = k[i] ^ 0x5c;
    hash2(out, pad, sizeof pad, inner, sizeof inner);
    sodium_memzero(k, sizeof k);
    sodium_memzero(pad, sizeof pad);
    sodium_memzero(inner, sizeof inner);
}

void noise_hkdf(const uint8_t ck[static NOISE_HASHLEN], const uint8_t *ikm, size_t ikm_len,
                unsigned num_outputs, uint8_t *o1, uint8_t *o2, uint8_t *o3)
{
    uint8_t temp_key[NOISE_HASHLEN], buf[NOISE_HASHLEN + 1];
    noise_hmac_blake2b(temp_key, ck, NOISE_HASHLEN, ikm, ikm_len);
    buf[0] = 0x01;
    noise_hmac_blake2b(o1, temp_key, sizeof temp_key, buf, 1);
    memcpy(buf, o1, NOISE_HASHLEN);
    buf[NOISE_HASHLEN] = 0x02;
    noise_hmac_blake2b(o2, temp_key, sizeof temp_key, buf, sizeof buf);
    if (num_outputs == 3) {
        memcpy(buf, o2, NOISE_HASHLEN);
        buf[NOISE_HASHLEN] = 0x03;
        noise_hmac_blake2b(o3, temp_key, sizeof temp_key, buf, sizeof buf);
    }
    sodium_memzero(temp_key, sizeof temp_key);
    sodium_memzero(buf, sizeof buf);
}

/* ------------------------------------------------------------------ DH */

int noise_dh_pubkey(uint8_t pk[static NOISE_DHLEN], const uint8_t sk[static NOISE_DHLEN])
{
    return crypto_scalarmult_base(pk, sk) == 0 ? NOISE_OK : NOISE_ERR_BAD_KEY;
}

int noise_dh_keygen(uint8_t pk[static NOISE_DHLEN], uint8_t sk[static NOISE_DHLEN],
                    const struct mix_rng *rng)
{
    mix_rng_bytes(rng, sk, NOISE_DHLEN);
    return noise_dh_pubkey(pk, sk);
}

/* DH() of section 4.1; libsodium refuses an all-zero output (a low-order key). */
static int dh(uint8_t out[NOISE_DHLEN], const uint8_t sk[NOISE_DHLEN],
              const uint8_t pk[NOISE_DHLEN])
{
    return crypto_scalarmult(out, sk, pk) == 0 ? NOISE_OK : NOISE_ERR_BAD_KEY;
}

/* --------------------------------------------------------- CipherState */

struct noise_cipher {
    uint8_t k[NOISE_KEYLEN];
    uint64_t n;
    bool has_key;
};

/* The ChaChaPoly nonce (section 12.3): 32 zero bits, then n little-endian. */
static void chacha_nonce(uint8_t out[12], uint64_t n)
{
    memset(out, 0, 4);
    for (int i = 0; i < 8; i++)
        out[4 + i] = (uint8_t)(n >> (8 * i));
}

static void aead_encrypt(const uint8_t k[NOISE_KEYLEN], uint64_t n, const uint8_t *ad,
                         size_t ad_len, const uint8_t *pt, size_t len, uint8_t *out)
{
    uint8_t nonce[12];
    chacha_nonce(nonce, n);
    crypto_aead_chacha20poly1305_ietf_encrypt(out, NULL, pt, len, ad, ad_len, NULL, nonce, k);
}

static int aead_decrypt(const uint8_t k[NOISE_KEYLEN], uint64_t n, const uint8_t *ad, size_t ad_len,
                        const uint8_t *ct, size_t len, uint8_t *out)
{
    uint8_t nonce[12];
    chacha_nonce(nonce, n);
    if (crypto_aead_chacha20poly1305_ietf_decrypt(out, NULL, NULL, ct, len, ad, ad_len, nonce, k) !=
        0) {
        sodium_memzero(out, len - NOISE_TAGLEN);
        return NOISE_ERR_DECRYPT;
    }
    return NOISE_OK;
}

static void cipher_init(struct noise_cipher *c, const uint8_t k[NOISE_KEYLEN])
{
    memcpy(c->k, k, NOISE_KEYLEN);
    c->n = 0;
    c->has_key = true;
}

struct noise_cipher *noise_cipher_new(const uint8_t k[static NOISE_KEYLEN])
{
    struct noise_cipher *c = malloc(sizeof *c);
    if (c != NULL)
        cipher_init(c, k);
    return c;
}

void noise_cipher_free(struct noise_cipher *c)
{
    if (c == NULL)
        return;
    sodium_memzero(c, sizeof *c);
    free(c);
}

int noise_cipher_encrypt(struct noise_cipher *c, const uint8_t *ad, size_t ad_len,
                         const uint8_t *pt, size_t len, uint8_t *out)
{
    if (!c->has_key)
        return NOISE_ERR_STATE;
    if (c->n == NOISE_MAX_NONCE)
        return NOISE_ERR_NONCE;
    aead_encrypt(c->k, c->n, ad, ad_len, pt, len, out);
    c->n++;
    return NOISE_OK;
}

int noise_cipher_decrypt(struct noise_cipher *c, const uint8_t *ad, size_t ad_len,
                         const uint8_t *ct, size_t len, uint8_t *out)
{
    if (!c->has_key)
        return NOISE_ERR_STATE;
    if (len < NOISE_TAGLEN)
        return NOISE_ERR_LENGTH;
    if (c->n == NOISE_MAX_NONCE)
        return NOISE_ERR_NONCE;
    int rc = aead_decrypt(c->k, c->n, ad, ad_len, ct, len, out);
    if (rc == NOISE_OK)
        c->n++;
    return rc;
}

int noise_cipher_rekey(struct noise_cipher *c)
{
    static const uint8_t zeros[NOISE_KEYLEN];
    uint8_t out[NOISE_KEYLEN + NOISE_TAGLEN];
    if (!c->has_key)
        return NOISE_ERR_STATE;
    aead_encrypt(c->k, NOISE_MAX_NONCE, NULL, 0, zeros, sizeof zeros, out);
    memcpy(c->k, out, NOISE_KEYLEN);
    sodium_memzero(out, sizeof out);
    return NOISE_OK;
}

uint64_t noise_cipher_nonce(const struct noise_cipher *c)
{
    return c->n;
}

void noise_cipher_set_nonce(struct noise_cipher *c, uint64_t n)
{
    c->n = n;
}

/* ------------------------------------------------------ HandshakeState */

struct noise_hs {
    const struct pattern *pat;
    bool initiator, failed, split_done;
    bool has_s, has_e, has_rs, has_re;
    unsigned msg_idx; /* next message of the pattern */
    uint8_t s_sk[NOISE_DHLEN], s_pk[NOISE_DHLEN];
    uint8_t e_sk[NOISE_DHLEN], e_pk[NOISE_DHLEN];
    uint8_t rs[NOISE_DHLEN], re[NOISE_DHLEN];
    /* SymmetricState (section 5.2). */
    uint8_t ck[NOISE_HASHLEN], h[NOISE_HASHLEN];
    struct noise_cipher cs;
    struct mix_rng rng;
};

static void mix_hash(struct noise_hs *hs, const uint8_t *data, size_t len)
{
    hash2(hs->h, hs->h, NOISE_HASHLEN, data, len);
}

/* MixKey: ck, temp_k = HKDF(ck, ikm, 2); HASHLEN 64 so temp_k is truncated. */
static void mix_key(struct noise_hs *hs, const uint8_t ikm[NOISE_DHLEN])
{
    uint8_t ck[NOISE_HASHLEN], tk[NOISE_HASHLEN];
    noise_hkdf(hs->ck, ikm, NOISE_DHLEN, 2, ck, tk, NULL);
    memcpy(hs->ck, ck, NOISE_HASHLEN);
    cipher_init(&hs->cs, tk);
    sodium_memzero(ck, sizeof ck);
    sodium_memzero(tk, sizeof tk);
}

/* EncryptAndHash: out holds len (+16 once a key is set); returns bytes written. */
static size_t encrypt_and_hash(struct noise_hs *hs, const uint8_t *pt, size_t len, uint8_t *out)
{
    size_t olen = len;
    if (hs->cs.has_key) {
        aead_encrypt(hs->cs.k, hs->cs.n, hs->h, NOISE_HASHLEN, pt, len, out);
        hs->cs.n++;
        olen += NOISE_TAGLEN;
    } else if (out != pt) {
        memmove(out, pt, len);
    }
    mix_hash(hs, out, olen);
    return olen;
}

static int decrypt_and_hash(struct noise_hs *hs, const uint8_t *ct, size_t len, uint8_t *out)
{
    uint8_t h_next[NOISE_HASHLEN];
    hash2(h_next, hs->h, NOISE_HASHLEN, ct, len);
    if (hs->cs.has_key) {
        int rc = aead_decrypt(hs->cs.k, hs->cs.n, hs->h, NOISE_HASHLEN, ct, len, out);
        if (rc != NOISE_OK)
            return rc;
        hs->cs.n++;
    } else if (len > 0 && out != ct) {
        memmove(out, ct, len);
    }
    memcpy(hs->h, h_next, NOISE_HASHLEN);
    return NOISE_OK;
}

/* Wipe every secret; the handshake can do nothing more. */
static void hs_wipe(struct noise_hs *hs)
{
    sodium_memzero(hs->s_sk, sizeof hs->s_sk);
    sodium_memzero(hs->e_sk, sizeof hs->e_sk);
    sodium_memzero(hs->ck, sizeof hs->ck);
    sodium_memzero(&hs->cs, sizeof hs->cs);
}

static int hs_fail(struct noise_hs *hs, int err)
{
    hs->failed = true;
    hs_wipe(hs);
    return err;
}

/* InitializeSymmetric(protocol_name) and the prologue/pre-message hashing. */
static void hs_init_symmetric(struct noise_hs *hs, const uint8_t *prologue, size_t plen)
{
    char name[64];
    size_t n = (size_t)snprintf(name, sizeof name, "Noise_%s" SUITE, hs->pat->name);
    memset(hs->h, 0, sizeof hs->h);
    memcpy(hs->h, name, n); /* every name here is shorter than HASHLEN */
    memcpy(hs->ck, hs->h, NOISE_HASHLEN);
    memset(&hs->cs, 0, sizeof hs->cs);
    mix_hash(hs, prologue, plen);
    /* Pre-messages: the initiator's first, then the responder's (section 7.1). */
    if (hs->pat->pre_init_s)
        mix_hash(hs, hs->initiator ? hs->s_pk : hs->rs, NOISE_DHLEN);
    if (hs->pat->pre_resp_s)
        mix_hash(hs, hs->initiator ? hs->rs : hs->s_pk, NOISE_DHLEN);
}

struct noise_hs *noise_hs_new(enum noise_pattern pattern, bool initiator, const uint8_t *prologue,
                              size_t prologue_len, const uint8_t *s_sk, const uint8_t *s_pk,
                              const uint8_t *rs, const struct mix_rng *rng)
{
    if ((unsigned)pattern >= MIX_ARRAY_LEN(patterns) || rng == NULL ||
        (prologue == NULL && prologue_len > 0))
        return NULL;
    const struct pattern *p = &patterns[pattern];
    bool need_s = pattern_sends_s(p, initiator) || (initiator ? p->pre_init_s : p->pre_resp_s);
    bool need_rs = initiator ? p->pre_resp_s : p->pre_init_s;
    if ((need_s && s_sk == NULL) || (need_rs && rs == NULL))
        return NULL;
    struct noise_hs *hs = calloc(1, sizeof *hs);
    if (hs == NULL)
        return NULL;
    hs->pat = p;
    hs->initiator = initiator;
    hs->rng = *rng;
    if (s_sk != NULL) {
        memcpy(hs->s_sk, s_sk, NOISE_DHLEN);
        if (s_pk != NULL)
            memcpy(hs->s_pk, s_pk, NOISE_DHLEN);
        else if (noise_dh_pubkey(hs->s_pk, hs->s_sk) != NOISE_OK)
            goto fail;
        hs->has_s = true;
    }
    if (need_rs) {
        memcpy(hs->rs, rs, NOISE_DHLEN);
        hs->has_rs = true;
    }
    hs_init_symmetric(hs, prologue, prologue_len);
    return hs;
fail:
    noise_hs_free(hs);
    return NULL;
}

void noise_hs_free(struct noise_hs *hs)
{
    if (hs == NULL)
        return;
    sodium_memzero(hs, sizeof *hs);
    free(hs);
}

int noise_hs_set_ephemeral(struct noise_hs *hs, const uint8_t e_sk[static NOISE_DHLEN])
{
    if (hs->failed || hs->has_e)
        return NOISE_ERR_STATE;
    memcpy(hs->e_sk, e_sk, NOISE_DHLEN);
    if (noise_dh_pubkey(hs->e_pk, hs->e_sk) != NOISE_OK)
        return NOISE_ERR_BAD_KEY;
    hs->has_e = true;
    return NOISE_OK;
}

bool noise_hs_is_my_turn(const struct noise_hs *hs)
{
    return !hs->failed && hs->msg_idx < hs->pat->nmsgs && ((hs->msg_idx % 2 == 0) == hs->initiator);
}

bool noise_hs_is_finished(const struct noise_hs *hs)
{
    return !hs->failed && hs->msg_idx == hs->pat->nmsgs;
}

size_t noise_hs_message_len(const struct noise_hs *hs, size_t payload_len)
{
    if (hs->msg_idx >= hs->pat->nmsgs)
        return 0;
    const uint8_t *toks = hs->pat->msgs[hs->msg_idx];
    bool k = hs->cs.has_key; /* whether a key is set at each token */
    size_t len = 0;
    for (unsigned i = 0; i < MAX_TOKENS && toks[i] != T_END; i++) {
        if (toks[i] == T_E)
            len += NOISE_DHLEN;
        else if (toks[i] == T_S)
            len += NOISE_DHLEN + (k ? NOISE_TAGLEN : 0);
        else
            k = true; /* every DH token ends in MixKey */
    }
    return len + payload_len + (k ? NOISE_TAGLEN : 0);
}

/*
 * The DH tokens (section 5.3): "es" is DH(e, rs) for the initiator and
 * DH(s, re) for the responder, "se" the mirror image.
 */
static int hs_dh_token(struct noise_hs *hs, enum token t)
{
    const uint8_t *sk, *pk;
    bool ok;
    bool local_e = (t == T_EE) || (t == T_ES && hs->initiator) || (t == T_SE && !hs->initiator);
    bool remote_e = (t == T_EE) || (t == T_SE && hs->initiator) || (t == T_ES && !hs->initiator);
    sk = local_e ? hs->e_sk : hs->s_sk;
    pk = remote_e ? hs->re : hs->rs;
    ok = (local_e ? hs->has_e : hs->has_s) && (remote_e ? hs->has_re : hs->has_rs);
    if (!ok)
        return NOISE_ERR_STATE;
    uint8_t shared[NOISE_DHLEN];
    int rc = dh(shared, sk, pk);
    if (rc == NOISE_OK)
        mix_key(hs, shared);
    sodium_memzero(shared, sizeof shared);
    return rc;
}

static int hs_write_tokens(struct noise_hs *hs, uint8_t *out, size_t *pos)
{
    const uint8_t *toks = hs->pat->msgs[hs->msg_idx];
    for (unsigned i = 0; i < MAX_TOKENS && toks[i] != T_END; i++) {
        int rc = NOISE_OK;
        if (toks[i] == T_E) {
            if (!hs->has_e) {
                rc = noise_dh_keygen(hs->e_pk, hs->e_sk, &hs->rng);
                hs->has_e = (rc == NOISE_OK);
            }
            if (rc == NOISE_OK) {
                memcpy(out + *pos, hs->e_pk, NOISE_DHLEN);
                mix_hash(hs, hs->e_pk, NOISE_DHLEN);
                *pos += NOISE_DHLEN;
            }
        } else if (toks[i] == T_S) {
            if (!hs->has_s)
                return NOISE_ERR_STATE;
            *pos += encrypt_and_hash(hs, hs->s_pk, NOISE_DHLEN, out + *pos);
        } else {
            rc = hs_dh_token(hs, (enum token)toks[i]);
        }
        if (rc != NOISE_OK)
            return rc;
    }
    return NOISE_OK;
}

int noise_hs_write_message(struct noise_hs *hs, const uint8_t *payload, size_t payload_len,
                           uint8_t *out, size_t out_cap, size_t *out_len)
{
    if (hs->failed)
        return NOISE_ERR_STATE;
    if (hs->msg_idx >= hs->pat->nmsgs)
        return NOISE_ERR_FINISHED;
    if (!noise_hs_is_my_turn(hs))
        return NOISE_ERR_STATE;
    size_t need = noise_hs_message_len(hs, payload_len);
    if (need > NOISE_MAX_MSG || need > out_cap || (payload == NULL && payload_len > 0))
        return NOISE_ERR_LENGTH; /* no state changed: the caller may retry */
    size_t pos = 0;
    int rc = hs_write_tokens(hs, out, &pos);
    if (rc != NOISE_OK)
        return hs_fail(hs, rc);
    pos += encrypt_and_hash(hs, payload, payload_len, out + pos);
    hs->msg_idx++;
    *out_len = pos;
    return NOISE_OK;
}

static int hs_read_tokens(struct noise_hs *hs, const uint8_t *msg, size_t len, size_t *pos)
{
    const uint8_t *toks = hs->pat->msgs[hs->msg_idx];
    for (unsigned i = 0; i < MAX_TOKENS && toks[i] != T_END; i++) {
        int rc = NOISE_OK;
        if (toks[i] == T_E) {
            if (len - *pos < NOISE_DHLEN)
                return NOISE_ERR_LENGTH;
            memcpy(hs->re, msg + *pos, NOISE_DHLEN);
            hs->has_re = true;
            mix_hash(hs, hs->re, NOISE_DHLEN);
            *pos += NOISE_DHLEN;
        } else if (toks[i] == T_S) {
            size_t n = NOISE_DHLEN + (hs->cs.has_key ? NOISE_TAGLEN : 0);
            uint8_t tmp[NOISE_DHLEN + NOISE_TAGLEN];
            if (len - *pos < n)
                return NOISE_ERR_LENGTH;
            rc = decrypt_and_hash(hs, msg + *pos, n, tmp);
            if (rc == NOISE_OK) {
                memcpy(hs->rs, tmp, NOISE_DHLEN);
                hs->has_rs = true;
                *pos += n;
            }
        } else {
            rc = hs_dh_token(hs, (enum token)toks[i]);
        }
        if (rc != NOISE_OK)
            return rc;
    }
    return NOISE_OK;
}

int noise_hs_read_message(struct noise_hs *hs, const uint8_t *msg, size_t msg_len,
                          uint8_t *payload_out, size_t payload_cap, size_t *payload_len)
{
    if (hs->failed)
        return NOISE_ERR_STATE;
    if (hs->msg_idx >= hs->pat->nmsgs)
        return NOISE_ERR_FINISHED;
    if (noise_hs_is_my_turn(hs))
        return NOISE_ERR_STATE;
    if (msg_len > NOISE_MAX_MSG || msg_len < noise_hs_message_len(hs, 0))
        return hs_fail(hs, NOISE_ERR_LENGTH);
    size_t pos = 0;
    int rc = hs_read_tokens(hs, msg, msg_len, &pos);
    if (rc != NOISE_OK)
        return hs_fail(hs, rc);
    size_t rest = msg_len - pos;
    size_t plen = rest - (hs->cs.has_key ? NOISE_TAGLEN : 0);
    if (plen > payload_cap || (payload_out == NULL && plen > 0))
        return hs_fail(hs, NOISE_ERR_LENGTH);
    /* The decrypted payload is exactly plen bytes, so payload_out suffices. */
    uint8_t dummy[1];
    rc = decrypt_and_hash(hs, msg + pos, rest, plen > 0 ? payload_out : dummy);
    if (rc != NOISE_OK)
        return hs_fail(hs, rc);
    hs->msg_idx++;
    *payload_len = plen;
    return NOISE_OK;
}

bool noise_hs_remote_static(const struct noise_hs *hs, uint8_t out[static NOISE_DHLEN])
{
    if (!hs->has_rs)
        return false;
    memcpy(out, hs->rs, NOISE_DHLEN);
    return true;
}

void noise_hs_handshake_hash(const struct noise_hs *hs, uint8_t out[static NOISE_HASHLEN])
{
    memcpy(out, hs->h, NOISE_HASHLEN);
}

int noise_hs_split(struct noise_hs *hs, struct noise_cipher **send, struct noise_cipher **recv)
{
    if (hs->failed || hs->split_done)
        return NOISE_ERR_STATE;
    if (hs->msg_idx != hs->pat->nmsgs)
        return NOISE_ERR_FINISHED;
    uint8_t k1[NOISE_HASHLEN], k2[NOISE_HASHLEN];
    noise_hkdf(hs->ck, NULL, 0, 2, k1, k2, NULL);
    struct noise_cipher *c1 = noise_cipher_new(k1), *c2 = noise_cipher_new(k2);
    sodium_memzero(k1, sizeof k1);
    sodium_memzero(k2, sizeof k2);
    if (c1 == NULL || c2 == NULL) {
        noise_cipher_free(c1);
        noise_cipher_free(c2);
        return NOISE_ERR_STATE;
    }
    *send = hs->initiator ? c1 : c2;
    *recv = hs->initiator ? c2 : c1;
    hs->split_done = true;
    hs_wipe(hs);
    return NOISE_OK;
}
