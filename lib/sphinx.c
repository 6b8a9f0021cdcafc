/*
 * Sphinx packet format: creation, per-hop unwrap, and SURBs.  The layout and
 * every derivation are specified in docs/spec/sphinx.md; the section numbers
 * in the comments below refer to it.
 *
 * Header = alpha (32) | gamma (16) | beta (r * SLOT).  A hop decrypts
 * (beta | 0^SLOT) with its ChaCha20 stream rho, reads its routing slot from
 * the first SLOT bytes, and the remaining r*SLOT bytes are the next beta.
 * The KEM format (section 15) differs in three places only: alpha is the
 * hop's own encapsulation, a slot is longer by the next hop's encapsulation,
 * and a hop takes the next alpha from its slot instead of blinding.
 */
#include "sphinx.h"

#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "lioness.h"

#define ALPHA_LEN 32
#define SLOT SPHINX_SLOT_LEN
/* Offsets inside a routing slot. */
#define SLOT_CMD 0
#define SLOT_ID 1
#define SLOT_DELAY 33
#define SLOT_SURB 37
#define SLOT_MAC 53
/* Offsets inside the header. */
#define HDR_ALPHA 0
/* KEM format: the next hop's encapsulation follows the classic slot. */
#define SLOT_CT SLOT
#define MAX_SLOT (SLOT + SPHINX_KEM_MAX_CT)
_Static_assert(SPHINX_KEM_MAX_CT <= ALPHA_LEN, "alpha buffers hold an encapsulation");
/* Largest stream a hop needs: (r + 1) slots. */
#define MAX_STREAM ((SPHINX_MAX_HOPS_LIMIT + 1) * MAX_SLOT)
#define MAX_BETA (SPHINX_MAX_HOPS_LIMIT * MAX_SLOT)
#define SURB_KEYS_VERSION 1

/*
 * Byte layout of one geometry: element length (alpha or encapsulation),
 * slot length, and where the MAC and beta start in the header.
 */
struct layout {
    const struct sphinx_kem *kem; /* NULL: classic */
    size_t r, elen, slot, mac_off, beta_off, beta_len, hdr_len;
};

/* Every secret one hop's processing needs, derived from the shared secret. */
struct hop_keys {
    uint8_t s[32];       /* X25519 shared secret (KEM: the KEM's secret) */
    uint8_t stream[32];  /* header ChaCha20 key */
    uint8_t mac[32];     /* header MAC key */
    uint8_t payload[32]; /* Lioness key */
    uint8_t blind[32];   /* blinding scalar (clamped by X25519) */
    uint8_t tag[SPHINX_TAG_LEN];
};

/* ------------------------------------------------------------ geometry */

struct sphinx_geometry sphinx_geometry_default(void)
{
    return (struct sphinx_geometry){ SPHINX_DEFAULT_HOPS, SPHINX_DEFAULT_PAYLOAD,
                                     SPHINX_FORMAT_CLASSIC };
}

bool sphinx_geometry_valid(const struct sphinx_geometry *g, const char **why)
{
    const char *w = NULL;
    if (g == NULL)
        w = "no geometry";
    else if (g->max_hops < 1 || g->max_hops > SPHINX_MAX_HOPS_LIMIT)
        w = "max_hops must be 1..10";
    else if (g->payload_len < SPHINX_MIN_PAYLOAD || g->payload_len > SPHINX_MAX_PAYLOAD)
        w = "payload_len must be 64..1048576";
    else if (sphinx_format_name(g->format) == NULL)
        w = "unknown packet format";
    if (why != NULL)
        *why = w;
    return w == NULL;
}

/* The layout of a valid geometry. */
static struct layout layout_of(const struct sphinx_geometry *g)
{
    struct layout l = { sphinx_kem_of(g->format), g->max_hops, ALPHA_LEN, SLOT, 0, 0, 0, 0 };
    if (l.kem != NULL) {
        l.elen = l.kem->ct_len;
        l.slot = SLOT + l.kem->ct_len;
    }
    l.mac_off = l.elen;
    l.beta_off = l.elen + SPHINX_MAC_LEN;
    l.beta_len = l.r * l.slot;
    l.hdr_len = l.beta_off + l.beta_len;
    return l;
}

size_t sphinx_header_len(const struct sphinx_geometry *g)
{
    if (!sphinx_geometry_valid(g, NULL))
        return 0;
    return layout_of(g).hdr_len;
}

size_t sphinx_packet_len(const struct sphinx_geometry *g)
{
    if (!sphinx_geometry_valid(g, NULL))
        return 0;
    return sphinx_header_len(g) + g->payload_len;
}

size_t sphinx_plaintext_len(const struct sphinx_geometry *g)
{
    if (!sphinx_geometry_valid(g, NULL))
        return 0;
    return g->payload_len - SPHINX_ZERO_LEN;
}

size_t sphinx_surb_len(const struct sphinx_geometry *g)
{
    if (!sphinx_geometry_valid(g, NULL))
        return 0;
    return MIX_NODE_ID_LEN + LIONESS_KEY_LEN + sphinx_header_len(g);
}

const char *sphinx_strerror(enum sphinx_status s)
{
    switch (s) {
    case SPHINX_OK: return "ok";
    case SPHINX_OK_FORWARD: return "forward";
    case SPHINX_OK_DELIVER: return "deliver";
    case SPHINX_ERR_LENGTH: return "packet length does not match the geometry";
    case SPHINX_ERR_MAC: return "header MAC mismatch";
    case SPHINX_ERR_REPLAY: return "replayed packet";
    case SPHINX_ERR_INTEGRITY: return "payload integrity check failed";
    case SPHINX_ERR_COMMAND: return "unknown routing command";
    case SPHINX_ERR_KEY: return "invalid group element";
    case SPHINX_ERR_ARG: return "invalid argument";
    }
    return "unknown sphinx status";
}

/* ------------------------------------------------------------ keys */

void sphinx_public_key(const uint8_t sk[static SPHINX_KEY_LEN], uint8_t pk[static SPHINX_KEY_LEN])
{
    /* Cannot fail: a clamped scalar times the base point is never zero. */
    (void)crypto_scalarmult_base(pk, sk);
}

void sphinx_keygen(const struct mix_rng *rng, uint8_t sk[static SPHINX_KEY_LEN],
                   uint8_t pk[static SPHINX_KEY_LEN])
{
    mix_rng_bytes(rng, sk, SPHINX_KEY_LEN);
    sphinx_public_key(sk, pk);
}

void sphinx_key_id(const uint8_t pk[static SPHINX_KEY_LEN], uint8_t id[static REPLAY_KEY_ID_LEN])
{
    static const char label[] = "mixnet-sphinx-v1 key-id";
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, REPLAY_KEY_ID_LEN);
    crypto_generichash_update(&st, (const uint8_t *)label, sizeof label - 1);
    crypto_generichash_update(&st, pk, SPHINX_KEY_LEN);
    crypto_generichash_final(&st, id, REPLAY_KEY_ID_LEN);
}

/* ------------------------------------------------------------ KEM */

/* Spec section 15.1: ss = H_32(X25519(e, Y), "mixnet-sphinx-kem-v1 x25519" | ct). */
static void kem_x25519_ss(uint8_t ss[32], const uint8_t dh[32], const uint8_t ct[32])
{
    static const char label[] = "mixnet-sphinx-kem-v1 x25519";
    crypto_generichash_state st;
    crypto_generichash_init(&st, dh, 32, 32);
    crypto_generichash_update(&st, (const uint8_t *)label, sizeof label - 1);
    crypto_generichash_update(&st, ct, 32);
    crypto_generichash_final(&st, ss, 32);
    sodium_memzero(&st, sizeof st);
}

/* Draws e (32 bytes): ct = X25519(e, G). */
static int kem_x25519_encap(const struct mix_rng *rng, const uint8_t pk[SPHINX_KEY_LEN],
                            uint8_t *ct, uint8_t ss[32])
{
    uint8_t e[32], dh[32];
    int rc = -1;
    mix_rng_bytes(rng, e, sizeof e);
    if (crypto_scalarmult_base(ct, e) == 0 && crypto_scalarmult(dh, e, pk) == 0) {
        kem_x25519_ss(ss, dh, ct);
        rc = 0;
    }
    sodium_memzero(e, sizeof e);
    sodium_memzero(dh, sizeof dh);
    return rc;
}

static int kem_x25519_decap(const uint8_t sk[SPHINX_KEY_LEN], const uint8_t *ct, uint8_t ss[32])
{
    uint8_t dh[32];
    if (crypto_scalarmult(dh, sk, ct) != 0)
        return -1;
    kem_x25519_ss(ss, dh, ct);
    sodium_memzero(dh, sizeof dh);
    return 0;
}

static const struct sphinx_kem kem_x25519 = {
    "x25519",
    32,
    kem_x25519_encap,
    kem_x25519_decap,
};

const struct sphinx_kem *sphinx_kem_of(enum sphinx_format f)
{
    return f == SPHINX_FORMAT_KEM_X25519 ? &kem_x25519 : NULL;
}

const char *sphinx_format_name(enum sphinx_format f)
{
    switch (f) {
    case SPHINX_FORMAT_CLASSIC: return "classic";
    case SPHINX_FORMAT_KEM_X25519: return "kem-x25519";
    }
    return NULL;
}

bool sphinx_format_parse(const char *s, enum sphinx_format *out)
{
    for (int f = 0; f <= SPHINX_FORMAT_LAST; f++) {
        const char *name = sphinx_format_name((enum sphinx_format)f);
        if (s != NULL && name != NULL && strcmp(s, name) == 0) {
            *out = (enum sphinx_format)f;
            return true;
        }
    }
    return false;
}

/* out = BLAKE2b-outlen(key = s, message = label). */
static void kdf(uint8_t *out, size_t outlen, const uint8_t s[32], const char *label)
{
    crypto_generichash(out, outlen, (const uint8_t *)label, strlen(label), s, 32);
}

/* Spec section 4: every subkey of one hop from s and its alpha (the KEM format has no blinding). */
static void derive_keys(struct hop_keys *k, const uint8_t alpha[ALPHA_LEN], bool blind)
{
    static const char blind_label[] = "mixnet-sphinx-v1 blinding";
    kdf(k->stream, sizeof k->stream, k->s, "mixnet-sphinx-v1 header-stream");
    kdf(k->mac, sizeof k->mac, k->s, "mixnet-sphinx-v1 header-mac");
    kdf(k->payload, sizeof k->payload, k->s, "mixnet-sphinx-v1 payload");
    kdf(k->tag, sizeof k->tag, k->s, "mixnet-sphinx-v1 replay-tag");
    if (!blind)
        return;
    crypto_generichash_state st;
    crypto_generichash_init(&st, k->s, 32, sizeof k->blind);
    crypto_generichash_update(&st, (const uint8_t *)blind_label, sizeof blind_label - 1);
    crypto_generichash_update(&st, alpha, ALPHA_LEN);
    crypto_generichash_final(&st, k->blind, sizeof k->blind);
    sodium_memzero(&st, sizeof st);
}

/* gamma = BLAKE2b-128(key = mac key, message = alpha | beta). */
static void header_mac(uint8_t out[SPHINX_MAC_LEN], const uint8_t key[32], const uint8_t *alpha,
                       size_t alpha_len, const uint8_t *beta, size_t beta_len)
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, key, 32, SPHINX_MAC_LEN);
    crypto_generichash_update(&st, alpha, alpha_len);
    crypto_generichash_update(&st, beta, beta_len);
    crypto_generichash_final(&st, out, SPHINX_MAC_LEN);
}

/* rho = the first len bytes of ChaCha20(key, nonce 0, counter 0). */
static void header_stream(uint8_t *rho, size_t len, const uint8_t key[32])
{
    static const uint8_t nonce[crypto_stream_chacha20_NONCEBYTES] = { 0 };
    crypto_stream_chacha20(rho, len, nonce, key);
}

static void xor_into(uint8_t *dst, const uint8_t *src, size_t len)
{
    for (size_t i = 0; i < len; i++)
        dst[i] ^= src[i];
}

/*
 * Lioness over a payload.  Every caller passes a valid geometry's
 * payload_len (>= SPHINX_MIN_PAYLOAD = LIONESS_MIN_LEN), so these cannot fail.
 */
static void payload_enc(const uint8_t key[LIONESS_KEY_LEN], uint8_t *buf, size_t len)
{
    int rc = lioness_encrypt(key, buf, len);
    (void)rc;
}

static void payload_dec(const uint8_t key[LIONESS_KEY_LEN], uint8_t *buf, size_t len)
{
    int rc = lioness_decrypt(key, buf, len);
    (void)rc;
}

/* ------------------------------------------------------------ creation */

/* The final hop's routing: who receives, and with which command. */
struct final_route {
    uint8_t cmd;
    const uint8_t *recipient;
    const uint8_t *surb_id; /* NULL: zero */
};

/* Secrets of one header construction, wiped once at the end. */
struct build_state {
    struct hop_keys k[SPHINX_MAX_HOPS_LIMIT];
    uint8_t alpha[SPHINX_MAX_HOPS_LIMIT][ALPHA_LEN];
    uint8_t x[32];
    uint8_t t[32];
    uint8_t c[32];  /* product of the clamped factors so far, mod L */
    uint8_t kc[32]; /* its clamped representative */
    uint8_t rho[MAX_STREAM];
    uint8_t phi[MAX_BETA];
    uint8_t beta[MAX_BETA];
    uint8_t next[MAX_BETA];
    uint8_t gamma[SPHINX_MAC_LEN];
};

/*
 * Linear creation (spec section 5.1).  X25519 clamps its scalar, so a chain
 * X25519(b_j, ... X25519(x, Y)) equals one multiplication by the product c
 * of the clamped factors.  On a point of the prime-order subgroup only c mod
 * L matters (L the group order), and the u-coordinate does not change with
 * the sign.  A clamped scalar is 2^254 + 8m with 0 <= m < 2^251; one with
 * k = +-c (mod L) exists unless c/8 lies in a small set of the
 * residues (below 2^-125), and then the caller falls back to the chain.
 */
static const uint8_t inv8_mod_l[32] = {
    0x79, 0x2f, 0xdc, 0xe2, 0x29, 0xe5, 0x06, 0x61, 0xd0, 0xda, 0x1c, 0x7d, 0xb3, 0x9d, 0xd3, 0x07,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x06,
};

/* out = clamp(k) mod L. */
static void clamp_reduce(uint8_t out[32], const uint8_t k[32])
{
    uint8_t wide[64] = { 0 };
    memcpy(wide, k, 32);
    wide[0] &= 248;
    wide[31] &= 127;
    wide[31] |= 64;
    crypto_core_ed25519_scalar_reduce(out, wide);
    sodium_memzero(wide, sizeof wide);
}

/*
 * A clamped scalar k with X25519(k, P) = c * P for every P in the prime-order
 * subgroup, chosen without a branch on c.  Returns -1 (k unset) in the
 * negligible case that neither +c nor -c has a clamped representative.
 */
static int clamped_rep(uint8_t k[32], const uint8_t c[32])
{
    uint8_t q[32], m[2][32], two251[32] = { 0 };
    two251[31] = 0x08;
    crypto_core_ed25519_scalar_mul(q, c, inv8_mod_l);
    crypto_core_ed25519_scalar_sub(m[0], q, two251); /* k = +c */
    crypto_core_ed25519_scalar_negate(q, q);
    crypto_core_ed25519_scalar_sub(m[1], q, two251); /* k = -c */
    /* m < 2^251 iff its top byte is below 8. */
    uint8_t ok0 = (uint8_t)(((unsigned)m[0][31] - 8u) >> 8 & 1);
    uint8_t ok1 = (uint8_t)(((unsigned)m[1][31] - 8u) >> 8 & 1);
    uint8_t mask = (uint8_t)(0u - ok0); /* 0xff: take m[0] */
    uint8_t prev = 0;
    for (size_t i = 0; i < 32; i++) {
        uint8_t b = (uint8_t)((m[0][i] & mask) | (m[1][i] & (uint8_t)~mask));
        k[i] = (uint8_t)(b << 3 | prev >> 5);
        prev = b;
    }
    k[31] |= 64;
    sodium_memzero(q, sizeof q);
    sodium_memzero(m, sizeof m);
    return (ok0 | ok1) ? 0 : -1;
}

/* The defining chain of section 5 for hop i (the fallback of clamped_rep). */
static int chain_secret(struct build_state *st, const struct sphinx_hop *hop, size_t i)
{
    if (crypto_scalarmult(st->t, st->x, hop->public_key) != 0)
        return -1;
    /* crypto_scalarmult must not write over its input: alternate buffers. */
    for (size_t j = 0; j < i; j++) {
        if (crypto_scalarmult(st->k[i].s, st->k[j].blind, st->t) != 0)
            return -1;
        memcpy(st->t, st->k[i].s, 32);
    }
    memcpy(st->k[i].s, st->t, 32);
    return 0;
}

/*
 * Spec section 5: alpha_0 = X25519(x, G), and for hop i
 * s_i = X25519(b_{i-1}, ... X25519(b_0, X25519(x, Y_i))), alpha_{i+1} =
 * X25519(b_i, alpha_i).  s_i is computed as in section 5.1, with one
 * multiplication by the clamped representative st->kc of the product st->c
 * of the clamped factors so far (mod L): two scalar multiplications per hop.
 * Returns -1 if a public key is a low order point.
 */
static int build_secrets(struct build_state *st, const struct sphinx_hop *path, size_t nhops)
{
    if (crypto_scalarmult_base(st->alpha[0], st->x) != 0)
        return -1;
    clamp_reduce(st->c, st->x);
    for (size_t i = 0; i < nhops; i++) {
        if (clamped_rep(st->kc, st->c) == 0) {
            if (crypto_scalarmult(st->k[i].s, st->kc, path[i].public_key) != 0)
                return -1;
        } else if (chain_secret(st, &path[i], i) != 0) {
            return -1;
        }
        derive_keys(&st->k[i], st->alpha[i], true);
        if (i + 1 == nhops)
            break;
        clamp_reduce(st->t, st->k[i].blind);
        crypto_core_ed25519_scalar_mul(st->c, st->c, st->t);
        if (crypto_scalarmult(st->alpha[i + 1], st->k[i].blind, st->alpha[i]) != 0)
            return -1;
    }
    return 0;
}

/*
 * Spec section 15.2: every hop's own encapsulation; ct_i goes to
 * st->alpha[i], the KEM's secret to s_i.  Returns -1 for an invalid key.
 */
static int kem_secrets(const struct layout *l, struct build_state *st, const struct mix_rng *rng,
                       const struct sphinx_hop *path, size_t nhops)
{
    for (size_t i = 0; i < nhops; i++) {
        if (l->kem->encap(rng, path[i].public_key, st->alpha[i], st->k[i].s) != 0)
            return -1;
        derive_keys(&st->k[i], st->alpha[i], false);
    }
    return 0;
}

/* Spec section 6, filler: phi_{i+1} = (phi_i | 0^SLOT) ^ rho_i[(r-i)*SLOT .. (r+1)*SLOT). */
static void build_filler(const struct layout *l, struct build_state *st, size_t nhops)
{
    size_t r = l->r, sl = l->slot;
    for (size_t i = 0; i + 1 < nhops; i++) {
        header_stream(st->rho, (r + 1) * sl, st->k[i].stream);
        memset(st->phi + i * sl, 0, sl);
        xor_into(st->phi, st->rho + (r - i) * sl, (i + 1) * sl);
    }
}

/* A routing slot; the KEM format appends ct (NULL: zero). */
static void fill_slot(const struct layout *l, uint8_t *slot, uint8_t cmd,
                      const uint8_t id[MIX_NODE_ID_LEN], uint32_t delay, const uint8_t *surb_id,
                      const uint8_t *mac, const uint8_t *ct)
{
    slot[SLOT_CMD] = cmd;
    memcpy(slot + SLOT_ID, id, MIX_NODE_ID_LEN);
    mix_put_be32(slot + SLOT_DELAY, delay);
    if (surb_id != NULL)
        memcpy(slot + SLOT_SURB, surb_id, SPHINX_SURB_ID_LEN);
    else
        memset(slot + SLOT_SURB, 0, SPHINX_SURB_ID_LEN);
    if (mac != NULL)
        memcpy(slot + SLOT_MAC, mac, SPHINX_MAC_LEN);
    else
        memset(slot + SLOT_MAC, 0, SPHINX_MAC_LEN);
    if (l->kem != NULL && ct != NULL)
        memcpy(slot + SLOT_CT, ct, l->elen);
    else if (l->kem != NULL)
        memset(slot + SLOT_CT, 0, l->elen);
}

/*
 * Spec section 6 (and 15.2).  Draws x (32 bytes; KEM: each hop's
 * encapsulation randomness in path order) and then the padding
 * ((r - nhops) * SLOT bytes) from rng.  Writes the header to hdr and leaves
 * the per-hop keys in st.
 */
static enum sphinx_status build_header(const struct sphinx_geometry *g, const struct mix_rng *rng,
                                       const struct sphinx_hop *path, size_t nhops,
                                       const struct final_route *fin, struct build_state *st,
                                       uint8_t *hdr)
{
    struct layout l = layout_of(g);
    size_t r = l.r, sl = l.slot, beta_len = l.beta_len;
    int rc;
    if (l.kem != NULL) {
        rc = kem_secrets(&l, st, rng, path, nhops);
    } else {
        mix_rng_bytes(rng, st->x, sizeof st->x);
        rc = build_secrets(st, path, nhops);
    }
    if (rc != 0)
        return SPHINX_ERR_KEY;
    build_filler(&l, st, nhops);

    /* Last hop: (slot | random padding) ^ rho, then the filler. */
    size_t last = nhops - 1, head_len = (r - last) * sl;
    fill_slot(&l, st->beta, fin->cmd, fin->recipient, path[last].delay_us, fin->surb_id, NULL,
              NULL);
    mix_rng_bytes(rng, st->beta + sl, head_len - sl);
    header_stream(st->rho, head_len, st->k[last].stream);
    xor_into(st->beta, st->rho, head_len);
    memcpy(st->beta + head_len, st->phi, last * sl);
    header_mac(st->gamma, st->k[last].mac, st->alpha[last], l.elen, st->beta, beta_len);

    /* Earlier hops, back to front: (slot | beta_{i+1}[0 .. (r-1)*SLOT)) ^ rho_i. */
    for (size_t i = last; i-- > 0;) {
        fill_slot(&l, st->next, SPHINX_CMD_FORWARD, path[i + 1].node_id, path[i].delay_us, NULL,
                  st->gamma, st->alpha[i + 1]);
        memcpy(st->next + sl, st->beta, beta_len - sl);
        header_stream(st->rho, beta_len, st->k[i].stream);
        xor_into(st->next, st->rho, beta_len);
        memcpy(st->beta, st->next, beta_len);
        header_mac(st->gamma, st->k[i].mac, st->alpha[i], l.elen, st->beta, beta_len);
    }
    memcpy(hdr + HDR_ALPHA, st->alpha[0], l.elen);
    memcpy(hdr + l.mac_off, st->gamma, SPHINX_MAC_LEN);
    memcpy(hdr + l.beta_off, st->beta, beta_len);
    return SPHINX_OK;
}

static bool path_ok(const struct sphinx_geometry *g, const struct sphinx_hop *path, size_t nhops)
{
    return sphinx_geometry_valid(g, NULL) && path != NULL && nhops >= 1 && nhops <= g->max_hops;
}

/* payload = 0^16 | plaintext | zero padding, payload_len bytes. */
static void frame_payload(const struct sphinx_geometry *g, uint8_t *payload,
                          const uint8_t *plaintext, size_t len)
{
    memset(payload, 0, g->payload_len);
    if (len > 0)
        memcpy(payload + SPHINX_ZERO_LEN, plaintext, len);
}

enum sphinx_status sphinx_create(const struct sphinx_geometry *g, const struct mix_rng *rng,
                                 const struct sphinx_hop *path, size_t nhops,
                                 const uint8_t recipient_id[static MIX_NODE_ID_LEN],
                                 const uint8_t *plaintext, size_t len, uint8_t *packet_out)
{
    if (!path_ok(g, path, nhops) || packet_out == NULL || len > sphinx_plaintext_len(g) ||
        (len > 0 && plaintext == NULL))
        return SPHINX_ERR_ARG;
    struct build_state st;
    struct final_route fin = { SPHINX_CMD_DELIVER, recipient_id, NULL };
    enum sphinx_status rc = build_header(g, rng, path, nhops, &fin, &st, packet_out);
    if (rc == SPHINX_OK) {
        /* Spec section 7: encrypt for the last hop first. */
        uint8_t *payload = packet_out + sphinx_header_len(g);
        frame_payload(g, payload, plaintext, len);
        for (size_t i = nhops; i-- > 0;)
            payload_enc(st.k[i].payload, payload, g->payload_len);
    }
    if (rc != SPHINX_OK)
        sodium_memzero(packet_out, sphinx_packet_len(g));
    sodium_memzero(&st, sizeof st);
    return rc;
}

/* ------------------------------------------------------------ unwrap */

/* Secrets of one unwrap, wiped once on every exit. */
struct unwrap_state {
    struct hop_keys k;
    uint8_t alpha[ALPHA_LEN];
    uint8_t next_alpha[ALPHA_LEN];
    uint8_t gamma[SPHINX_MAC_LEN];
    uint8_t beta[MAX_BETA];
    uint8_t b[MAX_STREAM]; /* (beta | 0^SLOT) ^ rho: routing slot, then next beta */
    uint8_t mac[SPHINX_MAC_LEN];
};

/* Decrypt the payload (payload_len bytes at src) into out; in place if out == src. */
static void payload_decrypt(const struct sphinx_geometry *g, const uint8_t key[32],
                            const uint8_t *src, uint8_t *out)
{
    if (out != src)
        memmove(out, src, g->payload_len);
    payload_dec(key, out, g->payload_len);
}

static enum sphinx_status unwrap_route(const struct sphinx_geometry *g, const struct layout *l,
                                       struct unwrap_state *st, const uint8_t *payload,
                                       uint8_t *out, struct sphinx_result *res)
{
    size_t hlen = l->hdr_len;
    uint8_t cmd = st->b[SLOT_CMD];
    res->cmd = (enum sphinx_cmd)cmd;
    memcpy(res->node_id, st->b + SLOT_ID, MIX_NODE_ID_LEN);
    res->delay_us = mix_get_be32(st->b + SLOT_DELAY);
    memcpy(res->surb_id, st->b + SLOT_SURB, SPHINX_SURB_ID_LEN);
    res->is_reply = false;
    switch (cmd) {
    case SPHINX_CMD_FORWARD:
        /*
         * Spec section 8 step 6: blind alpha (KEM: take the next
         * encapsulation from the slot), shift beta, decrypt the payload.
         */
        if (l->kem != NULL)
            memcpy(st->next_alpha, st->b + SLOT_CT, l->elen);
        else if (crypto_scalarmult(st->next_alpha, st->k.blind, st->alpha) != 0)
            return SPHINX_ERR_KEY;
        payload_decrypt(g, st->k.payload, payload, out + hlen);
        memcpy(out + HDR_ALPHA, st->next_alpha, l->elen);
        memcpy(out + l->mac_off, st->b + SLOT_MAC, SPHINX_MAC_LEN);
        memcpy(out + l->beta_off, st->b + l->slot, l->beta_len);
        res->out_len = hlen + g->payload_len;
        return SPHINX_OK_FORWARD;
    case SPHINX_CMD_DELIVER:
        payload_decrypt(g, st->k.payload, payload, out);
        if (!sodium_is_zero(out, SPHINX_ZERO_LEN)) {
            sodium_memzero(out, g->payload_len);
            return SPHINX_ERR_INTEGRITY;
        }
        memmove(out, out + SPHINX_ZERO_LEN, g->payload_len - SPHINX_ZERO_LEN);
        res->out_len = g->payload_len - SPHINX_ZERO_LEN;
        return SPHINX_OK_DELIVER;
    case SPHINX_CMD_REPLY:
        payload_decrypt(g, st->k.payload, payload, out);
        res->is_reply = true;
        res->out_len = g->payload_len;
        return SPHINX_OK_DELIVER;
    default: return SPHINX_ERR_COMMAND;
    }
}

/* The shared secret of a header: X25519, or the format's KEM (spec 8 step 2, 15.3). */
static int unwrap_secret(const struct layout *l, const uint8_t node_sk[SPHINX_KEY_LEN],
                         struct unwrap_state *st)
{
    if (l->kem != NULL)
        return l->kem->decap(node_sk, st->alpha, st->k.s);
    return crypto_scalarmult(st->k.s, node_sk, st->alpha);
}

enum sphinx_status sphinx_unwrap(const struct sphinx_geometry *g,
                                 const uint8_t node_sk[static SPHINX_KEY_LEN],
                                 struct replay_cache *cache, const uint8_t *pkt, size_t len,
                                 uint8_t *out, size_t out_cap, struct sphinx_result *res)
{
    if (!sphinx_geometry_valid(g, NULL) || res == NULL || out == NULL)
        return SPHINX_ERR_ARG;
    memset(res, 0, sizeof *res);
    struct layout l = layout_of(g);
    size_t plen = l.hdr_len + g->payload_len;
    if (out_cap < plen)
        return SPHINX_ERR_ARG;
    if (pkt == NULL || len != plen)
        return SPHINX_ERR_LENGTH;

    struct unwrap_state st;
    enum sphinx_status rc;
    /* Copy the header first: out may alias pkt. */
    memcpy(st.alpha, pkt + HDR_ALPHA, l.elen);
    memcpy(st.gamma, pkt + l.mac_off, SPHINX_MAC_LEN);
    memcpy(st.beta, pkt + l.beta_off, l.beta_len);
    if (unwrap_secret(&l, node_sk, &st) != 0) {
        rc = SPHINX_ERR_KEY;
        goto out;
    }
    derive_keys(&st.k, st.alpha, l.kem == NULL);
    header_mac(st.mac, st.k.mac, st.alpha, l.elen, st.beta, l.beta_len);
    if (crypto_verify_16(st.mac, st.gamma) != 0) {
        rc = SPHINX_ERR_MAC;
        goto out;
    }
    /* Only an authentic header may touch the replay cache. */
    memcpy(res->replay_tag, st.k.tag, SPHINX_TAG_LEN);
    if (cache != NULL && replay_cache_insert(cache, st.k.tag) == REPLAY_SEEN) {
        rc = SPHINX_ERR_REPLAY;
        goto out;
    }
    header_stream(st.b, l.beta_len + l.slot, st.k.stream);
    xor_into(st.b, st.beta, l.beta_len);
    rc = unwrap_route(g, &l, &st, pkt + l.hdr_len, out, res);
out:
    if (rc < 0) {
        uint8_t tag[SPHINX_TAG_LEN];
        memcpy(tag, res->replay_tag, sizeof tag);
        memset(res, 0, sizeof *res);
        memcpy(res->replay_tag, tag, sizeof tag);
    }
    sodium_memzero(&st, sizeof st);
    return rc;
}

/* ------------------------------------------------------------ SURBs */

/* Spec section 9, SURB keys: version 1 | nhops 1 | 0 0 | surb id 16 | k~ 32 | 10 x hop key 32. */
#define KEYS_OFF_ID 4
#define KEYS_OFF_KT 20
#define KEYS_OFF_HOPS 52

enum sphinx_status sphinx_surb_create(const struct sphinx_geometry *g, const struct mix_rng *rng,
                                      const struct sphinx_hop *path, size_t nhops,
                                      const uint8_t recipient_id[static MIX_NODE_ID_LEN],
                                      const uint8_t surb_id[static SPHINX_SURB_ID_LEN],
                                      uint8_t *surb_out,
                                      uint8_t keys_out[static SPHINX_SURB_KEYS_LEN])
{
    if (!path_ok(g, path, nhops) || surb_out == NULL)
        return SPHINX_ERR_ARG;
    struct build_state st;
    struct final_route fin = { SPHINX_CMD_REPLY, recipient_id, surb_id };
    memset(keys_out, 0, SPHINX_SURB_KEYS_LEN);
    keys_out[0] = SURB_KEYS_VERSION;
    keys_out[1] = (uint8_t)nhops;
    memcpy(keys_out + KEYS_OFF_ID, surb_id, SPHINX_SURB_ID_LEN);
    /* k~ first, then the header's randomness. */
    mix_rng_bytes(rng, keys_out + KEYS_OFF_KT, LIONESS_KEY_LEN);
    memcpy(surb_out, path[0].node_id, MIX_NODE_ID_LEN);
    memcpy(surb_out + MIX_NODE_ID_LEN, keys_out + KEYS_OFF_KT, LIONESS_KEY_LEN);
    enum sphinx_status rc =
        build_header(g, rng, path, nhops, &fin, &st, surb_out + MIX_NODE_ID_LEN + LIONESS_KEY_LEN);
    if (rc == SPHINX_OK) {
        for (size_t i = 0; i < nhops; i++)
            memcpy(keys_out + KEYS_OFF_HOPS + 32 * i, st.k[i].payload, 32);
    } else {
        sodium_memzero(keys_out, SPHINX_SURB_KEYS_LEN);
        sodium_memzero(surb_out, sphinx_surb_len(g));
    }
    sodium_memzero(&st, sizeof st);
    return rc;
}

enum sphinx_status sphinx_surb_pack(const struct sphinx_geometry *g, const uint8_t *surb,
                                    size_t surb_len, const uint8_t *plaintext, size_t len,
                                    uint8_t *packet_out,
                                    uint8_t first_hop_out[static MIX_NODE_ID_LEN])
{
    if (!sphinx_geometry_valid(g, NULL) || surb == NULL || packet_out == NULL ||
        len > sphinx_plaintext_len(g) || (len > 0 && plaintext == NULL))
        return SPHINX_ERR_ARG;
    if (surb_len != sphinx_surb_len(g))
        return SPHINX_ERR_LENGTH;
    size_t hlen = sphinx_header_len(g);
    const uint8_t *kt = surb + MIX_NODE_ID_LEN;
    memcpy(first_hop_out, surb, MIX_NODE_ID_LEN);
    memcpy(packet_out, kt + LIONESS_KEY_LEN, hlen);
    uint8_t *payload = packet_out + hlen;
    frame_payload(g, payload, plaintext, len);
    payload_enc(kt, payload, g->payload_len);
    return SPHINX_OK;
}

enum sphinx_status sphinx_surb_open(const struct sphinx_geometry *g,
                                    const uint8_t keys[static SPHINX_SURB_KEYS_LEN],
                                    const uint8_t *payload, size_t payload_len,
                                    uint8_t *plaintext_out)
{
    if (!sphinx_geometry_valid(g, NULL) || payload == NULL || plaintext_out == NULL)
        return SPHINX_ERR_ARG;
    if (payload_len != g->payload_len)
        return SPHINX_ERR_LENGTH;
    size_t nhops = keys[1];
    if (keys[0] != SURB_KEYS_VERSION || nhops < 1 || nhops > g->max_hops)
        return SPHINX_ERR_ARG;
    uint8_t *buf = malloc(payload_len);
    if (buf == NULL)
        return SPHINX_ERR_ARG;
    memcpy(buf, payload, payload_len);
    /* Undo the hops' decryptions, last hop first, then the replier's k~. */
    for (size_t i = nhops; i-- > 0;)
        payload_enc(keys + KEYS_OFF_HOPS + 32 * i, buf, payload_len);
    payload_dec(keys + KEYS_OFF_KT, buf, payload_len);
    enum sphinx_status rc = SPHINX_ERR_INTEGRITY;
    if (sodium_is_zero(buf, SPHINX_ZERO_LEN)) {
        memcpy(plaintext_out, buf + SPHINX_ZERO_LEN, payload_len - SPHINX_ZERO_LEN);
        rc = SPHINX_OK;
    }
    sodium_memzero(buf, payload_len);
    free(buf);
    return rc;
}

void sphinx_surb_keys_id(const uint8_t keys[static SPHINX_SURB_KEYS_LEN],
                         uint8_t surb_id[static SPHINX_SURB_ID_LEN])
{
    memcpy(surb_id, keys + KEYS_OFF_ID, SPHINX_SURB_ID_LEN);
}
